"""Client command for the MCP conformance suite's client scenarios
(`conformance client --command "python conformance_client.py [--relay BIN] "`;
the suite appends its server URL and sets MCP_CONFORMANCE_SCENARIO).

With `--relay BIN` the official MCP Python SDK (mcp 1.30.0) stdio client
launches `BIN <url>` (mcp-sigv4: the stdio relay is then the HTTP client the
suite's server sees; it signs with random credentials, which the suite's
server does not check); without it the same SDK talks Streamable HTTP to the
URL itself, the baseline the relay is compared with.

Per scenario it does what the scenario's server expects of a client:
initialize and tools/list; `tools_call`: add_numbers(5, 3);
`elicitation-sep1034-client-defaults`: the tool's elicitation answered
`accept` with the schema's defaults; `sse-retry`: test_reconnection, whose
stream the server closes after a priming event, so the result only arrives
after a GET reconnection with Last-Event-ID. Exit 0 when the client side ran
without error (the suite judges the rest), 1 otherwise.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import sys
import tempfile
from contextlib import AsyncExitStack

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

TIMEOUT = dt.timedelta(seconds=20)


async def elicitation(context, params: types.ElicitRequestParams) -> types.ElicitResult:
    schema = getattr(params, "requestedSchema", None) or {}
    content = {name: prop["default"] for name, prop in schema.get("properties", {}).items() if "default" in prop}
    return types.ElicitResult(action="accept", content=content)


async def sampling(context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="ok"),
                                     model="conformance-client", stopReason="endTurn")


def relay_params(binary: str, url: str, home: str) -> StdioServerParameters:
    akid = "AKIA" + secrets.token_hex(8).upper()
    secret = base64.b64encode(secrets.token_bytes(30)).decode()
    env = {"HOME": home, "AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    return StdioServerParameters(command=binary, args=[url, "--service", "execute-api", "--region", "us-east-1",
                                                       "--log-level", "debug"], env=env)


async def run(url: str, relay: str | None, scenario: str) -> None:
    async with AsyncExitStack() as stack:
        if relay:
            home = stack.enter_context(tempfile.TemporaryDirectory(prefix="conformance-client-"))
            read, write = await stack.enter_async_context(stdio_client(relay_params(relay, url, home)))
        else:
            read, write, _ = await stack.enter_async_context(streamable_http_client(url))
        session = await stack.enter_async_context(ClientSession(
            read, write, read_timeout_seconds=TIMEOUT, elicitation_callback=elicitation,
            sampling_callback=sampling,
            client_info=types.Implementation(name="mcp-sigv4-conformance-client", version="1")))
        await session.initialize()
        tools = {t.name for t in (await session.list_tools()).tools}
        if scenario == "tools_call":
            print((await session.call_tool("add_numbers", {"a": 5, "b": 3})).content, file=sys.stderr)
        elif scenario == "elicitation-sep1034-client-defaults":
            print((await session.call_tool("test_client_elicitation_defaults", {})).content, file=sys.stderr)
        elif scenario == "sse-retry":
            result = await session.call_tool("test_reconnection", {})
            print(result.content, file=sys.stderr)
        elif scenario != "initialize":
            print(f"conformance_client: nothing more to do for {scenario!r} (tools: {sorted(tools)})",
                  file=sys.stderr)


def main() -> int:
    args = sys.argv[1:]
    relay = None
    if args[:1] == ["--relay"]:
        relay, args = args[1], args[2:]
    if len(args) != 1:
        print("usage: conformance_client.py [--relay BINARY] URL", file=sys.stderr)
        return 2
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "initialize")
    try:
        anyio.run(run, args[0], relay, scenario)
    except BaseException as e:  # noqa: BLE001
        for leaf in getattr(e, "exceptions", None) or [e]:
            print(f"conformance_client: {type(leaf).__name__}: {leaf}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
