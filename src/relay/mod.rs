//! The relay: stdio on one side, MCP Streamable HTTP on the other.
//!
//! Owns: the threads and the flow of messages. The calling thread owns stdin and
//! reads newline-delimited JSON-RPC; one thread owns stdout and writes whole
//! lines; every message from the client becomes one signed POST on a thread of
//! its own (an *exchange*, `exchange.rs`), so a long tool call never blocks a
//! ping, a cancellation or another call; one more thread keeps the optional GET
//! stream for server-initiated messages (`listen.rs`). Every request the client
//! sends is answered exactly once: with the server's response or a JSON-RPC
//! error with the same id (`../shared/spec/mcp-streamable-http.md`,
//! `../shared/spec/mcp-2026-07-28.md`).
//! Refuses: changing a message body except where a rule says so (`--metadata`,
//! `--read-only`, invalid `x-mcp-header` tools: `policy.rs`); sending anything
//! on stdout but JSON-RPC.
//!
//! Ordering: an exchange for `initialize`, or for a message of only
//! notifications and responses, holds back the next message until its HTTP
//! answer head arrives (at most [`ORDER_WAIT`]), so the server sees
//! `notifications/initialized` before the requests that follow it and every
//! request after `initialize` carries the session id.
//!
//! Shutdown: at the end of stdin, requests in flight get up to
//! [`SHUTDOWN_GRACE`] to finish (MCP clients send SIGTERM about 2 s after
//! closing stdin); the rest are abandoned — the client has ended the
//! conversation and SDK clients fail on lines written after they close — the
//! session is ended with a signed DELETE, and the process exits 0. A closed stdout ends the
//! session and the process at once. SIGINT/SIGTERM cannot be caught without
//! `unsafe` code or a new dependency (std has no signal API); they end the
//! process at once, losing nothing already written (every line is flushed), and
//! the server's session idle timeout reclaims the session.

mod exchange;
pub mod jsonrpc;
mod listen;
pub mod pending;
pub mod policy;
mod revision;
mod routing;
pub mod session;
pub mod splice;
pub mod sse;
pub mod stdio;
mod upstream;

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::auth::RequestAuth;
use crate::config::{Endpoint, RelayOptions, Timeouts};
use crate::http::{self, ClientSettings, Method, RequestTimeouts};
use crate::sync::{Locked, wait_while};
use jsonrpc::{Classified, Id, Invalid, Kind};
use pending::Pending;
use policy::ToolCache;
use revision::Revision;
use session::Session;
use stdio::{Line, LineReader, Output};
pub use upstream::{MAX_ERROR_BODY, RUNTIME_SESSION_HEADER};

/// The largest message accepted from stdin or from the server (64 MiB).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The longest the reader holds back the next message for ordering.
pub const ORDER_WAIT: Duration = Duration::from_secs(10);

/// How long the session DELETE at shutdown may take.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long requests in flight may still take after stdin ends.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A one-shot signal between an exchange and the stdin reader.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        let (lock, cv) = &*self.0;
        *lock.locked() = true;
        cv.notify_all();
    }

    fn wait(&self, limit: Duration) {
        let (lock, cv) = &*self.0;
        drop(wait_while(cv, lock.locked(), limit, |open| !*open));
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
        *shared.active.0.locked() += 1;
        ActiveGuard(Arc::clone(shared))
    }
}

impl Active {
    /// Waits until no exchange is in flight, or `limit` passed; true when idle.
    fn wait_idle(&self, limit: Duration) -> bool {
        *wait_while(&self.1, self.0.locked(), limit, |n| *n > 0) == 0
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let active = &self.0.active;
        let mut n = active.0.locked();
        *n -= 1;
        if *n == 0 {
            active.1.notify_all();
        }
    }
}

/// What every exchange shares.
struct Shared {
    endpoint: Endpoint,
    url: String,
    timeouts: Timeouts,
    options: RelayOptions,
    client: http::Client,
    auth: RequestAuth,
    session: Session,
    pending: Pending,
    tools: ToolCache,
    active: Active,
    /// The client's `initialize` and `notifications/initialized`, replayed when
    /// the server ends the session.
    initialize: Mutex<Option<Vec<u8>>>,
    initialized: Mutex<Option<Vec<u8>>>,
    /// One re-initialization at a time.
    reinit: Mutex<()>,
    /// The session generation whose GET stream is running, if any.
    listening: Mutex<Option<u64>>,
    /// The runtime-session id for `session` and `identity` modes.
    runtime_session: String,
    shutting_down: AtomicBool,
    /// True while the client's requests follow a revision that cancels by
    /// closing the stream (its last request named 2026-07-28 or later in
    /// `_meta`; an `initialize` makes it false again).
    closes_to_cancel: AtomicBool,
    next_id: AtomicU64,
}

