//! The only module that talks to `ureq`, and so to rustls for TLS
//! (`sigv4/v4a.rs` also uses rustls, for its ring signer, not for TLS).
//!
//! Owns: connection-pooling HTTP clients ([`Client`]: TLS, no redirects, status
//! codes never errors, explicit timeouts and body limits); [`Leases`] of clients
//! an exchange holds alone and hands back with its connection open; sending one
//! request with exactly the headers given; and describing failures without
//! secrets. The relay (the MCP endpoint) and the credential sources (STS, SSO,
//! IMDS, container endpoints) send through it, the sources through the
//! `Transport` seam.
//! Refuses: adding headers of its own beyond `user-agent` and `content-length`
//! (both unsigned), header values with a line break or control character, and
//! logging header values outside the allow-list.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use p256::elliptic_curve::zeroize::Zeroize;

use crate::secret::loggable_headers;
use crate::sync::{Locked, wait_once};
use crate::text::{MAX_SERVER_TEXT, clean};

/// Per-request timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTimeouts {
    /// Longest wait for the response head.
    pub response: Duration,
    /// Longest silence between body reads.
    pub per_read: Option<Duration>,
    /// Longest time for the whole exchange, body included.
    pub total: Option<Duration>,
}

/// An HTTP method the relay uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Every JSON-RPC message.
    Post,
    /// The optional stream for server-initiated messages, and resumption.
    Get,
    /// Ending the session.
    Delete,
    /// The IMDSv2 token.
    Put,
}

impl Method {
    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Get => "GET",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
        }
    }
}

/// A response: status, headers (names lower-case) and the body as a reader
/// bounded to the limit given when sending.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Box<dyn Read + Send>,
}

impl Response {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The media type of `content-type`, lower-case, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// Reads the body into memory, up to `max` bytes (an error past that).
    ///
    /// # Errors
    /// [`HttpError`] when reading fails or the body is longer than `max`.
    pub fn read_body(&mut self, max: usize) -> Result<Vec<u8>, HttpError> {
        let mut buf = Vec::new();
        let mut limited = (&mut self.body).take(max as u64 + 1);
        limited
            .read_to_end(&mut buf)
            .map_err(|e| HttpError::from_io(&e))?;
        if buf.len() > max {
            buf.zeroize();
            return Err(HttpError::too_large(max));
        }
        Ok(buf)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field(
                "headers",
                &loggable_headers(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            )
            .finish_non_exhaustive()
    }
}

/// What kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// DNS, TCP or TLS setup failed: nothing was sent.
    Connect,
    /// A timeout fired.
    Timeout,
    /// The connection failed after the request may have been sent.
    Io,
    /// A body was larger than allowed.
    TooLarge,
    /// Anything else (bad URL, protocol violation).
    Other,
}

/// A failed HTTP exchange (no status was received).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The kind.
    pub kind: ErrorKind,
    /// What happened, for the user.
    pub detail: String,
}

impl HttpError {
    /// True when the request cannot have reached the server (safe to retry any method).
    pub fn before_send(&self) -> bool {
        self.kind == ErrorKind::Connect
    }

    /// A body longer than `max` bytes.
    pub(crate) fn too_large(max: usize) -> Self {
        HttpError {
            kind: ErrorKind::TooLarge,
            detail: format!("the response body is larger than {max} bytes"),
        }
    }

    fn from_io(e: &std::io::Error) -> Self {
        // ureq's own timeouts come wrapped in an I/O error of another kind.
        let kind = if is_timeout(e) {
            ErrorKind::Timeout
        } else {
            ErrorKind::Io
        };
        HttpError {
            kind,
            detail: clean(&e.to_string(), MAX_SERVER_TEXT),
        }
    }

