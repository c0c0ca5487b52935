//! The relay: stdio on one side, MCP Streamable HTTP on the other.
//!
//! Owns: the threads and the flow of messages. The calling thread owns stdin and
//! reads newline-delimited JSON-RPC; one thread owns stdout and writes whole
//! lines; every message from the client becomes one signed POST on a thread of
//! its own (an *exchange*), so a long tool call never blocks a ping, a
//! cancellation or another call. Each exchange forwards what the server answers
//! — a JSON body or the events of an SSE stream — to stdout, and answers every
//! request it carried exactly once: with the server's response or a JSON-RPC
//! error with the same id (`../shared/spec/mcp-streamable-http.md` §3–§5, §9).
//! Refuses: changing a message body; sending anything on stdout but JSON-RPC.
//!
//! Ordering: an exchange for `initialize`, or for a message of only
//! notifications and responses, holds back the next message until its HTTP
//! answer head arrives (at most [`ORDER_WAIT`]), so the server sees
//! `notifications/initialized` before the requests that follow it and every
//! request after `initialize` carries the session id.

pub mod jsonrpc;
pub mod pending;
pub mod session;
pub mod sse;
pub mod stdio;

use std::io::{BufRead, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::auth::{AuthError, RequestAuth};
use crate::config::{Endpoint, Timeouts};
use crate::credentials::Credentials;
use crate::http::{self, ClientSettings, ErrorKind, HttpError, Method, RequestTimeouts, Response};
use crate::sigv4::Algorithm;
use jsonrpc::{Classified, Id, Invalid, Kind};
use pending::{Completion, Pending};
use session::Session;
use stdio::{Line, LineReader, Output};

/// The largest message accepted from stdin or from the server (64 MiB).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The most bytes of an HTTP error body read for its message (64 KiB).
pub const MAX_ERROR_BODY: usize = 64 << 10;

/// The longest the reader holds back the next message for ordering.
pub const ORDER_WAIT: Duration = Duration::from_secs(10);

/// How long the session DELETE at shutdown may take.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

/// A one-shot signal between an exchange and the stdin reader.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        let (lock, cv) = &*self.0;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }

    fn wait(&self, limit: Duration) {
        let (lock, cv) = &*self.0;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        drop(
            cv.wait_timeout_while(guard, limit, |open| !*open)
                .unwrap_or_else(|p| p.into_inner()),
        );
    }
}

/// Counts exchanges in flight, so shutdown can wait for them.
#[derive(Default)]
struct Active(Mutex<usize>, Condvar);

/// One exchange in flight; counted from before its thread starts until the
/// thread ends.
struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    fn enter(shared: &Arc<Shared>) -> Self {
        *shared.active.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        ActiveGuard(Arc::clone(shared))
    }
}

impl Active {
    fn wait_idle(&self) {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.1.wait_while(guard, |n| *n > 0));
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let active = &self.0.active;
        let mut n = active.0.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        if *n == 0 {
            active.1.notify_all();
        }
    }
}

/// Why an exchange got no HTTP answer.
#[derive(Debug)]
enum SendError {
    Auth(AuthError),
    Http(HttpError),
}

fn describe(e: &SendError) -> String {
    match e {
        SendError::Auth(a) => a.to_string(),
        SendError::Http(h) => h.to_string(),
    }
}

/// An HTTP answer, with a note on what the authentication retries saw.
struct Sent {
    response: Response,
    note: Option<String>,
}

/// What an AWS error answer says: the error type (sanitized), message and
/// request id, from the headers and a JSON or XML body.
#[derive(Debug, Default)]
struct AwsError {
    error_type: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    body: Vec<u8>,
}

impl AwsError {
    fn expired_credentials(&self) -> bool {
        matches!(
            self.error_type.as_deref(),
            Some("ExpiredToken" | "ExpiredTokenException")
        )
    }

