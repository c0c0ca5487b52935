//! Handing out credentials and keeping them fresh: the cache in front of the
//! chain.
//!
//! Owns: [`CredentialsProvider`] — resolving once through the [`Resolver`] and
//! again only when needed: inside [`REFRESH_WINDOW`] before the credentials
//! expire (in the background, requests going on with the current ones), inside
//! [`MANDATORY_WINDOW`] (requests wait), when the shared files changed on disk,
//! after [`RECHECK_INTERVAL`] for dynamic credentials without an expiry, after
//! [`CredentialsProvider::invalidate`]; one resolution at a time, and a failed
//! one's error held for [`ERROR_HOLD`] so a burst of requests does not run the
//! chain once each. The windows follow the AWS SDKs' (Rust `aws-smithy-runtime`
//! lazy identity cache; botocore `RefreshableCredentials`), chosen for a
//! long-running proxy.
//! Refuses: giving up working credentials because a renewal failed or a
//! shared file stopped parsing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::chain::{Resolved, Resolver};
use super::profile::ProfileFiles;
use super::{Credentials, CredentialsError};
use crate::sync::Locked;

/// Temporary credentials are renewed when less than this remains (5 minutes):
/// between Rust's 5–10 s and botocore's 15 min. Inside this window the renewal
/// runs in the background while requests keep using the current credentials.
const REFRESH_WINDOW: Duration = Duration::from_secs(300);

/// When less than this remains, a request waits for the renewal.
const MANDATORY_WINDOW: Duration = Duration::from_secs(60);

/// Credentials without an expiry from a source that can change them
/// (`credential_process`, container, IMDS) are asked for again after this long
/// (Rust `aws-config`'s default).
const RECHECK_INTERVAL: Duration = Duration::from_secs(900);

/// After a failed background renewal, the next one waits this long.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

struct Cached {
    credentials: Arc<Credentials>,
    files: Option<ProfileFiles>,
    /// When credentials without an expiry are asked for again.
    recheck_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    refreshing: bool,
    last_failure: Option<Instant>,
    /// The last error, given again to requests within [`ERROR_HOLD`] of it, so
    /// a burst of requests without credentials does not run the whole chain
    /// (and its metadata-endpoint timeouts) once each.
    last_error: Option<(Instant, CredentialsError)>,
}

/// How long a failed resolution's error is reused.
const ERROR_HOLD: Duration = Duration::from_secs(2);

/// Hands out credentials, resolving them once and again only when needed:
/// inside the last 5 minutes before they expire (in the background, while
/// requests go on with the current ones; requests wait only inside the last
/// minute), when the shared files they came from changed on disk, after 15
/// minutes for dynamic credentials without an expiry, or after
/// [`invalidate`](Self::invalidate). Safe to share between threads;
/// one resolution runs at a time. A clone is a handle on the same cache.
#[derive(Clone)]
pub struct CredentialsProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsProvider")
            .field("resolver", &self.inner.resolver)
            .finish_non_exhaustive()
    }
}

struct Inner {
    resolver: Resolver,
    state: Mutex<State>,
    resolving: Mutex<()>,
}

/// What [`CredentialsProvider::credentials`] should do with the cache.
enum Freshness {
    Fresh,
    RenewInBackground,
    Stale,
}

impl CredentialsProvider {
    /// A provider over `resolver`; nothing is resolved until first asked.
    pub fn new(resolver: Resolver) -> Self {
        CredentialsProvider {
            inner: Arc::new(Inner {
                resolver,
                state: Mutex::new(State::default()),
                resolving: Mutex::new(()),
            }),
        }
    }

    /// The resolver in use.
    pub fn resolver(&self) -> &Resolver {
        &self.inner.resolver
    }

    /// A provider of its own for `profile` (several profiles in one MCP
    /// server entry): its own cache, renewals and held errors, so one
    /// profile's failure never blocks another's; everything else as this
    /// one's resolver has it, sharing its HTTP clients (their connection
    /// pools) and role session name ([`Resolver::for_profile`]). Cheap:
    /// nothing is read or connected until it is first asked.
    pub fn for_profile(&self, profile: &str) -> CredentialsProvider {
        CredentialsProvider::new(self.inner.resolver.for_profile(Some(profile.to_owned())))
    }

    fn freshness(c: &Cached, now: SystemTime) -> Freshness {
        if c.files.as_ref().is_some_and(ProfileFiles::changed_on_disk) {
            return Freshness::Stale;
        }
        if let Some(expiry) = c.credentials.expiry() {
            if now + MANDATORY_WINDOW >= expiry {
                return Freshness::Stale;
            }
            if now + REFRESH_WINDOW >= expiry {
                return Freshness::RenewInBackground;
            }
        }
        if c.recheck_at.is_some_and(|t| Instant::now() >= t) {
            return Freshness::RenewInBackground;
        }
        Freshness::Fresh
    }

