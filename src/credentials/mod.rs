//! AWS credentials: the data, where they come from, and keeping them fresh.
//!
//! Owns: where the [`Credentials`] the signer consumes come from: the environment view
//! ([`Env`]), the shared config/credentials files ([`ini`], [`profile`]) and the
//! resolution chain with its cache ([`chain`]). Knows nothing of MCP or HTTP
//! signing. Follows Rust `aws-config` where the SDKs differ
//! (`../shared/spec/aws-credentials.md`); every deviation is written next to it.
//! Refuses: ever printing a secret access key or session token — they live in
//! [`Secret`](crate::secret::Secret) and leave it only through `Secret::expose`.

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

pub use crate::credential_types::Credentials;
pub use chain::{CredentialsProvider, Resolver};
pub use env::Env;

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
