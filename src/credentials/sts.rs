//! AWS STS over its query protocol, signed with our own SigV4 signer.
//!
//! Owns: `AssumeRole` (SigV4, service `sts`), `AssumeRoleWithWebIdentity`
//! (unsigned) and `GetCallerIdentity` (SigV4) — `../shared/spec/aws-credentials.md`
//! §7.3 and §7.4 — against the **regional** endpoint
//! `https://sts.<region>.amazonaws.com` (`.amazonaws.com.cn` for `cn-` regions)
//! or an override; the form body (`Action=…&Version=2011-06-15&…`, every value
//! `UriEncode`d so the bytes are unambiguous); a minimal XML reader for the few
//! elements of the answers; error messages carrying STS's code, message and
//! request id with a hint; a bounded retry of throttling, 5xx and connection
//! failures. Also [`ServiceUrl`], the endpoint-URL rules that SSO shares.
//! Refuses: a DOCTYPE or entity declaration in an answer (no entity expansion),
//! answers larger than [`MAX_RESPONSE_BYTES`], plain `http://` to a host that is
//! not loopback, and putting a secret access key, session token or web identity
//! token in any error, log line or `Debug` output.

use std::fmt;
use std::time::{Duration, SystemTime};

use p256::elliptic_curve::zeroize::Zeroize;

use super::{Credentials, SourceError};
use crate::http::{Client, ClientSettings, ErrorKind, HttpError, Method, RequestTimeouts};
use crate::secret::Secret;
use crate::sigv4::canonical::uri_encode;
use crate::sigv4::{Algorithm, SignableRequest, Signer, SigningParams, SigningSettings};
use crate::time::{AmzDate, format_rfc3339, parse_rfc3339};

/// The STS API version sent as `Version=`.
pub const API_VERSION: &str = "2011-06-15";

/// The `Content-Type` of every STS request (signed for the signed operations).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The SigV4 signing name of STS.
pub const SIGNING_NAME: &str = "sts";

/// The largest STS answer read, in bytes (64 KiB). Real answers are 1–4 KiB;
/// a longer one is an error, never truncated.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Connection settings for the [`Client`] given to [`Sts::new`] (and to the SSO
/// source): connect (DNS, TCP and TLS) 5 s, sending 10 s, bodies cut off past
/// 1 MiB, `HTTPS_PROXY`/`NO_PROXY` honoured (corporate networks reach STS and
/// IAM Identity Center through proxies).
pub const CLIENT_SETTINGS: ClientSettings = ClientSettings {
    connect: Duration::from_secs(5),
    write: Duration::from_secs(10),
    max_body: 1 << 20,
    env_proxy: true,
};

/// Timeouts of one STS request: the response head within 30 s, no read silence
/// longer than 30 s, the whole exchange within 60 s.
pub const REQUEST_TIMEOUTS: RequestTimeouts = RequestTimeouts {
    response: Duration::from_secs(30),
    per_read: Some(Duration::from_secs(30)),
    total: Some(Duration::from_secs(60)),
};

/// Attempts per operation: the first and at most two retries (after 100 ms and
/// 200 ms) of a connection failure, a timeout, an HTTP 5xx or a throttling error
/// — the AWS SDKs' "standard" retry mode also makes three attempts. Each attempt
/// is signed afresh.
pub const MAX_ATTEMPTS: u32 = 3;

const RETRY_BASE_DELAY: Duration = Duration::from_millis(100);

/// A credential-service endpoint (`https://host[:port][/path]`), split into what
/// a request needs: the `Host` header value and the base path.
///
/// Rules: scheme `https`, or `http` only for a loopback host (`localhost`,
/// `127.0.0.0/8`, `[::1]`) — credentials and tokens never travel unencrypted
/// off the machine; no user info, query or fragment; a default port (`:443`,
/// `:80`) is dropped so the `Host` header matches what the SDKs sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUrl {
    scheme: String,
    authority: String,
    path: String,
}

impl ServiceUrl {
    /// Parses an endpoint URL such as `https://sts.us-east-1.amazonaws.com` or
    /// `http://127.0.0.1:4566/`.
    ///
    /// # Errors
    /// A message naming what is wrong (`expected …, found …`); the URL is echoed,
    /// since endpoint URLs are not secret (user info is refused before echoing).
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("expected a URL such as https://host, found {url:?}"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => ":443",
            "http" => ":80",
            _ => {
                return Err(format!(
                    "expected the scheme https:// (or http:// for a loopback host), found {scheme:?}"
                ));
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err("user info (user:password@) in an endpoint URL is not supported".into());
        }
        if path.contains(['?', '#']) {
            return Err(format!(
                "expected an endpoint URL without query or fragment, found {url:?}"
            ));
        }
        let authority_ok = !authority.is_empty()
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
        if !authority_ok {
            return Err(format!("expected a host name or address in {url:?}"));
        }
        let path_ok = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&b));
        if !path_ok {
            return Err(format!(
                "expected a percent-encoded path in {url:?} (no spaces or other raw bytes)"
            ));
        }
        let authority = authority
            .strip_suffix(default_port)
            .unwrap_or(authority)
            .to_owned();
        if scheme == "http" && !is_loopback_authority(&authority) {
            return Err(format!(
                "refusing plain http:// to {authority}: credentials and tokens would travel unencrypted; use https:// (http:// is allowed only for loopback hosts)"
            ));
        }
        Ok(ServiceUrl {
            scheme,
            authority,
            path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The `Host` header value: host, and `:port` when not the default.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request path for `operation_path` (which starts with `/`) under the
    /// endpoint's own path: `/` for STS at `https://sts.…`, `/base/` for
    /// `https://proxy/base`.
    pub fn path(&self, operation_path: &str) -> String {
        format!("{}{operation_path}", self.path)
    }

    /// The full URL for `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}://{}{}", self.scheme, self.authority, path_and_query)
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.path)
    }
}

/// True for `localhost`, `127.x.y.z` and `[::1]` (with any port). No DNS lookup:
/// a name that merely resolves to loopback is not trusted with plain HTTP here.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, _)) => h,
            None => return false,
        }
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Checks that `region` can be part of a host name: 1–50 characters of
/// `a-z 0-9 -`.
///
/// # Errors
/// [`SourceError`] naming the bad value, with a hint to set the region.
pub fn check_region(region: &str) -> Result<(), SourceError> {
    let ok = !region.is_empty()
        && region.len() <= 50
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SourceError::new(format!(
            "invalid AWS region: expected a name such as us-east-1, found {region:?}"
        ))
        .with_hint("set AWS_REGION or the profile's `region`"))
    }
}

/// The regional STS endpoint for `region`: `https://sts.<region>.amazonaws.com`,
/// or `https://sts.<region>.amazonaws.com.cn` for the China regions (`cn-…`).
/// Other partitions (GovCloud uses the default suffix; ISO and EUSC do not) need
/// an endpoint override.
///
/// # Errors
/// [`SourceError`] when `region` is not a valid region name ([`check_region`]).
pub fn regional_endpoint(region: &str) -> Result<String, SourceError> {
    check_region(region)?;
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://sts.{region}.{suffix}"))
}

/// The identity behind a set of credentials, from `GetCallerIdentity`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account id, e.g. `123456789012`.
    pub account: String,
    /// The caller's ARN, e.g. `arn:aws:sts::123456789012:assumed-role/Dev/alice`.
    pub arn: String,
    /// The unique id of the caller, e.g. `AROA…:alice` or `AIDA…`.
    pub user_id: String,
}

/// The STS operations this client calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    AssumeRole,
    AssumeRoleWithWebIdentity,
    GetCallerIdentity,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::AssumeRole => "AssumeRole",
            Operation::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
            Operation::GetCallerIdentity => "GetCallerIdentity",
        }
    }
}