    /// Texts from ureq, rustls and the OS may quote what the server sent (a
    /// malformed status line, a header): they pass through the sanitiser.
    fn from_ureq(e: ureq::Error) -> Self {
        use ureq::Error as E;
        let (kind, detail) = match e {
            E::Timeout(t @ (ureq::Timeout::Resolve | ureq::Timeout::Connect)) => {
                (ErrorKind::Connect, format!("timed out connecting ({t})"))
            }
            E::Timeout(t) => (ErrorKind::Timeout, format!("timed out ({t})")),
            E::HostNotFound => (
                ErrorKind::Connect,
                "the host name could not be resolved".into(),
            ),
            E::ConnectionFailed => (
                ErrorKind::Connect,
                "the connection could not be made".into(),
            ),
            E::Tls(why) => (ErrorKind::Connect, tls_failed(&clean(why, MAX_SERVER_TEXT))),
            E::Rustls(why) => (
                ErrorKind::Connect,
                tls_failed(&clean(&why.to_string(), MAX_SERVER_TEXT)),
            ),
            E::Io(io) => {
                let kind = match io.kind() {
                    std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NotFound => ErrorKind::Connect,
                    std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
                    _ => ErrorKind::Io,
                };
                let text = clean(&io.to_string(), MAX_SERVER_TEXT);
                if text.contains("invalid peer certificate") {
                    (ErrorKind::Connect, tls_failed(&text))
                } else {
                    (kind, text)
                }
            }
            E::LargeResponseHeader(_, max) => (
                ErrorKind::TooLarge,
                format!("response headers larger than {max} bytes"),
            ),
            E::BodyExceedsLimit(n) => (
                ErrorKind::TooLarge,
                format!("a body is larger than {n} bytes"),
            ),
            other => (ErrorKind::Other, clean(&other.to_string(), MAX_SERVER_TEXT)),
        };
        HttpError { kind, detail }
    }
}

/// A TLS failure, with the fix for a certificate this machine does not trust
/// (the usual cause: a corporate proxy that inspects TLS with its own CA).
fn tls_failed(why: &str) -> String {
    let untrusted = [
        "UnknownIssuer",
        "unknown issuer",
        "UnknownCA",
        "BadSignature",
    ]
    .iter()
    .any(|m| why.contains(m));
    if untrusted {
        format!(
            "TLS failed: {why}: the server's certificate is not signed by a CA this program trusts; if your organisation inspects TLS, set AWS_CA_BUNDLE or --ca-bundle to its CA bundle (PEM)"
        )
    } else {
        format!("TLS failed: {why}")
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for HttpError {}

/// The longest response head (status line and headers) read by default:
/// 64 KiB, ureq's own default.
pub const DEFAULT_MAX_HEADER: usize = 64 << 10;

/// How a [`Client`] connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSettings {
    /// DNS, TCP and TLS setup.
    pub connect: Duration,
    /// Sending one request (head and body).
    pub write: Duration,
    /// Every response body is cut off past this many bytes.
    pub max_body: u64,
    /// The status line and headers of a response may take this many bytes
    /// ([`DEFAULT_MAX_HEADER`] unless told otherwise).
    pub max_header: usize,
    /// Use the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` environment
    /// (off for link-local metadata endpoints, which must never go via a proxy).
    pub env_proxy: bool,
}

/// The certificates an HTTPS client trusts: the built-in webpki roots (the
/// Mozilla set), or instead the PEM bundle the user named (`--ca-bundle`,
/// `AWS_CA_BUNDLE`, a profile's `ca_bundle`), as the AWS SDKs' `ca_bundle`
/// does: a corporate TLS-inspection proxy's bundle usually carries the public
/// roots too. Built once at start-up and given to every [`Client`], so the MCP
/// endpoint, STS, SSO and container endpoints all trust the same roots.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct TlsRoots {
    custom: Option<Arc<Vec<ureq::tls::Certificate<'static>>>>,
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.custom {
            None => f.write_str("TlsRoots(built-in)"),
            Some(c) => write!(f, "TlsRoots({} from a CA bundle)", c.len()),
        }
    }
}

impl TlsRoots {
    /// The built-in webpki roots.
    pub fn builtin() -> Self {
        TlsRoots::default()
    }

