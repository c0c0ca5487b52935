"""Pairing client, `mcp` 1.30.0: the SDK's stdio client launches mcp-sigv4 (through
stdio_tap.py) and runs the pairing battery against whichever pairing server sits
behind it. A 1.x client always speaks 2025-11-25 (initialize handshake).

    target/interop-venv/bin/python pair_client_v1.py CONFIG.json

CONFIG.json: {"command": [argv of the proxy launch], "env": {...}, "stderr":
path for the proxy's stderr, "report": path for the report, "server": "v1" |
"v2"}. Writes the report (pairing.Report) and exits 0 even when checks failed;
the driver judges. Exit 1 only when the report itself could not be written.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from contextlib import AsyncExitStack
from datetime import timedelta

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from pydantic import AnyUrl, FileUrl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pairing as P  # noqa: E402

TIMEOUT = timedelta(seconds=45)


def text_of(result: types.CallToolResult) -> str:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    return texts[0] if len(texts) == 1 else f"<{len(texts)} text blocks: {result.content!r}>"


class Callbacks:
    """The client side of server-to-client requests, recording what it was asked."""

    def __init__(self) -> None:
        self.elicitations: list[types.ElicitRequestParams] = []
        self.samplings: list[types.CreateMessageRequestParams] = []
        self.roots_calls = 0
        self.tools_changed = anyio.Event()
        self.notifications: list[str] = []
        self.bad: list[str] = []

    async def elicitation(self, context, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.elicitations.append(params)
        return types.ElicitResult(action="accept", content=dict(P.FORM_ANSWER))

    async def sampling(self, context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.samplings.append(params)
        prompt = params.messages[0].content.text if params.messages else ""
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=P.sampled_text(prompt)),
            model=P.SAMPLING_MODEL,
            stopReason="endTurn",
        )

    async def roots(self, context) -> types.ListRootsResult:
        self.roots_calls += 1
        return types.ListRootsResult(roots=[types.Root(uri=FileUrl(r["uri"]), name=r["name"]) for r in P.ROOTS])

    async def messages(self, message) -> None:
        if isinstance(message, Exception):
            self.bad.append(f"{type(message).__name__}: {message}")
        elif isinstance(message, types.ServerNotification):
            self.notifications.append(message.root.method)
            if isinstance(message.root, types.ToolListChangedNotification):
                self.tools_changed.set()
        await anyio.lowlevel.checkpoint()


async def battery(cfg: dict, rep: P.Report) -> None:
    cb = Callbacks()
    params = StdioServerParameters(command=cfg["command"][0], args=cfg["command"][1:], env=cfg["env"])
    server_name = P.SERVER_NAMES[cfg["server"]]
    async with AsyncExitStack() as stack:
        errlog = stack.enter_context(open(cfg["stderr"], "w"))
        read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
        session = await stack.enter_async_context(
            ClientSession(
                read,
                write,
                read_timeout_seconds=TIMEOUT,
                sampling_callback=cb.sampling,
                elicitation_callback=cb.elicitation,
                list_roots_callback=cb.roots,
                message_handler=cb.messages,
                client_info=types.Implementation(name="pairing-client-v1", version="1.30.0"),
            )
        )

        rep.step("initialize")
        init = await session.initialize()
        rep.equal(init.protocolVersion, P.LEGACY_VERSION, "initialize: protocol version")
        rep.equal(init.serverInfo.name, server_name, "initialize: server name")
        rep.fact("protocol_version", init.protocolVersion)

        rep.step("tools/list, every page")
        names, pages, cursor = [], 0, None
        while True:
            page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
            pages += 1
            rep.expect(len(page.tools) <= P.PAGE_SIZE, f"tools/list page {pages}: at most {P.PAGE_SIZE} tools",
                       str(len(page.tools)))
            names += [t.name for t in page.tools]
            cursor = page.nextCursor
            if not cursor or pages > 20:
                break
        rep.equal(sorted(names), sorted(P.EXPECTED_TOOLS), "tools/list: all pages together list every tool once")
        rep.equal(pages, -(-len(P.EXPECTED_TOOLS) // P.PAGE_SIZE), "tools/list: number of pages")

        rep.step("tools/call")
        res = await session.call_tool("add", {"a": 2, "b": 3})
        rep.equal((text_of(res), res.structuredContent), ("5", {"result": 5}), "tools/call add(2, 3)")
        res = await session.call_tool("echo", {"text": P.prompt_text("échø")})
        rep.equal(text_of(res), P.prompt_text("échø"), "tools/call echo: non-ASCII round trip")
        res = await session.call_tool(P.FILLER_TOOLS[-1], {})
        rep.equal(text_of(res), P.filler_text(P.FILLER_TOOLS[-1]), "tools/call: a tool from the last page")
        for region in P.PARAM_VALUES:
            res = await session.call_tool("where", {"region": region})
            rep.equal(text_of(res), P.where_text(region), f"tools/call where({region!r}): x-mcp-header argument")

        rep.step("resources/list, every page; resources/read")
        uris, pages, cursor = [], 0, None
        while True:
            page = await session.list_resources(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
            pages += 1
            uris += [str(r.uri) for r in page.resources]
            cursor = page.nextCursor
            if not cursor or pages > 20:
                break
        rep.equal(sorted(uris), sorted(P.RESOURCES), "resources/list: all pages together list every resource once")
        rep.equal(pages, -(-len(P.RESOURCES) // P.PAGE_SIZE), "resources/list: number of pages")
        target = P.RESOURCES[-2]
        read = await session.read_resource(AnyUrl(target))
        texts = [c.text for c in read.contents if isinstance(c, types.TextResourceContents)]
        rep.equal(texts, [P.resource_text(target)], "resources/read: text of a resource from the last page")

        rep.step("prompts/list, prompts/get")
        prompts = await session.list_prompts()
        rep.equal(sorted(p.name for p in prompts.prompts), sorted(P.PROMPT_NAMES), "prompts/list")
        for prompt in P.PROMPT_NAMES:
            got = await session.get_prompt(prompt, {"name": "Ada"})
            texts = [m.content.text for m in got.messages if isinstance(m.content, types.TextContent)]
            rep.equal(texts, [P.prompt_text("Ada", prompt)], f"prompts/get {prompt!r}: rendered text")

        rep.step("progress")
        seen: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total, message))

        res = await session.call_tool("progress", {"steps": P.PROGRESS_STEPS}, progress_callback=on_progress)
        rep.equal(text_of(res), f"done {P.PROGRESS_STEPS}", "progress: result")
        rep.equal(seen, [(float(i), float(P.PROGRESS_STEPS), f"step {i} of {P.PROGRESS_STEPS}")
                         for i in range(1, P.PROGRESS_STEPS + 1)], "progress: every notification, in order")

        rep.step("elicitation (form), sampling, roots: server-to-client requests on the call's stream")
        res = await session.call_tool("ask_form", {})
        rep.equal(json.loads(text_of(res)), {"action": "accept", "content": P.FORM_ANSWER},
                  "elicitation: the form answer reached the server")
        rep.equal([(e.message, e.requestedSchema.get("required")) for e in cb.elicitations],
                  [(P.FORM_MESSAGE, ["name", "count"])], "elicitation: the client was asked once, with the schema")
        res = await session.call_tool("ask_sampling", {})
        rep.equal(json.loads(text_of(res)), {"text": P.sampled_text(P.SAMPLING_PROMPT), "model": P.SAMPLING_MODEL},
                  "sampling: the client's message reached the server")
        rep.equal(len(cb.samplings), 1, "sampling: the client was asked once")
        res = await session.call_tool("ask_roots", {})
        rep.equal(json.loads(text_of(res)), P.ROOTS, "roots: the client's roots reached the server")
        rep.equal(cb.roots_calls, 1, "roots: the client was asked once")

        rep.step("cancellation: sleep(30) silent, and one reporting progress; notifications/cancelled after 1 s")
        await cancel_long_call(session, rep, "cancel-silent", tick=0.0)
        await cancel_long_call(session, rep, "cancel-streaming", tick=0.4)

        rep.step("list_changed (legacy: notifications/tools/list_changed on a stream)")
        res = await session.call_tool("change_tools", {})
        rep.equal(text_of(res), "changed", "change_tools: result")
        with anyio.move_on_after(10):
            await cb.tools_changed.wait()
        rep.expect(cb.tools_changed.is_set(), "list_changed: notifications/tools/list_changed reached the client",
                   f"notifications seen: {cb.notifications}")
        names, cursor = [], None
        for _ in range(20):
            page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
            names += [t.name for t in page.tools]
            cursor = page.nextCursor
            if not cursor:
                break
        rep.expect(P.ADDED_TOOL in names, "list_changed: the new tool is listed afterwards", str(names))
        res = await session.call_tool(P.ADDED_TOOL, {})
        rep.equal(text_of(res), "added later ✓", "list_changed: the new tool answers")

        rep.step("ping")
        await session.send_ping()
        rep.expect(True, "ping answered")
        check_bad_lines(rep, cb.bad, rep.data["facts"].get("cancelled_request_ids", []))


def check_bad_lines(rep: P.Report, bad: list[str], cancelled_ids: list) -> None:
    """Only valid JSON-RPC reached the client. The SDK servers answer a cancelled
    request anyway ("Request cancelled", code 0 from 1.x, -32800 from 2.x); the relay passes the
    server's own late answer on, and the SDK reports it as an unknown id. The
    spec lets the receiver of a cancel answer late and tells the canceller to
    ignore it, so that one line is noted, not failed."""
    rest = [b for b in bad
            if not (any(f"id={i}, error=" in b for i in cancelled_ids) and "Request cancelled" in b)]
    if len(rest) < len(bad):
        rep.note("the server answered the cancelled request late ('Request cancelled'); the client ignored it")
    rep.expect(not rest, "the client read only valid JSON-RPC lines", str(rest))


async def cancel_long_call(session: ClientSession, rep: P.Report, tag: str, tick: float) -> None:
    """1.x has no cancel API: the client sends notifications/cancelled itself, as
    an application would, and stops waiting. The id is the session's next one.
    `tick` > 0 makes the server report progress while it sleeps, so its answer
    is an SSE stream already flowing when the cancel comes."""
    request_id = session._request_id  # the id the next request gets (pinned SDK internals)
    result: list = []

    async def call() -> None:
        result.append(
            await session.call_tool("sleep", {"seconds": P.CANCEL_SLEEP_S, "tag": tag, "tick": tick})
        )

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.sleep(1.0)
        await session.send_notification(
            types.ClientNotification(
                types.CancelledNotification(
                    params=types.CancelledNotificationParams(requestId=request_id, reason="interop: cancelled by client")
                )
            )
        )
        tg.cancel_scope.cancel()
    rep.data["facts"].setdefault("cancelled_request_ids", []).append(request_id)
    rep.expect(not result, f"cancellation ({tag}): the call did not complete", str(result))
    res = await session.call_tool("add", {"a": 40, "b": 2})
    rep.equal(text_of(res), "42", f"cancellation ({tag}): the session goes on (a call after it works)")
    rep.fact(f"{tag}_seconds", round(time.monotonic() - started, 3))


def main() -> int:
    cfg = P.load_config(sys.argv[1])
    rep = P.Report(cfg["report"])
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(battery(cfg, rep), timeout=cfg.get("timeout_s", 120)))
        rep.data["finished"] = True
    except BaseException as e:  # report everything, including groups and timeouts
        for leaf in leaves(e):
            rep.expect(False, "battery ran to the end", f"{type(leaf).__name__}: {leaf}")
    rep.fact("client_seconds", round(time.monotonic() - started, 3))
    rep.write()
    return 0


def leaves(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)
    return [exc] if inner is None else [leaf for e in inner for leaf in leaves(e)]


if __name__ == "__main__":
    sys.exit(main())
