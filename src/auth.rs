//! Authenticating outgoing requests: credentials + signer + scope.
//!
//! Owns: fetching current credentials from the provider, choosing the signing
//! algorithm, region (or region set) and service, reading the clock, and handing
//! the relay the headers to add. The relay asks for headers; it never sees how a
//! signature is made.
//! Refuses: caching anything itself — the credential provider and the signer own
//! their caches.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::credentials::{Credentials, CredentialsError, CredentialsProvider};
use crate::sigv4::time::AmzDate;
use crate::sigv4::{
    Algorithm, SignableRequest, Signer, SigningError, SigningParams, SigningSettings,
};

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

/// Headers that authenticate one request, and the credentials they were made
/// with (so a refusal can invalidate exactly those).
pub struct Signed {
    /// Headers to add: `x-amz-date`, `x-amz-security-token`, `authorization`, …
    pub headers: Vec<(&'static str, String)>,
    /// The credentials used.
    pub credentials: Arc<Credentials>,
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

/// Signs the relay's requests for one service and region.
pub struct RequestAuth {
    provider: CredentialsProvider,
    signer: Signer,
    service: String,
    region: String,
}

impl fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestAuth")
            .field("service", &self.service)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl RequestAuth {
    /// Signs for `service` in `region` with credentials from `provider`.
    pub fn new(provider: CredentialsProvider, service: String, region: String) -> Self {
        RequestAuth {
            provider,
            signer: Signer::new(),
            service,
            region,
        }
    }

    /// The signing name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The signing region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The credential provider.
    pub fn provider(&self) -> &CredentialsProvider {
        &self.provider
    }

    /// Signs a request with the current time and credentials.
    ///
    /// # Errors
    /// [`AuthError`] when there are no credentials or signing fails.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Signed, AuthError> {
        let credentials = self
            .provider
            .credentials()
            .map_err(AuthError::Credentials)?;
        let algorithm = Algorithm::V4;
        let params = SigningParams {
            credentials: &credentials,
            algorithm,
            region: &self.region,
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
            credentials,
            algorithm,
        })
    }
}
