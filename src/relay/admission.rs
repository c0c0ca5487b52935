//! Which exchanges run now, and which wait: the relay's bound under load.
//!
//! Owns: the cap on client requests in flight (`--max-in-flight`, default 64)
//! and the queue of requests read past it, bounded by count ([`QUEUE_PER_SLOT`]
//! per slot, at least [`QUEUE_MIN`]) and bytes ([`QUEUE_BYTES`]). A request that
//! finds the queue full is refused ([`has_room`](InFlight::has_room); the
//! caller answers it), so the stdin reader never waits and what follows — a
//! cancellation, a ping, the answer a running tool call waits on — is read.
//! Urgent messages use a small reserve ([`URGENT_RESERVE`]) and never queue.
//! It owns the exchange threads: one per running exchange, up to [`IDLE_MAX`]
//! kept idle for [`IDLE_KEEP`], and waiting for all of them at shutdown.
//! Refuses: dropping a message before shutdown, and holding more exchange
//! threads, running or idle, than the cap plus the reserve (an idle thread has
//! given its slot back; a thread starts only when no idle one is free).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::sync::{Locked, wait_once, wait_while};

/// Exchange threads kept for urgent messages beyond the cap: a `ping`,
/// notifications (a cancellation among them) and answers to the server's own
/// requests (a tool call in flight may be waiting on one) never queue behind
/// requests.
pub(crate) const URGENT_RESERVE: usize = 16;

/// Requests that may wait in the queue, per slot of the cap.
pub(crate) const QUEUE_PER_SLOT: usize = 4;

/// The fewest requests the queue holds, whatever the cap: a client that sends
/// a few calls at once with `--max-in-flight 1` has them all wait, none
/// refused.
pub(crate) const QUEUE_MIN: usize = 64;

/// The most bytes of messages waiting in the queue (one larger message is let
/// in when the queue is empty: the stdin line bound holds it).
pub(crate) const QUEUE_BYTES: usize = 16 << 20;

/// How long a thread with nothing to run waits for the next exchange before
/// it ends: 20 s (a client calling tools in a conversation keeps a thread;
/// a quiet one holds none for long). The next exchange is handed to an idle
/// thread instead of starting one: a thread start was about 40% of what the
/// relay added to a call, under musl and glibc alike.
pub(crate) const IDLE_KEEP: Duration = Duration::from_secs(20);

/// The most threads kept idle, in threads: 4 (calls in a row use one, a ping
/// or a notification beside a call a second, small bursts the rest); a thread
/// that ends its exchange when that many wait ends too, so that a burst of 64
/// calls does not leave 64 stacks resident.
pub(crate) const IDLE_MAX: usize = 4;

/// One exchange, ready to run on a thread of its own.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// How a message is admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A request: runs within the cap, else queues.
    Request,
    /// A `ping`, a notification or a response: runs at once, within the
    /// reserve.
    Urgent,
}

/// The exchanges in flight and the queue.
#[derive(Debug)]
pub(crate) struct InFlight {
    cap: usize,
    /// How long an idle thread waits for a job: [`IDLE_KEEP`], shorter in
    /// tests.
    idle_keep: Duration,
    state: Mutex<State>,
    /// Slots given back, the queue emptied, shutdown: the reader and
    /// [`wait_idle`](Self::wait_idle) wait on it.
    changed: Condvar,
    /// A job handed to the idle threads, or shutdown: idle threads wait on it.
    handed: Condvar,
}

struct State {
    running: usize,
    urgent: usize,
    queue: VecDeque<(Job, usize)>,
    queued_bytes: usize,
    /// Threads waiting for a job (each gave its slot back).
    idle: usize,
    /// Jobs handed to idle threads, their slots counted: never more than
    /// `idle`, so that each has a thread to take it.
    handed: VecDeque<(Class, Job)>,
    /// Shutdown: nothing new runs, the queue was dropped.
    closed: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("running", &self.running)
            .field("urgent", &self.urgent)
            .field("queued", &self.queue.len())
            .field("queued_bytes", &self.queued_bytes)
            .field("idle", &self.idle)
            .field("handed", &self.handed.len())
            .field("closed", &self.closed)
            .finish()
    }
}

