"""Interop suite driver: the official MCP Python SDK client talks to the
official MCP Python SDK server through mcp-sigv4, and botocore checks every
signature on the way.

    python run_interop.py --binary target/debug/mcp-sigv4 [--scenario NAME ...]
    python run_interop.py --selftest-only          # verifier self-tests, no binary needed
    python run_interop.py --list

Each scenario starts its own upstream (upstream.py: FastMCP over Streamable
HTTP behind verifier.py) on 127.0.0.1 with a free port, launches the binary
with the SDK's stdio client, runs its steps with real assertions, closes the
session, and then checks what the verifier recorded. Every wait is bounded.
Exit status: 0 if every scenario passed, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
import urllib.error
import urllib.request
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable
from unittest import mock

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

try:
    import anyio
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from mcp import ClientSession, StdioServerParameters, types
    from mcp.client.stdio import stdio_client
    from mcp.shared.exceptions import McpError
    from pydantic import AnyUrl, FileUrl
except ImportError as e:
    sys.exit(f"expected the packages of {HERE / 'requirements.txt'} to be importable, found: {e}\n"
             "hint: python3 -m venv target/interop-venv && "
             "target/interop-venv/bin/pip install -r tests/interop/requirements.txt, then run with that python")

from fixtures import ONE_MIB, UNICODE_SAMPLE, big_text, large_request_text  # noqa: E402
from verifier import Expectation, verify  # noqa: E402
from pairing import LEGACY_VERSION, MODERN_VERSION, PARAM_HEADER, PARAM_VALUES  # noqa: E402

PROTOCOL_VERSION = "2025-11-25"  # what mcp==1.30.0 speaks on both sides
SERVICE = "bedrock-agentcore"
REGION = "eu-central-1"
EXPECTED_TOOLS = {"add", "echo", "progress", "big_result", "unicode_text", "sleep", "roots_probe"}
# Headers mcp-sigv4 leaves unsigned on purpose (`src/manual/signing.md`, "What is signed"), plus hop-by-hop
# headers that no SigV4 signer signs.
ALLOWED_UNSIGNED = {"user-agent", "content-length", "connection", "transfer-encoding", "te", "keep-alive"}
SCENARIO_TIMEOUT_S = 150
REQUEST_TIMEOUT = dt.timedelta(seconds=45)
CONCURRENT_CALLS = 10
SLEEP_S = 1.0


# --------------------------------------------------------------------------
# checks


class ScenarioFailed(Exception):
    pass


@dataclass
class Checks:
    name: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def expect(self, cond: bool, what: str, detail: str = "") -> bool:
        if cond:
            self.passed.append(what)
        else:
            self.failed.append(what + (f": {detail}" if detail else ""))
            log(f"  FAIL {what}" + (f": {detail}" if detail else ""))
        return cond

    def require(self, cond: bool, what: str, detail: str = "") -> None:
        if not self.expect(cond, what, detail):
            raise ScenarioFailed(what)

    def equal(self, actual: Any, expected: Any, what: str) -> bool:
        return self.expect(actual == expected, what, f"expected {short(expected)}, found {short(actual)}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        log(f"  note: {text}")


def short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (possibly nested) exception groups, which anyio
    task groups wrap errors in."""
    inner = getattr(exc, "exceptions", None)
    if inner is None:
        return [exc]
    return [leaf for e in inner for leaf in leaf_errors(e)]


def describe_failure(c: "Checks", exc: BaseException, timeout_s: int) -> None:
    """Turn an exception escaping a scenario body into failed checks."""
    for leaf in leaf_errors(exc):
        if isinstance(leaf, McpError):
            c.expect(False, "no unexpected JSON-RPC error", f"McpError({leaf.error.code}): {leaf.error.message}")
        elif isinstance(leaf, TimeoutError):
            c.expect(False, f"scenario finished within {timeout_s} s")
        elif isinstance(leaf, ScenarioFailed):
            pass  # already recorded
        else:
            c.expect(False, "no unexpected exception", f"{type(leaf).__name__}: {leaf}")
            traceback.print_exception(type(leaf), leaf, leaf.__traceback__, file=sys.stdout)


def step(name: str) -> None:
    log(f"  - {name}")


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------
# credentials


@dataclass(frozen=True)
class Creds:
    access_key: str
    secret_key: str
    token: str | None


def random_creds(token: bool) -> Creds:
    alphabet = string.ascii_uppercase + "234567"
    akid = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    # Real secrets are 40 base64 characters; make sure '/' and '+' occur.
    secret = base64.b64encode(secrets.token_bytes(27)).decode()[:36] + "/+Zz"
    # STS-like token: long, with '+', '/' and '=' padding.
    tok = base64.b64encode(b"\xfb\xff" + secrets.token_bytes(400)).decode() if token else None
    return Creds(akid, secret, tok)


# --------------------------------------------------------------------------
# upstream process


