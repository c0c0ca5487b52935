//! Clients of the process: opening one client's conversation, handing it the
//! client's messages, and ending it.
//!
//! Owns: [`Process::open`] (the stdio relay opens one conversation; `serve`
//! one per MCP session), [`Conversation::post`] (one client message in, its
//! answers out to a sink) and [`Conversation::end`] (what the client's DELETE
//! or its going idle does upstream).
//! Refuses: reading or writing any transport: the caller owns stdin and
//! stdout, or the HTTP connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conversation::{Conversation, Exchange};
use super::dispatch;
use super::jsonrpc;
use super::process::Process;
use super::sink::{self, Output};
use crate::config::RuntimeSession;

impl Process {
    /// A new client's conversation. Its AgentCore runtime-session id is a new
    /// random one, except with `--runtime-session identity` (the caller's,
    /// derived on the first request that needs it). Messages the server sends
    /// outside any request go to `unsolicited`.
    pub(crate) fn open(self: &Arc<Self>, unsolicited: Output) -> Arc<Conversation> {
        let runtime_session = (self.options.runtime_session != Some(RuntimeSession::Identity))
            .then(crate::random::random_id);
        Arc::new(Conversation::new(
            self,
            runtime_session,
            Arc::default(),
            unsolicited,
        ))
    }

    /// The conversation of one message of a client without a session
    /// (2026-07-28): what the server's tools are and the AgentCore
    /// runtime-session id are the process's, shared with every such message,
    /// so a call knows the `x-mcp-header` arguments another message listed,
    /// and all go to one runtime session.
    pub(crate) fn open_sessionless(self: &Arc<Self>, unsolicited: Output) -> Arc<Conversation> {
        Arc::new(Conversation::new(
            self,
            self.sessionless_runtime_session.clone(),
            Arc::clone(&self.sessionless_tools),
            unsolicited,
        ))
    }
}

impl Conversation {
    /// Hands one message from the client to the relay: a JSON-RPC message or
    /// a batch, as the stdio relay handles one line. Its answers — the
    /// responses, what the server sends on their streams, the relay's own
    /// errors — go to `answers`, whose reader sees the end once nothing more
    /// will come.
    pub(crate) fn post(self: &Arc<Self>, body: Vec<u8>, answers: Output) {
        let ctx = Exchange::new(self, answers);
        dispatch::deliver(&ctx, body);
    }

    /// Ends the conversation as its client asked (or left it idle): each
    /// request in flight is cancelled upstream (`notifications/cancelled`),
    /// then every upstream session is ended with its signed DELETE, within
    /// `limit` in all.
    pub(crate) fn end(self: &Arc<Self>, limit: Duration) {
        let end = Instant::now() + limit;
        let (nowhere, closed) = sink::channel(0);
        drop(closed);
        for id in self.pending.waiting() {
            let cancel = jsonrpc::cancelled_notification(&id, "the client ended its MCP session");
            self.post(cancel.into_bytes(), nowhere.clone());
        }
        drop(nowhere);
        // The cancellations go out before the DELETE that ends the session.
        self.in_flight
            .wait_idle((limit / 2).min(Duration::from_secs(1)));
        self.begin_shutdown();
        self.close_unsolicited();
        self.in_flight.close();
        self.pending.abort_all();
        super::delete_sessions(self, end.saturating_duration_since(Instant::now()));
    }
}
