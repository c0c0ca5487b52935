//! JSON-RPC 2.0 messages as the relay needs to see them.
//!
//! Owns: classifying a message (request, notification, response; a 2025-03-26
//! batch of them) without rebuilding it — the bytes are forwarded unchanged —,
//! refusing a message with a key twice in one object, or with two keys a
//! case-insensitive decoder reads as one where the relay reads (`fold.rs`),
//! the raw JSON text of request ids, making the relay's own error responses, and
//! compacting pretty-printed JSON onto one line for stdio.
//! Refuses: changing a message. What goes out is the bytes that came in (minus
//! insignificant whitespace when a server pretty-prints).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::fold;

/// JSON-RPC parse error (invalid JSON).
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC invalid request (JSON, but not a JSON-RPC message).
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC invalid params.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// Implementation-defined server error: the upstream failed (HTTP error,
/// unreachable, no answer).
pub const UPSTREAM_ERROR: i64 = -32000;
/// Implementation-defined server error: the request timed out (the code the MCP
/// SDKs use for request timeouts).
pub const REQUEST_TIMEOUT: i64 = -32001;
/// Implementation-defined server error: no AWS credentials, or signing failed.
pub const CREDENTIALS_ERROR: i64 = -32002;

/// A request id: a JSON string or number, kept as the JSON text it came in
/// and compared by value — a string by its decoded characters (`"café"` and
/// `"caf\u00e9"` are one id), a number by its numeric value (`10`, `10.0` and
/// `1e1` are one id) — so an answer is matched whatever spelling the server
/// echoes, and the client gets its own spelling back. A string and a number
/// are never the same id (`1` and `"1"` differ, as in JSON-RPC).
#[derive(Clone, Debug)]
pub struct Id {
    text: String,
    key: IdKey,
}

/// What two ids are compared by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum IdKey {
    /// A string, decoded.
    Text(String),
    /// A string with a lone surrogate escape (`"\ud800"`), which is no
    /// Unicode text: its UTF-16 code units, decoded.
    Units(Vec<u16>),
    /// A number: sign, significant digits without leading or trailing zeros,
    /// and the power of ten of the last digit (zero is no digits).
    Number {
        negative: bool,
        digits: String,
        exponent: i128,
    },
    /// JSON text the relay does not normalise (an exponent of more than 36
    /// significant digits): compared as text.
    Raw(String),
}

impl IdKey {
    fn of(text: &str) -> IdKey {
        let raw = || IdKey::Raw(text.to_owned());
        if text.starts_with('"') {
            return serde_json::from_str::<String>(text)
                .map(IdKey::Text)
                .ok()
                .or_else(|| code_units(text).map(IdKey::Units))
                .unwrap_or_else(raw);
        }
        number_key(text).unwrap_or_else(raw)
    }
}

/// The UTF-16 code units of a JSON string's text (quotes included), every
/// escape decoded, lone surrogates kept; `None` for text that is not one.
fn code_units(text: &str) -> Option<Vec<u16>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut units = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let unit = match chars.next()? {
            '"' => 0x22,
            '\\' => 0x5c,
            '/' => 0x2f,
            'b' => 0x08,
            'f' => 0x0c,
            'n' => 0x0a,
            'r' => 0x0d,
            't' => 0x09,
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                if hex.len() != 4 {
                    return None;
                }
                u16::from_str_radix(&hex, 16).ok()?
            }
            _ => return None,
        };
        units.push(unit);
    }
    Some(units)
}

/// The value of a JSON number (`-?int(.frac)?([eE][+-]?exp)?`) as sign,
/// significant digits and exponent; `None` for text that is not one, or an
/// exponent too long to add to.
fn number_key(text: &str) -> Option<IdKey> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut exponent: i128 = match exp {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Leading zeros spell nothing; 36 digits leave room to add.
            let digits = digits.trim_start_matches('0');
            if digits.len() > 36 {
                return None;
            }
            let n: i128 = if digits.is_empty() {
                0
            } else {
                digits.parse().ok()?
            };
            if e.starts_with('-') { -n } else { n }
        }
    };
    let all = format!("{int}{frac}");
    exponent -= i128::try_from(frac.len()).ok()?;
    let trimmed = all.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    exponent += i128::try_from(trimmed.len() - significant.len()).ok()?;
    if significant.is_empty() {
        // Every spelling of zero, -0 included, is one id.
        return Some(IdKey::Number {
            negative: false,
            digits: String::new(),
            exponent: 0,
        });
    }
    Some(IdKey::Number {
        negative,
        digits: significant.to_owned(),
        exponent,
    })
}

