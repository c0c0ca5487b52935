//! One client message and everything its POST brings back.
//!
//! Owns: the life of one exchange on its thread:
//! - the `--read-only` check of each tool call, listing the tools first when
//!   the called one is not known (`read_only_batch` for batches);
//! - the headers and timeouts for the message (`timeouts_for`; a tool call's
//!   [`Deadline`] moves with every message on its stream);
//! - the send loop — retries, a new session after the server ended one, a
//!   re-list after a 2026-07-28 header mismatch — as `retry_policy.rs` decides;
//! - reading the JSON or SSE answer, resuming a broken stream, and cancelling
//!   upstream a request that timed out (never `initialize`: MCP forbids it);
//! - answering every request of the message exactly once.
//!
//! Refuses: sending a request twice when it may have reached the server,
//! except where the server's status says it did not take effect.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::conversation::{Exchange, Gate};
use super::deadline::Deadline;
use super::failure::{self, Failure, Limit, Scope};
use super::inbound::{Delivered, Waiting, deliver};
use super::internal::{self, list_tools};
use super::jsonrpc::{self, Id, Kind};
use super::listen;
use super::outgoing::Outgoing;
use super::policy::CallDecision;

use super::recovery::{self, reinitialize};
use super::retry_policy::{self, Refusal};
use super::revision::Revision;
use super::routing;
use super::stream::{EndReason, ReadError, StreamEnd, read_events, read_json, unanswered};
use super::upstream::{HttpAnswer, SendError, SendOptions, peek_error};
use crate::http::{ErrorKind, Lease, Method, RequestTimeouts, Response};

/// The most bytes read from a 202 or 204 answer, which has no body.
const MAX_EMPTY_BODY: usize = 4096;

/// Runs one exchange; opens `gate` once its answer head arrived (or never
/// will).
pub(crate) fn run(ctx: &Exchange, mut out: Outgoing, gate: &Gate) {
    let shared = &ctx.shared;
    let pending = &shared.pending;
    if out.requests.any() && out.requests.ids.iter().all(|id| pending.is_cancelled(id)) {
        // Cancelled before it went out (it waited for a slot, or for the
        // handshake): the server never hears of it, the client expects no
        // answer.
        log::debug!("not sending a message whose requests were all cancelled");
        gate.open();
        for id in &out.requests.ids {
            out.requests.fail(pending, id);
        }
        return;
    }
    if out.message.batch {
        // The handshake this batch waited for may have negotiated a revision
        // without batches after the batch was read.
        let revision = Revision::negotiated(ctx.up.session().protocol_version().as_deref());
        if !revision.allows_batches() {
            gate.open();
            ctx.fail_requests(&out.requests, &failure::batch_refused(revision.name()));
            return;
        }
    }
    if shared.process.options.read_only {
        // The tools the client was shown are the default session's, so that
        // session lists them when a tool is not known yet.
        let default_view;
        let listing = if ctx.is_routed() {
            default_view = ctx.routed(0);
            &default_view
        } else {
            ctx
        };
        if out.is_tool_call() {
            let refusal = read_only_refusal(listing, &out, out.param("/name"), out.param("/_meta"));
            if let Some(why) = refusal {
                gate.open();
                ctx.fail_requests(&out.requests, &failure::refused(why));
                return;
            }
        } else if out.has_tool_call() && !read_only_batch(listing, &mut out) {
            // Every member was refused: nothing goes out.
            gate.open();
            return;
        }
    }
    if let Err(failure) = recovery::open_session(ctx, &out.revision, |e| not_sent(ctx, &out, e)) {
        gate.open();
        ctx.fail_requests(&out.requests, &failure);
        return;
    }
    if out.requests.any() && out.revision.has_sessions() && !out.is_initialize {
        // A request can make the server talk on its GET stream (a message
        // related to no request): that stream is open, or refused, first.
        ctx.up.wait_listen(listen::LISTEN_WAIT);
    }
    let out = &out;
    let mut extra = extra_for(ctx, out);
    // Every exchange holds a connection alone, so that cancelling it or
    // passing its deadline closes that connection and no other; it is handed
    // back for the next exchange when this one ends normally.
    // (Declared before the deadline, so dropped after it: the deadline must
    // never close the connection once another exchange holds it.)
    let own = ctx.up.link().own_connection();
    for abort in &out.requests.aborts {
        abort.set_client(own.client().clone());
    }
    let tool_deadline = out.has_tool_call().then(|| {
        Deadline::start(
            &shared.deadlines,
            shared.process.timeouts.tool,
            own.client().clone(),
        )
    });
    extra.client = Some(own.client().clone());
    let deadline = tool_deadline.as_ref();
    let timeouts = timeouts_for(ctx, out);
    let mut tries = Tries::default();
    loop {
        let result = send_with_recovery(ctx, out, &mut extra, timeouts, &mut tries);
        if let Ok(Some(sent)) = &result {
            // The GET stream is claimed before the requests after the
            // handshake may go (they wait for its first answer).
            let accepted = (200..300).contains(&sent.response.status);
            if accepted
                && out.method.as_deref() == Some("notifications/initialized")
                && out.revision.has_sessions()
            {
                listen::start(ctx, ctx.up.session().generation());
            }
        }
        gate.open();
        let aborted = out.requests.aborted();
        match result {
            Ok(Some(mut sent)) => {
                if let Handled::Refused(refusal, message) =
                    handle_response(ctx, out, &mut sent, timeouts, deadline, &own)
                {
                    if again(ctx, out, &mut tries, refusal, &sent) {
                        continue;
                    }
                    deliver(ctx, message, Waiting::Requests(&out.requests));
                }
            }
            Ok(None) => {}
            Err(_) if aborted => {}
            Err(SendError::Http(h))
                if (h.kind == ErrorKind::Timeout && !h.before_send())
                    || deadline.is_some_and(Deadline::fired) =>
            {
                // The request went out and no answer came in time: tell the
                // client, and tell the server to stop.
                timed_out(ctx, out, timeouts);
            }
            Err(e) => ctx.fail_requests(&out.requests, &not_sent(ctx, out, &e)),
        }
        break;
    }
    finish(ctx, out);
}