    fn signature_refused(&self) -> bool {
        matches!(
            self.error_type.as_deref(),
            Some(
                "InvalidSignatureException"
                    | "SignatureDoesNotMatch"
                    | "IncompleteSignatureException"
            )
        )
    }
}

/// Reads an error answer's body (at most [`MAX_ERROR_BODY`] bytes) and puts it
/// back as the response body, so it can still be read; a 2xx answer is left
/// alone.
fn peek_error(response: &mut Response) -> AwsError {
    if (200..300).contains(&response.status) {
        return AwsError::default();
    }
    let body = response.read_body(MAX_ERROR_BODY).unwrap_or_default();
    response.body = Box::new(std::io::Cursor::new(body.clone()));
    let text = String::from_utf8_lossy(&body);
    let json: Option<Value> = serde_json::from_str(text.trim()).ok();
    let raw_type = response
        .header("x-amzn-errortype")
        .map(str::to_owned)
        .or_else(|| {
            let b = json.as_ref()?;
            ["__type", "code", "Code"]
                .iter()
                .find_map(|k| b.get(*k).and_then(Value::as_str).map(str::to_owned))
        })
        .or_else(|| xml_tag(&text, "Code").map(str::to_owned));
    let error_type = raw_type.and_then(|raw| {
        let cut = raw.split(':').next().unwrap_or("");
        let name = cut.rsplit('#').next().unwrap_or(cut).trim();
        (!name.is_empty()).then(|| name.to_owned())
    });
    let message = json
        .as_ref()
        .and_then(|b| b.get("message").or_else(|| b.get("Message")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| xml_tag(&text, "Message").map(str::to_owned));
    let request_id = response
        .header("x-amzn-requestid")
        .or_else(|| response.header("x-amz-request-id"))
        .map(str::to_owned);
    AwsError {
        error_type,
        message,
        request_id,
        body,
    }
}

/// What every exchange shares.
struct Shared {
    endpoint: Endpoint,
    url: String,
    timeouts: Timeouts,
    client: http::Client,
    auth: RequestAuth,
    session: Session,
    pending: Pending,
    active: Active,
}

impl Shared {
    /// Builds, signs and sends one request to the endpoint, with the two
    /// authentication retries: when the service says the credentials expired,
    /// they are resolved again and the request is sent once more; when it refuses
    /// a SigV4 signature and the SigV4A switch is allowed, the request is sent
    /// once more signed SigV4A (a 403 means it was not processed, so neither
    /// retry repeats a side effect).
    fn send(
        &self,
        method: Method,
        body: &[u8],
        with_session: bool,
        timeouts: RequestTimeouts,
    ) -> Result<Sent, SendError> {
        let algorithm = self.auth.algorithm();
        let (mut response, credentials) =
            self.attempt(algorithm, method, body, with_session, timeouts)?;
        let mut error = peek_error(&mut response);
        if error.expired_credentials() {
            log::info!(
                "{} says the credentials from {} expired; resolving them again",
                self.endpoint.host,
                credentials.source()
            );
            self.auth.provider().invalidate(&credentials);
            let (again, _) = self.attempt(algorithm, method, body, with_session, timeouts)?;
            response = again;
            error = peek_error(&mut response);
        }
        if !(response.status == 403
            && error.signature_refused()
            && self.auth.may_upgrade(algorithm))
        {
            return Ok(Sent {
                response,
                note: None,
            });
        }
        log::debug!(
            "{} refused the SigV4 signature (HTTP 403 {}); sending again signed SigV4A",
            self.endpoint.host,
            error.error_type.as_deref().unwrap_or("")
        );
        match self.attempt(Algorithm::V4a, method, body, with_session, timeouts) {
            Ok((mut second, _)) if matches!(second.status, 401 | 403) => {
                let second_error = peek_error(&mut second);
                Ok(Sent {
                    response,
                    note: Some(format!(
                        "SigV4 was refused with HTTP 403, and SigV4A (region set {}) with HTTP {}{}",
                        self.auth.region_set(),
                        second.status,
                        second_error
                            .error_type
                            .map(|t| format!(" {t}"))
                            .unwrap_or_default()
                    )),
                })
            }
            Ok((second, _)) => {
                if self.auth.confirm_upgrade() {
                    log::info!(
                        "{} refused SigV4 and accepted SigV4A: signing every further request with SigV4A (region set {})",
                        self.endpoint.host,
                        self.auth.region_set()
                    );
                }
                Ok(Sent {
                    response: second,
                    note: None,
                })
            }
            Err(e) => Ok(Sent {
                response,
                note: Some(format!(
                    "SigV4 was refused with HTTP 403, and sending again with SigV4A failed: {}",
                    describe(&e)
                )),
            }),
        }
    }

    /// One signed attempt.
    fn attempt(
        &self,
        algorithm: Algorithm,
        method: Method,
        body: &[u8],
        with_session: bool,
        timeouts: RequestTimeouts,
    ) -> Result<(Response, Arc<Credentials>), SendError> {
        let host = self.endpoint.authority();
        let session_id = if with_session {
            self.session.id()
        } else {
            None
        };
        let version = if with_session {
            self.session.protocol_version()
        } else {
            None
        };
        let mut headers: Vec<(&str, &str)> = vec![("host", &host)];
        match method {
            Method::Post => {
                headers.push(("accept", "application/json, text/event-stream"));
                headers.push(("content-type", "application/json"));
            }
            Method::Get => headers.push(("accept", "text/event-stream")),
            Method::Delete | Method::Put => {}
        }
        if let Some(id) = &session_id {
            headers.push(("mcp-session-id", id.expose()));
        }
        if let Some(v) = &version {
            headers.push(("mcp-protocol-version", v));
        }
        let signed = self
            .auth
            .sign(
                algorithm,
                method.as_str(),
                &self.endpoint.path,
                &self.endpoint.query,
                &headers,
                body,
            )
            .map_err(SendError::Auth)?;
        headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_str())));
        let response = self
            .client
            .send(method, &self.url, &headers, body, timeouts)
            .map_err(SendError::Http)?;
        Ok((response, signed.credentials))
    }

    /// Stores the `Mcp-Session-Id` of any response that carries one.
    fn capture_session(&self, response: &Response) {
        if let Some(id) = response.header("mcp-session-id") {
            if self.session.set_id(id) {
                log::info!("MCP session established ({} character id)", id.len());
            }
        }
    }

    /// Ends the session with a signed DELETE, if there is one.
    fn delete_session(&self) {
        if self.session.id().is_none() {
            return;
        }
        let timeouts = RequestTimeouts {
            response: DELETE_TIMEOUT,
            per_read: Some(DELETE_TIMEOUT),
            total: Some(DELETE_TIMEOUT),
        };
        match self
            .send(Method::Delete, b"", true, timeouts)
            .map(|s| s.response)
        {
            Ok(r) if (200..300).contains(&r.status) => {
                log::info!("MCP session ended (HTTP {})", r.status)
            }
            Ok(r) if r.status == 405 => {
                log::info!("the server does not let clients end sessions (HTTP 405)")
            }
            Ok(r) => log::warn!("ending the MCP session: HTTP {}", r.status),
            Err(SendError::Http(e)) => log::warn!("ending the MCP session failed: {e}"),
            Err(SendError::Auth(e)) => log::warn!("ending the MCP session: {e}"),
        }
    }
}

