//! The command line: what the user typed, as a plain [`Args`] value.
//!
//! Owns: one `lexopt` loop into [`Args`], the `--help` text and the
//! `--version` text. Besides our own flags it reads the command lines of the
//! proxies people already have in their MCP client configurations, with the
//! same meaning: `mcp-proxy-for-aws` 1.7.0 (`--profile a b`, `--metadata K=V
//! K2=V2`, `--skip-auth`, `--disable-telemetry`, its `--log-level` names),
//! the Go `mcp-sigv4-proxy` (`--target-url`, `--service-name`, `--timeout 30s`,
//! `--sse`) and the older AWS proxy's `--allow-write`. Their environment
//! variables are read in `config.rs`.
//! Refuses: any I/O or interpretation — whether the URL is valid, which region
//! applies, where credentials come from is `config.rs`'s job. Error messages echo
//! the bad value; no flag takes a secret, so nothing secret can be echoed.

use std::ffi::OsString;

pub use crate::error::UsageError;

/// The largest `--max-in-flight`.
pub const MAX_IN_FLIGHT: usize = 1024;

/// The `--help` text.
pub const HELP: &str = "\
mcp-sigv4: a stdio MCP server that relays every JSON-RPC message to a remote MCP
server over Streamable HTTP, signing each request with AWS SigV4 using your own
AWS credentials.

Usage: mcp-sigv4 <endpoint-url | agentcore-runtime-arn> [options]
       mcp-sigv4 doctor <endpoint-url> [options] [--json]
       mcp-sigv4 config <client> <endpoint-url> [options] [--name <server-name>]
       mcp-sigv4 serve <endpoint-url> [options] [--listen 127.0.0.1:PORT | unix:/path] …
       mcp-sigv4 healthcheck [http://127.0.0.1:PORT/readyz | unix:/path [--path /readyz]] [--timeout S]

Commands:
  (none)                    run as the stdio MCP server an MCP client starts
  doctor                    check credentials, identity, signing, DNS/TCP/TLS and the endpoint
                            (a signed initialize and tools/list), one line per step
  config <client>           print a ready-to-paste configuration for claude-desktop,
                            claude-code, vscode, cursor, kiro or amazon-q, or a runnable
                            Python program for strands, langchain, openai-agents or llamaindex
  serve                     a local MCP Streamable HTTP endpoint at /mcp (plus /healthz, /readyz)
                            relaying each client session in its own signed session; its flags:
                            --listen (default 127.0.0.1:8080), --token-file, --max-connections,
                            --max-sessions, --max-body-bytes, --max-head-bytes, --request-timeout,
                            --keep-alive, --session-idle, --drain-timeout (see the serve manual page)
  healthcheck [URL]         GET a serve's probe on this machine (default
                            http://127.0.0.1:8080/readyz; loopback http:// or unix:/path with
                            --path, default /readyz) for a container health check without a
                            shell; exit 0 on a 2xx answer, else 1; one line on stderr; --timeout
                            (default 3 s) bounds it all

Arguments:
  <endpoint-url>            the remote MCP endpoint, e.g.
                            'https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/<escaped ARN>/invocations?qualifier=DEFAULT'
                            (env: MCP_TARGET_URL, or AGENTCORE_AGENT_ARN / AGENT_ARN for an ARN)
  <agentcore-runtime-arn>   or an AgentCore Runtime ARN,
                            arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>

