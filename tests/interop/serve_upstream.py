"""Upstream for the `mcp-sigv4 serve` scenarios (serve_clients.py): the
interop suite's FastMCP server (upstream.py, mcp 1.30.0) behind the same
botocore SigV4 verifier, with a few tools more that only a multi-session HTTP
front end needs:

- `whoami(tag)`: the tag and this call's upstream `Mcp-Session-Id`, so a
  client can tell which upstream session its call travelled in;
- `gated_progress(gate)`: sends one progress notification, then holds its
  result until `ack(gate)` is called (by the client, once it has *seen* that
  notification) or 20 s pass; answers `acked <gate>` or `no ack <gate>`. A
  front end that buffers a call's stream until the result cannot pass it;
- `ack(gate)`: releases the gate;
- `hold(tag, seconds)`: sleeps (at most 30 s) and records `hold-start`,
  `hold-cancelled` or `hold-done` server events with times, so a test sees
  whether a call was cancelled upstream and when.

Run: python serve_upstream.py CONFIG.json (upstream.py's config; "verify":
false serves without the verifier, for trying a client against it directly).
Prints `READY <port>`; stops on SIGTERM, end of stdin or max_lifetime_s.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import threading
import time

import anyio
import uvicorn
from mcp.server.fastmcp import Context

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream import build_server  # noqa: E402
from verifier import Expectation, Recorder, SigV4VerifierMiddleware  # noqa: E402

GATE_WAIT_S = 20.0


def add_serve_tools(mcp, recorder: Recorder) -> None:
    gates: dict[str, asyncio.Event] = {}

    def event(kind: str, **fields) -> None:
        recorder.data.setdefault("events", []).append({"event": kind, "t": time.time(), **fields})
        recorder.flush()

    def session_of(ctx: Context) -> str | None:
        request = ctx.request_context.request
        return request.headers.get("mcp-session-id") if request is not None else None

    @mcp.tool()
    def whoami(tag: str, ctx: Context) -> str:
        """Return `tag` and the upstream MCP session id this call arrived in, as JSON."""
        return json.dumps({"tag": tag, "session": session_of(ctx)})

    @mcp.tool()
    async def gated_progress(gate: str, ctx: Context) -> str:
        """One progress notification, then wait (at most 20 s) for ack(gate)."""
        released = gates.setdefault(gate, asyncio.Event())
        await ctx.report_progress(1, 2, f"waiting for ack {gate}")
        event("progress-sent", gate=gate, session=session_of(ctx))
        try:
            await asyncio.wait_for(released.wait(), GATE_WAIT_S)
        except asyncio.TimeoutError:
            event("gate-timeout", gate=gate)
            return f"no ack {gate}"
        event("gate-released", gate=gate)
        return f"acked {gate}"

    @mcp.tool()
    def ack(gate: str) -> str:
        """Release gated_progress(gate)."""
        gates.setdefault(gate, asyncio.Event()).set()
        event("ack", gate=gate)
        return f"ack {gate}"

    @mcp.tool()
    async def hold(tag: str, seconds: float, ctx: Context) -> str:
        """Sleep `seconds` (at most 30), recording start, cancellation or completion."""
        sid = session_of(ctx)
        event("hold-start", tag=tag, session=sid)
        try:
            await anyio.sleep(min(max(seconds, 0.0), 30.0))
        except BaseException:
            event("hold-cancelled", tag=tag, session=sid)
            raise
        event("hold-done", tag=tag, session=sid)
        return f"held {tag}"


async def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    recorder = Recorder(cfg["stats_file"])
    mcp = build_server(cfg.get("mode", "sse"), recorder)
    add_serve_tools(mcp, recorder)
    app = mcp.streamable_http_app()
    if cfg.get("verify", True):
        exp = Expectation(access_key=cfg["access_key"], secret_key=cfg["secret_key"], token=cfg.get("token"),
                          region=cfg["region"], service=cfg["service"])
        app = SigV4VerifierMiddleware(app, exp, recorder,
                                      log=(lambda m: print(m, file=sys.stderr, flush=True)) if cfg.get("verbose") else None)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2,
                                           access_log=False))
    loop = asyncio.get_running_loop()

    def stop(*_):
        server.should_exit = True

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except Exception:
            pass
        loop.call_soon_threadsafe(stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.call_later(float(cfg.get("max_lifetime_s", 600)), stop)

    async def announce():
        for _ in range(500):
            if server.started:
                print(f"READY {port}", flush=True)
                return
            await asyncio.sleep(0.01)
        print("serve upstream: server did not start within 5 s", file=sys.stderr, flush=True)
        stop()

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=[sock])
    announcer.cancel()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: serve_upstream.py CONFIG.json", file=sys.stderr)
        sys.exit(2)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(asyncio.run(main(sys.argv[1])))
