"""What the pairing servers offer and the pairing clients expect, shared by both
virtual environments (`mcp` 1.30.0 and `mcp` 2.3.0), plus the small helpers they
share: a check report written as JSON, server-side event records, and the
uvicorn harness that puts a server behind the SigV4 verifier.

Owns: the fixture data of the pairing scenarios (tool, resource and prompt
names, page size, the answers the client's callbacks give) and nothing about
either SDK. Refuses: importing `mcp` (it must load in both environments);
uvicorn and the verifier are imported only by `serve()`, which only servers call.

The four pairings run the same battery; see README.md ("Pairings").
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

# ---------------------------------------------------------------------------
# protocol versions

LEGACY_VERSION = "2025-11-25"  # the newest handshake-era revision; both SDKs speak it
MODERN_VERSION = "2026-07-28"  # mcp 2.3.0 only

# ---------------------------------------------------------------------------
# what the servers offer

PAGE_SIZE = 5
FEATURE_TOOLS = [
    "add", "echo", "progress", "sleep", "ask_form", "ask_sampling", "ask_roots", "change_tools", "where",
    "drop_listens",
]
FILLER_TOOLS = [f"filler_{i:02d}" for i in range(9)]
EXPECTED_TOOLS = FEATURE_TOOLS + FILLER_TOOLS  # 19 tools: 4 pages of at most 5

# `where(region)`: the argument is annotated `x-mcp-header: Region`, so a
# 2026-07-28 HTTP client must send it as `Mcp-Param-Region` (base64 sentinel
# when not header-safe); the 2.x server refuses the call otherwise. A stdio
# client sends no headers: the relay derives them from the tools/list pages.
PARAM_HEADER = "Region"
PARAM_SCHEMA_EXTRA = {"x-mcp-header": PARAM_HEADER}
PARAM_VALUES = ["eu-central-1", "Zürich ✓"]


def where_text(region: str) -> str:
    return f"region {region}"
ADDED_TOOL = "added_later"  # appears after change_tools, announced by tools/list_changed

RESOURCES = [f"interop://pairing/res-{i:02d}" for i in range(12)]  # 3 pages
# The second name is not header-safe, so a 2026-07-28 prompts/get carries it in
# Mcp-Name as =?base64?...?=, which the 2.x server decodes and compares with the body.
PROMPT_NAMES = ["greet", "grüße ✓"]

SERVER_NAMES = {"v1": "pairing-v1", "v2": "pairing-v2"}


def resource_text(uri: str) -> str:
    return f"contents of {uri} — ✓ 日本語"


def prompt_text(name: str, prompt: str = "greet") -> str:
    greeting = "Hello" if prompt == "greet" else "Grüß dich"
    return f"{greeting}, {name}! Reply in one word (🚀)."


def filler_text(name: str) -> str:
    return f"{name} says hi"


# elicitation (form mode)
FORM_MESSAGE = "Who is calling, and how many?"
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["name", "count"],
}
FORM_ANSWER: dict[str, Any] = {"name": "Ada Lovelace ✓", "count": 3}

# sampling
SAMPLING_PROMPT = "One word for SigV4, please"
SAMPLING_MODEL = "interop-model"


def sampled_text(prompt: str) -> str:
    return f"sampled[{prompt}]"


# roots
ROOTS: list[dict[str, str]] = [
    {"uri": "file:///interop/pairing-root", "name": "pairing root"},
    {"uri": "file:///interop/r%C3%B6%C3%B6t-two", "name": "röot two ✓"},
]

# 2026-07-28 multi-round-trip: the state each tool hands out on its first round
# (the v2 server seals it; the tool gets it back in plain text on the retry)
MRTR_STATE = {"ask_form": "form-round-1", "ask_sampling": "sampling-round-1", "ask_roots": "roots-round-1"}
MRTR_KEY = {"ask_form": "form", "ask_sampling": "sample", "ask_roots": "roots"}

PROGRESS_STEPS = 4
CANCEL_SLEEP_S = 30.0  # a call that only ends by being cancelled


# ---------------------------------------------------------------------------
# reports (client side) and events (server side)


def short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class Report:
    """Checks a pairing client made, written as JSON for the driver to merge."""

    def __init__(self, path: str):
        self.path = path
        self.data: dict[str, Any] = {"passed": [], "failed": [], "notes": [], "facts": {}, "finished": False}

    def expect(self, cond: bool, what: str, detail: str = "") -> bool:
        if cond:
            self.data["passed"].append(what)
        else:
            self.data["failed"].append(what + (f": {detail}" if detail else ""))
            print(f"  FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
        return bool(cond)

    def equal(self, actual: Any, expected: Any, what: str) -> bool:
        return self.expect(actual == expected, what, f"expected {short(expected)}, found {short(actual)}")

    def note(self, text: str) -> None:
        self.data["notes"].append(text)
        print(f"  note: {text}", flush=True)

    def fact(self, key: str, value: Any) -> None:
        self.data["facts"][key] = value

    def step(self, name: str) -> None:
        print(f"  - {name}", flush=True)

    def write(self) -> None:
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)


def record_event(recorder: Any, kind: str, **fields: Any) -> None:
    """Appends a server-side event (a tool started, was cancelled, saw a retry) to
    the verifier's stats file, so the driver reads requests and events together."""
    recorder.data.setdefault("events", []).append({"kind": kind, "t": time.time(), **fields})
    recorder.flush()


def page(items: list[Any], cursor: str | None) -> tuple[list[Any], str | None]:
    """One page of `items` after the opaque `cursor` (the start index as text)."""
    start = int(cursor) if cursor else 0
    if start < 0 or start > len(items):
        raise ValueError(f"expected a cursor from this server, found {cursor!r}")
    end = start + PAGE_SIZE
    return items[start:end], (str(end) if end < len(items) else None)


# ---------------------------------------------------------------------------
# the server harness


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_config(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def serve(config: dict[str, Any], build_app) -> int:
    """Runs `build_app(recorder)` (an ASGI app) behind the SigV4 verifier on
    127.0.0.1 with a free port; prints `READY <port>` once it accepts
    connections; stops on SIGTERM, on end of stdin (the driver died) or after
    `max_lifetime_s`. Same contract as upstream.py."""
    import asyncio
    import socket
    import threading

    import uvicorn

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from verifier import Expectation, Recorder, SigV4VerifierMiddleware

    exp = Expectation(
        access_key=config["access_key"],
        secret_key=config["secret_key"],
        token=config.get("token"),
        region=config["region"],
        service=config["service"],
    )
    recorder = Recorder(config["stats_file"])
    recorder.data["events"] = []
    recorder.flush()

    async def main() -> int:
        app = SigV4VerifierMiddleware(build_app(recorder), exp, recorder, log=log if config.get("verbose") else None)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, access_log=False)
        )
        loop = asyncio.get_running_loop()

        def stop(*_: Any) -> None:
            server.should_exit = True

        def watch_stdin() -> None:
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except Exception:
                pass
            loop.call_soon_threadsafe(stop)

        threading.Thread(target=watch_stdin, daemon=True).start()
        loop.call_later(float(config.get("max_lifetime_s", 600)), stop)

        async def announce() -> None:
            for _ in range(1000):
                if server.started:
                    print(f"READY {port}", flush=True)
                    return
                await asyncio.sleep(0.01)
            log("pairing server: did not start within 10 s")
            stop()

        announcer = asyncio.create_task(announce())
        await server.serve(sockets=[sock])
        announcer.cancel()
        return 0

    return asyncio.run(main())
