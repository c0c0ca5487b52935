# Sourced (not run) by build-release and by .ci/run's wheel step, from the
# repository root, with the target triple as $1: the environment that makes the
# release build reproducible (see build-release for why each part is there).
# It also defines with_auditable, for cargo started by another tool (maturin):
# cargo-auditable 0.7 works as cargo's RUSTC_WORKSPACE_WRAPPER.
target=${1:?target triple}
root=$(pwd -P)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
cargo_home=$(cd "$cargo_home" && pwd -P)
sysroot=$(rustc --print sysroot)

# `--version` names the commit (src/build.rs reads MCP_SIGV4_COMMIT, else asks
# git); fixed here so a copy of the tree without .git builds the same bytes.
if [ -z "${MCP_SIGV4_COMMIT:-}" ]; then
  MCP_SIGV4_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
fi
export MCP_SIGV4_COMMIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1)}
export RUSTFLAGS="--remap-path-prefix=$root=/build --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$sysroot=/rustup-toolchain -C link-arg=-Wl,--build-id=sha1"
# The same remapping for the C compiler's __FILE__ and debug paths.
cflags="-ffile-prefix-map=$root=/build -ffile-prefix-map=$cargo_home=/cargo"
case "$target" in
  x86_64-unknown-linux-musl)  export CFLAGS_x86_64_unknown_linux_musl="$cflags" ;;
  aarch64-unknown-linux-musl) export CFLAGS_aarch64_unknown_linux_musl="$cflags" ;;
esac
export CARGO_TARGET_DIR="$root/target"

# Runs "$@" (a tool that starts cargo itself) so that cargo embeds the
# dependency list exactly as `cargo auditable build --locked` does.
with_auditable() {
  RUSTC_WORKSPACE_WRAPPER=$(command -v cargo-auditable) \
  CARGO_AUDITABLE_ORIG_ARGS='{"config":[],"offline":false,"locked":true,"frozen":false}' \
    "$@"
}