    /// The certificates of a PEM bundle (`-----BEGIN CERTIFICATE-----`
    /// blocks; other blocks are skipped), trusted instead of the built-in
    /// roots.
    ///
    /// # Errors
    /// [`PemError`] when a PEM block is malformed or the text holds no
    /// certificate.
    pub fn from_pem(pem: &[u8]) -> Result<Self, PemError> {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(PemError::Malformed(e)),
            }
        }
        if certs.is_empty() {
            return Err(PemError::NoCertificate);
        }
        Ok(TlsRoots {
            custom: Some(Arc::new(certs)),
        })
    }

    /// How many certificates a bundle gave; `None` for the built-in roots.
    pub fn bundle_len(&self) -> Option<usize> {
        self.custom.as_ref().map(|c| c.len())
    }
}

/// Why a CA bundle cannot be used.
#[derive(Debug)]
pub enum PemError {
    /// A PEM block is malformed.
    Malformed(ureq::Error),
    /// The text holds no `-----BEGIN CERTIFICATE-----` block.
    NoCertificate,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::Malformed(e) => write!(f, "a PEM block is malformed: {e}"),
            PemError::NoCertificate => {
                f.write_str("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
            }
        }
    }
}

impl std::error::Error for PemError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PemError::Malformed(e) => Some(e),
            PemError::NoCertificate => None,
        }
    }
}

/// An HTTP client (a pool of connections). Cheap to clone.
///
/// TLS by rustls (ring provider, webpki roots); status codes are never turned
/// into errors (an upstream JSON-RPC error body must reach the client); no
/// redirects (a signed request is never replayed elsewhere); explicit
/// timeouts and body limits.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    max_body: u64,
    /// Set by [`shutdown`](Self::shutdown): the client serves no more requests.
    shut: Arc<AtomicBool>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client with `settings`, trusting `tls`.
    pub fn new(settings: ClientSettings, tls: &TlsRoots) -> Self {
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("mcp-sigv4/", env!("CARGO_PKG_VERSION")))
            .accept(ureq::config::AutoHeaderValue::None)
            .accept_encoding(ureq::config::AutoHeaderValue::None)
            .timeout_resolve(Some(settings.connect))
            .timeout_connect(Some(settings.connect))
            .timeout_send_request(Some(settings.write))
            .timeout_send_body(Some(settings.write))
            .timeout_per_write(Some(settings.write))
            .max_response_header_size(settings.max_header)
            .max_idle_connections(8)
            .max_idle_connections_per_host(8);
        if !settings.env_proxy {
            builder = builder.proxy(None);
        }
        if let Some(certs) = &tls.custom {
            let tls = ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(certs))
                .build();
            builder = builder.tls_config(tls);
        }
        Client {
            agent: builder.build().into(),
            max_body: settings.max_body,
            shut: Arc::default(),
        }
    }

    /// A client with the same settings and a connection pool of its own, so that
    /// [`shutdown`](Self::shutdown) closes only its connections: used for an
    /// exchange that may have to be cut off (a cancelled 2026-07-28 request, a
    /// long stream at exit).
    pub fn dedicated(&self) -> Client {
        Client {
            agent: ureq::Agent::new_with_config(self.agent.config().clone()),
            max_body: self.max_body,
            shut: Arc::default(),
        }
    }

    /// Closes every connection of this client's pool, including ones a request
    /// on another thread is reading from (that read fails at once); later
    /// requests fail.
    pub fn shutdown(&self) {
        self.shut.store(true, Ordering::Release);
        self.agent.clone().shutdown();
    }

    /// True once [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    /// Sends one request to `url` with exactly `headers` (plus `user-agent` and,
    /// with a body, `content-length`).
    ///
    /// # Errors
    /// [`HttpError`] when no response head was received.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeouts: RequestTimeouts,
    ) -> Result<Response, HttpError> {
        log::debug!(
            "{} {} [{}] ({} body bytes)",
            method.as_str(),
            redact_query(url),
            loggable_headers(headers.iter().copied()),
            body.len()
        );
        let request_headers = headers;
        let mut builder = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let bad = |e: ureq::http::Error| HttpError {
            kind: ErrorKind::Other,
            detail: e.to_string(),
        };
        let result = if matches!(method, Method::Post | Method::Put) {
            // Borrowed, not copied: a body may carry a token or a client secret.
            self.run(builder.body(body).map_err(bad)?, timeouts)
        } else {
            self.run(builder.body(()).map_err(bad)?, timeouts)
        };
        let response = result.map_err(HttpError::from_ureq)?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // A server may echo what the request carried in a header it sends
        // back (a content type, a request id): those values are taken out.
        log::debug!(
            "-> {status} [{}]",
            crate::redact::Redactor::of_headers(request_headers.iter().copied()).redact(
                &loggable_headers(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            )
        );
        let body = response
            .into_body()
            .into_with_config()
            .limit(self.max_body)
            .reader();
        Ok(Response {
            status,
            headers,
            body: Box::new(body),
        })
    }
}

