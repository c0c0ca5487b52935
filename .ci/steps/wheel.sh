# .ci/run step 'wheel': the PyPI wheel: built, same bytes, installed, smoke-tested.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "PyPI wheel (maturin, bin bindings): build, same bytes, install, smoke"
use_linux_binary
if [ ! -x "$tools/py/bin/maturin" ] || ! "$tools/py/bin/pip" freeze | grep -qx "maturin==$MATURIN"; then
  rm -rf "$tools/py"
  python3 -m venv "$tools/py"
  "$tools/py/bin/pip" install --quiet --disable-pip-version-check "maturin==$MATURIN" "uv==$UV" "pipx==$PIPX" ||
    fail "cannot install maturin, uv and pipx from PyPI"
fi
rm -rf target/wheels
(
  . .packaging/release-env.sh $X86
  cd .packaging/python
  with_auditable "$tools/py/bin/maturin" build --release --locked --target $X86 \
    --compatibility manylinux2014 musllinux_1_2 -o "$root/target/wheels"
)
wheel=$(ls target/wheels/mcp_sigv4-"$version"-*.whl)
python3 - "$wheel" "$hash" <<'EOF' || fail "the wheel does not carry the verified binary"
import hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
script = [n for n in names if n.endswith(".data/scripts/mcp-sigv4")]
assert len(script) == 1, names
got = hashlib.sha256(z.read(script[0])).hexdigest()
assert got == sys.argv[2], f"{script[0]}: {got}, expected {sys.argv[2]}"
mode = z.getinfo(script[0]).external_attr >> 16
assert mode & 0o111, oct(mode)
print(f"{sys.argv[1].split('/')[-1]}: {script[0]} is the static binary (sha256 {got[:16]}…), executable")
EOF
cp "$wheel" target/dist/
python3 -m venv "$ci/wheel-venv"
"$ci/wheel-venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$wheel"
smoke "$ci/wheel-venv/bin/mcp-sigv4"
export UV_CACHE_DIR="$ci/uv-cache" PIPX_HOME="$ci/pipx" PIPX_BIN_DIR="$ci/pipx/bin"
echo "uvx, resolving mcp-sigv4 by name from a local index holding the wheel:"
smoke "$tools/py/bin/uvx" --no-index --find-links target/wheels mcp-sigv4
echo "pipx run:"
smoke "$tools/py/bin/pipx" run --spec "$wheel" mcp-sigv4
unset UV_CACHE_DIR PIPX_HOME PIPX_BIN_DIR