Signing:
  --service <name>          signing name (default: inferred from the host, e.g. bedrock-agentcore;
                            env: AWS_SERVICE_NAME)
  --region <region>         signing region (default: from the host, else AWS_REGION,
                            AWS_DEFAULT_REGION, the profile's region)
  --profile <name>...       AWS profile to take credentials from (default: AWS_PROFILE, else
                            default; AWS_MCP_PROXY_PROFILES=a,b wins when set). Several (at most
                            32; the first is the default): every tool gains an optional
                            aws_profile argument, and a call that names a profile is signed with
                            its credentials in an MCP session of its own
  --sig-version <v>         v4, v4a or auto (default auto; env: AWS_SIG_VERSION): auto signs SigV4
                            and, on a global endpoint, switches to SigV4A if the server refuses SigV4
  --region-set <set>        SigV4A region set, e.g. * or us-east-1,us-west-2 (default: * for a
                            global endpoint, else the region; env: AWS_SIGV4A_SIGNING_REGION_SET)
  --skip-auth               send requests unsigned when no AWS credentials can be found
                            (with a warning)

Credentials:
  --role-arn <arn>          assume this role on top of the credentials found (env:
                            AGENTCORE_ASSUME_ROLE_ARN)
  --role-session-name <n>   session name for the roles we assume (default: one name per process,
                            mcp-sigv4-<time>; env: AWS_ROLE_SESSION_NAME,
                            AGENTCORE_ASSUME_ROLE_SESSION_NAME)
  --external-id <id>        external id for --role-arn

AgentCore Runtime:
  --qualifier <name>        runtime endpoint for an ARN (default DEFAULT)
  --runtime-session <mode>  X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: identity (a hash of
                            the caller identity), session (one per process; the default for
                            AgentCore runtimes) or request (a new one per request)
                            (env: RUNTIME_SESSION_MODE)

Requests:
  --header <K=V>            add a header to every request (repeatable; signed like the rest)
  --headers <K=V,K2=V2>     add several headers (env: MCP_HEADERS)
  --metadata <K=V>...       add keys to every request's params._meta (repeatable)
  --read-only               list and call only tools annotated readOnlyHint: true
  --allow-write             the default: every tool is listed and callable
  --retries <n>             retries for requests that failed without taking effect (default 2)
  --max-in-flight <n>       client requests sent at once (default 64, 1 to 1024); past it they
                            queue, and when the queue is full they are refused; pings, cancellations,
                            notifications and answers to the server go ahead

TLS and network:
  --ca-bundle <file>        PEM certificates to trust instead of the built-in roots, for every
                            HTTPS request (env: AWS_CA_BUNDLE; profile: ca_bundle)
                            Proxies: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured.

Timeouts (seconds, or a duration such as 30s, 2m, 500ms):
  --connect-timeout <s>     TCP and TLS connect (default 60)
  --read-timeout <s>        longest wait for the next bytes of an answer (default 120)
  --write-timeout <s>       sending one request (default 180)
  --timeout <s>             a whole exchange other than a tool call (default 180; env: MCP_TIMEOUT)
  --tool-timeout <s>        a tools/call: longest wait without any message for it (default 300)

Limits (bytes, or with a unit: 512KiB, 64MiB, 1GiB); each is answered with a JSON-RPC error
carrying the request's id:
  --max-line-size <n>       one message from the client on stdin (default 64MiB)
  --max-message-size <n>    one JSON answer from the server (default 64MiB)
  --max-event-size <n>      one SSE event from the server; a stream may carry any number
                            (default 64MiB)
  --max-header-size <n>     the status line and headers of one answer (default 64KiB)
  --max-stdout-queue <n>    answers waiting for the client to read stdout; past it the relay
                            stops reading from the server until the client catches up (default
                            16MiB; one larger message still passes alone)

Other:
  --log-level <level>       error, warn, info, debug, trace or off (default warn; also the Python
                            proxy's DEBUG, INFO, WARNING, ERROR, CRITICAL); logs go to stderr
  --disable-telemetry, --sse
                            accepted for the other proxies' command lines; mcp-sigv4 sends no
                            telemetry and always accepts SSE answers
  -h, --help                print this help
  -V, --version             print the version, commit, target and whether the binary is static

Credentials are found as the AWS SDKs find them: the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the selected
profile in ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE,
AWS_SHARED_CREDENTIALS_FILE; static keys, credential_process, IAM Identity Center,
web identity, role_arn chains), then AWS_WEB_IDENTITY_TOKEN_FILE, container
credentials and EC2 instance metadata; they are renewed before they expire.
";

/// The `--version` text: version, git commit (when built from a checkout),
/// target and linkage, e.g.
/// `mcp-sigv4 0.1.0 (commit 1a2b3c4, x86_64-linux-musl, static)`.
pub fn version() -> String {
    let commit = option_env!("MCP_SIGV4_COMMIT").unwrap_or("unknown");
    let env = if cfg!(target_env = "musl") {
        "-musl"
    } else if cfg!(target_env = "gnu") {
        "-gnu"
    } else if cfg!(target_env = "msvc") {
        "-msvc"
    } else {
        ""
    };
    let linkage = if cfg!(target_feature = "crt-static") {
        "static"
    } else {
        "dynamically linked"
    };
    format!(
        "mcp-sigv4 {} (commit {commit}, {}-{}{env}, {linkage})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
    )
}

/// What to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Command {
    /// Relay stdin/stdout to the endpoint (no subcommand).
    #[default]
    Relay,
    /// `doctor`: check credentials, signing, the network and the endpoint.
    Doctor {
        /// `--json`: one JSON document instead of lines.
        json: bool,
    },
    /// `config <client>`: print a client configuration that starts this
    /// binary with the arguments given.
    Config {
        /// The client name, as typed.
        client: String,
        /// `--name`: the server's name in the configuration.
        name: Option<String>,
        /// The arguments to put in the configuration, as typed (without
        /// `--name`).
        args: Vec<String>,
    },
    /// `serve`: a local Streamable HTTP endpoint relaying to the endpoint.
    Serve(ServeArgs),
    /// `healthcheck`: one GET of a `serve` probe on this machine.
    Healthcheck(HealthcheckArgs),
}

/// `healthcheck`'s arguments, as typed (checked by
/// `healthcheck::Target::parse`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthcheckArgs {
    /// The target: `http://127.0.0.1:PORT/PATH` or `unix:/path`.
    pub target: Option<String>,
    /// `--path`: the request path on a Unix socket.
    pub path: Option<String>,
    /// `--timeout`: the whole check, connect to last byte.
    pub timeout: Option<std::time::Duration>,
}

