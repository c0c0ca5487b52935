//! The request signer: SigV4 (`AWS4-HMAC-SHA256`) and SigV4A (`AWS4-ECDSA-P256-SHA256`).
//!
//! Owns: turning a request (method, path and query as sent, the headers to sign,
//! the body) plus credentials, scope and time into the headers or query
//! parameters that authenticate it, and caching what is costly to derive — the
//! SigV4 signing key (per secret, day, region and service) and the SigV4A private
//! key (per access key). Implements the AWS IAM User Guide, "Create a signed AWS
//! API request"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>)
//! and, for SigV4A, "AWS Signature Version 4 for API requests"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html>) with
//! the key derivation of aws-c-auth; checked against the AWS signing test suite
//! in `vectors/` (from crates.io `aws-sigv4`).
//! Refuses: knowing anything of MCP or HTTP clients, and reading the clock — the
//! signing time is always passed in.

pub mod canonical;
pub mod v4;
pub mod v4a;

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::credential_types::Credentials;
use crate::secret::Secret;
use crate::sync::Locked;
use crate::time::AmzDate;
use canonical::{CanonicalHeaders, CanonicalQuery, CanonicalRequest, canonical_uri};
use v4::{SigningKey, StringToSign, credential_scope, sha256_hex};
use v4a::{DerivationError, DerivedKey};

/// Which signature to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// SigV4, `AWS4-HMAC-SHA256`: one region in the credential scope.
    V4,
    /// SigV4A, `AWS4-ECDSA-P256-SHA256`: a region set in `X-Amz-Region-Set`.
    V4a,
}

impl Algorithm {
    /// The algorithm name as it appears in the string to sign.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::V4 => v4::ALGORITHM,
            Algorithm::V4a => v4a::ALGORITHM,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::V4 => "SigV4",
            Algorithm::V4a => "SigV4A",
        })
    }
}

/// Where the signature goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureLocation {
    /// `Authorization`, `X-Amz-Date` (and token) headers.
    Headers,
    /// Presigned query parameters valid for `expires_in` seconds.
    QueryParams {
        /// `X-Amz-Expires`, seconds.
        expires_in: u64,
    },
}

/// Signing options; the defaults are what an MCP request to AWS needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigningSettings {
    /// Header or query signing. Default: headers.
    pub location: SignatureLocation,
    /// Normalize the path (non-S3 services). Default: true.
    pub normalize_path: bool,
    /// Also send and sign `x-amz-content-sha256` (header signing only). Default: false.
    pub content_sha256_header: bool,
    /// Add the session token after signing, unsigned (a few services want this;
    /// suite flag `omit_session_token`). Default: false, the token is signed.
    pub session_token_after_signing: bool,
}

impl Default for SigningSettings {
    fn default() -> Self {
        SigningSettings {
            location: SignatureLocation::Headers,
            normalize_path: true,
            content_sha256_header: false,
            session_token_after_signing: false,
        }
    }
}

/// The request to sign, as it will be sent.
#[derive(Clone, Copy, Debug)]
pub struct SignableRequest<'a> {
    /// `GET`, `POST`, `DELETE`, …
    pub method: &'a str,
    /// The path exactly as sent (percent-encoded once), e.g. `/runtimes/arn%3A…/invocations`.
    pub path: &'a str,
    /// The raw query after `?` (without it); empty for none.
    pub query: &'a str,
    /// The headers to sign, as they will be sent; must include `host`. Any of
    /// [`SIGNER_HEADERS`] given here is ignored and replaced by the signer's own.
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// Everything the signature depends on besides the request.
#[derive(Clone, Copy, Debug)]
pub struct SigningParams<'a> {
    /// Whose signature.
    pub credentials: &'a Credentials,
    /// SigV4 or SigV4A.
    pub algorithm: Algorithm,
    /// SigV4: the region (`us-east-1`). SigV4A: the region set (`*`, `us-east-1,us-west-2`).
    pub region: &'a str,
    /// The signing name of the service (`bedrock-agentcore`, `execute-api`, …).
    pub service: &'a str,
    /// The signing time.
    pub time: AmzDate,
    /// Options.
    pub settings: SigningSettings,
}

