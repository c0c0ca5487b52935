//! An HTTP MCP server under test in the `--serve` mode: a process (and, for a
//! bridge around a stdio proxy, its children) listening on 127.0.0.1:PORT,
//! started with a cleared environment holding only the bench's static
//! credentials, as [`crate::proxy`] starts a stdio proxy. Memory and CPU are
//! read for the whole process tree (`/proc/<pid>/stat` parent links, proc(5)),
//! since a bridge's stdio proxy is a child of it. Stopped with SIGTERM (what an
//! orchestrator sends), then SIGKILL after 10 s.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::proxy;
use crate::upstream::ACCESS_KEY_ID;

/// How to start one kind of HTTP server.
pub struct ServerCmd {
    /// Short name for the report.
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments; `{url}` and `{port}` are replaced.
    pub args: Vec<String>,
    /// Where its stderr goes.
    pub log_dir: PathBuf,
    /// An empty directory for `HOME`.
    pub home: PathBuf,
}

/// A running server.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stderr log.
    pub log: PathBuf,
}

/// A port free on 127.0.0.1 a moment ago (bound, read, released).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Server {
    /// Starts `cmd` for the upstream `url` and waits (at most 120 s) until its
    /// port accepts connections.
    pub fn start(cmd: &ServerCmd, url: &str) -> Result<Server, String> {
        let port = free_port()?;
        let log = cmd.log_dir.join(format!("{}-server.stderr", cmd.name));
        let log_file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let args: Vec<String> = cmd
            .args
            .iter()
            .map(|a| a.replace("{url}", url).replace("{port}", &port.to_string()))
            .collect();
        let child = Command::new(&cmd.program)
            .args(&args)
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
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| format!("{}: {e}", cmd.program.display()))?;
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        let t0 = Instant::now();
        loop {
            if TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{} {} exited ({status}) before listening; its stderr ends:\n{}",
                    cmd.program.display(),
                    args.join(" "),
                    proxy::log_tail(&server.log)
                ));
            }
            if t0.elapsed() > Duration::from_secs(120) {
                return Err(format!(
                    "{} is not listening on {} after 120 s",
                    cmd.name, server.addr
                ));
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// The pids of the server and every process below it.
    pub fn tree(&self) -> Vec<u32> {
        let root = self.child.id();
        let mut parents: Vec<(u32, u32)> = Vec::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                    parents.push((pid, ppid));
                }
            }
        }
        let mut tree = vec![root];
        let mut i = 0;
        while i < tree.len() {
            let p = tree[i];
            tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
            i += 1;
        }
        tree
    }

    /// `VmRSS` summed over the tree, kB, and the number of processes.
    pub fn rss_kb(&self) -> Result<(u64, usize), String> {
        let tree = self.tree();
        let mut sum = 0;
        for pid in &tree {
            sum += proxy::memory_kb(*pid)?.0;
        }
        Ok((sum, tree.len()))
    }

    /// CPU time used so far by the tree (user + system, all threads).
    pub fn cpu_time(&self) -> Result<Duration, String> {
        let mut sum = Duration::ZERO;
        for pid in self.tree() {
            sum += proxy::cpu_time(pid)?;
        }
        Ok(sum)
    }

    /// SIGTERM, then waits up to 10 s (SIGKILL after); the exit status, or
    /// None when it had to be killed.
    pub fn stop(mut self) -> Option<std::process::ExitStatus> {
        let tree = self.tree();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Children a bridge left behind.
        for pid in tree.into_iter().skip(1) {
            if std::fs::metadata(format!("/proc/{pid}")).is_ok() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
