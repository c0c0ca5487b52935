//! Server-Sent Events, parsed as the WHATWG HTML standard says.
//!
//! Owns: splitting a `text/event-stream` body into lines (CRLF, LF or a lone CR),
//! the field rules (`event`, `data`, `id`, `retry`, comments), dispatch on a blank
//! line, the last-event-id and retry state ("Interpreting an event stream",
//! <https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>;
//! MCP's use of it:
//! <https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server>)
//! — with a bound on line and event size so a server cannot exhaust memory.
//! Refuses: interpreting event data; what a message means is the relay's business.

use std::io::{self, BufRead};

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event type (`message` when the stream gave none).
    pub event: String,
    /// The data, `data:` lines joined with `\n`. Empty for a priming event.
    pub data: String,
    /// The last event id after this event (it persists across events).
    pub id: Option<String>,
}

/// The line-level parser state.
#[derive(Clone, Debug)]
pub(crate) struct Parser {
    data: String,
    event_type: String,
    last_id: Option<String>,
    pending_id: Option<String>,
    retry_ms: Option<u64>,
    max_event_bytes: usize,
}

/// Why a stream was abandoned.
#[derive(Debug)]
pub enum SseError {
    /// An event's data or a single line grew past the bound (bytes).
    TooLarge(usize),
    /// Reading the body failed (connection reset, timeout, bad chunking).
    Io(io::Error),
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::TooLarge(max) => write!(f, "an SSE event is larger than {max} bytes"),
            SseError::Io(e) => write!(f, "reading the SSE stream failed: {e}"),
        }
    }
}

impl std::error::Error for SseError {}

impl Parser {
    /// A parser that refuses events (and lines) larger than `max_event_bytes`.
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        Parser {
            data: String::new(),
            event_type: String::new(),
            last_id: None,
            pending_id: None,
            retry_ms: None,
            max_event_bytes,
        }
    }

    /// The last event id seen (set by `id:` fields once their event is dispatched,
    /// or at once for an id-only block), if any.
    pub(crate) fn last_event_id(&self) -> Option<&str> {
        self.pending_id
            .as_deref()
            .or(self.last_id.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// The reconnection delay the server asked for (`retry:`), milliseconds.
    pub(crate) fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Feeds one line (without its terminator). Returns an event when the line
    /// is blank and completes one.
    ///
    /// # Errors
    /// [`SseError::TooLarge`] when the event's data passes the bound.
    pub(crate) fn line(&mut self, line: &str) -> Result<Option<Event>, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
            }
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    return Err(SseError::TooLarge(self.max_event_bytes));
                }
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.pending_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<Event> {
        if let Some(id) = self.pending_id.take() {
            self.last_id = Some(id);
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the '\n' after the last data line
        let event = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event_type)
        };
        Some(Event {
            event,
            data,
            id: self.last_id.clone().filter(|s| !s.is_empty()),
        })
    }
}

/// What [`Reader::next_item`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// A dispatched event.
    Event(Event),
    /// A comment line (`: keep-alive`).
    Comment,
}

/// Reads events from a byte stream: line splitting on CRLF, LF and lone CR, a
/// leading BOM dropped, invalid UTF-8 replaced, every line bounded.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    parser: Parser,
    line: Vec<u8>,
    skip_lf: bool,
    started: bool,
}

impl<R: BufRead> Reader<R> {
    /// Wraps `inner`; events and lines over `max_event_bytes` are an error.
    pub fn new(inner: R, max_event_bytes: usize) -> Self {
        Reader {
            inner,
            parser: Parser::new(max_event_bytes),
            line: Vec::new(),
            skip_lf: false,
            started: false,
        }
    }

    /// The parser's state (last event id, retry).
    pub(crate) fn parser(&self) -> &Parser {
        &self.parser
    }

    /// The next event; `Ok(None)` at the end of the stream (a partly built event
    /// without its blank line is discarded, as the standard says).
    ///
    /// # Errors
    /// [`SseError`] on a read failure or an oversized line or event.
    pub fn next_event(&mut self) -> Result<Option<Event>, SseError> {
        loop {
            match self.next_item()? {
                Some(Item::Event(e)) => return Ok(Some(e)),
                Some(Item::Comment) => continue,
                None => return Ok(None),
            }
        }
    }

