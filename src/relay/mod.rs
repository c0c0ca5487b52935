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

mod context;
mod dispatch;
mod exchange;
mod failure;
mod inbound;
mod internal;
#[doc(hidden)]
pub mod jsonrpc;
mod listen;
mod outgoing;
mod pending;
mod policy;
mod recovery;
mod retry_policy;
mod revision;
mod routing;
mod session;
mod splice;
#[doc(hidden)]
pub mod sse;
#[doc(hidden)]
pub mod stdio;
mod stream;
mod upstream;

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::RequestAuth;
use crate::config::{Endpoint, RelayOptions, Timeouts};
use context::{Ctx, MAX_MESSAGE_BYTES, Shared};
use upstream::{Link, Upstream};

/// How long requests in flight may still take after stdin ends.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

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
    let link = Arc::new(Link::new(endpoint, &timeouts, &options, MAX_MESSAGE_BYTES));
    let upstream = Upstream::new(Arc::clone(&link), auth, runtime_session);
    let shared = Arc::new(Shared::new(upstream, timeouts, options));
    let on_closed = {
        let shared = Arc::clone(&shared);
        move |e: std::io::Error| {
            log::info!("stdout closed ({e}); ending");
            shared.begin_shutdown();
            shared.upstream.delete_session();
            std::process::exit(0);
        }
    };
    let (out, writer) = stdio::spawn_writer(output, on_closed);
    let ctx = Ctx::new(&shared, out);
    if let Err(e) = dispatch::read_loop(&ctx, input) {
        log::warn!("reading stdin failed: {e}; ending");
    }
    shared.begin_shutdown();
    let waiting = shared.pending.len();
    if waiting > 0 {
        log::debug!(
            "stdin closed; giving {waiting} request(s) in flight up to {} s",
            SHUTDOWN_GRACE.as_secs_f64()
        );
    }
    if !shared.in_flight.wait_idle(SHUTDOWN_GRACE) {
        // The client ended the conversation by closing stdin; SDK clients stop
        // reading then, and fail on a late line. Streams still open are cut, and
        // the session DELETE below tells the server to stop the work.
        let left = shared.pending.abort_all();
        log::info!("stdin closed: abandoning {left} request(s) still in flight");
    }
    shared.upstream.delete_session();
    // Close what is still open on the shared pool (the GET stream).
    link.shutdown();
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
