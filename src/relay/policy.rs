//! What the relay knows about the server's tools, and the rules it applies.
//!
//! Owns: the tool cache built from the `tools/list` results the relay forwards
//! (every page; cleared by `notifications/tools/list_changed`); the `--read-only`
//! filter (only tools annotated `readOnlyHint: true` are listed and callable);
//! the 2026-07-28 `x-mcp-header` annotations (tools with invalid ones are
//! dropped from the list, as the spec requires of HTTP clients) and the
//! `Mcp-Param-{Name}` headers they call for; with several profiles, the
//! optional [`PROFILE_ARGUMENT`] added to every listed tool's input schema
//! (unless the tool has an argument of that name itself); and `--metadata`
//! keys added to every request's `params._meta`.
//! Refuses: changing any message it has no rule for, or any byte of one that no
//! rule changes (see [`ToolCache`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::routing::encode_header_value;
use super::splice;
use crate::sync::Locked;

/// A property of a tool's input that travels in a header (2026-07-28 §1.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParamHeader {
    /// The header name suffix: `Region` for `Mcp-Param-Region`.
    pub(crate) header: String,
    /// The path of property names from the input root.
    pub(crate) path: Vec<String>,
}

/// The tool argument that picks the AWS profile of a call, with several
/// profiles.
pub(crate) const PROFILE_ARGUMENT: &str = "aws_profile";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ToolInfo {
    read_only: bool,
    param_headers: Vec<ParamHeader>,
    /// Its input schema has a [`PROFILE_ARGUMENT`] of its own.
    own_profile_argument: bool,
}

/// Tools seen in `tools/list` results. Safe to share between threads.
///
/// A rewritten message keeps every byte no rule changes — key order, number
/// spelling, escapes — because the rules edit its text in place
/// (`splice.rs`); serde_json only reads it (its `arbitrary_precision` feature
/// is off, so a number parsed and written again would not keep its spelling).
#[derive(Debug, Default)]
pub(crate) struct ToolCache {
    tools: Mutex<HashMap<String, ToolInfo>>,
}

/// What to do with a `tools/call`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallDecision {
    /// Send it.
    Allow,
    /// The tool is not known yet: list tools first, then decide.
    Unknown,
    /// Refuse it with this message.
    Refuse(String),
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Reads the `x-mcp-header` annotations of an input schema: every property
/// reachable from the root through `properties` only. Errors name the problem.
fn param_headers(schema: &Value) -> Result<Vec<ParamHeader>, String> {
    let mut out: Vec<ParamHeader> = Vec::new();
    let mut stack: Vec<(Vec<String>, &Value)> = vec![(Vec::new(), schema)];
    while let Some((path, node)) = stack.pop() {
        let Some(props) = node.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (name, prop) in props {
            let mut p = path.clone();
            p.push(name.clone());
            if let Some(h) = prop.get("x-mcp-header") {
                let Some(header) = h.as_str().filter(|h| is_token(h)) else {
                    return Err(format!(
                        "property {:?}: x-mcp-header is not an HTTP token",
                        p.join(".")
                    ));
                };
                let ty = prop.get("type").and_then(Value::as_str).unwrap_or("");
                if !matches!(ty, "string" | "integer" | "boolean") {
                    return Err(format!(
                        "property {:?}: x-mcp-header on a {ty:?} property (only string, integer, boolean)",
                        p.join(".")
                    ));
                }
                if out.iter().any(|o| o.header.eq_ignore_ascii_case(header)) {
                    return Err(format!("x-mcp-header {header:?} is used twice"));
                }
                out.push(ParamHeader {
                    header: header.to_owned(),
                    path: p.clone(),
                });
            }
            if p.len() < 32 {
                stack.push((p, prop));
            }
        }
    }
    out.sort_by(|a, b| a.header.cmp(&b.header));
    Ok(out)
}

impl ToolCache {
    /// Forgets every tool (after `notifications/tools/list_changed`).
    pub(crate) fn clear(&self) {
        self.tools.locked().clear();
    }