/// `--read-only` for the tool calls of a batch: each refused one is answered
/// and taken out of the batch. False when nothing is left to send.
fn read_only_batch(ctx: &Exchange, out: &mut Outgoing) -> bool {
    let mut refused = Vec::new();
    for (i, part) in out.parts.iter().enumerate() {
        let Kind::Request { id, method } = &part.kind else {
            continue;
        };
        if method != "tools/call" {
            continue;
        }
        if let Some(why) = read_only_refusal(ctx, out, part.param("/name"), part.param("/_meta")) {
            if out.requests.fail(&ctx.shared.pending, id) {
                ctx.answer_error(id, &failure::refused(why));
            }
            refused.push(i);
        }
    }
    if !refused.is_empty() {
        out.remove_parts(&refused);
    }
    !out.parts.is_empty()
}

/// What the send loop has used up: retries, the one new session, the one
/// re-list.
#[derive(Debug, Default)]
struct Tries {
    attempt: u32,
    reinitialized: bool,
    relisted: bool,
}

/// How reading an answer ended.
enum Handled {
    /// Every message in it was delivered (or the exchange ended otherwise).
    Done,
    /// A 2xx answer whose response says the server did not take the message
    /// (a JSON-RPC `-30001` or `-32004`): the response, not delivered yet.
    Refused(Refusal, Vec<u8>),
}

/// After a 2xx answer that refused the message: true when it goes again (a
/// new session was opened, or the throttling wait passed); false when the
/// refusal is the client's answer.
fn again(
    ctx: &Exchange,
    out: &Outgoing,
    tries: &mut Tries,
    refusal: Refusal,
    sent: &HttpAnswer,
) -> bool {
    match refusal {
        Refusal::SessionLost => {
            if tries.reinitialized || out.is_initialize || !out.revision.has_sessions() {
                return false;
            }
            tries.reinitialized = true;
            match reinitialize(ctx, sent.generation) {
                Ok(()) => true,
                Err(why) => {
                    log::warn!("{}", crate::error::chain(&why));
                    false
                }
            }
        }
        Refusal::Throttled => throttle_wait(ctx, tries, &sent.response, 200),
    }
}