/// An STS client for one region and endpoint.
///
/// Implements `../shared/spec/aws-credentials.md` §7.3 (`AssumeRole`), §7.4
/// (`AssumeRoleWithWebIdentity`) and `GetCallerIdentity`, each a `POST` of a
/// form to the endpoint's root path, the answer read as XML.
pub struct Sts {
    client: Client,
    region: String,
    endpoint: ServiceUrl,
    signer: Signer,
    clock: fn() -> SystemTime,
}

impl fmt::Debug for Sts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sts")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint.to_string())
            .finish_non_exhaustive()
    }
}

impl Sts {
    /// A client sending through `client` (build it with [`CLIENT_SETTINGS`]) and
    /// signing for `region`.
    ///
    /// `endpoint` overrides the regional endpoint ([`regional_endpoint`]); the
    /// caller picks it, first found wins, as the AWS SDKs do: environment
    /// `AWS_ENDPOINT_URL_STS`, then `AWS_ENDPOINT_URL`, then in the profile a
    /// `services = NAME` reference to `[services NAME]` with the sub-property
    /// `sts = ` / ` endpoint_url = …`, then the profile's own `endpoint_url`;
    /// none of them when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` or the
    /// profile's `ignore_configured_endpoint_urls = true`. Requests are still
    /// signed for `region`.
    ///
    /// # Errors
    /// [`SourceError`] when `region` is not a valid region name or the endpoint
    /// URL breaks the [`ServiceUrl`] rules.
    pub fn new(
        client: Client,
        region: &str,
        endpoint: Option<String>,
    ) -> Result<Self, SourceError> {
        check_region(region)?;
        let url = match endpoint {
            Some(url) => url,
            None => regional_endpoint(region)?,
        };
        let endpoint = ServiceUrl::parse(&url).map_err(|why| {
            SourceError::new(format!("invalid STS endpoint: {why}")).with_hint(
                "fix AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL or the profile's endpoint_url",
            )
        })?;
        Ok(Sts {
            client,
            region: region.to_owned(),
            endpoint,
            signer: Signer::new(),
            clock: SystemTime::now,
        })
    }

    /// Replaces the clock that dates signatures (tests use a fixed time).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint in use, e.g. `https://sts.eu-west-1.amazonaws.com`.
    pub fn endpoint(&self) -> String {
        self.endpoint.to_string()
    }

    /// `AssumeRole`: temporary credentials for `role_arn`, signed with `base`.
    ///
    /// Sends `Action=AssumeRole&Version=2011-06-15&RoleArn=…&RoleSessionName=…`
    /// `[&ExternalId=…][&DurationSeconds=…]`. `session_name` must be 2–64
    /// characters of letters, digits and `+=,.@_-` (STS's rule, checked here
    /// first for a clearer message); `duration_seconds`, when given, must be
    /// 900–43 200 (STS's default is 3600; role chaining caps it at 3600).
    /// The result's `source` is `assume role <role_arn>` and its expiry is STS's
    /// `Expiration`.
    ///
    /// # Errors
    /// [`SourceError`] for a bad argument; a connection failure; an STS error,
    /// with its code, message and request id and a hint (`AccessDenied`:
    /// the trust policy / `sts:AssumeRole` permission; `ExpiredToken`: the base
    /// credentials expired; `RegionDisabledException`: the STS region); or an
    /// answer that is not the expected XML.
    pub fn assume_role(
        &self,
        base: &Credentials,
        role_arn: &str,
        session_name: &str,
        external_id: Option<&str>,
        duration_seconds: Option<u32>,
    ) -> Result<Credentials, SourceError> {
        let what = format!("STS AssumeRole of {role_arn}");
        check_role_arn(role_arn, &what)?;
        check_session_name(session_name, &what)?;
        if let Some(d) = duration_seconds {
            if !(900..=43_200).contains(&d) {
                return Err(SourceError::new(format!(
                    "{what}: invalid duration_seconds: expected 900 to 43200, found {d}"
                ))
                .with_hint("fix duration_seconds in the profile"));
            }
        }
        let mut form = Form::new(Operation::AssumeRole);
        form.push("RoleArn", role_arn);
        form.push("RoleSessionName", session_name);
        if let Some(id) = external_id {
            form.push("ExternalId", id);
        }
        if let Some(d) = duration_seconds {
            form.push("DurationSeconds", &d.to_string());
        }
        let ctx = Context {
            operation: Operation::AssumeRole,
            what: &what,
            role_arn: Some(role_arn),
            base_source: Some(base.source()),
        };
        let mut body = self.call(&ctx, form.body(), Some(base))?;
        let parsed = parse_credentials(&body, Operation::AssumeRole);
        body.zeroize();
        let parsed = parsed.map_err(|why| invalid_answer(&what, &why))?;
        log::debug!(
            "assumed {role_arn} as {}, expires {}",
            parsed
                .assumed_arn
                .as_deref()
                .unwrap_or("(no AssumedRoleUser)"),
            format_rfc3339(parsed.expiry)
        );
        Ok(parsed.into_credentials(format!("assume role {role_arn}")))
    }

