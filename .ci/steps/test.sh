# .ci/run step 'test': the README's test command and the full soak test.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "the test command from README.md"
cargo test --locked

step "the full soak test (10,000 messages, release build)"
cargo test --locked --release --test soak -- --ignored --nocapture
