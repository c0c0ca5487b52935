//! Per-connection protocol state: the `Mcp-Session-Id` and the negotiated
//! protocol version.
//!
//! Owns: capturing the session id from any response that carries one (the MCP
//! TypeScript SDK's rule, which AgentCore relies on), the `MCP-Protocol-Version`
//! value from the initialize result, and handing both to every later request.
//! Refuses: logging the session id (it is a bearer-like secret, 2025-11-25
//! "handle securely"); it lives in a [`Secret`].

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::secret::Secret;

/// The longest session id accepted (AgentCore's limit), bytes.
pub const MAX_SESSION_ID: usize = 1024;

/// The session state shared by all exchanges.
#[derive(Debug, Default)]
pub struct Session {
    id: RwLock<Option<Secret>>,
    protocol_version: RwLock<Option<String>>,
    generation: AtomicU64,
}

impl Session {
    /// An empty session (no id, no version yet).
    pub fn new() -> Self {
        Session::default()
    }

    /// The current session id.
    pub fn id(&self) -> Option<Secret> {
        self.id.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records a session id the server sent. Values that are not 1–1024 visible
    /// ASCII characters (0x21–0x7E, as the spec requires) are refused.
    /// Returns true when the stored id changed.
    pub fn set_id(&self, value: &str) -> bool {
        let valid = !value.is_empty()
            && value.len() <= MAX_SESSION_ID
            && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if !valid {
            log::warn!(
                "ignoring an Mcp-Session-Id of {} bytes that is not 1-{MAX_SESSION_ID} visible ASCII characters",
                value.len()
            );
            return false;
        }
        let mut id = self.id.write().unwrap_or_else(|p| p.into_inner());
        if id.as_ref().is_some_and(|old| old.expose() == value) {
            return false;
        }
        *id = Some(Secret::from(value));
        true
    }

    /// Which session this is: 0 for the first, one more after each
    /// re-initialization.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Records that a new session replaced the old one.
    pub fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Forgets the session id (after the server ended the session).
    pub fn clear_id(&self) {
        *self.id.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> Option<String> {
        self.protocol_version
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records the protocol version from an initialize result.
    pub fn set_protocol_version(&self, version: &str) {
        *self
            .protocol_version
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(version.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_must_be_visible_ascii() {
        let s = Session::new();
        assert!(!s.set_id("has space"));
        assert!(!s.set_id(""));
        assert!(!s.set_id(&"x".repeat(1025)));
        assert!(s.id().is_none());
        assert!(s.set_id("abc-123"));
        assert!(!s.set_id("abc-123"));
        assert_eq!(s.id().unwrap().expose(), "abc-123");
        assert_eq!(format!("{:?}", s.id()), "Some(<redacted>)");
    }
}
