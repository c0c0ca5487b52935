//! Where the messages for one client go: a queue bounded in bytes, with one
//! reader — the stdout writer (`stdio.rs`), or an HTTP response of `serve`.
//!
//! Owns: [`Output`], the senders' side: a sender waits while the queue holds
//! its bound (back-pressure onto the exchange, and from there onto the
//! server's connection), so a client that stops reading holds the relay to the
//! bound and loses nothing; and room on that bound that an exchange holds for
//! a JSON answer before it reads it ([`Output::hold`]). [`Receiver`], the
//! reader's side, which sees the end when every sender is gone.
//! Refuses: dropping a message while the reader is there; after it closed,
//! every message is dropped (a client that went away is not a cancellation).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::sync::{Locked, wait_while, wait_while_unbounded};

/// A queue of at most `max_bytes` (one larger message goes alone): the
/// senders' first handle and the reader's.
pub(crate) fn channel(max_bytes: usize) -> (Output, Receiver) {
    let queue = Arc::new(Queue {
        state: Mutex::new(QueueState {
            senders: 1,
            ..QueueState::default()
        }),
        to_writer: Condvar::new(),
        to_senders: Condvar::new(),
        max_bytes,
    });
    let output = Output {
        queue: Arc::clone(&queue),
        holding: Mutex::new(None),
    };
    (output, Receiver { queue })
}

/// The messages waiting for their reader, and their size.
#[derive(Debug)]
struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when a message was queued, the last sender left, or the
    /// reader closed.
    to_writer: Condvar,
    /// Signalled when the reader took a message, or closed.
    to_senders: Condvar,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    messages: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Bytes of answers exchanges are reading on their way here
    /// ([`Output::hold`]): counted against the bound with the queue's.
    held: usize,
    /// The holders, by the order they first held: the oldest may pass the
    /// bound (alone), so that holders never wait on each other in a circle.
    holders: std::collections::BTreeSet<u64>,
    next_holder: u64,
    senders: usize,
    closed: bool,
}

/// A handle for sending whole messages to the client. Cheap to clone; sending
/// never fails from the caller's view (after the reader closed, messages are
/// dropped), and waits while the queue is full.
///
/// An exchange reading an answer for the client first holds room for its bytes
/// ([`hold`](Self::hold)), so that what exchanges read and the queue holds
/// together stay within the bound: a client that stops reading stops the
/// reads of every answer, not only their queueing. A clone holds nothing.
#[derive(Debug)]
pub(crate) struct Output {
    queue: Arc<Queue>,
    /// This handle's holder number and the bytes it holds.
    holding: Mutex<Option<(u64, usize)>>,
}

impl Clone for Output {
    fn clone(&self) -> Self {
        self.queue.state.locked().senders += 1;
        Output {
            queue: Arc::clone(&self.queue),
            holding: Mutex::new(None),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.release();
        let mut state = self.queue.state.locked();
        state.senders -= 1;
        if state.senders == 0 {
            self.queue.to_writer.notify_all();
        }
    }
}

impl Output {
    /// Queues one message (one line, without its `\n`). Waits while the
    /// queue holds its bound in bytes; a message larger than the bound waits
    /// for an empty queue and then goes alone. What this handle held
    /// ([`hold`](Self::hold)) counts for the message: it goes without waiting
    /// as far as it was held. So the queue and what readers hold stay within
    /// about twice the bound, and one message.
    pub(crate) fn send(&self, message: impl Into<Vec<u8>>) {
        let message = message.into();
        let q = &*self.queue;
        let mut held = 0;
        if let Some((number, bytes)) = self.holding.locked().take() {
            let mut state = q.state.locked();
            state.held -= bytes;
            state.holders.remove(&number);
            held = bytes;
        }
        let extra = message.len().saturating_sub(held);
        // Only the queue is waited on, never what readers hold: a reader
        // whose server trickles must not stop the other senders (the stdin
        // reader among them).
        let mut state = wait_while_unbounded(&q.to_senders, q.state.locked(), |s| {
            !s.closed && extra > 0 && s.bytes > 0 && s.bytes + extra > q.max_bytes
        });
        if state.closed {
            return;
        }
        state.bytes += message.len();
        state.messages.push_back(message);
        q.to_writer.notify_one();
        drop(state);
        q.to_senders.notify_all();
    }

