//! Console credentials (`aws login`, a profile's `login_session`).
//!
//! Owns (AWS SDKs and Tools Reference Guide, "Login credentials provider",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-login-credentials.html>;
//! botocore `LoginCredentialFetcher`; Rust `aws-config` `src/login.rs`): the
//! cache file `aws login` writes (`~/.aws/login/cache/<SHA-256 of the session>.json`,
//! or under `AWS_LOGIN_CACHE_DIRECTORY`); its credentials while more than 5
//! minutes remain before `expiresAt`; then one refresh through AWS Sign-In with
//! a DPoP proof, written back to the file under a lock shared with other
//! processes. Reading, locking and rewriting the file is `token_cache.rs`'s.
//! Refuses: starting a login (that is `aws login`'s job; errors say to run
//! it), and putting a key, token, refresh token or the DPoP key anywhere but
//! the request and the cache file.

mod cache;
pub(crate) mod dpop;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

pub use cache::{CacheError, LoginCache, Refreshed, parse_cache, parse_refresh_answer};
pub use dpop::KeyError;

use super::token_cache::{REFRESH_WINDOW, TokenFile};
use super::{Credentials, SourceError};
use crate::aws::endpoint::{ServiceUrl, signin};
use crate::aws::service::{AWS_CALL, BoxError, Call, Service};
use crate::http::{Method, Transport};
use crate::json;
use crate::secret::Secret;
use crate::sigv4::SignableRequest;
use crate::sync::Locked;
use crate::time::format_rfc3339;
use crate::url::PlainHttp;

/// The `error` codes of Sign-In's `AccessDeniedException` after which only a
/// new `aws login` helps.
const LOGIN_AGAIN: [&str; 2] = ["TOKEN_EXPIRED", "USER_CREDENTIALS_CHANGED"];

/// The cache file of `login_session` in `cache_dir`: the lower-case hex SHA-256
/// of the trimmed session (botocore `generate_login_cache_key`; Rust
/// `aws-config` trims it first).
pub(crate) fn cache_file(cache_dir: &Path, login_session: &str) -> PathBuf {
    let name = hex::encode(Sha256::digest(login_session.trim().as_bytes()));
    cache_dir.join(format!("{name}.json"))
}

/// The `aws login` source of one profile. Keep it across resolutions (the
/// chain does): it remembers the last refresh attempt and a refresh token
/// Sign-In refused.
///
/// The cache file is read again at every resolution, so a new `aws login` in
/// another terminal is picked up at once. A refresh is `CreateOAuth2Token` of
/// AWS Sign-In: an unsigned `POST /v1/token` (model auth `smithy.api#noAuth`)
/// with the body `{"clientId","refreshToken","grantType":"refresh_token"}` and
/// a fresh DPoP proof per attempt (`dpop.rs`, RFC 9449), at most once per
/// [`MIN_REFRESH_INTERVAL`](super::token_cache::MIN_REFRESH_INTERVAL), never again with a refresh token Sign-In called
/// expired until the file holds another. It goes to the regional Sign-In
/// endpoint (`aws::endpoint::signin`) or an override (`AWS_ENDPOINT_URL_SIGNIN`,
/// the profile's `services` section, chosen by the chain). The file is
/// rewritten atomically with the same permissions (`cache.rs`,
/// `token_cache.rs`).
///
/// Read, refresh and write are serialised across processes (MCP clients start
/// their servers together) by the lock beside the file
/// ([`TokenFile::lock`], waited for at most
/// [`LOCK_WAIT`](super::token_cache::LOCK_WAIT)). The file is read again
/// under the lock, so a process that waited uses the keys the other wrote
/// instead of spending a refresh token that was already used; after a refused
/// refresh the file is read once more before the error, in case another
/// process (or `aws login`) wrote fresh keys meanwhile.
pub(crate) struct LoginSource {
    profile: String,
    session: String,
    cache_file: TokenFile,
    signin: Service,
    /// SHA-256 of a refresh token Sign-In called expired: not sent again.
    dead_refresh_token: Mutex<Option<[u8; 32]>>,
}

impl fmt::Debug for LoginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSource")
            .field("profile", &self.profile)
            .field("cache_file", &self.cache_file.path())
            .field("signin", &self.signin.endpoint().to_string())
            .finish_non_exhaustive()
    }
}

