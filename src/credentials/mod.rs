//! AWS credentials: the data, where they come from, and keeping them fresh.
//!
//! Owns: where the [`Credentials`] the signer consumes come from. That is the
//! environment ([`Env`]), the shared config and credentials files ([`ini`],
//! [`profile`]), each source (environment keys, `credential_process`, IAM
//! Identity Center, `aws login`, STS, container, EC2 instance metadata) as only
//! its own request and answer over [`crate::aws`], and the chain with its cache
//! ([`chain`]). Where the SDKs differ it follows Rust `aws-config` (AWS SDKs and
//! Tools Reference Guide, <https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html>);
//! each deviation is written next to it.
//! Refuses: knowing anything of MCP, and ever printing a secret key or token —
//! they live in [`Secret`](crate::secret::Secret), leaving it only through
//! `Secret::expose`.
//!
//! Resolving the credentials of a profile, as the relay does (here with an
//! environment of our own and a credentials file written for the example):
//!
//! ```
//! use mcp_sigv4::credentials::{CredentialsProvider, Env, Resolver};
//!
//! let dir = std::env::temp_dir().join(format!("mcp-sigv4-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let file = dir.join("credentials");
//! std::fs::write(
//!     &file,
//!     "[dev]\naws_access_key_id = AKIDEXAMPLEDEV01\n\
//!      aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n",
//! )
//! .unwrap();
//! // The process environment would be Env::process(); this one names only
//! // the files (and keeps IMDS out of the chain).
//! let env = Env::from_pairs([
//!     ("HOME", dir.to_str().unwrap()),
//!     ("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap()),
//!     ("AWS_CONFIG_FILE", dir.join("config").to_str().unwrap()),
//!     ("AWS_EC2_METADATA_DISABLED", "true"),
//! ]);
//! let provider = CredentialsProvider::new(Resolver::new(env, Some("dev".into())));
//! let credentials = provider.credentials().unwrap();
//! assert_eq!(credentials.access_key_id(), "AKIDEXAMPLEDEV01");
//! assert!(credentials.source().contains("dev"), "{}", credentials.source());
//! // The secret never shows in Debug output.
//! assert!(!format!("{credentials:?}").contains("wJalr"));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub(crate) mod advice;
pub mod chain;
pub(crate) mod container;
pub mod env;
pub(crate) mod imds;
pub mod ini;
#[doc(hidden)]
pub mod login;
pub(crate) mod plan;
pub(crate) mod process;
pub mod profile;
mod provider;
pub(crate) mod sha1;
pub(crate) mod sso;
pub(crate) mod sts;
pub(crate) mod token_cache;

use std::fmt;
use std::sync::Arc;

use crate::aws::error::AwsError;
use crate::aws::service::FetchError;
use crate::http::{Answer, ErrorKind};

pub use crate::credential_types::Credentials;
pub use chain::Resolver;
pub use env::Env;
pub use provider::CredentialsProvider;
pub use sts::CallerIdentity;

/// The typed cause of an error, shared when the error is cloned.
type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// Why one credential source could not give credentials: what happened and,
/// when known, what the user can do. Never contains a secret.
///
/// `message` is the whole story in one line (it already reads the cause, so
/// printing `Display` is enough); [`source`](std::error::Error::source) gives
/// the typed cause (an HTTP failure, a file error) to code that acts on it.
#[derive(Clone, Debug)]
pub struct SourceError {
    /// What happened, e.g. `credential_process exited with status 1: …`.
    pub message: String,
    /// A fix, e.g. `run \`aws sso login --profile dev\``.
    pub hint: Option<String>,
    cause: Option<Cause>,
}