impl Id {
    /// The JSON text of the id, as it came.
    pub fn as_json(&self) -> &str {
        &self.text
    }

    /// An id from JSON text that is known to be a string or number.
    pub(crate) fn from_json(text: &str) -> Self {
        let text = text.trim();
        Id {
            key: IdKey::of(text),
            text: text.to_owned(),
        }
    }

    /// True when both are spelled alike (not only the same id).
    pub(crate) fn same_spelling(&self, other: &Id) -> bool {
        self.text == other.text
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Id {}

impl std::hash::Hash for Id {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// Shown shortened: an id may be as long as a message.
impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shorten(&self.text, 64))
    }
}

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn shorten(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(text),
        Some((i, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..i])),
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

/// A message's top-level members, borrowed from its text: a 16 MiB result is
/// not copied to be classified.
type Object<'a> = BTreeMap<String, &'a RawValue>;

fn id_of(obj: &Object<'_>) -> Result<Option<Id>, String> {
    match obj.get("id").map(|r| r.get().trim()) {
        None => Ok(None),
        Some("null") => Ok(None),
        Some(t) if t.starts_with('"') || t.starts_with('-') || t.as_bytes()[0].is_ascii_digit() => {
            Ok(Some(Id::from_json(t)))
        }
        Some(_) => Err("\"id\" must be a string or a number".into()),
    }
}

fn string_field(obj: &Object<'_>, name: &str) -> Result<Option<String>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map(Some)
            .map_err(|_| format!("\"{name}\" must be a string")),
    }
}

