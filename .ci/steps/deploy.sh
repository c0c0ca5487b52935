# .ci/run step 'deploy': the Kubernetes sidecar manifest and the ECS task
# definition in .packaging/deploy/ pass their offline validators
# (.packaging/deploy/check.py: kubernetes-validate in strict mode against the
# Kubernetes 1.29 and 1.37 schemas; botocore's ECS model, the
# RegisterTaskDefinition input shape; then how the sidecar must run), and
# broken copies of each fail them, each naming its mistake, so a validator
# that passes everything cannot pass this step.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "deployment files: Kubernetes manifest and ECS task definition, validated offline"
venv="$tools/deploy-venv"
want=$(sha256sum .packaging/deploy/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" || fail "python3 -m venv failed (Debian: python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r .packaging/deploy/requirements.txt ||
    fail "cannot install .packaging/deploy/requirements.txt from PyPI into $venv"
  echo "$want" >"$venv/requirements.sha256"
fi
check=("$venv/bin/python" .packaging/deploy/check.py)
"$venv/bin/pip" freeze --disable-pip-version-check | grep -E '^(kubernetes-validate|botocore)=='
"${check[@]}" .packaging/deploy/kubernetes-sidecar.yaml .packaging/deploy/ecs-task-definition.json ||
  fail "the deployment files do not validate (above)"

# Broken copies: each must fail, and the failure must name the mistake.
bad="$ci/deploy-bad"
rm -rf "$bad"
mkdir -p "$bad"
expect_failure() { # FILE TEXT-THE-FAILURE-MUST-NAME
  local out
  if out=$("${check[@]}" "$1" 2>&1); then fail "check.py passed $1, a deliberately broken copy: $out"; fi
  grep -qF -- "$2" <<<"$out" || fail "check.py failed $1 but did not name '$2': $out"
  echo "broken copy $(basename "$1"): fails, naming '$2'"
}
k8s=.packaging/deploy/kubernetes-sidecar.yaml ecs=.packaging/deploy/ecs-task-definition.json
sed 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' "$k8s" >"$bad/k8s-misspelt-field.yaml"
expect_failure "$bad/k8s-misspelt-field.yaml" "'readOnlyRootFileSystem' was unexpected"
sed 's/^  replicas: 1$/  replicas: one/' "$k8s" >"$bad/k8s-wrong-type.yaml"
expect_failure "$bad/k8s-wrong-type.yaml" "at spec.replicas: 'one' is not of type"
sed 's#"http://127.0.0.1:8080/readyz"\]$#"http://127.0.0.1:8081/readyz"]#' "$k8s" >"$bad/k8s-probe-port.yaml"
expect_failure "$bad/k8s-probe-port.yaml" "readinessProbe checks port 8081, not the --listen port 8080"
sed 's/^            - 127\.0\.0\.1:8080$/            - 0.0.0.0:8080/' "$k8s" >"$bad/k8s-no-token.yaml"
expect_failure "$bad/k8s-no-token.yaml" "is not loopback, so it needs --token-file"
sed 's#command: \[/mcp-sigv4, healthcheck, "http://127.0.0.1:8080/healthz"\]#command: [/bin/sh, -c, "curl -f http://127.0.0.1:8080/healthz"]#' "$k8s" >"$bad/k8s-shell-probe.yaml"
expect_failure "$bad/k8s-shell-probe.yaml" "livenessProbe runs ['/bin/sh']: the image is FROM scratch"
awk '/readinessProbe:/ {r=1} r && /timeoutSeconds: 5/ {r=0; next} {print}' "$k8s" >"$bad/k8s-probe-timeout.yaml"
expect_failure "$bad/k8s-probe-timeout.yaml" "readinessProbe gets 1 s from the orchestrator, not longer than healthcheck's --timeout 3 s"
sed 's/"memory": 64,/"memory": "64",/' "$ecs" >"$bad/ecs-wrong-type.json"
expect_failure "$bad/ecs-wrong-type.json" "Invalid type for parameter containerDefinitions[0].memory"
sed 's/"stopTimeout"/"stopTimeOut"/' "$ecs" >"$bad/ecs-unknown-member.json"
expect_failure "$bad/ecs-unknown-member.json" 'Unknown parameter in containerDefinitions[0]: "stopTimeOut"'
sed '/"healthCheck"/d' "$ecs" >"$bad/ecs-healthy-without-check.json"
expect_failure "$bad/ecs-healthy-without-check.json" "waits for mcp-sigv4 to be HEALTHY, which has no healthCheck"
sed 's#"/mcp-sigv4", "healthcheck"#"/mcp-sigv4", "doctor"#' "$ecs" >"$bad/ecs-check-not-healthcheck.json"
expect_failure "$bad/ecs-check-not-healthcheck.json" "healthCheck runs /mcp-sigv4 ['doctor'], not its health check"
sed 's#"CMD", "/mcp-sigv4", "healthcheck", "http://127.0.0.1:8080/readyz"#"CMD-SHELL", "curl -f http://127.0.0.1:8080/readyz"#' "$ecs" >"$bad/ecs-shell-check.json"
expect_failure "$bad/ecs-shell-check.json" "healthCheck ['CMD-SHELL']: the image is FROM scratch (no shell)"
sed 's#"healthcheck", "http://127.0.0.1:8080/readyz"\]#"healthcheck", "http://127.0.0.1:9090/readyz"]#' "$ecs" >"$bad/ecs-check-port.json"
expect_failure "$bad/ecs-check-port.json" "healthCheck checks port 9090, not the --listen port 8080"
sed 's/"timeout": 5,/"timeout": 3,/' "$ecs" >"$bad/ecs-check-timeout.json"
expect_failure "$bad/ecs-check-timeout.json" "healthCheck gets 3 s from the orchestrator, not longer than healthcheck's --timeout 3 s"
sed 's/"networkMode": "awsvpc"/"networkMode": "bridged"/' "$ecs" >"$bad/ecs-enum.json"
expect_failure "$bad/ecs-enum.json" "networkMode: 'bridged' is not one of"
