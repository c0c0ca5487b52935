//! From stdin to exchanges: each client message read, checked, and started.
//!
//! Owns: reading stdin line by line, bounded by `--max-line-size`. It answers a
//! line that is too long (with the id its first bytes carry), not JSON, or not
//! JSON-RPC (`-32700`, `-32600`; a key twice in one object counts as not
//! JSON-RPC). It applies the client-side rules to each message and each batch
//! member alike: the handshake kept for a replay, cancellations, `--metadata`,
//! a request id already in flight refused. It registers requests as waiting,
//! picks each message's AWS profile (`profiles.rs`) and hands it to admission
//! (`admission.rs`).
//! Refuses: waiting on stdin's thread for any answer, and holding a message
//! behind anything but the handshake (an exchange waits for it on its own
//! thread, at most [`ORDER_WAIT`] per step: see `conversation.rs`'s `Order`).

use std::collections::HashSet;
use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::admission::{self, Class};
use super::batch::{self, Member};
use super::conversation::{Exchange, Gate, HandshakeStep};
use super::exchange;
use super::failure;
use super::jsonrpc::{self, Classified, Id, Invalid, Kind};
use super::outgoing::{Outgoing, Part, Requests};
use super::policy;
use super::profiles::{self, Route};
use super::revision::Revision;
use super::stdio::{Line, LineReader};

/// The longest an exchange waits for each step of the handshake before it goes
/// ahead anyway.
pub(crate) const ORDER_WAIT: Duration = Duration::from_secs(10);

/// Reads and dispatches client messages until stdin ends (`Ok`) or reading it
/// fails.
pub(crate) fn read_loop<R: BufRead>(ctx: &Exchange, input: R) -> std::io::Result<()> {
    let mut lines = LineReader::new(input, ctx.shared.process.options.limits.line);
    loop {
        let bytes = match lines.next_line()? {
            None => return Ok(()),
            Some(Line::Message(bytes)) => bytes,
            Some(Line::TooLong(max)) => {
                let answer = too_long(ctx, lines.too_long_prefix(), lines.too_long_tail(), max);
                if let Some(answer) = answer {
                    // The client's answer to a server request: the server
                    // is told, so it does not wait for it.
                    dispatch(ctx, answer.0, answer.1);
                }
                continue;
            }
        };
        deliver(ctx, bytes);
    }
}

/// Checks and dispatches one client message: a JSON-RPC message or a batch.
pub(crate) fn deliver(ctx: &Exchange, bytes: Vec<u8>) {
    if batch::is_batch(&bytes) {
        dispatch_batch(ctx, &bytes);
        return;
    }
    match jsonrpc::classify(&bytes) {
        Ok(message) => dispatch(ctx, bytes, message),
        Err(e) => refuse_invalid(ctx, e),
    }
}

/// Answers a line that is not JSON (`-32700`) or not JSON-RPC (`-32600`).
/// Answers a request whose id is already used by a request in flight:
/// `-32600` "Invalid Request: id … is already used by a request in flight"
/// (JSON-RPC 2.0, section 5.1; MCP requires ids unique within a session).
fn refuse_id_in_flight(ctx: &Exchange, id: &Id) {
    ctx.out.send(jsonrpc::error_response(
        Some(id),
        jsonrpc::INVALID_REQUEST,
        &format!("Invalid Request: id {id} is already used by a request in flight"),
        None,
    ));
}

fn refuse_invalid(ctx: &Exchange, e: Invalid) {
    let (id, code, message) = match e {
        Invalid::Parse(why) => (None, jsonrpc::PARSE_ERROR, format!("Parse error: {why}")),
        Invalid::Request(why, id) => (
            id,
            jsonrpc::INVALID_REQUEST,
            format!("Invalid Request: {why}"),
        ),
    };
    ctx.out
        .send(jsonrpc::error_response(id.as_ref(), code, &message, None));
}