/// How long a wait for room looks again at the state (shutdown ends it).
const RECHECK: Duration = Duration::from_millis(100);

/// What a thread does after a job.
enum After {
    /// Runs this queued request, on the same slot.
    Next(Job),
    /// Gave its slot back and is counted idle: waits for a job.
    Idle,
    /// Gave its slot back; ends (shutdown, enough idle threads, or not an
    /// exchange thread).
    End,
}

impl InFlight {
    /// At most `cap` requests in flight (at least one).
    pub(crate) fn new(cap: usize) -> Self {
        Self::with_idle_keep(cap, IDLE_KEEP)
    }

    /// [`new`](Self::new) with idle threads kept `idle_keep` (tests).
    fn with_idle_keep(cap: usize, idle_keep: Duration) -> Self {
        InFlight {
            cap: cap.max(1),
            idle_keep,
            state: Mutex::new(State {
                running: 0,
                urgent: 0,
                queue: VecDeque::new(),
                queued_bytes: 0,
                idle: 0,
                handed: VecDeque::new(),
                closed: false,
            }),
            changed: Condvar::new(),
            handed: Condvar::new(),
        }
    }

    /// Runs `job` (a message of `bytes` bytes) on an exchange thread — an idle
    /// one if there is one, else a new one — now or when a slot frees. Called
    /// by the stdin reader, which waits here while the queue (or, for an
    /// urgent message, the reserve) is full. After [`close`](Self::close) the
    /// job is dropped.
    pub(crate) fn start(self: &Arc<Self>, class: Class, bytes: usize, job: Job) {
        let mut state = self.state.locked();
        loop {
            if state.closed {
                return;
            }
            match class {
                Class::Urgent if state.urgent < URGENT_RESERVE => {
                    state.urgent += 1;
                    break;
                }
                Class::Request if state.running < self.cap => {
                    state.running += 1;
                    break;
                }
                Class::Request if self.queue_has_room(&state, bytes) => {
                    state.queue.push_back((job, bytes));
                    state.queued_bytes += bytes;
                    return;
                }
                _ => {}
            }
            state = wait_once(&self.changed, state, RECHECK);
        }
        if state.idle > state.handed.len() {
            state.handed.push_back((class, job));
            drop(state);
            self.handed.notify_one();
            return;
        }
        drop(state);
        self.spawn(class, job);
    }

    fn queue_has_room(&self, state: &State, bytes: usize) -> bool {
        state.queue.is_empty()
            || (state.queue.len() < self.queue_max() && state.queued_bytes + bytes <= QUEUE_BYTES)
    }

    /// The most requests the queue holds: [`QUEUE_PER_SLOT`] per slot, at
    /// least [`QUEUE_MIN`].
    pub(crate) fn queue_max(&self) -> usize {
        (self.cap * QUEUE_PER_SLOT).max(QUEUE_MIN)
    }

    /// The cap on requests in flight (`--max-in-flight`).
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Whether a request of `bytes` bytes runs or queues now, so that
    /// [`start`](Self::start) would not wait for it. Only the stdin reader
    /// adds requests, and room only grows meanwhile, so what this says holds
    /// for its next `start`.
    pub(crate) fn has_room(&self, bytes: usize) -> bool {
        let state = self.state.locked();
        state.closed || state.running < self.cap || self.queue_has_room(&state, bytes)
    }

    /// Starts a thread for a job whose slot is already counted. When no
    /// thread can be started, the job runs on the calling thread: slower, but
    /// answered.
    fn spawn(self: &Arc<Self>, class: Class, job: Job) {
        let cell = Arc::new(Mutex::new(Some(job)));
        let spawned = {
            let me = Arc::clone(self);
            let cell = Arc::clone(&cell);
            std::thread::Builder::new()
                .name("exchange".into())
                .spawn(move || {
                    let first = cell.locked().take();
                    if let Some(job) = first {
                        me.serve(class, job);
                    }
                })
        };
        if let Err(e) = spawned {
            log::error!("cannot start a thread for a message ({e}); running it on the reader's");
            let first = cell.locked().take();
            if let Some(job) = first {
                self.work(class, job, false);
            }
        }
    }

