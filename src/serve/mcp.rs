//! The MCP endpoint, `/mcp`: Streamable HTTP's server side
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http>,
//! "Sending Messages to the Server", "Listening for Messages from the
//! Server", "Session Management"; 2026-07-28 without sessions).
//!
//! Owns: POST (202 for notifications and responses; an SSE stream for
//! requests, each answer written as it arrives, a 2025-11-25 priming event
//! first), GET (the session's stream of server-initiated messages, one at a
//! time: a second waits a little for the first's client to be found gone,
//! else is answered 409), DELETE (ends the session, 204), the
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
use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;

use super::headers;
use super::request::{Head, Method};
use super::response::{Done, Sse};
use super::sessions::{Lease, OpenError, short};
use super::{END_LIMIT, Server, end_session, response};
use crate::relay::jsonrpc::{self, Id, Invalid, Kind};
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

/// How long a GET waits for the GET holding the stream to find its client
/// gone (two [`TICK`]s, and margin) before it is answered 409.
const TAKEOVER_WAIT: Duration = Duration::from_secs(4);
const TAKEOVER_POLL: Duration = Duration::from_millis(20);

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
    /// The ids of its valid requests, each owed one answer.
    ids: Vec<Id>,
}

/// Reads the body's shape as the relay will (`jsonrpc::classify`, which
/// also takes a lone surrogate escape, valid JSON text that `serde_json`'s
/// `Value` refuses); `Err` with the JSON-RPC code and text when it is not
/// JSON (-32700), or not an object or a non-empty array (-32600). An object
/// or batch that is JSON but not JSON-RPC (`"method": 5`, an id without a
/// method) counts as a request: the relay answers it with an error, which
/// the client must get (JSON-RPC 2.0 §5, "Invalid Request").
fn shape(body: &[u8]) -> Result<Shape, (i64, &'static str)> {
    const NOT_JSON: (i64, &str) = (-32700, "Parse error: the body is not JSON");
    match jsonrpc::classify(body) {
        Ok(c) => Ok(Shape {
            requests: c.items.iter().any(|k| matches!(k, Kind::Request { .. })),
            ids: c.request_ids().map(|(id, _)| id.clone()).collect(),
            initialize: !c.batch
                && matches!(c.items.as_slice(), [Kind::Request { method, .. }] if method == "initialize"),
        }),
        Err(Invalid::Parse(_)) => Err(NOT_JSON),
        Err(Invalid::Request(..)) => {
            let raw = serde_json::from_slice::<&RawValue>(body).map_err(|_| NOT_JSON)?;
            let text = raw.get().trim_start();
            let message = text.starts_with('{')
                || text
                    .strip_prefix('[')
                    .is_some_and(|rest| !rest.trim_start().starts_with(']'));
            if message {
                // The relay answers it, with its id when one is readable.
                Ok(Shape {
                    requests: true,
                    initialize: false,
                    ids: Vec::new(),
                })
            } else {
                Err((
                    -32600,
                    "Invalid Request: expected a JSON-RPC message or a batch of them",
                ))
            }
        }
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
    let shape = match shape(&body) {
        Ok(shape) => shape,
        Err((code, text)) => return refuse(w, 400, code, text),
    };
    if stateless && shape.requests {
        let Ok(value) = serde_json::from_slice::<Value>(&body) else {
            return refuse(w, 400, -32700, "Parse error: the body is not JSON");
        };
        if let Some(text) = headers::mismatch(head, &value) {
            return refuse(w, 400, -32020, text);
        }
    }
    if stateless {
        return post_stateless(server, w, head, body, &shape);
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
    let mut owed = Owed {
        ids: shape.ids,
        watch_result: minted.is_some(),
        result: false,
    };
    let streamed = stream(
        server,
        w,
        head,
        &rx,
        minted.as_deref(),
        Ends::WithSession(&lease),
        &mut owed,
    );
    // A dropped connection is not a cancellation: the exchange goes on, its
    // answers are discarded.
    rx.close();
    if let Some(id) = &minted
        && streamed.is_ok()
        && !owed.result
        && let Some(session) = server.sessions.remove(id)
    {
        // The client was told its initialize failed and will not use this
        // session: kept, it would count against --max-sessions until idle,
        // and a client retrying against an upstream that is down would fill
        // the table for every client.
        log::debug!("session {} ended: its initialize failed", short(id));
        drop(lease);
        end_session(&session);
    }
    streamed.map(|()| Done::keep(200))
}

/// What a POST's stream still owes its client.
#[derive(Debug, Default)]
struct Owed {
    /// The ids of the requests not answered yet.
    ids: Vec<Id>,
    /// Whether to look for [`result`](Self::result) (an `initialize`'s
    /// stream).
    watch_result: bool,
    /// A response with a `result` passed.
    result: bool,
}

/// 2026-07-28: a conversation of its own for this POST, ended after its
/// answers, or at once when the client closes the stream (cancellation).
fn post_stateless(
    server: &Server,
    w: &mut dyn Write,
    head: &Head,
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
    let mut owed = Owed {
        ids: shape.ids.clone(),
        ..Owed::default()
    };
    let streamed = stream(server, w, head, &rx, None, Ends::Alone, &mut owed);
    rx.close();
    conversation.end(END_LIMIT);
    streamed.map(|()| Done::keep(200))
}

/// What ends a stream besides the end of its receiver.
#[derive(Clone, Copy)]
enum Ends<'a> {
    /// Nothing else (a 2026-07-28 POST, a conversation of its own).
    Alone,
    /// Its session's end too (a POST in a session): on a system where
    /// closing an exchange's upstream connection does not wake its read,
    /// the receiver would end only when the upstream answers.
    WithSession(&'a Lease),
    /// Its session's end or the server's stop (the session's GET stream).
    GetStream(&'a Lease),
}

/// Writes an SSE answer to the request `head`: its head (with `session` as
/// `Mcp-Session-Id`), a priming event for a 2025-11-25 client, then each
/// message `rx` yields, until it ends or `ends` says (checked every
/// [`TICK`]). While another GET waits for a GET stream, it writes a
/// keep-alive comment at every tick, so a client that went away is found
/// within two.
/// `owed` holds the ids of the POST's requests: each response crosses one
/// off, and one the stream ends without (its session was ended by DELETE,
/// going idle or shutdown, which cancel requests in flight upstream) gets a
/// JSON-RPC error with its id, so every request has exactly one answer.
fn stream(
    server: &Server,
    w: &mut dyn Write,
    head: &Head,
    rx: &Receiver,
    session: Option<&str>,
    ends: Ends<'_>,
    owed: &mut Owed,
) -> io::Result<()> {
    let mut sse = Sse::start(w, session, !head.http10)?;
    if head.protocol_version.as_deref() == Some("2025-11-25") {
        sse.priming()?;
    }
    let mut quiet = 0;
    loop {
        match rx.next(TICK) {
            Next::Message(m) => {
                quiet = 0;
                if !owed.ids.is_empty() {
                    answered(&m, &mut owed.ids);
                }
                if owed.watch_result && !owed.result {
                    owed.result = has_result(&m);
                }
                sse.event(&m)?;
            }
            Next::Ended => break,
            Next::Idle => {
                let stopping = server.stopping.load(Ordering::Acquire);
                let ended = match ends {
                    Ends::Alone => false,
                    Ends::WithSession(l) => l.0.is_ended(),
                    Ends::GetStream(l) => stopping || l.0.is_ended(),
                };
                if ended {
                    break;
                }
                quiet += 1;
                // The first write after the client closed still succeeds
                // (the peer answers it with a reset); the next one fails.
                let wanted = matches!(ends, Ends::GetStream(l) if l.0.stream_wanted());
                if quiet >= KEEPALIVE_TICKS || wanted {
                    quiet = 0;
                    sse.keepalive()?;
                }
            }
        }
    }
    for id in owed.ids.drain(..) {
        log::debug!("request {id} ended without an answer: answering it with an error");
        let error = jsonrpc::error_response(Some(&id), jsonrpc::INTERNAL_ERROR, UNANSWERED, None);
        sse.event(error.as_bytes())?;
    }
    sse.end()
}

/// The error a request gets when its exchange ended without an answer.
const UNANSWERED: &str = "no answer: the MCP session ended (DELETE, idle past --session-idle, or serve shutting down) before the server answered; the request was cancelled upstream. Initialize a new session and send it again";

/// True when `message` is an object with a `result` member.
fn has_result(message: &[u8]) -> bool {
    serde_json::from_slice::<std::collections::BTreeMap<String, &RawValue>>(message)
        .is_ok_and(|members| members.contains_key("result"))
}

/// Crosses off `owed` the ids that `message` (a response, or a batch of
/// them) answers. Only the first and last bytes of a single message are
/// read (its id is one of its first or last members): a 16 MiB result is
/// not parsed again.
fn answered(message: &[u8], owed: &mut Vec<Id>) {
    let mut cross = |id: &Id| {
        if let Some(at) = owed.iter().position(|o| o == id) {
            owed.swap_remove(at);
        }
    };
    let text = message.trim_ascii_start();
    if !text.starts_with(b"[") {
        let head = jsonrpc::head(&text[..text.len().min(4096)]);
        if head.method.is_some() {
            // A request or notification of the server's.
            return;
        }
        let id = head
            .id
            .or_else(|| jsonrpc::tail_id(&text[text.len().saturating_sub(4096)..]));
        if let Some(id) = id {
            cross(&id);
            return;
        }
    }
    // A batch, or an id in the middle of a large message: read it whole.
    if let Ok(c) = jsonrpc::classify(text) {
        for k in &c.items {
            if let Kind::Response { id: Some(id) } = k {
                cross(id);
            }
        }
    }
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
    // One GET at a time. One that finds the stream held waits a little: the
    // holder then checks its client at every tick, and one that went away
    // (a client reconnecting its stream) is found and gives the stream up
    // within two ticks, not two keep-alive comments later.
    let rx = match lease.0.take_stream() {
        Some(rx) => rx,
        None => {
            let _waiting = lease.0.wait_for_stream();
            let until = Instant::now() + TAKEOVER_WAIT;
            loop {
                std::thread::sleep(TAKEOVER_POLL);
                if let Some(rx) = lease.0.take_stream() {
                    break rx;
                }
                if Instant::now() >= until {
                    return refuse(
                        w,
                        409,
                        -32600,
                        "Conflict: this session's GET stream is already open",
                    );
                }
            }
        }
    };
    let streamed = stream(
        server,
        w,
        head,
        &rx,
        None,
        Ends::GetStream(&lease),
        &mut Owed::default(),
    );
    // Given back even when ended: an ended session is out of the table, so
    // no GET finds it again; and a check by reading would drop the message
    // it found.
    lease.0.give_back(rx);
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
    fn responses_cross_off_their_ids() {
        let ids = |t: &[&str]| t.iter().map(|t| Id::from_json(t)).collect::<Vec<_>>();
        let mut owed = ids(&["1", "\"a\"", "3", "4", "5"]);
        answered(br#"{"jsonrpc":"2.0","id":1.0,"result":{}}"#, &mut owed);
        answered(
            br#"{"jsonrpc":"2.0","method":"x","id":3,"params":{}}"#,
            &mut owed,
        );
        answered(
            br#"{"jsonrpc":"2.0","method":"notifications/progress"}"#,
            &mut owed,
        );
        answered(br#"[{"jsonrpc":"2.0","id":"a","result":{}}]"#, &mut owed);
        let big = format!(
            r#"{{"jsonrpc":"2.0","result":"{}","id":4}}"#,
            "x".repeat(9000)
        );
        answered(big.as_bytes(), &mut owed);
        let middle = format!(
            r#"{{"result":"{}","id":5,"jsonrpc":"2.0"}}"#,
            "x".repeat(9000)
        );
        answered(middle.as_bytes(), &mut owed);
        assert_eq!(owed, ids(&["3"]));
    }

    #[test]
    fn body_shapes() {
        let s = |t: &str| shape(t.as_bytes());
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
        // What the relay answers with an error is a request here.
        for answered in [
            r#"{"jsonrpc":"2.0","id":5,"method":5}"#,
            r#"{"jsonrpc":"2.0","id":6}"#,
            r#"{"foo":1}"#,
            "[1]",
            r#"{"jsonrpc":"2.0","id":"\ud800","method":"ping"}"#,
        ] {
            assert!(s(answered).unwrap().requests, "{answered}");
        }
        assert_eq!(s("[]").err().map(|e| e.0), Some(-32600));
        assert_eq!(s(" [ ] ").err().map(|e| e.0), Some(-32600));
        for bad in ["5", "\"x\"", "null"] {
            assert_eq!(s(bad).err().map(|e| e.0), Some(-32600), "{bad}");
        }
        assert_eq!(s("{").err().map(|e| e.0), Some(-32700));
        assert_eq!(s("\u{ff}").err().map(|e| e.0), Some(-32700));
    }
}
