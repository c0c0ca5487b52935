//! Relay benchmark: what `mcp-sigv4` adds between an MCP client and a remote
//! MCP server, measured side by side with the AWS Python proxy
//! `mcp-proxy-for-aws` 1.7.0 (installed by the bench into its own venv), the same
//! upstream and the same client in one run. See README.md.
//!
//! Owns: starting the loopback upstream (plain, or TLS behind a delaying
//! forwarder), the baseline client, the proxies, every measurement and the
//! report. Refuses: judging correctness beyond what the numbers need (every
//! answer is checked for its id and content, and every proxied request for a
//! SigV4 header; a wrong or missing answer stops the bench with exit status 1).

mod direct;
mod forwarder;
mod http1;
mod http_client;
mod proxy;
mod serve_mode;
mod server;
mod tls;
mod upstream;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use direct::Direct;
use forwarder::Forwarder;
use proxy::{Proxy, ProxyCmd, expect_result};
use upstream::{BIG_BYTES, Upstream};

const PYTHON_PROXY: &str = "mcp-proxy-for-aws";
const PYTHON_PROXY_VERSION: &str = "1.7.0";

struct Options {
    binary: Option<PathBuf>,
    target: String,
    python: bool,
    calls: usize,
    spawns: usize,
    clients: usize,
    seconds: f64,
    big: bool,
    tls: bool,
    delay_ms: u64,
    serve: bool,
    ours: bool,
    concurrency: Vec<usize>,
    sessions: usize,
}

const HELP: &str = "\
mcp-sigv4 relay benchmark (see tests/relay-bench/README.md)

usage: cargo run --release --manifest-path tests/relay-bench/Cargo.toml -- [options]

  --binary PATH     the mcp-sigv4 to measure (default: build the release binary
                    for --target from this checkout)
  --target TRIPLE   default x86_64-unknown-linux-musl (the shipped static binary)
  --no-python       skip mcp-proxy-for-aws (no venv, no PyPI)
  --calls N         sequential calls per proxy for the latency figures (default 2000;
                    100 with --tls)
  --spawns N        starts for the spawn-to-initialize figure (default 10)
  --clients N       concurrent clients for throughput (default 8)
  --seconds S       length of the throughput run (default 3)
  --no-big          skip the 16 MiB results
  --tls             TLS mode: the upstream speaks TLS with a CA the bench makes,
                    behind a TCP forwarder that delays every byte --delay-ms each
                    way; reports spawn to initialize, per-call latency and the TCP
                    connections each proxy opens per 100 calls
  --delay-ms D      forwarder delay each way in --tls mode (default 20)
  --serve           serve mode: `mcp-sigv4 serve` as a local HTTP endpoint, beside
                    npm mcp-proxy around mcp-proxy-for-aws, driven by HTTP
                    clients: per-call latency, calls/s for --concurrency clients,
                    RSS with --sessions sessions open, exit after SIGTERM
  --concurrency L   serve mode: clients at once, comma-separated (default 1,8,64)
  --sessions N      serve mode: sessions open for the RSS figure (default 100)
  --no-ours         serve mode: measure the direct baseline and the peer only
  --quick           small counts, for a smoke run