    /// `AssumeRoleWithWebIdentity`: temporary credentials for `role_arn` in
    /// exchange for an OIDC token (`AWS_WEB_IDENTITY_TOKEN_FILE` /
    /// `web_identity_token_file` contents; the caller re-reads the file for
    /// every call, since Kubernetes rotates it). Unsigned: no `Authorization`,
    /// no `X-Amz-Date` (the operation is marked no-auth in the STS model).
    /// The result's `source` is `web identity role <role_arn>`.
    ///
    /// # Errors
    /// As [`assume_role`](Self::assume_role); `InvalidIdentityToken`,
    /// `ExpiredTokenException` and `IDPRejectedClaim` carry a hint about the
    /// token file. The token never appears in an error.
    pub fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        session_name: &str,
        token: &Secret,
    ) -> Result<Credentials, SourceError> {
        let what = format!("STS AssumeRoleWithWebIdentity of {role_arn}");
        check_role_arn(role_arn, &what)?;
        check_session_name(session_name, &what)?;
        if token.expose().trim().is_empty() {
            return Err(SourceError::new(format!("{what}: the web identity token is empty"))
                .with_hint("check the web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE or the profile's web_identity_token_file)"));
        }
        let mut form = Form::new(Operation::AssumeRoleWithWebIdentity);
        form.push("RoleArn", role_arn);
        form.push("RoleSessionName", session_name);
        form.push("WebIdentityToken", token.expose().trim());
        let ctx = Context {
            operation: Operation::AssumeRoleWithWebIdentity,
            what: &what,
            role_arn: Some(role_arn),
            base_source: None,
        };
        let mut body = self.call(&ctx, form.body(), None)?;
        let parsed = parse_credentials(&body, Operation::AssumeRoleWithWebIdentity);
        body.zeroize();
        let parsed = parsed.map_err(|why| invalid_answer(&what, &why))?;
        log::debug!(
            "assumed {role_arn} with a web identity token, expires {}",
            format_rfc3339(parsed.expiry)
        );
        Ok(parsed.into_credentials(format!("web identity role {role_arn}")))
    }

    /// `GetCallerIdentity`: who `base` is (account, ARN, user id). Signed.
    ///
    /// # Errors
    /// As [`assume_role`](Self::assume_role), minus the argument checks.
    pub fn get_caller_identity(&self, base: &Credentials) -> Result<CallerIdentity, SourceError> {
        let what = "STS GetCallerIdentity".to_owned();
        let form = Form::new(Operation::GetCallerIdentity);
        let ctx = Context {
            operation: Operation::GetCallerIdentity,
            what: &what,
            role_arn: None,
            base_source: Some(base.source()),
        };
        let body = self.call(&ctx, form.body(), Some(base))?;
        parse_caller_identity(&body).map_err(|why| invalid_answer(&what, &why))
    }

    /// The headers of one attempt: `host`, `content-type`, and when signing
    /// `x-amz-date`, `x-amz-security-token` (if the base has a token) and
    /// `authorization`. The path is the endpoint's path plus `/`.
    fn prepare(
        &self,
        body: &[u8],
        signing: Option<&Credentials>,
        now: SystemTime,
    ) -> Result<(String, Vec<(String, String)>), SourceError> {
        let path = self.endpoint.path("/");
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.endpoint.authority().to_owned()),
            ("content-type".into(), FORM_CONTENT_TYPE.to_owned()),
        ];
        if let Some(credentials) = signing {
            let signed: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let request = SignableRequest {
                method: "POST",
                path: &path,
                query: "",
                headers: &signed,
                body,
            };
            let params = SigningParams {
                credentials,
                algorithm: Algorithm::V4,
                region: &self.region,
                service: SIGNING_NAME,
                time: AmzDate::from_system_time(now),
                settings: SigningSettings::default(),
            };
            let out = self
                .signer
                .sign(&request, &params)
                .map_err(|e| SourceError::new(format!("cannot sign the STS request: {e}")))?;
            headers.extend(out.headers.into_iter().map(|(n, v)| (n.to_owned(), v)));
        }
        Ok((path, headers))
    }

    /// Sends `body` (retrying as [`MAX_ATTEMPTS`] says) and returns the body of
    /// the 200 answer.
    fn call(
        &self,
        ctx: &Context<'_>,
        body: &Secret,
        signing: Option<&Credentials>,
    ) -> Result<Vec<u8>, SourceError> {
        let body = body.expose().as_bytes();
        let mut attempt = 1;
        loop {
            let retry = attempt < MAX_ATTEMPTS;
            let (path, mut headers) = self.prepare(body, signing, (self.clock)())?;
            let header_refs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let url = self.endpoint.url(&path);
            let sent = self
                .client
                .send(Method::Post, &url, &header_refs, body, REQUEST_TIMEOUTS);
            drop(header_refs);
            // The token and signature leave memory with the request.
            for (_, value) in &mut headers {
                value.zeroize();
            }
            let mut response = match sent {
                Ok(r) => r,
                Err(e) if retry && retryable_http(&e) => {
                    log::debug!("{}: {e}; retrying", ctx.what);
                    backoff(attempt);
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(self.http_error(ctx, &e)),
            };
            let request_id = response.header("x-amzn-requestid").map(str::to_owned);
            let answer = match response.read_body(MAX_RESPONSE_BYTES) {
                Ok(b) => b,
                Err(e) if retry && retryable_http(&e) => {
                    log::debug!("{}: {e}; retrying", ctx.what);
                    backoff(attempt);
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(self.http_error(ctx, &e)),
            };
            if response.status == 200 {
                return Ok(answer);
            }
            let error = parse_error(&answer);
            let code = error.as_ref().and_then(|e| e.code.clone());
            if retry && retryable_status(response.status, code.as_deref()) {
                log::debug!(
                    "{}: HTTP {} {}; retrying",
                    ctx.what,
                    response.status,
                    code.as_deref().unwrap_or("")
                );
                backoff(attempt);
                attempt += 1;
                continue;
            }
            return Err(self.service_error(ctx, response.status, error, request_id));
        }
    }

    fn http_error(&self, ctx: &Context<'_>, e: &HttpError) -> SourceError {
        let message = format!("{} via {} failed: {e}", ctx.what, self.endpoint);
        let hint = match e.kind {
            ErrorKind::Connect | ErrorKind::Timeout => format!(
                "check network access to {} (HTTPS_PROXY is honoured), or point AWS_ENDPOINT_URL_STS at a reachable STS endpoint",
                self.endpoint.authority()
            ),
            _ => "try again; if it persists, check the STS endpoint and any proxy in between"
                .to_owned(),
        };
        SourceError::new(message).with_hint(hint)
    }

    fn service_error(
        &self,
        ctx: &Context<'_>,
        status: u16,
        error: Option<StsError>,
        header_request_id: Option<String>,
    ) -> SourceError {
        let error = error.unwrap_or_default();
        let request_id = error.request_id.clone().or(header_request_id);
        let mut message = format!("{} failed: ", ctx.what);
        match (&error.code, &error.message) {
            (Some(code), Some(text)) => message.push_str(&format!("{code}: {text}")),
            (Some(code), None) => message.push_str(code),
            (None, Some(text)) => message.push_str(text),
            (None, None) => message.push_str("no error details in the answer"),
        }
        message.push_str(&format!(" (HTTP {status}"));
        if let Some(id) = &request_id {
            message.push_str(&format!(", request id {id}"));
        }
        message.push(')');
        let mut e = SourceError::new(message);
        if let Some(hint) = self.hint(ctx, error.code.as_deref(), status) {
            e = e.with_hint(hint);
        }
        e
    }

    fn hint(&self, ctx: &Context<'_>, code: Option<&str>, status: u16) -> Option<String> {
        let role = ctx.role_arn.unwrap_or("the role");
        let base = ctx.base_source.unwrap_or("the base credentials");
        let web = ctx.operation == Operation::AssumeRoleWithWebIdentity;
        let hint = match code? {
            "AccessDenied" | "AccessDeniedException" if web => format!(
                "check that the trust policy of {role} allows sts:AssumeRoleWithWebIdentity for this identity provider and audience"
            ),
            "AccessDenied" | "AccessDeniedException"
                if ctx.operation == Operation::AssumeRole =>
            {
                format!(
                    "check that the trust policy of {role} trusts the caller ({base}) and that the caller is allowed sts:AssumeRole on it"
                )
            }
            "ExpiredToken" => format!(
                "the base credentials ({base}) have expired: renew them (e.g. `aws sso login`, or fresh keys) and try again"
            ),
            "InvalidClientTokenId" => format!(
                "the access key id of the base credentials ({base}) is not valid: deleted, inactive, or from another partition"
            ),
            "SignatureDoesNotMatch" => format!(
                "the secret access key of the base credentials ({base}) does not match its access key id, or this machine's clock is wrong"
            ),
            "RegionDisabledException" => format!(
                "STS is not active in region {}: activate it (IAM console, Account settings) or use another STS region (AWS_REGION, the profile's region, or AWS_ENDPOINT_URL_STS)",
                self.region
            ),
            "InvalidIdentityToken" | "ExpiredTokenException" | "IDPRejectedClaim"
            | "InvalidIdentityTokenException" => "check the web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE or the profile's web_identity_token_file): it must hold a current token (Kubernetes rotates it) from an identity provider the role trusts".to_owned(),
            "IDPCommunicationError" => {
                "STS could not reach the identity provider to check the token; try again".to_owned()
            }
            "ValidationError" => "check role_arn, role_session_name (2-64 characters of letters, digits and +=,.@_-), external_id and duration_seconds (900-43200) in the profile".to_owned(),
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                "STS is throttling requests; wait a little and try again".to_owned()
            }
            "PackedPolicyTooLarge" | "MalformedPolicyDocument" => {
                "the session policy is not accepted by STS".to_owned()
            }
            _ if status >= 500 => "STS had an internal error; try again".to_owned(),
            _ => return None,
        };
        Some(hint)
    }
}

/// What a call is about, for messages and hints.
struct Context<'a> {
    operation: Operation,
    /// `STS AssumeRole of arn:…`.
    what: &'a str,
    role_arn: Option<&'a str>,
    /// The `source` of the signing credentials (not secret).
    base_source: Option<&'a str>,
}

fn retryable_http(e: &HttpError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io
    )
}

fn retryable_status(status: u16, code: Option<&str>) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
        || matches!(
            code,
            Some(
                "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "IDPCommunicationError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
            )
        )
}

fn backoff(attempt: u32) {
    std::thread::sleep(RETRY_BASE_DELAY * (1 << (attempt - 1)));
}

fn check_role_arn(role_arn: &str, what: &str) -> Result<(), SourceError> {
    let fields = role_arn.split(':').count();
    if role_arn.starts_with("arn:") && fields >= 6 && !role_arn.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(SourceError::new(format!(
            "{what}: invalid role_arn: expected arn:PARTITION:iam::ACCOUNT:role/NAME"
        ))
        .with_hint("fix role_arn (or AWS_ROLE_ARN)"))
    }
}

