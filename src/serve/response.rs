//! Writing answers: a status with a short body, and an SSE stream sent with
//! chunked transfer coding, one event per chunk, flushed as written.
//!
//! Owns: the bytes of every answer `serve` writes (RFC 9112 §4, §7.1; SSE
//! framing per the WHATWG "Server-sent events" section 9.2.5).
//! Refuses: buffering an event behind the next one.

use std::io::{self, Write};

/// How an answer went: its status, and whether the connection stays open.
pub(super) struct Done {
    pub status: u16,
    pub keep: bool,
}

impl Done {
    /// Answered with `status`; the connection stays open.
    pub fn keep(status: u16) -> Done {
        Done { status, keep: true }
    }

    /// Answered with `status`; the connection closes.
    pub fn close(status: u16) -> Done {
        Done {
            status,
            keep: false,
        }
    }
}

/// The writer of the answer to a `HEAD` request: the head goes through, the
/// body after it does not (RFC 9110 §9.3.2: the answer is the GET's without
/// content), so on a kept-alive connection the client finds the next answer
/// where it ends the head.
pub(super) struct HeadOnly<'a> {
    inner: &'a mut dyn Write,
    /// The last four bytes written, to find the blank line.
    last: u32,
    /// The head has been written whole.
    done: bool,
}

