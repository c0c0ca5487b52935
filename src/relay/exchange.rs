//! One client message and everything its POST brings back.
//!
//! Owns: the retries (`--retries`, exponential backoff with jitter, honouring
//! `Retry-After`; on connection failures before the request was sent, on 429,
//! 503 and 424, and on 502/504 only for methods without side effects), the
//! replay of `initialize` when the server ended the session (404), the
//! 2026-07-28 re-list after a `-32020` header mismatch, the `--read-only` check,
//! reading JSON and SSE answers with their timeouts (`--tool-timeout` restarts on
//! every message of a tool call's stream), resuming a broken SSE stream with
//! `Last-Event-ID`, and answering every request exactly once.
//! Refuses: sending a request twice when it may have reached the server, except
//! where the server's status says it did not take effect.

use std::io::BufReader;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::jsonrpc::{self, Id, Kind};
use super::pending::Completion;
use super::policy::CallDecision;
use super::sse::{self, Item};
use super::upstream::{Extra, SendError, Sent, peek_error};
use super::{Ctx, Gate, MAX_MESSAGE_BYTES, Outgoing, Shared, listen, pause, routing};
use crate::auth::AuthError;
use crate::http::{ErrorKind, Method, RequestTimeouts, Response};
use crate::retry;
use crate::secret::Secret;
use crate::sync::Locked;

/// How many pages an internal `tools/list` reads at most.
const MAX_LIST_PAGES: usize = 50;

/// JSON-RPC error code for a call the relay refused by policy (`--read-only`).
pub const POLICY_REFUSED: i64 = -32003;

/// Runs one exchange.
pub(super) fn run(ctx: &Ctx, out: &Outgoing, gate: &Gate) {
    let shared = &ctx.shared;
    if out.is_tool_call() && shared.options.read_only {
        if let Err(why) = check_read_only(ctx, out) {
            gate.open();
            fail_all(
                ctx,
                out,
                &Failure {
                    code: POLICY_REFUSED,
                    message: why,
                    data: None,
                },
            );
            return;
        }
    }
    let mut extra = extra_for(shared, out);
    if out.needs_own_connection() {
        let own = shared.client.dedicated();
        for abort in &out.aborts {
            abort.set_client(own.clone());
        }
        extra.client = Some(own);
    }
    let timeouts = timeouts_for(shared, out);
    let result = send_with_recovery(ctx, out, extra, timeouts);
    gate.open();
    match result {
        Ok(Some(mut sent)) => handle_response(ctx, out, &mut sent, timeouts),
        Ok(None) => {}
        Err(SendError::Http(h))
            if h.kind == ErrorKind::Timeout && !h.before_send() && !out.aborted() =>
        {
            // The request went out and no answer came in time: tell the client,
            // and tell the server to stop.
            timed_out(ctx, out, timeouts);
        }
        Err(_) if out.aborted() => {}
        Err(e) => fail_all(ctx, out, &send_failure(shared, &e, out)),
    }
    finish(ctx, out);
}

/// Answers whatever the exchange left unanswered.
fn finish(ctx: &Ctx, out: &Outgoing) {
    let shared = &ctx.shared;
    for (id, _) in out.message.request_ids() {
        if !shared.pending.fail(id) {
            continue;
        }
        if out.is_listen() {
            // 2026-07-28 §4.4: a listen stream that drops is reported to a stdio
            // client as notifications/cancelled for the listen request.
            ctx.out.send(format!(
                "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{{\"requestId\":{},\"reason\":\"the subscription stream from {} ended\"}}}}",
                id.as_json(),
                shared.endpoint.host
            ));
        } else {
            ctx.out.send(jsonrpc::error_response(
                Some(id),
                jsonrpc::UPSTREAM_ERROR,
                &format!(
                    "{} ended its answer without a response to this request",
                    shared.endpoint.host
                ),
                None,
            ));
        }
    }
}

/// Headers and protocol version for this message.
fn extra_for(shared: &Shared, out: &Outgoing) -> Extra {
    let mut extra = Extra {
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
            let name = value
                .pointer("/params/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            extra.headers.extend(
                shared
                    .tools
                    .param_headers(name, value.pointer("/params/arguments")),
            );
        }
    }
    extra
}

