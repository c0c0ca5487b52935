//! Messages from the server, on their way to stdout.
//!
//! Owns: checking that a JSON text from the server is UTF-8 JSON-RPC (no key
//! twice in one object) and compacting it onto one line; passing on only the
//! answers a waiting request gets, in the client's own spelling of its id
//! (`admit`); taking an array from the server apart member by member (it
//! reaches the client as one array only when it answers the client's batch,
//! or in a 2025-03-26 session on a stream no request waits on: a client of a
//! later revision reads no arrays); the tool rules on `tools/list` results and
//! `list_changed`; the ids of requests from another profile's session
//! (`profiles.rs`); the negotiated version from an `initialize` result.
//! Refuses: writing anything to stdout that is not a JSON-RPC message from the
//! server, and changing one beyond the rules above.

use std::borrow::Cow;

use serde_json::Value;

use super::conversation::Exchange;
use super::jsonrpc::{self, Id, Kind};
use super::outgoing::Requests;
use super::pending::Completion;
use super::profiles;
use super::revision::Revision;
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

/// What [`deliver`] made of a server's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// It was JSON-RPC: forwarded, or refused member by member (logged).
    Read,
    /// It was dropped whole: the reason, for the client's error ("is not
    /// UTF-8").
    Unreadable(&'static str),
}

/// Forwards one JSON text from the server to stdout, after checking it is
/// JSON-RPC and that any response in it answers a request still waiting.
/// Applies the tool rules to `tools/list` results and `list_changed`. Takes
/// the bytes, so a message is held once on its way. Returns
/// [`Delivered::Unreadable`] when the text is not UTF-8 or not JSON-RPC (it
/// was dropped, and logged); a JSON answer's caller then says so to the
/// requests that wait, where an SSE stream goes on to its next event.
pub(crate) fn deliver(ctx: &Exchange, bytes: Vec<u8>, waiting: Waiting<'_>) -> Delivered {
    let len = bytes.len();
    let Ok(text) = String::from_utf8(bytes) else {
        log::warn!("dropping a message from the server that is not UTF-8 ({len} bytes)");
        return Delivered::Unreadable("is not UTF-8");
    };
    let line = match jsonrpc::compact(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(compacted) => compacted,
    };
    let message = match jsonrpc::classify(line.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            log::warn!(
                "dropping a message from the server that is not JSON-RPC ({len} bytes): {e:?}"
            );
            return Delivered::Unreadable("is not a JSON-RPC message");
        }
    };
    if !message.batch {
        if let Some(line) = admit(ctx, &message.items[0], Cow::Owned(line), waiting, true) {
            ctx.out.send(line.into_owned().into_bytes());
        }
        return Delivered::Read;
    }
    let Some(spans) = splice::root(&line).and_then(|root| splice::elements(&line, root)) else {
        return Delivered::Read;
    };
    let mut kept: Vec<Cow<'_, str>> = Vec::with_capacity(spans.len());
    for (span, kind) in spans.into_iter().zip(&message.items) {
        if let Some(member) = admit(ctx, kind, Cow::Borrowed(&line[span]), waiting, false) {
            kept.push(member);
        }
    }
    if kept.is_empty() {
        return Delivered::Read;
    }
    let as_array = match waiting {
        Waiting::Requests(r) => r.batch,
        Waiting::Nobody => {
            Revision::negotiated(ctx.up.session().protocol_version().as_deref()).allows_batches()
        }
    };
    if as_array {
        let mut array = String::with_capacity(line.len());
        array.push('[');
        for (i, m) in kept.iter().enumerate() {
            if i > 0 {
                array.push(',');
            }
            array.push_str(m);
        }
        array.push(']');
        ctx.out.send(array.into_bytes());
    } else {
        for m in kept {
            ctx.out.send(m.into_owned().into_bytes());
        }
    }
    Delivered::Read
}

