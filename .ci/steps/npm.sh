# .ci/run step 'npm': the npm packages, one per os/cpu behind the launcher:
# each carries the binary built for it (SHA-256), the launcher's choice is
# unit-tested for every os/cpu, npm installs the right package for each os/cpu
# from a local registry, and what runs here is smoke-tested (Linux x86-64
# natively through the launcher and npx, arm64 under qemu).
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).
. .ci/packages.sh

# npm os/cpu -> Rust target whose binary the package for them carries.
npm_platforms=(
  "linux x64 x86_64-unknown-linux-musl"
  "linux arm64 aarch64-unknown-linux-musl"
  "darwin arm64 aarch64-apple-darwin"
  "darwin x64 x86_64-apple-darwin"
  "win32 x64 x86_64-pc-windows-gnu"
  "win32 arm64 aarch64-pc-windows-gnullvm"
)

step "npm packages: the launcher's choice for each os/cpu (node --test)"
node --test .packaging/npm/test/ || fail "the launcher's unit tests failed"

step "npm packages: one per os/cpu and the launcher, packed, each carrying its binary"
need_debian qemu-user-static:qemu-aarch64-static
record_binary_hashes
rm -rf target/npm
.packaging/npm/pack.sh target/npm >/dev/null
python3 - target/npm "$ci/binaries.sha256" "$version" "${npm_platforms[@]}" <<'EOF' || fail "an npm package does not carry the binary built for its platform"
import hashlib, json, os, sys, tarfile
out, sums, version, *platforms = sys.argv[1:]
hashes = {t: h for h, t in (line.split() for line in open(sums))}
names = []
for entry in platforms:
    os_, cpu, triple = entry.split()
    pkg = f"mcp-sigv4-{os_}-{cpu}"
    exe = "mcp-sigv4.exe" if os_ == "win32" else "mcp-sigv4"
    name = f"{pkg}-{version}.tgz"
    names.append(name)
    with tarfile.open(os.path.join(out, name)) as t:
        files = sorted(m.name for m in t.getmembers() if m.isfile())
        assert files == sorted(f"package/{f}" for f in ("LICENSE", "README.md", "package.json", f"bin/{exe}")), files
        meta = json.load(t.extractfile("package/package.json"))
        assert (meta["name"], meta["version"], meta["os"], meta["cpu"]) == (pkg, version, [os_], [cpu]), meta
        m = t.getmember(f"package/bin/{exe}")
        got = hashlib.sha256(t.extractfile(m).read()).hexdigest()
        assert got == hashes[triple], f"{name}: bin/{exe} is {got}, the {triple} binary is {hashes[triple]}"
        assert m.mode & 0o777 == 0o755, f"{name}: bin/{exe} has mode {oct(m.mode)}"
    print(f"{name}: bin/{exe} is the {triple} binary (sha256 {got[:16]}…), mode 0755, os {os_}, cpu {cpu}")
launcher = f"mcp-sigv4-{version}.tgz"
with tarfile.open(os.path.join(out, launcher)) as t:
    meta = json.load(t.extractfile("package/package.json"))
    optional = meta["optionalDependencies"]
    assert sorted(optional) == sorted(n[: -len(f"-{version}.tgz")] for n in names), optional
    assert set(optional.values()) == {version}, optional
print(f"{launcher}: optionalDependencies {', '.join(sorted(optional))}, each at {version}")
assert sorted(os.listdir(out)) == sorted(names + [launcher]), os.listdir(out)
EOF

step "npm packages: npm installs each os/cpu's package from a local registry; Linux x86-64 smoke (npm, npx)"
export npm_config_cache="$ci/npm-cache" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
npm install --silent --offline --prefix "$ci/npm-prefix" \
  target/npm/mcp-sigv4-linux-x64-"$version".tgz target/npm/mcp-sigv4-"$version".tgz