/// Clients an exchange holds alone while it runs, each with a connection pool
/// of its own ([`Client::dedicated`]), so that closing one cuts off that
/// exchange and no other; handed back when the exchange ends (its [`Lease`]
/// dropped), with their connection still open, to serve the next exchange
/// without a new TCP and TLS handshake. The most recently used is taken first
/// (its connection is the likeliest to be open; ureq drops one idle for 15 s,
/// and one the server closed, when it is next taken). At most `max_idle` wait;
/// a client that was shut down (a cancelled or timed-out exchange) is never
/// kept.
#[derive(Debug)]
pub struct Leases {
    template: Client,
    state: Mutex<LeaseState>,
    returned: Condvar,
    max_idle: usize,
}

#[derive(Debug, Default)]
struct LeaseState {
    idle: Vec<Client>,
    /// Leases whose exchange gave its answer and is about to hand them back.
    finishing: usize,
}

/// How long taking a lease waits for one an exchange is about to hand back
/// (its client may send the next request the moment it reads the answer).
const HANDBACK_WAIT: Duration = Duration::from_millis(50);

impl Leases {
    /// Leases of clients like `template`, at most `max_idle` kept waiting.
    pub fn new(template: &Client, max_idle: usize) -> Self {
        Leases {
            template: template.clone(),
            state: Mutex::default(),
            returned: Condvar::new(),
            max_idle,
        }
    }

    /// A client of its own: one handed back (waiting a moment for one an
    /// exchange that answered is handing back), else a new one.
    pub fn take(&self) -> Lease<'_> {
        let until = std::time::Instant::now() + HANDBACK_WAIT;
        let mut state = self.state.locked();
        let kept = loop {
            if let Some(c) = state.idle.pop() {
                break Some(c);
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if state.finishing == 0 || left.is_zero() {
                break None;
            }
            state = wait_once(&self.returned, state, left);
        };
        drop(state);
        Lease {
            leases: self,
            client: kept.unwrap_or_else(|| self.template.dedicated()),
            finishing: Cell::new(false),
        }
    }

    /// Closes the clients waiting (at exit).
    pub fn shutdown(&self) {
        let idle = std::mem::take(&mut self.state.locked().idle);
        for c in idle {
            c.shutdown();
        }
    }
}

/// One exchange's client from [`Leases`]; handed back when dropped, unless it
/// was shut down or enough wait.
#[derive(Debug)]
pub struct Lease<'a> {
    leases: &'a Leases,
    client: Client,
    finishing: Cell<bool>,
}

impl Lease<'_> {
    /// The client (clones share its connection pool).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The exchange is about to give its answer: a request the client sends
    /// on reading it may wait a moment for this lease instead of opening a
    /// connection.
    pub fn finishing(&self) {
        if !self.finishing.replace(true) {
            self.leases.state.locked().finishing += 1;
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let leases = self.leases;
        let mut state = leases.state.locked();
        if self.finishing.get() {
            state.finishing -= 1;
        }
        if !self.client.is_shut_down() && state.idle.len() < leases.max_idle {
            state.idle.push(self.client.clone());
        }
        drop(state);
        leases.returned.notify_all();
    }
}

