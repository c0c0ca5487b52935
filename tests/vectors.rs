//! The AWS signing test suite (`vectors/sigv4`, `vectors/sigv4a`), run through
//! the public API of the `mcp_sigv4` library.
//!
//! Owns: reading each case folder (`request.txt`, `context.json`, the expected
//! files) and asserting in stages, with the case and stage in every message:
//! SigV4 canonical request, string to sign, signature and signed request, for
//! header and query signing; SigV4A canonical request, string to sign, the
//! derived public key against `public-key.json`, the suite's own signatures and
//! ours verified under that key, and the signed request apart from the signature
//! value. Also: SHA-256(canonical request) equals the string to sign's last line.
//! Every failing case/stage is collected and reported together at the end.
//! Refuses: running a case folder silently — each stage runs or is listed with a
//! reason in `vectors/<suite>/skips.json`; each upstream file is checked against
//! `SHA256SUMS` and must be read by some stage.

#[path = "support/vector_files.rs"]
mod vector_files;

use std::collections::{BTreeMap, BTreeSet};

use mcp_sigv4::credential_types::Credentials;
use mcp_sigv4::secret::Secret;
use mcp_sigv4::sigv4::canonical::uri_encode;
use mcp_sigv4::sigv4::v4a::{verify, verifying_key_from_xy};
use mcp_sigv4::sigv4::{
    Algorithm, SignableRequest, SignatureLocation, Signer, SigningOutput, SigningParams,
    SigningSettings,
};
use mcp_sigv4::time::{AmzDate, parse_rfc3339};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use vector_files::{Runner, VectorDir, describe_difference, sha256_hex, strip_one_newline};

// ---------------------------------------------------------------------------
// request.txt

/// A request as written in `request.txt` / `*-signed-request.txt`.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    /// Everything between the first space and the last ` HTTP/1.1`, before `?`.
    path: String,
    /// After the first `?` (without it); empty for none.
    query: String,
    /// `(name, value)` as written, values trimmed, continuation lines joined with `\n`.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Parses leniently: the request line may hold raw spaces and UTF-8 in the path;
/// header lines are `Name:value`; indented lines continue the previous value;
/// a blank line ends the headers and the rest (verbatim) is the body.
fn parse_request(bytes: &[u8]) -> Result<Request, String> {
    let (head, body) = split_head_body(bytes);
    let head = std::str::from_utf8(head).map_err(|e| format!("request head is not UTF-8: {e}"))?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let (method, rest) = request_line
        .split_once(' ')
        .ok_or_else(|| format!("expected `METHOD PATH HTTP/1.1`, found {request_line:?}"))?;
    // The version is optional: double-url-encode's signed request omits it.
    let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue; // only possible as the last line of a head ending in "\n"
        }
        if line.starts_with([' ', '\t']) {
            let Some(last) = headers.last_mut() else {
                return Err(format!("continuation line before any header: {line:?}"));
            };
            last.1.push('\n');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("expected a `Name:value` header line, found {line:?}"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.to_vec(),
    })
}

/// Splits at the first blank line (`\n\n` or `\r\n\r\n`); no blank line means no body.
fn split_head_body(bytes: &[u8]) -> (&[u8], &[u8]) {
    for (i, w) in bytes.windows(2).enumerate() {
        if w == b"\n\n" {
            return (&bytes[..i], &bytes[i + 2..]);
        }
        if w == b"\n\r" && bytes.get(i + 2) == Some(&b'\n') {
            return (&bytes[..i], &bytes[i + 3..]);
        }
    }
    (bytes, &[])
}

/// The request with our signing output applied: headers added (replacing any of
/// the same name, as aws-sigv4's `apply_to_request` does), query parameters
/// appended, their values encoded with our `uri_encode`.
fn apply(request: &Request, out: &SigningOutput) -> Request {
    let mut signed = request.clone();
    for (name, value) in &out.headers {
        signed
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        signed
            .headers
            .push(((*name).to_owned(), value.expose().to_owned()));
    }
    for (name, value) in &out.query_params {
        if !signed.query.is_empty() {
            signed.query.push('&');
        }
        signed.query.push_str(&uri_encode(name));
        signed.query.push('=');
        signed.query.push_str(&uri_encode(value.expose()));
    }
    signed
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Query pairs, percent-decoded, sorted (order-insensitive comparison).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|i| !i.is_empty())
        .map(|item| {
            let (n, v) = item.split_once('=').unwrap_or((item, ""));
            (decode(n), decode(v))
        })
        .collect();
    pairs.sort();
    pairs
}

/// Headers with lower-case names, sorted (order-insensitive, names case-insensitive).
fn header_set(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut set: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    set.sort();
    set
}

