//! The fuzz checks: one function per target, bytes in, panic on a broken invariant.
//!
//! Owns: turning fuzzer bytes into calls to the public `mcp_sigv4` API and the
//! properties those calls must keep. Shared, file for file, by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`, each one line into here) and by the stable
//! replay test (`tests/fuzz_regressions.rs`), so a committed crash input is
//! replayed through exactly the check that found it.
//! Refuses: any dependency besides std, `mcp_sigv4` and the crates `mcp_sigv4`
//! itself depends on (`serde_json`, `sha2`, `ureq` for its `http::Uri`), so
//! the replay test needs no dev-dependency. The differential checks, which
//! need the official crates, are in `differential.rs`.

#![allow(dead_code)] // each fuzz target uses one function of this module

use std::io::{self, BufReader, Cursor};
use std::time::{Duration, UNIX_EPOCH};

use mcp_sigv4::aws::error::AwsError;
use mcp_sigv4::credential_types::Credentials;
use mcp_sigv4::credentials::ini::{FileKind, ProfileSet, sub_properties};
use mcp_sigv4::endpoint::{Endpoint, infer_from_host};
use mcp_sigv4::fuzzing;
use mcp_sigv4::relay::jsonrpc::{self, Invalid, Kind};
use mcp_sigv4::relay::sse;
use mcp_sigv4::relay::stdio::{Line, LineReader};
use mcp_sigv4::secret::Secret;
use mcp_sigv4::serve::request::{self as serve_request_head, Parsed};
use mcp_sigv4::sigv4::canonical::{CanonicalHeaders, CanonicalQuery, canonical_uri};
use mcp_sigv4::sigv4::{
    Algorithm, SignableRequest, SignatureLocation, Signer, SigningParams, SigningSettings, v4a,
};
use mcp_sigv4::time::{AmzDate, parse_rfc3339};
use mcp_sigv4::url::{Host, PlainHttp, Scheme, Url};
use mcp_sigv4::xml::{self, Element, XmlError};
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
    ("process_output", process_output),
    ("metadata_json", metadata_json),
    ("xml_reader", xml_reader),
    ("sts_answer", sts_answer),
    ("sso_cache", sso_cache),
    ("sso_portal", sso_portal),
    ("url_rule", url_rule),
    ("jsonrpc_batch", jsonrpc_batch),
    ("aws_error", aws_error),
    ("login_cache", login_cache),
    ("serve_request", serve_request),
];

