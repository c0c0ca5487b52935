//! AWS STS over its query protocol, signed with our own SigV4 signer.
//!
//! Owns: `AssumeRole` (SigV4, service `sts`), `AssumeRoleWithWebIdentity`
//! (unsigned) and `GetCallerIdentity` (SigV4) — AWS STS API Reference,
//! <https://docs.aws.amazon.com/STS/latest/APIReference/> — at the **regional**
//! endpoint `https://sts.<region>.amazonaws.com` (`.amazonaws.com.cn` for `cn-`
//! regions) or an override (regional tokens are valid in every region; IAM
//! User Guide, "Manage AWS STS in an AWS Region"); the form body, every value
//! `UriEncode`d; reading the answers with [`crate::xml`]; and the hints for
//! STS's error codes. The call itself (retries, a fresh signature per attempt,
//! the error reader) is [`crate::aws::service`]'s.
//! Refuses: answers larger than 64 KiB, plain `http://` to a host that is not
//! loopback, and putting a secret access key, session token or web identity
//! token in any error, log line or `Debug` output.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use p256::elliptic_curve::zeroize::Zeroize;

use super::{Credentials, SourceError};
use crate::aws::endpoint::{ServiceUrl, check_region, regional};
use crate::aws::service::{AWS_CALL, BoxError, Call, Service};
use crate::http::{Method, Transport};
use crate::secret::Secret;
use crate::sigv4::canonical::uri_encode;
use crate::sigv4::{Algorithm, SignableRequest, Signer, SigningParams, SigningSettings};
use crate::text::{MAX_SERVER_TEXT, clean};
use crate::time::{AmzDate, format_rfc3339, parse_rfc3339};
use crate::url::PlainHttp;
use crate::xml::{self, Element, XmlError};

/// The STS API version sent as `Version=`.
const API_VERSION: &str = "2011-06-15";

/// The `Content-Type` of every STS request (signed for the signed operations).
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The SigV4 signing name of STS.
const SIGNING_NAME: &str = "sts";

/// The regional STS endpoint for `region` (see [`regional`]).
///
/// # Errors
/// [`SourceError`] when `region` is not a valid region name.
fn regional_endpoint(region: &str) -> Result<String, SourceError> {
    regional("sts", region).map_err(|e| region_error(&e))
}

