//! One client's conversation, and one exchange's view of it.
//!
//! Owns: [`Conversation`] — what one client's messages share: its upstream
//! session (and with several AWS profiles the others', `profiles.rs`), the
//! requests waiting for an answer, the tool cache, the handshake to replay,
//! the exchanges in flight, and where messages outside any request go — and
//! [`Exchange`], that plus the upstream session an exchange talks to and where
//! its answers go (`sink.rs`); the ordering [`Gate`]s and the handshake's
//! [`Order`]; answering with the relay's own errors ([`Exchange::fail_all`]).
//! What every client shares (endpoint, connections, signer, options) is
//! `process.rs`'s.
//! Refuses: I/O of its own: requests go out through `upstream.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::admission::InFlight;
use super::deadline::Watchdog;
use super::failure::Failure;
use super::jsonrpc::{self, Id};
use super::outgoing::Requests;
use super::pending::Pending;
use super::policy::ToolCache;
use super::process::Process;
use super::profiles::Profiles;
use super::sink::Output;
use super::upstream::Upstream;
use crate::sync::{Locked, wait_while};

/// What every thread of one client's conversation shares.
#[derive(Debug)]
pub(crate) struct Conversation {
    /// What every client of the process shares.
    pub(super) process: Arc<Process>,
    /// The upstream session client messages go to (the default profile's).
    pub(super) upstream: Arc<Upstream>,
    /// With several profiles, the others and their sessions.
    pub(super) profiles: Profiles,
    pub(super) pending: Pending,
    /// The tools the server listed (shared by the conversations of clients
    /// without sessions: `clients.rs`).
    pub(super) tools: Arc<ToolCache>,
    pub(super) in_flight: Arc<InFlight>,
    pub(super) handshake: Handshake,
    pub(super) order: Order,
    /// The watchdog of every `--tool-timeout` deadline.
    pub(super) deadlines: Watchdog,
    /// Where messages the server sends outside any request go (the GET
    /// stream's); `None` once the conversation ends.
    unsolicited: Mutex<Option<Output>>,
    shutting_down: AtomicBool,
    /// True while the client's requests follow a revision that cancels by
    /// closing the stream (its last request named 2026-07-28 or later in
    /// `_meta`; an `initialize` makes it false again).
    pub(super) closes_to_cancel: AtomicBool,
    next_id: AtomicU64,
}

impl Conversation {
    /// A new client's conversation: its upstream session (not opened until
    /// its first message) signed with the process's signer, with
    /// `runtime_session` as its AgentCore runtime-session id (`None`: derived
    /// when the first request needs it) and `tools` as what it knows of the
    /// server's tools; messages outside any request go to `unsolicited`.
    pub(crate) fn new(
        process: &Arc<Process>,
        runtime_session: Option<String>,
        tools: Arc<ToolCache>,
        unsolicited: Output,
    ) -> Self {
        let options = &process.options;
        let profiles = Profiles::new(
            &process.remote,
            &process.profile_signers,
            &options.profiles,
            options.runtime_session,
        );
        let mut upstream = Upstream::new(
            Arc::clone(&process.remote),
            Arc::clone(&process.auth),
            runtime_session,
        );
        if let Some(name) = profiles.default_name() {
            upstream = upstream.with_profile(0, name);
        }
        Conversation {
            upstream: Arc::new(upstream),
            profiles,
            pending: Pending::new(),
            tools,
            in_flight: Arc::new(InFlight::new(options.max_in_flight)),
            handshake: Handshake::default(),
            order: Order::default(),
            deadlines: Watchdog::default(),
            unsolicited: Mutex::new(Some(unsolicited)),
            shutting_down: AtomicBool::new(false),
            closes_to_cancel: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            process: Arc::clone(process),
        }
    }

    /// Where a message outside any request goes now; `None` once the
    /// conversation ended.
    pub(super) fn unsolicited(&self) -> Option<Output> {
        self.unsolicited.locked().clone()
    }

    /// Lets go of where messages outside any request went, so that its
    /// reader sees the end once the exchanges still writing are done.
    pub(super) fn close_unsolicited(&self) {
        self.unsolicited.locked().take();
    }

