# .ci/run step 'sbom': the SBOM and cargo-deny.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "SBOM (CycloneDX, cargo-cyclonedx)"
need_cargo_tool "cargo-cyclonedx@$CARGO_CYCLONEDX"
mkdir -p target/sbom
rm -f mcp-sigv4_bin.cdx.json
cargo cyclonedx --quiet -f json --describe binaries --target $X86 --no-build-deps --spec-version 1.5
mv mcp-sigv4_bin.cdx.json target/sbom/mcp-sigv4.cdx.json
python3 - target/sbom/mcp-sigv4.cdx.json Cargo.lock <<'EOF' || fail "the SBOM is not a CycloneDX document naming the locked versions"
import json, re, sys
bom = json.load(open(sys.argv[1]))
locked = dict(re.findall(r'name = "([^"]+)"\nversion = "([^"]+)"', open(sys.argv[2]).read()))
assert bom["bomFormat"] == "CycloneDX" and bom["metadata"]["component"]["name"] == "mcp-sigv4"
have = {(c["name"], c["version"]) for c in bom["components"]}
for n in ("ring", "rustls", "ureq", "sha2", "p256", "serde_json"):
    assert (n, locked[n]) in have, n
print(f"target/sbom/mcp-sigv4.cdx.json: CycloneDX {bom['specVersion']}, {len(bom['components'])} components, versions as in Cargo.lock")
EOF
cp target/sbom/mcp-sigv4.cdx.json target/dist/

step "cargo deny (licenses, bans, sources; advisories where the database can be had)"
need_cargo_tool "cargo-deny@$CARGO_DENY"
cargo deny --locked --config .packaging/deny.toml check -D warnings licenses bans sources
if ls -d "${CARGO_HOME:-$HOME/.cargo}"/advisory-dbs/*/.git >/dev/null 2>&1; then
  cargo deny --offline --locked --config .packaging/deny.toml check advisories
else
  skip_loudly "cargo deny check advisories: the RustSec database is a git repository on GitHub (github.com/rustsec/advisory-db), which this machine cannot reach (only crates.io, PyPI, npm and Debian). Licences, bans and sources were checked."
fi
