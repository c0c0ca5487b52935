"""`mcp-sigv4 serve` with real MCP clients: the official SDKs' Streamable HTTP
clients and the MCP Inspector's CLI talk to `mcp-sigv4 serve`, which relays
each client session in a signed upstream session of its own to the interop
upstream (serve_upstream.py: FastMCP, mcp 1.30.0) behind the botocore SigV4
verifier.

    python serve_clients.py --binary target/debug/mcp-sigv4 [--scenario NAME ...]
    python serve_clients.py --direct [--scenario NAME ...]   # clients straight to the upstream
    python serve_clients.py --list

`--direct` points every client at the upstream itself (served without the
verifier) instead of at `serve`: it proves the clients and their checks, and
runs only the client-side checks of each scenario (the serve-side ones, such
as "the upstream saw notifications/cancelled before DELETE", need `serve`).

Scenarios (see `--list`): many sessions at once with each client, each getting
only its own answers in an upstream session of its own; streaming (the
upstream holds a call's result until the client has *seen* its first progress
notification, so a front end that buffers a call's stream fails by timeout, no
wall-clock assert); a client ending its session mid-call; upstream session
loss recovered for that session alone; SIGTERM drain; a 70-second credential
rotation (credential_process keys that expire 61 s after issue), which runs
alongside the other scenarios. Exit status 0 when every scenario passed; the
last line is `serve-clients: N passed, M failed`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import run_interop as ri  # noqa: E402  (Checks, Creds, Upstream, helpers)
import scenarios_credentials as sc  # noqa: E402  (KeyringUpstream, process_profile, key checks)

import anyio  # noqa: E402
import httpx  # noqa: E402
from mcp import ClientSession, types  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

Checks = ri.Checks
log = ri.log
step = ri.step
short = ri.short

LISTEN_RE = re.compile(r"mcp-sigv4 serve: listening on (http://127\.0\.0\.1:(\d+)/mcp)")
SERVE_START_S = 20.0
SCENARIO_BOUND_S = 120
ROTATION_S = 70.0
ROTATION_KEY_LIFETIME_S = 61
CONCURRENT_SESSIONS = 16
GATE_WAIT_S = 15.0
INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector"
P_MODERN = "2026-07-28"
SERVE_TOOLS = {"whoami", "echo", "gated_progress", "ack", "hold", "expire_session"}


# --------------------------------------------------------------------------
# the upstream and the front end


class ServeUpstream(ri.Upstream):
    """serve_upstream.py with upstream.py's contract; `verify=False` serves
    without the verifier (for --direct)."""

    def __init__(self, workdir: Path, creds: ri.Creds, verbose: bool, verify: bool = True, mode: str = "sse"):
        super().__init__(workdir, creds, mode, verbose, script=HERE / "serve_upstream.py")
        cfg = json.loads(self.cfg_path.read_text())
        cfg["verify"] = verify
        self.cfg_path.write_text(json.dumps(cfg))

    def events(self) -> list[dict]:
        return self.stats().get("events", [])


class Serve:
    """`mcp-sigv4 serve <upstream> --listen 127.0.0.1:0`, its port read from the
    one stderr line it prints, its whole stderr kept in `serve.stderr`."""

    def __init__(self, workdir: Path, binary: str, upstream_url: str, env: dict[str, str], extra: list[str],
                 level: str):
        self.stderr_path = workdir / "serve.stderr"
        self.argv = [binary, "serve", upstream_url, "--service", ri.SERVICE, "--region", ri.REGION,
                     "--listen", "127.0.0.1:0", *extra, "--log-level", level]
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.exit_code: int | None = None

    def start(self) -> None:
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        found = threading.Event()

        def pump() -> None:
            for raw in iter(self.proc.stderr.readline, b""):
                self._err.write(raw)
                self._err.flush()
                m = LISTEN_RE.search(raw.decode("utf-8", "replace"))
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()
            found.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        threading.Thread(target=lambda: self.proc.stdout.read(), daemon=True).start()
        if not found.wait(SERVE_START_S) or self.url is None:
            self.stop()
            raise ri.ScenarioFailed(
                f"expected `mcp-sigv4 serve` to log 'mcp-sigv4 serve: listening on http://127.0.0.1:PORT/mcp' "
                f"within {SERVE_START_S:.0f} s, found none; its stderr:\n{self.stderr_tail()}")

    @property
    def command_line(self) -> str:
        return " ".join(self.argv)

    def sigterm(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.exit_code = self.proc.returncode
        self._pump.join(timeout=5)
        self._err.close()

    def stderr_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no stderr)"


@dataclass
class Ctx:
    checks: Checks
    workdir: Path
    binary: str | None
    direct: bool
    verbose: bool
    level: str
    python_v2: str
    node: str
    node_dir: Path
    inspector: Path


class Front:
    """What a scenario's clients talk to: `serve` in front of a verifying
    upstream, or (--direct) the upstream itself."""

    def __init__(self, ctx: Ctx, extra: list[str] | None = None, creds: ri.Creds | None = None, mode: str = "sse"):
        self.ctx = ctx
        self.creds = creds or ri.random_creds(token=True)
        self.up = ServeUpstream(ctx.workdir, self.creds, ctx.verbose, verify=not ctx.direct, mode=mode)
        self.serve: Serve | None = None
        self.extra = extra or []

    def __enter__(self) -> "Front":
        self.up.start()
        if not self.ctx.direct:
            env = ri.base_child_env(self.ctx.workdir)
            env.update(AWS_ACCESS_KEY_ID=self.creds.access_key, AWS_SECRET_ACCESS_KEY=self.creds.secret_key,
                       AWS_SESSION_TOKEN=self.creds.token)
            self.serve = Serve(self.ctx.workdir, self.ctx.binary, self.up.url, env, self.extra, self.ctx.level)
            try:
                self.serve.start()
            except BaseException:
                self.up.stop()
                raise
            log(f"  upstream {self.up.url}; {self.serve.command_line} -> {self.serve.url}")
        else:
            log(f"  --direct: clients talk to the upstream {self.up.url} (no verifier, no serve)")
        return self

    @property
    def url(self) -> str:
        return self.serve.url if self.serve else self.up.url

    def stop_serve(self) -> int | None:
        if self.serve is None:
            return None
        self.serve.stop()
        return self.serve.exit_code

    def finish(self, c: Checks) -> None:
        """SIGTERM to serve: it exits 0 and every upstream session it opened
        has been ended with a signed DELETE."""
        if self.serve is None:
            return
        code = self.stop_serve()
        c.equal(code, 0, "serve exited 0 after SIGTERM")
        stats = self.up.stats()
        missing = undeleted(stats)
        c.expect(not missing, "after SIGTERM every upstream session has been ended with a signed DELETE",
                 f"{len(missing)} of {len(live_sessions(stats))} not")

    def __exit__(self, *exc) -> None:
        try:
            if self.serve is not None:
                self.serve.stop()
        finally:
            self.up.stop()
        if self.ctx.checks.failed:
            if self.serve is not None:
                log("  --- serve stderr (tail) ---\n" + textwrap.indent(self.serve.stderr_tail(), "  | "))
            log("  --- upstream stderr (tail) ---\n" + textwrap.indent(self.up.stderr_tail(15), "  | "))

    # -- serve-side checks (skipped with --direct)
    def check_upstream(self, c: Checks, sessions: int, deletes: bool = True) -> dict[str, Any]:
        stats = self.up.stats()
        if self.ctx.direct:
            return stats
        c.equal(stats["rejected"], {}, "verifier: rejected no request (every request serve sent was signed right)")
        for r in stats["rejections"][:3]:
            log(f"    rejected {r['method']}: {r['error_type']}: {r['message'][:200]}")
        total = sum(stats["accepted"].values())
        c.equal(stats["token_seen"], total, "session token sent (and verified) on every request")
        unsigned = sorted({h for r in stats["requests"] for h in r["unsigned_headers"]} - ri.ALLOWED_UNSIGNED)
        c.expect(not unsigned, "every header is signed except user-agent/content-length", f"unsigned: {unsigned}")
        c.expect(len(live_sessions(stats)) >= sessions,
                 f"serve used at least {sessions} upstream sessions (one per client session)",
                 f"{len(live_sessions(stats))}")
        if deletes:
            missing = undeleted(stats)
            c.expect(not missing, "every upstream session was ended with a signed DELETE when its client ended it",
                     f"{len(missing)} of {len(live_sessions(stats))} not")
        return stats


def live_sessions(stats: dict[str, Any]) -> list[str]:
    """Upstream sessions serve really used: ids that later requests carried and
    that never met HTTP 404 (an mcp 1.x server also hands out an id on the 400
    with which it refuses a stray request; nobody uses that one, and a session
    the upstream lost needs no DELETE)."""
    lost = {r["session_id"] for r in stats["requests"] if r["status"] == 404}
    used: list[str] = []
    for r in stats["requests"]:
        sid = r["session_id"]
        if sid and sid not in lost and sid not in used and sid in stats["issued_session_ids"]:
            used.append(sid)
    return used


def undeleted(stats: dict[str, Any]) -> list[str]:
    ended = {r["session_id"] for r in stats["requests"] if r["method"] == "DELETE" and r["accepted"]}
    return [s for s in live_sessions(stats) if s not in ended]


def check_no_secret_in_serve_log(c: Checks, front: Front, stats: dict[str, Any]) -> None:
    if front.serve is None:
        return
    text = front.serve.stderr_path.read_text(errors="replace")
    secrets_ = {"secret key": front.creds.secret_key, "session token": front.creds.token}
    for i, sid in enumerate(stats.get("issued_session_ids", [])):
        secrets_[f"upstream session id {i}"] = sid
    leaked = [k for k, v in secrets_.items() if v and v in text]
    c.expect(not leaked, "serve's debug log shows no secret key, token or upstream session id", str(leaked[:3]))


# --------------------------------------------------------------------------
# the per-session battery, and its report


async def v1_session(url: str, tag: str, gate_steps: bool = True) -> dict[str, Any]:
    """One `mcp` 1.30.0 ClientSession over `streamable_http_client`: the battery
    the TypeScript and 2.x clients run too (same report shape)."""
    out: dict[str, Any] = {"tag": tag, "whoami": [], "errors": []}
    try:
        with anyio.fail_after(60):
            async with AsyncExitStack() as stack:
                read, write, get_sid = await stack.enter_async_context(streamable_http_client(url))
                notes: list[str] = []

                async def on_message(message) -> None:
                    if isinstance(message, types.ServerNotification):
                        notes.append(message.root.method)
                    elif isinstance(message, Exception):
                        out["errors"].append(f"transport: {type(message).__name__}: {message}")
                    await anyio.lowlevel.checkpoint()

                out["notifications"] = notes
                session = await stack.enter_async_context(ClientSession(read, write,
                                                                        read_timeout_seconds=ri.REQUEST_TIMEOUT,
                                                                        message_handler=on_message))
                init = await session.initialize()
                out["protocol"] = init.protocolVersion
                out["client_session"] = get_sid()
                out["tools"] = [t.name for t in (await session.list_tools()).tools]
                who: list = []

                async def whoami() -> None:
                    who.append(json.loads(ri.text_of(await session.call_tool("whoami", {"tag": tag}))))

                async with anyio.create_task_group() as tg:
                    for _ in range(3):
                        tg.start_soon(whoami)
                out["whoami"] = who
                out["echo"] = ri.text_of(await session.call_tool("echo", {"text": f"echo {tag} ✓"}))
                if gate_steps:
                    out.update(await gated(session, f"gate-{tag}"))
        out["terminated"] = True
    except BaseException as e:  # noqa: BLE001 - reported
        out["errors"].extend(f"{type(x).__name__}: {x}" for x in ri.leaf_errors(e))
    return out


async def gated(session: ClientSession, gate: str) -> dict[str, Any]:
    """gated_progress(gate): ack only once the progress notification arrived."""
    seen = anyio.Event()
    times: dict[str, float] = {}

    async def on_progress(progress, total, message) -> None:
        times.setdefault("progress", time.monotonic())
        seen.set()

    async def acker() -> None:
        with anyio.move_on_after(GATE_WAIT_S):
            await seen.wait()
            await session.call_tool("ack", {"gate": gate})

    async with anyio.create_task_group() as tg:
        tg.start_soon(acker)
        result = await session.call_tool("gated_progress", {"gate": gate}, progress_callback=on_progress)
        times["result"] = time.monotonic()
    return {"gate": ri.text_of(result),
            "progress_before_result": "progress" in times and times["progress"] <= times["result"]}


def check_report(c: Checks, report: dict[str, Any], expected: int, label: str, gate: bool = True) -> list[str]:
    """Each session got only its own answers; returns the upstream session ids
    the sessions' whoami calls saw (one per session, all different)."""
    sessions = report.get("sessions", [])
    c.equal(len(sessions), expected, f"{label}: {expected} sessions reported")
    errors = [(s["tag"], s["errors"]) for s in sessions if s.get("errors")]
    c.expect(not errors, f"{label}: no session failed", short(errors[:3], 400))
    upstream_sids: list[str] = []
    wrong: list[str] = []
    for s in sessions:
        tag = s["tag"]
        if not SERVE_TOOLS <= set(s.get("tools") or []):
            wrong.append(f"{tag}: tools/list lacks {sorted(SERVE_TOOLS - set(s.get('tools') or []))}")
        who = s.get("whoami") or []
        if len(who) != 3 or any(w.get("tag") != tag for w in who):
            wrong.append(f"{tag}: whoami answers {short(who)}")
        sids = {w.get("session") for w in who}
        if len(sids) != 1 or None in sids:
            wrong.append(f"{tag}: its calls arrived in upstream sessions {sids}")
        else:
            upstream_sids.append(sids.pop())
        if s.get("echo") != f"echo {tag} ✓":
            wrong.append(f"{tag}: echo answered {short(s.get('echo'))}")
        if gate and s.get("gate") != f"acked gate-{tag}":
            wrong.append(f"{tag}: gated_progress answered {short(s.get('gate'))} (progress not seen before the result)")
        if gate and not s.get("progress_before_result"):
            wrong.append(f"{tag}: the progress notification did not arrive before the result")
        if "notifications" in s and s["notifications"].count("notifications/progress") != (1 if gate else 0):
            wrong.append(f"{tag}: notifications received {s['notifications']} (expected its one progress)")
    c.expect(not wrong, f"{label}: every session got its own answers (whoami x3, echo"
             + (", progress before result" if gate else "") + ")", short(wrong[:4], 600))
    c.equal(len(set(upstream_sids)), len(upstream_sids),
            f"{label}: each client session was relayed in an upstream session of its own")
    c.note(f"{label}: protocol(s) {sorted({str(s.get('protocol')) for s in sessions})}")
    return upstream_sids