class Upstream:
    """One upstream.py process with its own expectation and stats file. `python`
    and `script` run another server with the same contract instead (the pairing
    servers, possibly from the mcp 2.x environment)."""

    def __init__(self, workdir: Path, creds: Creds, mode: str, verbose: bool,
                 python: str | None = None, script: Path | None = None):
        self.workdir = workdir
        self.python = python or sys.executable
        self.script = script or HERE / "upstream.py"
        self.stats_path = workdir / "verifier-stats.json"
        self.stderr_path = workdir / "upstream.stderr"
        cfg = {
            "access_key": creds.access_key,
            "secret_key": creds.secret_key,
            "token": creds.token,
            "region": REGION,
            "service": SERVICE,
            "mode": mode,
            "stats_file": str(self.stats_path),
            "verbose": verbose,
            "max_lifetime_s": 600,
        }
        self.cfg_path = workdir / "upstream.json"
        self.cfg_path.write_text(json.dumps(cfg))
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [self.python, str(self.script), str(self.cfg_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("READY "):
            self.stop()
            raise ScenarioFailed(
                f"upstream did not report READY within {timeout:.0f} s; its stderr:\n{self.stderr_tail()}"
            )
        self.port = int(line[0].split()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def stats(self) -> dict[str, Any]:
        return json.loads(self.stats_path.read_text())

    def stderr_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no stderr)"

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        finally:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except Exception:
                    pass
            self._stderr.close()
            self.proc = None


# --------------------------------------------------------------------------
# scenarios


@dataclass
class Scenario:
    name: str
    about: str
    run: Callable[["Ctx"], Awaitable[None]]
    needs_binary: bool = True
    default: bool = True  # False: opt-in, runs only when named with --scenario


@dataclass
class Ctx:
    checks: Checks
    workdir: Path
    binary: str | None
    verbose: bool
    proxy_log_level: str
    python_v2: str | None = None  # the mcp 2.x environment's interpreter (pairing scenarios)
    inspector: str | None = None  # the MCP Inspector's launcher (inspector-cli scenario)


def base_child_env(workdir: Path) -> dict[str, str]:
    """The proxy's whole environment (the SDK adds only HOME, LOGNAME, PATH,
    SHELL, TERM, USER from ours, and HOME is replaced here): an empty HOME, no
    AWS_* credentials, shared files pointing at files that do not exist, and
    IMDS off so a credential-chain fallthrough can never leave loopback."""
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(workdir / "no-such-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-such-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "RUST_BACKTRACE": "1",
    }


def decoy_credentials_file(workdir: Path) -> Path:
    """A shared credentials file whose [default] profile holds *other* keys, so a
    proxy that reads the wrong source is rejected by the verifier."""
    decoy = random_creds(token=False)
    path = workdir / "credentials"
    path.write_text(
        textwrap.dedent(
            f"""\
            [default]
            aws_access_key_id = {decoy.access_key}
            aws_secret_access_key = {decoy.secret_key}
            """
        )
    )
    return path


def text_of(result: types.CallToolResult) -> str:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    if len(texts) != 1:
        raise ScenarioFailed(f"expected one text content, found {short(result.content)}")
    return texts[0]


class ProxySession:
    """Launch the binary under the SDK stdio client, through exit_recorder.py."""

    def __init__(self, ctx: Ctx, upstream_url: str, env: dict[str, str], extra_args: list[str]):
        self.ctx = ctx
        self.stderr_path = ctx.workdir / "proxy.stderr"
        self.exit_path = ctx.workdir / "proxy-exit.json"
        args = [
            str(HERE / "exit_recorder.py"),
            str(self.exit_path),
            ctx.binary,
            upstream_url,
            "--service",
            SERVICE,
            "--region",
            REGION,
            *extra_args,
            "--log-level",
            ctx.proxy_log_level,
        ]
        self.params = StdioServerParameters(command=sys.executable, args=args, env=env)
        self.command_line = " ".join([ctx.binary, upstream_url, "--service", SERVICE, "--region", REGION, *extra_args])
        self.bad_lines: list[str] = []
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.logs: list[types.LoggingMessageNotificationParams] = []
        self.roots_requests = 0

    async def _message_handler(self, message) -> None:
        if isinstance(message, Exception):
            self.bad_lines.append(f"{type(message).__name__}: {message}")
        await anyio.lowlevel.checkpoint()

    async def _logging(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    async def _roots(self, context) -> types.ListRootsResult:
        self.roots_requests += 1
        return types.ListRootsResult(
            roots=[
                types.Root(uri=FileUrl("file:///interop/root-one"), name="root one"),
                types.Root(uri=FileUrl("file:///interop/r%C3%B6%C3%B6t-two"), name="röot two ✓"),
            ]
        )

    async def progress_cb(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def open(self, stack: AsyncExitStack) -> ClientSession:
        errlog = stack.enter_context(open(self.stderr_path, "w"))
        read, write = await stack.enter_async_context(stdio_client(self.params, errlog=errlog))
        return await stack.enter_async_context(
            ClientSession(
                read,
                write,
                read_timeout_seconds=REQUEST_TIMEOUT,
                list_roots_callback=self._roots,
                logging_callback=self._logging,
                message_handler=self._message_handler,
                client_info=types.Implementation(name="mcp-sigv4-interop-driver", version="1"),
            )
        )

    def exit_record(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.exit_path.read_text())
        except (OSError, ValueError):
            return None

    def stderr_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no stderr)"


async def exercise(c: Checks, session: ClientSession, proxy: ProxySession, up: Upstream, mode: str, full: bool) -> None:
    """The tool battery. `mode` is the upstream's; `full` adds the heavy steps."""
    step("initialize")
    init = await session.initialize()
    c.equal(init.protocolVersion, PROTOCOL_VERSION, "initialize: negotiated protocol version")
    c.equal(init.serverInfo.name, "mcp-sigv4-interop", "initialize: server name")

    step("tools/list")
    tools = await session.list_tools()
    names = {t.name for t in tools.tools}
    c.expect(EXPECTED_TOOLS <= names, "tools/list: all tools present", f"missing {sorted(EXPECTED_TOOLS - names)}")

    step("add, echo, unicode_text")
    res = await session.call_tool("add", {"a": 40, "b": 2})
    c.expect(not res.isError, "add: not an error", short(res))
    c.equal(text_of(res), "42", "add(40, 2): text")
    c.equal((res.structuredContent or {}).get("result"), 42, "add(40, 2): structured result")
    res = await session.call_tool("add", {"a": -123456789, "b": 987654321})
    c.equal(text_of(res), str(987654321 - 123456789), "add(negative, large): text")

    res = await session.call_tool("echo", {"text": "hello"})
    c.equal(text_of(res), "hello", "echo: ascii round trip")
    res = await session.call_tool("echo", {"text": UNICODE_SAMPLE})
    c.expect(text_of(res) == UNICODE_SAMPLE, "echo: non-ASCII/escapes round trip (client to server and back)",
             f"found {short(text_of(res))}")

    res = await session.call_tool("unicode_text", {})
    c.expect(text_of(res) == UNICODE_SAMPLE, "unicode_text: exact string from server", f"found {short(text_of(res))}")

    step("progress")
    proxy.progress.clear()
    proxy.logs.clear()
    res = await session.call_tool("progress", {"steps": 5}, progress_callback=proxy.progress_cb)
    c.equal(text_of(res), "done 5", "progress: result")
    if mode == "json":
        # With json_response=True the SDK server sends only the final response
        # on a POST; it drops request-related notifications, so none can arrive.
        c.note(f"json mode: {len(proxy.progress)} progress notifications (the SDK server drops them in JSON mode)")
    else:
        values = [p[0] for p in proxy.progress]
        c.equal(len(proxy.progress), 5, "progress: notification count")
        c.expect(all(b > a for a, b in zip(values, values[1:])), "progress: values strictly increase", short(values))
        c.equal(values, [1.0, 2.0, 3.0, 4.0, 5.0], "progress: values")
        c.equal({p[1] for p in proxy.progress}, {5.0}, "progress: total")
        c.equal(proxy.progress[-1][2] if proxy.progress else None, "step 5 of 5", "progress: message")
        msgs = [entry.data for entry in proxy.logs]
        c.expect("progress finished after 5 steps" in msgs, "logging notification relayed", short(msgs))

    step("ping, error results")
    await session.send_ping()
    c.passed.append("ping answered")

    # Errors come back as results or JSON-RPC errors, never as a hang.
    res = await session.call_tool("add", {"a": "not a number", "b": 1})
    c.expect(bool(res.isError), "tool error: isError result relayed", short(res))
    try:
        await session.read_resource(AnyUrl("interop://no-such-resource"))
        c.expect(False, "JSON-RPC error relayed", "read_resource of a missing resource succeeded")
    except McpError as e:
        c.expect(True, "JSON-RPC error relayed as McpError")
        c.note(f"missing resource -> McpError({e.error.code}, {e.error.message!r})")

    if not full:
        return

    step("big_result, large echo")
    res = await session.call_tool("big_result", {})
    big = text_of(res)
    c.equal(len(big), ONE_MIB, "big_result: length 1,048,576")
    c.expect(big == big_text(), "big_result: exact content", "content differs")

    payload = large_request_text()
    res = await session.call_tool("echo", {"text": payload})
    c.expect(text_of(res) == payload, f"echo: {len(payload)}-character request round trip", "content differs")

    expected_roots = [
        {"uri": "file:///interop/root-one", "name": "root one"},
        {"uri": "file:///interop/r%C3%B6%C3%B6t-two", "name": "röot two ✓"},
    ]
    if mode != "json":
        # A server-to-client request on the POST's SSE stream; the client's
        # answer goes back through the proxy as a POSTed JSON-RPC response.
        step("roots/list from the server on the tool call's SSE stream")
        before = proxy.roots_requests
        res = await session.call_tool("roots_probe", {"via": "post"})
        c.equal(proxy.roots_requests - before, 1, "roots/list (POST stream): server request reached the client once")
        c.equal(json.loads(text_of(res)), expected_roots, "roots/list (POST stream): client answer reached the server")

    # The same request unrelated to any call goes on the standalone GET stream,
    # which a client MAY open; delivery is required only if the proxy opened it.
    step("roots/list from the server on the standalone GET stream (if open)")
    before = proxy.roots_requests
    res = await session.call_tool("roots_probe", {"via": "get"})
    got = json.loads(text_of(res))
    gets = [r for r in up.stats()["requests"] if r["method"] == "GET" and r["accepted"] and r["status"] == 200]
    if gets:
        c.equal(got, expected_roots, "roots/list (GET stream): delivered on the open GET stream and answered")
    else:
        c.note(f"proxy opened no GET stream (allowed); unrelated server request delivered: {got is not None}")

    step(f"{CONCURRENT_CALLS} sleeps + {CONCURRENT_CALLS} echoes at once")
    started = time.monotonic()
    calls = [session.call_tool("sleep", {"seconds": SLEEP_S, "tag": f"t{i}"}) for i in range(CONCURRENT_CALLS)]
    calls += [session.call_tool("echo", {"text": f"concurrent echo {i} ✓"}) for i in range(CONCURRENT_CALLS)]
    results = await asyncio.gather(*calls)
    wall = time.monotonic() - started
    texts = [text_of(r) for r in results]
    c.equal(
        texts,
        [f"slept t{i}" for i in range(CONCURRENT_CALLS)] + [f"concurrent echo {i} ✓" for i in range(CONCURRENT_CALLS)],
        f"concurrency: {CONCURRENT_CALLS} sleeps and {CONCURRENT_CALLS} echoes, each answer to its own call",
    )
    overlap = up.stats()["tools"]["sleep_max_in_flight"]
    c.note(f"concurrency: {CONCURRENT_CALLS} x sleep({SLEEP_S}) took {wall:.2f} s, server saw {overlap} at once")
    # Server-side overlap is the real test; the wall-clock bound is only a
    # generous backstop (serial would take >= 10 s).
    c.expect(overlap >= CONCURRENT_CALLS // 2, "concurrency: sleeps overlapped on the server",
             f"at most {overlap} of {CONCURRENT_CALLS} ran at once")
    c.expect(wall < CONCURRENT_CALLS * SLEEP_S * 0.8, "concurrency: wall time well under serial time", f"{wall:.2f} s")


async def wait_for_delete(up: Upstream, timeout: float = 3.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = up.stats()
        if stats["accepted"].get("DELETE") or stats["rejected"].get("DELETE") or time.monotonic() > deadline:
            return stats
        await anyio.sleep(0.05)


def check_session_traffic(c: Checks, stats: dict[str, Any], creds: Creds) -> None:
    """What the verifier saw during one good session."""
    c.equal(stats["rejected"], {}, "verifier: rejected no request")
    for r in stats["rejections"][:3]:
        log(f"    rejected {r['method']}: {r['error_type']}: {r['message']}")
    c.expect(stats["accepted"].get("POST", 0) >= 3, "verifier: accepted the POSTs", short(stats["accepted"]))
    c.expect(stats["accepted"].get("DELETE", 0) >= 1, "verifier: saw a signed DELETE at shutdown", short(stats["accepted"]))
    total = sum(stats["accepted"].values()) + sum(stats["rejected"].values())
    if creds.token:
        c.equal(stats["token_seen"], total, "session token sent (and verified) on every request")
    else:
        c.equal(stats["token_seen"], 0, "no session token sent")

    requests = stats["requests"]
    issued = stats["issued_session_ids"]
    c.equal(len(issued), 1, "server issued one session id")
    sid = issued[0] if issued else None
    init = [r for r in requests if r["jsonrpc_method"] == "initialize"]
    c.equal(len(init), 1, "one initialize POST")
    if init:
        c.equal(init[0]["session_id"], None, "initialize carries no session id")
    later = [r for r in requests if r["jsonrpc_method"] != "initialize"]
    wrong_sid = [(r["method"], r["jsonrpc_method"], r["session_id"]) for r in later if r["session_id"] != sid]
    c.expect(not wrong_sid, "every later request carries the issued mcp-session-id", short(wrong_sid))
    wrong_ver = [(r["method"], r["jsonrpc_method"], r["protocol_version"]) for r in later
                 if r["protocol_version"] != PROTOCOL_VERSION]
    c.expect(not wrong_ver, f"every later request carries mcp-protocol-version {PROTOCOL_VERSION}", short(wrong_ver))
    deletes = [r for r in requests if r["method"] == "DELETE"]
    c.expect(bool(deletes) and all(r["session_id"] == sid for r in deletes), "DELETE names the session", short(deletes))

    posts = [r for r in requests if r["method"] == "POST"]
    bad_accept = {r["accept"] for r in posts
                  if not r["accept"] or not {"application/json", "text/event-stream"}
                  <= {p.split(";")[0].strip() for p in r["accept"].split(",")}}
    c.expect(not bad_accept, "POST accept lists application/json and text/event-stream", short(bad_accept))
    bad_ct = {r["content_type"] for r in posts
              if (r["content_type"] or "").split(";")[0].strip().lower() != "application/json"}
    c.expect(not bad_ct, "POST content-type is application/json", short(bad_ct))
    unsigned = sorted({h for r in requests for h in r["unsigned_headers"]} - ALLOWED_UNSIGNED)
    c.expect(not unsigned, "every header is signed except user-agent/content-length", f"unsigned: {unsigned}")
    c.note("signed headers seen: " + " | ".join(sorted({";".join(r["signed_headers"]) for r in requests})))

    bad_status = [(r["method"], r["jsonrpc_method"], r["status"]) for r in requests
                  if r["status"] is not None and r["status"] >= 400
                  and not (r["method"] in ("GET", "DELETE") and r["status"] == 405)]
    c.expect(not bad_status, "the MCP server answered no request with an HTTP error", short(bad_status))
    gets = [(r["status"]) for r in requests if r["method"] == "GET"]
    c.note(f"requests by method: {stats['accepted']}; GET statuses: {gets}")


def check_no_secrets_logged(c: Checks, proxy: ProxySession, secrets_: dict[str, str | None]) -> None:
    """The proxy ran at --log-level debug; its stderr must still hold no secret."""
    try:
        text = proxy.stderr_path.read_text(errors="replace")
    except OSError:
        text = ""
    leaked = [name for name, value in secrets_.items() if value and value in text]
    c.expect(not leaked, "proxy stderr (debug level) shows no secret key, session token or full session id",
             f"found {leaked} in {proxy.stderr_path}")


def check_exit(c: Checks, proxy: ProxySession, must_be_zero: bool = True) -> None:
    rec = proxy.exit_record()
    if not c.expect(rec is not None, "proxy exit recorded"):
        return
    c.expect(not rec["sigterm"], "proxy exited by itself after stdin EOF (no SIGTERM needed)",
             "the SDK client had to send SIGTERM 2 s after closing stdin")
    if must_be_zero:
        c.equal(rec["exit_code"], 0, "proxy exit status")
    else:
        c.note(f"proxy exit status {rec['exit_code']}")


async def good_session(ctx: Ctx, creds: Creds, mode: str, env: dict[str, str], extra_args: list[str],
                       full: bool = True, url_suffix: str = "") -> None:
    c = ctx.checks
    up = Upstream(ctx.workdir, creds, mode, ctx.verbose)
    up.start()
    proxy = ProxySession(ctx, up.url + url_suffix, env, extra_args)
    log(f"  upstream {up.url} mode={mode}; proxy: {proxy.command_line}")
    try:
        try:
            with anyio.fail_after(SCENARIO_TIMEOUT_S):
                async with AsyncExitStack() as stack:
                    session = await proxy.open(stack)
                    await exercise(c, session, proxy, up, mode, full)
        except Exception as e:
            describe_failure(c, e, SCENARIO_TIMEOUT_S)
        c.expect(not proxy.bad_lines, "stdout carried only valid JSON-RPC lines", short(proxy.bad_lines))
        stats = await wait_for_delete(up)
        check_session_traffic(c, stats, creds)
        check_exit(c, proxy)
        sids = stats["issued_session_ids"]
        check_no_secrets_logged(c, proxy, {"secret access key": creds.secret_key, "session token": creds.token,
                                           "mcp-session-id": sids[0] if sids else None})
    finally:
        up.stop()
        if c.failed:
            log("  --- proxy stderr (tail) ---\n" + textwrap.indent(proxy.stderr_tail(), "  | "))
            log("  --- upstream stderr (tail) ---\n" + textwrap.indent(up.stderr_tail(), "  | "))


# ---- the scenarios --------------------------------------------------------


async def sc_env_token_sse(ctx: Ctx) -> None:
    creds = random_creds(token=True)
    env = base_child_env(ctx.workdir)
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(decoy_credentials_file(ctx.workdir))
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token)
    await good_session(ctx, creds, "sse", env, [])


async def sc_env_token_json(ctx: Ctx) -> None:
    creds = random_creds(token=True)
    env = base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token)
    await good_session(ctx, creds, "json", env, [])


async def sc_env_no_token(ctx: Ctx) -> None:
    creds = random_creds(token=False)
    env = base_child_env(ctx.workdir)
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(decoy_credentials_file(ctx.workdir))
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key)
    await good_session(ctx, creds, "sse-resumable", env, [])


def assert_no_env_credentials(c: Checks, ctx: Ctx) -> None:
    rec = json.loads((ctx.workdir / "proxy-exit.json").read_text()) if (ctx.workdir / "proxy-exit.json").exists() else None
    names = set(rec["aws_env_names"]) if rec else set()
    leaked = names & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    c.expect(rec is not None and not leaked, "the proxy's environment held no AWS_* credential variables",
             f"found {sorted(leaked)}")


async def sc_profile_flag(ctx: Ctx) -> None:
    creds = random_creds(token=True)
    env = base_child_env(ctx.workdir)
    cred_file = decoy_credentials_file(ctx.workdir)
    with open(cred_file, "a") as f:
        f.write(
            f"\n[interop]\naws_access_key_id = {creds.access_key}\n"
            f"aws_secret_access_key = {creds.secret_key}\naws_session_token = {creds.token}\n"
        )
    config = ctx.workdir / "config"
    config.write_text("[default]\nregion = us-east-1\n\n[profile interop]\nregion = us-west-2\n")
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(cred_file), AWS_CONFIG_FILE=str(config))
    await good_session(ctx, creds, "sse", env, ["--profile", "interop"], full=False)
    assert_no_env_credentials(ctx.checks, ctx)


