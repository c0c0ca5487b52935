//! Entry points for the fuzz checks into parsers that are crate-private.
//!
//! Owns: one thin function per parser that reads outside input and is not
//! otherwise reachable from outside the crate — the `credential_process`
//! output, the container and IMDS credentials answer, the STS answers, the IAM
//! Identity Center token cache and its portal and OIDC answers, and the
//! endpoint rule of the AWS service clients — so `fuzz/checks.rs` (and
//! `tests/fuzz_regressions.rs`, which includes it) can feed them bytes. Each
//! calls the very function the credential source calls and returns what it
//! returns; an error is the text the user would be shown.
//! Refuses: being API. Hidden from the docs, for the fuzz checks only; nothing
//! in the crate calls it.

use std::path::Path;
use std::time::SystemTime;

use crate::credential_types::Credentials;
use crate::credentials::{CallerIdentity, container, process, sso, sts};
use crate::secret::Secret;
use crate::url::PlainHttp;

/// `credential_process` output, read as the process source reads it (profile
/// `fuzz`).
///
/// # Errors
/// The message and hint the user would see.
pub fn process_output(stdout: &[u8]) -> Result<Credentials, String> {
    process::parse_process_output(stdout, "fuzz").map_err(|e| e.to_string())
}

/// The JSON credentials answer of the container and IMDS endpoints.
///
/// # Errors
/// What follows "the answer" in the user's message.
pub fn json_credentials(body: &[u8]) -> Result<Credentials, String> {
    container::parse_json_credentials(body, "fuzz").map_err(|e| e.to_string())
}

/// An STS `AssumeRole` answer (`AssumeRoleWithWebIdentity` when
/// `web_identity`): the credentials and the assumed role's ARN, if given.
///
/// # Errors
/// What follows "unexpected answer:" in the user's message.
pub fn sts_credentials(
    body: &[u8],
    web_identity: bool,
) -> Result<(Credentials, Option<String>), String> {
    let op = if web_identity {
        sts::Operation::AssumeRoleWithWebIdentity
    } else {
        sts::Operation::AssumeRole
    };
    let parsed = sts::parse_credentials(body, op).map_err(|e| e.to_string())?;
    let arn = parsed.assumed_arn.clone();
    Ok((parsed.into_credentials("fuzz".into()), arn))
}

/// An STS `GetCallerIdentity` answer.
///
/// # Errors
/// What follows "unexpected answer:" in the user's message.
pub fn sts_caller_identity(body: &[u8]) -> Result<CallerIdentity, String> {
    sts::parse_caller_identity(body).map_err(|e| e.to_string())
}

/// What an IAM Identity Center token cache file gives: the access token, its
/// expiry, and whether the refresh registration is complete.
#[derive(Debug)]
pub struct SsoCache {
    /// `accessToken`.
    pub access_token: Secret,
    /// `expiresAt`.
    pub expires_at: SystemTime,
    /// All of `refreshToken`, `clientId`, `clientSecret` and a readable
    /// `registrationExpiresAt` are there.
    pub refreshable: bool,
}

/// An IAM Identity Center token cache file, read as the SSO source reads it.
///
/// # Errors
/// What follows "the cache file …" in the user's message.
pub fn sso_cache(text: &[u8]) -> Result<SsoCache, String> {
    let token = sso::read_cache(text, Path::new("fuzz")).map_err(|e| e.to_string())?;
    Ok(SsoCache {
        access_token: token.access_token.clone(),
        expires_at: token.expires_at,
        refreshable: token.registration.is_some(),
    })
}

/// The portal's `GetRoleCredentials` answer.
///
/// # Errors
/// What follows "unexpected answer:" in the user's message.
pub fn sso_role_credentials(body: &[u8]) -> Result<Credentials, String> {
    sso::parse_role_credentials(body, "fuzz").map_err(|e| e.to_string())
}

/// The OIDC `CreateToken` answer to a refresh at `now`: the new access token,
/// the new refresh token if one came, and the new expiry.
///
/// # Errors
/// What follows "unexpected answer:" in the user's message.
pub fn oidc_token(
    body: &[u8],
    now: SystemTime,
) -> Result<(Secret, Option<Secret>, SystemTime), String> {
    sso::read_token_answer(body, now).map_err(|e| e.to_string())
}

/// An AWS service endpoint URL under `rule`, as the STS, SSO and IMDS
/// clients take it: its `Host` value and the URL of the operation path `/x`.
///
/// # Errors
/// The message the user would see.
pub fn service_url(text: &str, rule: PlainHttp) -> Result<(String, String), String> {
    let u = crate::aws::endpoint::ServiceUrl::parse(text, rule).map_err(|e| e.to_string())?;
    Ok((u.authority().to_owned(), u.url(&u.path("/x"))))
}