impl LoginSource {
    /// The source of profile `profile`, whose `login_session` is `session`,
    /// reading its file in `cache_dir` and calling Sign-In for `region` (or
    /// at `endpoint`) through `transport` (built with
    /// [`AWS_CLIENT`](crate::aws::service::AWS_CLIENT)).
    ///
    /// # Errors
    /// [`SourceError`] when `region` is invalid or the endpoint URL breaks the
    /// [`ServiceUrl`] rules.
    pub(crate) fn new(
        profile: &str,
        session: &str,
        cache_dir: &Path,
        transport: Arc<dyn Transport>,
        region: &str,
        endpoint: Option<String>,
    ) -> Result<Self, SourceError> {
        let url = match endpoint {
            Some(url) => url,
            None => signin(region).map_err(|e| {
                SourceError::new(e.to_string())
                    .with_hint("set AWS_REGION or the profile's `region`")
                    .caused_by(e)
            })?,
        };
        let endpoint = ServiceUrl::parse(&url, PlainHttp::LoopbackOnly).map_err(|why| {
            SourceError::new(format!("invalid AWS Sign-In endpoint: {why}"))
                .with_hint("fix AWS_ENDPOINT_URL_SIGNIN / AWS_ENDPOINT_URL or the profile's services section")
                .caused_by(why)
        })?;
        Ok(LoginSource {
            profile: profile.to_owned(),
            session: session.to_owned(),
            cache_file: TokenFile::new(cache_file(cache_dir, session)),
            signin: Service::new("AWS Sign-In", endpoint, transport, AWS_CALL),
            dead_refresh_token: Mutex::new(None),
        })
    }

    /// True when this source reads `session` from `cache_dir` and calls
    /// `endpoint` (else the chain makes a new one).
    pub(crate) fn serves(&self, session: &str, cache_dir: &Path, endpoint: &ServiceUrl) -> bool {
        self.session == session
            && self.cache_file.path() == cache_file(cache_dir, session)
            && self.signin.endpoint() == endpoint
    }

    /// The Sign-In endpoint in use.
    pub(crate) fn endpoint(&self) -> &ServiceUrl {
        self.signin.endpoint()
    }

    /// ``run `aws login --profile <p>` ``.
    fn login_hint(&self) -> String {
        format!("run `aws login --profile {}`", self.profile)
    }

    /// The credentials of the cache file at `now`, refreshed first when less
    /// than 5 minutes remain (see the module docs).
    ///
    /// # Errors
    /// [`SourceError`] with the hint ``run `aws login --profile <p>` `` when
    /// the file is missing or unreadable, or the credentials expired and could
    /// not be refreshed; a refresh that fails while they are still valid is
    /// logged and they are used.
    pub(crate) fn credentials(&self, now: SystemTime) -> Result<Credentials, SourceError> {
        let cache = self.load()?;
        if cache.expires_at > now + REFRESH_WINDOW {
            return Ok(self.to_credentials(&cache));
        }
        // Another process may be refreshing this file: wait for it, then
        // read what it wrote.
        let _lock = self.cache_file.lock();
        let cache = self.load()?;
        if cache.expires_at > now + REFRESH_WINDOW {
            return Ok(self.to_credentials(&cache));
        }
        let dead = self.is_dead(&cache.refresh_token);
        if !dead && self.cache_file.may_refresh(now) {
            match self.refresh(&cache, now) {
                Ok(new) => return Ok(self.to_credentials(&new)),
                Err(e) if cache.expires_at <= now => {
                    // Someone (`aws login`, a process that took no lock)
                    // may have written fresh keys meanwhile.
                    if let Ok(again) = self.load()
                        && again.expires_at > now
                        && again.refresh_token.expose() != cache.refresh_token.expose()
                    {
                        return Ok(self.to_credentials(&again));
                    }
                    return Err(e);
                }
                Err(e) => log::warn!(
                    "{e}; using the current credentials until they expire at {}",
                    format_rfc3339(cache.expires_at)
                ),
            }
        }
        if cache.expires_at > now {
            return Ok(self.to_credentials(&cache));
        }
        let why = if dead {
            "AWS Sign-In refused its refresh token"
        } else {
            "a refresh was tried less than 30 s ago"
        };
        Err(SourceError::new(format!(
            "the aws login session of profile '{}' in {} expired at {} ({why})",
            self.profile,
            self.cache_file.path().display(),
            format_rfc3339(cache.expires_at)
        ))
        .with_hint(self.login_hint()))
    }