/// The first key that appears twice in one object of `json` (valid JSON
/// text), decoded, with the depth of its object (1 for the top level). Keys
/// are compared by value: `"name"` and `"n\u0061me"` are the same key.
/// Iterative, so any depth is checked without recursion.
pub(crate) fn duplicate_key(json: &str) -> Option<(String, usize)> {
    use std::borrow::Cow;
    use std::collections::HashSet;
    enum Frame<'a> {
        Object(HashSet<Cow<'a, str>>),
        Array,
    }
    let b = json.as_bytes();
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                stack.push(Frame::Object(HashSet::new()));
                expect_key = true;
            }
            b'[' => {
                stack.push(Frame::Array);
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = matches!(stack.last(), Some(Frame::Object(_))),
            b':' => expect_key = false,
            b'"' => {
                let start = i;
                let mut escaped = false;
                i += 1;
                while i < b.len() && (escaped || b[i] != b'"') {
                    escaped = !escaped && b[i] == b'\\';
                    i += 1;
                }
                if expect_key {
                    let raw = &json[start + 1..i];
                    let key = if raw.contains('\\') {
                        // A key serde_json cannot decode (a lone surrogate
                        // escape) is compared as written; it must not end
                        // the scan (fuzz/regressions/jsonrpc/).
                        serde_json::from_str::<String>(&json[start..=i])
                            .map_or(Cow::Borrowed(raw), Cow::Owned)
                    } else {
                        Cow::Borrowed(raw)
                    };
                    let depth = stack.len();
                    if let Some(Frame::Object(keys)) = stack.last_mut() {
                        if keys.contains(&key) {
                            return Some((key.into_owned(), depth));
                        }
                        keys.insert(key);
                    }
                    expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Classifies one JSON value as a JSON-RPC message (a batch member, or a
/// whole message): its kind, or why it is not one, with its id when that was
/// readable.
pub(crate) fn classify_member(raw: &RawValue) -> Result<Kind, (String, Option<Id>)> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(("expected a JSON-RPC object".to_owned(), None));
    }
    classify_object(raw)
}

fn classify_object(raw: &RawValue) -> Result<Kind, (String, Option<Id>)> {
    let obj: Object<'_> = serde_json::from_str(raw.get())
        .map_err(|_| ("expected a JSON-RPC object".to_owned(), None))?;
    if let Some((key, depth)) = duplicate_key(raw.get()) {
        // Parsers disagree on which of two equal keys counts: what the server
        // runs could differ from what the relay checked.
        let id = if depth == 1 && key == "id" {
            None
        } else {
            id_of(&obj).ok().flatten()
        };
        return Err((
            format!(
                "the key {:?} appears twice in one object; JSON parsers disagree on which one counts, so the message was not sent",
                shorten(&key, 64)
            ),
            id,
        ));
    }
    if let Some(folded) = fold::folded_keys(raw.get()) {
        // A server that matches keys ignoring case (Go's encoding/json)
        // reads the two as one key, and may take the one the relay did not
        // check. Whose id is spelled twice so cannot be told.
        let id = match &folded.keys {
            Some((a, _)) if folded.at.is_empty() && fold::fold(a) == "id" => None,
            _ => id_of(&obj).ok().flatten(),
        };
        let at = if folded.at.is_empty() {
            String::new()
        } else {
            format!(" of \"{}\"", folded.at)
        };
        let why = match &folded.keys {
            Some((a, b)) => format!(
                "the keys {:?} and {:?}{at} differ only in letter case; a server that matches keys ignoring case (as Go's encoding/json does) would read them as one key, so the message was not sent",
                shorten(a, 64),
                shorten(b, 64)
            ),
            None => format!(
                "a key{at} has a lone surrogate escape, which decoders read differently, so the key a server that matches keys ignoring case would take cannot be checked; the message was not sent"
            ),
        };
        return Err((why, id));
    }
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

/// What the first bytes of a message too large to read whole say about it:
/// the top-level members that are complete within them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    /// `id`, when it is a string or a number.
    pub(crate) id: Option<Id>,
    /// `method`.
    pub(crate) method: Option<String>,
    /// A `result` or `error` member was seen (a response).
    pub(crate) response: bool,
}

/// Reads the top-level members of a JSON object from the first bytes of its
/// text, as far as they are complete (`{"jsonrpc":"2.0","id":7,"method":…`);
/// a member cut off by the end of `prefix` is not read.
pub(crate) fn head(prefix: &[u8]) -> Head {
    let mut head = Head::default();
    let b = prefix;
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    // The end of the string starting at `i` (its closing quote), if complete.
    let string_end = |i: usize| -> Option<usize> {
        let mut j = i + 1;
        let mut escaped = false;
        while j < b.len() {
            match b[j] {
                b'"' if !escaped => return Some(j),
                b'\\' => escaped = !escaped,
                _ => escaped = false,
            }
            j += 1;
        }
        None
    };
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return head;
    }
    i += 1;
    loop {
        ws(&mut i);
        if b.get(i) != Some(&b'"') {
            return head;
        }
        let Some(key_end) = string_end(i) else {
            return head;
        };
        let key = std::str::from_utf8(&b[i..=key_end])
            .ok()
            .and_then(|k| serde_json::from_str::<String>(k).ok());
        i = key_end + 1;
        if matches!(key.as_deref(), Some("result" | "error")) {
            head.response = true;
        }
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return head;
        }
        i += 1;
        ws(&mut i);
        let start = i;
        match b.get(i) {
            None => return head,
            Some(b'"') => {
                let Some(end) = string_end(i) else {
                    return head;
                };
                i = end + 1;
            }
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match b.get(i) {
                        None => return head,
                        Some(b'"') => match string_end(i) {
                            Some(end) => i = end,
                            None => return head,
                        },
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    i += 1;
                }
            }
            Some(_) => {
                while i < b.len() && !matches!(b[i], b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                if i == b.len() {
                    // A number may go on past the prefix.
                    return head;
                }
            }
        }
        let value = std::str::from_utf8(&b[start..i]).unwrap_or("");
        match key.as_deref() {
            Some("id")
                if value.starts_with('"')
                    || value
                        .starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) =>
            {
                head.id = Some(Id::from_json(value));
            }
            Some("method") => head.method = serde_json::from_str(value).ok(),
            _ => {}
        }
        ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            _ => return head,
        }
    }
}

