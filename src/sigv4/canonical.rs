//! The canonical request: the exact text that SigV4 and SigV4A hash and sign.
//!
//! Owns: `UriEncode`, path normalization and the second URI encoding that non-S3
//! services apply, the canonical query string, canonical headers and the signed
//! header list (AWS IAM User Guide, "Create a signed AWS API request", step 1:
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>;
//! the rules as aws-c-auth `source/aws_signing.c` and crates.io `aws-sigv4`
//! `canonical_request.rs` apply them). Pure: strings in, strings out.
//! Refuses: S3's single-encoding, unnormalized variant (our endpoints are never S3),
//! and `+`-as-space form decoding in queries (a `+` is a literal plus, RFC 3986).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Every byte except the unreserved set `A-Z a-z 0-9 - . _ ~` is encoded.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`QUERY_SET`], but `/` stays as it is (path segments).
const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

/// `UriEncode` of a query-string name or value: unreserved bytes kept, everything
/// else `%XX` with upper-case hex, `/` included.
pub fn uri_encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_SET).to_string()
}

/// `UriEncode` of a path: as [`uri_encode`] but `/` kept.
pub fn uri_encode_path(path: &str) -> String {
    std::borrow::Cow::from(utf8_percent_encode(path, PATH_SET)).into_owned()
}

/// The canonical URI for a non-S3 service: `path` exactly as sent on the wire
/// (already percent-encoded once), normalized when `normalize` is set (empty path
/// becomes `/`; `.` and `..` segments resolved per RFC 3986 §5.2.4; repeated `/`
/// collapsed; a trailing `/` kept when the input ends in `/`, `/.` or `/..`), then
/// URI-encoded a second time, so `%3A` becomes `%253A`.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    if !normalize {
        if path.is_empty() {
            return "/".to_owned();
        }
        return uri_encode_path(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    uri_encode_path(&out)
}

/// Query parameters in canonical form: each name and value percent-decoded from
/// the raw query, then `UriEncode`d; kept sorted by encoded name, then value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanonicalQuery {
    pairs: Vec<(String, String)>,
}

impl CanonicalQuery {
    /// Reads a raw query string (the text after `?`, without it). Items are split
    /// on `&`, empty items skipped, each split at its first `=` (no `=` means an
    /// empty value).
    pub fn parse(raw: &str) -> Self {
        let mut q = CanonicalQuery::default();
        for item in raw.split('&').filter(|i| !i.is_empty()) {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            q.pairs.push((reencode(name), reencode(value)));
        }
        q.pairs.sort();
        q
    }

    /// Adds a parameter given in plain (decoded) text.
    pub fn insert(&mut self, name: &str, value: &str) {
        let pair = (uri_encode(name), uri_encode(value));
        let at = self.pairs.partition_point(|p| *p <= pair);
        self.pairs.insert(at, pair);
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The encoded `(name, value)` pairs, in canonical order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

impl fmt::Display for CanonicalQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

fn reencode(raw: &str) -> String {
    let bytes: Vec<u8> = percent_decode_str(raw).collect();
    let mut out = String::with_capacity(bytes.len() + 8);
    for &b in &bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 15)]));
        }
    }
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Canonical headers and the signed-header list built from the same input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalHeaders {
    /// One `name:value\n` line per distinct header name, sorted by name.
    pub lines: String,
    /// The lower-case names joined with `;`, in the same order.
    pub signed_headers: String,
}

impl CanonicalHeaders {
    /// Canonicalizes `headers` (all of them are signed): names lower-cased;
    /// values trimmed with inner runs of whitespace (space, tab, CR, LF) folded to
    /// one space; entries stably sorted by name; a name given several times becomes
    /// one line with its values joined by `,` in the order given.
    pub fn new<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        use std::borrow::Cow;
        let mut entries: Vec<(Cow<'a, str>, Cow<'a, str>)> = headers
            .into_iter()
            .map(|(n, v)| {
                let name = if n.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(n.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(n)
                };
                (name, fold_whitespace(v))
            })
            .collect();
        // Stable: values of one name keep the order they were given in.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = String::with_capacity(entries.len() * 32);
        let mut signed_headers = String::with_capacity(entries.len() * 16);
        let mut prev: Option<&str> = None;
        for (name, value) in &entries {
            if prev == Some(name.as_ref()) {
                lines.pop(); // the '\n' of the previous value of this name
                lines.push(',');
            } else {
                if prev.is_some() {
                    signed_headers.push(';');
                }
                signed_headers.push_str(name);
                lines.push_str(name);
                lines.push(':');
            }
            lines.push_str(value);
            lines.push('\n');
            prev = Some(name.as_ref());
        }
        CanonicalHeaders {
            lines,
            signed_headers,
        }
    }
}

fn fold_whitespace(value: &str) -> std::borrow::Cow<'_, str> {
    // Fast path: nothing to fold (no tab/CR/LF, no leading, trailing or double space).
    let b = value.as_bytes();
    let mut bad = false;
    for &c in b {
        bad |= matches!(c, b'\t' | b'\r' | b'\n');
    }
    let clean =
        !bad && b.first() != Some(&b' ') && b.last() != Some(&b' ') && !value.contains("  ");
    if clean {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    for word in value.split([' ', '\t', '\r', '\n']) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    std::borrow::Cow::Owned(out)
}

