//! `mcp-sigv4 doctor <endpoint> [flags] [--json]`: is everything in place?
//!
//! Owns: the checks a new user needs, in order, each timed, with a pass/fail
//! mark and the fix for a failure:
//! 1. `credentials` — which source won, the access key id's last 4
//!    characters and the expiry (never a secret);
//! 2. `identity` — who that is: STS GetCallerIdentity signed by our signer;
//!    with several profiles, 1 and 2 for each of them in turn (each detail
//!    names its profile), while step 5 opens the default profile's session
//!    only (the others open theirs on their first tool call);
//! 3. `signing` — service, region, algorithm and region set, and where each
//!    came from;
//! 4. `dns`, `tcp`, `tls` — the endpoint's (or the proxy's) addresses, a
//!    connection, the certificate's issuer, the CA bundle in use, a verified
//!    HTTPS request and the server's clock;
//! 5. `initialize`, `tools/list` — a real MCP session through the relay
//!    itself (every request signed as the proxy signs it), then ended with a
//!    signed DELETE.
//!
//! A failing step makes the steps that need it `skip`. The exit code names
//! the first failing step ([`Step::exit_code`]) and the last line is its fix.
//! Refuses: printing any secret (credentials appear as their source and the
//! access key id's last 4 characters) and sending anything to the endpoint
//! but the unsigned probe and the signed MCP session.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::auth::RequestAuth;
use crate::cli::Args;
use crate::config::{Config, profiles};
use crate::credentials::{Credentials, CredentialsError, Env, Resolver};
use crate::http::{Client, ClientSettings, Method, RequestTimeouts, probe};
use crate::sigv4::Algorithm;

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It works.
    Pass,
    /// It does not; the hint says what to do.
    Fail,
    /// Not run: a step it needs failed, or it does not apply.
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Pass => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check and its outcome.
#[derive(Clone, Debug)]
pub struct Step {
    /// `credentials`, `identity`, `signing`, `dns`, `tcp`, `tls`,
    /// `initialize` or `tools/list`.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found (never a secret).
    pub detail: String,
    /// The fix, for a failure.
    pub hint: Option<String>,
    /// How long the check took, milliseconds.
    pub ms: u128,
}

impl Step {
    /// The process exit code when this is the first step that failed:
    /// 10 credentials, 11 identity, 12 signing (the configuration), 13 dns,
    /// 14 tcp, 15 tls, 16 initialize, 17 tools/list.
    pub fn exit_code(&self) -> u8 {
        match self.name {
            "credentials" => 10,
            "identity" => 11,
            "signing" => 12,
            "dns" => 13,
            "tcp" => 14,
            "tls" => 15,
            "initialize" => 16,
            _ => 17,
        }
    }
}

/// Every step, in order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The steps.
    pub steps: Vec<Step>,
}

impl Report {
    fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == Status::Fail)
    }

    /// 0 when nothing failed, else the first failing step's code.
    pub fn exit_code(&self) -> u8 {
        self.first_failure().map_or(0, Step::exit_code)
    }

    /// One line per step (`[ok]   credentials   12 ms  …`), then the first
    /// failure's hint as the last line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            out.push_str(&format!(
                "[{:<4}] {:<11} {:>6} ms  {}\n",
                s.status.mark(),
                s.name,
                s.ms,
                s.detail
            ));
        }
        match self.first_failure() {
            None => out.push_str("all checks passed\n"),
            Some(f) => out.push_str(&format!(
                "hint: {}\n",
                f.hint.as_deref().unwrap_or("see the failing step above")
            )),
        }
        out
    }

    /// One JSON document: `{"ok":…,"exitCode":…,"steps":[{"name","status",
    /// "detail","hint","ms"}…]}`.
    pub fn json(&self) -> String {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "status": s.status.name(),
                    "detail": s.detail,
                    "hint": s.hint,
                    "ms": s.ms as u64,
                })
            })
            .collect();
        let doc =
            json!({"ok": self.exit_code() == 0, "exitCode": self.exit_code(), "steps": steps});
        serde_json::to_string_pretty(&doc).expect("a JSON value serializes") + "\n"
    }

    fn push(&mut self, name: &'static str, started: Instant, outcome: Result<String, Failed>) {
        let ms = started.elapsed().as_millis();
        self.steps.push(match outcome {
            Ok(detail) => Step {
                name,
                status: Status::Pass,
                detail,
                hint: None,
                ms,
            },
            Err(f) => Step {
                name,
                status: Status::Fail,
                detail: f.detail,
                hint: Some(f.hint),
                ms,
            },
        });
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        self.steps.push(Step {
            name,
            status: Status::Skip,
            detail: why.to_owned(),
            hint: None,
            ms: 0,
        });
    }
}

