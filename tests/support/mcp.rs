//! MCP on the wire, for the relay tests: JSON-RPC and SSE texts, the client's
//! handshake messages, and [`standard_reply`], what a plain 2025-06-18 MCP
//! server answers.
//!
//! Owns: the MCP side of [`Seen`] (the JSON-RPC method and id of a body), of
//! [`Reply`] and [`SseBuilder`] (a JSON-RPC result, an SSE `message` event) and
//! of [`Server`] ([`Server::standard`], [`Server::rpc`]).
//! Refuses: any I/O; the server is `server.rs`.

use serde_json::{Value, json};

use super::server::{Reply, Seen, Server, SseBuilder};

/// The MCP session id [`standard_reply`] issues: must never appear whole on stderr.
pub const SESSION_ID: &str = "sess-4f2a9c1e7b3d46a8b0c2d9e8f7a6b5c4";
/// The protocol version [`standard_reply`] negotiates.
pub const LEGACY_VERSION: &str = "2025-06-18";

/// The client's `initialize` (id 1).
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"relay-test","version":"0.0.1"}}}"#;
/// The client's `notifications/initialized`.
pub const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

impl Seen {
    /// The JSON-RPC `method` of a single-message body.
    pub fn rpc_method(&self) -> Option<String> {
        self.json()?.get("method")?.as_str().map(str::to_owned)
    }

    /// The JSON-RPC `id` of a single-message body.
    pub fn rpc_id(&self) -> Option<Value> {
        self.json()?.get("id").cloned()
    }

    /// A POST whose single JSON-RPC message has method `m`.
    pub fn is_rpc(&self, m: &str) -> bool {
        self.method == "POST" && self.rpc_method().as_deref() == Some(m)
    }
}

impl Reply {
    /// `200` with a JSON-RPC result for request `id`.
    pub fn result(id: &Value, result: Value) -> Self {
        Reply::json(200, rpc_result(id, result))
    }
}

impl SseBuilder {
    /// Sends one `message` event whose data is `json` (one `data:` line per line).
    pub fn message(self, json: &str) -> Self {
        let text = sse_event(json);
        self.raw(&text)
    }
}

impl Server {
    /// A server that answers like [`standard_reply`].
    pub fn standard() -> Self {
        Server::start(standard_reply)
    }

    /// POSTs whose JSON-RPC method is `m`.
    pub fn rpc(&self, m: &str) -> Vec<Seen> {
        self.matching(|s| s.is_rpc(m))
    }
}

/// One SSE `message` event carrying `json` (split into `data:` lines).
pub fn sse_event(json: &str) -> String {
    let mut out = String::from("event: message\n");
    for line in json.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`.
pub fn rpc_result(id: &Value, result: Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"result":result}).to_string()
}

/// `{"jsonrpc":"2.0","id":…,"error":{"code":…,"message":…}}`.
pub fn rpc_error(id: &Value, code: i64, message: &str) -> String {
    json!({"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message}}).to_string()
}

/// What a plain 2025-06-18 MCP server answers: `initialize` with
/// [`LEGACY_VERSION`] and the session id [`SESSION_ID`]; notifications and
/// responses with 202; `GET` with 405; `DELETE` with 200; any other request with
/// the result `{"method": <its method>}`.
pub fn standard_reply(seen: &Seen) -> Reply {
    match seen.method.as_str() {
        "GET" => return Reply::status(405).header("allow", "POST, DELETE"),
        "DELETE" => return Reply::status(200),
        "POST" => {}
        _ => return Reply::status(405),
    }
    let Some(v) = seen.json() else {
        return Reply::json(
            400,
            rpc_error(&Value::Null, -32700, "Parse error").into_bytes(),
        );
    };
    if v.is_array() {
        return Reply::json(400, rpc_error(&Value::Null, -32600, "no batches here"));
    }
    let id = v.get("id").cloned();
    let method = v.get("method").and_then(Value::as_str);
    match (id, method) {
        (Some(id), Some("initialize")) => Reply::result(
            &id,
            json!({"protocolVersion": LEGACY_VERSION, "capabilities": {"tools": {"listChanged": true}},
                   "serverInfo": {"name": "scripted", "version": "1.0"}}),
        )
        .header("mcp-session-id", SESSION_ID),
        (Some(id), Some("ping")) => Reply::result(&id, json!({})),
        (Some(id), Some(m)) => Reply::result(&id, json!({ "method": m })),
        _ => Reply::accepted(),
    }
}

/// A 2026-07-28 request: `params` plus the `_meta` envelope.
pub fn modern_request(id: Value, method: &str, mut params: Value) -> String {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "relay-test", "version": "0.0.1"}
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}
