//! The container credentials source: ECS task roles, EKS Pod Identity and any
//! local HTTP credentials endpoint (AWS SDKs and Tools Reference Guide,
//! "Container credential provider",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html>;
//! Rust `aws-config` `src/ecs.rs`).
//!
//! Owns: choosing the endpoint and its `Authorization` header from the
//! environment (`container_source`), and the JSON credentials reader shared
//! with IMDS ([`parse_json_credentials`]). The request goes through
//! [`crate::aws::service`].
//! Refuses: plain HTTP to any host but loopback, `localhost` and the ECS/EKS
//! link-local addresses, decided by the crate's one plain-HTTP rule
//! ([`crate::url`]) without resolving a name; a token with a line break or
//! control character; going through an HTTP proxy; printing the token anywhere.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{Credentials, Env, SourceError};
use crate::aws::endpoint::ServiceUrl;
use crate::aws::error::AwsError;
use crate::aws::service::{Call, CallPolicy, Service};
use crate::fs::read_secret;
use crate::http::{ClientSettings, Method, RequestTimeouts, Transport, check_header_value};
use crate::json::{self, JsonError, Object};
use crate::retry;
use crate::secret::Secret;
use crate::text::{MAX_SERVER_TEXT, clean};
use crate::url::{PlainHttp, Url, UrlError};

/// The ECS credentials host a relative URI is appended to.
const ECS_BASE: &str = "http://169.254.170.2";

/// Connection setup bound (2 s), as Rust `aws-config`'s ECS provider.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Response and per-read bound (5 s), as Rust `aws-config`'s ECS provider.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read (64 KiB); a real one is under 4 KiB.
const MAX_BODY: usize = 64 * 1024;

/// The largest token file read (16 KiB); an EKS Pod Identity token is ~1 KiB.
const MAX_TOKEN_FILE: u64 = 16 * 1024;

/// The HTTP client of container endpoints: 2 s to connect, 5 s to send, never
/// through a proxy.
pub(crate) const CLIENT: ClientSettings = ClientSettings {
    connect: CONNECT_TIMEOUT,
    write: READ_TIMEOUT,
    max_body: MAX_BODY as u64,
    max_header: crate::http::DEFAULT_MAX_HEADER,
    env_proxy: false,
};

/// One fetch: 5 s for the answer and between reads, 10 s in all; 3 attempts on
/// connection failures and 5xx answers (after about 100 ms, then 200 ms).
/// Timeouts are not tried again: each already costs 5 s.
const CALL: CallPolicy = CallPolicy {
    timeouts: RequestTimeouts {
        response: READ_TIMEOUT,
        per_read: Some(READ_TIMEOUT),
        total: Some(Duration::from_secs(10)),
    },
    max_answer: MAX_BODY,
    retry: retry::Policy {
        attempts: 3,
        base: Duration::from_millis(100),
        after_timeout: false,
        any_server_error: true,
    },
};