/// A failed check: what happened and what to do.
struct Failed {
    detail: String,
    hint: String,
}

fn failed(detail: impl Into<String>, hint: impl Into<String>) -> Failed {
    Failed {
        detail: detail.into(),
        hint: hint.into(),
    }
}

/// The command that renews the credentials of `source` (as `Credentials`
/// names it) for `profile`.
fn renew_hint(source: &str, profile: &str) -> String {
    let s = source.to_ascii_lowercase();
    if s.contains("sso") || s.contains("identity center") {
        format!("run `aws sso login --profile {profile}`")
    } else if s.contains("login") || s.contains("console") {
        format!("run `aws login --profile {profile}`")
    } else if s.contains("process") {
        "run the profile's credential_process by hand to see why it fails".to_owned()
    } else if s.contains("environment") || s.contains("env") {
        "set fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN".to_owned()
    } else {
        format!(
            "renew them, e.g. `aws configure --profile {profile}` or `aws sso login --profile {profile}`"
        )
    }
}

/// Runs every check for the command line `args` (of `mcp-sigv4 doctor`).
pub fn run(args: &Args) -> Report {
    let mut report = Report::default();
    let env = Env::process();
    let started = Instant::now();
    let names = match profiles(args, &env) {
        Ok(p) => p,
        Err(e) => {
            report.push(
                "credentials",
                started,
                Err(failed(
                    e.to_string(),
                    e.hint()
                        .unwrap_or("check --profile and AWS_MCP_PROXY_PROFILES"),
                )),
            );
            return report;
        }
    };
    let resolver = Resolver::new(env, names.first().cloned());
    let profile_name = resolver.profile_name();
    let config = Config::resolve(args, &resolver);
    let auth = match &config {
        Ok(c) => c.request_auth(resolver),
        // Credentials and identity can still be checked without an endpoint.
        Err(_) => RequestAuth::new(
            crate::credentials::CredentialsProvider::new(resolver),
            String::new(),
            String::new(),
            &crate::auth::SigningChoice {
                initial: Algorithm::V4,
                upgrade: false,
                region_set: String::new(),
                unsigned_fallback: false,
            },
        ),
    };

    // 1. and 2. Credentials and identity, of each profile when there are
    // several (the MCP session below is the default profile's).
    let label = |name: &str| {
        if names.len() > 1 {
            format!("profile '{name}': ")
        } else {
            String::new()
        }
    };
    let (credentials, source) =
        check_credentials(&mut report, &auth, &profile_name, &label(&profile_name));
    for name in names.iter().skip(1) {
        let other = auth.for_profile(name);
        let _ = check_credentials(&mut report, &other, name, &label(name));
    }

    // 3. Signing.
    let started = Instant::now();
    let config = match config {
        Ok(c) => {
            let algorithm = match (c.signing.initial, c.signing.upgrade) {
                (Algorithm::V4a, _) => format!("SigV4A, region set {}", c.signing.region_set),
                (Algorithm::V4, true) => format!(
                    "SigV4, switching to SigV4A (region set {}) if the server refuses it",
                    c.signing.region_set
                ),
                (Algorithm::V4, false) => "SigV4".into(),
            };
            report.push(
                "signing",
                started,
                Ok(format!(
                    "service {} (from {}), region {} (from {}), {algorithm}",
                    c.service, c.service_source, c.region, c.region_source
                )),
            );
            c
        }
        Err(e) => {
            report.push(
                "signing",
                started,
                Err(failed(
                    crate::error::chain(&e),
                    e.hint()
                        .unwrap_or("check the endpoint URL and flags")
                        .to_owned(),
                )),
            );
            for name in ["dns", "tcp", "tls", "initialize", "tools/list"] {
                report.skip(name, "needs a configuration that resolves");
            }
            return report;
        }
    };

    // 4. Network.
    let clock_skew = network(&mut report, &config);
    let network_ok = !report
        .steps
        .iter()
        .any(|s| matches!(s.name, "dns" | "tcp" | "tls") && s.status == Status::Fail);

    // 5. MCP.
    if !network_ok {
        report.skip("initialize", "needs the network checks");
        report.skip("tools/list", "needs the network checks");
    } else if credentials.is_err() && !config.signing.unsigned_fallback {
        report.skip("initialize", "needs credentials");
        report.skip("tools/list", "needs credentials");
    } else {
        mcp_session(
            &mut report,
            config,
            auth,
            clock_skew,
            &source,
            &profile_name,
        );
    }
    report
}