    fn to_credentials(&self, cache: &LoginCache) -> Credentials {
        Credentials::new(
            cache.access_key_id.clone(),
            cache.secret_access_key.clone(),
            Some(cache.session_token.clone()),
            Some(cache.expires_at),
            format!("aws login session of profile '{}'", self.profile),
        )
    }

    fn cache_error(&self, what: String) -> SourceError {
        SourceError::new(format!(
            "the aws login cache file {} of profile '{}' {what}",
            self.cache_file.path().display(),
            self.profile
        ))
        .with_hint(self.login_hint())
    }

    /// Reads and checks the cache file. Errors never quote its content.
    fn load(&self) -> Result<LoginCache, SourceError> {
        self.cache_file
            .load(parse_cache, |what| self.cache_error(what))
    }

    fn is_dead(&self, refresh_token: &Secret) -> bool {
        let hash: [u8; 32] = Sha256::digest(refresh_token.expose().as_bytes()).into();
        *self.dead_refresh_token.locked() == Some(hash)
    }

    /// `CreateOAuth2Token` with the cached refresh token; on success the cache
    /// file is rewritten and the new cache returned.
    fn refresh(&self, cache: &LoginCache, now: SystemTime) -> Result<LoginCache, SourceError> {
        const PATH: &str = "/v1/token";
        let endpoint = self.signin.endpoint();
        let url = endpoint.url(&endpoint.path(PATH));
        let what = format!(
            "refreshing the aws login session of profile '{}' (POST {url})",
            self.profile
        );
        let body = Secret::new(
            serde_json::json!({
                "clientId": cache.client_id,
                "refreshToken": cache.refresh_token.expose(),
                "grantType": "refresh_token",
            })
            .to_string(),
        );
        let call = Call {
            method: Method::Post,
            path: PATH,
            headers: &[("content-type", "application/json")],
            body: body.expose().as_bytes(),
        };
        // A fresh proof (new `jti`, `iat`) for every attempt: a server may
        // refuse a proof it has seen. `jti` must be unique, not secret
        // (RFC 9449 §4.2), which `random_id` gives.
        let dpop = |_: &SignableRequest<'_>| -> Result<Vec<(&'static str, Secret)>, BoxError> {
            let jti = crate::random::random_id();
            Ok(vec![(
                "dpop",
                Secret::new(dpop::proof(&cache.key, &url, SystemTime::now(), &jti)),
            )])
        };
        let answer = self.signin.fetch(&call, Some(&dpop)).map_err(|e| {
            let network = || {
                format!(
                    "check network access to {} (HTTPS_PROXY is honoured), or point AWS_ENDPOINT_URL_SIGNIN at a reachable endpoint",
                    endpoint.authority()
                )
            };
            SourceError::unreachable(&what, e, network, "try again")
        })?;
        if answer.status != 200 {
            let code = json::object(&answer.body).ok().and_then(|o| {
                json::optional_string(&o, "error")
                    .ok()
                    .flatten()
                    .map(|c| crate::text::clean(c, 64))
            });
            let e = SourceError::refused(&what, &answer);
            return Err(match code.as_deref() {
                Some(c) if LOGIN_AGAIN.contains(&c) => {
                    let hash: [u8; 32] = Sha256::digest(cache.refresh_token.expose()).into();
                    *self.dead_refresh_token.locked() = Some(hash);
                    SourceError {
                        message: format!(
                            "{}: the session has expired or the credentials changed ({c})",
                            e.message
                        ),
                        ..e
                    }
                    .with_hint(self.login_hint())
                }
                Some("INSUFFICIENT_PERMISSIONS") => e.with_hint(format!(
                    "the principal of the session lacks the signin:CreateOAuth2Token permission; grant it, or {}",
                    self.login_hint()
                )),
                _ if answer.status >= 500 || answer.status == 429 => {
                    e.with_hint("AWS Sign-In is unavailable; try again")
                }
                _ => e.with_hint(self.login_hint()),
            });
        }
        let refreshed = parse_refresh_answer(&answer.body).map_err(|why| {
            SourceError::new(format!("{what}: unexpected answer: {why}"))
                .with_hint("check AWS_ENDPOINT_URL_SIGNIN, if set")
                .caused_by(why)
        })?;
        let (new, text) = cache.refreshed(&refreshed, now);
        self.cache_file.write_back(
            &text,
            &format!("the aws login session of profile '{}'", self.profile),
            new.expires_at,
            "; the AWS CLI will ask for `aws login` again",
        );
        Ok(new)
    }
}