const MASK: &str = "<signature>";

/// Replaces the signature value in an `Authorization` header value.
fn mask_authorization(value: &str) -> String {
    match value.find("Signature=") {
        Some(at) => {
            let start = at + "Signature=".len();
            let end = value[start..].find(',').map_or(value.len(), |e| start + e);
            format!("{}{MASK}{}", &value[..start], &value[end..])
        }
        None => value.to_owned(),
    }
}

/// The `Signature=` value of an `Authorization` header.
fn authorization_signature(value: &str) -> Option<&str> {
    let at = value.find("Signature=")? + "Signature=".len();
    let rest = &value[at..];
    Some(rest[..rest.find(',').unwrap_or(rest.len())].trim())
}

/// The signature a signed request carries: the `Authorization` header's
/// `Signature=` or the `X-Amz-Signature` query parameter.
fn carried_signature(request: &Request) -> Option<String> {
    if let Some((_, v)) = request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    {
        return authorization_signature(v).map(str::to_owned);
    }
    query_pairs(&request.query)
        .into_iter()
        .find(|(n, _)| n == "X-Amz-Signature")
        .map(|(_, v)| v)
}

/// Compares method, path, header set, query pairs and body; all differences in
/// one message. With `mask_signature`, signature values are not compared.
fn compare_signed(
    expected: &Request,
    actual: &Request,
    mask_signature: bool,
) -> Result<(), String> {
    let mut problems = Vec::new();
    if expected.method != actual.method {
        problems.push(format!(
            "method: expected {:?}, found {:?}",
            expected.method, actual.method
        ));
    }
    if expected.path != actual.path {
        problems.push(format!(
            "path: expected {:?}, found {:?}",
            expected.path, actual.path
        ));
    }
    let mask_headers = |r: &Request| {
        let mut set = header_set(&r.headers);
        if mask_signature {
            for (n, v) in &mut set {
                if n == "authorization" {
                    *v = mask_authorization(v);
                }
            }
            set.sort();
        }
        set
    };
    let (eh, ah) = (mask_headers(expected), mask_headers(actual));
    if eh != ah {
        let missing: Vec<_> = eh.iter().filter(|h| !ah.contains(h)).collect();
        let extra: Vec<_> = ah.iter().filter(|h| !eh.contains(h)).collect();
        problems.push(format!(
            "headers: expected but missing {missing:?}; present but not expected {extra:?}"
        ));
    }
    let mask_query = |r: &Request| {
        let mut pairs = query_pairs(&r.query);
        if mask_signature {
            for (n, v) in &mut pairs {
                if n == "X-Amz-Signature" {
                    *v = MASK.to_owned();
                }
            }
            pairs.sort();
        }
        pairs
    };
    let (eq, aq) = (mask_query(expected), mask_query(actual));
    if eq != aq {
        let missing: Vec<_> = eq.iter().filter(|p| !aq.contains(p)).collect();
        let extra: Vec<_> = aq.iter().filter(|p| !eq.contains(p)).collect();
        problems.push(format!(
            "query (decoded): expected but missing {missing:?}; present but not expected {extra:?}"
        ));
    }
    if expected.body != actual.body {
        problems.push(format!(
            "body: expected {:?}, found {:?}",
            String::from_utf8_lossy(&expected.body),
            String::from_utf8_lossy(&actual.body)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

// ---------------------------------------------------------------------------
// context.json and our legacy contexts

/// Signing parameters in `context.json` form.
#[derive(Clone)]
struct Context {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration_in_seconds: Option<u64>,
    normalize: bool,
    region: String,
    service: String,
    sign_body: bool,
    timestamp: String,
    omit_session_token: bool,
}

fn context_from_json(v: &Value) -> Result<Context, String> {
    let s = |key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("expected string field {key:?}"))
    };
    let creds = v
        .get("credentials")
        .ok_or("expected object field \"credentials\"")?;
    let cs = |key: &str| {
        creds
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("expected string field \"credentials.{key}\""))
    };
    let flag = |key: &str| v.get(key).and_then(Value::as_bool);
    Ok(Context {
        access_key_id: cs("access_key_id")?,
        secret_access_key: cs("secret_access_key")?,
        token: creds
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_owned),
        expiration_in_seconds: v.get("expiration_in_seconds").and_then(Value::as_u64),
        normalize: flag("normalize").ok_or("expected boolean field \"normalize\"")?,
        region: s("region")?,
        service: s("service")?,
        sign_body: flag("sign_body").ok_or("expected boolean field \"sign_body\"")?,
        timestamp: s("timestamp")?,
        omit_session_token: flag("omit_session_token").unwrap_or(false),
    })
}

