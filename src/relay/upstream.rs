//! The upstream side: the MCP endpoint, and one MCP session with it.
//!
//! Owns: [`Remote`], the endpoint and its connections, which every upstream
//! session shares; and [`Upstream`], one session with the server and the
//! credentials it is signed with — one per AWS profile when there are several
//! (`profiles.rs`). An `Upstream` builds, signs and sends one request with the
//! two retries authentication calls for ([`Upstream::send`]), records the
//! session id answers carry, and ends the session with a signed DELETE.
//! Refuses: deciding what to send, or whether to send it again: that is the
//! exchange's (`exchange.rs`, `retry_policy.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::session::Session;
use crate::auth::{AuthError, RequestAuth};
use crate::aws::error::AwsError;
use crate::config::{Endpoint, RelayOptions, RuntimeSession, Timeouts};
use crate::credential_types::Credentials;
use crate::http::{self, ClientSettings, HttpError, Method, RequestTimeouts, Response};
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::sigv4::Algorithm;
use crate::sync::{Locked, wait_while};

/// The most bytes of an HTTP error body read for its message (64 KiB).
pub(crate) const MAX_ERROR_BODY: usize = 64 << 10;

/// The AgentCore runtime-session header.
pub(crate) const RUNTIME_SESSION_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

/// Connections kept open between exchanges (each idle at most 15 s): as many
/// as 32 concurrent calls find one waiting.
pub(crate) const KEPT_CONNECTIONS: usize = 32;

/// How long the session DELETE at shutdown may take (less after a signal).
pub(crate) const DELETE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a request got no HTTP answer.
#[derive(Debug)]
pub(crate) enum SendError {
    Auth(AuthError),
    Http(HttpError),
    /// A value the request would carry in a header has a control character
    /// (no HTTP field value may: RFC 9110 §5.5), so it was not sent: what
    /// the value is and where it came from, and whether it is a credential's.
    Unsendable {
        what: String,
        credentials: bool,
    },
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Auth(a) => a.fmt(f),
            SendError::Http(h) => h.fmt(f),
            SendError::Unsendable { what, .. } => write!(
                f,
                "{what} has a control character, which no HTTP header may carry, so the request was not sent"
            ),
        }
    }
}

/// True when `value` cannot be an HTTP field value: a control character
/// other than a tab (RFC 9110 §5.5, `field-vchar`, `obs-text`).
fn unsendable(value: &str) -> bool {
    value.chars().any(|c| c.is_ascii_control() && c != '\t')
}

/// The headers of a signed request checked for values no HTTP header may
/// carry, each named by where it came from.
fn check_headers(
    headers: &[(&str, &str)],
    credentials: Option<&Credentials>,
    extra_names: &[String],
) -> Result<(), SendError> {
    for (name, value) in headers {
        if !unsendable(value) {
            continue;
        }
        let from = |what: &str| {
            credentials.map_or_else(
                || what.to_owned(),
                |c| format!("{what} from {}", c.source()),
            )
        };
        let (what, credentials_value) = match *name {
            "x-amz-security-token" => (from("the session token"), true),
            "authorization" if credentials.is_some_and(|c| unsendable(c.access_key_id())) => {
                (from("the access key id"), true)
            }
            "authorization" | "x-amz-region-set" => (
                "the region or the service name (--region, --service, or the endpoint's host)"
                    .to_owned(),
                false,
            ),
            "mcp-protocol-version" => ("the protocol version".to_owned(), false),
            n if extra_names.iter().any(|e| e.eq_ignore_ascii_case(n)) => {
                (format!("the value of --header {n}"), false)
            }
            n => (format!("the value of the {n} header"), false),
        };
        return Err(SendError::Unsendable {
            what,
            credentials: credentials_value,
        });
    }
    Ok(())
}

/// The wrapped error is shown as it is (its text is this one's), so it is not
/// a `source()`.
impl std::error::Error for SendError {}

/// An HTTP answer, with a note on what the authentication retries saw.
pub(crate) struct HttpAnswer {
    pub(crate) response: Response,
    pub(crate) note: Option<String>,
    /// The session generation current when the request went out.
    pub(crate) generation: u64,
    /// True when the request carried an `Mcp-Session-Id`.
    pub(crate) carried_session: bool,
    /// The secret values the request carried, to take out of what the
    /// server says back before it is quoted.
    pub(crate) secrets: Redactor,
}

