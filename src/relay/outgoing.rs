//! A client message, ready to send.
//!
//! Owns: what an exchange knows of one message from stdin — its bytes after the
//! local rules, what it is (JSON-RPC kinds, method, the revision it is sent
//! under, the parsed body of a single message), the requests in it with their
//! abort flags ([`Requests`]) — and the questions asked of it: a tool call, a
//! `subscriptions/listen`, an `initialize`, one that needs a connection of its
//! own. Pure.
//! Refuses: deciding anything about the answer.

use std::sync::Arc;

use serde_json::Value;

use super::jsonrpc::{Classified, Id};
use super::pending::Abort;
use super::revision::Revision;

/// A client message, ready to send.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The bytes to POST (the client's, unless a rule rewrote them).
    pub(super) body: Vec<u8>,
    pub(super) message: Classified,
    /// The single message's method.
    pub(super) method: Option<String>,
    /// The revision it is sent under.
    pub(super) revision: Revision,
    /// The parsed body (single messages only).
    pub(super) value: Option<Value>,
    pub(super) is_initialize: bool,
    /// The requests in it.
    pub(super) requests: Requests,
}

impl Outgoing {
    /// True for a `tools/call`.
    pub(super) fn is_tool_call(&self) -> bool {
        self.method.as_deref() == Some("tools/call")
    }

    /// True for a 2026-07-28 `subscriptions/listen` (a stream that stays open).
    pub(super) fn is_listen(&self) -> bool {
        self.method.as_deref() == Some("subscriptions/listen")
    }

    /// An exchange that may have to be cut off on its own gets a connection of
    /// its own: tool calls and listen streams (long), and requests whose
    /// revision cancels by closing the stream.
    pub(super) fn needs_own_connection(&self) -> bool {
        self.is_tool_call() || self.is_listen() || self.revision.cancels_by_closing_stream()
    }

    /// The `params` member of a single message's body.
    pub(super) fn param(&self, pointer: &str) -> Option<&Value> {
        self.value.as_ref()?.pointer("/params")?.pointer(pointer)
    }
}

/// The requests of one client message, each with the flag that stops its
/// exchange.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Every request id in the message, in order.
    pub(super) ids: Vec<Id>,
    /// Abort flags of the requests registered as waiting.
    pub(super) aborts: Vec<Arc<Abort>>,
}

impl Requests {
    /// True when the message has a request (something waits for an answer).
    pub(super) fn any(&self) -> bool {
        !self.ids.is_empty()
    }

    /// True when the client cancelled every request of the message (or the
    /// relay is stopping them at exit).
    pub(super) fn aborted(&self) -> bool {
        !self.aborts.is_empty() && self.aborts.iter().all(|a| a.is_set())
    }
}
