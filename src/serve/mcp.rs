//! The MCP endpoint, `/mcp`: Streamable HTTP's server side
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http>,
//! "Sending Messages to the Server", "Listening for Messages from the
//! Server", "Session Management"; 2026-07-28 without sessions).
//!
//! Owns: POST (202 for notifications and responses; an SSE stream for
//! requests, each answer written as it arrives, a 2025-11-25 priming event
//! first), GET (the session's stream of server-initiated messages, one at a
//! time: a second is answered 409), DELETE (ends the session, 204), the
//! `Mcp-Session-Id` rules (400 without one, 404 for an unknown or ended one),
//! the `MCP-Protocol-Version` check (400 for a name no revision has), and
//! 2026-07-28 (`MCP-Protocol-Version: 2026-07-28` without a session id): a
//! conversation per POST, ended after its answers or when the client closes
//! the stream (that revision's cancellation), a request whose headers
//! disagree with its body answered 400 (`headers.rs`); GET and DELETE are 405.
//! Refuses: answering with one JSON body (the client's `Accept` must allow
//! SSE: 406 otherwise), and resumption (`Last-Event-ID` is not read).

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::headers;
use super::request::{Head, Method};
use super::response::Done;
use super::sessions::{Lease, OpenError, short};
use super::{END_LIMIT, Server, end_session, response};
use crate::relay::sink::{self, Next, Receiver};

/// The revisions a client may name in `MCP-Protocol-Version`.
pub const REVISIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// The revision without sessions.
const STATELESS: &str = "2026-07-28";

/// Bytes of answers waiting for one stream's client (one larger message
/// still passes alone).
pub const STREAM_QUEUE: usize = 1 << 20;

/// How often a stream with nothing to send checks the server is not
/// stopping; every [`KEEPALIVE_TICKS`] a comment goes out, which finds a
/// client that went away.
const TICK: Duration = Duration::from_secs(1);
const KEEPALIVE_TICKS: u32 = 15;

/// Answers one request to `/mcp`; `body` is the whole body.
pub(super) fn handle(
    server: &Server,
    w: &mut dyn Write,
    head: &Head,
    body: Vec<u8>,
) -> io::Result<Done> {
    if let Some(v) = head.protocol_version.as_deref()
        && !REVISIONS.contains(&v)
    {
        let text = format!(
            "Bad Request: unsupported MCP-Protocol-Version (supported: {})",
            REVISIONS.join(", ")
        );
        return refuse(w, 400, -32600, &text);
    }
    let stateless =
        head.protocol_version.as_deref() == Some(STATELESS) && head.session_id.is_none();
    match head.method {
        Method::Post => post(server, w, head, body, stateless),
        Method::Get | Method::Delete if stateless => not_allowed(w, "POST"),
        Method::Get => get(server, w, head),
        Method::Delete => delete(server, w, head),
        Method::Other => not_allowed(w, "GET, POST, DELETE"),
    }
}

fn not_allowed(w: &mut dyn Write, allow: &str) -> io::Result<Done> {
    response::write(w, 405, &[("Allow", allow)], b"", false)?;
    Ok(Done::keep(405))
}

fn refuse(w: &mut dyn Write, status: u16, code: i64, message: &str) -> io::Result<Done> {
    response::rpc_error(w, status, code, message, false)?;
    Ok(Done::keep(status))
}

/// True when `accept` allows `media` (or `*/*`, or `type/*`).
fn accepts(accept: Option<&str>, media: &str) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let kind = media.split('/').next().unwrap_or(media);
    accept.split(',').any(|item| {
        let m = item.split(';').next().unwrap_or("").trim();
        m.eq_ignore_ascii_case(media)
            || m == "*/*"
            || m.strip_suffix("/*")
                .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    })
}

/// The session the request names: 400 without one, 404 for an unknown one.
fn session(server: &Server, w: &mut dyn Write, head: &Head) -> io::Result<Result<Lease, Done>> {
    let Some(id) = head.session_id.as_deref() else {
        return refuse(
            w,
            400,
            -32600,
            "Bad Request: Mcp-Session-Id header is required",
        )
        .map(Err);
    };
    match server.sessions.get(id) {
        Some(lease) => Ok(Ok(lease)),
        None => refuse(w, 404, -32001, "Session not found").map(Err),
    }
}