    /// An exchange thread: runs its job, then those handed to it while it
    /// waits idle, until none comes within the idle time or shutdown.
    fn serve(&self, class: Class, first: Job) {
        let mut next = Some((class, first));
        while let Some((class, job)) = next.take() {
            if self.work(class, job, true) {
                next = self.wait_handed();
            }
        }
    }

    /// Runs `first`, then (for requests) queued jobs until the queue is empty;
    /// the slot is given back on the way out, also when a job panics. True
    /// when the thread is now counted idle (only if `may_idle`).
    fn work(&self, class: Class, first: Job, may_idle: bool) -> bool {
        let mut slot = Slot {
            flight: self,
            class,
            held: true,
        };
        let mut next = first;
        loop {
            // The release build aborts on a panic (Cargo.toml); elsewhere a
            // panicking job is caught here (the hook has reported it), so the
            // thread keeps its slot for the queue instead of leaving queued
            // requests without a thread.
            if std::panic::catch_unwind(AssertUnwindSafe(next)).is_err() {
                log::error!("an exchange panicked; its thread carries on");
            }
            match self.after(&mut slot, may_idle) {
                After::Next(job) => next = job,
                After::Idle => return true,
                After::End => return false,
            }
        }
    }

    /// After a job: the next queued request (a request's slot only); when
    /// there is none, gives the slot back and (if `may_idle`, before
    /// shutdown, fewer than [`IDLE_MAX`] idle) counts the thread idle, in the
    /// same step, so that a job queued meanwhile always finds a thread and no
    /// thread is started while this one is between the two.
    fn after(&self, slot: &mut Slot<'_>, may_idle: bool) -> After {
        let mut state = self.state.locked();
        if slot.class == Class::Request
            && let Some((job, bytes)) = state.queue.pop_front()
        {
            state.queued_bytes -= bytes;
            return After::Next(job);
        }
        match slot.class {
            Class::Request => state.running -= 1,
            Class::Urgent => state.urgent -= 1,
        }
        slot.held = false;
        let idle = may_idle && !state.closed && state.idle < IDLE_MAX;
        if idle {
            state.idle += 1;
        }
        drop(state);
        self.changed.notify_all();
        if idle { After::Idle } else { After::End }
    }

    /// An idle thread's wait: the next job handed to it, or `None` after the
    /// idle time with none, or at shutdown (jobs handed before it still run:
    /// their slots were counted). Uncounts the thread as idle either way.
    fn wait_handed(&self) -> Option<(Class, Job)> {
        let end = Instant::now() + self.idle_keep;
        let mut state = self.state.locked();
        loop {
            if let Some(handed) = state.handed.pop_front() {
                state.idle -= 1;
                return Some(handed);
            }
            let left = end.saturating_duration_since(Instant::now());
            if state.closed || left.is_zero() {
                state.idle -= 1;
                return None;
            }
            state = wait_once(&self.handed, state, left);
        }
    }

    /// Waits until nothing runs or waits, or `limit` passed; true when idle.
    /// Idle threads are not waited for.
    pub(crate) fn wait_idle(&self, limit: Duration) -> bool {
        let state = wait_while(&self.changed, self.state.locked(), limit, |s| {
            s.running + s.urgent > 0 || !s.queue.is_empty()
        });
        state.running + state.urgent == 0 && state.queue.is_empty()
    }

    /// At shutdown: drops the queue, nothing new starts, and idle threads
    /// end now. Returns how many messages were still queued.
    pub(crate) fn close(&self) -> usize {
        let dropped: Vec<(Job, usize)> = {
            let mut state = self.state.locked();
            state.closed = true;
            state.queued_bytes = 0;
            state.queue.drain(..).collect()
        };
        self.changed.notify_all();
        self.handed.notify_all();
        dropped.len()
    }
}