/// One signed attempt's answer and what it was sent with.
struct Attempt {
    response: Response,
    /// `None` when sent unsigned (`--skip-auth` without credentials).
    credentials: Option<Arc<Credentials>>,
    generation: u64,
    carried_session: bool,
    secrets: Redactor,
}

impl Attempt {
    fn sent(self, note: Option<String>) -> HttpAnswer {
        HttpAnswer {
            response: self.response,
            note,
            generation: self.generation,
            carried_session: self.carried_session,
            secrets: self.secrets,
        }
    }
}

/// Reads an error answer's body (at most [`MAX_ERROR_BODY`] bytes) and puts it
/// back as the response body, so it can still be read; a 2xx answer is left
/// alone. The error type, message and request id have every secret value of
/// the request (`secrets`) taken out, so no error or log that quotes them
/// repeats one; the body is as read.
pub(crate) fn peek_error(response: &mut Response, secrets: &Redactor) -> AwsError {
    if (200..300).contains(&response.status) {
        return AwsError::default();
    }
    let body = response.read_body(MAX_ERROR_BODY).unwrap_or_default();
    response.body = Box::new(std::io::Cursor::new(body.clone()));
    let mut error = AwsError::parse(&response.headers, body);
    error.error_type = secrets.redact_opt(error.error_type);
    error.message = secrets.redact_opt(error.message);
    error.request_id = secrets.redact_opt(error.request_id);
    error
}

/// What a request carries besides the common headers.
#[derive(Clone, Debug, Default)]
pub(crate) struct SendOptions {
    /// Send the session id and negotiated protocol version.
    pub(crate) with_session: bool,
    /// Headers for this request only (2026-07-28 routing, `Last-Event-ID`).
    pub(crate) headers: Vec<(String, String)>,
    /// `MCP-Protocol-Version` for this request (a 2026-07-28 request's own
    /// revision), instead of the negotiated one.
    pub(crate) protocol_version: Option<String>,
    /// A connection of its own ([`Remote::own_connection`]) instead of the
    /// shared pool.
    pub(crate) client: Option<http::Client>,
    /// With `with_session`: this session id instead of the current one (the
    /// `notifications/initialized` of a session not yet made current).
    pub(crate) session_id: Option<Secret>,
}

/// The MCP endpoint and the connections to it: the same for every upstream
/// session. Holds the URL, the HTTP client with its connection pool, the
/// connections exchanges hold alone and those kept for the next exchange, the
/// headers every request carries (`--header`s, the AgentCore runtime-session
/// mode), and whether the endpoint offers a GET stream.
pub(crate) struct Remote {
    endpoint: Endpoint,
    url: String,
    client: http::Client,
    /// The connections exchanges hold alone, and the ones kept for the next.
    leases: http::Leases,
    extra_headers: Vec<(String, String)>,
    runtime_session: Option<RuntimeSession>,
    /// The endpoint answered a GET stream with 405: it has none.
    no_get_stream: AtomicBool,
    /// A GET stream was refused with another 4xx (warned about once).
    get_refused: AtomicBool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("host", &self.endpoint.host)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// The endpoint, with a connection pool.
    pub(crate) fn new(endpoint: Endpoint, timeouts: &Timeouts, options: &RelayOptions) -> Remote {
        let client = http::Client::new(
            ClientSettings {
                connect: timeouts.connect,
                write: timeouts.write,
                // No bound on a whole body: an SSE stream may carry any number
                // of messages. The relay bounds each one as it reads it
                // (`--max-message-size`, `--max-event-size`; error bodies:
                // MAX_ERROR_BODY).
                max_body: u64::MAX,
                max_header: options.limits.header,
                env_proxy: true,
            },
            &options.tls,
        );
        Remote {
            url: endpoint.url(),
            endpoint,
            leases: http::Leases::new(&client, KEPT_CONNECTIONS),
            client,
            extra_headers: options.extra_headers.clone(),
            runtime_session: options.runtime_session,
            no_get_stream: AtomicBool::new(false),
            get_refused: AtomicBool::new(false),
        }
    }

    /// True once the endpoint said it offers no GET stream (405).
    pub(crate) fn offers_no_get_stream(&self) -> bool {
        self.no_get_stream.load(Ordering::Acquire)
    }

    /// Records that the endpoint offers no GET stream.
    pub(crate) fn set_no_get_stream(&self) {
        self.no_get_stream.store(true, Ordering::Release);
    }

