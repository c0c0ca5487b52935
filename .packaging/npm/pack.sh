#!/usr/bin/env bash
# Packs the npm packages from the release binaries:
#   .packaging/npm/pack.sh OUTDIR
# OUTDIR gets mcp-sigv4-<platform>-<v>.tgz for each platform below (the binary
# that .packaging/build-release made for its target, as bin/mcp-sigv4 or
# bin/mcp-sigv4.exe, with that package's "os" and "cpu") and mcp-sigv4-<v>.tgz
# (the launcher, which lists every platform package as an optional dependency;
# npm installs the one whose os and cpu match the machine). <v> is Cargo.toml's
# version; the script fails when a package.json says otherwise or a binary is
# missing. npm pack writes fixed timestamps, so the tarballs are reproducible
# from the same binaries. Prints the tarballs' paths.
# With MCP_SIGV4_REPOSITORY_URL (https://github.com/OWNER/REPO, set by the
# release workflow), every package.json gets that "repository": npm publish
# --provenance refuses a package whose repository is not the one the workflow
# runs in (https://docs.npmjs.com/generating-provenance-statements).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
out=${1:?output directory}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)

# npm package suffix -> Rust target whose binary it carries.
platforms=(
  linux-x64:x86_64-unknown-linux-musl
  linux-arm64:aarch64-unknown-linux-musl
  darwin-arm64:aarch64-apple-darwin
  darwin-x64:x86_64-apple-darwin
  win32-x64:x86_64-pc-windows-gnu
  win32-arm64:aarch64-pc-windows-gnullvm
)

for f in "$here"/mcp-sigv4/package.json "$here"/mcp-sigv4-*/package.json; do
  node -e '
    const [f, v] = process.argv.slice(1); const p = require(f);
    const bad = [p.version, ...Object.values(p.optionalDependencies || {})].filter((x) => x !== v);
    if (bad.length) { console.error(`${f}: version ${bad[0]} differs from Cargo.toml (${v})`); process.exit(1); }
  ' "$f" "$version"
done
mkdir -p "$out"; out=$(cd "$out" && pwd -P)
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
packages=()
for pair in "${platforms[@]}"; do
  p=mcp-sigv4-${pair%%:*} target=${pair#*:} exe=mcp-sigv4
  case "$target" in *-windows-*) exe=mcp-sigv4.exe ;; esac
  bin="$root/target/$target/release/$exe"
  [ -f "$bin" ] || { echo "pack.sh: no $bin: build it first (.packaging/build-release $target)" >&2; exit 1; }
  cp -r "$here/$p" "$stage/"
  mkdir -p "$stage/$p/bin"
  install -m 0755 "$bin" "$stage/$p/bin/$exe"
  packages+=("$p")
done
cp -r "$here/mcp-sigv4" "$stage/"
packages+=(mcp-sigv4)
for p in "${packages[@]}"; do
  cp "$root/LICENSE" "$stage/$p/LICENSE"
  if [ -n "${MCP_SIGV4_REPOSITORY_URL:-}" ]; then
    node -e '
      const fs = require("fs"); const [f, url] = process.argv.slice(1);
      const p = JSON.parse(fs.readFileSync(f, "utf8"));
      p.repository = { type: "git", url: `git+${url}.git` };
      fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");
    ' "$stage/$p/package.json" "$MCP_SIGV4_REPOSITORY_URL"
  fi
  (cd "$stage/$p" && npm pack --silent --pack-destination "$out" >/dev/null)
  ls "$out/$p-$version.tgz"
done
