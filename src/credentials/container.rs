//! The container credentials source: ECS task roles, EKS Pod Identity and any
//! local HTTP credentials endpoint.
//!
//! Owns: choosing the endpoint from `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
//! (first, as Rust `aws-config` and botocore do) or
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI`, checking that a full URI may be used,
//! the `Authorization` header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`
//! (re-read on every fetch) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`, and reading
//! the JSON answer (`../shared/spec/aws-credentials.md` §8). Also the JSON
//! credentials reader shared with IMDS ([`parse_json_credentials`]), as Rust's
//! `json_credentials.rs` is shared by its ECS and IMDS providers.
//! Refuses: plain HTTP to any host but loopback, `localhost` and the ECS/EKS
//! link-local addresses; resolving host names to decide that (see
//! [`check_full_uri`]); a token with a line break or control character; going
//! through an HTTP proxy; printing the token anywhere.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::process::{field, optional_string, required_string};
use super::profile::read_bounded;
use super::{Credentials, Env, SourceError};
use crate::http::{
    Client, ClientSettings, ErrorKind, HttpError, Method, RequestTimeouts, TlsRoots,
};
use crate::secret::Secret;
use crate::time::parse_rfc3339;

/// The ECS credentials host a relative URI is appended to.
pub const ECS_BASE: &str = "http://169.254.170.2";

/// Connection setup bound (2 s), as Rust `aws-config`'s ECS provider.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Response and per-read bound (5 s), as Rust `aws-config`'s ECS provider.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Tries per fetch (3): connection failures and 5xx answers are tried again
/// after 100 ms, then 200 ms. Timeouts are not (each already costs 5 s).
pub const ATTEMPTS: u32 = 3;

/// The largest answer read (64 KiB); a real one is under 4 KiB.
const MAX_BODY: usize = 64 * 1024;

/// The largest token file read (16 KiB); an EKS Pod Identity token is ~1 KiB.
const MAX_TOKEN_FILE: u64 = 16 * 1024;

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
pub struct ContainerSource {
    url: String,
    authorization: Authorization,
    client: Client,
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

/// The container source configured in `env` (spec §8; AWS SDKs and Tools
/// Reference Guide, "Container credential provider").
///
/// `None` when neither `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` nor
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` is set (blank counts as unset): not
/// configured, the chain moves on. The relative URI wins and is appended to
/// [`ECS_BASE`]; a full URI must pass [`check_full_uri`].
///
/// # Errors
/// `Some(Err(_))` when configured but unusable: a relative URI not starting with
/// `/`, a full URI that is malformed or names a host that is not allowed, or an
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN` with a line break or control character.
/// Nothing is sent over the network to find out.
pub fn container_source(env: &Env, tls: &TlsRoots) -> Option<Result<ContainerSource, SourceError>> {
    let relative = env.get_nonblank("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    let full = env.get_nonblank("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    let url = match (relative, full) {
        (None, None) => return None,
        (Some(path), _) => {
            if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c == ' ') {
                return Some(Err(SourceError::new(
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: expected a path starting with '/' and without spaces",
                )
                .with_hint("ECS sets this variable itself; unset it outside ECS")));
            }
            format!("{ECS_BASE}{path}")
        }
        (None, Some(full)) => match check_full_uri(&full) {
            Ok(()) => full,
            Err(why) => {
                return Some(Err(SourceError::new(format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI: {why}"
                ))
                .with_hint(
                    "use an https:// URL, or plain http:// only to a loopback address, localhost, 169.254.170.2 (ECS), 169.254.170.23 or [fd00:ec2::23] (EKS Pod Identity)",
                )));
            }
        },
    };
    let authorization =
        if let Some(path) = env.get_nonblank("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Authorization::File(PathBuf::from(path))
        } else if let Some(token) = env.get_nonblank("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            if let Err(why) = check_header_value(&token) {
                return Some(Err(SourceError::new(format!(
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN {why}"
                ))));
            }
            Authorization::Value(Secret::new(token))
        } else {
            Authorization::None
        };
    let client = Client::new(
        ClientSettings {
            connect: CONNECT_TIMEOUT,
            write: READ_TIMEOUT,
            max_body: MAX_BODY as u64,
            env_proxy: false,
        },
        tls,
    );
    Some(Ok(ContainerSource {
        url,
        authorization,
        client,
    }))
}

