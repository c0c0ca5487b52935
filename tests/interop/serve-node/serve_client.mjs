// The TypeScript SDK's Streamable HTTP client (npm @modelcontextprotocol/sdk,
// StreamableHTTPClientTransport) against `mcp-sigv4 serve`, for the serve
// scenarios of serve_clients.py:
//
//   node serve_client.mjs URL SESSIONS TAG_PREFIX
//
// Runs SESSIONS sessions at once, each: connect (initialize), tools/list,
// whoami(tag) three times at once, echo, and gated_progress(gate) whose result
// the upstream holds until ack(gate) is called, which this client does only
// once the progress notification has reached it. Then it ends the session
// (DELETE) and closes. Prints one JSON report on stdout (the shape
// serve_clients.py's check_report reads) and exits 0 even when a step failed
// (the failure is in the report).

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, sessionsArg, prefix] = process.argv.slice(2);
const SESSIONS = Number(sessionsArg || "1");
const GATE_WAIT_MS = 15000;

function textOf(result) {
  const texts = (result.content || []).filter((c) => c.type === "text").map((c) => c.text);
  return texts.length === 1 ? texts[0] : `<${texts.length} text blocks>`;
}

async function oneSession(index) {
  const tag = `${prefix}-${index}`;
  const out = { tag, whoami: [], errors: [] };
  const client = new Client({ name: "mcp-sigv4-serve-ts", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  try {
    await client.connect(transport);
    out.protocol = transport.protocolVersion ?? null;
    out.client_session = transport.sessionId ?? null;
    out.tools = (await client.listTools()).tools.map((t) => t.name);
    const who = await Promise.all([0, 1, 2].map(() => client.callTool({ name: "whoami", arguments: { tag } })));
    out.whoami = who.map((r) => JSON.parse(textOf(r)));
    out.echo = textOf(await client.callTool({ name: "echo", arguments: { text: `echo ${tag} ✓` } }));

    const gate = `gate-${tag}`;
    let seen;
    const progressSeen = new Promise((resolve) => (seen = resolve));
    let resultAt = null;
    let progressAt = null;
    const call = client
      .callTool({ name: "gated_progress", arguments: { gate } }, undefined, {
        onprogress: () => {
          progressAt ??= performance.now();
          seen();
        },
        timeout: 45000,
      })
      .then((r) => {
        resultAt = performance.now();
        return r;
      });
    let timer;
    const acked = Promise.race([
      progressSeen.then(() => "seen"),
      new Promise((resolve) => (timer = setTimeout(() => resolve("timeout"), GATE_WAIT_MS))),
    ]).then(async (how) => {
      clearTimeout(timer);
      if (how === "seen") await client.callTool({ name: "ack", arguments: { gate } });
      return how;
    });
    const [result, how] = await Promise.all([call, acked]);
    out.gate = textOf(result);
    out.progress_before_result = how === "seen" && progressAt !== null && resultAt !== null && progressAt <= resultAt;
    await transport.terminateSession();
    out.terminated = true;
  } catch (e) {
    out.errors.push(`${e?.name ?? "Error"}: ${e?.message ?? e}`);
  } finally {
    try {
      await client.close();
    } catch (e) {
      out.errors.push(`close: ${e?.message ?? e}`);
    }
  }
  return out;
}

const sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => oneSession(i)));
process.stdout.write(JSON.stringify({ client: "typescript-sdk", sessions }) + "\n");
