//! IAM Identity Center (SSO) credentials: the cached bearer token, its refresh,
//! and `GetRoleCredentials`.
//!
//! Owns (`../shared/spec/aws-credentials.md` §7.2, Rust `aws-config` rules):
//! reading a profile's SSO settings ([`sso_profile`]: the `sso_session` form
//! with its `[sso-session]` section, or the legacy `sso_start_url` form); the
//! token cache file `<cache dir>/<sha1>.json` written by `aws sso login`
//! (SHA-1 of the session name, or of the start URL for legacy profiles), read
//! with a size bound and camelCase keys matched case-insensitively; refreshing
//! an `sso_session` token through the OIDC `CreateToken` call when it expires
//! within 5 minutes, at most once per 30 seconds, and writing the new token back
//! to the cache file atomically with unknown fields kept; and the unsigned
//! portal call that turns the token into role credentials.
//! Refuses: refreshing legacy (start-URL-keyed) tokens (no SDK does); starting
//! a login (that is `aws sso login`'s job — errors say to run it); printing the
//! access token, refresh token or client secret anywhere.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p256::elliptic_curve::zeroize::Zeroize;
use serde_json::{Map, Value};

use super::ini::{ProfileSet, Properties};
use super::process::{field, optional_string, required_string};
use super::profile::read_bounded;
use super::sha1::sha1_hex;
use super::sts::{ServiceUrl, check_region};
use super::{Credentials, SourceError};
use crate::http::{Client, ErrorKind, HttpError, Method, RequestTimeouts};
use crate::secret::Secret;
use crate::sigv4::canonical::uri_encode;
use crate::sync::Locked;
use crate::time::{format_rfc3339, parse_rfc3339};

/// A token that expires within this window (5 minutes) is refreshed first, as
/// Rust `aws-config` does (botocore uses 15 minutes).
pub const REFRESH_WINDOW: Duration = Duration::from_secs(300);

/// At most one refresh attempt per this interval (30 s), as Rust `aws-config`.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The largest token cache file read (64 KiB); a real one is under 8 KiB.
pub const MAX_CACHE_FILE_BYTES: u64 = 64 * 1024;

/// The largest portal or OIDC answer read (64 KiB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Timeouts of one portal or OIDC request: response head 30 s, read silence
/// 30 s, whole exchange 60 s. Build the [`Client`] with
/// [`sts::CLIENT_SETTINGS`](super::sts::CLIENT_SETTINGS) (connect 5 s).
pub const REQUEST_TIMEOUTS: RequestTimeouts = RequestTimeouts {
    response: Duration::from_secs(30),
    per_read: Some(Duration::from_secs(30)),
    total: Some(Duration::from_secs(60)),
};

/// Attempts per request: connection failures, timeouts, HTTP 429 and 5xx are
/// tried again after 100 ms, then 200 ms.
pub const MAX_ATTEMPTS: u32 = 3;

/// The SSO settings of one profile, resolved through its `[sso-session]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoProfile {
    /// `sso_session` (the refreshable format); `None` for the legacy format.
    pub session_name: Option<String>,
    /// `sso_start_url`, e.g. `https://d-abc123.awsapps.com/start`.
    pub start_url: String,
    /// `sso_region`: where IAM Identity Center runs (not the profile's `region`).
    pub region: String,
    /// `sso_account_id`, 12 digits.
    pub account_id: String,
    /// `sso_role_name`, the permission set's role.
    pub role_name: String,
}

impl SsoProfile {
    /// What names the token cache file: the session name, or the start URL for
    /// legacy profiles.
    pub fn cache_key(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.start_url)
    }

    /// `<cache_dir>/<lower-case hex SHA-1 of the cache key>.json`, the file
    /// `aws sso login` writes.
    pub fn cache_file(&self, cache_dir: &Path) -> PathBuf {
        cache_dir.join(format!("{}.json", sha1_hex(self.cache_key().as_bytes())))
    }
}