/// One exchange's view: the shared state and an stdout handle.
struct Ctx {
    shared: Arc<Shared>,
    out: Output,
}

/// Runs the relay until stdin ends; returns the process exit code.
///
/// `input` is the client's stdin, `output` its stdout. On end of input the relay
/// waits for exchanges in flight (each bounded by its timeouts), ends the session
/// with a signed DELETE, flushes stdout and returns 0. If stdout closes, the
/// session is ended and the process exits at once with 0.
pub fn run<R: BufRead, W: Write + Send + 'static>(
    endpoint: Endpoint,
    timeouts: Timeouts,
    auth: RequestAuth,
    input: R,
    output: W,
) -> i32 {
    let client = http::Client::new(ClientSettings {
        connect: timeouts.connect,
        write: timeouts.write,
        max_body: MAX_MESSAGE_BYTES as u64,
        env_proxy: true,
    });
    let shared = Arc::new(Shared {
        url: endpoint.url(),
        endpoint,
        timeouts,
        client,
        auth,
        session: Session::new(),
        pending: Pending::new(),
        active: Active::default(),
    });
    let on_closed = {
        let shared = Arc::clone(&shared);
        move |e: std::io::Error| {
            log::info!("stdout closed ({e}); ending");
            shared.delete_session();
            std::process::exit(0);
        }
    };
    let (out, writer) = stdio::spawn_writer(output, on_closed);
    let ctx = Ctx {
        shared: Arc::clone(&shared),
        out,
    };
    read_loop(&ctx, input);
    log::debug!(
        "stdin closed; waiting for {} request(s) in flight",
        shared.pending.len()
    );
    shared.active.wait_idle();
    shared.delete_session();
    drop(ctx);
    let _ = writer.join();
    0
}

