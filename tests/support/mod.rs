//! Harness for the black-box relay tests (`tests/relay.rs`): a scripted MCP
//! upstream and a driver for the built `mcp-sigv4` binary.
//!
//! Owns: [`Upstream`], a std-only HTTP/1.1 server on 127.0.0.1 (one thread per
//! connection, keep-alive) whose handler closure turns each request into a
//! [`Reply`] — a whole body, or an SSE stream sent chunked or close-delimited
//! that can be slowed down, cut mid-event or held open — and which records every
//! request it saw; and [`Proxy`], the binary started with environment
//! credentials and nothing else from the caller's environment, with stdin
//! written line by line and stdout read through a channel with timeouts.
//! Refuses: waiting without a bound. Every loop has a deadline or a count, the
//! server stops when dropped, and the proxy is killed when dropped.

#![allow(dead_code)] // not every test uses every helper

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The access key id the proxy signs with.
pub const AKID: &str = "AKIAIOSFODNN7RELAYXX";
/// The secret key: must never appear on stderr.
pub const SECRET_KEY: &str = "relayTestSecretKey/K7MDENG+bPxRfiCYzz9Q";
/// The session token: must never appear on stderr.
pub const SESSION_TOKEN: &str = "RelayTestSessionToken/IQoJb3JpZ2luX2VjEJr+secret==";
/// The MCP session id [`standard_reply`] issues: must never appear whole on stderr.
pub const SESSION_ID: &str = "sess-4f2a9c1e7b3d46a8b0c2d9e8f7a6b5c4";
/// The protocol version [`standard_reply`] negotiates.
pub const LEGACY_VERSION: &str = "2025-06-18";

/// How long a test waits for one stdout line before it fails.
pub const LINE_WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// What the upstream saw
// ---------------------------------------------------------------------------

/// One request as the upstream saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Position in the upstream's log (0 for the first request).
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

    /// The JSON-RPC `method` of a single-message body.
    pub fn rpc_method(&self) -> Option<String> {
        self.json()?.get("method")?.as_str().map(str::to_owned)
    }

    /// The JSON-RPC `id` of a single-message body.
    pub fn rpc_id(&self) -> Option<Value> {
        self.json()?.get("id").cloned()
    }

    /// A POST whose single JSON-RPC message has method `m`.
    pub fn is_rpc(&self, m: &str) -> bool {
        self.method == "POST" && self.rpc_method().as_deref() == Some(m)
    }

    /// The `SignedHeaders` list of the `authorization` header.
    pub fn signed_headers(&self) -> Vec<String> {
        let auth = self.header("authorization").unwrap_or("");
        auth.split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("SignedHeaders="))
            .map(|l| l.split(';').map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// Panics unless `seen` carries a SigV4 `authorization` header for
/// [`AKID`]/…/`region`/`service`/aws4_request whose `SignedHeaders` include
/// `host` and `x-amz-date` (the interop suite checks the signature itself).
pub fn assert_signed(seen: &Seen, service: &str, region: &str) {
    let what = format!("{} {} (request #{})", seen.method, seen.target, seen.index);
    let auth = seen
        .header("authorization")
        .unwrap_or_else(|| panic!("{what}: no authorization header"));
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 "),
        "{what}: expected a SigV4 authorization, found {auth:?}"
    );
    let credential = auth
        .split([' ', ','])
        .find_map(|p| p.strip_prefix("Credential="))
        .unwrap_or_else(|| panic!("{what}: no Credential= in {auth:?}"));
    let parts: Vec<&str> = credential.split('/').collect();
    assert_eq!(parts.len(), 5, "{what}: credential scope {credential:?}");
    assert_eq!(parts[0], AKID, "{what}: access key id");
    assert!(
        parts[1].len() == 8 && parts[1].bytes().all(|b| b.is_ascii_digit()),
        "{what}: scope date {credential:?}"
    );
    assert_eq!(
        &parts[2..],
        [region, service, "aws4_request"],
        "{what}: scope {credential:?}"
    );
    let signed = seen.signed_headers();
    for h in ["host", "x-amz-date"] {
        assert!(
            signed.iter().any(|s| s == h),
            "{what}: SignedHeaders {signed:?} lacks {h}"
        );
    }
    assert!(seen.header("x-amz-date").is_some(), "{what}: no x-amz-date");
    assert!(
        auth.contains("Signature="),
        "{what}: no Signature= in {auth:?}"
    );
}