/// The SSO settings of profile `profile_name` (`props`), with its
/// `[sso-session]` looked up in `set`. Rust `aws-config` rules:
/// with `sso_session` the profile must not also carry `sso_start_url` or
/// `sso_region`, and the named `[sso-session]` must exist (its `sso_start_url`
/// and `sso_region` are used); `sso_account_id` and `sso_role_name` come as a
/// pair (and both are needed for credentials); `sso_region` (a valid region
/// name) and `sso_start_url` are mandatory. Blank values count as absent.
///
/// Returns `None` when the profile has none of `sso_session`, `sso_start_url`,
/// `sso_region`, `sso_account_id`, `sso_role_name`.
///
/// # Errors
/// `Some(Err(_))` naming the rule broken, with a hint to fix the config file.
pub fn sso_profile(
    profile_name: &str,
    props: &Properties,
    set: &ProfileSet,
) -> Option<Result<SsoProfile, SourceError>> {
    let get = |props: &Properties, key: &str| {
        props
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let account_id = get(props, "sso_account_id");
    let role_name = get(props, "sso_role_name");
    let start_url = get(props, "sso_start_url");
    let region = get(props, "sso_region");
    let session_name = get(props, "sso_session");
    if account_id.is_none()
        && role_name.is_none()
        && start_url.is_none()
        && region.is_none()
        && session_name.is_none()
    {
        return None;
    }
    let p = profile_name;
    let fail = |message: String, hint: String| Err(SourceError::new(message).with_hint(hint));
    Some((|| {
        let (start_url, region, where_) = match &session_name {
            Some(s) => {
                for (key, value) in [("sso_start_url", &start_url), ("sso_region", &region)] {
                    if value.is_some() {
                        return fail(
                            format!(
                                "profile '{p}' sets `{key}` next to `sso_session = {s}`: with a session name, `{key}` can only be specified in the [sso-session {s}] section"
                            ),
                            format!(
                                "remove `{key}` from [profile {p}] and keep it in [sso-session {s}]"
                            ),
                        );
                    }
                }
                let Some(session) = set.sso_session(s) else {
                    return fail(
                        format!(
                            "profile '{p}' refers to `sso_session = {s}` but the config file has no [sso-session {s}] section"
                        ),
                        format!(
                            "add [sso-session {s}] with sso_start_url and sso_region to the config file, or run `aws configure sso`"
                        ),
                    );
                };
                (
                    get(session, "sso_start_url"),
                    get(session, "sso_region"),
                    format!("[sso-session {s}]"),
                )
            }
            None => (start_url, region, format!("[profile {p}]")),
        };
        let (account_id, role_name) = match (account_id, role_name) {
            (Some(a), Some(r)) => (a, r),
            (Some(_), None) => {
                return fail(
                    format!(
                        "profile '{p}': if `sso_account_id` is set, then `sso_role_name` must also be set"
                    ),
                    format!("add sso_role_name to [profile {p}]"),
                );
            }
            (None, Some(_)) => {
                return fail(
                    format!(
                        "profile '{p}': if `sso_role_name` is set, then `sso_account_id` must also be set"
                    ),
                    format!("add sso_account_id to [profile {p}]"),
                );
            }
            (None, None) => {
                return fail(
                    format!(
                        "profile '{p}' has IAM Identity Center settings but no `sso_account_id` and `sso_role_name`, so it gives a bearer token, not AWS credentials"
                    ),
                    format!(
                        "add sso_account_id and sso_role_name to [profile {p}], or run `aws configure sso --profile {p}`"
                    ),
                );
            }
        };
        let Some(region) = region else {
            return fail(
                format!("profile '{p}': `sso_region` was missing"),
                format!("add sso_region to {where_}"),
            );
        };
        if let Err(e) = check_region(&region) {
            return fail(
                format!(
                    "profile '{p}': invalid `sso_region` in {where_}: {}",
                    e.message
                ),
                format!("fix sso_region in {where_}"),
            );
        }
        let Some(start_url) = start_url else {
            return fail(
                format!("profile '{p}': `sso_start_url` was missing"),
                format!("add sso_start_url to {where_}"),
            );
        };
        Ok(SsoProfile {
            session_name,
            start_url,
            region,
            account_id,
            role_name,
        })
    })())
}

fn regional_url(prefix: &str, region: &str) -> Result<String, SourceError> {
    check_region(region)?;
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://{prefix}.{region}.{suffix}"))
}

/// The portal endpoint of `region`: `https://portal.sso.<region>.amazonaws.com`
/// (`.amazonaws.com.cn` for `cn-` regions).
///
/// # Errors
/// [`SourceError`] when `region` is not a valid region name.
pub fn portal_endpoint(region: &str) -> Result<String, SourceError> {
    regional_url("portal.sso", region)
}

/// The OIDC endpoint of `region`: `https://oidc.<region>.amazonaws.com`
/// (`.amazonaws.com.cn` for `cn-` regions).
///
/// # Errors
/// [`SourceError`] when `region` is not a valid region name.
pub fn oidc_endpoint(region: &str) -> Result<String, SourceError> {
    regional_url("oidc", region)
}

/// Endpoint overrides, chosen by the caller as the SDKs do (environment
/// variable, then `AWS_ENDPOINT_URL`, then the profile's `services` section
/// sub-properties `sso` / `sso_oidc` → `endpoint_url`, then the profile's
/// `endpoint_url`). `None` means the regional default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SsoEndpoints {
    /// `AWS_ENDPOINT_URL_SSO`: replaces `https://portal.sso.<sso_region>.amazonaws.com`.
    pub portal: Option<String>,
    /// `AWS_ENDPOINT_URL_SSO_OIDC`: replaces `https://oidc.<sso_region>.amazonaws.com`.
    pub oidc: Option<String>,
}

/// The OIDC client registration that allows a refresh.
struct Registration {
    refresh_token: Secret,
    client_id: Secret,
    client_secret: Secret,
    expires_at: SystemTime,
}

/// One read of the token cache file.
struct CachedToken {
    access_token: Secret,
    expires_at: SystemTime,
    /// Present when all four refresh fields are there and readable.
    registration: Option<Registration>,
    /// The file as read, to write back with unknown fields kept.
    raw: Map<String, Value>,
}

impl Drop for CachedToken {
    fn drop(&mut self) {
        for value in self.raw.values_mut() {
            if let Value::String(s) = value {
                s.zeroize();
            }
        }
    }
}

/// The IAM Identity Center credential source of one profile.
///
/// Hold it across resolutions (the chain keeps it with the profile files):
/// it remembers the last refresh attempt so a failing refresh is not retried
/// more than once per [`MIN_REFRESH_INTERVAL`]. Every
/// [`credentials`](Self::credentials) call reads the cache file again, so a
/// user who runs `aws sso login` in another terminal is picked up at once.
pub struct SsoSource {
    profile_name: String,
    profile: SsoProfile,
    cache_file: PathBuf,
    client: Client,
    portal: ServiceUrl,
    oidc: ServiceUrl,
    last_refresh_attempt: Mutex<Option<SystemTime>>,
}

impl fmt::Debug for SsoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoSource")
            .field("profile_name", &self.profile_name)
            .field("profile", &self.profile)
            .field("cache_file", &self.cache_file)
            .field("portal", &self.portal.to_string())
            .field("oidc", &self.oidc.to_string())
            .finish_non_exhaustive()
    }
}

impl SsoSource {
    /// The source for `profile` (from [`sso_profile`]) of the profile named
    /// `profile_name` (used in messages and the `aws sso login --profile` hint),
    /// reading tokens from `cache_dir` (the chain passes `<home>/.aws/sso/cache`)
    /// and sending through `client`.
    ///
    /// # Errors
    /// [`SourceError`] when an endpoint override breaks the
    /// [`ServiceUrl`] rules or `sso_region` is invalid.
    pub fn new(
        profile_name: &str,
        profile: SsoProfile,
        cache_dir: &Path,
        client: Client,
        endpoints: SsoEndpoints,
    ) -> Result<Self, SourceError> {
        let url = |given: Option<String>, default: Result<String, SourceError>, var: &str| {
            let url = match given {
                Some(u) => u,
                None => default?,
            };
            ServiceUrl::parse(&url).map_err(|why| {
                SourceError::new(format!("invalid IAM Identity Center endpoint: {why}"))
                    .with_hint(format!("fix {var} / AWS_ENDPOINT_URL"))
            })
        };
        let portal = url(
            endpoints.portal,
            portal_endpoint(&profile.region),
            "AWS_ENDPOINT_URL_SSO",
        )?;
        let oidc = url(
            endpoints.oidc,
            oidc_endpoint(&profile.region),
            "AWS_ENDPOINT_URL_SSO_OIDC",
        )?;
        Ok(SsoSource {
            profile_name: profile_name.to_owned(),
            cache_file: profile.cache_file(cache_dir),
            profile,
            client,
            portal,
            oidc,
            last_refresh_attempt: Mutex::new(None),
        })
    }

    /// The profile's SSO settings.
    pub fn profile(&self) -> &SsoProfile {
        &self.profile
    }

    /// The token cache file this source reads.
    pub fn cache_file(&self) -> &Path {
        &self.cache_file
    }

