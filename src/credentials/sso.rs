//! IAM Identity Center (SSO) credentials: the cached bearer token, its refresh,
//! and `GetRoleCredentials`.
//!
//! Owns (Rust `aws-config` rules, `src/sso/*.rs`; AWS SDKs and Tools Reference
//! Guide, "IAM Identity Center credential provider",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-sso-credentials.html>):
//! a profile's SSO settings ([`sso_profile`]: `sso_session` or legacy
//! `sso_start_url`); the token cache file `aws sso login` writes ([`read_cache`]);
//! refreshing an `sso_session` token with OIDC `CreateToken` when it expires
//! within 5 minutes, at most once per 30 s; and the unsigned portal call
//! `GetRoleCredentials` that turns the token into role credentials, through
//! [`crate::aws::service`].
//! Refuses: refreshing legacy (start-URL-keyed) tokens (no SDK does); starting
//! a login (that is `aws sso login`'s job — errors say to run it); printing the
//! access token, refresh token or client secret anywhere.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::ini::{ProfileSet, Properties};
use super::sha1::sha1_hex;
use super::token_cache::{REFRESH_WINDOW, TokenFile};
use super::{Credentials, SourceError};
use crate::aws::endpoint::{ServiceUrl, check_region, regional};
use crate::aws::service::{AWS_CALL, Call, FetchError, Service};
use crate::http::{Method, Transport};
use crate::json::{self, Document, JsonError, Object};
use crate::secret::Secret;
use crate::sigv4::canonical::uri_encode;
use crate::time::{LATEST_UNIX_SECONDS, format_rfc3339};
use crate::url::PlainHttp;

/// The SSO settings of one profile, resolved through its `[sso-session]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SsoProfile {
    /// `sso_session` (the refreshable format); `None` for the legacy format.
    pub(crate) session_name: Option<String>,
    /// `sso_start_url`, e.g. `https://d-abc123.awsapps.com/start`.
    pub(crate) start_url: String,
    /// `sso_region`: where IAM Identity Center runs (not the profile's `region`).
    pub(crate) region: String,
    /// `sso_account_id`, 12 digits.
    pub(crate) account_id: String,
    /// `sso_role_name`, the permission set's role.
    pub(crate) role_name: String,
}

impl SsoProfile {
    /// What names the token cache file: the session name, or the start URL for
    /// legacy profiles.
    fn cache_key(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.start_url)
    }

    /// `<cache_dir>/<lower-case hex SHA-1 of the cache key>.json`, the file
    /// `aws sso login` writes.
    fn cache_file(&self, cache_dir: &Path) -> PathBuf {
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
pub(crate) fn sso_profile(
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
                format!("profile '{p}': invalid `sso_region` in {where_}: {e}"),
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

/// The portal endpoint of `region`: `https://portal.sso.<region>.amazonaws.com`
/// (`.amazonaws.com.cn` for `cn-` regions).
fn portal_endpoint(region: &str) -> Result<String, crate::aws::endpoint::RegionError> {
    regional("portal.sso", region)
}

/// The OIDC endpoint of `region`: `https://oidc.<region>.amazonaws.com`
/// (`.amazonaws.com.cn` for `cn-` regions).
fn oidc_endpoint(region: &str) -> Result<String, crate::aws::endpoint::RegionError> {
    regional("oidc", region)
}

/// Endpoint overrides, chosen by the caller as the SDKs do (environment
/// variable, then `AWS_ENDPOINT_URL`, then the profile's `services` section
/// sub-properties `sso` / `sso_oidc` → `endpoint_url`, then the profile's
/// `endpoint_url`). `None` means the regional default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SsoEndpoints {
    /// `AWS_ENDPOINT_URL_SSO`: replaces `https://portal.sso.<sso_region>.amazonaws.com`.
    pub(crate) portal: Option<String>,
    /// `AWS_ENDPOINT_URL_SSO_OIDC`: replaces `https://oidc.<sso_region>.amazonaws.com`.
    pub(crate) oidc: Option<String>,
}

/// The OIDC client registration that allows a refresh.
pub(crate) struct Registration {
    refresh_token: Secret,
    client_id: Secret,
    client_secret: Secret,
    expires_at: SystemTime,
}

/// One read of the token cache file.
pub(crate) struct CachedToken {
    pub(crate) access_token: Secret,
    pub(crate) expires_at: SystemTime,
    /// Present when all four refresh fields are there and readable.
    pub(crate) registration: Option<Registration>,
    /// The file as read, to write back with unknown fields kept.
    raw: Document,
}

/// The IAM Identity Center credential source of one profile.
///
/// Hold it across resolutions (the chain keeps it with the profile files):
/// it remembers the last refresh attempt so a failing refresh is not retried
/// more than once per [`MIN_REFRESH_INTERVAL`](super::token_cache::MIN_REFRESH_INTERVAL).
/// Every
/// [`credentials`](Self::credentials) call reads the cache file again, so a
/// user who runs `aws sso login` in another terminal is picked up at once.
pub(crate) struct SsoSource {
    profile_name: String,
    profile: SsoProfile,
    cache_file: TokenFile,
    portal: Service,
    oidc: Service,
}

impl fmt::Debug for SsoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoSource")
            .field("profile_name", &self.profile_name)
            .field("profile", &self.profile)
            .field("cache_file", &self.cache_file.path())
            .field("portal", &self.portal.endpoint().to_string())
            .field("oidc", &self.oidc.endpoint().to_string())
            .finish_non_exhaustive()
    }
}

