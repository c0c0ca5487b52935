//! The secrets one request carried, taken out of what its server says back.
//!
//! Owns: [`Redactor`], the secret values of the headers of one request — the
//! `Authorization` value and its signature, `X-Amz-Security-Token` (the
//! session token), `Mcp-Session-Id`, the AgentCore runtime-session id and
//! every `--header` value: every value but those of [`PUBLIC_HEADERS`] — and
//! replacing each in a server's text with [`REDACTED`] before the relay quotes
//! that text in an error or a log. A server, gateway, WAF or TLS-inspecting
//! proxy whose error body quotes the request's headers would otherwise have
//! the relay repeat them to the client and to the log. A value is found whole
//! and, for values of [`MIN_PART`] characters or more, as any run of
//! `MIN_PART` characters or more of it (a server that quotes a header cut
//! short), except in the `Authorization` value, whose `SignedHeaders` list
//! holds header names a message may well name: there the signature is looked
//! for in part, the whole value only whole. Used by the relay on every error
//! answer it quotes and by the HTTP client's log of response headers. Pure.
//! Refuses: keeping a value shorter than [`MIN_VALUE`] characters (it would
//! take ordinary words out of a message; a value so short is no secret), and
//! showing its values: they live in [`Secret`]s.

use crate::secret::Secret;

/// What a secret is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// The shortest value kept, in characters: 8.
pub(crate) const MIN_VALUE: usize = 8;

/// The shortest run of a value's characters that is taken out when it is not
/// the whole value, in characters: 16.
pub(crate) const MIN_PART: usize = 16;

/// The request headers whose values are not secret: the body's own names
/// (the 2026-07-28 routing headers), what every request says (`accept`,
/// `content-type`, the date, the body's hash), the host and the revision.
pub(crate) const PUBLIC_HEADERS: &[&str] = &[
    "host",
    "user-agent",
    "accept",
    "content-type",
    "content-length",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-region-set",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
];

/// One secret value, and whether it is also looked for in part.
struct Value {
    text: Secret,
    in_part: bool,
}

/// The secret values one request carried.
#[derive(Default)]
pub(crate) struct Redactor {
    values: Vec<Value>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

impl Redactor {
    /// The secret values of `headers` (name, value), as the request went out.
    pub(crate) fn of_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut r = Redactor::default();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            if PUBLIC_HEADERS.contains(&name.as_str()) || name.starts_with("mcp-param-") {
                continue;
            }
            if name == "authorization" {
                r.add(value, false);
                if let Some(sig) = value.split("Signature=").nth(1) {
                    r.add(sig.split([',', ' ']).next().unwrap_or(""), true);
                }
                continue;
            }
            r.add(value, true);
        }
        r
    }

    fn add(&mut self, value: &str, in_part: bool) {
        let value = value.trim();
        if value.chars().count() >= MIN_VALUE {
            self.values.push(Value {
                text: Secret::from(value),
                in_part: in_part && value.is_ascii() && value.len() >= MIN_PART,
            });
        }
    }

    /// `text` with every secret value (whole, or a run of [`MIN_PART`]
    /// characters or more of one) replaced by [`REDACTED`].
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut hidden = vec![false; text.len()];
        for v in &self.values {
            let secret = v.text.expose();
            for (at, m) in text.match_indices(secret) {
                hidden[at..at + m.len()].fill(true);
            }
            if !v.in_part {
                continue;
            }
            // Every window of MIN_PART bytes of the text that is part of the
            // (ASCII) value; windows that overlap join into one run.
            let bytes = text.as_bytes();
            for start in 0..bytes.len().saturating_sub(MIN_PART - 1) {
                let window = &bytes[start..start + MIN_PART];
                if window.is_ascii()
                    && std::str::from_utf8(window).is_ok_and(|w| secret.contains(w))
                {
                    hidden[start..start + MIN_PART].fill(true);
                }
            }
        }
        if !hidden.contains(&true) {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut in_run = false;
        for (at, c) in text.char_indices() {
            if hidden[at] {
                if !in_run {
                    out.push_str(REDACTED);
                }
                in_run = true;
            } else {
                out.push(c);
                in_run = false;
            }
        }
        out
    }

    /// [`redact`](Self::redact) of an optional text.
    pub(crate) fn redact_opt(&self, text: Option<String>) -> Option<String> {
        text.map(|t| self.redact(&t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc=";
    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/svc/aws4_request, SignedHeaders=accept;content-type;host;mcp-session-id;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

    fn redactor() -> Redactor {
        Redactor::of_headers([
            ("host", "example.com"),
            ("content-type", "application/json"),
            ("x-amz-date", "20261207T110000Z"),
            ("x-amz-security-token", TOKEN),
            ("authorization", AUTH),
            ("Mcp-Session-Id", "sess-0123456789abcdef"),
            ("x-api-key", "hunter2-is-long-enough"),
            ("x-short", "abc"),
            ("mcp-param-region", "us-west-2-region-name"),
        ])
    }

    #[test]
    fn every_secret_value_is_taken_out_whole_and_in_part() {
        let r = redactor();
        let text = format!(
            "denied: authorization={AUTH}; x-amz-security-token={TOKEN}; session sess-0123456789abcdef; key hunter2-is-long-enough"
        );
        let out = r.redact(&text);
        for secret in [
            AUTH,
            TOKEN,
            "sess-0123456789abcdef",
            "hunter2-is-long-enough",
            "5d672d79c15b1316",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.starts_with("denied: authorization=[redacted]; x-amz"),
            "{out}"
        );
        // Cut short, or split by the text around it.
        let cut = &TOKEN[..30];
        let out = r.redact(&format!("token {cut}… was refused"));
        assert_eq!(out, "token [redacted]… was refused");
        let sig = "Signature=5d672d79c15b13162d9279b0855cfba6";
        assert_eq!(r.redact(sig), "Signature=[redacted]");
    }

    #[test]
    fn what_is_not_secret_stays() {
        let r = redactor();
        for text in [
            "missing header x-amz-content-sha256 in SignedHeaders",
            "host example.com at 20261207T110000Z, application/json, abc",
            "region us-west-2-region-name",
            "Credential=AKIDEXAMPLE/20261207/us-east-1/svc/aws4_request is fine",
        ] {
            assert_eq!(r.redact(text), text);
        }
        assert_eq!(Redactor::default().redact("é x"), "é x");
    }
}
