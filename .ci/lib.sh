# Helpers for .ci/run and its steps (.ci/steps/*.sh): step timing, loud
# failures and skips, installing what a bare machine lacks (need_debian,
# need_target), and the checks and smoke tests several steps share.
# Sourced from the repository root; sets root, ci, tools, version.
root=$(pwd -P)
ci="$root/target/ci"            # this run's scratch (smoke roots, venvs, caches)
tools="$root/target/ci-tools"   # Python and npm tools for packaging checks
mkdir -p "$ci" "$tools"

# Pinned tool versions. Cargo tools live in ~/.cargo/bin: `cargo install`
# returns at once when the same version is already there.
CARGO_AUDITABLE=0.7.7
CARGO_CYCLONEDX=0.5.9
CARGO_DENY=0.20.2
UV=0.13.9
PIPX=1.18.4
VERDACCIO=6.8.0
MAX_SIZE=$((3 * 1024 * 1024))   # every shipped binary, stripped, at most 3 MiB
X86=x86_64-unknown-linux-musl
ARM=aarch64-unknown-linux-musl

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# What the release builds stamp into `--version`, fixed once for the run.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export MCP_SIGV4_COMMIT=${MCP_SIGV4_COMMIT:-$(git rev-parse --short=12 HEAD)}

# Disk. The checkout grows to about 4.5 GiB (the debug, release and cross
# builds, Wine's prefix, the tools from PyPI and npm), and the toolchains the
# steps add (nightly, five targets) take about 2.5 GiB more. On a
# clean checkout nothing is built twice, so incremental compilation's cache
# (about 1 GiB) is never read again, and line tables are all the debug info a
# failing test's backtrace uses (file and line).
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
free_gib() { df -Pk "$root" | awk 'NR == 2 { printf "%.1f", $4 / 1048576 }'; }