    /// True the first time a GET stream is refused with a 4xx other than 405
    /// and 404.
    pub(crate) fn first_get_refusal(&self) -> bool {
        !self.get_refused.swap(true, Ordering::AcqRel)
    }

    /// The endpoint's host, for messages.
    pub(crate) fn host(&self) -> &str {
        &self.endpoint.host
    }

    /// A connection of its own for an exchange, which may have to be cut off
    /// alone (closing it leaves every other exchange's connection open): one
    /// an exchange before handed back, else a new one
    /// ([`http::Leases`]).
    /// Handed back when the lease is dropped: it serves the next exchange,
    /// unless it was closed (a cancelled or timed-out exchange's).
    pub(crate) fn own_connection(&self) -> http::Lease<'_> {
        self.leases.take()
    }

    /// Whether the endpoint answers at all: an unsigned `GET` of its URL
    /// within `limit`; any HTTP status counts (an IAM-protected endpoint
    /// refuses it). `Err` says why no answer came.
    pub(crate) fn probe(&self, limit: Duration) -> Result<u16, String> {
        let timeouts = RequestTimeouts {
            response: limit,
            per_read: Some(limit),
            total: Some(limit),
        };
        self.client
            .send(Method::Get, &self.url, &[], &[], timeouts)
            .map(|answer| answer.status)
            .map_err(|e| format!("{} did not answer: {e}", self.endpoint.host))
    }

    /// Closes every connection of the shared pool and the ones kept for
    /// exchanges (at exit).
    pub(crate) fn shutdown(&self) {
        self.client.shutdown();
        self.leases.shutdown();
    }
}

/// One MCP session with the server, and the credentials it is signed with:
/// its signer ([`RequestAuth`]), its [`Session`] (`Mcp-Session-Id`,
/// generation, negotiated version), its runtime-session id, one new session
/// at a time, and which generation's GET stream runs.
pub(crate) struct Upstream {
    link: Arc<Remote>,
    auth: Arc<RequestAuth>,
    /// Which profile's session this is: 0 for the default (the only one with
    /// one profile), else its place in `--profile`'s list.
    index: usize,
    /// The profile's name, with several profiles (for the log).
    profile: Option<String>,
    session: Session,
    /// The runtime-session id for `session` and `identity` modes; with
    /// `identity`, when it was not given, set on the first request from the
    /// caller's ARN (an STS call on that exchange's thread, never stdin's or
    /// the one that waits for signals).
    runtime_session: OnceLock<String>,
    /// One new session at a time.
    reopening: Mutex<()>,
    /// The session generation whose GET stream is running, if any, and
    /// whether its first GET was answered (or failed).
    listening: Mutex<(Option<u64>, bool)>,
    /// Signalled when the first GET of a session was answered.
    listen_answered: Condvar,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("link", &self.link)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// A session with the server at `link`, not yet opened, signed with `auth`;
    /// `runtime_session` is its runtime-session id (`None`: derived when the
    /// first request needs it).
    pub(crate) fn new(
        link: Arc<Remote>,
        auth: Arc<RequestAuth>,
        runtime_session: Option<String>,
    ) -> Self {
        Upstream {
            link,
            auth,
            index: 0,
            profile: None,
            session: Session::new(),
            runtime_session: runtime_session.map_or_else(OnceLock::new, OnceLock::from),
            reopening: Mutex::new(()),
            listening: Mutex::new((None, false)),
            listen_answered: Condvar::new(),
        }
    }

    /// This session as profile `index`'s (0: the default), named `name`
    /// (with several profiles).
    pub(crate) fn with_profile(mut self, index: usize, name: &str) -> Self {
        self.index = index;
        self.profile = Some(name.to_owned());
        self
    }

    /// Which profile's session this is: 0 for the default.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// ` (profile 'NAME')` with several profiles, else nothing: for the log.
    pub(crate) fn of_profile(&self) -> String {
        self.profile
            .as_ref()
            .map(|p| format!(" (profile '{p}')"))
            .unwrap_or_default()
    }

    /// The endpoint.
    pub(crate) fn link(&self) -> &Remote {
        &self.link
    }

    /// The endpoint's host, for messages.
    pub(crate) fn host(&self) -> &str {
        self.link.host()
    }

    /// The signing scope and credentials (for hints in errors).
    pub(crate) fn auth(&self) -> &RequestAuth {
        &self.auth
    }

