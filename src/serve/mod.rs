//! `mcp-sigv4 serve`: the server side of MCP Streamable HTTP on a local
//! socket, each client session relayed in its own signed upstream session.
//!
//! Owns: the accept loop (a thread per connection, at most
//! `--max-connections`), the idle-session sweeper, and the shutdown on
//! SIGTERM/SIGINT or a Windows console event such as Ctrl+C (`crate::signal`:
//! stop accepting, let POSTs in flight finish within
//! `--drain-timeout`, then end every session). The transport rules are
//! `mcp.rs`'s, the connection's life `connection.rs`'s.
//! Refuses: relaying anything itself; the backend (`backend.rs`) does that.

mod backend;
mod connection;
mod guard;
mod headers;
mod listen;
mod mcp;
mod options;
pub mod request;
mod response;
mod sessions;
#[cfg(test)]
mod tests;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub(crate) use backend::Backend;
pub use listen::Listen;
pub use options::Options;

use crate::sync::{Locked, wait_while};
use listen::Listener;
use sessions::{Session, Sessions};

/// How long ending one conversation (cancellations, then the upstream
/// DELETE) may take.
pub const END_LIMIT: Duration = Duration::from_secs(5);

/// Conversations ended at once at shutdown.
const END_PARALLEL: usize = 16;

/// What every connection thread shares.
struct Server {
    backend: Box<dyn Backend>,
    options: Options,
    sessions: Sessions,
    /// SIGTERM, SIGINT or a console event (`crate::signal`) arrived.
    stopping: AtomicBool,
    /// Connections open.
    connections: AtomicUsize,
    /// POSTs in progress (what the drain waits for).
    busy: Mutex<usize>,
    idle: Condvar,
}

/// A POST in progress, counted while it lives.
struct Busy<'a>(&'a Server);

