//! A stand-in for the relay's answer sink until it lands: the same contract
//! (`channel`, `Output::send`, `Receiver::next`/`close`), a queue bounded in
//! bytes with back-pressure.
//! Refuses: anything more than that contract; it goes when the relay's does.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::sync::{Locked, wait_while, wait_while_unbounded};

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<Vec<u8>>,
    bytes: usize,
    senders: usize,
    closed: bool,
}

#[derive(Debug)]
struct Queue {
    state: Mutex<State>,
    changed: Condvar,
    max_bytes: usize,
}

/// The sending side: cheap to clone; the receiver sees [`Next::Ended`] once
/// every clone is dropped and the queue is empty.
#[derive(Debug)]
pub struct Output(Arc<Queue>);

/// The receiving side.
#[derive(Debug)]
pub struct Receiver(Arc<Queue>);

/// What [`Receiver::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// One JSON-RPC message, one line, no newline.
    Message(Vec<u8>),
    /// Nothing within the wait.
    Idle,
    /// Nothing more will come.
    Ended,
}

/// A queue of at most `max_bytes` (one larger message passes alone).
pub fn channel(max_bytes: usize) -> (Output, Receiver) {
    let q = Arc::new(Queue {
        state: Mutex::new(State {
            senders: 1,
            ..State::default()
        }),
        changed: Condvar::new(),
        max_bytes,
    });
    (Output(Arc::clone(&q)), Receiver(q))
}

impl Clone for Output {
    fn clone(&self) -> Self {
        self.0.state.locked().senders += 1;
        Output(Arc::clone(&self.0))
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.0.state.locked().senders -= 1;
        self.0.changed.notify_all();
    }
}

impl Output {
    /// Queues one message, waiting while the queue is full; dropped once the
    /// receiver is gone.
    pub fn send(&self, message: impl Into<Vec<u8>>) {
        let message = message.into();
        let q = &*self.0;
        let mut s = wait_while_unbounded(&q.changed, q.state.locked(), |s| {
            !s.closed && s.bytes > 0 && s.bytes + message.len() > q.max_bytes
        });
        if s.closed {
            return;
        }
        s.bytes += message.len();
        s.messages.push_back(message);
        drop(s);
        q.changed.notify_all();
    }
}

impl Receiver {
    /// The next message, waiting at most `wait`.
    pub fn next(&self, wait: Duration) -> Next {
        let q = &*self.0;
        let mut s = wait_while(&q.changed, q.state.locked(), wait, |s| {
            s.messages.is_empty() && s.senders > 0
        });
        match s.messages.pop_front() {
            Some(m) => {
                s.bytes -= m.len();
                drop(s);
                q.changed.notify_all();
                Next::Message(m)
            }
            None if s.senders == 0 => Next::Ended,
            None => Next::Idle,
        }
    }

    /// Later sends drop their messages.
    pub fn close(&self) {
        let mut s = self.0.state.locked();
        s.closed = true;
        s.messages.clear();
        s.bytes = 0;
        drop(s);
        self.0.changed.notify_all();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.close();
    }
}
