//! Server-HttpAnswer Events, parsed as the WHATWG HTML standard says.
//!
//! Owns: splitting a `text/event-stream` body into lines (CRLF, LF or a lone CR),
//! the field rules (`event`, `data`, `id`, `retry`, comments), dispatch on a blank
//! line, the last-event-id and retry state ("Interpreting an event stream",
//! <https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>;
//! MCP's use of it:
//! <https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#sending-messages-to-the-server>)
//! — with a bound on each event, not on the stream: an event over the bound
//! is skipped to its end (only its first bytes are kept, so it can be answered
//! by id) and the stream reads on. A data line is moved into the event, not
//! copied, so an event costs its size once.
//! Refuses: interpreting event data; what a message means is the relay's
//! business. Holding more than the bound of one event.

use std::io::{self, BufRead};

/// How many first bytes of an oversized event's data are kept.
pub const PREFIX_BYTES: usize = 4 << 10;

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

/// An event whose data passed the bound, skipped to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Oversized {
    /// The event type (`message` when the stream gave none).
    pub event: String,
    /// The first bytes of its data (at most [`PREFIX_BYTES`]).
    pub prefix: Vec<u8>,
    /// The bound it passed (bytes).
    pub max: usize,
}

/// The line-level parser state.
#[derive(Clone, Debug)]
pub(crate) struct Parser {
    data: String,
    /// How many `data:` lines the event has (the standard's data buffer is
    /// empty when there are none).
    data_lines: usize,
    /// The event's data passed the bound: later data is dropped.
    oversized: Option<Vec<u8>>,
    event_type: String,
    last_id: Option<String>,
    pending_id: Option<String>,
    retry_ms: Option<u64>,
    max_event_bytes: usize,
}

/// Why a stream was abandoned, or an event skipped.
#[derive(Debug)]
pub enum SseError {
    /// An event's data or a single line grew past the bound (bytes); the
    /// event was skipped and the stream can be read on.
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

/// What a line of the stream was.
enum Line {
    /// A whole line, without its terminator.
    Text(String),
    /// A line longer than the bound: its first bytes.
    TooLong(Vec<u8>),
}

/// What one line made of the event being built.
enum Fed {
    Nothing,
    Event(Event),
    Oversized(Oversized),
}

impl Parser {
    /// A parser that skips events (and lines) larger than `max_event_bytes`.
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        Parser {
            data: String::new(),
            data_lines: 0,
            oversized: None,
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

    /// Marks the event oversized, keeping the first bytes of its data.
    fn overflow(&mut self, more: &[u8]) {
        let kept = self.oversized.get_or_insert_with(|| {
            let data = std::mem::take(&mut self.data);
            let mut p = Vec::with_capacity(PREFIX_BYTES);
            p.extend_from_slice(&data.as_bytes()[..data.len().min(PREFIX_BYTES)]);
            p
        });
        if self.data_lines > 1 && kept.len() < PREFIX_BYTES {
            kept.push(b'\n');
        }
        let room = PREFIX_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&more[..more.len().min(room)]);
        self.data = String::new();
    }