/// STS's `RoleSessionName` rule: 2–64 characters of `[\w+=,.@-]`.
fn check_session_name(name: &str, what: &str) -> Result<(), SourceError> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SourceError::new(format!(
            "{what}: invalid role session name {name:?}: expected 2-64 characters of letters, digits and +=,.@_-"
        ))
        .with_hint("fix role_session_name (or AWS_ROLE_SESSION_NAME)"))
    }
}

fn invalid_answer(what: &str, why: &str) -> SourceError {
    SourceError::new(format!("{what}: unexpected answer: {why}"))
        .with_hint("check that the STS endpoint (AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL) is a real STS service")
}

/// A form body `Action=…&Version=2011-06-15&Name=Value…`, every name and value
/// `UriEncode`d (unreserved bytes kept, all else `%XX`, space as `%20`), held
/// as a [`Secret`] since it may carry a web identity token.
struct Form(Secret);

impl Form {
    fn new(operation: Operation) -> Self {
        Form(Secret::new(format!(
            "Action={}&Version={API_VERSION}",
            operation.name()
        )))
    }

    fn push(&mut self, name: &str, value: &str) {
        let mut text =
            String::with_capacity(self.0.expose().len() + name.len() + value.len() * 3 + 2);
        text.push_str(self.0.expose());
        text.push('&');
        text.push_str(&uri_encode(name));
        text.push('=');
        let mut encoded = uri_encode(value);
        text.push_str(&encoded);
        encoded.zeroize();
        self.0 = Secret::new(text);
    }

    fn body(&self) -> &Secret {
        &self.0
    }
}

/// The `Credentials` block of an answer.
struct ParsedCredentials {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Secret,
    expiry: SystemTime,
    assumed_arn: Option<String>,
}

impl ParsedCredentials {
    fn into_credentials(self, source: String) -> Credentials {
        Credentials::new(
            self.access_key_id,
            self.secret_access_key,
            Some(self.session_token),
            Some(self.expiry),
            source,
        )
    }
}

/// Reads `<{Op}Response><{Op}Result><Credentials>` with all four children
/// required, and the optional `AssumedRoleUser/Arn`. Errors never quote the
/// document (it holds secrets); they name the element expected.
fn parse_credentials(body: &[u8], op: Operation) -> Result<ParsedCredentials, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())?;
    let root = xml::parse(text).map_err(|e| e.to_string())?;
    let response = format!("{}Response", op.name());
    if root.name != response {
        return Err(format!("expected the root element {response}"));
    }
    let result_name = format!("{}Result", op.name());
    let result = root
        .only_child(&result_name)?
        .ok_or_else(|| format!("expected {result_name} in {response}"))?;
    let creds = result
        .only_child("Credentials")?
        .ok_or_else(|| format!("expected Credentials in {result_name}"))?;
    let field = |name: &str| -> Result<String, String> {
        let value = creds
            .only_child(name)?
            .ok_or_else(|| format!("expected {name} in Credentials"))?
            .leaf_text(name)?;
        if value.is_empty() {
            return Err(format!("{name} in Credentials is empty"));
        }
        Ok(value)
    };
    let access_key_id = field("AccessKeyId")?;
    let secret_access_key = Secret::new(field("SecretAccessKey")?);
    let session_token = Secret::new(field("SessionToken")?);
    let expiration = field("Expiration")?;
    let expiry = parse_rfc3339(&expiration).map_err(|e| format!("Expiration: {e}"))?;
    let assumed_arn = match result.only_child("AssumedRoleUser")? {
        Some(user) => match user.only_child("Arn")? {
            Some(arn) => Some(arn.leaf_text("Arn")?),
            None => None,
        },
        None => None,
    };
    Ok(ParsedCredentials {
        access_key_id,
        secret_access_key,
        session_token,
        expiry,
        assumed_arn,
    })
}

fn parse_caller_identity(body: &[u8]) -> Result<CallerIdentity, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())?;
    let root = xml::parse(text).map_err(|e| e.to_string())?;
    if root.name != "GetCallerIdentityResponse" {
        return Err("expected the root element GetCallerIdentityResponse".into());
    }
    let result = root
        .only_child("GetCallerIdentityResult")?
        .ok_or("expected GetCallerIdentityResult in GetCallerIdentityResponse")?;
    let field = |name: &str| -> Result<String, String> {
        let value = result
            .only_child(name)?
            .ok_or_else(|| format!("expected {name} in GetCallerIdentityResult"))?
            .leaf_text(name)?;
        if value.is_empty() {
            return Err(format!("{name} in GetCallerIdentityResult is empty"));
        }
        Ok(value)
    };
    Ok(CallerIdentity {
        account: field("Account")?,
        arn: field("Arn")?,
        user_id: field("UserId")?,
    })
}

/// The parts of `<ErrorResponse>` we show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct StsError {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

/// Reads `<ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>`
/// (STS), also accepting an `<Errors>` wrapper around `<Error>`, the root
/// `<Response>` and `RequestID` (the EC2-style shape that moto and other
/// emulators send). `None` when the body is none of these. Values are cut to
/// 512 characters and control characters replaced, so a hostile answer cannot
/// flood or forge terminal output.
fn parse_error(body: &[u8]) -> Option<StsError> {
    let text = std::str::from_utf8(body).ok()?;
    let root = xml::parse(text).ok()?;
    if root.name != "ErrorResponse" && root.name != "Response" {
        return None;
    }
    let error =
        child(Some(&root), "Error").or_else(|| child(child(Some(&root), "Errors"), "Error"));
    let leaf = |parent: Option<&xml::Element>, name: &str| {
        child(parent, name)
            .and_then(|e| e.leaf_text(name).ok())
            .filter(|t| !t.is_empty())
            .map(|t| clean(&t))
    };
    let e = StsError {
        code: leaf(error, "Code"),
        message: leaf(error, "Message"),
        request_id: leaf(Some(&root), "RequestId")
            .or_else(|| leaf(Some(&root), "RequestID"))
            .or_else(|| leaf(error, "RequestId")),
    };
    Some(e)
}

fn child<'e>(parent: Option<&'e xml::Element>, name: &str) -> Option<&'e xml::Element> {
    parent.and_then(|p| p.only_child(name).ok().flatten())
}