impl<'a> HeadOnly<'a> {
    pub(super) fn new(inner: &'a mut dyn Write) -> HeadOnly<'a> {
        HeadOnly {
            inner,
            last: 0,
            done: false,
        }
    }
}

impl Write for HeadOnly<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.done {
            return Ok(buf.len());
        }
        let blank = u32::from_be_bytes(*b"\r\n\r\n");
        let end = buf.iter().position(|&b| {
            self.last = (self.last << 8) | u32::from(b);
            self.last == blank
        });
        match end {
            Some(at) => {
                self.done = true;
                self.inner.write_all(&buf[..=at])?;
            }
            None => self.inner.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The reason phrase for the statuses `serve` sends.
pub fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// A JSON-RPC error without an id (the request was refused before its id
/// was read): `{"jsonrpc":"2.0","id":null,"error":{"code":…,"message":…}}`.
pub fn jsonrpc_error(code: i64, message: &str) -> Vec<u8> {
    let message = serde_json::Value::from(message).to_string();
    format!(r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":{code},"message":{message}}}}}"#)
        .into_bytes()
}

/// Writes a whole answer: status, `headers`, `Content-Length` and `body`;
/// `Connection: close` when `close`.
pub fn write(
    w: &mut dyn Write,
    code: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(160 + body.len());
    status_line(&mut out, code, headers);
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    w.write_all(&out)?;
    w.flush()
}

/// A status with a plain-text body (a line ending in `\n`).
pub fn text(w: &mut dyn Write, code: u16, body: &str, close: bool) -> io::Result<()> {
    let headers = [("Content-Type", "text/plain; charset=utf-8")];
    write(w, code, &headers, format!("{body}\n").as_bytes(), close)
}

/// A status with a JSON-RPC error body ([`jsonrpc_error`]).
pub fn rpc_error(
    w: &mut dyn Write,
    status: u16,
    code: i64,
    message: &str,
    close: bool,
) -> io::Result<()> {
    let headers = [("Content-Type", "application/json")];
    write(w, status, &headers, &jsonrpc_error(code, message), close)
}

fn status_line(out: &mut Vec<u8>, code: u16, headers: &[(&str, &str)]) {
    out.extend_from_slice(format!("HTTP/1.1 {code} {}\r\n", reason(code)).as_bytes());
    for (name, value) in headers {
        for part in [name.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
            out.extend_from_slice(part);
        }
    }
}

/// An SSE answer being written: with chunked transfer coding to an
/// HTTP/1.1 client (the connection then stays open for the next request),
/// delimited by closing the connection to an HTTP/1.0 one, which has no
/// chunked coding (RFC 9112 §6.1: a server must not send it to a client that
/// did not say HTTP/1.1).
pub(super) struct Sse<'a> {
    w: &'a mut dyn Write,
    chunked: bool,
}

impl<'a> Sse<'a> {
    /// Writes the head (200, `text/event-stream`), with `Mcp-Session-Id`
    /// when `session` is given; `chunked` for an HTTP/1.1 client, else
    /// `Connection: close`.
    pub fn start(w: &'a mut dyn Write, session: Option<&str>, chunked: bool) -> io::Result<Self> {
        let mut out = Vec::with_capacity(200);
        let mut headers = vec![
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            ("X-Accel-Buffering", "no"),
        ];
        headers.push(if chunked {
            ("Transfer-Encoding", "chunked")
        } else {
            ("Connection", "close")
        });
        if let Some(id) = session {
            headers.push(("Mcp-Session-Id", id));
        }
        status_line(&mut out, 200, &headers);
        out.extend_from_slice(b"\r\n");
        w.write_all(&out)?;
        w.flush()?;
        Ok(Sse { w, chunked })
    }

    /// `parts` as one chunk (or as they are, unchunked), flushed.
    fn chunk(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(len + 16);
        if self.chunked {
            out.extend_from_slice(format!("{len:x}\r\n").as_bytes());
        }
        for p in parts {
            out.extend_from_slice(p);
        }
        if self.chunked {
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out)?;
        self.w.flush()
    }

    /// One `message` event carrying one JSON-RPC message. A line break in it
    /// (JSON whitespace only, since JSON strings escape them) becomes a
    /// space, so the event stays one `data` line.
    pub fn event(&mut self, message: &[u8]) -> io::Result<()> {
        if message.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            let flat: Vec<u8> = message
                .iter()
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
                .collect();
            return self.chunk(&[b"event: message\ndata: ", &flat, b"\n\n"]);
        }
        self.chunk(&[b"event: message\ndata: ", message, b"\n\n"])
    }

    /// The 2025-11-25 priming event: an id and empty data.
    pub fn priming(&mut self) -> io::Result<()> {
        self.chunk(&[b"id: 0\ndata:\n\n"])
    }

    /// A comment line, sent while nothing else is, to find a closed
    /// connection.
    pub fn keepalive(&mut self) -> io::Result<()> {
        self.chunk(&[b": keep-alive\n\n"])
    }

    /// The end of the stream: the last chunk (the connection stays open), or
    /// nothing more (the connection closes).
    pub fn end(self) -> io::Result<()> {
        if self.chunked {
            self.w.write_all(b"0\r\n\r\n")?;
        }
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_answer_has_no_body() {
        let mut out = Vec::new();
        let mut w = HeadOnly::new(&mut out);
        text(&mut w, 404, "not found", false).unwrap();
        text(&mut w, 200, "more", false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 10\r\n\r\n"
        );
    }

    #[test]
    fn answers_and_chunks() {
        let mut out = Vec::new();
        text(&mut out, 404, "not found", true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 10\r\n\r\nnot found\n"
        );
        for (chunked, body) in [
            (
                true,
                "20\r\nevent: message\ndata: {\"a\":  1}\n\n\r\n0\r\n\r\n",
            ),
            (false, "event: message\ndata: {\"a\":  1}\n\n"),
        ] {
            let mut out = Vec::new();
            let mut sse = Sse::start(&mut out, None, chunked).unwrap();
            sse.event(b"{\"a\":\r\n1}").unwrap();
            sse.end().unwrap();
            let out = String::from_utf8(out).unwrap();
            let (head, rest) = out.split_once("\r\n\r\n").unwrap();
            assert_eq!(
                head.contains("Transfer-Encoding: chunked"),
                chunked,
                "{head}"
            );
            assert_eq!(head.contains("Connection: close"), !chunked, "{head}");
            assert_eq!(rest, body);
        }
    }
}
