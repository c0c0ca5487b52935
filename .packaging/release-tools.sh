# Sourced (after .ci/lib.sh, whose installers it uses) by .ci/steps/binaries.sh
# and .packaging/build-dist: the pinned tools every release target needs, and
# install_release_tools, which installs whatever of them a bare Debian machine
# lacks. The Python tools go into virtual environments under target/ci-tools.
RELEASE_TARGETS=(
  x86_64-unknown-linux-musl aarch64-unknown-linux-musl
  aarch64-apple-darwin x86_64-apple-darwin
  x86_64-pc-windows-gnu aarch64-pc-windows-gnullvm
)
ZIGLANG=0.17.0          # PyPI: zig, C compiler and linker for macOS and Windows arm64
CARGO_ZIGBUILD=0.24.0   # PyPI: cargo zigbuild, which makes cargo and cc use zig
LIEF=1.0.0              # PyPI: reads ELF, Mach-O and PE for .packaging/check-binary
APPLE_CODESIGN=0.29.0   # crates.io: rcodesign, the ad-hoc signature of x86-64 macOS

# Installs into the venv $1 the PyPI requirements $2... unless pip already has
# exactly them.
need_venv() {
  local venv=$1 s=$SECONDS
  shift
  if [ -x "$venv/bin/pip" ] && [ "$("$venv/bin/pip" freeze --disable-pip-version-check | sort)" = "$(printf '%s\n' "$@" | sort)" ]; then
    return 0
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" || fail "python3 -m venv failed (Debian: python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" || fail "cannot install $* from PyPI"
  echo "$*: $((SECONDS - s)) s"
}

install_release_tools() {
  local t
  for t in "${RELEASE_TARGETS[@]}"; do need_target "$t"; done
  # Commands, and the files their packages only recommend or that a build
  # reads: the aarch64 glibc headers ring's C includes; mingw-w64's import
  # libraries and CRT objects the Windows link uses.
  need_debian musl-tools:musl-gcc gcc-aarch64-linux-gnu:aarch64-linux-gnu-gcc \
    libc6-dev-arm64-cross:/usr/aarch64-linux-gnu/include/bits/libc-header-start.h \
    gcc-mingw-w64-x86-64:x86_64-w64-mingw32-gcc \
    mingw-w64-x86-64-dev:/usr/x86_64-w64-mingw32/lib/libkernel32.a \
    mingw-w64-x86-64-dev:/usr/x86_64-w64-mingw32/lib/crt2.o \
    binutils:readelf file:file
  need_cargo_tool "cargo-auditable@$CARGO_AUDITABLE"
  # Without its default features (notarisation: an App Store Connect client
  # and the AWS SDK), which an ad-hoc signature does not use.
  if ! rcodesign --version 2>/dev/null | grep -q " $APPLE_CODESIGN\b"; then
    local s=$SECONDS
    cargo install --locked --quiet --no-default-features "apple-codesign@$APPLE_CODESIGN" ||
      fail "cargo install --locked --no-default-features apple-codesign@$APPLE_CODESIGN failed"
    echo "apple-codesign@$APPLE_CODESIGN (rcodesign): $((SECONDS - s)) s"
  fi
  need_venv "$tools/zig" "ziglang==$ZIGLANG" "cargo-zigbuild==$CARGO_ZIGBUILD"
  need_venv "$tools/lief" "lief==$LIEF"
}
