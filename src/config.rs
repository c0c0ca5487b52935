//! What the command line and the environment mean on this machine.
//!
//! Owns: turning [`Args`] and the environment into a [`Config`]: the endpoint URL
//! taken apart (scheme, host, port, path and query as they will be sent), the
//! signing name and region inferred from the host, the region chain, the
//! plain-HTTP rule (loopback only) and the timeouts.
//! Refuses: guessing a service it cannot read from the host — the error asks for
//! `--service` and names the host.
//!
//! Region order: `--region`; then the region the host names
//! (`bedrock-agentcore.us-east-1.amazonaws.com`); then `AWS_REGION`,
//! `AWS_DEFAULT_REGION` and the profile's `region`. The host comes before the
//! environment because a signature scoped to another region than the endpoint's
//! is always refused (`Credential should be scoped to a valid region`); when the
//! two disagree the environment's value is logged and not used.

use std::time::Duration;

use crate::auth::{RequestAuth, SigningChoice};
use crate::cli::Args;
use crate::credentials::CredentialsProvider;
use crate::credentials::chain::RoleOnTop;
use crate::credentials::{Env, Resolver};
pub use crate::endpoint::Endpoint;
use crate::endpoint::{infer_from_host, runtime_arn_url};
use crate::fs::read_bounded;
use crate::http::TlsRoots;
use crate::sigv4::Algorithm;
use crate::url::{PlainHttp, Url};

/// Timeouts for talking to the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP and TLS connect.
    pub connect: Duration,
    /// Longest wait for the next bytes of an answer (response head or body).
    pub read: Duration,
    /// Sending one request.
    pub write: Duration,
    /// A whole exchange other than a tool call.
    pub exchange: Duration,
    /// A `tools/call`: longest wait without any bytes for it.
    pub tool: Duration,
}

impl Default for Timeouts {
    /// The peers' defaults: connect 60 s, read 120 s, write 180 s, overall 180 s;
    /// tool calls 300 s.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(60),
            read: Duration::from_secs(120),
            write: Duration::from_secs(180),
            exchange: Duration::from_secs(180),
            tool: Duration::from_secs(300),
        }
    }
}

/// Size limits on what the relay reads and holds: each message, never the
/// sum of a stream. A message past a limit is answered with a JSON-RPC error
/// carrying the request's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// One client message, a stdin line (`--max-line-size`).
    pub line: usize,
    /// One JSON answer body from the server (`--max-message-size`).
    pub message: usize,
    /// One SSE event from the server (`--max-event-size`).
    pub event: usize,
    /// The status line and headers of one answer (`--max-header-size`).
    pub header: usize,
    /// Bytes waiting for the client to read stdout before the exchanges wait
    /// (`--max-stdout-queue`); one larger message still passes alone.
    pub stdout_queue: usize,
}

impl Default for Limits {
    /// 64 MiB per message, line and event (AgentCore accepts 100 MB payloads);
    /// 64 KiB of headers; 16 MiB queued for stdout.
    fn default() -> Self {
        Limits {
            line: 64 << 20,
            message: 64 << 20,
            event: 64 << 20,
            header: crate::http::DEFAULT_MAX_HEADER,
            stdout_queue: 16 << 20,
        }
    }
}

/// How the AgentCore runtime-session header is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeSession {
    /// A hash of the caller identity (STS GetCallerIdentity): the same across
    /// restarts for the same AWS principal.
    Identity,
    /// One random id per process.
    Session,
    /// A new random id per request.
    Request,
}

/// Relay behaviour chosen on the command line.
#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// Retries for requests that failed without taking effect (`--retries`).
    pub retries: u32,
    /// Client requests sent at once; past it they queue (`--max-in-flight`).
    pub max_in_flight: usize,
    /// `--read-only`.
    pub read_only: bool,
    /// `--header`/`--headers`, validated, names lower-case.
    pub extra_headers: Vec<(String, String)>,
    /// `--metadata` keys and values (strings).
    pub metadata: Vec<(String, serde_json::Value)>,
    /// `X-Amzn-Bedrock-AgentCore-Runtime-Session-Id` mode.
    pub runtime_session: Option<RuntimeSession>,
    /// Size limits (`--max-*-size`, `--max-stdout-queue`).
    pub limits: Limits,
    /// The roots the endpoint's certificate must chain to (`--ca-bundle`,
    /// `AWS_CA_BUNDLE`, the profile's `ca_bundle`; else the built-in ones).
    pub tls: TlsRoots,
    /// Every profile given when there are several (the default first; at most
    /// [`MAX_PROFILES`]): tools gain an `aws_profile` argument and each
    /// profile's calls go in an upstream session of its own. Empty for one
    /// profile, which changes nothing.
    pub profiles: Vec<String>,
}

/// Client requests sent at once by default (`--max-in-flight`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            retries: 2,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            read_only: false,
            extra_headers: Vec::new(),
            metadata: Vec::new(),
            runtime_session: None,
            limits: Limits::default(),
            tls: TlsRoots::builtin(),
            profiles: Vec::new(),
        }
    }
}

/// Headers `--header` may not set: the transport's, the signature's and MCP's own.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "authorization",
    "content-length",
    "content-type",
    "accept",
    "transfer-encoding",
    "connection",
    "expect",
    "te",
    "upgrade",
    "last-event-id",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
];

