//! One connection's life: read a request head within `--request-timeout`,
//! check who is asking, read the body, route it, and go round again while the
//! connection is kept alive (HTTP/1.1, RFC 9112 §9.3).
//!
//! Owns: the time and size bounds of reading a request (408, 411, 413, 431),
//! the `Host`, `Origin` and token checks (403, 401) before a body is read,
//! and `/healthz` and `/readyz`.
//! Refuses: reading a body it will not use; a refused request ends the
//! connection, after a bounded read of what the client still sends, so that
//! it reads the refusal (`linger`).

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::listen::{Listen, Stream};
use super::request::{self, Head, Method, Parsed};
use super::response::Done;
use super::{Server, guard, mcp, response};

/// The longest one write may wait for a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// After a refusal, the longest time and the most bytes [`linger`] reads and
/// drops while the client still sends.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;

enum HeadRead {
    Head(Box<Head>, Instant),
    Refused(u16),
    Closed,
}

/// Serves requests on `stream` until the client closes it, a bound is
/// passed, or the server stops.
pub(super) fn serve(server: &Server, mut stream: Stream) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut buf = Vec::with_capacity(4096);
    let mut first = true;
    loop {
        let (head, deadline) = match read_head(server, &mut stream, &mut buf, first) {
            HeadRead::Head(head, deadline) => (head, deadline),
            HeadRead::Closed => return,
            HeadRead::Refused(code) => {
                log::debug!("a request refused: {code} {}", response::reason(code));
                if response::text(&mut stream, code, response::reason(code), true).is_ok() {
                    linger(&mut stream);
                }
                return;
            }
        };
        first = false;
        let start = Instant::now();
        let done = match answer(server, &mut stream, &head, &mut buf, deadline) {
            Ok(done) => done,
            Err(e) => {
                log::debug!(
                    "{:?} {}: the connection failed: {e}",
                    head.method,
                    head.path
                );
                return;
            }
        };
        log::debug!(
            "{:?} {} -> {} in {} ms",
            head.method,
            head.path,
            done.status,
            start.elapsed().as_millis()
        );
        if !done.keep {
            // A refusal: the body, or part of it, was not read.
            linger(&mut stream);
            return;
        }
        if head.close || server.stopping.load(Ordering::Acquire) {
            return;
        }
    }
}

/// Closes after a refusal without losing it. Closing a socket with unread
/// bytes makes the kernel send a reset, and a client still sending its body
/// then gets ECONNRESET and may never read the status. So, as RFC 9112 §9.6
/// describes ("servers typically close a connection in stages"): end our
/// half, then read and drop what still comes until the client closes, for at
/// most [`LINGER`] and [`LINGER_BYTES`].
fn linger(stream: &mut Stream) {
    if stream.shutdown_write().is_err() {
        return;
    }
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 16 * 1024];
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(n) => dropped += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Reads until `buf` starts with a whole head. The first request may take
/// `--request-timeout` to arrive; later ones `--keep-alive`, and then
/// `--request-timeout` from their first byte.
fn read_head(server: &Server, stream: &mut Stream, buf: &mut Vec<u8>, first: bool) -> HeadRead {
    let o = &server.options;
    let mut deadline = (!buf.is_empty()).then(|| Instant::now() + o.request_timeout);
    let idle_until = Instant::now()
        + if first {
            o.request_timeout
        } else {
            o.keep_alive
        };
    let mut chunk = [0u8; 4096];
    let mut parse = !buf.is_empty();
    loop {
        if parse {
            match request::parse(buf, o.max_head) {
                Parsed::Head(head, ..) => {
                    let deadline = deadline.unwrap_or_else(|| Instant::now() + o.request_timeout);
                    return HeadRead::Head(head, deadline);
                }
                Parsed::Refused(code) => return HeadRead::Refused(code),
                Parsed::Partial => {}
            }
        }
        let until = deadline.unwrap_or(idle_until);
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return if buf.is_empty() {
                HeadRead::Closed
            } else {
                HeadRead::Refused(408)
            };
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            return HeadRead::Closed;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return HeadRead::Closed,
            Ok(n) => {
                deadline.get_or_insert_with(|| Instant::now() + o.request_timeout);
                buf.extend_from_slice(&chunk[..n]);
                // A head ends with a line feed: parse again only when one came.
                parse = chunk[..n].contains(&b'\n') || buf.len() > o.max_head;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                parse = false;
            }
            Err(_) => return HeadRead::Closed,
        }
    }
}

