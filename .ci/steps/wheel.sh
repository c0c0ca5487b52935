# .ci/run step 'wheel': the PyPI wheels, one per platform, packed from the
# release binaries: each carries the binary built for it (SHA-256), pip and uv
# choose the right one for every platform, and the ones this machine can run
# are installed and smoke-tested (Linux x86-64 natively, aarch64 under qemu).
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).
. .ci/packages.sh

step "PyPI wheels: one per platform, packed from the release binaries, each carrying its binary"
need_debian qemu-user-static:qemu-aarch64-static
need_python_tools
record_binary_hashes
rm -rf target/wheels
"$tools/py/bin/python" .packaging/python/build-wheels.py target/wheels >/dev/null ||
  fail "build-wheels.py failed"
# Each wheel: the tags for its platform, one file in scripts/ that is that
# platform's binary byte for byte (mode 0755), RECORD hashes that verify
# (WheelFile checks each file against RECORD as it reads it), and METADATA.
"$tools/py/bin/python" - target/wheels "$ci/binaries.sha256" "$version" <<'EOF' || fail "a wheel does not carry the binary built for its platform"
import hashlib, os, sys
from wheel.wheelfile import WheelFile
out, sums, version = sys.argv[1:]
expected_tags = {
    "x86_64-unknown-linux-musl": "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_2_x86_64",
    "aarch64-unknown-linux-musl": "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_2_aarch64",
    "aarch64-apple-darwin": "macosx_11_0_arm64",
    "x86_64-apple-darwin": "macosx_10_12_x86_64",
    "x86_64-pc-windows-gnu": "win_amd64",
    "aarch64-pc-windows-gnullvm": "win_arm64",
}
hashes = {t: h for h, t in (line.split() for line in open(sums))}
assert set(hashes) == set(expected_tags), (sorted(hashes), sorted(expected_tags))
names = sorted(os.listdir(out))
want = sorted(f"mcp_sigv4-{version}-py3-none-{tags}.whl" for tags in expected_tags.values())
assert names == want, f"wheels {names}, expected {want}"
for triple, tags in expected_tags.items():
    name = f"mcp_sigv4-{version}-py3-none-{tags}.whl"
    exe = "mcp-sigv4.exe" if "windows" in triple else "mcp-sigv4"
    with WheelFile(os.path.join(out, name)) as whl:
        files = sorted(whl.namelist())
        data = f"mcp_sigv4-{version}.data/scripts/{exe}"
        info = f"mcp_sigv4-{version}.dist-info/"
        assert files == sorted([data] + [info + f for f in ("METADATA", "WHEEL", "RECORD", "licenses/LICENSE")]), files
        for f in files:
            with whl.open(f) as stream:  # raises when the bytes disagree with RECORD
                stream.read()
        got = hashlib.sha256(whl.read(data)).hexdigest()
        assert got == hashes[triple], f"{name}: {data} is {got}, the {triple} binary is {hashes[triple]}"
        mode = whl.getinfo(data).external_attr >> 16
        assert mode & 0o777 == 0o755, f"{name}: {data} has mode {oct(mode)}"
        wheel_tags = [l.split(": ")[1] for l in whl.read(info + "WHEEL").decode().splitlines() if l.startswith("Tag: ")]
        assert wheel_tags == [f"py3-none-{t}" for t in tags.split(".")], wheel_tags
        meta = whl.read(info + "METADATA").decode()
        assert f"Name: mcp-sigv4\nVersion: {version}\n" in meta and "License-Expression: Apache-2.0" in meta, meta[:300]
    print(f"{name}: {data} is the {triple} binary (sha256 {got[:16]}…), mode 0755, RECORD verified")
EOF