    /// Role credentials for the profile's account and role, at time `now`.
    ///
    /// Reads the cached token; if it expires within [`REFRESH_WINDOW`], the
    /// profile uses `sso_session`, the file holds `refreshToken`, `clientId`,
    /// `clientSecret` and a future `registrationExpiresAt`, and no attempt was
    /// made in the last [`MIN_REFRESH_INTERVAL`], refreshes it (OIDC
    /// `CreateToken`, `grantType` `refresh_token`) and writes the cache file back
    /// (a failed write is logged, the new token still used). A failed refresh is
    /// logged and the current token used while it is still valid. Then calls
    /// `GetRoleCredentials`; the result's expiry is the portal's `expiration`
    /// (epoch milliseconds) and its `source` names the profile, account and role.
    ///
    /// # Errors
    /// [`SourceError`] with the hint ``run `aws sso login --profile <p>` `` (plus
    /// `` (or `aws sso login --sso-session <s>`) `` for the session format) when
    /// there is no cache file, it is unreadable, the token expired and cannot be
    /// refreshed, or the portal answers `UnauthorizedException`; other portal
    /// errors (`ForbiddenException`, `ResourceNotFoundException`: the account or
    /// role is not assigned) and connection failures with their own hints.
    pub fn credentials(&self, now: SystemTime) -> Result<Credentials, SourceError> {
        let mut token = self.load()?;
        let refreshable = self.profile.session_name.is_some()
            && token
                .registration
                .as_ref()
                .is_some_and(|r| r.expires_at > now);
        if token.expires_at <= now + REFRESH_WINDOW && refreshable && self.may_refresh(now) {
            match self.refresh(&token, now) {
                Ok(new) => token = new,
                Err(e) if token.expires_at <= now => return Err(e),
                Err(e) => log::warn!(
                    "{e}; using the current token until it expires at {}",
                    format_rfc3339(token.expires_at)
                ),
            }
        }
        if token.expires_at <= now {
            let why = if self.profile.session_name.is_none() {
                "legacy sso_start_url profiles cannot be refreshed"
            } else if !refreshable {
                "the cache file has no usable refresh registration"
            } else {
                "a refresh was tried less than 30 s ago"
            };
            return Err(SourceError::new(format!(
                "the IAM Identity Center token for profile '{}' in {} expired at {} ({why})",
                self.profile_name,
                self.cache_file.display(),
                format_rfc3339(token.expires_at)
            ))
            .with_hint(self.login_hint()));
        }
        self.role_credentials(&token)
    }

    /// ``run `aws sso login --profile <p>` `` (or the `--sso-session` form).
    fn login_hint(&self) -> String {
        let p = &self.profile_name;
        match &self.profile.session_name {
            Some(s) => {
                format!("run `aws sso login --profile {p}` (or `aws sso login --sso-session {s}`)")
            }
            None => format!("run `aws sso login --profile {p}`"),
        }
    }

    /// Records a refresh attempt at `now` unless one was made less than
    /// [`MIN_REFRESH_INTERVAL`] earlier. A clock that went backwards allows one.
    fn may_refresh(&self, now: SystemTime) -> bool {
        let mut last = self.last_refresh_attempt.locked();
        if let Some(t) = *last {
            if let Ok(since) = now.duration_since(t) {
                if since < MIN_REFRESH_INTERVAL {
                    return false;
                }
            }
        }
        *last = Some(now);
        true
    }

    fn cache_error(&self, what: String) -> SourceError {
        SourceError::new(format!(
            "IAM Identity Center token cache {} for profile '{}' {what}",
            self.cache_file.display(),
            self.profile_name
        ))
        .with_hint(self.login_hint())
    }