# --------------------------------------------------------------------------
# scenarios


@dataclass
class Scenario:
    name: str
    about: str
    run: Callable[[Ctx], Awaitable[None]]
    background: bool = False  # started first, runs alongside the others
    default: bool = True  # False: opt-in (a serve defect not fixed yet), runs only when named


async def sc_py_v1_sessions(ctx: Ctx) -> None:
    c = ctx.checks
    with Front(ctx) as front:
        step(f"{CONCURRENT_SESSIONS} mcp 1.30.0 sessions at once")
        reports = []

        async def one(i: int) -> None:
            reports.append(await v1_session(front.url, f"v1-{i}"))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for i in range(CONCURRENT_SESSIONS):
                tg.start_soon(one, i)
        c.note(f"{CONCURRENT_SESSIONS} sessions in {time.monotonic() - started:.1f} s")
        check_report(c, {"sessions": reports}, CONCURRENT_SESSIONS, "mcp 1.30.0")
        stats = await settle(front, CONCURRENT_SESSIONS)
        front.check_upstream(c, CONCURRENT_SESSIONS)
        if not ctx.direct:
            progress = [e for e in stats.get("events", []) if e["event"] == "progress-sent"]
            c.equal(len(progress), CONCURRENT_SESSIONS, "the upstream sent one progress per session")
        check_no_secret_in_serve_log(c, front, stats)
        front.finish(c)


