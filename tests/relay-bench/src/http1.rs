//! Just enough HTTP/1.1 (RFC 9112) for the bench: read a request or a response
//! head, bodies framed by `Content-Length` or `chunked`, written back the same
//! way. Keep-alive by default, as both proxies' HTTP clients expect.
//! Refuses: anything the two proxies do not send (no pipelining, no trailers
//! kept, no `Expect: 100-continue` handling beyond ignoring it).

use std::io::{self, BufRead, Write};

/// A request or response head plus its body.
pub struct Message {
    /// Request: `POST /mcp HTTP/1.1`; response: `HTTP/1.1 200 OK`.
    pub start: String,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Message {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The response status code (0 if the start line has none).
    pub fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The request method.
    pub fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or("")
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one message; `Ok(None)` on a clean end of stream before its first
/// byte. `response_to_head`: a response to HEAD or a 1xx/204/304 has no body.
pub fn read_message<R: BufRead>(r: &mut R, is_response: bool) -> io::Result<Option<Message>> {
    let mut start = String::new();
    loop {
        start.clear();
        if r.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        // RFC 9112 §2.2: a server ignores empty lines before a request line.
        if !start.trim().is_empty() {
            break;
        }
    }
    let start = start.trim_end().to_owned();
    let mut headers = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("end of stream inside a header block"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').ok_or_else(|| bad("header without ':'"))?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let mut msg = Message {
        start,
        headers,
        body: Vec::new(),
    };
    let status = msg.status();
    if is_response && (status < 200 || status == 204 || status == 304) {
        return Ok(Some(msg));
    }
    let chunked = msg
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        read_chunked(r, &mut msg.body)?;
    } else if let Some(len) = msg.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        msg.body.resize(len, 0);
        r.read_exact(&mut msg.body)?;
    } else if is_response {
        // Close-delimited response body.
        r.read_to_end(&mut msg.body)?;
    }
    Ok(Some(msg))
}

fn read_chunked<R: BufRead>(r: &mut R, body: &mut Vec<u8>) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, then the final empty line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(());
                }
            }
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
}

/// Writes a response with a `Content-Length` body.
pub fn write_response<W: Write>(
    w: &mut W,
    status: &str,
    headers: &[(&str, &str)],
    body: &[&[u8]],
) -> io::Result<()> {
    let len: usize = body.iter().map(|b| b.len()).sum();
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {len}\r\n");
    for (n, v) in headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    for part in body {
        w.write_all(part)?;
    }
    w.flush()
}

/// Writes a `200` response whose body is sent in `chunked` coding, in chunks of
/// at most 64 KiB (as a streaming server sends an SSE answer).
pub fn write_chunked_response<W: Write>(
    w: &mut W,
    headers: &[(&str, &str)],
    body: &[&[u8]],
) -> io::Result<()> {
    let mut head = String::from("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n");
    for (n, v) in headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    for part in body {
        for chunk in part.chunks(64 * 1024) {
            write!(w, "{:x}\r\n", chunk.len())?;
            w.write_all(chunk)?;
            w.write_all(b"\r\n")?;
        }
    }
    w.write_all(b"0\r\n\r\n")?;
    w.flush()
}

/// Writes a POST request with a `Content-Length` body.
pub fn write_post<W: Write>(
    w: &mut W,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    write_request(w, "POST", host, path, headers, body)
}

/// Writes a request with a `Content-Length` body (`0` for none).
pub fn write_request<W: Write>(
    w: &mut W,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_round_trip() {
        let mut out = Vec::new();
        let big = vec![b'x'; 200_000];
        write_chunked_response(&mut out, &[("a", "b")], &[b"data: ", &big, b"\n\n"]).unwrap();
        let msg = read_message(&mut &out[..], true).unwrap().unwrap();
        assert_eq!(msg.status(), 200);
        assert_eq!(msg.header("a"), Some("b"));
        assert_eq!(msg.body.len(), 6 + 200_000 + 2);
    }

    #[test]
    fn content_length_request() {
        let mut out = Vec::new();
        write_post(&mut out, "h", "/mcp", &[("x", "1")], b"{}").unwrap();
        let msg = read_message(&mut &out[..], false).unwrap().unwrap();
        assert_eq!(msg.method(), "POST");
        assert_eq!(msg.body, b"{}");
        assert!(read_message(&mut &b""[..], false).unwrap().is_none());
    }
}
