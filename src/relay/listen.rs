//! The GET side of Streamable HTTP: the optional stream of server-initiated
//! messages, and resuming a broken POST stream
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#listening-for-messages-from-the-server>,
//! "Resumability and Redelivery").
//!
//! Owns: opening the GET stream once a 2025 session is initialized, forwarding
//! its messages, and reconnecting with `Last-Event-ID` after a delay (`delay`),
//! giving up after [`MAX_FAILURES`] failures in a row. A 405 means the endpoint
//! offers none, and it is not asked again (`refused`). Also resuming a POST's
//! SSE stream that broke after an event id, with a GET carrying `Last-Event-ID`
//! (at most [`RESUME_ATTEMPTS`] tries). A session's requests wait once, at most
//! [`LISTEN_WAIT`], for its first GET to be answered, so a message the server
//! sends outside any request has a stream to go on.
//! Refuses: a GET stream for a session the server ended or a revision without
//! one, and resuming a stream that never gave an event id.

use std::time::Duration;

use super::conversation::Exchange;
use super::deadline::Deadline;
use super::inbound::Waiting;
use super::outgoing::Requests;
use super::stream::{EndReason, read_events};
use super::upstream::{HttpAnswer, SendError, SendOptions, peek_error};
use crate::http::{Method, RequestTimeouts};

/// The longest a request waits for the first answer to the session's GET
/// stream before it goes anyway: 5 s.
pub(crate) const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// Consecutive failed connections after which the GET stream is given up.
pub(crate) const MAX_FAILURES: u32 = 5;

/// Attempts to resume a broken POST stream.
pub(crate) const RESUME_ATTEMPTS: u32 = 2;

/// The shortest wait before the GET stream is opened again, whatever the
/// server's `retry:` says: 500 ms (a server that sends `retry: 0` and ends
/// its stream at once would otherwise have thousands of signed GETs a second).
pub(crate) const RETRY_FLOOR: Duration = Duration::from_millis(500);

/// A GET stream that ends sooner than this after it opened "ended at once":
/// the wait before the next grows with each such stream in a row.
pub(crate) const QUICK_END: Duration = Duration::from_secs(2);

/// The longest wait before the GET stream is opened again: 60 s.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60);

/// The wait before the next GET: the server's `retry:` (at least
/// [`RETRY_FLOOR`]), else 1 s growing ×1.5 with each failure in a row (at most
/// 30 s); doubled for each stream after the first in a row that ended at once
/// (`quick_ends`); never more than [`MAX_DELAY`].
fn delay(retry_ms: Option<u64>, attempt: u32, quick_ends: u32) -> Duration {
    let base = match retry_ms {
        Some(ms) => Duration::from_millis(ms).clamp(RETRY_FLOOR, MAX_DELAY),
        None => Duration::from_millis(1000)
            .mul_f64(1.5f64.powi(attempt.min(20) as i32))
            .min(Duration::from_secs(30)),
    };
    let doublings = quick_ends.saturating_sub(1).min(16) as i32;
    base.mul_f64(2f64.powi(doublings)).min(MAX_DELAY).max(base)
}

fn get_timeouts(ctx: &Exchange) -> RequestTimeouts {
    let t = &ctx.shared.process.timeouts;
    RequestTimeouts {
        response: t.read,
        per_read: Some(t.read.max(Duration::from_secs(600))),
        total: None,
    }
}

/// Starts the GET stream for session `generation` of the context's upstream
/// session, unless one runs already or the endpoint said it has none.
pub(crate) fn start(ctx: &Exchange, generation: u64) {
    if ctx.up.link().offers_no_get_stream() || !ctx.up.claim_listen(generation) {
        return;
    }
    let up = std::sync::Arc::clone(&ctx.up);
    // Its messages answer no request: they go where the conversation's
    // unsolicited messages go, never to the stream of the request that
    // started it.
    let Some(out) = ctx.shared.unsolicited() else {
        up.listen_answered(generation);
        return;
    };
    let ctx = ctx.answering_to(out);
    let spawned = std::thread::Builder::new()
        .name("get-stream".into())
        .spawn(move || listen_loop(&ctx, generation));
    if let Err(e) = spawned {
        log::warn!("cannot start the GET stream thread: {e}");
        up.listen_answered(generation);
    }
}

