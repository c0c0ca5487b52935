//! The relay: stdio on one side, MCP Streamable HTTP on the other
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http>,
//! <https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http>).
//!
//! Owns: the threads and the flow of messages, one way per direction. What
//! the process has once ([`Process`]: endpoint, connections, signer, options)
//! is apart from what one client's conversation has (`conversation.rs`): the
//! stdio relay opens one conversation ([`run`]), `serve` one per MCP session
//! (`clients.rs`). One thread reads stdin and starts an exchange per message (`dispatch.rs`). Each
//! exchange is one signed POST on a thread of its own (`exchange.rs`), so a long
//! tool call never blocks a ping, a cancellation or another call; how many run
//! at once is `admission.rs`'s. Answers go through `inbound.rs` to the one
//! thread that writes whole lines to stdout (`stdio.rs`); the optional GET
//! stream has its own thread (`listen.rs`). Every client request is answered
//! exactly once: the server's response, or a JSON-RPC error with the same id.
//! Refuses: changing a message body except where a rule says so (`policy.rs`);
//! writing anything but JSON-RPC to stdout; ending the process (`main` does,
//! from what [`run`] returns; shutdown is described there).
//!
//! ```text
//! stdin ─▶ stdin thread: dispatch ─▶ exchange thread ─▶ upstream (sign, POST)
//!                                          │
//! stdout ◀─ stdout thread ◀─ inbound ◀─ stream (JSON or SSE) ◀─┘ (and listen: GET)
//! ```

mod admission;
mod batch;
mod clients;
mod conversation;
mod deadline;
mod dispatch;
mod exchange;
mod failure;
mod fold;
mod inbound;
mod internal;
#[doc(hidden)]
pub mod jsonrpc;
mod listen;
mod outgoing;
mod pending;
mod policy;
mod process;
mod profiles;
mod recovery;
mod retry_policy;
mod revision;
mod routing;
mod session;
pub(crate) mod sink;
mod splice;
#[doc(hidden)]
pub mod sse;
#[doc(hidden)]
pub mod stdio;
mod stream;
mod trace;
mod upstream;

use std::fmt;
use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::auth::RequestAuth;
use crate::config::{Endpoint, RelayOptions, Timeouts};
use crate::signal::{self, Terminate};
pub(crate) use conversation::Conversation;
use conversation::Exchange;
pub use process::Process;
use upstream::DELETE_TIMEOUT;

/// How long requests in flight may still take after stdin ends.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// How long the stdout thread may take to write what is queued at the end.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// After SIGTERM, SIGINT or a Windows console event (Ctrl+C, the console
/// closing; see [`crate::signal`]), the longest until [`run`] returns: the grace for
/// requests in flight, the session DELETE and the last writes together (the
/// process exits within 3 s of the signal).
pub const SIGNAL_EXIT: Duration = Duration::from_millis(2500);

/// How a run of the relay ended. Each is a normal end of the conversation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Ended {
    /// The client closed stdin.
    StdinClosed,
    /// Reading stdin failed; it was treated as its end.
    StdinFailed(io::Error),
    /// The client closed stdout (the write that failed); the session was
    /// ended at once.
    StdoutClosed(io::Error),
    /// SIGTERM, SIGINT or a Windows console event: ended as at the end of
    /// stdin, within [`SIGNAL_EXIT`].
    Signal(Terminate),
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::StdinClosed => f.write_str("stdin closed"),
            Ended::StdinFailed(e) => write!(f, "reading stdin failed: {e}"),
            Ended::StdoutClosed(e) => write!(f, "stdout closed: {e}"),
            Ended::Signal(s) => write!(f, "{s}"),
        }
    }
}

/// Why the relay could not run.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// A thread of the relay could not be started.
    Thread {
        /// Which thread (`stdin`, `stdout`).
        name: &'static str,
        /// What the operating system said.
        source: io::Error,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Thread { name, .. } => write!(f, "cannot start the {name} thread"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Thread { source, .. } => Some(source),
        }
    }
}

/// What ends a run, as the threads that own stdin, stdout and the signals
/// report it.
enum End {
    Stdin(io::Result<()>),
    Stdout(io::Error),
    Signal(Terminate),
}