step "PyPI wheels: pip and uv choose each platform's wheel"
# As installers on each OS see the wheels: uv installs for another platform
# (--python-platform) into a directory, pip downloads for another platform's
# tags; the file they pick, and the command uv installs, must be that
# platform's own (SHA-256). Platforms named as users' machines report them
# (newer macOS and glibc than our minimum), not as our tags.
export UV_CACHE_DIR="$ci/uv-cache"
uv_platforms=(
  "x86_64-manylinux_2_28 x86_64-unknown-linux-musl"
  "x86_64-unknown-linux-musl x86_64-unknown-linux-musl"
  "aarch64-manylinux_2_28 aarch64-unknown-linux-musl"
  "aarch64-unknown-linux-musl aarch64-unknown-linux-musl"
  "aarch64-apple-darwin aarch64-apple-darwin"
  "x86_64-apple-darwin x86_64-apple-darwin"
  "x86_64-pc-windows-msvc x86_64-pc-windows-gnu"
  "aarch64-pc-windows-msvc aarch64-pc-windows-gnullvm"
)
for pair in "${uv_platforms[@]}"; do
  read -r platform triple <<<"$pair"
  dir="$ci/uv-$platform"
  rm -rf "$dir"
  "$tools/py/bin/uv" pip install --quiet --no-index --find-links target/wheels --python-platform "$platform" \
    --python-version 3.12 --target "$dir" mcp-sigv4 || fail "uv cannot install mcp-sigv4 for $platform"
  installed=$(find "$dir" -type f \( -name mcp-sigv4 -o -name mcp-sigv4.exe \))
  [ "$(echo "$installed" | wc -l)" -eq 1 ] || fail "uv for $platform installed $installed"
  got=$(sha256sum "$installed" | cut -d' ' -f1)
  grep -qx "$got $triple" "$ci/binaries.sha256" || fail "uv for $platform installed ${installed#"$dir"/} ($got), not the $triple binary"
  echo "uv for $platform: installs ${installed#"$dir"/}, the $triple binary"
done
# pip's --platform widens a macOS version to the older ones a Mac accepts but
# not a glibc version, so Linux is named by the oldest tag a wheel may have.
pip_platforms=(
  "manylinux2014_x86_64 x86_64-unknown-linux-musl"
  "musllinux_1_2_x86_64 x86_64-unknown-linux-musl"
  "manylinux2014_aarch64 aarch64-unknown-linux-musl"
  "musllinux_1_2_aarch64 aarch64-unknown-linux-musl"
  "macosx_14_0_arm64 aarch64-apple-darwin"
  "macosx_13_0_x86_64 x86_64-apple-darwin"
  "win_amd64 x86_64-pc-windows-gnu"
  "win_arm64 aarch64-pc-windows-gnullvm"
)
for pair in "${pip_platforms[@]}"; do
  read -r platform triple <<<"$pair"
  dir="$ci/pip-$platform"
  rm -rf "$dir"
  "$tools/py/bin/pip" download --quiet --disable-pip-version-check --no-index --find-links target/wheels \
    --only-binary :all: --platform "$platform" --python-version 3.12 -d "$dir" mcp-sigv4 ||
    fail "pip finds no wheel for $platform"
  chosen=$(ls "$dir"/*.whl)
  got=$(python3 -c 'import hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(*[hashlib.sha256(z.read(n)).hexdigest() for n in z.namelist() if "/scripts/" in n])' "$chosen")
  grep -qx "$got $triple" "$ci/binaries.sha256" || fail "pip for $platform chose $(basename "$chosen"), whose binary ($got) is not the $triple one"
  echo "pip for $platform: chooses $(basename "$chosen"), the $triple binary"
done

step "PyPI wheel (Linux x86-64): pip, uvx and pipx install it and the relay smoke passes"
expected_version=$(version_line x86_64-unknown-linux-musl)
rm -rf "$ci/wheel-venv"
python3 -m venv "$ci/wheel-venv"
"$ci/wheel-venv/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links target/wheels mcp-sigv4
smoke "$ci/wheel-venv/bin/mcp-sigv4"
export PIPX_HOME="$ci/pipx" PIPX_BIN_DIR="$ci/pipx/bin"
echo "uvx, resolving mcp-sigv4 by name from a local index holding every wheel:"
smoke "$tools/py/bin/uvx" --no-index --find-links target/wheels mcp-sigv4
echo "pipx run:"
smoke "$tools/py/bin/pipx" run --spec "$(ls target/wheels/*x86_64*linux*.whl)" mcp-sigv4
unset UV_CACHE_DIR PIPX_HOME PIPX_BIN_DIR

step "PyPI wheel (Linux aarch64): the binary uv installed for aarch64, relay smoke under qemu"
expected_version=$(version_line aarch64-unknown-linux-musl)
smoke qemu-aarch64-static "$ci/uv-aarch64-manylinux_2_28/bin/mcp-sigv4"

step "PyPI wheels (Windows x86-64, macOS): what runs here"
skip_loudly "the macOS wheels (arm64, x86-64) and the win_arm64 wheel cannot run here (Linux x86-64; Wine runs x86-64 Windows only): checked by SHA-256 (the binary the 'binaries' step built and checked), tags, RECORD and pip/uv's choice only"
wine_smoke "$ci/uv-x86_64-pc-windows-msvc/bin/mcp-sigv4.exe" "the win_amd64 wheel"

add_to_dist target/wheels/*.whl