def sc_py_v1_mode(mode: str, gate: bool):
    async def run(ctx: Ctx) -> None:
        c = ctx.checks
        n = 4
        with Front(ctx, mode=mode) as front:
            step(f"{n} mcp 1.30.0 sessions at once; the upstream answers {mode}")
            reports = []

            async def one(i: int) -> None:
                reports.append(await v1_session(front.url, f"{mode}-{i}", gate_steps=gate))

            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(one, i)
            check_report(c, {"sessions": reports}, n, f"mcp 1.30.0, upstream {mode}", gate=gate)
            stats = await settle(front, n)
            front.check_upstream(c, n)
            check_no_secret_in_serve_log(c, front, stats)
            front.finish(c)
    return run


async def settle(front: Front, sessions: int, timeout: float = 5.0) -> dict[str, Any]:
    """The upstream's stats once every issued session has its DELETE (or timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = front.up.stats()
        if front.ctx.direct:
            return stats  # no verifier: nothing recorded
        if (len(live_sessions(stats)) >= sessions and not undeleted(stats)) or time.monotonic() > deadline:
            return stats
        await anyio.sleep(0.05)


def run_json(argv: list[str], cwd: Path | None, label: str, ctx: Ctx, timeout: float = 90) -> dict[str, Any]:
    log(f"  $ {' '.join(argv)}")
    try:
        done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    except subprocess.TimeoutExpired:
        raise ri.ScenarioFailed(f"{label}: did not finish within {timeout:.0f} s")
    (ctx.workdir / f"{label}.stdout").write_bytes(done.stdout)
    (ctx.workdir / f"{label}.stderr").write_bytes(done.stderr)
    if done.returncode != 0:
        raise ri.ScenarioFailed(f"{label}: exit status {done.returncode}; stderr tail:\n"
                                + "\n".join(done.stderr.decode(errors="replace").splitlines()[-15:]))
    try:
        return json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ri.ScenarioFailed(f"{label}: printed no JSON report: {short(done.stdout[-300:])}")


async def sc_py_v2_sessions(ctx: Ctx) -> None:
    c = ctx.checks
    if not Path(ctx.python_v2).is_file():
        raise ri.ScenarioFailed(f"expected the mcp 2.x environment's python at {ctx.python_v2}, found none\n"
                                "hint: cargo test --test serve_clients builds it")
    n = 4
    with Front(ctx) as front:
        step(f"{n} mcp 2.3.0 Client sessions at once (mode auto)")
        report = await anyio.to_thread.run_sync(lambda: run_json(
            [ctx.python_v2, str(HERE / "serve_client_v2.py"), front.url, str(n), "v2"], None, "client-v2", ctx))
        check_report(c, report, n, "mcp 2.3.0")
        stats = await settle(front, n)
        front.check_upstream(c, n)
        check_no_secret_in_serve_log(c, front, stats)
        front.finish(c)


async def sc_py_v2_modern(ctx: Ctx) -> None:
    """mcp 2.3.0 clients and the dual-era pair_server_v2.py upstream: 2026-07-28
    through serve. Every where() call reaches the upstream with its
    Mcp-Param-Region header the first time: serve's messages without a session
    share what a tools/list through serve learnt."""
    c = ctx.checks
    if ctx.direct:
        c.note("--direct: pair_server_v2.py only serves behind the verifier")
        return
    if not Path(ctx.python_v2).is_file():
        raise ri.ScenarioFailed(f"expected the mcp 2.x environment's python at {ctx.python_v2}, found none")
    n = 4
    creds = ri.random_creds(token=True)
    up = ri.Upstream(ctx.workdir, creds, "sse", ctx.verbose, python=ctx.python_v2, script=HERE / "pair_server_v2.py")
    up.start()
    serve = None
    try:
        env = ri.base_child_env(ctx.workdir)
        env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
                   AWS_SESSION_TOKEN=creds.token)
        serve = Serve(ctx.workdir, ctx.binary, up.url, env, [], ctx.level)
        serve.start()
        log(f"  upstream {up.url} (mcp 2.3.0, dual era); {serve.command_line} -> {serve.url}")
        step(f"{n} mcp 2.3.0 Client sessions at once, settling on 2026-07-28")
        report = await anyio.to_thread.run_sync(lambda: run_json(
            [ctx.python_v2, str(HERE / "serve_client_v2.py"), serve.url, str(n), "modern", "modern"], None,
            "client-v2-modern", ctx))
        sessions = report.get("sessions", [])
        c.equal(len(sessions), n, f"{n} sessions reported")
        errors = [(s["tag"], s["errors"]) for s in sessions if s.get("errors")]
        c.expect(not errors, "no session failed", short(errors[:3], 400))
        wrong = [(s["tag"], k, s.get(k), v) for s in sessions for k, v in s.get("expected", {}).items()
                 if s.get(k) != v]
        c.expect(not wrong, "every session: 2026-07-28, add/echo its own, where() via Mcp-Param-Region, "
                 "4 progress notifications in order, the input_required form round trip", short(wrong[:3], 600))
        serve.stop()
        c.equal(serve.exit_code, 0, "serve exited 0 after SIGTERM")
        stats = up.stats()
        c.equal(stats["rejected"], {}, "verifier: rejected no request")
        posts = [r for r in stats["requests"] if r["method"] == "POST"]
        c.expect(bool(posts) and all(r["protocol_version"] == P_MODERN and r["mcp_method"] for r in posts
                                     if r["jsonrpc_method"] != "server/discover"),
                 f"every POST carries MCP-Protocol-Version {P_MODERN} and Mcp-Method",
                 short({(r["protocol_version"], r["mcp_method"]) for r in posts}))
        refused = [(r["mcp_method"], r["mcp_name"], r["status"]) for r in posts
                   if r["status"] and r["status"] >= 400 and r["jsonrpc_method"] != "server/discover"]
        wheres = [r for r in posts if r["mcp_name"] == "where"]
        with_header = [r for r in wheres if r["mcp_params"] and "mcp-param-region" in r["signed_headers"]]
        c.equal(len(with_header), n, "each where() call reached the upstream (in the end) with its "
                "Mcp-Param-Region header, signed")
        bare = [r for r in wheres if r not in with_header]
        c.expect(not refused, "the upstream refused no request serve relayed", short(refused))
        c.expect(not bare, "no where() call reached the upstream without its Mcp-Param-Region header "
                 "(the client had listed the tools through serve)", f"{len(bare)} did")
        unsigned = sorted({h for r in stats["requests"] for h in r["unsigned_headers"]} - ri.ALLOWED_UNSIGNED)
        c.expect(not unsigned, "every header is signed except user-agent/content-length", f"unsigned: {unsigned}")
    finally:
        if serve is not None:
            serve.stop()
            if c.failed:
                log("  --- serve stderr (tail) ---\n" + textwrap.indent(serve.stderr_tail(), "  | "))
        up.stop()


async def sc_ts_sessions(ctx: Ctx) -> None:
    c = ctx.checks
    n = 4
    with Front(ctx) as front:
        step(f"{n} TypeScript SDK StreamableHTTPClientTransport sessions at once")
        report = await anyio.to_thread.run_sync(lambda: run_json(
            [ctx.node, str(ctx.node_dir / "serve_client.mjs"), front.url, str(n), "ts"], ctx.node_dir,
            "client-ts", ctx))
        check_report(c, report, n, "TypeScript SDK")
        c.expect(all(s.get("terminated") for s in report.get("sessions", [])),
                 "TypeScript SDK: every session ended with terminateSession (DELETE) without error")
        stats = await settle(front, n)
        front.check_upstream(c, n)
        check_no_secret_in_serve_log(c, front, stats)
        front.finish(c)


async def sc_inspector_http(ctx: Ctx) -> None:
    c = ctx.checks
    installed = ctx.inspector / "node_modules" / INSPECTOR_PACKAGE / "package.json"
    if not installed.is_file():
        raise ri.ScenarioFailed(f"expected {INSPECTOR_PACKAGE} under {ctx.inspector / 'node_modules'}\n"
                                f"hint: (cd {ctx.inspector} && npm ci)")
    sample = "héllo wörld — 日本語 🚀 \"quoted\" \\ back"
    token = "tok-" + os.urandom(16).hex()
    token_file = ctx.workdir / "token"
    token_file.write_text(token + "\n")
    with Front(ctx, extra=["--token-file", str(token_file)]) as front:
        auth = [] if ctx.direct else ["--header", f"Authorization: Bearer {token}"]
        runs = [
            ("tools-list", ["--method", "tools/list"]),
            ("call-echo", ["--method", "tools/call", "--tool-name", "echo", "--tool-arg", f"text={sample}"]),
            ("call-whoami", ["--method", "tools/call", "--tool-name", "whoami", "--tool-arg", "tag=inspector"]),
        ]
        results = {}
        for label, method in runs:
            argv = ["npx", "--no-install", INSPECTOR_PACKAGE, "--cli", front.url, "--transport", "http", *auth, *method]
            results[label] = await anyio.to_thread.run_sync(
                lambda: run_inspector(argv, ctx.inspector, label, ctx))
        tools = {t.get("name") for t in results["tools-list"].get("tools", [])}
        c.expect(SERVE_TOOLS <= tools, "Inspector tools/list: every upstream tool", f"missing {SERVE_TOOLS - tools}")
        c.equal([x.get("text") for x in results["call-echo"].get("content", [])], [sample],
                "Inspector tools/call echo: non-ASCII, quotes and backslash round trip")
        who = json.loads(results["call-whoami"].get("content", [{}])[0].get("text", "{}"))
        c.equal(who.get("tag"), "inspector", "Inspector tools/call whoami: its own answer")
        stats = await settle(front, len(runs))
        front.check_upstream(c, len(runs), deletes=False)
        if not ctx.direct:
            inits = [r for r in stats["requests"] if r["jsonrpc_method"] == "initialize"]
            c.equal(len(inits), len(runs), "one upstream initialize per Inspector run")
            text = front.serve.stderr_path.read_text(errors="replace")
            c.expect(token not in text, "serve's debug log does not show the bearer token")
        check_no_secret_in_serve_log(c, front, stats)
        front.finish(c)


def run_inspector(argv: list[str], cwd: Path, label: str, ctx: Ctx) -> dict[str, Any]:
    log("  $ " + re.sub(r"Bearer \S+", "Bearer …", " ".join(argv)))
    try:
        done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=90,
                              env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    except subprocess.TimeoutExpired:
        raise ri.ScenarioFailed(f"{label}: the Inspector did not finish within 90 s")
    (ctx.workdir / f"{label}.stdout").write_bytes(done.stdout)
    (ctx.workdir / f"{label}.stderr").write_bytes(done.stderr)
    ctx.checks.equal(done.returncode, 0, f"{label}: Inspector exit status")
    try:
        parsed = json.loads(done.stdout)
    except ValueError:
        raise ri.ScenarioFailed(f"{label}: the Inspector printed no JSON: {short(done.stdout[-300:])}; stderr: "
                                + short(done.stderr[-300:]))
    return parsed if isinstance(parsed, dict) else {}


async def wait_event(front: Front, kind: str, timeout: float = 20.0, **match) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in front.up.events():
            if e["event"] == kind and all(e.get(k) == v for k, v in match.items()):
                return e
        await anyio.sleep(0.05)
    return None


async def sc_delete_midcall(ctx: Ctx) -> None:
    """A client ends its session (DELETE) while hold(20 s) is in flight: the
    upstream sees notifications/cancelled for that call, then the DELETE."""
    c = ctx.checks
    with Front(ctx) as front:
        async with AsyncExitStack() as stack:
            read, write, get_sid = await stack.enter_async_context(streamable_http_client(front.url))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            step("hold(20 s) in flight, then the client ends its session (mcp 1.30.0: DELETE on close)")
            async with anyio.create_task_group() as tg:
                tg.start_soon(session.call_tool, "hold", {"tag": "abandoned", "seconds": 20})
                started = await wait_event(front, "hold-start", tag="abandoned")
                c.require(started is not None, "the upstream started the call")
                tg.cancel_scope.cancel()  # mcp 1.30.0 sends no notifications/cancelled of its own
        closed = time.monotonic()
        cancelled = await wait_event(front, "hold-cancelled", timeout=10, tag="abandoned")
        if ctx.direct:
            c.note("--direct: the FastMCP server itself ends the handler when the session is deleted"
                   if cancelled else "--direct: the call was not cancelled by the DELETE")
            return
        c.expect(cancelled is not None, "the upstream call was cancelled", "no hold-cancelled within 10 s")
        c.expect(time.monotonic() - closed < 15, "and well before the call's own 20 s")
        stats = await settle(front, 1)
        reqs = stats["requests"]
        sid = stats["issued_session_ids"][0] if stats["issued_session_ids"] else None
        call = next((r for r in reqs if r["jsonrpc_method"] == "tools/call"), None)
        order = [(r["method"], r["jsonrpc_method"], r.get("cancel_request_id")) for r in reqs
                 if r["session_id"] == sid and (r["method"] == "DELETE" or r["jsonrpc_method"] == "notifications/cancelled")]
        c.expect(len(order) == 2 and order[0][1] == "notifications/cancelled" and order[1][0] == "DELETE",
                 "the upstream saw notifications/cancelled, then DELETE, in that session", short(order))
        if call is not None and order and order[0][1] == "notifications/cancelled":
            c.equal(order[0][2], call.get("jsonrpc_id"), "the cancellation names the call's upstream request id")
        front.check_upstream(c, 1)
        front.finish(c)


async def sc_session_loss(ctx: Ctx) -> None:
    """Two sessions; the upstream drops A's session (404 from then on): serve
    re-initializes A's upstream session and retries; B never notices."""
    c = ctx.checks
    with Front(ctx) as front:
        async with AsyncExitStack() as stack:
            sessions = {}
            for name in ("A", "B"):
                read, write, _ = await stack.enter_async_context(streamable_http_client(front.url))
                s = await stack.enter_async_context(ClientSession(read, write, read_timeout_seconds=ri.REQUEST_TIMEOUT))
                await s.initialize()
                sessions[name] = s

            async def who(name: str) -> str | None:
                return json.loads(ri.text_of(await sessions[name].call_tool("whoami", {"tag": name})))["session"]

            a0, b0 = await who("A"), await who("B")
            step("the upstream ends A's session")
            c.equal(ri.text_of(await sessions["A"].call_tool("expire_session", {})), "expiring", "expire_session")
            await anyio.sleep(1.0)
            if ctx.direct:
                c.note("--direct: the SDK client itself meets the 404 (serve is what recovers it)")
                return
            step("A and B call again")
            c.equal(ri.text_of(await sessions["A"].call_tool("echo", {"text": "after"})), "after",
                    "A: echo after the upstream lost its session")
            a1, b1 = await who("A"), await who("B")
            c.expect(a1 is not None and a1 != a0, "A continues in a new upstream session")
            c.equal(b1, b0, "B stays in its own upstream session, untouched")
            c.equal(ri.text_of(await sessions["B"].call_tool("add", {"a": 2, "b": 3})), "5", "B: add")
        stats = await settle(front, 2)  # A's new session and B's; A's first one is lost
        requests = stats["requests"]
        lost = [(r["method"], r["jsonrpc_method"]) for r in requests if r["status"] == 404]
        c.expect(bool(lost) and all(r["session_id"] == a0 for r in requests if r["status"] == 404),
                 "only requests in A's lost upstream session met HTTP 404", short(lost))
        inits = [r for r in requests if r["jsonrpc_method"] == "initialize"]
        c.equal(len(inits), 3, "three upstream initializes: A, B, and A's again")
        c.equal(len(stats["issued_session_ids"]), 3, "three upstream session ids")
        deletes = [r["session_id"] for r in requests if r["method"] == "DELETE"]
        c.equal(sorted(d for d in deletes if d in (a1, b0)), sorted([a1, b0]),
                "A's new session and B's session each ended with a DELETE")
        c.equal(stats["rejected"], {}, "verifier: rejected no request")
        front.finish(c)