/// Where the `Authorization` header value comes from.
enum Authorization {
    None,
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`, checked once.
    Value(Secret),
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, read and checked on each fetch.
    File(PathBuf),
}

/// A configured container credentials endpoint. Build it with
/// [`container_source`]; each [`credentials`](Self::credentials) call fetches
/// anew (the chain caches). `Debug` shows the endpoint and where the token comes
/// from, never the token.
pub(crate) struct ContainerSource {
    service: Service,
    /// The path and query of every request.
    target: String,
    /// The path as written, for messages (the query may carry a credential).
    path: String,
    authorization: Authorization,
}

impl fmt::Debug for ContainerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.authorization {
            Authorization::None => "none".to_owned(),
            Authorization::Value(_) => "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_owned(),
            Authorization::File(p) => format!("file {}", p.display()),
        };
        f.debug_struct("ContainerSource")
            .field("url", &self.describe())
            .field("authorization", &auth)
            .finish()
    }
}

/// The container source configured in `env`, sending through `transport`
/// (built with [`CLIENT`]).
///
/// `None` when neither `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` nor
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` is set (blank counts as unset): not
/// configured, the chain moves on. The relative URI wins (as Rust
/// `aws-config` and botocore have it) and is appended to [`ECS_BASE`]; a full
/// URI must pass [`check_full_uri`]. The `Authorization` header comes from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read again on every fetch) or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
///
/// # Errors
/// `Some(Err(_))` when configured but unusable: a relative URI not starting with
/// `/`, a full URI that is malformed or names a host that is not allowed, or an
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN` with a line break or control character.
/// Nothing is sent over the network to find out.
pub(crate) fn container_source(
    env: &Env,
    transport: Arc<dyn Transport>,
) -> Option<Result<ContainerSource, SourceError>> {
    let relative = env.get_nonblank("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    let full = env.get_nonblank("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    let url = match (relative, full) {
        (None, None) => return None,
        (Some(path), _) => {
            let url = Some(&path)
                .filter(|p| p.starts_with('/') && !p.contains(' '))
                .and_then(|p| Url::parse(&format!("{ECS_BASE}{p}")).ok());
            match url {
                Some(url) => url,
                None => {
                    return Some(Err(SourceError::new(
                        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: expected a path starting with '/' and without spaces",
                    )
                    .with_hint("ECS sets this variable itself; unset it outside ECS")));
                }
            }
        }
        (None, Some(full)) => match check_full_uri(&full) {
            Ok(url) => url,
            Err(why) => {
                return Some(Err(SourceError::new(format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI: {why}"
                ))
                .with_hint(
                    "use an https:// URL, or plain http:// only to a loopback address, localhost, 169.254.170.2 (ECS), 169.254.170.23 or [fd00:ec2::23] (EKS Pod Identity)",
                )
                .caused_by(why)));
            }
        },
    };
    let authorization =
        if let Some(path) = env.get_nonblank("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Authorization::File(PathBuf::from(path))
        } else if let Some(token) = env.secret("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            if let Err(why) = check_header_value(token.expose()) {
                return Some(Err(SourceError::new(format!(
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN {why}"
                ))
                .caused_by(why)));
            }
            Authorization::Value(token)
        } else {
            Authorization::None
        };
    let path = if url.path.is_empty() { "/" } else { &url.path };
    let target = match &url.query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    Some(Ok(ContainerSource {
        service: Service::new(
            "container credentials",
            ServiceUrl::origin(&url),
            transport,
            CALL,
        ),
        target,
        path: url.path.clone(),
        authorization,
    }))
}

/// Checks an `AWS_CONTAINER_CREDENTIALS_FULL_URI` value: an `http://` or
/// `https://` URL without user information or spaces; `https` may name any
/// host, plain `http` only a loopback IP literal (`127.0.0.0/8`, `[::1]`),
/// `localhost`, `169.254.170.2` (ECS), `169.254.170.23` or `[fd00:ec2::23]`
/// (EKS Pod Identity) — [`PlainHttp::ContainerCredentials`].
///
/// Host names other than `localhost` are refused over `http` without being
/// resolved, as botocore does. Rust `aws-config` resolves them and accepts a name
/// whose addresses are all allowed; we do not, so that no network is used to
/// decide and a name cannot resolve to loopback at the check and elsewhere at the
/// request (DNS rebinding), sending the token in clear text.
///
/// # Errors
/// [`UrlError`] saying why, naming the host but never the whole URL (its query
/// could carry a credential).
fn check_full_uri(uri: &str) -> Result<Url, UrlError> {
    if uri.trim().contains(' ') {
        return Err(UrlError(
            "expected a URL without spaces or control characters".into(),
        ));
    }
    let url = Url::parse(uri)?;
    url.check_plain_http(PlainHttp::ContainerCredentials)?;
    Ok(url)
}

impl ContainerSource {
    /// The endpoint without its query, for logs and the chain's "tried" list.
    pub(crate) fn describe(&self) -> String {
        format!("{}{}", self.service.endpoint(), self.path)
    }

