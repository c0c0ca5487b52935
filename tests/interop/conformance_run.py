"""The official MCP conformance suite (npm `@modelcontextprotocol/conformance`,
pinned in serve-node/package.json) against mcp-sigv4, both ways:

- server scenarios: every scenario of `conformance list` (`--suite all`) runs
  against conformance_upstream.py directly, then against `mcp-sigv4 serve` in
  front of the same upstream behind the botocore SigV4 verifier. Each
  scenario must pass directly and through serve, and every check the direct
  run made must get a verdict at least as good through serve (SUCCESS >
  WARNING > FAILURE; INFO lines carry details only; each difference is
  printed), DNS-rebinding protection included (through serve, that is
  serve's own Host/Origin check). The verifier must have refused nothing.
- client scenarios: the suite plays the server and runs a client command
  (conformance_client.py): once the MCP Python SDK's own Streamable HTTP
  client (the baseline), once the same SDK's stdio client launching the
  mcp-sigv4 stdio relay, which then is the HTTP client the suite sees. Every
  scenario the baseline passes must pass through the relay. The `auth/*`
  scenarios are OAuth authorization flows, which a SigV4 relay does not do:
  listed, not run.

    python conformance_run.py --binary target/debug/mcp-sigv4 --node NODE [--part server|client|all]
    python conformance_run.py --direct-only --node NODE    # server scenarios against the upstream only

Prints a table per part and ends with `conformance: N passed, M failed`
(one line per scenario and side). Exit 0 when every scenario passed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_interop as ri  # noqa: E402
from serve_clients import Serve, live_sessions, undeleted  # noqa: E402

SUITE = Path("node_modules") / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
STAMP = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
SUITE_TIMEOUT_S = 240
CLIENT_TIMEOUT_S = 90
NOT_APPLICABLE_PREFIX = "auth/"


def log(msg: str) -> None:
    print(msg, flush=True)


class Suite:
    def __init__(self, node: str, node_dir: Path):
        self.node = node
        self.node_dir = node_dir
        self.script = node_dir / SUITE
        if not self.script.is_file():
            raise SystemExit(f"expected the conformance suite at {self.script}, found nothing\n"
                             f"hint: (cd {node_dir} && npm ci), or cargo test --test serve_clients")

    def argv(self, *args: str) -> list[str]:
        return [self.node, str(self.script), *args]

    def scenarios(self) -> tuple[list[str], list[str]]:
        out = subprocess.run(self.argv("list"), capture_output=True, text=True, timeout=60, cwd=self.node_dir)
        if out.returncode != 0:
            raise SystemExit(f"`conformance list` failed ({out.returncode}):\n{out.stderr[-2000:]}")
        server: list[str] = []
        client: list[str] = []
        current = None
        for line in out.stdout.splitlines():
            if line.startswith("Server scenarios"):
                current = server
            elif line.startswith("Client scenarios"):
                current = client
            elif current is not None and line.strip().startswith("- "):
                current.append(line.strip()[2:].split(" [")[0].strip())
        return server, client


def read_results(root: Path, prefix: str = "") -> dict[str, list[dict]]:
    """{scenario: checks} from the suite's `-o` directory."""
    results: dict[str, list[dict]] = {}
    for checks in sorted(root.rglob("checks.json")):
        name = STAMP.sub("", str(checks.parent.relative_to(root)))
        if prefix and name.startswith(prefix):
            name = name[len(prefix):]
        try:
            results[name] = json.loads(checks.read_text())
        except ValueError:
            results[name] = [{"id": "checks.json", "status": "FAILURE", "errorMessage": "unreadable checks.json"}]
    return results


def verdicts(checks: list[dict]) -> list[tuple[str, str]]:
    return sorted((c.get("id", "?"), c.get("status", "?")) for c in checks if c.get("status") != "INFO")


RANK = {"FAILURE": 0, "WARNING": 1, "SUCCESS": 2}


def no_worse(direct: list[dict], via: list[dict]) -> tuple[bool, list[str]]:
    """Every check the direct run made has a verdict at least as good through
    serve (SUCCESS > WARNING > FAILURE); returns (ok, the differences)."""
    d, v = verdicts(direct), verdicts(via)
    diffs = [f"{i}: {a} direct" for i, a in d if (i, a) not in v] + [f"{i}: {b} via serve" for i, b in v
                                                                      if (i, b) not in d]
    pool = list(v)
    ok = True
    for i, a in d:
        match = next((x for x in pool if x[0] == i and RANK.get(x[1], -1) >= RANK.get(a, -1)), None)
        if match is None:
            ok = False
        else:
            pool.remove(match)
    ok = ok and not any(b == "FAILURE" for _, b in pool)
    return ok, diffs


