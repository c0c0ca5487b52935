//! Talking to the MCP endpoint: one signed HTTP request, with the
//! authentication retries, and reading AWS error answers.
//!
//! Owns: the headers every request carries (host, accept, content type,
//! session id, protocol version, `--header`s, the AgentCore runtime-session id,
//! the 2026-07-28 routing headers), signing them, and the two retries that
//! authentication calls for — credentials the service says expired are resolved
//! again, and a refused SigV4 signature is tried once more as SigV4A when that
//! switch is allowed. A 403 means the request was not processed, so neither
//! retry repeats a side effect.

use std::sync::Arc;

use super::Shared;
use crate::auth::AuthError;
use crate::aws::error::AwsError;
use crate::config::RuntimeSession;
use crate::credential_types::Credentials;
use crate::http::{HttpError, Method, RequestTimeouts, Response};
use crate::secret::Secret;
use crate::sigv4::Algorithm;

/// The most bytes of an HTTP error body read for its message (64 KiB).
pub const MAX_ERROR_BODY: usize = 64 << 10;

/// The AgentCore runtime-session header.
pub const RUNTIME_SESSION_HEADER: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

/// Why a request got no HTTP answer.
#[derive(Debug)]
pub(super) enum SendError {
    Auth(AuthError),
    Http(HttpError),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Auth(a) => a.fmt(f),
            SendError::Http(h) => h.fmt(f),
        }
    }
}

/// An HTTP answer, with a note on what the authentication retries saw.
pub(super) struct Sent {
    pub(super) response: Response,
    pub(super) note: Option<String>,
    /// The session generation current when the request went out.
    pub(super) generation: u64,
    /// True when the request carried an `Mcp-Session-Id`.
    pub(super) carried_session: bool,
}

/// One signed attempt's answer and what it was sent with.
struct Attempt {
    response: Response,
    credentials: Arc<Credentials>,
    generation: u64,
    carried_session: bool,
}

impl Attempt {
    fn sent(self, note: Option<String>) -> Sent {
        Sent {
            response: self.response,
            note,
            generation: self.generation,
            carried_session: self.carried_session,
        }
    }
}

/// Reads an error answer's body (at most [`MAX_ERROR_BODY`] bytes) and puts it
/// back as the response body, so it can still be read; a 2xx answer is left
/// alone.
pub(super) fn peek_error(response: &mut Response) -> AwsError {
    if (200..300).contains(&response.status) {
        return AwsError::default();
    }
    let body = response.read_body(MAX_ERROR_BODY).unwrap_or_default();
    response.body = Box::new(std::io::Cursor::new(body.clone()));
    AwsError::parse(&response.headers, body)
}

/// What a request carries besides the common headers.
#[derive(Clone, Debug, Default)]
pub(super) struct Extra {
    /// Send the session id and negotiated protocol version.
    pub(super) with_session: bool,
    /// Headers for this request only (2026-07-28 routing, `Last-Event-ID`).
    pub(super) headers: Vec<(String, String)>,
    /// `MCP-Protocol-Version` for this request (a 2026-07-28 request's own
    /// version), instead of the negotiated one.
    pub(super) protocol_version: Option<String>,
    /// A dedicated client (own connection pool) instead of the shared one.
    pub(super) client: Option<crate::http::Client>,
    /// With `with_session`: this session id instead of the current one (the
    /// `notifications/initialized` of a session not yet made current).
    pub(super) session_id: Option<Secret>,
}

impl Shared {
    /// Builds, signs and sends one request, with the authentication retries.
    pub(super) fn send(
        &self,
        method: Method,
        body: &[u8],
        extra: &Extra,
        timeouts: RequestTimeouts,
    ) -> Result<Sent, SendError> {
        let algorithm = self.auth.algorithm();
        let mut first = self.attempt(algorithm, method, body, extra, timeouts)?;
        let mut error = peek_error(&mut first.response);
        if error.expired_credentials() {
            log::info!(
                "{} says the credentials from {} expired; resolving them again",
                self.endpoint.host,
                first.credentials.source()
            );
            self.auth.provider().invalidate(&first.credentials);
            first = self.attempt(algorithm, method, body, extra, timeouts)?;
            error = peek_error(&mut first.response);
        }
        if !(first.response.status == 403
            && error.signature_refused()
            && self.auth.may_upgrade(algorithm))
        {
            return Ok(first.sent(None));
        }
        log::debug!(
            "{} refused the SigV4 signature (HTTP 403 {}); sending again signed SigV4A",
            self.endpoint.host,
            error.error_type.as_deref().unwrap_or("")
        );
        match self.attempt(Algorithm::V4a, method, body, extra, timeouts) {
            Ok(mut second) if matches!(second.response.status, 401 | 403) => {
                let second_error = peek_error(&mut second.response);
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
                        self.endpoint.host,
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
        extra: &Extra,
        timeouts: RequestTimeouts,
    ) -> Result<Attempt, SendError> {
        let host = self.endpoint.authority();
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
        for (n, v) in &self.options.extra_headers {
            headers.push((n, v));
        }
        let signed = self
            .auth
            .sign(
                algorithm,
                method.as_str(),
                &self.endpoint.path,
                &self.endpoint.query,
                &headers,
                body,
            )
            .map_err(SendError::Auth)?;
        headers.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_str())));
        let client = extra.client.as_ref().unwrap_or(&self.client);
        let response = client
            .send(method, &self.url, &headers, body, timeouts)
            .map_err(SendError::Http)?;
        Ok(Attempt {
            response,
            credentials: signed.credentials,
            generation,
            carried_session: session_id.is_some(),
        })
    }

    /// The `X-Amzn-Bedrock-AgentCore-Runtime-Session-Id` for the next request.
    fn runtime_session_id(&self) -> Option<String> {
        match self.options.runtime_session? {
            RuntimeSession::Request => Some(crate::random::random_id()),
            RuntimeSession::Session | RuntimeSession::Identity => {
                Some(self.runtime_session.clone())
            }
        }
    }

    /// Stores the `Mcp-Session-Id` of a successful response that carries one,
    /// unless a new session replaced the one the request was sent in.
    pub(super) fn capture_session(&self, sent: &Sent) {
        let response = &sent.response;
        if !(200..300).contains(&response.status) {
            return;
        }
        if let Some(id) = response.header("mcp-session-id") {
            if self.session.set_id(id, sent.generation) {
                log::info!("MCP session established ({} character id)", id.len());
            }
        }
    }
}