/// Waits before sending again after the server asked the client to slow down
/// (the answer's `Retry-After`, else backoff); false when `--retries` are used
/// up, the server asks for too long, or the relay is stopping.
fn throttle_wait(ctx: &Exchange, tries: &mut Tries, response: &Response, status: u16) -> bool {
    let (shared, up) = (&ctx.shared, &ctx.up);
    let retries = shared.process.options.retries;
    if tries.attempt >= retries {
        return false;
    }
    let retry_after = response.header("retry-after");
    let Some(delay) = retry_policy::retry_wait(retry_after, tries.attempt, SystemTime::now())
    else {
        return false;
    };
    log::info!(
        "{} answered HTTP {status}{}; retry {} of {retries} in {:.1} s",
        up.host(),
        if status == 200 {
            " with a throttling error"
        } else {
            ""
        },
        tries.attempt + 1,
        delay.as_secs_f64()
    );
    if !shared.pause(delay) {
        return false;
    }
    tries.attempt += 1;
    true
}

/// Answers whatever the exchange left unanswered.
fn finish(ctx: &Exchange, out: &Outgoing) {
    let host = ctx.up.host();
    for id in &out.requests.ids {
        if !out.requests.fail(&ctx.shared.pending, id) {
            continue;
        }
        if out.is_listen() {
            // 2026-07-28: a listen stream that drops is reported to a stdio
            // client as notifications/cancelled for the listen request.
            ctx.out.send(failure::listen_ended(id, host));
        } else {
            ctx.answer_error(id, &failure::no_response(host));
        }
    }
}

/// Headers and protocol version for this message.
fn extra_for(ctx: &Exchange, out: &Outgoing) -> SendOptions {
    let mut extra = SendOptions {
        with_session: !out.is_initialize,
        ..Default::default()
    };
    if let Some(value) = out
        .value
        .as_ref()
        .filter(|_| out.revision.routes_by_headers())
    {
        extra.protocol_version = Some(out.revision.name().to_owned());
        extra.headers = routing::routing_headers(value);
        if out.is_tool_call() {
            let name = out.param("/name").and_then(Value::as_str).unwrap_or("");
            extra.headers.extend(
                ctx.shared
                    .tools
                    .param_headers(name, out.param("/arguments")),
            );
        }
    }
    // W3C trace context in params._meta, for this request only.
    extra
        .headers
        .extend(super::trace::trace_headers(out.value.as_ref()));
    extra
}

/// Tool calls wait up to `--tool-timeout` between messages with no overall
/// limit; `subscriptions/listen` streams stay open (a read idle for the longer
/// of `--read-timeout` and 10 minutes ends them); everything else gets
/// `--read-timeout` per read and `--timeout` overall.
fn timeouts_for(ctx: &Exchange, out: &Outgoing) -> RequestTimeouts {
    let t = &ctx.shared.process.timeouts;
    if out.has_tool_call() {
        RequestTimeouts {
            response: t.tool,
            per_read: Some(t.tool),
            total: None,
        }
    } else if out.is_listen() {
        RequestTimeouts {
            response: t.read,
            per_read: Some(t.read.max(Duration::from_secs(600))),
            total: None,
        }
    } else {
        RequestTimeouts {
            response: t.read,
            per_read: Some(t.read),
            total: Some(t.exchange),
        }
    }
}

