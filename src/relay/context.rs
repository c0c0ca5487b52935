//! What the relay's threads share, and one exchange's view of it.
//!
//! Owns: [`Shared`] — the upstream session, the table of requests waiting for
//! an answer, the tool cache, the client's handshake to replay, the count of
//! exchanges in flight and the run's flags — and [`Ctx`], that plus the
//! upstream session an exchange talks to and the stdout handle; the ordering
//! [`Gate`]; answering the client with the relay's own errors
//! ([`Ctx::fail_all`]); and waiting that ends early at shutdown.
//! Refuses: I/O of its own: requests go out through `upstream.rs`, lines
//! through `stdio.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::failure::Failure;
use super::jsonrpc::{self, Id};
use super::pending::Pending;
use super::policy::ToolCache;
use super::stdio::Output;
use super::upstream::Upstream;
use crate::config::{RelayOptions, Timeouts};
use crate::sync::{Locked, wait_while};

/// What every thread of the relay shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The upstream session client messages go to.
    pub(super) upstream: Arc<Upstream>,
    pub(super) timeouts: Timeouts,
    pub(super) options: RelayOptions,
    pub(super) pending: Pending,
    pub(super) tools: ToolCache,
    pub(super) in_flight: InFlight,
    pub(super) handshake: Handshake,
    shutting_down: AtomicBool,
    /// True while the client's requests follow a revision that cancels by
    /// closing the stream (its last request named 2026-07-28 or later in
    /// `_meta`; an `initialize` makes it false again).
    pub(super) closes_to_cancel: AtomicBool,
    next_id: AtomicU64,
}

impl Shared {
    /// The state of a new run.
    pub(crate) fn new(upstream: Upstream, timeouts: Timeouts, options: RelayOptions) -> Self {
        Shared {
            upstream: Arc::new(upstream),
            timeouts,
            options,
            pending: Pending::new(),
            tools: ToolCache::new(),
            in_flight: InFlight::default(),
            handshake: Handshake::default(),
            shutting_down: AtomicBool::new(false),
            closes_to_cancel: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        }
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

/// One exchange's view: the shared state, the upstream session it talks to,
/// and an stdout handle.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(super) shared: Arc<Shared>,
    pub(super) up: Arc<Upstream>,
    pub(super) out: Output,
}

impl Ctx {
    /// A view of `shared` that talks to its upstream session.
    pub(crate) fn new(shared: &Arc<Shared>, out: Output) -> Self {
        Ctx {
            up: Arc::clone(&shared.upstream),
            shared: Arc::clone(shared),
            out,
        }
    }

    /// Another handle on the same view (for another thread).
    pub(super) fn clone_ctx(&self) -> Ctx {
        Ctx {
            shared: Arc::clone(&self.shared),
            up: Arc::clone(&self.up),
            out: self.out.clone(),
        }
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

    /// Waits until the gate opens, at most `limit`.
    pub(super) fn wait(&self, limit: Duration) {
        let (lock, cv) = &*self.0;
        drop(wait_while(cv, lock.locked(), limit, |open| !*open));
    }
}

/// Counts exchanges in flight, so shutdown can wait for them.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<usize>, Condvar);

/// One exchange in flight; counted from before its thread starts until the
/// thread ends.
#[derive(Debug)]
pub(crate) struct InFlightGuard(Arc<Shared>);

impl InFlight {
    /// Counts one more exchange until the guard is dropped.
    pub(super) fn enter(shared: &Arc<Shared>) -> InFlightGuard {
        *shared.in_flight.0.locked() += 1;
        InFlightGuard(Arc::clone(shared))
    }

    /// Waits until no exchange is in flight, or `limit` passed; true when idle.
    pub(super) fn wait_idle(&self, limit: Duration) -> bool {
        *wait_while(&self.1, self.0.locked(), limit, |n| *n > 0) == 0
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let in_flight = &self.0.in_flight;
        let mut n = in_flight.0.locked();
        *n -= 1;
        if *n == 0 {
            in_flight.1.notify_all();
        }
    }
}