impl HealthcheckArgs {
    /// Reads what follows `healthcheck`: at most one target, `--path P`,
    /// `--timeout S`, `-h`/`--help`. The relay's flags are refused: the
    /// check asks a running serve, it configures nothing.
    fn parse(args: Vec<OsString>) -> Result<(HealthcheckArgs, bool), UsageError> {
        use lexopt::prelude::*;
        let mut parser = lexopt::Parser::from_args(args);
        let mut h = HealthcheckArgs::default();
        let mut help = false;
        while let Some(arg) = parser.next()? {
            match arg {
                Long("path") => h.path = Some(text("--path", parser.value()?)?),
                Long("timeout") => {
                    let s = seconds("--timeout", parser.value()?)?;
                    h.timeout = Some(std::time::Duration::from_secs_f64(s));
                }
                Short('h') | Long("help") => help = true,
                Value(v) if h.target.is_none() => h.target = Some(text("healthcheck", v)?),
                // Not echoed: a URL may hold user information.
                Value(_) => {
                    return Err(UsageError::new(
                        "healthcheck: expected one URL, found a second one",
                    ));
                }
                Long(name) => {
                    return Err(UsageError::new(format!(
                        "healthcheck: invalid option '--{name}'; it takes a URL, --path and --timeout"
                    )));
                }
                _ => return Err(arg.unexpected().into()),
            }
        }
        Ok((h, help))
    }
}

/// `serve`'s own flags, as typed (checked by `serve::Options::resolve`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServeArgs {
    /// `--listen`: `ADDRESS:PORT` or `unix:/path`.
    pub listen: Option<String>,
    /// `--token-file`: the file holding the bearer token.
    pub token_file: Option<String>,
    /// `--max-connections`.
    pub max_connections: Option<usize>,
    /// `--max-sessions`.
    pub max_sessions: Option<usize>,
    /// `--max-body-bytes`, bytes.
    pub max_body_bytes: Option<u64>,
    /// `--max-head-bytes`, bytes.
    pub max_head_bytes: Option<u64>,
    /// `--request-timeout`.
    pub request_timeout: Option<std::time::Duration>,
    /// `--keep-alive`.
    pub keep_alive: Option<std::time::Duration>,
    /// `--session-idle`.
    pub session_idle: Option<std::time::Duration>,
    /// `--drain-timeout`.
    pub drain_timeout: Option<std::time::Duration>,
}

/// `serve`'s flags, each taking a value.
const SERVE_FLAGS: [&str; 10] = [
    "listen",
    "token-file",
    "max-connections",
    "max-sessions",
    "max-body-bytes",
    "max-head-bytes",
    "request-timeout",
    "keep-alive",
    "session-idle",
    "drain-timeout",
];

impl ServeArgs {
    /// Takes `serve`'s flags (`--flag V` or `--flag=V`) out of `args`.
    fn take(args: Vec<OsString>) -> Result<(ServeArgs, Vec<OsString>), UsageError> {
        let mut s = ServeArgs::default();
        let mut rest = Vec::new();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let Some(flag) = arg.to_str().and_then(|a| a.strip_prefix("--")) else {
                rest.push(arg);
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(OsString::from(v))),
                None => (flag, None),
            };
            if !SERVE_FLAGS.contains(&name) {
                rest.push(arg);
                continue;
            }
            let name = name.to_owned();
            let flag = format!("--{name}");
            let value = inline
                .or_else(|| it.next())
                .ok_or_else(|| UsageError::new(format!("{flag}: expected a value")))?;
            let count = |max: usize| -> Result<usize, UsageError> {
                let v = text(&flag, value.clone())?;
                v.parse()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        UsageError::new(format!(
                            "{flag}: expected a number from 1 to {max}, found {v:?}"
                        ))
                    })
            };
            let time = || seconds(&flag, value.clone()).map(std::time::Duration::from_secs_f64);
            match name.as_str() {
                "listen" => s.listen = Some(text(&flag, value.clone())?),
                "token-file" => s.token_file = Some(text(&flag, value.clone())?),
                "max-connections" => s.max_connections = Some(count(4096)?),
                "max-sessions" => s.max_sessions = Some(count(65536)?),
                "max-body-bytes" => s.max_body_bytes = Some(size(&flag, value.clone())?),
                "max-head-bytes" => s.max_head_bytes = Some(size(&flag, value.clone())?),
                "request-timeout" => s.request_timeout = Some(time()?),
                "keep-alive" => s.keep_alive = Some(time()?),
                "session-idle" => s.session_idle = Some(time()?),
                _ => s.drain_timeout = Some(time()?),
            }
        }
        Ok((s, rest))
    }
}

