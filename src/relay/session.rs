//! Per-connection protocol state: the `Mcp-Session-Id` and the negotiated
//! protocol version.
//!
//! Owns: capturing the session id from any response that carries one (the MCP
//! TypeScript SDK's rule, which AgentCore relies on), the `MCP-Protocol-Version`
//! value from the initialize result, and handing both to every later request.
//! Refuses: logging the session id (it is a bearer-like secret, 2025-11-25
//! "handle securely"); it lives in a [`Secret`].

use std::sync::RwLock;

use crate::secret::Secret;
use crate::sync::RwLocked;

/// The longest session id accepted (AgentCore's limit), bytes.
pub(crate) const MAX_SESSION_ID: usize = 1024;

/// The session state shared by all exchanges.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// The id and its generation, changed together so that no request ever
    /// pairs a generation with another session's id.
    current: RwLock<Current>,
    protocol_version: RwLock<Option<String>>,
}

#[derive(Debug, Default)]
struct Current {
    id: Option<Secret>,
    generation: u64,
}

/// True for a value the spec allows as a session id: 1–1024 visible ASCII
/// characters (0x21–0x7E). Logs a warning for any other.
pub(crate) fn valid_id(value: &str) -> bool {
    let valid = !value.is_empty()
        && value.len() <= MAX_SESSION_ID
        && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !valid {
        log::warn!(
            "ignoring an Mcp-Session-Id of {} bytes that is not 1-{MAX_SESSION_ID} visible ASCII characters",
            value.len()
        );
    }
    valid
}

impl Session {
    /// An empty session (no id, no version yet).
    pub(crate) fn new() -> Self {
        Session::default()
    }

    /// The current session id.
    pub(crate) fn id(&self) -> Option<Secret> {
        self.read().id.clone()
    }

    /// The current session id and its generation, read together.
    pub(crate) fn current(&self) -> (Option<Secret>, u64) {
        let c = self.read();
        (c.id.clone(), c.generation)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read_locked()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.current.write_locked()
    }

    /// Records a session id the server sent in answer to a request made in
    /// session `generation`. Ignored when another session has replaced that
    /// one since (a late answer from the old session must not bring its id
    /// back), and when the value is not 1–1024 visible ASCII characters.
    /// Returns true when the stored id changed.
    pub(crate) fn set_id(&self, value: &str, generation: u64) -> bool {
        if !valid_id(value) {
            return false;
        }
        let mut c = self.write();
        if c.generation != generation || c.id.as_ref().is_some_and(|old| old.expose() == value) {
            return false;
        }
        c.id = Some(Secret::from(value));
        true
    }

    /// Which session this is: 0 for the first, one more after each
    /// re-initialization.
    pub(crate) fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Makes a new session current: its id (None when the server sent none, or
    /// an invalid one) and the next generation, in one step. Returns the new
    /// generation.
    pub(crate) fn replace(&self, id: Option<&str>) -> u64 {
        let id = id.filter(|v| valid_id(v)).map(Secret::from);
        let mut c = self.write();
        c.id = id;
        c.generation += 1;
        c.generation
    }

    /// The negotiated protocol version.
    pub(crate) fn protocol_version(&self) -> Option<String> {
        self.protocol_version.read_locked().clone()
    }

    /// Records the protocol version from an initialize result.
    pub(crate) fn set_protocol_version(&self, version: &str) {
        // It goes in a header (`MCP-Protocol-Version`): a value that cannot
        // is not kept, and requests go without it.
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_graphic()) {
            log::warn!(
                "the server negotiated a protocol version that is not a header-safe name ({} characters); requests go without MCP-Protocol-Version",
                version.chars().count()
            );
            return;
        }
        *self.protocol_version.write_locked() = Some(version.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_must_be_visible_ascii() {
        let s = Session::new();
        assert!(!s.set_id("has space", 0));
        assert!(!s.set_id("", 0));
        assert!(!s.set_id(&"x".repeat(1025), 0));
        assert!(s.id().is_none());
        assert!(s.set_id("abc-123", 0));
        assert!(!s.set_id("abc-123", 0));
        assert_eq!(s.id().unwrap().expose(), "abc-123");
        assert_eq!(format!("{:?}", s.id()), "Some(<redacted>)");
    }

    #[test]
    fn a_new_session_replaces_id_and_generation_together() {
        let s = Session::new();
        assert!(s.set_id("old", 0));
        assert_eq!(s.replace(Some("new")), 1);
        let (id, generation) = s.current();
        assert_eq!((id.unwrap().expose(), generation), ("new", 1));
        // A late answer from the old session does not bring its id back.
        assert!(!s.set_id("old", 0));
        assert_eq!(s.id().unwrap().expose(), "new");
        // A server that sends no id (or an invalid one) on the new session.
        assert_eq!(s.replace(Some("bad id")), 2);
        assert!(s.id().is_none());
        assert!(s.set_id("later", 2));
    }
}