    /// Fetches credentials from the endpoint: `GET` with
    /// `Accept: application/json` and, when configured, `Authorization: <token>`
    /// (verbatim, no `Bearer`; the token file is read again on every call, as
    /// EKS rotates it). Connection failures and 5xx answers are tried again as
    /// [`CALL`] says. The answer is read by [`parse_json_credentials`]; the
    /// credentials' `source` is `container credentials from <endpoint>`.
    ///
    /// # Errors
    /// [`SourceError`] when the token file cannot be read or holds an invalid
    /// token, the endpoint cannot be reached, it answers with a non-2xx status
    /// (the error holds the status and the answer's code and message), or the
    /// answer is not valid credentials.
    pub(crate) fn credentials(&self) -> Result<Credentials, SourceError> {
        let token = self.token()?;
        let mut headers: Vec<(&str, &str)> = vec![("accept", "application/json")];
        if let Some(t) = &token {
            headers.push(("authorization", t.expose()));
        }
        let what = format!("container credentials from {}", self.describe());
        let call = Call {
            method: Method::Get,
            path: &self.target,
            headers: &headers,
            body: b"",
        };
        let answer = self
            .service
            .fetch(&call, None)
            .map_err(|e| SourceError::new(e.failure(&what)).caused_by(e))?;
        if !answer.is_success() {
            let status = answer.status;
            let error = AwsError::parse(&answer.headers, answer.body.clone());
            let mut message = format!("{what}: HTTP {status}");
            match (&error.error_type, &error.message) {
                (Some(c), Some(m)) => message.push_str(&format!(": {c}: {m}")),
                (Some(one), None) | (None, Some(one)) => message.push_str(&format!(": {one}")),
                (None, None) => {}
            }
            let e = SourceError::new(message).caused_by(error);
            return Err(if status == 401 || status == 403 {
                e.with_hint(
                    "check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE / AWS_CONTAINER_AUTHORIZATION_TOKEN",
                )
            } else {
                e
            });
        }
        parse_json_credentials(&answer.body, &what)
            .map_err(|why| SourceError::new(format!("{what}: the answer {why}")).caused_by(why))
    }

