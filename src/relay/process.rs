//! What every client of the process shares: the MCP endpoint and its
//! connections, the default profile's signer, the timeouts and the options.
//!
//! Owns: [`Process`], made once, and saying whether the process is ready to
//! relay ([`Process::ready`]). Each client's conversation on it is opened and
//! ended in `clients.rs`.
//! Refuses: holding any one client's state (that is `conversation.rs`'s).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::policy::ToolCache;
use super::upstream::Remote;
use crate::auth::RequestAuth;
use crate::config::{Endpoint, RelayOptions, Timeouts};
use crate::sync::Locked;

/// How long a readiness answer is reused: 10 s (orchestrators probe every
/// few seconds; the endpoint is asked at most this often).
const READY_FOR: Duration = Duration::from_secs(10);

/// The longest the endpoint is waited for when readiness is asked: 5 s.
const READY_PROBE: Duration = Duration::from_secs(5);

/// What every client of the process shares.
pub struct Process {
    pub(super) remote: Arc<Remote>,
    /// The default profile's signer, shared by every client's session (its
    /// credentials cache and SigV4A key are made once).
    pub(super) auth: Arc<RequestAuth>,
    /// With several profiles, the others' signers in `--profile`'s order,
    /// made once (`RequestAuth::for_profile`) and shared by every client.
    pub(super) profile_signers: Vec<Arc<RequestAuth>>,
    pub(super) timeouts: Timeouts,
    pub(super) options: RelayOptions,
    /// What the conversations of clients without sessions (2026-07-28, one
    /// per message) share: the tools the server listed, and one AgentCore
    /// runtime-session id, as one stdio client's messages would.
    pub(super) sessionless_tools: Arc<ToolCache>,
    pub(super) sessionless_runtime_session: Option<String>,
    /// The last readiness answer and when it was found.
    ready: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl Process {
    /// The process's part of the relay for `endpoint`, signing with `auth`.
    /// Nothing is connected or resolved until a client's first message.
    pub fn new(
        endpoint: Endpoint,
        timeouts: Timeouts,
        options: RelayOptions,
        auth: RequestAuth,
    ) -> Arc<Process> {
        let sessionless_runtime_session = (options.runtime_session
            != Some(crate::config::RuntimeSession::Identity))
        .then(crate::random::random_id);
        let profile_signers = options
            .profiles
            .iter()
            .skip(1)
            .map(|name| Arc::new(auth.for_profile(name)))
            .collect();
        Arc::new(Process {
            remote: Arc::new(Remote::new(endpoint, &timeouts, &options)),
            profile_signers,
            sessionless_tools: Arc::default(),
            sessionless_runtime_session,
            auth: Arc::new(auth),
            timeouts,
            options,
            ready: Mutex::new(None),
        })
    }

    /// Whether the process can relay now: the default profile's credentials
    /// resolve and the endpoint answers HTTP (any status). Found at most once
    /// every 10 s; each check waits at most 5 s for the endpoint.
    ///
    /// # Errors
    /// What is not ready, in words for an operator (no secret).
    pub(crate) fn ready(&self) -> Result<(), String> {
        let mut last = self.ready.locked();
        if let Some((at, answer)) = last.as_ref()
            && at.elapsed() < READY_FOR
        {
            return answer.clone();
        }
        let answer = self
            .auth
            .provider()
            .credentials()
            .map(drop)
            .map_err(|e| format!("no AWS credentials: {e}"))
            .and_then(|()| self.remote.probe(READY_PROBE).map(drop));
        *last = Some((Instant::now(), answer.clone()));
        answer
    }

    /// Closes every connection to the endpoint (at exit).
    pub(crate) fn shutdown(&self) {
        self.remote.shutdown();
    }
}
