//! What `serve` needs from the relay: a [`Backend`] that opens one
//! [`Conversation`] per client session, and says whether it is ready.
//!
//! Owns: the contract between the HTTP side (`serve`) and the relay side.
//! Refuses: anything about HTTP; the relay sees JSON-RPC bodies only (never
//! the client's headers, so its `Authorization` never goes upstream).

use std::sync::Arc;
use std::time::Duration;

use crate::relay::sink::Output;

/// The process part of the relay: endpoint, credentials, signer, limits.
pub(crate) trait Backend: Send + Sync + 'static {
    /// One client session's conversation. `unsolicited` receives the messages
    /// the server sends outside any POST (what the GET stream carries); the
    /// upstream session is made on its first message.
    fn open(&self, unsolicited: Output) -> Box<dyn Conversation>;

    /// The conversation of one message from a client without a session
    /// (2026-07-28): such conversations share what the server listed of its
    /// tools and, with AgentCore, one runtime session.
    fn open_sessionless(&self, unsolicited: Output) -> Box<dyn Conversation> {
        self.open(unsolicited)
    }

    /// For `/readyz`: `Ok` when credentials resolve and the upstream is
    /// reachable; `Err(reason)` otherwise (no secret in it).
    fn ready(&self) -> Result<(), String>;
}

/// One client session, relayed in its own upstream session.
pub(crate) trait Conversation: Send + Sync {
    /// One POST body (one JSON-RPC message or a batch, already checked to be
    /// JSON). Every message that answers it (its responses, the requests and
    /// notifications the server sends on that request's stream, the relay's
    /// own JSON-RPC errors) is sent to `answers`; the receiving side reports
    /// the end when every clone of `answers` is dropped.
    fn post(&self, body: Vec<u8>, answers: Output);

    /// Ends the conversation: requests in flight cancelled upstream
    /// (`notifications/cancelled`), then the upstream session's DELETE,
    /// all within `limit`.
    fn end(&self, limit: Duration);
}

/// The relay as the backend: each session one of the process's
/// conversations.
#[derive(Debug)]
pub(crate) struct Relay(pub Arc<crate::relay::Process>);

impl Backend for Relay {
    fn open(&self, unsolicited: Output) -> Box<dyn Conversation> {
        Box::new(self.0.open(unsolicited))
    }

    fn open_sessionless(&self, unsolicited: Output) -> Box<dyn Conversation> {
        Box::new(self.0.open_sessionless(unsolicited))
    }

    fn ready(&self) -> Result<(), String> {
        self.0.ready()
    }
}

impl Conversation for Arc<crate::relay::Conversation> {
    fn post(&self, body: Vec<u8>, answers: Output) {
        crate::relay::Conversation::post(self, body, answers);
    }

    fn end(&self, limit: Duration) {
        crate::relay::Conversation::end(self, limit);
    }
}