/// What a POST body holds.
struct Shape {
    /// At least one request (a message with a method and an id).
    requests: bool,
    /// One `initialize` request.
    initialize: bool,
}

/// Reads the body's shape; `None` when it is not a JSON-RPC message or a
/// non-empty batch of them.
fn shape(value: &Value) -> Option<Shape> {
    let is_request =
        |m: &Value| m.get("method").is_some_and(Value::is_string) && m.get("id").is_some();
    match value {
        Value::Object(_) => Some(Shape {
            requests: is_request(value),
            initialize: is_request(value) && value["method"] == "initialize",
        }),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            Some(Shape {
                requests: items.iter().any(is_request),
                initialize: false,
            })
        }
        _ => None,
    }
}

fn post(
    server: &Server,
    w: &mut dyn Write,
    head: &Head,
    body: Vec<u8>,
    stateless: bool,
) -> io::Result<Done> {
    let _busy = super::Busy::new(server);
    if !accepts(head.accept.as_deref(), "application/json")
        || !accepts(head.accept.as_deref(), "text/event-stream")
    {
        response::text(
            w,
            406,
            "Not Acceptable: the client must accept both application/json and text/event-stream",
            false,
        )?;
        return Ok(Done::keep(406));
    }
    let json = head.content_type.as_deref().is_some_and(|t| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/json")
    });
    if !json {
        response::text(
            w,
            415,
            "Unsupported Media Type: the body must be application/json",
            false,
        )?;
        return Ok(Done::keep(415));
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return refuse(w, 400, -32700, "Parse error: the body is not JSON");
    };
    let Some(shape) = shape(&value) else {
        return refuse(
            w,
            400,
            -32600,
            "Invalid Request: expected a JSON-RPC message or a batch of them",
        );
    };
    if stateless
        && shape.requests
        && let Some(text) = headers::mismatch(head, &value)
    {
        return refuse(w, 400, -32020, text);
    }
    drop(value);
    if stateless {
        return post_stateless(server, w, body, &shape);
    }
    let (lease, minted) = match head.session_id {
        None if shape.initialize => match server.sessions.open(&*server.backend, STREAM_QUEUE) {
            Ok((id, lease)) => (lease, Some(id)),
            Err(OpenError::Full) => {
                let text = format!(
                    "busy: {} sessions are open (--max-sessions); end one (DELETE) or try later",
                    server.options.max_sessions
                );
                return refuse(w, 503, -32603, &text);
            }
            Err(OpenError::Random) => {
                return refuse(
                    w,
                    503,
                    -32603,
                    "cannot draw a session id from the system's random source",
                );
            }
        },
        _ => match session(server, w, head)? {
            Ok(lease) => (lease, None),
            Err(done) => return Ok(done),
        },
    };
    if let Some(id) = &minted {
        log::debug!("session {} opened", short(id));
    }
    let conversation = &*lease.0.conversation;
    if !shape.requests {
        // Nothing answers notifications and responses.
        let (out, rx) = sink::channel(STREAM_QUEUE);
        drop(rx);
        conversation.post(body, out);
        response::write(w, 202, &[], b"", false)?;
        return Ok(Done::keep(202));
    }
    let (out, rx) = sink::channel(STREAM_QUEUE);
    conversation.post(body, out);
    let priming = head.protocol_version.as_deref() == Some("2025-11-25");
    let streamed = stream(server, w, &rx, minted.as_deref(), priming, None);
    // A dropped connection is not a cancellation: the exchange goes on, its
    // answers are discarded.
    rx.close();
    streamed.map(|()| Done::keep(200))
}

/// 2026-07-28: a conversation of its own for this POST, ended after its
/// answers, or at once when the client closes the stream (cancellation).
fn post_stateless(
    server: &Server,
    w: &mut dyn Write,
    body: Vec<u8>,
    shape: &Shape,
) -> io::Result<Done> {
    let (unsolicited, discard) = sink::channel(STREAM_QUEUE);
    drop(discard);
    let conversation = server.backend.open_sessionless(unsolicited);
    let (out, rx) = sink::channel(STREAM_QUEUE);
    conversation.post(body, out);
    if !shape.requests {
        response::write(w, 202, &[], b"", false)?;
        while !matches!(rx.next(END_LIMIT), Next::Ended | Next::Idle) {}
        conversation.end(END_LIMIT);
        return Ok(Done::keep(202));
    }
    let streamed = stream(server, w, &rx, None, false, None);
    rx.close();
    conversation.end(END_LIMIT);
    streamed.map(|()| Done::keep(200))
}