/// What the user asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    /// The subcommand.
    pub command: Command,
    /// The endpoint URL (or AgentCore Runtime ARN), as typed (`--target-url`
    /// too).
    pub endpoint: Option<String>,
    /// `--service` (`--service-name`).
    pub service: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`, every name given, in order (`--profile a b` and
    /// `--profile a --profile b`).
    pub profiles: Vec<String>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--sig-version`: `v4`, `v4a` or `auto`.
    pub sig_version: Option<String>,
    /// `--region-set`.
    pub region_set: Option<String>,
    /// `--connect-timeout`, seconds.
    pub connect_timeout: Option<f64>,
    /// `--read-timeout`, seconds.
    pub read_timeout: Option<f64>,
    /// `--write-timeout`, seconds.
    pub write_timeout: Option<f64>,
    /// `--timeout`, seconds.
    pub timeout: Option<f64>,
    /// `--tool-timeout`, seconds.
    pub tool_timeout: Option<f64>,
    /// `--max-line-size`, bytes.
    pub max_line_size: Option<u64>,
    /// `--max-message-size`, bytes.
    pub max_message_size: Option<u64>,
    /// `--max-event-size`, bytes.
    pub max_event_size: Option<u64>,
    /// `--max-header-size`, bytes.
    pub max_header_size: Option<u64>,
    /// `--max-stdout-queue`, bytes.
    pub max_stdout_queue: Option<u64>,
    /// `--role-arn`.
    pub role_arn: Option<String>,
    /// `--role-session-name`.
    pub role_session_name: Option<String>,
    /// `--external-id`.
    pub external_id: Option<String>,
    /// `--qualifier`.
    pub qualifier: Option<String>,
    /// `--runtime-session`: `identity`, `session` or `request`.
    pub runtime_session: Option<String>,
    /// `--header` and `--headers`, in order, as typed (`K=V`).
    pub headers: Vec<String>,
    /// `--metadata`, in order, as typed (`K=V`).
    pub metadata: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--allow-write`.
    pub allow_write: bool,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--max-in-flight`.
    pub max_in_flight: Option<usize>,
    /// `--skip-auth`.
    pub skip_auth: bool,
    /// `--ca-bundle`.
    pub ca_bundle: Option<String>,
    /// `--help` was given.
    pub help: bool,
    /// `--version` was given.
    pub version: bool,
}

/// Seconds from a number (`30`, `1.5`) or a Go-style duration (`30s`, `2m`,
/// `500ms`, `1h`, `1m30s`), as the Go proxy's `--timeout` takes it; between 0
/// (exclusive) and 86400.
fn seconds(flag: &str, value: OsString) -> Result<f64, UsageError> {
    let text = value.to_string_lossy();
    match parse_duration(text.trim()) {
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(UsageError::new(format!(
            "{flag}: expected a number of seconds between 0 and 86400 (or a duration such as 30s or 2m), found {text:?}"
        ))),
    }
}

/// The smallest size a `--max-*` flag takes (1 KiB).
pub const MIN_SIZE: u64 = 1 << 10;
/// The largest size a `--max-*` flag takes (4 GiB).
pub const MAX_SIZE: u64 = 4 << 30;

/// Bytes from a number (`1048576`) or a number with a binary unit (`512KiB`,
/// `64MiB`, `1GiB`; `K`, `M`, `G` and `KB`, `MB`, `GB` mean the same, any
/// case); between [`MIN_SIZE`] and [`MAX_SIZE`].
fn size(flag: &str, value: OsString) -> Result<u64, UsageError> {
    let text = value.to_string_lossy();
    match parse_size(text.trim()) {
        Some(n) if (MIN_SIZE..=MAX_SIZE).contains(&n) => Ok(n),
        _ => Err(UsageError::new(format!(
            "{flag}: expected a size between 1KiB and 4GiB (bytes, or e.g. 512KiB, 64MiB), found {text:?}"
        ))),
    }
}

/// A size in bytes: digits, then optionally `B` or a binary unit (`K`, `KB`,
/// `KiB`, `M`, `MB`, `MiB`, `G`, `GB`, `GiB`, any case).
pub fn parse_size(text: &str) -> Option<u64> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let scale: u64 = match text[digits..].trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// A number of seconds, or a sequence of `<number><unit>` with units `h`,
/// `m`, `s`, `ms` (Go's `time.ParseDuration` without `us`/`ns`).
pub fn parse_duration(text: &str) -> Option<f64> {
    if let Ok(s) = text.parse::<f64>() {
        return Some(s);
    }
    let mut rest = text;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (scale, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else {
            return None;
        };
        total += number * scale;
        rest = &rest[len..];
    }
    Some(total)
}

fn text(flag: &str, value: OsString) -> Result<String, UsageError> {
    value
        .into_string()
        .map_err(|v| UsageError::new(format!("{flag}: expected UTF-8 text, found {v:?}")))
}

/// The Go proxy's flags as Go writes them, with one dash (`-target-url URL`,
/// `-timeout=30s`): given two, so lexopt reads them as long flags.
const GO_FLAGS: [&str; 8] = [
    "target-url",
    "region",
    "service-name",
    "sig-version",
    "profile",
    "sse",
    "timeout",
    "headers",
];

