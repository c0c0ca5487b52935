//! The proxy under test: the built `mcp-sigv4` binary, driven over stdio.
//!
//! Owns: [`Proxy`], the binary started with environment credentials ([`AKID`],
//! [`SECRET_KEY`], [`SESSION_TOKEN`]) and nothing else from the caller's
//! environment, with stdin written line by line and stdout read through a
//! channel with timeouts; and [`assert_clean_stderr`], no panic and no secret in
//! what it logged.
//! Refuses: waiting without a bound. Every wait has a deadline, and the proxy is
//! killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fixtures::TempDir;
use super::mcp::{INITIALIZE, INITIALIZED, SESSION_ID};
use super::server::POLL;

/// The access key id the proxy signs with.
pub const AKID: &str = "AKIAIOSFODNN7RELAYXX";
/// The secret key: must never appear on stderr.
pub const SECRET_KEY: &str = "relayTestSecretKey/K7MDENG+bPxRfiCYzz9Q";
/// The session token: must never appear on stderr.
pub const SESSION_TOKEN: &str = "RelayTestSessionToken/IQoJb3JpZ2luX2VjEJr+secret==";

/// How long a test waits for one stdout line before it fails.
pub const LINE_WAIT: Duration = Duration::from_secs(5);
/// The same through `MCP_SIGV4_TEST_RUNNER`: Wine on a loaded machine once
/// took over 5 s to start the exe (nothing on stderr yet).
pub const LINE_WAIT_RUNNER: Duration = Duration::from_secs(20);

/// The command that starts the binary under test: the one cargo built, or,
/// when `MCP_SIGV4_TEST_BINARY` names another (the Windows `.exe`), that one
/// run by `MCP_SIGV4_TEST_RUNNER` (`wine64`) when set.
pub fn command() -> Command {
    let binary = std::env::var_os("MCP_SIGV4_TEST_BINARY");
    match (std::env::var_os("MCP_SIGV4_TEST_RUNNER"), binary) {
        (Some(runner), Some(binary)) => {
            // Without it Wine makes a prefix in each test's HOME (700 MB, a minute).
            assert!(
                !runner.to_string_lossy().contains("wine")
                    || std::env::var_os("WINEPREFIX").is_some(),
                "MCP_SIGV4_TEST_RUNNER is Wine but WINEPREFIX is not set: set it to a prepared prefix"
            );
            let mut c = Command::new(runner);
            c.arg(binary);
            c
        }
        (None, Some(binary)) => Command::new(binary),
        (_, None) => Command::new(env!("CARGO_BIN_EXE_mcp-sigv4")),
    }
}

/// With a runner, keeps the variables it needs (`WINE*`: the prefix, the
/// debug channels) through the cleared environment.
pub fn keep_runner_env(cmd: &mut Command) {
    if std::env::var_os("MCP_SIGV4_TEST_RUNNER").is_some() {
        for (name, value) in std::env::vars_os() {
            if name.to_str().is_some_and(|n| n.starts_with("WINE")) {
                cmd.env(name, value);
            }
        }
    }
}

/// How to start the proxy.
pub struct ProxyBuilder {
    command: Option<String>,
    url: String,
    args: Vec<String>,
    service: String,
    session_token: bool,
    credentials: bool,
    read_stdout: bool,
    env: Vec<(String, String)>,
}

impl ProxyBuilder {
    /// Sets an environment variable (after the harness's own, so it can
    /// replace them).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

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

    /// Gives the proxy no AWS credentials at all (no `AWS_*` keys).
    pub fn without_credentials(mut self) -> Self {
        self.credentials = false;
        self.session_token = false;
        self
    }

    /// Does not read stdout: the test takes it with [`Proxy::take_stdout`].
    pub fn no_stdout_reader(mut self) -> Self {
        self.read_stdout = false;
        self
    }

    /// Runs a subcommand (`serve`): it goes before the endpoint.
    pub fn subcommand(mut self, word: &str) -> Self {
        self.command = Some(word.to_owned());
        self
    }