/// True when `e` (from reading a response body) is a timeout: an I/O timeout, or
/// one of ureq's timeouts (per read, per call) wrapped in an I/O error.
pub fn is_timeout(e: &std::io::Error) -> bool {
    if matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) {
        return true;
    }
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
        .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)))
}

impl Client {
    fn run(
        &self,
        request: ureq::http::Request<impl ureq::AsSendBody>,
        timeouts: RequestTimeouts,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        // An IP-literal host (a loopback server, the metadata endpoints) needs
        // no lookup: without a resolve timeout ureq reads it on this thread,
        // instead of starting a thread per new connection to time a lookup.
        let literal = self.agent.config().proxy().is_none()
            && request
                .uri()
                .host()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
                .is_some_and(|h| h.parse::<std::net::IpAddr>().is_ok());
        let mut config = self
            .agent
            .configure_request(request)
            .timeout_recv_response(Some(timeouts.response))
            .timeout_per_read(timeouts.per_read)
            .timeout_per_call(timeouts.total);
        if literal {
            config = config.timeout_resolve(None);
        }
        self.agent.run(config.build())
    }
}

/// The URL without its query (query values may carry ids or tokens), for logs.
pub(crate) fn redact_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The first value of header `name` in `headers` (names lower-case).
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Why a header value cannot be sent. Never shows the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderValueError {
    /// It holds CR or LF (it would end the header, or start another one).
    LineBreak,
    /// It holds another control character.
    Control,
}

impl fmt::Display for HeaderValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderValueError::LineBreak => "contains a line break; expected a single-line token",
            HeaderValueError::Control => "contains a control character; expected a printable token",
        })
    }
}

impl std::error::Error for HeaderValueError {}

/// Checks what an HTTP header value can hold (RFC 9110 §5.5): no CR, LF or
/// other control character; tab is allowed.
///
/// # Errors
/// [`HeaderValueError`] saying which.
pub(crate) fn check_header_value(value: &str) -> Result<(), HeaderValueError> {
    if value.contains(['\r', '\n']) {
        return Err(HeaderValueError::LineBreak);
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(HeaderValueError::Control);
    }
    Ok(())
}

/// One request whose answer is read whole: what a credential source sends.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a> {
    /// The method.
    pub(crate) method: Method,
    /// The full URL.
    pub(crate) url: &'a str,
    /// Exactly the headers to send (names lower-case).
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The body (sent with `POST` and `PUT`).
    pub(crate) body: &'a [u8],
    /// The timeouts of this exchange.
    pub(crate) timeouts: RequestTimeouts,
    /// The longest body read; a longer one is an error.
    pub(crate) max_body: usize,
}

/// An answer read whole. The body is overwritten with zeros when the answer
/// is dropped: it may hold credentials.
pub(crate) struct Answer {
    /// HTTP status code.
    pub(crate) status: u16,
    /// Response headers, names lower-case, in order.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// True for a 2xx status.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field(
                "headers",
                &loggable_headers(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Sends one request and reads its answer whole: the seam between the
/// credential sources and the network. [`Client`] is the real one; unit tests
/// use an in-memory fake (the seam ureq itself uses for its tests, here at the
/// level of a whole exchange).
pub(crate) trait Transport: Send + Sync + fmt::Debug {
    /// Sends `request`; any status is an answer.
    ///
    /// # Errors
    /// [`HttpError`] when no whole answer was received (including a body
    /// longer than `request.max_body`).
    fn call(&self, request: &Request<'_>) -> Result<Answer, HttpError>;
}

impl Transport for Client {
    fn call(&self, request: &Request<'_>) -> Result<Answer, HttpError> {
        let mut response = self.send(
            request.method,
            request.url,
            request.headers,
            request.body,
            request.timeouts,
        )?;
        let body = response.read_body(request.max_body)?;
        Ok(Answer {
            status: response.status,
            headers: std::mem::take(&mut response.headers),
            body,
        })
    }
}

#[cfg(test)]
pub(crate) mod fake;
pub mod probe;