/// A signing failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigningError {
    /// SigV4A key derivation failed.
    Derivation(DerivationError),
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningError::Derivation(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SigningError {}

/// The result of signing: each stage, for tests and debugging, and what to add
/// to the request.
pub struct SigningOutput {
    /// The canonical request that was hashed.
    pub canonical_request: CanonicalRequest,
    /// The string that was signed.
    pub string_to_sign: StringToSign,
    /// The signature, hex.
    pub signature: String,
    /// Headers to add (header signing): `x-amz-date`, `x-amz-security-token`,
    /// `x-amz-content-sha256`, `x-amz-region-set`, `authorization`. Each value
    /// is a [`Secret`] (the token is one; a signature lets anyone replay the
    /// request for minutes): read with `Secret::expose`, zeroized on drop.
    pub headers: Vec<(&'static str, Secret)>,
    /// Query parameters to add (query signing), plain (not yet encoded), the
    /// signature last; values are [`Secret`]s, as for `headers`.
    pub query_params: Vec<(&'static str, Secret)>,
}

impl fmt::Debug for SigningOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningOutput")
            .field("canonical_request", &self.canonical_request.as_str())
            .field("string_to_sign", &self.string_to_sign.as_str())
            .field(
                "headers",
                &self.headers.iter().map(|h| h.0).collect::<Vec<_>>(),
            )
            .field(
                "query_params",
                &self.query_params.iter().map(|q| q.0).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Headers that [`Signer::sign`] adds; any copy in the input is ignored.
pub const SIGNER_HEADERS: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-amz-region-set",
];

fn is_signer_header(name: &str) -> bool {
    SIGNER_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

struct CachedV4Key {
    access_key_id: String,
    secret: Secret,
    day: u64,
    region: String,
    service: String,
    key: Arc<SigningKey>,
}

struct CachedV4aKey {
    access_key_id: String,
    secret: Secret,
    key: Arc<DerivedKey>,
}

/// Signs requests, keeping the last SigV4 signing key and the last SigV4A
/// derived key so repeated requests with the same credentials skip derivation.
/// A change of credentials (different key id or secret) replaces the cached
/// keys. Safe to share between threads.
#[derive(Default)]
pub struct Signer {
    v4: Mutex<Option<CachedV4Key>>,
    v4a: Mutex<Option<CachedV4aKey>>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    /// A signer with empty caches.
    pub fn new() -> Self {
        Signer::default()
    }

    /// Signs `request`.
    ///
    /// # Errors
    /// [`SigningError::Derivation`] when SigV4A key derivation fails.
    pub fn sign(
        &self,
        request: &SignableRequest<'_>,
        params: &SigningParams<'_>,
    ) -> Result<SigningOutput, SigningError> {
        let creds = params.credentials;
        let time = params.time;
        let settings = params.settings;
        let algorithm = params.algorithm;
        let scope = match algorithm {
            Algorithm::V4 => credential_scope(time, Some(params.region), params.service),
            Algorithm::V4a => credential_scope(time, None, params.service),
        };
        let payload_hash = sha256_hex(request.body);
        let amz_date = time.to_string();
        let token = creds.session_token().map(Secret::expose);
        let sign_token = token.filter(|_| !settings.session_token_after_signing);

        let mut query = CanonicalQuery::parse(request.query);
        let mut added_headers: Vec<(&'static str, String)> = Vec::new();
        let mut added_query: Vec<(&'static str, String)> = Vec::new();
        // Headers the signer sets itself are never taken from the input: a request
        // signed again (a retry) must not carry its old date, token or signature.
        let mut signed: Vec<(&str, &str)> = Vec::with_capacity(request.headers.len() + 4);
        signed.extend(
            request
                .headers
                .iter()
                .copied()
                .filter(|(name, _)| !is_signer_header(name)),
        );

        match settings.location {
            SignatureLocation::Headers => {
                added_headers.push(("x-amz-date", amz_date.clone()));
                if settings.content_sha256_header {
                    added_headers.push(("x-amz-content-sha256", payload_hash.clone()));
                }
                if algorithm == Algorithm::V4a {
                    added_headers.push(("x-amz-region-set", params.region.to_owned()));
                }
                if let Some(token) = sign_token {
                    added_headers.push(("x-amz-security-token", token.to_owned()));
                }
                signed.extend(added_headers.iter().map(|(n, v)| (*n, v.as_str())));
            }
            SignatureLocation::QueryParams { expires_in } => {
                let canonical_headers = CanonicalHeaders::new(signed.iter().copied());
                added_query.push(("X-Amz-Algorithm", algorithm.name().to_owned()));
                added_query.push((
                    "X-Amz-Credential",
                    format!("{}/{scope}", creds.access_key_id()),
                ));
                added_query.push(("X-Amz-Date", amz_date.clone()));
                added_query.push(("X-Amz-Expires", expires_in.to_string()));
                added_query.push(("X-Amz-SignedHeaders", canonical_headers.signed_headers));
                if algorithm == Algorithm::V4a {
                    added_query.push(("X-Amz-Region-Set", params.region.to_owned()));
                }
                if let Some(token) = sign_token {
                    added_query.push(("X-Amz-Security-Token", token.to_owned()));
                }
                for (name, value) in &added_query {
                    query.insert(name, value);
                }
            }
        }

        let headers = CanonicalHeaders::new(signed);
        let canonical_request = CanonicalRequest::new(
            request.method,
            &canonical_uri(request.path, settings.normalize_path),
            &query,
            &headers,
            &payload_hash,
        );
        let string_to_sign =
            StringToSign::new(algorithm.name(), time, &scope, canonical_request.as_str());
        let signature = match algorithm {
            Algorithm::V4 => self
                .v4_key(creds, time, params.region, params.service)
                .sign(&string_to_sign),
            Algorithm::V4a => self
                .v4a_key(creds)
                .map_err(SigningError::Derivation)?
                .sign(string_to_sign.as_str()),
        };

        match settings.location {
            SignatureLocation::Headers => {
                if let (Some(token), true) = (token, settings.session_token_after_signing) {
                    added_headers.push(("x-amz-security-token", token.to_owned()));
                }
                added_headers.push((
                    "authorization",
                    format!(
                        "{} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
                        algorithm.name(),
                        creds.access_key_id(),
                        canonical_request.signed_headers()
                    ),
                ));
            }
            SignatureLocation::QueryParams { .. } => {
                if let (Some(token), true) = (token, settings.session_token_after_signing) {
                    added_query.push(("X-Amz-Security-Token", token.to_owned()));
                }
                added_query.push(("X-Amz-Signature", signature.clone()));
            }
        }

        Ok(SigningOutput {
            canonical_request,
            string_to_sign,
            signature,
            headers: added_headers
                .into_iter()
                .map(|(n, v)| (n, Secret::new(v)))
                .collect(),
            query_params: added_query
                .into_iter()
                .map(|(n, v)| (n, Secret::new(v)))
                .collect(),
        })
    }

    fn v4_key(
        &self,
        creds: &Credentials,
        time: AmzDate,
        region: &str,
        service: &str,
    ) -> Arc<SigningKey> {
        let mut cache = self.v4.locked();
        if let Some(c) = cache.as_ref()
            && c.day == time.day()
            && c.access_key_id == creds.access_key_id()
            && c.region == region
            && c.service == service
            && c.secret.ct_eq(creds.secret_access_key())
        {
            return Arc::clone(&c.key);
        }
        let key = Arc::new(SigningKey::derive(
            creds.secret_access_key().expose(),
            &time.date(),
            region,
            service,
        ));
        *cache = Some(CachedV4Key {
            access_key_id: creds.access_key_id().to_owned(),
            secret: creds.secret_access_key().clone(),
            day: time.day(),
            region: region.to_owned(),
            service: service.to_owned(),
            key: Arc::clone(&key),
        });
        key
    }

    fn v4a_key(&self, creds: &Credentials) -> Result<Arc<DerivedKey>, DerivationError> {
        let mut cache = self.v4a.locked();
        if let Some(c) = cache.as_ref()
            && c.access_key_id == creds.access_key_id()
            && c.secret.ct_eq(creds.secret_access_key())
        {
            return Ok(Arc::clone(&c.key));
        }
        // Drop the old key before deriving the new one: secret material does not
        // outlive the credentials it came from.
        *cache = None;
        let key = Arc::new(DerivedKey::derive(
            creds.access_key_id(),
            creds.secret_access_key().expose(),
        )?);
        *cache = Some(CachedV4aKey {
            access_key_id: creds.access_key_id().to_owned(),
            secret: creds.secret_access_key().clone(),
            key: Arc::clone(&key),
        });
        Ok(key)
    }

    /// The derived SigV4A public key (X, Y hex) for `creds`, deriving and caching
    /// the key if needed. Used by tests and `--log-level debug`.
    ///
    /// # Errors
    /// [`DerivationError`] when derivation fails.
    pub fn v4a_public_key(&self, creds: &Credentials) -> Result<(String, String), DerivationError> {
        Ok(self.v4a_key(creds)?.public_key_xy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            Secret::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            token.map(Secret::from),
            None,
            "test",
        )
    }

    #[test]
    fn agentcore_worked_example_end_to_end() {
        // sigv4-sigv4a.md §3, verified there with aws-sigv4 1.6.4.
        let c = creds(Some("TOKEN123"));
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let headers = [
            ("host", "bedrock-agentcore.us-east-1.amazonaws.com"),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2025-06-18"),
        ];
        let req = SignableRequest {
            method: "POST",
            path: "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fmcp_server-AbCdEfGhIj/invocations",
            query: "qualifier=DEFAULT",
            headers: &headers,
            body,
        };
        let params = SigningParams {
            credentials: &c,
            algorithm: Algorithm::V4,
            region: "us-east-1",
            service: "bedrock-agentcore",
            time: AmzDate::parse_amz("20260101T000000Z").unwrap(),
            settings: SigningSettings::default(),
        };
        let signer = Signer::new();
        let out = signer.sign(&req, &params).unwrap();
        assert_eq!(
            out.signature,
            "a3a9a5d3dece303b51330c328b0233c751a642bd87ff4b0f2f5790fd6134ea19"
        );
        assert_eq!(
            out.headers.iter().map(|h| h.0).collect::<Vec<_>>(),
            ["x-amz-date", "x-amz-security-token", "authorization"]
        );
        assert_eq!(
            out.headers[2].1.expose(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock-agentcore/aws4_request, SignedHeaders=accept;content-type;host;mcp-protocol-version;x-amz-date;x-amz-security-token, Signature=a3a9a5d3dece303b51330c328b0233c751a642bd87ff4b0f2f5790fd6134ea19"
        );
        // The cached key gives the same answer a second time.
        assert_eq!(signer.sign(&req, &params).unwrap().signature, out.signature);

        // SigV4A, same request, region set us-east-1,us-west-2 (§4.4).
        let params = SigningParams {
            algorithm: Algorithm::V4a,
            region: "us-east-1,us-west-2",
            ..params
        };
        let out = signer.sign(&req, &params).unwrap();
        assert_eq!(
            out.string_to_sign.as_str(),
            "AWS4-ECDSA-P256-SHA256\n20260101T000000Z\n20260101/bedrock-agentcore/aws4_request\n722408bccac5507a4669bec580d32af82dc73c9483861ca7715f30fc8df6e986"
        );
        // ring's hedged nonce: the signature verifies (the RFC 6979 bytes of
        // §4.4 are checked in v4a's tests).
        let (x, y) = signer.v4a_public_key(&c).unwrap();
        let key = v4a::verifying_key_from_xy(&x, &y).unwrap();
        assert!(v4a::verify(
            &key,
            out.string_to_sign.as_str(),
            &out.signature
        ));
    }

    #[test]
    fn changed_credentials_replace_the_cached_keys() {
        let signer = Signer::new();
        let headers = [("host", "example.amazonaws.com")];
        let req = SignableRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let a = creds(None);
        let b = Credentials::new("AKIDEXAMPLE", Secret::from("other"), None, None, "test");
        let mut params = SigningParams {
            credentials: &a,
            algorithm: Algorithm::V4,
            region: "us-east-1",
            service: "service",
            time: AmzDate::parse_amz("20150830T123600Z").unwrap(),
            settings: SigningSettings::default(),
        };
        let sig_a = signer.sign(&req, &params).unwrap().signature;
        params.credentials = &b;
        let sig_b = signer.sign(&req, &params).unwrap().signature;
        assert_ne!(sig_a, sig_b);
        let fresh = Signer::new().sign(&req, &params).unwrap().signature;
        assert_eq!(sig_b, fresh);
        let pk_b = signer.v4a_public_key(&b).unwrap();
        assert_ne!(pk_b, signer.v4a_public_key(&a).unwrap());
        assert_eq!(pk_b, signer.v4a_public_key(&b).unwrap());
    }
}