fn listen_loop(ctx: &Exchange, generation: u64) {
    let (shared, up) = (&ctx.shared, &ctx.up);
    // However the loop ends, requests no longer wait for its first answer.
    struct Answered<'a>(&'a super::upstream::Upstream, u64);
    impl Drop for Answered<'_> {
        fn drop(&mut self) {
            self.0.listen_answered(self.1);
        }
    }
    let _answered = Answered(up, generation);
    let mut last_event_id: Option<String> = None;
    let mut retry_ms: Option<u64> = None;
    let mut failures = 0u32;
    let mut quick_ends = 0u32;
    let still_current = || up.session().generation() == generation && !shared.shutting_down();
    while still_current() {
        let mut extra = SendOptions {
            with_session: true,
            ..Default::default()
        };
        if let Some(id) = &last_event_id {
            extra.headers.push(("last-event-id".into(), id.clone()));
        }
        let sent = up.send(Method::Get, b"", &extra, get_timeouts(ctx));
        // The server has the stream (or refused it): requests may go.
        up.listen_answered(generation);
        match sent {
            // A new session replaced this one while the GET went out: its own
            // loop serves it.
            Ok(sent) if sent.generation != generation => return,
            Ok(mut sent) => {
                let status = sent.response.status;
                let sse = sent.response.media_type().as_deref() == Some("text/event-stream");
                if (400..500).contains(&status) {
                    refused(ctx, &mut sent, status);
                    return;
                }
                // Other non-2xx answers count as failures: AgentCore answers
                // them where it offers no GET stream.
                if !(200..300).contains(&status) || !sse {
                    failures += 1;
                    log::info!(
                        "GET stream: {} answered HTTP {status}{}",
                        up.host(),
                        if sse { "" } else { " without an event stream" }
                    );
                    if failures >= MAX_FAILURES {
                        return;
                    }
                } else {
                    failures = 0;
                    log::debug!("GET stream open");
                    let opened = std::time::Instant::now();
                    let end =
                        read_events(ctx, Waiting::Nobody, None, false, None, &mut sent.response);
                    if end.last_event_id.is_some() {
                        last_event_id = end.last_event_id;
                    }
                    if end.retry_ms.is_some() {
                        retry_ms = end.retry_ms;
                    }
                    if let EndReason::Broken(why) = &end.reason {
                        log::info!("GET stream broke: {why}");
                    }
                    if opened.elapsed() < QUICK_END {
                        quick_ends += 1;
                    } else {
                        quick_ends = 0;
                    }
                }
            }
            Err(SendError::Http(e)) => {
                failures += 1;
                log::info!("GET stream: {e}");
                if failures >= MAX_FAILURES {
                    return;
                }
            }
            Err(e @ (SendError::Auth(_) | SendError::Unsendable { .. })) => {
                log::warn!("GET stream: {e}");
                return;
            }
        }
        if !shared.pause(delay(retry_ms, failures, quick_ends)) {
            return;
        }
    }
}

