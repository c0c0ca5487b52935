# .ci/run step 'fuzz': every fuzz target for a bounded time (fuzz/ci.sh).
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "fuzz: every target, the differential ones included, for a bounded time (fuzz/ci.sh)"
# Nightly and cargo-fuzz are installed by the script if missing; it fails on
# any finding. FUZZ_SECONDS sets the time per target (fuzz/README.md, "CI").
fuzz/ci.sh
# The instrumented builds (about 1.5 GiB) serve no later step; findings and
# logs stay (fuzz/artifacts, fuzz/target/ci-logs).
echo "fuzz/target: $(du -sh fuzz/target | cut -f1), its builds removed; its logs (fuzz/target/ci-logs) stay"
find fuzz/target -mindepth 1 -maxdepth 1 ! -name ci-logs -exec rm -rf {} +
