//! The one HTTP/1.1 test server of the integration tests: a scripted MCP
//! upstream for `tests/relay.rs` and `tests/soak.rs`, and the AWS endpoints
//! (STS, IAM Identity Center, IMDS, container credentials) for
//! `tests/credentials.rs`.
//!
//! Owns: [`Server`], a std-only HTTP/1.1 server on 127.0.0.1 (one thread per
//! connection, keep-alive, `transfer-encoding: chunked` or `content-length`
//! request bodies), over plain TCP or, with [`Server::start_tls`], over TLS
//! (rustls) with a certificate of a private CA the test made (`tls.rs`), whose handler closure turns each request into a [`Reply`] —
//! a whole body, or an SSE stream sent chunked or close-delimited that can be
//! slowed down, cut mid-event or held open — and which records every request it
//! saw, as [`Seen`], in order of arrival.
//! Refuses: waiting without a bound and listening beyond loopback. Every loop
//! has a deadline or a count, requests and connections are capped, and the
//! server stops when dropped.

use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tls::TestCa;

// ---------------------------------------------------------------------------
// What the server saw
// ---------------------------------------------------------------------------

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Position in the server's log (0 for the first request).
    pub index: usize,
    /// `GET`, `POST`, `DELETE`, …
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// Headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// When the request head and body had arrived.
    pub at: Instant,
    /// Which TCP connection it came on (1 for the server's first).
    pub connection: usize,
}

impl Seen {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as an `application/x-www-form-urlencoded` form (STS queries).
    pub fn form(&self) -> BTreeMap<String, String> {
        self.text()
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (form_decode(k), form_decode(v)))
            .collect()
    }
}

/// Decodes one `x-www-form-urlencoded` name or value (`+` is a space).
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// What the server answers
// ---------------------------------------------------------------------------

/// A condition a stream step waits for (polled).
pub type Condition = Arc<dyn Fn() -> bool + Send + Sync>;

/// One step of a streamed body.
#[derive(Clone)]
pub enum Step {
    /// Write these bytes (one chunk when chunked) and flush.
    Send(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Pause until the condition holds, at most the duration.
    WaitUntil(Condition, Duration),
}

/// How a streamed body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// End the body properly (terminal chunk; or close for a close-delimited body).
    Finish,
    /// Close the connection without ending the body (mid-stream cut).
    Cut,
    /// Send nothing more for this long (noticing if the client closes the
    /// connection), then end the body properly.
    Hold(Duration),
}

enum Body {
    Full(Vec<u8>),
    /// No answer at all for this long (noticing a close), then close.
    Silent(Duration),
    Stream {
        steps: Vec<Step>,
        end: End,
        framing: Framing,
    },
}

/// How a streamed body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// `transfer-encoding: chunked`.
    Chunked,
    /// Ended by closing the connection.
    Close,
    /// `content-length` announces this many bytes (the steps may send fewer).
    Length(usize),
}