/// Steps 1 and 2 for the profile `profile` that `auth` signs as: which
/// credentials, and who they are (`label` starts each detail: the profile's
/// name when there are several). Returns the credentials and their source.
fn check_credentials(
    report: &mut Report,
    auth: &RequestAuth,
    profile: &str,
    label: &str,
) -> (Result<Arc<Credentials>, CredentialsError>, String) {
    let started = Instant::now();
    let credentials = auth.provider().credentials();
    let source = credentials
        .as_ref()
        .map(|c| c.source().to_owned())
        .unwrap_or_default();
    report.push(
        "credentials",
        started,
        match &credentials {
            Ok(c) => {
                let id = c.access_key_id();
                let last4 = id.get(id.len().saturating_sub(4)..).unwrap_or("");
                let expiry = match c.expiry() {
                    Some(t) => {
                        let left = t
                            .duration_since(SystemTime::now())
                            .map(|d| format!("in {} min", d.as_secs() / 60))
                            .unwrap_or_else(|_| "already".into());
                        format!("expire {} ({left})", crate::time::format_rfc3339(t))
                    }
                    None => "no expiry".into(),
                };
                Ok(format!(
                    "{label}from {}; access key id …{last4}; {expiry}",
                    c.source()
                ))
            }
            Err(e) => Err(failed(
                format!("{label}{e}"),
                e.hint.clone().unwrap_or_else(|| {
                    format!("configure credentials, e.g. `aws configure --profile {profile}` or `aws sso login --profile {profile}`")
                }),
            )),
        },
    );

    match &credentials {
        Ok(c) => {
            let started = Instant::now();
            let outcome = auth
                .provider()
                .resolver()
                .caller_identity(c)
                .map(|id| format!("{label}account {}, {}", id.account, id.arn))
                .map_err(|e| {
                    let text = e.to_string();
                    let hint = if text.contains("ExpiredToken") {
                        format!(
                            "the credentials have expired: {}",
                            renew_hint(&source, profile)
                        )
                    } else if text.contains("InvalidClientTokenId")
                        || text.contains("SignatureDoesNotMatch")
                    {
                        format!(
                            "AWS does not accept these credentials: {}",
                            renew_hint(&source, profile)
                        )
                    } else {
                        e.hint.clone().unwrap_or_else(|| {
                            "check the network path to STS (HTTPS_PROXY, AWS_CA_BUNDLE)".into()
                        })
                    };
                    failed(format!("{label}{text}"), hint)
                });
            report.push("identity", started, outcome);
        }
        Err(_) => report.skip("identity", &format!("{label}needs credentials")),
    }
    (credentials, source)
}