/// A line longer than `--max-line-size`: a request is answered with the id
/// its first or last bytes carry (`id: null` when they carry none). A
/// response (the client's answer to a server request) cannot be sent: the
/// message that tells the server so is returned, to go out as the client's
/// answer would have.
fn too_long(
    ctx: &Exchange,
    prefix: &[u8],
    tail: &[u8],
    max: usize,
) -> Option<(Vec<u8>, Classified)> {
    let head = jsonrpc::head(prefix);
    let id = head.id.clone().or_else(|| jsonrpc::tail_id(tail));
    if head.response && head.method.is_none() {
        let Some(id) = id else {
            log::warn!(
                "dropping the client's answer to a server request: it is larger than {max} bytes (--max-line-size) and its id could not be read"
            );
            return None;
        };
        log::warn!(
            "the client's answer to server request {id} is larger than {max} bytes (--max-line-size); telling the server"
        );
        let body = jsonrpc::error_response(
            Some(&id),
            jsonrpc::INTERNAL_ERROR,
            &format!(
                "the client's answer is larger than {max} bytes (--max-line-size of mcp-sigv4), so it was not sent"
            ),
            None,
        );
        let message = jsonrpc::classify(body.as_bytes()).ok()?;
        return Some((body.into_bytes(), message));
    }
    ctx.out.send(jsonrpc::error_response(
        id.as_ref(),
        jsonrpc::INVALID_REQUEST,
        &format!(
            "Invalid Request: the message is larger than {max} bytes (--max-line-size); it was not sent"
        ),
        None,
    ));
    None
}

/// What the client-side rules make of one message (or batch member).
enum Verdict {
    /// Send it, as `text` now reads.
    Send(String),
    /// Send nothing, and answer nothing: the rule handled it.
    Drop,
}

