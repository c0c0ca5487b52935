# .ci/run step 'lint': format, lints (clippy, rustdoc) and the direct-dependency rule.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "toolchain"
cargo --version
rustc --version
python3 --version
node --version
npm --version

step "format and lints"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# The library's documented API (signer, credential chain, endpoint
# inference) builds its docs without a warning.
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps
# The main crate's direct dependencies stay on the design's list (the rule
# the project's check-deps tool applies, here so a clean checkout checks it).
python3 - <<'PY'
import sys, tomllib
d = tomllib.load(open("Cargo.toml", "rb"))
allowed = {"ureq", "rustls", "hmac", "sha2", "p256", "hex", "percent-encoding",
           "serde_json", "lexopt", "log", "env_logger",
           "httparse"}  # httparse: the HTTP request parser for a local listener
names = set(d.get("dependencies", {}))
for cfg, t in d.get("target", {}).items():
    for n in t.get("dependencies", {}):
        if not (n == "libc" and "unix" in cfg and "not" not in cfg):
            names.add(n)
off = sorted(names - allowed)
if off:
    sys.exit(f"direct dependencies outside the design's list: {off}")
print(f"direct dependencies: {len(names)} on the design's list (libc only under cfg(unix))")
PY