/// Checks an `AWS_CONTAINER_CREDENTIALS_FULL_URI` value: an `http://` or
/// `https://` URL without user information; `https` may name any host, plain
/// `http` only a loopback IP literal (`127.0.0.0/8`, `[::1]`), `localhost`,
/// `169.254.170.2` (ECS), `169.254.170.23` or `[fd00:ec2::23]` (EKS Pod
/// Identity).
///
/// Host names other than `localhost` are refused over `http` without being
/// resolved, as botocore does. Rust `aws-config` resolves them and accepts a name
/// whose addresses are all allowed; we do not, so that no network is used to
/// decide and a name cannot resolve to loopback at the check and elsewhere at the
/// request (DNS rebinding), sending the token in clear text.
///
/// # Errors
/// Why the value is refused, naming the host but never the whole URL (its query
/// could carry a credential).
pub fn check_full_uri(uri: &str) -> Result<(), String> {
    if uri.chars().any(|c| c.is_control() || c == ' ') {
        return Err("expected a URL without spaces or control characters".into());
    }
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or("expected an http:// or https:// URL")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "expected an http:// or https:// URL, found scheme {scheme:?}"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("expected a URL without user information ('user@')".into());
    }
    let host =
        host_of(authority).ok_or("expected a host (and an optional numeric port) in the URL")?;
    if scheme == "https" {
        return Ok(());
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(());
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() || is_container_ip(&ip) => Ok(()),
        Ok(ip) => Err(format!(
            "plain http is not allowed to {ip}: it is not loopback or a container credentials address"
        )),
        Err(_) => Err(format!(
            "plain http is not allowed to host {host:?}: only IP addresses and localhost are accepted (the name is not resolved)"
        )),
    }
}

/// The ECS and EKS Pod Identity credential addresses.
fn is_container_ip(ip: &IpAddr) -> bool {
    const ALLOWED: [&str; 3] = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"];
    ALLOWED
        .iter()
        .any(|a| a.parse::<IpAddr>().ok() == Some(*ip))
}

/// The host of `host[:port]` or `[v6][:port]` (brackets removed); `None` when it
/// is empty or the port is not a number.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        port.parse::<u16>().ok()?;
    }
    (!host.is_empty()).then_some(host)
}

/// Refuses what an HTTP header value cannot hold: CR, LF and other control
/// characters (tab is allowed). The message never shows the value.
fn check_header_value(value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n']) {
        return Err("contains a line break; expected a single-line token".into());
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("contains a control character; expected a printable token".into());
    }
    Ok(())
}

impl ContainerSource {
    /// The endpoint without its query, for logs and the chain's "tried" list.
    pub fn describe(&self) -> String {
        self.url.split(['?', '#']).next().unwrap_or("").to_owned()
    }

