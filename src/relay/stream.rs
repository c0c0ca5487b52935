//! Reading one answer: a JSON body, or an SSE stream (a POST's, the GET
//! stream, or a resumed one).
//!
//! Owns: reading a JSON body up to `--max-message-size`; reading events
//! until the requests waiting on the stream are answered, the server closes
//! it, the client cancels, or a timeout fires (the read timeouts of the
//! connection, and for a tool call its [`Deadline`], which only messages
//! move); handing each message to `inbound.rs`; an event over
//! `--max-event-size` answered by the id its first bytes carry (the waiting
//! request gets an error, a server request is refused to the server) while
//! the stream reads on; and what the stream leaves for a resumption (last
//! event id, `retry:`).
//! Refuses: holding more than one message of a stream at a time; deciding
//! what happens after the stream ends: resuming it is `listen.rs`'s,
//! answering what it left unanswered the exchange's.

use std::io::{BufReader, Read};
use std::time::Duration;

use super::conversation::Exchange;
use super::deadline::Deadline;
use super::failure;
use super::inbound::{Waiting, deliver};
use super::internal;
use super::jsonrpc;
use super::pending::Pending;
use super::retry_policy::{self, Refusal};
use super::sse::{self, Item, Oversized};
use crate::http::{Client, Lease, Response};

/// Why a JSON body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// It is larger than the bound (bytes).
    TooLarge(usize),
    /// A read timeout of the connection fired.
    TimedOut,
    /// The connection failed or closed before the body was complete.
    Broken(std::io::Error),
}

/// Reads a JSON answer body of at most `max` bytes, calling `hold` with the
/// bytes it is about to take before it takes them (stdout's bound: the
/// caller's [`Output::hold`](super::sink::Output::hold)) (the `content-length`
/// the server announced is reserved at once, so the body is held once).
pub(crate) fn read_json(
    response: &mut Response,
    max: usize,
    hold: &dyn Fn(usize),
) -> Result<Vec<u8>, ReadError> {
    let announced = response
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge(max));
    }
    let mut body = Vec::new();
    if let Some(n) = announced {
        // Bounded by `max` just above.
        let n = usize::try_from(n).unwrap_or(max);
        hold(n);
        body.reserve_exact(n.saturating_add(1));
    }
    // Read a piece at a time; what is read beyond what was announced (or
    // everything, when nothing was) is held on stdout's bound first.
    let mut held = announced.map_or(0, |n| usize::try_from(n).unwrap_or(max));
    let mut limited = (&mut response.body).take(max as u64 + 1);
    let mut piece = vec![0u8; READ_PIECE];
    loop {
        match limited.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => {
                if body.len() + n > held {
                    hold(READ_PIECE);
                    held += READ_PIECE;
                }
                body.extend_from_slice(&piece[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if crate::http::is_timeout(&e) => return Err(ReadError::TimedOut),
            Err(e) => return Err(ReadError::Broken(e)),
        }
    }
    if body.len() > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(body)
}

/// How much of a JSON body is read (and held on stdout's bound) at a time:
/// 64 KiB.
const READ_PIECE: usize = 64 << 10;

/// How an SSE stream ended.
pub(crate) struct StreamEnd {
    pub(crate) reason: EndReason,
    pub(crate) last_event_id: Option<String>,
    pub(crate) retry_ms: Option<u64>,
}

impl std::fmt::Debug for StreamEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEnd")
            .field("reason", &self.reason)
            .field("has_last_event_id", &self.last_event_id.is_some())
            .field("retry_ms", &self.retry_ms)
            .finish()
    }
}

/// Why an SSE stream ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// Every request waiting on it was answered.
    Answered,
    /// The server closed the stream.
    Closed,
    /// Reading failed.
    Broken(String),
    /// A timeout fired.
    TimedOut,
    /// The client cancelled (2026-07-28: closing the stream is the cancel).
    Aborted,
    /// A message on it said the server did not take the request (the check
    /// given to [`read_events`]); the message, not delivered.
    Refused(Refusal, Vec<u8>),
}

/// True when a request of `waiting` still waits for its answer.
pub(crate) fn unanswered(pending: &Pending, waiting: Waiting<'_>) -> bool {
    waiting.ids().iter().any(|id| pending.contains(id))
}