def passed(checks: list[dict] | None) -> bool:
    return bool(checks) and not any(c.get("status") == "FAILURE" for c in checks)


def summary(checks: list[dict] | None) -> str:
    if not checks:
        return "not run"
    counts: dict[str, int] = {}
    for c in checks:
        if c.get("status") != "INFO":
            counts[c.get("status", "?")] = counts.get(c.get("status", "?"), 0) + 1
    return ("PASS" if passed(checks) else "FAIL") + " " + " ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def failures(checks: list[dict] | None) -> str:
    return "; ".join(f"{c.get('id')}: {c.get('errorMessage', '')[:200]}" for c in checks or []
                     if c.get("status") == "FAILURE")


def start_upstream(workdir: Path, verify: dict | None) -> ri.Upstream:
    up = ri.Upstream(workdir, ri.random_creds(token=False), "sse", False, script=HERE / "conformance_upstream.py")
    up.cfg_path.write_text(json.dumps({"verify": verify, "stats_file": str(up.stats_path), "max_lifetime_s": 600}))
    up.start()
    return up


def run_server_suite(suite: Suite, url: str, out: Path, label: str) -> dict[str, list[dict]]:
    log(f"  $ conformance server --url {url} --suite all   ({label})")
    started = time.monotonic()
    done = subprocess.run(suite.argv("server", "--url", url, "--suite", "all", "-o", str(out)), cwd=suite.node_dir,
                          capture_output=True, text=True, timeout=SUITE_TIMEOUT_S)
    (out.parent / f"{label}.log").write_text(done.stdout + done.stderr)
    log(f"    {label}: suite exit {done.returncode}, {time.monotonic() - started:.1f} s")
    return read_results(out, "server-")


def server_part(suite: Suite, names: list[str], args, root: Path) -> list[tuple[str, bool, str]]:
    rows: list[tuple[str, bool, str]] = []
    direct_dir = root / "server-direct"
    direct_dir.mkdir()
    up = start_upstream(direct_dir, None)
    try:
        direct = run_server_suite(suite, up.url, direct_dir / "results", "direct")
    finally:
        up.stop()
    via: dict[str, list[dict]] = {}
    rejected: dict = {}
    serve_note = ""
    if not args.direct_only:
        serve_dir = root / "server-serve"
        serve_dir.mkdir()
        creds = ri.random_creds(token=True)
        up = start_upstream(serve_dir, {"access_key": creds.access_key, "secret_key": creds.secret_key,
                                        "token": creds.token, "region": ri.REGION, "service": ri.SERVICE})
        serve = None
        try:
            env = ri.base_child_env(serve_dir)
            env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
                       AWS_SESSION_TOKEN=creds.token)
            serve = Serve(serve_dir, args.binary, up.url, env, [], "debug")
            serve.start()
            log(f"  {serve.command_line} -> {serve.url}")
            via = run_server_suite(suite, serve.url, serve_dir / "results", "through-serve")
            serve.stop()  # SIGTERM: the suite's clients close without DELETE; serve ends their sessions now
            stats = up.stats()
            rejected = stats["rejected"]
            live = live_sessions(stats)
            left = undeleted(stats)
            serve_note = (f"verifier: accepted {stats['accepted']}, rejected {stats['rejected']}; "
                          f"{len(live)} upstream sessions, {len(left)} not ended by a DELETE; "
                          f"serve exited {serve.exit_code} on SIGTERM")
            rows.append(("server: after SIGTERM serve exited 0 and had DELETEd every upstream session",
                         serve.exit_code == 0 and not left and bool(live), serve_note))
        finally:
            if serve is not None:
                serve.stop()
            up.stop()

    log("\n  server scenario                  direct                          through serve")
    for name in names:
        d = direct.get(name)
        line = f"  {name:32} {summary(d):31}"
        ok = passed(d)
        rows.append((f"server {name} (direct)", ok, failures(d)))
        if not args.direct_only:
            v = via.get(name)
            ok, diffs = no_worse(d or [], v or []) if d is not None and v is not None else (False, ["not run"])
            line += f" {summary(v):24} " + ("same verdicts" if not diffs
                                            else ("better: " if ok else "WORSE: ") + "; ".join(diffs))
            detail = failures(v) + (f" (verdicts: {'; '.join(diffs)})" if diffs else "")
            rows.append((f"server {name} (through serve)", passed(v) and ok, detail))
        log(line)
    if not args.direct_only:
        log(f"  {serve_note}")
        rows.append(("server: the verifier refused no request serve sent", rejected == {} and bool(via),
                     serve_note))
    return rows