fn parse_header(text: &str, what: &str) -> Result<(String, String), ConfigError> {
    // The value may be a token (`Authorization=Bearer …`): only the name is
    // ever echoed.
    let Some((name, value)) = text.split_once('=') else {
        return Err(match text.split_once(':') {
            Some((n, _)) if !n.trim().is_empty() => ConfigError::new(format!(
                "{what} {:?}: expected NAME=VALUE, found NAME:VALUE (value not shown)",
                n.trim()
            ))
            .with_hint(format!(
                "write it as {}{}=VALUE",
                if what.starts_with("--") {
                    "--header "
                } else {
                    ""
                },
                n.trim()
            )),
            _ => ConfigError::new(format!(
                "{what}: expected NAME=VALUE (the text given is not shown)"
            ))
            .with_hint("write it as --header NAME=VALUE, e.g. --header X-Team=search"),
        });
    };
    let bad =
        |why: &str| ConfigError::new(format!("{what} {:?}: {why} (value not shown)", name.trim()));
    let name = name.trim().to_ascii_lowercase();
    let value = value.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return Err(bad("the name must be an HTTP token"));
    }
    if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(bad("the value must not contain control characters"));
    }
    if RESERVED_HEADERS.contains(&name.as_str())
        || name.starts_with("x-amz-")
        || name.starts_with("mcp-param-")
    {
        return Err(bad("this header is set by mcp-sigv4 itself"));
    }
    Ok((name, value.to_owned()))
}

/// Everything the relay needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to send requests.
    pub endpoint: Endpoint,
    /// Signing name.
    pub service: String,
    /// Signing region.
    pub region: String,
    /// Where the region came from, for the debug log.
    pub region_source: &'static str,
    /// Where the signing name came from (`--service`, `AWS_SERVICE_NAME`,
    /// the endpoint host), for `doctor` and the debug log.
    pub service_source: &'static str,
    /// SigV4 or SigV4A, and whether to switch.
    pub signing: SigningChoice,
    /// Relay behaviour.
    pub relay: RelayOptions,
    /// A role to assume on top of the credentials found (`--role-arn`, else
    /// `AGENTCORE_ASSUME_ROLE_ARN`), with its session name and external id.
    pub assume_role: Option<AssumeRoleOptions>,
    /// `--role-session-name`: the session name of every role we assume
    /// (profile role chains and web identity too) whose profile names none.
    pub role_session_name: Option<String>,
    /// Timeouts.
    pub timeouts: Timeouts,
}

/// `--role-arn` and its companions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRoleOptions {
    /// The role ARN.
    pub role_arn: String,
    /// `--role-session-name`.
    pub session_name: Option<String>,
    /// `--external-id`.
    pub external_id: Option<String>,
}

pub use crate::error::ConfigError;

/// Reads `--log-level`.
///
/// # Errors
/// [`ConfigError`] for an unknown level.
pub fn log_level(text: Option<&str>) -> Result<log::LevelFilter, ConfigError> {
    match text.map(str::to_ascii_lowercase).as_deref() {
        None | Some("warn") | Some("warning") => Ok(log::LevelFilter::Warn),
        // `critical`: the Python proxy's highest level; we have nothing above error.
        Some("error") | Some("critical") => Ok(log::LevelFilter::Error),
        Some("info") => Ok(log::LevelFilter::Info),
        Some("debug") => Ok(log::LevelFilter::Debug),
        Some("trace") => Ok(log::LevelFilter::Trace),
        Some("off") => Ok(log::LevelFilter::Off),
        Some(other) => Err(ConfigError::new(format!(
            "--log-level: expected error, warn, info, debug, trace or off (or DEBUG, INFO, WARNING, ERROR, CRITICAL), found {other:?}"
        ))),
    }
}

impl Config {
    /// The signer of this configuration's requests: `resolver` with the TLS
    /// roots, the role to assume on top and the endpoint's region, behind a
    /// [`CredentialsProvider`] that keeps the credentials fresh.
    pub fn request_auth(&self, resolver: Resolver) -> RequestAuth {
        let resolver = resolver
            .with_tls(self.relay.tls.clone())
            .with_role_on_top(self.assume_role.clone().map(|r| RoleOnTop {
                role_arn: r.role_arn,
                session_name: r.session_name,
                external_id: r.external_id,
            }))
            .with_endpoint_region(Some(self.region.clone()))
            .with_session_name(self.role_session_name.clone());
        RequestAuth::new(
            CredentialsProvider::new(resolver),
            self.service.clone(),
            self.region.clone(),
            &self.signing,
        )
    }
}

/// The most profiles one MCP server entry may name: each may open an upstream
/// session of its own and keeps its own credentials.
pub const MAX_PROFILES: usize = 32;

/// The profiles to sign with, first the default: `AWS_MCP_PROXY_PROFILES`
/// (names separated by commas or spaces) when set — it wins over `--profile`,
/// as in `mcp-proxy-for-aws`, so a client configuration can switch accounts
/// without changing the command — else every `--profile` given, each name
/// once. Empty means the SDKs' default (`AWS_PROFILE`, else `default`).
/// More than one: every tool gains an `aws_profile` argument, and each
/// profile signs its calls in an upstream session of its own (`relay`).
///
/// # Errors
/// [`ConfigError`] for more than [`MAX_PROFILES`] profiles.
pub fn profiles(args: &Args, env: &Env) -> Result<Vec<String>, ConfigError> {
    let (names, from): (Vec<String>, &str) = match env.get_nonblank("AWS_MCP_PROXY_PROFILES") {
        Some(list) => (
            list.split([',', ' ', '\t'])
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
            "AWS_MCP_PROXY_PROFILES",
        ),
        None => (args.profiles.clone(), "--profile"),
    };
    let mut unique: Vec<String> = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    if unique.len() > MAX_PROFILES {
        return Err(ConfigError::new(format!(
            "{from} names {} profiles: at most {MAX_PROFILES} are supported in one MCP server entry",
            unique.len()
        ))
        .with_hint("split them over several MCP server entries"));
    }
    Ok(unique)
}

