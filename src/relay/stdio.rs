//! The stdio side: a bounded line reader for stdin and the one stdout writer.
//!
//! Owns: reading newline-delimited messages with a size bound (an oversized line
//! is skipped to its end and reported, never buffered whole), and the single
//! thread that writes to stdout — each message whole, followed by `\n`, then
//! flushed — so messages from concurrent streams never interleave.
//! Refuses: writing anything to stdout that did not come through `Output`.

use std::io::{self, BufRead, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// One line read from stdin.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line's bytes, without its `\n` (and without a `\r` before it).
    Message(Vec<u8>),
    /// A line longer than the bound; its bytes were discarded. Holds the bound.
    TooLong(usize),
}

/// Reads lines of at most `max` bytes.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, max: usize) -> Self {
        LineReader { inner, max }
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
                if !too_long {
                    if line.len() + chunk.len() > self.max {
                        too_long = true;
                        line = Vec::new();
                    } else {
                        line.extend_from_slice(chunk);
                    }
                }
                let ended = done <= buf.len() && buf.get(done - 1) == Some(&b'\n');
                self.inner.consume(done);
                if ended {
                    break;
                }
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

/// A handle for sending whole messages to stdout. Cheap to clone; sending never
/// fails from the caller's view (after stdout closed, messages are dropped).
#[derive(Clone, Debug)]
pub(crate) struct Output {
    tx: SyncSender<Vec<u8>>,
}

impl Output {
    /// Queues one message (one line, without its `\n`).
    pub(crate) fn send(&self, message: impl Into<Vec<u8>>) {
        let _ = self.tx.send(message.into());
    }
}

/// How many messages may wait for the writer before senders block (back-pressure
/// onto the HTTP readers instead of unbounded memory).
pub(crate) const OUTPUT_QUEUE: usize = 256;

/// Starts the writer thread on `out`. `on_closed` runs on the writer thread if a
/// write fails (the client closed our stdout). The thread ends when every
/// [`Output`] is dropped and the queue is drained, or after `on_closed`.
///
/// # Errors
/// The operating system's, when the thread cannot be started.
pub(crate) fn spawn_writer<W: Write + Send + 'static>(
    out: W,
    on_closed: impl FnOnce(io::Error) + Send + 'static,
) -> io::Result<(Output, JoinHandle<()>)> {
    let (tx, rx) = sync_channel::<Vec<u8>>(OUTPUT_QUEUE);
    let handle = std::thread::Builder::new()
        .name("stdout".into())
        .spawn(move || writer_loop(out, rx, on_closed))?;
    Ok((Output { tx }, handle))
}

fn writer_loop<W: Write>(mut out: W, rx: Receiver<Vec<u8>>, on_closed: impl FnOnce(io::Error)) {
    for message in rx {
        let result = out
            .write_all(&message)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(e) = result {
            on_closed(e);
            return;
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn writer_writes_whole_lines_and_reports_a_closed_stdout() {
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (out, handle) = spawn_writer(W(shared.clone()), |_| panic!("not closed")).unwrap();
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
        let (out, handle) = spawn_writer(Broken, move |e| tx.send(e.kind()).unwrap()).unwrap();
        out.send("x");
        handle.join().unwrap();
        assert_eq!(rx.recv().unwrap(), io::ErrorKind::BrokenPipe);
    }
}