def run_client_scenario(suite: Suite, name: str, command: str, out: Path) -> list[dict] | None:
    try:
        subprocess.run(suite.argv("client", "--command", command, "--scenario", name, "-o", str(out),
                                  "--timeout", "30000"),
                       cwd=suite.node_dir, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [{"id": "timeout", "status": "FAILURE", "errorMessage": f"not done within {CLIENT_TIMEOUT_S} s"}]
    return read_results(out).get(name)


def client_part(suite: Suite, names: list[str], args, root: Path) -> list[tuple[str, bool, str]]:
    py = shlex.quote(sys.executable)
    client = shlex.quote(str(HERE / "conformance_client.py"))
    runs = [n for n in names if not n.startswith(NOT_APPLICABLE_PREFIX)]
    skipped = [n for n in names if n.startswith(NOT_APPLICABLE_PREFIX)]
    commands = {"sdk": f"{py} {client}", "relay": f"{py} {client} --relay {shlex.quote(args.binary)}"}
    jobs = {(n, side): (n, cmd, root / "client" / side / n.replace("/", "_"))
            for n in runs for side, cmd in commands.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(jobs, pool.map(lambda j: run_client_scenario(suite, *j), jobs.values())))
    rows = []
    log("\n  client scenario                      mcp 1.30.0 over HTTP (baseline)  mcp 1.30.0 stdio -> mcp-sigv4 relay")
    for n in runs:
        base, relay = results[(n, "sdk")], results[(n, "relay")]
        log(f"  {n:36} {summary(base):32} {summary(relay)}")
        rows.append((f"client {n} (relay, baseline {'passes' if passed(base) else 'fails'})",
                     passed(relay) or not passed(base), failures(relay)))
    log(f"  not run ({len(skipped)}, OAuth authorization flows a SigV4 relay does not do): {', '.join(skipped)}")
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", help="the mcp-sigv4 binary")
    p.add_argument("--node", default=shutil.which("node") or "node", help="Node.js 22+ binary")
    p.add_argument("--node-dir", default=str(HERE / "serve-node"), help="holds the suite's node_modules")
    p.add_argument("--part", choices=["server", "client", "all"], default="all")
    p.add_argument("--direct-only", action="store_true", help="server scenarios against the upstream only")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    if not args.direct_only:
        if not args.binary or not os.access(args.binary, os.X_OK):
            print("expected --binary PATH to an executable mcp-sigv4 (or --direct-only)", file=sys.stderr)
            return 2
        args.binary = os.path.abspath(args.binary)
    suite = Suite(args.node, Path(args.node_dir))
    version = json.loads((Path(args.node_dir) / "node_modules/@modelcontextprotocol/conformance/package.json")
                         .read_text())["version"]
    node_version = subprocess.run([args.node, "--version"], capture_output=True, text=True).stdout.strip()
    server_names, client_names = suite.scenarios()
    log(f"conformance: @modelcontextprotocol/conformance {version} on node {node_version}: "
        f"{len(server_names)} server scenarios, {len(client_names)} client scenarios")
    root = Path(tempfile.mkdtemp(prefix="mcp-sigv4-conformance-"))
    rows: list[tuple[str, bool, str]] = []
    started = time.monotonic()
    if args.part in ("server", "all"):
        rows += server_part(suite, server_names, args, root)
    if args.part in ("client", "all") and not args.direct_only:
        rows += client_part(suite, client_names, args, root)
    failed = [r for r in rows if not r[1]]
    log(f"\n== conformance summary ({time.monotonic() - started:.1f} s)")
    for name, ok, detail in failed:
        log(f"   FAIL {name}: {detail}")
    log(f"conformance: {len(rows) - len(failed)} passed, {len(failed)} failed")
    if failed or args.keep:
        log(f"(work files kept in {root})")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