/// What of one message (`kind`, JSON text `line`) goes to the client, after
/// the rules: `None` when nothing does. `single`: the message came alone, not
/// in an array (only then may an error without our id answer the one request
/// waiting on the stream).
///
/// A response goes on only when it answers a request still waiting (the
/// first answer wins; a later one is dropped), matched by the id's value and
/// given back in the client's own spelling of it. An error without a usable
/// id goes to the one request still waiting on its stream, with that
/// request's id put in (a 1.x server's `"server-error"` id, 2026-07-28
/// "Backward Compatibility"); one that answers nobody (a notification's, a
/// response's, one on the GET stream) is dropped and logged.
fn admit<'a>(
    ctx: &Exchange,
    kind: &Kind,
    line: Cow<'a, str>,
    waiting: Waiting<'_>,
    single: bool,
) -> Option<Cow<'a, str>> {
    let shared = &ctx.shared;
    match kind {
        Kind::Response { id } => {
            // An error the server could not tie to our request (`id` null,
            // missing or foreign, e.g. a 1.x server's "server-error" for a
            // pre-initialize probe): when this stream has exactly one request
            // still waiting, it is the answer.
            if single && id.as_ref().is_none_or(|i| !shared.pending.contains(i)) {
                let still_waiting: Vec<&Id> = waiting
                    .ids()
                    .iter()
                    .filter(|id| shared.pending.contains(id))
                    .collect();
                if still_waiting.len() == 1
                    && jsonrpc::pointer(line.as_bytes(), "/error").is_some()
                    && let Some(new) = with_id(&line, still_waiting[0])
                {
                    log::debug!(
                        "the server answered without our request id; giving its error id {}",
                        still_waiting[0]
                    );
                    shared.pending.complete(still_waiting[0]);
                    return Some(Cow::Owned(new));
                }
            }
            let Some(id) = id else {
                if waiting.any() {
                    return Some(line);
                }
                // An id-less response that is no request's answer would only
                // confuse the client: a notification's or a response's
                // error, or one on the GET stream.
                // Its code only: the server's text may quote what the
                // request carried (a session id, a header value), and no
                // request's secrets are at hand here to take out.
                log::warn!(
                    "dropping an error from the server that answers no request (code {})",
                    jsonrpc::pointer(line.as_bytes(), "/error/code")
                        .filter(Value::is_i64)
                        .map_or_else(|| "none".to_owned(), |c| c.to_string())
                );
                return None;
            };
            if !waiting.ids().contains(id) {
                // A response completes a request only on that request's own
                // stream (its POST's, or that resumed), in its own session:
                // the GET stream carries none (2025-11-25 transports,
                // "Listening for Messages from the Server"), and another
                // session's server does not answer for this one.
                log::debug!(
                    "dropping a response for id {id} on a stream that is not its request's"
                );
                return None;
            }
            let method = shared.pending.method(id);
            let mut line = rewrite_result(ctx, method.as_deref(), line);
            if method.as_deref() == Some("initialize")
                && let Some(Value::String(v)) =
                    jsonrpc::pointer(line.as_bytes(), "/result/protocolVersion")
            {
                log::info!("MCP protocol version {v}");
                ctx.up.session().set_protocol_version(&v);
            }
            match shared.pending.complete(id) {
                Completion::Forward(theirs) => {
                    if !theirs.same_spelling(id) {
                        // The client gets its own spelling of the id back
                        // (the server's, if the text could not be edited).
                        if let Some(respelled) = with_id(&line, &theirs) {
                            line = Cow::Owned(respelled);
                        }
                    }
                    Some(line)
                }
                Completion::Unknown => {
                    log::debug!("dropping a second or unknown response for id {id}");
                    None
                }
            }
        }
        Kind::Notification { method } => {
            if method == "notifications/tools/list_changed" {
                shared.tools.clear();
            }
            Some(from_other_session(ctx, kind, line))
        }
        Kind::Request { .. } => Some(from_other_session(ctx, kind, line)),
    }
}

/// A request (or the cancellation of one) from the server of another
/// profile's session than the default's gets the id the client sees
/// (`profiles.rs`); anything else stays as it is.
fn from_other_session<'a>(ctx: &Exchange, kind: &Kind, line: Cow<'a, str>) -> Cow<'a, str> {
    match profiles::from_server(&ctx.shared.profiles, ctx.up.index(), kind, &line) {
        Some(new) => Cow::Owned(new),
        None => line,
    }
}

/// Applies the tool rules to a `tools/list` result.
fn rewrite_result<'a>(ctx: &Exchange, method: Option<&str>, line: Cow<'a, str>) -> Cow<'a, str> {
    if method != Some("tools/list") {
        return line;
    }
    let shared = &ctx.shared;
    let property = shared.profiles.property();
    match shared
        .tools
        .observe_list(&line, shared.process.options.read_only, property)
    {
        Some(new) => Cow::Owned(new),
        None => line,
    }
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