/// The id of a JSON object whose text ends in `tail`, when its last member
/// is `"id"` with a string or number (`…,"jsonrpc":"2.0","id":7}`, the order
/// some clients write): the member just before the closing brace of a whole
/// message is one of its own.
pub(crate) fn tail_id(tail: &[u8]) -> Option<Id> {
    let text = std::str::from_utf8(tail)
        .ok()
        .or_else(|| {
            // A cut UTF-8 character at the front of the tail.
            (1..4).find_map(|skip| std::str::from_utf8(tail.get(skip..)?).ok())
        })?
        .trim_end();
    let text = text.strip_suffix('}')?.trim_end();
    let value_start = if text.ends_with('"') {
        // The opening quote: the last `"` before the closing one that no odd
        // run of backslashes escapes.
        let b = text.as_bytes();
        let mut i = b.len() - 1;
        loop {
            i = text[..i].rfind('"')?;
            let backslashes = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
            if backslashes % 2 == 0 {
                break i;
            }
        }
    } else {
        text.rfind(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))? + 1
    };
    let value = &text[value_start..];
    let before = text[..value_start].trim_end().strip_suffix(':')?.trim_end();
    let before = before.strip_suffix("\"id\"")?.trim_end();
    if !(before.ends_with(',') || before.ends_with('{')) {
        return None;
    }
    match serde_json::from_str::<Value>(value).ok()? {
        Value::String(_) | Value::Number(_) => Some(Id::from_json(value)),
        _ => None,
    }
}

