//! JSON-RPC 2.0 messages as the relay needs to see them.
//!
//! Owns: classifying a message (request, notification, response; a 2025-03-26
//! batch of them) without rebuilding it — the bytes are forwarded unchanged —,
//! the raw JSON text of request ids, making the relay's own error responses, and
//! compacting pretty-printed JSON onto one line for stdio.
//! Refuses: changing a message. What goes out is the bytes that came in (minus
//! insignificant whitespace when a server pretty-prints).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::{Value, json};

/// JSON-RPC parse error (invalid JSON).
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC invalid request (JSON, but not a JSON-RPC message).
pub const INVALID_REQUEST: i64 = -32600;
/// Implementation-defined server error: the upstream failed (HTTP error,
/// unreachable, no answer).
pub const UPSTREAM_ERROR: i64 = -32000;
/// Implementation-defined server error: the request timed out (the code the MCP
/// SDKs use for request timeouts).
pub const REQUEST_TIMEOUT: i64 = -32001;
/// Implementation-defined server error: no AWS credentials, or signing failed.
pub const CREDENTIALS_ERROR: i64 = -32002;

/// A request id as its JSON text: `1`, `"abc"`. Two ids are the same request
/// when their texts are equal, so `1` and `"1"` differ, as in JSON-RPC.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// The JSON text of the id.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// An id from JSON text that is known to be a string or number.
    pub(crate) fn from_json(text: &str) -> Self {
        Id(text.trim().to_owned())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one JSON-RPC message is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A request: it has a method and an id and expects exactly one response.
    Request {
        /// Its id.
        id: Id,
        /// Its method.
        method: String,
    },
    /// A notification: a method and no id.
    Notification {
        /// Its method.
        method: String,
    },
    /// A response (result or error); the id is `None` when it is `null`.
    Response {
        /// The id of the request it answers.
        id: Option<Id>,
    },
}

impl Kind {
    /// The method of a request or notification.
    pub(crate) fn method(&self) -> Option<&str> {
        match self {
            Kind::Request { method, .. } | Kind::Notification { method } => Some(method),
            Kind::Response { .. } => None,
        }
    }
}

/// One message, or the members of a batch, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The messages (one unless `batch`).
    pub items: Vec<Kind>,
    /// The JSON was an array (a 2025-03-26 batch).
    pub batch: bool,
}

impl Classified {
    /// The ids of the requests in it.
    pub(crate) fn request_ids(&self) -> impl Iterator<Item = (&Id, &str)> {
        self.items.iter().filter_map(|k| match k {
            Kind::Request { id, method } => Some((id, method.as_str())),
            _ => None,
        })
    }
}

/// Why a line is not a message we can relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not UTF-8 or not JSON: answer `-32700` with id `null`.
    Parse(String),
    /// JSON but not JSON-RPC: answer `-32600`, with the id when one was readable.
    Request(String, Option<Id>),
}

type Object = BTreeMap<String, Box<RawValue>>;

fn id_of(obj: &Object) -> Result<Option<Id>, String> {
    match obj.get("id").map(|r| r.get().trim()) {
        None => Ok(None),
        Some("null") => Ok(None),
        Some(t) if t.starts_with('"') || t.starts_with('-') || t.as_bytes()[0].is_ascii_digit() => {
            Ok(Some(Id::from_json(t)))
        }
        Some(_) => Err("\"id\" must be a string or a number".into()),
    }
}

fn string_field(obj: &Object, name: &str) -> Result<Option<String>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map(Some)
            .map_err(|_| format!("\"{name}\" must be a string")),
    }
}

fn classify_object(raw: &RawValue) -> Result<Kind, (String, Option<Id>)> {
    let obj: Object = serde_json::from_str(raw.get())
        .map_err(|_| ("expected a JSON-RPC object".to_owned(), None))?;
    let id = id_of(&obj).map_err(|e| (e, None))?;
    let fail = |why: String| (why, id.clone());
    match string_field(&obj, "jsonrpc").map_err(fail)? {
        Some(v) if v == "2.0" => {}
        _ => return Err(fail("expected \"jsonrpc\": \"2.0\"".into())),
    }
    if let Some(method) = string_field(&obj, "method").map_err(fail)? {
        if obj.contains_key("result") || obj.contains_key("error") {
            return Err(fail(
                "a request cannot carry \"result\" or \"error\"".into(),
            ));
        }
        return Ok(match (id.clone(), obj.contains_key("id")) {
            (Some(id), _) => Kind::Request { id, method },
            (None, true) => return Err(fail("a request id must not be null".into())),
            (None, false) => Kind::Notification { method },
        });
    }
    let has_result = obj.contains_key("result");
    let has_error = obj.contains_key("error");
    if has_result == has_error || !obj.contains_key("id") {
        return Err(fail(
            "expected a request (\"method\"), or a response (\"id\" with one of \"result\" or \"error\")".into(),
        ));
    }
    Ok(Kind::Response { id })
}