/// Tool calls wait up to `--tool-timeout` between messages with no overall
/// limit; `subscriptions/listen` streams stay open (a read idle for the longer
/// of `--read-timeout` and 10 minutes ends them); everything else gets
/// `--read-timeout` per read and `--timeout` overall.
fn timeouts_for(shared: &Shared, out: &Outgoing) -> RequestTimeouts {
    let t = &shared.timeouts;
    if out.is_tool_call() {
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

/// `--read-only`: is this tool call allowed? Lists the tools first when the
/// tool is not known yet.
fn check_read_only(ctx: &Ctx, out: &Outgoing) -> Result<(), String> {
    let shared = &ctx.shared;
    let name = out
        .value
        .as_ref()
        .and_then(|v| v.pointer("/params/name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut decision = shared.tools.decide_call(name, true);
    if decision == CallDecision::Unknown {
        if let Err(why) = list_tools(ctx, out) {
            log::warn!("--read-only: listing tools to check {name:?} failed: {why}");
        }
        decision = shared.tools.decide_call(name, true);
    }
    match decision {
        CallDecision::Allow => Ok(()),
        CallDecision::Refuse(why) => Err(why),
        CallDecision::Unknown => Err(format!(
            "mcp-sigv4 --read-only: tool {name:?} is not in the server's tools/list, so it was not called"
        )),
    }
}

/// Lists every page of the server's tools with the relay's own requests, to
/// fill the tool cache. For a 2026-07-28 message, the requests carry the same
/// `_meta` envelope as the message.
fn list_tools(ctx: &Ctx, out: &Outgoing) -> Result<(), String> {
    let shared = &ctx.shared;
    let meta = out
        .value
        .as_ref()
        .and_then(|v| v.pointer("/params/_meta"))
        .filter(|_| out.revision.routes_by_headers())
        .cloned();
    let mut cursor: Option<Value> = None;
    for _ in 0..MAX_LIST_PAGES {
        let id = shared.internal_id();
        let mut params = serde_json::Map::new();
        if let Some(c) = &cursor {
            params.insert("cursor".into(), c.clone());
        }
        if let Some(m) = &meta {
            params.insert("_meta".into(), m.clone());
        }
        let request = json!({"jsonrpc":"2.0","id":id,"method":"tools/list","params":params});
        let mut extra = Extra {
            with_session: true,
            ..Default::default()
        };
        if out.revision.routes_by_headers() {
            extra.protocol_version = Some(out.revision.name().to_owned());
            extra.headers = routing::routing_headers(&request);
        }
        let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        let (response, _) =
            internal_request(ctx, &body, &extra, &Id::from_json(&json!(id).to_string()))?;
        shared.tools.observe_list(&response.to_string(), false);
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
fn internal_request(
    ctx: &Ctx,
    body: &[u8],
    extra: &Extra,
    id: &Id,
) -> Result<(Value, Option<String>), String> {
    let shared = &ctx.shared;
    let t = &shared.timeouts;
    let timeouts = RequestTimeouts {
        response: t.read,
        per_read: Some(t.read),
        total: Some(t.exchange),
    };
    let mut sent = shared
        .send(Method::Post, body, extra, timeouts)
        .map_err(|e| e.to_string())?;
    if extra.with_session {
        shared.capture_session(&sent);
    }
    let session_id = sent.response.header("mcp-session-id").map(str::to_owned);
    let status = sent.response.status;
    if !(200..300).contains(&status) {
        let e = peek_error(&mut sent.response);
        return Err(format!(
            "HTTP {status}{}",
            e.message.map(|m| format!(": {m}")).unwrap_or_default()
        ));
    }
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
                .read_body(MAX_MESSAGE_BYTES)
                .map_err(|e| e.to_string())?;
            find(&String::from_utf8_lossy(&bytes))
                .map(|v| (v, session_id))
                .ok_or_else(|| "no response in the answer".to_owned())
        }
        Some("text/event-stream") => {
            let mut events =
                sse::Reader::new(BufReader::new(&mut sent.response.body), MAX_MESSAGE_BYTES);
            loop {
                match events.next_event() {
                    Ok(Some(e)) if e.event == "message" && !e.data.is_empty() => {
                        if let Some(v) = find(&e.data) {
                            return Ok((v, session_id));
                        }
                        deliver(ctx, e.data.as_bytes(), None);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Err("the stream ended without a response".into()),
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        other => Err(format!("unexpected content type {other:?}")),
    }
}

/// Replays the client's `initialize` and `notifications/initialized` to open a
/// new session after the server ended `failed_generation`. One at a time; a
/// caller whose session was already replaced just goes on.
fn reinitialize(ctx: &Ctx, failed_generation: u64) -> Result<(), String> {
    let shared = &ctx.shared;
    let _one = shared.reinit.locked();
    if shared.session.generation() != failed_generation {
        return Ok(());
    }
    let original = shared
        .initialize
        .locked()
        .clone()
        .ok_or("the server ended the session and there is no initialize to replay")?;
    let original = String::from_utf8_lossy(&original).into_owned();
    let id = shared.internal_id();
    let id_span =
        super::splice::find(&original, &["id"]).ok_or("the initialize to replay has no id")?;
    let body = super::splice::replace(&original, id_span, &json!(id).to_string()).into_bytes();
    let old_version = shared.session.protocol_version();
    // The old id is kept until the new session replaces it (the replayed
    // initialize goes without one): requests sent meanwhile carry the old id,
    // get 404, and wait here for the new session.
    let (response, new_id) = internal_request(
        ctx,
        &body,
        &Extra::default(),
        &Id::from_json(&json!(id).to_string()),
    )
    .map_err(|e| format!("the server ended the MCP session and opening a new one failed: {e}"))?;
    let new_id = new_id.filter(|id| super::session::valid_id(id));
    if let Some(error) = response.get("error") {
        return Err(format!(
            "the server ended the MCP session and refused a new initialize: {error}"
        ));
    }
    if let Some(v) = response
        .pointer("/result/protocolVersion")
        .and_then(Value::as_str)
    {
        if old_version.as_deref() != Some(v) {
            log::warn!("the new MCP session negotiated protocol version {v} (was {old_version:?})");
        }
        shared.session.set_protocol_version(v);
    }
    let initialized =
        shared.initialized.locked().clone().unwrap_or_else(|| {
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec()
        });
    let t = &shared.timeouts;
    let timeouts = RequestTimeouts {
        response: t.read,
        per_read: Some(t.read),
        total: Some(t.exchange),
    };
    // notifications/initialized goes out in the new session before any other
    // request may use it.
    let in_new_session = match &new_id {
        Some(new_id) => Extra {
            with_session: true,
            session_id: Some(Secret::from(new_id.as_str())),
            ..Default::default()
        },
        None => Extra {
            protocol_version: shared.session.protocol_version(),
            ..Default::default()
        },
    };
    match shared.send(Method::Post, &initialized, &in_new_session, timeouts) {
        Ok(s) if (200..300).contains(&s.response.status) => {}
        Ok(s) => log::warn!(
            "notifications/initialized for the new session: HTTP {}",
            s.response.status
        ),
        Err(e) => log::warn!("notifications/initialized for the new session: {e}"),
    }
    let generation = shared.session.replace(new_id.as_deref());
    log::info!(
        "the server ended the MCP session; opened a new one by replaying the client's initialize"
    );
    listen::start(ctx, generation);
    Ok(())
}

/// True for methods that have no side effects, so a 502/504 may be retried.
fn side_effect_free(method: &str) -> bool {
    matches!(
        method,
        "initialize" | "ping" | "resources/read" | "prompts/get" | "server/discover"
    ) || method.ends_with("/list")
}

/// Whether an answer with `status` may be retried for this message.
fn retryable(status: u16, out: &Outgoing) -> bool {
    match status {
        429 | 503 | 424 => true,
        502 | 504 => out.message.items.iter().all(|k| match k {
            Kind::Request { method, .. } => side_effect_free(method),
            Kind::Notification { .. } => true,
            Kind::Response { .. } => false,
        }),
        _ => false,
    }
}

/// Sends the message, with retries, session recovery and the 2026-07-28 re-list.
/// `Ok(None)`: the client cancelled it before it went out.
fn send_with_recovery(
    ctx: &Ctx,
    out: &Outgoing,
    mut extra: Extra,
    timeouts: RequestTimeouts,
) -> Result<Option<Sent>, SendError> {
    let shared = &ctx.shared;
    let retries = shared.options.retries;
    let mut attempt = 0u32;
    let mut reinitialized = false;
    let mut relisted = false;
    loop {
        if out.aborted() {
            return Ok(None);
        }
        match shared.send(Method::Post, &out.body, &extra, timeouts) {
            Err(SendError::Http(e)) if e.before_send() && attempt < retries => {
                let delay = retry::backoff(attempt);
                log::info!(
                    "cannot reach {} ({e}); retry {} of {retries} in {:.1} s",
                    shared.endpoint.host,
                    attempt + 1,
                    delay.as_secs_f64()
                );
                if !pause(shared, delay) {
                    return Err(SendError::Http(e));
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
            Ok(mut sent) => {
                let status = sent.response.status;
                if status == 404
                    && sent.carried_session
                    && !reinitialized
                    && !out.is_initialize
                    && out.revision.has_sessions()
                    && peek_error(&mut sent.response).jsonrpc_code() != Some(-32601)
                {
                    match reinitialize(ctx, sent.generation) {
                        Ok(()) => {
                            reinitialized = true;
                            continue;
                        }
                        Err(why) => {
                            sent.note = Some(why);
                            return Ok(Some(sent));
                        }
                    }
                }
                if status == 400
                    && out.revision.routes_by_headers()
                    && out.is_tool_call()
                    && !relisted
                    && peek_error(&mut sent.response).jsonrpc_code() == Some(-32020)
                {
                    relisted = true;
                    match list_tools(ctx, out) {
                        Ok(()) => {
                            log::info!(
                                "header mismatch on tools/call: listed tools again and resending"
                            );
                            extra = extra_for(shared, out);
                            continue;
                        }
                        Err(why) => log::warn!("re-listing tools after -32020 failed: {why}"),
                    }
                }
                if attempt < retries && retryable(status, out) {
                    let delay = sent
                        .response
                        .header("retry-after")
                        .and_then(|v| retry::retry_after(v, SystemTime::now()))
                        .unwrap_or_else(|| retry::backoff(attempt));
                    if delay <= retry::MAX_RETRY_WAIT {
                        log::info!(
                            "{} answered HTTP {status}; retry {} of {retries} in {:.1} s",
                            shared.endpoint.host,
                            attempt + 1,
                            delay.as_secs_f64()
                        );
                        if pause(shared, delay) {
                            attempt += 1;
                            continue;
                        }
                    }
                }
                return Ok(Some(sent));
            }
        }
    }
}

fn handle_response(ctx: &Ctx, out: &Outgoing, sent: &mut Sent, timeouts: RequestTimeouts) {
    let shared = &ctx.shared;
    shared.capture_session(sent);
    let status = sent.response.status;
    if !(200..300).contains(&status) {
        http_failure(ctx, out, sent);
        return;
    }
    if out.method.as_deref() == Some("notifications/initialized") && out.revision.has_sessions() {
        listen::start(ctx, shared.session.generation());
    }
    if status == 202 || status == 204 {
        return;
    }
    let response = &mut sent.response;
    match response.media_type().as_deref() {
        Some("application/json") => match response.read_body(MAX_MESSAGE_BYTES) {
            Ok(bytes) => deliver(ctx, &bytes, Some(out)),
            Err(e) => fail_all(ctx, out, &send_failure(shared, &SendError::Http(e), out)),
        },
        Some("text/event-stream") => {
            let end = read_events(ctx, out, response);
            after_stream(ctx, out, end, timeouts);
        }
        other => {
            if out.has_requests() {
                fail_all(
                    ctx,
                    out,
                    &Failure {
                        code: jsonrpc::UPSTREAM_ERROR,
                        message: format!(
                            "{} answered HTTP {status} with content type {:?}, expected application/json or text/event-stream",
                            shared.endpoint.host,
                            other.unwrap_or("(none)")
                        ),
                        data: Some(json!({ "httpStatus": status })),
                    },
                );
            }
        }
    }
}

/// How an SSE stream ended.
pub(super) struct StreamEnd {
    pub(super) reason: EndReason,
    pub(super) last_event_id: Option<String>,
    pub(super) retry_ms: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum EndReason {
    /// Every request of the message was answered.
    Answered,
    /// The server closed the stream.
    Closed,
    /// Reading failed.
    Broken(String),
    /// A timeout fired.
    TimedOut,
    /// The client cancelled (2026-07-28: closing the stream is the cancel).
    Aborted,
}

fn unanswered(shared: &Shared, out: &Outgoing) -> bool {
    out.message
        .request_ids()
        .any(|(id, _)| shared.pending.contains(id))
}

/// Reads an SSE stream, delivering every message, until the message's requests
/// are answered, the stream ends, the client cancels, or a timeout fires.
pub(super) fn read_events(ctx: &Ctx, out: &Outgoing, response: &mut Response) -> StreamEnd {
    let shared = &ctx.shared;
    let mut events = sse::Reader::new(
        BufReader::with_capacity(64 << 10, &mut response.body),
        MAX_MESSAGE_BYTES,
    );
    let mut last_activity = Instant::now();
    let reason = loop {
        if out.aborted() {
            break EndReason::Aborted;
        }
        if out.is_tool_call() && last_activity.elapsed() > shared.timeouts.tool {
            break EndReason::TimedOut;
        }
        match events.next_item() {
            Ok(Some(Item::Comment)) => {}
            Ok(Some(Item::Event(event))) => {
                last_activity = Instant::now();
                if event.event == "message" && !event.data.is_empty() {
                    deliver(ctx, event.data.as_bytes(), Some(out));
                    if out.has_requests() && !unanswered(shared, out) {
                        break EndReason::Answered;
                    }
                }
            }
            Ok(None) => break EndReason::Closed,
            Err(_) if out.aborted() => break EndReason::Aborted,
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

/// After a POST's SSE stream: time out, resume, or leave the rest to `finish`.
fn after_stream(ctx: &Ctx, out: &Outgoing, end: StreamEnd, timeouts: RequestTimeouts) {
    let shared = &ctx.shared;
    match end.reason {
        EndReason::Answered | EndReason::Aborted => {}
        EndReason::TimedOut => timed_out(ctx, out, timeouts),
        EndReason::Closed | EndReason::Broken(_) => {
            if let EndReason::Broken(why) = &end.reason {
                log::warn!("the SSE stream from {} broke: {why}", shared.endpoint.host);
            }
            if unanswered(shared, out)
                && out.revision.resumes_streams()
                && let Some(last) = end.last_event_id
            {
                listen::resume(ctx, out, &last, end.retry_ms);
            }
        }
    }
}

/// A request timed out: the client gets an error for each id, and the server a
/// `notifications/cancelled` (2025 revisions; for 2026-07-28 the closed stream
/// is the cancellation).
fn timed_out(ctx: &Ctx, out: &Outgoing, timeouts: RequestTimeouts) {
    let shared = &ctx.shared;
    let limit = if out.is_tool_call() {
        format!(
            "no message for {} s (--tool-timeout)",
            shared.timeouts.tool.as_secs_f64()
        )
    } else {
        format!(
            "no complete answer within {} s (--timeout) or no data for {} s (--read-timeout)",
            shared.timeouts.exchange.as_secs_f64(),
            timeouts
                .per_read
                .unwrap_or(shared.timeouts.read)
                .as_secs_f64()
        )
    };
    for (id, _) in out.message.request_ids() {
        if !shared.pending.fail(id) {
            continue;
        }
        ctx.out.send(jsonrpc::error_response(
            Some(id),
            jsonrpc::REQUEST_TIMEOUT,
            &format!("{} timed out: {limit}", shared.endpoint.host),
            None,
        ));
        if !out.revision.cancels_by_closing_stream() {
            cancel_upstream(shared, id, "timed out in mcp-sigv4");
        }
    }
}

/// Tells the server a request is cancelled (`notifications/cancelled`).
fn cancel_upstream(shared: &Shared, id: &Id, reason: &str) {
    let body = format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{{\"requestId\":{},\"reason\":{}}}}}",
        id.as_json(),
        json!(reason)
    );
    let short = Duration::from_secs(5);
    let timeouts = RequestTimeouts {
        response: short,
        per_read: Some(short),
        total: Some(short),
    };
    let extra = Extra {
        with_session: true,
        ..Default::default()
    };
    if let Err(e) = shared.send(Method::Post, body.as_bytes(), &extra, timeouts) {
        log::warn!(
            "telling {} that request {id} is cancelled failed: {e}",
            shared.endpoint.host
        );
    }
}

/// Forwards one JSON text from the server to stdout, after checking it is
/// JSON-RPC and that any response in it answers a request still waiting.
/// Applies the tool rules to `tools/list` results and `list_changed`.
pub(super) fn deliver(ctx: &Ctx, bytes: &[u8], out: Option<&Outgoing>) {
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
    // when this exchange has exactly one request still waiting, it is the answer.
    let waiting: Vec<&Id> = out
        .map(|o| {
            o.message
                .request_ids()
                .map(|(id, _)| id)
                .filter(|id| shared.pending.contains(id))
                .collect()
        })
        .unwrap_or_default();
    let orphan_error = |id: Option<&Id>| {
        !message.batch
            && id.is_none_or(|i| !shared.pending.contains(i))
            && waiting.len() == 1
            && jsonrpc::pointer(line.as_bytes(), "/error").is_some()
    };
    if let [Kind::Response { id }] = message.items.as_slice() {
        if orphan_error(id.as_ref()) {
            if let Some(new) = with_id(&line, waiting[0]) {
                log::debug!(
                    "the server answered without our request id; giving its error id {}",
                    waiting[0]
                );
                shared.pending.complete(waiting[0]);
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
                    line = rewrite_result(shared, method.as_deref(), line);
                }
                if method.as_deref() == Some("initialize") {
                    if let Some(Value::String(v)) =
                        jsonrpc::pointer(line.as_bytes(), "/result/protocolVersion")
                    {
                        log::info!("MCP protocol version {v}");
                        shared.session.set_protocol_version(&v);
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
            Kind::Response { id: None } if out.is_some_and(|o| o.has_requests()) => forward = true,
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
fn rewrite_result(shared: &Shared, method: Option<&str>, line: String) -> String {
    if method != Some("tools/list") {
        return line;
    }
    shared
        .tools
        .observe_list(&line, shared.options.read_only)
        .unwrap_or(line)
}

/// Gives an error response the id of `id`, in place.
fn with_id(line: &str, id: &Id) -> Option<String> {
    match super::splice::find(line, &["id"]) {
        Some(span) => Some(super::splice::replace(line, span, id.as_json())),
        None => {
            let root = super::splice::root(line)?;
            super::splice::append_members(line, root, &[("id".into(), id.as_json().to_owned())])
        }
    }
}

/// An error to give the client for each unanswered request.
pub(super) struct Failure {
    pub(super) code: i64,
    pub(super) message: String,
    pub(super) data: Option<Value>,
}

pub(super) fn fail_all(ctx: &Ctx, out: &Outgoing, failure: &Failure) {
    for (id, _) in out.message.request_ids() {
        if ctx.shared.pending.fail(id) {
            ctx.out.send(jsonrpc::error_response(
                Some(id),
                failure.code,
                &failure.message,
                failure.data.clone(),
            ));
        }
    }
}

fn send_failure(shared: &Shared, e: &SendError, out: &Outgoing) -> Failure {
    let host = &shared.endpoint.host;
    match e {
        SendError::Auth(AuthError::Credentials(c)) => Failure {
            code: jsonrpc::CREDENTIALS_ERROR,
            message: format!("mcp-sigv4 cannot sign the request: {c}"),
            data: c.hint.as_ref().map(|h| json!({ "hint": h })),
        },
        SendError::Auth(a) => Failure {
            code: jsonrpc::CREDENTIALS_ERROR,
            message: format!("mcp-sigv4 cannot sign the request: {a}"),
            data: None,
        },
        SendError::Http(h) if h.kind == ErrorKind::Timeout => Failure {
            code: jsonrpc::REQUEST_TIMEOUT,
            message: format!(
                "no answer from {host} in time ({h}); the limit is {} s ({})",
                if out.is_tool_call() {
                    shared.timeouts.tool
                } else {
                    shared.timeouts.read
                }
                .as_secs_f64(),
                if out.is_tool_call() {
                    "--tool-timeout"
                } else {
                    "--read-timeout"
                }
            ),
            data: None,
        },
        SendError::Http(h) => Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: format!(
                "cannot reach {host}: {h}; check the endpoint URL, your network and any HTTPS_PROXY setting"
            ),
            data: None,
        },
    }
}

/// Answers the message's requests after an HTTP error status.
fn http_failure(ctx: &Ctx, out: &Outgoing, sent: &mut Sent) {
    let shared = &ctx.shared;
    let status = sent.response.status;
    let error = peek_error(&mut sent.response);
    let text = String::from_utf8_lossy(&error.body);
    // A JSON-RPC answer in the error body is the server's response: pass it on
    // (with the request's id when the server could not read it).
    // A message with no requests has nobody to answer: its error is logged.
    if out.has_requests() && jsonrpc::classify(text.trim().as_bytes()).is_ok() {
        deliver(ctx, text.trim().as_bytes(), Some(out));
    }
    let hint = hint_for(shared, status, error.error_type.as_deref());
    let mut message = format!("{} answered HTTP {status}", shared.endpoint.host);
    if let Some(t) = &error.error_type {
        message.push_str(&format!(" {t}"));
    }
    if let Some(m) = &error.message {
        message.push_str(&format!(": {m}"));
    }
    if let Some(r) = &error.request_id {
        message.push_str(&format!(" (request id {r})"));
    }
    if let Some(n) = &sent.note {
        message.push_str(&format!("; {n}"));
    }
    if let Some(h) = &hint {
        message.push_str(&format!("; {h}"));
    }
    let mut data = json!({ "httpStatus": status });
    if let Some(t) = error.error_type {
        data["awsErrorType"] = json!(t);
    }
    if let Some(r) = error.request_id {
        data["awsRequestId"] = json!(r);
    }
    if let Some(h) = hint {
        data["hint"] = json!(h);
    }
    if !out.has_requests() {
        log::warn!("{message}");
        return;
    }
    fail_all(
        ctx,
        out,
        &Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message,
            data: Some(data),
        },
    );
}

fn hint_for(shared: &Shared, status: u16, error_type: Option<&str>) -> Option<String> {
    let auth = &shared.auth;
    let scope = format!(
        "signed for service '{}' in region '{}'",
        auth.service(),
        auth.region()
    );
    let profile = auth.provider().resolver().profile_name();
    match (status, error_type) {
        (_, Some("ExpiredToken" | "ExpiredTokenException")) => Some(format!(
            "the AWS credentials have expired: renew them (e.g. `aws sso login --profile {profile}`) and retry"
        )),
        (_, Some("InvalidSignatureException" | "SignatureDoesNotMatch" | "IncompleteSignatureException")) => Some(format!(
            "the signature was refused: check the system clock, and that --service/--region match the endpoint ({scope})"
        )),
        (_, Some("UnrecognizedClientException" | "InvalidClientTokenId")) => Some(format!(
            "AWS does not recognize these credentials: check the access key and session token (profile '{profile}' or the AWS_* environment variables)"
        )),
        (401, _) => Some(
            "the endpoint asked for a bearer token (OAuth), not SigV4: configure the server for IAM (SigV4) authentication".into(),
        ),
        (403, _) => Some(format!(
            "AWS refused the request: check that the credentials are valid and allowed to call this resource (e.g. bedrock-agentcore:InvokeAgentRuntime), and that --service/--region match the endpoint ({scope})"
        )),
        (429, _) | (503, _) => Some("the server is busy; the request was retried with --retries and still refused".into()),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_side_effect_free_methods_retry_on_502() {
        assert!(side_effect_free("tools/list"));
        assert!(side_effect_free("resources/templates/list"));
        assert!(side_effect_free("initialize"));
        assert!(!side_effect_free("tools/call"));
        assert!(!side_effect_free("resources/subscribe"));
    }
}
