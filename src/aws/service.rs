//! One call to an AWS endpoint: the request, its retries, the answer read whole.
//!
//! Owns: [`Service`] — an endpoint ([`ServiceUrl`]), the [`Transport`] it is
//! reached through and its [`CallPolicy`] (timeouts of one attempt, the
//! largest answer read, the [`retry::Policy`]) — and [`Service::fetch`], the one
//! loop every credential source goes through: each attempt gets the `host`
//! header and, when the call is signed, a fresh signature (a new `X-Amz-Date`);
//! a connection failure (and a timeout, where the policy allows) or an answer
//! [`retry::retryable_answer`] accepts is tried again after a jittered
//! exponential wait, up to the policy's attempts; any other answer, success or
//! not, is the caller's to read (a 404 from instance metadata means "no role").
//! Also the client settings of the AWS services proper (STS, IAM Identity
//! Center), [`AWS_CLIENT`] and [`AWS_CALL`].
//! Refuses: knowing any one service's operations or error hints; logging a
//! header value outside the allow-list or a query string.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::secret::Secret;

use super::endpoint::ServiceUrl;
use super::error::AwsError;
use crate::http::{
    Answer, ClientSettings, ErrorKind, HttpError, Method, Request, RequestTimeouts, Transport,
    redact_query,
};
use crate::retry;
use crate::sigv4::SignableRequest;

/// The HTTP client of the AWS services proper (STS, the IAM Identity Center
/// portal and OIDC): connect (DNS, TCP and TLS) 5 s, sending 10 s, bodies cut
/// off past 1 MiB, `HTTPS_PROXY`/`NO_PROXY` honoured (corporate networks reach
/// them through proxies).
pub const AWS_CLIENT: ClientSettings = ClientSettings {
    connect: Duration::from_secs(5),
    write: Duration::from_secs(10),
    max_body: 1 << 20,
    max_header: crate::http::DEFAULT_MAX_HEADER,
    env_proxy: true,
};

/// One call to an AWS service proper: the response head within 30 s, no read
/// silence longer than 30 s, the whole exchange within 60 s; answers up to
/// 64 KiB (real ones are 1–4 KiB; a longer one is an error, never
/// truncated); three attempts (the AWS SDKs' standard retry mode also makes
/// three), the retries after about 100 ms and 200 ms.
pub const AWS_CALL: CallPolicy = CallPolicy {
    timeouts: RequestTimeouts {
        response: Duration::from_secs(30),
        per_read: Some(Duration::from_secs(30)),
        total: Some(Duration::from_secs(60)),
    },
    max_answer: 64 * 1024,
    retry: retry::Policy {
        attempts: 3,
        base: Duration::from_millis(100),
        after_timeout: true,
        any_server_error: false,
    },
};

/// How calls to one endpoint are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallPolicy {
    /// The timeouts of one attempt.
    pub timeouts: RequestTimeouts,
    /// The longest answer read, in bytes.
    pub max_answer: usize,
    /// How often, and after what, to try again.
    pub retry: retry::Policy,
}

/// One request to a [`Service`]: everything but the `host` header and a
/// signature, which [`Service::fetch`] adds to each attempt.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The method.
    pub method: Method,
    /// The operation's path (and query) under the endpoint's base path,
    /// starting with `/`.
    pub path: &'a str,
    /// Headers after `host`, names lower-case.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// Signs one attempt: given the request as it will be sent (its headers
/// include `host`), the headers to add (`x-amz-date`, `authorization`, …).
pub type Sign<'a> =
    dyn Fn(&SignableRequest<'_>) -> Result<Vec<(&'static str, Secret)>, BoxError> + 'a;

/// A cause carried by a [`FetchError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call gave no answer.
#[derive(Debug)]
pub enum FetchError {
    /// No whole answer was received, after `attempts` attempts.
    Http {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        error: HttpError,
    },
    /// An attempt could not be signed.
    Sign(BoxError),
}

impl FetchError {
    /// `{what} failed: …` or `{what} failed after 3 tries: …`: the message of
    /// a source error about this call.
    pub fn failure(&self, what: &str) -> String {
        match self {
            FetchError::Http { attempts, .. } if *attempts > 1 => format!("{what} failed {self}"),
            FetchError::Http { .. } => format!("{what} failed: {self}"),
            FetchError::Sign(_) => format!("{what}: {self}"),
        }
    }