    /// The `Authorization` value: the token file's contents, trimmed, else the
    /// variable's value.
    fn token(&self) -> Result<Option<Secret>, SourceError> {
        let path = match &self.authorization {
            Authorization::None => return Ok(None),
            Authorization::Value(v) => return Ok(Some(v.clone())),
            Authorization::File(path) => path,
        };
        let fail = |why: String| {
            SourceError::new(format!(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {why}",
                path.display()
            ))
        };
        let text = match read_secret(path, MAX_TOKEN_FILE) {
            Ok(Some(text)) => text,
            Ok(None) => return Err(fail("no such file".into())),
            Err(why) => return Err(fail(why.to_string()).caused_by(why)),
        };
        let token = text.expose().trim();
        if token.is_empty() {
            return Err(fail("the file is empty".into()));
        }
        check_header_value(token).map_err(|why| fail(why.to_string()).caused_by(why))?;
        Ok(Some(Secret::from(token)))
    }
}

/// Why a JSON credentials answer cannot be used. Names fields, never values
/// (a server's `Code` and `Message` are shown, sanitised: they hold no secret).
#[derive(Debug)]
pub(crate) enum AnswerError {
    /// Not the JSON expected.
    Json(JsonError),
    /// `Code` is not `Success`.
    Refused {
        /// The `Code`.
        code: String,
        /// The `Message`, if any.
        message: Option<String>,
    },
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Json(e) => e.fmt(f),
            AnswerError::Refused { code, message } => {
                write!(f, "has code {code:?}")?;
                match message {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for AnswerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AnswerError::Json(e) => Some(e),
            AnswerError::Refused { .. } => None,
        }
    }
}

impl From<JsonError> for AnswerError {
    fn from(e: JsonError) -> Self {
        AnswerError::Json(e)
    }
}

/// Reads the JSON credentials answer of the container and IMDS endpoints
/// (Rust `aws-config` `json_credentials.rs`): `AccessKeyId`,
/// `SecretAccessKey`, `Token` (or `SessionToken`) and `Expiration` (or
/// `ExpiresAt`, RFC 3339) are required; `Code`, when present, must be
/// `Success` (IMDS; absent is accepted as Rust does); other keys (`AccountId`,
/// `RoleArn`, `Type`, `LastUpdated`) are ignored. Names match
/// case-insensitively. The credentials get `source` as their source; the
/// parsed document is overwritten with zeros before this returns.
///
/// # Errors
/// [`AnswerError`], a phrase to follow "the answer": `is not a JSON object`,
/// `has no "Token"`, `has code "AssumeRoleUnauthorizedAccess": <message>`, …
pub(crate) fn parse_json_credentials(
    body: &[u8],
    source: &str,
) -> Result<Credentials, AnswerError> {
    let object = json::Document::parse(body)?;
    read_json_credentials(&object, source)
}

fn read_json_credentials(object: &Object, source: &str) -> Result<Credentials, AnswerError> {
    if let Some(code) = json::field(object, "Code") {
        let code = code.as_str().unwrap_or("");
        if code != "Success" {
            return Err(AnswerError::Refused {
                code: clean(code, MAX_SERVER_TEXT),
                message: json::field(object, "Message")
                    .and_then(serde_json::Value::as_str)
                    .map(|m| clean(m, MAX_SERVER_TEXT)),
            });
        }
    }
    let access_key_id = json::required_string(object, "AccessKeyId")?;
    let secret = json::required_string(object, "SecretAccessKey")?;
    let token = one_of(object, "Token", "SessionToken")?;
    let expiry = match json::optional_time(object, "Expiration")? {
        Some(t) => t,
        None => {
            json::optional_time(object, "ExpiresAt")?.ok_or(JsonError::Missing("Expiration"))?
        }
    };
    Ok(Credentials::new(
        access_key_id,
        Secret::from(secret),
        Some(Secret::from(token)),
        Some(expiry),
        source,
    ))
}

/// The string under `name`, else under `alias`; the error names `name`.
fn one_of<'a>(
    object: &'a Object,
    name: &'static str,
    alias: &'static str,
) -> Result<&'a str, JsonError> {
    match json::optional_string(object, name)? {
        Some(s) => Ok(s),
        None => json::required_string(object, alias).map_err(|_| JsonError::Missing(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::time::parse_rfc3339;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEJ7//////////TOKENVALUE";

    fn answer() -> String {
        format!(
            r#"{{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"{SECRET}","Token":"{TOKEN}","Expiration":"2030-01-01T00:00:00Z","AccountId":"111122223333","RoleArn":"arn:aws:iam::111122223333:role/r"}}"#
        )
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("mcp-sigv4-container-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn source(pairs: &[(&str, &str)]) -> Result<ContainerSource, SourceError> {
        source_to(&unused(), pairs)
    }

    fn source_to(
        server: &Arc<FakeTransport>,
        pairs: &[(&str, &str)],
    ) -> Result<ContainerSource, SourceError> {
        container_source(&Env::from_pairs(pairs.iter().copied()), server.clone())
            .expect("configured")
    }

    fn unused() -> Arc<FakeTransport> {
        FakeTransport::start(|s| panic!("unexpected request {} {}", s.method, s.target))
    }

    #[test]
    fn not_configured_without_either_uri() {
        let env = Env::from_pairs([
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "  "),
        ]);
        assert!(container_source(&env, unused()).is_none());
    }

    #[test]
    fn relative_uri_wins_and_goes_to_the_ecs_host() {
        let s = source(&[
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/abc",
            ),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x"),
        ])
        .unwrap();
        assert_eq!(s.describe(), "http://169.254.170.2/v2/credentials/abc");
        let e = source(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/x")]).unwrap_err();
        assert!(e.message.contains("starting with '/'"), "{e}");
    }

    #[test]
    fn full_uri_hosts_are_checked_without_the_network() {
        let allowed = [
            "https://example.com/creds",
            "HTTPS://creds.internal:8443/x?y=1",
            "http://127.0.0.1:8080/creds",
            "http://127.1.2.3/creds",
            "http://[::1]:8080/creds",
            "http://localhost:9911/creds",
            "http://169.254.170.2/v2/credentials",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "http://[fd00:ec2:0::23]:80/v1/credentials",
        ];
        // The messages are the URL module's (the one parser and plain-HTTP rule).
        let refused = [
            (
                "http://example.com/creds",
                "refusing plain http:// to example.com",
            ),
            ("http://localhost.example.com/", "not resolved"),
            (
                "http://169.254.169.254/latest",
                "refusing plain http:// to 169.254.169.254",
            ),
            ("http://10.0.0.1:80/", "refusing plain http:// to 10.0.0.1"),
            (
                "http://[fd00:ec2::254]/",
                "refusing plain http:// to [fd00:ec2::254]",
            ),
            ("http://user:pw@127.0.0.1/", "user information"),
            ("ftp://127.0.0.1/", "found \"ftp\""),
            ("127.0.0.1:8080/creds", "expected a URL such as"),
            ("http:///creds", "the host is missing"),
            ("http://127.0.0.1:http/", "expected a port number"),
            ("http://127.0.0.1/a b", "without spaces"),
        ];
        let mut failures = Vec::new();
        for uri in allowed {
            if let Err(e) = check_full_uri(uri) {
                failures.push(format!("{uri}: refused: {e}"));
            }
        }
        for (uri, expected) in refused {
            match check_full_uri(uri) {
                Ok(_) => failures.push(format!("{uri}: accepted")),
                Err(e) if !e.to_string().contains(expected) => failures.push(format!("{uri}: {e}")),
                Err(_) => {}
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        let e = source(&[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://example.com/creds?secret=x",
        )])
        .unwrap_err();
        assert!(
            e.message
                .starts_with("AWS_CONTAINER_CREDENTIALS_FULL_URI: ")
        );
        assert!(!e.message.contains("secret=x"), "{e}");
        assert!(e.hint.unwrap().contains("https://"));
    }

    #[test]
    fn token_from_env_is_sent_verbatim_with_accept() {
        let server = FakeTransport::start(|_| Reply::json(answer()));
        let s = source_to(
            &server,
            &[
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &format!("{}/creds", server.url()),
                ),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc=="),
            ],
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("abc=="));
        let c = s.credentials().unwrap();
        assert_eq!(c.access_key_id(), "ASIACONTAINER");
        assert_eq!(c.secret_access_key().expose(), SECRET);
        assert_eq!(c.session_token().unwrap().expose(), TOKEN);
        assert_eq!(
            c.expiry(),
            Some(parse_rfc3339("2030-01-01T00:00:00Z").unwrap())
        );
        assert_eq!(
            c.source(),
            format!("container credentials from {}/creds", server.url())
        );
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "GET");
        assert_eq!(seen[0].target, "/creds");
        assert_eq!(seen[0].header("authorization"), Some("Basic abc=="));
        assert_eq!(seen[0].header("accept"), Some("application/json"));
    }

    #[test]
    fn token_file_wins_and_is_read_again_on_each_fetch() {
        let dir = temp_dir("file");
        let file = dir.join("token");
        std::fs::write(&file, "first-token\n").unwrap();
        let server = FakeTransport::start(|_| {
            Reply::json(
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","ExpiresAt":"2030-01-01T00:00:00Z"}"#,
            )
        });
        let s = source_to(
            &server,
            &[
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &format!("{}/pod", server.url()),
                ),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env"),
                (
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                    file.to_str().unwrap(),
                ),
            ],
        )
        .unwrap();
        let c = s.credentials().unwrap();
        assert_eq!(c.session_token().unwrap().expose(), "T");
        std::fs::write(&file, "  second-token  ").unwrap();
        s.credentials().unwrap();
        let seen = server.seen();
        let tokens: Vec<_> = seen.iter().map(|r| r.header("authorization")).collect();
        assert_eq!(tokens, [Some("first-token"), Some("second-token")]);

        // A rotated file with a line break is refused before anything is sent.
        std::fs::write(&file, "a\nb").unwrap();
        let e = s.credentials().unwrap_err();
        assert!(e.message.contains("line break"), "{e}");
        assert!(!e.message.contains("a\nb"));
        std::fs::remove_file(&file).unwrap();
        let e = s.credentials().unwrap_err();
        assert!(e.message.contains("no such file"), "{e}");
        assert_eq!(server.seen().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn line_breaks_in_the_env_token_are_refused() {
        for token in ["abc\r\nX-Evil: 1", "abc\ndef", "abc\u{0}"] {
            let e = source(&[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/x"),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token),
            ])
            .unwrap_err();
            assert!(e.message.starts_with("AWS_CONTAINER_AUTHORIZATION_TOKEN "));
            assert!(!e.message.contains("abc"), "{e}");
        }
    }

    #[test]
    fn error_answers_show_status_code_and_message() {
        let server = FakeTransport::start(|_| {
            Reply::new(
                403,
                "application/json",
                r#"{"code":"AccessDeniedException","message":"token is not valid"}"#,
            )
        });
        let s = source_to(
            &server,
            &[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url()),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "secret-auth-token"),
            ],
        )
        .unwrap();
        let e = s.credentials().unwrap_err();
        assert!(
            e.message
                .ends_with("HTTP 403: AccessDeniedException: token is not valid"),
            "{e}"
        );
        assert!(e.hint.as_deref().unwrap().contains("AUTHORIZATION_TOKEN"));
        assert!(!format!("{e:?}").contains("secret-auth-token"));
        assert_eq!(server.seen().len(), 1, "4xx is not retried");
    }

    #[test]
    fn server_errors_are_tried_again_a_bounded_number_of_times() {
        let count = Arc::new(AtomicUsize::new(0));
        let server = {
            let count = Arc::clone(&count);
            FakeTransport::start(move |_| {
                if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    Reply::new(503, "text/plain", "busy")
                } else {
                    Reply::json(answer())
                }
            })
        };
        let s = source_to(
            &server,
            &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url())],
        )
        .unwrap();
        assert!(s.credentials().is_ok());
        assert_eq!(server.seen().len(), 2);
        assert!(server.seen()[0].header("authorization").is_none());

        let server = FakeTransport::start(|_| Reply::new(500, "text/plain", "down"));
        let s = source_to(
            &server,
            &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url())],
        )
        .unwrap();
        let e = s.credentials().unwrap_err();
        assert!(e.message.ends_with("HTTP 500"), "{e}");
        assert_eq!(server.seen().len(), CALL.retry.attempts as usize);
    }

    #[test]
    fn json_answers_are_checked_field_by_field_without_values() {
        let cases = [
            ("[1]".to_owned(), "is not a JSON object"),
            (
                format!(
                    r#"{{"SecretAccessKey":"{SECRET}","Token":"{TOKEN}","Expiration":"2030-01-01T00:00:00Z"}}"#
                ),
                "has no \"AccessKeyId\"",
            ),
            (
                format!(
                    r#"{{"AccessKeyId":"A","SecretAccessKey":"{SECRET}","Expiration":"2030-01-01T00:00:00Z"}}"#
                ),
                "has no \"Token\"",
            ),
            (
                format!(r#"{{"AccessKeyId":"A","SecretAccessKey":"{SECRET}","Token":"{TOKEN}"}}"#),
                "has no \"Expiration\"",
            ),
            (
                format!(
                    r#"{{"AccessKeyId":"A","SecretAccessKey":"{SECRET}","Token":"{TOKEN}","Expiration":"{SECRET}"}}"#
                ),
                "not an RFC 3339 time",
            ),
            (
                format!(
                    r#"{{"Code":"AssumeRoleUnauthorizedAccess","Message":"cannot assume","AccessKeyId":"A","SecretAccessKey":"{SECRET}"}}"#
                ),
                "has code \"AssumeRoleUnauthorizedAccess\": cannot assume",
            ),
        ];
        let mut failures = Vec::new();
        for (body, expected) in &cases {
            match parse_json_credentials(body.as_bytes(), "test") {
                Ok(_) => failures.push(format!("{expected}: accepted")),
                Err(e) => {
                    let e = e.to_string();
                    assert!(!e.contains(SECRET) && !e.contains(TOKEN), "{e}");
                    if !e.contains(expected) {
                        failures.push(format!("{expected}: got {e}"));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        let ok = format!(
            r#"{{"code":"Success","accesskeyid":"A","secretaccesskey":"{SECRET}","token":"{TOKEN}","expiration":"2030-01-01T00:00:00Z"}}"#
        );
        assert!(parse_json_credentials(ok.as_bytes(), "test").is_ok());
    }
}
