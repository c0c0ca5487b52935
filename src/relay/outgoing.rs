//! A client message, ready to send.
//!
//! Owns: what an exchange knows of one message from stdin — its bytes after the
//! local rules, what it is (JSON-RPC kinds, method, the revision it is sent
//! under, the parsed body of a single message, the members of a batch), the
//! requests in it with their abort flags ([`Requests`]) — and the questions
//! asked of it: a tool call (or a batch with one), a `subscriptions/listen`,
//! an `initialize`; and taking members out of a batch. Pure.
//! Refuses: deciding anything about the answer.

use std::sync::Arc;

use serde_json::Value;

use super::batch;
use super::jsonrpc::{Classified, Id, Kind};
use super::pending::{Abort, Pending};
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
    /// The members of a batch (none for a single message), in order.
    pub(super) parts: Vec<Part>,
}

/// One member of a batch, ready to send.
#[derive(Debug)]
pub(crate) struct Part {
    /// Its bytes (the client's, unless a rule rewrote them).
    pub(super) text: String,
    pub(super) kind: Kind,
    /// Its parsed text.
    pub(super) value: Option<Value>,
}

impl Part {
    /// The `params` member of its body.
    pub(super) fn param(&self, pointer: &str) -> Option<&Value> {
        self.value.as_ref()?.pointer("/params")?.pointer(pointer)
    }
}

impl Outgoing {
    /// True for a `tools/call`.
    pub(super) fn is_tool_call(&self) -> bool {
        self.method.as_deref() == Some("tools/call")
    }

    /// True for a tool call, or a batch with one: it waits as long as a tool
    /// call may (`--tool-timeout` between messages).
    pub(super) fn has_tool_call(&self) -> bool {
        self.is_tool_call()
            || self
                .parts
                .iter()
                .any(|p| p.kind.method() == Some("tools/call"))
    }

    /// Takes the batch members at `drop` (indexes into `parts`) out of the
    /// message: its body, kinds and requests. Their requests must already be
    /// answered.
    pub(super) fn remove_parts(&mut self, drop: &[usize]) {
        let mut index = 0;
        self.parts.retain(|_| {
            index += 1;
            !drop.contains(&(index - 1))
        });
        let kept: Vec<&Id> = self
            .parts
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Request { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        let r = &mut self.requests;
        let mut i = 0;
        while i < r.ids.len() {
            if kept.contains(&&r.ids[i]) {
                i += 1;
            } else {
                r.ids.remove(i);
                if i < r.aborts.len() {
                    r.aborts.remove(i);
                }
            }
        }
        self.message.items = self.parts.iter().map(|p| p.kind.clone()).collect();
        self.body = batch::join(self.parts.iter().map(|p| p.text.as_str())).into_bytes();
    }

    /// True for a 2026-07-28 `subscriptions/listen` (a stream that stays open).
    pub(super) fn is_listen(&self) -> bool {
        self.method.as_deref() == Some("subscriptions/listen")
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
    /// The message was a batch: an array answer goes to the client as one.
    pub(super) batch: bool,
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

    /// The relay is about to answer `id` of this message with an error: true
    /// when it should (`Pending::fail_own`: this message's request still
    /// waits, not cancelled, and not one the client sent later with the same
    /// id).
    pub(super) fn fail(&self, pending: &Pending, id: &Id) -> bool {
        match self.ids.iter().position(|i| i == id) {
            Some(i) if i < self.aborts.len() => pending.fail_own(id, &self.aborts[i]),
            _ => false,
        }
    }
}
