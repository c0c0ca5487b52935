//! The client sessions `serve` holds: each an `Mcp-Session-Id`, its
//! conversation with the relay, the GET stream's receiver, and when it was
//! last used.
//!
//! Owns: minting session ids (128 bits from the operating system's CSPRNG,
//! through rustls's ring provider, as 32 hex digits: visible ASCII, as the
//! transport's "Session Management" asks), the bound on how many sessions
//! exist, and which are idle. A session in use (a POST or GET in progress)
//! is never idle.
//! Refuses: ending a conversation; whoever removes a session ends it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::backend::{Backend, Conversation};
use crate::relay::sink::{self, Receiver};
use crate::sync::Locked;

/// One client session.
pub struct Session {
    /// Its conversation with the relay.
    pub conversation: Box<dyn Conversation>,
    /// What the GET stream carries; taken by the GET in progress.
    unsolicited: Mutex<Option<Receiver>>,
    /// Requests in progress, and when the last one ended.
    usage: Mutex<(usize, Instant)>,
    /// Removed from the table and ended (DELETE, idle, shutdown).
    ended: AtomicBool,
    /// GETs waiting for the stream another GET holds: while there are any,
    /// the holder checks its client is still there at every tick.
    waiting: AtomicUsize,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

impl Session {
    /// The GET stream's receiver, unless a GET holds it.
    pub fn take_stream(&self) -> Option<Receiver> {
        self.unsolicited.locked().take()
    }

    /// Marks the session ended: a GET stream in progress ends.
    pub fn mark_ended(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// True once ended.
    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// A GET waits for the stream while this lives.
    pub fn wait_for_stream(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(self)
    }

    /// True while a GET waits for the stream.
    pub fn stream_wanted(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// Gives the receiver back when a GET ends.
    pub fn give_back(&self, r: Receiver) {
        *self.unsolicited.locked() = Some(r);
    }
}

/// A GET waiting for the stream ([`Session::wait_for_stream`]).
#[derive(Debug)]
pub struct Waiting<'a>(&'a Session);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session in use: while it lives the session is not idle.
#[derive(Debug)]
pub struct Lease(pub Arc<Session>);

impl Lease {
    fn new(s: Arc<Session>) -> Lease {
        s.usage.locked().0 += 1;
        Lease(s)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut u = self.0.usage.locked();
        u.0 -= 1;
        u.1 = Instant::now();
    }
}

/// Every session with its id (a short list: at most `--max-sessions`).
pub struct Sessions {
    map: Mutex<Vec<(String, Arc<Session>)>>,
    max: usize,
    random: &'static dyn rustls::crypto::SecureRandom,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sessions({})", self.map.locked().len())
    }
}

/// Why no session was opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// `max` sessions exist.
    Full,
    /// The CSPRNG failed.
    Random,
}

impl Sessions {
    /// At most `max` sessions.
    pub fn new(max: usize) -> Sessions {
        Sessions {
            map: Mutex::new(Vec::new()),
            max,
            random: rustls::crypto::ring::default_provider().secure_random,
        }
    }

    /// Opens a session with `backend` (its GET stream queue bounded by
    /// `queue_bytes`): its new id, in use.
    ///
    /// # Errors
    /// [`OpenError`].
    pub fn open(
        &self,
        backend: &dyn Backend,
        queue_bytes: usize,
    ) -> Result<(String, Lease), OpenError> {
        if self.map.locked().len() >= self.max {
            return Err(OpenError::Full);
        }
        let mut bytes = [0u8; 16];
        self.random
            .fill(&mut bytes)
            .map_err(|_| OpenError::Random)?;
        let id = hex::encode(bytes);
        let (out, rx) = sink::channel(queue_bytes);
        let session = Arc::new(Session {
            conversation: backend.open(out),
            unsolicited: Mutex::new(Some(rx)),
            usage: Mutex::new((0, Instant::now())),
            ended: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
        });
        let lease = Lease::new(Arc::clone(&session));
        let mut map = self.map.locked();
        if map.len() >= self.max {
            return Err(OpenError::Full);
        }
        map.push((id.clone(), session));
        Ok((id, lease))
    }

    /// The session `id`, in use.
    pub fn get(&self, id: &str) -> Option<Lease> {
        let map = self.map.locked();
        let found = map.iter().find(|(k, _)| k == id);
        found.map(|(_, s)| Lease::new(Arc::clone(s)))
    }

    /// Removes the session `id` (to be ended by the caller).
    pub fn remove(&self, id: &str) -> Option<Arc<Session>> {
        let mut map = self.map.locked();
        let at = map.iter().position(|(k, _)| k == id)?;
        Some(map.swap_remove(at).1)
    }

    /// Removes and returns the sessions unused for `idle` or longer.
    pub fn take_idle(&self, idle: Duration) -> Vec<Arc<Session>> {
        let mut out = Vec::new();
        self.map.locked().retain(|(_, s)| {
            let (active, last) = *s.usage.locked();
            let keep = active > 0 || last.elapsed() < idle;
            if !keep {
                out.push(Arc::clone(s));
            }
            keep
        });
        out
    }

    /// Removes and returns every session.
    pub fn take_all(&self) -> Vec<Arc<Session>> {
        self.map.locked().drain(..).map(|(_, s)| s).collect()
    }
}

/// The first 4 characters of a session id and `…`: enough to tell sessions
/// apart in a log, too few to use one.
pub fn short(id: &str) -> String {
    let head: String = id.chars().take(4).collect();
    format!("{head}…")
}