    /// Fetches credentials from the endpoint (spec §8): `GET` with
    /// `Accept: application/json` and, when configured, `Authorization: <token>`
    /// (verbatim, no `Bearer`; the token file is read again on every call, as
    /// EKS rotates it). Connection failures and 5xx answers are tried up to
    /// [`ATTEMPTS`] times. The answer is read by [`parse_json_credentials`];
    /// the credentials' `source` is `container credentials from <endpoint>`.
    ///
    /// # Errors
    /// [`SourceError`] when the token file cannot be read or holds an invalid
    /// token, the endpoint cannot be reached, it answers with a non-2xx status
    /// (the error holds the status and the answer's `code`/`message` when it is
    /// JSON), or the answer is not valid credentials.
    pub fn credentials(&self) -> Result<Credentials, SourceError> {
        let token = self.token()?;
        let mut headers: Vec<(&str, &str)> = vec![("accept", "application/json")];
        if let Some(t) = &token {
            headers.push(("authorization", t.expose()));
        }
        let what = format!("container credentials from {}", self.describe());
        let timeouts = RequestTimeouts {
            response: READ_TIMEOUT,
            per_read: Some(READ_TIMEOUT),
            total: Some(READ_TIMEOUT * 2),
        };
        let mut attempt = 1;
        // Bounded: at most ATTEMPTS passes.
        let (status, body) = loop {
            let result = self
                .client
                .send(Method::Get, &self.url, &headers, b"", timeouts)
                .and_then(|mut r| Ok((r.status, r.read_body(MAX_BODY)?)));
            let retry = match &result {
                Ok((status, _)) => *status >= 500,
                Err(e) => matches!(e.kind, ErrorKind::Connect | ErrorKind::Io),
            };
            if !retry || attempt >= ATTEMPTS {
                break result.map_err(|e| fetch_failed(&what, &e))?;
            }
            log::debug!("{what}: attempt {attempt} failed, trying again");
            std::thread::sleep(Duration::from_millis(100 << (attempt - 1)));
            attempt += 1;
        };
        if !(200..300).contains(&status) {
            let mut message = format!("{what}: HTTP {status}");
            if let Some(detail) = error_detail(&body) {
                message.push_str(": ");
                message.push_str(&detail);
            }
            let e = SourceError::new(message);
            return Err(if status == 401 || status == 403 {
                e.with_hint(
                    "check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE / AWS_CONTAINER_AUTHORIZATION_TOKEN",
                )
            } else {
                e
            });
        }
        parse_json_credentials(&body, &what)
            .map_err(|why| SourceError::new(format!("{what}: the answer {why}")))
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
        let text = match read_bounded(Path::new(path), MAX_TOKEN_FILE) {
            Ok(Some(text)) => Secret::new(text),
            Ok(None) => return Err(fail("no such file".into())),
            Err(why) => return Err(fail(why)),
        };
        let token = text.expose().trim();
        if token.is_empty() {
            return Err(fail("the file is empty".into()));
        }
        check_header_value(token).map_err(fail)?;
        Ok(Some(Secret::from(token)))
    }
}

fn fetch_failed(what: &str, e: &HttpError) -> SourceError {
    SourceError::new(format!("{what}: {e}"))
}

/// `code: message` (or one of them) from a JSON error answer, cut to 300
/// characters with control characters removed; `None` when the answer is not a
/// JSON object with either.
fn error_detail(body: &[u8]) -> Option<String> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let text = |name: &str| {
        field(&object, name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .take(300)
                    .collect::<String>()
            })
    };
    match (text("code"), text("message")) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

/// Reads the JSON credentials answer of the container and IMDS endpoints
/// (spec §8, §9; Rust `aws-config` `json_credentials.rs`): `AccessKeyId`,
/// `SecretAccessKey`, `Token` (or `SessionToken`) and `Expiration` (or
/// `ExpiresAt`, RFC 3339) are required; `Code`, when present, must be
/// `Success` (IMDS; absent is accepted as Rust does); other keys (`AccountId`,
/// `RoleArn`, `Type`, `LastUpdated`) are ignored. Names match
/// case-insensitively. The credentials get `source` as their source.
///
/// # Errors
/// A phrase to follow "the answer": `is not a JSON object`, `has no "Token"`,
/// `has code AssumeRoleUnauthorizedAccess: <message>`, … — naming fields,
/// never their values (a server's `Code`/`Message` are shown; they hold no
/// secret).
pub fn parse_json_credentials(body: &[u8], source: &str) -> Result<Credentials, String> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Err("is not a JSON object".into());
    };
    if let Some(code) = field(&object, "Code") {
        let code = code.as_str().unwrap_or("");
        if code != "Success" {
            let mut why = format!("has code {:?}", cut_clean(code));
            if let Some(m) = field(&object, "Message").and_then(Value::as_str) {
                why.push_str(": ");
                why.push_str(&cut_clean(m));
            }
            return Err(why);
        }
    }
    let access_key_id = required_string(&object, "AccessKeyId")?;
    let secret = required_string(&object, "SecretAccessKey")?;
    let token = one_of(&object, "Token", "SessionToken")?;
    let expiration = one_of(&object, "Expiration", "ExpiresAt")?;
    let expiry = parse_rfc3339(expiration).map_err(|_| {
        "has an \"Expiration\" that is not an RFC 3339 time such as 2025-01-31T12:00:00Z".to_owned()
    })?;
    Ok(Credentials::new(
        access_key_id,
        Secret::from(secret),
        Some(Secret::from(token)),
        Some(expiry),
        source,
    ))
}