    /// The failure's kind, when no answer was received.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            FetchError::Http { error, .. } => Some(error.kind),
            FetchError::Sign(_) => None,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Http { attempts, error } if *attempts > 1 => {
                write!(f, "after {attempts} tries: {error}")
            }
            FetchError::Http { error, .. } => error.fmt(f),
            FetchError::Sign(e) => write!(f, "cannot sign the request: {e}"),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Http { error, .. } => Some(error),
            FetchError::Sign(e) => Some(e.as_ref()),
        }
    }
}

/// An AWS endpoint as one credential source calls it. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    name: &'static str,
    endpoint: ServiceUrl,
    transport: Arc<dyn Transport>,
    policy: CallPolicy,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint.to_string())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// `name` (for logs: `STS`, `EC2 instance metadata`) at `endpoint`, through
    /// `transport`, called as `policy` says.
    pub fn new(
        name: &'static str,
        endpoint: ServiceUrl,
        transport: Arc<dyn Transport>,
        policy: CallPolicy,
    ) -> Self {
        Service {
            name,
            endpoint,
            transport,
            policy,
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &ServiceUrl {
        &self.endpoint
    }

    /// Sends `call`, signed by `sign` when given, trying again as the policy
    /// allows, and returns the last answer whatever its status.
    ///
    /// # Errors
    /// [`FetchError`] when no whole answer came (after the attempts the policy
    /// allows) or an attempt could not be signed.
    pub fn fetch(&self, call: &Call<'_>, sign: Option<&Sign<'_>>) -> Result<Answer, FetchError> {
        let path = self.endpoint.path(call.path);
        let url = self.endpoint.url(&path);
        let (bare_path, query) = path.split_once('?').unwrap_or((&path, ""));
        let policy = &self.policy.retry;
        let mut attempt = 1;
        // Bounded: at most `policy.attempts` passes.
        loop {
            let mut headers: Vec<(&str, &str)> = Vec::with_capacity(call.headers.len() + 4);
            headers.push(("host", self.endpoint.authority()));
            headers.extend_from_slice(call.headers);
            let signed = match sign {
                None => Vec::new(),
                Some(sign) => sign(&SignableRequest {
                    method: call.method.as_str(),
                    path: bare_path,
                    query,
                    headers: &headers,
                    body: call.body,
                })
                .map_err(FetchError::Sign)?,
            };
            headers.extend(signed.iter().map(|(n, v)| (*n, v.expose())));
            let result = self.transport.call(&Request {
                method: call.method,
                url: &url,
                headers: &headers,
                body: call.body,
                timeouts: self.policy.timeouts,
                max_body: self.policy.max_answer,
            });
            drop(headers);
            // The signature and any token leave memory with the request
            // (each is a Secret, zeroized on drop).
            drop(signed);
            let again = attempt < policy.attempts;
            let why = match &result {
                Err(e) if again && self.retryable(e) => Some(e.to_string()),
                Ok(a) if again && !a.is_success() => {
                    let code = AwsError::parse(&a.headers, a.body.clone()).error_type;
                    retry::retryable_answer(policy, a.status, code.as_deref())
                        .then(|| format!("HTTP {} {}", a.status, code.unwrap_or_default()))
                }
                _ => None,
            };
            let Some(why) = why else {
                return result.map_err(|error| FetchError::Http {
                    attempts: attempt,
                    error,
                });
            };
            log::debug!(
                "{} {} {}: {}; trying again",
                self.name,
                call.method.as_str(),
                redact_query(&url),
                why.trim_end()
            );
            std::thread::sleep(policy.delay(attempt - 1));
            attempt += 1;
        }
    }

    fn retryable(&self, e: &HttpError) -> bool {
        match e.kind {
            ErrorKind::Connect | ErrorKind::Io => true,
            ErrorKind::Timeout => self.policy.retry.after_timeout,
            ErrorKind::TooLarge | ErrorKind::Other => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::url::PlainHttp;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn service(transport: Arc<dyn Transport>, policy: CallPolicy) -> Service {
        let endpoint =
            ServiceUrl::parse("http://127.0.0.1:9/base", PlainHttp::LoopbackOnly).unwrap();
        Service::new("test", endpoint, transport, policy)
    }

    fn call() -> Call<'static> {
        Call {
            method: Method::Post,
            path: "/op?x=1",
            headers: &[("content-type", "text/plain")],
            body: b"body",
        }
    }

    #[test]
    fn each_attempt_gets_host_and_a_fresh_signature() {
        let n = Arc::new(AtomicUsize::new(0));
        let fake = {
            let n = Arc::clone(&n);
            FakeTransport::start(move |_| match n.fetch_add(1, Ordering::SeqCst) {
                0 => Reply::new(503, "text/plain", "busy"),
                1 => Reply::new(
                    400,
                    "text/xml",
                    "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>",
                ),
                _ => Reply::json("{}"),
            })
        };
        let signs = AtomicUsize::new(0);
        let sign = |r: &SignableRequest<'_>| -> Result<Vec<(&'static str, Secret)>, BoxError> {
            assert_eq!((r.method, r.path, r.query), ("POST", "/base/op", "x=1"));
            assert_eq!(r.headers[0], ("host", "127.0.0.1:9"));
            let n = signs.fetch_add(1, Ordering::SeqCst);
            Ok(vec![("authorization", Secret::new(format!("sig-{n}")))])
        };
        let answer = service(fake.clone(), AWS_CALL)
            .fetch(&call(), Some(&sign))
            .unwrap();
        assert_eq!(answer.status, 200);
        let seen = fake.seen();
        assert_eq!(seen.len(), 3);
        for (i, s) in seen.iter().enumerate() {
            assert_eq!(s.target, "/base/op?x=1");
            assert_eq!(s.header("host"), Some("127.0.0.1:9"));
            assert_eq!(s.header("authorization"), Some(format!("sig-{i}").as_str()));
            assert_eq!(s.text(), "body");
        }
    }

    #[test]
    fn other_answers_are_the_callers_and_failures_are_counted() {
        let fake = FakeTransport::start(|_| Reply::new(404, "text/plain", ""));
        let answer = service(fake.clone(), AWS_CALL)
            .fetch(&call(), None)
            .unwrap();
        assert_eq!(answer.status, 404);
        assert_eq!(fake.seen().len(), 1);

        let fake = FakeTransport::unreachable();
        let e = service(fake.clone(), AWS_CALL)
            .fetch(&call(), None)
            .unwrap_err();
        assert_eq!(fake.seen().len(), 3);
        assert_eq!(
            e.failure("STS X via http://127.0.0.1:9"),
            "STS X via http://127.0.0.1:9 failed after 3 tries: the connection could not be made"
        );
        assert_eq!(e.kind(), Some(ErrorKind::Connect));

        let timeouts = FakeTransport::start_with(|_| {
            Err(HttpError {
                kind: ErrorKind::Timeout,
                detail: "timed out".into(),
            })
        });
        let no_timeout_retry = CallPolicy {
            retry: retry::Policy {
                after_timeout: false,
                ..AWS_CALL.retry
            },
            ..AWS_CALL
        };
        let e = service(timeouts.clone(), no_timeout_retry)
            .fetch(&call(), None)
            .unwrap_err();
        assert_eq!(timeouts.seen().len(), 1);
        assert_eq!(e.failure("x"), "x failed: timed out");

        let big = FakeTransport::start(|_| Reply::json(vec![b' '; 70_000]));
        let e = service(big.clone(), AWS_CALL)
            .fetch(&call(), None)
            .unwrap_err();
        assert_eq!(big.seen().len(), 1, "a body over the limit is not retried");
        assert!(e.to_string().contains("larger than 65536 bytes"), "{e}");
    }

    #[test]
    fn a_failed_signature_sends_nothing() {
        let fake = FakeTransport::start(|_| Reply::json("{}"));
        let sign = |_: &SignableRequest<'_>| -> Result<Vec<(&'static str, Secret)>, BoxError> {
            Err("no key".into())
        };
        let e = service(fake.clone(), AWS_CALL)
            .fetch(&call(), Some(&sign))
            .unwrap_err();
        assert_eq!(e.failure("STS X"), "STS X: cannot sign the request: no key");
        assert!(fake.seen().is_empty());
    }
}
