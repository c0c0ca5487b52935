#!/usr/bin/env bash
# Packs the npm packages from a built binary:
#   .packaging/npm/pack.sh BINARY OUTDIR
# OUTDIR gets mcp-sigv4-linux-x64-<v>.tgz (the binary, os=linux cpu=x64) and
# mcp-sigv4-<v>.tgz (the launcher, which lists the platform package as an
# optional dependency). <v> is Cargo.toml's version; the script fails when a
# package.json says otherwise. npm pack writes fixed timestamps, so the
# tarballs are reproducible from the same binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
bin=${1:?binary}; out=${2:?output directory}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/../../Cargo.toml" | head -1)
for f in "$here"/mcp-sigv4/package.json "$here"/mcp-sigv4-linux-x64/package.json; do
  node -e '
    const [f, v] = process.argv.slice(1); const p = require(f);
    const bad = [p.version, ...Object.values(p.optionalDependencies || {})].filter((x) => x !== v);
    if (bad.length) { console.error(`${f}: version ${bad[0]} differs from Cargo.toml (${v})`); process.exit(1); }
  ' "$f" "$version"
done
mkdir -p "$out"; out=$(cd "$out" && pwd -P)
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
cp -r "$here/mcp-sigv4" "$here/mcp-sigv4-linux-x64" "$stage/"
mkdir -p "$stage/mcp-sigv4-linux-x64/bin"
install -m 0755 "$bin" "$stage/mcp-sigv4-linux-x64/bin/mcp-sigv4"
cp "$here/../../LICENSE" "$stage/mcp-sigv4/LICENSE"
cp "$here/../../LICENSE" "$stage/mcp-sigv4-linux-x64/LICENSE"
for p in mcp-sigv4-linux-x64 mcp-sigv4; do
  (cd "$stage/$p" && npm pack --silent --pack-destination "$out" >/dev/null)
done
ls "$out"/mcp-sigv4-linux-x64-"$version".tgz "$out"/mcp-sigv4-"$version".tgz
