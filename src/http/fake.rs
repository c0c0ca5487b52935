//! An in-memory [`Transport`] for unit tests: no socket, no thread.
//!
//! Each request is recorded as a [`Seen`] and answered by a function of it,
//! as `tests/support`'s server answers real connections. Body limits are
//! applied as [`Client`](super::Client) applies them. Test-only.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use super::{Answer, ErrorKind, HttpError, Request, Transport};
use crate::sync::Locked;

/// A request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    /// `GET`, `POST`, …
    pub(crate) method: String,
    /// The request target (path and query).
    pub(crate) target: String,
    /// Headers, names lower-case, in order.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Seen {
    /// The first value of header `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        super::find_header(&self.headers, name)
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An answer: status, headers, body.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    /// A reply with `status`, a content type and `body`.
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// A 200 JSON reply.
    pub(crate) fn json(body: impl Into<Vec<u8>>) -> Self {
        Reply::new(200, "application/json", body)
    }

    /// Adds a header (its name is lower-cased, as a client reads it).
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Seen) -> Result<Reply, HttpError> + Send + Sync;

/// The fake: answers with a function, records every request.
pub(crate) struct FakeTransport {
    handler: Box<Handler>,
    seen: Mutex<Vec<Seen>>,
    port: u16,
}

impl std::fmt::Debug for FakeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTransport").finish_non_exhaustive()
    }
}

impl FakeTransport {
    /// A fake answering every request with `handler`.
    pub(crate) fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Arc<Self> {
        Self::start_with(move |seen| Ok(handler(seen)))
    }

    /// A fake whose `handler` may also fail an exchange.
    pub(crate) fn start_with(
        handler: impl Fn(&Seen) -> Result<Reply, HttpError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        static NEXT_PORT: AtomicU16 = AtomicU16::new(10_000);
        Arc::new(FakeTransport {
            handler: Box::new(handler),
            seen: Mutex::new(Vec::new()),
            port: NEXT_PORT.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// A fake where every exchange fails before anything is sent.
    pub(crate) fn unreachable() -> Arc<Self> {
        Self::start_with(|_| {
            Err(HttpError {
                kind: ErrorKind::Connect,
                detail: "the connection could not be made".into(),
            })
        })
    }

    /// A base URL for endpoints that go to this fake: the fake never
    /// connects, and answers any URL; this one passes the plain-HTTP rule and
    /// differs from every other fake's, so a test can route by it.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request seen so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.locked().clone()
    }
}

impl Transport for FakeTransport {
    fn call(&self, request: &Request<'_>) -> Result<Answer, HttpError> {
        let after_scheme = request.url.split_once("://").map_or("", |(_, r)| r);
        let target = match after_scheme.find(['/', '?']) {
            Some(at) => after_scheme[at..].to_owned(),
            None => "/".to_owned(),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        if !request.body.is_empty() || matches!(request.method, super::Method::Post) {
            headers.push(("content-length".into(), request.body.len().to_string()));
        }
        headers.extend(
            request
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned())),
        );
        let seen = Seen {
            method: request.method.as_str().to_owned(),
            target,
            headers,
            body: request.body.to_vec(),
        };
        self.seen.locked().push(seen.clone());
        let reply = (self.handler)(&seen)?;
        if reply.body.len() > request.max_body {
            return Err(HttpError::too_large(request.max_body));
        }
        Ok(Answer {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        })
    }
}