/// A `notifications/cancelled` for request `id` with `reason`, compact, one
/// line (<https://modelcontextprotocol.io/specification/2025-11-25/basic/utilities/cancellation>).
pub(crate) fn cancelled_notification(id: &Id, reason: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{},"reason":{}}}}}"#,
        id.as_json(),
        json!(reason)
    )
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
    fn ids_are_compared_by_value_and_keep_their_spelling() {
        let same = |a: &str, b: &str| Id::from_json(a) == Id::from_json(b);
        assert!(same(r#""café""#, r#""caf\u00e9""#));
        assert!(same(r#""a/b""#, r#""a\/b""#));
        assert!(!same(r#""café""#, r#""cafe""#));
        for (a, b) in [
            ("10", "1e1"),
            ("10", "10.0"),
            ("10", "100E-1"),
            ("7", "7.000"),
            ("0", "-0"),
            ("0", "0.0e5"),
            ("-12", "-1.2e+1"),
            (
                "123456789012345678901234567890",
                "1.2345678901234567890123456789e29",
            ),
        ] {
            assert!(same(a, b), "{a} = {b}");
            let mut h1 = std::collections::hash_map::DefaultHasher::new();
            let mut h2 = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&Id::from_json(a), &mut h1);
            std::hash::Hash::hash(&Id::from_json(b), &mut h2);
            assert_eq!(
                std::hash::Hasher::finish(&h1),
                std::hash::Hasher::finish(&h2)
            );
        }
        for (a, b) in [("10", "1"), ("1", "-1"), ("1e1", "1e2"), ("0.1", "1")] {
            assert!(!same(a, b), "{a} != {b}");
        }
        // An exponent too long to normalise is compared as text.
        assert!(same("1e9999999999999999", "1e9999999999999999"));
        assert!(!same("1e9999999999999999", "10e999999999999998"));
        let id = Id::from_json(r#""caf\u00e9""#);
        assert_eq!(id.as_json(), r#""caf\u00e9""#);
        assert!(!id.same_spelling(&Id::from_json(r#""café""#)));
        let long = Id::from_json(&format!("\"{}\"", "x".repeat(500)));
        assert!(long.to_string().chars().count() <= 65, "{long}");
    }

    #[test]
    fn lone_surrogates_and_long_exponents_compare_by_value() {
        let same = |a: &str, b: &str| Id::from_json(a) == Id::from_json(b);
        assert!(same(r#""\ud800x""#, r#""\uD800\u0078""#));
        assert!(!same(r#""\ud800x""#, r#""\ud801x""#));
        assert!(!same(r#""\ud800""#, r#""\ufffd""#));
        assert!(same("1e0000000000000000001", "10"));
        assert!(same("5e100000000000000000000", "50e99999999999999999999"));
        assert!(!same("5e100000000000000000000", "5e100000000000000000001"));
        let huge = format!("1e{}", "9".repeat(40));
        assert!(same(&huge, &huge) && !same(&huge, "1"));
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
    fn duplicate_keys_are_found_at_any_depth_and_in_any_spelling() {
        assert_eq!(duplicate_key(r#"{"a":1,"b":{"a":2}}"#), None);
        assert_eq!(
            duplicate_key(r#"{"a":1,"b":2,"a":3}"#),
            Some(("a".into(), 1))
        );
        assert_eq!(
            duplicate_key(r#"{"p":{"name":"x","n\u0061me":"y"}}"#),
            Some(("name".into(), 2))
        );
        assert_eq!(
            duplicate_key(r#"[{"k":"a\"k"},{"k":1,"k\"":2,"k":3}]"#),
            Some(("k".into(), 2))
        );
        // A key that cannot be decoded does not hide the duplicates after it.
        assert_eq!(
            duplicate_key(r#"{"p":{"\ud800":0,"name":"a","name":"b"}}"#),
            Some(("name".into(), 2))
        );
        // A value equal to a key is no duplicate; nor are keys of sibling objects.
        assert_eq!(duplicate_key(r#"{"a":"a","x":[{"a":1},{"a":2}]}"#), None);
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(duplicate_key(&deep), None);
        let deep_dup = format!(r#"{}{{"z":1,"z":2}}{}"#, "[".repeat(500), "]".repeat(500));
        assert_eq!(duplicate_key(&deep_dup), Some(("z".into(), 501)));

        let Err(Invalid::Request(why, id)) = classify(
            br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"a","name":"b"}}"#,
        ) else {
            panic!("a duplicate key is refused")
        };
        assert!(why.contains("\"name\" appears twice"), "{why}");
        assert_eq!(id, Some(Id::from_json("4")));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":4,"id":5,"method":"ping"}"#),
            Err(Invalid::Request(_, None))
        ));
    }

    #[test]
    fn the_head_of_a_cut_message_gives_what_is_complete() {
        let h = head(br#"{"jsonrpc":"2.0", "id" : "big-1","method":"tools/call","params":{"a":"#);
        assert_eq!(h.id, Some(Id::from_json("\"big-1\"")));
        assert_eq!(h.method.as_deref(), Some("tools/call"));
        assert!(!h.response);
        let h = head(br#"{"jsonrpc":"2.0","params":{"x":{"id":3},"s":"}\"{"},"id":42,"result":{"#);
        assert_eq!(
            h.id,
            Some(Id::from_json("42")),
            "a nested id is not the message's"
        );
        assert!(h.response);
        // A number cut by the end may go on; a string cut is not read.
        assert_eq!(head(br#"{"id":12"#).id, None);
        assert_eq!(head(br#"{"id":"ab"#).id, None);
        assert_eq!(head(br#"{"id":12,"#).id, Some(Id::from_json("12")));
        assert_eq!(head(br#"{"params":{"a":[1,2"#), Head::default());
        assert_eq!(head(br#"{"id":null,"#).id, None);
        assert_eq!(head(b"[{\"id\":1}]").id, None);
        assert_eq!(head(b"").id, None);
    }

    #[test]
    fn the_tail_of_a_cut_message_gives_its_last_id() {
        let id = |t: &str| tail_id(t.as_bytes()).map(|i| i.as_json().to_owned());
        assert_eq!(id(r#"xx"},"jsonrpc":"2.0","id":7}"#).as_deref(), Some("7"));
        assert_eq!(
            id("x\"} , \"id\" : \"a\\\"b\" }\r\n").as_deref(),
            Some(r#""a\"b""#)
        );
        assert_eq!(id(r#"{"id":-1.5e3}"#).as_deref(), Some("-1.5e3"));
        // The last member is not the id, or the id is in a nested object.
        assert_eq!(id(r#","id":7,"jsonrpc":"2.0"}"#), None);
        assert_eq!(id(r#"{"x":{"id":7}}"#), None);
        assert_eq!(id(r#"x","xid":7}"#), None);
        assert_eq!(id(r#","id":null}"#), None);
        assert_eq!(id(r#""text ends \"id\":7}"#), None);
        assert_eq!(id(""), None);
        let mut cut = "é".as_bytes()[1..].to_vec();
        cut.extend_from_slice(br#","id":3}"#);
        assert_eq!(
            tail_id(&cut).map(|i| i.as_json().to_owned()).as_deref(),
            Some("3")
        );
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
