//! The relay's own requests to the server, which the client never sees.
//!
//! Owns: sending one of them — again after a throttling or busy answer, within
//! `--retries`, as `retry_policy.rs` says — and finding its response, in a
//! JSON answer or on an SSE stream (other messages on that stream reach the
//! client as usual);
//! and listing every page of the server's tools (at most [`MAX_LIST_PAGES`])
//! to fill the tool cache, for `--read-only` and for a 2026-07-28 re-list after
//! a header mismatch. Their ids (`mcp-sigv4-N`) are in a namespace of the
//! relay's own. And the relay's own messages that expect no answer: an error
//! for a server request it cannot pass on (one over `--max-event-size`).
//! Refuses: forwarding their responses to the client.

use std::fmt;
use std::io::BufReader;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::conversation::Exchange;
use super::inbound::{Waiting, deliver};
use super::jsonrpc::{self, Id, Kind};
use super::retry_policy;
use super::revision::Revision;
use super::routing;
use super::sse;
use super::upstream::{HttpAnswer, SendError, SendOptions, peek_error};
use crate::http::{HttpError, Method, RequestTimeouts};

/// How many pages an internal `tools/list` reads at most.
pub(crate) const MAX_LIST_PAGES: usize = 50;

/// Why one of the relay's own requests got no response.
#[derive(Debug)]
pub(crate) enum OwnRequestError {
    /// It got no HTTP answer.
    Send(SendError),
    /// The server answered an error status, with this message.
    Status {
        status: u16,
        message: Option<String>,
    },
    /// Reading the JSON answer failed.
    Read(HttpError),
    /// Reading the SSE answer failed.
    Stream(sse::SseError),
    /// The JSON answer held no response to it.
    NoResponse,
    /// The SSE answer ended before its response.
    StreamEnded,
    /// The answer was neither JSON nor an event stream.
    ContentType(Option<String>),
}

impl fmt::Display for OwnRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnRequestError::Send(e) => e.fmt(f),
            OwnRequestError::Status { status, message } => {
                write!(f, "HTTP {status}")?;
                match message {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
            OwnRequestError::Read(e) => e.fmt(f),
            OwnRequestError::Stream(e) => e.fmt(f),
            OwnRequestError::NoResponse => f.write_str("no response in the answer"),
            OwnRequestError::StreamEnded => f.write_str("the stream ended without a response"),
            OwnRequestError::ContentType(t) => write!(f, "unexpected content type {t:?}"),
        }
    }
}

/// The wrapped errors are shown as they are (their text is this one's), so
/// none is a `source()`.
impl std::error::Error for OwnRequestError {}

/// Lists every page of the server's tools with the relay's own requests, to
/// fill the tool cache. Under a revision that routes by headers, the requests
/// carry `meta`, the `_meta` envelope of the client message they serve.
pub(crate) fn list_tools(
    ctx: &Exchange,
    revision: &Revision,
    meta: Option<&Value>,
) -> Result<(), OwnRequestError> {
    let shared = &ctx.shared;
    let meta = meta.filter(|_| revision.routes_by_headers());
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_LIST_PAGES {
        let id = shared.internal_id();
        let mut params = serde_json::Map::new();
        if let Some(c) = &cursor {
            params.insert("cursor".into(), c.clone());
        }
        if let Some(m) = meta {
            params.insert("_meta".into(), m.clone());
        }
        let request = json!({"jsonrpc":"2.0","id":id,"method":"tools/list","params":params});
        let mut extra = SendOptions {
            with_session: true,
            ..Default::default()
        };
        if revision.routes_by_headers() {
            extra.protocol_version = Some(revision.name().to_owned());
            extra.headers = routing::routing_headers(&request);
        }
        let body = request.to_string().into_bytes();
        let (response, _) =
            request_of_our_own(ctx, &body, &extra, &Id::from_json(&json!(id).to_string()))?;
        shared
            .tools
            .observe_list(&response.to_string(), false, None);
        cursor = response
            .pointer("/result/nextCursor")
            .filter(|c| !c.is_null())
            .cloned();
        if cursor.is_none() {
            return Ok(());
        }
    }
    Ok(())
}

/// Sends one of the relay's own requests and returns its response message and
/// the answer's `Mcp-Session-Id`. Other messages that arrive on its stream are
/// delivered as usual. A request sent in the current session (`with_session`)
/// records the session id as any exchange does; one sent outside it (the
/// replayed initialize) leaves that to the caller.
pub(crate) fn request_of_our_own(
    ctx: &Exchange,
    body: &[u8],
    extra: &SendOptions,
    id: &Id,
) -> Result<(Value, Option<String>), OwnRequestError> {
    let shared = &ctx.shared;
    let retries = shared.process.options.retries;
    let method = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("method")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let items = [Kind::Request {
        id: id.clone(),
        method,
    }];
    let mut attempt = 0;
    loop {
        let once = own_request_once(ctx, body, extra, id, &items);
        let delay = once
            .retry_after
            .filter(|_| attempt < retries)
            .and_then(|after| {
                retry_policy::retry_wait(after.as_deref(), attempt, SystemTime::now())
            });
        let Some(delay) = delay else {
            return once.result;
        };
        log::info!(
            "{} throttled a request of mcp-sigv4's own; retry {} of {retries} in {:.1} s",
            ctx.up.host(),
            attempt + 1,
            delay.as_secs_f64()
        );
        if !shared.pause(delay) {
            return once.result;
        }
        attempt += 1;
    }
}

