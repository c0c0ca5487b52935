//! From stdin to exchanges: each client message read, checked, and started.
//!
//! Owns: reading stdin line by line (bounded: [`MAX_MESSAGE_BYTES`]), answering
//! a line that is too long, not JSON, or not JSON-RPC (`-32600`, `-32700`);
//! the client-side rules before a message goes out — keeping the client's
//! `initialize` and `notifications/initialized` for a replay, a cancellation
//! that closes a 2026-07-28 request's stream instead of being sent (and one for
//! a request no longer in flight, dropped under that revision), `--metadata`,
//! a request id already in flight refused — registering the requests as
//! waiting, and starting one exchange thread per message. The ordering rule:
//! an `initialize`, or a message of only notifications and responses, holds
//! back the next message until its answer head arrives (at most
//! [`ORDER_WAIT`]), so the server sees `notifications/initialized` before the
//! requests after it, and every request after `initialize` carries the session
//! id.
//! Refuses: blocking a message behind a request's answer: only heads are
//! waited for, and only for the messages above.

use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::context::{Ctx, Gate, InFlight, MAX_MESSAGE_BYTES};
use super::exchange;
use super::failure::Failure;
use super::jsonrpc::{self, Classified, Id, Invalid, Kind};
use super::outgoing::{Outgoing, Requests};
use super::policy;
use super::revision::Revision;
use super::stdio::{Line, LineReader};

/// The longest the reader holds back the next message for ordering.
pub(crate) const ORDER_WAIT: Duration = Duration::from_secs(10);

/// Reads and dispatches client messages until stdin ends (`Ok`) or reading it
/// fails.
pub(crate) fn read_loop<R: BufRead>(ctx: &Ctx, input: R) -> std::io::Result<()> {
    let mut lines = LineReader::new(input, MAX_MESSAGE_BYTES);
    let mut hold: Option<Gate> = None;
    loop {
        let bytes = match lines.next_line()? {
            None => return Ok(()),
            Some(Line::Message(bytes)) => bytes,
            Some(Line::TooLong(max)) => {
                ctx.out.send(jsonrpc::error_response(
                    None,
                    jsonrpc::INVALID_REQUEST,
                    &format!("Invalid Request: message larger than {max} bytes; it was not sent"),
                    None,
                ));
                continue;
            }
        };
        let message = match jsonrpc::classify(&bytes) {
            Ok(m) => m,
            Err(Invalid::Parse(why)) => {
                ctx.out.send(jsonrpc::error_response(
                    None,
                    jsonrpc::PARSE_ERROR,
                    &format!("Parse error: {why}"),
                    None,
                ));
                continue;
            }
            Err(Invalid::Request(why, id)) => {
                ctx.out.send(jsonrpc::error_response(
                    id.as_ref(),
                    jsonrpc::INVALID_REQUEST,
                    &format!("Invalid Request: {why}"),
                    None,
                ));
                continue;
            }
        };
        if let Some(gate) = hold.take() {
            gate.wait(ORDER_WAIT);
        }
        hold = dispatch(ctx, bytes, message);
    }
}

/// Registers the message's requests, applies the local rules, and starts its
/// exchange. Returns a gate the next message must wait for, when ordering
/// matters.
fn dispatch(ctx: &Ctx, bytes: Vec<u8>, message: Classified) -> Option<Gate> {
    let shared = &ctx.shared;
    let single = (!message.batch).then(|| message.items[0].clone());
    let mut value: Option<Value> = if single.is_some() {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    let method = single.as_ref().and_then(|k| k.method().map(str::to_owned));
    let revision = value
        .as_ref()
        .and_then(Revision::from_envelope)
        .unwrap_or_else(|| Revision::negotiated(ctx.up.session().protocol_version().as_deref()));
    let mut body = bytes;
    if let Some(Kind::Request { method: m, .. }) = &single {
        if m == "initialize" {
            shared.closes_to_cancel.store(false, Ordering::Release);
        } else if revision.cancels_by_closing_stream() {
            shared.closes_to_cancel.store(true, Ordering::Release);
        }
    }

    match (&single, method.as_deref()) {
        (Some(Kind::Request { .. }), Some("initialize")) => {
            shared.handshake.keep_initialize(&body);
        }
        (Some(Kind::Notification { .. }), Some("notifications/initialized")) => {
            shared.handshake.keep_initialized(&body);
        }
        (Some(Kind::Notification { .. }), Some("notifications/cancelled")) => {
            let id = value
                .as_ref()
                .and_then(|v| v.pointer("/params/requestId"))
                .filter(|i| i.is_string() || i.is_number())
                .map(|i| Id::from_json(&i.to_string()));
            if let Some(id) = id {
                match shared.pending.cancel(&id) {
                    Some(true) => {
                        // 2026-07-28 over HTTP: closing the request's stream is
                        // the cancellation; the notification itself is not sent.
                        log::debug!("cancelling request {id}: closing its stream");
                        return None;
                    }
                    None if shared.closes_to_cancel.load(Ordering::Acquire) => {
                        // Its answer came first; 2026-07-28 servers expect no
                        // notifications/cancelled over HTTP, so there is
                        // nothing to do.
                        log::debug!("cancel for request {id}, which is no longer in flight");
                        return None;
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }

    // --metadata: added to every request's params._meta.
    if let Some(Kind::Request { .. }) = &single {
        let text = String::from_utf8_lossy(&body);
        if let Some(new) = policy::add_metadata(&text, &shared.options.metadata) {
            value = serde_json::from_str(&new).ok();
            body = new.into_bytes();
        }
    }

    let mut requests = Requests::default();
    for (id, method) in message.request_ids() {
        requests.ids.push(id.clone());
        match shared
            .pending
            .register(id, method, revision.cancels_by_closing_stream())
        {
            Some(abort) => requests.aborts.push(abort),
            None if !message.batch => {
                ctx.out.send(jsonrpc::error_response(
                    Some(id),
                    jsonrpc::INVALID_REQUEST,
                    &format!("Invalid Request: id {id} is already used by a request in flight"),
                    None,
                ));
                return None;
            }
            None => {}
        }
    }
    let is_initialize =
        matches!(&single, Some(Kind::Request { method, .. }) if method == "initialize");
    let outgoing = Outgoing {
        body,
        method,
        revision,
        value,
        is_initialize,
        requests,
        message,
    };
    let needs_order = outgoing.is_initialize || !outgoing.requests.any();
    let gate = Gate::default();
    let thread_gate = gate.clone();
    let thread_ctx = ctx.clone_ctx();
    let ids = outgoing.requests.ids.clone();
    let in_flight = InFlight::enter(&ctx.shared);
    let spawned = std::thread::Builder::new()
        .name("exchange".into())
        .spawn(move || {
            let _in_flight = in_flight;
            exchange::run(&thread_ctx, &outgoing, &thread_gate);
            thread_gate.open();
        });
    if let Err(e) = spawned {
        log::error!("cannot start a thread for a message: {e}");
        ctx.fail_all(
            &ids,
            &Failure {
                code: jsonrpc::UPSTREAM_ERROR,
                message: format!("mcp-sigv4 cannot start a thread for this request: {e}"),
                data: None,
            },
        );
        return None;
    }
    needs_order.then_some(gate)
}