    /// Feeds one line (without its terminator).
    fn feed(&mut self, line: Line) -> Fed {
        let mut line = match line {
            Line::Text(l) => l,
            Line::TooLong(prefix) => {
                // Only a data line makes an event too large; any other field
                // this long (an id, a type, a comment) is ignored.
                if let Some(value) = prefix.strip_prefix(b"data") {
                    let value = value.strip_prefix(b":").unwrap_or(value);
                    let value = value.strip_prefix(b" ").unwrap_or(value);
                    self.data_lines += 1;
                    self.overflow(value);
                }
                return Fed::Nothing;
            }
        };
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return Fed::Nothing;
        }
        let (field_len, value_start) = match line.find(':') {
            Some(c) => (c, c + 1 + usize::from(line[c + 1..].starts_with(' '))),
            None => (line.len(), line.len()),
        };
        match &line[..field_len] {
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(&line[value_start..]);
            }
            "data" => {
                let value_len = line.len() - value_start;
                self.data_lines += 1;
                if self.oversized.is_some() {
                    self.overflow(&line.as_bytes()[value_start..]);
                } else if self.data.len() + value_len + usize::from(self.data_lines > 1)
                    > self.max_event_bytes
                {
                    let value = line.as_bytes()[value_start..].to_vec();
                    self.overflow(&value);
                } else if self.data_lines == 1 {
                    // The first data line becomes the data, without a copy.
                    line.drain(..value_start);
                    self.data = line;
                } else {
                    self.data.push('\n');
                    self.data.push_str(&line[value_start..]);
                }
            }
            "id" if !line[value_start..].contains('\0') => {
                self.pending_id = Some(line[value_start..].to_owned());
            }
            "retry" => {
                let value = &line[value_start..];
                if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                    self.retry_ms = value.parse().ok();
                }
            }
            _ => {}
        }
        Fed::Nothing
    }

    fn dispatch(&mut self) -> Fed {
        if let Some(id) = self.pending_id.take() {
            self.last_id = Some(id);
        }
        let lines = std::mem::take(&mut self.data_lines);
        let event_type = std::mem::take(&mut self.event_type);
        let data = std::mem::take(&mut self.data);
        if lines == 0 {
            return Fed::Nothing;
        }
        let event = if event_type.is_empty() {
            "message".to_owned()
        } else {
            event_type
        };
        if let Some(prefix) = self.oversized.take() {
            return Fed::Oversized(Oversized {
                event,
                prefix,
                max: self.max_event_bytes,
            });
        }
        Fed::Event(Event {
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
    /// An event over the bound, skipped.
    Oversized(Oversized),
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
    /// The line being read passed the bound: the rest of it is skipped.
    line_too_long: bool,
    skip_lf: bool,
    started: bool,
}

impl<R: BufRead> Reader<R> {
    /// Wraps `inner`; events and lines over `max_event_bytes` are skipped.
    pub fn new(inner: R, max_event_bytes: usize) -> Self {
        Reader {
            inner,
            parser: Parser::new(max_event_bytes),
            line: Vec::new(),
            line_too_long: false,
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
    /// [`SseError::Io`] on a read failure; [`SseError::TooLarge`] for an event
    /// over the bound, which was skipped (the next call reads on).
    pub fn next_event(&mut self) -> Result<Option<Event>, SseError> {
        loop {
            match self.next_item()? {
                Some(Item::Event(e)) => return Ok(Some(e)),
                Some(Item::Oversized(o)) => return Err(SseError::TooLarge(o.max)),
                Some(Item::Comment) => continue,
                None => return Ok(None),
            }
        }
    }

    /// The next event, oversized event or comment line (a keep-alive):
    /// comments are reported so a reader can check its deadlines while a
    /// server keeps a quiet stream open.
    ///
    /// # Errors
    /// [`SseError::Io`] on a read failure.
    pub(crate) fn next_item(&mut self) -> Result<Option<Item>, SseError> {
        loop {
            let Some(line) = self.next_line()? else {
                return Ok(None);
            };
            if matches!(&line, Line::Text(t) if t.starts_with(':'))
                || matches!(&line, Line::TooLong(p) if p.starts_with(b":"))
            {
                return Ok(Some(Item::Comment));
            }
            match self.parser.feed(line) {
                Fed::Nothing => {}
                Fed::Event(e) => return Ok(Some(Item::Event(e))),
                Fed::Oversized(o) => return Ok(Some(Item::Oversized(o))),
            }
        }
    }

    /// The next line; one longer than the bound comes back as its first
    /// bytes, the rest skipped.
    fn next_line(&mut self) -> Result<Option<Line>, SseError> {
        // Room for the field name before the data it carries.
        let max = self.parser.max_event_bytes.saturating_add(16);
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SseError::Io(e)),
            };
            if buf.is_empty() {
                // End of stream: an unterminated last line is not a complete line.
                self.line.clear();
                self.line_too_long = false;
                return Ok(None);
            }
            let mut start = 0;
            if self.skip_lf {
                self.skip_lf = false;
                if buf[0] == b'\n' {
                    start = 1;
                }
            }
            let end = buf[start..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map(|p| start + p);
            let piece = &buf[start..end.unwrap_or(buf.len())];
            if !self.line_too_long {
                if self.line.len() + piece.len() > max {
                    // Only the first bytes, in a buffer of their own (the
                    // line's may hold up to the bound).
                    let mut prefix = Vec::with_capacity(PREFIX_BYTES);
                    prefix.extend_from_slice(&self.line[..self.line.len().min(PREFIX_BYTES)]);
                    let room = PREFIX_BYTES - prefix.len();
                    prefix.extend_from_slice(&piece[..piece.len().min(room)]);
                    self.line = prefix;
                    self.line_too_long = true;
                } else {
                    self.line.extend_from_slice(piece);
                }
            }
            let Some(end) = end else {
                let n = buf.len();
                self.inner.consume(n);
                continue;
            };
            if buf[end] == b'\r' {
                self.skip_lf = true;
            }
            self.inner.consume(end + 1);
            let mut bytes = std::mem::take(&mut self.line);
            if !self.started {
                self.started = true;
                if bytes.starts_with(b"\xEF\xBB\xBF") {
                    bytes.drain(..3);
                }
            }
            if std::mem::take(&mut self.line_too_long) {
                return Ok(Some(Line::TooLong(bytes)));
            }
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            };
            return Ok(Some(Line::Text(text)));
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
    fn oversized_events_are_skipped_and_the_stream_read_on() {
        let mut r = Reader::new(
            io::BufReader::with_capacity(
                3,
                &b"data: 0123456789\ndata: 0123456789\n\ndata: ok\n\n"[..],
            ),
            20,
        );
        assert!(matches!(r.next_event(), Err(SseError::TooLarge(20))));
        assert_eq!(r.next_event().unwrap(), Some(ev("message", "ok", None)));
        assert_eq!(r.next_event().unwrap(), None);
        // One line over the bound, whatever the read size; its first bytes kept.
        for capacity in [1, 7, 64] {
            let input = format!(
                "event: big\ndata: {{\"id\":7,{}\n\n: c\ndata: next\n\n",
                "x".repeat(100)
            );
            let mut r = Reader::new(io::BufReader::with_capacity(capacity, input.as_bytes()), 20);
            match r.next_item().unwrap() {
                Some(Item::Oversized(o)) => {
                    assert_eq!(o.event, "big");
                    assert_eq!(o.max, 20);
                    assert!(o.prefix.starts_with(b"{\"id\":7,xx"), "{:?}", o.prefix);
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(r.next_item().unwrap(), Some(Item::Comment));
            assert_eq!(
                r.next_item().unwrap(),
                Some(Item::Event(ev("message", "next", None)))
            );
        }
        // An oversized id line is ignored; the event is not oversized.
        let input = format!("id: {}\ndata: d\n\n", "i".repeat(100));
        let mut r = Reader::new(io::Cursor::new(input.into_bytes()), 20);
        assert_eq!(r.next_event().unwrap(), Some(ev("message", "d", None)));
        // A stream that ends inside an oversized event ends.
        let mut r = Reader::new(io::Cursor::new(vec![b'x'; 100]), 20);
        assert_eq!(r.next_event().unwrap(), None);
    }

    #[test]
    fn an_oversized_event_keeps_the_first_bytes_of_its_data() {
        let big = "y".repeat(3 * PREFIX_BYTES);
        let input = format!("data: {{\"jsonrpc\":\"2.0\",\ndata: {big}\ndata: {big}\n\n");
        let mut r = Reader::new(io::Cursor::new(input.into_bytes()), PREFIX_BYTES);
        match r.next_item().unwrap() {
            Some(Item::Oversized(o)) => {
                assert_eq!(o.prefix.len(), PREFIX_BYTES);
                assert!(
                    o.prefix.starts_with(b"{\"jsonrpc\":\"2.0\",\nyyy"),
                    "{:?}",
                    &o.prefix[..30]
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
