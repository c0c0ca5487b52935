"""Interop scenario: several AWS profiles in one MCP server entry.

The official MCP Python SDK client drives `mcp-sigv4 <url> --profile dev prod`
against the interop FastMCP server behind the key-ring verifier
(credentials/keyring_upstream.py) with two key pairs in its ring, one per
profile, and with bind_sessions on: a request in a session that another key
opened is refused, as the AWS MCP Server binds a session to the principal.
botocore recomputes every signature with the secret of the key it names.

  profiles-two-accounts  every listed tool carries the optional aws_profile
                         argument (enum dev, prod); calls without it, or with
                         "dev", are signed by dev in dev's session; calls with
                         "prod" are signed by prod in a session of prod's own,
                         opened by replaying the client's initialize; the
                         argument never reaches the server; a roots/list the
                         server sends from prod's session reaches the SDK client
                         and its answer goes back into that session; an unknown
                         name is a JSON-RPC error naming dev and prod, nothing
                         sent; concurrent calls of both; each session ended by
                         its own signed DELETE; exit 0; no secret in the log.

Hooked into run_interop.py after its SCENARIOS list; the helpers are
run_interop's and scenarios_credentials' own.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

_main = sys.modules.get("__main__")
if _main is not None and Path(getattr(_main, "__file__", "") or "").name == "run_interop.py":
    ri = _main
else:
    import run_interop as ri  # noqa: E402

import anyio  # noqa: E402
from mcp.shared.exceptions import McpError  # noqa: E402

import scenarios_credentials as sc_cred  # noqa: E402

Checks = ri.Checks
Ctx = ri.Ctx
Scenario = ri.Scenario
log = ri.log
step = ri.step
short = ri.short

BOUND_S = 60
PROFILES = ["dev", "prod"]
CONCURRENT = 4


async def wait_for_deletes(up: sc_cred.KeyringUpstream, count: int, timeout: float = 4.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = up.stats()
        deletes = [r for r in stats["requests"] if r["method"] == "DELETE"]
        if len(deletes) >= count or time.monotonic() > deadline:
            return stats
        await anyio.sleep(0.05)


async def sc_two_accounts(ctx: Ctx) -> None:
    c = ctx.checks
    up = sc_cred.KeyringUpstream(ctx.workdir, "sse", ctx.verbose, bind_sessions=True)
    up.start()
    proxy = None
    dev, prod = ri.random_creds(token=False), ri.random_creds(token=True)
    up.add_key(dev, ["mcp"], "profile dev")
    up.add_key(prod, ["mcp"], "profile prod")
    cred_file = ctx.workdir / "credentials"
    cred_file.write_text(
        f"[dev]\naws_access_key_id = {dev.access_key}\naws_secret_access_key = {dev.secret_key}\n\n"
        f"[prod]\naws_access_key_id = {prod.access_key}\naws_secret_access_key = {prod.secret_key}\n"
        f"aws_session_token = {prod.token}\n"
    )
    env = ri.base_child_env(ctx.workdir)
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(cred_file)
    expected_roots = [
        {"uri": "file:///interop/root-one", "name": "root one"},
        {"uri": "file:///interop/r%C3%B6%C3%B6t-two", "name": "röot two ✓"},
    ]
    calls = {"dev": 0, "prod": 0}
    try:
        proxy = ri.ProxySession(ctx, up.url, env, ["--profile", *PROFILES])
        log(f"  upstream {up.url}; proxy: {proxy.command_line}")
        try:
            with anyio.fail_after(BOUND_S):
                async with AsyncExitStack() as stack:
                    session = await proxy.open(stack)
                    step("initialize")
                    init = await session.initialize()
                    c.equal(init.protocolVersion, ri.PROTOCOL_VERSION, "initialize: negotiated protocol version")

                    step("tools/list: every tool gains aws_profile")
                    tools = (await session.list_tools()).tools
                    c.expect(ri.EXPECTED_TOOLS <= {t.name for t in tools}, "tools/list: all tools present")
                    wrong = [t.name for t in tools
                             if (t.inputSchema.get("properties") or {}).get("aws_profile", {}).get("enum") != PROFILES
                             or (t.inputSchema["properties"]["aws_profile"].get("type") != "string")
                             or "aws_profile" in (t.inputSchema.get("required") or [])]
                    c.expect(not wrong, "tools/list: each tool has an optional string aws_profile, enum dev, prod",
                             short(wrong))
                    add = next(t for t in tools if t.name == "add")
                    c.equal(sorted(add.inputSchema["properties"]), ["a", "aws_profile", "b"],
                            "tools/list: the server's own properties kept")

                    step("calls: default, dev by name, prod")
                    res = await session.call_tool("add", {"a": 40, "b": 2})
                    calls["dev"] += 1
                    c.equal(ri.text_of(res), "42", "add without aws_profile (default: dev)")
                    res = await session.call_tool("echo", {"text": "named dev", "aws_profile": "dev"})
                    calls["dev"] += 1
                    c.equal(ri.text_of(res), "named dev", "echo with aws_profile dev")
                    res = await session.call_tool("add", {"a": 1, "b": 2, "aws_profile": "prod"})
                    calls["prod"] += 1
                    c.expect(not res.isError and ri.text_of(res) == "3", "add with aws_profile prod", short(res))

                    step("roots/list from prod's session, answered by the SDK client")
                    before = proxy.roots_requests
                    res = await session.call_tool("roots_probe", {"via": "post", "aws_profile": "prod"})
                    calls["prod"] += 1
                    c.equal(proxy.roots_requests - before, 1, "roots/list reached the client once")
                    c.equal(json.loads(ri.text_of(res)), expected_roots,
                            "roots/list: the client's answer reached prod's session")

                    step("an unknown profile")
                    try:
                        res = await session.call_tool("add", {"a": 1, "b": 1, "aws_profile": "staging"})
                        c.expect(False, "unknown profile refused", f"answered {short(res)}")
                    except McpError as e:
                        c.equal(e.error.code, -32602, "unknown profile: JSON-RPC error -32602")
                        c.expect("dev, prod" in e.error.message, "unknown profile: the error names dev and prod",
                                 short(e.error.message))

                    step(f"{CONCURRENT} calls of each profile at once")
                    batch = []
                    for i in range(CONCURRENT):
                        batch.append(session.call_tool("add", {"a": i, "b": 100}))
                        batch.append(session.call_tool("add", {"a": i, "b": 200, "aws_profile": "prod"}))
                    results = await asyncio.gather(*batch)
                    calls["dev"] += CONCURRENT
                    calls["prod"] += CONCURRENT
                    texts = [ri.text_of(r) for r in results]
                    c.equal(texts, [str(i + b) for i in range(CONCURRENT) for b in (100, 200)],
                            "concurrent: each answer to its own call")
        except Exception as e:
            ri.describe_failure(c, e, BOUND_S)
        c.expect(not proxy.bad_lines, "stdout carried only valid JSON-RPC lines", short(proxy.bad_lines))

        stats = await wait_for_deletes(up, 2)
        ri.check_exit(c, proxy)
        requests = stats["requests"]
        rejected = [r for r in requests if not r["accepted"]]
        c.expect(not rejected, "verifier (botocore, sessions bound to their principal): rejected no request",
                 short([(r["method"], r["jsonrpc_method"], r["akid"], r["error_type"]) for r in rejected[:5]]))
        for r in stats["rejections"][:3]:
            log(f"    rejected {r['method']}: {r['error_type']}: {r['message'][:300]}")
        owners = stats.get("session_owners", {})
        c.equal(sorted(owners.values()), sorted([dev.access_key, prod.access_key]),
                "two MCP sessions, one opened by each profile's key")
        by_key = {key.access_key: [r for r in requests if r["akid"] == key.access_key] for key in (dev, prod)}
        for name, key in (("dev", dev), ("prod", prod)):
            mine = by_key[key.access_key]
            sid = next((s for s, k in owners.items() if k == key.access_key), None)
            inits = [r for r in mine if r["jsonrpc_method"] == "initialize"]
            c.equal(len(inits), 1, f"{name}: one initialize, signed by {name}")
            c.expect(all(r["session_id"] == sid for r in mine if r["jsonrpc_method"] != "initialize"),
                     f"{name}: every later request in {name}'s own session")
            tool_calls = [r for r in mine if r["jsonrpc_method"] == "tools/call"]
            c.equal(len(tool_calls), calls[name], f"{name}: its {calls[name]} tool calls signed by {name}")
            c.expect(all(r["token_present"] == (key.token is not None) for r in mine),
                     f"{name}: the session token sent exactly when the profile has one")
            deletes = [r for r in mine if r["method"] == "DELETE"]
            c.expect(len(deletes) == 1 and deletes[0]["session_id"] == sid,
                     f"{name}: its session ended by one DELETE signed by {name}", short(deletes))
        prod_init = next((r for r in by_key[prod.access_key] if r["jsonrpc_method"] == "initialize"), None)
        dev_init = next((r for r in by_key[dev.access_key] if r["jsonrpc_method"] == "initialize"), None)
        c.expect(prod_init is not None and dev_init is not None and prod_init["rpc_id"] != dev_init["rpc_id"],
                 "prod's initialize: the client's replayed with an id of the proxy's own",
                 short((prod_init or {}).get("rpc_id")))
        leaked = [r["tool_argument_names"] for r in requests
                  if r["jsonrpc_method"] == "tools/call" and "aws_profile" in (r["tool_argument_names"] or [])]
        c.expect(not leaked, "no tools/call reached the server with aws_profile", short(leaked))
        answers = [r for r in requests if r["jsonrpc_method"] == "<response>"]
        c.expect(len(answers) == 1 and answers[0]["akid"] == prod.access_key,
                 "the client's roots/list answer went to prod's session, signed by prod",
                 short([(r["akid"], r["rpc_id"]) for r in answers]))
        secrets_: dict[str, str | None] = {
            "dev secret": dev.secret_key, "prod secret": prod.secret_key, "prod token": prod.token,
        }
        for i, sid in enumerate(owners):
            secrets_[f"mcp-session-id {i}"] = sid
        ri.check_no_secrets_logged(c, proxy, secrets_)
        c.note(f"{len(requests)} requests: dev {len(by_key[dev.access_key])}, prod {len(by_key[prod.access_key])}")
    finally:
        up.stop()
        sc_cred.show_logs_on_failure(c, proxy, up)


SCENARIOS = [
    Scenario("profiles-two-accounts", "--profile dev prod: aws_profile in tools/list; each profile's calls signed "
             "by its own key in its own session (bound to the principal); roots/list answered back into prod's; "
             "unknown profile refused", sc_two_accounts),
]