async def sc_sigterm_drain(ctx: Ctx) -> None:
    """SIGTERM while hold(2 s) is in flight: the call completes, serve DELETEs
    the upstream session and exits 0."""
    c = ctx.checks
    if ctx.direct:
        c.note("--direct: nothing to send SIGTERM to")
        return
    with Front(ctx) as front:
        result: dict[str, Any] = {}
        async with AsyncExitStack() as stack:
            read, write, _ = await stack.enter_async_context(streamable_http_client(front.url,
                                                                                   terminate_on_close=False))
            s = await stack.enter_async_context(ClientSession(read, write, read_timeout_seconds=ri.REQUEST_TIMEOUT))
            await s.initialize()
            # mcp 1.30.0 lists the tools after a call whose output schema it has not seen; not after SIGTERM
            await s.list_tools()

            async def call() -> None:
                try:
                    result["text"] = ri.text_of(await s.call_tool("hold", {"tag": "draining", "seconds": 2}))
                except Exception as e:  # noqa: BLE001
                    result["error"] = f"{type(e).__name__}: {e}"

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                c.require(await wait_event(front, "hold-start", tag="draining") is not None, "the call started")
                step("SIGTERM to serve while the call is in flight")
                front.serve.sigterm()
        c.equal(result.get("text"), "held draining", "the call in flight completed", )
        code = await anyio.to_thread.run_sync(lambda: front.serve.wait(20))
        c.equal(code, 0, "serve exited 0 after SIGTERM (within 20 s)")
        stats = await settle(front, 1, timeout=2)
        sid = stats["issued_session_ids"][0] if stats["issued_session_ids"] else None
        deletes = [r for r in stats["requests"] if r["method"] == "DELETE"]
        c.expect(bool(sid) and [r["session_id"] for r in deletes] == [sid] and deletes[0]["accepted"],
                 "serve sent one signed DELETE for the upstream session", short(deletes))
        done = [e for e in stats.get("events", []) if e["event"] == "hold-done"]
        if deletes and done:
            c.expect(done[0]["t"] <= deletes[0].get("started", 0) + 0.5,
                     "the DELETE came after the call completed (the call was drained, not cut)")


