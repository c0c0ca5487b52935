//! The stdio side: a bounded line reader for stdin and the one stdout writer.
//!
//! Owns: reading newline-delimited messages with a size bound (an oversized line
//! is skipped to its end and reported with its first bytes, never buffered
//! whole), and the single thread that writes to stdout — each message whole,
//! followed by `\n`, then flushed — so messages from concurrent streams never
//! interleave. The queue in front of it, bounded in bytes, is `sink.rs`'s.
//! Refuses: writing anything to stdout that did not come through `Output`;
//! dropping a message while stdout is open.

use std::io::{self, BufRead, Write};
use std::thread::JoinHandle;

use super::sink::Output;
use super::sink::{self, Receiver};

/// One line read from stdin.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line's bytes, without its `\n` (and without a `\r` before it).
    Message(Vec<u8>),
    /// A line longer than the bound; its bytes were discarded. Holds the bound.
    TooLong(usize),
}

/// How many first bytes of an oversized line are kept, to answer it with its
/// id.
pub const PREFIX_BYTES: usize = 4 << 10;

/// How many last bytes of an oversized line are kept: some clients write the
/// id last (`{"method":…,"params":…,"jsonrpc":"2.0","id":7}`).
pub const TAIL_BYTES: usize = 256;

/// Reads lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max: usize,
    prefix: Vec<u8>,
    tail: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            max,
            prefix: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// The first bytes (at most [`PREFIX_BYTES`]) of the last line reported
    /// [`Line::TooLong`].
    pub fn too_long_prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The last bytes (at most [`TAIL_BYTES`], without the `\n`) of the last
    /// line reported [`Line::TooLong`].
    pub fn too_long_tail(&self) -> &[u8] {
        &self.tail
    }

    /// The next non-blank line; `Ok(None)` at end of input. A last line without
    /// a final `\n` still counts.
    ///
    /// # Errors
    /// The underlying read error.
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            let mut line = Vec::new();
            let mut too_long = false;
            let mut saw_any = false;
            loop {
                let buf = match self.inner.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if buf.is_empty() {
                    if !saw_any {
                        return Ok(None);
                    }
                    break;
                }
                saw_any = true;
                let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                    Some(p) => (&buf[..p], p + 1),
                    None => (buf, buf.len()),
                };
                if too_long && self.prefix.len() < PREFIX_BYTES {
                    let room = PREFIX_BYTES - self.prefix.len();
                    self.prefix
                        .extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                if !too_long {
                    // One byte more than the bound is the CR of a CRLF line,
                    // which is not the message's (checked at its end).
                    if line.len() + chunk.len() > self.max.saturating_add(1) {
                        too_long = true;
                        // The first bytes, in a buffer of their own: the
                        // line's may hold up to the bound.
                        let mut prefix = Vec::with_capacity(PREFIX_BYTES);
                        prefix.extend_from_slice(&line[..line.len().min(PREFIX_BYTES)]);
                        let room = PREFIX_BYTES - prefix.len();
                        prefix.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        self.prefix = prefix;
                        self.tail.clear();
                        keep_tail(&mut self.tail, &line);
                        line = Vec::new();
                    } else {
                        line.extend_from_slice(chunk);
                    }
                }
                if too_long {
                    keep_tail(&mut self.tail, chunk);
                }
                let ended = done <= buf.len() && buf.get(done - 1) == Some(&b'\n');
                self.inner.consume(done);
                if ended {
                    break;
                }
            }
            if !too_long && line.len() > self.max && line.last() != Some(&b'\r') {
                too_long = true;
                self.prefix = line[..line.len().min(PREFIX_BYTES)].to_vec();
                self.tail.clear();
                keep_tail(&mut self.tail, &line);
            }
            if too_long {
                return Ok(Some(Line::TooLong(self.max)));
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            return Ok(Some(Line::Message(line)));
        }
    }
}

/// Appends `more` to `tail`, keeping only the last [`TAIL_BYTES`].
fn keep_tail(tail: &mut Vec<u8>, more: &[u8]) {
    let more = &more[more.len().saturating_sub(TAIL_BYTES)..];
    let excess = (tail.len() + more.len()).saturating_sub(TAIL_BYTES);
    tail.drain(..excess);
    tail.extend_from_slice(more);
}

/// Starts the writer thread on `out`, with a queue of at most `max_bytes`
/// in front of it. `on_closed` runs on the writer thread if a write fails
/// (the client closed our stdout). The thread ends when every [`Output`] is
/// dropped and the queue is drained, or after `on_closed`.
///
/// # Errors
/// The operating system's, when the thread cannot be started.
pub(crate) fn spawn_writer<W: Write + Send + 'static>(
    out: W,
    max_bytes: usize,
    on_closed: impl FnOnce(io::Error) + Send + 'static,
) -> io::Result<(Output, JoinHandle<()>)> {
    let (output, receiver) = sink::channel(max_bytes);
    let handle = std::thread::Builder::new()
        .name("stdout".into())
        .spawn(move || writer_loop(out, &receiver, on_closed))?;
    Ok((output, handle))
}

