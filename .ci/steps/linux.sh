# .ci/run step 'linux': the static Linux binaries (x86-64, aarch64): built, checked, smoke-tested, rebuilt elsewhere.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "release tools: musl and aarch64 targets, Debian packages, cargo-auditable"
need_target $X86
need_target $ARM
need_debian musl-tools:musl-gcc gcc-aarch64-linux-gnu:aarch64-linux-gnu-gcc \
  libc6-dev-arm64-cross:/usr/aarch64-linux-gnu/include/bits/libc-header-start.h \
  qemu-user-static:qemu-aarch64-static file:file binutils:readelf
need_cargo_tool "cargo-auditable@$CARGO_AUDITABLE"

step "static x86-64 build (musl, cargo auditable, reproducible settings)"
.packaging/build-release $X86 | tee "$ci/build-x86.txt"
bin="$root/target/$X86/release/mcp-sigv4"
hash=$(sha256sum "$bin" | cut -d' ' -f1)
expected_version="mcp-sigv4 $version (commit $MCP_SIGV4_COMMIT, x86_64-linux-musl, static)"
check_static "$bin"
rm -rf target/dist
mkdir -p target/dist
cp "$bin" target/dist/mcp-sigv4-$version-x86_64-linux-musl
echo "$hash  mcp-sigv4-$version-x86_64-linux-musl" >target/dist/SHA256SUMS

step "static x86-64 binary: relay smoke in an empty root"
smoke_in_empty_root "$bin"

step "reproducible: a clean build of a copy in another directory"
copy=$(mktemp -d /tmp/mcp-sigv4-rebuild.XXXX)/elsewhere/src
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$copy"
(cd "$copy" && .packaging/build-release $X86) | tee "$ci/build-copy.txt"
hash2=$(sha256sum "$copy/target/$X86/release/mcp-sigv4" | cut -d' ' -f1)
rm -rf "${copy%/elsewhere/src}"
echo "here:      $hash  ($root)"
echo "elsewhere: $hash2  (${copy})"
[ "$hash" = "$hash2" ] || fail "the two builds differ: $hash vs $hash2"

step "static aarch64 build (cross, musl) and smoke under qemu in an empty root"
.packaging/build-release $ARM | tee "$ci/build-arm.txt"
arm="$root/target/$ARM/release/mcp-sigv4"
check_static "$arm"
cp "$arm" target/dist/mcp-sigv4-$version-aarch64-linux-musl
(cd target/dist && sha256sum mcp-sigv4-$version-aarch64-linux-musl >>SHA256SUMS)
expected_version="mcp-sigv4 $version (commit $MCP_SIGV4_COMMIT, aarch64-linux-musl, static)"
# The empty root holds the binary and qemu-aarch64-static (itself static).
smoke_in_empty_root "$arm" "$(command -v qemu-aarch64-static)"
expected_version="mcp-sigv4 $version (commit $MCP_SIGV4_COMMIT, x86_64-linux-musl, static)"