/// The endpoint: the argument (or `--target-url`), else `MCP_TARGET_URL` (the
/// Go proxy's), else `AGENTCORE_AGENT_ARN` or `AGENT_ARN` (the AgentCore
/// scripts'), with where it came from.
fn endpoint_text(args: &Args, env: &Env) -> Option<(String, &'static str)> {
    if let Some(e) = &args.endpoint {
        return Some((e.clone(), "the command line"));
    }
    ["MCP_TARGET_URL", "AGENTCORE_AGENT_ARN", "AGENT_ARN"]
        .into_iter()
        .find_map(|var| env.get_nonblank(var).map(|v| (v.trim().to_owned(), var)))
}

/// The error for profile `name` when the shared files (as `resolver` finds
/// them) do not define it: `profile 'dve' not found in ~/.aws/config or
/// ~/.aws/credentials; did you mean 'dev'? profiles: …`, with how to create
/// it. `None` when it exists, when it is `default` (which may be absent), or
/// when the files cannot be read (that error is the credential chain's to
/// report).
pub fn missing_profile(resolver: &Resolver, name: &str) -> Option<ConfigError> {
    if name == "default" {
        return None;
    }
    let files = resolver.load_files().ok()?;
    if files.profile(name).is_some() {
        return None;
    }
    let home = crate::credentials::profile::home_dir(
        resolver.env(),
        crate::credentials::profile::Platform::current(),
    );
    let e = crate::credentials::advice::profile_not_found(name, &files, home.as_deref());
    let error = ConfigError::new(e.summary);
    Some(match e.hint {
        Some(h) => error.with_hint(h),
        None => error,
    })
}

/// True when an endpoint is given: the argument (or `--target-url`), else
/// `MCP_TARGET_URL`, `AGENTCORE_AGENT_ARN` or `AGENT_ARN` in `env`.
pub fn has_endpoint(args: &Args, env: &Env) -> bool {
    endpoint_text(args, env).is_some()
}

/// A duration from an environment variable (`MCP_TIMEOUT=30s`); the error
/// names the variable.
fn env_seconds(env: &Env, var: &str) -> Result<Option<f64>, ConfigError> {
    let Some(text) = env.get_nonblank(var) else {
        return Ok(None);
    };
    match crate::cli::parse_duration(text.trim()) {
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Some(s)),
        _ => Err(ConfigError::new(format!(
            "{var}: expected a number of seconds between 0 and 86400 or a duration such as 30s or 2m, found {text:?}"
        ))),
    }
}

