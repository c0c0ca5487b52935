//! The fuzz checks: one function per target, bytes in, panic on a broken invariant.
//!
//! Owns: turning fuzzer bytes into calls to the public `mcp_sigv4` API and the
//! properties those calls must keep. Shared, file for file, by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`, each one line into here) and by the stable
//! replay test (`tests/fuzz_regressions.rs`), so a committed crash input is
//! replayed through exactly the check that found it.
//! Refuses: any dependency besides std, `mcp_sigv4` and the crates `mcp_sigv4`
//! itself depends on (`serde_json`, `sha2`), so the replay test needs no
//! dev-dependency.

#![allow(dead_code)] // each fuzz target uses one function of this module

use std::io::{self, BufReader, Cursor};
use std::time::{Duration, UNIX_EPOCH};

use mcp_sigv4::credential_types::Credentials;
use mcp_sigv4::credentials::ini::{FileKind, ProfileSet, sub_properties};
use mcp_sigv4::endpoint::{Endpoint, infer_from_host};
use mcp_sigv4::relay::jsonrpc::{self, Invalid, Kind};
use mcp_sigv4::relay::sse;
use mcp_sigv4::relay::stdio::{Line, LineReader};
use mcp_sigv4::secret::Secret;
use mcp_sigv4::sigv4::canonical::{CanonicalHeaders, CanonicalQuery, canonical_uri};
use mcp_sigv4::sigv4::{
    Algorithm, SignableRequest, SignatureLocation, Signer, SigningParams, SigningSettings, v4a,
};
use mcp_sigv4::time::{AmzDate, parse_rfc3339};
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// A check: panics when `data` breaks an invariant.
pub type Check = fn(&[u8]);

/// Every fuzz target, by the name of its file in `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("canonical_request", canonical_request),
    ("sse", sse),
    ("jsonrpc", jsonrpc),
    ("stdio_lines", stdio_lines),
    ("profile_file", profile_file),
    ("rfc3339", rfc3339),
    ("endpoint_url", endpoint_url),
];

// ---------------------------------------------------------------------------
// canonical_request