/// An HTTP answer.
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Reply {
    /// A status with an empty body.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Full(Vec::new()),
        }
    }

    /// No answer at all, not even a status line, for `ms`; then the
    /// connection is closed.
    pub fn silent(ms: u64) -> Self {
        Reply {
            status: 0,
            headers: Vec::new(),
            body: Body::Silent(Duration::from_millis(ms)),
        }
    }

    /// `202 Accepted`, no body.
    pub fn accepted() -> Self {
        Reply::status(202)
    }

    /// A whole body with a content type.
    pub fn body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Body::Full(body.into()),
        }
    }

    /// `status` with an `application/json` body.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::body(status, "application/json", body)
    }

    /// `200 text/event-stream`, built step by step.
    pub fn sse() -> SseBuilder {
        Reply::streamed("text/event-stream")
    }

    /// `200` with a body of `content_type` sent step by step (chunked unless
    /// told otherwise), e.g. a JSON body that trickles in.
    pub fn streamed(content_type: &str) -> SseBuilder {
        SseBuilder {
            headers: Vec::new(),
            steps: Vec::new(),
            framing: Framing::Chunked,
            content_type: content_type.to_owned(),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Builds an SSE [`Reply`].
pub struct SseBuilder {
    headers: Vec<(String, String)>,
    steps: Vec<Step>,
    framing: Framing,
    content_type: String,
}

impl SseBuilder {
    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the body without chunking, ended by closing the connection.
    pub fn close_delimited(mut self) -> Self {
        self.framing = Framing::Close;
        self
    }

    /// Announces a `content-length` of `n` bytes instead of chunking (the
    /// steps may send fewer, then [`cut`](Self::cut)).
    pub fn content_length(mut self, n: usize) -> Self {
        self.framing = Framing::Length(n);
        self
    }

    /// Sends raw bytes.
    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        self.steps.push(Step::Send(bytes.to_vec()));
        self
    }

    /// Sends `bytes` one byte at a time, `ms` apart.
    pub fn trickle(mut self, bytes: &[u8], ms: u64) -> Self {
        for b in bytes {
            self.steps.push(Step::Send(vec![*b]));
            self.steps.push(Step::Sleep(Duration::from_millis(ms)));
        }
        self
    }

    /// Sends raw SSE text.
    pub fn raw(mut self, text: &str) -> Self {
        self.steps.push(Step::Send(text.as_bytes().to_vec()));
        self
    }

    /// Pauses.
    pub fn sleep(mut self, ms: u64) -> Self {
        self.steps.push(Step::Sleep(Duration::from_millis(ms)));
        self
    }

    /// Pauses until `cond` holds, at most `max`.
    pub fn wait_until(mut self, cond: Condition, max: Duration) -> Self {
        self.steps.push(Step::WaitUntil(cond, max));
        self
    }

    fn end(self, end: End) -> Reply {
        let mut headers = vec![
            ("content-type".to_owned(), self.content_type),
            ("cache-control".to_owned(), "no-cache".to_owned()),
        ];
        headers.extend(self.headers);
        Reply {
            status: 200,
            headers,
            body: Body::Stream {
                steps: self.steps,
                end,
                framing: self.framing,
            },
        }
    }

    /// Ends the stream properly.
    pub fn finish(self) -> Reply {
        self.end(End::Finish)
    }

    /// Closes the connection without ending the stream.
    pub fn cut(self) -> Reply {
        self.end(End::Cut)
    }

    /// Holds the stream open, silent, for `ms`, then ends it.
    pub fn hold(self, ms: u64) -> Reply {
        self.end(End::Hold(Duration::from_millis(ms)))
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// The longest a connection may sit idle between requests.
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// Requests served on one connection at most.
const MAX_REQUESTS_PER_CONNECTION: usize = 1000;
/// Connections open at once at most (a long run, `tests/soak.rs`, opens
/// thousands one after another: every tool call has a connection of its own).
const MAX_CONNECTIONS: usize = 500;
/// The largest request head or body accepted.
const MAX_REQUEST_BYTES: usize = 16 << 20;
/// Socket poll interval.
pub const POLL: Duration = Duration::from_millis(20);

/// One accepted connection: plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
        }
    }

    fn shutdown(&mut self) {
        if let Stream::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.conn.complete_io(&mut t.sock);
        }
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

struct State {
    handler: Handler,
    /// TLS, when the server speaks it.
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: AtomicBool,
    log: Mutex<Vec<Seen>>,
    /// Indexes of requests whose held stream the client closed.
    closed: Mutex<Vec<usize>>,
    connections: AtomicUsize,
    /// Connections accepted so far.
    opened: AtomicUsize,
}

/// A scripted HTTP/1.1 server on 127.0.0.1; stops when dropped.
pub struct Server {
    port: u16,
    scheme: &'static str,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Server {
    /// Starts a server that answers every request with `handler(request)`.
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        Server::start_with(None, handler)
    }

    /// As [`start`](Self::start), over TLS with `ca`'s certificate for
    /// 127.0.0.1; [`base`](Self::base) is then `https://127.0.0.1:<port>`.
    pub fn start_tls(
        ca: &TestCa,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Server::start_with(Some(ca.server_config()), handler)
    }

    fn start_with(
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(State {
            handler: Arc::new(handler),
            tls,
            stop: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            closed: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            opened: AtomicUsize::new(0),
        });
        let workers: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let state = Arc::clone(&state);
            let workers = Arc::clone(&workers);
            std::thread::spawn(move || accept_loop(&listener, &state, &workers))
        };
        Server {
            port,
            scheme,
            state,
            accept: Some(accept),
            workers,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>` (`https://…` over TLS).
    pub fn base(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// `http://127.0.0.1:<port>/mcp`.
    pub fn url(&self) -> String {
        format!("{}/mcp", self.base())
    }

    /// How many TCP connections the server accepted so far.
    pub fn connections_opened(&self) -> usize {
        self.state.opened.load(Ordering::Acquire)
    }

    /// Every request seen so far, in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.log.lock().unwrap().clone()
    }

    /// The requests that match `pred`.
    pub fn matching(&self, pred: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        self.requests().into_iter().filter(|s| pred(s)).collect()
    }

    /// Waits up to `timeout` for a request matching `pred`.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Seen) -> bool) -> Option<Seen> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(s) = self.requests().into_iter().find(|s| pred(s)) {
                return Some(s);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits up to `timeout` for the client to close the held stream that
    /// answered request `index`.
    pub fn wait_client_closed(&self, index: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if self.state.closed.lock().unwrap().contains(&index) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- test server log ---");
            for s in self.requests() {
                eprintln!(
                    "#{} {} {} session={:?} {}",
                    s.index,
                    s.method,
                    s.target,
                    s.header("mcp-session-id"),
                    s.text()
                );
            }
            eprintln!("--- end ---");
        }
        self.state.stop.store(true, Ordering::Release);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        let workers = std::mem::take(&mut *self.workers.lock().unwrap());
        for w in workers {
            let _ = w.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>, workers: &Mutex<Vec<JoinHandle<()>>>) {
    while !state.stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                if state.connections.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                    state.connections.fetch_sub(1, Ordering::AcqRel);
                    drop(stream);
                    continue;
                }
                let state = Arc::clone(state);
                let number = state.opened.fetch_add(1, Ordering::AcqRel) + 1;
                let handle = std::thread::spawn(move || {
                    serve(stream, &state, number);
                    state.connections.fetch_sub(1, Ordering::AcqRel);
                });
                let mut workers = workers.lock().unwrap();
                // Threads that ended need no join at drop.
                workers.retain(|w| !w.is_finished());
                workers.push(handle);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Reads more bytes into `buf`; `Ok(false)` at end of stream. Gives up (error)
/// when stopping or after `deadline`.
fn fill(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    state: &State,
    deadline: Instant,
) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 << 10];
    loop {
        if state.stop.load(Ordering::Acquire) || Instant::now() >= deadline {
            return Err(ErrorKind::TimedOut.into());
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_REQUEST_BYTES {
                    return Err(ErrorKind::InvalidData.into());
                }
                return Ok(true);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request from the connection (`None`: closed, stopped, idle or bad).
fn read_request(stream: &mut Stream, buf: &mut Vec<u8>, state: &State) -> Option<Seen> {
    let deadline = Instant::now() + IDLE_LIMIT;
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p;
        }
        if !fill(stream, buf, state, deadline).ok()? {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let get = |n: &str| headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone());
    let body = if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n") {
                    break p;
                }
                if !fill(stream, buf, state, deadline).ok()? {
                    return None;
                }
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                if !fill(stream, buf, state, deadline).ok()? {
                    return None;
                }
            }
            body.extend_from_slice(&buf[..size]);
            buf.drain(..size + 2);
            if size == 0 {
                break;
            }
            if body.len() > MAX_REQUEST_BYTES {
                return None;
            }
        }
        body
    } else {
        let n: usize = get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if n > MAX_REQUEST_BYTES {
            return None;
        }
        while buf.len() < n {
            if !fill(stream, buf, state, deadline).ok()? {
                return None;
            }
        }
        buf.drain(..n).collect()
    };
    Some(Seen {
        index: 0,
        method,
        target,
        headers,
        body,
        at: Instant::now(),
        connection: 0,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Sleeps `d` in small steps; false when the server is stopping.
fn nap(state: &State, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if state.stop.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep(POLL.min(end - Instant::now()));
    }
    true
}

/// Waits up to `d` for the client to close the connection; true when it did.
fn watch_close(stream: &mut Stream, state: &State, d: Duration) -> bool {
    let end = Instant::now() + d;
    let mut scratch = [0u8; 1024];
    while Instant::now() < end && !state.stop.load(Ordering::Acquire) {
        match stream.read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    false
}

/// Serves one connection; every loop is bounded.
fn serve(tcp: TcpStream, state: &State, number: usize) {
    let _ = tcp.set_read_timeout(Some(POLL));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = tcp.set_nodelay(true);
    let mut stream = match &state.tls {
        None => Stream::Plain(tcp),
        Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
            Ok(conn) => Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))),
            Err(_) => return,
        },
    };
    let mut buf = Vec::new();
    for n in 1..=MAX_REQUESTS_PER_CONNECTION {
        let Some(mut seen) = read_request(&mut stream, &mut buf, state) else {
            return;
        };
        seen.connection = number;
        let index = {
            let mut log = state.log.lock().unwrap();
            seen.index = log.len();
            log.push(seen.clone());
            seen.index
        };
        let mut reply = (state.handler)(&seen);
        if n == MAX_REQUESTS_PER_CONNECTION {
            // Say so, so that a client does not reuse a connection about to close.
            reply = reply.header("connection", "close");
        }
        match write_reply(&mut stream, state, index, reply) {
            Ok(true) => {}
            _ => {
                stream.shutdown();
                return;
            }
        }
    }
}

