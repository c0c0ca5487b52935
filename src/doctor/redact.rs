//! Secrets we sent, removed from text a server may have echoed before
//! `doctor` shows it.
//!
//! Owns: one [`Redactor`] per doctor run, told every secret value the run
//! sends (secret access keys and session tokens of each profile, the values
//! of `--header`), and three rules for what it cannot know in advance: the
//! value after a secret-carrying header name (`Authorization`,
//! `X-Amz-Security-Token`, `Mcp-Session-Id`, the AgentCore runtime session
//! id, each `--header` name) written as `name: value`, `name=value` or
//! `"name":"value"`; and any run of 64 or more hex digits (a SigV4 signature
//! is 64, a SigV4A one longer). Each becomes `[redacted]`. Pure.
//! Refuses: keeping values shorter than 4 characters (they would blank out
//! ordinary words); printing what it holds (its `Debug` shows a count).

/// What replaces a secret.
const REDACTED: &str = "[redacted]";

/// Header names whose value is a secret or a session handle.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-security-token",
    "mcp-session-id",
    "x-amzn-bedrock-agentcore-runtime-session-id",
];

/// The secrets of one doctor run, to remove from server text.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
    headers: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.values.len())
            .field("headers", &self.headers)
            .finish()
    }
}

impl Redactor {
    /// Remembers `value` (a secret we send) to remove it; values shorter
    /// than 4 characters are not kept.
    pub fn value(&mut self, value: &str) {
        let v = value.trim();
        if v.chars().count() >= 4 && !self.values.iter().any(|x| x == v) {
            self.values.push(v.to_owned());
            // Longest first, so a value that contains another goes whole.
            self.values.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    /// Remembers a header name (any case) whose value we send and must not
    /// show.
    pub fn header(&mut self, name: &str) {
        let n = name.trim().to_ascii_lowercase();
        if !n.is_empty() && !self.headers.contains(&n) {
            self.headers.push(n);
        }
    }

    /// `text` with each secret value, each value after a secret header name,
    /// and each run of 64 or more hex digits replaced by `[redacted]`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        for name in SECRET_HEADERS
            .iter()
            .copied()
            .chain(self.headers.iter().map(String::as_str))
        {
            out = after_name(&out, name);
        }
        hex_runs(&out)
    }
}

/// `text` with the value after each occurrence of header `name` (ASCII case
/// ignored) written `name: v`, `name=v`, `"name": "v"` replaced.
fn after_name(text: &str, name: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
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
            out.push_str(&text[copied..value_start]);
            out.push_str(REDACTED);
            copied = i;
            from = i;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `text` with each run of 64 or more ASCII hex digits replaced.
fn hex_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 64 {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_header_values_and_signatures_go() {
        let mut r = Redactor::default();
        r.value("TokenValue+/=123");
        r.value("ab");
        r.header("X-Team-Key");
        let sig = "a".repeat(64);
        let text = format!(
            "got headers: Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature={sig}\nx-amz-security-token: TokenValue+/=123\n{{\"Mcp-Session-Id\": \"sess-1234\", \"x-team-key\":\"hunter22\"}} mcp-session-id=s2 ab"
        );
        let out = r.apply(&text);
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
        assert_eq!(r.apply(plain), plain);
        // A longer token that merely ends in a header's name is not one.
        assert_eq!(r.apply("not-authorization=x"), "not-authorization=x");
    }
}