step_name="" step_start=0
timings=() skipped=() started_pids=()
end_step() {
  if [ -n "$step_name" ]; then
    timings+=("$(printf '%6ss  %s' $((SECONDS - step_start)) "$step_name")")
    step_name=""
  fi
}
step() { end_step; step_name=$1; step_start=$SECONDS; printf '\n== %s (disk: %s GiB free)\n' "$1" "$(free_gib)"; }
fail() { echo "CI FAILED in '${step_name:-setup}': $*" >&2; exit 1; }
skip_loudly() {
  skipped+=("$step_name: $*")
  printf '\n!!!!!!!!!! SKIPPED: %s\n!!!!!!!!!! %s\n\n' "$step_name" "$*"
}
summary() {
  end_step
  echo
  echo "== time per step"
  printf '%s\n' "${timings[@]}"
  printf '%6ss  total (disk: %s GiB free at the end)\n' "$SECONDS" "$(free_gib)"
  if [ ${#skipped[@]} -gt 0 ]; then
    echo "== SKIPPED (cannot run on this machine):"
    printf '  !! %s\n' "${skipped[@]}"
  fi
}
stop_started() {
  local pid
  for pid in "${started_pids[@]}"; do
    { kill "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  started_pids=()
}

# Installs the Debian packages that provide what is missing, or fails the run.
# Each argument is PACKAGE:COMMAND (a command on PATH) or PACKAGE:/ABS/PATH (a
# file: a header, a library), so a step names everything it needs, including
# what a package only recommends (apt installs here with --no-install-recommends).
need_debian() {
  local pkgs=() pair
  for pair in "$@"; do
    have_debian_item "${pair#*:}" || pkgs+=("${pair%%:*}")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing from Debian: ${pkgs[*]}"
  { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" ||
    { "${sudo[@]}" apt-get update && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"; }
  } >>"$ci/apt.log" 2>&1 || fail "cannot install ${pkgs[*]} from Debian (log: $ci/apt.log)"
  for pair in "$@"; do
    have_debian_item "${pair#*:}" || fail "${pair%%:*} is installed but ${pair#*:} is not there"
  done
}
have_debian_item() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

# Installs a cargo tool (NAME@VERSION) from crates.io into ~/.cargo/bin; a
# no-op when that version is there.
need_cargo_tool() {
  local s=$SECONDS
  cargo install --locked --quiet "$1" || fail "cargo install --locked $1 failed"
  echo "$1: $((SECONDS - s)) s"
}

need_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1" || fail "rustup cannot add the $1 target"
}

# Checks that $1 is a static ELF (no interpreter, no shared libraries) of at
# most MAX_SIZE bytes, with a readable embedded dependency list; prints figures.
check_static() {
  local bin=$1
  file "$bin"
  file -b "$bin" | grep -Eq 'static(ally|-pie) linked' || fail "$bin: file(1) does not call it statically linked"
  if readelf -lW "$bin" | grep -q 'program interpreter'; then fail "$bin: has a program interpreter"; fi
  if readelf -dW "$bin" | grep -q '(NEEDED)'; then fail "$bin: needs shared libraries: $(readelf -dW "$bin" | grep NEEDED)"; fi
  local size
  size=$(stat -c %s "$bin")
  echo "size: $size bytes ($(awk "BEGIN{printf \"%.2f\", $size/1048576}") MiB; limit $MAX_SIZE)"
  [ "$size" -le "$MAX_SIZE" ] || fail "$bin: $size bytes, over the 3 MiB limit"
  # cargo-auditable's section: zlib-compressed JSON (format v0,
  # https://github.com/rust-secure-code/cargo-auditable), read from the ELF
  # section table (any architecture; the ELF-64 layout of the System V gABI).
python3 - "$bin" Cargo.lock <<'EOF' || fail "$bin: no .dep-v0 dependency list (cargo auditable), or it disagrees with Cargo.lock"
import json, re, struct, sys, zlib
elf = open(sys.argv[1], "rb").read()
assert elf[:4] == b"\x7fELF" and elf[4] == 2 and elf[5] == 1, "not a little-endian ELF-64 file"
shoff, = struct.unpack_from("<Q", elf, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
def section(i):
    name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
    return name, offset, size
_, stroff, _ = section(shstrndx)
sections = {}
for i in range(shnum):
    name, offset, size = section(i)
    sections[elf[stroff + name:elf.index(b"\0", stroff + name)].decode()] = elf[offset:offset + size]
assert ".dep-v0" in sections, "no .dep-v0 section"
deps = json.loads(zlib.decompress(sections[".dep-v0"]))
pkgs = deps["packages"]
roots = [p for p in pkgs if p.get("root")]
lock = open(sys.argv[2]).read()
locked = dict(re.findall(r'name = "([^"]+)"\nversion = "([^"]+)"', lock))
assert [(r["name"], r["version"]) for r in roots] == [("mcp-sigv4", locked["mcp-sigv4"])], roots
for name in ("ring", "rustls", "ureq", "sha2", "p256"):
    got = [p["version"] for p in pkgs if p["name"] == name]
    assert got == [locked[name]], (name, got, locked.get(name))
print(f"embedded dependency list: {len(pkgs)} packages (root mcp-sigv4 {roots[0]['version']}), versions as in Cargo.lock")
EOF
}

# Runs the relay smoke test with the command "$@" (the URL and flags are appended).
smoke() { python3 .packaging/smoke/smoke.py --expect-version "$expected_version" -- "$@" || fail "relay smoke failed: $*"; }

# The binary alone in an empty directory, run chrooted there (no /usr, /lib,
# /etc or /dev): as root with chroot, else in a user namespace.
smoke_in_empty_root() {
  local bin=$1 jail extra=("${@:2}")
  jail=$(mktemp -d "$ci/empty-root.XXXX")
  cp "$bin" "$jail/mcp-sigv4"
  for f in "${extra[@]}"; do cp "$f" "$jail/"; done
  echo "empty root $jail holds: $(ls -A "$jail" | tr '\n' ' ')"
  local runner=()
  if [ "$(id -u)" -eq 0 ]; then runner=(chroot "$jail")
  elif unshare -r true 2>/dev/null; then runner=(unshare -r chroot "$jail")
  else fail "cannot chroot (not root, no user namespaces)"; fi
  if [ ${#extra[@]} -gt 0 ]; then runner+=("/$(basename "${extra[0]}")"); fi
  smoke "${runner[@]}" /mcp-sigv4
}


