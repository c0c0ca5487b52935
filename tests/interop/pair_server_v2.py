"""Pairing server, `mcp` 2.3.0 (dual era: 2025-11-25 and 2026-07-28): MCPServer
over Streamable HTTP, stateful for legacy clients, behind the SigV4 verifier.

    target/interop-venv-v2/bin/python pair_server_v2.py CONFIG.json

CONFIG.json: as upstream.py. Prints `READY <port>`.

The SDK routes each request by its `MCP-Protocol-Version` header: absent or a
handshake version goes to the legacy session transport, 2026-07-28 to the
modern single-exchange handler. The tools branch on the request's version the
way a dual-era server must (an `InputRequiredResult` on a legacy session is an
error):

- legacy: elicitation, sampling and roots are server-to-client requests tied to
  the call (on its POST's SSE stream); tools/list_changed goes out unrelated to
  any request (on the GET stream);
- 2026-07-28: the same tools answer with `resultType: "input_required"` and an
  `inputRequests` map plus a `requestState`; on the client's retry they check
  that the state came back (the SDK seals it, so any change to the bytes in
  transit is refused) and read `inputResponses`. tools/list_changed is
  published to `subscriptions/listen` streams.

tools/list and resources/list are paginated (pairing.PAGE_SIZE a page). The
extra tool `drop_listens` cuts open listen streams without a response, as a
crashed instance would. Events (sleep started/cancelled/finished, MRTR rounds,
listens dropped) go to the stats file.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resources import TextResource
from mcp.shared.message import ServerMessageMetadata
from mcp_types import InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pairing as P  # noqa: E402


class PagedServer(MCPServer):
    """MCPServer with paginated tools/list and resources/list."""

    async def _handle_list_tools(self, ctx, params):
        items, next_cursor = P.page(await self.list_tools(), params.cursor if params else None)
        return types.ListToolsResult(tools=items, next_cursor=next_cursor)

    async def _handle_list_resources(self, ctx, params):
        items, next_cursor = P.page(await self.list_resources(), params.cursor if params else None)
        return types.ListResourcesResult(resources=items, next_cursor=next_cursor)


class ListenDropped(Exception):
    """Raised on purpose to cut a listen stream the way a crashed instance would."""


class ListenDropper:
    """ASGI wrapper that lets the `drop_listens` tool cut every open
    `subscriptions/listen` HTTP stream abruptly: no listen response, no
    notifications/cancelled, no terminating chunk. (Inside the verifier, which
    hands the whole body over in one message.)"""

    def __init__(self) -> None:
        self.app = None
        self.drops: set[anyio.Event] = set()

    def drop_all(self) -> int:
        for drop in list(self.drops):
            drop.set()
        return len(self.drops)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        first = await receive()
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        try:
            is_listen = json.loads(first.get("body", b"")).get("method") == "subscriptions/listen"
        except (ValueError, AttributeError):
            is_listen = False
        if not is_listen:
            return await self.app(scope, replay, send)
        drop = anyio.Event()
        self.drops.add(drop)
        try:
            async with anyio.create_task_group() as tg:

                async def run() -> None:
                    await self.app(scope, replay, send)
                    tg.cancel_scope.cancel()

                tg.start_soon(run)
                await drop.wait()
                tg.cancel_scope.cancel()
        finally:
            self.drops.discard(drop)
        if drop.is_set():
            raise ListenDropped("listen stream cut by drop_listens")


def is_modern(ctx: Context) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def related(ctx: Context) -> ServerMessageMetadata:
    return ServerMessageMetadata(related_request_id=ctx.request_context.request_id)


def build(recorder):
    mcp = PagedServer(P.SERVER_NAMES["v2"], log_level="WARNING")
    dropper = ListenDropper()

    def input_round(ctx: Context, tool: str, request: Any) -> InputRequiredResult | Any:
        """First round: ask. Retry: check the state and return the response."""
        key = P.MRTR_KEY[tool]
        responses = ctx.input_responses or {}
        if key not in responses:
            P.record_event(recorder, "mrtr-asked", tool=tool, request_id=ctx.request_id)
            return InputRequiredResult(input_requests={key: request}, request_state=P.MRTR_STATE[tool])
        P.record_event(
            recorder,
            "mrtr-answered",
            tool=tool,
            request_id=ctx.request_id,
            state_ok=ctx.request_state == P.MRTR_STATE[tool],
            state=ctx.request_state,
        )
        return responses[key]

    @mcp.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool()
    def where(region: Annotated[str, Field(json_schema_extra=P.PARAM_SCHEMA_EXTRA)]) -> str:
        """Name the region; `region` travels in the Mcp-Param-Region header on 2026-07-28."""
        return P.where_text(region)

    @mcp.tool()
    async def progress(steps: int, ctx: Context) -> str:
        """Report `steps` progress notifications, then return."""
        for i in range(1, steps + 1):
            await ctx.report_progress(i, steps, f"step {i} of {steps}")
            await anyio.sleep(0.02)
        return f"done {steps}"

    @mcp.tool()
    async def sleep(seconds: float, tag: str, ctx: Context, tick: float = 0.0) -> str:
        """Sleep (at most 60 s), reporting progress every `tick` seconds if > 0; records
        whether it finished or was cancelled."""
        P.record_event(recorder, "sleep-started", tag=tag, request_id=ctx.request_id, modern=is_modern(ctx))
        try:
            deadline = anyio.current_time() + min(max(seconds, 0.0), 60.0)
            n = 0
            while anyio.current_time() < deadline:
                step = tick if tick > 0 else deadline - anyio.current_time()
                await anyio.sleep(min(step, max(deadline - anyio.current_time(), 0)))
                if tick > 0:
                    n += 1
                    await ctx.report_progress(n, None, f"tick {n}")
        except anyio.get_cancelled_exc_class():
            P.record_event(recorder, "sleep-cancelled", tag=tag, request_id=ctx.request_id)
            raise
        P.record_event(recorder, "sleep-finished", tag=tag, request_id=ctx.request_id)
        return f"slept {tag}"

    @mcp.tool()
    async def ask_form(ctx: Context) -> str | InputRequiredResult:
        """Ask the client to fill a form (elicitation/create, form mode); return its answer."""
        if is_modern(ctx):
            request = types.ElicitRequest(
                params=types.ElicitRequestFormParams(message=P.FORM_MESSAGE, requested_schema=P.FORM_SCHEMA)
            )
            answer = input_round(ctx, "ask_form", request)
            if isinstance(answer, InputRequiredResult):
                return answer
        else:
            answer = await ctx.session.elicit_form(P.FORM_MESSAGE, P.FORM_SCHEMA, ctx.request_context.request_id)
        answer = types.ElicitResult.model_validate(answer.model_dump(by_alias=True))
        return json.dumps({"action": answer.action, "content": answer.content}, ensure_ascii=False)

    @mcp.tool()
    async def ask_sampling(ctx: Context) -> str | InputRequiredResult:
        """Ask the client's model (sampling/createMessage); return the text and model."""
        message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=P.SAMPLING_PROMPT))
        if is_modern(ctx):
            request = types.CreateMessageRequest(
                params=types.CreateMessageRequestParams(messages=[message], max_tokens=16)
            )
            answer = input_round(ctx, "ask_sampling", request)
            if isinstance(answer, InputRequiredResult):
                return answer
            result = types.CreateMessageResult.model_validate(answer.model_dump(by_alias=True))
        else:
            result = await ctx.session.create_message(
                [message], max_tokens=16, related_request_id=ctx.request_context.request_id
            )
        text = result.content.text if isinstance(result.content, types.TextContent) else None
        return json.dumps({"text": text, "model": result.model}, ensure_ascii=False)

    @mcp.tool()
    async def ask_roots(ctx: Context) -> str | InputRequiredResult:
        """Ask the client for its roots (roots/list); return them."""
        if is_modern(ctx):
            answer = input_round(ctx, "ask_roots", types.ListRootsRequest())
            if isinstance(answer, InputRequiredResult):
                return answer
            result = types.ListRootsResult.model_validate(answer.model_dump(by_alias=True))
        else:
            result = await ctx.session.send_request(types.ListRootsRequest(), types.ListRootsResult, metadata=related(ctx))
        return json.dumps([{"uri": str(r.uri), "name": r.name} for r in result.roots], ensure_ascii=False)

    @mcp.tool()
    async def drop_listens(ctx: Context) -> str:
        """Cut every open subscriptions/listen stream abruptly (2026-07-28)."""
        n = dropper.drop_all()
        P.record_event(recorder, "listens-dropped", count=n)
        return f"dropped {n}"

    def added_later() -> str:
        """A tool that exists only after change_tools."""
        return "added later ✓"

    @mcp.tool()
    async def change_tools(ctx: Context) -> str:
        """Add the tool `added_later` and announce it: on a legacy session with
        notifications/tools/list_changed unrelated to this request (GET stream), on
        2026-07-28 to the subscriptions/listen streams."""
        if mcp._tool_manager.get_tool(P.ADDED_TOOL) is None:
            mcp.add_tool(added_later, name=P.ADDED_TOOL)
        if is_modern(ctx):
            await ctx.notify_tools_changed()
        else:
            await ctx.session.send_tool_list_changed()
        P.record_event(recorder, "tools-changed", modern=is_modern(ctx))
        return "changed"

    def make_filler(name: str):
        def filler() -> str:
            return P.filler_text(name)

        return filler

    for name in P.FILLER_TOOLS:
        mcp.add_tool(make_filler(name), name=name, description=f"Filler tool {name} (pagination).")

    for uri in P.RESOURCES:
        mcp.add_resource(
            TextResource(uri=uri, name=uri.rsplit("/", 1)[-1], mime_type="text/plain", text=P.resource_text(uri))
        )

    def make_prompt(prompt: str):
        def greet(name: str) -> str:
            return P.prompt_text(name, prompt)

        return greet

    for prompt in P.PROMPT_NAMES:
        mcp.prompt(name=prompt, description=f"Greeting prompt {prompt}.")(make_prompt(prompt))

    dropper.app = mcp.streamable_http_app(stateless_http=False)
    return dropper


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: pair_server_v2.py CONFIG.json", file=sys.stderr)
        sys.exit(2)
    sys.exit(P.serve(P.load_config(sys.argv[1]), build))
