//! The process environment, as the credential chain sees it.
//!
//! Owns: one read-only view of environment variables that is either the real
//! process environment or a fixed map (tests and data-driven chain cases), so the
//! resolver never calls `std::env` directly; and the environment credential source
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
//! Refuses: writing to the environment.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::Credentials;
use crate::secret::Secret;

/// A view of environment variables.
#[derive(Clone, Debug, Default)]
pub struct Env {
    fixed: Option<Arc<HashMap<String, String>>>,
}

impl Env {
    /// The real process environment.
    pub fn process() -> Self {
        Env { fixed: None }
    }

    /// A fixed set of variables (nothing else is visible).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env {
            fixed: Some(Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
        }
    }

    /// True for the real process environment.
    pub(crate) fn is_process(&self) -> bool {
        self.fixed.is_none()
    }

    /// The variable's value, if it is set and valid Unicode.
    pub fn get(&self, name: &str) -> Option<String> {
        match &self.fixed {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }

    /// The variable's value if it is set and not blank (whitespace only counts as
    /// unset, as in Rust `aws-config`); surrounding whitespace is trimmed.
    pub fn get_nonblank(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// [`get_nonblank`](Self::get_nonblank) for a variable that holds a secret
    /// (a secret key, a token): the value goes straight into a [`Secret`], and
    /// the untrimmed copy is zeroized with it.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        let raw = Secret::new(self.get(name)?);
        let value = raw.expose().trim();
        (!value.is_empty()).then(|| Secret::from(value))
    }
}

/// Why the environment holds no credentials: the reason the "tried" list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnvMissing {
    /// Neither key is set.
    NotSet,
    /// Only the access key id is set.
    NoSecret,
    /// Only the secret access key is set.
    NoKeyId,
}

impl fmt::Display for EnvMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvMissing::NotSet => "AWS_ACCESS_KEY_ID not set",
            EnvMissing::NoSecret => "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
            EnvMissing::NoKeyId => "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
        })
    }
}

impl std::error::Error for EnvMissing {}

/// The environment credential source: `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (fallback name `SECRET_ACCESS_KEY`, as Rust
/// `aws-config` reads it), optional `AWS_SESSION_TOKEN`.
///
/// # Errors
/// [`EnvMissing`]: why the environment gave nothing, for the "tried" list.
pub(crate) fn credentials_from_env(env: &Env) -> Result<Credentials, EnvMissing> {
    let id = env.get_nonblank("AWS_ACCESS_KEY_ID");
    let secret = env
        .secret("AWS_SECRET_ACCESS_KEY")
        .or_else(|| env.secret("SECRET_ACCESS_KEY"));
    match (id, secret) {
        (Some(id), Some(secret)) => {
            let token = env.secret("AWS_SESSION_TOKEN");
            Ok(Credentials::new(id, secret, token, None, "environment"))
        }
        (None, None) => Err(EnvMissing::NotSet),
        (Some(_), None) => Err(EnvMissing::NoSecret),
        (None, Some(_)) => Err(EnvMissing::NoKeyId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_token_are_read_and_blank_is_unset() {
        let env = Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "SECRET"),
            ("AWS_SESSION_TOKEN", "  "),
        ]);
        let c = credentials_from_env(&env).unwrap();
        assert_eq!(c.access_key_id(), "AKID");
        assert_eq!(c.secret_access_key().expose(), "SECRET");
        assert!(c.session_token().is_none());
    }

    #[test]
    fn half_set_keys_say_which_half_is_missing() {
        let env = Env::from_pairs([("AWS_ACCESS_KEY_ID", "AKID")]);
        let why = credentials_from_env(&env).unwrap_err().to_string();
        assert!(why.contains("AWS_SECRET_ACCESS_KEY is not"), "{why}");
        let env = Env::from_pairs([("SECRET_ACCESS_KEY", "S"), ("AWS_ACCESS_KEY_ID", "A")]);
        assert_eq!(
            credentials_from_env(&env)
                .unwrap()
                .secret_access_key()
                .expose(),
            "S"
        );
    }
}