expected_version=$(version_line x86_64-unknown-linux-musl)
smoke "$ci/npm-prefix/node_modules/.bin/mcp-sigv4"
# `npx -y mcp-sigv4` as users run it: npm resolves the launcher by name, then
# the platform package from its optionalDependencies by os/cpu. A local
# registry (verdaccio, from npm, no uplink) holds every tarball.
if [ ! -x "$tools/verdaccio/node_modules/.bin/verdaccio" ]; then
  npm install --silent --prefix "$tools/verdaccio" "verdaccio@$VERDACCIO" || fail "cannot install verdaccio $VERDACCIO from npm"
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$ci/registry"
cat >"$ci/registry/config.yaml" <<EOF
storage: $ci/registry/storage
auth: { htpasswd: { file: $ci/registry/htpasswd, max_users: -1 } }
uplinks: {}
packages: { '**': { access: \$all, publish: \$all } }
log: { type: stdout, format: pretty, level: warn }
EOF
"$tools/verdaccio/node_modules/.bin/verdaccio" --config "$ci/registry/config.yaml" --listen "127.0.0.1:$port" >"$ci/registry/log" 2>&1 &
registry_pid=$!
started_pids+=("$registry_pid")
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/-/ping" >/dev/null 2>&1 && break
  kill -0 $registry_pid 2>/dev/null || fail "verdaccio exited: $(tail -5 "$ci/registry/log")"
  sleep 0.2
done
printf 'registry=http://127.0.0.1:%s/\n//127.0.0.1:%s/:_authToken=ci-anonymous\n' "$port" "$port" >"$ci/registry/npmrc"
for tarball in target/npm/mcp-sigv4-*-"$version".tgz target/npm/mcp-sigv4-"$version".tgz; do
  npm publish --silent --userconfig "$ci/registry/npmrc" "$tarball" || fail "cannot publish $tarball to the local registry"
done
export npm_config_registry="http://127.0.0.1:$port/"
# npm's --os and --cpu install as on that machine: exactly the matching
# platform package must come, carrying that platform's binary.
for entry in "${npm_platforms[@]}"; do
  read -r os cpu triple <<<"$entry"
  dir="$ci/npm-$os-$cpu"
  rm -rf "$dir"
  npm install --silent --prefix "$dir" --os "$os" --cpu "$cpu" mcp-sigv4 || fail "npm install --os $os --cpu $cpu mcp-sigv4 failed"
  got=$(cd "$dir/node_modules" && ls -d mcp-sigv4-* | tr '\n' ' ')
  [ "$got" = "mcp-sigv4-$os-$cpu " ] || fail "npm for $os/$cpu installed ${got:-no platform package}, not mcp-sigv4-$os-$cpu alone"
  exe=$(ls "$dir/node_modules/mcp-sigv4-$os-$cpu/bin/"*)
  hash=$(sha256sum "$exe" | cut -d' ' -f1)
  grep -qx "$hash $triple" "$ci/binaries.sha256" || fail "npm for $os/$cpu installed ${exe#"$dir"/} ($hash), not the $triple binary"
  echo "npm for $os/$cpu: installs mcp-sigv4-$os-$cpu alone, with the $triple binary"
done
export npm_config_cache="$ci/npx-cache"
echo "npx -y mcp-sigv4, from the local registry:"
smoke npx -y mcp-sigv4
stop_started
unset npm_config_registry npm_config_cache npm_config_update_notifier npm_config_fund npm_config_audit

step "npm packages (Linux arm64, Windows x86-64, macOS): what runs here"
expected_version=$(version_line aarch64-unknown-linux-musl)
echo "the binary npm installed for linux/arm64, under qemu:"
smoke qemu-aarch64-static "$ci/npm-linux-arm64/node_modules/mcp-sigv4-linux-arm64/bin/mcp-sigv4"
skip_loudly "the darwin-arm64, darwin-x64 and win32-arm64 packages cannot run here (Linux x86-64; Wine runs x86-64 Windows only): checked by SHA-256, os/cpu, and npm's choice only"
wine_smoke "$ci/npm-win32-x64/node_modules/mcp-sigv4-win32-x64/bin/mcp-sigv4.exe" "the win32-x64 npm package"

add_to_dist target/npm/*.tgz