/// `--read-only`: why a call of the tool `name` may not go out, if it may
/// not. Lists the tools first (with `meta`, the call's `_meta`) when the tool
/// is not known yet.
fn read_only_refusal(
    ctx: &Exchange,
    out: &Outgoing,
    name: Option<&Value>,
    meta: Option<&Value>,
) -> Option<String> {
    let tools = &ctx.shared.tools;
    let name = name.and_then(Value::as_str).unwrap_or("");
    let mut decision = tools.decide_call(name, true);
    let mut listing_failed = None;
    if decision == CallDecision::Unknown {
        if let Err(why) = list_tools(ctx, &out.revision, meta) {
            log::warn!("--read-only: listing tools to check {name:?} failed: {why}");
            listing_failed = Some(why);
        }
        decision = tools.decide_call(name, true);
    }
    match (decision, listing_failed) {
        (CallDecision::Allow, _) => None,
        (CallDecision::Refuse(why), _) => Some(why),
        (CallDecision::Unknown, Some(why)) => Some(format!(
            "mcp-sigv4 --read-only: the server's tools/list could not be read to check tool {name:?} ({why}), so it was not called; try again"
        )),
        (CallDecision::Unknown, None) => Some(format!(
            "mcp-sigv4 --read-only: tool {name:?} is not in the server's tools/list, so it was not called"
        )),
    }
}

/// Sends the message, with retries, session recovery and the 2026-07-28 re-list.
/// `Ok(None)`: the client cancelled it before it went out.
fn send_with_recovery(
    ctx: &Exchange,
    out: &Outgoing,
    extra: &mut SendOptions,
    timeouts: RequestTimeouts,
    tries: &mut Tries,
) -> Result<Option<HttpAnswer>, SendError> {
    let (shared, up) = (&ctx.shared, &ctx.up);
    let retries = shared.process.options.retries;
    loop {
        if out.requests.aborted() {
            return Ok(None);
        }
        match up.send(Method::Post, &out.body, extra, timeouts) {
            Err(SendError::Http(e)) if e.before_send() && tries.attempt < retries => {
                let delay = retry_policy::reconnect_wait(tries.attempt);
                log::info!(
                    "cannot reach {} ({e}); retry {} of {retries} in {:.1} s",
                    up.host(),
                    tries.attempt + 1,
                    delay.as_secs_f64()
                );
                if !shared.pause(delay) {
                    return Err(SendError::Http(e));
                }
                tries.attempt += 1;
            }
            Err(e) => return Err(e),
            Ok(mut sent) => {
                let status = sent.response.status;
                if (200..300).contains(&status) {
                    return Ok(Some(sent));
                }
                // An error status: its body (bounded) says what happened.
                let body = peek_error(&mut sent.response, &sent.secrets).body;
                if !tries.reinitialized
                    && retry_policy::session_ended(
                        status,
                        sent.carried_session,
                        out.is_initialize,
                        &out.revision,
                        &body,
                    )
                {
                    tries.reinitialized = true;
                    match reinitialize(ctx, sent.generation) {
                        Ok(()) => continue,
                        Err(why) => {
                            sent.note = Some(crate::error::chain(&why));
                            return Ok(Some(sent));
                        }
                    }
                }
                if !tries.relisted
                    && retry_policy::header_mismatch(
                        status,
                        &out.revision,
                        out.is_tool_call(),
                        || peek_error(&mut sent.response, &sent.secrets).jsonrpc_code(),
                    )
                {
                    tries.relisted = true;
                    match list_tools(ctx, &out.revision, out.param("/_meta")) {
                        Ok(()) => {
                            log::info!(
                                "header mismatch on tools/call: listed tools again and resending"
                            );
                            *extra = extra_for(ctx, out);
                            continue;
                        }
                        Err(why) => log::warn!("re-listing tools after -32020 failed: {why}"),
                    }
                }
                if retry_policy::retryable(status, &body, &out.message.items) {
                    if throttle_wait(ctx, tries, &sent.response, status) {
                        continue;
                    }
                    let asked = sent.response.header("retry-after");
                    if let Some(wait) = retry_policy::asked_too_long(asked, SystemTime::now()) {
                        sent.note = Some(failure::waits_too_long(wait));
                    }
                }
                return Ok(Some(sent));
            }
        }
    }
}

