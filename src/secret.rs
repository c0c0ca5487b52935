//! Secret values and the log allow-list.
//!
//! Owns: the one wrapper type for secret strings (secret access keys, session tokens,
//! bearer tokens, `Mcp-Session-Id`), which prints as `<redacted>` and zeroizes its
//! bytes on drop, and the list of HTTP header names that may appear in logs.
//! Refuses: any way to turn a secret into text other than [`Secret::expose`], one
//! named, greppable call.

use std::fmt;

use p256::elliptic_curve::zeroize::Zeroize;

/// A secret string: a secret access key, a session token, a bearer token.
///
/// `Debug` and `Display` print `<redacted>`; the bytes are overwritten with zeros
/// when the value is dropped. The only way to read it is [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`. The caller should not keep another copy of it.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret text. Every use of this call is a place where the secret leaves
    /// its wrapper: keep them few (signing, an outgoing header, an STS body).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares two secrets in time that depends only on their lengths.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Header names (lower case) whose values may be written to a log. Everything
/// else — `authorization`, `x-amz-security-token`, `mcp-session-id`,
/// `x-amz-sso_bearer_token`, custom headers — is held back and only counted.
pub const LOGGABLE_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "host",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "x-amz-date",
    "x-amz-region-set",
    "x-amz-content-sha256",
    "x-amzn-requestid",
    "x-amzn-errortype",
    "x-amz-request-id",
    "retry-after",
    "date",
    "server",
    "transfer-encoding",
    "last-event-id",
];

/// Formats `headers` for a debug log: allow-listed headers as `name: value`, the
/// rest only counted (`+2 held back`).
pub fn loggable_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut shown = Vec::new();
    let mut held_back = 0usize;
    for (name, value) in headers {
        if LOGGABLE_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
        {
            shown.push(format!("{}: {}", name.to_ascii_lowercase(), value));
        } else {
            held_back += 1;
        }
    }
    if held_back > 0 {
        shown.push(format!("+{held_back} held back"));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    }

    #[test]
    fn secret_headers_are_counted_not_shown() {
        let line = loggable_headers([
            ("Host", "example.com"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/..., Signature=abc",
            ),
            ("X-Amz-Security-Token", "TOKEN"),
            ("Mcp-Session-Id", "abc"),
        ]);
        assert_eq!(line, "host: example.com, +3 held back");
    }
}
