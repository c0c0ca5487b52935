"""Upstream MCP server for the interop suite: the official MCP Python SDK
(FastMCP) over Streamable HTTP, stateful, behind the SigV4 verifier.

Run: python upstream.py CONFIG.json

CONFIG.json holds the expected credentials and how to serve:
    {"access_key": ..., "secret_key": ..., "token": null | "...",
     "region": ..., "service": ..., "mode": "sse" | "json" | "sse-resumable",
     "stats_file": "/path/stats.json", "max_lifetime_s": 600,
     "sig_accept": "v4" | "v4a" | "any", "region_set": null | "..."}

sig_accept (default "v4") is what the verifier accepts: "v4a" makes this a
SigV4A-only endpoint that answers every SigV4 request 403
InvalidSignatureException; region_set (default: the region) is the
X-Amz-Region-Set a SigV4A request must carry.

modes: "sse" answers every POST with an SSE stream (the SDK default); "json"
answers with one application/json body (json_response=True); "sse-resumable"
adds an in-memory event store, so each POST stream opens with a priming event
(an `id:` with empty `data:` and a `retry:` field, MCP 2025-11-25).

It binds 127.0.0.1 on a free port and prints one line `READY <port>` to stdout
once it accepts connections. It stops on SIGTERM/SIGINT, when its stdin
reaches end of file (the driver died), or after max_lifetime_s.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import threading
from itertools import count

import anyio
import uvicorn
from mcp import types
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.shared.message import ServerMessageMetadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures import UNICODE_SAMPLE, big_text  # noqa: E402
from verifier import Expectation, Recorder, SigV4VerifierMiddleware  # noqa: E402


class MemoryEventStore(EventStore):
    """Smallest event store that makes the SDK send priming events and lets a
    client resume a stream with Last-Event-ID."""

    def __init__(self) -> None:
        self._ids = count(1)
        self._events: list[tuple[str, str, object]] = []  # (event_id, stream_id, message | None)

    async def store_event(self, stream_id, message):
        event_id = str(next(self._ids))
        self._events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id, send_callback: EventCallback):
        index = next((i for i, e in enumerate(self._events) if e[0] == last_event_id), None)
        if index is None:
            return None
        stream_id = self._events[index][1]
        for event_id, sid, message in self._events[index + 1 :]:
            if sid == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


def build_server(mode: str, recorder: Recorder) -> FastMCP:
    resumable = mode == "sse-resumable"
    mcp = FastMCP(
        "mcp-sigv4-interop",
        host="127.0.0.1",
        json_response=(mode == "json"),
        stateless_http=False,
        event_store=MemoryEventStore() if resumable else None,
        retry_interval=1500 if resumable else None,
        log_level="WARNING",
    )

    @mcp.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool()
    async def progress(steps: int, ctx: Context) -> str:
        """Report `steps` progress notifications, log one message, then return."""
        for i in range(1, steps + 1):
            await ctx.report_progress(i, steps, f"step {i} of {steps}")
            await anyio.sleep(0.02)
        await ctx.info(f"progress finished after {steps} steps")
        return f"done {steps}"

    @mcp.tool()
    def big_result() -> str:
        """A 1 MiB (1,048,576 character) text result."""
        return big_text()

    @mcp.tool()
    def unicode_text() -> str:
        """Non-ASCII text with embedded newlines, quotes, backslashes and control characters."""
        return UNICODE_SAMPLE

    @mcp.tool()
    async def sleep(seconds: float, tag: str = "") -> str:
        """Sleep (at most 30 s), then return `slept <tag>`; records how many sleeps overlap."""
        recorder.tool("sleep_calls", 1)
        recorder.tool("sleep_in_flight", 1)
        try:
            await anyio.sleep(min(max(seconds, 0.0), 30.0))
        finally:
            recorder.tool("sleep_in_flight", -1)
        return f"slept {tag}"

    @mcp.tool()
    async def roots_probe(ctx: Context, via: str = "post") -> str:
        """Ask the client for its roots (a server-to-client request) and return them as JSON.

        via="post": the request is tied to this tool call, so it travels on this
        POST's SSE stream. via="get": it is not tied to any request, so the SDK
        sends it on the standalone GET stream, if the client opened one; without
        one it is never delivered, and after 5 s this returns "null".
        """
        request = types.ServerRequest(types.ListRootsRequest())
        if via == "post":
            result = await ctx.session.send_request(
                request, types.ListRootsResult, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
            )
        else:
            with anyio.move_on_after(5):
                result = await ctx.session.send_request(request, types.ListRootsResult)
                return json.dumps([{"uri": str(r.uri), "name": r.name} for r in result.roots])
            return "null"
        return json.dumps([{"uri": str(r.uri), "name": r.name} for r in result.roots])

    @mcp.tool()
    async def expire_session(ctx: Context) -> str:
        """End this MCP session on the server 0.3 s after answering, as a server
        whose session expired would: later requests with its id get HTTP 404."""
        request = ctx.request_context.request
        session_id = request.headers.get("mcp-session-id") if request is not None else None
        manager = mcp.session_manager
        transport = manager._server_instances.get(session_id) if session_id else None  # pinned SDK internals
        if transport is None:
            return "no session"

        async def later():
            await anyio.sleep(0.3)
            await manager._discard_session(session_id, transport)

        asyncio.get_running_loop().create_task(later())
        return "expiring"

    return mcp


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    exp = Expectation(
        access_key=cfg["access_key"],
        secret_key=cfg["secret_key"],
        token=cfg.get("token"),
        region=cfg["region"],
        service=cfg["service"],
        accept=cfg.get("sig_accept", "v4"),
        region_set=cfg.get("region_set"),
    )
    recorder = Recorder(cfg["stats_file"])
    mcp = build_server(cfg.get("mode", "sse"), recorder)
    app = SigV4VerifierMiddleware(mcp.streamable_http_app(), exp, recorder, log=log if cfg.get("verbose") else None)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
        access_log=False,
    )
    server = uvicorn.Server(config)

    loop = asyncio.get_running_loop()

    def stop(*_):
        server.should_exit = True

    # uvicorn installs its own SIGTERM/SIGINT handlers in serve(); the stdin
    # watchdog and the lifetime bound cover the driver dying or forgetting us.
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
        log("upstream: server did not start within 5 s")
        stop()

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=[sock])
    announcer.cancel()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: upstream.py CONFIG.json", file=sys.stderr)
        sys.exit(2)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(asyncio.run(main(sys.argv[1])))