/// Writes an SSE answer: its head (with `session` as `Mcp-Session-Id`), a
/// priming event when asked, then each message `rx` yields, until it ends.
/// A GET stream (`lease` given) also ends when its session or the server does.
fn stream(
    server: &Server,
    w: &mut dyn Write,
    rx: &Receiver,
    session: Option<&str>,
    priming: bool,
    lease: Option<&Lease>,
) -> io::Result<()> {
    response::sse_head(w, session)?;
    if priming {
        response::sse_priming(w)?;
    }
    let mut quiet = 0;
    loop {
        match rx.next(TICK) {
            Next::Message(m) => {
                quiet = 0;
                response::sse_event(w, &m)?;
            }
            Next::Ended => break,
            Next::Idle => {
                let stopping = server.stopping.load(Ordering::Acquire);
                if lease.is_some_and(|l| stopping || l.0.is_ended()) {
                    break;
                }
                quiet += 1;
                if quiet >= KEEPALIVE_TICKS {
                    quiet = 0;
                    response::sse_keepalive(w)?;
                }
            }
        }
    }
    response::sse_end(w)
}

fn get(server: &Server, w: &mut dyn Write, head: &Head) -> io::Result<Done> {
    if !accepts(head.accept.as_deref(), "text/event-stream") {
        response::text(
            w,
            406,
            "Not Acceptable: the GET stream is text/event-stream",
            false,
        )?;
        return Ok(Done::keep(406));
    }
    let lease = match session(server, w, head)? {
        Ok(lease) => lease,
        Err(done) => return Ok(done),
    };
    let Some(rx) = lease.0.take_stream() else {
        return refuse(
            w,
            409,
            -32600,
            "Conflict: this session's GET stream is already open",
        );
    };
    let priming = head.protocol_version.as_deref() == Some("2025-11-25");
    let streamed = stream(server, w, &rx, None, priming, Some(&lease));
    if !matches!(rx.next(Duration::ZERO), Next::Ended) {
        lease.0.give_back(rx);
    }
    streamed.map(|()| Done::keep(200))
}

fn delete(server: &Server, w: &mut dyn Write, head: &Head) -> io::Result<Done> {
    let Some(id) = head.session_id.as_deref() else {
        return refuse(
            w,
            400,
            -32600,
            "Bad Request: Mcp-Session-Id header is required",
        );
    };
    let Some(session) = server.sessions.remove(id) else {
        return refuse(w, 404, -32001, "Session not found");
    };
    log::debug!("session {} ended by the client", short(id));
    end_session(&session);
    response::write(w, 204, &[], b"", false)?;
    Ok(Done::keep(204))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists() {
        let both = Some("application/json, text/event-stream");
        assert!(accepts(both, "application/json") && accepts(both, "text/event-stream"));
        assert!(accepts(Some("*/*"), "text/event-stream"));
        assert!(accepts(Some("text/*;q=0.5"), "text/event-stream"));
        assert!(!accepts(Some("application/json"), "text/event-stream"));
        assert!(!accepts(None, "application/json"));
    }

    #[test]
    fn body_shapes() {
        let s = |t: &str| shape(&serde_json::from_str(t).unwrap());
        let i = s(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#).unwrap();
        assert!(i.requests && i.initialize);
        let n = s(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(!n.requests && !n.initialize);
        let b =
            s(r#"[{"jsonrpc":"2.0","method":"x"},{"jsonrpc":"2.0","id":2,"method":"initialize"}]"#)
                .unwrap();
        assert!(b.requests && !b.initialize);
        let r = s(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap();
        assert!(!r.requests);
        for bad in ["[]", "5", "\"x\"", "[1]", "null"] {
            assert!(s(bad).is_none(), "{bad}");
        }
    }
}