/// An invalid region, with the hint to set one.
fn region_error(e: &crate::aws::endpoint::RegionError) -> SourceError {
    SourceError::new(e.to_string())
        .with_hint("set AWS_REGION or the profile's `region`")
        .caused_by(e.clone())
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
pub(crate) enum Operation {
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

/// An STS client for one region and endpoint: each operation a `POST` of a
/// form to the endpoint's root path, the answer read as XML.
pub(crate) struct Sts {
    service: Service,
    region: String,
    signer: Signer,
    clock: fn() -> SystemTime,
}

impl fmt::Debug for Sts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sts")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

impl Sts {
    /// A client sending through `transport` (built with
    /// [`AWS_CLIENT`](crate::aws::service::AWS_CLIENT)) and signing for `region`.
    ///
    /// `endpoint` overrides the regional endpoint; the caller picks it as the
    /// AWS SDKs do (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, the profile's
    /// `services` section, its `endpoint_url`; AWS SDKs and Tools Reference
    /// Guide, "Service-specific endpoints",
    /// <https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>).
    /// Requests are still signed for `region`.
    ///
    /// # Errors
    /// [`SourceError`] when `region` is not a valid region name or the endpoint
    /// URL breaks the [`ServiceUrl`] rules.
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        region: &str,
        endpoint: Option<String>,
    ) -> Result<Self, SourceError> {
        check_region(region).map_err(|e| region_error(&e))?;
        let url = match endpoint {
            Some(url) => url,
            None => regional_endpoint(region)?,
        };
        let endpoint = ServiceUrl::parse(&url, PlainHttp::LoopbackOnly).map_err(|why| {
            SourceError::new(format!("invalid STS endpoint: {why}"))
                .with_hint(
                    "fix AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL or the profile's endpoint_url",
                )
                .caused_by(why)
        })?;
        Ok(Sts {
            service: Service::new("STS", endpoint, transport, AWS_CALL),
            region: region.to_owned(),
            signer: Signer::new(),
            clock: SystemTime::now,
        })
    }

    /// Replaces the clock that dates signatures (tests use a fixed time).
    #[cfg(test)]
    fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// The endpoint in use, e.g. `https://sts.eu-west-1.amazonaws.com`.
    fn endpoint(&self) -> String {
        self.service.endpoint().to_string()
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
    pub(crate) fn assume_role(
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
        if let Some(d) = duration_seconds
            && !(900..=43_200).contains(&d)
        {
            return Err(SourceError::new(format!(
                "{what}: invalid duration_seconds: expected 900 to 43200, found {d}"
            ))
            .with_hint("fix duration_seconds in the profile"));
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
        let answer = self.call(&ctx, &form, Some(base))?;
        let parsed = parse_credentials(&answer.body, Operation::AssumeRole)
            .map_err(|why| invalid_answer(&what, why))?;
        log::debug!(
            "assumed {role_arn} as {}, expires {}",
            parsed.assumed_arn.as_deref().map_or_else(
                || "(no AssumedRoleUser)".to_owned(),
                |a| clean(a, MAX_SERVER_TEXT)
            ),
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
    pub(crate) fn assume_role_with_web_identity(
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
        let answer = self.call(&ctx, &form, None)?;
        let parsed = parse_credentials(&answer.body, Operation::AssumeRoleWithWebIdentity)
            .map_err(|why| invalid_answer(&what, why))?;
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
    pub(crate) fn get_caller_identity(
        &self,
        base: &Credentials,
    ) -> Result<CallerIdentity, SourceError> {
        let what = "STS GetCallerIdentity".to_owned();
        let form = Form::new(Operation::GetCallerIdentity);
        let ctx = Context {
            operation: Operation::GetCallerIdentity,
            what: &what,
            role_arn: None,
            base_source: Some(base.source()),
        };
        let answer = self.call(&ctx, &form, Some(base))?;
        parse_caller_identity(&answer.body).map_err(|why| invalid_answer(&what, why))
    }

    /// The SigV4 headers of one attempt (`x-amz-date`, `x-amz-security-token`
    /// when the base has a token, `authorization`) for `request`, dated `now`.
    fn sign(
        &self,
        request: &SignableRequest<'_>,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Result<Vec<(&'static str, Secret)>, BoxError> {
        let params = SigningParams {
            credentials,
            algorithm: Algorithm::V4,
            region: &self.region,
            service: SIGNING_NAME,
            time: AmzDate::from_system_time(now),
            settings: SigningSettings::default(),
        };
        Ok(self.signer.sign(request, &params)?.headers)
    }

    /// Sends `form` through the service layer (signed with `signing`, afresh
    /// for each attempt) and returns the body of the 200 answer.
    fn call(
        &self,
        ctx: &Context<'_>,
        form: &Form,
        signing: Option<&Credentials>,
    ) -> Result<crate::http::Answer, SourceError> {
        let call = Call {
            method: Method::Post,
            path: "/",
            headers: &[("content-type", FORM_CONTENT_TYPE)],
            body: form.body().expose().as_bytes(),
        };
        let sign = |request: &SignableRequest<'_>| match signing {
            Some(c) => self.sign(request, c, (self.clock)()),
            None => Ok(Vec::new()),
        };
        let endpoint = self.service.endpoint();
        let answer = self.service.fetch(&call, Some(&sign)).map_err(|e| {
            SourceError::unreachable(
                &format!("{} via {endpoint}", ctx.what),
                e,
                || format!(
                    "check network access to {} (HTTPS_PROXY is honoured), or point AWS_ENDPOINT_URL_STS at a reachable STS endpoint",
                    endpoint.authority()
                ),
                "try again; if it persists, check the STS endpoint and any proxy in between",
            )
        })?;
        if answer.status == 200 {
            return Ok(answer);
        }
        let e = SourceError::refused(ctx.what, &answer);
        Err(match self.hint(ctx, e.error_type(), answer.status) {
            Some(hint) => e.with_hint(hint),
            None => e,
        })
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

fn invalid_answer(what: &str, why: AnswerError) -> SourceError {
    SourceError::new(format!("{what}: unexpected answer: {why}"))
        .with_hint("check that the STS endpoint (AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL) is a real STS service")
        .caused_by(why)
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

/// Why an STS answer is not the one expected. Names elements, never values.
#[derive(Debug)]
pub(crate) enum AnswerError {
    Xml(XmlError),
    /// `Expiration` is not an RFC 3339 time. (The time parser's own error is
    /// not kept: it quotes the text, which in a malformed answer could be
    /// anything, a secret included.)
    Expiration,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Xml(e) => e.fmt(f),
            AnswerError::Expiration => {
                f.write_str("Expiration is not an RFC 3339 time such as 2025-01-31T12:00:00Z")
            }
        }
    }
}

impl std::error::Error for AnswerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AnswerError::Xml(e) => Some(e),
            AnswerError::Expiration => None,
        }
    }
}

impl From<XmlError> for AnswerError {
    fn from(e: XmlError) -> Self {
        AnswerError::Xml(e)
    }
}

/// The `Credentials` block of an answer.
pub(crate) struct ParsedCredentials {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Secret,
    expiry: SystemTime,
    pub(crate) assumed_arn: Option<String>,
}

impl ParsedCredentials {
    pub(crate) fn into_credentials(self, source: String) -> Credentials {
        Credentials::new(
            self.access_key_id,
            self.secret_access_key,
            Some(self.session_token),
            Some(self.expiry),
            source,
        )
    }
}

/// The `<{Op}Result>` of an answer to `op`.
fn result_of(root: &Element, op: Operation) -> Result<&Element, XmlError> {
    root.child(&format!("{}Result", op.name()))
}

/// Reads `<{Op}Response><{Op}Result><Credentials>` with all four children
/// required, and the optional `AssumedRoleUser/Arn`. Errors never quote the
/// document (it holds secrets); they name the element expected.
pub(crate) fn parse_credentials(
    body: &[u8],
    op: Operation,
) -> Result<ParsedCredentials, AnswerError> {
    let root = xml::parse_root(body, &format!("{}Response", op.name()))?;
    let result = result_of(&root, op)?;
    let creds = result.child("Credentials")?;
    let access_key_id = creds.child_text("AccessKeyId")?;
    let secret_access_key = Secret::new(creds.child_text("SecretAccessKey")?);
    let session_token = Secret::new(creds.child_text("SessionToken")?);
    let expiry =
        parse_rfc3339(&creds.child_text("Expiration")?).map_err(|_| AnswerError::Expiration)?;
    let assumed_arn = match result.only_child("AssumedRoleUser")? {
        Some(user) => match user.only_child("Arn")? {
            Some(arn) => Some(arn.leaf_text()?),
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

pub(crate) fn parse_caller_identity(body: &[u8]) -> Result<CallerIdentity, AnswerError> {
    let root = xml::parse_root(body, "GetCallerIdentityResponse")?;
    let result = result_of(&root, Operation::GetCallerIdentity)?;
    Ok(CallerIdentity {
        account: result.child_text("Account")?,
        arn: result.child_text("Arn")?,
        user_id: result.child_text("UserId")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fake::{FakeTransport, Reply, Seen};
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    fn sts(server: &Arc<FakeTransport>) -> Sts {
        Sts::new(server.clone(), "eu-west-1", Some(server.url())).unwrap()
    }

    fn unused() -> Arc<FakeTransport> {
        FakeTransport::start(|s| panic!("unexpected request {} {}", s.method, s.target))
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
    /// definition (AWS IAM User Guide, "Create a signed AWS API request") with the `hmac`/`sha2` crates —
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
        let server = FakeTransport::start(|_| Reply::new(200, "text/xml", success("AssumeRole")));
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
        let server = FakeTransport::start(|_| Reply::new(200, "text/xml", success("AssumeRole")));
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
        let server = FakeTransport::start(|_| Reply::new(200, "text/xml", success("AssumeRole")));
        let sts = Sts::new(server.clone(), "us-east-1", None)
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
        sts.assume_role(&creds, ROLE, "mcp-sigv4-test", Some("a+b=c/d"), None)
            .unwrap();
        let seen = server.seen();
        let s = &seen[0];
        assert_eq!(s.target, "/");
        assert_eq!(s.body, form.body().expose().as_bytes());
        let get = |n: &str| s.header(n);
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
        let server = FakeTransport::start(|_| {
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
        let server = FakeTransport::start(|_| {
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
        let server = FakeTransport::start(|_| {
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
            let server = FakeTransport::start(move |_| Reply::new(400, "text/xml", body.clone()));
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
            let server = FakeTransport::start(move |_| Reply::new(400, "text/xml", body.clone()));
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
        let n = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&n);
        let server = FakeTransport::start(move |_| match count.fetch_add(1, Ordering::SeqCst) {
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
    fn too_many_requests_is_retried_as_the_sdks_do() {
        // Before the one retry policy, STS retried 5xx and throttling codes but
        // not HTTP 429, which a proxy or a VPC endpoint in front of STS sends
        // (the SDKs' standard retry mode counts it as throttling).
        let n = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&n);
        let server = FakeTransport::start(move |_| match count.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::new(429, "text/plain", "slow down"),
            _ => Reply::new(200, "text/xml", success("AssumeRole")),
        });
        sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap();
        assert_eq!(server.seen().len(), 2);
    }

    #[test]
    fn retries_stop_after_three_attempts() {
        let server = FakeTransport::start(|_| {
            Reply::new(500, "text/xml", error_xml("InternalFailure", "oops"))
        });
        let e = sts(&server)
            .assume_role(&base(), ROLE, "session", None, None)
            .unwrap_err();
        assert!(e.message.contains("InternalFailure: oops (HTTP 500"), "{e}");
        assert_eq!(server.seen().len(), AWS_CALL.retry.attempts as usize);
    }

    #[test]
    fn unreadable_error_bodies_still_give_status_and_request_id() {
        let server = FakeTransport::start(|_| {
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
    fn oversized_answers_are_refused() {
        let big = format!(
            "<AssumeRoleResponse>{}</AssumeRoleResponse>",
            " ".repeat(AWS_CALL.max_answer)
        );
        let server = FakeTransport::start(move |_| Reply::new(200, "text/xml", big.clone()));
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
                "Expiration is not an RFC 3339 time",
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
                Err(e) => e.to_string(),
            };
            assert!(e.contains(expect), "expected {expect:?} in {e:?}");
            assert_no_secret(&e);
        }
        // Through the client: the error names the operation and the hint the endpoint.
        let server = FakeTransport::start(|_| Reply::new(200, "text/xml", "<AssumeRoleResponse/>"));
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
            assert!(xml::parse(doc.as_bytes()).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn bad_arguments_are_refused_before_any_request() {
        let server = FakeTransport::start(|_| Reply::new(200, "text/xml", success("AssumeRole")));
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
        let sts = Sts::new(unused(), "ap-south-1", None).unwrap();
        assert_eq!(sts.endpoint(), "https://sts.ap-south-1.amazonaws.com");
        assert_eq!(sts.region, "ap-south-1");
        let e = Sts::new(unused(), "us-east-1", Some("http://10.0.0.1".into())).unwrap_err();
        assert!(e.message.contains("refusing plain http://"), "{e}");
        assert!(e.hint.unwrap().contains("AWS_ENDPOINT_URL_STS"));
        let e = Sts::new(
            unused(),
            "us-east-1",
            Some("https://sts.example.com/?a=1".into()),
        )
        .unwrap_err();
        assert!(e.message.contains("without query"), "{e}");
    }

    #[test]
    fn connection_failures_name_the_endpoint_and_hint() {
        let port = 4567;
        let sts = Sts::new(
            FakeTransport::unreachable(),
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
        let sts = Sts::new(unused(), "us-east-1", None).unwrap();
        assert_eq!(
            format!("{sts:?}"),
            "Sts { region: \"us-east-1\", endpoint: \"https://sts.us-east-1.amazonaws.com\", .. }"
        );
    }
}