/// The proxy that applies to `host` from the environment (`HTTPS_PROXY`,
/// `ALL_PROXY`, honouring `NO_PROXY`), as `host:port`.
fn proxy_for(host: &str, https: bool) -> Option<String> {
    let get = |n: &str| {
        std::env::var(n)
            .ok()
            .or_else(|| std::env::var(n.to_ascii_lowercase()).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let no_proxy = get("NO_PROXY").unwrap_or_default();
    let bare = host.trim_matches(['[', ']']);
    let excluded = no_proxy.split(',').map(str::trim).any(|p| {
        p == "*"
            || (!p.is_empty()
                && (bare == p.trim_start_matches('.')
                    || bare.ends_with(&format!(".{}", p.trim_start_matches('.')))))
    });
    if excluded {
        return None;
    }
    let proxy = if https {
        get("HTTPS_PROXY")
    } else {
        get("HTTP_PROXY")
    }
    .or_else(|| get("ALL_PROXY"))?;
    let rest = proxy.split_once("://").map_or(proxy.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    Some(if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    })
}

/// DNS, TCP and TLS to the endpoint (or its proxy), then an unsigned request
/// over the verified connection for the server's clock. Returns the clock
/// difference (server minus local, seconds) when the server sent a `Date`.
fn network(report: &mut Report, config: &Config) -> Option<i64> {
    let e = &config.endpoint;
    let https = e.scheme == "https";
    let port = e.port.unwrap_or(if https { 443 } else { 80 });
    let host = e.host.trim_matches(['[', ']']).to_owned();
    let proxy = proxy_for(&e.host, https);
    let connect = config.timeouts.connect.min(Duration::from_secs(15));
    let (target, via) = match &proxy {
        Some(p) => (p.clone(), format!(" (the proxy from the environment, {p})")),
        None => (format!("{}:{port}", e.host), String::new()),
    };

    let started = Instant::now();
    let addrs: Vec<SocketAddr> = match target.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(err) => {
            report.push(
                "dns",
                started,
                Err(failed(
                    format!("cannot resolve {target}{via}: {err}"),
                    "check the host name in the endpoint URL, your DNS, and the VPN or proxy your network needs",
                )),
            );
            report.skip("tcp", "needs an address");
            report.skip("tls", "needs a connection");
            return None;
        }
    };
    let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
    report.push(
        "dns",
        started,
        Ok(format!("{target}{via} → {}", shown.join(", "))),
    );

    let started = Instant::now();
    let mut last = None;
    let mut stream = None;
    for a in addrs.iter().take(4) {
        match TcpStream::connect_timeout(a, connect) {
            Ok(s) => {
                stream = Some((s, *a));
                break;
            }
            Err(err) => last = Some(format!("{a}: {err}")),
        }
    }
    let Some((stream, addr)) = stream else {
        report.push(
            "tcp",
            started,
            Err(failed(
                format!(
                    "cannot connect to {target}{via}: {}",
                    last.unwrap_or_default()
                ),
                "check that the endpoint is reachable from here (firewall, VPN, HTTPS_PROXY) and the port is right",
            )),
        );
        report.skip("tls", "needs a connection");
        return None;
    };
    report.push("tcp", started, Ok(format!("connected to {addr}{via}")));

    let started = Instant::now();
    let roots = match config.relay.tls.bundle_len() {
        Some(n) => format!("trusting {n} certificate(s) from the CA bundle"),
        None => "trusting the built-in roots".to_owned(),
    };
    let shown = if !https {
        drop(stream);
        None
    } else if proxy.is_some() {
        // Through a proxy the raw handshake would be with the proxy; the
        // verified request below goes through it with CONNECT.
        drop(stream);
        Some(format!("through the proxy; {roots}"))
    } else {
        match probe::peer_info(stream, &host, connect) {
            Ok(p) => Some(format!(
                "{}, certificate {} issued by {}; {roots}",
                p.version,
                p.subject.as_deref().unwrap_or("(no readable subject)"),
                p.issuer.as_deref().unwrap_or("(no readable issuer)")
            )),
            Err(err) => {
                report.push(
                    "tls",
                    started,
                    Err(failed(
                        format!("TLS with {host}: {err}"),
                        "check that the endpoint speaks HTTPS on this port; behind a TLS-inspecting proxy set AWS_CA_BUNDLE or --ca-bundle",
                    )),
                );
                return None;
            }
        }
    };
    // A verified, unsigned request: the chain is trusted (or not), and the
    // server's Date tells how far our clock is.
    let client = Client::new(
        ClientSettings {
            connect,
            write: connect,
            max_body: 64 << 10,
            max_header: crate::http::DEFAULT_MAX_HEADER,
            env_proxy: true,
        },
        &config.relay.tls,
    );
    let timeouts = RequestTimeouts {
        response: Duration::from_secs(15),
        per_read: Some(Duration::from_secs(15)),
        total: Some(Duration::from_secs(20)),
    };
    let authority = e.authority();
    let answer = client.send(
        Method::Get,
        &e.url(),
        &[
            ("host", authority.as_str()),
            ("accept", "application/json, text/event-stream"),
        ],
        b"",
        timeouts,
    );
    let skew = answer
        .as_ref()
        .ok()
        .and_then(|r| r.header("date"))
        .and_then(crate::retry::parse_http_date)
        .map(|server| match server.duration_since(SystemTime::now()) {
            Ok(ahead) => ahead.as_secs() as i64,
            Err(behind) => -(behind.duration().as_secs() as i64),
        });
    let clock = match skew {
        Some(s) if s.abs() >= 300 => format!(
            "; the server's clock differs from ours by {} min",
            minutes(s)
        ),
        Some(s) => format!("; clocks agree within {} s", s.abs().max(1)),
        None => String::new(),
    };
    match (answer, shown) {
        (Err(err), _) => report.push(
            "tls",
            started,
            Err(failed(
                format!(
                    "{} {}: {err}",
                    if https { "HTTPS to" } else { "HTTP to" },
                    e.host
                ),
                if err.to_string().contains("AWS_CA_BUNDLE") {
                    "set AWS_CA_BUNDLE or --ca-bundle to your organisation's CA bundle (PEM)"
                        .to_owned()
                } else {
                    "check the endpoint URL, and the proxy and CA bundle your network needs"
                        .to_owned()
                },
            )),
        ),
        (Ok(r), None) => report.steps.push(Step {
            name: "tls",
            status: Status::Skip,
            detail: format!(
                "plain http to a loopback address (HTTP {} to an unsigned GET{clock})",
                r.status
            ),
            hint: None,
            ms: started.elapsed().as_millis(),
        }),
        (Ok(r), Some(shown)) => report.push(
            "tls",
            started,
            Ok(format!(
                "{shown}; certificate chain trusted (HTTP {} to an unsigned GET{clock})",
                r.status
            )),
        ),
    }
    skew
}

/// The relay's stdin: lines the doctor writes.
struct Lines {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Lines {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Lines {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.pos = 0;
            // A closed channel is the end of stdin.
            self.buf = self.rx.recv().unwrap_or_default();
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// The relay's stdout: whole lines back to the doctor.
struct Out {
    tx: Sender<String>,
    line: Vec<u8>,
}

impl Write for Out {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        for &b in data {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.line).into_owned();
                self.line.clear();
                self.tx
                    .send(line)
                    .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            } else {
                self.line.push(b);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits for the answer to request `id`, passing over anything else the
/// server sends (notifications, its own requests).
fn answer(lines: &Receiver<String>, id: i64, limit: Duration) -> Option<Value> {
    let end = Instant::now() + limit;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        let line = lines.recv_timeout(left).ok()?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v.get("id").and_then(Value::as_i64) == Some(id)
            && (v.get("result").is_some() || v.get("error").is_some())
        {
            return Some(v);
        }
    }
}

/// Whole minutes of a clock difference in seconds, rounded (the `Date`
/// header has whole seconds and the request takes some).
fn minutes(seconds: i64) -> i64 {
    (seconds.abs() + 30) / 60
}

/// The fix for a JSON-RPC error the relay gave a request.
fn error_hint(error: &Value, skew: Option<i64>, source: &str, profile: &str) -> String {
    let data = error.get("data").cloned().unwrap_or(Value::Null);
    let kind = data
        .get("awsErrorType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = data.get("httpStatus").and_then(Value::as_u64);
    if matches!(kind, "SignatureDoesNotMatch" | "InvalidSignatureException")
        && skew.is_some_and(|s| s.abs() >= 300)
    {
        let s = skew.unwrap_or(0);
        return format!(
            "the local clock is {} min {} the server's: sync it (e.g. `timedatectl set-ntp true`, or your OS's time settings) and retry",
            minutes(s),
            if s > 0 { "behind" } else { "ahead of" }
        );
    }
    if matches!(kind, "ExpiredToken" | "ExpiredTokenException") {
        return format!(
            "the credentials have expired: {}",
            renew_hint(source, profile)
        );
    }
    if let Some(h) = data.get("hint").and_then(Value::as_str) {
        return h.to_owned();
    }
    match status {
        Some(403) => "AWS refused the request: check that these credentials may call this endpoint, and --service/--region".into(),
        Some(s) => format!("the server answered HTTP {s}; see the message above"),
        None => "see the message above".into(),
    }
}

/// `initialize` and `tools/list` through the relay itself, then the session
/// is ended (stdin closes: the relay sends its signed DELETE).
fn mcp_session(
    report: &mut Report,
    config: Config,
    auth: RequestAuth,
    skew: Option<i64>,
    source: &str,
    profile: &str,
) {
    let limit = config.timeouts.exchange.min(Duration::from_secs(60));
    let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>();
    let (out_tx, out_rx) = mpsc::channel::<String>();
    let input = Lines {
        rx: in_rx,
        buf: Vec::new(),
        pos: 0,
    };
    let output = Out {
        tx: out_tx,
        line: Vec::new(),
    };
    let relay = std::thread::spawn(move || {
        crate::relay::run(
            config.endpoint,
            config.timeouts,
            config.relay,
            auth,
            crate::random::random_id(),
            input,
            output,
        )
    });
    let send = |v: Value| {
        let mut line = serde_json::to_vec(&v).expect("JSON serializes");
        line.push(b'\n');
        let _ = in_tx.send(line);
    };

    let started = Instant::now();
    send(
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},
        "clientInfo":{"name":"mcp-sigv4-doctor","version":env!("CARGO_PKG_VERSION")}}}),
    );
    let init = answer(&out_rx, 1, limit);
    let init_ok = match &init {
        Some(v) if v.get("result").is_some() => {
            let r = &v["result"];
            let name = r
                .pointer("/serverInfo/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let version = r
                .pointer("/serverInfo/version")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let revision = r
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("?");
            report.push(
                "initialize",
                started,
                Ok(format!("server {name} {version}, protocol {revision}")),
            );
            true
        }
        Some(v) => {
            let e = &v["error"];
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            report.push(
                "initialize",
                started,
                Err(failed(
                    format!(
                        "error {}: {}",
                        e.get("code").unwrap_or(&Value::Null),
                        crate::text::clean(&message, 600)
                    ),
                    error_hint(e, skew, source, profile),
                )),
            );
            false
        }
        None => {
            report.push(
                "initialize",
                started,
                Err(failed(
                    format!("no answer within {} s", limit.as_secs()),
                    "the endpoint accepted the connection but did not answer: check that it is an MCP (Streamable HTTP) endpoint, or raise --timeout",
                )),
            );
            false
        }
    };

    if init_ok {
        send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        let started = Instant::now();
        let mut tools = 0usize;
        let mut read_only = 0usize;
        let mut cursor: Option<Value> = None;
        let mut outcome = Ok(());
        // Bounded: at most 50 pages.
        for page in 0..50i64 {
            let id = 2 + page;
            let mut params = json!({});
            if let Some(c) = &cursor {
                params["cursor"] = c.clone();
            }
            send(json!({"jsonrpc":"2.0","id":id,"method":"tools/list","params":params}));
            match answer(&out_rx, id, limit) {
                Some(v) if v.get("result").is_some() => {
                    let list = v.pointer("/result/tools").and_then(Value::as_array);
                    for t in list.into_iter().flatten() {
                        tools += 1;
                        if t.pointer("/annotations/readOnlyHint") == Some(&Value::Bool(true)) {
                            read_only += 1;
                        }
                    }
                    cursor = v
                        .pointer("/result/nextCursor")
                        .filter(|c| !c.is_null())
                        .cloned();
                    if cursor.is_none() {
                        break;
                    }
                }
                Some(v) => {
                    let e = &v["error"];
                    outcome = Err(failed(
                        format!(
                            "error {}: {}",
                            e.get("code").unwrap_or(&Value::Null),
                            crate::text::clean(
                                e.get("message").and_then(Value::as_str).unwrap_or(""),
                                600
                            )
                        ),
                        error_hint(e, skew, source, profile),
                    ));
                    break;
                }
                None => {
                    outcome = Err(failed(
                        format!("no answer within {} s", limit.as_secs()),
                        "the server took the session but did not list its tools; raise --timeout or check the server's logs",
                    ));
                    break;
                }
            }
        }
        report.push(
            "tools/list",
            started,
            outcome.map(|()| format!("{tools} tools, {read_only} read-only (readOnlyHint)")),
        );
    } else {
        report.skip("tools/list", "needs an initialized session");
    }
    // The end of stdin: the relay ends the session with a signed DELETE.
    drop(in_tx);
    let _ = relay.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_name_the_first_failure_and_the_hint_is_last() {
        let mut r = Report::default();
        r.push("credentials", Instant::now(), Ok("from environment".into()));
        r.push(
            "identity",
            Instant::now(),
            Err(failed("HTTP 403 InvalidClientTokenId", "fix A")),
        );
        r.push("signing", Instant::now(), Err(failed("no region", "fix B")));
        r.skip("dns", "needs a configuration that resolves");
        assert_eq!(r.exit_code(), 11);
        let text = r.text();
        assert!(text.starts_with("[ok  ] credentials"), "{text}");
        assert!(text.contains("[FAIL] identity"), "{text}");
        assert!(text.contains("[skip] dns"), "{text}");
        assert_eq!(text.lines().last(), Some("hint: fix A"));
        let v: Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["exitCode"], 11);
        assert_eq!(v["steps"][1]["status"], "fail");
        assert_eq!(v["steps"][1]["hint"], "fix A");
        assert_eq!(v["steps"][3]["status"], "skip");
        assert!(v["steps"][0]["ms"].is_u64());
        let ok = Report::default();
        assert_eq!(ok.exit_code(), 0);
        assert_eq!(ok.text(), "all checks passed\n");
    }

    #[test]
    fn clock_and_expiry_hints() {
        let e =
            json!({"code":-32000,"data":{"httpStatus":403,"awsErrorType":"SignatureDoesNotMatch"}});
        let h = error_hint(&e, Some(-420), "environment", "dev");
        assert!(h.contains("7 min ahead of the server's"), "{h}");
        let h = error_hint(&e, Some(10), "environment", "dev");
        assert!(!h.contains("clock"), "{h}");
        let e =
            json!({"code":-32000,"data":{"httpStatus":403,"awsErrorType":"ExpiredTokenException"}});
        assert!(
            error_hint(&e, None, "profile 'dev' (SSO)", "dev")
                .contains("aws sso login --profile dev")
        );
        assert!(
            error_hint(&e, None, "profile 'dev' (aws login)", "dev")
                .contains("aws login --profile dev")
        );
    }
}
