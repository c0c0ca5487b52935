//! The EC2 instance metadata source (IMDSv2): the instance role's credentials
//! (Amazon EC2 User Guide, "Use the Instance Metadata Service to access instance
//! metadata", <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html>).
//!
//! Owns: where IMDS is (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the IPv4 or
//! IPv6 address by `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`, or their profile
//! keys), whether it is off (`AWS_EC2_METADATA_DISABLED=true`), the session
//! token (renewed 120 s before its TTL ends), the role-name and credentials
//! requests, and Rust `aws-config`'s rules for staying up through an IMDS
//! outage (`src/imds/credentials.rs`). Requests go through [`crate::aws::service`].
//! Refuses: IMDSv1 (a request without a token) in every case, as Rust does;
//! plain `http://` to anything but loopback and the IMDS addresses
//! (`169.254.169.254`, `[fd00:ec2::254]`); going through an HTTP proxy;
//! printing the token anywhere.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::container::parse_json_credentials;
use super::ini::Properties;
use super::{Credentials, Env, SourceError};
use crate::aws::endpoint::ServiceUrl;
use crate::aws::service::{Call, CallPolicy, FetchError, Service};
use crate::http::{Answer, ClientSettings, Method, RequestTimeouts, Transport};
use crate::retry;
use crate::secret::Secret;
use crate::sync::Locked;
use crate::time::format_rfc3339;
use crate::url::PlainHttp;

/// The IPv4 endpoint (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv4`, the default).
const IPV4_ENDPOINT: &str = "http://169.254.169.254";

/// The IPv6 endpoint (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`).
const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";

/// The session token lifetime asked for (6 h, the maximum; Rust's value).
const TOKEN_TTL: Duration = Duration::from_secs(21_600);

/// A token is replaced this long (120 s) before its TTL ends, as Rust does.
const TOKEN_REFRESH_BEFORE: Duration = Duration::from_secs(120);

/// Connect and read bound per request (1 s), as Rust `aws-config`.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The largest answer read (64 KiB).
const MAX_BODY: usize = 64 * 1024;

/// The HTTP client of IMDS: 1 s to connect and to send, never through a proxy.
pub(crate) const CLIENT: ClientSettings = ClientSettings {
    connect: TIMEOUT,
    write: TIMEOUT,
    max_body: MAX_BODY as u64,
    max_header: crate::http::DEFAULT_MAX_HEADER,
    env_proxy: false,
};

/// One IMDS request: 1 s for the answer and between reads, 3 s in all; 4
/// attempts (Rust's value) on connection failures, timeouts and 5xx answers,
/// the retries after about 100, 200 and 400 ms. Off EC2 the whole source gives
/// up within about 5 s.
const CALL: CallPolicy = CallPolicy {
    timeouts: RequestTimeouts {
        response: TIMEOUT,
        per_read: Some(TIMEOUT),
        total: Some(Duration::from_secs(3)),
    },
    max_answer: MAX_BODY,
    retry: retry::Policy {
        attempts: 4,
        base: Duration::from_millis(100),
        after_timeout: true,
        any_server_error: true,
    },
};

/// Already-expired credentials from IMDS (an outage) are used as if they lasted
/// this much longer (10 min), plus up to [`STATIC_STABILITY_JITTER`], as Rust does.
const STATIC_STABILITY_EXTENSION: Duration = Duration::from_secs(600);

/// The most added at random to [`STATIC_STABILITY_EXTENSION`] (5 min), so that
/// a fleet does not retry in step.
const STATIC_STABILITY_JITTER: Duration = Duration::from_secs(300);

const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const ROLE_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The endpoint of `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`: `IPv4` / `IPv6`
/// (any case).
fn mode_endpoint(text: &str) -> Option<&'static str> {
    match text.trim().to_ascii_lowercase().as_str() {
        "ipv4" => Some(IPV4_ENDPOINT),
        "ipv6" => Some(IPV6_ENDPOINT),
        _ => None,
    }
}

