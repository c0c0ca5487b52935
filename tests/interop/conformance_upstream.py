"""Upstream MCP server for the official MCP conformance suite's server
scenarios (npm `@modelcontextprotocol/conformance`, `conformance server`):
the official MCP Python SDK (FastMCP, mcp 1.30.0) over Streamable HTTP,
stateful, with the tools, resources and prompts those scenarios call, each
written from the scenario's own requirements text (`conformance list --server`
names them; each scenario's description spells out what it expects).

Run: python conformance_upstream.py CONFIG.json

CONFIG.json:
    {"verify": null | {"access_key", "secret_key", "token", "region", "service"},
     "stats_file": "/path/stats.json", "max_lifetime_s": 600}

With "verify" the app sits behind verifier.py's SigV4 middleware (every
request must be signed by mcp-sigv4 with those credentials), as when the suite
runs through `mcp-sigv4 serve`; without it the suite talks to it directly.
The SDK's own DNS-rebinding protection is on (it binds 127.0.0.1: Host and
Origin must be loopback), and an event store gives every POST stream a
priming event so `test_reconnection` can close it mid-call (SEP-1699).

It binds 127.0.0.1 on a free port and prints `READY <port>` once it accepts
connections. It stops on SIGTERM/SIGINT, at end of stdin, or after
max_lifetime_s.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sys
import threading
import zlib
import struct

import anyio
import uvicorn
from mcp import types
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.prompts.base import AssistantMessage, UserMessage  # noqa: F401
from mcp.server.fastmcp.exceptions import ToolError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream import MemoryEventStore  # noqa: E402
from verifier import Expectation, Recorder, SigV4VerifierMiddleware  # noqa: E402


def png_1x1_red() -> str:
    """A valid 1x1 red PNG, base64."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"\x00\xff\x00\x00"  # filter 0, one RGB pixel
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def wav_silence() -> str:
    """A valid 10 ms, 8 kHz, 8-bit mono WAV of silence, base64."""
    samples = b"\x80" * 80
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return base64.b64encode(b"RIFF" + struct.pack("<I", len(body)) + body).decode()


PNG = png_1x1_red()
WAV = wav_silence()

ELICIT_BASIC = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}
ELICIT_DEFAULTS = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
                   "default": "active"},
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}
ELICIT_ENUMS = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {"type": "string", "oneOf": [{"const": "value1", "title": "First Option"},
                                                      {"const": "value2", "title": "Second Option"},
                                                      {"const": "value3", "title": "Third Option"}]},
        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                       "enumNames": ["Option One", "Option Two", "Option Three"]},
        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {"type": "array", "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
                                                             {"const": "value2", "title": "Second Choice"},
                                                             {"const": "value3", "title": "Third Choice"}]}},
    },
    "required": [],
}
SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