    /// Starts the proxy.
    pub fn start(self) -> Proxy {
        let home = TempDir::new("proxy-home");
        let mut cmd = command();
        cmd.args(&self.command)
            .arg(&self.url)
            .args(["--service", &self.service, "--region", "us-east-1"])
            .args(["--log-level", "debug"])
            .args(&self.args)
            // Nothing from the caller's environment: no AWS_PROFILE, AWS_CONFIG_FILE,
            // AWS_REGION, HTTP(S)_PROXY or ALL_PROXY can change what is tested.
            .env_clear()
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.credentials {
            cmd.env("AWS_ACCESS_KEY_ID", AKID)
                .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        }
        if self.session_token {
            cmd.env("AWS_SESSION_TOKEN", SESSION_TOKEN);
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        keep_runner_env(&mut cmd);
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
        let paused = Arc::new(AtomicBool::new(false));
        let stdout_thread = if self.read_stdout {
            let pipe = stdout.take().expect("stdout pipe");
            let paused = Arc::clone(&paused);
            Some(std::thread::spawn(move || {
                let mut r = BufReader::new(pipe);
                loop {
                    while paused.load(Ordering::Acquire) {
                        std::thread::sleep(POLL);
                    }
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
            paused,
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
    /// While set, the stdout reader reads nothing (a client that stopped
    /// reading).
    paused: Arc<AtomicBool>,
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
            command: None,
            url: url.to_owned(),
            args: Vec::new(),
            service: "svc".to_owned(),
            session_token: true,
            credentials: true,
            read_stdout: true,
            env: Vec::new(),
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
    /// [`LINE_WAIT`], or [`LINE_WAIT_RUNNER`] with `MCP_SIGV4_TEST_RUNNER`.
    pub fn recv(&self) -> String {
        let wait = if std::env::var_os("MCP_SIGV4_TEST_RUNNER").is_some() {
            LINE_WAIT_RUNNER
        } else {
            LINE_WAIT
        };
        self.recv_timeout(wait)
            .unwrap_or_else(|| panic!("no stdout line within {wait:?}; stderr:\n{}", self.stderr()))
    }

    /// The next stdout line as JSON.
    pub fn recv_json(&self) -> Value {
        let line = self.recv();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout line {line:?}: {e}"))
    }

    /// Stops reading stdout (after the line being read), as a client that
    /// stopped reading: the pipe fills and the proxy's writer blocks.
    pub fn pause_stdout(&self) {
        self.paused.store(true, Ordering::Release);
    }

    /// Reads stdout again after [`pause_stdout`](Self::pause_stdout).
    pub fn resume_stdout(&self) {
        self.paused.store(false, Ordering::Release);
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

    /// Everything written to stderr so far. After [`Proxy::wait_exit`] has
    /// seen the exit, that is all of it.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Stderr once it contains `needle`, or as it is after `timeout`: the
    /// harness reads stderr and stdout on two threads, so a line the proxy
    /// wrote before an answer may be read after it.
    pub fn stderr_containing(&self, needle: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let stderr = self.stderr();
            if stderr.contains(needle) || Instant::now() >= end {
                return stderr;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Takes stdout (when started with [`ProxyBuilder::no_stdout_reader`]).
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.stdout.take().expect("stdout is read by the harness")
    }

    /// Closes stdin (end of input for the proxy).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits up to `timeout` for the process to exit; once it has, waits up
    /// to 2 s more for the harness to read the rest of its stderr (a helper
    /// process it started may still hold the pipe).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.join_stderr_reader(Duration::from_secs(2));
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

    /// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), when the
    /// platform has one (Linux).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status
            .lines()
            .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
        line.split_whitespace().nth(1)?.parse().ok()
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
        let stderr = self.stderr();
        let status = status.unwrap_or_else(|| panic!("the proxy did not exit; stderr:\n{stderr}"));
        assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
        assert_clean_stderr(&stderr);
        stderr
    }
}

impl Proxy {
    /// Joins the stderr reader when it ends within `timeout` (at the pipe's
    /// end of file); leaves it to `Drop` otherwise.
    fn join_stderr_reader(&mut self, timeout: Duration) {
        let end = Instant::now() + timeout;
        if let Some(t) = self.threads[0].take() {
            while !t.is_finished() && Instant::now() < end {
                std::thread::sleep(POLL);
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                self.threads[0] = Some(t);
            }
        }
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