fn clean(text: &str) -> String {
    text.chars()
        .take(512)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A deliberately small XML reader: elements, attributes (skipped), text,
/// CDATA, comments and processing instructions; the five predefined entities
/// and numeric character references. No DOCTYPE, no entity declarations, no
/// external anything. Bounded depth and element count. Errors give a byte
/// offset and what was expected, never the document's text.
mod xml {
    use std::fmt;

    use p256::elliptic_curve::zeroize::Zeroize;

    const MAX_DEPTH: usize = 16;
    const MAX_ELEMENTS: usize = 1000;

    /// One element: local name (namespace prefix dropped), its own text (CDATA
    /// included, entities decoded) and child elements. Text is zeroized on drop
    /// since it may hold a secret key or token.
    pub struct Element {
        pub name: String,
        pub text: String,
        pub children: Vec<Element>,
    }

    impl Drop for Element {
        fn drop(&mut self) {
            self.text.zeroize();
        }
    }

    impl Element {
        /// The only child named `name`; an error when there are several.
        pub fn only_child(&self, name: &str) -> Result<Option<&Element>, String> {
            let mut found = self.children.iter().filter(|c| c.name == name);
            let first = found.next();
            if found.next().is_some() {
                return Err(format!("{name} appears more than once in {}", self.name));
            }
            Ok(first)
        }

        /// The trimmed text of a leaf element; an error when it has children.
        pub fn leaf_text(&self, name: &str) -> Result<String, String> {
            if !self.children.is_empty() {
                return Err(format!("expected text in {name}, found child elements"));
            }
            Ok(self.text.trim().to_owned())
        }
    }

    /// Why a document could not be read: where, and what was expected there.
    #[derive(Debug, PartialEq, Eq)]
    pub struct XmlError {
        pub offset: usize,
        pub expected: &'static str,
    }

    impl fmt::Display for XmlError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "malformed XML at byte {}: expected {}",
                self.offset, self.expected
            )
        }
    }

    struct Parser<'a> {
        s: &'a str,
        pos: usize,
        elements: usize,
    }

    /// Parses a whole document and returns its root element.
    pub fn parse(s: &str) -> Result<Element, XmlError> {
        let mut p = Parser {
            s,
            pos: 0,
            elements: 0,
        };
        if p.rest().starts_with('\u{feff}') {
            p.pos += '\u{feff}'.len_utf8();
        }
        p.misc()?;
        if !p.rest().starts_with('<') {
            return Err(p.err("the root element"));
        }
        let root = p.element(0)?;
        p.misc()?;
        if p.pos != s.len() {
            return Err(p.err("the end of the document after the root element"));
        }
        Ok(root)
    }

    impl<'a> Parser<'a> {
        fn rest(&self) -> &'a str {
            &self.s[self.pos..]
        }

        fn err(&self, expected: &'static str) -> XmlError {
            XmlError {
                offset: self.pos,
                expected,
            }
        }

        fn skip_ws(&mut self) -> bool {
            let n = self.rest().len()
                - self
                    .rest()
                    .trim_start_matches([' ', '\t', '\r', '\n'])
                    .len();
            self.pos += n;
            n > 0
        }

        /// Skips past `end`, or fails with `expected`.
        fn skip_past(&mut self, end: &str, expected: &'static str) -> Result<&'a str, XmlError> {
            match self.rest().find(end) {
                Some(at) => {
                    let start = self.pos;
                    self.pos += at + end.len();
                    Ok(&self.s[start..start + at])
                }
                None => Err(self.err(expected)),
            }
        }

        /// Whitespace, comments and processing instructions outside the root.
        fn misc(&mut self) -> Result<(), XmlError> {
            loop {
                self.skip_ws();
                let rest = self.rest();
                if rest.starts_with("<?") {
                    self.skip_past("?>", "'?>' closing a processing instruction")?;
                } else if rest.starts_with("<!--") {
                    self.skip_past("-->", "'-->' closing a comment")?;
                } else if rest.starts_with("<!") {
                    return Err(self.err("no DOCTYPE or other declaration"));
                } else {
                    return Ok(());
                }
            }
        }

        fn name(&mut self) -> Result<&'a str, XmlError> {
            let rest = self.rest();
            let n = rest
                .find(|c: char| c.is_whitespace() || "/>=<&\"'?!".contains(c) || c.is_control())
                .unwrap_or(rest.len());
            if n == 0 {
                return Err(self.err("a name"));
            }
            let start = self.pos;
            self.pos += n;
            Ok(&self.s[start..start + n])
        }

        fn expect(&mut self, c: char, expected: &'static str) -> Result<(), XmlError> {
            if self.rest().starts_with(c) {
                self.pos += c.len_utf8();
                Ok(())
            } else {
                Err(self.err(expected))
            }
        }

        fn element(&mut self, depth: usize) -> Result<Element, XmlError> {
            if depth >= MAX_DEPTH {
                return Err(self.err("elements nested at most 16 deep"));
            }
            self.elements += 1;
            if self.elements > MAX_ELEMENTS {
                return Err(self.err("at most 1000 elements"));
            }
            self.expect('<', "'<'")?;
            let qname = self.name()?;
            let local = qname.rsplit(':').next().unwrap_or(qname).to_owned();
            let mut element = Element {
                name: local,
                text: String::new(),
                children: Vec::new(),
            };
            // Attributes are read (to find the end of the tag) and dropped.
            loop {
                let spaced = self.skip_ws();
                if self.rest().starts_with("/>") {
                    self.pos += 2;
                    return Ok(element);
                }
                if self.rest().starts_with('>') {
                    self.pos += 1;
                    break;
                }
                if !spaced {
                    return Err(self.err("whitespace, '>' or '/>' in a start tag"));
                }
                self.name()?;
                self.skip_ws();
                self.expect('=', "'=' after an attribute name")?;
                self.skip_ws();
                let quote = match self.rest().chars().next() {
                    Some(q @ ('"' | '\'')) => q,
                    _ => return Err(self.err("a quoted attribute value")),
                };
                self.pos += 1;
                let value = self.skip_past(
                    if quote == '"' { "\"" } else { "'" },
                    "the closing quote of an attribute value",
                )?;
                if value.contains('<') {
                    return Err(self.err("an attribute value without '<'"));
                }
            }
            loop {
                let rest = self.rest();
                if rest.is_empty() {
                    return Err(self.err("an end tag"));
                }
                if rest.starts_with("</") {
                    self.pos += 2;
                    let end = self.name()?;
                    if end != qname {
                        return Err(self.err("the end tag of the open element"));
                    }
                    self.skip_ws();
                    self.expect('>', "'>' closing an end tag")?;
                    return Ok(element);
                }
                if rest.starts_with("<!--") {
                    self.skip_past("-->", "'-->' closing a comment")?;
                } else if rest.starts_with("<![CDATA[") {
                    self.pos += "<![CDATA[".len();
                    let data = self.skip_past("]]>", "']]>' closing a CDATA section")?;
                    element.text.push_str(data);
                } else if rest.starts_with("<?") {
                    self.skip_past("?>", "'?>' closing a processing instruction")?;
                } else if rest.starts_with("<!") {
                    return Err(self.err("no declaration inside an element"));
                } else if rest.starts_with('<') {
                    let child = self.element(depth + 1)?;
                    element.children.push(child);
                } else {
                    let n = rest.find('<').unwrap_or(rest.len());
                    let start = self.pos;
                    decode_text(&self.s[start..start + n], start, &mut element.text)?;
                    self.pos += n;
                }
            }
        }
    }

    /// Appends `raw` to `out` with `&lt; &gt; &amp; &quot; &apos;`, `&#NNN;` and
    /// `&#xHHH;` decoded; any other `&` is an error.
    fn decode_text(raw: &str, offset: usize, out: &mut String) -> Result<(), XmlError> {
        let mut rest = raw;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let here = offset + (raw.len() - rest.len()) + at;
            let bad = XmlError {
                offset: here,
                expected: "an entity: &lt; &gt; &amp; &quot; &apos; or &#N; / &#xH;",
            };
            let after = &rest[at + 1..];
            let end = after.find(';').filter(|n| *n <= 10).ok_or(bad)?;
            let entity = &after[..end];
            let c = match entity {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let n = if let Some(hex) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse::<u32>().ok()
                    } else {
                        None
                    };
                    // XML 1.0 Char: no NUL, no surrogates (char::from_u32 refuses those).
                    n.filter(|n| *n != 0)
                        .and_then(char::from_u32)
                        .ok_or(XmlError {
                            offset: here,
                            expected: "a character reference to a valid XML character",
                        })?
                }
            };
            out.push(c);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{Reply, Seen, TestServer};
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TOKEN: &str = "TOKEN123/base+session=token";
    const NEW_SECRET: &str = "NEWsecretKEY/abc+def==";
    const NEW_TOKEN: &str = "FwoGZXIvYXdzEBMaDNEWTOKEN&+/=";
    const ROLE: &str = "arn:aws:iam::123456789012:role/demo";

    fn base() -> Credentials {
        Credentials::new(
            AKID,
            Secret::from(SECRET),
            Some(Secret::from(TOKEN)),
            None,
            "profile 'base' (static keys)",
        )
    }

    fn client() -> Client {
        Client::new(
            ClientSettings {
                env_proxy: false,
                ..CLIENT_SETTINGS
            },
            &crate::http::TlsRoots::builtin(),
        )
    }

    fn sts(server: &TestServer) -> Sts {
        Sts::new(client(), "eu-west-1", Some(server.url())).unwrap()
    }

    fn fixed_2026() -> SystemTime {
        parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
    }

    fn success(op: &str) -> String {
        // NEW_TOKEN's `&` is written as `&amp;`; the secret key as CDATA-free text.
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<{op}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <{op}Result>
    <Credentials>
      <AccessKeyId>ASIANEWKEY</AccessKeyId>
      <SecretAccessKey>{NEW_SECRET}</SecretAccessKey>
      <SessionToken>FwoGZXIvYXdzEBMaDNEWTOKEN&amp;+/=</SessionToken>
      <Expiration>2026-01-01T01:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/s</Arn>
    </AssumedRoleUser>
    <PackedPolicySize>6</PackedPolicySize>
  </{op}Result>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</{op}Response>
"#
        )
    }

    fn error_xml(code: &str, message: &str) -> String {
        format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>4b2a8e7c-0000-4000-8000-000000000001</RequestId>
</ErrorResponse>"#
        )
    }

    /// Decodes an `a=b&c=d` body (percent-decoding, no `+` form rule since we never send `+`).
    fn form_fields(body: &str) -> Vec<(String, String)> {
        body.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                let d = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .unwrap()
                        .into_owned()
                };
                (d(k), d(v))
            })
            .collect()
    }

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The `Authorization` value for `seen`, derived by hand from the SigV4
    /// definition (AWS IAM User Guide; spec §1) with the `hmac`/`sha2` crates —
    /// independent of `crate::sigv4`. The canonical request is spelled out for
    /// this one request shape: `POST /`, no query, four signed headers.
    fn expected_authorization(seen: &Seen, secret: &str, region: &str) -> String {
        let date_time = seen.header("x-amz-date").expect("x-amz-date sent");
        let date = &date_time[..8];
        // With a session token: four signed headers; without: three.
        let (token_line, signed_headers) = match seen.header("x-amz-security-token") {
            Some(token) => (
                format!("x-amz-security-token:{token}\n"),
                "content-type;host;x-amz-date;x-amz-security-token",
            ),
            None => (String::new(), "content-type;host;x-amz-date"),
        };
        let canonical_request = format!(
            "POST\n/\n\ncontent-type:{}\nhost:{}\nx-amz-date:{}\n{token_line}\n{signed_headers}\n{}",
            seen.header("content-type").unwrap(),
            seen.header("host").unwrap(),
            date_time,
            hex::encode(Sha256::digest(&seen.body)),
        );
        let scope = format!("{date}/{region}/sts/aws4_request");
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
        let k_region = hmac(&k_date, region);
        let k_service = hmac(&k_region, "sts");
        let k_signing = hmac(&k_service, "aws4_request");
        let signature = hex::encode(hmac(&k_signing, &string_to_sign));
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        )
    }

    fn assert_no_secret(text: &str) {
        for s in [
            SECRET,
            TOKEN,
            NEW_SECRET,
            NEW_TOKEN,
            "FwoGZXIvYXdzEBMaDNEWTOKEN",
            "eyJhbGciOiJSUzI1NiJ9.web-identity",
        ] {
            assert!(!text.contains(s), "a secret leaked into {text:?}");
        }
    }

    #[test]
    fn assume_role_posts_a_signed_form_and_returns_expiring_credentials() {
        let server = TestServer::start(|_| Reply::new(200, "text/xml", success("AssumeRole")));
        let creds = sts(&server)
            .assume_role(
                &base(),
                ROLE,
                "mcp-sigv4@test",
                Some("ext/id+=x y"),
                Some(1800),
            )
            .unwrap();
        assert_eq!(creds.access_key_id(), "ASIANEWKEY");
        assert_eq!(creds.secret_access_key().expose(), NEW_SECRET);
        assert_eq!(creds.session_token().unwrap().expose(), NEW_TOKEN);
        assert_eq!(
            creds.expiry(),
            Some(parse_rfc3339("2026-01-01T01:00:00Z").unwrap())
        );
        assert_eq!(creds.source(), format!("assume role {ROLE}"));
        assert_no_secret(&format!("{creds:?}"));

        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert_eq!(s.method, "POST");
        assert_eq!(s.target, "/");
        assert_eq!(s.header("content-type"), Some(FORM_CONTENT_TYPE));
        assert_eq!(
            s.header("host"),
            Some(server.url().trim_start_matches("http://"))
        );
        assert_eq!(s.header("x-amz-security-token"), Some(TOKEN));
        // Exact bytes: every value UriEncoded, space as %20, never `+`.
        assert_eq!(
            s.text(),
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=mcp-sigv4%40test&ExternalId=ext%2Fid%2B%3Dx%20y&DurationSeconds=1800"
        );
        assert_eq!(
            form_fields(&s.text()),
            [
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "mcp-sigv4@test"),
                ("ExternalId", "ext/id+=x y"),
                ("DurationSeconds", "1800"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(
            s.header("authorization"),
            Some(expected_authorization(s, SECRET, "eu-west-1").as_str()),
            "signature differs from the one derived by hand"
        );
    }

    #[test]
    fn long_term_base_keys_sign_without_a_token_header() {
        let server = TestServer::start(|_| Reply::new(200, "text/xml", success("AssumeRole")));
        let base = Credentials::new(AKID, Secret::from(SECRET), None, None, "environment");
        sts(&server)
            .assume_role(&base, ROLE, "session", None, None)
            .unwrap();
        let s = &server.seen()[0];
        assert_eq!(s.header("x-amz-security-token"), None);
        let auth = s.header("authorization").unwrap();
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date,"),
            "{auth}"
        );
        assert_eq!(auth, expected_authorization(s, SECRET, "eu-west-1"));
    }

    #[test]
    fn signature_matches_botocore_for_a_fixed_request() {
        // Vector computed with botocore 1.43.11 (`SigV4Auth(creds, "sts",
        // "us-east-1").add_auth(...)` with `datetime` pinned to
        // 2026-01-01T00:00:00Z) for exactly this request to the regional endpoint.
        let sts = Sts::new(client(), "us-east-1", None)
            .unwrap()
            .with_clock(fixed_2026);
        let mut form = Form::new(Operation::AssumeRole);
        form.push("RoleArn", ROLE);
        form.push("RoleSessionName", "mcp-sigv4-test");
        form.push("ExternalId", "a+b=c/d");
        assert_eq!(
            form.body().expose(),
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=mcp-sigv4-test&ExternalId=a%2Bb%3Dc%2Fd"
        );
        let creds = Credentials::new(
            AKID,
            Secret::from(SECRET),
            Some(Secret::from("TOKEN123")),
            None,
            "t",
        );
        let (path, headers) = sts
            .prepare(form.body().expose().as_bytes(), Some(&creds), fixed_2026())
            .unwrap();
        assert_eq!(path, "/");
        let get = |n: &str| {
            headers
                .iter()
                .find(|(h, _)| h == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("host"), Some("sts.us-east-1.amazonaws.com"));
        assert_eq!(get("x-amz-date"), Some("20260101T000000Z"));
        assert_eq!(get("x-amz-security-token"), Some("TOKEN123"));
        assert_eq!(
            get("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=1d4ad32db1ea6b6a8f86c0e1c23cfe2237ede0da46e5062ed82c771d22431aeb"
            )
        );
    }

    #[test]
    fn web_identity_is_unsigned_and_carries_the_token() {
        let server = TestServer::start(|_| {
            Reply::new(200, "text/xml", success("AssumeRoleWithWebIdentity"))
        });
        let token = Secret::from("eyJhbGciOiJSUzI1NiJ9.web-identity.sig\n");
        let creds = sts(&server)
            .assume_role_with_web_identity(ROLE, "web-identity-token-1", &token)
            .unwrap();
        assert_eq!(creds.access_key_id(), "ASIANEWKEY");
        assert_eq!(creds.source(), format!("web identity role {ROLE}"));
        assert!(creds.expiry().is_some());
        let seen = server.seen();
        let s = &seen[0];
        assert_eq!(s.header("authorization"), None);
        assert_eq!(s.header("x-amz-date"), None);
        assert_eq!(s.header("x-amz-security-token"), None);
        assert_eq!(s.header("content-type"), Some(FORM_CONTENT_TYPE));
        assert_eq!(
            form_fields(&s.text()),
            [
                ("Action", "AssumeRoleWithWebIdentity"),
                ("Version", "2011-06-15"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "web-identity-token-1"),
                ("WebIdentityToken", "eyJhbGciOiJSUzI1NiJ9.web-identity.sig"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn get_caller_identity_is_signed_and_read() {
        let server = TestServer::start(|_| {
            Reply::new(
                200,
                "text/xml",
                r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/demo/alice</Arn>
    <UserId>AROAEXAMPLE:alice</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"#,
            )
        });
        let id = sts(&server).get_caller_identity(&base()).unwrap();
        assert_eq!(
            id,
            CallerIdentity {
                account: "123456789012".into(),
                arn: "arn:aws:sts::123456789012:assumed-role/demo/alice".into(),
                user_id: "AROAEXAMPLE:alice".into(),
            }
        );
        let s = &server.seen()[0];
        assert_eq!(s.text(), "Action=GetCallerIdentity&Version=2011-06-15");
        assert_eq!(
            s.header("authorization"),
            Some(expected_authorization(s, SECRET, "eu-west-1").as_str())
        );
    }

    #[test]
    fn sts_errors_show_code_message_request_id_and_a_hint_but_no_secret() {
        let server = TestServer::start(|_| {
            Reply::new(
                403,
                "text/xml",
                error_xml(
                    "AccessDenied",
                    "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/demo",
                ),
            )
        });
        let e = sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("STS AssumeRole of arn:aws:iam::123456789012:role/demo failed: AccessDenied: User: arn:aws:iam::123456789012:user/bob is not authorized"), "{text}");
        assert!(
            text.contains("(HTTP 403, request id 4b2a8e7c-0000-4000-8000-000000000001)"),
            "{text}"
        );
        let hint = e.hint.clone().unwrap();
        assert!(
            hint.contains("trust policy of arn:aws:iam::123456789012:role/demo"),
            "{hint}"
        );
        assert!(hint.contains("sts:AssumeRole"), "{hint}");
        assert_no_secret(&text);
        assert_no_secret(&format!("{e:?}"));
        assert_eq!(server.seen().len(), 1, "a 403 is not retried");
    }

    #[test]
    fn expired_base_and_disabled_region_have_their_hints() {
        for (code, expect) in [
            ("ExpiredToken", "have expired"),
            (
                "RegionDisabledException",
                "STS is not active in region eu-west-1",
            ),
            (
                "InvalidClientTokenId",
                "access key id of the base credentials",
            ),
            ("SignatureDoesNotMatch", "clock"),
        ] {
            let body = error_xml(
                code,
                "The security token included in the request is expired",
            );
            let server = TestServer::start(move |_| Reply::new(400, "text/xml", body.clone()));
            let e = sts(&server)
                .assume_role(&base(), ROLE, "session", None, None)
                .unwrap_err();
            assert!(e.message.contains(code), "{e}");
            assert!(
                e.hint.as_deref().unwrap_or("").contains(expect),
                "{code}: {e}"
            );
            assert!(
                e.hint
                    .as_deref()
                    .unwrap()
                    .contains("profile 'base' (static keys)")
                    || code == "RegionDisabledException",
                "{e}"
            );
        }
    }

    #[test]
    fn web_identity_token_errors_point_at_the_token_file_and_hide_the_token() {
        for code in ["InvalidIdentityToken", "ExpiredTokenException"] {
            let body = error_xml(code, "Token is expired");
            let server = TestServer::start(move |_| Reply::new(400, "text/xml", body.clone()));
            let token = Secret::from("eyJhbGciOiJSUzI1NiJ9.web-identity.sig");
            let e = sts(&server)
                .assume_role_with_web_identity(ROLE, "s1", &token)
                .unwrap_err();
            let text = e.to_string();
            assert!(text.contains(code), "{text}");
            assert!(text.contains("web identity token file"), "{text}");
            assert!(text.contains("AWS_WEB_IDENTITY_TOKEN_FILE"), "{text}");
            assert_no_secret(&text);
            assert_no_secret(&format!("{e:?}"));
        }
    }

    #[test]
    fn throttling_and_5xx_are_retried_and_signed_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let n = std::sync::Arc::new(AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&n);
        let server = TestServer::start(move |_| match count.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::new(503, "text/plain", "busy"),
            1 => Reply::new(400, "text/xml", error_xml("Throttling", "Rate exceeded")),
            _ => Reply::new(200, "text/xml", success("AssumeRole")),
        });
        let creds = sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap();
        assert_eq!(creds.access_key_id(), "ASIANEWKEY");
        let seen = server.seen();
        assert_eq!(seen.len(), 3);
        for s in &seen {
            assert_eq!(
                s.header("authorization"),
                Some(expected_authorization(s, SECRET, "eu-west-1").as_str())
            );
        }
    }

    #[test]
    fn retries_stop_after_three_attempts() {
        let server = TestServer::start(|_| {
            Reply::new(500, "text/xml", error_xml("InternalFailure", "oops"))
        });
        let e = sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap_err();
        assert!(e.message.contains("InternalFailure: oops (HTTP 500"), "{e}");
        assert_eq!(server.seen().len(), MAX_ATTEMPTS as usize);
    }

    #[test]
    fn unreadable_error_bodies_still_give_status_and_request_id() {
        let server = TestServer::start(|_| {
            Reply::new(403, "text/html", "<html><body>Forbidden")
                .header("x-amzn-RequestId", "hdr-id-1")
        });
        let e = sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "STS AssumeRole of {ROLE} failed: no error details in the answer (HTTP 403, request id hdr-id-1)"
            )
        );
    }

    #[test]
    fn emulator_error_shapes_are_read_too() {
        // moto 5.2.5 answers `<ErrorResponse><Errors><Error>…` (seen on its server).
        let moto = br#"<?xml version="1.0" encoding="utf-8"?>
<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>"#;
        let e = parse_error(moto).unwrap();
        assert_eq!(e.code.as_deref(), Some("SignatureDoesNotMatch"));
        assert!(e.message.unwrap().starts_with("The request signature"));
        let ec2 = b"<Response><Errors><Error><Code>AuthFailure</Code><Message>m\x1b[31m</Message></Error></Errors><RequestID>r-9</RequestID></Response>";
        let e = parse_error(ec2).unwrap();
        assert_eq!(
            e,
            StsError {
                code: Some("AuthFailure".into()),
                message: Some("m [31m".into()),
                request_id: Some("r-9".into()),
            }
        );
        assert_eq!(parse_error(b"<html>oops</html>"), None);
    }

    #[test]
    fn oversized_answers_are_refused() {
        let big = format!(
            "<AssumeRoleResponse>{}</AssumeRoleResponse>",
            " ".repeat(MAX_RESPONSE_BYTES)
        );
        let server = TestServer::start(move |_| Reply::new(200, "text/xml", big.clone()));
        let e = sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap_err();
        assert!(e.message.contains("larger than 65536 bytes"), "{e}");
    }

    #[test]
    fn missing_or_malformed_credentials_are_errors_that_quote_nothing() {
        let ok = success("AssumeRole");
        let cases: Vec<(String, &str)> = vec![
            (
                ok.replace(
                    "<SessionToken>FwoGZXIvYXdzEBMaDNEWTOKEN&amp;+/=</SessionToken>",
                    "",
                ),
                "expected SessionToken in Credentials",
            ),
            (
                ok.replace(
                    "<AccessKeyId>ASIANEWKEY</AccessKeyId>",
                    "<AccessKeyId></AccessKeyId>",
                ),
                "AccessKeyId in Credentials is empty",
            ),
            (
                ok.replace(
                    "</SecretAccessKey>",
                    "</SecretAccessKey><SecretAccessKey>x</SecretAccessKey>",
                ),
                "SecretAccessKey appears more than once",
            ),
            (
                ok.replace("<Expiration>2026-01-01T01:00:00Z", "<Expiration>tomorrow"),
                "Expiration: invalid timestamp",
            ),
            (
                ok.replace("AssumeRoleResult", "OtherResult"),
                "expected AssumeRoleResult in AssumeRoleResponse",
            ),
            (
                ok.replace("AssumeRoleResponse", "AssumeRoleWithWebIdentityResponse"),
                "expected the root element AssumeRoleResponse",
            ),
            (
                ok.replace("</SecretAccessKey>", "</SecretKey>"),
                "malformed XML",
            ),
            (
                ok.replace("NEWTOKEN&amp;", "NEWTOKEN&bogus;"),
                "malformed XML",
            ),
            (ok[..ok.len() / 2].to_owned(), "malformed XML"),
            (
                format!("<!DOCTYPE x [<!ENTITY a \"{NEW_SECRET}\">]>{ok}"),
                "no DOCTYPE",
            ),
            (format!("{ok}<extra/>"), "the end of the document"),
            ("".to_owned(), "the root element"),
        ];
        for (body, expect) in cases {
            let e = match parse_credentials(body.as_bytes(), Operation::AssumeRole) {
                Ok(_) => panic!("accepted a bad answer expecting {expect:?}"),
                Err(e) => e,
            };
            assert!(e.contains(expect), "expected {expect:?} in {e:?}");
            assert_no_secret(&e);
        }
        // Through the client: the error names the operation and the hint the endpoint.
        let server = TestServer::start(|_| Reply::new(200, "text/xml", "<AssumeRoleResponse/>"));
        let e = sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap_err();
        assert!(
            e.message
                .contains("unexpected answer: expected AssumeRoleResult"),
            "{e}"
        );
        assert!(e.hint.unwrap().contains("AWS_ENDPOINT_URL_STS"));
    }

    #[test]
    fn entities_cdata_and_namespace_prefixes_are_decoded() {
        let body = r#"<?xml version="1.0"?>
<!-- a comment -->
<sts:AssumeRoleResponse xmlns:sts="https://sts.amazonaws.com/doc/2011-06-15/" a='1>2'>
 <sts:AssumeRoleResult>
  <sts:Credentials>
   <sts:AccessKeyId>&#65;&#x53;IA&#X4B;</sts:AccessKeyId>
   <sts:SecretAccessKey>&lt;&gt;&amp;&quot;&apos;&#233;&#x1F600;</sts:SecretAccessKey>
   <sts:SessionToken><![CDATA[a<b&c]]>&amp;d<!-- mid --></sts:SessionToken>
   <sts:Expiration>2026-01-01T01:00:00.000+01:00</sts:Expiration>
  </sts:Credentials>
 </sts:AssumeRoleResult>
</sts:AssumeRoleResponse>
"#;
        let p = parse_credentials(body.as_bytes(), Operation::AssumeRole).unwrap();
        assert_eq!(p.access_key_id, "ASIAK");
        assert_eq!(p.secret_access_key.expose(), "<>&\"'é😀");
        assert_eq!(p.session_token.expose(), "a<b&c&d");
        assert_eq!(p.expiry, parse_rfc3339("2026-01-01T00:00:00Z").unwrap());
        assert_eq!(p.assumed_arn, None);
        for bad in [
            "&#0;",
            "&#xD800;",
            "&#x110000;",
            "&#;",
            "&amp",
            "&unknownentity;",
        ] {
            let doc = format!("<a>{bad}</a>");
            assert!(xml::parse(&doc).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn xml_nesting_is_bounded() {
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        let e = xml::parse(&deep).err().unwrap();
        assert_eq!(e.expected, "elements nested at most 16 deep");
    }

    #[test]
    fn bad_arguments_are_refused_before_any_request() {
        let server = TestServer::start(|_| Reply::new(200, "text/xml", success("AssumeRole")));
        let sts = sts(&server);
        let e = sts.assume_role(&base(), ROLE, "x", None, None).unwrap_err();
        assert!(e.message.contains("invalid role session name \"x\""), "{e}");
        let e = sts
            .assume_role(&base(), ROLE, "has space", None, None)
            .unwrap_err();
        assert!(e.message.contains("expected 2-64 characters"), "{e}");
        let e = sts
            .assume_role(&base(), "role/demo", "ok-name", None, None)
            .unwrap_err();
        assert!(e.message.contains("invalid role_arn"), "{e}");
        let e = sts
            .assume_role(&base(), ROLE, "ok-name", None, Some(60))
            .unwrap_err();
        assert!(e.message.contains("expected 900 to 43200, found 60"), "{e}");
        let e = sts
            .assume_role_with_web_identity(ROLE, "ok-name", &Secret::from(" \n"))
            .unwrap_err();
        assert!(e.message.contains("token is empty"), "{e}");
        assert!(server.seen().is_empty());
    }

    #[test]
    fn endpoints_are_regional_and_overrides_are_checked() {
        assert_eq!(
            regional_endpoint("us-east-1").unwrap(),
            "https://sts.us-east-1.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("cn-north-1").unwrap(),
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
        assert!(regional_endpoint("us-east-1.evil.com/").is_err());
        assert!(regional_endpoint("").is_err());
        let sts = Sts::new(client(), "ap-south-1", None).unwrap();
        assert_eq!(sts.endpoint(), "https://sts.ap-south-1.amazonaws.com");
        assert_eq!(sts.region(), "ap-south-1");

        let u = ServiceUrl::parse("HTTPS://sts.example.com:443/base/").unwrap();
        assert_eq!(u.authority(), "sts.example.com");
        assert_eq!(u.path("/"), "/base/");
        assert_eq!(u.url(&u.path("/")), "https://sts.example.com/base/");
        let u = ServiceUrl::parse("http://localhost:4566").unwrap();
        assert_eq!(
            (u.authority(), u.path("/").as_str()),
            ("localhost:4566", "/")
        );
        assert!(ServiceUrl::parse("http://[::1]:8080").is_ok());
        assert!(ServiceUrl::parse("http://127.0.0.2").is_ok());
        for (bad, why) in [
            ("http://sts.example.com", "refusing plain http://"),
            ("http://localhost.example.com", "refusing plain http://"),
            ("https://user:pw@sts.example.com", "user info"),
            ("https://sts.example.com/?a=1", "without query"),
            ("ftp://sts.example.com", "expected the scheme https://"),
            ("sts.example.com", "expected a URL"),
            ("https:///path", "expected a host"),
            ("https://sts.example.com/a b", "percent-encoded path"),
        ] {
            let e = ServiceUrl::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains("pw@"), "{e}");
        }
        let e = Sts::new(client(), "us-east-1", Some("http://10.0.0.1".into())).unwrap_err();
        assert!(e.hint.unwrap().contains("AWS_ENDPOINT_URL_STS"));
    }

    #[test]
    fn connection_failures_name_the_endpoint_and_hint() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sts = Sts::new(
            client(),
            "us-east-1",
            Some(format!("http://127.0.0.1:{port}")),
        )
        .unwrap();
        let e = sts.get_caller_identity(&base()).unwrap_err();
        assert!(
            e.message.starts_with(&format!(
                "STS GetCallerIdentity via http://127.0.0.1:{port} failed"
            )),
            "{e}"
        );
        assert!(
            e.hint
                .unwrap()
                .contains("check network access to 127.0.0.1")
        );
    }

    #[test]
    fn debug_of_the_client_shows_no_secret() {
        let sts = Sts::new(client(), "us-east-1", None).unwrap();
        assert_eq!(
            format!("{sts:?}"),
            "Sts { region: \"us-east-1\", endpoint: \"https://sts.us-east-1.amazonaws.com\", .. }"
        );
    }
}
