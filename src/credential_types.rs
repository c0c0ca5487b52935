//! The credentials value: access key id, secret access key, session token and
//! expiry — what the signer consumes and every credential source produces.
//!
//! Owns: the one [`Credentials`] type, kept in a leaf so that the signer
//! (`sigv4`) and the credential chain (`credentials`) both use it without
//! depending on each other, as the AWS SDKs keep it in `aws-credential-types`.
//! Refuses: showing the secret access key or the session token: both live in
//! [`Secret`] and leave it only through `Secret::expose`; `Debug` redacts them
//! and shortens the access key id.

use std::fmt;
use std::time::SystemTime;

use crate::secret::Secret;
use crate::time::format_rfc3339;

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
}