/// Reads an SSE stream, delivering every message, until the requests of
/// `waiting` are answered, the stream ends, the client cancels, or a timeout
/// fires. `deadline`: the exchange's, which each message restarts (comments
/// and partial events do not), when it has one. `watch_refusals`: a message
/// that says the server did not take the request (`retry_policy::refusal`)
/// ends the stream undelivered ([`EndReason::Refused`]). `drain`: the
/// connection the exchange holds alone; once every request waiting is
/// answered, the rest of the stream is read to its end within [`DRAIN_WAIT`]
/// and [`DRAIN_ITEMS`] (else the deadline closes that connection), so that
/// the connection serves the next exchange.
pub(crate) fn read_events(
    ctx: &Exchange,
    waiting: Waiting<'_>,
    deadline: Option<&Deadline>,
    watch_refusals: bool,
    drain: Option<&Lease<'_>>,
    response: &mut Response,
) -> StreamEnd {
    let pending = &ctx.shared.pending;
    let mut events = sse::Reader::new(
        BufReader::with_capacity(64 << 10, &mut response.body),
        ctx.shared.process.options.limits.event,
    );
    let fired = || deadline.is_some_and(Deadline::fired);
    let reason = loop {
        if waiting.aborted() {
            break EndReason::Aborted;
        }
        if fired() {
            break EndReason::TimedOut;
        }
        match events.next_item() {
            Ok(Some(Item::Comment)) => {}
            Ok(Some(Item::Event(event))) => {
                if event.event == "message" && !event.data.is_empty() {
                    if let Some(refusal) = watch_refusals
                        .then(|| retry_policy::refusal(200, event.data.as_bytes()))
                        .flatten()
                    {
                        break EndReason::Refused(refusal, event.data.into_bytes());
                    }
                    let _delivering = deadline.map(Deadline::hold);
                    if let Some(own) = drain {
                        let data = event.data.as_bytes();
                        if jsonrpc::head(&data[..data.len().min(4096)]).response {
                            // Perhaps the last answer: a client that sends
                            // on reading it may wait for this connection.
                            own.finishing();
                        }
                    }
                    deliver(ctx, event.data.into_bytes(), waiting);
                    if waiting.any() && !unanswered(pending, waiting) {
                        break EndReason::Answered;
                    }
                }
            }
            Ok(Some(Item::Oversized(event))) => {
                let _delivering = deadline.map(Deadline::hold);
                oversized(ctx, &event, waiting);
                if waiting.any() && !unanswered(pending, waiting) {
                    break EndReason::Answered;
                }
            }
            Ok(None) => break EndReason::Closed,
            Err(_) if waiting.aborted() => break EndReason::Aborted,
            Err(_) if fired() => break EndReason::TimedOut,
            Err(sse::SseError::Io(e)) if crate::http::is_timeout(&e) => {
                break EndReason::TimedOut;
            }
            Err(e) => break EndReason::Broken(e.to_string()),
        }
    };
    if let (EndReason::Answered, Some(own)) = (&reason, drain) {
        drain_rest(ctx, &mut events, waiting, own.client());
    }
    StreamEnd {
        reason,
        last_event_id: events.parser().last_event_id().map(str::to_owned),
        retry_ms: events.parser().retry_ms(),
    }
}

/// How long the rest of an answered stream may take to end before its
/// connection is closed instead of kept.
pub(crate) const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// How many events and comments after the answer are read at most.
pub(crate) const DRAIN_ITEMS: usize = 16;

/// After the answer: the rest of the stream up to its end, which the SDK
/// servers send right after the response ("After the JSON-RPC response has
/// been sent, the server SHOULD close the SSE stream",
/// <https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server>);
/// a connection whose body was read to its end goes back to its pool.
/// Messages still on it are delivered. A stream that does not end within
/// [`DRAIN_WAIT`] and [`DRAIN_ITEMS`] is cut: `own` is closed (and not kept).
fn drain_rest<R: std::io::BufRead>(
    ctx: &Exchange,
    events: &mut sse::Reader<R>,
    waiting: Waiting<'_>,
    own: &Client,
) {
    let watch = Deadline::start(&ctx.shared.deadlines, DRAIN_WAIT, own.clone());
    for _ in 0..DRAIN_ITEMS {
        match events.next_item() {
            Ok(None) => return,
            Ok(Some(Item::Event(event))) if event.event == "message" && !event.data.is_empty() => {
                deliver(ctx, event.data.into_bytes(), waiting);
            }
            Ok(Some(_)) => {}
            Err(_) => break,
        }
        if watch.fired() {
            break;
        }
    }
    if !watch.fired() {
        log::debug!(
            "the answered stream from {} did not end; closing its connection",
            ctx.up.host()
        );
        own.shutdown();
    }
}

/// An event over `--max-event-size`, skipped: what its first bytes say it was
/// is answered. A response to a request still waiting gets the relay's error
/// instead; a server request is refused to the server, which would otherwise
/// wait for an answer; anything else is logged.
fn oversized(ctx: &Exchange, event: &Oversized, waiting: Waiting<'_>) {
    let host = ctx.up.host();
    let head = jsonrpc::head(&event.prefix);
    let pending = &ctx.shared.pending;
    match (&head.id, &head.method) {
        (Some(id), None) if head.response && pending.contains(id) => {
            log::warn!(
                "the answer from {host} to request {id} is larger than {} bytes (--max-event-size); answering it with an error",
                event.max
            );
            let failure = failure::too_large(host, event.max, "--max-event-size");
            match waiting {
                // This stream's own request: its registration only.
                Waiting::Requests(r) if r.ids.contains(id) => {
                    if r.fail(pending, id) {
                        ctx.answer_error(id, &failure);
                    }
                }
                // A request answered on a stream not its own (the GET stream).
                _ => ctx.fail_all([id], &failure),
            }
        }
        (Some(id), Some(method)) => {
            log::warn!(
                "a {} request from {host} is larger than {} bytes (--max-event-size); refusing it",
                jsonrpc::shorten(method, 64),
                event.max
            );
            internal::refuse_server_request(ctx, id, event.max, "--max-event-size");
        }
        _ => {
            let what = head.method.as_deref().map_or_else(
                || "an SSE event".to_owned(),
                |m| format!("a {} message", jsonrpc::shorten(m, 64)),
            );
            log::warn!(
                "dropping {what} from {host} larger than {} bytes (--max-event-size){}",
                event.max,
                if waiting.any() {
                    ""
                } else {
                    " on the GET stream"
                }
            );
        }
    }
}