fn read_loop<R: BufRead>(ctx: &Ctx, input: R) {
    let mut lines = LineReader::new(input, MAX_MESSAGE_BYTES);
    let mut hold: Option<Gate> = None;
    loop {
        let line = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                log::warn!("reading stdin failed: {e}; ending");
                return;
            }
        };
        let bytes = match line {
            Line::Message(bytes) => bytes,
            Line::TooLong(max) => {
                ctx.out.send(jsonrpc::error_response(
                    None,
                    jsonrpc::INVALID_REQUEST,
                    &format!("message larger than {max} bytes; it was not sent"),
                    None,
                ));
                continue;
            }
        };
        let message = match jsonrpc::classify(&bytes) {
            Ok(m) => m,
            Err(Invalid::Parse(why)) => {
                ctx.out.send(jsonrpc::error_response(
                    None,
                    jsonrpc::PARSE_ERROR,
                    &format!("Parse error: {why}"),
                    None,
                ));
                continue;
            }
            Err(Invalid::Request(why, id)) => {
                ctx.out.send(jsonrpc::error_response(
                    id.as_ref(),
                    jsonrpc::INVALID_REQUEST,
                    &format!("Invalid Request: {why}"),
                    None,
                ));
                continue;
            }
        };
        if let Some(gate) = hold.take() {
            gate.wait(ORDER_WAIT);
        }
        hold = dispatch(ctx, bytes, message);
    }
}

/// Registers the message's requests and starts its exchange. Returns a gate the
/// next message must wait for, when ordering matters.
fn dispatch(ctx: &Ctx, body: Vec<u8>, message: Classified) -> Option<Gate> {
    let shared = &ctx.shared;
    for item in &message.items {
        match item {
            Kind::Request { id, method }
                if !shared.pending.register(id, method) && !message.batch =>
            {
                ctx.out.send(jsonrpc::error_response(
                    Some(id),
                    jsonrpc::INVALID_REQUEST,
                    &format!("Invalid Request: id {id} is already used by a request in flight"),
                    None,
                ));
                return None;
            }
            Kind::Notification { method } if method == "notifications/cancelled" => {
                if let Some(id) = cancelled_id(&body, message.batch) {
                    shared.pending.cancel(&id);
                }
            }
            _ => {}
        }
    }
    let is_initialize = !message.batch
        && matches!(message.items.first(), Some(Kind::Request { method, .. }) if method == "initialize");
    let needs_order = is_initialize || message.request_ids().next().is_none();
    let gate = Gate::default();
    let thread_gate = gate.clone();
    let thread_ctx = Ctx {
        shared: Arc::clone(&ctx.shared),
        out: ctx.out.clone(),
    };
    let ids: Vec<Id> = message.request_ids().map(|(id, _)| id.clone()).collect();
    let active = ActiveGuard::enter(&ctx.shared);
    let spawned = std::thread::Builder::new()
        .name("exchange".into())
        .spawn(move || {
            let _active = active;
            exchange(&thread_ctx, &body, &message, is_initialize, &thread_gate);
            thread_gate.open();
        });
    if let Err(e) = spawned {
        log::error!("cannot start a thread for a message: {e}");
        for id in &ids {
            if shared.pending.fail(id) {
                ctx.out.send(jsonrpc::error_response(
                    Some(id),
                    jsonrpc::UPSTREAM_ERROR,
                    &format!("mcp-sigv4 cannot start a thread for this request: {e}"),
                    None,
                ));
            }
        }
        return None;
    }
    needs_order.then_some(gate)
}

