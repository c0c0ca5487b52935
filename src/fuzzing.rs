//! Entry points for the fuzz checks into parsers that are crate-private.
//!
//! Owns: one thin function per parser that reads outside input and is not
//! otherwise reachable from outside the crate — the `credential_process`
//! output, the container and IMDS credentials answer, the STS answers, the IAM
//! Identity Center token cache and its portal and OIDC answers, the
//! `aws login` cache file (its refresh and its DPoP key), and the endpoint
//! rule of the AWS service clients — so `fuzz/checks.rs` (and
//! `tests/fuzz_regressions.rs`, which includes it) can feed them bytes. Each
//! calls the very function the credential source calls and returns what it
//! returns; an error is the text the user would be shown.
//! Refuses: being API. Hidden from the docs, for the fuzz checks only; nothing
//! in the crate calls it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::credential_types::Credentials;
use crate::credentials::{CallerIdentity, container, login, process, sso, sts};
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

/// What an `aws login` token cache file gives.
#[derive(Debug)]
pub struct LoginFields {
    /// `accessToken.accessKeyId`.
    pub access_key_id: String,
    /// `accessToken.secretAccessKey`.
    pub secret_access_key: Secret,
    /// `accessToken.sessionToken`.
    pub session_token: Secret,
    /// `accessToken.accountId`.
    pub account_id: Option<String>,
    /// `accessToken.expiresAt`.
    pub expires_at: SystemTime,
    /// `refreshToken`.
    pub refresh_token: Secret,
    /// `clientId`.
    pub client_id: String,
    /// The public key of `dpopKey`, SEC1 uncompressed.
    pub public_key: Vec<u8>,
}

fn login_fields(c: &login::LoginCache) -> LoginFields {
    LoginFields {
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: c.session_token.clone(),
        account_id: c.account_id.clone(),
        expires_at: c.expires_at,
        refresh_token: c.refresh_token.clone(),
        client_id: c.client_id.clone(),
        public_key: c
            .key
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec(),
    }
}

/// An `aws login` cache file, read as the login source reads it.
///
/// # Errors
/// What follows "the cache file …" in the user's message.
pub fn login_cache(bytes: &[u8]) -> Result<LoginFields, String> {
    login::parse_cache(bytes)
        .map(|c| login_fields(&c))
        .map_err(|e| e.to_string())
}

/// The Sign-In `CreateOAuth2Token` answer: keys, token, the new refresh token,
/// and `expiresIn`.
///
/// # Errors
/// What follows "unexpected answer:" in the user's message.
pub fn login_answer(body: &[u8]) -> Result<(String, Secret, Secret, Secret, Duration), String> {
    login::parse_refresh_answer(body)
        .map(|r| {
            (
                r.access_key_id.clone(),
                r.secret_access_key.clone(),
                r.session_token.clone(),
                r.refresh_token.clone(),
                r.expires_in,
            )
        })
        .map_err(|e| e.to_string())
}

/// The cache file `cache` refreshed with `answer` at `now`: the new fields,
/// and the text written back.
///
/// # Errors
/// Either document's error.
pub fn login_refresh(
    cache: &[u8],
    answer: &[u8],
    now: SystemTime,
) -> Result<(LoginFields, Secret), String> {
    let c = login::parse_cache(cache).map_err(|e| e.to_string())?;
    let a = login::parse_refresh_answer(answer).map_err(|e| e.to_string())?;
    let (new, text) = c.refreshed(&a, now);
    Ok((login_fields(&new), text))
}

/// A `dpopKey` PEM text: the public key of the P-256 key it holds, SEC1
/// uncompressed.
///
/// # Errors
/// What follows "has a \"dpopKey\" that".
pub fn dpop_key(pem: &str) -> Result<Vec<u8>, String> {
    login::dpop::parse_pem_key(pem)
        .map(|k| k.verifying_key().to_sec1_point(false).as_bytes().to_vec())
        .map_err(|e| e.to_string())
}