    /// A fresh id for the relay's own requests, in a namespace clients do not use.
    pub(super) fn internal_id(&self) -> String {
        format!("mcp-sigv4-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// From now on, waits end early and nothing new starts.
    pub(super) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// True once shutdown began.
    pub(super) fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Waits `delay`, waking early when shutting down; false when interrupted.
    pub(super) fn pause(&self, delay: Duration) -> bool {
        let end = Instant::now() + delay;
        while Instant::now() < end {
            if self.shutting_down() {
                return false;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
        }
        !self.shutting_down()
    }
}

/// The client's `initialize` and `notifications/initialized`, as it sent them,
/// replayed when the server ends the session.
#[derive(Debug, Default)]
pub(crate) struct Handshake {
    initialize: Mutex<Option<Vec<u8>>>,
    initialized: Mutex<Option<Vec<u8>>>,
}

impl Handshake {
    /// Keeps the client's `initialize`.
    pub(super) fn keep_initialize(&self, body: &[u8]) {
        *self.initialize.locked() = Some(body.to_vec());
    }

    /// Keeps the client's `notifications/initialized`.
    pub(super) fn keep_initialized(&self, body: &[u8]) {
        *self.initialized.locked() = Some(body.to_vec());
    }

    /// The client's `initialize`, if it sent one.
    pub(super) fn initialize(&self) -> Option<Vec<u8>> {
        self.initialize.locked().clone()
    }

    /// The client's `notifications/initialized`, if it sent one.
    pub(super) fn initialized(&self) -> Option<Vec<u8>> {
        self.initialized.locked().clone()
    }
}

/// One exchange's view: the conversation, the upstream session it talks to,
/// and where its answers go.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(super) shared: Arc<Conversation>,
    pub(super) up: Arc<Upstream>,
    pub(super) out: Output,
}

impl Exchange {
    /// A view of `shared` that talks to its upstream session and answers to
    /// `out`.
    pub(crate) fn new(shared: &Arc<Conversation>, out: Output) -> Self {
        Exchange {
            up: Arc::clone(&shared.upstream),
            shared: Arc::clone(shared),
            out,
        }
    }

    /// Another handle on the same view (for another thread).
    pub(super) fn clone_ctx(&self) -> Exchange {
        Exchange {
            shared: Arc::clone(&self.shared),
            up: Arc::clone(&self.up),
            out: self.out.clone(),
        }
    }

    /// The same view, answering to `out`.
    pub(super) fn answering_to(&self, out: Output) -> Exchange {
        Exchange {
            shared: Arc::clone(&self.shared),
            up: Arc::clone(&self.up),
            out,
        }
    }

    /// The view of the upstream session of profile `route` (0: the
    /// default's), made now if it was not (`profiles.rs`).
    pub(super) fn routed(&self, route: usize) -> Exchange {
        let up = match self.shared.profiles.upstream(route) {
            Some(up) => up,
            None => Arc::clone(&self.shared.upstream),
        };
        Exchange {
            shared: Arc::clone(&self.shared),
            up,
            out: self.out.clone(),
        }
    }

    /// True when this view talks to another profile's session than the
    /// default's.
    pub(super) fn is_routed(&self) -> bool {
        self.up.index() != 0
    }

    /// Answers each of `ids` still waiting with `failure` (a request the client
    /// cancelled gets nothing).
    pub(super) fn fail_all<'a>(&self, ids: impl IntoIterator<Item = &'a Id>, failure: &Failure) {
        for id in ids {
            if self.shared.pending.fail(id) {
                self.answer_error(id, failure);
            }
        }
    }

    /// Answers each request of one message still waiting with `failure` (see
    /// `Requests::fail`).
    pub(super) fn fail_requests(&self, requests: &Requests, failure: &Failure) {
        for id in &requests.ids {
            if requests.fail(&self.shared.pending, id) {
                self.answer_error(id, failure);
            }
        }
    }

    /// Answers `id` with `failure` (the caller took it from the waiting
    /// requests).
    pub(super) fn answer_error(&self, id: &Id, failure: &Failure) {
        self.out.send(jsonrpc::error_response(
            Some(id),
            failure.code,
            &failure.message,
            failure.data.clone(),
        ));
    }
}

/// A one-shot signal from an exchange to the stdin reader: the message's
/// answer head arrived (or it will never come).
#[derive(Clone, Debug, Default)]
pub(crate) struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Lets the waiter go on.
    pub(super) fn open(&self) {
        let (lock, cv) = &*self.0;
        *lock.locked() = true;
        cv.notify_all();
    }