impl Config {
    /// Resolves the command line against the environment (and, for the region,
    /// the shared files).
    ///
    /// # Errors
    /// [`ConfigError`]: no endpoint, a malformed URL, plain HTTP to a host that is
    /// not loopback, a host whose service cannot be read without `--service`, or
    /// no region anywhere.
    pub fn resolve(args: &Args, resolver: &Resolver) -> Result<Self, ConfigError> {
        let env = resolver.env();
        let (target, target_from) = endpoint_text(args, env).ok_or_else(|| {
            ConfigError::new("expected an endpoint URL")
                .with_hint("mcp-sigv4 <endpoint-url> [options]; see `mcp-sigv4 --help`")
        })?;
        if target_from != "the command line" {
            log::debug!("endpoint from {target_from}");
        }
        let target = target.as_str();
        if args.read_only && args.allow_write {
            return Err(
                ConfigError::new("--read-only and --allow-write contradict each other")
                    .with_hint("give one of them (--allow-write is the default)"),
            );
        }

        let url = if target.starts_with("arn:") {
            runtime_arn_url(target, args.qualifier.as_deref())?
        } else {
            if args.qualifier.is_some() {
                return Err(
                    ConfigError::new("--qualifier applies to an AgentCore Runtime ARN")
                        .with_hint("with a URL, put ?qualifier= in it"),
                );
            }
            target.to_owned()
        };
        let endpoint = Endpoint::parse(&url)?;
        Url::parse(&url)
            .and_then(|u| u.check_plain_http(PlainHttp::LoopbackOnly))
            .map_err(ConfigError::from_url)?;
        let info = infer_from_host(&endpoint.host);
        let service_flag = args.service.clone().map(|s| (s, "--service")).or_else(|| {
            env.get_nonblank("AWS_SERVICE_NAME")
                .map(|s| (s, "AWS_SERVICE_NAME"))
        });
        let (service, service_source) = match (service_flag, &info.service) {
            (Some(s), _) => s,
            (None, Some(s)) => (s.clone(), "the endpoint host"),
            (None, None) => {
                return Err(ConfigError::new(format!(
                    "cannot tell the AWS service from the host {}",
                    endpoint.host
                ))
                .with_hint("pass its signing name with --service (e.g. --service bedrock-agentcore, --service execute-api, --service lambda)"));
            }
        };
        let env_region = env
            .get_nonblank("AWS_REGION")
            .map(|r| (r, "AWS_REGION"))
            .or_else(|| {
                env.get_nonblank("AWS_DEFAULT_REGION")
                    .map(|r| (r, "AWS_DEFAULT_REGION"))
            });
        let (region, region_source) = if let Some(r) = &args.region {
            (r.clone(), "--region")
        } else if info.global {
            // A global endpoint has no region of its own: SigV4 is scoped to
            // us-east-1 unless --region says otherwise.
            ("us-east-1".to_owned(), "the global endpoint default")
        } else if let Some(r) = &info.region {
            if let Some((other, var)) = env_region.as_ref().filter(|(o, _)| o != r) {
                log::info!(
                    "{var}={other} differs from the endpoint's region {r}; signing for {r} (use --region to override)"
                );
            }
            (r.clone(), "the endpoint host")
        } else if let Some((r, var)) = env_region {
            (r, var)
        } else if let Some(e) = missing_profile(resolver, &resolver.profile_name()) {
            // A profile that does not exist names no region: say that, not
            // that its region is missing.
            return Err(e);
        } else if let Some(r) = resolver
            .load_files()
            .ok()
            .and_then(|f| f.region(&resolver.profile_name()))
        {
            (r, "the profile's region")
        } else {
            return Err(ConfigError::new(format!(
                "cannot tell the AWS region for {}",
                endpoint.host
            ))
            .with_hint(format!(
                "pass --region, set AWS_REGION, or set region in profile '{}'",
                resolver.profile_name()
            )));
        };
        let signing = signing_choice(args, resolver, &info, &region)?;
        let agentcore_runtime =
            service == "bedrock-agentcore" && endpoint.path.starts_with("/runtimes/");
        let (mode, mode_from) = match &args.runtime_session {
            Some(m) => (Some(m.clone()), "--runtime-session"),
            None => (
                env.get_nonblank("RUNTIME_SESSION_MODE"),
                "RUNTIME_SESSION_MODE",
            ),
        };
        let runtime_session = match mode.as_deref().map(str::trim) {
            None if agentcore_runtime => Some(RuntimeSession::Session),
            None => None,
            Some("identity") => Some(RuntimeSession::Identity),
            Some("session") => Some(RuntimeSession::Session),
            Some("request") => Some(RuntimeSession::Request),
            Some(other) => {
                return Err(ConfigError::new(format!(
                    "{mode_from}: expected identity, session or request, found {other:?}"
                )));
            }
        };
        let mut extra_headers = Vec::new();
        if args.headers.is_empty() {
            // The Go proxy's MCP_HEADERS (K=V,K2=V2) when no flag gives headers.
            if let Some(list) = env.get_nonblank("MCP_HEADERS") {
                for h in crate::cli::split_list(&list) {
                    extra_headers.push(parse_header(&h, "MCP_HEADERS")?);
                }
            }
        }
        for h in &args.headers {
            extra_headers.push(parse_header(h, "--header")?);
        }
        let mut metadata = Vec::new();
        for m in &args.metadata {
            let (k, v) = m
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| ConfigError::new(format!("--metadata {m:?}: expected KEY=VALUE")))?;
            metadata.push((k.trim().to_owned(), serde_json::Value::String(v.to_owned())));
        }
        let relay = RelayOptions {
            retries: args.retries.unwrap_or(2),
            max_in_flight: args.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            read_only: args.read_only,
            extra_headers,
            metadata,
            runtime_session,
            limits: limits(args),
            tls: ca_bundle(args, resolver)?,
            profiles: Some(profiles(args, env)?)
                .filter(|names| names.len() > 1)
                .unwrap_or_default(),
        };
        let assume_role = args
            .role_arn
            .clone()
            .or_else(|| env.get_nonblank("AGENTCORE_ASSUME_ROLE_ARN"))
            .map(|role_arn| AssumeRoleOptions {
                role_arn,
                session_name: args
                    .role_session_name
                    .clone()
                    .or_else(|| env.get_nonblank("AGENTCORE_ASSUME_ROLE_SESSION_NAME")),
                external_id: args.external_id.clone(),
            });
        // --role-session-name names every role we assume (profile role
        // chains and web identity too), so it stands without --role-arn.
        if assume_role.is_none() && args.external_id.is_some() {
            return Err(ConfigError::new(
                "--external-id needs --role-arn (or AGENTCORE_ASSUME_ROLE_ARN)",
            ));
        }
        let defaults = Timeouts::default();
        let secs = |v: Option<f64>, d: Duration| v.map(Duration::from_secs_f64).unwrap_or(d);
        Ok(Config {
            timeouts: Timeouts {
                connect: secs(args.connect_timeout, defaults.connect),
                read: secs(args.read_timeout, defaults.read),
                write: secs(args.write_timeout, defaults.write),
                exchange: secs(
                    args.timeout.or(env_seconds(env, "MCP_TIMEOUT")?),
                    defaults.exchange,
                ),
                tool: secs(args.tool_timeout, defaults.tool),
            },
            signing,
            relay,
            assume_role,
            role_session_name: args.role_session_name.clone(),
            endpoint,
            service,
            region,
            region_source,
            service_source,
        })
    }
}

/// The `--max-*` flags over the defaults.
fn limits(args: &Args) -> Limits {
    let d = Limits::default();
    let bytes =
        |v: Option<u64>, d: usize| v.map_or(d, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Limits {
        line: bytes(args.max_line_size, d.line),
        message: bytes(args.max_message_size, d.message),
        event: bytes(args.max_event_size, d.event),
        header: bytes(args.max_header_size, d.header),
        stdout_queue: bytes(args.max_stdout_queue, d.stdout_queue),
    }
}

/// The CA bundle to trust instead of the built-in roots: `--ca-bundle`, else
/// `AWS_CA_BUNDLE`, else the selected profile's `ca_bundle` (as the AWS SDKs
/// read them); none means the built-in roots. Read once here, at start-up, and given to every HTTP
/// client (the MCP endpoint, STS, SSO, containers, IMDS).
///
/// # Errors
/// [`ConfigError`] when the file named cannot be read or holds no certificate.
fn ca_bundle(args: &Args, resolver: &Resolver) -> Result<TlsRoots, ConfigError> {
    let named = args
        .ca_bundle
        .clone()
        .map(|p| (p, "--ca-bundle".to_owned()))
        .or_else(|| {
            resolver
                .env()
                .get_nonblank("AWS_CA_BUNDLE")
                .map(|p| (p, "AWS_CA_BUNDLE".to_owned()))
        })
        .or_else(|| {
            let files = resolver.load_files().ok()?;
            let profile = resolver.profile_name();
            files
                .profile(&profile)?
                .get("ca_bundle")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|p| (p, format!("ca_bundle in profile '{profile}'")))
        });
    let Some((path, from)) = named else {
        return Ok(TlsRoots::builtin());
    };
    let pem = read_bounded(std::path::Path::new(&path), MAX_CA_BUNDLE)
        .map_err(|e| ConfigError::new(format!("cannot read the CA bundle {path} ({from}): {e}")))?
        .ok_or_else(|| {
            ConfigError::new(format!("the CA bundle {path} ({from}) does not exist"))
                .with_hint("point it at a PEM file of your organisation's CA certificates")
        })?;
    let tls = TlsRoots::from_pem(pem.as_bytes())
        .map_err(|e| ConfigError::new(format!("cannot use the CA bundle {path} ({from}): {e}")))?;
    log::debug!(
        "trusting {} certificate(s) from {path} ({from}) instead of the built-in roots",
        tls.bundle_len().unwrap_or(0)
    );
    Ok(tls)
}