/// Input layout: fields separated by NUL bytes.
/// 0: settings — byte 0 is flags (bit 0 SigV4A, bit 1 query signing, bit 2
///    normalize path, bit 3 `x-amz-content-sha256`, bit 4 session token, bit 5
///    token added after signing), bytes 1..5 the signing time (big-endian u32
///    seconds since the epoch);
/// 1: method, 2: path, 3: query, 4: body, then header name, value, name, value…
///
/// Method and header names keep only their HTTP token characters (RFC 9110
/// `tchar`): the signer's callers pass fixed names, and an HTTP request cannot
/// carry any other name, so a `\n` in a name is not a case the signer handles.
/// Values, path, query and body are arbitrary (lossy UTF-8).
pub fn canonical_request(data: &[u8]) {
    let mut fields = data.split(|&b| b == 0);
    let settings = fields.next().unwrap_or(&[]);
    let flags = settings.first().copied().unwrap_or(0);
    let mut secs = [0u8; 4];
    for (i, b) in settings.iter().skip(1).take(4).enumerate() {
        secs[i] = *b;
    }
    let secs = u64::from(u32::from_be_bytes(secs));
    let text = |f: Option<&[u8]>| String::from_utf8_lossy(f.unwrap_or(&[])).into_owned();
    let mut method = token(&text(fields.next()));
    if method.is_empty() {
        method = "POST".to_owned();
    }
    let path = text(fields.next());
    let query = text(fields.next());
    let body = fields.next().unwrap_or(&[]).to_vec();
    let mut owned: Vec<(String, String)> = vec![("host".into(), "example.amazonaws.com".into())];
    while let Some(name) = fields.next() {
        let value = text(fields.next());
        let name = token(&String::from_utf8_lossy(name));
        if !name.is_empty() {
            owned.push((name, value));
        }
    }
    let headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();

    check_canonical_uri(&path);
    check_canonical_query(&query);
    check_canonical_headers(&headers);

    let v4a = flags & 1 != 0;
    let settings = SigningSettings {
        location: if flags & 2 != 0 {
            SignatureLocation::QueryParams { expires_in: 300 }
        } else {
            SignatureLocation::Headers
        },
        normalize_path: flags & 4 != 0,
        content_sha256_header: flags & 8 != 0,
        session_token_after_signing: flags & 32 != 0,
    };
    let token_value = (flags & 16 != 0).then(|| Secret::from("IQoJb3JpZ2luX2VjE/token+with=chars"));
    let credentials = Credentials::new(
        "AKIDEXAMPLE",
        Secret::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        token_value,
        None,
        "fuzz",
    );
    let params = SigningParams {
        credentials: &credentials,
        algorithm: if v4a { Algorithm::V4a } else { Algorithm::V4 },
        region: if v4a {
            "us-east-1,us-west-2"
        } else {
            "us-east-1"
        },
        service: "bedrock-agentcore",
        time: AmzDate::from_system_time(UNIX_EPOCH + Duration::from_secs(secs)),
        settings,
    };
    let request = SignableRequest {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let out = signer()
        .sign(&request, &params)
        .expect("the fixed fuzz credentials always derive a SigV4A key");

    let amz_date = params.time.to_string();
    let scope = if v4a {
        format!("{}/bedrock-agentcore/aws4_request", params.time.date())
    } else {
        format!(
            "{}/us-east-1/bedrock-agentcore/aws4_request",
            params.time.date()
        )
    };
    let query_signing = matches!(settings.location, SignatureLocation::QueryParams { .. });
    let token_signed =
        credentials.session_token().is_some() && !settings.session_token_after_signing;

    // The canonical request, line by line.
    let cr = out.canonical_request.as_str();
    let signed = out.canonical_request.signed_headers();
    let names: Vec<&str> = signed.split(';').collect();
    let lines: Vec<&str> = cr.split('\n').collect();
    let n = names.len();
    assert_eq!(
        lines.len(),
        n + 6,
        "canonical request has {} lines for {n} signed headers:\n{cr}",
        lines.len()
    );
    assert_eq!(lines[0], method, "method line");
    assert_eq!(
        lines[1],
        canonical_uri(&path, settings.normalize_path),
        "URI line"
    );
    assert!(
        is_encoded(lines[1], true),
        "URI line {:?} is not canonical",
        lines[1]
    );
    let mut expected_query = CanonicalQuery::parse(&query);
    for (name, value) in &out.query_params {
        let after = *name == "X-Amz-Signature"
            || (*name == "X-Amz-Security-Token" && settings.session_token_after_signing);
        if !after {
            expected_query.insert(name, value.expose());
        }
    }
    assert_eq!(lines[2], expected_query.to_string(), "query line");
    check_query_line(lines[2]);
    for (i, name) in names.iter().enumerate() {
        let line = lines[3 + i];
        let value = line
            .strip_prefix(name)
            .and_then(|l| l.strip_prefix(':'))
            .unwrap_or_else(|| panic!("header line {line:?} does not start with {name:?}:"));
        check_folded(value);
    }
    assert_eq!(lines[3 + n], "", "blank line after the headers");
    assert_eq!(lines[4 + n], signed, "signed-headers line");
    assert_eq!(lines[5 + n], sha256_hex(&body), "payload-hash line");
    check_signed_names(&names);
    let has = |h: &str| names.contains(&h);
    assert!(has("host"), "host is signed: {signed}");
    assert_eq!(
        has("x-amz-date"),
        !query_signing,
        "x-amz-date signed: {signed}"
    );
    assert_eq!(
        has("x-amz-region-set"),
        v4a && !query_signing,
        "region set signed: {signed}"
    );
    assert_eq!(
        has("x-amz-content-sha256"),
        settings.content_sha256_header && !query_signing,
        "{signed}"
    );
    assert_eq!(
        has("x-amz-security-token"),
        token_signed && !query_signing,
        "{signed}"
    );
    assert!(
        !has("authorization"),
        "authorization is never signed: {signed}"
    );
    if !query_signing {
        // The signer's own date replaces any x-amz-date given in the input.
        assert_eq!(
            lines[3 + names.iter().position(|h| *h == "x-amz-date").unwrap()],
            format!("x-amz-date:{amz_date}")
        );
    }

    // The string to sign.
    let sts = out.string_to_sign.as_str();
    let sts_lines: Vec<&str> = sts.split('\n').collect();
    assert_eq!(
        sts_lines,
        [
            params.algorithm.name(),
            amz_date.as_str(),
            scope.as_str(),
            sha256_hex(cr.as_bytes()).as_str()
        ],
        "string to sign"
    );

    // The signature, and where it went.
    if v4a {
        let (x, y) = signer().v4a_public_key(&credentials).expect("public key");
        let key = v4a::verifying_key_from_xy(&x, &y).expect("own public key reads back");
        assert!(
            v4a::verify(&key, sts, &out.signature),
            "SigV4A signature does not verify"
        );
    } else {
        assert_eq!(out.signature.len(), 64, "SigV4 signature length");
        assert!(
            out.signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
    if query_signing {
        assert!(out.headers.is_empty(), "query signing adds no headers");
        assert_eq!(
            out.query_params.last().map(|p| (p.0, p.1.expose())),
            Some(("X-Amz-Signature", out.signature.as_str()))
        );
        let listed = out
            .query_params
            .iter()
            .find(|p| p.0 == "X-Amz-SignedHeaders")
            .map(|p| p.1.expose());
        assert_eq!(listed, Some(signed), "X-Amz-SignedHeaders");
    } else {
        assert!(
            out.query_params.is_empty(),
            "header signing adds no query parameters"
        );
        let auth = out
            .headers
            .iter()
            .find(|h| h.0 == "authorization")
            .map(|h| h.1.expose());
        let expected = format!(
            "{} Credential=AKIDEXAMPLE/{scope}, SignedHeaders={signed}, Signature={}",
            params.algorithm.name(),
            out.signature
        );
        assert_eq!(auth, Some(expected.as_str()), "authorization header");
    }
}

fn signer() -> &'static Signer {
    // One signer for the whole run: its key cache makes SigV4A cheap to fuzz.
    static SIGNER: std::sync::OnceLock<Signer> = std::sync::OnceLock::new();
    SIGNER.get_or_init(Signer::new)
}

fn token(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c))
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Only unreserved characters (`A-Z a-z 0-9 - . _ ~`), `%XX` escapes with
/// upper-case hex, and `/` when `slash`.
fn is_encoded(text: &str, slash: bool) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |j: usize| {
                    b.get(j)
                        .is_some_and(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
                };
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b'/' if slash => {}
            c if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

fn percent_decode(text: &str) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn check_canonical_uri(path: &str) {
    let raw = canonical_uri(path, false);
    assert!(
        is_encoded(&raw, true),
        "canonical_uri({path:?}, false) = {raw:?}"
    );
    if path.is_empty() {
        assert_eq!(raw, "/");
    } else {
        // Encoded exactly once more: one decoding gives the path back.
        assert_eq!(
            percent_decode(&raw),
            path.as_bytes(),
            "canonical_uri({path:?}, false) = {raw:?}"
        );
    }
    let norm = canonical_uri(path, true);
    assert!(
        is_encoded(&norm, true),
        "canonical_uri({path:?}, true) = {norm:?}"
    );
    assert!(
        norm.starts_with('/'),
        "canonical_uri({path:?}, true) = {norm:?}"
    );
    assert!(
        !norm.contains("//"),
        "canonical_uri({path:?}, true) = {norm:?}"
    );
    assert!(
        norm.split('/').all(|s| s != "." && s != ".."),
        "canonical_uri({path:?}, true) = {norm:?} keeps a dot segment"
    );
    assert_eq!(
        canonical_uri(&String::from_utf8_lossy(&percent_decode(&norm)), true),
        norm,
        "normalizing twice changes {path:?}"
    );
}

fn check_canonical_query(raw: &str) {
    let q = CanonicalQuery::parse(raw);
    let pairs = q.pairs();
    assert!(
        pairs.windows(2).all(|w| w[0] <= w[1]),
        "query pairs not sorted: {pairs:?}"
    );
    for (name, value) in pairs {
        assert!(
            is_encoded(name, false) && is_encoded(value, false),
            "query pair ({name:?}, {value:?}) from {raw:?}"
        );
    }
    let text = q.to_string();
    check_query_line(&text);
    assert_eq!(
        CanonicalQuery::parse(&text),
        q,
        "query {raw:?} is not a fixed point: {text:?}"
    );
}

fn check_query_line(line: &str) {
    if line.is_empty() {
        return;
    }
    for item in line.split('&') {
        let (name, value) = item
            .split_once('=')
            .unwrap_or_else(|| panic!("query item {item:?} has no '='"));
        assert!(
            is_encoded(name, false) && is_encoded(value, false),
            "query item {item:?}"
        );
    }
}

fn check_canonical_headers(headers: &[(&str, &str)]) {
    let h = CanonicalHeaders::new(headers.iter().copied());
    let names: Vec<&str> = h.signed_headers.split(';').collect();
    check_signed_names(&names);
    let lines: Vec<&str> = h
        .lines
        .strip_suffix('\n')
        .expect("header lines end in \\n")
        .split('\n')
        .collect();
    assert_eq!(
        lines.len(),
        names.len(),
        "one line per signed header: {:?}",
        h.lines
    );
    for (line, name) in lines.iter().zip(&names) {
        let value = line
            .strip_prefix(name)
            .and_then(|l| l.strip_prefix(':'))
            .unwrap_or_else(|| panic!("header line {line:?} does not start with {name:?}:"));
        check_folded(value);
        // Each value given for the name, folded, joined with ',' in input order.
        let joined: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| {
                v.split([' ', '\t', '\r', '\n'])
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(value, joined.join(","), "values of {name}");
    }
}

fn check_signed_names(names: &[&str]) {
    for name in names {
        assert!(!name.is_empty(), "empty signed header name in {names:?}");
        assert!(
            !name.bytes().any(|b| b.is_ascii_uppercase()),
            "signed header {name:?} is not lower case"
        );
    }
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "signed headers not sorted and distinct: {names:?}"
    );
}

fn check_folded(value: &str) {
    assert!(
        !value.starts_with(' ')
            && !value.ends_with(' ')
            && !value.contains("  ")
            && !value.contains(['\t', '\r', '\n']),
        "header value {value:?} is not trimmed and folded"
    );
}

// ---------------------------------------------------------------------------
// sse

/// Byte 0 picks the bound (8..=132 bytes) and the read-buffer size (1..=8
/// bytes); the rest is the stream. The events (and the error that ends them)
/// must not depend on how the stream is split into reads.
pub fn sse(data: &[u8]) {
    let Some((&knobs, stream)) = data.split_first() else {
        return;
    };
    let max = 8 + usize::from(knobs >> 3) * 4;
    let capacity = 1 + usize::from(knobs & 7);
    let small = read_sse(BufReader::with_capacity(capacity, stream), max);
    let whole = read_sse(Cursor::new(stream), max);
    assert_eq!(
        small, whole,
        "events differ between {capacity}-byte reads and one read"
    );
    for event in small.iter().flatten() {
        assert!(
            event.data.len() <= max,
            "event data of {} bytes passed the bound {max}",
            event.data.len()
        );
        assert!(
            !event.data.contains('\r'),
            "data keeps a line terminator: {:?}",
            event.data
        );
        assert!(
            !event.event.is_empty() && !event.event.contains(['\r', '\n']),
            "event type {:?}",
            event.event
        );
        if let Some(id) = &event.id {
            assert!(
                !id.is_empty() && !id.contains(['\0', '\r', '\n']),
                "event id {id:?}"
            );
        }
    }
}

fn read_sse(input: impl io::BufRead, max: usize) -> Vec<Result<sse::Event, String>> {
    let mut reader = sse::Reader::new(input, max);
    let mut out = Vec::new();
    loop {
        match reader.next_event() {
            Ok(Some(event)) => out.push(Ok(event)),
            Ok(None) => break,
            Err(e) => {
                out.push(Err(e.to_string()));
                break;
            }
        }
        assert!(out.len() <= 1 << 20, "no end of events");
    }
    out
}

// ---------------------------------------------------------------------------
// jsonrpc

/// Any bytes through `classify`; what it accepts is checked against
/// `serde_json::Value`, and the ids it reads must make valid error responses.
/// Valid JSON text must survive `compact` unchanged in value, on one line.
pub fn jsonrpc(data: &[u8]) {
    let result = jsonrpc::classify(data);
    // The JSON grammar as serde_json checks it without building values (what
    // classify itself relies on), and the stricter full Value, which also
    // refuses nesting deeper than 128 and a lone surrogate escape such as
    // "\ud800" (grammatical JSON, RFC 8259 §8.2, which the relay must forward
    // unchanged). Value comparisons are made only when a Value could be built.
    let grammatical = serde_json::from_slice::<Box<RawValue>>(data).is_ok();
    let value = serde_json::from_slice::<Value>(data).ok();
    assert!(grammatical || value.is_none(), "a Value from invalid JSON");
    if let Ok(text) = std::str::from_utf8(data) {
        let once = jsonrpc::compact(text);
        assert!(once.len() <= text.len());
        if grammatical {
            assert!(
                !once.contains('\n'),
                "compact output has a newline: {once:?}"
            );
            assert!(
                serde_json::from_str::<Box<RawValue>>(&once).is_ok(),
                "compact({text:?}) = {once:?} is not JSON"
            );
            assert_eq!(
                jsonrpc::compact(&once),
                once,
                "compact is not idempotent on {text:?}"
            );
        }
        if let Some(v) = &value {
            let back: Value = serde_json::from_str(&once)
                .unwrap_or_else(|e| panic!("compact({text:?}) = {once:?} is not JSON: {e}"));
            assert_eq!(&back, v, "compact({text:?}) = {once:?} changed the value");
        }
    }
    if !grammatical {
        assert!(
            matches!(result, Err(Invalid::Parse(_))),
            "classify accepted invalid JSON: {result:?}"
        );
        return;
    }
    match result {
        Ok(c) => {
            assert!(!c.items.is_empty());
            let Some(value) = value else { return };
            let members: Vec<&Value> = match &value {
                Value::Array(a) => {
                    assert!(c.batch, "an array is a batch");
                    a.iter().collect()
                }
                v => {
                    assert!(!c.batch, "only an array is a batch");
                    vec![v]
                }
            };
            assert_eq!(members.len(), c.items.len(), "one kind per member");
            for (kind, m) in c.items.iter().zip(members) {
                assert_eq!(m["jsonrpc"], "2.0", "accepted without jsonrpc 2.0: {m}");
                match kind {
                    Kind::Request { id, method } => {
                        assert_eq!(m["method"].as_str(), Some(method.as_str()));
                        check_id(id, Some(&m["id"]));
                        assert!(m.get("result").is_none() && m.get("error").is_none());
                    }
                    Kind::Notification { method } => {
                        assert_eq!(m["method"].as_str(), Some(method.as_str()));
                        assert!(m.get("id").is_none(), "a notification has no id: {m}");
                    }
                    Kind::Response { id } => {
                        assert!(m.get("method").is_none());
                        assert!(m.get("result").is_some() != m.get("error").is_some(), "{m}");
                        match id {
                            Some(id) => check_id(id, Some(&m["id"])),
                            None => assert_eq!(m.get("id"), Some(&Value::Null)),
                        }
                    }
                }
            }
        }
        Err(Invalid::Request(_, Some(id))) => {
            check_id(&id, None);
        }
        Err(Invalid::Request(_, None)) => {}
        Err(Invalid::Parse(why)) => panic!("classify refused valid JSON as a parse error: {why}"),
    }
}

/// An id is one JSON string or number, and the relay's error response for it is
/// one line of JSON carrying it. `expected` is the id as a Value, when the
/// message could be read as one (a number such as `1e999999999999` is
/// grammatical JSON that a Value refuses, as is a lone surrogate escape).
fn check_id(id: &jsonrpc::Id, expected: Option<&Value>) {
    let text = id.as_json();
    assert!(
        serde_json::from_str::<Box<RawValue>>(text).is_ok(),
        "id {text:?} is not JSON"
    );
    assert!(
        text.starts_with('"')
            || text.starts_with('-')
            || text.starts_with(|c: char| c.is_ascii_digit()),
        "id {text} is not a string or number"
    );
    let parsed = serde_json::from_str::<Value>(text).ok();
    if let Some(expected) = expected {
        assert_eq!(parsed.as_ref(), Some(expected), "id {id}");
    }
    let line = jsonrpc::error_response(Some(id), jsonrpc::INVALID_REQUEST, "m", None);
    assert!(!line.contains('\n'), "error response on two lines: {line}");
    assert!(
        serde_json::from_str::<Box<RawValue>>(&line).is_ok(),
        "error response {line:?} is not JSON"
    );
    if let Some(parsed) = parsed {
        let response: Value = serde_json::from_str(&line).expect("an error response is JSON");
        assert_eq!(response["id"], parsed, "error response id");
    }
}

// ---------------------------------------------------------------------------
// stdio_lines

/// Byte 0 picks the bound (1..=32 bytes) and the read-buffer size (1..=8);
/// the rest is stdin. The lines must be what a plain split on `\n` gives.
pub fn stdio_lines(data: &[u8]) {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let max = 1 + usize::from(knobs >> 3);
    let capacity = 1 + usize::from(knobs & 7);
    let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), max);
    let mut got = Vec::new();
    while let Some(line) = reader.next_line().expect("reading a slice cannot fail") {
        if let Line::Message(m) = &line {
            assert!(
                m.len() <= max,
                "a {}-byte message passed the bound {max}",
                m.len()
            );
            assert!(!m.contains(&b'\n'), "a message holds a newline: {m:?}");
            assert!(
                !m.iter().all(u8::is_ascii_whitespace),
                "a blank line was returned: {m:?}"
            );
        }
        got.push(line);
        assert!(got.len() <= input.len() + 1, "more lines than bytes");
    }
    // The model: split on '\n'; a final empty piece is no line; an oversized
    // line is reported by its bound; a CR before the LF is dropped; blank
    // lines are skipped.
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    let expected: Vec<Line> = pieces
        .into_iter()
        .filter_map(|p| {
            if p.len() > max {
                return Some(Line::TooLong(max));
            }
            let p = p.strip_suffix(b"\r").unwrap_or(p);
            (!p.iter().all(u8::is_ascii_whitespace)).then(|| Line::Message(p.to_vec()))
        })
        .collect();
    assert_eq!(
        got, expected,
        "lines with a bound of {max} and {capacity}-byte reads"
    );
}