/// Every long flag `parse_relay` reads (and `doctor`'s `--json`, `config`'s
/// `--name`), for the did-you-mean of an unknown one.
const LONG_FLAGS: &[&str] = &[
    "service",
    "service-name",
    "region",
    "profile",
    "log-level",
    "sig-version",
    "region-set",
    "connect-timeout",
    "read-timeout",
    "write-timeout",
    "timeout",
    "tool-timeout",
    "max-line-size",
    "max-message-size",
    "max-event-size",
    "max-header-size",
    "max-stdout-queue",
    "role-arn",
    "role-session-name",
    "external-id",
    "qualifier",
    "runtime-session",
    "header",
    "headers",
    "metadata",
    "read-only",
    "allow-write",
    "skip-auth",
    "disable-telemetry",
    "sse",
    "ca-bundle",
    "target-url",
    "retries",
    "max-in-flight",
    "help",
    "version",
    "json",
    "name",
    "listen",
    "token-file",
    "max-connections",
    "max-sessions",
    "max-body-bytes",
    "max-head-bytes",
    "request-timeout",
    "keep-alive",
    "session-idle",
    "drain-timeout",
];

/// `invalid option '--regoin'; did you mean --region?`: the did-you-mean
/// when a known flag is one edit away (two for names longer than 5
/// characters; a swap of neighbours is one edit).
fn unknown_flag(name: &str) -> UsageError {
    let mut message = format!("invalid option '--{name}'");
    let bare = name.split('=').next().unwrap_or(name);
    let limit = if bare.chars().count() > 5 { 2 } else { 1 };
    let near = LONG_FLAGS
        .iter()
        .map(|f| (crate::credentials::advice::distance(bare, f), *f))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d);
    if let Some((_, near)) = near {
        message.push_str(&format!("; did you mean --{near}?"));
    }
    UsageError::new(message)
}

fn go_style(arg: OsString) -> OsString {
    let Some(text) = arg.to_str() else {
        return arg;
    };
    let Some(rest) = text.strip_prefix('-').filter(|r| !r.starts_with('-')) else {
        return arg;
    };
    let name = rest.split('=').next().unwrap_or(rest);
    // `-help` and `-version` as Go programs spell them, too.
    if GO_FLAGS.contains(&name) || matches!(name, "help" | "version") {
        OsString::from(format!("-{text}"))
    } else {
        arg
    }
}

/// True for what can only be the endpoint: a URL or an ARN.
fn looks_like_endpoint(value: &str) -> bool {
    value.contains("://") || value.starts_with("arn:")
}