    /// Reads and checks the cache file. Errors never quote its content.
    fn load(&self) -> Result<CachedToken, SourceError> {
        let text = match read_bounded(&self.cache_file, MAX_CACHE_FILE_BYTES) {
            Ok(Some(text)) => Secret::new(text),
            Ok(None) => return Err(self.cache_error("does not exist".into())),
            Err(why) => return Err(self.cache_error(format!("cannot be read: {why}"))),
        };
        let raw = match serde_json::from_str::<Value>(text.expose()) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(self.cache_error("is not a JSON object".into())),
            Err(e) => {
                return Err(self.cache_error(format!(
                    "is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                )));
            }
        };
        // From here `raw` is zeroized when the token is dropped.
        let mut token = CachedToken {
            access_token: Secret::from(""),
            expires_at: UNIX_EPOCH,
            registration: None,
            raw,
        };
        let access_token =
            required_string(&token.raw, "accessToken").map_err(|why| self.cache_error(why))?;
        token.access_token = Secret::from(access_token);
        let expires_at =
            required_string(&token.raw, "expiresAt").map_err(|why| self.cache_error(why))?;
        token.expires_at = parse_rfc3339(expires_at)
            .map_err(|e| self.cache_error(format!("has an unreadable \"expiresAt\": {e}")))?;
        token.registration = self.registration(&token.raw);
        Ok(token)
    }

    fn registration(&self, raw: &Map<String, Value>) -> Option<Registration> {
        let get = |name| optional_string(raw, name).ok().flatten();
        let (Some(refresh), Some(id), Some(secret), Some(expires)) = (
            get("refreshToken"),
            get("clientId"),
            get("clientSecret"),
            get("registrationExpiresAt"),
        ) else {
            return None;
        };
        let expires_at = match parse_rfc3339(expires) {
            Ok(t) => t,
            Err(e) => {
                log::debug!(
                    "{}: unreadable registrationExpiresAt ({e}); not refreshing",
                    self.cache_file.display()
                );
                return None;
            }
        };
        Some(Registration {
            refresh_token: Secret::from(refresh),
            client_id: Secret::from(id),
            client_secret: Secret::from(secret),
            expires_at,
        })
    }

    /// OIDC `CreateToken` with the refresh token; on success the cache file is
    /// written back and the new token returned.
    fn refresh(&self, token: &CachedToken, now: SystemTime) -> Result<CachedToken, SourceError> {
        let Some(reg) = &token.registration else {
            return Err(SourceError::new("no refresh registration").with_hint(self.login_hint()));
        };
        let url = self.oidc.url(&self.oidc.path("/token"));
        let what = format!(
            "refreshing the IAM Identity Center token for profile '{}' (POST {url})",
            self.profile_name
        );
        let mut body = serde_json::to_string(&serde_json::json!({
            "clientId": reg.client_id.expose(),
            "clientSecret": reg.client_secret.expose(),
            "grantType": "refresh_token",
            "refreshToken": reg.refresh_token.expose(),
        }))
        .expect("a JSON object of strings serializes");
        let headers = [
            ("host", self.oidc.authority()),
            ("content-type", "application/json"),
        ];
        let result = self.send(Method::Post, &url, &headers, body.as_bytes());
        body.zeroize();
        let (status, request_id, mut answer, error_type) =
            result.map_err(|e| self.http_error(&what, &e, &self.oidc))?;
        if status != 200 {
            let (code, message) = json_error(&answer, error_type.as_deref());
            answer.zeroize();
            let mut e = service_error(&what, status, code.as_deref(), message, request_id);
            e = e.with_hint(self.login_hint());
            return Err(e);
        }
        let parsed = serde_json::from_slice::<Value>(&answer);
        answer.zeroize();
        let bad = |why: String| {
            SourceError::new(format!("{what}: unexpected answer: {why}"))
                .with_hint(self.login_hint())
        };
        let Ok(Value::Object(mut object)) = parsed else {
            return Err(bad("not a JSON object".into()));
        };
        let new_access = required_string(&object, "accessToken").map(Secret::from);
        let new_refresh = optional_string(&object, "refreshToken").map(|o| o.map(Secret::from));
        let expires_in = field(&object, "expiresIn").and_then(Value::as_u64);
        for value in object.values_mut() {
            if let Value::String(s) = value {
                s.zeroize();
            }
        }
        let new_access = new_access.map_err(bad)?;
        let new_refresh = new_refresh.map_err(bad)?;
        let expires_in = expires_in
            .filter(|n| *n > 0)
            .ok_or_else(|| bad("has no positive integer \"expiresIn\"".into()))?;
        let expires_at = now + Duration::from_secs(expires_in);

        let mut raw = token.raw.clone();
        set_field(&mut raw, "accessToken", new_access.expose());
        set_field(&mut raw, "expiresAt", &format_rfc3339(expires_at));
        if let Some(r) = &new_refresh {
            set_field(&mut raw, "refreshToken", r.expose());
        }
        let refreshed = CachedToken {
            access_token: new_access,
            expires_at,
            registration: Some(Registration {
                refresh_token: new_refresh.unwrap_or_else(|| reg.refresh_token.clone()),
                client_id: reg.client_id.clone(),
                client_secret: reg.client_secret.clone(),
                expires_at: reg.expires_at,
            }),
            raw,
        };
        match write_atomically(&self.cache_file, &refreshed.raw) {
            Ok(()) => log::debug!(
                "refreshed the IAM Identity Center token for profile '{}' (expires {}) and updated {}",
                self.profile_name,
                format_rfc3339(expires_at),
                self.cache_file.display()
            ),
            Err(why) => log::warn!(
                "refreshed the IAM Identity Center token for profile '{}' but could not update {}: {why}",
                self.profile_name,
                self.cache_file.display()
            ),
        }
        Ok(refreshed)
    }

    /// `GetRoleCredentials`.
    fn role_credentials(&self, token: &CachedToken) -> Result<Credentials, SourceError> {
        let p = &self.profile;
        let path = format!(
            "{}?role_name={}&account_id={}",
            self.portal.path("/federation/credentials"),
            uri_encode(&p.role_name),
            uri_encode(&p.account_id)
        );
        let url = self.portal.url(&path);
        let what = format!(
            "IAM Identity Center GetRoleCredentials for profile '{}' (account {}, role {})",
            self.profile_name, p.account_id, p.role_name
        );
        let headers = [
            ("host", self.portal.authority()),
            ("x-amz-sso_bearer_token", token.access_token.expose()),
        ];
        let (status, request_id, mut answer, error_type) = self
            .send(Method::Get, &url, &headers, b"")
            .map_err(|e| self.http_error(&what, &e, &self.portal))?;
        if status != 200 {
            let (code, message) = json_error(&answer, error_type.as_deref());
            answer.zeroize();
            let mut e = service_error(&what, status, code.as_deref(), message, request_id);
            let hint = match code.as_deref() {
                Some("UnauthorizedException") => self.login_hint(),
                Some("ForbiddenException" | "ResourceNotFoundException") => format!(
                    "check that role {} in account {} is assigned to you in IAM Identity Center (sso_account_id / sso_role_name of profile '{}')",
                    p.role_name, p.account_id, self.profile_name
                ),
                Some("TooManyRequestsException") => "wait a little and try again".to_owned(),
                _ if status == 401 => self.login_hint(),
                _ => "try again; if it persists, check sso_region and AWS_ENDPOINT_URL_SSO"
                    .to_owned(),
            };
            e = e.with_hint(hint);
            return Err(e);
        }
        let parsed = parse_role_credentials(&answer, &self.describe());
        answer.zeroize();
        parsed.map_err(|why| {
            SourceError::new(format!("{what}: unexpected answer: {why}"))
                .with_hint("check AWS_ENDPOINT_URL_SSO, if set")
        })
    }

    fn describe(&self) -> String {
        format!(
            "IAM Identity Center (SSO) profile '{}' (account {}, role {})",
            self.profile_name, self.profile.account_id, self.profile.role_name
        )
    }

    fn http_error(&self, what: &str, e: &HttpError, url: &ServiceUrl) -> SourceError {
        let hint = match e.kind {
            ErrorKind::Connect | ErrorKind::Timeout => format!(
                "check network access to {} (HTTPS_PROXY is honoured) and sso_region {}",
                url.authority(),
                self.profile.region
            ),
            _ => "try again".to_owned(),
        };
        SourceError::new(format!("{what} failed: {e}")).with_hint(hint)
    }

    /// Sends with retries; returns status, request id, body and
    /// `x-amzn-errortype`.
    #[allow(clippy::type_complexity)]
    fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Option<String>, Vec<u8>, Option<String>), HttpError> {
        let mut attempt = 1;
        loop {
            let retry = attempt < MAX_ATTEMPTS;
            let outcome = self
                .client
                .send(method, url, headers, body, REQUEST_TIMEOUTS)
                .and_then(|mut r| {
                    let body = r.read_body(MAX_RESPONSE_BYTES)?;
                    Ok((
                        r.status,
                        r.header("x-amzn-requestid").map(str::to_owned),
                        body,
                        r.header("x-amzn-errortype").map(str::to_owned),
                    ))
                });
            match outcome {
                Err(e)
                    if retry
                        && matches!(
                            e.kind,
                            ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io
                        ) =>
                {
                    log::debug!("{} {}: {e}; retrying", method.as_str(), url_for_log(url));
                }
                Ok((status, ..)) if retry && matches!(status, 429 | 500 | 502 | 503 | 504) => {
                    log::debug!(
                        "{} {}: HTTP {status}; retrying",
                        method.as_str(),
                        url_for_log(url)
                    );
                }
                other => return other,
            }
            std::thread::sleep(Duration::from_millis(100) * (1 << (attempt - 1)));
            attempt += 1;
        }
    }
}

fn url_for_log(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Replaces the value of `name` (matched case-insensitively, keeping the key as
/// written) or adds it under `name`.
fn set_field(map: &mut Map<String, Value>, name: &str, value: &str) {
    let key = map
        .keys()
        .rfind(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned());
    if let Some(Value::String(old)) = map.get_mut(&key) {
        old.zeroize();
    }
    map.insert(key, Value::String(value.to_owned()));
}

/// Writes `map` as JSON to `path` through a temporary file in the same
/// directory (mode 0600 on Unix, as the AWS CLI writes it) and a rename, so a
/// reader never sees half a file.
fn write_atomically(path: &Path, map: &Map<String, Value>) -> Result<(), String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().ok_or("the cache file has no directory")?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the cache file has no name")?;
    let tmp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut text = serde_json::to_string(map).map_err(|e| e.to_string())?;
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    text.zeroize();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.to_string());
    }
    Ok(())
}