/// A canonical request. `Display` is the exact text that is hashed:
/// `METHOD\nURI\nQUERY\nHEADERS\nSIGNED_HEADERS\nPAYLOAD_HASH`, no final newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalRequest {
    text: String,
    signed_headers_at: (usize, usize),
}

impl CanonicalRequest {
    /// Assembles the canonical request from its parts. `uri` and `query` must
    /// already be canonical ([`canonical_uri`], [`CanonicalQuery`]); `payload_hash`
    /// is the lower-case hex SHA-256 of the body (64 chars) or a literal such as
    /// `UNSIGNED-PAYLOAD`.
    pub fn new(
        method: &str,
        uri: &str,
        query: &CanonicalQuery,
        headers: &CanonicalHeaders,
        payload_hash: &str,
    ) -> Self {
        use std::fmt::Write;
        let mut text = String::with_capacity(
            method.len() + uri.len() + headers.lines.len() + 2 * headers.signed_headers.len() + 96,
        );
        text.push_str(method);
        text.push('\n');
        text.push_str(uri);
        text.push('\n');
        if !query.is_empty() {
            let _ = write!(text, "{query}");
        }
        text.push('\n');
        text.push_str(&headers.lines);
        text.push('\n');
        let start = text.len();
        text.push_str(&headers.signed_headers);
        let end = text.len();
        text.push('\n');
        text.push_str(payload_hash);
        CanonicalRequest {
            text,
            signed_headers_at: (start, end),
        }
    }

    /// The signed-header list, `host;x-amz-date;…`.
    pub fn signed_headers(&self) -> &str {
        &self.text[self.signed_headers_at.0..self.signed_headers_at.1]
    }

    /// The canonical request text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_normalization_matches_the_suite_examples() {
        // Inputs and outputs from the AWS signing suite (sigv4-sigv4a.md §2.2).
        assert_eq!(canonical_uri("//example//", true), "/example/");
        assert_eq!(canonical_uri("/example1/example2/../..", true), "/");
        assert_eq!(canonical_uri("/./", true), "/");
        assert_eq!(canonical_uri("/example/..", true), "/");
        assert_eq!(canonical_uri("/./example", true), "/example");
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(canonical_uri("/ሴ", true), "/%E1%88%B4");
        assert_eq!(canonical_uri("/example space/", true), "/example%20space/");
        assert_eq!(canonical_uri("//", false), "//");
        assert_eq!(canonical_uri("/./", false), "/./");
    }

    #[test]
    fn escapes_in_the_path_are_encoded_twice() {
        // sigv4-sigv4a.md §3 (AgentCore), checked there against aws-sigv4 1.6.4.
        let path = "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fmcp_server-AbCdEfGhIj/invocations";
        assert_eq!(
            canonical_uri(path, true),
            "/runtimes/arn%253Aaws%253Abedrock-agentcore%253Aus-east-1%253A123456789012%253Aruntime%252Fmcp_server-AbCdEfGhIj/invocations"
        );
    }

    #[test]
    fn query_sorts_by_encoded_name_then_value() {
        let q = CanonicalQuery::parse("Param-3=Value3&Param=Value2&%E1%88%B4=Value1");
        assert_eq!(
            q.to_string(),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
        );
        let q = CanonicalQuery::parse("b=2&a=z&a=y&c&&d=x=y");
        assert_eq!(q.to_string(), "a=y&a=z&b=2&c=&d=x%3Dy");
        let q = CanonicalQuery::parse("k=a+b%20c%2f");
        assert_eq!(q.to_string(), "k=a%2Bb%20c%2F");
    }

    #[test]
    fn inserted_parameters_keep_canonical_order() {
        let mut q = CanonicalQuery::parse("Param2=value2&Param1=value1");
        q.insert(
            "X-Amz-Credential",
            "AKID/20150830/us-east-1/service/aws4_request",
        );
        q.insert("A", "first");
        assert_eq!(
            q.to_string(),
            "A=first&Param1=value1&Param2=value2&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
        );
    }

    #[test]
    fn headers_are_lowercased_trimmed_folded_and_joined() {
        let h = CanonicalHeaders::new([
            ("Host", "example.amazonaws.com"),
            ("My-Header1", "value4"),
            ("My-Header2", "  \"a   b   c\"  "),
            ("my-header1", "value1"),
            ("My-Header3", "value1\n  value2\n     value3"),
        ]);
        assert_eq!(
            h.lines,
            "host:example.amazonaws.com\nmy-header1:value4,value1\nmy-header2:\"a b c\"\nmy-header3:value1 value2 value3\n"
        );
        assert_eq!(h.signed_headers, "host;my-header1;my-header2;my-header3");
    }

    #[test]
    fn canonical_request_layout() {
        let h = CanonicalHeaders::new([("host", "h"), ("x-amz-date", "20150830T123600Z")]);
        let c = CanonicalRequest::new("GET", "/", &CanonicalQuery::default(), &h, "e3b0");
        assert_eq!(
            c.as_str(),
            "GET\n/\n\nhost:h\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0"
        );
        assert_eq!(c.signed_headers(), "host;x-amz-date");
    }
}
