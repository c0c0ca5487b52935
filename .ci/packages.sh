# Helpers for the packaging steps (wheel, npm, image), sourced by each after
# .ci/lib.sh: the release binaries the build steps left in
# target/<triple>/release/, their SHA-256, the Python packaging tools, and
# adding artefacts to target/dist and its SHA256SUMS.


# Every target a release ships, in the order of .packaging/python/build-wheels.py.
release_triples=(
  x86_64-unknown-linux-musl aarch64-unknown-linux-musl
  aarch64-apple-darwin x86_64-apple-darwin
  x86_64-pc-windows-gnu
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

# The --version line that the build of TRIPLE prints (src/cli.rs's version()),
# for the targets CI runs: Linux (static musl) and Windows (gnu, under Wine).
version_line() {
  local arch=${1%%-*}
  case "$1" in
    *-linux-musl) echo "mcp-sigv4 $version (commit $MCP_SIGV4_COMMIT, $arch-linux-musl, static)" ;;
    *-windows-gnu*) echo "mcp-sigv4 $version (commit $MCP_SIGV4_COMMIT, $arch-windows-gnu, static)" ;;
    *) fail "version_line: $1 is not run here" ;;
  esac
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
# Wine, as the 'wine' step runs the binary: a copy of it next to the test-only
# bcryptprimitives.dll built from tests/wine (Wine 8.0 lacks that DLL; it never
# ships). Where Wine or that shim is missing, says loudly that the exe was
# checked by SHA-256 only, and why.
wine_smoke() {
  local exe=$1 what=$2 stub=tests/wine/bcryptprimitives_stub.c why=()
  command -v wine64 >/dev/null || why+=("wine64 is not installed (the 'wine' step installs it)")
  [ -f "$stub" ] || why+=("no $stub (the Wine test shim)")
  command -v x86_64-w64-mingw32-gcc >/dev/null || why+=("no mingw C compiler for the shim (the 'wine' step installs it)")
  if [ ${#why[@]} -gt 0 ]; then
    skip_loudly "$what: the Windows exe is checked by SHA-256 only, not run under Wine: $(IFS=";"; echo "${why[*]}")"
    return 0
  fi
  local dir
  dir=$(mktemp -d "$ci/wine-run.XXXX")
  cp "$exe" "$dir/mcp-sigv4.exe"
  x86_64-w64-mingw32-gcc -shared -O2 -o "$dir/bcryptprimitives.dll" "$stub" -ladvapi32 ||
    fail "cannot build the Wine shim from $stub"
  mkdir -p "$ci/wine-prefix"
  expected_version=$(version_line x86_64-pc-windows-gnu)
  # smoke.py clears the environment; env(1) gives Wine its prefix back.
  smoke env WINEPREFIX="$ci/wine-prefix" WINEDEBUG=-all wine64 "$dir/mcp-sigv4.exe"
}