/// The error code and message of a JSON error answer: code from
/// `x-amzn-ErrorType`, else body `__type` / `code` / `error` (OIDC's OAuth
/// form), cut at the first `:` and after the last `#`; message from `message` /
/// `Message` / `error_description`. Both cleaned of control characters and cut
/// to 512 characters.
fn json_error(body: &[u8], error_type: Option<&str>) -> (Option<String>, Option<String>) {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let text = |name| {
        optional_string(&object, name)
            .ok()
            .flatten()
            .map(str::to_owned)
    };
    let code = error_type
        .map(str::to_owned)
        .or_else(|| text("__type"))
        .or_else(|| text("code"))
        .or_else(|| text("error"))
        .map(|c| {
            let c = c.split(':').next().unwrap_or("");
            clean(c.rsplit('#').next().unwrap_or(c))
        })
        .filter(|c| !c.is_empty());
    let message = text("message")
        .or_else(|| text("error_description"))
        .map(|m| clean(&m));
    (code, message)
}

fn clean(text: &str) -> String {
    text.trim()
        .chars()
        .take(512)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn service_error(
    what: &str,
    status: u16,
    code: Option<&str>,
    message: Option<String>,
    request_id: Option<String>,
) -> SourceError {
    let mut text = format!("{what} failed: ");
    match (code, &message) {
        (Some(c), Some(m)) => text.push_str(&format!("{c}: {m}")),
        (Some(c), None) => text.push_str(c),
        (None, Some(m)) => text.push_str(m),
        (None, None) => text.push_str("no error details in the answer"),
    }
    text.push_str(&format!(" (HTTP {status}"));
    if let Some(id) = request_id {
        text.push_str(&format!(", request id {id}"));
    }
    text.push(')');
    SourceError::new(text)
}

/// Reads `{"roleCredentials":{"accessKeyId","secretAccessKey","sessionToken",
/// "expiration"}}`, `expiration` in epoch milliseconds. Errors name fields only.
fn parse_role_credentials(body: &[u8], source: &str) -> Result<Credentials, String> {
    let mut value: Value = serde_json::from_slice(body).map_err(|_| "not valid JSON".to_owned())?;
    let result = (|| {
        let role = match value.as_object().and_then(|o| field(o, "roleCredentials")) {
            Some(Value::Object(o)) => o,
            _ => return Err("has no \"roleCredentials\" object".to_owned()),
        };
        let akid = required_string(role, "accessKeyId")?;
        let secret = required_string(role, "secretAccessKey")?;
        let token = required_string(role, "sessionToken")?;
        let millis = match field(role, "expiration") {
            Some(Value::Number(n)) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            _ => None,
        }
        .ok_or("has no \"expiration\" in epoch milliseconds")?;
        Ok(Credentials::new(
            akid,
            Secret::from(secret),
            Some(Secret::from(token)),
            Some(UNIX_EPOCH + Duration::from_millis(millis)),
            source,
        ))
    })();
    zeroize_strings(&mut value);
    result
}

fn zeroize_strings(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(zeroize_strings),
        Value::Object(o) => o.values_mut().for_each(zeroize_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::ini::FileKind;
    use crate::credentials::sts::CLIENT_SETTINGS;
    use crate::test_server::{Reply, TestServer};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ACCESS: &str = "aoaAAAAAbearerTOKENvalue1";
    const NEW_ACCESS: &str = "aoaBBBBBnewBEARERtoken2";
    const REFRESH: &str = "aorREFRESHtokenVALUE";
    const NEW_REFRESH: &str = "aorNEWrefreshTOKEN";
    const CLIENT_SECRET: &str = "eyJraWQiOiJrZXktY2xpZW50LXNlY3JldA";
    const ROLE_SECRET: &str = "roleSECRETaccessKEY/xyz";
    const ROLE_TOKEN: &str = "roleSESSIONtokenVALUE";

    fn assert_no_secret(text: &str) {
        for s in [
            ACCESS,
            NEW_ACCESS,
            REFRESH,
            NEW_REFRESH,
            CLIENT_SECRET,
            ROLE_SECRET,
            ROLE_TOKEN,
        ] {
            assert!(!text.contains(s), "a secret leaked into {text:?}");
        }
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "mcp-sigv4-sso-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn t(text: &str) -> SystemTime {
        parse_rfc3339(text).unwrap()
    }

    fn client() -> Client {
        Client::new(
            crate::http::ClientSettings {
                env_proxy: false,
                ..CLIENT_SETTINGS
            },
            &crate::http::TlsRoots::builtin(),
        )
    }

    fn session_profile() -> SsoProfile {
        SsoProfile {
            session_name: Some("my-sso".into()),
            start_url: "https://d-abc123.awsapps.com/start".into(),
            region: "us-east-1".into(),
            account_id: "111122223333".into(),
            role_name: "ReadOnly".into(),
        }
    }

    fn legacy_profile() -> SsoProfile {
        SsoProfile {
            session_name: None,
            ..session_profile()
        }
    }

    fn portal_reply() -> Reply {
        // 1767229200000 ms = 2026-01-01T01:00:00Z.
        Reply::json(format!(
            r#"{{"roleCredentials":{{"accessKeyId":"ASIAROLE","secretAccessKey":"{ROLE_SECRET}","sessionToken":"{ROLE_TOKEN}","expiration":1767229200000}}}}"#
        ))
    }

    fn cache_json(expires_at: &str, with_refresh: bool) -> String {
        let mut v = serde_json::json!({
            "startUrl": "https://d-abc123.awsapps.com/start",
            "region": "us-east-1",
            "accessToken": ACCESS,
            "expiresAt": expires_at,
            "someFutureField": {"kept": [1, 2]},
        });
        if with_refresh {
            let o = v.as_object_mut().unwrap();
            o.insert("clientId".into(), "client-id-1".into());
            o.insert("clientSecret".into(), CLIENT_SECRET.into());
            o.insert(
                "registrationExpiresAt".into(),
                "2026-03-01T00:00:00Z".into(),
            );
            o.insert("refreshToken".into(), REFRESH.into());
        }
        v.to_string()
    }

    fn source(
        dir: &TempDir,
        profile: SsoProfile,
        portal: &TestServer,
        oidc: &TestServer,
    ) -> SsoSource {
        let name = if profile.session_name.is_some() {
            "dev"
        } else {
            "legacy"
        };
        SsoSource::new(
            name,
            profile,
            &dir.0,
            client(),
            SsoEndpoints {
                portal: Some(portal.url()),
                oidc: Some(oidc.url()),
            },
        )
        .unwrap()
    }

    fn write_cache(dir: &TempDir, key: &str, json: &str) -> PathBuf {
        let path = dir.0.join(format!("{}.json", sha1_hex(key.as_bytes())));
        std::fs::write(&path, json).unwrap();
        path
    }

    fn unused_server() -> TestServer {
        TestServer::start(|s| panic!("unexpected request {} {}", s.method, s.target))
    }

    fn oidc_ok(refresh: Option<&str>) -> TestServer {
        let body = match refresh {
            Some(r) => format!(
                r#"{{"accessToken":"{NEW_ACCESS}","expiresIn":28800,"tokenType":"Bearer","refreshToken":"{r}"}}"#
            ),
            None => format!(
                r#"{{"accessToken":"{NEW_ACCESS}","expiresIn":28800,"tokenType":"Bearer"}}"#
            ),
        };
        TestServer::start(move |_| Reply::json(body.clone()))
    }

    #[test]
    fn a_valid_token_gets_role_credentials() {
        let dir = TempDir::new("valid");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T08:00:00Z", true));
        let portal = TestServer::start(|_| portal_reply());
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        assert_eq!(
            src.cache_file(),
            dir.0.join("0ad374308c5a4e22f723adf10145eafad7c4031c.json")
        );
        let creds = src.credentials(t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(creds.access_key_id(), "ASIAROLE");
        assert_eq!(creds.secret_access_key().expose(), ROLE_SECRET);
        assert_eq!(creds.session_token().unwrap().expose(), ROLE_TOKEN);
        assert_eq!(creds.expiry(), Some(t("2026-01-01T01:00:00Z")));
        assert_eq!(
            creds.source(),
            "IAM Identity Center (SSO) profile 'dev' (account 111122223333, role ReadOnly)"
        );
        let seen = portal.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "GET");
        assert_eq!(
            seen[0].target,
            "/federation/credentials?role_name=ReadOnly&account_id=111122223333"
        );
        assert_eq!(seen[0].header("x-amz-sso_bearer_token"), Some(ACCESS));
        assert_eq!(seen[0].header("authorization"), None);
        assert!(oidc.seen().is_empty());
        assert_no_secret(&format!("{src:?}"));
    }

    #[test]
    fn an_expired_token_is_refreshed_once_written_back_then_used() {
        let dir = TempDir::new("refresh");
        let path = write_cache(&dir, "my-sso", &cache_json("2025-12-31T23:00:00Z", true));
        let portal = TestServer::start(|_| portal_reply());
        let oidc = oidc_ok(Some(NEW_REFRESH));
        let src = source(&dir, session_profile(), &portal, &oidc);
        let now = t("2026-01-01T00:00:00Z");
        src.credentials(now).unwrap();

        let seen = oidc.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].target, "/token");
        assert_eq!(seen[0].header("content-type"), Some("application/json"));
        assert_eq!(seen[0].header("authorization"), None);
        let sent: Value = serde_json::from_slice(&seen[0].body).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({"clientId":"client-id-1","clientSecret":CLIENT_SECRET,"grantType":"refresh_token","refreshToken":REFRESH})
        );

        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["accessToken"], NEW_ACCESS);
        assert_eq!(
            written["expiresAt"], "2026-01-01T08:00:00Z",
            "now + expiresIn 28800 s"
        );
        assert_eq!(written["refreshToken"], NEW_REFRESH);
        assert_eq!(written["clientSecret"], CLIENT_SECRET);
        assert_eq!(written["registrationExpiresAt"], "2026-03-01T00:00:00Z");
        assert_eq!(
            written["someFutureField"],
            serde_json::json!({"kept": [1, 2]})
        );
        assert_eq!(written["startUrl"], "https://d-abc123.awsapps.com/start");
        let leftovers: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        assert_eq!(
            portal.seen()[0].header("x-amz-sso_bearer_token"),
            Some(NEW_ACCESS)
        );
        // The new token is fresh: a second call neither refreshes nor fails.
        src.credentials(now + Duration::from_secs(60)).unwrap();
        assert_eq!(oidc.seen().len(), 1);
        assert_eq!(
            portal.seen()[1].header("x-amz-sso_bearer_token"),
            Some(NEW_ACCESS)
        );
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
        let dir = TempDir::new("keep-refresh");
        let path = write_cache(&dir, "my-sso", &cache_json("2026-01-01T00:02:00Z", true));
        let portal = TestServer::start(|_| portal_reply());
        let oidc = oidc_ok(None);
        let src = source(&dir, session_profile(), &portal, &oidc);
        // Two minutes left: inside the 5-minute window, so refreshed before use.
        src.credentials(t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(oidc.seen().len(), 1);
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["accessToken"], NEW_ACCESS);
        assert_eq!(written["refreshToken"], REFRESH);
    }

    #[test]
    fn an_expired_token_without_refresh_data_asks_for_aws_sso_login() {
        let dir = TempDir::new("expired");
        write_cache(&dir, "my-sso", &cache_json("2025-12-31T23:00:00Z", false));
        let portal = unused_server();
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        let e = src.credentials(t("2026-01-01T00:00:00Z")).unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("run `aws sso login --profile dev` (or `aws sso login --sso-session my-sso`)")
        );
        assert!(e.message.contains("expired at 2025-12-31T23:00:00Z"), "{e}");
        assert!(e.message.contains("no usable refresh registration"), "{e}");
        assert_no_secret(&format!("{e} {e:?}"));
    }

    #[test]
    fn legacy_tokens_use_the_start_url_name_and_are_never_refreshed() {
        let dir = TempDir::new("legacy");
        // Refresh data present, but legacy profiles never refresh.
        let path = write_cache(
            &dir,
            "https://d-abc123.awsapps.com/start",
            &cache_json("2026-01-01T00:01:00Z", true),
        );
        assert!(path.ends_with("40a89917e3175433e361b710a9d43528d7f1890a.json"));
        let portal = TestServer::start(|_| portal_reply());
        let oidc = unused_server();
        let src = source(&dir, legacy_profile(), &portal, &oidc);
        assert_eq!(src.cache_file(), path);
        src.credentials(t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(
            portal.seen()[0].header("x-amz-sso_bearer_token"),
            Some(ACCESS)
        );
        let e = src.credentials(t("2026-01-01T00:01:00Z")).unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("run `aws sso login --profile legacy`")
        );
        assert!(
            e.message
                .contains("legacy sso_start_url profiles cannot be refreshed"),
            "{e}"
        );
        assert!(oidc.seen().is_empty());
    }

    #[test]
    fn refresh_is_tried_at_most_once_per_30_seconds() {
        let dir = TempDir::new("throttle");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T00:04:00Z", true));
        let portal = TestServer::start(|_| portal_reply());
        let oidc =
            TestServer::start(|_| {
                Reply::new(
                400,
                "application/json",
                r#"{"error":"invalid_grant","error_description":"Invalid refresh token provided"}"#,
            )
            .header("x-amzn-ErrorType", "InvalidGrantException:http://internal.amazon.com/coral/")
            });
        let src = source(&dir, session_profile(), &portal, &oidc);
        let t0 = t("2026-01-01T00:00:00Z");
        // Still valid: a failed refresh is logged and the current token used.
        src.credentials(t0).unwrap();
        assert_eq!(oidc.seen().len(), 1);
        src.credentials(t0 + Duration::from_secs(10)).unwrap();
        src.credentials(t0 + Duration::from_secs(29)).unwrap();
        assert_eq!(oidc.seen().len(), 1, "no second attempt within 30 s");
        src.credentials(t0 + Duration::from_secs(31)).unwrap();
        assert_eq!(oidc.seen().len(), 2, "tried again after 30 s");
        assert_eq!(portal.seen().len(), 4);

        // Once expired, a failed refresh is the error, with OIDC's reason.
        let e = src.credentials(t0 + Duration::from_secs(300)).unwrap_err();
        assert_eq!(oidc.seen().len(), 3);
        assert!(
            e.message
                .contains("InvalidGrantException: Invalid refresh token provided (HTTP 400)"),
            "{e}"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("run `aws sso login --profile dev` (or `aws sso login --sso-session my-sso`)")
        );
        // Within 30 s of that attempt: no refresh, the expiry error.
        let e = src.credentials(t0 + Duration::from_secs(310)).unwrap_err();
        assert_eq!(oidc.seen().len(), 3);
        assert!(
            e.message.contains("a refresh was tried less than 30 s ago"),
            "{e}"
        );
        assert_no_secret(&format!("{e} {e:?}"));
    }

    #[test]
    fn unauthorized_from_the_portal_asks_for_aws_sso_login() {
        let dir = TempDir::new("unauthorized");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T08:00:00Z", false));
        let portal = TestServer::start(|_| {
            Reply::new(401, "application/json", r#"{"message":"Session token not found or invalid"}"#)
                .header(
                    "x-amzn-ErrorType",
                    "UnauthorizedException:http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/",
                )
                .header("x-amzn-RequestId", "req-1")
        });
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        let e = src.credentials(t("2026-01-01T00:00:00Z")).unwrap_err();
        assert_eq!(
            e.message,
            "IAM Identity Center GetRoleCredentials for profile 'dev' (account 111122223333, role ReadOnly) failed: UnauthorizedException: Session token not found or invalid (HTTP 401, request id req-1)"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("run `aws sso login --profile dev` (or `aws sso login --sso-session my-sso`)")
        );
        assert_no_secret(&format!("{e} {e:?}"));
        assert_eq!(portal.seen().len(), 1, "a 401 is not retried");
    }

    #[test]
    fn forbidden_points_at_the_account_and_role() {
        let dir = TempDir::new("forbidden");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T08:00:00Z", false));
        let portal = TestServer::start(|_| {
            Reply::new(
                403,
                "application/json",
                r#"{"__type":"com.amazon#ForbiddenException","message":"No access"}"#,
            )
        });
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        let e = src.credentials(t("2026-01-01T00:00:00Z")).unwrap_err();
        assert!(
            e.message
                .ends_with("failed: ForbiddenException: No access (HTTP 403)"),
            "{e}"
        );
        assert!(
            e.hint
                .unwrap()
                .contains("role ReadOnly in account 111122223333 is assigned")
        );
    }

    #[test]
    fn missing_and_broken_cache_files_ask_for_login_without_quoting_them() {
        let dir = TempDir::new("broken");
        let portal = unused_server();
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        let now = t("2026-01-01T00:00:00Z");
        let e = src.credentials(now).unwrap_err();
        assert!(
            e.message.ends_with("for profile 'dev' does not exist"),
            "{e}"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("run `aws sso login --profile dev` (or `aws sso login --sso-session my-sso`)")
        );
        for (json, expect) in [
            (
                format!("{{\"accessToken\": \"{ACCESS}\", "),
                "is not valid JSON (line 1",
            ),
            (format!("[\"{ACCESS}\"]"), "is not a JSON object"),
            (
                format!("{{\"accessToken\": \"{ACCESS}\"}}"),
                "has no \"expiresAt\"",
            ),
            (
                "{\"expiresAt\": \"2026-01-01T08:00:00Z\"}".to_owned(),
                "has no \"accessToken\"",
            ),
            (
                format!("{{\"accessToken\": 5, \"expiresAt\": \"{ACCESS}\"}}"),
                "not a string",
            ),
            (
                format!("{{\"accessToken\": \"{ACCESS}\", \"expiresAt\": \"soon\"}}"),
                "unreadable \"expiresAt\"",
            ),
        ] {
            write_cache(&dir, "my-sso", &json);
            let e = src.credentials(now).unwrap_err();
            assert!(e.message.contains(expect), "expected {expect:?} in {e}");
            assert_no_secret(&format!("{e} {e:?}"));
        }
        write_cache(
            &dir,
            "my-sso",
            &" ".repeat(MAX_CACHE_FILE_BYTES as usize + 1),
        );
        let e = src.credentials(now).unwrap_err();
        assert!(e.message.contains("larger than 65536 bytes"), "{e}");
    }

    #[test]
    fn cache_keys_are_matched_case_insensitively() {
        let dir = TempDir::new("case");
        write_cache(
            &dir,
            "my-sso",
            &format!(r#"{{"AccessToken":"{ACCESS}","EXPIRESAT":"2026-01-01T08:00:00Z"}}"#),
        );
        let portal = TestServer::start(|_| portal_reply());
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        src.credentials(t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(
            portal.seen()[0].header("x-amz-sso_bearer_token"),
            Some(ACCESS)
        );

        let mut map = Map::new();
        map.insert("AccessToken".into(), "old".into());
        set_field(&mut map, "accessToken", "new");
        set_field(&mut map, "expiresAt", "t");
        assert_eq!(
            Value::Object(map).to_string(),
            r#"{"AccessToken":"new","expiresAt":"t"}"#
        );
    }

    #[test]
    fn portal_answers_are_checked_and_5xx_retried() {
        let dir = TempDir::new("portal");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T08:00:00Z", false));
        let n = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&n);
        let portal = TestServer::start(move |_| match count.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::new(503, "text/plain", "busy"),
            _ => Reply::json(format!(
                r#"{{"roleCredentials":{{"accessKeyId":"ASIAROLE","secretAccessKey":"{ROLE_SECRET}","expiration":1767229200000}}}}"#
            )),
        });
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        let e = src.credentials(t("2026-01-01T00:00:00Z")).unwrap_err();
        assert_eq!(portal.seen().len(), 2);
        assert!(
            e.message
                .contains("unexpected answer: has no \"sessionToken\""),
            "{e}"
        );
        assert_no_secret(&format!("{e} {e:?}"));
        assert!(parse_role_credentials(br#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T","expiration":"soon"}}"#, "s")
            .unwrap_err()
            .contains("epoch milliseconds"));
        let c = parse_role_credentials(br#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"S","sessionToken":"T","expiration":1.7672292E12}}"#, "s").unwrap();
        assert_eq!(c.expiry(), Some(t("2026-01-01T01:00:00Z")));
    }

    fn config(text: &str) -> ProfileSet {
        ProfileSet::parse([(FileKind::Config, text)]).unwrap()
    }

    fn resolve(text: &str, name: &str) -> Option<Result<SsoProfile, SourceError>> {
        let set = config(text);
        let props = set.profile(name).unwrap().clone();
        sso_profile(name, &props, &set)
    }

    #[test]
    fn sso_profile_reads_both_formats() {
        let p = resolve(
            "[profile dev]\nsso_session = my-sso\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\nregion = eu-west-1\n[sso-session my-sso]\nsso_region = us-east-1\nsso_start_url = https://d-abc123.awsapps.com/start\n",
            "dev",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p, session_profile());
        let p = resolve(
            "[profile legacy]\nsso_start_url = https://d-abc123.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n",
            "legacy",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p, legacy_profile());
        assert!(
            resolve(
                "[profile plain]\nregion = us-east-1\nsso_account_id =\n",
                "plain"
            )
            .is_none()
        );
    }

    #[test]
    fn sso_profile_validation_errors() {
        let session = "[sso-session s]\nsso_region = us-east-1\nsso_start_url = https://x/start\n";
        let cases = [
            (
                format!("[profile p]\nsso_session = s\nsso_start_url = https://y\nsso_account_id = 1\nsso_role_name = R\n{session}"),
                "profile 'p' sets `sso_start_url` next to `sso_session = s`",
                "remove `sso_start_url` from [profile p] and keep it in [sso-session s]",
            ),
            (
                format!("[profile p]\nsso_session = s\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\n{session}"),
                "profile 'p' sets `sso_region` next to `sso_session = s`",
                "remove `sso_region` from [profile p] and keep it in [sso-session s]",
            ),
            (
                "[profile p]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n".to_owned(),
                "refers to `sso_session = nope` but the config file has no [sso-session nope] section",
                "add [sso-session nope] with sso_start_url and sso_region to the config file, or run `aws configure sso`",
            ),
            (
                format!("[profile p]\nsso_session = s\nsso_account_id = 1\n{session}"),
                "if `sso_account_id` is set, then `sso_role_name` must also be set",
                "add sso_role_name to [profile p]",
            ),
            (
                format!("[profile p]\nsso_session = s\nsso_role_name = R\n{session}"),
                "if `sso_role_name` is set, then `sso_account_id` must also be set",
                "add sso_account_id to [profile p]",
            ),
            (
                format!("[profile p]\nsso_session = s\n{session}"),
                "no `sso_account_id` and `sso_role_name`",
                "add sso_account_id and sso_role_name to [profile p], or run `aws configure sso --profile p`",
            ),
            (
                "[profile p]\nsso_session = s\nsso_account_id = 1\nsso_role_name = R\n[sso-session s]\nsso_start_url = https://x\n".to_owned(),
                "profile 'p': `sso_region` was missing",
                "add sso_region to [sso-session s]",
            ),
            (
                "[profile p]\nsso_session = s\nsso_account_id = 1\nsso_role_name = R\n[sso-session s]\nsso_region = us-east-1\n".to_owned(),
                "profile 'p': `sso_start_url` was missing",
                "add sso_start_url to [sso-session s]",
            ),
            (
                "[profile p]\nsso_start_url = https://x\nsso_account_id = 1\nsso_role_name = R\n".to_owned(),
                "profile 'p': `sso_region` was missing",
                "add sso_region to [profile p]",
            ),
            (
                "[profile p]\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = R\n".to_owned(),
                "profile 'p': `sso_start_url` was missing",
                "add sso_start_url to [profile p]",
            ),
            (
                "[profile p]\nsso_start_url = https://x\nsso_region = evil.com/x\nsso_account_id = 1\nsso_role_name = R\n".to_owned(),
                "invalid `sso_region` in [profile p]",
                "fix sso_region in [profile p]",
            ),
        ];
        let mut failures = Vec::new();
        for (i, (text, message, hint)) in cases.iter().enumerate() {
            match resolve(text, "p") {
                Some(Err(e)) if e.message.contains(message) && e.hint.as_deref() == Some(hint) => {}
                other => failures.push(format!(
                    "case {i}: expected {message:?} / {hint:?}, got {other:?}"
                )),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn endpoints_follow_the_region_and_overrides_are_checked() {
        assert_eq!(
            portal_endpoint("eu-west-1").unwrap(),
            "https://portal.sso.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            oidc_endpoint("cn-north-1").unwrap(),
            "https://oidc.cn-north-1.amazonaws.com.cn"
        );
        let dir = TempDir::new("endpoints");
        let src = SsoSource::new(
            "dev",
            session_profile(),
            &dir.0,
            client(),
            SsoEndpoints::default(),
        )
        .unwrap();
        let shown = format!("{src:?}");
        assert!(
            shown.contains("portal: \"https://portal.sso.us-east-1.amazonaws.com\""),
            "{shown}"
        );
        assert!(
            shown.contains("oidc: \"https://oidc.us-east-1.amazonaws.com\""),
            "{shown}"
        );
        let e = SsoSource::new(
            "dev",
            session_profile(),
            &dir.0,
            client(),
            SsoEndpoints {
                portal: Some("http://portal.example.com".into()),
                oidc: None,
            },
        )
        .unwrap_err();
        assert!(e.message.contains("refusing plain http://"), "{e}");
        assert_eq!(
            e.hint.as_deref(),
            Some("fix AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL")
        );
    }
}
