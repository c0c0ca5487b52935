//! The `--serve` mode: `mcp-sigv4 serve` as a local Streamable HTTP endpoint,
//! side by side with what a user builds for the same job today — npm's
//! `mcp-proxy` (an HTTP bridge around a stdio server) around
//! `mcp-proxy-for-aws` — and the direct baseline, against the same upstream,
//! with the same HTTP load client ([`crate::http_client`]).
//!
//! Per server: start to port open; sequential `tools/call echo` on one session
//! (p50, p99, what each adds over the direct call, CPU per call over the
//! process tree); `VmRSS` of the tree with `--sessions` (100) sessions open at
//! once, each idle on its own connection; calls/s with 1, 8 and 64 clients at
//! once, each client its own session on its own connection (every session is
//! ended with DELETE when its client is dropped); `VmRSS` at rest after that
//! load; the exit status after SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::direct::Direct;
use crate::http_client::HttpClient;
use crate::server::{Server, ServerCmd};
use crate::upstream::Upstream;
use crate::{
    ECHO_TEXT, Options, bench_dir, check_echo, echo_body, fmt_d, fmt_signed, init_body, mb, pct,
    run_clients,
};

/// The npm HTTP bridge, pinned in `npm/package-lock.json`.
pub const BRIDGE: &str = "mcp-proxy";
pub const BRIDGE_VERSION: &str = "6.7.19";

/// One column of the serve report.
#[derive(Default)]
struct Col {
    name: String,
    start: Option<Duration>,
    calls: Vec<Duration>,
    cpu_per_call: Option<Duration>,
    throughput: Vec<(usize, f64)>,
    rss_rest_kb: Option<u64>,
    rss_sessions: Option<(u64, usize)>,
    rss_after_load_kb: Option<u64>,
    exit: Option<String>,
}

