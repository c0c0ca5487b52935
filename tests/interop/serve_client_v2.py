"""`mcp` 2.3.0's `mcp.Client` over Streamable HTTP (its default `mode="auto"`)
against `mcp-sigv4 serve`, for the serve scenarios of serve_clients.py:

    target/interop-venv-v2/bin/python serve_client_v2.py URL SESSIONS TAG_PREFIX [modern]

Runs SESSIONS sessions at once, each: connect (the auto probe, then whatever
era the server settles on), tools/list, whoami(tag) three times at once, echo,
and gated_progress(gate) whose result the upstream holds until ack(gate) is
called, which this client does only once the progress notification reached
it. Prints one JSON report on stdout (serve_clients.py's check_report reads
it); exits 0 even when a step failed (the failure is in the report).

With `modern` the upstream is pair_server_v2.py (dual era) and each session
must settle on 2026-07-28: add, echo, `where` (its argument travels in the
`Mcp-Param-Region` header the client itself sends), four progress
notifications in order, and `ask_form`, a multi-round-trip `input_required`
result the client answers by retrying.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import os

import anyio
import mcp_types as types
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pairing as P  # noqa: E402

warnings.simplefilter("ignore", MCPDeprecationWarning)
GATE_WAIT_S = 15.0


def text_of(result: types.CallToolResult) -> str:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    return texts[0] if len(texts) == 1 else f"<{len(texts)} text blocks>"


async def one_session(url: str, tag: str) -> dict:
    out: dict = {"tag": tag, "whoami": [], "errors": []}
    try:
        with anyio.fail_after(60):
            async with Client(url) as client:
                out["protocol"] = getattr(client.session, "protocol_version", None)
                out["tools"] = [t.name for t in (await client.list_tools()).tools]
                who: list = []

                async def whoami() -> None:
                    who.append(json.loads(text_of(await client.call_tool("whoami", {"tag": tag}))))

                async with anyio.create_task_group() as tg:
                    for _ in range(3):
                        tg.start_soon(whoami)
                out["whoami"] = who
                out["echo"] = text_of(await client.call_tool("echo", {"text": f"echo {tag} ✓"}))

                gate = f"gate-{tag}"
                seen = anyio.Event()
                times: dict[str, float] = {}

                async def on_progress(progress, total, message) -> None:
                    times.setdefault("progress", time.monotonic())
                    seen.set()

                async def acker() -> None:
                    with anyio.move_on_after(GATE_WAIT_S):
                        await seen.wait()
                        await client.call_tool("ack", {"gate": gate})

                result = None
                async with anyio.create_task_group() as tg:
                    tg.start_soon(acker)
                    result = await client.call_tool("gated_progress", {"gate": gate}, progress_callback=on_progress)
                    times["result"] = time.monotonic()
                out["gate"] = text_of(result)
                out["progress_before_result"] = "progress" in times and times["progress"] <= times["result"]
        out["terminated"] = True
    except BaseException as e:  # noqa: BLE001 - reported, not raised
        inner = getattr(e, "exceptions", None)
        leaves = inner if inner else [e]
        out["errors"].extend(f"{type(x).__name__}: {x}" for x in leaves)
    return out


async def modern_session(url: str, tag: str, index: int) -> dict:
    """The 2026-07-28 battery against pair_server_v2.py."""
    out: dict = {"tag": tag, "errors": []}
    asked: list = []

    async def elicitation(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content=dict(P.FORM_ANSWER))

    try:
        with anyio.fail_after(60):
            async with Client(url, elicitation_callback=elicitation, cache=None) as client:
                out["protocol"] = client.protocol_version
                cursor, tools = None, []
                while True:  # every page, as a client does before calling (it learns x-mcp-header here)
                    page = await client.list_tools(cursor=cursor)
                    tools += [t.name for t in page.tools]
                    cursor = page.next_cursor
                    if not cursor:
                        break
                out["listed_where"] = "where" in tools
                out["add"] = text_of(await client.call_tool("add", {"a": index, "b": 1000}))
                out["echo"] = text_of(await client.call_tool("echo", {"text": f"echo {tag} ✓"}))
                out["where"] = text_of(await client.call_tool("where", {"region": P.PARAM_VALUES[-1]}))
                seen: list = []

                async def on_progress(progress, total, message) -> None:
                    seen.append([progress, total, message])

                out["progress"] = text_of(await client.call_tool("progress", {"steps": P.PROGRESS_STEPS},
                                                                 progress_callback=on_progress))
                out["progress_seen"] = seen
                out["form"] = json.loads(text_of(await client.call_tool("ask_form", {})))
                out["asked"] = asked
        out["terminated"] = True
    except BaseException as e:  # noqa: BLE001 - reported, not raised
        inner = getattr(e, "exceptions", None)
        out["errors"].extend(f"{type(x).__name__}: {x}" for x in (inner if inner else [e]))
    return out


def modern_expectations(index: int, tag: str) -> dict:
    """What modern_session must report for session `index` (serve_clients.py compares)."""
    steps = P.PROGRESS_STEPS
    return {"protocol": P.MODERN_VERSION, "listed_where": True, "add": str(index + 1000), "echo": f"echo {tag} ✓",
            "where": P.where_text(P.PARAM_VALUES[-1]), "progress": f"done {steps}",
            "progress_seen": [[float(i), float(steps), f"step {i} of {steps}"] for i in range(1, steps + 1)],
            "form": {"action": "accept", "content": P.FORM_ANSWER}, "asked": [P.FORM_MESSAGE]}


async def main() -> None:
    url, sessions, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    modern = sys.argv[4:] == ["modern"]
    results: list[dict] = []

    async def run(i: int) -> None:
        tag = f"{prefix}-{i}"
        if modern:
            out = await modern_session(url, tag, i)
            out["expected"] = modern_expectations(i, tag)
            results.append(out)
        else:
            results.append(await one_session(url, tag))

    async with anyio.create_task_group() as tg:
        for i in range(sessions):
            tg.start_soon(run, i)
    print(json.dumps({"client": "mcp 2.3.0", "sessions": sorted(results, key=lambda r: r["tag"])}))


if __name__ == "__main__":
    anyio.run(main)