/// The rules every client message meets, single or in a batch: the
/// handshake kept for a replay, cancellations, `--metadata`.
///
/// The client's `initialize` and `notifications/initialized` are kept for a
/// replay; a cancellation of a 2026-07-28 request closes its stream instead of
/// being sent (one for a request no longer in flight is dropped under that
/// revision); a cancellation of `initialize` is never sent (MCP forbids it).
fn client_rules(ctx: &Exchange, kind: &Kind, text: String, value: Option<&Value>) -> Verdict {
    let shared = &ctx.shared;
    match kind {
        Kind::Request { method, .. } if method == "initialize" => {
            shared.handshake.keep_initialize(text.as_bytes());
        }
        Kind::Notification { method } if method == "notifications/initialized" => {
            shared.handshake.keep_initialized(text.as_bytes());
        }
        Kind::Notification { method } if method == "notifications/cancelled" => {
            let id = value
                .and_then(|v| v.pointer("/params/requestId"))
                .filter(|i| i.is_string() || i.is_number())
                .map(|i| Id::from_json(&i.to_string()));
            if let Some(id) = id {
                if is_initialize(ctx, &id) {
                    // "The `initialize` request MUST NOT be cancelled by
                    // clients": <https://modelcontextprotocol.io/specification/2025-06-18/basic/utilities/cancellation>.
                    log::warn!("not sending the client's cancellation of initialize ({id})");
                    return Verdict::Drop;
                }
                match shared.pending.cancel(&id) {
                    Some(true) => {
                        // 2026-07-28 over HTTP: closing the request's stream is
                        // the cancellation; the notification itself is not sent.
                        log::debug!("cancelling request {id}: closing its stream");
                        return Verdict::Drop;
                    }
                    None if shared.closes_to_cancel.load(Ordering::Acquire) => {
                        // Its answer came first; 2026-07-28 servers expect no
                        // notifications/cancelled over HTTP, so there is
                        // nothing to do.
                        log::debug!("cancel for request {id}, which is no longer in flight");
                        return Verdict::Drop;
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    if let Kind::Request { .. } = kind {
        // --metadata: added to every request's params._meta.
        if let Some(new) = policy::add_metadata(&text, &shared.process.options.metadata) {
            return Verdict::Send(new);
        }
    }
    Verdict::Send(text)
}

/// True when `id` is the client's `initialize`: in flight, or the one kept for
/// a replay.
fn is_initialize(ctx: &Exchange, id: &Id) -> bool {
    let shared = &ctx.shared;
    shared.pending.method(id).as_deref() == Some("initialize")
        || shared.handshake.initialize().is_some_and(|body| {
            jsonrpc::pointer(&body, "/id")
                .filter(|i| i.is_string() || i.is_number())
                .is_some_and(|i| Id::from_json(&i.to_string()) == *id)
        })
}

/// Registers the message's requests, applies the local rules, and starts its
/// exchange (now, or when a slot frees).
fn dispatch(ctx: &Exchange, bytes: Vec<u8>, message: Classified) {
    let shared = &ctx.shared;
    let kind = message.items[0].clone();
    let mut value: Option<Value> = serde_json::from_slice(&bytes).ok();
    let method = kind.method().map(str::to_owned);
    let revision = value
        .as_ref()
        .and_then(Revision::from_envelope)
        .unwrap_or_else(|| Revision::negotiated(ctx.up.session().protocol_version().as_deref()));
    if let Kind::Request { method: m, .. } = &kind {
        if m == "initialize" {
            shared.closes_to_cancel.store(false, Ordering::Release);
        } else if revision.cancels_by_closing_stream() {
            shared.closes_to_cancel.store(true, Ordering::Release);
        }
    }
    let text = String::from_utf8(bytes).unwrap_or_default();
    let body = match client_rules(ctx, &kind, text, value.as_ref()) {
        Verdict::Drop => return,
        Verdict::Send(new) => new,
    };
    if matches!(kind, Kind::Request { .. }) && !shared.process.options.metadata.is_empty() {
        value = serde_json::from_str(&body).ok();
    }
    // Several profiles: the session it goes to, and the body it goes with.
    let (route, body) = match profiles::route(
        &shared.profiles,
        &shared.tools,
        &shared.pending,
        &kind,
        &body,
        value.as_ref(),
    ) {
        Route::Default => (0, body),
        Route::To(route, new) => {
            value = serde_json::from_str(&new).ok();
            (route, new)
        }
        Route::Refuse(failure) => {
            if let Kind::Request { id, .. } = &kind {
                ctx.answer_error(id, &failure);
            }
            return;
        }
    };

    let mut requests = Requests::default();
    for (id, method) in message.request_ids() {
        match shared
            .pending
            .register(id, method, revision.cancels_by_closing_stream())
        {
            Some(abort) => {
                requests.ids.push(id.clone());
                requests.aborts.push(abort);
            }
            None => {
                refuse_id_in_flight(ctx, id);
                return;
            }
        }
    }
    if route != 0 {
        for id in &requests.ids {
            shared.pending.set_route(id, route);
        }
    }
    let is_initialize = matches!(&kind, Kind::Request { method, .. } if method == "initialize");
    start(
        ctx,
        route,
        Outgoing {
            body: body.into_bytes(),
            method,
            revision,
            value,
            is_initialize,
            requests,
            message,
            parts: Vec::new(),
        },
    )
}

/// A batch from the client: refused whole under a revision without batches
/// (one error per request id), else each member checked on its own and the
/// members that pass sent as one batch.
///
/// Every revision after 2025-03-26 has no batches
/// (<https://modelcontextprotocol.io/specification/2025-06-18/changelog>). In
/// 2025-03-26 a member is refused on its own (an `initialize`, an id twice in
/// the batch or already in flight) while the rest go out; with several AWS
/// profiles, a member for another profile's session goes there alone.
fn dispatch_batch(ctx: &Exchange, bytes: &[u8]) {
    let shared = &ctx.shared;
    let members = match batch::split(bytes) {
        Ok(m) => m,
        Err(e) => {
            refuse_invalid(ctx, e);
            return;
        }
    };
    let revision = Revision::negotiated(ctx.up.session().protocol_version().as_deref());
    if !revision.allows_batches() {
        refuse_batch(ctx, &members, &revision);
        return;
    }
    let refuse = |id: Option<&Id>, why: &str| {
        ctx.out.send(jsonrpc::error_response(
            id,
            jsonrpc::INVALID_REQUEST,
            &format!("Invalid Request: {why}"),
            None,
        ));
    };
    let mut seen: HashSet<Id> = HashSet::new();
    let mut alone_members = Vec::new();
    let mut parts = Vec::new();
    let mut requests = Requests {
        batch: true,
        ..Requests::default()
    };
    for Member { text, kind } in members {
        let kind = match kind {
            Ok(k) => k,
            Err((why, id)) => {
                refuse(id.as_ref(), &why);
                continue;
            }
        };
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if let Kind::Request { id, method } = &kind {
            if method == "initialize" {
                refuse(Some(id), "initialize must not be part of a JSON-RPC batch");
                continue;
            }
            if value.as_ref().and_then(Revision::from_envelope).is_some() {
                refuse(
                    Some(id),
                    "a request that names its protocol revision in _meta cannot be part of a JSON-RPC batch",
                );
                continue;
            }
            if !seen.insert(id.clone()) {
                refuse(Some(id), &format!("id {id} appears twice in the batch"));
                continue;
            }
            if shared.pending.contains(id) {
                refuse_id_in_flight(ctx, id);
                continue;
            }
        }
        let text = match client_rules(ctx, &kind, text, value.as_ref()) {
            Verdict::Drop => continue,
            Verdict::Send(t) => t,
        };
        // Several profiles: a member for another profile's session goes
        // there on its own; its answer reaches the client on a line of its
        // own, as a refused member's does.
        let (text, value) = match profiles::route(
            &shared.profiles,
            &shared.tools,
            &shared.pending,
            &kind,
            &text,
            value.as_ref(),
        ) {
            Route::Default => (text, value),
            Route::To(0, new) => {
                let value = serde_json::from_str(&new).ok();
                (new, value)
            }
            Route::To(route, new) => {
                if let Some(alone) = member_alone(ctx, kind, new, &revision, route) {
                    alone_members.push((route, alone));
                }
                continue;
            }
            Route::Refuse(failure) => {
                if let Kind::Request { id, .. } = &kind {
                    ctx.answer_error(id, &failure);
                }
                continue;
            }
        };
        if let Kind::Request { id, method } = &kind {
            let Some(abort) = shared.pending.register(id, method, false) else {
                refuse_id_in_flight(ctx, id);
                continue;
            };
            requests.ids.push(id.clone());
            requests.aborts.push(abort);
        }
        let value = if shared.process.options.metadata.is_empty() {
            value
        } else {
            serde_json::from_str(&text).ok()
        };
        parts.push(Part { text, kind, value });
    }
    if !parts.is_empty() {
        let message = Classified {
            items: parts.iter().map(|p| p.kind.clone()).collect(),
            batch: true,
        };
        start(
            ctx,
            0,
            Outgoing {
                body: batch::join(parts.iter().map(|p| p.text.as_str())).into_bytes(),
                method: None,
                revision,
                value: None,
                is_initialize: false,
                requests,
                message,
                parts,
            },
        );
    }
    for (route, alone) in alone_members {
        start(ctx, route, alone);
    }
}

/// A batch member for another profile's session (`text`, as it now reads),
/// registered and ready to go there as a single message; `None` when its id
/// is already in flight (refused).
fn member_alone(
    ctx: &Exchange,
    kind: Kind,
    text: String,
    revision: &Revision,
    route: usize,
) -> Option<Outgoing> {
    let pending = &ctx.shared.pending;
    let mut requests = Requests::default();
    if let Kind::Request { id, method } = &kind {
        let Some(abort) = pending.register(id, method, false) else {
            refuse_id_in_flight(ctx, id);
            return None;
        };
        pending.set_route(id, route);
        requests.ids.push(id.clone());
        requests.aborts.push(abort);
    }
    Some(Outgoing {
        value: serde_json::from_str(&text).ok(),
        body: text.into_bytes(),
        method: kind.method().map(str::to_owned),
        revision: revision.clone(),
        is_initialize: false,
        requests,
        message: Classified {
            items: vec![kind],
            batch: false,
        },
        parts: Vec::new(),
    })
}

/// A batch under a revision without batches: every request in it (and every
/// member whose id could be read) gets `-32600`; one with no id at all gets one
/// error with `id: null`. Nothing is sent.
fn refuse_batch(ctx: &Exchange, members: &[Member], revision: &Revision) {
    let failure = failure::batch_refused(revision.name());
    let mut answered = false;
    for m in members {
        if let Some(id) = m.answer_id() {
            answered = true;
            ctx.answer_error(id, &failure);
        } else if let Ok(Kind::Response { id: Some(id) }) = &m.kind {
            log::warn!(
                "a batch carried the client's answer to server request {id}; it was not sent"
            );
        }
    }
    if !answered {
        ctx.out.send(jsonrpc::error_response(
            None,
            failure.code,
            &failure.message,
            None,
        ));
    }
}

/// Hands `outgoing` to admission (`admission.rs`): its exchange runs on a
/// thread of its own, now or when a slot frees, once the handshake it depends
/// on went out (its [`Turn`](super::conversation::Turn)).
fn start(ctx: &Exchange, route: usize, mut outgoing: Outgoing) {
    let shared = &ctx.shared;
    let step = if outgoing.is_initialize {
        HandshakeStep::Initialize
    } else {
        match outgoing.method.as_deref() {
            Some("notifications/initialized") => HandshakeStep::Initialized,
            Some("ping") => HandshakeStep::Ping,
            _ if outgoing.requests.any() => HandshakeStep::Request,
            _ => HandshakeStep::Other,
        }
    };
    let class = match step {
        HandshakeStep::Initialize | HandshakeStep::Request => Class::Request,
        HandshakeStep::Initialized | HandshakeStep::Ping | HandshakeStep::Other => Class::Urgent,
    };
    // A single message without an envelope goes by the negotiated revision,
    // which the initialize it may wait for can still change.
    let negotiated = !outgoing.message.batch
        && outgoing
            .value
            .as_ref()
            .and_then(Revision::from_envelope)
            .is_none();
    let size = outgoing.body.len();
    if class == Class::Request && !shared.in_flight.has_room(size) {
        // The reader never waits for a request: what comes after it on stdin
        // may be the answer a running call waits for.
        let flight = &shared.in_flight;
        let failure = failure::queue_full(flight.cap(), flight.queue_max(), admission::QUEUE_BYTES);
        log::warn!("{}", failure.message);
        ctx.fail_requests(&outgoing.requests, &failure);
        return;
    }
    let turn = shared.order.turn(step);
    let ctx = ctx.clone_ctx();
    let job = move || {
        // Another profile's session is made on the exchange's thread.
        let ctx = if route == 0 { ctx } else { ctx.routed(route) };
        for gate in &turn.wait_for {
            if !gate.wait(ORDER_WAIT) {
                log::debug!(
                    "went ahead after waiting {} s for the handshake",
                    ORDER_WAIT.as_secs()
                );
            }
        }
        if negotiated {
            // What the client negotiated: the default session's.
            outgoing.revision =
                Revision::negotiated(ctx.shared.upstream.session().protocol_version().as_deref());
        }
        let head = if turn.opens_at_end {
            Gate::default()
        } else {
            turn.opens.clone()
        };
        exchange::run(&ctx, outgoing, &head);
        turn.opens.open();
    };
    shared.in_flight.start(class, size, Box::new(job));
}