// ---------------------------------------------------------------------------
// profile_file

/// Any text as a config file and as a credentials file. Parse errors must not
/// echo the input: no 8-character piece of any value (the text after a line's
/// first `=`) may appear in an error's message beyond its fixed template.
pub fn profile_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let config = ProfileSet::parse([(FileKind::Config, &*text)]);
    let credentials = ProfileSet::parse([(FileKind::Credentials, &*text)]);
    let both = ProfileSet::parse([(FileKind::Config, &*text), (FileKind::Credentials, &*text)]);
    assert_eq!(both.is_ok(), config.is_ok() && credentials.is_ok());
    for result in [&config, &credentials, &both] {
        match result {
            Ok(set) => {
                let maps = set
                    .profiles
                    .values()
                    .chain(set.sso_sessions.values())
                    .chain(set.sections.values());
                for props in maps {
                    for (key, value) in props {
                        assert!(
                            !key.is_empty() && !key.bytes().any(|b| b.is_ascii_uppercase()),
                            "key {key:?}"
                        );
                        for (name, _) in sub_properties(value) {
                            assert!(!name.contains('\n'), "sub-property name {name:?}");
                        }
                    }
                }
            }
            Err(e) => {
                let shown = e.to_string();
                let template = format!("{} (line {} of the {})", e.message, e.line, e.kind);
                let lines = text.split('\n').count();
                assert!(
                    (1..=lines).contains(&e.line),
                    "error line {} of {lines}",
                    e.line
                );
                // Every value (after a line's first '='), and the whole line
                // the error names, which is where an echo would come from.
                let bad_line = text.split('\n').nth(e.line - 1).unwrap_or("");
                let values = text
                    .split('\n')
                    .filter_map(|l| l.split_once('=').map(|(_, v)| v));
                for source in values.chain([bad_line]) {
                    let chars: Vec<char> = source.chars().collect();
                    for w in chars.windows(8) {
                        let piece: String = w.iter().collect();
                        assert!(
                            !shown.contains(&piece) || template.contains(&piece),
                            "error {shown:?} echoes {piece:?} from the input"
                        );
                    }
                }
                assert!(!e.message.is_empty());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// rfc3339

/// Any text through both time parsers; an accepted time must print and parse
/// back to itself in both forms.
pub fn rfc3339(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(time) = parse_rfc3339(&text) {
        let d = AmzDate::from_system_time(time);
        assert_eq!(
            d.to_system_time(),
            time,
            "{text:?}: fractional seconds must be dropped, found {time:?}"
        );
        let printed = d.rfc3339();
        assert_eq!(
            parse_rfc3339(&printed),
            Ok(time),
            "{text:?} printed as {printed:?}"
        );
        let amz = d.to_string();
        assert_eq!(
            AmzDate::parse_amz(&amz),
            Ok(d),
            "{text:?} printed as {amz:?}"
        );
        assert_eq!(&amz[..8], d.date(), "date of {amz}");
        assert_eq!(
            printed.replace(['-', ':'], ""),
            amz,
            "the two forms of {text:?} disagree"
        );
    }
    if let Ok(d) = AmzDate::parse_amz(&text) {
        assert_eq!(
            d.to_string(),
            text,
            "parse_amz accepted a non-canonical form"
        );
        let printed = d.rfc3339();
        assert_eq!(
            parse_rfc3339(&printed).map(AmzDate::from_system_time),
            Ok(d),
            "{text:?} printed as {printed:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// endpoint_url

/// Any text as an endpoint URL and as a host name. An accepted endpoint's
/// `url()` is plain visible ASCII and parses back to the same endpoint.
pub fn endpoint_url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_host_info(&text);
    let Ok(e) = Endpoint::parse(&text) else {
        return;
    };
    assert!(
        e.scheme == "https" || e.scheme == "http",
        "scheme {:?}",
        e.scheme
    );
    assert!(
        !e.host.is_empty() && !e.host.bytes().any(|b| b.is_ascii_uppercase()),
        "host {:?}",
        e.host
    );
    assert!(e.path.starts_with('/'), "path {:?}", e.path);
    assert_ne!(e.port, Some(0));
    // The authority is the one given: the host (lower-cased), then at most a
    // port written as digits.
    let given = text.split_once("://").map_or("", |(_, r)| r);
    let given = given[..given.find(['/', '?', '#']).unwrap_or(given.len())].to_ascii_lowercase();
    let rest = given
        .strip_prefix(e.host.as_str())
        .unwrap_or_else(|| panic!("{text:?}: host {:?} is not the one given", e.host));
    match rest.strip_prefix(':') {
        None => assert!(
            rest.is_empty(),
            "{text:?}: {rest:?} after the host was ignored"
        ),
        Some(port) => assert!(
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
            "{text:?}: port {port:?} accepted as {:?}",
            e.port
        ),
    }
    let url = e.url();
    assert!(
        url.bytes().all(|b| (0x21..0x7f).contains(&b)),
        "url {url:?} from {text:?} has bytes that cannot be sent"
    );
    assert_eq!(
        Endpoint::parse(&url).map_err(|e| e.to_string()).as_ref(),
        Ok(&e),
        "{text:?} gave {url:?}, which parses differently"
    );
    check_host_info(&e.host);
}

fn check_host_info(host: &str) {
    let info = infer_from_host(host);
    if let Some(service) = &info.service {
        assert!(
            !service.is_empty() && !service.contains('.'),
            "service {service:?} from {host:?}"
        );
    }
    if let Some(region) = &info.region {
        assert!(
            !region.is_empty() && !region.contains('.'),
            "region {region:?} from {host:?}"
        );
    }
}