async def sc_profile_env(ctx: Ctx) -> None:
    creds = random_creds(token=False)
    env = base_child_env(ctx.workdir)
    cred_file = decoy_credentials_file(ctx.workdir)
    config = ctx.workdir / "config"
    config.write_text(
        "[default]\nregion = us-east-1\n\n"
        f"[profile interop-cfg]\naws_access_key_id = {creds.access_key}\n"
        f"aws_secret_access_key = {creds.secret_key}\n"
    )
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(cred_file), AWS_CONFIG_FILE=str(config), AWS_PROFILE="interop-cfg")
    await good_session(ctx, creds, "json", env, [], full=False)
    assert_no_env_credentials(ctx.checks, ctx)


async def sc_query_string(ctx: Ctx) -> None:
    creds = random_creds(token=True)
    env = base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token)
    await good_session(ctx, creds, "sse", env, [], full=False, url_suffix="?qualifier=DEFAULT")
    stats = json.loads((ctx.workdir / "verifier-stats.json").read_text())
    queries = {r["query"] for r in stats["requests"]}
    ctx.checks.equal(queries, {"qualifier=DEFAULT"}, "every request kept the query string")


async def sc_wrong_secret(ctx: Ctx) -> None:
    c = ctx.checks
    creds = random_creds(token=True)
    up = Upstream(ctx.workdir, creds, "sse", ctx.verbose)
    up.start()
    env = base_child_env(ctx.workdir)
    wrong = creds.secret_key[:-4] + "WRNG"
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=wrong, AWS_SESSION_TOKEN=creds.token)
    proxy = ProxySession(ctx, up.url, env, [])
    log(f"  upstream {up.url}; proxy: {proxy.command_line} (with a wrong secret)")
    try:
        try:
            with anyio.fail_after(60):
                async with AsyncExitStack() as stack:
                    session = await proxy.open(stack)
                    try:
                        with anyio.fail_after(30):
                            await session.initialize()
                        c.expect(False, "initialize fails with a wrong secret", "initialize succeeded")
                    except McpError as e:
                        text = f"{e.error.message} {json.dumps(e.error.data) if e.error.data is not None else ''}"
                        c.note(f"initialize -> McpError({e.error.code}, {short(text, 400)})")
                        c.expect(True, "initialize answered with a JSON-RPC error (no hang)")
                        c.expect("403" in text, "the error mentions HTTP 403", short(text, 400))
        except Exception as e:
            if any(isinstance(leaf, TimeoutError) for leaf in leaf_errors(e)):
                c.expect(False, "initialize answered within 30 s", "timed out: the proxy hung instead of answering")
            else:
                describe_failure(c, e, 60)
        c.expect(not proxy.bad_lines, "stdout carried only valid JSON-RPC lines", short(proxy.bad_lines))
        await anyio.sleep(0.5)
        stats = up.stats()
        c.equal(stats["accepted"], {}, "verifier accepted nothing")
        c.expect(stats["rejected"].get("POST", 0) >= 1, "verifier rejected the initialize POST", short(stats["rejected"]))
        reasons = [r["error_type"] for r in stats["rejections"]]
        c.equal(reasons[:1], ["InvalidSignatureException"], "rejection reason for the first request")
        c.note(f"rejected: {stats['rejected']}; reasons: {reasons}")
        check_exit(c, proxy, must_be_zero=False)
        check_no_secrets_logged(c, proxy, {"wrong secret access key": wrong, "secret access key": creds.secret_key,
                                           "session token": creds.token})
    finally:
        up.stop()
        if c.failed:
            log("  --- proxy stderr (tail) ---\n" + textwrap.indent(proxy.stderr_tail(), "  | "))


# ---- pairings: mcp 1.x and 2.x, each as client and as server -----------------
#
# The driver (this process, mcp 1.30.0) starts the pairing server from the
# server's environment and the pairing client from the client's; the client
# launches mcp-sigv4 through stdio_tap.py, runs the battery and writes a report.
# Here the report is merged and checked against what the verifier recorded on
# the HTTP side and what the tap recorded on stdio. See README.md, "Pairings".

PAIR_SDK = {"v1": "mcp 1.30.0", "v2": "mcp 2.3.0"}
PAIR_CLIENT_TIMEOUT_S = 150
CANCEL_TAGS = ("cancel-silent", "cancel-streaming")
MRTR_TOOLS = {"ask_form": "elicitation/create", "ask_sampling": "sampling/createMessage", "ask_roots": "roots/list"}
NAME_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def sdk_python(ctx: Ctx, version: str) -> str:
    """The interpreter of the environment that holds `version` of the SDK."""
    if version == "v1":
        return sys.executable
    if ctx.python_v2 and os.path.isfile(ctx.python_v2) and os.access(ctx.python_v2, os.X_OK):
        return ctx.python_v2
    raise ScenarioFailed(
        f"expected the mcp 2.3.0 environment's python at {ctx.python_v2!r}, found none\n"
        "hint: cargo test --test interop builds it (target/interop-venv-v2), or: python3 -m venv "
        "target/interop-venv-v2 && target/interop-venv-v2/bin/pip install -r tests/interop/requirements-v2.txt, "
        "then pass --python-v2 target/interop-venv-v2/bin/python"
    )


def read_transcript(path: Path) -> list[dict[str, Any]]:
    """stdio_tap.py's lines, each with `msg`: the parsed JSON-RPC message, or None."""
    entries = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return entries
    for raw in text.splitlines():
        entry = json.loads(raw)
        try:
            entry["msg"] = json.loads(entry["line"])
        except ValueError:
            entry["msg"] = None
        entries.append(entry)
    return entries


