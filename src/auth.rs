//! Authenticating outgoing requests: credentials + signer + scope.
//!
//! Owns: fetching current credentials from the provider, choosing the signing
//! algorithm, region (or region set) and service, reading the clock, and handing
//! the relay the headers to add. The relay asks for headers; it never sees how a
//! signature is made.
//! Refuses: caching anything itself — the credential provider and the signer own
//! their caches.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crate::credential_types::Credentials;
use crate::credentials::{CredentialsError, CredentialsProvider};
use crate::secret::Secret;
use crate::sigv4::{
    Algorithm, SignableRequest, Signer, SigningError, SigningParams, SigningSettings,
};
use crate::time::AmzDate;

/// Why a request could not be signed.
#[derive(Clone, Debug)]
pub enum AuthError {
    /// No usable credentials.
    Credentials(CredentialsError),
    /// The signer failed (SigV4A derivation).
    Signing(SigningError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Credentials(e) => e.fmt(f),
            AuthError::Signing(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AuthError {}

/// How requests are signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningChoice {
    /// The algorithm of the first request.
    pub initial: Algorithm,
    /// Switch to SigV4A when the server refuses a SigV4 signature (403 with a
    /// signature error): `auto` on a global endpoint, or `auto` asked for explicitly.
    pub upgrade: bool,
    /// The SigV4A region set (`*`, `us-east-1,us-west-2`).
    pub region_set: String,
    /// `--skip-auth`: when no credentials can be found, send the request
    /// unsigned (with a warning) instead of answering it with an error, as
    /// `mcp-proxy-for-aws --skip-auth` does.
    pub unsigned_fallback: bool,
}

/// Headers that authenticate one request, and the credentials they were made
/// with (so a refusal can invalidate exactly those).
pub struct Signed {
    /// Headers to add: `x-amz-date`, `x-amz-security-token`, `authorization`,
    /// …; none for a request sent unsigned (`--skip-auth`).
    pub headers: Vec<(&'static str, Secret)>,
    /// The credentials used; `None` for a request sent unsigned.
    pub credentials: Option<Arc<Credentials>>,
    /// The algorithm used.
    pub algorithm: Algorithm,
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field(
                "headers",
                &self.headers.iter().map(|h| h.0).collect::<Vec<_>>(),
            )
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Signs the relay's requests for one service and region (or region set).
///
/// Algorithm choice (`--sig-version`): SigV4 or SigV4A from the first request,
/// or SigV4 with a one-way switch to SigV4A after the server refuses a SigV4
/// signature and accepts the SigV4A one ([`confirm_upgrade`](Self::confirm_upgrade)).
pub struct RequestAuth {
    provider: CredentialsProvider,
    signer: Signer,
    service: String,
    region: String,
    region_set: String,
    may_upgrade: bool,
    use_v4a: AtomicBool,
    unsigned_fallback: bool,
    warned_unsigned: AtomicBool,
    /// The runtime-session id from the caller's ARN, once asked.
    identity: OnceLock<String>,
}

impl fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestAuth")
            .field("service", &self.service)
            .field("region", &self.region)
            .field("region_set", &self.region_set)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl RequestAuth {
    /// Signs for `service` in `region` (SigV4) or `choice.region_set` (SigV4A)
    /// with credentials from `provider`.
    pub fn new(
        provider: CredentialsProvider,
        service: String,
        region: String,
        choice: &SigningChoice,
    ) -> Self {
        RequestAuth {
            provider,
            signer: Signer::new(),
            service,
            region,
            region_set: choice.region_set.clone(),
            may_upgrade: choice.upgrade,
            use_v4a: AtomicBool::new(choice.initial == Algorithm::V4a),
            unsigned_fallback: choice.unsigned_fallback,
            warned_unsigned: AtomicBool::new(false),
            identity: OnceLock::new(),
        }
    }

    /// A signer for another `profile` (several profiles in one MCP server
    /// entry) with everything else as this one has it — service, region,
    /// region set, `--sig-version` and `--skip-auth`; SigV4A from the start
    /// when this one has switched already, since it is the same endpoint —
    /// and its own credentials ([`CredentialsProvider::for_profile`]: its own
    /// cache, renewals and held errors) and SigV4A key cache. Cheap: nothing
    /// is resolved until it signs.
    pub fn for_profile(&self, profile: &str) -> RequestAuth {
        RequestAuth {
            provider: self.provider.for_profile(profile),
            signer: Signer::new(),
            service: self.service.clone(),
            region: self.region.clone(),
            region_set: self.region_set.clone(),
            may_upgrade: self.may_upgrade,
            use_v4a: AtomicBool::new(self.use_v4a.load(Ordering::Acquire)),
            unsigned_fallback: self.unsigned_fallback,
            warned_unsigned: AtomicBool::new(false),
            identity: OnceLock::new(),
        }
    }

    /// The AgentCore runtime-session id of `--runtime-session identity`: the
    /// hex SHA-256 of the caller's ARN (STS GetCallerIdentity with these
    /// credentials), 64 characters, the same across restarts for one AWS
    /// principal. STS is asked once per signer; later calls reuse the id
    /// (every session of this signer: `serve`'s clients share it).
    ///
    /// # Errors
    /// [`AuthError`] when there are no credentials or STS cannot say who they
    /// are (asked again next time).
    pub fn identity_session_id(&self) -> Result<String, AuthError> {
        use sha2::Digest;
        if let Some(id) = self.identity.get() {
            return Ok(id.clone());
        }
        let credentials = self
            .provider
            .credentials()
            .map_err(AuthError::Credentials)?;
        let identity = self
            .provider
            .resolver()
            .caller_identity(&credentials)
            .map_err(|e| {
                AuthError::Credentials(CredentialsError::from_source(
                    e.message.clone(),
                    e,
                    Vec::new(),
                ))
            })?;
        let id = hex::encode(sha2::Sha256::digest(identity.arn.as_bytes()));
        Ok(self.identity.get_or_init(|| id).clone())
    }

    /// The algorithm for the next request.
    pub fn algorithm(&self) -> Algorithm {
        if self.use_v4a.load(Ordering::Acquire) {
            Algorithm::V4a
        } else {
            Algorithm::V4
        }
    }

    /// True when a request signed with `used` that was refused for its signature
    /// should be sent again signed SigV4A.
    pub fn may_upgrade(&self, used: Algorithm) -> bool {
        self.may_upgrade && used == Algorithm::V4
    }

    /// Records that SigV4A worked where SigV4 was refused: every later request is
    /// signed SigV4A. Returns true for the call that made the switch.
    pub fn confirm_upgrade(&self) -> bool {
        self.may_upgrade
            && self
                .use_v4a
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// The SigV4A region set.
    pub fn region_set(&self) -> &str {
        &self.region_set
    }

    /// The signing name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The AWS profile the credentials are read from (for hints in errors).
    pub fn profile_name(&self) -> String {
        self.provider.resolver().profile_name()
    }

    /// The credential provider.
    pub fn provider(&self) -> &CredentialsProvider {
        &self.provider
    }

    /// Signs a request with `algorithm`, the current time and credentials.
    ///
    /// # Errors
    /// [`AuthError`] when there are no credentials or signing fails.
    pub fn sign(
        &self,
        algorithm: Algorithm,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Signed, AuthError> {
        let credentials = match self.provider.credentials() {
            Ok(c) => c,
            Err(e) if self.unsigned_fallback => {
                if !self.warned_unsigned.swap(true, Ordering::AcqRel) {
                    log::warn!("--skip-auth: no AWS credentials ({e}); sending requests unsigned");
                }
                return Ok(Signed {
                    headers: Vec::new(),
                    credentials: None,
                    algorithm,
                });
            }
            Err(e) => return Err(AuthError::Credentials(e)),
        };
        let params = SigningParams {
            credentials: &credentials,
            algorithm,
            region: match algorithm {
                Algorithm::V4 => &self.region,
                Algorithm::V4a => &self.region_set,
            },
            service: &self.service,
            time: AmzDate::from_system_time(SystemTime::now()),
            settings: SigningSettings::default(),
        };
        let request = SignableRequest {
            method,
            path,
            query,
            headers,
            body,
        };
        let out = self
            .signer
            .sign(&request, &params)
            .map_err(AuthError::Signing)?;
        Ok(Signed {
            headers: out.headers,
            credentials: Some(credentials),
            algorithm,
        })
    }
}