impl Args {
    /// Reads the arguments (without the program name).
    ///
    /// `--profile` and `--metadata` take every value up to the next flag, as
    /// `mcp-proxy-for-aws` reads them; a URL or ARN among them is the
    /// endpoint (`--profile dev https://…`).
    ///
    /// # Errors
    /// [`UsageError`] for an unknown flag, a missing or malformed value, or a
    /// second endpoint.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, UsageError> {
        let mut args: Vec<OsString> = args.into_iter().collect();
        // `mcp-sigv4 help` and `mcp-sigv4 version` as words, never read as
        // an endpoint.
        match args.first().and_then(|a| a.to_str()) {
            Some("help") => args[0] = "--help".into(),
            Some("version") => args[0] = "--version".into(),
            _ => {}
        }
        match args.first().and_then(|a| a.to_str()) {
            Some("doctor") => {
                args.remove(0);
                let json = args.iter().any(|a| a == "--json");
                args.retain(|a| a != "--json");
                let mut a = Args::parse_relay(args)?;
                a.command = Command::Doctor { json };
                Ok(a)
            }
            Some("config") => {
                args.remove(0);
                if args.is_empty() || args[0].to_str().is_some_and(|c| c.starts_with('-')) {
                    let a = Args::parse_relay(args)?;
                    if a.help || a.version {
                        return Ok(a);
                    }
                    return Err(UsageError::new(
                        "config: expected a client name (claude-desktop, claude-code, vscode, cursor, kiro, amazon-q, strands, langchain, openai-agents, llamaindex) and the endpoint",
                    ));
                }
                let client = text("config", args.remove(0))?;
                let mut name = None;
                let mut rest = Vec::new();
                let mut it = args.into_iter();
                while let Some(a) = it.next() {
                    let a = text("config", a)?;
                    if a == "--name" {
                        let v = it
                            .next()
                            .ok_or_else(|| UsageError::new("--name: expected the server's name"))?;
                        name = Some(text("--name", v)?);
                    } else if let Some(v) = a.strip_prefix("--name=") {
                        name = Some(v.to_owned());
                    } else {
                        rest.push(a);
                    }
                }
                let mut a = Args::parse_relay(rest.iter().map(OsString::from))?;
                a.command = Command::Config {
                    client,
                    name,
                    args: rest,
                };
                Ok(a)
            }
            Some("healthcheck") => {
                args.remove(0);
                let (h, help) = HealthcheckArgs::parse(args)?;
                Ok(Args {
                    command: Command::Healthcheck(h),
                    help,
                    ..Args::default()
                })
            }
            Some("serve") => {
                args.remove(0);
                let (serve, rest) = ServeArgs::take(args)?;
                let mut a = Args::parse_relay(rest)?;
                a.command = Command::Serve(serve);
                Ok(a)
            }
            _ => Args::parse_relay(args),
        }
    }

    fn parse_relay(args: impl IntoIterator<Item = OsString>) -> Result<Self, UsageError> {
        use lexopt::prelude::*;
        let mut parser = lexopt::Parser::from_args(args.into_iter().map(go_style));
        let mut a = Args::default();
        while let Some(arg) = parser.next()? {
            match arg {
                Long("service" | "service-name") => {
                    a.service = Some(text("--service", parser.value()?)?)
                }
                Long("region") => a.region = Some(text("--region", parser.value()?)?),
                Long("profile") => {
                    let mut any = false;
                    for v in parser.values()? {
                        any = true;
                        let v = text("--profile", v)?;
                        if looks_like_endpoint(&v) {
                            a.set_endpoint(v)?;
                        } else {
                            a.profiles.push(v);
                        }
                    }
                    if !any {
                        return Err(UsageError::new("--profile: expected a profile name"));
                    }
                }
                Long("log-level") => a.log_level = Some(text("--log-level", parser.value()?)?),
                Long("sig-version") => {
                    a.sig_version = Some(text("--sig-version", parser.value()?)?)
                }
                Long("region-set") => a.region_set = Some(text("--region-set", parser.value()?)?),
                Long("connect-timeout") => {
                    a.connect_timeout = Some(seconds("--connect-timeout", parser.value()?)?)
                }
                Long("read-timeout") => {
                    a.read_timeout = Some(seconds("--read-timeout", parser.value()?)?)
                }
                Long("write-timeout") => {
                    a.write_timeout = Some(seconds("--write-timeout", parser.value()?)?)
                }
                Long("timeout") => a.timeout = Some(seconds("--timeout", parser.value()?)?),
                Long("tool-timeout") => {
                    a.tool_timeout = Some(seconds("--tool-timeout", parser.value()?)?)
                }
                Long("max-line-size") => {
                    a.max_line_size = Some(size("--max-line-size", parser.value()?)?)
                }
                Long("max-message-size") => {
                    a.max_message_size = Some(size("--max-message-size", parser.value()?)?)
                }
                Long("max-event-size") => {
                    a.max_event_size = Some(size("--max-event-size", parser.value()?)?)
                }
                Long("max-header-size") => {
                    a.max_header_size = Some(size("--max-header-size", parser.value()?)?)
                }
                Long("max-stdout-queue") => {
                    a.max_stdout_queue = Some(size("--max-stdout-queue", parser.value()?)?)
                }
                Long("role-arn") => a.role_arn = Some(text("--role-arn", parser.value()?)?),
                Long("role-session-name") => {
                    a.role_session_name = Some(text("--role-session-name", parser.value()?)?)
                }
                Long("external-id") => {
                    a.external_id = Some(text("--external-id", parser.value()?)?)
                }
                Long("qualifier") => a.qualifier = Some(text("--qualifier", parser.value()?)?),
                Long("runtime-session") => {
                    a.runtime_session = Some(text("--runtime-session", parser.value()?)?)
                }
                Long("header") => a.headers.push(text("--header", parser.value()?)?),
                Long("headers") => {
                    let list = text("--headers", parser.value()?)?;
                    a.headers.extend(split_list(&list));
                }
                Long("metadata") => {
                    let mut any = false;
                    for v in parser.values()? {
                        any = true;
                        let v = text("--metadata", v)?;
                        if looks_like_endpoint(&v) && !v.contains('=') {
                            a.set_endpoint(v)?;
                        } else {
                            a.metadata.push(v);
                        }
                    }
                    if !any {
                        return Err(UsageError::new("--metadata: expected KEY=VALUE"));
                    }
                }
                Long("read-only") => a.read_only = true,
                Long("allow-write") => a.allow_write = true,
                Long("skip-auth") => a.skip_auth = true,
                // Accepted so that the other proxies' command lines work: we
                // send no telemetry, and SSE answers are always accepted.
                Long("disable-telemetry" | "sse") => {}
                Long("ca-bundle") => a.ca_bundle = Some(text("--ca-bundle", parser.value()?)?),
                Long("target-url") => {
                    let v = text("--target-url", parser.value()?)?;
                    a.set_endpoint(v)?;
                }
                Long("retries") => {
                    let v = text("--retries", parser.value()?)?;
                    a.retries = Some(v.parse().ok().filter(|n| *n <= 10).ok_or_else(|| {
                        UsageError::new(format!(
                            "--retries: expected a number from 0 to 10, found {v:?}"
                        ))
                    })?);
                }
                Long("max-in-flight") => {
                    let v = text("--max-in-flight", parser.value()?)?;
                    a.max_in_flight = Some(
                        v.parse()
                            .ok()
                            .filter(|n| (1..=MAX_IN_FLIGHT).contains(n))
                            .ok_or_else(|| {
                                UsageError::new(format!(
                                    "--max-in-flight: expected a number from 1 to {MAX_IN_FLIGHT}, found {v:?}"
                                ))
                            })?,
                    );
                }
                Short('h') | Long("help") => a.help = true,
                Short('V') | Long("version") => a.version = true,
                Value(v) => {
                    let v = text("<endpoint-url>", v)?;
                    a.set_endpoint(v)?;
                }
                Long(name) => return Err(unknown_flag(name)),
                _ => return Err(arg.unexpected().into()),
            }
        }
        Ok(a)
    }

    fn set_endpoint(&mut self, value: String) -> Result<(), UsageError> {
        if self.endpoint.is_some() {
            return Err(UsageError::new(format!(
                "expected one endpoint URL, found a second one: {value:?}"
            )));
        }
        self.endpoint = Some(value);
        Ok(())
    }
}

