//! A deadline that only messages move: `--tool-timeout` for a tool call.
//!
//! Owns: one exchange's deadline — `limit` after it started, and after each
//! message that arrived for it (progress), never after bytes that complete no
//! message — and the [`Watchdog`], one thread for every deadline of the run,
//! that enforces each by closing the exchange's own connection the moment it
//! passes, so a read blocked on a server that trickles a byte a second, or on
//! one that went silent, fails at once. While a message is being handed to
//! stdout the deadline is held (a client slow to read stdout is not the
//! server's delay), and it restarts after.
//! Refuses: closing a connection it was not given: only an exchange with a
//! connection of its own has a deadline (its pool serves nobody else); and a
//! thread per deadline (64 tool calls in flight are 64 threads, not 128).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::http::Client;
use crate::sync::{Locked, wait_once};

/// The watchdog thread's stack: it only waits and closes connections.
const WATCH_STACK: usize = 64 << 10;

/// The longest the watchdog sleeps with nothing due (a held deadline wakes it
/// when released).
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Watch {
    at: Instant,
    /// Deliveries in progress: the deadline cannot pass while one runs.
    holds: usize,
    fired: bool,
    /// The exchange ended: the watchdog forgets it.
    done: bool,
}

#[derive(Debug)]
struct Inner {
    watch: Mutex<Watch>,
    limit: Duration,
    client: Client,
}

/// The one thread that watches every deadline of a run; started with the
/// first deadline, stopped when this is dropped.
#[derive(Debug, Default)]
pub(crate) struct Watchdog {
    dog: Arc<Dog>,
}

#[derive(Debug, Default)]
struct Dog {
    state: Mutex<Pack>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct Pack {
    watches: Vec<Arc<Inner>>,
    running: bool,
    stopped: bool,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.dog.state.locked().stopped = true;
        self.dog.cv.notify_all();
    }
}

/// One exchange's deadline; the watchdog forgets it when it is dropped.
#[derive(Debug)]
pub(crate) struct Deadline {
    inner: Arc<Inner>,
    dog: Arc<Dog>,
}

/// A message being delivered: the deadline waits, and restarts when this is
/// dropped.
#[derive(Debug)]
pub(crate) struct Hold<'a>(&'a Deadline);

impl Deadline {
    /// A deadline `limit` from now, closing `client`'s connections when it
    /// passes, watched by `watchdog`. Without a watchdog thread (the system
    /// would not start one) the read timeouts of the connection are the only
    /// limit, and that is logged.
    pub(crate) fn start(watchdog: &Watchdog, limit: Duration, client: Client) -> Deadline {
        let inner = Arc::new(Inner {
            watch: Mutex::new(Watch {
                at: Instant::now() + limit,
                holds: 0,
                fired: false,
                done: false,
            }),
            limit,
            client,
        });
        let dog = Arc::clone(&watchdog.dog);
        let mut pack = dog.state.locked();
        pack.watches.push(Arc::clone(&inner));
        if !pack.running {
            let watched = Arc::clone(&dog);
            let spawned = std::thread::Builder::new()
                .name("deadlines".into())
                .stack_size(WATCH_STACK)
                .spawn(move || watch(&watched));
            match spawned {
                Ok(_) => pack.running = true,
                Err(e) => {
                    log::warn!("cannot start the deadline thread ({e}); only read timeouts apply");
                }
            }
        }
        drop(pack);
        dog.cv.notify_all();
        Deadline { inner, dog }
    }

    /// The connection the deadline closes (the exchange sends on it).
    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// True once the deadline passed (the connection was closed).
    pub(crate) fn fired(&self) -> bool {
        self.inner.watch.locked().fired
    }

    /// A message arrived and is being delivered: see [`Hold`].
    pub(crate) fn hold(&self) -> Hold<'_> {
        self.inner.watch.locked().holds += 1;
        Hold(self)
    }

    /// Wakes the watchdog (under its lock, so that a wake-up between its look
    /// at the deadlines and its wait is not lost).
    fn nudge(&self) {
        let _pack = self.dog.state.locked();
        self.dog.cv.notify_all();
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let inner = &self.0.inner;
        {
            let mut w = inner.watch.locked();
            w.holds -= 1;
            w.at = Instant::now() + inner.limit;
        }
        self.0.nudge();
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.inner.watch.locked().done = true;
        self.nudge();
    }
}

/// The watchdog: closes the connection of every deadline that passed, and
/// sleeps until the next one is due.
fn watch(dog: &Dog) {
    let mut pack = dog.state.locked();
    loop {
        if pack.stopped {
            return;
        }
        let now = Instant::now();
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        pack.watches.retain(|inner| {
            let mut w = inner.watch.locked();
            if w.done || w.fired {
                return false;
            }
            if w.holds == 0 {
                if now >= w.at {
                    w.fired = true;
                    due.push(Arc::clone(inner));
                    return false;
                }
                next = Some(next.map_or(w.at, |n| n.min(w.at)));
            }
            true
        });
        if !due.is_empty() {
            drop(pack);
            for inner in due {
                log::debug!(
                    "no message within {} s: closing the exchange's connection",
                    inner.limit.as_secs_f64()
                );
                inner.client.shutdown();
            }
            pack = dog.state.locked();
            continue;
        }
        let sleep = next.map_or(IDLE, |at| at.saturating_duration_since(now));
        pack = wait_once(&dog.cv, pack, sleep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{ClientSettings, TlsRoots};

    fn client() -> Client {
        Client::new(
            ClientSettings {
                connect: Duration::from_secs(1),
                write: Duration::from_secs(1),
                max_body: 1,
                max_header: crate::http::DEFAULT_MAX_HEADER,
                env_proxy: false,
            },
            &TlsRoots::builtin(),
        )
    }

    fn wait_fired(d: &Deadline, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if d.fired() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        d.fired()
    }

    #[test]
    fn it_passes_unless_a_message_restarts_it_and_never_during_a_delivery() {
        let dog = Watchdog::default();
        let d = Deadline::start(&dog, Duration::from_millis(300), client());
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(150));
            drop(d.hold());
            assert!(!d.fired(), "a message restarts it");
        }
        {
            let _delivering = d.hold();
            std::thread::sleep(Duration::from_millis(600));
            assert!(!d.fired(), "held while a message is delivered");
        }
        assert!(!d.fired());
        assert!(wait_fired(&d, Duration::from_secs(5)), "it passes");
    }

    #[test]
    fn one_thread_watches_many_deadlines_and_each_fires_on_its_own() {
        let dog = Watchdog::default();
        let long = Deadline::start(&dog, Duration::from_secs(30), client());
        let short: Vec<Deadline> = (0..20)
            .map(|_| Deadline::start(&dog, Duration::from_millis(200), client()))
            .collect();
        let kept = Deadline::start(&dog, Duration::from_millis(200), client());
        // A held one does not pass; released, it restarts and passes later.
        let held = kept.hold();
        for d in &short {
            assert!(wait_fired(d, Duration::from_secs(5)), "it passes");
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(!kept.fired());
        drop(held);
        assert!(!kept.fired(), "restarted when released");
        assert!(wait_fired(&kept, Duration::from_secs(5)));
        assert!(!long.fired());
        assert_eq!(
            dog.dog.state.locked().watches.len(),
            1,
            "only the long one is watched"
        );
    }
}