/// Runs the relay until stdin ends, stdout closes or the process is asked to
/// end (SIGTERM, SIGINT, a Windows console event), and says which.
///
/// `input` is the client's stdin (read on a thread of its own), `output` its
/// stdout. Installs the process's SIGINT and SIGTERM handlers (Unix) or its
/// console control handler (Windows; `crate::signal::on_terminate`): call it
/// once per process. `runtime_session` is the AgentCore runtime-session id for
/// `session`/`identity` modes (see [`RelayOptions::runtime_session`]); `None`
/// with `identity` derives it from the caller's ARN when the first request
/// needs it, so nothing waits for STS before stdin is read. On
/// return the session was ended; threads still blocked (a read of stdin, a
/// stream cut at exit) end with the process.
///
/// Shutdown: at the end of stdin, requests in flight get up to 1 s to finish
/// (MCP clients send SIGTERM about 2 s after closing stdin); the rest are
/// abandoned — the client has ended the conversation and SDK clients fail on
/// lines written after they close — the session is ended with a signed DELETE,
/// and `run` returns. SIGTERM and SIGINT (Unix) and Ctrl+C, Ctrl+Break and
/// the console closing (Windows) take the same path, with the
/// DELETE and the last writes held to what is left of [`SIGNAL_EXIT`] so that
/// the process is gone before a client that signalled loses patience (and
/// before Windows ends it, about 5 s after its console closes); a second
/// signal or Ctrl+C ends it at once. An MCP client closes stdin first and signals after,
/// "sending SIGTERM if the server does not exit within a reasonable time",
/// then SIGKILL
/// (<https://modelcontextprotocol.io/specification/2025-11-25/basic/lifecycle#stdio>);
/// some signal without closing stdin. A closed stdout ends the session at once
/// and `run` returns without waiting for stdin.
///
/// # Errors
/// [`RunError`] when the stdin or stdout thread cannot be started.
pub fn run<R, W>(
    endpoint: Endpoint,
    timeouts: Timeouts,
    options: RelayOptions,
    auth: RequestAuth,
    runtime_session: Option<String>,
    input: R,
    output: W,
) -> Result<Ended, RunError>
where
    R: BufRead + Send + 'static,
    W: Write + Send + 'static,
{
    let stdout_queue = options.limits.stdout_queue;
    let process = Process::new(endpoint, timeouts, options, auth);
    let (end_tx, ends) = mpsc::channel();
    let on_closed = {
        let end_tx = end_tx.clone();
        move |e: io::Error| {
            let _ = end_tx.send(End::Stdout(e));
        }
    };
    let (out, writer) = stdio::spawn_writer(output, stdout_queue, on_closed).map_err(|source| {
        RunError::Thread {
            name: "stdout",
            source,
        }
    })?;
    // With one client, messages outside any request go to stdout too.
    let shared = Arc::new(Conversation::new(
        &process,
        runtime_session,
        Arc::default(),
        out.clone(),
    ));
    let ctx = Exchange::new(&shared, out);
    let on_signal = {
        let end_tx = end_tx.clone();
        move |s: Terminate| {
            let _ = end_tx.send(End::Signal(s));
        }
    };
    if let Err(e) = signal::on_terminate(on_signal) {
        log::warn!(
            "cannot catch {} ({e}); they will end the process at once",
            signal::CAUGHT
        );
    }
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let read = dispatch::read_loop(&ctx, input);
            drop(ctx);
            let _ = end_tx.send(End::Stdin(read));
        })
        .map_err(|source| RunError::Thread {
            name: "stdin",
            source,
        })?;
    let ended = match ends.recv() {
        Ok(End::Stdout(e)) => return Ok(stdout_closed(&shared, e)),
        Ok(End::Stdin(Ok(()))) | Err(_) => Ended::StdinClosed,
        Ok(End::Stdin(Err(e))) => {
            log::warn!("reading stdin failed: {e}; ending");
            Ended::StdinFailed(e)
        }
        Ok(End::Signal(s)) => {
            log::info!("{s}: ending the session");
            Ended::Signal(s)
        }
    };
    // A signal bounds the whole shutdown; the end of stdin each step.
    let budget = matches!(ended, Ended::Signal(_)).then(|| Instant::now() + SIGNAL_EXIT);
    let left = |most: Duration| match budget {
        Some(end) => most.min(end.saturating_duration_since(Instant::now())),
        None => most,
    };
    shared.begin_shutdown();
    let waiting = shared.pending.len();
    if waiting > 0 {
        log::debug!(
            "{ended}; giving {waiting} request(s) in flight up to {} s",
            SHUTDOWN_GRACE.as_secs_f64()
        );
    }
    match wait_idle(&shared, &ends, SHUTDOWN_GRACE) {
        Err(e) => return Ok(stdout_closed(&shared, e)),
        Ok(true) => {}
        Ok(false) => {
            // The client ended the conversation; SDK clients stop reading
            // then, and fail on a late line. Streams still open are cut, and
            // the session DELETE below tells the server to stop the work.
            let queued = shared.in_flight.close();
            let left = shared.pending.abort_all();
            log::info!(
                "{ended}: abandoning {left} request(s) still in flight ({queued} message(s) not sent yet)"
            );
        }
    }
    // Keep a little of a signal's budget for the last writes.
    let delete =
        left(DELETE_TIMEOUT).saturating_sub(budget.map_or(Duration::ZERO, |_| DRAIN_RESERVE));
    if !delete.is_zero() {
        delete_sessions(&shared, delete);
    }
    // Close what is still open on the shared pool (the GET stream).
    process.shutdown();
    shared.close_unsolicited();
    // Let the writer drain what the exchanges wrote; threads stuck elsewhere
    // end with the process.
    let (done_tx, done) = mpsc::channel();
    let joiner = std::thread::Builder::new().spawn(move || {
        let _ = writer.join();
        let _ = done_tx.send(());
    });
    if joiner.is_ok() {
        let _ = done.recv_timeout(left(DRAIN_WAIT));
    }
    // Idle exchange threads end now, not after their idle time (a run inside
    // a process that goes on: `doctor`, tests).
    shared.in_flight.close();
    Ok(ended)
}