/// The differential targets (`fuzz/differential.rs`, which links the official
/// crates and so is compiled into the fuzz crate only), each with the check of
/// ours alone that reads the same input layout: the replay test runs their
/// inputs through it, `fuzz/ci.sh` through the differential itself.
pub const DIFFERENTIAL: &[(&str, Check)] = &[
    ("sigv4_aws", canonical_request),
    ("sigv4a_key_aws", sigv4a_key),
    ("profile_aws", profile_file),
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
    let SigInput {
        flags,
        secs,
        method,
        path,
        query,
        body,
        headers: owned,
    } = SigInput::read(data);
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

/// A `canonical_request` input taken apart (layout above); shared with the
/// differential `sigv4_aws` target, which reads the same layout.
pub struct SigInput {
    /// Byte 0 of the settings.
    pub flags: u8,
    /// The signing time, seconds since the epoch.
    pub secs: u64,
    /// The method (`POST` when empty).
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The raw query.
    pub query: String,
    /// The body.
    pub body: Vec<u8>,
    /// `host: example.amazonaws.com`, then the input's headers.
    pub headers: Vec<(String, String)>,
}

impl SigInput {
    /// Reads the NUL-separated fields.
    pub fn read(data: &[u8]) -> SigInput {
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
        let mut headers: Vec<(String, String)> =
            vec![("host".into(), "example.amazonaws.com".into())];
        while let Some(name) = fields.next() {
            let value = text(fields.next());
            let name = token(&String::from_utf8_lossy(name));
            if !name.is_empty() {
                headers.push((name, value));
            }
        }
        SigInput {
            flags,
            secs,
            method,
            path,
            query,
            body,
            headers,
        }
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
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(hi << 4 | lo);
            i += 3;
            continue;
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
    // A message with two equal keys in one object (at any depth,
    // keys compared decoded) is refused, since parsers disagree on which wins.
    // A key with a lone surrogate escape cannot be decoded by serde_json; such
    // a key is compared as written.
    let text = std::str::from_utf8(data).expect("grammatical JSON is UTF-8");
    if has_duplicate_key(text) == Some(true) {
        assert!(
            matches!(result, Err(Invalid::Request(..))),
            "a message with a duplicate key was accepted: {result:?}"
        );
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
    // The model: split on '\n'; a final empty piece is no line; one CR at a
    // line's end is dropped and not counted against the bound (it is not the
    // message's); an oversized line is reported by its bound; blank lines are
    // skipped.
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    let expected: Vec<Line> = pieces
        .into_iter()
        .filter_map(|p| {
            let p = p.strip_suffix(b"\r").unwrap_or(p);
            if p.len() > max {
                return Some(Line::TooLong(max));
            }
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
    // port written as digits. Surrounding white space is not part of the URL
    // (Url::parse trims it, as a URL pasted with a trailing space must work).
    let given = text.trim().split_once("://").map_or("", |(_, r)| r);
    let given = given[..given.find(['/', '?', '#']).unwrap_or(given.len())].to_ascii_lowercase();
    let rest = match given.strip_prefix('[').and_then(|g| g.split_once(']')) {
        // An IPv6 literal is the same address, written canonically (`[::0]`
        // is `[::]`).
        Some((v6, after)) => {
            let ours = e
                .host
                .trim_matches(['[', ']'])
                .parse::<std::net::Ipv6Addr>();
            assert_eq!(ours.ok(), v6.parse().ok(), "{text:?}: host {:?}", e.host);
            after
        }
        // A name may end in one '.', which the parser drops (`xyz.` is `xyz`).
        None => given
            .strip_prefix(e.host.as_str())
            .map(|r| r.strip_prefix('.').unwrap_or(r))
            .unwrap_or_else(|| panic!("{text:?}: host {:?} is not the one given", e.host)),
    };
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

// ---------------------------------------------------------------------------
// Helpers of the credential-answer checks.

/// The members of a top-level JSON object in the order written, duplicates
/// kept; `None` unless `data` is an object that `serde_json::Value` reads.
fn members(data: &[u8]) -> Option<Vec<(String, Value)>> {
    raw_members(data)?
        .into_iter()
        .map(|(k, raw)| Some((k, serde_json::from_str(raw.get()).ok()?)))
        .collect()
}

/// As [`members`], each value as its text.
fn raw_members(data: &[u8]) -> Option<Vec<(String, Box<RawValue>)>> {
    if !matches!(serde_json::from_slice::<Value>(data), Ok(Value::Object(_))) {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    let ws = |s: &str| s.trim_start_matches([' ', '\t', '\n', '\r']).len();
    let mut at = text.len() - ws(text);
    let next = |at: &mut usize, c: char| -> Option<()> {
        *at = text.len() - ws(&text[*at..]);
        text[*at..].starts_with(c).then(|| *at += 1)
    };
    next(&mut at, '{')?;
    let mut out = Vec::new();
    if next(&mut at, '}').is_some() {
        return Some(out);
    }
    loop {
        let mut keys = serde_json::Deserializer::from_str(&text[at..]).into_iter::<String>();
        let key = keys.next()?.ok()?;
        at += keys.byte_offset();
        next(&mut at, ':')?;
        let mut values =
            serde_json::Deserializer::from_str(&text[at..]).into_iter::<Box<RawValue>>();
        let value = values.next()?.ok()?;
        at += values.byte_offset();
        out.push((key, value));
        if next(&mut at, ',').is_none() {
            next(&mut at, '}')?;
            return Some(out);
        }
    }
}

/// The members, in written order, of the object last written under `name`
/// in the object `data`.
fn nested(data: &[u8], name: &str) -> Option<Vec<(String, Value)>> {
    let raw = nested_text(data, name)?;
    members(raw.as_bytes())
}

/// The text of the object last written under `name` in the object `data`.
fn nested_text(data: &[u8], name: &str) -> Option<String> {
    let m = raw_members(data)?;
    let (_, raw) = m.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
    raw.get()
        .trim_start()
        .starts_with('{')
        .then(|| raw.get().to_owned())
}

/// The value last written under `name`, names compared ASCII-case-insensitively.
fn last<'a>(members: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The non-blank string last written under `name`.
fn last_text<'a>(members: &'a [(String, Value)], name: &str) -> Option<&'a str> {
    last(members, name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Every string value anywhere in `value`.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// [`assert_no_echo`] for every string value anywhere in the members of a
/// JSON object (its `members`).
fn assert_no_value_echoed(shown: &str, members: &[(String, Value)], fixed: &str) {
    for (_, v) in members {
        let mut all = Vec::new();
        strings(v, &mut all);
        for s in all {
            assert_no_echo(shown, &s, fixed);
        }
    }
}

/// `shown` (an error message) quotes no 8-character piece of `secret` beyond
/// what `fixed` (the messages the same parser gives for inputs without values)
/// already holds.
fn assert_no_echo(shown: &str, secret: &str, fixed: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for w in chars.windows(8) {
        let piece: String = w.iter().collect();
        assert!(
            !shown.contains(&piece) || fixed.contains(&piece),
            "error {shown:?} echoes {piece:?} from the input"
        );
    }
}

/// No control character (C0, DEL, C1) and no bidirectional control: text that
/// came from a server reaches logs and terminals only through the sanitiser.
fn assert_clean(text: &str, what: &str) {
    assert!(
        !text.chars().any(|c| c.is_control()
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')),
        "{what} {text:?} carries a control character"
    );
}

/// The messages `parse` gives for documents whose values are all fixed (each
/// field missing, null, blank, of the wrong type, then valid but for one), and
/// the field names themselves: what a message may contain without echoing.
/// `fields` are (name, a valid value) in the order the parser reads them.
fn fixed_messages<T>(
    parse: impl Fn(&[u8]) -> Result<T, String>,
    fields: &[(&str, &str)],
) -> String {
    let mut docs: Vec<String> = ["", " ", "x", "[]", "{}", "1", "\"s\""]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for (i, (name, _)) in fields.iter().enumerate() {
        for bad in ["1", "\"\"", "\"x\"", "{}", "null", "[]", "-1", "0", "1e30"] {
            let mut doc = String::from("{");
            for (j, (other, valid)) in fields.iter().enumerate() {
                let v = if i == j { bad } else { valid };
                if j > 0 {
                    doc.push(',');
                }
                doc.push_str(&format!("\"{other}\":{v}"));
            }
            doc.push('}');
            docs.push(doc);
            docs.push(format!("{{\"{name}\":{bad}}}"));
        }
    }
    let mut out = String::new();
    for d in docs {
        if let Err(e) = parse(d.as_bytes()) {
            out.push_str(&e);
            out.push('\n');
        }
    }
    for (name, _) in fields {
        out.push_str(name);
        out.push('\n');
    }
    // The time parser's example, which any field's time error quotes.
    out.push_str("that is not an RFC 3339 time such as 2025-01-31T12:00:00Z\n");
    out
}

fn fixed_cache() -> &'static [String; 5] {
    static FIXED: std::sync::OnceLock<[String; 5]> = std::sync::OnceLock::new();
    FIXED.get_or_init(|| {
        let role = |b: &[u8]| {
            // The fields inside roleCredentials, and the wrapper itself.
            let inner = std::str::from_utf8(b).unwrap_or("");
            let wrapped = format!("{{\"roleCredentials\":{inner}}}");
            fuzzing::sso_role_credentials(wrapped.as_bytes())
        };
        [
            fixed_messages(fuzzing::process_output, &PROCESS_FIELDS),
            fixed_messages(fuzzing::json_credentials, &METADATA_FIELDS),
            fixed_messages(fuzzing::sso_cache, &CACHE_FIELDS),
            fixed_messages(fuzzing::sso_role_credentials, &[("roleCredentials", "{}")])
                + &fixed_messages(role, &ROLE_FIELDS),
            fixed_messages(|b| fuzzing::oidc_token(b, oidc_now()), &OIDC_FIELDS),
        ]
    })
}

const TIME: &str = "\"2026-01-01T00:00:00Z\"";
const PROCESS_FIELDS: [(&str, &str); 5] = [
    ("Version", "1"),
    ("AccessKeyId", "\"a\""),
    ("SecretAccessKey", "\"s\""),
    ("SessionToken", "\"t\""),
    ("Expiration", TIME),
];
const METADATA_FIELDS: [(&str, &str); 7] = [
    ("Code", "\"Success\""),
    ("AccessKeyId", "\"a\""),
    ("SecretAccessKey", "\"s\""),
    ("Token", "\"t\""),
    ("SessionToken", "\"t\""),
    ("Expiration", TIME),
    ("ExpiresAt", TIME),
];
const CACHE_FIELDS: [(&str, &str); 6] = [
    ("accessToken", "\"a\""),
    ("expiresAt", TIME),
    ("refreshToken", "\"r\""),
    ("clientId", "\"c\""),
    ("clientSecret", "\"s\""),
    ("registrationExpiresAt", TIME),
];
const ROLE_FIELDS: [(&str, &str); 4] = [
    ("accessKeyId", "\"a\""),
    ("secretAccessKey", "\"s\""),
    ("sessionToken", "\"t\""),
    ("expiration", "1"),
];
const OIDC_FIELDS: [(&str, &str); 3] = [
    ("accessToken", "\"a\""),
    ("refreshToken", "\"r\""),
    ("expiresIn", "1"),
];

/// Credentials read from an answer: what it gave, and nothing secret in
/// `Debug`.
fn check_credentials(c: &Credentials, akid: &str, secret: &str, token: Option<&str>) {
    assert_eq!(c.access_key_id(), akid, "access key id");
    assert_eq!(c.secret_access_key().expose(), secret, "secret access key");
    assert_eq!(
        c.session_token().map(Secret::expose),
        token,
        "session token"
    );
    // Debug must not depend on the secrets at all: the same credentials
    // with other secrets read the same. (A search for the secret's text
    // would also find it inside the expiry or a field name.)
    let other = Credentials::new(
        c.access_key_id(),
        Secret::new("other secret".to_owned()),
        c.session_token()
            .map(|_| Secret::new("other token".to_owned())),
        c.expiry(),
        c.source(),
    );
    assert_eq!(
        format!("{c:?}"),
        format!("{other:?}"),
        "Debug of the credentials shows a secret"
    );
    if let Some(expiry) = c.expiry() {
        check_time(expiry);
    }
}

/// An accepted time is one the crate's own time forms can write and read
/// back (years up to 9999): the chain logs expiries, and the SSO source writes
/// them into the token cache.
fn check_time(t: std::time::SystemTime) {
    let printed = mcp_sigv4::time::format_rfc3339(t);
    let whole = AmzDate::from_system_time(t).to_system_time();
    assert_eq!(
        parse_rfc3339(&printed),
        Ok(whole),
        "an accepted time prints as {printed:?}, which does not read back"
    );
}

// ---------------------------------------------------------------------------
// process_output

/// Any bytes as `credential_process` output. Accepted output is a JSON object
/// with `"Version": 1` and the keys, token and expiry last written under each
/// name (compared case-insensitively, as Rust `aws-config` reads them); a
/// refusal quotes none of the values.
pub fn process_output(data: &[u8]) {
    let result = fuzzing::process_output(data);
    let doc = members(data);
    match result {
        Ok(c) => {
            let m = doc.expect("accepted output is a JSON object");
            assert_eq!(
                last(&m, "Version").and_then(Value::as_u64),
                Some(1),
                "accepted without Version 1"
            );
            let akid = last_text(&m, "AccessKeyId").expect("an access key id");
            let secret = last_text(&m, "SecretAccessKey").expect("a secret");
            check_credentials(&c, akid, secret, last_text(&m, "SessionToken"));
            let expiry = last_text(&m, "Expiration").map(|t| parse_rfc3339(t).expect("readable"));
            assert_eq!(c.expiry(), expiry, "expiry");
        }
        Err(shown) => {
            assert_clean(&shown, "error");
            if let Some(m) = doc {
                assert_no_value_echoed(&shown, &m, &fixed_cache()[0]);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// metadata_json

/// Any bytes as the JSON credentials answer of the container endpoint and
/// IMDS. Accepted: an object whose `Code` (if any) is `Success`, with the keys,
/// the token (`Token`, else `SessionToken`) and the expiry (`Expiration`, else
/// `ExpiresAt`) last written under each name. A refusal quotes no secret, and
/// the server's `Code` and `Message` it does show are sanitised.
pub fn metadata_json(data: &[u8]) {
    let result = fuzzing::json_credentials(data);
    let doc = members(data);
    match result {
        Ok(c) => {
            let m = doc.expect("an accepted answer is a JSON object");
            if let Some(code) = last(&m, "Code") {
                assert_eq!(code.as_str(), Some("Success"), "accepted with Code {code}");
            }
            let akid = last_text(&m, "AccessKeyId").expect("an access key id");
            let secret = last_text(&m, "SecretAccessKey").expect("a secret");
            let token = last_text(&m, "Token").or_else(|| last_text(&m, "SessionToken"));
            check_credentials(&c, akid, secret, Some(token.expect("a token")));
            let expiry = last_text(&m, "Expiration")
                .or_else(|| last_text(&m, "ExpiresAt"))
                .map(|t| parse_rfc3339(t).expect("readable"));
            assert_eq!(c.expiry(), expiry, "expiry");
        }
        Err(shown) => {
            assert_clean(&shown, "error");
            assert!(
                shown.chars().count() <= 2 * 512 + 200,
                "error of {} chars",
                shown.len()
            );
            match doc {
                // A refusal shows the server's Code and Message, sanitised, on
                // purpose (they say why); nothing else of the answer.
                Some(m) if shown.starts_with("has code ") => {
                    let code = last(&m, "Code").and_then(Value::as_str).unwrap_or("");
                    assert_ne!(code, "Success", "refused with Code Success");
                }
                Some(m) => {
                    assert_no_value_echoed(&shown, &m, &fixed_cache()[1]);
                }
                None => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------
// xml_reader

/// Any bytes through the XML reader. An accepted document respects the
/// bounds, has non-empty local names, and written out again (text escaped)
/// reads back to the same tree; a refusal points inside the document.
pub fn xml_reader(data: &[u8]) {
    match xml::parse(data) {
        Ok(root) => {
            check_tree(&root, 0);
            assert!(
                count(&root) <= xml::MAX_ELEMENTS,
                "more than {} elements",
                xml::MAX_ELEMENTS
            );
            let mut again = String::new();
            write_tree(&root, &mut again);
            let back = xml::parse(again.as_bytes())
                .unwrap_or_else(|e| panic!("{again:?}, written from the tree, is refused: {e}"));
            assert!(
                same_tree(&root, &back),
                "{again:?} reads back to another tree"
            );
        }
        Err(XmlError::Syntax { offset, .. }) => {
            assert!(
                offset <= data.len(),
                "offset {offset} past the end {}",
                data.len()
            );
        }
        Err(e) => assert_eq!(e, XmlError::NotUtf8, "parse gave {e:?}"),
    }
}

fn check_tree(e: &Element, depth: usize) {
    assert!(
        depth < xml::MAX_DEPTH,
        "nested deeper than {}",
        xml::MAX_DEPTH
    );
    assert!(
        !e.name.is_empty()
            && !e.name.contains(|c: char| c.is_whitespace()
                || "/>=<&\"'?!:".contains(c)
                || c.is_control()),
        "element name {:?}",
        e.name
    );
    assert!(!e.text.contains('\0'), "NUL in text");
    e.children.iter().for_each(|c| check_tree(c, depth + 1));
}

fn count(e: &Element) -> usize {
    1 + e.children.iter().map(count).sum::<usize>()
}

fn write_tree(e: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    out.push('>');
    for c in e.text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    e.children.iter().for_each(|c| write_tree(c, out));
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

fn same_tree(a: &Element, b: &Element) -> bool {
    a.name == b.name
        && a.text == b.text
        && a.children.len() == b.children.len()
        && a.children
            .iter()
            .zip(&b.children)
            .all(|(x, y)| same_tree(x, y))
}

// ---------------------------------------------------------------------------
// sts_answer

/// Byte 0 picks the operation (AssumeRole, AssumeRoleWithWebIdentity,
/// GetCallerIdentity); the rest is the answer. What is accepted is what a walk
/// of the parsed tree finds at `<{Op}Response><{Op}Result>`; a refusal
/// quotes none of the document's text.
pub fn sts_answer(data: &[u8]) {
    let Some((&op, body)) = data.split_first() else {
        return;
    };
    let tree = xml::parse(body).ok();
    let texts: Vec<String> = tree.as_ref().map(all_texts).unwrap_or_default();
    let name = [
        "AssumeRole",
        "AssumeRoleWithWebIdentity",
        "GetCallerIdentity",
    ][usize::from(op % 3)];
    let result = tree
        .as_ref()
        .filter(|r| r.name == format!("{name}Response"))
        .and_then(|r| only(r, &format!("{name}Result")));
    let leaf = |parent: Option<&Element>, n: &str| {
        parent
            .and_then(|p| only(p, n))
            .filter(|e| e.children.is_empty())
            .map(|e| e.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let shown = if op % 3 == 2 {
        match fuzzing::sts_caller_identity(body) {
            Ok(id) => {
                assert_eq!(Some(id.account), leaf(result, "Account"));
                assert_eq!(Some(id.arn), leaf(result, "Arn"));
                assert_eq!(Some(id.user_id), leaf(result, "UserId"));
                return;
            }
            Err(e) => e,
        }
    } else {
        match fuzzing::sts_credentials(body, op % 3 == 1) {
            Ok((c, arn)) => {
                let creds = result.and_then(|r| only(r, "Credentials"));
                let akid = leaf(creds, "AccessKeyId").expect("an access key id");
                let secret = leaf(creds, "SecretAccessKey").expect("a secret");
                let token = leaf(creds, "SessionToken").expect("a token");
                check_credentials(&c, &akid, &secret, Some(&token));
                let expiry = leaf(creds, "Expiration").expect("an expiry");
                assert_eq!(c.expiry(), parse_rfc3339(&expiry).ok(), "expiry");
                let user = result.and_then(|r| only(r, "AssumedRoleUser"));
                let want = user
                    .and_then(|u| only(u, "Arn"))
                    .map(|a| a.text.trim().to_owned());
                assert_eq!(arn, want, "assumed role ARN");
                return;
            }
            Err(e) => e,
        }
    };
    assert_clean(&shown, "error");
    // Element names may be quoted ("expected Credentials in …"), text never.
    let names: String = tree.as_ref().map(all_names).unwrap_or_default();
    for t in &texts {
        assert_no_echo(&shown, t, &format!("{names}{}", fixed_xml_messages()));
    }
}

fn only<'e>(parent: &'e Element, name: &str) -> Option<&'e Element> {
    let mut found = parent.children.iter().filter(|c| c.name == name);
    let first = found.next();
    if found.next().is_some() {
        return None;
    }
    first
}

fn all_texts(e: &Element) -> Vec<String> {
    let mut out = vec![e.text.clone()];
    e.children.iter().for_each(|c| out.extend(all_texts(c)));
    out
}

fn all_names(e: &Element) -> String {
    let mut out = e.name.clone();
    out.push('\n');
    e.children.iter().for_each(|c| out.push_str(&all_names(c)));
    out
}

fn fixed_xml_messages() -> &'static str {
    static FIXED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FIXED.get_or_init(|| {
        let mut out = String::new();
        let expiration = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>x</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
        // Each level of each answer's shape left empty in turn, and each leaf
        // left out: the messages that name an element ("expected Credentials
        // in AssumeRoleResult").
        let mut docs: Vec<String> = ["", "<", "<a>", "<a/>", "<AssumeRoleResponse/>", expiration]
            .map(String::from)
            .to_vec();
        let creds = ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"];
        let identity = ["Account", "Arn", "UserId"];
        for (op, inner, leaves) in [
            ("AssumeRole", "Credentials", &creds[..]),
            ("AssumeRoleWithWebIdentity", "Credentials", &creds[..]),
            ("GetCallerIdentity", "", &identity[..]),
        ] {
            let wrap = |x: &str| format!("<{op}Response><{op}Result>{x}</{op}Result></{op}Response>");
            docs.push(format!("<{op}Response/>"));
            docs.push(format!("<{op}Response><{op}Result/></{op}Response>"));
            // Each leaf in turn left out, empty, holding an element, or
            // repeated: the messages "expected X in Y", "X in Y is empty",
            // "expected text in X, found child elements", "X appears more
            // than once in Y".
            for odd in leaves {
                for shape in ["", "<{l}></{l}>", "<{l}><c/></{l}>", "<{l}>x</{l}><{l}>x</{l}>"] {
                    let body: String = leaves
                        .iter()
                        .map(|l| {
                            let s = if l == odd { shape } else { "<{l}>x</{l}>" };
                            s.replace("{l}", l)
                        })
                        .collect();
                    docs.push(if inner.is_empty() {
                        wrap(&body)
                    } else {
                        wrap(&format!("<{inner}>{body}</{inner}>"))
                    });
                }
            }
            if !inner.is_empty() {
                docs.push(wrap(&format!("<{inner}/>")));
                docs.push(wrap(&format!("<{inner}/><{inner}/>")));
            }
        }
        for doc in &docs {
            for web in [false, true] {
                if let Err(e) = fuzzing::sts_credentials(doc.as_bytes(), web) {
                    out.push_str(&e);
                    out.push('\n');
                }
            }
            if let Err(e) = fuzzing::sts_caller_identity(doc.as_bytes()) {
                out.push_str(&e);
                out.push('\n');
            }
        }
        for name in [
            "AssumeRoleResponse AssumeRoleResult AssumeRoleWithWebIdentityResponse",
            "AssumeRoleWithWebIdentityResult GetCallerIdentityResponse GetCallerIdentityResult",
            "Credentials AccessKeyId SecretAccessKey SessionToken Expiration",
            "AssumedRoleUser Arn Account UserId",
        ] {
            out.push_str(name);
            out.push('\n');
        }
        out
    })
}

// ---------------------------------------------------------------------------
// sso_cache

/// Any bytes as an IAM Identity Center token cache file. Accepted: an object
/// with a non-blank `accessToken` and a readable `expiresAt` (last written
/// under each name, any case); refreshable exactly when `refreshToken`,
/// `clientId`, `clientSecret` and a readable `registrationExpiresAt` are
/// there. A refusal quotes none of the values.
pub fn sso_cache(data: &[u8]) {
    let doc = members(data);
    match fuzzing::sso_cache(data) {
        Ok(cache) => {
            let m = doc.expect("an accepted cache file is a JSON object");
            assert_eq!(
                Some(cache.access_token.expose()),
                last_text(&m, "accessToken")
            );
            let expires = last_text(&m, "expiresAt").and_then(|t| parse_rfc3339(t).ok());
            assert_eq!(Some(cache.expires_at), expires, "expiresAt");
            let refreshable = ["refreshToken", "clientId", "clientSecret"]
                .iter()
                .all(|n| last_text(&m, n).is_some())
                && last_text(&m, "registrationExpiresAt").is_some_and(|t| parse_rfc3339(t).is_ok());
            assert_eq!(cache.refreshable, refreshable, "refreshable");
        }
        Err(shown) => {
            assert_clean(&shown, "error");
            if let Some(m) = doc {
                assert_no_value_echoed(&shown, &m, &fixed_cache()[2]);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// sso_portal

fn oidc_now() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_798_761_600) // 2027-01-01
}

/// Byte 0 picks the answer: even, the portal's `GetRoleCredentials`
/// (`expiration` in epoch milliseconds); odd, the OIDC `CreateToken` answer to
/// a refresh (`expiresIn` seconds from now). What is accepted is what the
/// answer says; a refusal quotes none of its values; no answer makes an
/// expiry the clock cannot hold (that would panic).
pub fn sso_portal(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let doc = members(body);
    let shown = if which % 2 == 0 {
        match fuzzing::sso_role_credentials(body) {
            Ok(c) => {
                assert!(doc.is_some(), "an accepted answer is a JSON object");
                let role = nested(body, "roleCredentials").expect("a roleCredentials object");
                let akid = last_text(&role, "accessKeyId").expect("an access key id");
                let secret = last_text(&role, "secretAccessKey").expect("a secret");
                let token = last_text(&role, "sessionToken").expect("a token");
                check_credentials(&c, akid, secret, Some(token));
                let millis = match last(&role, "expiration") {
                    Some(Value::Number(n)) => n
                        .as_u64()
                        .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
                    other => panic!("accepted with expiration {other:?}"),
                }
                .expect("a non-negative number");
                assert_eq!(c.expiry(), Some(UNIX_EPOCH + Duration::from_millis(millis)));
                return;
            }
            Err(e) => (e, &fixed_cache()[3]),
        }
    } else {
        match fuzzing::oidc_token(body, oidc_now()) {
            Ok((access, refresh, expires)) => {
                let m = doc.expect("an accepted answer is a JSON object");
                assert_eq!(Some(access.expose()), last_text(&m, "accessToken"));
                assert_eq!(
                    refresh.as_ref().map(Secret::expose),
                    last_text(&m, "refreshToken")
                );
                let secs = last(&m, "expiresIn")
                    .and_then(Value::as_u64)
                    .expect("expiresIn");
                assert!(secs > 0);
                assert_eq!(expires, oidc_now() + Duration::from_secs(secs));
                check_time(expires);
                return;
            }
            Err(e) => (e, &fixed_cache()[4]),
        }
    };
    let (shown, fixed) = shown;
    assert_clean(&shown, "error");
    if let Some(m) = doc {
        assert_no_value_echoed(&shown, &m, fixed);
    }
}

// ---------------------------------------------------------------------------
// url_rule

/// Any text as a URL. An accepted URL: written out again it parses to itself;
/// the host and port the HTTP client (`http::Uri`, through ureq) reads from
/// what is sent are the ones the plain-HTTP rule judged; user information is
/// always refused. The rule: `https` always; `http` only to `localhost`, a
/// literal loopback address, or the fixed metadata addresses of the rule that
/// names them. `ServiceUrl` (the AWS service clients' endpoint) agrees.
pub fn url_rule(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = Url::parse(&text);
    // User information is refused wherever the authority holds an '@'.
    if let Some((_, rest)) = text.trim().split_once("://") {
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if authority.contains('@') {
            assert!(parsed.is_err(), "{text:?}: user information accepted");
        }
    }
    let rules = [
        PlainHttp::LoopbackOnly,
        PlainHttp::InstanceMetadata,
        PlainHttp::ContainerCredentials,
    ];
    for rule in rules {
        let service = fuzzing::service_url(&text, rule);
        if let Ok((authority, sent)) = &service {
            let url = parsed.as_ref().expect("a service URL is a URL");
            assert!(
                url.allowed(rule),
                "{text:?}: ServiceUrl accepted a URL the rule refuses"
            );
            assert!(
                url.query.is_none() && !text.contains('#'),
                "{text:?}: a query or fragment"
            );
            assert_eq!(authority, &url.authority(), "{text:?}: authority");
            let back = Url::parse(sent).unwrap_or_else(|e| panic!("{sent:?} from {text:?}: {e}"));
            assert_eq!(
                (&back.host, back.port),
                (&url.host, url.port),
                "{sent:?} from {text:?}"
            );
            check_client_host(sent, url);
        }
    }
    let Ok(url) = parsed else {
        return;
    };
    if let Host::Name(n) = &url.host {
        assert!(
            !n.is_empty()
                && !n.ends_with('.')
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b)),
            "{text:?}: host name {n:?}"
        );
        assert!(
            n.parse::<std::net::Ipv4Addr>().is_err(),
            "{text:?}: an IPv4 address as a name"
        );
    }
    assert_ne!(url.port, Some(0));
    assert_ne!(
        url.port,
        Some(url.scheme.default_port()),
        "{text:?}: the default port is kept"
    );
    let query = url
        .query
        .as_ref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let written = format!(
        "{}://{}{}{query}",
        url.scheme.as_str(),
        url.authority(),
        url.path
    );
    // Written without escaping, so a URL whose path or query ends in
    // whitespace (kept because a fragment followed it) loses it to the trim.
    if written.trim_end() == written {
        assert_eq!(
            Url::parse(&written).as_ref(),
            Ok(&url),
            "{text:?} written as {written:?}"
        );
    }
    check_client_host(&written, &url);
    // The rule.
    let loopback = match &url.host {
        Host::Name(n) => n == "localhost",
        h => h.ip().is_some_and(|ip| ip.is_loopback()),
    };
    let ip = url.host.ip().map(|ip| ip.to_string());
    let imds = matches!(ip.as_deref(), Some("169.254.169.254" | "fd00:ec2::254"));
    let container = matches!(
        ip.as_deref(),
        Some("169.254.170.2" | "169.254.170.23" | "fd00:ec2::23")
    );
    for rule in rules {
        let want = url.scheme == Scheme::Https
            || loopback
            || (rule == PlainHttp::InstanceMetadata && imds)
            || (rule == PlainHttp::ContainerCredentials && container);
        assert_eq!(url.allowed(rule), want, "{text:?} under {rule:?}");
        match url.check_plain_http(rule) {
            Ok(()) => assert!(want),
            Err(e) => {
                assert!(!want);
                assert_clean(&e.0, "refusal");
            }
        }
    }
}

/// The host and port the HTTP client reads from `sent` are `url`'s (when it
/// reads it at all: a URL it refuses is never sent).
fn check_client_host(sent: &str, url: &Url) {
    let Ok(uri) = sent.parse::<ureq::http::Uri>() else {
        return;
    };
    assert_eq!(
        uri.host().map(str::to_ascii_lowercase),
        Some(url.host.to_string()),
        "{sent:?}: the client connects to another host than the one checked"
    );
    let port = uri.port_u16().unwrap_or(url.scheme.default_port());
    assert_eq!(
        port,
        url.port.unwrap_or(url.scheme.default_port()),
        "{sent:?}: port"
    );
    assert_eq!(
        uri.scheme_str(),
        Some(url.scheme.as_str()),
        "{sent:?}: scheme"
    );
}

// ---------------------------------------------------------------------------
// jsonrpc_batch

/// NUL-separated members, sent as one batch `[m1,m2,…]`. The batch is
/// accepted exactly when every member is accepted alone as a single message,
/// with the same kinds in order; refused with the first bad member's reason
/// and id otherwise, a parse error when a member is not JSON.
pub fn jsonrpc_batch(data: &[u8]) {
    let parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let mut batch = b"[".to_vec();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            batch.push(b',');
        }
        batch.extend_from_slice(p);
    }
    batch.push(b']');
    let whole = jsonrpc::classify(&batch);
    let grammatical = serde_json::from_slice::<Box<RawValue>>(&batch).is_ok();
    if !grammatical {
        assert!(
            matches!(whole, Err(Invalid::Parse(_))),
            "{whole:?} for invalid JSON"
        );
        return;
    }
    // Grammatical as a whole: each member is one JSON value (or the batch is
    // `[]`, a single empty part).
    if parts.len() == 1 && parts[0].iter().all(|b| b" \t\r\n".contains(b)) {
        assert!(
            matches!(whole, Err(Invalid::Request(_, None))),
            "{whole:?} for []"
        );
        return;
    }
    // A NUL inside what the batch reads as a string splits no member: only
    // inputs whose parts are each a JSON value are compared member by member.
    if !parts
        .iter()
        .all(|p| serde_json::from_slice::<Box<RawValue>>(p).is_ok())
    {
        return;
    }
    let alone: Vec<Result<jsonrpc::Classified, Invalid>> =
        parts.iter().map(|p| jsonrpc::classify(p)).collect();
    match (
        &whole,
        alone.iter().position(|a| !matches!(a, Ok(c) if !c.batch)),
    ) {
        (Ok(c), None) => {
            assert!(c.batch);
            let items: Vec<Kind> = alone
                .into_iter()
                .flat_map(|a| a.expect("accepted").items)
                .collect();
            assert_eq!(c.items, items, "batch members classified differently alone");
            for kind in &c.items {
                if let Kind::Request { id, .. } | Kind::Response { id: Some(id) } = kind {
                    check_id(id, None);
                }
            }
        }
        (Err(Invalid::Request(why, id)), Some(first)) => {
            let object = String::from_utf8_lossy(parts[first])
                .trim_start()
                .starts_with('{');
            match &alone[first] {
                Err(Invalid::Request(why_alone, id_alone)) if object => {
                    assert_eq!((why, id), (why_alone, id_alone), "member {first}");
                }
                // An array (a nested batch) or a non-object is refused as a
                // member, whatever it holds.
                _ => {
                    assert!(!object, "member {first} is an object: {:?}", alone[first]);
                    assert_eq!(
                        (why.as_str(), id),
                        ("expected a JSON-RPC object", &None),
                        "member {first}"
                    );
                }
            }
        }
        (w, a) => panic!(
            "batch {w:?}, first member refused alone: {a:?} ({:?})",
            a.map(|i| &alone[i])
        ),
    }
}

// ---------------------------------------------------------------------------
// aws_error

/// Byte 0 picks the headers (bit 0 `x-amzn-ErrorType`, bit 1
/// `x-amzn-RequestId`, bit 2 `x-amz-request-id`, their values the next
/// NUL-separated fields); the rest is the body of an AWS error answer. What it
/// reads is sanitised: no control character, at most 512 characters each.
pub fn aws_error(data: &[u8]) {
    let Some((&bits, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.splitn(4, |&b| b == 0);
    let mut headers = Vec::new();
    for (bit, name) in [
        (1, "x-amzn-errortype"),
        (2, "x-amzn-requestid"),
        (4, "x-amz-request-id"),
    ] {
        if bits & bit != 0 {
            let value = String::from_utf8_lossy(fields.next().unwrap_or(&[])).into_owned();
            headers.push((name.to_owned(), value));
        }
    }
    let body: Vec<u8> = fields.collect::<Vec<_>>().join(&0u8);
    let e = AwsError::parse(&headers, body.clone());
    assert_eq!(e.body, body, "the body is kept as read");
    for (what, field) in [
        ("type", &e.error_type),
        ("message", &e.message),
        ("request id", &e.request_id),
    ] {
        if let Some(t) = field {
            assert_clean(t, what);
            assert!(
                !t.is_empty() && t.chars().count() <= 513,
                "{what} of {} chars",
                t.chars().count()
            );
            assert_eq!(t.trim(), t, "{what} {t:?} is not trimmed");
        }
    }
    if let Some(t) = &e.error_type {
        assert!(
            !t.contains([':', '#']) || t.ends_with('…'),
            "error type {t:?} is not a shape name"
        );
    }
    for status in [400, 403, 500] {
        let d = e.describe(status);
        assert_clean(&d, "description");
        assert!(d.contains(&format!("HTTP {status}")));
    }
    assert_clean(&e.to_string(), "Display");
}

// ---------------------------------------------------------------------------
// sigv4a_key (ours alone, for the inputs of the differential `sigv4a_key_aws`)

/// Bytes as an access key id and a secret (split at the first NUL; lossy
/// UTF-8): the SigV4A key derives, its public key is a point of P-256, and a
/// request signed with it verifies under that key.
pub fn sigv4a_key(data: &[u8]) {
    let (akid, secret) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let akid = String::from_utf8_lossy(akid);
    let secret = String::from_utf8_lossy(secret);
    let creds = Credentials::new(&*akid, Secret::from(&*secret), None, None, "fuzz");
    let signer = Signer::new();
    let (x, y) = signer.v4a_public_key(&creds).expect("derivation succeeds");
    let key = v4a::verifying_key_from_xy(&x, &y).expect("the public key is a P-256 point");
    let headers = [("host", "example.amazonaws.com")];
    let out = signer
        .sign(
            &SignableRequest {
                method: "GET",
                path: "/",
                query: "",
                headers: &headers,
                body: b"",
            },
            &SigningParams {
                credentials: &creds,
                algorithm: Algorithm::V4a,
                region: "*",
                service: "s",
                time: AmzDate::from_system_time(UNIX_EPOCH),
                settings: SigningSettings::default(),
            },
        )
        .expect("signs");
    assert!(v4a::verify(
        &key,
        out.string_to_sign.as_str(),
        &out.signature
    ));
}

// ---------------------------------------------------------------------------
// login_cache

/// Byte 0 picks what the rest is: 0, an `aws login` cache file; 1, a Sign-In
/// `CreateOAuth2Token` answer; 2, a `dpopKey` PEM text; 3, a cache file and an
/// answer split at the first NUL, refreshed. Accepted documents give what they
/// say (names matched in any case, the last written winning); a refreshed file
/// reads back with the new keys, token and expiry and everything else as it
/// was; a refusal quotes none of the values.
pub fn login_cache(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => match fuzzing::login_cache(rest) {
            Ok(f) => check_login_fields(&f, rest),
            Err(shown) => check_login_refusal(&shown, rest),
        },
        1 => match fuzzing::login_answer(rest) {
            Ok((akid, secret, token, refresh, expires_in)) => {
                assert!(
                    members(rest).is_some(),
                    "an accepted answer is a JSON object"
                );
                // The body, or the object under tokenOutput.
                let output_text = nested_text(rest, "tokenOutput")
                    .unwrap_or_else(|| String::from_utf8_lossy(rest).into_owned());
                let output = members(output_text.as_bytes()).expect("an object");
                let access =
                    nested(output_text.as_bytes(), "accessToken").expect("an accessToken object");
                assert_eq!(Some(akid.as_str()), last_text(&access, "accessKeyId"));
                assert_eq!(Some(secret.expose()), last_text(&access, "secretAccessKey"));
                assert_eq!(Some(token.expose()), last_text(&access, "sessionToken"));
                assert_eq!(Some(refresh.expose()), last_text(&output, "refreshToken"));
                let secs = last(&output, "expiresIn").and_then(Value::as_u64);
                assert_eq!(Some(expires_in.as_secs()), secs, "expiresIn");
                assert!((1..=86_400).contains(&expires_in.as_secs()));
            }
            Err(shown) => check_login_refusal(&shown, rest),
        },
        2 => {
            let pem = String::from_utf8_lossy(rest);
            match fuzzing::dpop_key(&pem) {
                Ok(public) => {
                    assert_eq!(
                        (public.len(), public[0]),
                        (65, 4),
                        "an uncompressed P-256 point"
                    );
                }
                Err(shown) => {
                    assert_clean(&shown, "error");
                    assert_no_echo(&shown, &pem, fixed_login());
                }
            }
        }
        _ => {
            let (cache, answer) = match rest.iter().position(|&b| b == 0) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b""[..]),
            };
            let Ok((new, text)) = fuzzing::login_refresh(cache, answer, oidc_now()) else {
                return;
            };
            let old = fuzzing::login_cache(cache).expect("refreshed, so readable");
            let (akid, secret, token, refresh, expires_in) =
                fuzzing::login_answer(answer).expect("refreshed, so readable");
            let back = fuzzing::login_cache(text.expose().as_bytes())
                .unwrap_or_else(|e| panic!("the refreshed file cannot be read back: {e}"));
            for f in [&new, &back] {
                assert_eq!(f.access_key_id, akid, "access key id after the refresh");
                assert_eq!(
                    f.secret_access_key.expose(),
                    secret.expose(),
                    "secret after the refresh"
                );
                assert_eq!(
                    f.session_token.expose(),
                    token.expose(),
                    "token after the refresh"
                );
                assert_eq!(
                    f.refresh_token.expose(),
                    refresh.expose(),
                    "refresh token after the refresh"
                );
                assert_eq!(
                    f.expires_at,
                    oidc_now() + expires_in,
                    "expiry after the refresh"
                );
                assert_eq!(f.account_id, old.account_id, "account id kept");
                assert_eq!(f.client_id, old.client_id, "client id kept");
                assert_eq!(f.public_key, old.public_key, "DPoP key kept");
            }
        }
    }
}

fn check_login_fields(f: &fuzzing::LoginFields, doc: &[u8]) {
    let m = members(doc).expect("an accepted cache file is a JSON object");
    let access = nested(doc, "accessToken").expect("an accessToken object");
    if let Some(kind) = last(&m, "tokenType").filter(|v| !v.is_null()) {
        let kind = kind.as_str().expect("a tokenType string");
        assert!(
            kind.trim().is_empty() || kind.eq_ignore_ascii_case("aws_sigv4"),
            "accepted with tokenType {kind:?}"
        );
    }
    assert_eq!(
        Some(f.access_key_id.as_str()),
        last_text(&access, "accessKeyId")
    );
    assert_eq!(
        Some(f.secret_access_key.expose()),
        last_text(&access, "secretAccessKey")
    );
    assert_eq!(
        Some(f.session_token.expose()),
        last_text(&access, "sessionToken")
    );
    assert_eq!(f.account_id.as_deref(), last_text(&access, "accountId"));
    let expires = last_text(&access, "expiresAt").and_then(|t| parse_rfc3339(t).ok());
    assert_eq!(Some(f.expires_at), expires, "expiresAt");
    check_time(f.expires_at);
    assert_eq!(
        Some(f.refresh_token.expose()),
        last_text(&m, "refreshToken")
    );
    assert_eq!(Some(f.client_id.as_str()), last_text(&m, "clientId"));
    let pem = last_text(&m, "dpopKey").expect("a dpopKey");
    assert_eq!(
        fuzzing::dpop_key(pem).as_ref(),
        Ok(&f.public_key),
        "the DPoP key"
    );
}

fn check_login_refusal(shown: &str, doc: &[u8]) {
    assert_clean(shown, "error");
    if let Some(m) = members(doc) {
        assert_no_value_echoed(shown, &m, fixed_login());
    }
}

fn fixed_login() -> &'static str {
    static FIXED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FIXED.get_or_init(|| {
        let wrap = |b: &[u8]| {
            let inner = std::str::from_utf8(b).unwrap_or("");
            fuzzing::login_cache(
                format!(
                    "{{\"accessToken\":{inner},\"refreshToken\":\"r\",\"clientId\":\"c\",\"dpopKey\":{DPOP_KEY:?}}}"
                )
                .as_bytes(),
            )
        };
        let mut out = fixed_messages(fuzzing::login_cache, &LOGIN_FIELDS);
        out += &fixed_messages(wrap, &LOGIN_ACCESS_FIELDS);
        out += &fixed_messages(
            fuzzing::login_answer,
            &[
                ("accessToken", "{}"),
                ("expiresIn", "1"),
                ("refreshToken", "\"r\""),
            ],
        );
        for pem in [
            "",
            "x",
            "-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----\n*\n-----END EC PRIVATE KEY-----",
        ] {
            if let Err(e) = fuzzing::dpop_key(pem) {
                out.push_str(&e);
                out.push('\n');
            }
        }
        out.push_str("-----BEGIN EC PRIVATE KEY----- -----BEGIN PRIVATE KEY-----\n");
        out
    })
}

/// A P-256 key in PKCS #8 PEM (botocore's test key).
const DPOP_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+PNauWi/ihtwHHbq\n1tgc8Vgpwx0qQlNSN38y+z0igWehRANCAAR2Ntw6BXJ1v8jb9XjzKZJ+gL5f/3Jq\nIqiH2PUGKWxoFwNlcNB83FivEXEzlTbuCQK5OezOYb3gbvHuzKkB0nDX\n-----END PRIVATE KEY-----";

const LOGIN_FIELDS: [(&str, &str); 5] = [
    ("accessToken", "{}"),
    ("tokenType", "\"aws_sigv4\""),
    ("refreshToken", "\"r\""),
    ("clientId", "\"c\""),
    ("dpopKey", "\"k\""),
];
const LOGIN_ACCESS_FIELDS: [(&str, &str); 5] = [
    ("accessKeyId", "\"a\""),
    ("secretAccessKey", "\"s\""),
    ("sessionToken", "\"t\""),
    ("accountId", "\"1\""),
    ("expiresAt", TIME),
];

/// Whether some object of `text` (grammatical JSON) has two keys equal once
/// decoded (a key serde_json cannot decode, with a lone surrogate escape, as
/// written); `None` if `text` is not JSON after all.
/// Recursive, built on serde_json's stream reader, independent of the relay's
/// own iterative scanner.
fn has_duplicate_key(text: &str) -> Option<bool> {
    fn value(text: &str, at: &mut usize) -> Option<bool> {
        let skip = |at: &mut usize| {
            *at = text.len()
                - text[*at..]
                    .trim_start_matches([' ', '\t', '\n', '\r'])
                    .len();
        };
        skip(at);
        let mut dup = false;
        match text.as_bytes().get(*at)? {
            b'{' => {
                *at += 1;
                let mut keys = std::collections::HashSet::new();
                skip(at);
                if text[*at..].starts_with('}') {
                    *at += 1;
                    return Some(false);
                }
                loop {
                    skip(at);
                    // Decoded, or as written when it cannot be (a lone surrogate).
                    let mut raw = serde_json::Deserializer::from_str(&text[*at..])
                        .into_iter::<Box<RawValue>>();
                    let written = raw.next()?.ok()?;
                    *at += raw.byte_offset();
                    let key = serde_json::from_str::<String>(written.get())
                        .unwrap_or_else(|_| written.get().to_owned());
                    dup |= !keys.insert(key);
                    skip(at);
                    *at += 1; // ':'
                    dup |= value(text, at)?;
                    skip(at);
                    let c = text.as_bytes().get(*at).copied();
                    *at += 1;
                    if c != Some(b',') {
                        return Some(dup);
                    }
                }
            }
            b'[' => {
                *at += 1;
                skip(at);
                if text[*at..].starts_with(']') {
                    *at += 1;
                    return Some(false);
                }
                loop {
                    dup |= value(text, at)?;
                    skip(at);
                    let c = text.as_bytes().get(*at).copied();
                    *at += 1;
                    if c != Some(b',') {
                        return Some(dup);
                    }
                }
            }
            _ => {
                let mut s =
                    serde_json::Deserializer::from_str(&text[*at..]).into_iter::<Box<RawValue>>();
                s.next()?.ok()?;
                *at += s.byte_offset();
                Some(false)
            }
        }
    }
    value(text, &mut 0)
}

// ---------------------------------------------------------------------------
// serve_request

/// Input layout: byte 0 sets the head bound (64 bytes times 1 to 256), byte 1
/// the size of the reads the connection gets (1 to 64 bytes); the rest is
/// what a client sent.
///
/// Properties: fed in reads, the first answer that is not "read more" is the
/// answer for the whole input; a head is no longer than the input or the
/// bound and reads the same from its own bytes alone; "read more" only while
/// within the bound; refusals are 400, 431 or 505; a body length passes the
/// body bound never.
pub fn serve_request(data: &[u8]) {
    let [bound, step, sent @ ..] = data else {
        return;
    };
    let max = 64 * (usize::from(*bound) + 1);
    let step = 1 + usize::from(step & 63);
    let whole = serve_request_head::parse(sent, max);
    let mut fed = Parsed::Partial;
    let mut end = 0;
    while end < sent.len() && fed == Parsed::Partial {
        end = (end + step).min(sent.len());
        fed = serve_request_head::parse(&sent[..end], max);
    }
    assert_eq!(fed, whole, "read in {step}-byte steps");
    match &whole {
        Parsed::Partial => assert!(sent.len() <= max, "read more past the bound"),
        Parsed::Refused(code) => assert!(matches!(code, 400 | 431 | 505), "status {code}"),
        Parsed::Head(head) => {
            assert!(
                head.len <= sent.len() && head.len <= max,
                "head of {} bytes",
                head.len
            );
            assert_eq!(
                serve_request_head::parse(&sent[..head.len], max),
                whole,
                "the head alone reads differently"
            );
            assert!(!head.path.contains(['?', '#']), "path {:?}", head.path);
            for limit in [0, 1, 4096] {
                match serve_request_head::body_length(head, limit) {
                    Ok(n) => assert!(n <= limit, "body of {n} bytes past {limit}"),
                    Err(code) => assert!(matches!(code, 411 | 413), "status {code}"),
                }
            }
        }
    }
}
