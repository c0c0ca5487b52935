//! What the relay knows about the server's tools, and the rules it applies.
//!
//! Owns: the tool cache built from the `tools/list` results the relay forwards
//! (every page; cleared by `notifications/tools/list_changed`); the `--read-only`
//! filter (only tools annotated `readOnlyHint: true` are listed and callable);
//! the 2026-07-28 `x-mcp-header` annotations (validated; tools with invalid ones
//! are dropped from the list, as the spec requires of HTTP clients) and the
//! `Mcp-Param-{Name}` headers they call for; and `--metadata` keys added to
//! every request's `params._meta`.
//! Refuses: changing any message it has no rule for. Rewritten messages keep
//! their key order and number spelling (serde_json `preserve_order` and
//! `arbitrary_precision`).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::modern::encode_header_value;

/// A property of a tool's input that travels in a header (2026-07-28 §1.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamHeader {
    /// The header name suffix: `Region` for `Mcp-Param-Region`.
    pub header: String,
    /// The path of property names from the input root.
    pub path: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ToolInfo {
    read_only: bool,
    param_headers: Vec<ParamHeader>,
}

/// Tools seen in `tools/list` results. Safe to share between threads.
#[derive(Debug, Default)]
pub struct ToolCache {
    tools: Mutex<HashMap<String, ToolInfo>>,
}

/// What to do with a `tools/call`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallDecision {
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
    /// An empty cache.
    pub fn new() -> Self {
        ToolCache::default()
    }

    /// Forgets every tool (after `notifications/tools/list_changed`).
    pub fn clear(&self) {
        self.tools.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Records the tools of one `tools/list` result page in `message` and drops
    /// from it the tools that must not reach the client: those with invalid
    /// `x-mcp-header` annotations and, with `read_only`, every tool not annotated
    /// `readOnlyHint: true`. Returns true when `message` changed.
    pub fn observe_list(&self, message: &mut Value, read_only: bool) -> bool {
        let Some(tools) = message
            .pointer_mut("/result/tools")
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        let mut cache = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let before = tools.len();
        tools.retain(|tool| {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                return true;
            };
            let read_only_hint = tool
                .pointer("/annotations/readOnlyHint")
                .and_then(Value::as_bool)
                == Some(true);
            let headers = match tool.get("inputSchema").map(param_headers) {
                Some(Err(why)) => {
                    log::warn!("dropping tool {name:?} from tools/list: invalid x-mcp-header annotation: {why}");
                    return false;
                }
                Some(Ok(h)) => h,
                None => Vec::new(),
            };
            cache.insert(
                name.to_owned(),
                ToolInfo {
                    read_only: read_only_hint,
                    param_headers: headers,
                },
            );
            !read_only || read_only_hint
        });
        tools.len() != before
    }

    /// Whether a `tools/call` of `name` may go out.
    pub fn decide_call(&self, name: &str, read_only: bool) -> CallDecision {
        if !read_only {
            return CallDecision::Allow;
        }
        match self
            .tools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            Some(t) if t.read_only => CallDecision::Allow,
            Some(_) => CallDecision::Refuse(format!(
                "mcp-sigv4 --read-only: tool {name:?} is not annotated readOnlyHint: true, so it was not called"
            )),
            None => CallDecision::Unknown,
        }
    }

    /// True when the tool is in the cache.
    pub fn knows(&self, name: &str) -> bool {
        self.tools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(name)
    }

    /// The `Mcp-Param-{Name}` headers for a call of `name` with `arguments`
    /// (2026-07-28 §1.8): strings as they are, integers in decimal, booleans as
    /// `true`/`false`, absent and null arguments omitted, values sentinel-encoded
    /// when not header-safe.
    pub fn param_headers(&self, name: &str, arguments: Option<&Value>) -> Vec<(String, String)> {
        let cache = self.tools.lock().unwrap_or_else(|p| p.into_inner());
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

/// Adds `metadata` keys to `params._meta` of a request (creating `params` and
/// `_meta` when absent; keys the client set itself are kept). Returns true when
/// the message changed.
pub fn add_metadata(message: &mut Value, metadata: &[(String, Value)]) -> bool {
    if metadata.is_empty() {
        return false;
    }
    let Some(obj) = message.as_object_mut() else {
        return false;
    };
    let params = obj
        .entry("params")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(params) = params.as_object_mut() else {
        return false;
    };
    let meta = params
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for (k, v) in metadata {
        if !meta.contains_key(k) {
            meta.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    changed
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

    #[test]
    fn read_only_keeps_annotated_tools_and_refuses_others() {
        let cache = ToolCache::new();
        let mut m = list();
        assert!(cache.observe_list(&mut m, true));
        let names: Vec<&str> = m["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["read", "region"]);
        assert_eq!(m["result"]["nextCursor"], "2");
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
        let cache = ToolCache::new();
        let mut m = list();
        assert!(cache.observe_list(&mut m, false));
        assert_eq!(m["result"]["tools"].as_array().unwrap().len(), 4);
        let mut unchanged = json!({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}]}});
        assert!(!cache.observe_list(&mut unchanged, false));
    }

    #[test]
    fn param_headers_follow_the_annotations() {
        let cache = ToolCache::new();
        cache.observe_list(&mut list(), false);
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
    fn metadata_is_added_without_overwriting() {
        let mut m = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"a":"client"}}});
        assert!(add_metadata(
            &mut m,
            &[("a".into(), json!("ours")), ("b".into(), json!("ours"))]
        ));
        assert_eq!(m["params"]["_meta"], json!({"a":"client","b":"ours"}));
        let mut m = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
        assert!(add_metadata(&mut m, &[("k".into(), json!("v"))]));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"k":"v"}}}"#
        );
    }
}