    /// Waits until the gate opens, at most `limit`; true when it opened.
    pub(super) fn wait(&self, limit: Duration) -> bool {
        let (lock, cv) = &*self.0;
        *wait_while(cv, lock.locked(), limit, |open| !*open)
    }
}

/// Where a message stands in the handshake's order, for [`Order::turn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HandshakeStep {
    /// The client's `initialize`.
    Initialize,
    /// The client's `notifications/initialized`.
    Initialized,
    /// `ping`: allowed at any time, waits for nothing.
    Ping,
    /// Any other message with a request in it.
    Request,
    /// A message of only notifications and responses.
    Other,
}

/// The order the lifecycle asks for — `initialize`, its answer,
/// `notifications/initialized`, then requests
/// (<https://modelcontextprotocol.io/specification/2025-11-25/basic/lifecycle#initialization>)
/// — kept by making later exchanges wait on their own threads (never the
/// stdin reader) for the gates of the latest handshake: every message but a
/// `ping` for the `initialize` exchange to end (its answer gives the session
/// id and the version), requests also for `notifications/initialized` to be
/// accepted.
#[derive(Debug, Default)]
pub(crate) struct Order(Mutex<Handshaking>);

#[derive(Debug, Default)]
struct Handshaking {
    initialize: Option<Gate>,
    initialized: Option<Gate>,
}

/// A message's place in the order: the gates it waits for before it goes
/// out, and the one it opens (when its answer head arrives, and at the latest
/// when its exchange ends).
#[derive(Debug)]
pub(crate) struct Turn {
    pub(super) wait_for: Vec<Gate>,
    pub(super) opens: Gate,
    /// Opens only when the exchange ends (`initialize`: its answer read).
    pub(super) opens_at_end: bool,
}

impl Order {
    /// The turn of a message read now.
    pub(super) fn turn(&self, step: HandshakeStep) -> Turn {
        let mut h = self.0.locked();
        let opens = Gate::default();
        let wait_for: Vec<Gate> = match step {
            HandshakeStep::Initialize => {
                h.initialize = Some(opens.clone());
                h.initialized = None;
                Vec::new()
            }
            HandshakeStep::Initialized => {
                let before = h.initialize.iter().cloned().collect();
                h.initialized = Some(opens.clone());
                before
            }
            HandshakeStep::Ping => Vec::new(),
            HandshakeStep::Request => h
                .initialize
                .iter()
                .chain(h.initialized.iter())
                .cloned()
                .collect(),
            HandshakeStep::Other => h.initialize.iter().cloned().collect(),
        };
        Turn {
            wait_for,
            opens,
            opens_at_end: step == HandshakeStep::Initialize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_wait_for_the_handshake_and_nothing_waits_for_other_notifications() {
        let order = Order::default();
        assert!(
            order.turn(HandshakeStep::Request).wait_for.is_empty(),
            "no handshake yet"
        );
        let init = order.turn(HandshakeStep::Initialize);
        assert!(init.wait_for.is_empty() && init.opens_at_end);
        let ping = order.turn(HandshakeStep::Ping);
        assert!(ping.wait_for.is_empty(), "ping goes at any time");
        let other = order.turn(HandshakeStep::Other);
        assert_eq!(other.wait_for.len(), 1, "the initialize answer");
        let initialized = order.turn(HandshakeStep::Initialized);
        assert_eq!(initialized.wait_for.len(), 1);
        assert!(!initialized.opens_at_end);
        let request = order.turn(HandshakeStep::Request);
        assert_eq!(request.wait_for.len(), 2);
        // A notification after the handshake does not hold a later request.
        let cancel = order.turn(HandshakeStep::Other);
        let after = order.turn(HandshakeStep::Request);
        assert_eq!(after.wait_for.len(), 2);
        init.opens.open();
        initialized.opens.open();
        assert!(after.wait_for.iter().all(|g| g.wait(Duration::ZERO)));
        assert!(!cancel.opens.wait(Duration::ZERO));
        // A new initialize starts a new handshake.
        let again = order.turn(HandshakeStep::Initialize);
        let request = order.turn(HandshakeStep::Request);
        assert_eq!(request.wait_for.len(), 1);
        assert!(!request.wait_for[0].wait(Duration::ZERO));
        again.opens.open();
        assert!(request.wait_for[0].wait(Duration::ZERO));
    }
}