impl<'a> Busy<'a> {
    fn new(server: &'a Server) -> Busy<'a> {
        *server.busy.locked() += 1;
        Busy(server)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut n = self.0.busy.locked();
        *n -= 1;
        if *n == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// A connection counted while it lives.
struct Counted(Arc<Server>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Ends `session`'s conversation (its GET stream, if any, sees the end).
fn end_session(session: &Session) {
    session.mark_ended();
    session.conversation.end(END_LIMIT);
}

/// `mcp-sigv4 serve`: `run` with the relay for `endpoint` as the backend,
/// each client session in its own upstream session signed by `auth`.
///
/// # Errors
/// Binding the address, or starting a thread.
pub fn run_relay(
    options: Options,
    endpoint: crate::config::Endpoint,
    timeouts: crate::config::Timeouts,
    relay: crate::config::RelayOptions,
    auth: crate::auth::RequestAuth,
) -> io::Result<()> {
    let process = crate::relay::Process::new(endpoint, timeouts, relay, auth);
    let served = run(options, Box::new(backend::Relay(Arc::clone(&process))));
    process.shutdown();
    served
}

/// Listens as `options` say and serves until SIGTERM or SIGINT (Windows:
/// Ctrl+C, Ctrl+Break, the console closing; see [`crate::signal`]); then drains
/// and returns. Logs `mcp-sigv4 serve: listening on http://ADDR/mcp` to
/// stderr once bound.
///
/// # Errors
/// Binding the address, or starting a thread.
pub(crate) fn run(options: Options, backend: Box<dyn Backend>) -> io::Result<()> {
    let listener = Arc::new(Listener::bind(&options.listen)?);
    let _ = writeln!(
        io::stderr(),
        "mcp-sigv4 serve: listening on {}",
        listener.describe()
    );
    let server = Server::new(options, backend);
    {
        let server = Arc::clone(&server);
        let listener = Arc::clone(&listener);
        let on_signal = move |s: crate::signal::Terminate| {
            log::info!("{s}: no new connections; draining");
            stop(&server, &listener);
        };
        if let Err(e) = crate::signal::on_terminate(on_signal) {
            log::warn!(
                "cannot catch {} ({e}); they will end the process at once",
                crate::signal::CAUGHT
            );
        }
    }
    let sweeper = Arc::clone(&server);
    spawn("serve-sweeper", Box::new(move || sweep(&sweeper)))?;
    {
        // On a thread of its own, so that an accept the wake-up cannot reach
        // (a Unix socket file someone removed) does not hold up the drain;
        // the process's exit ends it.
        let server = Arc::clone(&server);
        let listener = Arc::clone(&listener);
        spawn(
            "serve-accept",
            Box::new(move || accept_loop(&server, &listener)),
        )?;
    }
    while !server.stopping.load(Ordering::Acquire) {
        let guard = wait_while(
            &server.idle,
            server.busy.locked(),
            Duration::from_secs(1),
            |_| !server.stopping.load(Ordering::Acquire),
        );
        drop(guard);
    }
    // Not left to the drop: the signal handler holds the listener too.
    listener.remove_socket_file();
    drop(listener);
    drain(&server);
    Ok(())
}

impl Server {
    fn new(options: Options, backend: Box<dyn Backend>) -> Arc<Server> {
        Arc::new(Server {
            backend,
            sessions: Sessions::new(options.max_sessions),
            options,
            stopping: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            busy: Mutex::new(0),
            idle: Condvar::new(),
        })
    }
}

/// Stops accepting: the accept loop returns, streams and idle connections end.
fn stop(server: &Server, listener: &Listener) {
    server.stopping.store(true, Ordering::Release);
    server.idle.notify_all();
    listener.wake();
}

fn accept_loop(server: &Arc<Server>, listener: &Listener) {
    loop {
        let accepted = listener.accept();
        if server.stopping.load(Ordering::Acquire) {
            return;
        }
        let mut stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it
                // was taken: wait a little rather than spin.
                log::debug!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let max = server.options.max_connections;
        if server.connections.fetch_add(1, Ordering::AcqRel) >= max {
            server.connections.fetch_sub(1, Ordering::AcqRel);
            log::debug!("{max} connections open: refusing one more");
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = response::text(
                &mut stream,
                503,
                &format!("busy: {max} connections are open (--max-connections); try again"),
                true,
            );
            continue;
        }
        let counted = Counted(Arc::clone(server));
        let job = move || {
            connection::serve(&counted.0, stream);
            drop(counted);
        };
        if let Err(e) = spawn("serve-connection", Box::new(job)) {
            log::warn!("cannot start a connection thread: {e}");
        }
    }
}

/// Starts `job` on a thread named `name` (one instantiation for every
/// thread `serve` starts).
fn spawn(name: &str, job: Box<dyn FnOnce() + Send>) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(job)
}

/// Ends the sessions idle past `--session-idle`, checking a few times per
/// period, until shutdown.
fn sweep(server: &Server) {
    let idle = server.options.session_idle;
    let period = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        let guard = wait_while(&server.idle, server.busy.locked(), period, |_| {
            !server.stopping.load(Ordering::Acquire)
        });
        drop(guard);
        if server.stopping.load(Ordering::Acquire) {
            return;
        }
        for s in server.sessions.take_idle(idle) {
            log::debug!("a session idle for {} s: ending it", idle.as_secs());
            end_session(&s);
        }
    }
}

/// After the signal: waits for POSTs in flight (at most `--drain-timeout`),
/// then ends every session, [`END_PARALLEL`] at a time.
fn drain(server: &Server) {
    let start = Instant::now();
    let left = wait_while(
        &server.idle,
        server.busy.locked(),
        server.options.drain,
        |n| *n > 0,
    );
    if *left > 0 {
        log::info!(
            "{} request(s) still in flight after {} s; ending their sessions",
            *left,
            server.options.drain.as_secs_f64()
        );
    }
    drop(left);
    let sessions = Arc::new(Mutex::new(server.sessions.take_all()));
    let count = sessions.locked().len();
    if count > 0 {
        log::info!("ending {count} session(s)");
    }
    let work = |sessions: Arc<Mutex<Vec<Arc<Session>>>>| {
        move || {
            while let Some(s) = sessions.locked().pop() {
                end_session(&s);
            }
        }
    };
    let workers: Vec<_> = (0..END_PARALLEL.min(count))
        .filter_map(|_| spawn("serve-end", Box::new(work(Arc::clone(&sessions)))).ok())
        .collect();
    // What no thread could be started for is ended here.
    work(sessions)();
    for w in workers {
        let _ = w.join();
    }
    log::debug!("drained in {} ms", start.elapsed().as_millis());
}
