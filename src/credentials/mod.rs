//! AWS credentials: the data, where they come from, and keeping them fresh.
//!
//! Owns: the [`Credentials`] value the signer consumes, the environment view
//! ([`Env`]), the shared config/credentials files ([`ini`], [`profile`]) and the
//! resolution chain with its cache ([`chain`]). Knows nothing of MCP or HTTP
//! signing. Follows Rust `aws-config` where the SDKs differ
//! (`../shared/spec/aws-credentials.md`); every deviation is written next to it.
//! Refuses: ever printing a secret access key or session token — they live in
//! [`Secret`] and leave it only through `Secret::expose`.

pub mod chain;
pub mod container;
pub mod env;
pub mod imds;
pub mod ini;
pub mod plan;
pub mod process;
pub mod profile;
pub mod sha1;
pub mod sso;
pub mod sts;

use std::fmt;
use std::time::SystemTime;

use crate::secret::Secret;
use crate::sigv4::time::format_rfc3339;

pub use chain::{CredentialsProvider, Resolver};
pub use env::Env;

/// A set of AWS credentials: access key id, secret access key, optional session
/// token and expiry. `Debug` never shows the secret or the token.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
    expiry: Option<SystemTime>,
    source: String,
}

impl Credentials {
    /// Credentials from their parts. `source` names where they came from for logs
    /// and errors (`environment`, `profile 'dev'`); it must not hold secrets.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        expiry: Option<SystemTime>,
        source: impl Into<String>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token: session_token.filter(|t| !t.is_empty()),
            expiry,
            source: source.into(),
        }
    }

    /// The access key id (`AKIA…`/`ASIA…`); not secret, it is sent in every
    /// `Authorization` header.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The access key id shortened for logs: its first 4 and last 4 characters
    /// (`ASIA…MPLE`), enough to tell keys apart, not to use one.
    pub fn access_key_id_for_log(&self) -> String {
        let id = &self.access_key_id;
        if id.len() <= 8 || !id.is_ascii() {
            return "…".to_owned();
        }
        format!("{}…{}", &id[..4], &id[id.len() - 4..])
    }

    /// The secret access key.
    pub fn secret_access_key(&self) -> &Secret {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&Secret> {
        self.session_token.as_ref()
    }

    /// When the credentials stop working, if they are temporary.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expiry
    }

    /// Where they came from (`environment`, `profile 'dev' (static keys)`, …).
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id_for_log())
            .field("secret_access_key", &self.secret_access_key)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiry", &self.expiry.map(format_rfc3339))
            .field("source", &self.source)
            .finish()
    }
}

/// Why one credential source could not give credentials: what happened and,
/// when known, what the user can do. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    /// What happened, e.g. `credential_process exited with status 1: …`.
    pub message: String,
    /// A fix, e.g. `run \`aws sso login --profile dev\``.
    pub hint: Option<String>,
}

impl SourceError {
    /// An error with no hint.
    pub fn new(message: impl Into<String>) -> Self {
        SourceError {
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
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

impl std::error::Error for SourceError {}

/// Why no credentials could be had: every source tried, what each said, and
/// what the user can do. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsError {
    /// What went wrong, e.g. `no credentials found`.
    pub summary: String,
    /// Each source tried, with why it gave nothing: `("env", "AWS_ACCESS_KEY_ID not set")`.
    pub tried: Vec<(String, String)>,
    /// A command or setting that fixes it, when one is known.
    pub hint: Option<String>,
}

impl CredentialsError {
    /// An error with only a summary and a hint.
    pub fn new(summary: impl Into<String>, hint: Option<String>) -> Self {
        CredentialsError {
            summary: summary.into(),
            tried: Vec::new(),
            hint,
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

impl std::error::Error for CredentialsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secret_and_token() {
        let c = Credentials::new(
            "AKIDEXAMPLE",
            Secret::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            Some(Secret::from("TOKEN123")),
            None,
            "environment",
        );
        let shown = format!("{c:?}");
        assert!(shown.contains("AKID…MPLE"), "{shown}");
        assert!(!shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("TOKEN123"), "{shown}");
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