/// A running exchange's slot, given back when dropped unless already given.
struct Slot<'a> {
    flight: &'a InFlight,
    class: Class,
    held: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let mut state = self.flight.state.locked();
        match self.class {
            Class::Request => state.running -= 1,
            Class::Urgent => state.urgent -= 1,
        }
        drop(state);
        self.flight.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    /// A job that counts itself running, waits for `release`, and reports.
    fn job(
        running: &Arc<AtomicUsize>,
        peak: &Arc<AtomicUsize>,
        release: &Arc<(Mutex<bool>, Condvar)>,
        done: &mpsc::Sender<usize>,
        n: usize,
    ) -> Job {
        let (running, peak, release, done) = (
            Arc::clone(running),
            Arc::clone(peak),
            Arc::clone(release),
            done.clone(),
        );
        Box::new(move || {
            let now = running.fetch_add(1, Ordering::AcqRel) + 1;
            peak.fetch_max(now, Ordering::AcqRel);
            let (lock, cv) = &*release;
            drop(wait_while(cv, lock.locked(), Duration::from_secs(5), |r| {
                !*r
            }));
            running.fetch_sub(1, Ordering::AcqRel);
            let _ = done.send(n);
        })
    }

    #[test]
    fn requests_past_the_cap_queue_and_each_runs_once_urgent_ones_go_ahead() {
        let flight = Arc::new(InFlight::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (done, finished) = mpsc::channel();
        // 2 run, 8 queue (4 per slot): the reader never waits for these.
        for n in 0..10 {
            flight.start(Class::Request, 10, job(&running, &peak, &release, &done, n));
        }
        assert!(!flight.wait_idle(Duration::from_millis(100)));
        // An urgent message runs while every request slot is taken.
        let (urgent_tx, urgent_rx) = mpsc::channel();
        flight.start(
            Class::Urgent,
            10,
            Box::new(move || {
                let _ = urgent_tx.send(());
            }),
        );
        urgent_rx
            .recv_timeout(Duration::from_secs(2))
            .expect("the urgent message ran at once");
        assert_eq!(running.load(Ordering::Acquire), 2);
        let (lock, cv) = &*release;
        *lock.locked() = true;
        cv.notify_all();
        let mut seen: Vec<usize> = (0..10)
            .map(|_| finished.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert!(flight.wait_idle(Duration::from_secs(2)));
        assert_eq!(peak.load(Ordering::Acquire), 2, "never past the cap");
    }

    #[test]
    fn a_full_queue_makes_the_reader_wait_and_close_drops_what_waits() {
        let flight = Arc::new(InFlight::new(1));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (done, finished) = mpsc::channel();
        for n in 0..=QUEUE_MIN {
            assert!(flight.has_room(1), "request {n}");
            flight.start(Class::Request, 1, job(&running, &peak, &release, &done, n));
        }
        assert!(!flight.has_room(1), "the queue holds QUEUE_MIN at cap 1");
        // The next waits for room on a reader of its own (the relay's reader
        // asks has_room first and refuses it instead).
        let (reader_done_tx, reader_done) = mpsc::channel();
        let reader = {
            let flight = Arc::clone(&flight);
            let j = job(&running, &peak, &release, &done, 5);
            std::thread::spawn(move || {
                flight.start(Class::Request, 1, j);
                let _ = reader_done_tx.send(());
            })
        };
        assert!(
            reader_done
                .recv_timeout(Duration::from_millis(300))
                .is_err(),
            "the reader waits while the queue is full"
        );
        assert_eq!(flight.close(), QUEUE_MIN, "the queued ones are dropped");
        reader_done
            .recv_timeout(Duration::from_secs(2))
            .expect("close lets the reader go");
        reader.join().unwrap();
        let (lock, cv) = &*release;
        *lock.locked() = true;
        cv.notify_all();
        assert_eq!(finished.recv_timeout(Duration::from_secs(5)).unwrap(), 0);
        assert!(flight.wait_idle(Duration::from_secs(2)));
        assert!(finished.recv_timeout(Duration::from_millis(200)).is_err());
    }

    /// Sends the thread's id on `tx` when the calling thread ends (a
    /// thread-local's destructor), once per thread.
    fn note_exit(tx: &mpsc::Sender<std::thread::ThreadId>) {
        struct OnExit(mpsc::Sender<std::thread::ThreadId>, std::thread::ThreadId);
        impl Drop for OnExit {
            fn drop(&mut self) {
                let _ = self.0.send(self.1);
            }
        }
        thread_local! {
            static EXIT: std::cell::RefCell<Option<OnExit>> =
                const { std::cell::RefCell::new(None) };
        }
        EXIT.with(|e| {
            e.borrow_mut()
                .get_or_insert_with(|| OnExit(tx.clone(), std::thread::current().id()));
        });
    }

    /// A job that sends the id of the thread it runs on.
    fn id_job(ids: &mpsc::Sender<std::thread::ThreadId>) -> Job {
        let ids = ids.clone();
        Box::new(move || {
            let _ = ids.send(std::thread::current().id());
        })
    }

    fn distinct(ids: &[std::thread::ThreadId]) -> usize {
        ids.iter().collect::<std::collections::HashSet<_>>().len()
    }

    #[test]
    fn sequential_exchanges_run_on_one_thread_whatever_their_class() {
        let flight = Arc::new(InFlight::new(4));
        let (tx, rx) = mpsc::channel();
        let mut ids = Vec::new();
        for n in 0..100 {
            let class = if n % 3 == 0 {
                Class::Urgent
            } else {
                Class::Request
            };
            flight.start(class, 10, id_job(&tx));
            ids.push(rx.recv_timeout(Duration::from_secs(5)).unwrap());
            // Once nothing runs, the thread is counted idle (the same step).
            assert!(flight.wait_idle(Duration::from_secs(5)));
        }
        assert_eq!(distinct(&ids), 1, "one thread, kept between exchanges");
        assert_eq!(flight.state.locked().idle, 1);
        assert_ne!(ids[0], std::thread::current().id());
    }

    /// Runs `requests` requests and `urgent` urgent messages at once, each
    /// on a thread of its own; returns their threads' ids once all are done.
    fn burst(
        flight: &Arc<InFlight>,
        requests: usize,
        urgent: usize,
        exit_tx: &mpsc::Sender<std::thread::ThreadId>,
    ) -> Vec<std::thread::ThreadId> {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (done, finished) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        for n in 0..requests + urgent {
            let class = if n < requests {
                Class::Request
            } else {
                Class::Urgent
            };
            let inner = job(&running, &peak, &release, &done, n);
            let (tx, exit_tx) = (tx.clone(), exit_tx.clone());
            flight.start(
                class,
                10,
                Box::new(move || {
                    note_exit(&exit_tx);
                    let _ = tx.send(std::thread::current().id());
                    inner();
                }),
            );
        }
        let ids: Vec<_> = (0..requests + urgent)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(distinct(&ids), requests + urgent, "one thread each");
        let (lock, cv) = &*release;
        *lock.locked() = true;
        cv.notify_all();
        for _ in 0..requests + urgent {
            finished.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert!(flight.wait_idle(Duration::from_secs(5)));
        ids
    }

    #[test]
    fn idle_threads_serve_both_classes_at_most_idle_max_are_kept_and_none_starts_while_one_is_free()
    {
        let flight = Arc::new(InFlight::new(2));
        let (exit_tx, exited) = mpsc::channel();
        // 2 requests (the cap) and 4 urgent messages at once: 6 threads, of
        // which IDLE_MAX stay and the others end.
        let first = burst(&flight, 2, 4, &exit_tx);
        let gone: Vec<_> = (0..6 - IDLE_MAX)
            .map(|_| exited.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert!(exited.recv_timeout(Duration::from_millis(200)).is_err());
        assert_eq!(flight.state.locked().idle, IDLE_MAX);
        // The next burst of IDLE_MAX runs on the threads kept, both classes.
        let second = burst(&flight, 2, IDLE_MAX - 2, &exit_tx);
        for id in &second {
            assert!(
                first.contains(id) && !gone.contains(id),
                "no thread started"
            );
        }
        assert_eq!(flight.state.locked().idle, IDLE_MAX);
    }

    #[test]
    fn close_ends_idle_threads_at_once_and_the_idle_time_ends_them_too() {
        let flight = Arc::new(InFlight::new(4));
        let (exit_tx, exited) = mpsc::channel();
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (done, finished) = mpsc::channel();
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        for n in 0..3 {
            let inner = job(&running, &peak, &release, &done, n);
            let exit_tx = exit_tx.clone();
            flight.start(
                Class::Request,
                10,
                Box::new(move || {
                    note_exit(&exit_tx);
                    inner();
                }),
            );
        }
        let (lock, cv) = &*release;
        *lock.locked() = true;
        cv.notify_all();
        for _ in 0..3 {
            finished.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert!(flight.wait_idle(Duration::from_secs(5)));
        assert_eq!(flight.state.locked().idle, 3);
        assert!(exited.recv_timeout(Duration::from_millis(200)).is_err());
        let closed = Instant::now();
        flight.close();
        for _ in 0..3 {
            exited
                .recv_timeout(Duration::from_secs(2))
                .expect("an idle thread ends at close, not after IDLE_KEEP");
        }
        assert!(closed.elapsed() < IDLE_KEEP / 4);
        assert_eq!(flight.state.locked().idle, 0);

        // With a short idle time, a thread ends on its own, and the next
        // exchange starts a new one.
        let flight = Arc::new(InFlight::with_idle_keep(1, Duration::from_millis(100)));
        let (tx, rx) = mpsc::channel();
        let first = {
            let (exit_tx, tx) = (exit_tx.clone(), tx.clone());
            Box::new(move || {
                note_exit(&exit_tx);
                let _ = tx.send(std::thread::current().id());
            })
        };
        flight.start(Class::Request, 10, first);
        let a = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(exited.recv_timeout(Duration::from_secs(5)).unwrap(), a);
        assert_eq!(flight.state.locked().idle, 0);
        flight.start(Class::Request, 10, id_job(&tx));
        assert_ne!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), a);
    }

    #[test]
    fn a_panicking_job_gives_nothing_away_and_its_thread_runs_the_queue() {
        let flight = Arc::new(InFlight::new(1));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (done, finished) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        // The first holds the only slot; a panicking request and two more
        // queue behind it.
        flight.start(Class::Request, 1, job(&running, &peak, &release, &done, 0));
        flight.start(Class::Request, 1, Box::new(|| panic!("a job panics")));
        flight.start(Class::Request, 1, id_job(&tx));
        flight.start(Class::Request, 1, id_job(&tx));
        flight.start(
            Class::Urgent,
            1,
            Box::new(|| panic!("an urgent job panics")),
        );
        let (lock, cv) = &*release;
        *lock.locked() = true;
        cv.notify_all();
        assert_eq!(finished.recv_timeout(Duration::from_secs(5)).unwrap(), 0);
        let after: Vec<_> = (0..2)
            .map(|_| {
                rx.recv_timeout(Duration::from_secs(5))
                    .expect("the queue ran")
            })
            .collect();
        assert_eq!(distinct(&after), 1);
        assert!(
            flight.wait_idle(Duration::from_secs(5)),
            "every slot given back"
        );
        {
            let state = flight.state.locked();
            assert_eq!((state.running, state.urgent), (0, 0));
            assert_eq!(state.idle, 2, "both threads carried on");
        }
        // The pool is still usable, on the threads it has.
        flight.start(Class::Request, 1, id_job(&tx));
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(flight.wait_idle(Duration::from_secs(5)));
        assert_eq!(flight.state.locked().idle, 2, "no thread was started");
    }
}
