"""Pairing server, `mcp` 1.30.0 (protocol 2025-11-25 only): FastMCP over
Streamable HTTP, stateful, SSE answers, behind the SigV4 verifier.

    target/interop-venv/bin/python pair_server_v1.py CONFIG.json

CONFIG.json: as upstream.py ("access_key", "secret_key", "token", "region",
"service", "stats_file", "max_lifetime_s", "verbose"). Prints `READY <port>`.

Offers what pairing.py lists: feature tools, filler tools, resources and a
prompt; tools/list and resources/list are paginated (pairing.PAGE_SIZE a page,
opaque cursors) through low-level handlers that replace FastMCP's unpaginated
ones. Elicitation, sampling and roots are real server-to-client requests tied to
the tool call (they travel on its POST's SSE stream); tools/list_changed is
sent unrelated to any request, so it travels on the GET stream. Server-side
events (sleep started/cancelled/finished, tools changed) go to the stats file
next to the verifier's request records (which show the notifications/cancelled
POSTs themselves).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import anyio
from mcp import types
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.resources import TextResource
from mcp.shared.message import ServerMessageMetadata
from pydantic import BaseModel, Field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pairing as P  # noqa: E402


class FormAnswer(BaseModel):
    name: str
    count: int


def build(recorder):
    mcp = FastMCP(P.SERVER_NAMES["v1"], host="127.0.0.1", stateless_http=False, log_level="WARNING")

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
        P.record_event(recorder, "sleep-started", tag=tag, request_id=ctx.request_id)
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
    async def ask_form(ctx: Context) -> str:
        """Ask the client to fill a form (elicitation/create, form mode); return its answer."""
        answer = await ctx.elicit(P.FORM_MESSAGE, FormAnswer)
        data = answer.data.model_dump() if answer.action == "accept" and answer.data else None
        return json.dumps({"action": answer.action, "content": data}, ensure_ascii=False)

    @mcp.tool()
    async def ask_sampling(ctx: Context) -> str:
        """Ask the client's model (sampling/createMessage); return the text and model."""
        result = await ctx.session.create_message(
            messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=P.SAMPLING_PROMPT))],
            max_tokens=16,
            related_request_id=ctx.request_id,
        )
        text = result.content.text if isinstance(result.content, types.TextContent) else None
        return json.dumps({"text": text, "model": result.model}, ensure_ascii=False)

    @mcp.tool()
    async def ask_roots(ctx: Context) -> str:
        """Ask the client for its roots (roots/list); return them."""
        result = await ctx.session.send_request(
            types.ServerRequest(types.ListRootsRequest()),
            types.ListRootsResult,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
        return json.dumps([{"uri": str(r.uri), "name": r.name} for r in result.roots], ensure_ascii=False)

    @mcp.tool()
    def drop_listens() -> str:
        """2026-07-28 only (subscriptions/listen); nothing to drop on 2025-11-25."""
        return "dropped 0"

    def added_later() -> str:
        """A tool that exists only after change_tools."""
        return "added later ✓"

    @mcp.tool()
    async def change_tools(ctx: Context) -> str:
        """Add the tool `added_later` and announce it with notifications/tools/list_changed
        (unrelated to this request, so on the GET stream)."""
        if mcp._tool_manager.get_tool(P.ADDED_TOOL) is None:
            mcp.add_tool(added_later, name=P.ADDED_TOOL)
        await ctx.session.send_tool_list_changed()
        P.record_event(recorder, "tools-changed")
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

    # Paginated lists, replacing FastMCP's one-page handlers. The SDK's own
    # tool-cache refresh calls the handler with no request: give it all tools.
    low = mcp._mcp_server

    @low.list_tools()
    async def list_tools(request: types.ListToolsRequest) -> types.ListToolsResult:
        tools = await mcp.list_tools()
        if request is None:
            return types.ListToolsResult(tools=tools)
        cursor = request.params.cursor if request.params else None
        items, next_cursor = P.page(tools, cursor)
        return types.ListToolsResult(tools=items, nextCursor=next_cursor)

    @low.list_resources()
    async def list_resources(request: types.ListResourcesRequest) -> types.ListResourcesResult:
        resources = await mcp.list_resources()
        cursor = request.params.cursor if request.params else None
        items, next_cursor = P.page(resources, cursor)
        return types.ListResourcesResult(resources=items, nextCursor=next_cursor)

    return mcp.streamable_http_app()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: pair_server_v1.py CONFIG.json", file=sys.stderr)
        sys.exit(2)
    sys.exit(P.serve(P.load_config(sys.argv[1]), build))
