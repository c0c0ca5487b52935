# .ci/run step 'binaries': every release binary (Linux, macOS, Windows) built
# by .packaging/build-dist into target/dist and checked by
# .packaging/check-binary (format, CPU, size, linkage, macOS code signature,
# embedded dependency list); SHA256SUMS, SBOM and provenance checked.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh); runs after
# 'linux', whose musl builds build-dist finds already made.

step "release tools: rustup targets, Debian (musl, aarch64, mingw-w64), rcodesign, zig and LIEF from PyPI"
. .packaging/release-tools.sh
install_release_tools

step "every release binary: .packaging/build-dist --no-packages (build, check-binary, SHA256SUMS, SBOM, provenance)"
.packaging/build-dist --no-packages 2>&1 | tee "$ci/build-dist.txt" ||
  fail ".packaging/build-dist failed (log: $ci/build-dist.txt)"

step "target/dist: every binary listed, the sums and the provenance agree"
python3 - target/dist "$version" <<'EOF' || fail "target/dist is not what a release publishes"
import hashlib, json, os, sys
dist, version = sys.argv[1], sys.argv[2]
expected = [f"mcp-sigv4-{version}-{t}" for t in (
    "x86_64-linux-musl", "aarch64-linux-musl", "aarch64-apple-darwin", "x86_64-apple-darwin",
    "x86_64-pc-windows-gnu.exe", "aarch64-pc-windows-gnullvm.exe")] + ["mcp-sigv4.cdx.json"]
sums = dict(reversed(l.rstrip("\n").split("  ", 1)) for l in open(os.path.join(dist, "SHA256SUMS")))
missing = [n for n in expected if n not in sums]
assert not missing, f"SHA256SUMS lacks {missing}"
for name, digest in sums.items():
    assert hashlib.sha256(open(os.path.join(dist, name), "rb").read()).hexdigest() == digest, name
st = json.load(open(os.path.join(dist, "provenance.intoto.json")))
assert st["_type"] == "https://in-toto.io/Statement/v1", st["_type"]
assert st["predicateType"] == "https://slsa.dev/provenance/v1", st["predicateType"]
subjects = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
assert subjects == sums, "provenance subjects differ from SHA256SUMS"
bd = st["predicate"]["buildDefinition"]
commit = os.popen("git rev-parse HEAD").read().strip()
assert bd["externalParameters"]["commit"] == commit, bd["externalParameters"]["commit"]
assert bd["resolvedDependencies"][0]["digest"]["gitCommit"] == commit
unknown = [d["uri"] for d in bd["resolvedDependencies"][1:] if "unavailable" in json.dumps(d)]
assert not unknown, f"tool versions the provenance could not read: {unknown}"
assert st["predicate"]["runDetails"]["builder"]["id"]
print(f"{len(sums)} files, each matching SHA256SUMS; provenance: {len(subjects)} subjects (the same digests), "
      f"commit {commit[:12]}, {len(bd['resolvedDependencies']) - 1} tool versions")
EOF

step "check-binary catches what it is for: a changed byte under the macOS signature, a binary for another CPU"
mac="$root/target/aarch64-apple-darwin/release/mcp-sigv4"
cp "$mac" "$ci/tampered-mcp-sigv4"
# One byte of the code (file offset 64 KiB, inside __TEXT) changed: the page
# hash no longer matches, as macOS would find when it maps that page.
printf '\x00' | dd of="$ci/tampered-mcp-sigv4" bs=1 seek=65536 conv=notrunc status=none
cmp -s "$mac" "$ci/tampered-mcp-sigv4" && printf '\x01' | dd of="$ci/tampered-mcp-sigv4" bs=1 seek=65536 conv=notrunc status=none
if "$tools/lief/bin/python" .packaging/check-binary aarch64-apple-darwin "$ci/tampered-mcp-sigv4" >"$ci/tampered.txt" 2>&1; then
  fail "check-binary passed a macOS binary whose signed code was changed"
fi
grep -q "page hashes do not match" "$ci/tampered.txt" || fail "check-binary failed the changed binary for another reason: $(cat "$ci/tampered.txt")"
if "$tools/lief/bin/python" .packaging/check-binary x86_64-apple-darwin "$mac" >"$ci/wrong-cpu.txt" 2>&1; then
  fail "check-binary passed an arm64 binary as x86_64-apple-darwin"
fi
grep -q "CPU ARM64, expected X86_64" "$ci/wrong-cpu.txt" || fail "check-binary failed the arm64 binary for another reason: $(cat "$ci/wrong-cpu.txt")"
echo "a changed code byte: refused (page hashes do not match); arm64 as x86_64: refused (CPU ARM64, expected X86_64)"