impl SsoSource {
    /// The source for `profile` (from [`sso_profile`]) of the profile named
    /// `profile_name` (used in messages and the `aws sso login --profile` hint),
    /// reading tokens from `cache_dir` (the chain passes `<home>/.aws/sso/cache`)
    /// and sending through `transport` (built with
    /// [`AWS_CLIENT`](crate::aws::service::AWS_CLIENT)).
    ///
    /// # Errors
    /// [`SourceError`] when an endpoint override breaks the
    /// [`ServiceUrl`] rules or `sso_region` is invalid.
    pub(crate) fn new(
        profile_name: &str,
        profile: SsoProfile,
        cache_dir: &Path,
        transport: Arc<dyn Transport>,
        endpoints: SsoEndpoints,
    ) -> Result<Self, SourceError> {
        let service = |name, given: Option<String>, default: Result<String, _>, var: &str| {
            let url = match given {
                Some(u) => u,
                None => default.map_err(|e: crate::aws::endpoint::RegionError| {
                    SourceError::new(e.to_string()).caused_by(e)
                })?,
            };
            let endpoint = ServiceUrl::parse(&url, PlainHttp::LoopbackOnly).map_err(|why| {
                SourceError::new(format!("invalid IAM Identity Center endpoint: {why}"))
                    .with_hint(format!("fix {var} / AWS_ENDPOINT_URL"))
                    .caused_by(why)
            })?;
            Ok::<_, SourceError>(Service::new(
                name,
                endpoint,
                Arc::clone(&transport),
                AWS_CALL,
            ))
        };
        let portal = service(
            "IAM Identity Center portal",
            endpoints.portal,
            portal_endpoint(&profile.region),
            "AWS_ENDPOINT_URL_SSO",
        )?;
        let oidc = service(
            "IAM Identity Center OIDC",
            endpoints.oidc,
            oidc_endpoint(&profile.region),
            "AWS_ENDPOINT_URL_SSO_OIDC",
        )?;
        Ok(SsoSource {
            profile_name: profile_name.to_owned(),
            cache_file: TokenFile::new(profile.cache_file(cache_dir)),
            profile,
            portal,
            oidc,
        })
    }

    /// The profile's SSO settings.
    pub(crate) fn profile(&self) -> &SsoProfile {
        &self.profile
    }

    /// The token cache file this source reads.
    #[cfg(test)]
    fn cache_file(&self) -> &Path {
        self.cache_file.path()
    }