    /// Records the tools of one `tools/list` result page (`message`, JSON
    /// text) and drops from it the tools that must not reach the client: those
    /// with invalid `x-mcp-header` annotations and, with `read_only`, every tool
    /// not annotated `readOnlyHint: true`. With `profile_property` (the JSON
    /// text of a property schema), every tool kept gains the optional
    /// [`PROFILE_ARGUMENT`] in its `inputSchema.properties`, unless it has one
    /// of its own. Returns the rewritten text, or `None` when nothing changed
    /// (the message then goes out as it came). Kept tools are copied byte for
    /// byte, but for the property added.
    pub(crate) fn observe_list(
        &self,
        message: &str,
        read_only: bool,
        profile_property: Option<&str>,
    ) -> Option<String> {
        let tools_span = splice::find(message, &["result", "tools"])?;
        let elements = splice::elements(message, tools_span.clone())?;
        let mut cache = self.tools.locked();
        let mut kept: Vec<Cow<'_, str>> = Vec::with_capacity(elements.len());
        let mut changed = false;
        for span in &elements {
            let text = &message[span.clone()];
            let Ok(tool) = serde_json::from_str::<Value>(text) else {
                kept.push(Cow::Borrowed(text));
                continue;
            };
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                kept.push(Cow::Borrowed(text));
                continue;
            };
            let read_only_hint = tool
                .pointer("/annotations/readOnlyHint")
                .and_then(Value::as_bool)
                == Some(true);
            let headers = match tool.get("inputSchema").map(param_headers) {
                Some(Err(why)) => {
                    log::warn!(
                        "dropping tool {name:?} from tools/list: invalid x-mcp-header annotation: {why}"
                    );
                    changed = true;
                    continue;
                }
                Some(Ok(h)) => h,
                None => Vec::new(),
            };
            let own_profile_argument = tool
                .pointer("/inputSchema/properties")
                .and_then(Value::as_object)
                .is_some_and(|p| p.contains_key(PROFILE_ARGUMENT));
            cache.insert(
                name.to_owned(),
                ToolInfo {
                    read_only: read_only_hint,
                    param_headers: headers,
                    own_profile_argument,
                },
            );
            if read_only && !read_only_hint {
                changed = true;
                continue;
            }
            match profile_property {
                Some(_) if own_profile_argument => {
                    log::warn!(
                        "tool {name:?} has an argument {PROFILE_ARGUMENT:?} of its own: it is passed to the server as it is, and the tool's calls are signed with the default profile"
                    );
                    kept.push(Cow::Borrowed(text));
                }
                Some(property) => match with_property(text, PROFILE_ARGUMENT, property) {
                    Some(new) => {
                        changed = true;
                        kept.push(Cow::Owned(new));
                    }
                    None => kept.push(Cow::Borrowed(text)),
                },
                None => kept.push(Cow::Borrowed(text)),
            }
        }
        if !changed {
            return None;
        }
        let array = format!("[{}]", kept.join(","));
        Some(splice::replace(message, tools_span, &array))
    }

    /// True unless the tool `name` is known to have a [`PROFILE_ARGUMENT`]
    /// of its own: only then is the argument the relay's to read and remove.
    pub(crate) fn routes_by_profile(&self, name: &str) -> bool {
        !self
            .tools
            .locked()
            .get(name)
            .is_some_and(|t| t.own_profile_argument)
    }

    /// Whether a `tools/call` of `name` may go out.
    pub(crate) fn decide_call(&self, name: &str, read_only: bool) -> CallDecision {
        if !read_only {
            return CallDecision::Allow;
        }
        match self.tools.locked().get(name) {
            Some(t) if t.read_only => CallDecision::Allow,
            Some(_) => CallDecision::Refuse(format!(
                "mcp-sigv4 --read-only: tool {name:?} is not annotated readOnlyHint: true, so it was not called"
            )),
            None => CallDecision::Unknown,
        }
    }

    /// The `Mcp-Param-{Name}` headers for a call of `name` with `arguments`
    /// (2026-07-28 §1.8): strings as they are, integers in decimal, booleans as
    /// `true`/`false`, absent and null arguments omitted, values sentinel-encoded
    /// when not header-safe.
    pub(crate) fn param_headers(
        &self,
        name: &str,
        arguments: Option<&Value>,
    ) -> Vec<(String, String)> {
        let cache = self.tools.locked();
        let Some(tool) = cache.get(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for ph in &tool.param_headers {
            let mut v = arguments;
            for key in &ph.path {
                v = v.and_then(|a| a.get(key));
            }
            let text = match v {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            out.push((
                format!("mcp-param-{}", ph.header.to_ascii_lowercase()),
                encode_header_value(&text),
            ));
        }
        out
    }
}

/// The tool (JSON text of one `tools/list` element) with the property `name`
/// of schema `schema` (JSON text) added to its `inputSchema.properties`,
/// creating `properties` (and `inputSchema`, which MCP requires but a server
/// may leave out) when absent; `None` when the schema is not an object.
fn with_property(tool: &str, name: &str, schema: &str) -> Option<String> {
    let name_json = serde_json::to_string(name).ok()?;
    let Some(input) = splice::find(tool, &["inputSchema"]) else {
        let root = splice::root(tool)?;
        let input = format!("{{\"type\":\"object\",\"properties\":{{{name_json}:{schema}}}}}");
        return splice::append_members(tool, root, &[("inputSchema".into(), input)]);
    };
    if !tool[input.clone()].starts_with('{') {
        return None;
    }
    let Some(properties) = splice::find(tool, &["inputSchema", "properties"]) else {
        let properties = format!("{{{name_json}:{schema}}}");
        return splice::append_members(tool, input, &[("properties".into(), properties)]);
    };
    if !tool[properties.clone()].starts_with('{') {
        return None;
    }
    splice::append_members(tool, properties, &[(name.to_owned(), schema.to_owned())])
}

/// Adds `metadata` keys to `params._meta` of a request (JSON text),
/// creating `params` and `_meta` when absent; keys the client set itself are
/// kept. Returns the new text, or `None` when nothing was added. Everything
/// else stays byte for byte.
pub(crate) fn add_metadata(message: &str, metadata: &[(String, Value)]) -> Option<String> {
    if metadata.is_empty() {
        return None;
    }
    let encode = |pairs: &[&(String, Value)]| -> Option<String> {
        let mut obj = String::from("{");
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                obj.push(',');
            }
            obj.push_str(&serde_json::to_string(k).ok()?);
            obj.push(':');
            obj.push_str(&serde_json::to_string(v).ok()?);
        }
        obj.push('}');
        Some(obj)
    };
    let root = splice::root(message)?;
    let Some(params) = splice::find(message, &["params"]) else {
        let all: Vec<&(String, Value)> = metadata.iter().collect();
        let meta = encode(&all)?;
        return splice::append_members(
            message,
            root,
            &[("params".into(), format!("{{\"_meta\":{meta}}}"))],
        );
    };
    if !message[params.clone()].starts_with('{') {
        return None;
    }
    let Some(meta) = splice::find(message, &["params", "_meta"]) else {
        let all: Vec<&(String, Value)> = metadata.iter().collect();
        let meta = encode(&all)?;
        return splice::append_members(message, params, &[("_meta".into(), meta)]);
    };
    if !message[meta.clone()].starts_with('{') {
        return None;
    }
    let present: Vec<splice::Span> = splice::members(message, meta.clone())?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut add = Vec::new();
    for (k, v) in metadata {
        if !present.iter().any(|p| splice::key_is(message, p, k)) {
            add.push((k.clone(), serde_json::to_string(v).ok()?));
        }
    }
    if add.is_empty() {
        return None;
    }
    splice::append_members(message, meta, &add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list() -> Value {
        json!({"jsonrpc":"2.0","id":1,"result":{"tools":[
            {"name":"read","annotations":{"readOnlyHint":true},"inputSchema":{"type":"object"}},
            {"name":"write","annotations":{"readOnlyHint":false}},
            {"name":"plain"},
            {"name":"region","annotations":{"readOnlyHint":true},"inputSchema":{"type":"object","properties":{
                "region":{"type":"string","x-mcp-header":"Region"},
                "opts":{"type":"object","properties":{"dry":{"type":"boolean","x-mcp-header":"Dry-Run"}}},
                "n":{"type":"integer","x-mcp-header":"Count"}}}},
            {"name":"bad","inputSchema":{"type":"object","properties":{"x":{"type":"number","x-mcp-header":"X"}}}}
        ],"nextCursor":"2"}})
    }

    fn observe(cache: &ToolCache, read_only: bool) -> Option<String> {
        cache.observe_list(&list().to_string(), read_only, None)
    }

    #[test]
    fn read_only_keeps_annotated_tools_and_refuses_others() {
        let cache = ToolCache::default();
        let out: Value = serde_json::from_str(&observe(&cache, true).unwrap()).unwrap();
        let names: Vec<&str> = out["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["read", "region"]);
        assert_eq!(out["result"]["nextCursor"], "2");
        assert_eq!(cache.decide_call("read", true), CallDecision::Allow);
        assert!(
            matches!(cache.decide_call("write", true), CallDecision::Refuse(m) if m.contains("--read-only"))
        );
        assert_eq!(
            cache.decide_call("never-listed", true),
            CallDecision::Unknown
        );
        assert_eq!(cache.decide_call("write", false), CallDecision::Allow);
        cache.clear();
        assert_eq!(cache.decide_call("read", true), CallDecision::Unknown);
    }

    #[test]
    fn invalid_annotations_drop_the_tool_even_without_read_only() {
        let cache = ToolCache::default();
        let out: Value = serde_json::from_str(&observe(&cache, false).unwrap()).unwrap();
        assert_eq!(out["result"]["tools"].as_array().unwrap().len(), 4);
        let unchanged = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","x":1.50e3}]}}"#;
        assert_eq!(cache.observe_list(unchanged, false, None), None);
        let mixed = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"keep","n":2E-7,"annotations":{"readOnlyHint":true}}, {"name":"drop"}]}}"#;
        assert_eq!(
            cache.observe_list(mixed, true, None).unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"keep","n":2E-7,"annotations":{"readOnlyHint":true}}]}}"#
        );
    }

    #[test]
    fn the_profile_argument_is_added_to_every_tool_kept_and_nothing_else_changes() {
        let cache = ToolCache::default();
        let property = r#"{"type":"string","enum":["a","b"]}"#;
        let page = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[
            {"name":"full","n":1.50e3,"inputSchema":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}},
            {"name":"bare","inputSchema":{"type":"object"}},
            {"name":"none","annotations":{"readOnlyHint":true}},
            {"name":"own","inputSchema":{"type":"object","properties":{"aws_profile":{"type":"integer"}}}},
            {"name":"bad","inputSchema":{"type":"object","properties":{"x":{"type":"number","x-mcp-header":"X"}}}}
        ],"nextCursor":"c2"}}"#;
        let out = cache.observe_list(page, false, Some(property)).unwrap();
        assert_eq!(
            out,
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"full","n":1.50e3,"inputSchema":{"type":"object","properties":{"q":{"type":"string"},"aws_profile":{"type":"string","enum":["a","b"]}},"required":["q"]}},{"name":"bare","inputSchema":{"type":"object","properties":{"aws_profile":{"type":"string","enum":["a","b"]}}}},{"name":"none","annotations":{"readOnlyHint":true},"inputSchema":{"type":"object","properties":{"aws_profile":{"type":"string","enum":["a","b"]}}}},{"name":"own","inputSchema":{"type":"object","properties":{"aws_profile":{"type":"integer"}}}}],"nextCursor":"c2"}}"#
        );
        assert!(cache.routes_by_profile("full"));
        assert!(cache.routes_by_profile("never-listed"));
        assert!(!cache.routes_by_profile("own"), "the server's own argument");
        // With --read-only, the filter and the argument together.
        let out: Value =
            serde_json::from_str(&cache.observe_list(page, true, Some(property)).unwrap()).unwrap();
        assert_eq!(out["result"]["tools"].as_array().unwrap().len(), 1);
        assert_eq!(
            out["result"]["tools"][0]["inputSchema"]["properties"]["aws_profile"]["enum"],
            json!(["a", "b"])
        );
        // An empty page, or one without tools, is left alone.
        let empty = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#;
        assert_eq!(cache.observe_list(empty, false, Some(property)), None);
    }

    #[test]
    fn param_headers_follow_the_annotations() {
        let cache = ToolCache::default();
        observe(&cache, false);
        let args = json!({"region":"eu-west-1","opts":{"dry":true},"n":42});
        assert_eq!(
            cache.param_headers("region", Some(&args)),
            vec![
                ("mcp-param-count".to_owned(), "42".to_owned()),
                ("mcp-param-dry-run".to_owned(), "true".to_owned()),
                ("mcp-param-region".to_owned(), "eu-west-1".to_owned()),
            ]
        );
        let args = json!({"region":" padded","n":null});
        assert_eq!(
            cache.param_headers("region", Some(&args)),
            vec![(
                "mcp-param-region".to_owned(),
                "=?base64?IHBhZGRlZA==?=".to_owned()
            )]
        );
    }

    #[test]
    fn metadata_is_added_without_overwriting_or_respelling() {
        let m = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","n":1.50e3,"_meta":{"a":"client"}}}"#;
        let out = add_metadata(
            m,
            &[("a".into(), json!("ours")), ("b".into(), json!("ours"))],
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","n":1.50e3,"_meta":{"a":"client","b":"ours"}}}"#
        );
        assert_eq!(add_metadata(&out, &[("a".into(), json!("x"))]), None);
        // The client's key in any spelling is the client's.
        let escaped = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"\u0061":1}}}"#;
        assert_eq!(add_metadata(escaped, &[("a".into(), json!("x"))]), None);
        let m = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        assert_eq!(
            add_metadata(m, &[("k".into(), json!("v"))]).unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"k":"v"}}}"#
        );
        let m = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}"#;
        assert_eq!(
            add_metadata(m, &[("k".into(), json!("v"))]).unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"k":"v"}}}"#
        );
    }
}