async def sc_rotation(ctx: Ctx) -> None:
    """70 s through serve while credential_process keys expire 61 s after issue:
    one session, a call a second (every fifth tick three at once)."""
    c = ctx.checks
    if ctx.direct:
        c.note("--direct: rotation is about serve's signing")
        return
    up = sc.KeyringUpstream(ctx.workdir, "sse", ctx.verbose)
    up.start()
    serve = None
    try:
        env = ri.base_child_env(ctx.workdir)
        env["AWS_CONFIG_FILE"] = str(sc.process_profile(ctx, up, ROTATION_KEY_LIFETIME_S))
        serve = Serve(ctx.workdir, ctx.binary, up.url, env, ["--profile", "rotating"], ctx.level)
        serve.start()
        log(f"  keyring upstream {up.url}; {serve.command_line} -> {serve.url}")
        made = answered = 0
        wrong: list[str] = []
        with anyio.fail_after(ROTATION_S + 40):
            async with AsyncExitStack() as stack:
                read, write, _ = await stack.enter_async_context(streamable_http_client(serve.url))
                s = await stack.enter_async_context(ClientSession(read, write,
                                                                  read_timeout_seconds=ri.REQUEST_TIMEOUT))
                await s.initialize()
                t0 = time.monotonic()
                tick = 0
                while time.monotonic() - t0 < ROTATION_S:
                    n = 3 if tick % 5 == 4 else 1
                    args = [{"a": tick * 10 + k, "b": 1000} for k in range(n)]
                    made += n
                    results = []

                    async def one(a: dict) -> None:
                        results.append((a, await s.call_tool("add", a)))

                    async with anyio.create_task_group() as tg:
                        for a in args:
                            tg.start_soon(one, a)
                    for a, res in results:
                        if not res.isError and ri.text_of(res) == str(a["a"] + a["b"]):
                            answered += 1
                        else:
                            wrong.append(f"add({a['a']}, 1000) -> {short(ri.text_of(res))}")
                    tick += 1
                    await anyio.sleep(max(0.0, t0 + tick - time.monotonic()))
        c.expect(not wrong, "every call got its own correct answer", short(wrong[:5]))
        c.equal(answered, made, "no call lost")
        c.note(f"{made} calls in {ROTATION_S:.0f} s")
        await anyio.sleep(0.5)
        stats = json.loads(up.stats_path.read_text())
        requests = sc.check_all_accepted(c, stats)
        issued = {k["access_key"] for k in up.issued()}
        used = sc.key_changes(requests)
        c.expect(len(set(used)) >= 3, "serve signed with at least 3 successive keys", f"{len(set(used))}")
        c.expect(set(used) <= issued, "only keys the credential process issued")
        serve.stop()
        c.equal(serve.exit_code, 0, "serve exited 0 on SIGTERM")
        secrets_ = {f"secret {i}": k["secret_key"] for i, k in enumerate(up.issued())}
        text = serve.stderr_path.read_text(errors="replace")
        c.expect(not [k for k, v in secrets_.items() if v and v in text], "serve's debug log shows no secret")
    finally:
        if serve is not None:
            serve.stop()
            if c.failed:
                log("  --- serve stderr (tail) ---\n" + textwrap.indent(serve.stderr_tail(), "  | "))
        up.stop()


