//! A deadline that only messages move: `--tool-timeout` for a tool call.
//!
//! Owns: one exchange's deadline — `limit` after it started, and after each
//! message that arrived for it (progress), never after bytes that complete no
//! message — and the watch thread that enforces it by closing the exchange's
//! own connection the moment it passes, so a read blocked on a server that
//! trickles a byte a second, or on one that went silent, fails at once. While
//! a message is being handed to stdout the deadline is held (a client slow to
//! read stdout is not the server's delay), and it restarts after.
//! Refuses: closing a connection it was not given: only an exchange with a
//! connection of its own has a deadline (its pool serves nobody else).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::http::Client;
use crate::sync::{Locked, wait_while, wait_while_unbounded};

/// The watch thread's stack: it only waits and closes a connection.
const WATCH_STACK: usize = 64 << 10;

#[derive(Debug)]
struct Watch {
    at: Instant,
    /// Deliveries in progress: the deadline cannot pass while one runs.
    holds: usize,
    fired: bool,
    /// The exchange ended: the watch thread stops.
    done: bool,
}

#[derive(Debug)]
struct Inner {
    watch: Mutex<Watch>,
    cv: Condvar,
    limit: Duration,
    client: Client,
}

/// One exchange's deadline; the watch stops when it is dropped.
#[derive(Debug)]
pub(crate) struct Deadline {
    inner: Arc<Inner>,
}

/// A message being delivered: the deadline waits, and restarts when this is
/// dropped.
#[derive(Debug)]
pub(crate) struct Hold<'a>(&'a Deadline);

impl Deadline {
    /// A deadline `limit` from now, closing `client`'s connections when it
    /// passes. Without a watch thread (the system would not start one) the
    /// read timeouts of the connection are the only limit, and that is logged.
    pub(crate) fn start(limit: Duration, client: Client) -> Deadline {
        let inner = Arc::new(Inner {
            watch: Mutex::new(Watch {
                at: Instant::now() + limit,
                holds: 0,
                fired: false,
                done: false,
            }),
            cv: Condvar::new(),
            limit,
            client,
        });
        let watched = Arc::clone(&inner);
        let spawned = std::thread::Builder::new()
            .name("deadline".into())
            .stack_size(WATCH_STACK)
            .spawn(move || watch(&watched));
        if let Err(e) = spawned {
            log::warn!("cannot start a deadline thread ({e}); only read timeouts apply");
        }
        Deadline { inner }
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
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let inner = &self.0.inner;
        let mut w = inner.watch.locked();
        w.holds -= 1;
        w.at = Instant::now() + inner.limit;
        inner.cv.notify_all();
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.inner.watch.locked().done = true;
        self.inner.cv.notify_all();
    }
}

fn watch(inner: &Inner) {
    let mut w = inner.watch.locked();
    loop {
        if w.done {
            return;
        }
        if w.holds > 0 {
            w = wait_while_unbounded(&inner.cv, w, |w| w.holds > 0 && !w.done);
            continue;
        }
        let now = Instant::now();
        if now >= w.at {
            w.fired = true;
            drop(w);
            log::debug!(
                "no message within {} s: closing the exchange's connection",
                inner.limit.as_secs_f64()
            );
            inner.client.shutdown();
            return;
        }
        let at = w.at;
        w = wait_while(&inner.cv, w, at - now, |w| {
            !w.done && w.holds == 0 && w.at == at
        });
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
        let d = Deadline::start(Duration::from_millis(300), client());
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
}