/// Classifies one stdin line or HTTP body: a JSON-RPC object, or a non-empty
/// array of them (2025-03-26 batch).
///
/// # Errors
/// [`Invalid::Parse`] for invalid UTF-8 or JSON, [`Invalid::Request`] for JSON
/// that is not JSON-RPC.
pub fn classify(bytes: &[u8]) -> Result<Classified, Invalid> {
    let text = std::str::from_utf8(bytes).map_err(|e| Invalid::Parse(format!("not UTF-8: {e}")))?;
    let raw: &RawValue =
        serde_json::from_str(text).map_err(|e| Invalid::Parse(format!("not JSON: {e}")))?;
    let trimmed = raw.get().trim_start();
    if trimmed.starts_with('[') {
        let members: Vec<&RawValue> = serde_json::from_str(raw.get())
            .map_err(|e| Invalid::Parse(format!("not JSON: {e}")))?;
        if members.is_empty() {
            return Err(Invalid::Request(
                "an empty batch is not a request".into(),
                None,
            ));
        }
        let mut items = Vec::with_capacity(members.len());
        for m in members {
            items.push(classify_object(m).map_err(|(why, id)| Invalid::Request(why, id))?);
        }
        return Ok(Classified { items, batch: true });
    }
    if !trimmed.starts_with('{') {
        return Err(Invalid::Request("expected a JSON-RPC object".into(), None));
    }
    let kind = classify_object(raw).map_err(|(why, id)| Invalid::Request(why, id))?;
    Ok(Classified {
        items: vec![kind],
        batch: false,
    })
}

/// A JSON-RPC error response, compact, one line: `{"jsonrpc":"2.0","id":…,"error":{…}}`.
/// `id` `None` gives `"id":null`.
pub fn error_response(id: Option<&Id>, code: i64, message: &str, data: Option<Value>) -> String {
    let mut error = json!({ "code": code, "message": message });
    if let Some(data) = data {
        error["data"] = data;
    }
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"error\":{}}}",
        id.map_or("null", Id::as_json),
        error
    )
}

/// Reads one field of a message's `params` (or the message itself when `path`
/// starts at the top), for the few places the relay looks inside: the
/// `protocolVersion` of an initialize result, a cancelled request's id.
pub(crate) fn pointer(bytes: &[u8], pointer: &str) -> Option<Value> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    value.pointer(pointer).cloned()
}

/// Removes the whitespace outside strings from valid JSON text, so a
/// pretty-printed message fits on one stdio line. Everything else — key order,
/// number spelling, string escapes — stays byte for byte.
pub fn compact(json: &str) -> std::borrow::Cow<'_, str> {
    if !json
        .bytes()
        .any(|b| matches!(b, b'\n' | b'\r' | b'\t' | b' '))
    {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<Kind> {
        classify(line.as_bytes()).unwrap().items
    }

    #[test]
    fn requests_notifications_and_responses() {
        assert_eq!(
            kinds(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            vec![Kind::Request {
                id: Id::from_json("1"),
                method: "ping".into()
            }]
        );
        assert_eq!(
            kinds(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            vec![Kind::Notification {
                method: "notifications/initialized".into()
            }]
        );
        assert_eq!(
            kinds(r#"{"jsonrpc":"2.0","id":"a b","result":{}}"#),
            vec![Kind::Response {
                id: Some(Id::from_json("\"a b\""))
            }]
        );
        let batch =
            classify(br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]"#)
                .unwrap();
        assert!(batch.batch);
        assert_eq!(batch.request_ids().count(), 1);
    }

    #[test]
    fn ids_keep_their_json_type() {
        assert_ne!(Id::from_json("1"), Id::from_json("\"1\""));
    }

    #[test]
    fn bad_input_is_told_apart() {
        assert!(matches!(classify(b"{not json"), Err(Invalid::Parse(_))));
        assert!(matches!(classify(b"\xff\xfe"), Err(Invalid::Parse(_))));
        assert!(matches!(classify(b"42"), Err(Invalid::Request(_, None))));
        assert!(matches!(classify(b"[]"), Err(Invalid::Request(_, None))));
        assert_eq!(
            classify(br#"{"id":7,"method":"x"}"#),
            Err(Invalid::Request(
                "expected \"jsonrpc\": \"2.0\"".into(),
                Some(Id::from_json("7"))
            ))
        );
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":null,"method":"x"}"#),
            Err(Invalid::Request(_, None))
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#),
            Err(Invalid::Request(_, None))
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":1}"#),
            Err(Invalid::Request(_, Some(_)))
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","method":3}"#),
            Err(Invalid::Request(_, None))
        ));
    }

    #[test]
    fn error_responses_are_compact_single_lines() {
        let line = error_response(
            Some(&Id::from_json("\"x\"")),
            UPSTREAM_ERROR,
            "upstream said \"no\"\nreally",
            Some(json!({"httpStatus": 403})),
        );
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], "x");
        assert_eq!(v["error"]["code"], -32000);
        assert_eq!(v["error"]["data"]["httpStatus"], 403);
        assert_eq!(
            error_response(None, PARSE_ERROR, "m", None),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"m"}}"#
        );
    }

    #[test]
    fn compact_keeps_strings_and_numbers_exact() {
        let pretty = "{\n  \"a\" : \"x  y\\\" \\n z\",\n\t\"n\": 1.50e3 , \"u\": \"é 🚀\"\n}";
        assert_eq!(
            compact(pretty),
            r#"{"a":"x  y\" \n z","n":1.50e3,"u":"é 🚀"}"#
        );
        let v1: Value = serde_json::from_str(pretty).unwrap();
        let v2: Value = serde_json::from_str(&compact(pretty)).unwrap();
        assert_eq!(v1, v2);
        assert!(matches!(
            compact("{\"a\":1}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