";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        binary: None,
        target: "x86_64-unknown-linux-musl".to_owned(),
        python: true,
        calls: 0,
        spawns: 10,
        clients: 8,
        seconds: 3.0,
        big: true,
        tls: false,
        delay_ms: 20,
        serve: false,
        ours: true,
        concurrency: vec![1, 8, 64],
        sessions: 100,
    };
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    let num = |v: Option<String>, name: &str| -> Result<f64, String> {
        v.ok_or(format!("{name} needs a value"))?
            .parse::<f64>()
            .map_err(|e| format!("{name}: {e}"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--binary" => o.binary = Some(args.next().ok_or("--binary needs a path")?.into()),
            "--target" => o.target = args.next().ok_or("--target needs a triple")?,
            "--no-python" => o.python = false,
            "--calls" => o.calls = num(args.next(), "--calls")? as usize,
            "--spawns" => o.spawns = num(args.next(), "--spawns")? as usize,
            "--clients" => o.clients = num(args.next(), "--clients")? as usize,
            "--seconds" => o.seconds = num(args.next(), "--seconds")?,
            "--no-big" => o.big = false,
            "--tls" => o.tls = true,
            "--delay-ms" => o.delay_ms = num(args.next(), "--delay-ms")? as u64,
            "--serve" => o.serve = true,
            "--no-ours" => o.ours = false,
            "--sessions" => o.sessions = num(args.next(), "--sessions")? as usize,
            "--concurrency" => {
                let v = args.next().ok_or("--concurrency needs a list")?;
                o.concurrency = v
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse::<usize>()
                            .map_err(|e| format!("--concurrency: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--quick" => quick = true,
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    if o.calls == 0 {
        o.calls = if o.tls { 100 } else { 2000 };
    }
    if quick {
        o.calls = o.calls.min(100);
        o.spawns = o.spawns.min(3);
        o.seconds = o.seconds.min(1.0);
        o.sessions = o.sessions.min(10);
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (this crate is at tests/relay-bench).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

fn build_binary(target: &str) -> Result<PathBuf, String> {
    eprintln!("building mcp-sigv4 (release, {target}) …");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root())
        .args(["build", "--release", "--locked", "--target", target])
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build --release --target {target} failed (for the musl target: `rustup target add {target}` and musl-gcc from musl-tools; or give --binary)"
        ));
    }
    Ok(repo_root()
        .join("target")
        .join(target)
        .join("release/mcp-sigv4"))
}

/// The venv with mcp-proxy-for-aws at the versions in requirements.txt; made
/// on first use, kept while requirements.txt is unchanged.
fn python_proxy() -> Result<PathBuf, String> {
    let reqs = Path::new(env!("CARGO_MANIFEST_DIR")).join("requirements.txt");
    let wanted = std::fs::read_to_string(&reqs).map_err(|e| format!("{}: {e}", reqs.display()))?;
    let venv = bench_dir().join(format!("venv-{PYTHON_PROXY}-{PYTHON_PROXY_VERSION}"));
    let marker = venv.join("requirements.installed");
    let program = venv.join("bin").join(PYTHON_PROXY);
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) && program.exists()
    {
        return Ok(program);
    }
    eprintln!(
        "installing {PYTHON_PROXY} {PYTHON_PROXY_VERSION} into {} …",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&reqs)
            .status()
            .is_ok_and(|s| s.success());
    if !ok || !program.exists() {
        return Err(format!(
            "could not install {PYTHON_PROXY} from PyPI into {} (python3 -m venv, pip); --no-python skips it",
            venv.display()
        ));
    }
    std::fs::write(&marker, wanted).map_err(|e| e.to_string())?;
    Ok(program)
}

fn version_of(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn run(o: &Options) -> Result<(), String> {
    let work = bench_dir().join(format!(
        "run-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    ));
    let home = work.join("home");
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;

    if o.serve && !o.ours {
        let python = if o.python {
            Some(python_proxy()?)
        } else {
            None
        };
        serve_mode::run(o, None, python.as_deref(), &work, &home)?;
        let _ = std::fs::remove_dir_all(&work);
        return Ok(());
    }
    let binary = match &o.binary {
        Some(b) => b.clone(),
        None => build_binary(&o.target)?,
    };
    let binary = binary
        .canonicalize()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let python = if o.python {
        Some(python_proxy()?)
    } else {
        None
    };

    if o.serve {
        serve_mode::run(o, Some(&binary), python.as_deref(), &work, &home)?;
        let _ = std::fs::remove_dir_all(&work);
        return Ok(());
    }

    // The upstream, and in TLS mode the CA, the TLS upstream and the forwarder.
    let ca_pem = work.join("ca.pem");
    let pki = if o.tls {
        Some(tls::Pki::new(&ca_pem)?)
    } else {
        None
    };
    let up = Upstream::start(pki.as_ref().map(|p| Arc::clone(&p.server)))
        .map_err(|e| format!("upstream: {e}"))?;
    let fwd = if o.tls {
        Some(
            Forwarder::start(up.addr, Duration::from_millis(o.delay_ms))
                .map_err(|e| format!("forwarder: {e}"))?,
        )
    } else {
        None
    };
    let (scheme, addr) = match &fwd {
        Some(f) => ("https", f.addr),
        None => ("http", up.addr),
    };
    let url = format!("{scheme}://{addr}/mcp");
    let client_tls = pki.as_ref().map(|p| Arc::clone(&p.client));

    let mut tls_env = Vec::new();
    if o.tls {
        let ca = ca_pem.display().to_string();
        for k in ["AWS_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"] {
            tls_env.push((k.to_owned(), ca.clone()));
        }
    }
    let service = ["--service", "bench", "--region", "us-east-1"].map(String::from);
    let mut cmds = vec![ProxyCmd {
        name: "mcp-sigv4".to_owned(),
        program: binary.clone(),
        args: service.to_vec(),
        env: tls_env.clone(),
        log_dir: work.clone(),
        home: home.clone(),
    }];
    if let Some(p) = &python {
        let mut args = service.to_vec();
        args.extend(["--disable-telemetry", "--log-level", "ERROR"].map(String::from));
        cmds.push(ProxyCmd {
            name: PYTHON_PROXY.to_owned(),
            program: p.clone(),
            args,
            env: tls_env,
            log_dir: work.clone(),
            home: home.clone(),
        });
    }

    print_header(o, &binary, python.as_deref(), &url);

    let mut cols: Vec<Column> = Vec::new();
    cols.push(measure_direct(o, addr, client_tls.clone())?);
    for cmd in &cmds {
        eprintln!("measuring {} …", cmd.name);
        let col = measure_proxy(o, cmd, &url, &up, fwd.as_ref())
            .map_err(|e| format!("{}: {e}", cmd.name))?;
        cols.push(col);
    }
    let unsigned = up.counters.unsigned.load(Ordering::Relaxed);
    if unsigned > 0 {
        return Err(format!(
            "{unsigned} request(s) reached the upstream from a proxy without a SigV4 Authorization header"
        ));
    }
    report(o, &cols, up.counters.signed.load(Ordering::Relaxed));
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn print_header(o: &Options, binary: &Path, python: Option<&Path>, url: &str) {
    println!("mcp-sigv4 relay benchmark");
    print_machine();
    let size = std::fs::metadata(binary).map_or(0, |m| m.len());
    println!(
        "mcp-sigv4: {} ({}, {} bytes)",
        binary.display(),
        version_of(binary),
        size
    );
    match python {
        Some(p) => println!(
            "python:    {PYTHON_PROXY} {PYTHON_PROXY_VERSION} ({})",
            p.display()
        ),
        None => println!("python:    not measured (--no-python)"),
    }
    if o.tls {
        println!(
            "mode:      TLS (bench CA) through a forwarder delaying {} ms each way: {url}",
            o.delay_ms
        );
    } else {
        println!("mode:      plain HTTP on loopback: {url}");
    }
    println!(
        "upstream:  Rust, one thread per connection, keep-alive; tools echo and big ({} MiB text)",
        BIG_BYTES >> 20
    );
    println!();
}

/// The date and the machine, first lines of every report.
fn print_machine() {
    println!("date:      {}", utc_now());
    println!(
        "machine:   {}, {} logical CPUs, load average {}",
        cpu_model(),
        thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// One column of the report: a proxy, or the direct baseline.
#[derive(Default)]
struct Column {
    name: String,
    init: Vec<Duration>,
    calls: Vec<Duration>,
    throughput: Option<f64>,
    cpu_per_call: Option<Duration>,
    conns_per_100: Option<f64>,
    rss_init_kb: Option<u64>,
    rss_rest_kb: Option<u64>,
    hwm_rest_kb: Option<u64>,
    big: Vec<BigRun>,
}

struct BigRun {
    sse: bool,
    time: Duration,
    message_bytes: usize,
    hwm_kb: Option<u64>,
    cpu: Option<Duration>,
}

fn echo_body(id: u64, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":"echo","arguments":{"text":text}}}))
    .expect("serializes")
}

fn init_body() -> Vec<u8> {
    serde_json::to_vec(
        &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},
        "clientInfo":{"name":"mcp-sigv4-relay-bench","version":"0.0.0"}}}),
    )
    .expect("serializes")
}

const ECHO_TEXT: &str = "hello from the relay bench";

fn check_echo(msg: &http1::Message) -> Result<(), String> {
    let v = expect_result(&String::from_utf8_lossy(&msg.body), "direct echo")?;
    if v["result"]["content"][0]["text"].as_str() != Some(ECHO_TEXT) {
        return Err("direct echo: other text".into());
    }
    Ok(())
}

fn measure_direct(
    o: &Options,
    addr: std::net::SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Column, String> {
    eprintln!("measuring the direct baseline …");
    let e = |e: std::io::Error| format!("direct: {e}");
    let mut col = Column {
        name: "direct".into(),
        ..Column::default()
    };
    // initialize on a new connection, as a proxy's first request is.
    let body = init_body();
    for _ in 0..o.spawns.max(5) {
        let mut d = Direct::new(addr, tls.clone());
        let t0 = Instant::now();
        let m = d.post(&body).map_err(e)?;
        col.init.push(t0.elapsed());
        expect_result(&String::from_utf8_lossy(&m.body), "direct initialize")?;
    }
    let mut d = Direct::new(addr, tls.clone());
    d.post(&body).map_err(e)?;
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
    if !o.tls {
        let count = run_clients(o.clients, o.seconds, |_| {
            let mut d = Direct::new(addr, tls.clone());
            d.post(&init_body()).map_err(e)?;
            Ok(move |i: u64| {
                let m = d.post(&echo_body(i, ECHO_TEXT)).map_err(e)?;
                check_echo(&m)
            })
        })?;
        col.throughput = Some(count);
        if o.big {
            for sse in [false, true] {
                let b = serde_json::to_vec(&json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
                    "params":{"name":"big","arguments":{"sse":sse}}}))
                .expect("serializes");
                let t0 = Instant::now();
                let m = d.post(&b).map_err(e)?;
                col.big.push(BigRun {
                    sse,
                    time: t0.elapsed(),
                    message_bytes: m.body.len(),
                    hwm_kb: None,
                    cpu: None,
                });
            }
        }
    }
    Ok(col)
}

/// Runs `clients` clients at once for `seconds`; each is made by `make` (set up
/// before the clock starts) and called with a running number until time is up.
/// Returns calls per second over all clients.
fn run_clients<F, C>(clients: usize, seconds: f64, make: F) -> Result<f64, String>
where
    F: Fn(usize) -> Result<C, String>,
    C: FnMut(u64) -> Result<(), String> + Send + 'static,
{
    let mut callers = Vec::new();
    for i in 0..clients {
        callers.push(make(i)?);
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let run = Duration::from_secs_f64(seconds);
    let handles: Vec<_> = callers
        .into_iter()
        .map(|mut call| {
            let b = Arc::clone(&barrier);
            thread::spawn(move || -> Result<u64, String> {
                b.wait();
                let t0 = Instant::now();
                let mut n = 0u64;
                while t0.elapsed() < run {
                    call(n)?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "a client thread panicked")??;
    }
    Ok(total as f64 / t0.elapsed().as_secs_f64())
}

fn spawn_initialized(cmd: &ProxyCmd, url: &str, serial: usize) -> Result<Proxy, String> {
    let mut p = Proxy::spawn(cmd, url, serial)?;
    p.initialize().map_err(|e| with_log(e, cmd, serial))?;
    Ok(p)
}

fn with_log(e: String, cmd: &ProxyCmd, serial: usize) -> String {
    let tail = proxy::log_tail(&proxy::log_path(cmd, serial));
    if tail.is_empty() {
        e
    } else {
        format!("{e}\n  its stderr ends:\n{tail}")
    }
}

fn measure_proxy(
    o: &Options,
    cmd: &ProxyCmd,
    url: &str,
    up: &Upstream,
    fwd: Option<&Forwarder>,
) -> Result<Column, String> {
    let mut col = Column {
        name: cmd.name.clone(),
        ..Column::default()
    };
    let mut serial = 0;
    let mut next = || {
        serial += 1;
        serial
    };

    // Spawn to initialize answered.
    for i in 0..o.spawns {
        let s = next();
        let t0 = Instant::now();
        let mut p = Proxy::spawn(cmd, url, s)?;
        p.initialize().map_err(|e| with_log(e, cmd, s))?;
        col.init.push(t0.elapsed());
        if i == 0 {
            thread::sleep(Duration::from_millis(300));
            col.rss_init_kb = Some(p.memory_kb()?.0);
        }
        p.close();
    }

    // Sequential calls on one proxy, connections counted.
    let s = next();
    let mut p = spawn_initialized(cmd, url, s)?;
    let (line, _) = p.request("tools/list", json!({}))?;
    expect_result(&line, "tools/list")?;
    for _ in 0..50.min(o.calls) {
        p.echo(ECHO_TEXT).map_err(|e| with_log(e, cmd, s))?;
    }
    let conns = || {
        fwd.map_or_else(
            || up.counters.connections.load(Ordering::Relaxed),
            |f| f.connections(),
        )
    };
    let c0 = conns();
    let cpu0 = p.cpu_time()?;
    for _ in 0..o.calls {
        col.calls
            .push(p.echo(ECHO_TEXT).map_err(|e| with_log(e, cmd, s))?);
    }
    col.cpu_per_call = Some((p.cpu_time()? - cpu0) / o.calls as u32);
    col.conns_per_100 = Some((conns() - c0) as f64 * 100.0 / o.calls as f64);
    thread::sleep(Duration::from_millis(500));
    let (rss, hwm) = p.memory_kb()?;
    col.rss_rest_kb = Some(rss);
    col.hwm_rest_kb = Some(hwm);
    p.close();

    if o.tls {
        return Ok(col);
    }

    // Throughput: N clients, each with its own proxy (stdio is one client per process).
    let count = run_clients(o.clients, o.seconds, |_| {
        let s = next_serial(cmd);
        let mut p = spawn_initialized(cmd, url, s)?;
        p.echo(ECHO_TEXT)?;
        Ok(move |_: u64| p.echo(ECHO_TEXT).map(|_| ()))
    })?;
    col.throughput = Some(count);

    // The 16 MiB result, JSON and SSE, each on a fresh proxy.
    if o.big {
        for sse in [false, true] {
            let s = next();
            let mut p = spawn_initialized(cmd, url, s)?;
            p.echo(ECHO_TEXT)?;
            let cpu0 = p.cpu_time()?;
            let (line, time) = p
                .request(
                    "tools/call",
                    json!({"name": "big", "arguments": {"sse": sse}}),
                )
                .map_err(|e| with_log(e, cmd, s))?;
            let hwm = p.memory_kb()?.1;
            let cpu = p.cpu_time()? - cpu0;
            let v = expect_result(&line, "tools/call big")?;
            let text = v["result"]["content"][0]["text"].as_str().unwrap_or("");
            if text.len() != BIG_BYTES {
                return Err(format!(
                    "the big result came back with {} bytes of text, expected {BIG_BYTES}",
                    text.len()
                ));
            }
            col.big.push(BigRun {
                sse,
                time,
                message_bytes: line.trim_end().len(),
                hwm_kb: Some(hwm),
                cpu: Some(cpu),
            });
            p.close();
        }
    }
    Ok(col)
}

/// Serial numbers for proxies started from the throughput closure (log names).
fn next_serial(cmd: &ProxyCmd) -> usize {
    use std::sync::atomic::AtomicUsize;
    static N: AtomicUsize = AtomicUsize::new(1000);
    let _ = cmd;
    N.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Report.

fn pct(v: &[Duration], p: f64) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    Some(s[i])
}

fn fmt_d(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 100_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.0} ms", us / 1000.0)
    }
}

fn fmt_signed(d: f64) -> String {
    let sign = if d < 0.0 { "-" } else { "" };
    format!("{sign}{}", fmt_d(Duration::from_secs_f64(d.abs())))
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 * 1024.0 / 1e6)
}

fn report(o: &Options, cols: &[Column], signed: u64) {
    let direct = &cols[0];
    let proxies = &cols[1..];
    let w = 20;
    let mut header = format!("  {:<44}", "");
    for c in cols {
        header.push_str(&format!("{:>w$}", c.name));
    }
    if proxies.len() == 2 {
        header.push_str(&format!("{:>16}", "ours better by"));
    }
    println!("{header}");
    let row = |label: &str, cells: Vec<Option<String>>, ratio: Option<f64>| {
        let mut line = format!("  {label:<44}");
        for c in cells {
            line.push_str(&format!("{:>w$}", c.unwrap_or_else(|| "—".into())));
        }
        if let Some(r) = ratio {
            line.push_str(&format!("{:>15.1}x", r));
        }
        println!("{line}");
    };
    let ratio = |f: &dyn Fn(&Column) -> Option<f64>| -> Option<f64> {
        if proxies.len() == 2 {
            Some(f(&proxies[1])? / f(&proxies[0])?)
        } else {
            None
        }
    };
    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());

    let init_med = |c: &Column| secs(pct(&c.init, 0.5));
    row(
        "spawn → initialize answered (median)",
        cols.iter().map(|c| pct(&c.init, 0.5).map(fmt_d)).collect(),
        ratio(&init_med),
    );
    let beyond = |c: &Column| Some(init_med(c)? - init_med(direct)?);
    row(
        "  beyond the upstream's own time",
        cols.iter()
            .map(|c| {
                if c.name == "direct" {
                    None
                } else {
                    beyond(c).map(fmt_signed)
                }
            })
            .collect(),
        ratio(&beyond),
    );
    for (label, p) in [("call p50", 0.5), ("call p99", 0.99)] {
        row(
            &format!("{label} ({} sequential calls)", o.calls),
            cols.iter().map(|c| pct(&c.calls, p).map(fmt_d)).collect(),
            ratio(&|c| secs(pct(&c.calls, p))),
        );
        let added = |c: &Column| Some(secs(pct(&c.calls, p))? - secs(pct(&direct.calls, p))?);
        row(
            &format!("  added by the proxy ({label} − direct)"),
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
        "  proxy CPU per call (user + system)",
        cols.iter().map(|c| c.cpu_per_call.map(fmt_d)).collect(),
        ratio(&|c| c.cpu_per_call.map(|d| d.as_secs_f64())),
    );
    if !o.tls {
        row(
            &format!("{} clients: calls/s over {:.0} s", o.clients, o.seconds),
            cols.iter()
                .map(|c| c.throughput.map(|t| format!("{t:.0}")))
                .collect(),
            ratio(&|c| c.throughput.map(|t| 1.0 / t)),
        );
    }
    row(
        "TCP connections opened per 100 calls",
        cols.iter()
            .map(|c| c.conns_per_100.map(|n| format!("{n:.1}")))
            .collect(),
        None,
    );
    row(
        "RSS after initialize (VmRSS)",
        cols.iter().map(|c| c.rss_init_kb.map(mb)).collect(),
        ratio(&|c| c.rss_init_kb.map(|k| k as f64)),
    );
    row(
        &format!("RSS at rest after {} calls (VmRSS)", o.calls),
        cols.iter().map(|c| c.rss_rest_kb.map(mb)).collect(),
        ratio(&|c| c.rss_rest_kb.map(|k| k as f64)),
    );
    row(
        "  peak RSS so far (VmHWM)",
        cols.iter().map(|c| c.hwm_rest_kb.map(mb)).collect(),
        ratio(&|c| c.hwm_rest_kb.map(|k| k as f64)),
    );
    for sse in [false, true] {
        let kind = if sse { "SSE" } else { "JSON" };
        let get = |c: &Column| {
            c.big
                .iter()
                .find(|b| b.sse == sse)
                .map(|b| (b.time, b.message_bytes, b.hwm_kb, b.cpu))
        };
        if cols.iter().all(|c| get(c).is_none()) {
            continue;
        }
        row(
            &format!("16 MiB tool result over {kind}: time"),
            cols.iter().map(|c| get(c).map(|b| fmt_d(b.0))).collect(),
            ratio(&|c| get(c).map(|b| b.0.as_secs_f64())),
        );
        row(
            "  proxy CPU (user + system)",
            cols.iter()
                .map(|c| get(c).and_then(|b| b.3).map(fmt_d))
                .collect(),
            ratio(&|c| get(c).and_then(|b| b.3).map(|d| d.as_secs_f64())),
        );
        row(
            "  peak RSS (VmHWM)",
            cols.iter()
                .map(|c| get(c).and_then(|b| b.2).map(mb))
                .collect(),
            ratio(&|c| get(c).and_then(|b| b.2).map(|k| k as f64)),
        );
        row(
            "  peak RSS ÷ message size",
            cols.iter()
                .map(|c| {
                    get(c).and_then(|b| {
                        b.2.map(|k| format!("{:.2}x", k as f64 * 1024.0 / b.1 as f64))
                    })
                })
                .collect(),
            None,
        );
    }
    println!();
    println!(
        "checked: every answer's id and content; {signed} proxied requests reached the upstream, all SigV4-signed for the bench's key"
    );
    println!();

    println!(
        "\"ours better by\": {} over mcp-sigv4 for times and memory, mcp-sigv4 over it for calls/s",
        PYTHON_PROXY
    );
    if o.tls {
        println!(
            "TLS mode: the goals are for plain loopback (run without --tls); read the latency and connection rows"
        );
        return;
    }
    let ours = &proxies[0];
    println!("Goals (tests/relay-bench/README.md), mcp-sigv4:");
    let goal = |met: Option<bool>, text: String| {
        let tag = match met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        println!("  [{tag}] {text}");
    };
    let b = beyond(ours);
    goal(
        b.map(|b| b < 0.005),
        format!(
            "under 5 ms to initialize beyond the upstream's own time: {}",
            b.map_or("—".into(), fmt_signed)
        ),
    );
    let a = secs(pct(&ours.calls, 0.5))
        .zip(secs(pct(&direct.calls, 0.5)))
        .map(|(x, y)| x - y);
    goal(
        a.map(|a| a < 100e-6),
        format!(
            "under 100 µs added per call at p50: {}",
            a.map_or("—".into(), fmt_signed)
        ),
    );
    let r = ours.rss_rest_kb;
    goal(
        r.map(|k| (k as f64) * 1024.0 < 8e6),
        format!("RSS under 8 MB at rest: {}", r.map_or("—".into(), mb)),
    );
    for run in &ours.big {
        let x = run
            .hwm_kb
            .map(|k| k as f64 * 1024.0 / run.message_bytes as f64);
        goal(
            x.map(|x| x < 4.0),
            format!(
                "16 MiB result over {}: peak RSS under 4x the message ({} bytes): {}",
                if run.sse { "SSE" } else { "JSON" },
                run.message_bytes,
                x.map_or("—".into(), |x| format!("{x:.2}x"))
            ),
        );
    }
    println!("  (a goal not met is reported, not an error: the exit status stays 0)");
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The current UTC time as RFC 3339, from the civil-from-days algorithm
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