/// The bridge's directory (npm ci of `npm/`), made on first use.
fn bridge() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("npm");
    let mut wanted = String::new();
    for f in ["package.json", "package-lock.json"] {
        wanted += &std::fs::read_to_string(src.join(f))
            .map_err(|e| format!("{}: {e}", src.join(f).display()))?;
    }
    let dir = bench_dir().join(format!("npm-{BRIDGE}-{BRIDGE_VERSION}"));
    let marker = dir.join("installed");
    let program = dir.join("node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) && program.exists()
    {
        return Ok(program);
    }
    eprintln!(
        "installing {BRIDGE} {BRIDGE_VERSION} from npm into {} …",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(src.join(f), dir.join(f)).map_err(|e| e.to_string())?;
    }
    let ok = Command::new("npm")
        .args(["ci", "--silent", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok || !program.exists() {
        return Err(format!(
            "could not install {BRIDGE} from npm into {} (npm ci); --no-python skips the peers",
            dir.display()
        ));
    }
    std::fs::write(&marker, wanted).map_err(|e| e.to_string())?;
    Ok(program)
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

pub fn run(
    o: &Options,
    binary: Option<&Path>,
    python: Option<&Path>,
    work: &Path,
    home: &Path,
) -> Result<(), String> {
    let peer = match python {
        Some(p) => Some((bridge()?, p.to_path_buf())),
        None => None,
    };
    let up = Upstream::start(None).map_err(|e| format!("upstream: {e}"))?;
    let url = format!("http://{}/mcp", up.addr);
    let service = ["--service", "bench", "--region", "us-east-1"].map(String::from);

    let mut cmds = Vec::new();
    if let Some(b) = binary {
        let mut args = vec!["serve".to_owned(), "{url}".to_owned()];
        args.extend(service.iter().cloned());
        args.extend(["--listen", "127.0.0.1:{port}"].map(String::from));
        cmds.push(ServerCmd {
            name: "mcp-sigv4 serve".into(),
            program: b.to_path_buf(),
            args,
            log_dir: work.to_path_buf(),
            home: home.to_path_buf(),
        });
    }
    if let Some((bridge, py)) = &peer {
        let mut args = vec![bridge.display().to_string()];
        args.extend(
            [
                "--server",
                "stream",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--",
            ]
            .map(String::from),
        );
        args.push(py.display().to_string());
        args.push("{url}".into());
        args.extend(service.iter().cloned());
        args.extend(["--disable-telemetry", "--log-level", "ERROR"].map(String::from));
        cmds.push(ServerCmd {
            name: format!("{BRIDGE} + {}", crate::PYTHON_PROXY),
            program: PathBuf::from("node"),
            args,
            log_dir: work.to_path_buf(),
            home: home.to_path_buf(),
        });
    }

    println!("mcp-sigv4 relay benchmark, --serve mode (HTTP clients)");
    crate::print_machine();
    if let Some(b) = binary {
        println!(
            "mcp-sigv4: {} ({}, {} bytes)",
            b.display(),
            crate::version_of(b),
            std::fs::metadata(b).map_or(0, |m| m.len())
        );
    }
    if peer.is_some() {
        println!(
            "peer:      npm {BRIDGE} {BRIDGE_VERSION} (node {}) --server stream, around {} {} (one stdio child, shared by every HTTP session)",
            node_version(),
            crate::PYTHON_PROXY,
            crate::PYTHON_PROXY_VERSION
        );
    }
    println!("upstream:  {url} (Rust, one thread per connection, keep-alive)");
    println!(
        "load:      Rust HTTP/1.1 clients, one kept connection and one MCP session each; {} sequential calls; {:?} clients at once for {} s each; {} sessions open for RSS",
        o.calls, o.concurrency, o.seconds, o.sessions
    );
    println!();

    let mut cols = vec![direct_col(o, up.addr)?];
    for cmd in &cmds {
        eprintln!("measuring {} …", cmd.name);
        cols.push(server_col(o, cmd, &url).map_err(|e| format!("{}: {e}", cmd.name))?);
    }
    let unsigned = up.counters.unsigned.load(Ordering::Relaxed);
    if unsigned > 0 {
        return Err(format!(
            "{unsigned} request(s) reached the upstream from a server without a SigV4 Authorization header"
        ));
    }
    report(o, &cols, up.counters.signed.load(Ordering::Relaxed));
    Ok(())
}

fn direct_col(o: &Options, addr: std::net::SocketAddr) -> Result<Col, String> {
    eprintln!("measuring the direct baseline …");
    let e = |e: std::io::Error| format!("direct: {e}");
    let mut col = Col {
        name: "direct".into(),
        ..Col::default()
    };
    let mut d = Direct::new(addr, None);
    d.post(&init_body()).map_err(e)?;
    for i in 0..50.min(o.calls) {
        check_echo(&d.post(&echo_body(i as u64, ECHO_TEXT)).map_err(e)?)?;
    }
    for i in 0..o.calls {
        let b = echo_body(i as u64, ECHO_TEXT);
        let t0 = Instant::now();
        let m = d.post(&b).map_err(e)?;
        col.calls.push(t0.elapsed());
        check_echo(&m)?;
    }
    for &n in &o.concurrency {
        let rate = run_clients(n, o.seconds, |_| {
            let mut d = Direct::new(addr, None);
            d.post(&init_body()).map_err(e)?;
            Ok(move |i: u64| check_echo(&d.post(&echo_body(i, ECHO_TEXT)).map_err(e)?))
        })?;
        col.throughput.push((n, rate));
    }
    Ok(col)
}

fn session(addr: std::net::SocketAddr) -> Result<HttpClient, String> {
    let mut c = HttpClient::new(addr, "/mcp", None);
    c.initialize().map_err(|e| e.to_string())?;
    Ok(c)
}

fn server_col(o: &Options, cmd: &ServerCmd, url: &str) -> Result<Col, String> {
    let mut col = Col {
        name: cmd.name.clone(),
        ..Col::default()
    };
    let t0 = Instant::now();
    let server = Server::start(cmd, url)?;
    col.start = Some(t0.elapsed());
    let addr = server.addr;
    let with_log = |e: String| {
        format!(
            "{e}\n  its stderr ({}) ends:\n{}",
            server.log.display(),
            crate::proxy::log_tail(&server.log)
        )
    };

    // Sequential calls on one session.
    let mut c = session(addr).map_err(with_log)?;
    c.request("tools/list", serde_json::json!({}))
        .map_err(|e| with_log(e.to_string()))?;
    for _ in 0..50.min(o.calls) {
        c.echo(ECHO_TEXT).map_err(|e| with_log(e.to_string()))?;
    }
    let cpu0 = server.cpu_time()?;
    for _ in 0..o.calls {
        let t0 = Instant::now();
        c.echo(ECHO_TEXT).map_err(|e| with_log(e.to_string()))?;
        col.calls.push(t0.elapsed());
    }
    col.cpu_per_call = Some((server.cpu_time()? - cpu0) / o.calls as u32);
    c.close();
    thread::sleep(Duration::from_millis(500));
    col.rss_rest_kb = Some(server.rss_kb()?.0);

    // Many sessions open at once, each on its own connection, idle.
    let mut open = Vec::new();
    for _ in 0..o.sessions {
        let mut c = session(addr).map_err(with_log)?;
        c.echo(ECHO_TEXT).map_err(|e| with_log(e.to_string()))?;
        open.push(c);
    }
    thread::sleep(Duration::from_millis(500));
    col.rss_sessions = Some(server.rss_kb()?);
    for c in open {
        c.close();
    }

    // N clients at once, each its own session.
    for &n in &o.concurrency {
        let rate = run_clients(n, o.seconds, |_| {
            let mut c = session(addr)?;
            c.echo(ECHO_TEXT).map_err(|e| e.to_string())?;
            Ok(move |_: u64| c.echo(ECHO_TEXT).map_err(|e| e.to_string()))
        })
        .map_err(with_log)?;
        col.throughput.push((n, rate));
        eprintln!("  {n} clients: {rate:.0} calls/s");
    }

    thread::sleep(Duration::from_millis(500));
    col.rss_after_load_kb = Some(server.rss_kb()?.0);

    col.exit = Some(match server.stop() {
        Some(s) => match s.code() {
            Some(code) => format!("exit {code}"),
            None => format!("{s}"),
        },
        None => "killed after 10 s".into(),
    });
    Ok(col)
}

fn report(o: &Options, cols: &[Col], signed: u64) {
    let direct = &cols[0];
    let servers = &cols[1..];
    let w = 32;
    let two = servers.len() == 2;
    let mut header = format!("  {:<40}", "");
    for c in cols {
        header.push_str(&format!("{:>w$}", c.name));
    }
    if two {
        header.push_str(&format!("{:>16}", "ours better by"));
    }
    println!("{header}");
    let row = |label: &str, cells: Vec<Option<String>>, ratio: Option<f64>| {
        let mut line = format!("  {label:<40}");
        for c in cells {
            line.push_str(&format!("{:>w$}", c.unwrap_or_else(|| "—".into())));
        }
        if let Some(r) = ratio {
            line.push_str(&format!("{:>15.1}x", r));
        }
        println!("{line}");
    };
    let ratio = |f: &dyn Fn(&Col) -> Option<f64>| -> Option<f64> {
        if two {
            Some(f(&servers[1])? / f(&servers[0])?)
        } else {
            None
        }
    };
    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    row(
        "start → port open",
        cols.iter().map(|c| c.start.map(fmt_d)).collect(),
        ratio(&|c| secs(c.start)),
    );
    for (label, p) in [("call p50", 0.5), ("call p99", 0.99)] {
        row(
            &format!("{label} ({} sequential calls)", o.calls),
            cols.iter().map(|c| pct(&c.calls, p).map(fmt_d)).collect(),
            ratio(&|c| secs(pct(&c.calls, p))),
        );
        let added = |c: &Col| Some(secs(pct(&c.calls, p))? - secs(pct(&direct.calls, p))?);
        row(
            &format!("  added ({label} − direct)"),
            cols.iter()
                .map(|c| {
                    if c.name == "direct" {
                        None
                    } else {
                        added(c).map(fmt_signed)
                    }
                })
                .collect(),
            ratio(&added),
        );
    }
    row(
        "  server CPU per call (all processes)",
        cols.iter().map(|c| c.cpu_per_call.map(fmt_d)).collect(),
        ratio(&|c| secs(c.cpu_per_call)),
    );
    for (i, &n) in o.concurrency.iter().enumerate() {
        let get = |c: &Col| c.throughput.get(i).map(|t| t.1);
        row(
            &format!("{n} client{}: calls/s", if n == 1 { "" } else { "s" }),
            cols.iter()
                .map(|c| get(c).map(|t| format!("{t:.0}")))
                .collect(),
            ratio(&|c| get(c).map(|t| 1.0 / t)),
        );
    }
    row(
        "RSS at rest after the calls",
        cols.iter().map(|c| c.rss_rest_kb.map(mb)).collect(),
        ratio(&|c| c.rss_rest_kb.map(|k| k as f64)),
    );
    row(
        &format!("RSS with {} sessions open", o.sessions),
        cols.iter()
            .map(|c| {
                c.rss_sessions.map(|(k, n)| {
                    if n > 1 {
                        format!("{} ({n} processes)", mb(k))
                    } else {
                        mb(k)
                    }
                })
            })
            .collect(),
        ratio(&|c| c.rss_sessions.map(|(k, _)| k as f64)),
    );
    row(
        "RSS at rest after the clients",
        cols.iter().map(|c| c.rss_after_load_kb.map(mb)).collect(),
        ratio(&|c| c.rss_after_load_kb.map(|k| k as f64)),
    );
    row(
        "after SIGTERM",
        cols.iter().map(|c| c.exit.clone()).collect(),
        None,
    );
    println!();
    println!(
        "checked: every answer's id and content; {signed} requests reached the upstream from the servers, all SigV4-signed for the bench's key"
    );
    let Some(ours) = servers.iter().find(|c| c.name.starts_with("mcp-sigv4")) else {
        return;
    };
    println!("Goals (tests/relay-bench/README.md), mcp-sigv4 serve:");
    let goal = |met: Option<bool>, text: String| {
        let tag = match met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        println!("  [{tag}] {text}");
    };
    let a = secs(pct(&ours.calls, 0.5))
        .zip(secs(pct(&direct.calls, 0.5)))
        .map(|(x, y)| x - y);
    goal(
        a.map(|a| a < 200e-6),
        format!(
            "under 200 µs added per call at p50: {}",
            a.map_or("—".into(), fmt_signed)
        ),
    );
    if let Some(peer) = servers.iter().find(|c| !c.name.starts_with("mcp-sigv4")) {
        for (i, &(n, t)) in ours.throughput.iter().enumerate() {
            let x = peer.throughput.get(i).map(|p| t / p.1);
            goal(
                x.map(|x| x >= 20.0),
                format!(
                    "at least 20x the peer's calls/s, {n} client(s): {}",
                    x.map_or("—".into(), |x| format!("{x:.1}x"))
                ),
            );
        }
    }
    let r = ours.rss_sessions.map(|r| r.0);
    goal(
        r.map(|k| (k as f64) * 1024.0 < 16e6),
        format!(
            "RSS under 16 MB with {} sessions open: {}",
            o.sessions,
            r.map_or("—".into(), mb)
        ),
    );
    println!("  (a goal not met is reported, not an error: the exit status stays 0)");
}