SCENARIOS = [
    Scenario("serve-rotation", f"{ROTATION_S:.0f} s of calls through serve while credential_process keys "
             f"expire {ROTATION_KEY_LIFETIME_S} s after issue (runs alongside the others)", sc_rotation,
             background=True),
    Scenario("serve-py-v1", f"{CONCURRENT_SESSIONS} mcp 1.30.0 streamable_http_client sessions at once: own answers, "
             "own upstream sessions, progress before result, a DELETE each", sc_py_v1_sessions),
    Scenario("serve-py-v1-json", "4 mcp 1.30.0 sessions; the upstream answers every POST with JSON "
             "(json_response; no progress then)", sc_py_v1_mode("json", gate=False)),
    Scenario("serve-py-v1-resumable", "4 mcp 1.30.0 sessions; the upstream's SSE streams open with priming events "
             "(event store); progress before result", sc_py_v1_mode("sse-resumable", gate=True)),
    Scenario("serve-py-v2", "4 mcp 2.3.0 Client (auto) sessions at once: the same battery", sc_py_v2_sessions),
    Scenario("serve-py-v2-modern", "4 mcp 2.3.0 Client sessions against the dual-era mcp 2.3.0 upstream: "
             "2026-07-28 through serve (routing headers, Mcp-Param-*, progress, input_required)", sc_py_v2_modern),
    Scenario("serve-ts-sdk", "4 TypeScript SDK StreamableHTTPClientTransport sessions at once: the same battery, "
             "terminateSession", sc_ts_sessions),
    Scenario("serve-inspector-http", "MCP Inspector CLI, --transport http: tools/list, tools/call echo and whoami",
             sc_inspector_http),
    Scenario("serve-delete-midcall", "a client ends its session mid-call: the upstream sees notifications/cancelled, "
             "then DELETE", sc_delete_midcall),
    Scenario("serve-session-loss", "the upstream drops one of two sessions: serve recovers that one alone",
             sc_session_loss),
    Scenario("serve-sigterm-drain", "SIGTERM with a call in flight: the call completes, DELETE, exit 0",
             sc_sigterm_drain),
]