impl SourceError {
    /// An error with no hint.
    pub fn new(message: impl Into<String>) -> Self {
        SourceError {
            message: message.into(),
            hint: None,
            cause: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Keeps `cause` as the error's [`source`](std::error::Error::source).
    pub(crate) fn caused_by(
        mut self,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// `{what} failed: Code: message (HTTP 403, request id …)` for an error
    /// answer of an AWS service, its cause the [`AwsError`] read from it.
    pub(crate) fn refused(what: &str, answer: &Answer) -> Self {
        let error = AwsError::parse(&answer.headers, answer.body.clone());
        SourceError::new(format!("{what} failed: {}", error.describe(answer.status)))
            .caused_by(error)
    }

    /// `{what} failed after 3 tries: …` for a call that got no answer, with
    /// `network_hint` when the network is the likely cause (a connection
    /// failure or a timeout) and `other_hint` otherwise.
    pub(crate) fn unreachable(
        what: &str,
        e: FetchError,
        network_hint: impl FnOnce() -> String,
        other_hint: &str,
    ) -> Self {
        // A certificate this machine does not trust is no network problem:
        // the failure text (http.rs's) already names the fix; say it again
        // as the hint instead of sending the user to check the network.
        let untrusted = e.to_string().contains("set AWS_CA_BUNDLE or --ca-bundle");
        let hint = match e.kind() {
            Some(ErrorKind::Connect) if untrusted => {
                "set AWS_CA_BUNDLE, --ca-bundle or the profile's ca_bundle to the PEM bundle of the CA that signed the endpoint's certificate".to_owned()
            }
            _ if network_failure(&e) => network_hint(),
            _ => other_hint.to_owned(),
        };
        SourceError::new(e.failure(what))
            .with_hint(hint)
            .caused_by(e)
    }

    /// The error type an AWS service answered with, when that is the cause.
    pub(crate) fn error_type(&self) -> Option<&str> {
        self.cause_as::<AwsError>()?.error_type.as_deref()
    }

    /// The cause, when it is a `T`.
    pub(crate) fn cause_as<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.cause.as_deref()?.downcast_ref::<T>()
    }

    /// The same error, its message prefixed with `context: `.
    pub(crate) fn context(self, context: &str) -> Self {
        SourceError {
            message: format!("{context}: {}", self.message),
            ..self
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Texts the operating system gives for a host name it cannot resolve
/// (glibc and musl `getaddrinfo` through Rust's standard library, macOS,
/// Windows' `WSAHOST_NOT_FOUND` and `WSATRY_AGAIN`).
const NAME_RESOLUTION_TEXTS: [&str; 6] = [
    "failed to lookup address information",
    "name or service not known",
    "nodename nor servname provided",
    "no such host is known",
    "temporary failure in name resolution",
    "could not be resolved",
];

/// True when `e` got no answer for a reason of the network path: the
/// connection could not be made, a timeout fired, or the host name did not
/// resolve (which the HTTP layer may report as a plain I/O error).
fn network_failure(e: &FetchError) -> bool {
    match e.kind() {
        Some(ErrorKind::Connect | ErrorKind::Timeout) => true,
        Some(_) => {
            let text = e.to_string().to_ascii_lowercase();
            NAME_RESOLUTION_TEXTS.iter().any(|t| text.contains(t))
        }
        None => false,
    }
}

/// True when `e` is a call to an AWS service that got no answer because of
/// the network path (see `SourceError::unreachable`): no connection, a
/// timeout, a host name that did not resolve. False for an answer the
/// service gave, and for a certificate this machine does not trust.
pub fn unreachable(e: &SourceError) -> bool {
    e.cause_as::<FetchError>().is_some_and(|f| {
        network_failure(f) && !f.to_string().contains("set AWS_CA_BUNDLE or --ca-bundle")
    })
}

/// Why no credentials could be had: every source tried, what each said, and
/// what the user can do. Never contains a secret. Its
/// [`source`](std::error::Error::source) is the [`SourceError`] of the source
/// that failed, when one did.
#[derive(Clone, Debug)]
pub struct CredentialsError {
    /// What went wrong, e.g. `no credentials found`.
    pub summary: String,
    /// Each source tried, with why it gave nothing: `("env", "AWS_ACCESS_KEY_ID not set")`.
    pub tried: Vec<(String, String)>,
    /// A command or setting that fixes it, when one is known.
    pub hint: Option<String>,
    cause: Option<Arc<SourceError>>,
}

impl CredentialsError {
    /// An error with only a summary and a hint.
    pub fn new(summary: impl Into<String>, hint: Option<String>) -> Self {
        CredentialsError {
            summary: summary.into(),
            tried: Vec::new(),
            hint,
            cause: None,
        }
    }

    /// `cannot get credentials from {what}: {e}`, with `e`'s hint and `e` as the
    /// source, after the sources `tried` before it.
    pub(crate) fn source_failed(what: &str, e: SourceError, tried: Vec<(String, String)>) -> Self {
        let summary = format!("cannot get credentials from {what}: {}", e.message);
        Self::from_source(summary, e, tried)
    }

    /// `summary`, with `e`'s hint and `e` as the source, after the sources
    /// `tried` before it.
    pub(crate) fn from_source(
        summary: String,
        e: SourceError,
        tried: Vec<(String, String)>,
    ) -> Self {
        CredentialsError {
            summary,
            tried,
            hint: e.hint.clone(),
            cause: Some(Arc::new(e)),
        }
    }
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)?;
        if !self.tried.is_empty() {
            f.write_str(": tried ")?;
            for (i, (source, why)) in self.tried.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{source} ({why})")?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CredentialsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_typed_cause() {
        use std::error::Error;
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = SourceError::new("cannot read x: denied")
            .with_hint("fix it")
            .caused_by(io)
            .context("profile 'p'");
        assert_eq!(e.to_string(), "profile 'p': cannot read x: denied; fix it");
        let io = e
            .source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        let c = CredentialsError::source_failed("profile 'p'", e, Vec::new());
        assert_eq!(c.hint.as_deref(), Some("fix it"));
        let s = c.source().unwrap().downcast_ref::<SourceError>().unwrap();
        assert!(s.source().is_some());
    }

    #[test]
    fn a_name_that_does_not_resolve_gets_the_network_hint() {
        use crate::http::HttpError;
        let lookup = FetchError::Http {
            attempts: 3,
            error: HttpError {
                kind: ErrorKind::Io,
                detail: "failed to lookup address information: Name or service not known".into(),
            },
        };
        let e = SourceError::unreachable("STS", lookup, || "check the network".into(), "try again");
        assert_eq!(e.hint.as_deref(), Some("check the network"));
        assert!(unreachable(&e));
        let reset = FetchError::Http {
            attempts: 1,
            error: HttpError {
                kind: ErrorKind::Io,
                detail: "connection reset by peer".into(),
            },
        };
        let e = SourceError::unreachable("STS", reset, || "check the network".into(), "try again");
        assert_eq!(e.hint.as_deref(), Some("try again"));
        assert!(!unreachable(&e));
    }

    #[test]
    fn error_lists_sources_and_hint() {
        let mut e = CredentialsError::new(
            "no credentials found",
            Some("run `aws sso login --profile dev`".into()),
        );
        e.tried
            .push(("env".into(), "AWS_ACCESS_KEY_ID not set".into()));
        e.tried
            .push(("profile 'dev' in ~/.aws/config".into(), "no keys".into()));
        assert_eq!(
            e.to_string(),
            "no credentials found: tried env (AWS_ACCESS_KEY_ID not set), profile 'dev' in ~/.aws/config (no keys); run `aws sso login --profile dev`"
        );
    }
}