/// The server refused the GET stream with a 4xx: it is not asked again in
/// this session. 405 means the endpoint has none ("or else return HTTP 405
/// Method Not Allowed, indicating that the server does not offer an SSE stream
/// at this endpoint",
/// <https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#listening-for-messages-from-the-server>),
/// so no later session asks either, and it is said at debug; a 404 is the session ending (the next request
/// opens a new one); any other 4xx is a warning the first time.
fn refused(ctx: &Exchange, sent: &mut HttpAnswer, status: u16) {
    let link = ctx.up.link();
    let host = link.host();
    if status == 405 {
        link.set_no_get_stream();
        log::debug!("{host} offers no GET stream (HTTP 405); not asking again");
        return;
    }
    if status == 404 {
        log::info!("GET stream: HTTP 404 from {host}: the session ended");
        return;
    }
    let error = peek_error(&mut sent.response, &sent.secrets);
    let what = error
        .error_type
        .as_deref()
        .or(error.message.as_deref())
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let text = format!(
        "GET stream: HTTP {status} from {host}{what}; no server-initiated messages in this session"
    );
    if link.first_get_refusal() {
        log::warn!("{text}");
    } else {
        log::debug!("{text}");
    }
}

/// Resumes a POST's SSE stream that broke after event `last_event_id`, until
/// the message's `requests` are answered or the attempts are used up
/// (`deadline` as for the POST's stream: a tool call's GET goes on its
/// connection, so the deadline can close it). The GET carries the current
/// session id, also when a new session replaced the one the POST went out in:
/// a server that keeps the stream answers it, one that does not refuses it,
/// and the requests then get their error. True when a timeout ended it (the
/// caller answers the requests as timed out).
pub(crate) fn resume(
    ctx: &Exchange,
    requests: &Requests,
    deadline: Option<&Deadline>,
    last_event_id: &str,
    retry_ms: Option<u64>,
) -> bool {
    let (shared, up) = (&ctx.shared, &ctx.up);
    let mut last = last_event_id.to_owned();
    let mut retry = retry_ms;
    for attempt in 0..RESUME_ATTEMPTS {
        if !shared.pause(delay(retry, attempt, 0)) {
            return false;
        }
        log::info!(
            "resuming a broken SSE stream with Last-Event-ID (try {})",
            attempt + 1
        );
        if deadline.is_some_and(Deadline::fired) {
            return true;
        }
        let extra = SendOptions {
            with_session: true,
            headers: vec![("last-event-id".into(), last.clone())],
            client: deadline.map(|d| d.client().clone()),
            ..Default::default()
        };
        let mut sent = match up.send(Method::Get, b"", &extra, get_timeouts(ctx)) {
            Ok(s) => s,
            Err(e) => {
                log::info!("resuming the stream failed: {e}");
                continue;
            }
        };
        if !(200..300).contains(&sent.response.status)
            || sent.response.media_type().as_deref() != Some("text/event-stream")
        {
            log::info!("resuming the stream: HTTP {}", sent.response.status);
            if sent.response.status == 405 {
                return false;
            }
            continue;
        }
        let end = read_events(
            ctx,
            Waiting::Requests(requests),
            deadline,
            false,
            None,
            &mut sent.response,
        );
        match end.reason {
            EndReason::Answered | EndReason::Aborted => return false,
            EndReason::TimedOut => return true,
            EndReason::Closed | EndReason::Broken(_) | EndReason::Refused(..) => {}
        }
        if let Some(id) = end.last_event_id {
            last = id;
        }
        retry = end.retry_ms.or(retry);
    }
    deadline.is_some_and(Deadline::fired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_retry_has_a_floor_and_quick_ends_double_the_wait() {
        let ms = Duration::from_millis;
        assert_eq!(delay(Some(0), 0, 0), RETRY_FLOOR);
        assert_eq!(delay(Some(0), 0, 1), RETRY_FLOOR);
        assert_eq!(delay(Some(0), 0, 2), ms(1000));
        assert_eq!(delay(Some(0), 0, 5), ms(8000));
        assert_eq!(delay(Some(0), 0, 100), MAX_DELAY);
        assert_eq!(delay(Some(3000), 0, 0), ms(3000));
        assert_eq!(delay(Some(u64::MAX), 0, 3), MAX_DELAY);
        assert_eq!(delay(None, 0, 0), ms(1000));
        assert_eq!(delay(None, 0, 3), ms(4000));
        assert_eq!(delay(None, 30, 30), MAX_DELAY);
    }
}