/// What a signal's budget keeps for the last writes after the DELETE.
const DRAIN_RESERVE: Duration = Duration::from_millis(250);

/// The client closed stdout: nothing more can reach it, so the session is
/// ended at once.
fn stdout_closed(shared: &Conversation, e: io::Error) -> Ended {
    log::info!("stdout closed ({e}); ending");
    shared.begin_shutdown();
    shared.in_flight.close();
    delete_sessions(shared, DELETE_TIMEOUT);
    Ended::StdoutClosed(e)
}

/// Ends every upstream session with its signed DELETE, waiting at most
/// `limit` in all: the default profile's here; with several profiles, each
/// other session that was opened on a thread of its own at the same time.
pub(crate) fn delete_sessions(shared: &Conversation, limit: Duration) {
    let others = shared.profiles.made();
    if others.is_empty() {
        shared.upstream.delete_session(limit);
        return;
    }
    let end = Instant::now() + limit;
    let (done_tx, done) = mpsc::channel();
    let mut started = 0;
    for up in others {
        let done_tx = done_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("delete".into())
            .spawn(move || {
                up.delete_session(limit);
                let _ = done_tx.send(());
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => log::warn!("cannot start a thread to end a session: {e}"),
        }
    }
    shared.upstream.delete_session(limit);
    for _ in 0..started {
        if done
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .is_err()
        {
            break;
        }
    }
}

/// Waits until no exchange is in flight (`Ok(true)`) or `limit` passed
/// (`Ok(false)`); `Err` when stdout closed meanwhile.
fn wait_idle(
    shared: &Conversation,
    ends: &Receiver<End>,
    limit: Duration,
) -> Result<bool, io::Error> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if shared
            .in_flight
            .wait_idle(left.min(Duration::from_millis(50)))
        {
            return Ok(true);
        }
        match ends.recv_timeout(Duration::ZERO) {
            Ok(End::Stdout(e)) => return Err(e),
            Ok(End::Stdin(_) | End::Signal(_))
            | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
    }
}
