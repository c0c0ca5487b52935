//! Secrets we sent, taken out of text a server says back.
//!
//! Owns: [`Redactor`], a set of secret values and the rules that find them in
//! a server's text — each value whole and, from [`MIN_PART`] characters, as any
//! run of `MIN_PART` characters of it (a server that quotes a header cut
//! short); in its [`broad`](Redactor::broad) form, for text whose secrets are
//! not all known in advance, also the value written after a secret header name
//! and any run of 64 or more hex digits (a signature). Each run found becomes
//! [`REDACTED`]. Used by the relay on the errors and logs that quote a server
//! and by `doctor` on its report. Pure.
//! Refuses: keeping a value too short to be a secret (it would take ordinary
//! words out of a message); showing its values, which live in [`Secret`]s.

use crate::secret::Secret;

/// What a secret is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// The shortest value [`Redactor::of_headers`] keeps, in characters: 8.
pub(crate) const MIN_VALUE: usize = 8;

/// The shortest value [`Redactor::broad`] keeps, in characters: 4.
const MIN_VALUE_BROAD: usize = 4;

/// The shortest run of a value's characters that is taken out when it is not
/// the whole value, in characters: 16.
pub(crate) const MIN_PART: usize = 16;

/// The shortest run of hex digits [`Redactor::broad`] takes out: 64, the
/// length of a SigV4 signature (HMAC-SHA256 as lower-case hex,
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>,
/// "Calculate the signature"); a SigV4A signature (hex DER) is longer.
const HEX_RUN: usize = 64;

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

/// Header names whose value is a secret or a session handle, looked for by
/// name in [`Redactor::broad`].
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-security-token",
    "mcp-session-id",
    "x-amzn-bedrock-agentcore-runtime-session-id",
];

/// One secret value, and whether it is also looked for in part.
#[derive(Clone)]
struct Value {
    text: Secret,
    in_part: bool,
}

/// Secret values, and the rules that find them in text to show.
///
/// The relay's holds the values of one request as it went out;
/// [`broad`](Self::broad) is told each value with
/// [`value`](Self::value) and each secret header name with
/// [`header`](Self::header). [`redact`](Self::redact) takes them out. Its
/// `Debug` shows a count and the header names, never a value.
#[derive(Clone)]
pub struct Redactor {
    values: Vec<Value>,
    /// Lower-case header names whose value, written after the name, goes.
    names: Vec<String>,
    /// Whether runs of [`HEX_RUN`] hex digits or more go.
    hex_runs: bool,
    /// The shortest value kept, in characters.
    min_value: usize,
}

impl Default for Redactor {
    /// No values and no rules but the values': [`redact`](Self::redact)
    /// returns its text as it is.
    fn default() -> Self {
        Redactor {
            values: Vec::new(),
            names: Vec::new(),
            hex_runs: false,
            min_value: MIN_VALUE,
        }
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .field("headers", &self.names)
            .finish()
    }
}

impl Redactor {
    /// The secret values of `headers` (name, value), as the request went out:
    /// every value but those of [`PUBLIC_HEADERS`] and `mcp-param-*`, of
    /// [`MIN_VALUE`] characters or more. The `Authorization` value is found
    /// only whole (its `SignedHeaders` list holds header names a message may
    /// well name), its signature also in part.
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

    /// A redactor for text whose secrets are not all known in advance: it
    /// keeps values of 4 characters or more, and also takes out the value
    /// after a secret header name (`Authorization`, `X-Amz-Security-Token`,
    /// `Mcp-Session-Id`, the AgentCore runtime session id, and each name
    /// given to [`header`](Self::header)) written as `name: value`,
    /// `name=value` or `"name":"value"` (header fields as RFC 9110 section 5
    /// writes them, <https://www.rfc-editor.org/rfc/rfc9110#section-5>), and
    /// any run of 64 or more hex digits.
    pub fn broad() -> Self {
        Redactor {
            names: SECRET_HEADERS.iter().map(|n| (*n).to_owned()).collect(),
            hex_runs: true,
            min_value: MIN_VALUE_BROAD,
            ..Redactor::default()
        }
    }

    /// Remembers `value` (a secret we send) to take it out, whole and in
    /// part; a value shorter than this redactor's shortest is not kept.
    pub fn value(&mut self, value: &str) {
        let v = value.trim();
        if !self.values.iter().any(|x| x.text.expose() == v) {
            self.add(v, true);
        }
    }

    /// Remembers a header name (any case) whose value we send and must not
    /// show; it counts only in a [`broad`](Self::broad) redactor's text.
    pub fn header(&mut self, name: &str) {
        let n = name.trim().to_ascii_lowercase();
        if !n.is_empty() && !self.names.contains(&n) {
            self.names.push(n);
        }
    }

