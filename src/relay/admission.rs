//! Which exchanges run now, and which wait: the relay's bound under load.
//!
//! Owns: the cap on client requests in flight (`--max-in-flight`, default 64);
//! the queue of requests read past it, bounded by count ([`QUEUE_PER_SLOT`]
//! per slot) and bytes ([`QUEUE_BYTES`]), so that when it is full the stdin
//! reader waits (backpressure on the client, nothing dropped); a small
//! reserve ([`URGENT_RESERVE`]) for urgent messages — a `ping`,
//! notifications (a cancellation among them) and answers to the server's own
//! requests (a tool call in flight may be waiting on one) — which never queue
//! behind requests; the threads that run exchanges, one per running exchange,
//! a thread that ends its exchange taking the next queued one; and waiting for
//! all of it at shutdown.
//! Refuses: dropping a message before shutdown, and running more exchange
//! threads than the cap plus the reserve.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::sync::{Locked, wait_once, wait_while};

/// Exchange threads kept for urgent messages beyond the cap.
pub(crate) const URGENT_RESERVE: usize = 16;

/// Requests that may wait in the queue, per slot of the cap.
pub(crate) const QUEUE_PER_SLOT: usize = 4;

/// The most bytes of messages waiting in the queue (one larger message is let
/// in when the queue is empty: the stdin line bound holds it).
pub(crate) const QUEUE_BYTES: usize = 16 << 20;

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
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    running: usize,
    urgent: usize,
    queue: VecDeque<(Job, usize)>,
    queued_bytes: usize,
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
            .field("closed", &self.closed)
            .finish()
    }
}

/// How long a wait for room looks again at the state (shutdown ends it).
const RECHECK: Duration = Duration::from_millis(100);

impl InFlight {
    /// At most `cap` requests in flight (at least one).
    pub(crate) fn new(cap: usize) -> Self {
        InFlight {
            cap: cap.max(1),
            state: Mutex::new(State {
                running: 0,
                urgent: 0,
                queue: VecDeque::new(),
                queued_bytes: 0,
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }

    /// Runs `job` (a message of `bytes` bytes) on an exchange thread, now or
    /// when a slot frees. Called by the stdin reader, which waits here while
    /// the queue (or, for an urgent message, the reserve) is full. After
    /// [`close`](Self::close) the job is dropped.
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
        drop(state);
        self.spawn(class, job);
    }

    fn queue_has_room(&self, state: &State, bytes: usize) -> bool {
        state.queue.is_empty()
            || (state.queue.len() < self.cap * QUEUE_PER_SLOT
                && state.queued_bytes + bytes <= QUEUE_BYTES)
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
                    if let Some(job) = cell.locked().take() {
                        me.work(class, job);
                    }
                })
        };
        if let Err(e) = spawned {
            log::error!("cannot start a thread for a message ({e}); running it on the reader's");
            if let Some(job) = cell.locked().take() {
                self.work(class, job);
            }
        }
    }

    /// Runs `first`, then (for requests) queued jobs until the queue is empty;
    /// the slot is given back on the way out, also when a job panics.
    fn work(&self, class: Class, first: Job) {
        let mut slot = Slot {
            flight: self,
            class,
            held: true,
        };
        let mut next = Some(first);
        while let Some(job) = next.take() {
            job();
            if class == Class::Request {
                next = self.next_queued(&mut slot);
            }
        }
    }

    /// The next queued job; when there is none, gives the slot back in the
    /// same step, so that a job queued meanwhile always finds a thread.
    fn next_queued(&self, slot: &mut Slot<'_>) -> Option<Job> {
        let mut state = self.state.locked();
        let next = match state.queue.pop_front() {
            Some((job, bytes)) => {
                state.queued_bytes -= bytes;
                Some(job)
            }
            None => {
                state.running -= 1;
                slot.held = false;
                None
            }
        };
        drop(state);
        self.changed.notify_all();
        next
    }

    /// Waits until nothing runs or waits, or `limit` passed; true when idle.
    pub(crate) fn wait_idle(&self, limit: Duration) -> bool {
        let state = wait_while(&self.changed, self.state.locked(), limit, |s| {
            s.running + s.urgent > 0 || !s.queue.is_empty()
        });
        state.running + state.urgent == 0 && state.queue.is_empty()
    }

    /// At shutdown: drops the queue, and nothing new starts. Returns how many
    /// messages were still queued.
    pub(crate) fn close(&self) -> usize {
        let dropped: Vec<(Job, usize)> = {
            let mut state = self.state.locked();
            state.closed = true;
            state.queued_bytes = 0;
            state.queue.drain(..).collect()
        };
        self.changed.notify_all();
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
        for n in 0..5 {
            flight.start(Class::Request, 1, job(&running, &peak, &release, &done, n));
        }
        // The sixth waits for room on a reader of its own.
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
        assert_eq!(flight.close(), 4, "the queued ones are dropped");
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
}