def build_server() -> FastMCP:
    mcp = FastMCP(
        "mcp-sigv4-conformance-upstream",
        host="127.0.0.1",  # turns on the SDK's DNS-rebinding protection (loopback Host and Origin only)
        stateless_http=False,
        event_store=MemoryEventStore(),
        retry_interval=500,
        log_level="WARNING",
    )
    low = mcp._mcp_server

    # -- tools
    @mcp.tool(description="Returns one text content")
    def test_simple_text() -> list[types.ContentBlock]:
        return [types.TextContent(type="text", text="This is a simple text response for testing.")]

    @mcp.tool(description="Returns one image content (1x1 PNG)")
    def test_image_content() -> list[types.ContentBlock]:
        return [types.ImageContent(type="image", data=PNG, mimeType="image/png")]

    @mcp.tool(description="Returns one audio content (WAV)")
    def test_audio_content() -> list[types.ContentBlock]:
        return [types.AudioContent(type="audio", data=WAV, mimeType="audio/wav")]

    @mcp.tool(description="Returns an embedded text resource")
    def test_embedded_resource() -> list[types.ContentBlock]:
        return [types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
            uri="test://embedded-resource", mimeType="text/plain", text="This is an embedded resource content."))]

    @mcp.tool(description="Returns text, image and resource content")
    def test_multiple_content_types() -> list[types.ContentBlock]:
        return [
            types.TextContent(type="text", text="Multiple content types test:"),
            types.ImageContent(type="image", data=PNG, mimeType="image/png"),
            types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
                uri="test://mixed-content-resource", mimeType="application/json",
                text=json.dumps({"test": "data", "value": 123}))),
        ]

    @mcp.tool(description="Sends three info log notifications while it runs")
    async def test_tool_with_logging(ctx: Context) -> str:
        await ctx.info("Tool execution started")
        await anyio.sleep(0.05)
        await ctx.info("Tool processing data")
        await anyio.sleep(0.05)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @mcp.tool(description="Always fails")
    def test_error_handling() -> str:
        raise ToolError("This tool intentionally returns an error for testing")

    @mcp.tool(description="Reports progress 0, 50 and 100 of 100")
    async def test_tool_with_progress(ctx: Context) -> str:
        for done in (0, 50, 100):
            await ctx.report_progress(done, 100)
            if done < 100:
                await anyio.sleep(0.05)
        return "Tool with progress executed successfully"

    @mcp.tool(description="Asks the client's LLM (sampling/createMessage)")
    async def test_sampling(prompt: str, ctx: Context) -> str:
        result = await ctx.session.create_message(
            messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
            max_tokens=100, related_request_id=ctx.request_id)
        content = result.content
        text = content.text if isinstance(content, types.TextContent) else json.dumps(content.model_dump())
        return f"LLM response: {text}"

    @mcp.tool(description="Asks the user (elicitation/create)")
    async def test_elicitation(message: str, ctx: Context) -> str:
        result = await ctx.session.elicit_form(message, ELICIT_BASIC, ctx.request_id)
        return f"User response: action={result.action}, content={json.dumps(result.content)}"

    @mcp.tool(description="Elicitation whose schema has a default for every primitive type (SEP-1034)")
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        result = await ctx.session.elicit_form("Please review and update the form fields with defaults",
                                               ELICIT_DEFAULTS, ctx.request_id)
        return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"

    @mcp.tool(description="Elicitation with the five enum shapes (SEP-1330)")
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        result = await ctx.session.elicit_form("Please select options from the enum fields", ELICIT_ENUMS,
                                               ctx.request_id)
        return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"

    @mcp.tool(description="Tool with JSON Schema 2020-12 features")
    def json_schema_2020_12_tool(name: str = "", address: dict | None = None) -> str:
        return f"name={name}"

    mcp._tool_manager._tools["json_schema_2020_12_tool"].parameters = SCHEMA_2020_12  # pinned SDK internals

    @mcp.tool(description="Closes its SSE stream mid-call; the result arrives after the client reconnects")
    async def test_reconnection(ctx: Context) -> str:
        await anyio.sleep(0.05)
        await ctx.close_sse_stream()
        await anyio.sleep(0.1)
        return "Reconnection test completed successfully"

    # -- resources
    @mcp.resource("test://static-text", name="static-text", description="A static text resource",
                  mime_type="text/plain")
    def static_text() -> str:
        return "This is the content of the static text resource."

    @mcp.resource("test://static-binary", name="static-binary", description="A static binary resource (PNG)",
                  mime_type="image/png")
    def static_binary() -> bytes:
        return base64.b64decode(PNG)

    @mcp.resource("test://template/{id}/data", name="template-data", description="A resource template",
                  mime_type="application/json")
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @mcp.resource("test://watched-resource", name="watched-resource", description="A resource to subscribe to",
                  mime_type="text/plain")
    def watched() -> str:
        return "Watched resource content"

    subscriptions: set[str] = set()

    @low.subscribe_resource()
    async def subscribe(uri) -> None:
        subscriptions.add(str(uri))

    @low.unsubscribe_resource()
    async def unsubscribe(uri) -> None:
        subscriptions.discard(str(uri))

    @low.set_logging_level()
    async def set_level(level) -> None:
        return None

    # -- prompts
    @mcp.prompt(description="A simple prompt without arguments")
    def test_simple_prompt() -> list:
        return [UserMessage("This is a simple prompt for testing.")]

    @mcp.prompt(description="A prompt with two required arguments")
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list:
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @mcp.prompt(description="A prompt that embeds a resource")
    def test_prompt_with_embedded_resource(resourceUri: str) -> list:
        return [
            UserMessage(types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
                uri=resourceUri, mimeType="text/plain", text="Embedded resource content for testing."))),
            UserMessage("Please process the embedded resource above."),
        ]

    @mcp.prompt(description="A prompt with an image")
    def test_prompt_with_image() -> list:
        return [
            UserMessage(types.ImageContent(type="image", data=PNG, mimeType="image/png")),
            UserMessage("Please analyze the image above."),
        ]

    @mcp.completion()
    async def complete(ref, argument, context) -> types.Completion:
        values = [v for v in ("paris", "park", "party", "test", "testing") if v.startswith(argument.value or "")]
        return types.Completion(values=values, total=len(values), hasMore=False)

    # The SDK's lowlevel server always declares resources.subscribe false; this one subscribes.
    plain = low.get_capabilities

    def capabilities(*args, **kwargs):
        caps = plain(*args, **kwargs)
        if caps.resources is not None:
            caps.resources.subscribe = True
        return caps

    low.get_capabilities = capabilities
    return mcp


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    mcp = build_server()
    app = mcp.streamable_http_app()
    verify = cfg.get("verify")
    if verify:
        exp = Expectation(access_key=verify["access_key"], secret_key=verify["secret_key"], token=verify.get("token"),
                          region=verify["region"], service=verify["service"])
        app = SigV4VerifierMiddleware(app, exp, Recorder(cfg["stats_file"]), log=None)

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
        log("conformance upstream: server did not start within 5 s")
        stop()

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=[sock])
    announcer.cancel()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: conformance_upstream.py CONFIG.json", file=sys.stderr)
        sys.exit(2)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(asyncio.run(main(sys.argv[1])))