async def run_one(sc_: Scenario, root: Path, args, node: str) -> Checks:
    c = Checks(sc_.name)
    workdir = root / sc_.name
    workdir.mkdir()
    ctx = Ctx(c, workdir, args.binary, args.direct, args.verbose, args.serve_log_level, args.python_v2, node,
              Path(args.node_dir), Path(args.inspector))
    started = time.monotonic()
    log(f"== {sc_.name}: {sc_.about}")
    try:
        with anyio.fail_after(SCENARIO_BOUND_S + (ROTATION_S if sc_.background else 0)):
            await sc_.run(ctx)
    except ri.ScenarioFailed as e:
        if not c.failed:
            c.failed.append(f"stopped: {e}")
        else:
            log(f"  stopped: {e}")
    except Exception as e:  # noqa: BLE001
        for leaf in ri.leaf_errors(e):
            c.failed.append(f"unexpected {type(leaf).__name__}: {leaf}")
        traceback.print_exc(file=sys.stdout)
    log(f"   {'PASS' if not c.failed else 'FAIL'} {sc_.name}: {len(c.passed)} checks passed, {len(c.failed)} failed "
        f"({time.monotonic() - started:.1f} s)")
    return c


async def run_all(selected: list[Scenario], args) -> int:
    root = Path(tempfile.mkdtemp(prefix="mcp-sigv4-serve-clients-"))
    node = args.node or shutil.which("node") or "node"
    results: dict[str, Checks] = {}

    async def run(sc_: Scenario) -> None:
        results[sc_.name] = await run_one(sc_, root, args, node)

    async with anyio.create_task_group() as tg:
        for sc_ in selected:
            if sc_.background:
                tg.start_soon(run, sc_)
        for sc_ in selected:
            if not sc_.background:
                await run(sc_)

    log("\n== summary" + (" (--direct: clients against the upstream, no serve)" if args.direct else ""))
    for sc_ in selected:
        c = results[sc_.name]
        log(f"   {'PASS' if not c.failed else 'FAIL'} {c.name:24} {len(c.passed):3} checks")
        for f in c.failed:
            log(f"        - {f}")
    n_fail = sum(1 for c in results.values() if c.failed)
    log(f"serve-clients: {len(results) - n_fail} passed, {n_fail} failed")
    if args.keep or n_fail:
        log(f"(work files kept in {root})")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if n_fail == 0 else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", help="the mcp-sigv4 binary (runs `serve`)")
    p.add_argument("--direct", action="store_true", help="clients talk to the upstream itself (no serve)")
    p.add_argument("--scenario", action="append", default=[], help="run only this scenario (repeatable)")
    p.add_argument("--list", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep work files even on success")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--serve-log-level", default="debug")
    p.add_argument("--python-v2", default=str(REPO / "target" / "interop-venv-v2" / "bin" / "python"))
    p.add_argument("--node", help="node binary for the TypeScript client (default: node on PATH)")
    p.add_argument("--node-dir", default=str(HERE / "serve-node"), help="holds serve_client.mjs and node_modules")
    p.add_argument("--inspector", default=str(HERE / "inspector"), help="the Inspector's npm directory")
    args = p.parse_args()
    if args.list:
        for s in SCENARIOS:
            log(f"{s.name:24} {s.about}")
        return 0
    unknown = set(args.scenario) - {s.name for s in SCENARIOS}
    if unknown:
        print(f"unknown scenario(s) {sorted(unknown)}; see --list", file=sys.stderr)
        return 2
    selected = [s for s in SCENARIOS if s.name in args.scenario or (not args.scenario and s.default)]
    if not args.direct:
        if not args.binary or not os.access(args.binary, os.X_OK):
            print("expected --binary PATH to an executable mcp-sigv4 (or --direct)", file=sys.stderr)
            return 2
        args.binary = os.path.abspath(args.binary)
    return anyio.run(run_all, selected, args)


if __name__ == "__main__":
    sys.exit(main())
