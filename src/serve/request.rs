//! A request head from the bytes a client sent, and what to do with its body.
//!
//! Owns: [`parse`] (httparse over a fixed header array, bounded in bytes) into
//! a [`Head`] holding only the headers `serve` reads, and [`body_length`].
//! Pure: no I/O, fuzzed (`fuzz/fuzz_targets/serve_request.rs`).
//! Refuses: chunked request bodies (411: MCP clients send a Content-Length),
//! a request with both Content-Length and Transfer-Encoding, and a repeated
//! header that decides something (the request smuggling and confusion
//! shapes of RFC 9112 §6.3).

/// The most headers one request may carry; more is answered 431.
pub const MAX_HEADERS: usize = 64;

/// The request method, as far as `serve` tells them apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
    /// Anything else (answered 405).
    #[default]
    Other,
}

/// One request head: the method, the path (without the query) and the
/// headers `serve` reads, each at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// The method.
    pub method: Method,
    /// The path without its query, e.g. `/mcp`.
    pub path: String,
    /// The head's length in bytes, up to and including the blank line.
    pub len: usize,
    /// HTTP/1.0, or `Connection: close`: the connection ends after the answer.
    pub close: bool,
    /// `Accept`.
    pub accept: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Length`, when valid.
    pub content_length: Option<u64>,
    /// A `Transfer-Encoding` header was present.
    pub transfer_encoding: bool,
    /// `Host`.
    pub host: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `Authorization`.
    pub authorization: Option<String>,
    /// `Mcp-Session-Id`.
    pub session_id: Option<String>,
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<String>,
    /// `Mcp-Method` (2026-07-28).
    pub mcp_method: Option<String>,
    /// `Mcp-Name` (2026-07-28), as sent (the sentinel not decoded).
    pub mcp_name: Option<String>,
}

/// What the bytes read so far hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole head yet (and within the bound): read more.
    Partial,
    /// A whole head.
    Head(Box<Head>),
    /// Refused with this HTTP status: 400 (malformed), 431 (too large or too
    /// many headers), 505 (not HTTP/1.x).
    Refused(u16),
}

/// Reads a request head from the start of `buf`, at most `max_head` bytes.
/// Only the first `max_head + 1` bytes are looked at, so the answer is the
/// one a connection reading in steps reaches first, and the work is bounded.
pub fn parse(buf: &[u8], max_head: usize) -> Parsed {
    let buf = &buf[..buf.len().min(max_head.saturating_add(1))];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= max_head => len,
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Refused(431);
        }
        Ok(httparse::Status::Partial) if buf.len() > max_head => return Parsed::Refused(431),
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::Version) => return Parsed::Refused(505),
        Err(_) => return Parsed::Refused(400),
    };
    let mut head = Head {
        len,
        method: match req.method.unwrap_or_default() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            _ => Method::Other,
        },
        path: req
            .path
            .unwrap_or_default()
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_owned(),
        close: req.version == Some(0),
        ..Head::default()
    };
    for h in req.headers.iter() {
        let Ok(value) = std::str::from_utf8(h.value) else {
            return Parsed::Refused(400);
        };
        let value = value.trim();
        let name = h.name.to_ascii_lowercase();
        let slot = match name.as_str() {
            "accept" => {
                // Several Accept headers are one list (RFC 9110 §5.3).
                match &mut head.accept {
                    Some(a) => {
                        a.push_str(", ");
                        a.push_str(value);
                    }
                    None => head.accept = Some(value.to_owned()),
                }
                continue;
            }
            "connection" => {
                if value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("close"))
                {
                    head.close = true;
                }
                continue;
            }
            "transfer-encoding" => {
                head.transfer_encoding = true;
                continue;
            }
            "content-length" => {
                // Digits only: no sign, no list (RFC 9110 §8.6).
                let n = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<u64>().ok())
                    .flatten();
                match (n, head.content_length) {
                    (Some(n), None) => head.content_length = Some(n),
                    _ => return Parsed::Refused(400),
                }
                continue;
            }
            "content-type" => &mut head.content_type,
            "host" => &mut head.host,
            "origin" => &mut head.origin,
            "authorization" => &mut head.authorization,
            "mcp-session-id" => &mut head.session_id,
            "mcp-protocol-version" => &mut head.protocol_version,
            "mcp-method" => &mut head.mcp_method,
            "mcp-name" => &mut head.mcp_name,
            _ => continue,
        };
        if slot.is_some() {
            return Parsed::Refused(400);
        }
        *slot = Some(value.to_owned());
    }
    if head.transfer_encoding && head.content_length.is_some() {
        return Parsed::Refused(400);
    }
    Parsed::Head(Box::new(head))
}

/// The body's length in bytes, or the status that refuses it: 411 for a
/// chunked body (or a POST without a length), 413 past `max_body`.
/// A GET or DELETE without a length has none.
pub fn body_length(head: &Head, max_body: u64) -> Result<u64, u16> {
    match head.content_length {
        _ if head.transfer_encoding => Err(411),
        Some(n) if n > max_body => Err(413),
        Some(n) => Ok(n),
        None if head.method == Method::Post => Err(411),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        match parse(text.as_bytes(), 8192) {
            Parsed::Head(h) => *h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_the_headers_serve_uses() {
        let h = head(
            "POST /mcp?x=1 HTTP/1.1\r\nHost: localhost:3000\r\nAccept: application/json\r\naccept: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: 12\r\nMcp-Session-Id: abc\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n{}",
        );
        assert_eq!(h.method, Method::Post);
        assert_eq!(h.path, "/mcp");
        assert_eq!(
            h.accept.as_deref(),
            Some("application/json, text/event-stream")
        );
        assert_eq!(h.content_length, Some(12));
        assert_eq!(h.session_id.as_deref(), Some("abc"));
        assert_eq!(h.protocol_version.as_deref(), Some("2025-11-25"));
        assert!(!h.close);
        assert_eq!(body_length(&h, 100), Ok(12));
        assert_eq!(body_length(&h, 11), Err(413));
    }

    #[test]
    fn refuses_ambiguous_or_oversized_heads() {
        let bad = |t: &str| parse(t.as_bytes(), 256);
        assert_eq!(bad("GET / HTTP/1.1\r\nHost: a"), Parsed::Partial);
        assert_eq!(
            bad(&format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(300))),
            Parsed::Refused(431)
        );
        assert_eq!(
            bad(&format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(300))),
            Parsed::Refused(431)
        );
        for t in [
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nOrigin: a\r\nOrigin: b\r\n\r\n",
            "GET\x01 / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(bad(t), Parsed::Refused(400), "{t:?}");
        }
        let h = head("POST /mcp HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(h.close);
        assert_eq!(body_length(&h, 100), Err(411));
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("X{i}: 1\r\n"))
            .collect();
        assert_eq!(
            parse(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), 1 << 20),
            Parsed::Refused(431)
        );
    }
}