    /// The next event or comment line (a keep-alive): comments are reported so a
    /// reader can check its deadlines while a server keeps a quiet stream open.
    ///
    /// # Errors
    /// [`SseError`] on a read failure or an oversized line or event.
    pub(crate) fn next_item(&mut self) -> Result<Option<Item>, SseError> {
        loop {
            let Some(line) = self.next_line()? else {
                return Ok(None);
            };
            if line.starts_with(':') {
                return Ok(Some(Item::Comment));
            }
            if let Some(event) = self.parser.line(&line)? {
                return Ok(Some(Item::Event(event)));
            }
        }
    }

    fn next_line(&mut self) -> Result<Option<String>, SseError> {
        let max = self.parser.max_event_bytes;
        self.line.clear();
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SseError::Io(e)),
            };
            if buf.is_empty() {
                // End of stream: an unterminated last line is not a complete line.
                return Ok(None);
            }
            let mut start = 0;
            if self.skip_lf {
                self.skip_lf = false;
                if buf[0] == b'\n' {
                    start = 1;
                }
            }
            match buf[start..].iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(pos) => {
                    let end = start + pos;
                    self.line.extend_from_slice(&buf[start..end]);
                    if buf[end] == b'\r' {
                        self.skip_lf = true;
                    }
                    self.inner.consume(end + 1);
                    if self.line.len() > max {
                        return Err(SseError::TooLarge(max));
                    }
                    let mut bytes = &self.line[..];
                    if !self.started {
                        self.started = true;
                        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
                    }
                    return Ok(Some(String::from_utf8_lossy(bytes).into_owned()));
                }
                None => {
                    let n = buf.len();
                    self.line.extend_from_slice(&buf[start..]);
                    self.inner.consume(n);
                    if self.line.len() > max {
                        return Err(SseError::TooLarge(max));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &[u8]) -> Vec<Event> {
        // A 3-byte buffer makes every terminator straddle reads somewhere.
        let reader = io::BufReader::with_capacity(3, input);
        let mut r = Reader::new(reader, 1 << 20);
        let mut out = Vec::new();
        while let Some(e) = r.next_event().unwrap() {
            out.push(e);
        }
        out
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> Event {
        Event {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    #[test]
    fn the_three_line_endings_and_multi_line_data() {
        let got = events(b"data: a\r\ndata:b\rdata:  c\n\nevent: x\ndata\n\n");
        assert_eq!(
            got,
            vec![ev("message", "a\nb\n c", None), ev("x", "", None)]
        );
    }

    #[test]
    fn priming_event_has_an_id_and_empty_data() {
        let got = events(b"id: 1\ndata:\n\nid: 2\ndata: {\"x\":1}\n\n: keep-alive\n\ndata: y\n\n");
        assert_eq!(
            got,
            vec![
                ev("message", "", Some("1")),
                ev("message", "{\"x\":1}", Some("2")),
                ev("message", "y", Some("2"))
            ]
        );
    }

    #[test]
    fn id_only_blocks_update_the_last_id_and_retry_is_read() {
        let mut r = Reader::new(
            io::Cursor::new(&b"id: 9\nretry: 1500\n\nretry: soon\n\n"[..]),
            100,
        );
        assert_eq!(r.next_event().unwrap(), None);
        assert_eq!(r.parser().last_event_id(), Some("9"));
        assert_eq!(r.parser().retry_ms(), Some(1500));
    }

    #[test]
    fn bom_is_dropped_and_unterminated_event_discarded() {
        assert_eq!(
            events(b"\xEF\xBB\xBFdata: a\n\ndata: lost\n"),
            vec![ev("message", "a", None)]
        );
    }

    #[test]
    fn oversized_events_and_lines_are_errors() {
        let mut r = Reader::new(
            io::Cursor::new(&b"data: 0123456789\ndata: 0123456789\n\n"[..]),
            20,
        );
        assert!(matches!(r.next_event(), Err(SseError::TooLarge(20))));
        let mut r = Reader::new(io::Cursor::new(vec![b'x'; 100]), 20);
        assert!(matches!(r.next_event(), Err(SseError::TooLarge(20))));
    }
}