/// `K=V,K2=V2` as items, blanks dropped (`--headers`, `MCP_HEADERS`).
pub fn split_list(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, UsageError> {
        Args::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn reads_endpoint_and_flags_in_any_order() {
        let a = parse(&[
            "--region",
            "us-west-2",
            "https://x.example/mcp",
            "--service=svc",
            "--profile",
            "dev",
        ])
        .unwrap();
        assert_eq!(a.endpoint.as_deref(), Some("https://x.example/mcp"));
        assert_eq!(a.region.as_deref(), Some("us-west-2"));
        assert_eq!(a.service.as_deref(), Some("svc"));
        assert_eq!(a.profiles, ["dev"]);
    }

    #[test]
    fn repeatable_flags_keep_their_order() {
        let a = parse(&[
            "u",
            "--header",
            "A=1",
            "--headers",
            "B=2, C=3",
            "--metadata",
            "k=v",
            "--read-only",
            "--retries",
            "0",
        ])
        .unwrap();
        assert_eq!(a.headers, ["A=1", "B=2", "C=3"]);
        assert_eq!(a.metadata, ["k=v"]);
        assert!(a.read_only);
        assert_eq!(a.retries, Some(0));
        assert!(parse(&["u", "--retries", "11"]).is_err());
        assert_eq!(
            parse(&["u", "--max-in-flight", "8"]).unwrap().max_in_flight,
            Some(8)
        );
        for bad in ["0", "1025", "x"] {
            assert!(parse(&["u", "--max-in-flight", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_flag_and_echo_the_value() {
        let e = parse(&["u", "--timeout", "soon"]).unwrap_err().to_string();
        assert!(e.contains("--timeout") && e.contains("\"soon\""), "{e}");
        let e = parse(&["u", "--nope"]).unwrap_err().to_string();
        assert!(e.contains("--nope"), "{e}");
        let e = parse(&["u", "v"]).unwrap_err().to_string();
        assert!(e.contains("second"), "{e}");
        let e = parse(&["u", "--region"]).unwrap_err().to_string();
        assert!(e.contains("--region"), "{e}");
    }

    #[test]
    fn the_python_proxys_multi_value_flags() {
        // mcp-proxy-for-aws: `--profile a b c` and `--metadata K=V K2=V2`;
        // a URL after them is the endpoint, as argparse leaves it.
        let a = parse(&[
            "--profile",
            "dev",
            "staging",
            "https://aws-mcp.us-east-1.api.aws/mcp",
            "--metadata",
            "AWS_REGION=us-west-2",
            "K=V",
            "--skip-auth",
            "--disable-telemetry",
            "--allow-write",
        ])
        .unwrap();
        assert_eq!(a.profiles, ["dev", "staging"]);
        assert_eq!(
            a.endpoint.as_deref(),
            Some("https://aws-mcp.us-east-1.api.aws/mcp")
        );
        assert_eq!(a.metadata, ["AWS_REGION=us-west-2", "K=V"]);
        assert!(a.skip_auth && a.allow_write);
        let a = parse(&["u", "--profile", "a", "--profile", "b"]).unwrap();
        assert_eq!(a.profiles, ["a", "b"]);
        assert!(parse(&["u", "--profile"]).is_err());
    }

    #[test]
    fn the_go_proxys_flags_and_durations() {
        let a = parse(&[
            "--target-url",
            "https://x.example/mcp",
            "--service-name",
            "execute-api",
            "--timeout",
            "1m30s",
            "--read-timeout",
            "500ms",
            "--sse",
        ])
        .unwrap();
        assert_eq!(a.endpoint.as_deref(), Some("https://x.example/mcp"));
        assert_eq!(a.service.as_deref(), Some("execute-api"));
        assert_eq!(a.timeout, Some(90.0));
        assert_eq!(a.read_timeout, Some(0.5));
        assert!(parse(&["--target-url", "https://a/", "https://b/"]).is_err());
        // Go's single-dash long flags.
        let a = parse(&["-target-url", "https://x.example/", "-timeout=30s", "-sse"]).unwrap();
        assert_eq!(a.endpoint.as_deref(), Some("https://x.example/"));
        assert_eq!(a.timeout, Some(30.0));
        assert!(parse(&["u", "-x"]).is_err());
        for (text, secs) in [("30", 30.0), ("2.5", 2.5), ("30s", 30.0), ("1h", 3600.0)] {
            assert_eq!(parse_duration(text), Some(secs), "{text}");
        }
        for bad in ["", "s", "10x", "1.2.3s", "-"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert!(parse(&["u", "--timeout", "0s"]).is_err());
    }

    #[test]
    fn sizes_take_bytes_or_binary_units() {
        for (text, bytes) in [
            ("1024", 1024),
            ("512KiB", 512 << 10),
            ("64MiB", 64 << 20),
            ("64mb", 64 << 20),
            ("2 G", 2 << 30),
            ("4096B", 4096),
        ] {
            assert_eq!(parse_size(text), Some(bytes), "{text}");
        }
        for bad in ["", "MiB", "1.5MiB", "-1", "10x", "99999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        let a = parse(&["u", "--max-event-size", "1MiB", "--max-stdout-queue=8M"]).unwrap();
        assert_eq!(a.max_event_size, Some(1 << 20));
        assert_eq!(a.max_stdout_queue, Some(8 << 20));
        let e = parse(&["u", "--max-line-size", "100"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--max-line-size") && e.contains("\"100\""),
            "{e}"
        );
        assert!(parse(&["u", "--max-header-size", "5GiB"]).is_err());
    }

    #[test]
    fn subcommands() {
        let a = parse(&["doctor", "https://x.example/", "--json", "--profile", "dev"]).unwrap();
        assert_eq!(a.command, Command::Doctor { json: true });
        assert_eq!(a.profiles, ["dev"]);
        let a = parse(&[
            "config",
            "kiro",
            "https://x.example/?a=1",
            "--name",
            "aws",
            "--read-only",
        ])
        .unwrap();
        assert_eq!(
            a.command,
            Command::Config {
                client: "kiro".into(),
                name: Some("aws".into()),
                args: vec!["https://x.example/?a=1".into(), "--read-only".into()],
            }
        );
        assert!(a.read_only);
        assert!(parse(&["config"]).is_err());
        assert!(parse(&["config", "kiro", "u", "--bogus"]).is_err());
        assert!(parse(&["config", "--help"]).unwrap().help);
        // Not a subcommand anywhere but first.
        assert!(parse(&["https://x.example/", "doctor"]).is_err());
    }

    #[test]
    fn serve_takes_its_flags_and_every_relay_flag() {
        let a = parse(&[
            "serve",
            "https://x.example/mcp",
            "--listen",
            "127.0.0.1:0",
            "--read-only",
            "--token-file=/t",
            "--max-connections",
            "8",
            "--max-body-bytes",
            "1MiB",
            "--session-idle",
            "2m",
        ])
        .unwrap();
        assert!(a.read_only);
        assert_eq!(a.endpoint.as_deref(), Some("https://x.example/mcp"));
        let Command::Serve(s) = a.command else {
            panic!("{:?}", a.command)
        };
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(s.token_file.as_deref(), Some("/t"));
        assert_eq!(s.max_connections, Some(8));
        assert_eq!(s.max_body_bytes, Some(1 << 20));
        assert_eq!(s.session_idle, Some(std::time::Duration::from_secs(120)));
        for bad in [
            &["serve", "u", "--max-connections", "0"][..],
            &["serve", "u", "--keep-alive", "soon"],
            &["serve", "u", "--listen"],
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad[2]), "{e}");
        }
        // Only after `serve`.
        assert!(parse(&["u", "--listen", "127.0.0.1:1"]).is_err());
    }

    #[test]
    fn healthcheck_takes_a_url_path_and_timeout_only() {
        let a = parse(&["healthcheck"]).unwrap();
        assert_eq!(a.command, Command::Healthcheck(HealthcheckArgs::default()));
        let a = parse(&[
            "healthcheck",
            "unix:/s",
            "--path=/healthz",
            "--timeout",
            "2s",
        ])
        .unwrap();
        assert_eq!(
            a.command,
            Command::Healthcheck(HealthcheckArgs {
                target: Some("unix:/s".into()),
                path: Some("/healthz".into()),
                timeout: Some(std::time::Duration::from_secs(2)),
            })
        );
        assert!(parse(&["healthcheck", "--help"]).unwrap().help);
        for bad in [
            &["healthcheck", "a", "b"][..],
            &["healthcheck", "--region", "x"],
            &["healthcheck", "--timeout", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn version_names_commit_target_and_linkage() {
        let v = version();
        assert!(
            v.starts_with(concat!(
                "mcp-sigv4 ",
                env!("CARGO_PKG_VERSION"),
                " (commit "
            )),
            "{v}"
        );
        assert!(v.contains(std::env::consts::ARCH), "{v}");
        assert!(
            v.ends_with(", static)") || v.ends_with(", dynamically linked)"),
            "{v}"
        );
    }
}
