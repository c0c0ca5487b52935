//! Messages from the server, on their way to stdout.
//!
//! Owns: checking that a JSON text from the server is UTF-8 JSON-RPC and
//! compacting it onto one line; passing a response on only when it answers a
//! request still waiting (the first answer wins; a later one is dropped), and
//! an error without a usable id on to the one request still waiting on its
//! stream, with that request's id put in (a 1.x server's `"server-error"` id,
//! 2026-07-28 "Backward Compatibility"); the tool rules on `tools/list`
//! results and `list_changed`; the negotiated version from an `initialize`
//! result; and dropping an id-less error that answers nobody (a
//! notification's, a response's, one on the GET stream), which is logged.
//! Refuses: writing anything to stdout that is not a JSON-RPC message from the
//! server, and changing one beyond the rules above.

use serde_json::Value;

use super::context::Ctx;
use super::jsonrpc::{self, Id, Kind};
use super::outgoing::Requests;
use super::pending::Completion;
use super::splice;

/// Who waits on the messages of a stream.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Waiting<'a> {
    /// Nobody: the GET stream, a message of only notifications and responses,
    /// the other messages on the stream of one of the relay's own requests.
    Nobody,
    /// The requests of one client message (its POST stream, or that stream
    /// resumed).
    Requests(&'a Requests),
}

impl Waiting<'_> {
    /// The requests that wait (none for [`Waiting::Nobody`]).
    pub(super) fn ids(&self) -> &[Id] {
        match self {
            Waiting::Nobody => &[],
            Waiting::Requests(r) => &r.ids,
        }
    }

    /// True when some request waits for an answer on this stream.
    pub(super) fn any(&self) -> bool {
        !self.ids().is_empty()
    }

    /// True when the client cancelled every request that waits.
    pub(super) fn aborted(&self) -> bool {
        match self {
            Waiting::Nobody => false,
            Waiting::Requests(r) => r.aborted(),
        }
    }
}

/// Forwards one JSON text from the server to stdout, after checking it is
/// JSON-RPC and that any response in it answers a request still waiting.
/// Applies the tool rules to `tools/list` results and `list_changed`.
pub(crate) fn deliver(ctx: &Ctx, bytes: &[u8], waiting: Waiting<'_>) {
    let shared = &ctx.shared;
    let Ok(text) = std::str::from_utf8(bytes) else {
        log::warn!(
            "dropping a message from the server that is not UTF-8 ({} bytes)",
            bytes.len()
        );
        return;
    };
    let mut line = jsonrpc::compact(text).into_owned();
    let message = match jsonrpc::classify(line.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            log::warn!(
                "dropping a message from the server that is not JSON-RPC ({} bytes): {e:?}",
                bytes.len()
            );
            return;
        }
    };
    // An error the server could not tie to our request (`id` null, missing or
    // foreign, e.g. a 1.x server's "server-error" for a pre-initialize probe):
    // when this stream has exactly one request still waiting, it is the answer.
    let still_waiting: Vec<&Id> = waiting
        .ids()
        .iter()
        .filter(|id| shared.pending.contains(id))
        .collect();
    let orphan_error = |id: Option<&Id>| {
        !message.batch
            && id.is_none_or(|i| !shared.pending.contains(i))
            && still_waiting.len() == 1
            && jsonrpc::pointer(line.as_bytes(), "/error").is_some()
    };
    if let [Kind::Response { id }] = message.items.as_slice() {
        if orphan_error(id.as_ref()) {
            if let Some(new) = with_id(&line, still_waiting[0]) {
                log::debug!(
                    "the server answered without our request id; giving its error id {}",
                    still_waiting[0]
                );
                shared.pending.complete(still_waiting[0]);
                ctx.out.send(new.into_bytes());
                return;
            }
        }
    }
    let mut forward = false;
    for item in &message.items {
        match item {
            Kind::Response { id: Some(id) } => {
                let method = shared.pending.method(id);
                if !message.batch {
                    line = rewrite_result(ctx, method.as_deref(), line);
                }
                if method.as_deref() == Some("initialize") {
                    if let Some(Value::String(v)) =
                        jsonrpc::pointer(line.as_bytes(), "/result/protocolVersion")
                    {
                        log::info!("MCP protocol version {v}");
                        ctx.up.session().set_protocol_version(&v);
                    }
                }
                match shared.pending.complete(id) {
                    Completion::Forward => forward = true,
                    Completion::Unknown => {
                        log::debug!("dropping a second or unknown response for id {id}");
                    }
                }
            }
            // An id-less response that is no request's answer (checked above)
            // would only confuse the client: a notification's or a
            // response's error, or one on the GET stream.
            Kind::Response { id: None } if waiting.any() => forward = true,
            Kind::Response { id: None } => log::warn!(
                "dropping an error from the server that answers no request: {}",
                jsonrpc::pointer(line.as_bytes(), "/error/message")
                    .and_then(|m| m.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            Kind::Notification { method } => {
                if method == "notifications/tools/list_changed" {
                    shared.tools.clear();
                }
                forward = true;
            }
            Kind::Request { .. } => forward = true,
        }
    }
    if forward {
        ctx.out.send(line.into_bytes());
    }
}

/// Applies the tool rules to a `tools/list` result line.
fn rewrite_result(ctx: &Ctx, method: Option<&str>, line: String) -> String {
    if method != Some("tools/list") {
        return line;
    }
    let shared = &ctx.shared;
    shared
        .tools
        .observe_list(&line, shared.options.read_only)
        .unwrap_or(line)
}

/// Gives an error response the id of `id`, in place.
fn with_id(line: &str, id: &Id) -> Option<String> {
    match splice::find(line, &["id"]) {
        Some(span) => Some(splice::replace(line, span, id.as_json())),
        None => {
            let root = splice::root(line)?;
            splice::append_members(line, root, &[("id".into(), id.as_json().to_owned())])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_gets_the_waiting_requests_id_in_place() {
        let id = Id::from_json("\"r-1\"");
        assert_eq!(
            with_id(
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}"#,
                &id
            )
            .unwrap(),
            r#"{"jsonrpc":"2.0","id":"r-1","error":{"code":-32600,"message":"m"}}"#
        );
        assert_eq!(
            with_id(
                r#"{"jsonrpc":"2.0","id":"server-error","error":{"code":1,"message":"m"}}"#,
                &id
            )
            .unwrap(),
            r#"{"jsonrpc":"2.0","id":"r-1","error":{"code":1,"message":"m"}}"#
        );
        let added = with_id(r#"{"jsonrpc":"2.0","error":{"code":1,"message":"m"}}"#, &id).unwrap();
        let v: Value = serde_json::from_str(&added).unwrap();
        assert_eq!(v["id"], "r-1");
        assert_eq!(v["error"]["code"], 1);
    }
}