    /// Holds `n` more bytes of the bound for an answer this handle is
    /// reading, waiting while the queue and what others hold leave no room;
    /// the oldest holder waits only for the queue to be empty, and then may
    /// pass the bound alone. The hold ends when this handle sends, at
    /// [`release`](Self::release), or when it is dropped.
    pub(crate) fn hold(&self, n: usize) {
        let q = &*self.queue;
        let mut holding = self.holding.locked();
        let mut state = q.state.locked();
        let number = match *holding {
            Some((number, _)) => number,
            None => {
                let number = state.next_holder;
                state.next_holder += 1;
                state.holders.insert(number);
                *holding = Some((number, 0));
                number
            }
        };
        state = wait_while_unbounded(&q.to_senders, state, |s| {
            let oldest = s.holders.first() == Some(&number);
            let fits = s.bytes + s.held + n <= q.max_bytes;
            let goes = s.closed || fits || (oldest && s.bytes == 0);
            !goes
        });
        state.held += n;
        if let Some((_, bytes)) = holding.as_mut() {
            *bytes += n;
        }
    }

    /// Gives back what this handle holds (an answer that will not be sent).
    pub(crate) fn release(&self) {
        let Some((number, bytes)) = self.holding.locked().take() else {
            return;
        };
        let mut state = self.queue.state.locked();
        state.held -= bytes;
        state.holders.remove(&number);
        drop(state);
        self.queue.to_senders.notify_all();
    }
}

#[cfg(test)]
impl Output {
    /// The bytes queued and the bytes held, for tests.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let state = self.queue.state.locked();
        (state.bytes, state.held)
    }
}

/// What [`Receiver::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// One message: one JSON-RPC message on one line, without a newline.
    Message(Vec<u8>),
    /// Nothing came within the wait.
    Idle,
    /// Every sender is gone and the queue is empty: nothing more will come.
    Ended,
}

/// The reading side of [`channel`]. Dropping it closes the queue.
#[derive(Debug)]
pub(crate) struct Receiver {
    queue: Arc<Queue>,
}

impl Receiver {
    /// The next message, waiting at most `wait`. Its bytes count against the
    /// bound until it is returned: the caller has written it.
    pub(crate) fn next(&self, wait: Duration) -> Next {
        let q = &*self.queue;
        let mut state = wait_while(&q.to_writer, q.state.locked(), wait, |s| {
            s.messages.is_empty() && s.senders > 0
        });
        match state.messages.pop_front() {
            Some(m) => {
                state.bytes -= m.len();
                drop(state);
                q.to_senders.notify_all();
                Next::Message(m)
            }
            None if state.senders == 0 => Next::Ended,
            None => Next::Idle,
        }
    }

    /// The next message, waiting as long as it takes; `None` at the end.
    /// Its bytes count against the bound until [`written`](Self::written).
    pub(crate) fn wait_next(&self) -> Option<Vec<u8>> {
        let q = &*self.queue;
        let mut state = wait_while_unbounded(&q.to_writer, q.state.locked(), |s| {
            s.messages.is_empty() && s.senders > 0
        });
        state.messages.pop_front()
    }

    /// Gives back the room of a message of `len` bytes from
    /// [`wait_next`](Self::wait_next), once it is written.
    pub(crate) fn written(&self, len: usize) {
        let q = &*self.queue;
        q.state.locked().bytes -= len;
        q.to_senders.notify_all();
    }

    /// Stops reading: what is queued is dropped, and so is every later
    /// message; senders never wait again.
    pub(crate) fn close(&self) {
        let q = &*self.queue;
        let mut state = q.state.locked();
        state.closed = true;
        state.messages.clear();
        state.bytes = 0;
        drop(state);
        q.to_senders.notify_all();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_sees_each_message_then_the_end_and_a_closed_reader_drops_sends() {
        let (out, messages) = channel(1000);
        let second = out.clone();
        out.send("one");
        assert_eq!(
            messages.next(Duration::ZERO),
            Next::Message(b"one".to_vec())
        );
        assert_eq!(messages.next(Duration::from_millis(1)), Next::Idle);
        drop(out);
        second.send("two");
        drop(second);
        assert_eq!(
            messages.next(Duration::ZERO),
            Next::Message(b"two".to_vec())
        );
        assert_eq!(messages.next(Duration::ZERO), Next::Ended);

        let (out, messages) = channel(10);
        drop(messages);
        // Neither waits nor fails, though each is past the bound.
        for _ in 0..5 {
            out.send(vec![b'x'; 100]);
        }
        assert_eq!(out.counts(), (0, 0));
    }
}
