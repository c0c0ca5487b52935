# Sourced (not run) by build-release and by .ci/run's wheel step, from the
# repository root, with the target triple as $1: the environment that makes the
# release build reproducible (see build-release for why each part is there).
# It also defines with_auditable, for cargo started by another tool (maturin,
# cargo-zigbuild): cargo-auditable 0.7 works as cargo's RUSTC_WORKSPACE_WRAPPER.
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
remap="--remap-path-prefix=$root=/build --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$sysroot=/rustup-toolchain"
# The same remapping for the C compiler's __FILE__ and debug paths.
cflags="-ffile-prefix-map=$root=/build -ffile-prefix-map=$cargo_home=/cargo"
# What names the output without a clock or a random number, per format:
# - ELF (GNU ld): `--build-id=sha1`, a hash of the output;
# - PE (GNU ld for mingw-w64): `--no-insert-timestamp`, a zero COFF
#   TimeDateStamp instead of the link time; no debug directory is written;
# - PE (zig's lld, aarch64-pc-windows-gnullvm): lld takes the COFF
#   TimeDateStamp from SOURCE_DATE_EPOCH (the commit's time); zig rejects
#   `--no-insert-timestamp`;
# - Mach-O (zig's linker, through cargo-zigbuild): build-release sets LC_UUID
#   to a hash of the sections after the link (zig's own depends on the
#   directory) and signs ad hoc: hashes of the pages, no time.
case "$target" in
  *-linux-*)   export RUSTFLAGS="$remap -C link-arg=-Wl,--build-id=sha1" ;;
  x86_64-pc-windows-gnu)
    # GNU ld orders the PE import tables by input file path (`SORT(*)` in its
    # default script), and rustc writes import libraries of its own into the
    # target directory: with mingw-w64's in /usr, a checkout whose path sorts
    # before /usr gave other bytes than one after it. Links to mingw-w64's
    # import libraries from inside the target directory make the order the
    # same wherever the checkout is.
    mingw_lib="$root/target/$target/mingw-w64-lib"
    mkdir -p "$mingw_lib"
    ln -sf /usr/x86_64-w64-mingw32/lib/*.a "$mingw_lib/" 2>/dev/null || true
    export RUSTFLAGS="$remap -L native=$mingw_lib -C link-arg=-Wl,--no-insert-timestamp" ;;
  *)           export RUSTFLAGS="$remap" ;;
esac
# The oldest macOS each binary runs on, as rustc's own defaults (arm64 Macs
# shipped with 11.0; Rust supports x86-64 macOS from 10.12); zig's linker would
# otherwise stamp its newest. The wheels' platform tags say the same versions.
case "$target" in
  aarch64-apple-darwin) export MACOSX_DEPLOYMENT_TARGET=11.0 ;;
  x86_64-apple-darwin)  export MACOSX_DEPLOYMENT_TARGET=10.12 ;;
esac
target_var=$(echo "$target" | tr '.-' '__')
export "CFLAGS_$target_var=$cflags"
unset target_var
export CARGO_TARGET_DIR="$root/target"

# Runs "$@" (a tool that starts cargo itself) so that cargo embeds the
# dependency list exactly as `cargo auditable build --locked` does.
with_auditable() {
  RUSTC_WORKSPACE_WRAPPER=$(command -v cargo-auditable) \
  CARGO_AUDITABLE_ORIG_ARGS='{"config":[],"offline":false,"locked":true,"frozen":false}' \
    "$@"
}