/// Writes `reply`; `Ok(true)` when the connection may serve another request.
fn write_reply(
    stream: &mut Stream,
    state: &State,
    index: usize,
    reply: Reply,
) -> std::io::Result<bool> {
    if let Body::Silent(d) = reply.body {
        if watch_close(stream, state, d) {
            state.closed.lock().unwrap().push(index);
        }
        return Ok(false);
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    match reply.body {
        Body::Silent(_) => Ok(false),
        Body::Full(body) => {
            head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body)?;
            stream.flush()?;
            Ok(true)
        }
        Body::Stream {
            steps,
            end,
            framing,
        } => {
            let chunked = framing == Framing::Chunked;
            match framing {
                Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n\r\n"),
                Framing::Close => head.push_str("connection: close\r\n\r\n"),
                Framing::Length(n) => head.push_str(&format!("content-length: {n}\r\n\r\n")),
            }
            stream.write_all(head.as_bytes())?;
            stream.flush()?;
            let mut queue: VecDeque<Step> = steps.into();
            while let Some(step) = queue.pop_front() {
                match step {
                    Step::Send(bytes) => {
                        let sent = if chunked {
                            let mut chunk = format!("{:x}\r\n", bytes.len()).into_bytes();
                            chunk.extend_from_slice(&bytes);
                            chunk.extend_from_slice(b"\r\n");
                            stream.write_all(&chunk)
                        } else {
                            stream.write_all(&bytes)
                        };
                        if sent.and_then(|()| stream.flush()).is_err() {
                            state.closed.lock().unwrap().push(index);
                            return Ok(false);
                        }
                    }
                    Step::Sleep(d) => {
                        if !nap(state, d) {
                            return Ok(false);
                        }
                    }
                    Step::WaitUntil(cond, max) => {
                        let end = Instant::now() + max;
                        while !cond() && Instant::now() < end {
                            if !nap(state, POLL) {
                                return Ok(false);
                            }
                        }
                    }
                }
            }
            match end {
                End::Cut => Ok(false),
                End::Hold(d) => {
                    if watch_close(stream, state, d) {
                        state.closed.lock().unwrap().push(index);
                        return Ok(false);
                    }
                    if chunked {
                        stream.write_all(b"0\r\n\r\n")?;
                        stream.flush()?;
                        Ok(true)
                    } else {
                        Ok(false)
                    }
                }
                End::Finish => {
                    if chunked {
                        stream.write_all(b"0\r\n\r\n")?;
                        stream.flush()?;
                        Ok(true)
                    } else {
                        Ok(false)
                    }
                }
            }
        }
    }
}

/// A flag a handler can raise and a stream step can wait for.
pub fn flag() -> (Arc<AtomicBool>, Condition) {
    let f = Arc::new(AtomicBool::new(false));
    let c = Arc::clone(&f);
    (f, Arc::new(move || c.load(Ordering::Acquire)))
}

/// Waits (in a handler, say) until `cond` holds, at most `max`; true when it
/// held.
pub fn wait_for_flag(cond: &Condition, max: Duration) -> bool {
    let end = Instant::now() + max;
    while !cond() {
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().expect("local address").port()
}
