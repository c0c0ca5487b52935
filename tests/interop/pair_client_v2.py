"""Pairing client, `mcp` 2.3.0: `mcp.Client` in its default `mode="auto"` launches
mcp-sigv4 (through stdio_tap.py) over stdio and runs the pairing battery.

    target/interop-venv-v2/bin/python pair_client_v2.py CONFIG.json

CONFIG.json: as pair_client_v1.py, plus "expect_version": the protocol version
the auto probe must settle on ("2026-07-28" against a 2.x server, "2025-11-25"
against a 1.x server, which answers the `server/discover` probe with an error).

The connect is the probe: `server/discover` first; an error answer (not a
timeout: the SDK would wait 10 s) makes the client fall back to `initialize`
in the same process. What follows depends on the era the probe chose:

- 2025-11-25: server-to-client requests (elicitation, sampling, roots) and
  list_changed on a stream, cancellation by notifications/cancelled, ping;
- 2026-07-28: the same features as the protocol offers them: multi-round-trip
  `input_required` results the client answers by retrying (the SDK runs the
  loop), list_changed on a `subscriptions/listen` stream kept open, cancellation
  by notifications/cancelled on stdio (which the relay turns into closing the
  HTTP stream). 2026-07-28 has no ping and no server-to-client requests.

Writes the report (pairing.Report); exits 0 even when checks failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import warnings
from contextlib import AsyncExitStack

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.subscriptions import SubscriptionLost, ToolsListChanged
from mcp.shared.exceptions import MCPDeprecationWarning

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pairing as P  # noqa: E402

warnings.simplefilter("ignore", MCPDeprecationWarning)
TIMEOUT_S = 45.0


def text_of(result: types.CallToolResult) -> str:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    return texts[0] if len(texts) == 1 else f"<{len(texts)} text blocks: {result.content!r}>"


class Callbacks:
    """The client side of server input requests (legacy: JSON-RPC requests; modern:
    `inputRequests` of an `input_required` result), recording what it was asked."""

    def __init__(self) -> None:
        self.elicitations: list[types.ElicitRequestParams] = []
        self.samplings: list[types.CreateMessageRequestParams] = []
        self.roots_calls = 0
        self.tools_changed = anyio.Event()
        self.notifications: list[str] = []
        self.bad: list[str] = []

    async def elicitation(self, context, params):
        self.elicitations.append(params)
        return types.ElicitResult(action="accept", content=dict(P.FORM_ANSWER))

    async def sampling(self, context, params):
        self.samplings.append(params)
        prompt = params.messages[0].content.text if params.messages else ""
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=P.sampled_text(prompt)),
            model=P.SAMPLING_MODEL,
            stop_reason="endTurn",
        )

    async def roots(self, context):
        self.roots_calls += 1
        return types.ListRootsResult(roots=[types.Root(uri=r["uri"], name=r["name"]) for r in P.ROOTS])

    async def messages(self, message) -> None:
        if isinstance(message, Exception):
            self.bad.append(f"{type(message).__name__}: {message}")
        else:
            method = getattr(message, "method", None)
            if method:
                self.notifications.append(method)
            if method == "notifications/tools/list_changed":
                self.tools_changed.set()
        await anyio.lowlevel.checkpoint()


async def all_pages(fetch, field: str) -> tuple[list, int]:
    items, pages, cursor = [], 0, None
    while True:
        page = await fetch(cursor=cursor)
        pages += 1
        items.append(getattr(page, field))
        cursor = page.next_cursor
        if not cursor or pages > 20:
            return items, pages


async def battery(cfg: dict, rep: P.Report) -> None:
    cb = Callbacks()
    params = StdioServerParameters(command=cfg["command"][0], args=cfg["command"][1:], env=cfg["env"])
    expect_version = cfg["expect_version"]
    modern = expect_version == P.MODERN_VERSION
    async with AsyncExitStack() as stack:
        errlog = stack.enter_context(open(cfg["stderr"], "w"))
        client = Client(
            stdio_client(params, errlog=errlog),
            read_timeout_seconds=TIMEOUT_S,
            sampling_callback=cb.sampling,
            elicitation_callback=cb.elicitation,
            list_roots_callback=cb.roots,
            message_handler=cb.messages,
            client_info=types.Implementation(name="pairing-client-v2", version="2.3.0"),
            cache=None,  # every list goes to the server; the cache is the SDK's business, not the relay's
        )
        rep.step("connect: mode=auto (server/discover probe, initialize if the probe fails)")
        started = time.monotonic()
        await stack.enter_async_context(client)
        connect_s = time.monotonic() - started
        rep.fact("connect_seconds", round(connect_s, 3))
        rep.fact("protocol_version", client.protocol_version)
        rep.equal(client.protocol_version, expect_version, "connect: the probe settled on the expected era")
        rep.expect(connect_s < 8.0, "connect: the probe was answered, not timed out (the SDK waits 10 s)",
                   f"{connect_s:.2f} s")
        info = client.server_info
        rep.equal(info.name if info else None, P.SERVER_NAMES[cfg["server"]], "connect: server name")

        rep.step("tools/list, every page")
        pages_of_tools, pages = await all_pages(client.list_tools, "tools")
        names = [t.name for page in pages_of_tools for t in page]
        rep.expect(all(len(p) <= P.PAGE_SIZE for p in pages_of_tools), f"tools/list: pages of at most {P.PAGE_SIZE}",
                   str([len(p) for p in pages_of_tools]))
        rep.equal(sorted(names), sorted(P.EXPECTED_TOOLS), "tools/list: all pages together list every tool once")
        rep.equal(pages, -(-len(P.EXPECTED_TOOLS) // P.PAGE_SIZE), "tools/list: number of pages")

        rep.step("tools/call")
        res = await client.call_tool("add", {"a": 2, "b": 3})
        rep.equal((text_of(res), res.structured_content), ("5", {"result": 5}), "tools/call add(2, 3)")
        res = await client.call_tool("echo", {"text": P.prompt_text("échø")})
        rep.equal(text_of(res), P.prompt_text("échø"), "tools/call echo: non-ASCII round trip")
        res = await client.call_tool(P.FILLER_TOOLS[-1], {})
        rep.equal(text_of(res), P.filler_text(P.FILLER_TOOLS[-1]), "tools/call: a tool from the last page")
        for region in P.PARAM_VALUES:
            res = await client.call_tool("where", {"region": region})
            rep.equal(text_of(res), P.where_text(region), f"tools/call where({region!r}): x-mcp-header argument")

        rep.step("resources/list, every page; resources/read")
        pages_of_resources, pages = await all_pages(client.list_resources, "resources")
        uris = [str(r.uri) for page in pages_of_resources for r in page]
        rep.equal(sorted(uris), sorted(P.RESOURCES), "resources/list: all pages together list every resource once")
        rep.equal(pages, -(-len(P.RESOURCES) // P.PAGE_SIZE), "resources/list: number of pages")
        target = P.RESOURCES[-2]
        read = await client.read_resource(target)
        texts = [c.text for c in read.contents if isinstance(c, types.TextResourceContents)]
        rep.equal(texts, [P.resource_text(target)], "resources/read: text of a resource from the last page")

        rep.step("prompts/list, prompts/get")
        prompts = await client.list_prompts()
        rep.equal(sorted(p.name for p in prompts.prompts), sorted(P.PROMPT_NAMES), "prompts/list")
        for prompt in P.PROMPT_NAMES:
            got = await client.get_prompt(prompt, {"name": "Ada"})
            texts = [m.content.text for m in got.messages if isinstance(m.content, types.TextContent)]
            rep.equal(texts, [P.prompt_text("Ada", prompt)], f"prompts/get {prompt!r}: rendered text")

        rep.step("progress")
        seen: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total, message))

        res = await client.call_tool("progress", {"steps": P.PROGRESS_STEPS}, progress_callback=on_progress)
        rep.equal(text_of(res), f"done {P.PROGRESS_STEPS}", "progress: result")
        rep.equal(seen, [(float(i), float(P.PROGRESS_STEPS), f"step {i} of {P.PROGRESS_STEPS}")
                         for i in range(1, P.PROGRESS_STEPS + 1)], "progress: every notification, in order")

        how = ("multi-round-trip input_required results, retried by the client" if modern
               else "server-to-client requests on the call's stream")
        rep.step(f"elicitation (form), sampling, roots: {how}")
        res = await client.call_tool("ask_form", {})
        rep.equal(json.loads(text_of(res)), {"action": "accept", "content": P.FORM_ANSWER},
                  "elicitation: the form answer reached the server")
        rep.equal([(e.message, e.requested_schema.get("required")) for e in cb.elicitations],
                  [(P.FORM_MESSAGE, ["name", "count"])], "elicitation: the client was asked once, with the schema")
        res = await client.call_tool("ask_sampling", {})
        rep.equal(json.loads(text_of(res)), {"text": P.sampled_text(P.SAMPLING_PROMPT), "model": P.SAMPLING_MODEL},
                  "sampling: the client's message reached the server")
        rep.equal(len(cb.samplings), 1, "sampling: the client was asked once")
        res = await client.call_tool("ask_roots", {})
        rep.equal(json.loads(text_of(res)), P.ROOTS, "roots: the client's roots reached the server")
        rep.equal(cb.roots_calls, 1, "roots: the client was asked once")

        rep.step("cancellation: sleep(30) silent, and one reporting progress; the caller gives up after 1 s")
        await cancel_long_call(client, rep, "cancel-silent", tick=0.0)
        await cancel_long_call(client, rep, "cancel-streaming", tick=0.4)

        if modern:
            rep.step("list_changed (2026-07-28: subscriptions/listen kept open, the notification on it)")
            await listen_for_change(client, rep)
            rep.step("a listen stream the server drops without a response (the relay must tell the client)")
            await listen_dropped(client, rep)
        else:
            rep.step("list_changed (legacy: notifications/tools/list_changed on a stream)")
            res = await client.call_tool("change_tools", {})
            rep.equal(text_of(res), "changed", "change_tools: result")
            with anyio.move_on_after(10):
                await cb.tools_changed.wait()
            rep.expect(cb.tools_changed.is_set(), "list_changed: notifications/tools/list_changed reached the client",
                       f"notifications seen: {cb.notifications}")
        pages_of_tools, _ = await all_pages(client.list_tools, "tools")
        names = [t.name for page in pages_of_tools for t in page]
        rep.expect(P.ADDED_TOOL in names, "list_changed: the new tool is listed afterwards", str(names))
        res = await client.call_tool(P.ADDED_TOOL, {})
        rep.equal(text_of(res), "added later ✓", "list_changed: the new tool answers")

        if modern:
            rep.note("2026-07-28 has no ping: not sent")
        else:
            rep.step("ping")
            await client.send_ping()
            rep.expect(True, "ping answered")
        rest = [b for b in cb.bad if not ("Request cancelled" in b)]
        if len(rest) < len(cb.bad):
            rep.note("the server answered the cancelled request late ('Request cancelled'); the client ignored it")
        rep.expect(not rest, "the client read only valid JSON-RPC lines", str(rest))


async def cancel_long_call(client: Client, rep: P.Report, tag: str, tick: float) -> None:
    """Cancel the caller's scope; the SDK sends notifications/cancelled for the
    request (2.x's courtesy cancel). `tick` > 0 makes the server report progress
    while it sleeps, so its answer is an SSE stream the relay is reading."""
    result: list = []

    async def call() -> None:
        result.append(
            await client.call_tool("sleep", {"seconds": P.CANCEL_SLEEP_S, "tag": tag, "tick": tick})
        )

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.sleep(1.2)
        tg.cancel_scope.cancel()
    rep.expect(not result, f"cancellation ({tag}): the call did not complete", str(result))
    res = await client.call_tool("add", {"a": 40, "b": 2})
    rep.equal(text_of(res), "42", f"cancellation ({tag}): the session goes on (a call after it works)")
    rep.fact(f"{tag}_seconds", round(time.monotonic() - started, 3))


async def listen_for_change(client: Client, rep: P.Report) -> None:
    async with client.listen(tools_list_changed=True) as sub:
        honored = sub.honored
        rep.expect(bool(honored and honored.tools_list_changed),
                   "subscriptions/listen: acknowledged with toolsListChanged", str(honored))
        await anyio.sleep(0.3)  # the stream is open and idle before the change
        res = await client.call_tool("change_tools", {})
        rep.equal(text_of(res), "changed", "change_tools: result")
        event = None
        with anyio.move_on_after(10):
            async for event in sub:
                break
        rep.expect(isinstance(event, ToolsListChanged),
                   "list_changed: notifications/tools/list_changed arrived on the listen stream", repr(event))


async def listen_dropped(client: Client, rep: P.Report) -> None:
    """2026-07-28 §4.4: a listen stream that just drops is an unexpected
    disconnect; on stdio the relay reports it with notifications/cancelled for
    the listen id, which the SDK turns into SubscriptionLost."""
    outcome: object = "no end within 10 s"
    async with client.listen(tools_list_changed=True) as sub:
        res = await client.call_tool("drop_listens", {})
        rep.equal(text_of(res), "dropped 1", "drop_listens: the server cut the open listen stream")
        with anyio.move_on_after(10):
            try:
                async for event in sub:
                    outcome = f"an event: {event!r}"
                    break
                else:
                    outcome = "a graceful end"
            except SubscriptionLost as e:
                outcome = e
    rep.expect(isinstance(outcome, SubscriptionLost),
               "listen dropped: the client learned the subscription was lost (SubscriptionLost)", repr(outcome))


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