    /// Role credentials for the profile's account and role, at time `now`.
    ///
    /// Reads the cached token; if it expires within [`REFRESH_WINDOW`], the
    /// profile uses `sso_session`, the file holds `refreshToken`, `clientId`,
    /// `clientSecret` and a future `registrationExpiresAt`, and no attempt was
    /// made in the last
    /// [`MIN_REFRESH_INTERVAL`](super::token_cache::MIN_REFRESH_INTERVAL),
    /// refreshes it (OIDC
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
    pub(crate) fn credentials(&self, now: SystemTime) -> Result<Credentials, SourceError> {
        let mut token = self.load()?;
        let refreshable = self.profile.session_name.is_some()
            && token
                .registration
                .as_ref()
                .is_some_and(|r| r.expires_at > now);
        if token.expires_at <= now + REFRESH_WINDOW
            && refreshable
            && self.cache_file.may_refresh(now)
        {
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
                self.cache_file.path().display(),
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

    fn cache_error(&self, what: String) -> SourceError {
        SourceError::new(format!(
            "IAM Identity Center token cache {} for profile '{}' {what}",
            self.cache_file.path().display(),
            self.profile_name
        ))
        .with_hint(self.login_hint())
    }

    /// Reads and checks the cache file. Errors never quote its content.
    fn load(&self) -> Result<CachedToken, SourceError> {
        self.cache_file.load(
            |text| read_cache(text, self.cache_file.path()),
            |what| self.cache_error(what),
        )
    }

    /// OIDC `CreateToken` with the refresh token; on success the cache file is
    /// written back and the new token returned.
    fn refresh(&self, token: &CachedToken, now: SystemTime) -> Result<CachedToken, SourceError> {
        let Some(reg) = &token.registration else {
            return Err(SourceError::new("no refresh registration").with_hint(self.login_hint()));
        };
        let endpoint = self.oidc.endpoint();
        let what = format!(
            "refreshing the IAM Identity Center token for profile '{}' (POST {})",
            self.profile_name,
            endpoint.url(&endpoint.path("/token"))
        );
        let body = Secret::new(
            serde_json::to_string(&serde_json::json!({
                "clientId": reg.client_id.expose(),
                "clientSecret": reg.client_secret.expose(),
                "grantType": "refresh_token",
                "refreshToken": reg.refresh_token.expose(),
            }))
            .expect("a JSON object of strings serializes"),
        );
        let call = Call {
            method: Method::Post,
            path: "/token",
            headers: &[("content-type", "application/json")],
            body: body.expose().as_bytes(),
        };
        // Out of reach or not, a new login is always a way out.
        let answer = self.oidc.fetch(&call, None).map_err(|e| {
            let e = self.unreachable(&what, e, &self.oidc);
            let hint = match &e.hint {
                Some(h) => format!("{h}; or {}", self.login_hint()),
                None => self.login_hint(),
            };
            e.with_hint(hint)
        })?;
        if answer.status != 200 {
            return Err(SourceError::refused(&what, &answer).with_hint(self.login_hint()));
        }
        let bad = |why: JsonError| {
            SourceError::new(format!("{what}: unexpected answer: {why}"))
                .with_hint(self.login_hint())
                .caused_by(why)
        };
        let (new_access, new_refresh, expires_at) =
            read_token_answer(&answer.body, now).map_err(bad)?;

        let mut raw = token.raw.clone();
        json::set_string(&mut raw, "accessToken", new_access.expose());
        json::set_string(&mut raw, "expiresAt", &format_rfc3339(expires_at));
        if let Some(r) = &new_refresh {
            json::set_string(&mut raw, "refreshToken", r.expose());
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
        self.cache_file.write_back(
            &refreshed.raw.text(),
            &format!(
                "the IAM Identity Center token for profile '{}'",
                self.profile_name
            ),
            expires_at,
            "",
        );
        Ok(refreshed)
    }

    /// `GetRoleCredentials`.
    fn role_credentials(&self, token: &CachedToken) -> Result<Credentials, SourceError> {
        let p = &self.profile;
        let path = format!(
            "/federation/credentials?role_name={}&account_id={}",
            uri_encode(&p.role_name),
            uri_encode(&p.account_id)
        );
        let what = format!(
            "IAM Identity Center GetRoleCredentials for profile '{}' (account {}, role {})",
            self.profile_name, p.account_id, p.role_name
        );
        let call = Call {
            method: Method::Get,
            path: &path,
            headers: &[("x-amz-sso_bearer_token", token.access_token.expose())],
            body: b"",
        };
        let answer = self
            .portal
            .fetch(&call, None)
            .map_err(|e| self.unreachable(&what, e, &self.portal))?;
        if answer.status != 200 {
            let e = SourceError::refused(&what, &answer);
            let hint = match e.error_type() {
                Some("UnauthorizedException") => self.login_hint(),
                Some("ForbiddenException" | "ResourceNotFoundException") => format!(
                    "check that role {} in account {} is assigned to you in IAM Identity Center (sso_account_id / sso_role_name of profile '{}')",
                    p.role_name, p.account_id, self.profile_name
                ),
                Some("TooManyRequestsException") => "wait a little and try again".to_owned(),
                _ if answer.status == 401 => self.login_hint(),
                _ => "try again; if it persists, check sso_region and AWS_ENDPOINT_URL_SSO"
                    .to_owned(),
            };
            return Err(e.with_hint(hint));
        }
        parse_role_credentials(&answer.body, &self.describe()).map_err(|why| {
            SourceError::new(format!("{what}: unexpected answer: {why}"))
                .with_hint("check AWS_ENDPOINT_URL_SSO, if set")
                .caused_by(why)
        })
    }

    fn describe(&self) -> String {
        format!(
            "IAM Identity Center (SSO) profile '{}' (account {}, role {})",
            self.profile_name, self.profile.account_id, self.profile.role_name
        )
    }

    fn unreachable(&self, what: &str, e: FetchError, service: &Service) -> SourceError {
        let network = || {
            format!(
                "check network access to {} (HTTPS_PROXY is honoured) and sso_region {}",
                service.endpoint().authority(),
                self.profile.region
            )
        };
        SourceError::unreachable(what, e, network, "try again")
    }
}

/// Reads a token cache file (`file` names it in a debug log): `accessToken`
/// and `expiresAt` are required; the registration that allows a refresh is
/// kept when all of it is there and readable. The file is
/// `<cache dir>/<sha1>.json`, written by `aws sso login` (SHA-1 of the session
/// name, or of the start URL for legacy profiles); camelCase keys match
/// case-insensitively. A refreshed token is written back atomically with
/// unknown fields kept.
pub(crate) fn read_cache(text: &[u8], file: &Path) -> Result<CachedToken, JsonError> {
    // `raw` is zeroized when dropped, here on an error or with the token.
    let raw = Document::parse(text)?;
    Ok(CachedToken {
        access_token: Secret::from(json::required_string(&raw, "accessToken")?),
        expires_at: json::required_time(&raw, "expiresAt")?,
        registration: registration(&raw, file),
        raw,
    })
}

fn registration(raw: &Object, file: &Path) -> Option<Registration> {
    let get = |name| json::optional_string(raw, name).ok().flatten();
    let (Some(refresh), Some(id), Some(secret)) =
        (get("refreshToken"), get("clientId"), get("clientSecret"))
    else {
        return None;
    };
    let expires_at = match json::optional_time(raw, "registrationExpiresAt") {
        Ok(Some(t)) => t,
        Ok(None) => return None,
        Err(e) => {
            log::debug!("{}: {e}; not refreshing", file.display());
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

/// Reads the OIDC `CreateToken` answer to a refresh made at `now`: the new
/// access token, the new refresh token if any, and the expiry `expiresIn`
/// seconds after `now` (a positive integer that keeps the expiry a time
/// RFC 3339 can spell: it is written back into the cache file).
pub(crate) fn read_token_answer(
    body: &[u8],
    now: SystemTime,
) -> Result<(Secret, Option<Secret>, SystemTime), JsonError> {
    let object = Document::parse(body)?;
    let new_access = json::required_string(&object, "accessToken").map(Secret::from);
    let new_refresh = json::optional_string(&object, "refreshToken").map(|o| o.map(Secret::from));
    let expires_in = json::field(&object, "expiresIn").and_then(Value::as_u64);
    drop(object);
    let new_access = new_access?;
    let new_refresh = new_refresh?;
    let expires_at = expires_in
        .filter(|n| *n > 0)
        .and_then(|n| now.checked_add(Duration::from_secs(n)))
        .filter(|t| *t <= UNIX_EPOCH + Duration::from_secs(LATEST_UNIX_SECONDS))
        .ok_or(JsonError::Invalid {
            name: "expiresIn",
            expected: "a positive integer of seconds that ends before the year 10000",
        })?;
    Ok((new_access, new_refresh, expires_at))
}

/// Reads `{"roleCredentials":{"accessKeyId","secretAccessKey","sessionToken",
/// "expiration"}}`, `expiration` in epoch milliseconds. Errors name fields only.
pub(crate) fn parse_role_credentials(body: &[u8], source: &str) -> Result<Credentials, JsonError> {
    let object = Document::parse(body)?;
    (|| {
        let role = match json::field(&object, "roleCredentials") {
            Some(Value::Object(o)) => o,
            Some(_) => {
                return Err(JsonError::Invalid {
                    name: "roleCredentials",
                    expected: "an object",
                });
            }
            None => return Err(JsonError::Missing("roleCredentials")),
        };
        let akid = json::required_string(role, "accessKeyId")?;
        let secret = json::required_string(role, "secretAccessKey")?;
        let token = json::required_string(role, "sessionToken")?;
        let millis = match json::field(role, "expiration") {
            Some(Value::Number(n)) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            None => return Err(JsonError::Missing("expiration")),
            _ => None,
        }
        // No later than the last time RFC 3339 can spell (and the clock can
        // hold on every platform).
        .filter(|ms| *ms / 1000 <= LATEST_UNIX_SECONDS)
        .ok_or(JsonError::Invalid {
            name: "expiration",
            expected: "a number of epoch milliseconds up to the year 9999",
        })?;
        Ok(Credentials::new(
            akid,
            Secret::from(secret),
            Some(Secret::from(token)),
            Some(UNIX_EPOCH + Duration::from_millis(millis)),
            source,
        ))
    })()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::ini::FileKind;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Answer, HttpError, Request};
    use crate::time::parse_rfc3339;
    use serde_json::Map;
    use std::sync::atomic::{AtomicUsize, Ordering};

    type TestServer = Arc<FakeTransport>;

    /// The portal's and the OIDC service's fakes behind one transport, told
    /// apart by their URLs.
    #[derive(Debug)]
    struct Both(TestServer, TestServer);

    impl Transport for Both {
        fn call(&self, request: &Request<'_>) -> Result<Answer, HttpError> {
            if request.url.starts_with(&self.0.url()) {
                self.0.call(request)
            } else {
                self.1.call(request)
            }
        }
    }

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
            Arc::new(Both(portal.clone(), oidc.clone())),
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
        FakeTransport::start(|s| panic!("unexpected request {} {}", s.method, s.target))
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
        FakeTransport::start(move |_| Reply::json(body.clone()))
    }

    #[test]
    fn a_valid_token_gets_role_credentials() {
        let dir = TempDir::new("valid");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T08:00:00Z", true));
        let portal = FakeTransport::start(|_| portal_reply());
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let portal = FakeTransport::start(|_| portal_reply());
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
            assert_eq!(mode & 0o777, 0o640, "the permissions of the file replaced");
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
        let portal = FakeTransport::start(|_| portal_reply());
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
        let portal = FakeTransport::start(|_| portal_reply());
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
        let portal = FakeTransport::start(|_| portal_reply());
        let oidc =
            FakeTransport::start(|_| {
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
    fn a_refresh_that_cannot_reach_oidc_also_offers_aws_sso_login() {
        let dir = TempDir::new("oidc-unreachable");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T00:04:00Z", true));
        let portal = FakeTransport::start(|_| portal_reply());
        let oidc = FakeTransport::unreachable();
        let src = source(&dir, session_profile(), &portal, &oidc);
        let e = src.credentials(t("2026-01-01T00:05:00Z")).unwrap_err();
        let hint = e.hint.as_deref().unwrap_or("");
        assert!(hint.starts_with("check network access to"), "{hint}");
        assert!(
            hint.ends_with(
                "or run `aws sso login --profile dev` (or `aws sso login --sso-session my-sso`)"
            ),
            "{hint}"
        );
    }

    #[test]
    fn unauthorized_from_the_portal_asks_for_aws_sso_login() {
        let dir = TempDir::new("unauthorized");
        write_cache(&dir, "my-sso", &cache_json("2026-01-01T08:00:00Z", false));
        let portal = FakeTransport::start(|_| {
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
        let portal = FakeTransport::start(|_| {
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
            &" ".repeat(crate::credentials::token_cache::MAX_FILE_BYTES as usize + 1),
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
        let portal = FakeTransport::start(|_| portal_reply());
        let oidc = unused_server();
        let src = source(&dir, session_profile(), &portal, &oidc);
        src.credentials(t("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(
            portal.seen()[0].header("x-amz-sso_bearer_token"),
            Some(ACCESS)
        );

        let mut map = Map::new();
        map.insert("AccessToken".into(), "old".into());
        json::set_string(&mut map, "accessToken", "new");
        json::set_string(&mut map, "expiresAt", "t");
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
        let portal = FakeTransport::start(move |_| match count.fetch_add(1, Ordering::SeqCst) {
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
            .to_string()
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
            unused_server(),
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
            unused_server(),
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