    /// The session id, its generation and the negotiated version.
    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    /// Held while a new session is opened, so that only one is.
    pub(crate) fn reopening(&self) -> MutexGuard<'_, ()> {
        self.reopening.locked()
    }

    /// Records that the GET stream of session `generation` runs; false when
    /// it runs already.
    pub(crate) fn claim_listen(&self, generation: u64) -> bool {
        let mut listening = self.listening.locked();
        if listening.0 == Some(generation) {
            return false;
        }
        *listening = (Some(generation), false);
        true
    }

    /// Records that the first GET of session `generation`'s stream was
    /// answered, or failed, or will not be sent: requests may go.
    pub(crate) fn listen_answered(&self, generation: u64) {
        let mut listening = self.listening.locked();
        if listening.0 == Some(generation) {
            listening.1 = true;
        }
        drop(listening);
        self.listen_answered.notify_all();
    }

    /// Waits (at most `limit`) until the GET stream of the current session,
    /// if one was started, has its first answer: a server sends messages
    /// that relate to no request on that stream only, and drops them while
    /// it has none, so a request that can make it talk goes after it.
    pub(crate) fn wait_listen(&self, limit: Duration) {
        let generation = self.session.generation();
        let mut waited = wait_while(&self.listen_answered, self.listening.locked(), limit, |l| {
            l.0 == Some(generation) && !l.1
        });
        if waited.0 == Some(generation) && !waited.1 {
            // A server that holds its GET answer back: no later request
            // waits for it again.
            waited.1 = true;
            log::debug!(
                "the GET stream had no answer within {} s; sending anyway",
                limit.as_secs_f64()
            );
        }
    }

    /// Builds, signs and sends one request, with the authentication retries:
    /// credentials the service says expired are resolved again, and a refused
    /// SigV4 signature is tried once more as SigV4A when that switch is
    /// allowed (a 403 means the request was not processed, so neither repeats
    /// a side effect). Records the session id the answer carries.
    pub(crate) fn send(
        &self,
        method: Method,
        body: &[u8],
        extra: &SendOptions,
        timeouts: RequestTimeouts,
    ) -> Result<HttpAnswer, SendError> {
        let algorithm = self.auth.algorithm();
        let mut first = self.attempt(algorithm, method, body, extra, timeouts)?;
        let mut error = peek_error(&mut first.response, &first.secrets);
        if let (true, Some(used)) = (error.expired_credentials(), first.credentials.clone()) {
            log::info!(
                "{} says the credentials from {} expired; resolving them again",
                self.host(),
                used.source()
            );
            self.auth.provider().invalidate(&used);
            first = self.attempt(algorithm, method, body, extra, timeouts)?;
            error = peek_error(&mut first.response, &first.secrets);
        }
        if !(first.response.status == 403
            && error.signature_refused()
            && self.auth.may_upgrade(algorithm))
        {
            return Ok(first.sent(None));
        }
        log::debug!(
            "{} refused the SigV4 signature (HTTP 403 {}); sending again signed SigV4A",
            self.host(),
            error.error_type.as_deref().unwrap_or("")
        );
        match self.attempt(Algorithm::V4a, method, body, extra, timeouts) {
            Ok(mut second) if matches!(second.response.status, 401 | 403) => {
                let second_error = peek_error(&mut second.response, &second.secrets);
                let note = format!(
                    "SigV4 was refused with HTTP 403, and SigV4A (region set {}) with HTTP {}{}",
                    self.auth.region_set(),
                    second.response.status,
                    second_error
                        .error_type
                        .map(|t| format!(" {t}"))
                        .unwrap_or_default()
                );
                Ok(first.sent(Some(note)))
            }
            Ok(second) => {
                if self.auth.confirm_upgrade() {
                    log::info!(
                        "{} refused SigV4 and accepted SigV4A: signing every further request with SigV4A (region set {})",
                        self.host(),
                        self.auth.region_set()
                    );
                }
                Ok(second.sent(None))
            }
            Err(e) => Ok(first.sent(Some(format!(
                "SigV4 was refused with HTTP 403, and sending again with SigV4A failed: {e}"
            )))),
        }
    }

    /// One signed attempt.
    fn attempt(
        &self,
        algorithm: Algorithm,
        method: Method,
        body: &[u8],
        extra: &SendOptions,
        timeouts: RequestTimeouts,
    ) -> Result<Attempt, SendError> {
        let link = &self.link;
        let host = link.endpoint.authority();
        let (current_id, generation) = self.session.current();
        let session_id = if !extra.with_session {
            None
        } else if extra.session_id.is_some() {
            extra.session_id.clone()
        } else {
            current_id
        };
        let version = extra.protocol_version.clone().or_else(|| {
            if extra.with_session {
                self.session.protocol_version()
            } else {
                None
            }
        });
        let runtime_session = self.runtime_session_id();
        let mut headers: Vec<(&str, &str)> = vec![("host", &host)];
        match method {
            Method::Post => {
                headers.push(("accept", "application/json, text/event-stream"));
                headers.push(("content-type", "application/json"));
            }
            Method::Get => headers.push(("accept", "text/event-stream")),
            Method::Delete | Method::Put => {}
        }
        if let Some(id) = &session_id {
            headers.push(("mcp-session-id", id.expose()));
        }
        if let Some(v) = &version {
            headers.push(("mcp-protocol-version", v));
        }
        if let Some(r) = &runtime_session {
            headers.push((RUNTIME_SESSION_HEADER, r));
        }
        for (n, v) in &extra.headers {
            headers.push((n, v));
        }
        for (n, v) in &link.extra_headers {
            headers.push((n, v));
        }
        let signed = self
            .auth
            .sign(
                algorithm,
                method.as_str(),
                &link.endpoint.path,
                &link.endpoint.query,
                &headers,
                body,
            )
            .map_err(SendError::Auth)?;
        headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.expose())));
        let extra_names: Vec<String> = link.extra_headers.iter().map(|(n, _)| n.clone()).collect();
        check_headers(&headers, signed.credentials.as_deref(), &extra_names)?;
        let secrets = Redactor::of_headers(headers.iter().copied());
        let client = extra.client.as_ref().unwrap_or(&link.client);
        let response = client
            .send(method, &link.url, &headers, body, timeouts)
            .map_err(SendError::Http)?;
        Ok(Attempt {
            response,
            credentials: signed.credentials,
            generation,
            carried_session: session_id.is_some(),
            secrets,
        })
    }

    /// The `X-Amzn-Bedrock-AgentCore-Runtime-Session-Id` for the next request.
    fn runtime_session_id(&self) -> Option<String> {
        match self.link.runtime_session? {
            RuntimeSession::Request => Some(crate::random::random_id()),
            RuntimeSession::Session => Some(
                self.runtime_session
                    .get_or_init(crate::random::random_id)
                    .clone(),
            ),
            RuntimeSession::Identity => Some(
                self.runtime_session
                    .get_or_init(|| self.identity_session_id())
                    .clone(),
            ),
        }
    }

    /// `--runtime-session identity`: the SHA-256 of the caller's ARN, or a
    /// random id for this process when it cannot be had (logged).
    fn identity_session_id(&self) -> String {
        self.auth.identity_session_id().unwrap_or_else(|e| {
            log::warn!(
                "--runtime-session identity{}: {e}; using a random id for this process",
                self.of_profile()
            );
            crate::random::random_id()
        })
    }

    /// Stores the `Mcp-Session-Id` of a successful response that carries one,
    /// unless a new session replaced the one the request was sent in.
    pub(crate) fn capture_session(&self, sent: &HttpAnswer) {
        let response = &sent.response;
        if !(200..300).contains(&response.status) {
            return;
        }
        if let Some(id) = response.header("mcp-session-id")
            && self.session.set_id(id, sent.generation)
        {
            log::info!(
                "MCP session established ({} character id){}",
                id.len(),
                self.of_profile()
            );
        }
    }

    /// Ends the session with a signed DELETE, if there is one, waiting at
    /// most `limit` for the answer.
    pub(crate) fn delete_session(&self, limit: Duration) {
        if self.session.id().is_none() {
            return;
        }
        let timeouts = RequestTimeouts {
            response: limit,
            per_read: Some(limit),
            total: Some(limit),
        };
        let extra = SendOptions {
            with_session: true,
            ..Default::default()
        };
        let of = self.of_profile();
        match self.send(Method::Delete, b"", &extra, timeouts) {
            Ok(s) if (200..300).contains(&s.response.status) => {
                log::info!("MCP session ended (HTTP {}){of}", s.response.status)
            }
            Ok(s) if s.response.status == 405 => {
                log::info!("the server does not let clients end sessions (HTTP 405){of}")
            }
            Ok(s) if s.response.status == 404 => {
                log::info!("the MCP session had already ended{of}")
            }
            Ok(s) => log::warn!("ending the MCP session{of}: HTTP {}", s.response.status),
            Err(e) => log::warn!("ending the MCP session{of} failed: {e}"),
        }
    }
}