def stdin_requests(transcript: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [e["msg"] for e in transcript if e["dir"] == "in" and isinstance(e["msg"], dict)
            and e["msg"].get("method") == method and "id" in e["msg"]]


def stdout_for_id(transcript: list[dict[str, Any]], request_id: Any) -> list[dict[str, Any]]:
    return [e["msg"] for e in transcript if e["dir"] == "out" and isinstance(e["msg"], dict)
            and "method" not in e["msg"] and e["msg"].get("id") == request_id]


def decode_header_value(value: str | None) -> str | None:
    """2026-07-28 §1.3: `=?base64?...?=` carries non-header-safe values."""
    if value and value.startswith("=?base64?") and value.endswith("?="):
        return base64.b64decode(value[len("=?base64?"):-2]).decode("utf-8")
    return value


def merge_report(c: Checks, path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        c.expect(False, "client: report written", f"{path}: {e}")
        return {"facts": {}}
    c.passed += [f"client: {p}" for p in report["passed"]]
    c.failed += [f"client: {f}" for f in report["failed"]]
    c.notes += [f"client: {n}" for n in report["notes"]]
    c.expect(report.get("finished", False), "client: the battery ran to its end")
    return report


def check_pair_signing(c: Checks, stats: dict[str, Any], creds: Creds) -> None:
    """Every request reached the server only through the botocore verifier."""
    c.equal(stats["rejected"], {}, "verifier: rejected no request")
    for r in stats["rejections"][:3]:
        log(f"    rejected {r['method']} ({r.get('error_type')}): {r['message'][:300]}")
    total = sum(stats["accepted"].values())
    c.expect(total >= 20, "verifier: accepted every request of the battery", short(stats["accepted"]))
    c.equal(stats["token_seen"], total, "session token sent (and verified) on every request")
    unsigned = sorted({h for r in stats["requests"] for h in r["unsigned_headers"]} - ALLOWED_UNSIGNED)
    c.expect(not unsigned, "every header is signed except user-agent/content-length", f"unsigned: {unsigned}")
    c.note("signed headers seen: " + " | ".join(sorted({";".join(r["signed_headers"]) for r in stats["requests"]})))


def check_pair_legacy(c: Checks, stats: dict[str, Any], transcript: list[dict[str, Any]], client: str) -> None:
    """2025-11-25 through the relay: probe (2.x client), handshake, session, streams."""
    requests = stats["requests"]
    posts = [r for r in requests if r["method"] == "POST"]
    if client == "v2":
        probe = posts[0] if posts else {}
        c.equal((probe.get("jsonrpc_method"), probe.get("protocol_version"), probe.get("mcp_method")),
                ("server/discover", MODERN_VERSION, "server/discover"),
                "auto probe: the first POST is server/discover with MCP-Protocol-Version 2026-07-28 and Mcp-Method")
        c.expect({"mcp-protocol-version", "mcp-method"} <= set(probe.get("signed_headers", [])),
                 "auto probe: its routing headers are signed", short(probe.get("signed_headers")))
        c.equal(probe.get("status"), 400, "auto probe: the 1.x server refuses it with HTTP 400")
        asked = stdin_requests(transcript, "server/discover")
        answers = stdout_for_id(transcript, asked[0]["id"]) if asked else []
        c.expect(len(answers) == 1 and "error" in answers[0],
                 "auto probe: the client got exactly one answer, a JSON-RPC error with the probe's id", short(answers))
        if answers and "error" in answers[0]:
            c.note(f"probe answer on stdout: {short(answers[0]['error'], 300)}")
        first_init = next((i for i, e in enumerate(transcript) if e["dir"] == "in" and isinstance(e["msg"], dict)
                           and e["msg"].get("method") == "initialize"), None)
        probe_answer = next((i for i, e in enumerate(transcript) if e["dir"] == "out" and isinstance(e["msg"], dict)
                             and asked and e["msg"].get("id") == asked[0]["id"]), None)
        c.expect(first_init is not None and probe_answer is not None and probe_answer < first_init,
                 "auto probe: the client fell back to initialize after the answer")
    init = [r for r in posts if r["jsonrpc_method"] == "initialize"]
    c.equal([(r["session_id"], r["status"]) for r in init], [(None, 200)],
            "one initialize, without a session id, answered 200")
    after = posts[posts.index(init[0]) + 1:] if init else []
    sids = {r["session_id"] for r in after} | {r["session_id"] for r in requests if r["method"] != "POST"}
    c.expect(len(sids) == 1 and None not in sids, "every request after initialize carries one session id", short(sids))
    c.expect(all(r["protocol_version"] == LEGACY_VERSION for r in after),
             f"every request after initialize carries MCP-Protocol-Version {LEGACY_VERSION}",
             short({r["protocol_version"] for r in after}))
    gets = [r["status"] for r in requests if r["method"] == "GET"]
    c.expect(200 in gets, "the relay opened the GET stream (it carries notifications/tools/list_changed)",
             short(gets))
    answers = [r for r in posts if r["jsonrpc_method"] == "<response>"]
    c.equal([r["status"] for r in answers], [202, 202, 202],
            "the client's answers to elicitation, sampling and roots were POSTed (202 each)")
    deletes = [(r["session_id"], r["status"]) for r in requests if r["method"] == "DELETE"]
    c.expect(len(deletes) == 1 and deletes[0][0] in sids, "a signed DELETE ended the session", short(deletes))


def check_pair_modern(c: Checks, stats: dict[str, Any], transcript: list[dict[str, Any]],
                      strict: bool = False) -> None:
    """2026-07-28 through the relay: routing headers, no session, MRTR, listen."""
    requests = stats["requests"]
    posts = [r for r in requests if r["method"] == "POST"]
    c.equal(sorted({r["method"] for r in requests}), ["POST"], "2026-07-28: POST only (no GET stream, no DELETE)")
    c.equal((posts[0]["jsonrpc_method"], posts[0]["status"]) if posts else None, ("server/discover", 200),
            "auto probe: server/discover answered 200 (modern)")
    c.expect(all(r["session_id"] is None for r in requests), "2026-07-28: no Mcp-Session-Id sent")
    requests_posted = [r for r in posts if r.get("jsonrpc_id") is not None]
    bad = [(r["jsonrpc_method"], r["protocol_version"], r["mcp_method"]) for r in requests_posted
           if r["protocol_version"] != MODERN_VERSION or r["mcp_method"] != r["jsonrpc_method"]
           or not {"mcp-protocol-version", "mcp-method"} <= set(r["signed_headers"])]
    c.expect(not bad, "every request POST: MCP-Protocol-Version 2026-07-28 and Mcp-Method = the body's method, "
             "both signed", short(bad))
    notified = [(r["jsonrpc_method"], r.get("cancel_request_id"), r["protocol_version"], r["status"])
                for r in posts if r.get("jsonrpc_id") is None]
    if strict:
        # 2026-07-28 defines no client notification over HTTP; mcp-2026-07-28.md §5.1: a stdio
        # notifications/cancelled aborts the request in flight and is not POSTed; unknown ids are ignored.
        c.equal(notified, [], "2026-07-28: the relay POSTs no notification (a cancel for an id no longer "
                "in flight is ignored, not sent)")
    elif notified:
        c.note(f"notifications POSTed in 2026-07-28 mode: {notified}")
    bodies = {json.dumps(e["msg"]["id"]): e["msg"] for e in transcript if e["dir"] == "in"
              and isinstance(e["msg"], dict) and "id" in e["msg"] and "method" in e["msg"]}
    named = [r for r in posts if r["jsonrpc_method"] in NAME_METHODS]
    wrong = []
    for r in named:
        body = bodies.get(json.dumps(r.get("jsonrpc_id")), {})
        expected = (body.get("params") or {}).get(NAME_METHODS[r["jsonrpc_method"]])
        if "mcp-name" not in r["signed_headers"] or decode_header_value(r["mcp_name"]) != expected:
            wrong.append((r["jsonrpc_method"], r["mcp_name"], expected))
    c.expect(bool(named) and not wrong,
             f"Mcp-Name = params.name/uri on all {len(named)} tools/call, prompts/get and resources/read, signed",
             short(wrong))
    c.expect(any((r["mcp_name"] or "").startswith("=?base64?") for r in named),
             "Mcp-Name: the non-ASCII prompt name went as =?base64?...?=", short([r["mcp_name"] for r in named]))
    header = "mcp-param-" + PARAM_HEADER.lower()
    where = [(bodies.get(json.dumps(r.get("jsonrpc_id")), {}).get("params", {}).get("arguments", {}).get("region"),
              decode_header_value(r["mcp_params"].get(header)), header in r["signed_headers"], r["mcp_params"].get(header))
             for r in named if r["mcp_name"] == "where"]
    c.expect(len(where) == len(PARAM_VALUES) and all(arg == value and signed for arg, value, signed, _ in where),
             f"Mcp-Param-{PARAM_HEADER} (from the tool's x-mcp-header) = the argument on every where call, signed",
             short(where))
    c.expect(any((raw or "").startswith("=?base64?") for *_, raw in where),
             f"Mcp-Param-{PARAM_HEADER}: the non-ASCII argument went as =?base64?...?=", short(where))

    # multi-round-trip: interim result on stdout, retry on stdin, state unchanged on the wire
    events = stats.get("events", [])
    for tool, method in MRTR_TOOLS.items():
        calls = [m for m in stdin_requests(transcript, "tools/call") if m["params"].get("name") == tool]
        c.require(len(calls) == 2, f"MRTR {tool}: the client sent the call and one retry", f"{len(calls)} calls")
        first, retry = calls
        interim = stdout_for_id(transcript, first["id"])
        result = interim[0].get("result", {}) if len(interim) == 1 else {}
        requests_ = result.get("inputRequests") or {}
        c.expect(result.get("resultType") == "input_required" and [r.get("method") for r in requests_.values()]
                 == [method] and isinstance(result.get("requestState"), str),
                 f"MRTR {tool}: the interim result reached the client (input_required, {method}, requestState)",
                 short(interim))
        state = result.get("requestState")
        c.expect(retry["id"] != first["id"] and retry["params"].get("requestState") == state
                 and sorted(retry["params"].get("inputResponses") or {}) == sorted(requests_),
                 f"MRTR {tool}: the retry has a new id, the same requestState and an answer for each input request")
        wire = [r for r in posts if r.get("jsonrpc_id") == retry["id"]]
        c.expect(len(wire) == 1 and wire[0].get("request_state") == state
                 and wire[0].get("input_response_keys") == sorted(requests_),
                 f"MRTR {tool}: the retry reached the server with the requestState byte for byte",
                 short([(w.get("request_state") == state, w.get("input_response_keys")) for w in wire]))
        answered = [e for e in events if e["kind"] == "mrtr-answered" and e["tool"] == tool]
        c.expect(len(answered) == 1 and answered[0]["state_ok"],
                 f"MRTR {tool}: the server unsealed its own requestState on the retry", short(answered))

    # subscriptions/listen: open, acknowledged, notification, closed by the client
    listens = stdin_requests(transcript, "subscriptions/listen")
    c.require(len(listens) == 2, "listen: two subscriptions/listen requests (one closed by the client, one "
              "dropped by the server)", str(len(listens)))
    lid = listens[0]["id"]
    notes = [e["msg"] for e in transcript if e["dir"] == "out" and isinstance(e["msg"], dict)
             and (e["msg"].get("params") or {}).get("_meta", {}).get("io.modelcontextprotocol/subscriptionId") == lid]
    c.equal([n.get("method") for n in notes],
            ["notifications/subscriptions/acknowledged", "notifications/tools/list_changed"],
            "listen: acknowledgement, then tools/list_changed, each tagged with the listen id")
    wire = [r for r in posts if r["jsonrpc_method"] == "subscriptions/listen" and r.get("jsonrpc_id") == lid]
    c.expect(len(wire) == 1 and wire[0]["status"] == 200 and "mcp-method" in wire[0]["signed_headers"],
             "listen: one signed POST, answered 200 (a stream)", short(wire))
    closed = [e for e in transcript if e["dir"] == "in" and isinstance(e["msg"], dict)
              and e["msg"].get("method") == "notifications/cancelled" and e["msg"]["params"].get("requestId") == lid]
    c.equal(len(closed), 1, "listen: the client closed it with notifications/cancelled on stdio")
    changed = [e["t"] for e in events if e["kind"] == "tools-changed"]
    ended = wire[0].get("ended") if wire else None
    c.expect(bool(changed) and ended is not None and ended - changed[0] < 5,
             "listen: the relay closed the HTTP stream within 5 s of the client's cancel (the server saw it end)",
             short((changed, ended)))

    # The second listen: the server cuts the stream without a response; on stdio the
    # relay must say so with notifications/cancelled for the listen id (§4.4, §5.1).
    dropped_id = listens[1]["id"]
    drops = [e for e in events if e["kind"] == "listens-dropped"]
    c.equal([e["count"] for e in drops], [1], "listen dropped: the server cut one open listen stream")
    relayed = [e["msg"] for e in transcript if e["dir"] == "out" and isinstance(e["msg"], dict)
               and e["msg"].get("method") == "notifications/cancelled"
               and e["msg"]["params"].get("requestId") == dropped_id]
    c.equal(len(relayed), 1, "listen dropped: the relay wrote notifications/cancelled for the listen id to stdout")
    c.equal(stdout_for_id(transcript, dropped_id), [], "listen dropped: no response made up for the listen id")

    # Every JSON answer the server sent reached the client unchanged (as JSON).
    answered = [r for r in posts if r["status"] == 200 and isinstance(r.get("response_json"), dict)
                and "id" in r["response_json"]]
    changed_answers = [(r["jsonrpc_method"], r["response_json"]["id"]) for r in answered
                       if stdout_for_id(transcript, r["response_json"]["id"]) != [r["response_json"]]]
    c.expect(len(answered) >= 20 and not changed_answers,
             f"all {len(answered)} JSON answers (incl. input_required results) reached stdout unchanged",
             short(changed_answers))


def check_pair_cancellation(c: Checks, stats: dict[str, Any], transcript: list[dict[str, Any]],
                            modern: bool) -> None:
    """The server saw each cancelled call stop; the wire shows how it was told."""
    events = stats.get("events", [])
    sleeps = {m["params"]["arguments"].get("tag"): m["id"] for m in stdin_requests(transcript, "tools/call")
              if m["params"].get("name") == "sleep"}
    cancels = [e["msg"]["params"].get("requestId") for e in transcript if e["dir"] == "in"
               and isinstance(e["msg"], dict) and e["msg"].get("method") == "notifications/cancelled"]
    wire_cancels = [r for r in stats["requests"] if r["jsonrpc_method"] == "notifications/cancelled"]
    for tag in CANCEL_TAGS:
        rid = sleeps.get(tag)
        c.require(rid is not None, f"cancellation ({tag}): the call went out on stdin")
        c.expect(rid in cancels, f"cancellation ({tag}): the client sent notifications/cancelled on stdio")
        started = [e["t"] for e in events if e["kind"] == "sleep-started" and e["tag"] == tag]
        stopped = [e["t"] for e in events if e["kind"] == "sleep-cancelled" and e["tag"] == tag]
        finished = [e for e in events if e["kind"] == "sleep-finished" and e["tag"] == tag]
        c.expect(len(started) == 1 and len(stopped) == 1 and not finished and stopped[0] - started[0] < 5,
                 f"cancellation ({tag}): the server's handler was cancelled within 5 s (the call sleeps 30 s)",
                 short((started, stopped, finished)))
        if stopped and started:
            c.note(f"{tag}: server handler cancelled {stopped[0] - started[0]:.2f} s after it started")
        late = stdout_for_id(transcript, rid)
        if modern:
            c.expect(not any(r["cancel_request_id"] == rid for r in wire_cancels),
                     f"cancellation ({tag}): not POSTed (2026-07-28: closing the stream is the cancel)")
            call = [r for r in stats["requests"] if r.get("jsonrpc_id") == rid]
            c.expect(len(call) == 1 and call[0].get("ended") and stopped and call[0]["ended"] - stopped[0] < 2,
                     f"cancellation ({tag}): the relay closed the call's HTTP exchange (the server saw it end)",
                     short(call[0] if call else None))
            c.equal(late, [], f"cancellation ({tag}): nothing more on stdout for the cancelled id")
        else:
            c.expect([r["status"] for r in wire_cancels if r["cancel_request_id"] == rid] == [202],
                     f"cancellation ({tag}): notifications/cancelled POSTed, naming the request id, 202")
            c.expect(all("Request cancelled" in json.dumps(m.get("error")) for m in late) and len(late) <= 1,
                     f"cancellation ({tag}): no error of the relay's own for the cancelled id", short(late))


def check_pair_exit(c: Checks, record_path: Path) -> None:
    try:
        rec = json.loads(record_path.read_text())
    except (OSError, ValueError):
        c.expect(False, "proxy exit recorded")
        return
    c.expect(not rec["sigterm"], "proxy exited by itself after stdin EOF (no SIGTERM needed)")
    c.equal(rec["exit_code"], 0, "proxy exit status")


async def pairing(ctx: Ctx, server: str, client: str, strict: bool = False) -> None:
    c = ctx.checks
    modern = server == "v2" and client == "v2"
    server_python, client_python = sdk_python(ctx, server), sdk_python(ctx, client)
    creds = random_creds(token=True)
    up = Upstream(ctx.workdir, creds, "sse", ctx.verbose, python=server_python,
                  script=HERE / f"pair_server_{server}.py")
    up.start()
    env = base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token)
    w = ctx.workdir
    cfg = {
        "command": [client_python, str(HERE / "stdio_tap.py"), str(w / "proxy-exit.json"), str(w / "stdio.jsonl"),
                    ctx.binary, up.url, "--service", SERVICE, "--region", REGION, "--log-level", ctx.proxy_log_level],
        "env": env,
        "stderr": str(w / "proxy.stderr"),
        "report": str(w / "client-report.json"),
        "server": server,
        "expect_version": MODERN_VERSION if modern else LEGACY_VERSION,
        "timeout_s": PAIR_CLIENT_TIMEOUT_S - 20,
    }
    (w / "client.json").write_text(json.dumps(cfg))
    log(f"  server: {PAIR_SDK[server]} at {up.url}; client: {PAIR_SDK[client]} (mode auto for 2.x); "
        f"expected era: {cfg['expect_version']}")
    try:
        argv = [client_python, "-u", str(HERE / f"pair_client_{client}.py"), str(w / "client.json")]
        try:
            done = await anyio.to_thread.run_sync(
                lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=PAIR_CLIENT_TIMEOUT_S))
            c.equal(done.returncode, 0, "client process exit status")
        except subprocess.TimeoutExpired:
            c.expect(False, f"client process finished within {PAIR_CLIENT_TIMEOUT_S} s")
        merge_report(c, w / "client-report.json")
        stats = await wait_for_delete(up) if not modern else up.stats()
        transcript = read_transcript(w / "stdio.jsonl")
        c.expect(bool(transcript), "stdio transcript recorded")
        check_pair_signing(c, stats, creds)
        if modern:
            check_pair_modern(c, stats, transcript, strict)
        else:
            check_pair_legacy(c, stats, transcript, client)
        check_pair_cancellation(c, stats, transcript, modern)
        check_pair_exit(c, w / "proxy-exit.json")
        sids = [r["session_id"] for r in stats["requests"] if r["session_id"]]
        text = (w / "proxy.stderr").read_text(errors="replace") if (w / "proxy.stderr").exists() else ""
        leaked = [name for name, value in {"secret access key": creds.secret_key, "session token": creds.token,
                                           "mcp-session-id": sids[0] if sids else None}.items()
                  if value and value in text]
        c.expect(not leaked, "proxy stderr (debug level) shows no secret key, session token or full session id",
                 f"found {leaked}")
    finally:
        up.stop()
        if c.failed:
            tail = "\n".join((w / "proxy.stderr").read_text(errors="replace").splitlines()[-40:]) \
                if (w / "proxy.stderr").exists() else "(none)"
            log("  --- proxy stderr (tail) ---\n" + textwrap.indent(tail, "  | "))
            log("  --- upstream stderr (tail) ---\n" + textwrap.indent(up.stderr_tail(), "  | "))


