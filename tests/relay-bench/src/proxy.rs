//! A proxy under test as an MCP client sees it: a child process started with the
//! upstream's URL, JSON-RPC lines on its stdin, answers as lines on its stdout
//! (MCP "Transports" §stdio). The child's environment is cleared and given only
//! static credentials for [`crate::upstream::ACCESS_KEY_ID`], a region and an
//! empty home, so no profile, SSO cache or instance metadata is consulted; its
//! stderr goes to a log file. Memory is read from `/proc/<pid>/status`
//! (`VmRSS`, `VmHWM`, kB; proc(5)).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::upstream::ACCESS_KEY_ID;

/// How to start one kind of proxy.
#[derive(Clone)]
pub struct ProxyCmd {
    /// Short name for the report.
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Arguments after the URL.
    pub args: Vec<String>,
    /// Extra environment (the CA bundle in TLS mode).
    pub env: Vec<(String, String)>,
    /// Where the child's stderr goes (one file per start, numbered).
    pub log_dir: PathBuf,
    /// An empty directory for `HOME`.
    pub home: PathBuf,
}

/// A running proxy.
pub struct Proxy {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    next_id: u64,
    /// What the bench last read that answered no request (notifications).
    pub other_lines: u64,
}

/// How long any one answer may take before the bench gives up.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

impl Proxy {
    /// Starts `cmd` for `url`.
    pub fn spawn(cmd: &ProxyCmd, url: &str, serial: usize) -> Result<Proxy, String> {
        let log = cmd.log_dir.join(format!("{}-{serial}.stderr", cmd.name));
        let log = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut c = Command::new(&cmd.program);
        c.arg(url)
            .args(&cmd.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &cmd.home)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "relay/bench/secret/key/not/a/real/one/00",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", cmd.home.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", cmd.home.join("credentials"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        let mut child = c
            .spawn()
            .map_err(|e| format!("{}: {e}", cmd.program.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut r = BufReader::with_capacity(1 << 20, stdout);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Proxy {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            next_id: 1,
            other_lines: 0,
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one line.
    pub fn send(&mut self, msg: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        let mut line = serde_json::to_vec(msg).expect("serializes");
        line.push(b'\n');
        stdin
            .write_all(&line)
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing to the proxy: {e}"))
    }

    /// Sends a request and waits for the line answering it; returns the raw line
    /// and the time from before the write to the line's arrival.
    pub fn request(&mut self, method: &str, params: Value) -> Result<(String, Duration), String> {
        let id = self.next_id;
        self.next_id += 1;
        let msg =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let t0 = Instant::now();
        self.send(&msg)?;
        let line = self.wait_for(id, t0)?;
        Ok((line, t0.elapsed()))
    }

    /// Waits for the answer to `id`, skipping other lines.
    fn wait_for(&mut self, id: u64, t0: Instant) -> Result<String, String> {
        let want = format!("\"id\":{id}");
        loop {
            let left = ANSWER_TIMEOUT
                .checked_sub(t0.elapsed())
                .ok_or_else(|| format!("no answer to id {id} within {ANSWER_TIMEOUT:?}"))?;
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| format!("no answer to id {id} (stdout closed or timed out)"))?;
            // Cheap test first (both proxies write compact JSON); confirmed by
            // the caller's parse where it matters.
            if line.contains(&want) || id_of(&line) == Some(id) {
                return Ok(line);
            }
            self.other_lines += 1;
        }
    }

    /// `initialize` then `notifications/initialized`; the initialize line.
    pub fn initialize(&mut self) -> Result<(String, Duration), String> {
        let r = self.request(
            "initialize",
            serde_json::json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "mcp-sigv4-relay-bench", "version": "0.0.0"}
            }),
        )?;
        expect_result(&r.0, "initialize")?;
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(r)
    }

    /// One `tools/call` of `echo`; checks the text came back.
    pub fn echo(&mut self, text: &str) -> Result<Duration, String> {
        let (line, t) = self.request(
            "tools/call",
            serde_json::json!({"name": "echo", "arguments": {"text": text}}),
        )?;
        let v = expect_result(&line, "tools/call echo")?;
        if v["result"]["content"][0]["text"].as_str() != Some(text) {
            return Err(format!("echo answered with other text: {}", clip(&line)));
        }
        Ok(t)
    }

    /// `VmRSS` and `VmHWM` in kB.
    pub fn memory_kb(&self) -> Result<(u64, u64), String> {
        memory_kb(self.pid())
    }

    /// CPU time used so far (user + system, all threads).
    pub fn cpu_time(&self) -> Result<Duration, String> {
        cpu_time(self.pid())
    }

    /// Closes stdin (the MCP way to stop a stdio server) and waits up to 5 s,
    /// then kills.
    pub fn close(mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn id_of(line: &str) -> Option<u64> {
    serde_json::from_str::<Value>(line)
        .ok()?
        .get("id")?
        .as_u64()
}

/// Parses `line` and checks it is a JSON-RPC result, not an error.
pub fn expect_result(line: &str, what: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(line)
        .map_err(|e| format!("{what}: not JSON ({e}): {}", clip(line)))?;
    if v.get("result").is_none() {
        return Err(format!("{what}: expected a result, found {}", clip(line)));
    }
    Ok(v)
}

fn clip(s: &str) -> String {
    let s = s.trim_end();
    if s.len() <= 300 {
        s.to_owned()
    } else {
        format!("{}… ({} bytes)", &s[..300], s.len())
    }
}

/// `VmRSS` and `VmHWM` of `pid`, kB.
pub fn memory_kb(pid: u32) -> Result<(u64, u64), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let fields: HashMap<&str, u64> = status
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k, v.split_whitespace().next()?.parse().ok()?))
        })
        .collect();
    match (fields.get("VmRSS"), fields.get("VmHWM")) {
        (Some(r), Some(h)) => Ok((*r, *h)),
        _ => Err(format!("/proc/{pid}/status: no VmRSS/VmHWM")),
    }
}

/// CPU time the process has used, user + system, all threads (proc(5)
/// `/proc/<pid>/stat` fields 14 and 15, in clock ticks of 1/100 s on Linux).
pub fn cpu_time(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15.
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Duration::from_millis((ticks(14) + ticks(15)) * 10))
}

/// The log file of start `serial` of `cmd`, for error messages.
pub fn log_path(cmd: &ProxyCmd, serial: usize) -> PathBuf {
    cmd.log_dir.join(format!("{}-{serial}.stderr", cmd.name))
}

/// The last lines of a log, for an error message.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}
