# .ci/run step 'npm': the npm packages: packed, installed, smoke-tested, npx from a local registry.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "npm packages (launcher + linux-x64 binary): pack, install, smoke, npx"
use_linux_binary
rm -rf target/npm
.packaging/npm/pack.sh "$bin" target/npm
python3 - target/npm/mcp-sigv4-linux-x64-"$version".tgz "$hash" <<'EOF' || fail "the npm platform package does not carry the verified binary"
import hashlib, sys, tarfile
t = tarfile.open(sys.argv[1])
m = t.getmember("package/bin/mcp-sigv4")
got = hashlib.sha256(t.extractfile(m).read()).hexdigest()
assert got == sys.argv[2] and m.mode & 0o111, (got, oct(m.mode))
print(f"{sys.argv[1].split('/')[-1]}: package/bin/mcp-sigv4 is the static binary, mode {oct(m.mode)}")
EOF
cp target/npm/*.tgz target/dist/
export npm_config_cache="$ci/npm-cache" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
npm install --silent --offline --prefix "$ci/npm-prefix" \
  target/npm/mcp-sigv4-linux-x64-"$version".tgz target/npm/mcp-sigv4-"$version".tgz
smoke "$ci/npm-prefix/node_modules/.bin/mcp-sigv4"
# `npx -y mcp-sigv4` as users run it: npm resolves the launcher by name, then
# the platform package from its optionalDependencies by os/cpu. A local
# registry (verdaccio, from npm, no uplink) holds the two tarballs.
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
for p in mcp-sigv4-linux-x64 mcp-sigv4; do
  npm publish --silent --userconfig "$ci/registry/npmrc" "target/npm/$p-$version.tgz" || fail "cannot publish $p to the local registry"
done
export npm_config_registry="http://127.0.0.1:$port/" npm_config_cache="$ci/npx-cache"
smoke npx -y mcp-sigv4
stop_started
unset npm_config_registry npm_config_cache npm_config_update_notifier npm_config_fund npm_config_audit