async def sc_pair_v1_v1(ctx: Ctx) -> None:
    await pairing(ctx, server="v1", client="v1")


async def sc_pair_v1_client_v2_server(ctx: Ctx) -> None:
    await pairing(ctx, server="v2", client="v1")


async def sc_pair_v2_client_v1_server(ctx: Ctx) -> None:
    await pairing(ctx, server="v1", client="v2")


async def sc_pair_v2_v2(ctx: Ctx) -> None:
    """Also strict: after the relay reports a dropped listen stream, the SDK
    client sends its own courtesy notifications/cancelled for that (no longer
    in flight) listen id; mcp-2026-07-28.md §5.1: cancels are not POSTed in
    modern mode and unknown ids are ignored, so no notification may be POSTed."""
    await pairing(ctx, server="v2", client="v2", strict=True)


# ---- MCP Inspector CLI ------------------------------------------------------------

INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector"
INSPECTOR_TIMEOUT_S = 90


def inspector_dir(ctx: Ctx) -> Path:
    """tests/interop/inspector with the pinned Inspector installed (npm ci)."""
    where = Path(ctx.inspector or HERE / "inspector")
    pinned = json.loads((where / "package.json").read_text())["dependencies"][INSPECTOR_PACKAGE]
    installed = where / "node_modules" / INSPECTOR_PACKAGE / "package.json"
    if not installed.is_file():
        raise ScenarioFailed(
            f"expected {INSPECTOR_PACKAGE} {pinned} installed under {where / 'node_modules'}, found nothing\n"
            f"hint: cargo test --test interop installs it, or: (cd {where} && npm ci)"
        )
    version = json.loads(installed.read_text())["version"]
    if version != pinned:
        raise ScenarioFailed(f"expected {INSPECTOR_PACKAGE} {pinned} (package.json), found {version} installed\n"
                             f"hint: (cd {where} && npm ci)")
    if not shutil.which("npx"):
        raise ScenarioFailed("expected npx on PATH, found none\nhint: install Node.js and npm")
    return where


