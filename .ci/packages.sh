# Helpers for the packaging steps (wheel, npm, image), sourced by each after
# .ci/lib.sh: the release binaries the build steps left in
# target/<triple>/release/, their SHA-256, the Python packaging tools, and
# adding artefacts to target/dist and its SHA256SUMS.


# Every target a release ships, in the order of .packaging/python/build-wheels.py.
release_triples=(
  x86_64-unknown-linux-musl aarch64-unknown-linux-musl
  aarch64-apple-darwin x86_64-apple-darwin
  x86_64-pc-windows-gnu aarch64-pc-windows-gnullvm
)

# Prints target/<triple>/release/mcp-sigv4[.exe] for TRIPLE, or fails naming
# the steps that build it.
release_binary() {
  local exe=mcp-sigv4
  case "$1" in *-windows-*) exe=mcp-sigv4.exe ;; esac
  local path="$root/target/$1/release/$exe"
  [ -f "$path" ] || fail "no $path: the 'linux' and 'binaries' steps build every release binary (.ci/run linux binaries $step_key)"
  echo "$path"
}

# Writes "<sha256> <triple>" for every release binary to $ci/binaries.sha256
# (the file each package check reads) and prints it.
record_binary_hashes() {
  local t
  : >"$ci/binaries.sha256"
  for t in "${release_triples[@]}"; do
    echo "$(sha256sum "$(release_binary "$t")" | cut -d' ' -f1) $t" >>"$ci/binaries.sha256"
  done
  echo "release binaries (sha256, target):"
  sed 's/^/  /' "$ci/binaries.sha256"
}

# The --version line that the static Linux build of TRIPLE prints (src/cli.rs's version()).
version_line() {
  echo "mcp-sigv4 $version (commit $MCP_SIGV4_COMMIT, ${1%%-*}-linux-musl, static)"
}

# Copies FILE... into target/dist and puts their SHA-256 in SHA256SUMS
# (replacing a line for the same name, so a step can run again).
add_to_dist() {
  mkdir -p "$root/target/dist"
  local f name
  for f in "$@"; do
    name=$(basename "$f")
    [ "$(cd "$(dirname "$f")" && pwd -P)" = "$root/target/dist" ] || cp "$f" "$root/target/dist/$name"
    touch "$root/target/dist/SHA256SUMS"
    grep -v "  $name\$" "$root/target/dist/SHA256SUMS" >"$ci/sums.tmp" || true
    (cd "$root/target/dist" && sha256sum "$name") >>"$ci/sums.tmp"
    mv "$ci/sums.tmp" "$root/target/dist/SHA256SUMS"
  done
}

# The Python tools the wheel step needs, pinned, in $tools/py: build-wheels.py's
# (.packaging/python/requirements-build.txt) and uv and pipx.
need_python_tools() {
  local want
  want="$(grep -v '^#' .packaging/python/requirements-build.txt) uv==$UV pipx==$PIPX"
  if [ "$(cat "$tools/py/.pins" 2>/dev/null)" != "$want" ]; then
    rm -rf "$tools/py"
    python3 -m venv "$tools/py"
    "$tools/py/bin/pip" install --quiet --disable-pip-version-check -r .packaging/python/requirements-build.txt \
      "uv==$UV" "pipx==$PIPX" || fail "cannot install the wheel tools, uv and pipx from PyPI"
    echo "$want" >"$tools/py/.pins"
  fi
}

# Runs the relay smoke on the Windows exe $1 (what package $2 installed) under
# Wine, in what the 'wine' step left in this run: its prefix ($ci/wine/prefix)
# and the test-only bcryptprimitives.dll it built from tests/wine (Wine 8.0
# lacks that DLL; it never ships), next to a copy of the exe. Where the 'wine'
# step has not run, says loudly that the exe was checked by SHA-256 only.
wine_smoke() {
  local exe=$1 what=$2 wine=/usr/lib/wine/wine64 shim="$ci/wine/bin/bcryptprimitives.dll" prefix="$ci/wine/prefix"
  if [ ! -x "$wine" ] || [ ! -f "$shim" ] || [ ! -f "$prefix/system.reg" ]; then
    skip_loudly "$what: the Windows exe is checked by SHA-256 only, not run under Wine: the 'wine' step has not left Wine ($wine), its prefix ($prefix) and the test shim ($shim) in this run (.ci/run wine $step_key)"
    return 0
  fi
  local dir
  dir=$(mktemp -d "$ci/wine-run.XXXX")
  cp "$exe" "$dir/mcp-sigv4.exe"
  cp "$shim" "$dir/"
  # The release build of x86_64-pc-windows-gnu links the C runtime dynamically
  # (Windows' own msvcrt; no +crt-static), and --version says so.
  expected_version="mcp-sigv4 $version (commit $MCP_SIGV4_COMMIT, x86_64-windows-gnu, dynamically linked)"
  # smoke.py clears the environment; env(1) gives Wine its prefix back.
  local rc=0
  smoke env WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" "$wine" "$dir/mcp-sigv4.exe" || rc=$?
  WINEPREFIX="$prefix" /usr/lib/wine/wineserver -k 2>/dev/null || true
  return $rc
}
