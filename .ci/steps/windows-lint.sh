# .ci/run step 'windows-lint': the cfg(windows) code type-checks and lints (cross).
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "Windows: the cfg(windows) code type-checks and lints (cross, no run)"
need_target x86_64-pc-windows-gnu
need_debian gcc-mingw-w64-x86-64:x86_64-w64-mingw32-gcc
cargo clippy --locked --target x86_64-pc-windows-gnu --all-targets -- -D warnings
