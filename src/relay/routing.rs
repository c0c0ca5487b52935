//! The HTTP headers MCP 2026-07-28 derives from a request's body.
//!
//! Owns: `Mcp-Method` and `Mcp-Name` (from `params.name` for `tools/call` and
//! `prompts/get`, `params.uri` for `resources/read`), and the `=?base64?…?=`
//! sentinel for values that are not header-safe
//! (<https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http>,
//! "Standard MCP Request Headers" and "Header Value Encoding"). Pure.
//! Refuses: deciding whether a request carries them: that is its revision's
//! rule (`Revision::routes_by_headers`, `revision.rs`).

use serde_json::Value;

use crate::base64::STANDARD;

/// A header value as 2026-07-28 sends it ("Header Value Encoding"): verbatim when it is visible
/// ASCII, space or tab with no leading or trailing whitespace and does not look
/// like the sentinel; otherwise `=?base64?<Base64 of the UTF-8 bytes>?=`.
pub(crate) fn encode_header_value(value: &str) -> String {
    let printable = value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b));
    let padded = value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']);
    let looks_encoded = value.starts_with("=?base64?") && value.ends_with("?=");
    let safe = printable && !padded && !looks_encoded;
    if safe {
        value.to_owned()
    } else {
        format!("=?base64?{}?=", STANDARD.encode(value.as_bytes()))
    }
}

/// `Mcp-Method` and (for name-bearing methods) `Mcp-Name` of a request.
pub(crate) fn routing_headers(message: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return out;
    };
    out.push(("mcp-method".to_owned(), encode_header_value(method)));
    let name_field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(name) = name_field
        .and_then(|f| message.get("params")?.get(f))
        .and_then(Value::as_str)
    {
        out.push(("mcp-name".to_owned(), encode_header_value(name)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn header_values_use_the_sentinel_only_when_needed() {
        assert_eq!(encode_header_value("get_weather"), "get_weather");
        assert_eq!(encode_header_value("a b"), "a b");
        // The spec's own example (2026-07-28, "Header Value Encoding").
        assert_eq!(
            encode_header_value("file:///data/résumé.txt"),
            "=?base64?ZmlsZTovLy9kYXRhL3LDqXN1bcOpLnR4dA==?="
        );
        assert_eq!(encode_header_value(" x"), "=?base64?IHg=?=");
        assert_eq!(encode_header_value("x\n"), "=?base64?eAo=?=");
        assert_eq!(
            encode_header_value("=?base64?abc?="),
            "=?base64?PT9iYXNlNjQ/YWJjPz0=?="
        );
    }

    #[test]
    fn routing_headers_come_from_the_body() {
        let m = json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///data/résumé.txt","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}});
        assert_eq!(
            routing_headers(&m),
            vec![
                ("mcp-method".to_owned(), "resources/read".to_owned()),
                (
                    "mcp-name".to_owned(),
                    "=?base64?ZmlsZTovLy9kYXRhL3LDqXN1bcOpLnR4dA==?=".to_owned()
                )
            ]
        );
        let m = json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}});
        assert_eq!(
            routing_headers(&m),
            vec![("mcp-method".to_owned(), "tools/list".to_owned())]
        );
    }
}