fn cancelled_id(body: &[u8], batch: bool) -> Option<Id> {
    if batch {
        return None;
    }
    let id = jsonrpc::pointer(body, "/params/requestId")?;
    match id {
        Value::String(_) | Value::Number(_) => Some(Id::from_json(&id.to_string())),
        _ => None,
    }
}

/// Timeouts for a message: tool calls wait up to `--tool-timeout` for each next
/// byte with no overall limit; everything else gets `--read-timeout` per read
/// and `--timeout` overall.
fn timeouts_for(t: &Timeouts, message: &Classified) -> RequestTimeouts {
    if message.request_ids().any(|(_, m)| m == "tools/call") {
        RequestTimeouts {
            response: t.tool,
            per_read: Some(t.tool),
            total: None,
        }
    } else {
        RequestTimeouts {
            response: t.read,
            per_read: Some(t.read),
            total: Some(t.exchange),
        }
    }
}

/// One POST and everything it answers.
fn exchange(ctx: &Ctx, body: &[u8], message: &Classified, is_initialize: bool, gate: &Gate) {
    let shared = &ctx.shared;
    let timeouts = timeouts_for(&shared.timeouts, message);
    let init_id = if is_initialize {
        message.request_ids().next().map(|(id, _)| id.clone())
    } else {
        None
    };
    match shared.send(Method::Post, body, !is_initialize, timeouts) {
        Ok(mut sent) => {
            shared.capture_session(&sent.response);
            gate.open();
            handle_response(ctx, &mut sent, message, init_id.as_ref(), timeouts);
        }
        Err(e) => {
            gate.open();
            fail_all(ctx, message, &send_failure(shared, &e, timeouts));
        }
    }
    // Every request this message carried is answered by now, or gets an error.
    let leftover = Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message: format!(
            "{} ended its answer without a response to this request",
            shared.endpoint.host
        ),
        data: None,
    };
    fail_all(ctx, message, &leftover);
}

/// An error to give the client for each unanswered request.
struct Failure {
    code: i64,
    message: String,
    data: Option<Value>,
}

fn fail_all(ctx: &Ctx, message: &Classified, failure: &Failure) {
    for (id, _) in message.request_ids() {
        if ctx.shared.pending.fail(id) {
            ctx.out.send(jsonrpc::error_response(
                Some(id),
                failure.code,
                &failure.message,
                failure.data.clone(),
            ));
        }
    }
}