def run_inspector(ctx: Ctx, where: Path, up: Upstream, creds: Creds, label: str,
                  method: list[str]) -> tuple[int, Any, str, dict[str, Any] | None]:
    """One `npx @modelcontextprotocol/inspector --cli` run with mcp-sigv4 (under
    exit_recorder.py) as the stdio server. Returns (status, parsed stdout or the
    raw text, stderr, exit record). The proxy's environment is only what the
    Inspector passes (its default set) plus the -e pairs."""
    w = ctx.workdir
    record = w / f"{label}-proxy-exit.json"
    home = w / "home"
    home.mkdir(exist_ok=True)
    child_env = {"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret_key,
                 "AWS_SESSION_TOKEN": creds.token, "HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true",
                 "AWS_CONFIG_FILE": str(w / "no-such-config"),
                 "AWS_SHARED_CREDENTIALS_FILE": str(w / "no-such-credentials")}
    argv = ["npx", "--no-install", INSPECTOR_PACKAGE, "--cli", *method]
    for k, v in child_env.items():
        argv += ["-e", f"{k}={v}"]
    argv += ["--", sys.executable, str(HERE / "exit_recorder.py"), str(record), ctx.binary, up.url,
             "--service", SERVICE, "--region", REGION, "--log-level", ctx.proxy_log_level]
    shown = " ".join(a if not a.startswith("AWS_SECRET") and not a.startswith("AWS_SESSION") else a.split("=")[0] + "=…"
                     for a in argv)
    log(f"  $ {shown}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    try:
        done = subprocess.run(argv, cwd=where, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=INSPECTOR_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ScenarioFailed(f"{label}: the Inspector did not finish within {INSPECTOR_TIMEOUT_S} s")
    out = done.stdout.decode("utf-8", errors="replace")
    err = done.stderr.decode("utf-8", errors="replace")
    (w / f"{label}.stdout").write_text(out)
    (w / f"{label}.stderr").write_text(err)
    try:
        parsed: Any = json.loads(out)
    except ValueError:
        parsed = out
    rec = json.loads(record.read_text()) if record.exists() else None
    return done.returncode, parsed, err, rec


async def sc_inspector_cli(ctx: Ctx) -> None:
    c = ctx.checks
    where = inspector_dir(ctx)
    creds = random_creds(token=True)
    up = Upstream(ctx.workdir, creds, "sse", ctx.verbose)
    up.start()
    log(f"  upstream {up.url} (mcp 1.30.0, SSE); Inspector {INSPECTOR_PACKAGE} from {where}")
    sample = "héllo wörld — 日本語 🚀 \"quoted\" \\ back"
    runs = [
        ("tools-list", ["--method", "tools/list"]),
        ("call-add", ["--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=2", "--tool-arg", "b=3"]),
        ("call-echo", ["--method", "tools/call", "--tool-name", "echo", "--tool-arg", f"text={sample}"]),
    ]
    try:
        results = {}
        for label, method in runs:
            status, parsed, err, rec = await anyio.to_thread.run_sync(
                lambda: run_inspector(ctx, where, up, creds, label, method))
            results[label] = parsed
            c.equal(status, 0, f"{label}: Inspector exit status")
            c.expect(isinstance(parsed, dict), f"{label}: Inspector printed one JSON object", short(parsed))
            c.expect(rec is not None and rec["exit_code"] == 0 and not rec["sigterm"],
                     f"{label}: proxy exited 0 by itself when the Inspector closed stdin", short(rec))
            leaked = [n for n, v in {"secret access key": creds.secret_key, "session token": creds.token}.items()
                      if v in err]
            c.expect(not leaked, f"{label}: Inspector stderr (with the proxy's debug log) shows no secret",
                     str(leaked))
        tools = results["tools-list"].get("tools", []) if isinstance(results["tools-list"], dict) else []
        names = {t.get("name") for t in tools}
        c.expect(EXPECTED_TOOLS <= names, "tools/list: every upstream tool in the JSON output",
                 f"missing {sorted(EXPECTED_TOOLS - names)}")
        add = next((t for t in tools if t.get("name") == "add"), {})
        c.equal({k: v.get("type") for k, v in add.get("inputSchema", {}).get("properties", {}).items()},
                {"a": "integer", "b": "integer"}, "tools/list: add's input schema")
        c.equal(results["call-add"], {"content": [{"type": "text", "text": "5"}], "structuredContent": {"result": 5},
                                      "isError": False}, "tools/call add a=2 b=3: the whole JSON result")
        echo = results["call-echo"] if isinstance(results["call-echo"], dict) else {}
        c.equal([x.get("text") for x in echo.get("content", [])], [sample],
                "tools/call echo: non-ASCII, quotes and backslash round trip")
        stats = await wait_for_delete(up)
        c.equal(stats["rejected"], {}, "verifier: rejected no request")
        total = sum(stats["accepted"].values())
        c.equal(stats["token_seen"], total, "session token sent (and verified) on every request")
        requests = stats["requests"]
        inits = [r for r in requests if r["jsonrpc_method"] == "initialize"]
        c.equal([(r["session_id"], r["status"]) for r in inits], [(None, 200)] * len(runs),
                "one initialize per Inspector run, without a session id, answered 200")
        later = [r for r in requests if r["jsonrpc_method"] != "initialize"]
        c.expect(all(r["protocol_version"] == PROTOCOL_VERSION and r["session_id"] for r in later),
                 f"every later request carries the session id and MCP-Protocol-Version {PROTOCOL_VERSION}",
                 short({(r["method"], r["protocol_version"]) for r in later}))
        called = [r["jsonrpc_method"] for r in requests if r["method"] == "POST"]
        # The Inspector lists the tools before a call too (to convert --tool-arg values by the schema).
        c.expect(called.count("tools/list") >= 1 and called.count("tools/call") == 2,
                 "the server saw the tools/list and exactly two tools/call",
                 f"{called.count('tools/list')} tools/list, {called.count('tools/call')} tools/call")
        c.equal(len([r for r in requests if r["method"] == "DELETE" and r["status"] == 200]), len(runs),
                "each run ended its session with a signed DELETE")
        unsigned = sorted({h for r in requests for h in r["unsigned_headers"]} - ALLOWED_UNSIGNED)
        c.expect(not unsigned, "every header is signed except user-agent/content-length", f"unsigned: {unsigned}")
    finally:
        up.stop()
        if c.failed:
            for label, _ in runs:
                path = ctx.workdir / f"{label}.stderr"
                if path.exists():
                    tail = "\n".join(path.read_text(errors="replace").splitlines()[-15:])
                    log(f"  --- {label}: Inspector stderr (tail) ---\n" + textwrap.indent(tail, "  | "))


# ---- verifier self-tests (no binary) -----------------------------------------

# sigv4-sigv4a.md §3: AgentCore request, verified there with aws-sigv4 and an
# independent implementation.
SPEC_PATH = ("/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime"
             "%2Fmcp_server-AbCdEfGhIj/invocations")
SPEC_CANONICAL = "\n".join([
    "POST",
    "/runtimes/arn%253Aaws%253Abedrock-agentcore%253Aus-east-1%253A123456789012%253Aruntime"
    "%252Fmcp_server-AbCdEfGhIj/invocations",
    "qualifier=DEFAULT",
    "accept:application/json, text/event-stream",
    "content-type:application/json",
    "host:bedrock-agentcore.us-east-1.amazonaws.com",
    "mcp-protocol-version:2025-06-18",
    "x-amz-date:20260101T000000Z",
    "x-amz-security-token:TOKEN123",
    "",
    "accept;content-type;host;mcp-protocol-version;x-amz-date;x-amz-security-token",
    "98e0961a7c1232f08d2f2187d13c4a1a22a0641e00e5dec0eca645d646077fab",
])


def spec_request(signature: str) -> tuple[list[tuple[str, str]], bytes]:
    headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-06-18"),
        ("host", "bedrock-agentcore.us-east-1.amazonaws.com"),
        ("x-amz-date", "20260101T000000Z"),
        ("x-amz-security-token", "TOKEN123"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock-agentcore/aws4_request, "
         "SignedHeaders=accept;content-type;host;mcp-protocol-version;x-amz-date;x-amz-security-token, "
         f"Signature={signature}"),
    ]
    return headers, b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


def botocore_sign(creds: Creds, method: str, url: str, headers: dict[str, str], body: bytes, when: dt.datetime,
                  region: str = REGION, service: str = SERVICE) -> list[tuple[str, str]]:
    """Sign with botocore's own add_auth at time `when`; return the wire headers."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    auth = SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token), service, region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        auth.add_auth(request)
    host = url.split("/")[2]
    return [("host", host)] + [(k, v) for k, v in request.headers.items()]


async def sc_selftest_vectors(ctx: Ctx) -> None:
    c = ctx.checks
    spec_exp = Expectation("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN123", "us-east-1",
                           "bedrock-agentcore")
    spec_now = dt.datetime(2026, 1, 1, 0, 1, 0, tzinfo=dt.timezone.utc)
    headers, body = spec_request("a3a9a5d3dece303b51330c328b0233c751a642bd87ff4b0f2f5790fd6134ea19")
    v = verify(spec_exp, "POST", SPEC_PATH, "qualifier=DEFAULT", headers, body, spec_now)
    c.expect(v.ok, "spec §3 AgentCore vector accepted", f"{v.error_type}: {v.message}")
    c.equal(v.canonical_request, SPEC_CANONICAL, "spec §3 canonical request (double-encoded path) matches botocore's")
    headers, body = spec_request("1e58a77a97658d1b86c430f4797588301c397fab42fc1af51403db5d9f8779a3")
    v = verify(spec_exp, "POST", SPEC_PATH, "qualifier=DEFAULT", headers, body, spec_now)
    c.equal(v.error_type, "InvalidSignatureException", "spec §3 single-encoded signature rejected")

    creds = random_creds(token=True)
    exp = Expectation(creds.access_key, creds.secret_key, creds.token, REGION, SERVICE)
    now = dt.datetime.now(dt.timezone.utc)
    url = "http://127.0.0.1:8123/mcp"
    base_headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-session-id": "0123456789abcdef",
        "mcp-protocol-version": PROTOCOL_VERSION,
    }
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                       "params": {"name": "echo", "arguments": {"text": UNICODE_SAMPLE}}},
                      ensure_ascii=False).encode()

    def run(headers, body=body, method="POST", path="/mcp", query="", e=exp, at=now):
        return verify(e, method, path, query, headers, body, at)

    good = botocore_sign(creds, "POST", url, base_headers, body, now)
    v = run(good)
    c.expect(v.ok, "botocore-signed request accepted", f"{v.error_type}: {v.message}")
    c.equal(v.unsigned_headers, [], "botocore-signed request: nothing unsigned")
    v = run(good, method="DELETE", body=b"")
    c.equal(v.error_type, "InvalidSignatureException", "method changed -> rejected")

    def replace(headers, name, value):
        return [(k, value if k.lower() == name else v) for (k, v) in headers]

    def drop(headers, name):
        return [(k, v) for (k, v) in headers if k.lower() != name]

    auth = next(v for k, v in good if k.lower() == "authorization")
    sig = auth.rsplit("=", 1)[1]
    flipped = auth[: -len(sig)] + ("0" if sig[0] != "0" else "1") + sig[1:]
    other = random_creds(token=True)
    cases = [
        ("body tampered", run(good, body=body.replace(b"echo", b"ech0")), "InvalidSignatureException"),
        ("path tampered", run(good, path="/mcp2"), "InvalidSignatureException"),
        ("query added", run(good, query="x=1"), "InvalidSignatureException"),
        ("signed header value changed", run(replace(good, "mcp-session-id", "fedcba9876543210")),
         "InvalidSignatureException"),
        ("signature flipped", run(replace(good, "authorization", flipped)), "InvalidSignatureException"),
        ("wrong secret", run(botocore_sign(Creds(creds.access_key, other.secret_key, creds.token), "POST", url,
                                           base_headers, body, now)), "InvalidSignatureException"),
        ("unknown access key", run(botocore_sign(Creds(other.access_key, creds.secret_key, creds.token), "POST",
                                                 url, base_headers, body, now)), "UnrecognizedClientException"),
        ("no authorization", run(drop(good, "authorization")), "MissingAuthenticationTokenException"),
        ("malformed authorization", run(replace(good, "authorization", "AWS4-HMAC-SHA256 Credential=x")),
         "IncompleteSignatureException"),
        ("token missing", run(botocore_sign(Creds(creds.access_key, creds.secret_key, None), "POST", url,
                                            base_headers, body, now)), "UnrecognizedClientException"),
        ("token differs", run(botocore_sign(Creds(creds.access_key, creds.secret_key, other.token), "POST", url,
                                            base_headers, body, now)), "UnrecognizedClientException"),
        ("token sent but none expected", run(good, e=Expectation(creds.access_key, creds.secret_key, None, REGION,
                                                                 SERVICE)), "UnrecognizedClientException"),
        ("token sent but not signed", run(botocore_sign(Creds(creds.access_key, creds.secret_key, None), "POST",
                                                        url, base_headers, body, now)
                                          + [("x-amz-security-token", creds.token)]), "InvalidSignatureException"),
        ("10 minutes old", run(botocore_sign(creds, "POST", url, base_headers, body,
                                             now - dt.timedelta(minutes=10))), "InvalidSignatureException"),
        ("10 minutes ahead", run(botocore_sign(creds, "POST", url, base_headers, body,
                                               now + dt.timedelta(minutes=10))), "InvalidSignatureException"),
        ("wrong region", run(botocore_sign(creds, "POST", url, base_headers, body, now, region="us-east-1")),
         "InvalidSignatureException"),
        ("wrong service", run(botocore_sign(creds, "POST", url, base_headers, body, now, service="execute-api")),
         "InvalidSignatureException"),
        ("scope date differs from x-amz-date",
         run(replace(good, "x-amz-date", (now - dt.timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")),
             at=now - dt.timedelta(days=1)), "InvalidSignatureException"),
    ]
    for what, verdict, expected in cases:
        c.expect(verdict.error_type == expected, f"{what} -> {expected}",
                 f"found {verdict.error_type}: {verdict.message[:200]}")

    # host must be signed: re-sign by hand without host in the list.
    manual = [(k, v) for (k, v) in good if k.lower() != "authorization"]
    request = AWSRequest(method="POST", url=url, data=body)
    for k, val in manual:
        if k != "host":
            request.headers[k] = val
    request.context["timestamp"] = dict(manual)["X-Amz-Date"]
    signer = SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token), SERVICE, REGION)
    canonical = signer.canonical_request(request)  # botocore would add host; we then lie in SignedHeaders
    names = sorted(k.lower() for k, _ in manual if k != "host")
    fake = (f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, SignedHeaders={';'.join(names)}, "
            f"Signature={signer.signature(signer.string_to_sign(request, canonical), request)}")
    v = run(manual + [("authorization", fake)])
    c.expect(v.error_type == "InvalidSignatureException" and "host" in v.message, "host unsigned -> rejected",
             f"{v.error_type}: {v.message}")

    extra = good + [("x-unsigned-extra", "1")]
    v = run(extra)
    c.expect(v.ok and v.unsigned_headers == ["x-unsigned-extra"], "unsigned extra header accepted but recorded",
             f"{v.error_type}, unsigned={v.unsigned_headers}")


def http_call(method: str, url: str, headers: list[tuple[str, str]], body: bytes | None):
    request = urllib.request.Request(url, data=body, method=method)
    for k, v in headers:
        if k.lower() != "host":  # urllib sends host itself, same value
            request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            # An SSE answer ends after the one response (the SDK closes it).
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def sc_selftest_http(ctx: Ctx) -> None:
    c = ctx.checks
    creds = random_creds(token=True)
    up = Upstream(ctx.workdir, creds, "json", ctx.verbose)
    up.start()
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                                      "clientInfo": {"name": "selftest", "version": "1"}}}).encode()
        hdrs = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
        now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
        status, rh, rb = await anyio.to_thread.run_sync(
            http_call, "POST", up.url, botocore_sign(creds, "POST", up.url, hdrs, body, now()), body)
        c.equal(status, 200, "botocore-signed initialize over HTTP: status")
        sid = {k.lower(): v for k, v in rh.items()}.get("mcp-session-id")
        c.expect(bool(sid), "botocore-signed initialize over HTTP: session id issued")
        c.equal(json.loads(rb).get("result", {}).get("protocolVersion"), PROTOCOL_VERSION,
                "botocore-signed initialize over HTTP: result")

        wrong = Creds(creds.access_key, random_creds(False).secret_key, creds.token)
        status, rh, rb = await anyio.to_thread.run_sync(
            http_call, "POST", up.url, botocore_sign(wrong, "POST", up.url, hdrs, body, now()), body)
        rh = {k.lower(): v for k, v in rh.items()}
        c.equal(status, 403, "wrong secret over HTTP: 403")
        c.equal(rh.get("x-amzn-errortype"), "InvalidSignatureException", "wrong secret over HTTP: x-amzn-ErrorType")
        c.equal(json.loads(rb).get("__type"), "InvalidSignatureException", "wrong secret over HTTP: __type in body")

        status, rh, rb = await anyio.to_thread.run_sync(http_call, "POST", up.url, list(hdrs.items()), body)
        c.equal(status, 403, "unsigned over HTTP: 403")
        c.equal(json.loads(rb).get("__type"), "MissingAuthenticationTokenException", "unsigned over HTTP: __type")

        del_headers = {"mcp-session-id": sid or "", "mcp-protocol-version": PROTOCOL_VERSION}
        status, _, _ = await anyio.to_thread.run_sync(
            http_call, "DELETE", up.url, botocore_sign(creds, "DELETE", up.url, del_headers, b"", now()), None)
        c.equal(status, 200, "botocore-signed DELETE over HTTP: status")

        stats = up.stats()
        c.equal(stats["accepted"], {"POST": 1, "DELETE": 1}, "stats: accepted by method")
        c.equal(stats["rejected"], {"POST": 2}, "stats: rejected by method")
        c.equal(stats["token_seen"], 3, "stats: token seen on the signed requests")
        c.equal(stats["issued_session_ids"], [sid], "stats: issued session id recorded")
    finally:
        up.stop()

    # The sse-resumable fixture really opens each POST stream with a priming
    # event (id + empty data + retry), so the scenario using it tests that.
    workdir = ctx.workdir / "resumable"
    workdir.mkdir()
    up = Upstream(workdir, creds, "sse-resumable", ctx.verbose)
    up.start()
    try:
        status, rh, rb = await anyio.to_thread.run_sync(
            http_call, "POST", up.url, botocore_sign(creds, "POST", up.url, hdrs, body, now()), body)
        c.equal(status, 200, "sse-resumable initialize over HTTP: status")
        first_event = rb.replace(b"\r\n", b"\n").split(b"\n\n")[0].decode()
        fields = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "") for line in first_event.split("\n"))
        c.expect(fields.get("id") and fields.get("data") == "" and fields.get("retry") == "1500",
                 "sse-resumable: stream opens with a priming event (id, empty data, retry)", short(first_event))
    finally:
        up.stop()


async def sc_session_expiry(ctx: Ctx) -> None:
    """Opt-in: the server ends the session; the next request gets HTTP 404 and
    the proxy is expected to re-initialize on its own (MCP transport spec 2025-06-18,
    "Session Management") and retry, so the client
    never notices."""
    c = ctx.checks
    creds = random_creds(token=True)
    env = base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token)
    up = Upstream(ctx.workdir, creds, "sse", ctx.verbose)
    up.start()
    proxy = ProxySession(ctx, up.url, env, [])
    log(f"  upstream {up.url}; proxy: {proxy.command_line}")
    try:
        try:
            with anyio.fail_after(90):
                async with AsyncExitStack() as stack:
                    session = await proxy.open(stack)
                    step("initialize, echo")
                    await session.initialize()
                    c.equal(text_of(await session.call_tool("echo", {"text": "before"})), "before", "echo before")
                    step("expire the session on the server")
                    c.equal(text_of(await session.call_tool("expire_session", {})), "expiring", "expire_session")
                    await anyio.sleep(1.0)
                    step("echo after expiry (expects 404 -> re-initialize -> retry inside the proxy)")
                    c.equal(text_of(await session.call_tool("echo", {"text": "after"})), "after", "echo after expiry")
                    c.equal(text_of(await session.call_tool("add", {"a": 1, "b": 2})), "3", "add after expiry")
        except Exception as e:
            describe_failure(c, e, 90)
        stats = await wait_for_delete(up)
        issued = stats["issued_session_ids"]
        c.equal(len(issued), 2, "server issued a second session id after the first expired")
        requests = stats["requests"]
        c.equal([r["status"] for r in requests if r["status"] == 404 and r["method"] == "POST"], [404],
                "exactly one POST met the 404")
        inits = [r for r in requests if r["jsonrpc_method"] == "initialize"]
        c.equal(len(inits), 2, "the proxy sent a second initialize")
        c.expect(all(r["session_id"] is None for r in inits), "re-initialize carries no session id")
        if len(issued) == 2:
            deletes = [r["session_id"] for r in requests if r["method"] == "DELETE"]
            c.equal(deletes, [issued[1]], "DELETE names the new session")
        c.equal(stats["rejected"], {}, "verifier: rejected no request")
        check_exit(c, proxy)
    finally:
        up.stop()
        if c.failed:
            log("  --- proxy stderr (tail) ---\n" + textwrap.indent(proxy.stderr_tail(), "  | "))


async def sc_shutdown_inflight(ctx: Ctx) -> None:
    """Opt-in: stdin closes while a long tool call is still in flight. The
    brief says stdin EOF means DELETE then exit 0; the SDK client allows 2 s
    before SIGTERM (and the spec's advice for SIGTERM is the same: DELETE, exit)."""
    c = ctx.checks
    creds = random_creds(token=True)
    env = base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token)
    up = Upstream(ctx.workdir, creds, "sse", ctx.verbose)
    up.start()
    proxy = ProxySession(ctx, up.url, env, [])
    log(f"  upstream {up.url}; proxy: {proxy.command_line}")
    try:
        try:
            with anyio.fail_after(60):
                async with AsyncExitStack() as stack:
                    session = await proxy.open(stack)
                    await session.initialize()
                    step("start sleep(20), abandon it after 0.5 s, close stdin")
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(session.call_tool, "sleep", {"seconds": 20, "tag": "abandoned"})
                        await anyio.sleep(0.5)
                        tg.cancel_scope.cancel()
        except Exception as e:
            describe_failure(c, e, 60)
        stats = await wait_for_delete(up)
        sid = stats["issued_session_ids"][0] if stats["issued_session_ids"] else None
        deletes = [r["session_id"] for r in stats["requests"] if r["method"] == "DELETE"]
        c.expect(bool(sid) and deletes == [sid], "signed DELETE for the session although a call was in flight",
                 f"DELETEs seen: {len(deletes)}")
        check_exit(c, proxy)
    finally:
        up.stop()
        if c.failed:
            log("  --- proxy stderr (tail) ---\n" + textwrap.indent(proxy.stderr_tail(15), "  | "))


SCENARIOS = [
    Scenario("selftest-vectors", "verifier (botocore) accepts the spec vector and botocore's own signatures, "
             "rejects every tampering", sc_selftest_vectors, needs_binary=False),
    Scenario("selftest-http", "verifier middleware over real HTTP: 200 when signed, AWS-style 403 otherwise",
             sc_selftest_http, needs_binary=False),
    Scenario("env-token-sse", "env credentials + session token; SSE answers; full battery", sc_env_token_sse),
    Scenario("env-token-json", "env credentials + session token; JSON answers; full battery", sc_env_token_json),
    Scenario("env-no-token-resumable", "env credentials, no token; SSE with priming events (event store)",
             sc_env_no_token),
    Scenario("profile-flag", "credentials file profile via --profile (with token); no AWS_* keys in env",
             sc_profile_flag),
    Scenario("profile-env", "config file profile via AWS_PROFILE (no token); no AWS_* keys in env", sc_profile_env),
    Scenario("query-string", "endpoint URL with ?qualifier=DEFAULT is signed with its query", sc_query_string),
    Scenario("wrong-secret", "wrong secret: verifier rejects, client gets a JSON-RPC error mentioning 403",
             sc_wrong_secret),
    Scenario("session-expiry", "server ends the session: proxy re-initializes after the 404 and retries",
             sc_session_expiry),
    Scenario("shutdown-inflight", "stdin closes during a long call: proxy still sends DELETE and exits 0 "
             "within the SDK's 2 s grace", sc_shutdown_inflight),
    Scenario("pair-v1-v1", "mcp 1.x client -> mcp 1.x server: the pairing battery on 2025-11-25", sc_pair_v1_v1),
    Scenario("pair-v1-client-v2-server", "mcp 1.x client -> mcp 2.x server: the battery on 2025-11-25 "
             "(the dual-era server serves the handshake)", sc_pair_v1_client_v2_server),
    Scenario("pair-v2-client-v1-server", "mcp 2.x client (auto) -> mcp 1.x server: server/discover probe refused, "
             "falls back to initialize; the battery on 2025-11-25", sc_pair_v2_client_v1_server),
    Scenario("pair-v2-v2", "mcp 2.x client (auto) -> mcp 2.x server: the battery on 2026-07-28 (routing headers, "
             "MRTR, subscriptions/listen, cancel by closing the stream, no notification POSTed)", sc_pair_v2_v2),
    Scenario("inspector-cli", "MCP Inspector CLI (npm) with mcp-sigv4 as its stdio server: tools/list, "
             "tools/call add and echo; JSON output asserted", sc_inspector_cli),
]
from scenarios_credentials import SCENARIOS as _CREDENTIAL_SCENARIOS  # noqa: E402  (credentials rotating mid-session)
SCENARIOS += _CREDENTIAL_SCENARIOS
from scenarios_sigv4a import SCENARIOS as _SIGV4A_SCENARIOS  # noqa: E402  (SigV4A-only upstream)
SCENARIOS += _SIGV4A_SCENARIOS
from scenarios_setup import SCENARIOS as _SETUP_SCENARIOS  # noqa: E402  (mcp-sigv4 config / doctor)
SCENARIOS += _SETUP_SCENARIOS
from scenarios_profiles import SCENARIOS as _PROFILE_SCENARIOS  # noqa: E402  (several AWS profiles)
SCENARIOS += _PROFILE_SCENARIOS


async def run_all(selected: list[Scenario], binary: str | None, keep: bool, verbose: bool, level: str,
                  python_v2: str | None = None, inspector: str | None = None) -> int:
    root = Path(tempfile.mkdtemp(prefix="mcp-sigv4-interop-"))
    results: list[Checks] = []
    for sc in selected:
        c = Checks(sc.name)
        log(f"== {sc.name}: {sc.about}")
        workdir = root / sc.name
        workdir.mkdir()
        started = time.monotonic()
        try:
            await sc.run(Ctx(c, workdir, binary, verbose, level, python_v2, inspector))
        except ScenarioFailed as e:
            if not c.failed:
                c.failed.append(f"stopped: {e}")
        except Exception as e:  # a bug in the suite or an unexpected SDK error
            c.failed.append(f"unexpected {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
        status = "PASS" if not c.failed else "FAIL"
        log(f"   {status} {sc.name}: {len(c.passed)} checks passed, {len(c.failed)} failed "
            f"({time.monotonic() - started:.1f} s)")
        results.append(c)

    log("\n== summary")
    for c in results:
        log(f"   {'PASS' if not c.failed else 'FAIL'} {c.name:24} {len(c.passed):3} checks")
        for f in c.failed:
            log(f"        - {f}")
    n_fail = sum(1 for c in results if c.failed)
    n_pass = len(results) - n_fail
    log(f"interop: {n_pass} passed, {n_fail} failed")
    if keep or n_fail:
        log(f"(work files kept in {root})")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if n_fail == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", help="path to the mcp-sigv4 binary")
    parser.add_argument("--scenario", action="append", default=[], help="run only this scenario (repeatable)")
    parser.add_argument("--selftest-only", action="store_true", help="run only the verifier self-tests")
    parser.add_argument("--list", action="store_true", help="list scenarios and exit")
    parser.add_argument("--keep", action="store_true", help="keep work files (logs, stats) even on success")
    parser.add_argument("--verbose", action="store_true", help="upstream logs every verifier decision")
    parser.add_argument("--proxy-log-level", default="debug", help="--log-level passed to the binary")
    parser.add_argument("--python-v2", default=str(REPO / "target" / "interop-venv-v2" / "bin" / "python"),
                        help="python of the mcp 2.x environment (requirements-v2.txt), for the pair-* scenarios")
    parser.add_argument("--inspector", default=str(HERE / "inspector"),
                        help="directory holding the Inspector's package.json and node_modules (inspector-cli)")
    args = parser.parse_args()

    if args.list:
        for sc in SCENARIOS:
            log(f"{sc.name:24} {sc.about}")
        return 0
    selected = [sc for sc in SCENARIOS if sc.name in args.scenario or (not args.scenario and sc.default)]
    unknown = set(args.scenario) - {sc.name for sc in SCENARIOS}
    if unknown:
        print(f"unknown scenario(s): {sorted(unknown)}; see --list", file=sys.stderr)
        return 2
    if args.selftest_only:
        selected = [sc for sc in selected if not sc.needs_binary]
    elif any(sc.needs_binary for sc in selected):
        if not args.binary:
            print("expected --binary PATH (or --selftest-only)", file=sys.stderr)
            return 2
        if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
            print(f"expected an executable at --binary, found nothing runnable at {args.binary!r}", file=sys.stderr)
            return 2
        args.binary = os.path.abspath(args.binary)
    return asyncio.run(run_all(selected, args.binary, args.keep, args.verbose, args.proxy_log_level,
                               args.python_v2, args.inspector))


if __name__ == "__main__":
    sys.exit(main())