/// The string under `name`, else under `alias`; the error names `name`.
fn one_of<'a>(object: &'a Map<String, Value>, name: &str, alias: &str) -> Result<&'a str, String> {
    match optional_string(object, name)? {
        Some(s) => Ok(s),
        None => required_string(object, alias).map_err(|_| format!("has no \"{name}\"")),
    }
}

fn cut_clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{Reply, TestServer};
    use std::sync::Arc;
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
        container_source(
            &Env::from_pairs(pairs.iter().copied()),
            &TlsRoots::builtin(),
        )
        .expect("configured")
    }

    #[test]
    fn not_configured_without_either_uri() {
        let env = Env::from_pairs([
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "t"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "  "),
        ]);
        assert!(container_source(&env, &TlsRoots::builtin()).is_none());
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
        let refused = [
            ("http://example.com/creds", "host \"example.com\""),
            ("http://localhost.example.com/", "the name is not resolved"),
            (
                "http://169.254.169.254/latest",
                "not allowed to 169.254.169.254",
            ),
            ("http://10.0.0.1:80/", "not allowed to 10.0.0.1"),
            ("http://[fd00:ec2::254]/", "not allowed to fd00:ec2::254"),
            ("http://user:pw@127.0.0.1/", "user information"),
            ("ftp://127.0.0.1/", "found scheme \"ftp\""),
            (
                "127.0.0.1:8080/creds",
                "expected an http:// or https:// URL",
            ),
            ("http:///creds", "expected a host"),
            ("http://127.0.0.1:http/", "expected a host"),
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
                Ok(()) => failures.push(format!("{uri}: accepted")),
                Err(e) if !e.contains(expected) => failures.push(format!("{uri}: {e}")),
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
        let server = TestServer::start(|_| Reply::json(answer()));
        let s = source(&[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("{}/creds", server.url()),
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc=="),
        ])
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
        let server = TestServer::start(|_| {
            Reply::json(
                r#"{"AccessKeyId":"A","SecretAccessKey":"S","SessionToken":"T","ExpiresAt":"2030-01-01T00:00:00Z"}"#,
            )
        });
        let s = source(&[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("{}/pod", server.url()),
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env"),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                file.to_str().unwrap(),
            ),
        ])
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
        let server = TestServer::start(|_| {
            Reply::new(
                403,
                "application/json",
                r#"{"code":"AccessDeniedException","message":"token is not valid"}"#,
            )
        });
        let s = source(&[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "secret-auth-token"),
        ])
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
            TestServer::start(move |_| {
                if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    Reply::new(503, "text/plain", "busy")
                } else {
                    Reply::json(answer())
                }
            })
        };
        let s = source(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url())]).unwrap();
        assert!(s.credentials().is_ok());
        assert_eq!(server.seen().len(), 2);
        assert!(server.seen()[0].header("authorization").is_none());

        let server = TestServer::start(|_| Reply::new(500, "text/plain", "down"));
        let s = source(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url())]).unwrap();
        let e = s.credentials().unwrap_err();
        assert!(e.message.ends_with("HTTP 500"), "{e}");
        assert_eq!(server.seen().len(), ATTEMPTS as usize);
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