fn send_failure(shared: &Shared, e: &SendError, timeouts: RequestTimeouts) -> Failure {
    let host = &shared.endpoint.host;
    match e {
        SendError::Auth(AuthError::Credentials(c)) => Failure {
            code: jsonrpc::CREDENTIALS_ERROR,
            message: format!("mcp-sigv4 cannot sign the request: {c}"),
            data: c.hint.as_ref().map(|h| json!({ "hint": h })),
        },
        SendError::Auth(a) => Failure {
            code: jsonrpc::CREDENTIALS_ERROR,
            message: format!("mcp-sigv4 cannot sign the request: {a}"),
            data: None,
        },
        SendError::Http(h) if h.kind == ErrorKind::Timeout => Failure {
            code: jsonrpc::REQUEST_TIMEOUT,
            message: format!(
                "no answer from {host} in time ({h}); the limits are --read-timeout {} s and --tool-timeout {} s",
                shared.timeouts.read.as_secs_f64(),
                timeouts
                    .response
                    .as_secs_f64()
                    .max(shared.timeouts.tool.as_secs_f64())
            ),
            data: None,
        },
        SendError::Http(h) => Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: format!(
                "cannot reach {host}: {h}; check the endpoint URL, your network and any HTTPS_PROXY setting"
            ),
            data: None,
        },
    }
}

fn handle_response(
    ctx: &Ctx,
    sent: &mut Sent,
    message: &Classified,
    init_id: Option<&Id>,
    timeouts: RequestTimeouts,
) {
    let shared = &ctx.shared;
    let status = sent.response.status;
    if !(200..300).contains(&status) {
        http_failure(ctx, sent, message);
        return;
    }
    let response = &mut sent.response;
    if status == 202 || status == 204 {
        return;
    }
    match response.media_type().as_deref() {
        Some("application/json") => match response.read_body(MAX_MESSAGE_BYTES) {
            Ok(bytes) => deliver(ctx, &bytes, init_id),
            Err(e) => fail_all(
                ctx,
                message,
                &send_failure(shared, &SendError::Http(e), timeouts),
            ),
        },
        Some("text/event-stream") => read_stream(ctx, response, message, init_id, timeouts),
        other => {
            if message.request_ids().next().is_some() {
                fail_all(
                    ctx,
                    message,
                    &Failure {
                        code: jsonrpc::UPSTREAM_ERROR,
                        message: format!(
                            "{} answered HTTP {status} with content type {:?}, expected application/json or text/event-stream",
                            shared.endpoint.host,
                            other.unwrap_or("(none)")
                        ),
                        data: Some(json!({ "httpStatus": status })),
                    },
                );
            }
        }
    }
}

fn read_stream(
    ctx: &Ctx,
    response: &mut Response,
    message: &Classified,
    init_id: Option<&Id>,
    timeouts: RequestTimeouts,
) {
    let reader = std::io::BufReader::with_capacity(64 << 10, &mut response.body);
    let mut events = sse::Reader::new(reader, MAX_MESSAGE_BYTES);
    loop {
        match events.next_event() {
            Ok(Some(event)) => {
                if event.event != "message" || event.data.is_empty() {
                    continue;
                }
                deliver(ctx, event.data.as_bytes(), init_id);
            }
            Ok(None) => return,
            Err(e) => {
                log::warn!(
                    "the SSE stream from {} broke: {e}",
                    ctx.shared.endpoint.host
                );
                if let sse::SseError::Io(io) = &e {
                    if io.kind() == std::io::ErrorKind::TimedOut {
                        let h = HttpError {
                            kind: ErrorKind::Timeout,
                            detail: io.to_string(),
                        };
                        fail_all(
                            ctx,
                            message,
                            &send_failure(&ctx.shared, &SendError::Http(h), timeouts),
                        );
                    }
                }
                return;
            }
        }
    }
}