/// Reads the body (`len` bytes after the head in `buf`) by `deadline`; the
/// bytes after it stay in `buf` for the next request.
fn read_body(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    head_len: usize,
    len: usize,
    deadline: Instant,
) -> Result<Vec<u8>, u16> {
    buf.drain(..head_len);
    let mut chunk = [0u8; 8192];
    while buf.len() < len {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(408);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(400),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return Err(400),
        }
    }
    let rest = buf.split_off(len);
    Ok(std::mem::replace(buf, rest))
}

/// Checks and answers one request.
fn answer(
    server: &Server,
    stream: &mut Stream,
    head: &Head,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> std::io::Result<Done> {
    let o = &server.options;
    if server.stopping.load(Ordering::Acquire) {
        response::text(stream, 503, "shutting down", true)?;
        return Ok(Done::close(503));
    }
    // DNS rebinding: a page elsewhere whose name now points here.
    let host_checked = matches!(o.listen, Listen::Tcp(a) if a.ip().is_loopback());
    if host_checked
        && head
            .host
            .as_deref()
            .is_some_and(|h| !guard::loopback_host(h))
    {
        response::rpc_error(
            stream,
            403,
            -32600,
            "Forbidden: the Host header is not a loopback name",
            true,
        )?;
        return Ok(Done::close(403));
    }
    if head
        .origin
        .as_deref()
        .is_some_and(|h| !guard::loopback_origin(h))
    {
        response::rpc_error(
            stream,
            403,
            -32600,
            "Forbidden: the Origin header is not a loopback origin",
            true,
        )?;
        return Ok(Done::close(403));
    }
    let probe = matches!(head.path.as_str(), "/healthz" | "/readyz");
    if let Some(token) = &o.token
        && !probe
        && !guard::bearer_matches(token, head.authorization.as_deref())
    {
        let headers = [
            ("WWW-Authenticate", "Bearer"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ];
        let body = b"this server needs Authorization: Bearer <the token in its --token-file>\n";
        response::write(stream, 401, &headers, body, true)?;
        return Ok(Done::close(401));
    }
    let len = match request::body_length(head, o.max_body) {
        Ok(len) => usize::try_from(len).unwrap_or(usize::MAX),
        Err(code) => {
            let text = match code {
                413 => format!(
                    "the body is larger than {} bytes (--max-body-bytes)",
                    o.max_body
                ),
                _ => "a body needs a Content-Length (chunked bodies are not read)".into(),
            };
            response::text(stream, code, &text, true)?;
            return Ok(Done::close(code));
        }
    };
    // RFC 9110 §10.1.1: a client that asked waits for 100 before it sends
    // the body (curl, a second or more), and nothing above refused it.
    if head.expect_continue && buf.len() < head.len.saturating_add(len) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        stream.flush()?;
    }
    let body = match read_body(stream, buf, head.len, len, deadline) {
        Ok(body) => body,
        Err(code) => {
            let _ = response::text(
                stream,
                code,
                "the body did not arrive in time (--request-timeout)",
                true,
            );
            return Ok(Done::close(code));
        }
    };
    // A HEAD is answered as any other method on its path, without the body.
    let mut head_only;
    let stream: &mut dyn Write = if head.head_only {
        head_only = response::HeadOnly::new(stream);
        &mut head_only
    } else {
        stream
    };
    match (head.path.as_str(), head.method) {
        ("/mcp", _) => mcp::handle(server, stream, head, body),
        ("/healthz", Method::Get) => {
            response::text(stream, 200, "ok", false)?;
            Ok(Done::keep(200))
        }
        ("/readyz", Method::Get) => match server.backend.ready() {
            Ok(()) => {
                response::text(stream, 200, "ready", false)?;
                Ok(Done::keep(200))
            }
            Err(reason) => {
                // The reason names hosts, files and variables: with a token,
                // only a request that carries it reads it (probes need no
                // token, and get the status alone).
                let authorized = o
                    .token
                    .as_ref()
                    .is_none_or(|t| guard::bearer_matches(t, head.authorization.as_deref()));
                let text = if authorized {
                    format!("not ready: {reason}")
                } else {
                    log::debug!("not ready: {reason}");
                    "not ready (send the bearer token to read why, or see the log at debug)"
                        .to_owned()
                };
                response::text(stream, 503, &text, false)?;
                Ok(Done::keep(503))
            }
        },
        ("/healthz" | "/readyz", _) => {
            response::write(stream, 405, &[("Allow", "GET")], b"", false)?;
            Ok(Done::keep(405))
        }
        _ => {
            response::text(stream, 404, "not found: the MCP endpoint is /mcp", false)?;
            Ok(Done::keep(404))
        }
    }
}