/// Reads the answer: a JSON message, an SSE stream, or an error status. A
/// response that says the server did not take the request is handed back
/// undelivered, when the request may go again.
fn handle_response(
    ctx: &Exchange,
    out: &Outgoing,
    sent: &mut HttpAnswer,
    timeouts: RequestTimeouts,
    deadline: Option<&Deadline>,
    own: &Lease<'_>,
) -> Handled {
    let up = &ctx.up;
    up.capture_session(sent);
    let status = sent.response.status;
    if !(200..300).contains(&status) {
        http_failure(ctx, out, sent);
        return Handled::Done;
    }
    if status == 202 || status == 204 {
        // Read to its (empty) end, so the connection goes back to its pool.
        let _ = sent.response.read_body(MAX_EMPTY_BODY);
        return Handled::Done;
    }
    let encoding = sent.response.header("content-encoding").map(str::trim);
    if let Some(encoding) =
        encoding.filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"))
    {
        // Nothing asked for one (no Accept-Encoding): its bytes are not the
        // JSON or events they claim to be.
        let encoding = crate::text::clean(&sent.secrets.redact(encoding), 64);
        ctx.fail_requests(
            &out.requests,
            &failure::encoded(up.host(), status, &encoding),
        );
        if !out.requests.any() {
            log::warn!("{}", failure::encoded(up.host(), status, &encoding).message);
        }
        return Handled::Done;
    }
    let waiting = Waiting::Requests(&out.requests);
    let watch = out.requests.any() && !out.message.batch;
    let response = &mut sent.response;
    let host = up.host();
    match response.media_type().as_deref() {
        Some("application/json") => match read_json(
            response,
            ctx.shared.process.options.limits.message,
            // Room on stdout's bound for the answer before it is read; while
            // it waits for the client to read stdout, the deadline is held.
            &|n| {
                let _waiting = deadline.map(Deadline::hold);
                ctx.out.hold(n);
            },
        ) {
            Ok(bytes) => {
                if let Some(refusal) = watch.then(|| refused(&bytes)).flatten() {
                    ctx.out.release();
                    return Handled::Refused(refusal, bytes);
                }
                let _delivering = deadline.map(Deadline::hold);
                // The body was read to its end: the connection is free.
                own.finishing();
                if let Delivered::Unreadable(why) = deliver(ctx, bytes, waiting) {
                    ctx.fail_requests(&out.requests, &failure::unreadable_answer(host, why));
                }
            }
            Err(_) if out.requests.aborted() => {}
            Err(_) if deadline.is_some_and(Deadline::fired) => timed_out(ctx, out, timeouts),
            Err(ReadError::TimedOut) => timed_out(ctx, out, timeouts),
            Err(ReadError::TooLarge(max)) => ctx.fail_requests(
                &out.requests,
                &failure::too_large(host, max, "--max-message-size"),
            ),
            Err(ReadError::Broken(e)) => {
                ctx.fail_requests(&out.requests, &failure::broke_off(host, &e));
            }
        },
        Some("text/event-stream") => {
            let end = read_events(ctx, waiting, deadline, watch, Some(own), response);
            if let EndReason::Refused(refusal, message) = end.reason {
                return Handled::Refused(refusal, message);
            }
            after_stream(ctx, out, end, timeouts, deadline);
        }
        other => {
            if out.requests.any() {
                ctx.fail_requests(
                    &out.requests,
                    &failure::wrong_content_type(
                        up.host(),
                        status,
                        other.map(|t| sent.secrets.redact(t)).as_deref(),
                    ),
                );
            }
        }
    }
    // What was held for an answer that sent nothing (dropped, or failed).
    ctx.out.release();
    Handled::Done
}

/// What a JSON-RPC message in a 2xx answer to a single request says, when it
/// is an error that means the server did not take the request.
fn refused(message: &[u8]) -> Option<Refusal> {
    retry_policy::refusal(200, message)
}