/// Forwards one JSON text from the server to stdout, after checking it is
/// JSON-RPC and that any response in it answers a request still waiting.
fn deliver(ctx: &Ctx, bytes: &[u8], init_id: Option<&Id>) {
    let shared = &ctx.shared;
    let Ok(text) = std::str::from_utf8(bytes) else {
        log::warn!(
            "dropping a message from the server that is not UTF-8 ({} bytes)",
            bytes.len()
        );
        return;
    };
    let line = jsonrpc::compact(text);
    let message = match jsonrpc::classify(line.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            log::warn!(
                "dropping a message from the server that is not JSON-RPC ({} bytes): {e:?}",
                bytes.len()
            );
            return;
        }
    };
    let mut forward = false;
    for item in &message.items {
        match item {
            Kind::Response { id: Some(id) } => {
                if init_id == Some(id) {
                    if let Some(Value::String(v)) =
                        jsonrpc::pointer(line.as_bytes(), "/result/protocolVersion")
                    {
                        log::info!("MCP protocol version {v}");
                        shared.session.set_protocol_version(&v);
                    }
                }
                match shared.pending.complete(id) {
                    Completion::Forward => forward = true,
                    Completion::Unknown => {
                        log::debug!("dropping a second or unknown response for id {id}");
                    }
                }
            }
            _ => forward = true,
        }
    }
    if forward {
        ctx.out.send(line.into_owned().into_bytes());
    }
}

fn xml_tag<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].trim())
}

/// Answers the message's requests after an HTTP error status.
fn http_failure(ctx: &Ctx, sent: &mut Sent, message: &Classified) {
    let shared = &ctx.shared;
    let status = sent.response.status;
    let error = peek_error(&mut sent.response);
    let text = String::from_utf8_lossy(&error.body);
    // A JSON-RPC answer in the error body is the server's response: pass it on.
    if jsonrpc::classify(text.trim().as_bytes()).is_ok() {
        deliver(ctx, text.trim().as_bytes(), None);
    }
    let hint = hint_for(shared, status, error.error_type.as_deref());
    let mut text_out = format!("{} answered HTTP {status}", shared.endpoint.host);
    if let Some(t) = &error.error_type {
        text_out.push_str(&format!(" {t}"));
    }
    if let Some(m) = &error.message {
        text_out.push_str(&format!(": {m}"));
    }
    if let Some(r) = &error.request_id {
        text_out.push_str(&format!(" (request id {r})"));
    }
    if let Some(n) = &sent.note {
        text_out.push_str(&format!("; {n}"));
    }
    if let Some(h) = &hint {
        text_out.push_str(&format!("; {h}"));
    }
    let mut data = json!({ "httpStatus": status });
    if let Some(t) = error.error_type {
        data["awsErrorType"] = json!(t);
    }
    if let Some(r) = error.request_id {
        data["awsRequestId"] = json!(r);
    }
    if let Some(h) = hint {
        data["hint"] = json!(h);
    }
    if message.request_ids().next().is_none() {
        log::warn!("{text_out}");
        return;
    }
    fail_all(
        ctx,
        message,
        &Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: text_out,
            data: Some(data),
        },
    );
}

fn hint_for(shared: &Shared, status: u16, error_type: Option<&str>) -> Option<String> {
    let auth = &shared.auth;
    let scope = format!(
        "signed for service '{}' in region '{}'",
        auth.service(),
        auth.region()
    );
    match (status, error_type) {
        (_, Some("ExpiredToken" | "ExpiredTokenException")) => Some(format!(
            "the AWS credentials have expired: renew them (e.g. `aws sso login --profile {}`) and retry",
            auth.provider().resolver().profile_name()
        )),
        (_, Some("InvalidSignatureException" | "SignatureDoesNotMatch" | "IncompleteSignatureException")) => Some(format!(
            "the signature was refused: check the system clock, and that --service/--region match the endpoint ({scope})"
        )),
        (_, Some("UnrecognizedClientException" | "InvalidClientTokenId")) => Some(format!(
            "AWS does not recognize these credentials: check the access key and session token (profile '{}' or the AWS_* environment variables)",
            auth.provider().resolver().profile_name()
        )),
        (401, _) => Some(
            "the endpoint asked for a bearer token (OAuth), not SigV4: configure the server for IAM (SigV4) authentication".into(),
        ),
        (403, _) => Some(format!(
            "AWS refused the request: check that the credentials are valid and allowed to call this resource (e.g. bedrock-agentcore:InvokeAgentRuntime), and that --service/--region match the endpoint ({scope})"
        )),
        _ => None,
    }
}