// ---------------------------------------------------------------------------
// What the upstream answers
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
        chunked: bool,
    },
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

    /// `200` with a JSON-RPC result for request `id`.
    pub fn result(id: &Value, result: Value) -> Self {
        Reply::json(200, rpc_result(id, result))
    }

    /// `200 text/event-stream`, built step by step.
    pub fn sse() -> SseBuilder {
        SseBuilder {
            headers: Vec::new(),
            steps: Vec::new(),
            chunked: true,
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
    chunked: bool,
}

impl SseBuilder {
    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the body without chunking, ended by closing the connection.
    pub fn close_delimited(mut self) -> Self {
        self.chunked = false;
        self
    }

    /// Sends raw SSE text.
    pub fn raw(mut self, text: &str) -> Self {
        self.steps.push(Step::Send(text.as_bytes().to_vec()));
        self
    }

    /// Sends one `message` event whose data is `json` (one `data:` line per line).
    pub fn message(self, json: &str) -> Self {
        let text = sse_event(json);
        self.raw(&text)
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
            ("content-type".to_owned(), "text/event-stream".to_owned()),
            ("cache-control".to_owned(), "no-cache".to_owned()),
        ];
        headers.extend(self.headers);
        Reply {
            status: 200,
            headers,
            body: Body::Stream {
                steps: self.steps,
                end,
                chunked: self.chunked,
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

/// One SSE `message` event carrying `json` (split into `data:` lines).
pub fn sse_event(json: &str) -> String {
    let mut out = String::from("event: message\n");
    for line in json.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`.
pub fn rpc_result(id: &Value, result: Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"result":result}).to_string()
}

/// `{"jsonrpc":"2.0","id":…,"error":{"code":…,"message":…}}`.
pub fn rpc_error(id: &Value, code: i64, message: &str) -> String {
    json!({"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message}}).to_string()
}

/// What a plain 2025-06-18 MCP server answers: `initialize` with
/// [`LEGACY_VERSION`] and the session id [`SESSION_ID`]; notifications and
/// responses with 202; `GET` with 405; `DELETE` with 200; any other request with
/// the result `{"method": <its method>}`.
pub fn standard_reply(seen: &Seen) -> Reply {
    match seen.method.as_str() {
        "GET" => return Reply::status(405).header("allow", "POST, DELETE"),
        "DELETE" => return Reply::status(200),
        "POST" => {}
        _ => return Reply::status(405),
    }
    let Some(v) = seen.json() else {
        return Reply::json(
            400,
            rpc_error(&Value::Null, -32700, "Parse error").into_bytes(),
        );
    };
    if v.is_array() {
        return Reply::json(400, rpc_error(&Value::Null, -32600, "no batches here"));
    }
    let id = v.get("id").cloned();
    let method = v.get("method").and_then(Value::as_str);
    match (id, method) {
        (Some(id), Some("initialize")) => Reply::result(
            &id,
            json!({"protocolVersion": LEGACY_VERSION, "capabilities": {"tools": {"listChanged": true}},
                   "serverInfo": {"name": "scripted", "version": "1.0"}}),
        )
        .header("mcp-session-id", SESSION_ID),
        (Some(id), Some("ping")) => Reply::result(&id, json!({})),
        (Some(id), Some(m)) => Reply::result(&id, json!({ "method": m })),
        _ => Reply::accepted(),
    }
}

// ---------------------------------------------------------------------------
// The upstream server
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
const POLL: Duration = Duration::from_millis(20);

struct State {
    handler: Handler,
    stop: AtomicBool,
    log: Mutex<Vec<Seen>>,
    /// Indexes of requests whose held stream the client closed.
    closed: Mutex<Vec<usize>>,
    connections: AtomicUsize,
}

/// A scripted HTTP/1.1 server on 127.0.0.1; stops when dropped.
pub struct Upstream {
    port: u16,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Upstream {
    /// Starts a server that answers every request with `handler(request)`.
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(State {
            handler: Arc::new(handler),
            stop: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            closed: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let workers: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let state = Arc::clone(&state);
            let workers = Arc::clone(&workers);
            std::thread::spawn(move || accept_loop(&listener, &state, &workers))
        };
        Upstream {
            port,
            state,
            accept: Some(accept),
            workers,
        }
    }

    /// A server that answers like [`standard_reply`].
    pub fn standard() -> Self {
        Upstream::start(standard_reply)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>/mcp`.
    pub fn url(&self) -> String {
        format!("{}/mcp", self.base())
    }

    /// Every request seen so far, in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.log.lock().unwrap().clone()
    }

    /// The requests that match `pred`.
    pub fn matching(&self, pred: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        self.requests().into_iter().filter(|s| pred(s)).collect()
    }

    /// POSTs whose JSON-RPC method is `m`.
    pub fn rpc(&self, m: &str) -> Vec<Seen> {
        self.matching(|s| s.is_rpc(m))
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

    /// Panics unless every request so far is signed for `service` in us-east-1.
    pub fn assert_all_signed(&self, service: &str) {
        let all = self.requests();
        assert!(!all.is_empty(), "the upstream saw no request");
        for s in &all {
            assert_signed(s, service, "us-east-1");
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- upstream log ---");
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
                let handle = std::thread::spawn(move || {
                    serve(stream, &state);
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
    stream: &mut TcpStream,
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
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, state: &State) -> Option<Seen> {
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
fn watch_close(stream: &mut TcpStream, state: &State, d: Duration) -> bool {
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
fn serve(mut stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    for n in 1..=MAX_REQUESTS_PER_CONNECTION {
        let Some(mut seen) = read_request(&mut stream, &mut buf, state) else {
            return;
        };
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
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Writes `reply`; `Ok(true)` when the connection may serve another request.
fn write_reply(
    stream: &mut TcpStream,
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
            chunked,
        } => {
            if chunked {
                head.push_str("transfer-encoding: chunked\r\n\r\n");
            } else {
                head.push_str("connection: close\r\n\r\n");
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

// ---------------------------------------------------------------------------
// The proxy under test
// ---------------------------------------------------------------------------

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory.
    pub fn new() -> Self {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mcp-sigv4-relay-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How to start the proxy.
pub struct ProxyBuilder {
    url: String,
    args: Vec<String>,
    service: String,
    session_token: bool,
    read_stdout: bool,
}

impl ProxyBuilder {
    /// Adds command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Signs for `service` instead of `svc`.
    pub fn service(mut self, service: &str) -> Self {
        self.service = service.to_owned();
        self
    }

    /// Leaves `AWS_SESSION_TOKEN` unset.
    pub fn without_session_token(mut self) -> Self {
        self.session_token = false;
        self
    }

    /// Does not read stdout: the test takes it with [`Proxy::take_stdout`].
    pub fn no_stdout_reader(mut self) -> Self {
        self.read_stdout = false;
        self
    }

    /// Starts the proxy.
    pub fn start(self) -> Proxy {
        let home = TempDir::new();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-sigv4"));
        cmd.arg(&self.url)
            .args(["--service", &self.service, "--region", "us-east-1"])
            .args(["--log-level", "debug"])
            .args(&self.args)
            // Nothing from the caller's environment: no AWS_PROFILE, AWS_CONFIG_FILE,
            // AWS_REGION, HTTP(S)_PROXY or ALL_PROXY can change what is tested.
            .env_clear()
            .env("HOME", home.path())
            .env("AWS_ACCESS_KEY_ID", AKID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.session_token {
            cmd.env("AWS_SESSION_TOKEN", SESSION_TOKEN);
        }
        let mut child = cmd.spawn().expect("starting mcp-sigv4");
        let stdin = child.stdin.take();
        let stderr_pipe = child.stderr.take().expect("stderr pipe");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_thread = {
            let stderr = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut r = stderr_pipe;
                let mut chunk = [0u8; 8192];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    stderr.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            })
        };
        let (tx, lines) = channel();
        let mut stdout = child.stdout.take();
        let stdout_thread = if self.read_stdout {
            let pipe = stdout.take().expect("stdout pipe");
            Some(std::thread::spawn(move || {
                let mut r = BufReader::new(pipe);
                loop {
                    let mut line = Vec::new();
                    match r.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            let text = String::from_utf8_lossy(&line).into_owned();
                            if tx.send(text).is_err() {
                                break;
                            }
                        }
                    }
                }
            }))
        } else {
            drop(tx);
            None
        };
        Proxy {
            child,
            stdin,
            stdout,
            lines,
            stderr,
            threads: [Some(stderr_thread), stdout_thread],
            started: Instant::now(),
            _home: home,
        }
    }
}

/// The running `mcp-sigv4`; killed when dropped.
pub struct Proxy {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    threads: [Option<JoinHandle<()>>; 2],
    started: Instant,
    _home: TempDir,
}

impl Proxy {
    /// A builder for `mcp-sigv4 <url> --service svc --region us-east-1 --log-level debug`.
    pub fn builder(url: &str) -> ProxyBuilder {
        ProxyBuilder {
            url: url.to_owned(),
            args: Vec::new(),
            service: "svc".to_owned(),
            session_token: true,
            read_stdout: true,
        }
    }

    /// Starts the proxy for `url` with `args` added.
    pub fn start(url: &str, args: &[&str]) -> Self {
        Proxy::builder(url).args(args).start()
    }

    /// Writes one line (a `\n` is added).
    pub fn send(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send_raw(&bytes);
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(bytes)
            .expect("writing to the proxy's stdin");
        stdin.flush().expect("flushing the proxy's stdin");
    }

    /// Writes `value` as one compact line.
    pub fn send_json(&mut self, value: &Value) {
        self.send(&value.to_string());
    }

    /// The next stdout line, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// The next stdout line; fails the test (with the proxy's stderr) after
    /// [`LINE_WAIT`].
    pub fn recv(&self) -> String {
        self.recv_timeout(LINE_WAIT).unwrap_or_else(|| {
            panic!(
                "no stdout line within {LINE_WAIT:?}; stderr:\n{}",
                self.stderr()
            )
        })
    }

    /// The next stdout line as JSON.
    pub fn recv_json(&self) -> Value {
        let line = self.recv();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout line {line:?}: {e}"))
    }

    /// Panics if a stdout line arrives within `d`.
    pub fn expect_silence(&self, d: Duration) {
        if let Some(l) = self.recv_timeout(d) {
            panic!("expected no stdout line, got {l}");
        }
    }

    /// Sends a `ping` with `id` and asserts that the next line is its answer.
    pub fn assert_ping(&mut self, id: i64) {
        self.send(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#));
        let v = self.recv_json();
        assert_eq!(v["id"], json!(id), "expected the ping's answer, got {v}");
        assert!(v.get("result").is_some(), "ping answer: {v}");
    }

    /// The `initialize` handshake with a [`standard_reply`]-like server:
    /// `initialize` (id 1), its answer, `notifications/initialized`.
    pub fn handshake(&mut self) -> Value {
        self.send(INITIALIZE);
        let v = self.recv_json();
        assert_eq!(v["id"], json!(1), "initialize answer: {v}");
        self.send(INITIALIZED);
        v
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Takes stdout (when started with [`ProxyBuilder::no_stdout_reader`]).
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.stdout.take().expect("stdout is read by the harness")
    }

    /// Closes stdin (end of input for the proxy).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How long ago the proxy was started.
    pub fn age(&self) -> Duration {
        self.started.elapsed()
    }

    /// Closes stdin, waits for a clean exit (status 0 within 8 s), and checks
    /// stderr for panics and secrets; returns stderr.
    pub fn finish(mut self) -> String {
        self.close_stdin();
        let status = self.wait_exit(Duration::from_secs(8));
        let stderr_done = Instant::now() + Duration::from_secs(2);
        if let Some(t) = self.threads[0].take() {
            while !t.is_finished() && Instant::now() < stderr_done {
                std::thread::sleep(POLL);
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let stderr = self.stderr();
        let status = status.unwrap_or_else(|| panic!("the proxy did not exit; stderr:\n{stderr}"));
        assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
        assert_clean_stderr(&stderr);
        stderr
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            std::thread::sleep(POLL);
            eprintln!("--- mcp-sigv4 stderr ---\n{}--- end ---", self.stderr());
        }
        for t in self.threads.iter_mut() {
            if let Some(t) = t.take() {
                let _ = t.join();
            }
        }
    }
}

/// Panics if `stderr` shows a panic or a secret: the secret key, the session
/// token, or the whole session id.
pub fn assert_clean_stderr(stderr: &str) {
    assert!(!stderr.contains("panicked"), "a panic on stderr:\n{stderr}");
    for (what, secret) in [
        ("the secret access key", SECRET_KEY),
        ("the session token", SESSION_TOKEN),
        ("the MCP session id", SESSION_ID),
    ] {
        assert!(!stderr.contains(secret), "{what} on stderr:\n{stderr}");
    }
}

/// The client's `initialize` (id 1).
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"relay-test","version":"0.0.1"}}}"#;
/// The client's `notifications/initialized`.
pub const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// A flag a handler can raise and a stream step can wait for.
pub fn flag() -> (Arc<AtomicBool>, Condition) {
    let f = Arc::new(AtomicBool::new(false));
    let c = Arc::clone(&f);
    (f, Arc::new(move || c.load(Ordering::Acquire)))
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().expect("local address").port()
}

/// A 2026-07-28 request: `params` plus the `_meta` envelope.
pub fn modern_request(id: Value, method: &str, mut params: Value) -> String {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "relay-test", "version": "0.0.1"}
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}
