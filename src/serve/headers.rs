//! 2026-07-28's rule that a request's headers agree with its body
//! (<https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http>,
//! "Standard MCP Request Headers", "Header Value Encoding"): `Mcp-Method` is
//! the body's `method`; `Mcp-Name` is `params.name` (`tools/call`,
//! `prompts/get`) or `params.uri` (`resources/read`), compared after the
//! `=?base64?…?=` sentinel is decoded; `MCP-Protocol-Version` is the body's
//! `_meta` protocol version when it names one. Pure.
//! Refuses: checking `Mcp-Param-*` headers. The relay derives the upstream's
//! from the body and the listed tool schemas whatever the client sent, so a
//! missing one misleads no one, and the check would depend on whether a
//! listing had passed through yet.

use serde_json::Value;

use super::request::Head;
use crate::base64::STANDARD;

/// The `_meta` key that names a request's revision.
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// What disagrees between `head` and the request `message`, as the text of a
/// JSON-RPC error -32020 (HeaderMismatch, answered with HTTP 400); `None`
/// when they agree. A batch has no method, so it agrees only with no
/// `Mcp-Method`.
pub(super) fn mismatch(head: &Head, message: &Value) -> Option<&'static str> {
    let method = message.get("method").and_then(Value::as_str);
    if head.mcp_method.as_deref() != method {
        return Some("Header mismatch: Mcp-Method must be the body's method");
    }
    let name = match method {
        Some("tools/call" | "prompts/get") => Some(("name", "params.name")),
        Some("resources/read") => Some(("uri", "params.uri")),
        _ => None,
    };
    if let Some((field, text)) = name {
        let body = message.get("params").and_then(|p| p.get(field));
        let header = head.mcp_name.as_deref().map(decode);
        let agree = match (header, body.and_then(Value::as_str)) {
            (Some(Some(h)), Some(b)) => h == b,
            _ => false,
        };
        if !agree {
            return Some(if text == "params.name" {
                "Header mismatch: Mcp-Name must be the body's params.name"
            } else {
                "Header mismatch: Mcp-Name must be the body's params.uri"
            });
        }
    }
    let meta = message
        .get("params")
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str);
    if meta.is_some_and(|v| head.protocol_version.as_deref() != Some(v)) {
        return Some(
            "Header mismatch: MCP-Protocol-Version must be the body's _meta protocolVersion",
        );
    }
    None
}

/// A header value as text: verbatim, or the UTF-8 text inside the
/// `=?base64?…?=` sentinel; `None` for a sentinel that does not decode.
fn decode(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(STANDARD.decode(encoded)?).ok(),
        None => Some(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn head(method: Option<&str>, name: Option<&str>) -> Head {
        Head {
            protocol_version: Some("2026-07-28".to_owned()),
            mcp_method: method.map(str::to_owned),
            mcp_name: name.map(str::to_owned),
            ..Head::default()
        }
    }

    fn request(method: &str, params: Value) -> Value {
        let mut params = params;
        params["_meta"] = json!({ META_VERSION: "2026-07-28" });
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    }

    #[test]
    fn agreeing_headers_pass() {
        let call = request("tools/call", json!({"name": "echo"}));
        assert_eq!(
            mismatch(&head(Some("tools/call"), Some("echo")), &call),
            None
        );
        let list = request("tools/list", json!({}));
        assert_eq!(mismatch(&head(Some("tools/list"), None), &list), None);
        let read = request("resources/read", json!({"uri": "file:///data/résumé.txt"}));
        let encoded = "=?base64?ZmlsZTovLy9kYXRhL3LDqXN1bcOpLnR4dA==?=";
        assert_eq!(
            mismatch(&head(Some("resources/read"), Some(encoded)), &read),
            None
        );
    }

    #[test]
    fn each_disagreement_is_named() {
        let call = request("tools/call", json!({"name": "echo"}));
        let said = |h: &Head, m: &Value| mismatch(h, m).unwrap_or_default();
        assert!(said(&head(Some("tools/list"), Some("echo")), &call).contains("Mcp-Method"));
        assert!(said(&head(None, Some("echo")), &call).contains("Mcp-Method"));
        assert!(said(&head(Some("tools/call"), None), &call).contains("params.name"));
        assert!(said(&head(Some("tools/call"), Some("other")), &call).contains("params.name"));
        let bad_sentinel = "=?base64?***?=";
        assert!(said(&head(Some("tools/call"), Some(bad_sentinel)), &call).contains("Mcp-Name"));
        let read = request("resources/read", json!({"uri": "file:///a"}));
        assert!(said(&head(Some("resources/read"), Some("file:///b")), &read).contains("uri"));
        let mut old = head(Some("tools/call"), Some("echo"));
        old.protocol_version = Some("2025-11-25".to_owned());
        assert!(said(&old, &call).contains("MCP-Protocol-Version"));
        let batch = json!([call]);
        assert!(said(&head(Some("tools/call"), None), &batch).contains("Mcp-Method"));
        assert_eq!(mismatch(&head(None, None), &batch), None);
    }
}