/// The IMDS endpoint for `env` and the selected profile's properties, in Rust
/// `aws-config` order: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, profile
/// `ec2_metadata_service_endpoint`, then the mode from
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`, profile
/// `ec2_metadata_service_endpoint_mode`, default IPv4. Pure.
///
/// # Errors
/// An endpoint that is not an `http://` or `https://` URL, or plain `http://`
/// to a host other than loopback and the IMDS addresses, or a mode that is not
/// `IPv4`/`IPv6`; the message names the setting.
fn endpoint(env: &Env, profile: Option<&Properties>) -> Result<ServiceUrl, SourceError> {
    let from_profile = |key: &str| {
        profile
            .and_then(|p| p.get(key))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let given = env
        .get_nonblank("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .map(|v| ("AWS_EC2_METADATA_SERVICE_ENDPOINT", v))
        .or_else(|| {
            from_profile("ec2_metadata_service_endpoint")
                .map(|v| ("ec2_metadata_service_endpoint", v))
        });
    let (setting, url) = match given {
        Some(given) => given,
        None => {
            let mode = env
                .get_nonblank("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
                .map(|v| ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", v))
                .or_else(|| {
                    from_profile("ec2_metadata_service_endpoint_mode")
                        .map(|v| ("ec2_metadata_service_endpoint_mode", v))
                });
            let url = match mode {
                None => IPV4_ENDPOINT,
                Some((setting, text)) => mode_endpoint(&text).ok_or_else(|| {
                    SourceError::new(format!("{setting}: expected IPv4 or IPv6, found {text:?}"))
                })?,
            };
            ("the IMDS endpoint", url.to_owned())
        }
    };
    ServiceUrl::parse(&url, PlainHttp::InstanceMetadata).map_err(|why| {
        SourceError::new(format!("{setting}: {why}"))
            .with_hint("point it at http://169.254.169.254, [fd00:ec2::254], a loopback address, or an https:// URL")
            .caused_by(why)
    })
}

/// The IMDS source for `env` and the selected profile's properties, sending
/// through `transport` (built with [`CLIENT`]).
///
/// `None` when `AWS_EC2_METADATA_DISABLED` is `true` (any case): turned off,
/// the chain moves on. Nothing is sent until a method is called.
///
/// # Errors
/// `Some(Err(_))` when the endpoint or mode setting is invalid (see [`endpoint`]).
pub(crate) fn imds_source(
    env: &Env,
    profile: Option<&Properties>,
    transport: Arc<dyn Transport>,
) -> Option<Result<Imds, SourceError>> {
    if env
        .get_nonblank("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    Some(endpoint(env, profile).map(|e| Imds::new(e, transport)))
}

/// A session token and when to replace it.
struct Token {
    value: Secret,
    refresh_at: Instant,
}

/// An IMDSv2 client: one endpoint, its session token (shared by all calls and
/// renewed [`TOKEN_REFRESH_BEFORE`] its end; one renewal at a time) and the last
/// credentials it returned. Safe to share between threads. `Debug` shows the
/// endpoint only.
pub(crate) struct Imds {
    service: Service,
    token: Mutex<Option<Token>>,
    last: Mutex<Option<Credentials>>,
}

impl fmt::Debug for Imds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imds")
            .field("endpoint", &self.service.endpoint().to_string())
            .finish_non_exhaustive()
    }
}

impl Imds {
    /// A client for the IMDS at `endpoint`.
    fn new(endpoint: ServiceUrl, transport: Arc<dyn Transport>) -> Self {
        Imds {
            service: Service::new("EC2 instance metadata", endpoint, transport, CALL),
            token: Mutex::new(None),
            last: Mutex::new(None),
        }
    }

    /// The instance role's credentials: the role name from
    /// `GET /latest/meta-data/iam/security-credentials/` (first line), then
    /// `GET …/<role>`, whose JSON (`Code` `Success`, `AccessKeyId`,
    /// `SecretAccessKey`, `Token`, `Expiration`) is read by
    /// [`parse_json_credentials`]. Every request carries the session token; a
    /// `401` gets one retry with a new token. Source:
    /// `EC2 instance metadata (role '<role>')`.
    ///
    /// As Rust `aws-config` does to stay up during an outage: credentials that
    /// IMDS returns already expired are kept, with their expiry moved to now +
    /// [`STATIC_STABILITY_EXTENSION`] + up to [`STATIC_STABILITY_JITTER`] (a
    /// warning is logged); and when a fetch fails while the last credentials
    /// returned have not expired, those are returned again (with a warning).
    ///
    /// # Errors
    /// [`SourceError`] when IMDS cannot be reached (off EC2, or a hop limit of 1
    /// seen from a container), refuses a token (`403`: IMDS turned off), the
    /// instance has no role (`404` on the role list: message
    /// `the EC2 instance has no IAM role`), or the answer is not `Success`
    /// credentials.
    pub(crate) fn credentials(&self) -> Result<Credentials, SourceError> {
        match self.fetch_credentials() {
            Ok(c) => {
                *self.last.locked() = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                let last = self.last.locked().clone();
                match last {
                    Some(c) if c.expiry().is_none_or(|t| t > SystemTime::now()) => {
                        log::warn!(
                            "{e}; using the last credentials from EC2 instance metadata again{}",
                            c.expiry()
                                .map(|t| format!(" (they expire {})", format_rfc3339(t)))
                                .unwrap_or_default()
                        );
                        Ok(c)
                    }
                    _ => Err(e),
                }
            }
        }
    }

    fn fetch_credentials(&self) -> Result<Credentials, SourceError> {
        let role_list = self.get(ROLE_PATH, |s| match s {
            404 => no_role(),
            s => SourceError::new(format!(
                "EC2 instance metadata: listing the instance role failed (HTTP {s})"
            )),
        })?;
        let text = String::from_utf8_lossy(&role_list.body);
        let role = text.lines().next().unwrap_or("").trim();
        if role.is_empty() {
            return Err(no_role());
        }
        // IAM role names: letters, digits and `+=,.@_-` (IAM API reference).
        if !role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
            || role.len() > 128
        {
            return Err(SourceError::new(
                "EC2 instance metadata: the instance role name is not a valid IAM role name",
            ));
        }
        let what = format!("EC2 instance metadata (role '{role}')");
        let answer = self.get(&format!("{ROLE_PATH}{role}"), |s| {
            SourceError::new(format!(
                "{what}: fetching the role's credentials failed (HTTP {s})"
            ))
        })?;
        let c = parse_json_credentials(&answer.body, &what).map_err(|why| {
            SourceError::new(format!("{what}: the answer {why}"))
                .with_hint(
                    "check the role's trust policy allows ec2.amazonaws.com (code AssumeRoleUnauthorizedAccess)",
                )
                .caused_by(why)
        })?;
        let now = SystemTime::now();
        match c.expiry() {
            Some(expiry) if expiry <= now => {
                let extended = static_stability_expiry(now, clock_nanos());
                log::warn!(
                    "{what}: the credentials expired at {}; using them until {} as the AWS SDKs do while IMDS cannot renew them",
                    format_rfc3339(expiry),
                    format_rfc3339(extended)
                );
                Ok(Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key().clone(),
                    c.session_token().cloned(),
                    Some(extended),
                    c.source(),
                ))
            }
            _ => Ok(c),
        }
    }

    /// `GET path` with the session token; `200` gives the answer, `401` is
    /// tried once more with a new token, any other status is the error
    /// `refused` makes of it.
    fn get(&self, path: &str, refused: impl Fn(u16) -> SourceError) -> Result<Answer, SourceError> {
        let mut fresh = false;
        // Bounded: at most two passes (the second with a new token).
        loop {
            let token = self.token(fresh)?;
            let answer = self.send(Method::Get, path, &[(TOKEN_HEADER, token.expose())])?;
            match answer.status {
                200 => return Ok(answer),
                401 if !fresh => {
                    log::debug!(
                        "EC2 instance metadata: token refused (HTTP 401); getting a new one"
                    );
                    fresh = true;
                }
                s => return Err(refused(s)),
            }
        }
    }

    /// The session token: the kept one unless `fresh` or due for renewal, else
    /// a new one from `PUT /latest/api/token`. The lock is held while fetching,
    /// so concurrent callers share one request.
    fn token(&self, fresh: bool) -> Result<Secret, SourceError> {
        let mut slot = self.token.locked();
        if let Some(t) = slot.as_ref()
            && !fresh
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        *slot = None;
        let requested = Instant::now();
        let ttl_text = TOKEN_TTL.as_secs().to_string();
        let answer = self.send(
            Method::Put,
            "/latest/api/token",
            &[(TOKEN_TTL_HEADER, &ttl_text)],
        )?;
        match answer.status {
            200 => {}
            403 => {
                return Err(SourceError::new(
                    "EC2 instance metadata refused a session token (HTTP 403): IMDS is turned off for this instance",
                )
                .with_hint(
                    "turn it on (`aws ec2 modify-instance-metadata-options --http-endpoint enabled`), or set AWS_EC2_METADATA_DISABLED=true to skip it",
                ));
            }
            s @ (404 | 405) => {
                return Err(SourceError::new(format!(
                    "EC2 instance metadata does not offer IMDSv2 session tokens (HTTP {s}); IMDSv1 is never used"
                )));
            }
            s => {
                return Err(SourceError::new(format!(
                    "EC2 instance metadata: the session token request failed (HTTP {s})"
                )));
            }
        }
        let value = Secret::new(String::from_utf8_lossy(&answer.body).trim().to_owned());
        if value.is_empty() || value.expose().chars().any(|c| c.is_control() || c == ' ') {
            return Err(SourceError::new(
                "EC2 instance metadata: the session token answer is not a token",
            ));
        }
        let ttl = answer
            .header(TOKEN_TTL_HEADER)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(TOKEN_TTL, Duration::from_secs)
            .min(TOKEN_TTL);
        *slot = Some(Token {
            value: value.clone(),
            refresh_at: requested + ttl.saturating_sub(TOKEN_REFRESH_BEFORE),
        });
        Ok(value)
    }

    /// One request through the service layer (its retries included).
    fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Answer, SourceError> {
        let call = Call {
            method,
            path,
            headers,
            body: b"",
        };
        self.service
            .fetch(&call, None)
            .map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: FetchError) -> SourceError {
        let what = format!("EC2 instance metadata at {}", self.service.endpoint());
        SourceError::new(e.failure(&what))
            .with_hint(
                "off EC2, set AWS_EC2_METADATA_DISABLED=true to skip it; in a container on EC2, the instance's metadata hop limit must be 2 or more",
            )
            .caused_by(e)
    }
}

fn no_role() -> SourceError {
    SourceError::new("the EC2 instance has no IAM role (no instance profile attached)").with_hint(
        "attach an instance profile with a role to the instance, or configure another credential source",
    )
}

/// The nanoseconds of the wall clock: the jitter source (enough to keep a
/// fleet from retrying in step).
fn clock_nanos() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// The expiry given to credentials that IMDS returned already expired: `now` +
/// [`STATIC_STABILITY_EXTENSION`] + `nanos` mapped onto
/// [0, [`STATIC_STABILITY_JITTER`]) in whole seconds.
fn static_stability_expiry(now: SystemTime, nanos: u32) -> SystemTime {
    let jitter = u64::from(nanos) % STATIC_STABILITY_JITTER.as_secs();
    now + STATIC_STABILITY_EXTENSION + Duration::from_secs(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fake::{FakeTransport, Reply, Seen};
    use crate::time::parse_rfc3339;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type TestServer = Arc<FakeTransport>;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY";

    fn creds_json(expiration: &str) -> String {
        format!(
            r#"{{"Code":"Success","LastUpdated":"2030-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS","SecretAccessKey":"{SECRET}","Token":"IMDSTOKEN","Expiration":"{expiration}"}}"#
        )
    }

    /// An IMDS that issues tokens `tok-1`, `tok-2`, … and accepts only tokens
    /// numbered at least `first_valid`.
    fn fake_imds(first_valid: usize, creds: String) -> TestServer {
        let issued = Arc::new(AtomicUsize::new(0));
        FakeTransport::start(move |seen: &Seen| {
            if seen.method == "PUT" && seen.target == "/latest/api/token" {
                let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                return Reply::new(200, "text/plain", format!("tok-{n}"))
                    .header(TOKEN_TTL_HEADER, "21600");
            }
            let valid = seen
                .header(TOKEN_HEADER)
                .and_then(|t| t.strip_prefix("tok-"))
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n >= first_valid);
            if seen.method != "GET" || !valid {
                return Reply::new(401, "text/plain", "");
            }
            match seen.target.as_str() {
                ROLE_PATH => Reply::new(200, "text/plain", "MyRole\nOther"),
                "/latest/meta-data/iam/security-credentials/MyRole" => Reply::json(creds.clone()),
                _ => Reply::new(404, "text/plain", ""),
            }
        })
    }

    fn client_for(server: &TestServer) -> Imds {
        let env = Env::from_pairs([(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("{}/", server.url()),
        )]);
        imds_source(&env, None, server.clone()).unwrap().unwrap()
    }

    fn unused() -> TestServer {
        FakeTransport::start(|s| panic!("unexpected request {} {}", s.method, s.target))
    }

    fn summary(seen: &[Seen]) -> Vec<String> {
        seen.iter()
            .map(|s| format!("{} {}", s.method, s.target))
            .collect()
    }

    #[test]
    fn token_then_role_then_credentials_with_the_token_header() {
        let server = fake_imds(1, creds_json("2030-01-01T06:00:00Z"));
        let imds = client_for(&server);
        let c = imds.credentials().unwrap();
        assert_eq!(c.access_key_id(), "ASIAIMDS");
        assert_eq!(c.secret_access_key().expose(), SECRET);
        assert_eq!(c.session_token().unwrap().expose(), "IMDSTOKEN");
        assert_eq!(
            c.expiry(),
            Some(parse_rfc3339("2030-01-01T06:00:00Z").unwrap())
        );
        assert_eq!(c.source(), "EC2 instance metadata (role 'MyRole')");
        let seen = server.seen();
        assert_eq!(
            summary(&seen),
            [
                "PUT /latest/api/token",
                "GET /latest/meta-data/iam/security-credentials/",
                "GET /latest/meta-data/iam/security-credentials/MyRole",
            ]
        );
        assert_eq!(seen[0].header(TOKEN_TTL_HEADER), Some("21600"));
        assert_eq!(seen[0].header(TOKEN_HEADER), None);
        for get in &seen[1..] {
            assert_eq!(get.header(TOKEN_HEADER), Some("tok-1"));
            assert_eq!(get.header(TOKEN_TTL_HEADER), None);
        }
        assert!(!format!("{imds:?}").contains("tok-1"));
    }

    #[test]
    fn the_token_is_reused_across_calls() {
        let server = fake_imds(1, creds_json("2030-01-01T06:00:00Z"));
        let imds = client_for(&server);
        imds.credentials().unwrap();
        imds.credentials().unwrap();
        imds.credentials().unwrap();
        let puts = server.seen().iter().filter(|s| s.method == "PUT").count();
        assert_eq!(puts, 1, "{:?}", summary(&server.seen()));
    }

    #[test]
    fn a_short_token_ttl_is_renewed_before_it_ends() {
        // TTL 100 s is inside the 120 s renewal window: every use asks anew.
        let creds = creds_json("2030-01-01T06:00:00Z");
        let server = FakeTransport::start(move |seen: &Seen| {
            if seen.method == "PUT" {
                Reply::new(200, "text/plain", "tok").header(TOKEN_TTL_HEADER, "100")
            } else if seen.target == ROLE_PATH {
                Reply::new(200, "text/plain", "MyRole")
            } else {
                Reply::json(creds.clone())
            }
        });
        let imds = client_for(&server);
        imds.credentials().unwrap();
        imds.credentials().unwrap();
        // Two GETs per credentials call, each with a token of its own.
        let puts = server.seen().iter().filter(|s| s.method == "PUT").count();
        assert_eq!(puts, 4);
    }

    #[test]
    fn a_refused_token_is_replaced_once() {
        let server = fake_imds(2, creds_json("2030-01-01T06:00:00Z"));
        let imds = client_for(&server);
        imds.credentials().unwrap();
        assert_eq!(
            summary(&server.seen()),
            [
                "PUT /latest/api/token",
                "GET /latest/meta-data/iam/security-credentials/",
                "PUT /latest/api/token",
                "GET /latest/meta-data/iam/security-credentials/",
                "GET /latest/meta-data/iam/security-credentials/MyRole",
            ]
        );
        assert_eq!(server.seen()[4].header(TOKEN_HEADER), Some("tok-2"));

        // A server that never accepts a token: one retry, then an error.
        let server = fake_imds(usize::MAX, String::new());
        let e = client_for(&server).credentials().unwrap_err();
        assert!(e.message.contains("(HTTP 401)"), "{e}");
        assert_eq!(server.seen().len(), 4);
    }

    #[test]
    fn no_role_is_reported_as_such() {
        let server = FakeTransport::start(|seen: &Seen| match seen.method.as_str() {
            "PUT" => Reply::new(200, "text/plain", "tok"),
            _ => Reply::new(404, "text/html", "<html>Not Found</html>"),
        });
        let e = client_for(&server).credentials().unwrap_err();
        assert!(e.message.contains("has no IAM role"), "{e}");
        assert_eq!(server.seen().len(), 2, "404 is not retried");
    }

    #[test]
    fn a_code_other_than_success_is_an_error() {
        let server = fake_imds(
            1,
            format!(
                r#"{{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role","AccessKeyId":"A","SecretAccessKey":"{SECRET}"}}"#
            ),
        );
        let e = client_for(&server).credentials().unwrap_err();
        assert!(
            e.message
                .contains("has code \"AssumeRoleUnauthorizedAccess\": EC2 cannot assume the role"),
            "{e}"
        );
        assert!(!format!("{e:?}").contains(SECRET));
    }

    #[test]
    fn a_forbidden_token_says_imds_is_off() {
        let server = FakeTransport::start(|_| Reply::new(403, "text/plain", ""));
        let e = client_for(&server).credentials().unwrap_err();
        assert!(e.message.contains("IMDS is turned off"), "{e}");
        assert!(e.hint.unwrap().contains("AWS_EC2_METADATA_DISABLED"));
        assert_eq!(server.seen().len(), 1, "no IMDSv1 request follows");
    }

    #[test]
    fn expired_credentials_are_stretched_during_an_outage() {
        let server = fake_imds(1, creds_json("2020-01-01T00:00:00Z"));
        let before = SystemTime::now();
        let c = client_for(&server).credentials().unwrap();
        let expiry = c.expiry().unwrap();
        assert!(expiry >= before + STATIC_STABILITY_EXTENSION, "{c:?}");
        assert!(
            expiry <= SystemTime::now() + STATIC_STABILITY_EXTENSION + STATIC_STABILITY_JITTER,
            "{c:?}"
        );
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            static_stability_expiry(now, 299),
            now + Duration::from_secs(600 + 299)
        );
        assert_eq!(
            static_stability_expiry(now, 999_999_999),
            now + Duration::from_secs(600 + 999_999_999 % 300)
        );
    }

    #[test]
    fn the_last_good_credentials_outlive_a_failed_fetch() {
        let calls = Arc::new(AtomicUsize::new(0));
        let server = {
            let calls = Arc::clone(&calls);
            let creds = creds_json("2099-01-01T00:00:00Z");
            FakeTransport::start(move |seen: &Seen| {
                if calls.fetch_add(1, Ordering::SeqCst) >= 3 {
                    return Reply::new(404, "text/plain", "");
                }
                match (seen.method.as_str(), seen.target.as_str()) {
                    ("PUT", _) => Reply::new(200, "text/plain", "tok-1"),
                    (_, ROLE_PATH) => Reply::new(200, "text/plain", "MyRole"),
                    _ => Reply::json(creds.clone()),
                }
            })
        };
        let imds = client_for(&server);
        let first = imds.credentials().unwrap();
        let again = imds.credentials().unwrap();
        assert_eq!(again.access_key_id(), first.access_key_id());
        assert_eq!(again.expiry(), first.expiry());
    }

    #[test]
    fn an_unreachable_imds_fails_after_bounded_tries() {
        let endpoint =
            ServiceUrl::parse("http://127.0.0.1:4567", PlainHttp::InstanceMetadata).unwrap();
        let imds = Imds::new(endpoint, FakeTransport::unreachable());
        let e = imds.credentials().unwrap_err();
        assert!(e.message.contains("after 4 tries"), "{e}");
        assert!(e.hint.unwrap().contains("hop limit"));
    }

    #[test]
    fn disabled_by_env_in_any_case() {
        for value in ["true", "TRUE", "True"] {
            let env = Env::from_pairs([("AWS_EC2_METADATA_DISABLED", value)]);
            assert!(imds_source(&env, None, unused()).is_none(), "{value}");
        }
        for value in ["false", "1", ""] {
            let env = Env::from_pairs([("AWS_EC2_METADATA_DISABLED", value)]);
            assert!(imds_source(&env, None, unused()).is_some(), "{value}");
        }
    }

    #[test]
    fn endpoint_selection_follows_rust_order() {
        let props = |pairs: &[(&str, &str)]| -> Properties {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let profile_endpoint = props(&[
            ("ec2_metadata_service_endpoint", "http://127.0.0.9:1338/"),
            ("ec2_metadata_service_endpoint_mode", "IPv6"),
        ]);
        let profile_mode = props(&[("ec2_metadata_service_endpoint_mode", "ipv6")]);
        /// Name, environment, profile, expected endpoint.
        type Case<'a> = (
            &'a str,
            Vec<(&'a str, &'a str)>,
            Option<&'a Properties>,
            &'a str,
        );
        let cases: [Case<'_>; 7] = [
            ("default", vec![], None, IPV4_ENDPOINT),
            (
                "env endpoint beats all",
                vec![
                    ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://[::1]:8080/"),
                    ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4"),
                ],
                Some(&profile_endpoint),
                "http://[::1]:8080",
            ),
            (
                "profile endpoint beats env mode",
                vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4")],
                Some(&profile_endpoint),
                "http://127.0.0.9:1338",
            ),
            (
                "env mode beats profile mode",
                vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4")],
                Some(&profile_mode),
                IPV4_ENDPOINT,
            ),
            ("profile mode", vec![], Some(&profile_mode), IPV6_ENDPOINT),
            (
                "env mode any case",
                vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPV6")],
                None,
                IPV6_ENDPOINT,
            ),
            (
                "blank env falls through",
                vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", " ")],
                Some(&profile_mode),
                IPV6_ENDPOINT,
            ),
        ];
        let mut failures = Vec::new();
        for (name, env, profile, expected) in cases {
            match endpoint(&Env::from_pairs(env), profile).map(|u| u.to_string()) {
                Ok(url) if url == expected => {}
                other => failures.push(format!("{name}: expected {expected}, got {other:?}")),
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");

        let e = endpoint(
            &Env::from_pairs([("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5")]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: expected IPv4 or IPv6, found \"IPv5\""
        );
        let bad = props(&[("ec2_metadata_service_endpoint", "169.254.169.254")]);
        let e = imds_source(
            &Env::from_pairs(Vec::<(String, String)>::new()),
            Some(&bad),
            unused(),
        )
        .unwrap()
        .unwrap_err();
        assert!(
            e.message
                .starts_with("ec2_metadata_service_endpoint: expected"),
            "{e}"
        );
    }

    #[test]
    fn plain_http_goes_only_to_loopback_and_the_imds_addresses() {
        // Before the one plain-HTTP rule, any http:// endpoint was taken: the
        // session token and the role's credentials crossed the network in clear.
        for (url, ok) in [
            ("http://169.254.169.254", true),
            ("http://[fd00:ec2::254]/", true),
            ("http://127.0.0.1:1338", true),
            ("http://localhost:1338", true),
            ("https://imds.example.com", true),
            ("http://10.0.0.9:1338/", false),
            ("http://imds.example.com", false),
            ("http://169.254.170.2", false),
        ] {
            let env = Env::from_pairs([("AWS_EC2_METADATA_SERVICE_ENDPOINT", url)]);
            match imds_source(&env, None, unused()).unwrap() {
                Ok(_) if ok => {}
                Err(e) if !ok => {
                    assert!(
                        e.message.starts_with(
                            "AWS_EC2_METADATA_SERVICE_ENDPOINT: refusing plain http://"
                        ),
                        "{url}: {e}"
                    );
                    assert!(e.hint.unwrap().contains("169.254.169.254"));
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