/// The largest CA bundle read (4 MiB; the Mozilla set is about 220 KiB).
const MAX_CA_BUNDLE: u64 = 4 << 20;

/// Reads `--sig-version` (else `AWS_SIG_VERSION`, as the Go peer reads it; else
/// `auto`) and `--region-set` (else `AWS_SIGV4A_SIGNING_REGION_SET`, else the
/// profile's `sigv4a_signing_region_set`, as the Rust and JS SDKs read them; else
/// `*` for a global endpoint and the region otherwise).
fn signing_choice(
    args: &Args,
    resolver: &Resolver,
    host: &crate::endpoint::HostInfo,
    region: &str,
) -> Result<SigningChoice, ConfigError> {
    let global = host.global;
    let env = resolver.env();
    let (version, explicit) = match (&args.sig_version, env.get_nonblank("AWS_SIG_VERSION")) {
        (Some(v), _) => (v.to_ascii_lowercase(), true),
        (None, Some(v)) => (v.to_ascii_lowercase(), true),
        (None, None) => ("auto".to_owned(), false),
    };
    let (initial, upgrade) = match version.as_str() {
        "v4" | "sigv4" => (Algorithm::V4, false),
        "v4a" | "sigv4a" => (Algorithm::V4a, false),
        // A host that takes SigV4A only gets it from the first request.
        "auto" if host.sigv4a_only => (Algorithm::V4a, false),
        "auto" => (Algorithm::V4, global || explicit),
        other => {
            return Err(ConfigError::new(format!(
                "--sig-version: expected v4, v4a or auto, found {other:?}"
            )));
        }
    };
    let region_set = args
        .region_set
        .clone()
        .or_else(|| env.get_nonblank("AWS_SIGV4A_SIGNING_REGION_SET"))
        .or_else(|| {
            resolver.load_files().ok().and_then(|f| {
                f.profile(&resolver.profile_name())
                    .and_then(|p| p.get("sigv4a_signing_region_set").cloned())
            })
        })
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            if global {
                "*".to_owned()
            } else {
                region.to_owned()
            }
        });
    Ok(SigningChoice {
        initial,
        upgrade,
        region_set,
        unsigned_fallback: args.skip_auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, render};

    /// The error as `main` prints it: message, causes and hint.
    fn shown(e: ConfigError) -> String {
        render(&Error::from(e))
    }

    fn resolve(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let args = Args::parse(args.iter().map(std::ffi::OsString::from))
            .map_err(|e| ConfigError::new(e.to_string()))?;
        let mut pairs: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.push(("HOME".into(), "/nonexistent-home-for-tests".into()));
        let env = Env::from_pairs(pairs);
        let profile = profiles(&args, &env)?.into_iter().next();
        let resolver = Resolver::new(env, profile);
        Config::resolve(&args, &resolver)
    }

    #[test]
    fn lambda_web_function_endpoints_sign_as_lambda_and_the_global_one_with_sigv4a() {
        for (url, region) in [
            (
                "https://abcd1234.lambda-web.us-west-2.on.aws/mcp",
                "us-west-2",
            ),
            (
                "https://abcd1234.q9x2.lambda-web.ap-south-1.on.aws/mcp",
                "ap-south-1",
            ),
        ] {
            let c = resolve(&[url], &[]).unwrap();
            assert_eq!(
                (c.service.as_str(), c.region.as_str()),
                ("lambda", region),
                "{url}"
            );
            assert_eq!(c.signing.initial, Algorithm::V4, "{url}");
            assert!(!c.signing.upgrade, "{url}");
        }
        let c = resolve(&["https://abcd1234.lambda-web.global.on.aws/mcp"], &[]).unwrap();
        assert_eq!(c.service, "lambda");
        assert_eq!(c.signing.initial, Algorithm::V4a);
        assert_eq!(c.signing.region_set, "*");
        // --sig-version still decides when given.
        let c = resolve(
            &[
                "https://abcd1234.lambda-web.global.on.aws/mcp",
                "--sig-version",
                "v4",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.signing.initial, Algorithm::V4);
    }

    #[test]
    fn runtime_arns_resolve_to_agentcore_with_a_runtime_session() {
        let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/mcp_server-AbCdEfGhIj";
        let c = resolve(&[arn, "--qualifier", "prod"], &[]).unwrap();
        assert_eq!(
            (c.service.as_str(), c.region.as_str()),
            ("bedrock-agentcore", "us-east-1")
        );
        assert_eq!(c.endpoint.query, "qualifier=prod");
        assert_eq!(c.relay.runtime_session, Some(RuntimeSession::Session));
        let c = resolve(&[arn, "--runtime-session", "request"], &[]).unwrap();
        assert_eq!(c.relay.runtime_session, Some(RuntimeSession::Request));
        assert!(
            resolve(
                &[
                    "https://x.example/",
                    "--service",
                    "s",
                    "--region",
                    "r",
                    "--qualifier",
                    "q"
                ],
                &[]
            )
            .is_err()
        );
    }

    #[test]
    fn flags_win_then_host_then_environment() {
        let url = "https://bedrock-agentcore.us-east-1.amazonaws.com/mcp";
        let c = resolve(&[url], &[("AWS_REGION", "eu-west-1")]).unwrap();
        assert_eq!(
            (c.service.as_str(), c.region.as_str()),
            ("bedrock-agentcore", "us-east-1")
        );
        let c = resolve(&[url, "--region", "us-west-2", "--service", "x"], &[]).unwrap();
        assert_eq!((c.service.as_str(), c.region.as_str()), ("x", "us-west-2"));
        let c = resolve(
            &["https://mcp.example.com/", "--service", "execute-api"],
            &[("AWS_DEFAULT_REGION", "ap-south-1")],
        )
        .unwrap();
        assert_eq!(c.region, "ap-south-1");
        let c = resolve(
            &["https://mcp.example.com/", "--service", "s"],
            &[("AWS_REGION", "a-b-1"), ("AWS_DEFAULT_REGION", "c-d-2")],
        )
        .unwrap();
        assert_eq!(c.region, "a-b-1");
    }

    #[test]
    fn signature_version_and_region_set() {
        let c = resolve(&["https://bedrock-agentcore.us-east-1.amazonaws.com/"], &[]).unwrap();
        assert_eq!(
            c.signing,
            SigningChoice {
                initial: Algorithm::V4,
                upgrade: false,
                region_set: "us-east-1".into(),
                unsigned_fallback: false,
            }
        );
        let c = resolve(
            &["https://aws-mcp.global.api.aws/mcp"],
            &[("AWS_REGION", "eu-west-1")],
        )
        .unwrap();
        assert_eq!(
            (c.region.as_str(), c.region_source),
            ("us-east-1", "the global endpoint default")
        );
        assert_eq!(
            c.signing,
            SigningChoice {
                initial: Algorithm::V4,
                upgrade: true,
                region_set: "*".into(),
                unsigned_fallback: false,
            }
        );
        let c = resolve(
            &[
                "https://aws-mcp.api.aws/mcp",
                "--region",
                "eu-west-1",
                "--sig-version",
                "v4",
            ],
            &[],
        )
        .unwrap();
        assert_eq!((c.region.as_str(), c.signing.upgrade), ("eu-west-1", false));
        let c = resolve(
            &[
                "http://127.0.0.1:9/",
                "--service",
                "s",
                "--region",
                "r",
                "--sig-version",
                "AUTO",
            ],
            &[],
        )
        .unwrap();
        assert!(c.signing.upgrade);
        let c = resolve(
            &["http://127.0.0.1:9/", "--service", "s", "--region", "r"],
            &[
                ("AWS_SIG_VERSION", "v4a"),
                ("AWS_SIGV4A_SIGNING_REGION_SET", " us-east-1 , us-west-2 "),
            ],
        )
        .unwrap();
        assert_eq!(
            c.signing,
            SigningChoice {
                initial: Algorithm::V4a,
                upgrade: false,
                region_set: "us-east-1,us-west-2".into(),
                unsigned_fallback: false,
            }
        );
        let c = resolve(
            &[
                "http://127.0.0.1:9/",
                "--service",
                "s",
                "--region",
                "r",
                "--region-set",
                "*",
            ],
            &[("AWS_SIGV4A_SIGNING_REGION_SET", "x")],
        )
        .unwrap();
        assert_eq!(c.signing.region_set, "*");
        let e = resolve(
            &[
                "http://127.0.0.1:9/",
                "--service",
                "s",
                "--region",
                "r",
                "--sig-version",
                "v5",
            ],
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"v5\""), "{e}");
    }

    #[test]
    fn extra_headers_and_metadata_are_checked() {
        let base = ["http://127.0.0.1:9/", "--service", "s", "--region", "r"];
        let with = |extra: &[&str]| {
            let mut a: Vec<&str> = base.to_vec();
            a.extend_from_slice(extra);
            resolve(&a, &[])
        };
        let c = with(&[
            "--header",
            "X-Tenant=acme",
            "--headers",
            "X-A=1,X-B=2",
            "--metadata",
            "team=core",
        ])
        .unwrap();
        assert_eq!(
            c.relay.extra_headers,
            vec![
                ("x-tenant".into(), "acme".into()),
                ("x-a".into(), "1".into()),
                ("x-b".into(), "2".into())
            ]
        );
        assert_eq!(
            c.relay.metadata,
            vec![("team".into(), serde_json::json!("core"))]
        );
        for bad in [
            "Authorization=x",
            "X-Amz-Date=1",
            "Mcp-Session-Id=1",
            "bad name=1",
            "NoEquals",
        ] {
            assert!(with(&["--header", bad]).is_err(), "{bad}");
        }
        assert!(with(&["--metadata", "=v"]).is_err());
        // A refused header's value may be a token: only its name is shown
        // (before, the whole NAME=VALUE text was echoed).
        for bad in [
            "Authorization=Bearer tok-9XK2",
            "X-Api-Key:tok-9XK2",
            "x y=tok-9XK2",
            "tok-9XK2",
        ] {
            let e = with(&["--header", bad]).map_err(shown).unwrap_err();
            assert!(!e.contains("tok-9XK2"), "{bad}: {e}");
        }
        let e = with(&["--header", "X-A:1"]).map_err(shown).unwrap_err();
        assert!(e.contains("hint: write it as --header X-A=VALUE"), "{e}");
        let e = Endpoint::parse("https://user:pw-9XK2@h.example/")
            .map_err(shown)
            .unwrap_err();
        assert!(
            e.contains("user information") && !e.contains("pw-9XK2"),
            "{e}"
        );
        let c = resolve(
            &base,
            &[("AGENTCORE_ASSUME_ROLE_ARN", "arn:aws:iam::1:role/R")],
        )
        .unwrap();
        assert_eq!(c.assume_role.unwrap().role_arn, "arn:aws:iam::1:role/R");
        assert!(with(&["--external-id", "x"]).is_err());
    }

    /// For each peer, a command line (and environment) from its
    /// documentation, and what it resolves to here.
    #[test]
    fn the_peers_command_lines_mean_the_same_here() {
        // mcp-proxy-for-aws 1.7.0 README, "Running from local" (Kiro config).
        let c = resolve(
            &[
                "https://aws-mcp.us-east-1.api.aws/mcp",
                "--service",
                "aws-mcp",
                "--profile",
                "default",
                "--region",
                "us-east-1",
                "--read-only",
                "--log-level",
                "INFO",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            (c.service.as_str(), c.region.as_str(), c.relay.read_only),
            ("aws-mcp", "us-east-1", true)
        );
        assert_eq!(log_level(Some("INFO")).unwrap(), log::LevelFilter::Info);
        assert_eq!(
            log_level(Some("CRITICAL")).unwrap(),
            log::LevelFilter::Error
        );
        // Its multi-account forms: the first profile is the default, and the
        // relay is told every name (each signs in a session of its own).
        let c = resolve(
            &[
                "https://aws-mcp.us-east-1.api.aws/mcp",
                "--profile",
                "prod-readonly",
                "dev",
                "staging",
                "dev",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.relay.profiles, ["prod-readonly", "dev", "staging"]);
        let c = resolve(
            &["https://aws-mcp.us-east-1.api.aws/mcp", "--profile", "x"],
            &[("AWS_MCP_PROXY_PROFILES", "prod-readonly dev,staging")],
        )
        .unwrap();
        assert_eq!(
            c.relay.profiles,
            ["prod-readonly", "dev", "staging"],
            "AWS_MCP_PROXY_PROFILES wins over --profile"
        );
        // One profile changes nothing: the relay runs as it always did.
        let c = resolve(
            &["https://aws-mcp.us-east-1.api.aws/mcp", "--profile", "x"],
            &[],
        )
        .unwrap();
        assert!(c.relay.profiles.is_empty());
        let many: Vec<String> = (0..=MAX_PROFILES).map(|i| format!("p{i}")).collect();
        let e = resolve(
            &["https://aws-mcp.us-east-1.api.aws/mcp"],
            &[("AWS_MCP_PROXY_PROFILES", &many.join(","))],
        )
        .map_err(shown)
        .unwrap_err();
        assert!(
            e.contains("AWS_MCP_PROXY_PROFILES names 33 profiles: at most 32"),
            "{e}"
        );
        // The Go mcp-sigv4-proxy's documented environment, no arguments.
        let c = resolve(
            &[],
            &[
                (
                    "MCP_TARGET_URL",
                    "https://abc123.execute-api.us-east-1.amazonaws.com",
                ),
                ("AWS_REGION", "us-east-1"),
                ("AWS_SERVICE_NAME", "execute-api"),
                ("MCP_HEADERS", "X-Team=search,X-Env=dev"),
                ("MCP_TIMEOUT", "30s"),
                ("MCP_ENABLE_SSE", "true"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.endpoint.url(),
            "https://abc123.execute-api.us-east-1.amazonaws.com/"
        );
        assert_eq!(
            (c.service.as_str(), c.region.as_str()),
            ("execute-api", "us-east-1")
        );
        assert_eq!(
            c.relay.extra_headers,
            vec![
                ("x-team".into(), "search".into()),
                ("x-env".into(), "dev".into())
            ]
        );
        assert_eq!(c.timeouts.exchange, Duration::from_secs(30));
        // Its flags, Go style.
        let c = resolve(
            &[
                "-target-url",
                "https://abc123.execute-api.us-east-1.amazonaws.com/prod/mcp",
                "-service-name",
                "execute-api",
                "-region",
                "us-east-1",
                "-sig-version",
                "v4",
                "-timeout",
                "1m",
                "-headers",
                "X-A=1",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.endpoint.path, "/prod/mcp");
        assert_eq!(c.timeouts.exchange, Duration::from_secs(60));
        assert_eq!(c.signing.initial, Algorithm::V4);
        // Errors about a variable name the variable.
        let e = resolve(
            &[],
            &[
                ("MCP_TARGET_URL", "https://h.example/"),
                ("AWS_SERVICE_NAME", "s"),
                ("AWS_REGION", "r"),
                ("MCP_TIMEOUT", "soon"),
            ],
        )
        .map_err(shown)
        .unwrap_err();
        assert!(e.contains("MCP_TIMEOUT: expected"), "{e}");
        let e = resolve(
            &[],
            &[
                ("MCP_TARGET_URL", "https://h.example/"),
                ("AWS_SERVICE_NAME", "s"),
                ("AWS_REGION", "r"),
                ("MCP_HEADERS", "Authorization=x"),
            ],
        )
        .map_err(shown)
        .unwrap_err();
        assert!(
            e.starts_with(
                "mcp-sigv4: MCP_HEADERS \"Authorization\": this header is set by mcp-sigv4 itself"
            ),
            "{e}"
        );
        // The AgentCore scripts: the agent ARN and their variables.
        let arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_agent-AbC123";
        for var in ["AGENTCORE_AGENT_ARN", "AGENT_ARN"] {
            let c = resolve(
                &[],
                &[
                    (var, arn),
                    ("RUNTIME_SESSION_MODE", "request"),
                    (
                        "AGENTCORE_ASSUME_ROLE_ARN",
                        "arn:aws:iam::123456789012:role/Caller",
                    ),
                    ("AGENTCORE_ASSUME_ROLE_SESSION_NAME", "agent-42"),
                ],
            )
            .unwrap();
            assert_eq!(
                (c.service.as_str(), c.region.as_str()),
                ("bedrock-agentcore", "us-west-2"),
                "{var}"
            );
            assert!(
                c.endpoint
                    .path
                    .starts_with("/runtimes/arn%3Aaws%3Abedrock-agentcore"),
                "{var}"
            );
            assert_eq!(c.relay.runtime_session, Some(RuntimeSession::Request));
            let role = c.assume_role.unwrap();
            assert_eq!(
                (role.role_arn.as_str(), role.session_name.as_deref()),
                ("arn:aws:iam::123456789012:role/Caller", Some("agent-42"))
            );
        }
        let e = resolve(
            &[],
            &[("AGENT_ARN", arn), ("RUNTIME_SESSION_MODE", "sticky")],
        )
        .map_err(shown)
        .unwrap_err();
        assert!(e.contains("RUNTIME_SESSION_MODE: expected identity"), "{e}");
        // The older AWS proxy's --allow-write is our default; with --read-only
        // it is a contradiction.
        let url = "https://aws-mcp.us-east-1.api.aws/mcp";
        assert!(
            !resolve(&[url, "--allow-write"], &[])
                .unwrap()
                .relay
                .read_only
        );
        assert!(resolve(&[url, "--allow-write", "--read-only"], &[]).is_err());
        // --disable-telemetry and --sse are accepted and change nothing;
        // --skip-auth allows unsigned requests when no credentials are found.
        assert!(resolve(&[url, "--disable-telemetry", "--sse"], &[]).is_ok());
        let c = resolve(&[url, "--skip-auth"], &[]).unwrap();
        assert!(c.signing.unsigned_fallback);
        assert!(!resolve(&[url], &[]).unwrap().signing.unsigned_fallback);
    }

    #[test]
    fn private_link_and_fips_hosts_need_no_service_flag() {
        // Before: the vpce host was refused ("cannot tell the AWS service")
        // and the FIPS host was signed as `bedrock-agentcore-fips`.
        for (url, region) in [
            (
                "https://vpce-0123abcd-4567efgh.bedrock-agentcore.us-east-1.vpce.amazonaws.com/runtimes/x/invocations",
                "us-east-1",
            ),
            (
                "https://vpce-0123abcd-4567efgh-us-east-1a.bedrock-agentcore.us-east-1.vpce.amazonaws.com/mcp",
                "us-east-1",
            ),
            (
                "https://bedrock-agentcore-fips.us-gov-west-1.amazonaws.com/mcp",
                "us-gov-west-1",
            ),
        ] {
            let c = resolve(&[url], &[]).unwrap();
            assert_eq!(
                (c.service.as_str(), c.region.as_str()),
                ("bedrock-agentcore", region),
                "{url}"
            );
        }
    }

    #[test]
    fn limits_default_and_follow_their_flags() {
        let url = "https://bedrock-agentcore.us-east-1.amazonaws.com/x";
        let c = resolve(&[url], &[]).unwrap();
        assert_eq!(c.relay.limits, Limits::default());
        assert_eq!(c.relay.limits.message, 64 << 20);
        assert_eq!(c.relay.limits.header, 64 << 10);
        let c = resolve(
            &[
                url,
                "--max-line-size",
                "1MiB",
                "--max-message-size",
                "2MiB",
                "--max-event-size",
                "3MiB",
                "--max-header-size",
                "8KiB",
                "--max-stdout-queue",
                "4MiB",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.relay.limits,
            Limits {
                line: 1 << 20,
                message: 2 << 20,
                event: 3 << 20,
                header: 8 << 10,
                stdout_queue: 4 << 20,
            }
        );
    }

    #[test]
    fn unreadable_host_asks_for_service_and_names_the_host() {
        let e = resolve(
            &["https://mcp.example.com/"],
            &[("AWS_REGION", "us-east-1")],
        )
        .map_err(shown)
        .unwrap_err();
        assert!(
            e.contains("--service") && e.contains("mcp.example.com"),
            "{e}"
        );
        let e = resolve(&["https://mcp.example.com/", "--service", "s"], &[])
            .map_err(shown)
            .unwrap_err();
        assert!(e.contains("--region"), "{e}");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(
            resolve(
                &["http://127.0.0.1:9/", "--service", "s", "--region", "r"],
                &[]
            )
            .is_ok()
        );
        assert!(
            resolve(
                &["http://localhost:9/", "--service", "s", "--region", "r"],
                &[]
            )
            .is_ok()
        );
        assert!(resolve(&["http://[::1]:9/", "--service", "s", "--region", "r"], &[]).is_ok());
        let e = resolve(
            &["http://10.1.2.3/", "--service", "s", "--region", "r"],
            &[],
        )
        .map_err(shown)
        .unwrap_err();
        assert!(e.contains("refusing plain http://"), "{e}");
        // A name is never resolved to decide (DNS rebinding): `vm` maps to
        // 127.0.0.1 in this machine's /etc/hosts and was accepted before.
        let e = resolve(&["http://vm:9/", "--service", "s", "--region", "r"], &[])
            .map_err(shown)
            .unwrap_err();
        assert!(e.contains("refusing plain http:// to vm"), "{e}");
    }
}