impl Context {
    fn credentials(&self) -> Credentials {
        Credentials::new(
            self.access_key_id.clone(),
            Secret::from(self.secret_access_key.as_str()),
            self.token.as_deref().map(Secret::from),
            None,
            "signing test suite",
        )
    }

    fn time(&self) -> Result<AmzDate, String> {
        parse_rfc3339(&self.timestamp)
            .map(AmzDate::from_system_time)
            .map_err(|e| e.to_string())
    }

    fn settings(&self, loc: Loc) -> Result<SigningSettings, String> {
        let location = match loc {
            Loc::Header => SignatureLocation::Headers,
            Loc::Query => SignatureLocation::QueryParams {
                expires_in: self
                    .expiration_in_seconds
                    .ok_or("query signing needs expiration_in_seconds")?,
            },
        };
        Ok(SigningSettings {
            location,
            normalize_path: self.normalize,
            // In query signing the payload-hash line is the body hash; the flag only
            // adds the x-amz-content-sha256 header.
            content_sha256_header: self.sign_body,
            session_token_after_signing: self.omit_session_token,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    Header,
    Query,
}

impl Loc {
    const BOTH: [Loc; 2] = [Loc::Header, Loc::Query];

    fn name(self) -> &'static str {
        match self {
            Loc::Header => "header",
            Loc::Query => "query",
        }
    }

    fn file(self, what: &str) -> String {
        format!("{}-{what}", self.name())
    }
}

/// One signing to run for a case: parameters, location, the stages it checks.
struct Signing {
    context: Context,
    loc: Loc,
    checks: Vec<String>,
    /// Header names (case-insensitive) left out of the signing input.
    drop_request_headers: Vec<String>,
    /// The expected signature when the case has no `*-signature.txt`.
    expected_signature: Option<String>,
}

fn legacy_signings(entry: &Value) -> Result<Vec<Signing>, String> {
    let list = entry.as_array().ok_or("expected a list of signings")?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let at = |m: String| format!("signing {i}: {m}");
            let strings = |key: &str| -> Vec<String> {
                v.get(key)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let loc = match v.get("location").and_then(Value::as_str) {
                Some("header") => Loc::Header,
                Some("query") => Loc::Query,
                other => {
                    return Err(at(format!(
                        "expected location \"header\" or \"query\", found {other:?}"
                    )));
                }
            };
            Ok(Signing {
                context: context_from_json(v).map_err(at)?,
                loc,
                checks: strings("checks"),
                drop_request_headers: strings("drop_request_headers"),
                expected_signature: v
                    .get("expected_signature")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Our request overrides (vectors/sigv4/request-overrides.json)

struct Override {
    case: String,
    field: String,
    found: String,
    use_: String,
    reason: String,
}

/// Reads `request-overrides.json` when the suite has one (it is one of our own files).
fn load_overrides(dir: &VectorDir, cases: &[String], runner: &mut Runner) -> Vec<Override> {
    let Ok(text) = dir.read_own("request-overrides.json") else {
        return Vec::new();
    };
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            runner.fail(
                "request-overrides.json",
                "overrides",
                format!("cannot parse: {e}"),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, o) in v["overrides"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let f = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let ov = Override {
            case: f("case"),
            field: f("field"),
            found: f("found"),
            use_: f("use"),
            reason: f("reason"),
        };
        if ov.field != "path" || ov.reason.trim().is_empty() || ov.case.is_empty() {
            runner.fail(
                "request-overrides.json",
                "overrides",
                format!("entry {i}: expected case, field \"path\", found, use and a reason"),
            );
        } else if !cases.contains(&ov.case) {
            runner.fail(
                &ov.case,
                "overrides",
                "request-overrides.json names a case folder that does not exist",
            );
        } else {
            out.push(ov);
        }
    }
    out
}

/// Applies the overrides for `case` to its parsed request.txt; a stale override
/// (request.txt no longer holds `found`) is a failure.
fn apply_overrides(case: &str, request: &mut Request, overrides: &[Override], runner: &mut Runner) {
    for o in overrides.iter().filter(|o| o.case == case) {
        if request.path == o.found {
            runner.pass();
            runner.note(format!(
                "override {case}: request.txt path {:?} signed as {:?}: {}",
                o.found, o.use_, o.reason
            ));
            request.path = o.use_.clone();
        } else {
            runner.fail(case, "overrides", format!(
                "request-overrides.json expects request.txt's path to be {:?}, found {:?}: the override is stale",
                o.found, request.path
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Skips and stage coverage

struct Skip {
    case: String,
    stage: String,
    reason: String,
}

/// Which stages ran and which are skipped, per case.
struct Coverage {
    skips: Vec<Skip>,
    ran: BTreeSet<(String, String)>,
}

impl Coverage {
    fn load(dir: &VectorDir, runner: &mut Runner) -> Self {
        let mut skips = Vec::new();
        match dir
            .read_own("skips.json")
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => {
                for (i, s) in v["skips"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    let field = |k: &str| {
                        s.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let skip = Skip {
                        case: field("case"),
                        stage: field("stage"),
                        reason: field("reason"),
                    };
                    if skip.case.is_empty()
                        || skip.stage.is_empty()
                        || skip.reason.trim().is_empty()
                    {
                        runner.fail(
                            "skips.json",
                            "skips",
                            format!("entry {i}: case, stage and a non-empty reason are required"),
                        );
                        continue;
                    }
                    skips.push(skip);
                }
            }
            Err(e) => runner.fail(
                "skips.json",
                "skips",
                format!("cannot read skips.json: {e}"),
            ),
        }
        Coverage {
            skips,
            ran: BTreeSet::new(),
        }
    }

    fn ran(&mut self, case: &str, stage: &str) {
        self.ran.insert((case.to_owned(), stage.to_owned()));
    }

    fn skip_for(&self, case: &str, stage: &str) -> Option<&Skip> {
        let loc = stage.split('/').next().unwrap_or(stage);
        self.skips
            .iter()
            .find(|s| s.case == case && (s.stage == "*" || s.stage == stage || s.stage == loc))
    }

    fn whole_case_skipped(&self, case: &str) -> bool {
        self.skips.iter().any(|s| s.case == case && s.stage == "*")
    }

    /// Every stage in `universe` (case → stages) ran or is skipped, not both;
    /// every skip names an existing case and a known stage.
    fn finish(&self, universe: &BTreeMap<String, Vec<String>>, runner: &mut Runner) {
        // Skipped stages, grouped by the skip entry that covers them.
        let mut skipped: BTreeMap<(String, String), (Vec<String>, String)> = BTreeMap::new();
        for (case, stages) in universe {
            for stage in stages {
                let ran = self.ran.contains(&(case.clone(), stage.clone()));
                match (ran, self.skip_for(case, stage)) {
                    (true, Some(s)) => runner.fail(
                        case,
                        stage,
                        format!(
                            "listed in skips.json ({:?}) but it ran: remove the skip",
                            s.stage
                        ),
                    ),
                    (false, None) => {
                        runner.fail(case, stage, "neither run nor listed in skips.json")
                    }
                    (false, Some(s)) => skipped
                        .entry((case.clone(), s.stage.clone()))
                        .or_insert_with(|| (Vec::new(), s.reason.clone()))
                        .0
                        .push(stage.clone()),
                    (true, None) => {}
                }
            }
        }
        for ((case, entry), (stages, reason)) in skipped {
            runner.note(format!(
                "skipped {case} [{entry}] ({}): {reason}",
                stages.join(", ")
            ));
        }
        for s in &self.skips {
            match universe.get(&s.case) {
                None => runner.fail(
                    &s.case,
                    &s.stage,
                    "skips.json names a case folder that does not exist",
                ),
                Some(stages) => {
                    let known = s.stage == "*"
                        || stages.iter().any(|st| {
                            *st == s.stage || st.split('/').next() == Some(s.stage.as_str())
                        });
                    if !known {
                        runner.fail(
                            &s.case,
                            &s.stage,
                            "skips.json names a stage the runner does not know",
                        );
                    }
                }
            }
        }
        for (case, stage) in &self.ran {
            if !universe.get(case).is_some_and(|s| s.contains(stage)) {
                runner.fail(
                    case,
                    stage,
                    "internal: a stage ran that is not in the stage list",
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Shared case plumbing

/// Reads and strips one trailing newline; records a failure when missing.
fn expected_text(
    dir: &VectorDir,
    case: &str,
    file: &str,
    stage: &str,
    runner: &mut Runner,
) -> Option<String> {
    match dir.read_text(&format!("{case}/{file}")) {
        Some(t) => Some(strip_one_newline(&t).to_owned()),
        None => {
            runner.fail(
                case,
                stage,
                format!("expected file {file} is missing (or not UTF-8)"),
            );
            None
        }
    }
}

/// SHA-256 of the expected canonical request equals the expected string to sign's
/// last line. Runs when both files exist.
fn consistency(
    dir: &VectorDir,
    case: &str,
    creq: &str,
    sts: &str,
    stage: &str,
    cov: &mut Coverage,
    runner: &mut Runner,
) {
    if !(dir.has(&format!("{case}/{creq}")) && dir.has(&format!("{case}/{sts}"))) {
        return;
    }
    cov.ran(case, stage);
    let (Some(c), Some(s)) = (
        expected_text(dir, case, creq, stage, runner),
        expected_text(dir, case, sts, stage, runner),
    ) else {
        return;
    };
    let hash = sha256_hex(c.as_bytes());
    let last = s.rsplit('\n').next().unwrap_or_default();
    runner.check(case, stage, hash == last, || {
        format!("SHA-256({creq}) is {hash}, but the last line of {sts} is {last:?}")
    });
}

fn read_request(
    dir: &VectorDir,
    case: &str,
    file: &str,
    stage: &str,
    runner: &mut Runner,
) -> Option<Request> {
    let Some(bytes) = dir.read(&format!("{case}/{file}")) else {
        runner.fail(case, stage, format!("{file} is missing"));
        return None;
    };
    match parse_request(&bytes) {
        Ok(r) => Some(r),
        Err(e) => {
            runner.fail(case, stage, format!("cannot parse {file}: {e}"));
            None
        }
    }
}

fn read_context(dir: &VectorDir, case: &str, runner: &mut Runner) -> Option<Context> {
    let text = dir.read_text(&format!("{case}/context.json"))?;
    match serde_json::from_str::<Value>(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| context_from_json(&v))
    {
        Ok(c) => Some(c),
        Err(e) => {
            runner.fail(case, "context", format!("cannot read context.json: {e}"));
            None
        }
    }
}

fn sign(
    signer: &Signer,
    request: &Request,
    drop: &[String],
    context: &Context,
    algorithm: Algorithm,
    loc: Loc,
) -> Result<SigningOutput, String> {
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter(|(n, _)| !drop.iter().any(|d| d.eq_ignore_ascii_case(n)))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let signable = SignableRequest {
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &headers,
        body: &request.body,
    };
    let credentials = context.credentials();
    let params = SigningParams {
        credentials: &credentials,
        algorithm,
        region: &context.region,
        service: &context.service,
        time: context.time()?,
        settings: context.settings(loc)?,
    };
    signer.sign(&signable, &params).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// SigV4

const V4_STAGES: [&str; 5] = [
    "canonical-request",
    "string-to-sign",
    "consistency",
    "signature",
    "signed-request",
];
const V4_OWN_FILES: &[&str] = &[
    "README.md",
    "skips.json",
    "legacy-contexts.json",
    "request-overrides.json",
];

#[test]
fn sigv4_signing_suite() {
    let mut runner = Runner::new("sigv4");
    let dir = VectorDir::open("sigv4", V4_OWN_FILES, &mut runner);
    let mut cov = Coverage::load(&dir, &mut runner);
    let legacy: Value = match dir
        .read_own("legacy-contexts.json")
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            runner.fail(
                "legacy-contexts.json",
                "context",
                format!("cannot read: {e}"),
            );
            Value::Null
        }
    };
    // One signer for the whole run: its key cache sees changing credentials,
    // regions, services and days, as a long-running relay's would.
    let signer = Signer::new();
    let cases = dir.case_folders();
    let overrides = load_overrides(&dir, &cases, &mut runner);
    let mut universe = BTreeMap::new();
    let mut signings_run = 0usize;
    let mut skipped_cases = BTreeSet::new();

    for case in &cases {
        let stages: Vec<String> = Loc::BOTH
            .iter()
            .flat_map(|l| V4_STAGES.iter().map(move |s| format!("{}/{s}", l.name())))
            .collect();
        universe.insert(case.clone(), stages);
        if cov.whole_case_skipped(case) {
            skipped_cases.insert(case.clone());
            continue;
        }
        let Some(mut request) = read_request(&dir, case, "request.txt", "request", &mut runner)
        else {
            continue;
        };
        apply_overrides(case, &mut request, &overrides, &mut runner);
        let signings: Vec<Signing> = if dir.has(&format!("{case}/context.json")) {
            let Some(ctx) = read_context(&dir, case, &mut runner) else {
                continue;
            };
            Loc::BOTH
                .iter()
                .map(|&loc| Signing {
                    context: ctx.clone(),
                    loc,
                    checks: V4_STAGES
                        .iter()
                        .filter(|s| **s != "consistency")
                        .map(|s| (*s).to_owned())
                        .collect(),
                    drop_request_headers: Vec::new(),
                    expected_signature: None,
                })
                .collect()
        } else if let Some(entry) = legacy["cases"].get(case.as_str()) {
            match legacy_signings(entry) {
                Ok(s) => s,
                Err(e) => {
                    runner.fail(case, "context", format!("legacy-contexts.json: {e}"));
                    continue;
                }
            }
        } else {
            runner.fail(
                case,
                "context",
                "no context.json and no entry in legacy-contexts.json",
            );
            continue;
        };

        for loc in Loc::BOTH {
            let stage = format!("{}/consistency", loc.name());
            consistency(
                &dir,
                case,
                &loc.file("canonical-request.txt"),
                &loc.file("string-to-sign.txt"),
                &stage,
                &mut cov,
                &mut runner,
            );
        }
        for s in &signings {
            signings_run += 1;
            run_v4_signing(&dir, case, &request, s, &signer, &mut cov, &mut runner);
        }
    }
    for case in legacy["cases"]
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if !cases.contains(&case) {
            runner.fail(
                &case,
                "context",
                "legacy-contexts.json names a case folder that does not exist",
            );
        } else if dir.has(&format!("{case}/context.json")) {
            runner.fail(&case, "context", "legacy-contexts.json has an entry but the case ships a context.json: remove the entry");
        }
    }
    cov.finish(&universe, &mut runner);
    dir.check_all_read(&mut runner, &skipped_cases);
    let summary = format!(
        "{} cases, {} signings, {} skipped stage entries",
        cases.len(),
        signings_run,
        cov.skips.len()
    );
    runner.finish(&summary);
}

fn run_v4_signing(
    dir: &VectorDir,
    case: &str,
    request: &Request,
    s: &Signing,
    signer: &Signer,
    cov: &mut Coverage,
    runner: &mut Runner,
) {
    let l = s.loc;
    let out = match sign(
        signer,
        request,
        &s.drop_request_headers,
        &s.context,
        Algorithm::V4,
        l,
    ) {
        Ok(o) => Some(o),
        Err(e) => {
            runner.fail(
                case,
                &format!("{}/sign", l.name()),
                format!("signing failed: {e}"),
            );
            None
        }
    };
    for check in &s.checks {
        let stage = format!("{}/{check}", l.name());
        if !V4_STAGES.contains(&check.as_str()) || check == "consistency" {
            runner.fail(case, &stage, "unknown check in legacy-contexts.json");
            continue;
        }
        cov.ran(case, &stage);
        let Some(out) = &out else {
            runner.fail(case, &stage, "not checked: signing failed");
            continue;
        };
        match check.as_str() {
            "canonical-request" => {
                if let Some(e) =
                    expected_text(dir, case, &l.file("canonical-request.txt"), &stage, runner)
                {
                    runner.check_eq(case, &stage, &e, out.canonical_request.as_str());
                }
            }
            "string-to-sign" => {
                if let Some(e) =
                    expected_text(dir, case, &l.file("string-to-sign.txt"), &stage, runner)
                {
                    runner.check_eq(case, &stage, &e, out.string_to_sign.as_str());
                }
            }
            "signature" => {
                let file = l.file("signature.txt");
                let expected = if dir.has(&format!("{case}/{file}")) {
                    expected_text(dir, case, &file, &stage, runner)
                } else if let Some(sig) = &s.expected_signature {
                    Some(sig.clone())
                } else {
                    runner.fail(case, &stage, format!("no {file} and no expected_signature"));
                    None
                };
                if let Some(e) = expected {
                    runner.check_eq(case, &stage, e.trim(), &out.signature);
                }
            }
            "signed-request" => {
                if let Some(expected) =
                    read_request(dir, case, &l.file("signed-request.txt"), &stage, runner)
                {
                    let actual = apply(request, out);
                    match compare_signed(&expected, &actual, false) {
                        Ok(()) => runner.pass(),
                        Err(e) => runner.fail(case, &stage, e),
                    }
                }
            }
            _ => unreachable!(),
        }
    }
}

// ---------------------------------------------------------------------------
// SigV4A

const V4A_STAGES: [&str; 7] = [
    "canonical-request",
    "string-to-sign",
    "consistency",
    "suite-signature-verifies",
    "suite-signed-request-signature-verifies",
    "own-signature-verifies",
    "signed-request",
];
const V4A_LEGACY_STAGES: [&str; 3] = [
    "legacy/canonical-request",
    "legacy/string-to-sign",
    "legacy/consistency",
];
const V4A_OWN_FILES: &[&str] = &["README.md", "skips.json", "request-overrides.json"];

#[test]
fn sigv4a_signing_suite() {
    let mut runner = Runner::new("sigv4a");
    let dir = VectorDir::open("sigv4a", V4A_OWN_FILES, &mut runner);
    let mut cov = Coverage::load(&dir, &mut runner);
    let signer = Signer::new();
    let cases = dir.case_folders();
    let overrides = load_overrides(&dir, &cases, &mut runner);
    let mut universe = BTreeMap::new();
    let mut signings_run = 0usize;
    let mut suite_signatures_verified = 0usize;
    let mut skipped_cases = BTreeSet::new();

    for case in &cases {
        let has_legacy = dir.has(&format!("{case}/canonical-request.txt"))
            || dir.has(&format!("{case}/string-to-sign.txt"));
        let mut stages: Vec<String> = vec!["public-key".to_owned()];
        for l in Loc::BOTH {
            stages.extend(V4A_STAGES.iter().map(|s| format!("{}/{s}", l.name())));
        }
        if has_legacy {
            stages.extend(V4A_LEGACY_STAGES.iter().map(|s| (*s).to_owned()));
        }
        universe.insert(case.clone(), stages);
        if cov.whole_case_skipped(case) {
            skipped_cases.insert(case.clone());
            continue;
        }
        let Some(mut request) = read_request(&dir, case, "request.txt", "request", &mut runner)
        else {
            continue;
        };
        apply_overrides(case, &mut request, &overrides, &mut runner);
        let Some(ctx) = read_context(&dir, case, &mut runner) else {
            runner.fail(case, "context", "context.json is missing");
            continue;
        };

        // The suite's public key, and ours derived from context.json's credentials.
        cov.ran(case, "public-key");
        let suite_key = dir
            .read_text(&format!("{case}/public-key.json"))
            .ok_or_else(|| "public-key.json is missing".to_owned())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
            .and_then(|v| {
                let x = v["X"]
                    .as_str()
                    .ok_or("public-key.json: expected string X")?
                    .to_ascii_lowercase();
                let y = v["Y"]
                    .as_str()
                    .ok_or("public-key.json: expected string Y")?
                    .to_ascii_lowercase();
                Ok((x, y))
            });
        let verifying_key = match &suite_key {
            Ok((x, y)) => {
                match signer.v4a_public_key(&ctx.credentials()) {
                    Ok((ox, oy)) => runner.check(case, "public-key", (&ox, &oy) == (x, y), || {
                        format!("public-key.json has X={x} Y={y}; derived from context.json's credentials: X={ox} Y={oy}")
                    }),
                    Err(e) => runner.fail(case, "public-key", format!("key derivation failed: {e}")),
                }
                match verifying_key_from_xy(x, y) {
                    Ok(k) => Some(k),
                    Err(e) => {
                        runner.fail(
                            case,
                            "public-key",
                            format!("public-key.json is not a P-256 point: {e}"),
                        );
                        None
                    }
                }
            }
            Err(e) => {
                runner.fail(case, "public-key", e.clone());
                None
            }
        };

        let mut header_out = None;
        for l in Loc::BOTH {
            let p = |s: &str| format!("{}/{s}", l.name());
            consistency(
                &dir,
                case,
                &l.file("canonical-request.txt"),
                &l.file("string-to-sign.txt"),
                &p("consistency"),
                &mut cov,
                &mut runner,
            );
            signings_run += 1;
            let out = match sign(&signer, &request, &[], &ctx, Algorithm::V4a, l) {
                Ok(o) => o,
                Err(e) => {
                    for s in V4A_STAGES.iter().filter(|s| **s != "consistency") {
                        cov.ran(case, &p(s));
                        runner.fail(case, &p(s), format!("not checked: signing failed: {e}"));
                    }
                    continue;
                }
            };

            cov.ran(case, &p("canonical-request"));
            if let Some(e) = expected_text(
                &dir,
                case,
                &l.file("canonical-request.txt"),
                &p("canonical-request"),
                &mut runner,
            ) {
                runner.check_eq(
                    case,
                    &p("canonical-request"),
                    &e,
                    out.canonical_request.as_str(),
                );
            }
            cov.ran(case, &p("string-to-sign"));
            let expected_sts = expected_text(
                &dir,
                case,
                &l.file("string-to-sign.txt"),
                &p("string-to-sign"),
                &mut runner,
            );
            if let Some(e) = &expected_sts {
                runner.check_eq(case, &p("string-to-sign"), e, out.string_to_sign.as_str());
            }

            // The suite's signatures (random ECDSA nonces: not reproducible) verify
            // under public-key.json over the suite's string to sign.
            cov.ran(case, &p("suite-signature-verifies"));
            let sig_file = expected_text(
                &dir,
                case,
                &l.file("signature.txt"),
                &p("suite-signature-verifies"),
                &mut runner,
            );
            let expected_signed = read_request(
                &dir,
                case,
                &l.file("signed-request.txt"),
                &p("signed-request"),
                &mut runner,
            );
            cov.ran(case, &p("suite-signed-request-signature-verifies"));
            let carried = expected_signed.as_ref().and_then(carried_signature);
            for (stage, sig) in [
                (p("suite-signature-verifies"), sig_file.clone()),
                (
                    p("suite-signed-request-signature-verifies"),
                    carried.clone(),
                ),
            ] {
                match (&verifying_key, &expected_sts, sig) {
                    (Some(k), Some(sts), Some(sig)) => {
                        let ok = verify(k, sts, sig.trim());
                        suite_signatures_verified += usize::from(ok);
                        runner.check(case, &stage, ok, || {
                            format!("the suite's signature {sig} does not verify under public-key.json over {:?}", sts)
                        });
                    }
                    (_, _, None)
                        if stage.ends_with("suite-signed-request-signature-verifies")
                            && expected_signed.is_some() =>
                    {
                        runner.fail(
                            case,
                            &stage,
                            "no Signature= / X-Amz-Signature in the signed request",
                        )
                    }
                    // A missing key, string to sign, signature file or signed request
                    // has been reported already by the stage that read it.
                    _ => {}
                }
            }

            cov.ran(case, &p("own-signature-verifies"));
            match &verifying_key {
                Some(k) => runner.check(case, &p("own-signature-verifies"), verify(k, out.string_to_sign.as_str(), &out.signature), || {
                    format!("our signature {} does not verify under public-key.json over our string to sign", out.signature)
                }),
                None => runner.fail(case, &p("own-signature-verifies"), "not checked: no public key"),
            }

            cov.ran(case, &p("signed-request"));
            if let Some(expected) = &expected_signed {
                let actual = apply(&request, &out);
                match compare_signed(expected, &actual, true) {
                    Ok(()) => runner.pass(),
                    Err(e) => runner.fail(case, &p("signed-request"), e),
                }
                // The signature we applied is the one we verified above.
                runner.check(
                    case,
                    &p("signed-request"),
                    carried_signature(&actual).as_deref() == Some(out.signature.as_str()),
                    || "the signed request does not carry our signature".to_owned(),
                );
            }
            if l == Loc::Header {
                header_out = Some(out);
            }
        }

        if has_legacy {
            // v4a/get-vanilla keeps the old suite's file names for the header variant.
            consistency(
                &dir,
                case,
                "canonical-request.txt",
                "string-to-sign.txt",
                "legacy/consistency",
                &mut cov,
                &mut runner,
            );
            for (stage, file) in [
                ("legacy/canonical-request", "canonical-request.txt"),
                ("legacy/string-to-sign", "string-to-sign.txt"),
            ] {
                cov.ran(case, stage);
                let (Some(out), Some(e)) = (
                    &header_out,
                    expected_text(&dir, case, file, stage, &mut runner),
                ) else {
                    if header_out.is_none() {
                        runner.fail(case, stage, "not checked: header signing failed");
                    }
                    continue;
                };
                let actual = if stage == "legacy/canonical-request" {
                    out.canonical_request.as_str()
                } else {
                    out.string_to_sign.as_str()
                };
                runner.check_eq(case, stage, &e, actual);
            }
        }
    }
    cov.finish(&universe, &mut runner);
    dir.check_all_read(&mut runner, &skipped_cases);
    let summary = format!(
        "{} cases, {} signings, {} suite signatures verified, {} skipped stage entries",
        cases.len(),
        signings_run,
        suite_signatures_verified,
        cov.skips.len()
    );
    runner.finish(&summary);
}

// ---------------------------------------------------------------------------
// The harness's own pieces

#[test]
fn request_parser_handles_the_suite_quirks() {
    let r = parse_request(b"GET /example space/?a=b&c HTTP/1.1\nHost:h\nMy-Header1:value1\n  value2\n     value3\n\nbody\n").unwrap();
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.query.as_str()),
        ("GET", "/example space/", "a=b&c")
    );
    assert_eq!(
        r.headers,
        [
            ("Host".to_owned(), "h".to_owned()),
            ("My-Header1".to_owned(), "value1\nvalue2\nvalue3".to_owned())
        ]
    );
    assert_eq!(r.body, b"body\n");
    let r = parse_request("GET /\u{1234} HTTP/1.1\r\nHost: h \r\n".as_bytes()).unwrap();
    assert_eq!(
        (r.path.as_str(), r.headers[0].1.as_str(), r.body.len()),
        ("/\u{1234}", "h", 0)
    );
    let r = parse_request(b"POST /a%3Ab\nHost:h").unwrap();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/a%3Ab"));
    assert!(parse_request(b"GET\n").is_err());
    assert!(parse_request(b"GET / HTTP/1.1\nno-colon\n").is_err());
}

#[test]
fn signature_masking_and_extraction() {
    let v = "AWS4-ECDSA-P256-SHA256 Credential=A/20150830/service/aws4_request, SignedHeaders=host, Signature=3045ab";
    assert_eq!(authorization_signature(v), Some("3045ab"));
    assert_eq!(
        mask_authorization(v),
        format!("{}{MASK}", &v[..v.len() - 6])
    );
    assert!(describe_difference("a\nb", "a\nc").contains("line 2"));
}