/// Writes each message as one line (`\n`-terminated, flushed) until every
/// sender is gone; a failed write closes the queue and runs `on_closed`.
fn writer_loop<W: Write>(mut out: W, messages: &Receiver, on_closed: impl FnOnce(io::Error)) {
    while let Some(message) = messages.wait_next() {
        let result = out
            .write_all(&message)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        messages.written(message.len());
        if let Err(e) = result {
            messages.close();
            on_closed(e);
            return;
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut r = LineReader::new(io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(l);
        }
        out
    }

    #[test]
    fn lines_crlf_blank_and_unterminated_last() {
        assert_eq!(
            lines(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}", 100),
            vec![
                Line::Message(b"{\"a\":1}".to_vec()),
                Line::Message(b"{\"b\":2}".to_vec()),
                Line::Message(b"{\"c\":3}".to_vec()),
            ]
        );
    }

    #[test]
    fn an_oversized_line_is_skipped_and_the_next_one_read() {
        assert_eq!(
            lines(b"0123456789\nok\n", 5),
            vec![Line::TooLong(5), Line::Message(b"ok".to_vec())]
        );
        assert_eq!(lines(b"12345\n", 5), vec![Line::Message(b"12345".to_vec())]);
        // The CR of a CRLF line is not the message's.
        assert_eq!(
            lines(b"12345\r\n123456\r\n", 5),
            vec![Line::Message(b"12345".to_vec()), Line::TooLong(5)]
        );
        assert_eq!(lines(b"123456", 5), vec![Line::TooLong(5)]);
    }

    #[test]
    fn an_oversized_line_keeps_its_first_and_last_bytes() {
        for capacity in [1, 3, 4096] {
            let mut input = b"{\"head\":1,".to_vec();
            input.extend(std::iter::repeat_n(b'x', 3 * PREFIX_BYTES));
            input.extend_from_slice(b",\"id\":7}\r\nnext\n");
            let mut r = LineReader::new(io::BufReader::with_capacity(capacity, &input[..]), 100);
            assert_eq!(r.next_line().unwrap(), Some(Line::TooLong(100)));
            assert_eq!(r.too_long_prefix().len(), PREFIX_BYTES);
            assert!(r.too_long_prefix().starts_with(b"{\"head\":1,xx"));
            assert_eq!(r.too_long_tail().len(), TAIL_BYTES);
            assert!(r.too_long_tail().ends_with(b"xx,\"id\":7}\r"), "{capacity}");
            assert_eq!(
                r.next_line().unwrap(),
                Some(Line::Message(b"next".to_vec()))
            );
        }
    }

    #[test]
    fn writer_writes_whole_lines_and_reports_a_closed_stdout() {
        let shared = Arc::new(Mutex::new(Vec::new()));
        struct W(Arc<Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (out, handle) =
            spawn_writer(W(shared.clone()), 1 << 20, |_| panic!("not closed")).unwrap();
        out.send(b"one".to_vec());
        out.send("two");
        drop(out);
        handle.join().unwrap();
        assert_eq!(&*shared.lock().unwrap(), b"one\ntwo\n");

        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (out, handle) =
            spawn_writer(Broken, 1 << 20, move |e| tx.send(e.kind()).unwrap()).unwrap();
        out.send("x");
        handle.join().unwrap();
        assert_eq!(rx.recv().unwrap(), io::ErrorKind::BrokenPipe);
        // After stdout closed, sending neither blocks nor fails.
        for _ in 0..10 {
            out.send(vec![b'y'; 2 << 20]);
        }
    }

    #[test]
    fn what_exchanges_hold_counts_against_the_bound_and_the_oldest_passes_alone() {
        use std::sync::mpsc;
        let (out, handle) = spawn_writer(io::sink(), 1000, |_| panic!("not closed")).unwrap();
        let (a, b) = (out.clone(), out.clone());
        a.hold(800);
        // The oldest holder may go past the bound while the queue is empty.
        a.hold(800);
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            b.hold(300);
            tx.send(()).unwrap();
            b.send(vec![b'b'; 300]);
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err(),
            "a younger holder waits while the bound is held"
        );
        a.release();
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("room once the oldest let go");
        waiter.join().unwrap();
        assert_eq!(out.counts().1, 0);
        drop((a, out));
        handle.join().unwrap();
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_and_loses_nothing() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        // A writer that is held until released, and counts what it wrote.
        struct Held {
            open: Arc<AtomicBool>,
            written: Arc<AtomicUsize>,
        }
        impl Write for Held {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                while !self.open.load(Ordering::Acquire) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                self.written.fetch_add(b.len(), Ordering::AcqRel);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let open = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let held = Held {
            open: Arc::clone(&open),
            written: Arc::clone(&written),
        };
        let (out, handle) = spawn_writer(held, 1000, |_| panic!("not closed")).unwrap();
        let sent = Arc::new(AtomicUsize::new(0));
        let sender = {
            let out = out.clone();
            let sent = Arc::clone(&sent);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    out.send(vec![b'm'; 300]);
                    sent.fetch_add(1, Ordering::AcqRel);
                }
                // Larger than the bound: goes alone once the queue is empty.
                out.send(vec![b'L'; 5000]);
                sent.fetch_add(1, Ordering::AcqRel);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        // The message with the held writer counts: three fit in 1000 bytes.
        assert_eq!(sent.load(Ordering::Acquire), 3);
        assert_eq!(out.counts().0, 900);
        open.store(true, Ordering::Release);
        sender.join().unwrap();
        drop(out);
        handle.join().unwrap();
        assert_eq!(written.load(Ordering::Acquire), 20 * 301 + 5001);
    }
}