    /// Current credentials, renewed when they are stale.
    ///
    /// # Errors
    /// [`CredentialsError`] from the chain when no usable credentials exist now.
    pub fn credentials(&self) -> Result<Arc<Credentials>, CredentialsError> {
        {
            let mut state = self.inner.state.locked();
            if let Some(c) = state.cached.as_ref() {
                match Self::freshness(c, SystemTime::now()) {
                    Freshness::Fresh => return Ok(Arc::clone(&c.credentials)),
                    Freshness::RenewInBackground => {
                        let current = Arc::clone(&c.credentials);
                        let backing_off = state
                            .last_failure
                            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE);
                        if !state.refreshing && !backing_off {
                            state.refreshing = true;
                            let inner = Arc::clone(&self.inner);
                            let spawned = std::thread::Builder::new()
                                .name("credentials".into())
                                .spawn(move || inner.renew_in_background());
                            if spawned.is_err() {
                                state.refreshing = false;
                            }
                        }
                        return Ok(current);
                    }
                    Freshness::Stale => {}
                }
            }
        }
        self.inner.resolve_now()
    }

    /// Forgets `stale` (if it is still the current credentials) so the next call
    /// resolves again: after the service said the token expired.
    pub fn invalidate(&self, stale: &Arc<Credentials>) {
        let mut state = self.inner.state.locked();
        if state
            .cached
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.credentials, stale))
        {
            state.cached = None;
        }
    }
}

impl Inner {
    /// Resolves and caches, one resolution at a time; a caller that waited for
    /// another's resolution uses its result when it is fresh.
    fn resolve_now(&self) -> Result<Arc<Credentials>, CredentialsError> {
        let _one = self.resolving.locked();
        {
            let state = self.state.locked();
            if let Some(c) = state.cached.as_ref()
                && matches!(
                    CredentialsProvider::freshness(c, SystemTime::now()),
                    Freshness::Fresh
                )
            {
                return Ok(Arc::clone(&c.credentials));
            }
            if let Some((at, e)) = &state.last_error
                && at.elapsed() < ERROR_HOLD
            {
                return Self::still_usable(&state).ok_or_else(|| e.clone());
            }
        }
        let result = self.resolver.resolve();
        let mut state = self.state.locked();
        match result {
            Ok(resolved) => Ok(Self::store(&mut state, resolved)),
            Err(e) => {
                state.last_failure = Some(Instant::now());
                state.last_error = Some((Instant::now(), e.clone()));
                match Self::still_usable(&state) {
                    Some(current) => {
                        log::warn!(
                            "resolving credentials again failed; the current ones are still valid and used: {e}"
                        );
                        Ok(current)
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// The cached credentials, if they have not expired (a failed renewal, or a
    /// shared file that no longer parses, does not take away working keys).
    fn still_usable(state: &State) -> Option<Arc<Credentials>> {
        let c = state.cached.as_ref()?;
        let valid = c
            .credentials
            .expiry()
            .is_none_or(|t| SystemTime::now() + Duration::from_secs(10) < t);
        valid.then(|| Arc::clone(&c.credentials))
    }

    fn renew_in_background(&self) {
        let result = {
            let _one = self.resolving.locked();
            self.resolver.resolve()
        };
        let mut state = self.state.locked();
        state.refreshing = false;
        match result {
            Ok(resolved) => {
                Self::store(&mut state, resolved);
            }
            Err(e) => {
                state.last_failure = Some(Instant::now());
                log::warn!("renewing credentials failed (the current ones are still used): {e}");
            }
        }
    }

    fn store(state: &mut State, resolved: Resolved) -> Arc<Credentials> {
        let credentials = Arc::new(resolved.credentials);
        log::debug!(
            "credentials from {} (access key id {}){}",
            credentials.source(),
            credentials.access_key_id_for_log(),
            match credentials.expiry() {
                Some(t) => format!(", expire {}", crate::time::format_rfc3339(t)),
                None => String::new(),
            }
        );
        let recheck_at = (resolved.dynamic && credentials.expiry().is_none())
            .then(|| Instant::now() + RECHECK_INTERVAL);
        state.cached = Some(Cached {
            credentials: Arc::clone(&credentials),
            files: resolved.files,
            recheck_at,
        });
        state.last_failure = None;
        state.last_error = None;
        credentials
    }
}