/// After a POST's SSE stream: time out, resume, or leave the rest to `finish`.
fn after_stream(
    ctx: &Exchange,
    out: &Outgoing,
    end: StreamEnd,
    timeouts: RequestTimeouts,
    deadline: Option<&Deadline>,
) {
    match end.reason {
        EndReason::Answered | EndReason::Aborted | EndReason::Refused(..) => {}
        EndReason::TimedOut => timed_out(ctx, out, timeouts),
        EndReason::Closed | EndReason::Broken(_) => {
            if let EndReason::Broken(why) = &end.reason {
                log::warn!("the SSE stream from {} broke: {why}", ctx.up.host());
            }
            let waiting = Waiting::Requests(&out.requests);
            if unanswered(&ctx.shared.pending, waiting)
                && out.revision.resumes_streams()
                && let Some(last) = end.last_event_id
                && listen::resume(ctx, &out.requests, deadline, &last, end.retry_ms)
            {
                timed_out(ctx, out, timeouts);
            }
        }
    }
}

/// A request timed out: the client gets an error for each id, and the server a
/// `notifications/cancelled` (2025 revisions; for 2026-07-28 the closed stream
/// is the cancellation).
fn timed_out(ctx: &Exchange, out: &Outgoing, timeouts: RequestTimeouts) {
    let t = &ctx.shared.process.timeouts;
    let limit = if out.has_tool_call() {
        failure::tool_limit(t.tool)
    } else {
        failure::exchange_limit(t.exchange, timeouts.per_read.unwrap_or(t.read))
    };
    let failure = failure::timed_out(ctx.up.host(), &limit);
    for id in &out.requests.ids {
        if !out.requests.fail(&ctx.shared.pending, id) {
            continue;
        }
        ctx.answer_error(id, &failure);
        // MCP: the initialize request MUST NOT be cancelled.
        if !out.revision.cancels_by_closing_stream() && !out.is_initialize {
            cancel_upstream(ctx, id, "timed out in mcp-sigv4");
        }
    }
}

/// Tells the server a request is cancelled (`notifications/cancelled`).
fn cancel_upstream(ctx: &Exchange, id: &Id, reason: &str) {
    let body = jsonrpc::cancelled_notification(id, reason);
    internal::post_own(
        ctx,
        body.as_bytes(),
        &format!("telling the server that request {id} is cancelled"),
    );
}

/// The answer for a message that got no HTTP answer.
fn not_sent(ctx: &Exchange, out: &Outgoing, e: &SendError) -> Failure {
    let t = &ctx.shared.process.timeouts;
    let limit = if out.has_tool_call() {
        Limit {
            read: t.tool,
            flag: "--tool-timeout",
        }
    } else {
        Limit {
            read: t.read,
            flag: "--read-timeout",
        }
    };
    failure::not_sent(ctx.up.host(), e, limit)
}

/// Answers the message's requests after an HTTP error status.
fn http_failure(ctx: &Exchange, out: &Outgoing, sent: &mut HttpAnswer) {
    let up = &ctx.up;
    let status = sent.response.status;
    let error = peek_error(&mut sent.response, &sent.secrets);
    let text = String::from_utf8_lossy(&error.body);
    // A JSON-RPC answer in the error body is the server's response: pass it on
    // (with the request's id when the server could not read it).
    // A message with no requests has nobody to answer: its error is logged.
    if out.requests.any() && jsonrpc::classify(text.trim().as_bytes()).is_ok() {
        deliver(
            ctx,
            text.trim().as_bytes().to_vec(),
            Waiting::Requests(&out.requests),
        );
    }
    let auth = up.auth();
    let profile = auth.profile_name();
    let scope = Scope {
        service: auth.service(),
        region: auth.region(),
        profile: &profile,
    };
    // A busy answer with `--retries 0` was not retried: its note says so,
    // instead of the hint that it was.
    let not_retried = "not retried: --retries is 0 (raise it to retry when the server is busy)";
    let note = match sent.note.as_deref() {
        None if matches!(status, 429 | 503) && ctx.shared.process.options.retries == 0 => {
            Some(not_retried)
        }
        note => note,
    };
    let failure = failure::http_status(up.host(), status, &error, note, scope);
    if !out.requests.any() {
        log::warn!("{}", failure.message);
        return;
    }
    ctx.fail_requests(&out.requests, &failure);
}