/// One try of [`request_of_our_own`].
struct OwnTry {
    result: Result<(Value, Option<String>), OwnRequestError>,
    /// When the answer says it may go again (throttled, busy:
    /// `retry_policy.rs`): its `Retry-After`, if any.
    retry_after: Option<Option<String>>,
}

fn own_request_once(
    ctx: &Exchange,
    body: &[u8],
    extra: &SendOptions,
    id: &Id,
    items: &[Kind],
) -> OwnTry {
    let up = &ctx.up;
    let t = &ctx.shared.process.timeouts;
    let timeouts = RequestTimeouts {
        response: t.read,
        per_read: Some(t.read),
        total: Some(t.exchange),
    };
    let mut sent = match up.send(Method::Post, body, extra, timeouts) {
        Ok(sent) => sent,
        Err(e) => {
            return OwnTry {
                result: Err(OwnRequestError::Send(e)),
                retry_after: None,
            };
        }
    };
    if extra.with_session {
        up.capture_session(&sent);
    }
    let retry_after = sent.response.header("retry-after").map(str::to_owned);
    let status = sent.response.status;
    if !(200..300).contains(&status) {
        let e = peek_error(&mut sent.response, &sent.secrets);
        let again = retry_policy::retryable(status, &e.body, items);
        return OwnTry {
            result: Err(OwnRequestError::Status {
                status,
                message: e.message,
            }),
            retry_after: again.then_some(retry_after),
        };
    }
    let result = own_response(ctx, &mut sent, id);
    let throttled = matches!(&result, Ok((v, _))
        if v.pointer("/error/code").and_then(Value::as_i64) == Some(retry_policy::TOO_MANY_REQUESTS));
    OwnTry {
        result,
        retry_after: throttled.then_some(retry_after),
    }
}

/// The response to request `id` in a 2xx answer.
fn own_response(
    ctx: &Exchange,
    sent: &mut HttpAnswer,
    id: &Id,
) -> Result<(Value, Option<String>), OwnRequestError> {
    let session_id = sent.response.header("mcp-session-id").map(str::to_owned);
    let find = |text: &str| -> Option<Value> {
        let v: Value = serde_json::from_str(text).ok()?;
        let matches =
            |m: &Value| m.get("id").map(|i| Id::from_json(&i.to_string())).as_ref() == Some(id);
        match &v {
            Value::Array(items) => items.iter().find(|m| matches(m)).cloned(),
            _ if matches(&v) => Some(v),
            _ => None,
        }
    };
    match sent.response.media_type().as_deref() {
        Some("application/json") => {
            let bytes = sent
                .response
                .read_body(ctx.shared.process.options.limits.message)
                .map_err(OwnRequestError::Read)?;
            find(&String::from_utf8_lossy(&bytes))
                .map(|v| (v, session_id))
                .ok_or(OwnRequestError::NoResponse)
        }
        Some("text/event-stream") => {
            let mut events = sse::Reader::new(
                BufReader::new(&mut sent.response.body),
                ctx.shared.process.options.limits.event,
            );
            loop {
                match events.next_event() {
                    Ok(Some(e)) if e.event == "message" && !e.data.is_empty() => {
                        if let Some(v) = find(&e.data) {
                            return Ok((v, session_id));
                        }
                        deliver(ctx, e.data.into_bytes(), Waiting::Nobody);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Err(OwnRequestError::StreamEnded),
                    Err(e) => return Err(OwnRequestError::Stream(e)),
                }
            }
        }
        other => Err(OwnRequestError::ContentType(other.map(str::to_owned))),
    }
}

/// Answers the server's request `id` with an error: it is larger than `max`
/// bytes (the limit `flag` sets), so it was not passed to the client, which
/// could not answer it. A short POST; a failure is logged.
pub(crate) fn refuse_server_request(ctx: &Exchange, id: &Id, max: usize, flag: &str) {
    let body = jsonrpc::error_response(
        Some(id),
        jsonrpc::INVALID_REQUEST,
        &format!(
            "mcp-sigv4: the request is larger than {max} bytes ({flag} of the client's proxy); it was not passed to the client"
        ),
        None,
    );
    post_own(ctx, body.as_bytes(), "refusing an oversized request");
}

/// Sends one of the relay's own messages that expect no answer (a
/// notification, a response), in the current session, with short timeouts;
/// `what` names it in the log when it fails.
pub(crate) fn post_own(ctx: &Exchange, body: &[u8], what: &str) {
    let short = std::time::Duration::from_secs(5);
    let timeouts = RequestTimeouts {
        response: short,
        per_read: Some(short),
        total: Some(short),
    };
    let extra = SendOptions {
        with_session: true,
        ..Default::default()
    };
    match ctx.up.send(Method::Post, body, &extra, timeouts) {
        Ok(sent) if !(200..300).contains(&sent.response.status) => log::warn!(
            "{what}: {} answered HTTP {}",
            ctx.up.host(),
            sent.response.status
        ),
        Ok(_) => {}
        Err(e) => log::warn!("{what}: sending to {} failed: {e}", ctx.up.host()),
    }
}
