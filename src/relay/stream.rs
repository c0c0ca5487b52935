//! Reading one SSE answer: a POST's stream, the GET stream, or a resumed one.
//!
//! Owns: reading events until the requests waiting on the stream are answered,
//! the server closes it, the client cancels, or a timeout fires (the read
//! timeouts of the connection, and an idle limit that only events restart,
//! not comments: `--tool-timeout`); handing each message to `inbound.rs`; and
//! what the stream leaves for a resumption (last event id, `retry:`).
//! Refuses: deciding what happens after the stream ends: resuming it is
//! `listen.rs`'s, answering what it left unanswered the exchange's.

use std::io::BufReader;
use std::time::{Duration, Instant};

use super::context::{Ctx, MAX_MESSAGE_BYTES};
use super::inbound::{Waiting, deliver};
use super::pending::Pending;
use super::retry_policy::{self, Refusal};
use super::sse::{self, Item};
use crate::http::Response;

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
/// fires. `idle_limit`: the longest time without an event (comments do not
/// count), when there is one. `watch_refusals`: a message that says the
/// server did not take the request (`retry_policy::refusal`) ends the stream
/// undelivered ([`EndReason::Refused`]).
pub(crate) fn read_events(
    ctx: &Ctx,
    waiting: Waiting<'_>,
    idle_limit: Option<Duration>,
    watch_refusals: bool,
    response: &mut Response,
) -> StreamEnd {
    let pending = &ctx.shared.pending;
    let mut events = sse::Reader::new(
        BufReader::with_capacity(64 << 10, &mut response.body),
        MAX_MESSAGE_BYTES,
    );
    let mut last_activity = Instant::now();
    let reason = loop {
        if waiting.aborted() {
            break EndReason::Aborted;
        }
        if idle_limit.is_some_and(|limit| last_activity.elapsed() > limit) {
            break EndReason::TimedOut;
        }
        match events.next_item() {
            Ok(Some(Item::Comment)) => {}
            Ok(Some(Item::Event(event))) => {
                last_activity = Instant::now();
                if event.event == "message" && !event.data.is_empty() {
                    if let Some(refusal) = watch_refusals
                        .then(|| retry_policy::refusal(200, event.data.as_bytes()))
                        .flatten()
                    {
                        break EndReason::Refused(refusal, event.data.into_bytes());
                    }
                    deliver(ctx, event.data.as_bytes(), waiting);
                    if waiting.any() && !unanswered(pending, waiting) {
                        break EndReason::Answered;
                    }
                }
            }
            Ok(None) => break EndReason::Closed,
            Err(_) if waiting.aborted() => break EndReason::Aborted,
            Err(sse::SseError::Io(e)) if crate::http::is_timeout(&e) => {
                break EndReason::TimedOut;
            }
            Err(e) => break EndReason::Broken(e.to_string()),
        }
    };
    StreamEnd {
        reason,
        last_event_id: events.parser().last_event_id().map(str::to_owned),
        retry_ms: events.parser().retry_ms(),
    }
}