    fn add(&mut self, value: &str, in_part: bool) {
        let value = value.trim();
        if value.chars().count() >= self.min_value {
            self.values.push(Value {
                text: Secret::from(value),
                in_part: in_part && value.is_ascii() && value.len() >= MIN_PART,
            });
        }
    }

    /// `text` with every secret this redactor finds (a value whole or a run
    /// of 16 characters or more of one; in a broad one also a value after a
    /// secret header name and a run of 64 hex digits or more) replaced by
    /// `[redacted]`; runs that touch become one.
    pub fn redact(&self, text: &str) -> String {
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
        for name in &self.names {
            hide_after_name(text, name, &mut hidden);
        }
        if self.hex_runs {
            hide_hex_runs(text, &mut hidden);
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

/// Marks in `hidden` the value after each occurrence of header `name`
/// (lower case; ASCII case ignored in `text`) written `name: v`, `name=v`
/// or `"name": "v"`.
fn hide_after_name(text: &str, name: &str, hidden: &mut [bool]) {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let start = from + found;
        let mut i = start + name.len();
        from = i;
        // The name must stand alone: not inside a longer token.
        let before = start.checked_sub(1).map(|j| bytes[j]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            continue;
        }
        let skip = |i: &mut usize, set: &[u8]| {
            while *i < bytes.len() && set.contains(&bytes[*i]) {
                *i += 1;
            }
        };
        skip(&mut i, b"\"' \t\\");
        if i >= bytes.len() || !matches!(bytes[i], b':' | b'=') {
            continue;
        }
        i += 1;
        skip(&mut i, b"\"' \t\\");
        let value_start = i;
        // Authorization's value has spaces and commas; the others end at
        // the first space, quote or separator.
        let ends: &[u8] = if name == "authorization" {
            b"\"'\r\n<&}"
        } else {
            b"\"'\r\n<&}, ;\\"
        };
        while i < bytes.len() && !ends.contains(&bytes[i]) {
            i += 1;
        }
        if i > value_start && text.is_char_boundary(value_start) && text.is_char_boundary(i) {
            hidden[value_start..i].fill(true);
            from = i;
        }
    }
}

/// Marks in `hidden` each run of [`HEX_RUN`] or more ASCII hex digits.
fn hide_hex_runs(text: &str, hidden: &mut [bool]) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for end in 0..=bytes.len() {
        if end < bytes.len() && bytes[end].is_ascii_hexdigit() {
            continue;
        }
        if end - start >= HEX_RUN {
            hidden[start..end].fill(true);
        }
        start = end + 1;
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
        let body_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for text in [
            "missing header x-amz-content-sha256 in SignedHeaders",
            "host example.com at 20261207T110000Z, application/json, abc",
            "region us-west-2-region-name",
            "Credential=AKIDEXAMPLE/20261207/us-east-1/svc/aws4_request is fine",
            // The header-name and hex rules are the broad redactor's only.
            "invalid authorization: signature mismatch",
            &format!("x-amz-content-sha256:{body_hash}"),
        ] {
            assert_eq!(r.redact(text), text);
        }
        assert_eq!(Redactor::default().redact("é x"), "é x");
    }

    #[test]
    fn broad_takes_out_known_values_header_values_and_signatures() {
        let mut r = Redactor::broad();
        r.value("TokenValue+/=123");
        r.value("ab");
        r.header("X-Team-Key");
        let sig = "a".repeat(64);
        let text = format!(
            "got headers: Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature={sig}\nx-amz-security-token: TokenValue+/=123\n{{\"Mcp-Session-Id\": \"sess-1234\", \"x-team-key\":\"hunter22\"}} mcp-session-id=s2 ab"
        );
        let out = r.redact(&text);
        for secret in [
            "TokenValue",
            "sess-1234",
            "hunter22",
            &sig,
            "s2 ",
            "SignedHeaders",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("Authorization: [redacted]"), "{out}");
        assert!(out.ends_with(" ab"), "short values stay: {out}");
        let plain = "the server said: no tool named search (hash 0123abcd)";
        assert_eq!(r.redact(plain), plain);
        // A longer token that merely ends in a header's name is not one.
        assert_eq!(r.redact("not-authorization=x"), "not-authorization=x");
        // 63 hex digits are not a signature; 64 are, wherever they stand.
        let short = "f".repeat(63);
        assert_eq!(r.redact(&short), short);
        assert_eq!(r.redact(&format!("é{sig}é")), "é[redacted]é");
    }

    #[test]
    fn broad_takes_out_a_known_value_cut_short() {
        let mut r = Redactor::broad();
        r.value("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let out = r.redact("key wJalrXUtnFEMI/K7MDENG… refused");
        assert_eq!(out, "key [redacted]… refused");
        assert!(!format!("{r:?}").contains("wJalr"), "{r:?}");
    }
}