impl Shared {
    /// A fresh id for the relay's own requests, in a namespace clients do not use.
    fn internal_id(&self) -> String {
        format!("mcp-sigv4-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
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
        let extra = upstream::Extra {
            with_session: true,
            ..Default::default()
        };
        match self.send(Method::Delete, b"", &extra, timeouts) {
            Ok(s) if (200..300).contains(&s.response.status) => {
                log::info!("MCP session ended (HTTP {})", s.response.status)
            }
            Ok(s) if s.response.status == 405 => {
                log::info!("the server does not let clients end sessions (HTTP 405)")
            }
            Ok(s) if s.response.status == 404 => log::info!("the MCP session had already ended"),
            Ok(s) => log::warn!("ending the MCP session: HTTP {}", s.response.status),
            Err(e) => log::warn!("ending the MCP session failed: {e}"),
        }
    }
}

/// One exchange's view: the shared state and an stdout handle.
struct Ctx {
    shared: Arc<Shared>,
    out: Output,
}

impl Ctx {
    fn clone_ctx(&self) -> Ctx {
        Ctx {
            shared: Arc::clone(&self.shared),
            out: self.out.clone(),
        }
    }
}

/// Runs the relay until stdin ends; returns the process exit code.
///
/// `input` is the client's stdin, `output` its stdout. `runtime_session` is the
/// AgentCore runtime-session id for `session`/`identity` modes (see
/// [`RelayOptions::runtime_session`]).
pub fn run<R: BufRead, W: Write + Send + 'static>(
    endpoint: Endpoint,
    timeouts: Timeouts,
    options: RelayOptions,
    auth: RequestAuth,
    runtime_session: String,
    input: R,
    output: W,
) -> i32 {
    let client = http::Client::new(
        ClientSettings {
            connect: timeouts.connect,
            write: timeouts.write,
            max_body: MAX_MESSAGE_BYTES as u64,
            env_proxy: true,
        },
        &options.tls,
    );
    let shared = Arc::new(Shared {
        url: endpoint.url(),
        endpoint,
        timeouts,
        options,
        client,
        auth,
        session: Session::new(),
        pending: Pending::new(),
        tools: ToolCache::new(),
        active: Active::default(),
        initialize: Mutex::new(None),
        initialized: Mutex::new(None),
        reinit: Mutex::new(()),
        listening: Mutex::new(None),
        runtime_session,
        shutting_down: AtomicBool::new(false),
        closes_to_cancel: AtomicBool::new(false),
        next_id: AtomicU64::new(1),
    });
    let on_closed = {
        let shared = Arc::clone(&shared);
        move |e: std::io::Error| {
            log::info!("stdout closed ({e}); ending");
            shared.shutting_down.store(true, Ordering::Release);
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
    shared.shutting_down.store(true, Ordering::Release);
    let waiting = shared.pending.len();
    if waiting > 0 {
        log::debug!(
            "stdin closed; giving {waiting} request(s) in flight up to {} s",
            SHUTDOWN_GRACE.as_secs_f64()
        );
    }
    if !shared.active.wait_idle(SHUTDOWN_GRACE) {
        // The client ended the conversation by closing stdin; SDK clients stop
        // reading then, and fail on a late line. Streams still open are cut, and
        // the session DELETE below tells the server to stop the work.
        let left = shared.pending.abort_all();
        log::info!("stdin closed: abandoning {left} request(s) still in flight");
    }
    shared.delete_session();
    // Close what is still open on the shared pool (the GET stream).
    shared.client.shutdown();
    drop(ctx);
    // Let the writer drain what the exchanges wrote; threads stuck elsewhere
    // end with the process.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = writer.join();
        let _ = done_tx.send(());
    });
    let _ = done_rx.recv_timeout(Duration::from_secs(1));
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
                    &format!("Invalid Request: message larger than {max} bytes; it was not sent"),
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

/// A client message, ready to send.
struct Outgoing {
    /// The bytes to POST (the client's, unless a rule rewrote them).
    body: Vec<u8>,
    message: Classified,
    /// The single message's method.
    method: Option<String>,
    /// The revision it is sent under.
    revision: Revision,
    /// The parsed body (single messages only).
    value: Option<Value>,
    is_initialize: bool,
    /// Abort flags of the requests in it.
    aborts: Vec<Arc<pending::Abort>>,
}

impl Outgoing {
    /// No message: what a GET stream reads for.
    fn none() -> Self {
        Outgoing {
            body: Vec::new(),
            message: Classified {
                items: Vec::new(),
                batch: false,
            },
            method: None,
            revision: Revision::negotiated(None),
            value: None,
            is_initialize: false,
            aborts: Vec::new(),
        }
    }

    fn aborted(&self) -> bool {
        !self.aborts.is_empty() && self.aborts.iter().all(|a| a.is_set())
    }

    fn is_tool_call(&self) -> bool {
        self.method.as_deref() == Some("tools/call")
    }

    /// An exchange that may have to be cut off on its own gets a connection pool
    /// of its own: tool calls and listen streams (long), and 2026-07-28 requests
    /// (cancelled by closing their stream).
    fn needs_own_connection(&self) -> bool {
        self.is_tool_call() || self.is_listen() || self.revision.cancels_by_closing_stream()
    }

    fn is_listen(&self) -> bool {
        self.method.as_deref() == Some("subscriptions/listen")
    }

    fn has_requests(&self) -> bool {
        self.message.request_ids().next().is_some()
    }
}

/// Registers the message's requests, applies the local rules, and starts its
/// exchange. Returns a gate the next message must wait for, when ordering
/// matters.
fn dispatch(ctx: &Ctx, bytes: Vec<u8>, message: Classified) -> Option<Gate> {
    let shared = &ctx.shared;
    let single = (!message.batch).then(|| message.items[0].clone());
    let mut value: Option<Value> = if single.is_some() {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    let method = single.as_ref().and_then(|k| k.method().map(str::to_owned));
    let revision = value
        .as_ref()
        .and_then(Revision::from_envelope)
        .unwrap_or_else(|| Revision::negotiated(shared.session.protocol_version().as_deref()));
    let mut body = bytes;
    if let Some(Kind::Request { method: m, .. }) = &single {
        if m == "initialize" {
            shared.closes_to_cancel.store(false, Ordering::Release);
        } else if revision.cancels_by_closing_stream() {
            shared.closes_to_cancel.store(true, Ordering::Release);
        }
    }

    match (&single, method.as_deref()) {
        (Some(Kind::Request { .. }), Some("initialize")) => {
            *shared.initialize.locked() = Some(body.clone());
        }
        (Some(Kind::Notification { .. }), Some("notifications/initialized")) => {
            *shared.initialized.locked() = Some(body.clone());
        }
        (Some(Kind::Notification { .. }), Some("notifications/cancelled")) => {
            let id = value
                .as_ref()
                .and_then(|v| v.pointer("/params/requestId"))
                .filter(|i| i.is_string() || i.is_number())
                .map(|i| Id::from_json(&i.to_string()));
            if let Some(id) = id {
                match shared.pending.cancel(&id) {
                    Some(true) => {
                        // 2026-07-28 over HTTP: closing the request's stream is
                        // the cancellation; the notification itself is not sent.
                        log::debug!("cancelling request {id}: closing its stream");
                        return None;
                    }
                    None if shared.closes_to_cancel.load(Ordering::Acquire) => {
                        // Its answer came first; 2026-07-28 servers expect no
                        // notifications/cancelled over HTTP, so there is
                        // nothing to do.
                        log::debug!("cancel for request {id}, which is no longer in flight");
                        return None;
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }

    // --metadata: added to every request's params._meta.
    if let Some(Kind::Request { .. }) = &single {
        let text = String::from_utf8_lossy(&body);
        if let Some(new) = policy::add_metadata(&text, &shared.options.metadata) {
            value = serde_json::from_str(&new).ok();
            body = new.into_bytes();
        }
    }

    let mut aborts = Vec::new();
    for item in &message.items {
        if let Kind::Request { id, method } = item {
            match shared
                .pending
                .register(id, method, revision.cancels_by_closing_stream())
            {
                Some(abort) => aborts.push(abort),
                None if !message.batch => {
                    ctx.out.send(jsonrpc::error_response(
                        Some(id),
                        jsonrpc::INVALID_REQUEST,
                        &format!("Invalid Request: id {id} is already used by a request in flight"),
                        None,
                    ));
                    return None;
                }
                None => {}
            }
        }
    }
    let is_initialize =
        matches!(&single, Some(Kind::Request { method, .. }) if method == "initialize");
    let outgoing = Outgoing {
        body,
        method,
        revision,
        value,
        is_initialize,
        aborts,
        message,
    };
    let needs_order = outgoing.is_initialize || !outgoing.has_requests();
    let gate = Gate::default();
    let thread_gate = gate.clone();
    let thread_ctx = ctx.clone_ctx();
    let ids: Vec<Id> = outgoing
        .message
        .request_ids()
        .map(|(id, _)| id.clone())
        .collect();
    let active = ActiveGuard::enter(&ctx.shared);
    let spawned = std::thread::Builder::new()
        .name("exchange".into())
        .spawn(move || {
            let _active = active;
            exchange::run(&thread_ctx, &outgoing, &thread_gate);
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

/// Waits `delay`, waking early when shutting down; false when interrupted.
fn pause(shared: &Shared, delay: Duration) -> bool {
    let end = Instant::now() + delay;
    while Instant::now() < end {
        if shared.shutting_down.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
    !shared.shutting_down.load(Ordering::Acquire)
}
