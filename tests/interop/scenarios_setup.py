"""Interop scenarios: setting up a client with `mcp-sigv4 config`.

  doctor-pass     `mcp-sigv4 doctor` against the verifying upstream, with an
                  STS stub on 127.0.0.1 that checks the GetCallerIdentity
                  signature with botocore: every step passes (exit 0), the
                  identity is the stub's, and the upstream saw a signed
                  initialize, tools/list (its real tools) and DELETE.
  config-launch   for each client `mcp-sigv4 config` knows (claude-desktop,
                  claude-code, vscode, cursor, kiro, amazon-q): run
                  `mcp-sigv4 config <client> <upstream> --service … --region …
                  --name interop`, read the command and arguments out of what
                  it printed the way that client reads its configuration (the
                  JSON file's server entry; for claude-code, the words of the
                  `claude mcp add … -- <command> <args…>` line as a shell
                  splits them), and launch exactly that through the official
                  SDK's stdio client against the verifying upstream:
                  initialize, tools/list, tools/call add — every request
                  signed as botocore computes it.

Hooked into run_interop.py after its SCENARIOS list; the helpers (Scenario,
Ctx, Upstream, Checks, ...) are run_interop's own.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
import subprocess
import sys
import threading
import urllib.parse
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_main = sys.modules.get("__main__")
if _main is not None and Path(getattr(_main, "__file__", "") or "").name == "run_interop.py":
    ri = _main
else:
    import run_interop as ri  # noqa: E402

import anyio  # noqa: E402
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

Checks = ri.Checks
Ctx = ri.Ctx
Scenario = ri.Scenario
log = ri.log
short = ri.short

CLIENTS = ["claude-desktop", "claude-code", "vscode", "cursor", "kiro", "amazon-q"]
NAME = "interop"


def launch_spec(client: str, printed: str) -> tuple[str, list[str]]:
    """The command and arguments the client would start, read from what
    `mcp-sigv4 config <client>` printed, as that client reads it."""
    if client == "claude-code":
        words = shlex.split(printed.strip())
        # claude mcp add --scope user <name> -- <command> <args...>
        if words[:4] != ["claude", "mcp", "add", "--scope"] or "--" not in words:
            raise ValueError(f"not a `claude mcp add` line: {printed!r}")
        rest = words[words.index("--") + 1:]
        return rest[0], rest[1:]
    doc = json.loads(printed)
    servers = doc["servers"] if client == "vscode" else doc["mcpServers"]
    entry = servers[NAME]
    if client == "vscode" and entry.get("type") != "stdio":
        raise ValueError(f"vscode entry without \"type\": \"stdio\": {entry}")
    return entry["command"], list(entry["args"])


async def sc_config_launch(ctx: Ctx) -> None:
    c = ctx.checks
    creds = ri.random_creds(token=True)
    up = ri.Upstream(ctx.workdir, creds, "sse", ctx.verbose)
    up.start()
    env = ri.base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token)
    try:
        for client in CLIENTS:
            given = [up.url, "--service", ri.SERVICE, "--region", ri.REGION]
            out = subprocess.run([ctx.binary, "config", client, *given, "--name", NAME],
                                 env=env, capture_output=True, text=True, timeout=20)
            if not c.expect(out.returncode == 0, f"{client}: `config` exits 0",
                            f"exit {out.returncode}: {short(out.stderr, 300)}"):
                continue
            c.expect(out.stderr.startswith("mcp-sigv4: "), f"{client}: where to put it goes to stderr",
                     short(out.stderr))
            try:
                command, args = launch_spec(client, out.stdout)
            except (ValueError, KeyError, IndexError) as e:
                c.expect(False, f"{client}: the output has the client's shape", f"{e}: {short(out.stdout, 300)}")
                continue
            c.equal(Path(command).resolve(), Path(ctx.binary).resolve(),
                    f"{client}: the command is this binary's absolute path")
            c.expect(Path(command).is_absolute(), f"{client}: the command path is absolute", command)
            c.equal(args, given, f"{client}: the arguments are the ones given, in order")
            params = StdioServerParameters(command=command, args=args, env=env)
            errlog_path = ctx.workdir / f"{client}.stderr"
            try:
                with anyio.fail_after(60):
                    async with AsyncExitStack() as stack:
                        errlog = stack.enter_context(open(errlog_path, "w"))
                        read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
                        session = await stack.enter_async_context(
                            ClientSession(read, write, read_timeout_seconds=ri.REQUEST_TIMEOUT))
                        init = await session.initialize()
                        c.equal(init.serverInfo.name, "mcp-sigv4-interop", f"{client}: initialize through the printed command")
                        tools = {t.name for t in (await session.list_tools()).tools}
                        c.expect(ri.EXPECTED_TOOLS <= tools, f"{client}: tools/list", short(sorted(tools)))
                        result = await session.call_tool("add", {"a": 2, "b": 40})
                        c.equal(ri.text_of(result), "42", f"{client}: tools/call add")
            except Exception as e:
                ri.describe_failure(c, e, 60)
                log("  --- proxy stderr ---\n" + errlog_path.read_text(errors="replace")[-2000:])
        stats = await ri.wait_for_delete(up)
        c.equal(stats["rejected"], {}, "the verifier refused no request")
        c.expect(stats["accepted"].get("POST", 0) >= 3 * len(CLIENTS),
                 "every client's session reached the server signed", short(stats["accepted"]))
        c.expect(stats["accepted"].get("DELETE", 0) >= len(CLIENTS),
                 "every session ended with a signed DELETE", short(stats["accepted"]))
    finally:
        up.stop()


IDENTITY_ARN = "arn:aws:sts::123456789012:assumed-role/Interop/doctor"


def sts_stub(creds, calls: list) -> ThreadingHTTPServer:
    """GetCallerIdentity on 127.0.0.1, its signature checked by the verifier
    (botocore) for service sts in the suite's region."""
    from verifier import Expectation, verify

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            raw_path, _, query = self.path.partition("?")
            form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            exp = Expectation(creds.access_key, creds.secret_key, creds.token, ri.REGION, "sts")
            verdict = verify(exp, "POST", raw_path, query, list(self.headers.items()), body,
                             dt.datetime.now(dt.timezone.utc))
            calls.append((form.get("Action"), verdict.error_type))
            if verdict.error_type is None and form.get("Action") == "GetCallerIdentity":
                status, text = 200, (
                    "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                    f"<Arn>{IDENTITY_ARN}</Arn><UserId>AROAEXAMPLE:doctor</UserId>"
                    "<Account>123456789012</Account></GetCallerIdentityResult>"
                    "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
                    "</GetCallerIdentityResponse>")
            else:
                status, text = 403, (
                    f"<ErrorResponse><Error><Code>{verdict.error_type or 'InvalidAction'}</Code>"
                    f"<Message>{verdict.message}</Message></Error></ErrorResponse>")
            data = text.encode()
            self.send_response(status)
            self.send_header("content-type", "text/xml")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def sc_doctor_pass(ctx: Ctx) -> None:
    c = ctx.checks
    creds = ri.random_creds(token=True)
    up = ri.Upstream(ctx.workdir, creds, "sse", ctx.verbose)
    up.start()
    calls: list = []
    sts = sts_stub(creds, calls)
    env = ri.base_child_env(ctx.workdir)
    env.update(AWS_ACCESS_KEY_ID=creds.access_key, AWS_SECRET_ACCESS_KEY=creds.secret_key,
               AWS_SESSION_TOKEN=creds.token, AWS_REGION=ri.REGION,
               AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{sts.server_address[1]}")
    try:
        out = subprocess.run([ctx.binary, "doctor", up.url, "--service", ri.SERVICE, "--region", ri.REGION,
                              "--json"], env=env, capture_output=True, text=True, timeout=90)
        c.equal(out.returncode, 0, "doctor exits 0 when every check passes")
        try:
            report = json.loads(out.stdout)
        except ValueError:
            c.expect(False, "--json prints one JSON document", short(out.stdout, 400))
            return
        steps = {s["name"]: s for s in report["steps"]}
        c.equal(list(steps), ["credentials", "identity", "signing", "dns", "tcp", "tls", "initialize", "tools/list"],
                "the eight steps, in order")
        c.equal({n: s["status"] for n, s in steps.items() if n != "tls"},
                {n: "pass" for n in steps if n != "tls"}, "every step passes (tls: plain http to loopback)")
        c.expect(IDENTITY_ARN in steps["identity"]["detail"], "identity names the stub's ARN",
                 short(steps["identity"]["detail"]))
        c.equal(calls, [("GetCallerIdentity", None)], "one GetCallerIdentity, its signature accepted by botocore")
        c.expect("mcp-sigv4-interop" in steps["initialize"]["detail"], "initialize names the server",
                 short(steps["initialize"]["detail"]))
        listed = steps["tools/list"]["detail"].split(" tools")[0]
        c.expect(listed.isdigit() and int(listed) >= len(ri.EXPECTED_TOOLS),
                 "tools/list counts the server's tools", short(steps["tools/list"]["detail"]))
        c.expect(creds.secret_key not in out.stdout + out.stderr and creds.token not in out.stdout + out.stderr,
                 "no secret in the report or the log")
        stats = await ri.wait_for_delete(up)
        # The one unsigned request is the probe of the tls step (for the
        # server's clock); everything else was signed.
        c.equal(stats["rejected"], {"GET": 1}, "the verifier refused only doctor's unsigned probe")
        c.expect(stats["accepted"].get("POST", 0) >= 3, "initialize, initialized and tools/list were signed",
                 short(stats["accepted"]))
        c.expect(stats["accepted"].get("DELETE", 0) == 1, "the session ended with one signed DELETE",
                 short(stats["accepted"]))
    finally:
        sts.shutdown()
        up.stop()


SCENARIOS = [
    Scenario("doctor-pass", "`mcp-sigv4 doctor --json` against the verifying upstream and a botocore-checked "
             "STS stub: every step passes, exit 0, signed MCP session ended with a DELETE", sc_doctor_pass),
    Scenario("config-launch", "`mcp-sigv4 config <client>` for all six clients; each printed command launched "
             "by the SDK's stdio client: initialize, tools/list, tools/call, every signature verified",
             sc_config_launch),
]
