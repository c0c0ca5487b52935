//! The differential checks: our signer and profile parser against the official
//! Rust implementations, crates.io `aws-sigv4` 1.6.4 (`sigv4a` feature) and
//! `aws-runtime`'s `env_config`, on the same input.
//!
//! Owns: turning one fuzz input into the same request (or the same files) for
//! both implementations, normalising only what the two document differently
//! (each normalisation is listed in `fuzz/README.md`, "Differential
//! normalisations", and marked `NORMALISE` here), and failing on any other
//! difference.
//! Refuses: being compiled into anything but the fuzz crate: the official crates
//! are dependencies of `fuzz/Cargo.toml` only. `tests/fuzz_regressions.rs`
//! cannot include this file; it replays these targets' inputs through the
//! library-only check that reads the same layout (`checks::DIFFERENTIAL`), and
//! `fuzz/ci.sh` replays them through this file.

#![allow(dead_code)] // each fuzz target uses one function of this module

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_runtime::env_config::property::PropertiesKey;
use aws_runtime::env_config::section::EnvConfigSections;
use aws_sigv4::http_request::{
    self as aws_http, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody,
    SignableRequest as AwsRequest, SignatureLocation as AwsLocation,
    SigningSettings as AwsSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::{v4 as aws_v4, v4a as aws_v4a};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_types::os_shim_internal::{Env, Fs};
use mcp_sigv4::credential_types::Credentials;
use mcp_sigv4::credentials::ini::{FileKind, ProfileSet, sub_properties};
use mcp_sigv4::secret::Secret;
use mcp_sigv4::sigv4::v4a::{self, DerivedKey};
use mcp_sigv4::sigv4::{
    Algorithm, SIGNER_HEADERS, SignableRequest, SignatureLocation, Signer, SigningParams,
    SigningSettings,
};
use mcp_sigv4::time::AmzDate;

use crate::checks::SigInput;

/// Every differential target, by the name of its file in `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("sigv4_aws", sigv4_aws),
    ("sigv4a_key_aws", sigv4a_key_aws),
    ("profile_aws", profile_aws),
];

// ---------------------------------------------------------------------------
// Capturing what aws-sigv4 logs: its canonical request (and, for query
// signing, its string to sign) are crate-private and reach the outside only as
// `tracing::trace!` fields.

thread_local! {
    static TRACED: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

struct Capture;

impl Capture {
    fn wanted(meta: &tracing::Metadata<'_>) -> bool {
        meta.target().starts_with("aws_sigv4") && meta.fields().field("canonical_request").is_some()
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if Capture::wanted(meta) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        Capture::wanted(meta)
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields;
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                // `%x` fields arrive as a DisplayValue whose Debug is x's Display.
                let text = format!("{value:?}");
                TRACED.with(|t| t.borrow_mut().push((field.name().to_owned(), text)));
            }
        }
        event.record(&mut Fields);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn install_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture)
            .expect("no other tracing subscriber in the fuzz crate");
    });
}

fn traced(name: &str) -> Option<String> {
    TRACED.with(|t| {
        t.borrow()
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    })
}

// ---------------------------------------------------------------------------
// sigv4_aws

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjE/token+with=chars";
const REGION: &str = "us-east-1";
const REGION_SET: &str = "us-east-1,us-west-2";
const SERVICE: &str = "bedrock-agentcore";

/// Headers aws-sigv4 logs as `** redacted (length=N) **` in its canonical
/// request (`SIGV4_SENSITIVE_HEADERS` in its `canonical_request.rs`).
const AWS_REDACTED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-amz-security-token",
    "cookie",
    "set-cookie",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
];

/// The `canonical_request` input layout, signed by both signers with the same
/// credentials, scope and clock: the canonical request, the string to sign,
/// the signature and every header or query parameter added must be equal.
pub fn sigv4_aws(data: &[u8]) {
    install_capture();
    let input = SigInput::read(data);
    let v4a = input.flags & 1 != 0;
    let query_signing = input.flags & 2 != 0;
    let normalize = input.flags & 4 != 0;
    let sha256_header = input.flags & 8 != 0;
    let with_token = input.flags & 16 != 0;
    let token_after = input.flags & 32 != 0;

    // NORMALISE (input contract): aws-sigv4 requires that the request carry
    // none of the headers the signer adds; ours ignores them. Both get the
    // request without them.
    // NORMALISE (query signing): aws-sigv4 never signs x-amz-user-agent and
    // x-amz-checksum-mode in a presigned URL; ours signs what it is given.
    // NORMALISE (whitespace): aws-sigv4 trims and folds spaces only; ours folds
    // tabs too (botocore's `' '.join(value.split())`). Tabs become spaces.
    let headers: Vec<(String, String)> = input
        .headers
        .iter()
        .filter(|(n, _)| !SIGNER_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(n)))
        .filter(|(n, _)| {
            !(query_signing
                && (n.eq_ignore_ascii_case("x-amz-user-agent")
                    || n.eq_ignore_ascii_case("x-amz-checksum-mode")))
        })
        .map(|(n, v)| (n.clone(), v.replace('\t', " ")))
        .collect();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();

    // The URI aws-sigv4 parses (with `http::Uri`) must carry exactly our path
    // and query; an input it cannot represent is not compared.
    let path = input.path.as_str();
    let query = input.query.as_str();
    if !(path.is_empty() || path.starts_with('/')) {
        return;
    }
    let mut uri = format!("https://example.amazonaws.com{path}");
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(query);
    }
    let Ok(parsed) = uri.parse::<http::Uri>() else {
        return;
    };
    let want_path = if path.is_empty() { "/" } else { path };
    if parsed.path() != want_path || parsed.query().unwrap_or("") != query {
        return;
    }
    // NORMALISE (query decoding): aws-sigv4 reads the query as
    // application/x-www-form-urlencoded (`+` is a space; escapes that decode to
    // invalid UTF-8 become U+FFFD); ours decodes RFC 3986 escapes only and
    // keeps the bytes. Queries where the two readings differ are not compared.
    if query.contains('+') || !query_decodes_to_utf8(query) {
        return;
    }

    let time = UNIX_EPOCH + Duration::from_secs(input.secs);
    let ours_creds = Credentials::new(
        AKID,
        Secret::from(SECRET),
        with_token.then(|| Secret::from(TOKEN)),
        None,
        "fuzz",
    );
    let ours = signer()
        .sign(
            &SignableRequest {
                method: &input.method,
                path,
                query,
                headers: &pairs,
                body: &input.body,
            },
            &SigningParams {
                credentials: &ours_creds,
                algorithm: if v4a { Algorithm::V4a } else { Algorithm::V4 },
                region: if v4a { REGION_SET } else { REGION },
                service: SERVICE,
                time: AmzDate::from_system_time(time),
                settings: SigningSettings {
                    location: if query_signing {
                        SignatureLocation::QueryParams { expires_in: 300 }
                    } else {
                        SignatureLocation::Headers
                    },
                    normalize_path: normalize,
                    content_sha256_header: sha256_header,
                    session_token_after_signing: token_after,
                },
            },
        )
        .expect("the fixed credentials derive a SigV4A key");

    let mut settings = AwsSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    settings.uri_path_normalization_mode = if normalize {
        UriPathNormalizationMode::Enabled
    } else {
        UriPathNormalizationMode::Disabled
    };
    settings.payload_checksum_kind = if sha256_header {
        PayloadChecksumKind::XAmzSha256
    } else {
        PayloadChecksumKind::NoHeader
    };
    settings.signature_location = if query_signing {
        AwsLocation::QueryParams
    } else {
        AwsLocation::Headers
    };
    settings.expires_in = Some(Duration::from_secs(300));
    // Ours signs every header it is given (its callers choose them); aws-sigv4
    // by default leaves out user-agent, x-amzn-trace-id and transfer-encoding.
    settings.excluded_headers = None;
    settings.session_token_mode = if token_after {
        SessionTokenMode::Exclude
    } else {
        SessionTokenMode::Include
    };
    let identity: Identity = aws_credential_types::Credentials::new(
        AKID,
        SECRET,
        with_token.then(|| TOKEN.to_owned()),
        None,
        "fuzz",
    )
    .into();
    let params: aws_http::SigningParams<'_> = if v4a {
        aws_v4a::SigningParams::builder()
            .identity(&identity)
            .region_set(REGION_SET)
            .name(SERVICE)
            .time(time)
            .settings(settings)
            .build()
            .expect("every v4a parameter is set")
            .into()
    } else {
        aws_v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(SERVICE)
            .time(time)
            .settings(settings)
            .build()
            .expect("every v4 parameter is set")
            .into()
    };
    let request = match AwsRequest::new(
        &input.method,
        uri.as_str(),
        pairs.iter().copied(),
        SignableBody::Bytes(&input.body),
    ) {
        Ok(r) => r,
        Err(_) => return,
    };
    TRACED.with(|t| t.borrow_mut().clear());
    let Ok(signed) = aws_http::sign(request, &params) else {
        // NORMALISE (header values): aws-sigv4 refuses a value `http` cannot
        // send (control characters other than tab); such a request cannot
        // be sent, so it is not compared.
        assert!(
            headers
                .iter()
                .any(|(_, v)| http::HeaderValue::from_str(v.trim_matches(' ')).is_err()),
            "aws-sigv4 refused a request whose header values are all valid: {headers:?}"
        );
        return;
    };
    let (instructions, aws_signature) = signed.into_parts();

    // The canonical request, as aws-sigv4 logs it (sensitive values redacted).
    let aws_creq = traced("canonical_request").expect(
        "aws-sigv4 logged no canonical request: is tracing compiled out (max_level features)?",
    );
    let ours_creq = redact(
        ours.canonical_request.as_str(),
        &pairs,
        with_token && !token_after,
    );
    assert_eq!(
        ours_creq, aws_creq,
        "canonical request (ours, then aws-sigv4's)"
    );

    // The string to sign: logged for query signing; in every case aws-sigv4's
    // own signing function over our string to sign gives its signature.
    let sts = ours.string_to_sign.as_str();
    if query_signing {
        let aws_sts = traced("string_to_sign").expect("aws-sigv4 logged its string to sign");
        assert_eq!(sts, aws_sts, "string to sign (ours, then aws-sigv4's)");
    }
    let recomputed = if v4a {
        let key = aws_v4a::generate_signing_key(AKID, SECRET);
        aws_v4a::calculate_signature(&key, sts.as_bytes())
    } else {
        let key = aws_v4::generate_signing_key(SECRET, time, REGION, SERVICE);
        aws_v4::calculate_signature(key, sts.as_bytes())
    };
    assert_eq!(
        recomputed, aws_signature,
        "aws-sigv4 signed another string to sign than ours:\n{sts}"
    );
    // SigV4A: our request signature is ring's, with a hedged (random) nonce, so
    // it verifies rather than matches; our RFC 6979 path gives aws-sigv4's bytes.
    let ours_signature = if v4a {
        let key = DerivedKey::derive(AKID, SECRET).expect("derivation succeeds");
        assert!(
            v4a::verify(key.verifying_key(), sts, &ours.signature),
            "our SigV4A signature does not verify over our string to sign"
        );
        key.sign_rfc6979(sts)
    } else {
        ours.signature.clone()
    };
    assert_eq!(
        ours_signature, aws_signature,
        "signature (ours, then aws-sigv4's)"
    );
    let same_signature = |v: &str| v.replace(&ours.signature, &ours_signature);

    // What each adds to the request.
    let ours_headers: BTreeSet<(String, String)> = ours
        .headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), same_signature(v.expose())))
        .collect();
    let aws_headers: BTreeSet<(String, String)> = instructions
        .headers()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    assert_eq!(
        ours_headers, aws_headers,
        "added headers (ours, then aws-sigv4's)"
    );
    let ours_params: BTreeSet<(String, String)> = ours
        .query_params
        .iter()
        .map(|(n, v)| ((*n).to_owned(), same_signature(v.expose())))
        .collect();
    let aws_params: BTreeSet<(String, String)> = instructions
        .params()
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.to_string()))
        .collect();
    assert_eq!(
        ours_params, aws_params,
        "added query parameters (ours, then aws-sigv4's)"
    );
}

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(Signer::new)
}

/// True when every `%XX` escape sequence of `query` decodes to UTF-8 (name by
/// name, value by value, as both signers split them).
fn query_decodes_to_utf8(query: &str) -> bool {
    query
        .split('&')
        .flat_map(|item| item.splitn(2, '='))
        .all(|part| {
            let bytes: Vec<u8> = percent_encoding::percent_decode_str(part).collect();
            std::str::from_utf8(&bytes).is_ok()
        })
}

/// Our canonical request with aws-sigv4's log redaction applied: the value of
/// each header it redacts becomes `** redacted (length=N) **`, N the sum of
/// the value lengths (without the `,` that joins several).
fn redact(creq: &str, headers: &[(&str, &str)], token_signed: bool) -> String {
    let mut out = Vec::new();
    let mut in_headers = false;
    for (i, line) in creq.split('\n').enumerate() {
        if i == 3 {
            in_headers = true;
        }
        if in_headers && line.is_empty() {
            in_headers = false;
        }
        let redacted = in_headers
            .then(|| line.split_once(':'))
            .flatten()
            .filter(|(name, _)| AWS_REDACTED.contains(name));
        match redacted {
            Some((name, value)) => {
                let mut count = headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .count();
                if name == "x-amz-security-token" && token_signed {
                    count += 1;
                }
                let len = value.len() - count.saturating_sub(1);
                out.push(format!("{name}:** redacted (length={len}) **"));
            }
            None => out.push(line.to_owned()),
        }
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------
// sigv4a_key_aws

/// Bytes as an access key id and a secret (split at the first NUL; lossy
/// UTF-8): the SigV4A public key we derive equals the public key of the
/// private scalar aws-sigv4's `sign::v4a::generate_signing_key` derives.
pub fn sigv4a_key_aws(data: &[u8]) {
    let (akid, secret) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let akid = String::from_utf8_lossy(akid);
    let secret = String::from_utf8_lossy(secret);
    let creds = Credentials::new(&*akid, Secret::from(&*secret), None, None, "fuzz");
    let ours = Signer::new().v4a_public_key(&creds);
    let scalar = aws_v4a::generate_signing_key(&akid, &secret);
    let key = p256::SecretKey::from_slice(scalar.as_ref())
        .expect("aws-sigv4 derives a valid P-256 scalar");
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&key.public_key(), false);
    let theirs = (
        hex(point.x().expect("an uncompressed point has x")),
        hex(point.y().expect("an uncompressed point has y")),
    );
    assert_eq!(
        ours.as_ref().ok(),
        Some(&theirs),
        "SigV4A public key for access key {akid:?} (ours, then aws-sigv4's)"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// profile_aws

/// Runs a future that never waits (aws-runtime's loader over in-memory
/// contents does no I/O) to completion.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("aws-runtime's loader waited on in-memory contents"),
    }
}

fn aws_parse(files: &[(FileKind, &str)]) -> Result<EnvConfigSections, String> {
    let mut builder = EnvConfigFiles::builder()
        .include_default_config_file(false)
        .include_default_credentials_file(false);
    for (kind, text) in files {
        let kind = match kind {
            FileKind::Config => EnvConfigFileKind::Config,
            FileKind::Credentials => EnvConfigFileKind::Credentials,
        };
        builder = builder.with_contents(kind, *text);
    }
    let files = builder.build();
    let env = Env::from_slice(&[]);
    let fs = Fs::from_slice(&[]);
    let source = ready(aws_runtime::env_config::source::load(&env, &fs, &files))
        .map_err(|e| format!("load: {e}"))?;
    EnvConfigSections::parse(source).map_err(|e| e.to_string())
}

/// The `profile_file` input (one text as the config file, as the credentials
/// file, and as both) parsed by ours and by aws-runtime: the same outcome, the
/// same error line and message, the same profiles, `[sso-session]` sections
/// and values, and the same `[services]`-style sub-properties.
///
/// What aws-runtime's API allows: `EnvConfigFiles::builder().with_contents`
/// gives the files' text in memory (no file system), `source::load` is async
/// (driven here by `ready`), and `EnvConfigSections::parse` merges them. It
/// lists profile and sso-session names, but gives a property's value only by
/// name (`Profile::get`, `SsoSession::get`, `other_sections().get`), with no
/// way to list a section's keys; so both are asked for every key that could
/// be one: each line's text before `=`, with and without a trailing comment.
pub fn profile_aws(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // NORMALISE (whitespace): the format's whitespace is space and tab (ours,
    // and aws-runtime for trimming values); aws-runtime also takes any Unicode
    // whitespace (`char::is_whitespace`: U+00A0, U+3000, a CR not before LF…)
    // as starting an inline comment and trims it around section names. Inputs
    // with such characters are not compared. A CR is a line ending only
    // before an LF for aws-runtime (`str::lines`), so a CR that ends the file
    // is such a character too (ours ends the line there, as botocore does).
    if text
        .replace("\r\n", "\n")
        .chars()
        .any(|c| c.is_whitespace() && c != ' ' && c != '\t' && c != '\n')
    {
        return;
    }
    for files in [
        &[(FileKind::Config, &*text)][..],
        &[(FileKind::Credentials, &*text)][..],
        &[(FileKind::Config, &*text), (FileKind::Credentials, &*text)][..],
    ] {
        compare_profiles(&text, files);
    }
}

fn compare_profiles(text: &str, files: &[(FileKind, &str)]) {
    let ours = ProfileSet::parse(files.iter().copied());
    let theirs = aws_parse(files);
    let kinds: Vec<FileKind> = files.iter().map(|f| f.0).collect();
    let (ours, theirs) = match (ours, theirs) {
        (Err(o), Err(t)) => {
            // aws-runtime: "error parsing {path} on line N:\n  {message}".
            let expected = format!(" on line {}:\n  {}", o.line, o.message);
            assert!(
                t.ends_with(&expected),
                "{kinds:?}: errors differ: ours {o}, aws-runtime {t:?}"
            );
            return;
        }
        (Ok(o), Ok(t)) => (o, t),
        (o, t) => panic!(
            "{kinds:?}: ours {}, aws-runtime {}",
            o.map_or_else(|e| e.to_string(), |_| "parsed".into()),
            t.map_or_else(|e| e, |_| "parsed".into())
        ),
    };
    let ours_profiles: BTreeSet<&str> = ours.profiles.keys().map(String::as_str).collect();
    // NORMALISE (empty names): aws-runtime's identifier check accepts the
    // empty string, so `[]` in the credentials file is a profile named "" for
    // it; ours drops it (no profile can be selected by an empty name).
    let aws_profiles: BTreeSet<&str> = theirs.profiles().filter(|n| !n.is_empty()).collect();
    assert_eq!(
        ours_profiles, aws_profiles,
        "{kinds:?}: profile names (ours, then aws-runtime's)"
    );
    let ours_sessions: BTreeSet<&str> = ours.sso_sessions.keys().map(String::as_str).collect();
    let aws_sessions: BTreeSet<&str> = theirs.sso_sessions().collect();
    assert_eq!(
        ours_sessions, aws_sessions,
        "{kinds:?}: sso-session names (ours, then aws-runtime's)"
    );

    let keys = candidate_keys(text);
    let ambiguous = ambiguous_sections(text, &kinds);
    for name in &ours_profiles {
        if ambiguous.contains(&Target::Profile((*name).to_owned())) {
            continue;
        }
        let (o, t) = (
            &ours.profiles[*name],
            theirs.get_profile(name).expect("listed"),
        );
        for key in &keys {
            assert_eq!(
                o.get(key).map(String::as_str),
                t.get(key),
                "{kinds:?}: [{name}] {key} (ours, then aws-runtime's)"
            );
        }
    }
    for name in &ours_sessions {
        if ambiguous.contains(&Target::Session((*name).to_owned())) {
            continue;
        }
        let (o, t) = (
            &ours.sso_sessions[*name],
            theirs.sso_session(name).expect("listed"),
        );
        for key in &keys {
            assert_eq!(
                o.get(key).map(String::as_str),
                t.get(key),
                "{kinds:?}: [sso-session {name}] {key} (ours, then aws-runtime's)"
            );
        }
    }
    // Other sections: aws-runtime keeps only their sub-properties, by
    // (prefix, name, property, sub-property).
    let mut ours_subs: BTreeMap<(String, String, String, String), String> = BTreeMap::new();
    for ((prefix, name), props) in &ours.sections {
        if ambiguous.contains(&Target::Section(prefix.clone(), name.clone())) {
            continue;
        }
        for (key, value) in props {
            // NORMALISE (sub-properties): aws-runtime also reads the first line
            // of a value (`k = a=b`, no indented block) as a sub-property; the
            // format's sub-properties are the indented lines after `k =`, as
            // ours reads them. First lines are not compared.
            for (sub, v) in sub_properties(value) {
                ours_subs.insert(
                    (prefix.clone(), name.clone(), key.clone(), sub.to_owned()),
                    v.to_owned(),
                );
            }
        }
    }
    let aws_sub = |prefix: &str, name: &str, key: &str, sub: &str| {
        let k = PropertiesKey::builder()
            .section_key(prefix)
            .section_name(name)
            .property_name(key)
            .sub_property_name(sub)
            .build()
            .expect("all four parts given");
        theirs.other_sections().get(&k).cloned()
    };
    for ((prefix, name, key, sub), value) in &ours_subs {
        assert_eq!(
            aws_sub(prefix, name, key, sub).as_deref(),
            Some(value.as_str()),
            "{kinds:?}: [{prefix} {name}] {key}.{sub} (ours, then aws-runtime's)"
        );
    }
    // And every sub-property aws-runtime could have that ours lacks: each
    // section header of the text with each candidate key and sub-property
    // name (the first-line quirk above excepted), when that is few enough.
    let sections = section_headers(text);
    let subs = candidate_keys(text);
    if sections.len() * keys.len() * subs.len() <= 20_000 {
        for (prefix, name) in &sections {
            if ambiguous.contains(&Target::Section(prefix.clone(), name.clone())) {
                continue;
            }
            for key in &keys {
                for sub in &subs {
                    let theirs_value = aws_sub(prefix, name, key, sub);
                    let ours_value =
                        ours_subs.get(&(prefix.clone(), name.clone(), key.clone(), sub.clone()));
                    if theirs_value.is_some() && ours_value.is_none() {
                        let first_line_quirk = ours
                            .sections
                            .get(&(prefix.clone(), name.clone()))
                            .and_then(|p| p.get(key))
                            .and_then(|v| v.split('\n').next())
                            .and_then(|first| first.split_once('='))
                            .is_some_and(|(k, _)| k.trim_matches([' ', '\t']) == sub);
                        assert!(
                            first_line_quirk,
                            "{kinds:?}: [{prefix} {name}] {key}.{sub}: aws-runtime has {theirs_value:?}, ours none"
                        );
                    }
                }
            }
        }
    }
}

/// Where a section's properties go, as aws-runtime's `normalize.rs` decides.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Profile(String),
    Session(String),
    Section(String, String),
}

/// The inner text of each `[...]` line as aws-runtime keys its raw sections
/// (`prepare_line(line, false)`, brackets stripped), with the section it
/// feeds in a file of `kind`.
fn raw_sections(text: &str, kind: FileKind) -> Vec<(String, Target)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if !line.starts_with('[') {
            continue;
        }
        let mut l = line.trim_matches([' ', '\t']);
        if let Some(cut) = l.find(['#', ';']) {
            l = l[..cut].trim_matches([' ', '\t']);
        }
        let Some(inner) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
            continue;
        };
        let trimmed = inner.trim_matches([' ', '\t']);
        let (prefix, name) = match trimmed.split_once([' ', '\t']) {
            Some((p, n)) => (Some(p.trim()), n.trim()),
            None => (None, trimmed.trim()),
        };
        let target = match (kind, prefix) {
            (FileKind::Config, None) => Target::Profile(name.to_owned()),
            (FileKind::Config, Some("profile")) => Target::Profile(name.to_owned()),
            (FileKind::Config, Some("sso-session")) => Target::Session(name.to_owned()),
            (FileKind::Config, Some(p)) => Target::Section(p.to_owned(), name.to_owned()),
            (FileKind::Credentials, None) => Target::Profile(name.to_owned()),
            (FileKind::Credentials, Some(_)) => continue,
        };
        out.push((inner.to_owned(), target));
    }
    out
}

/// Sections fed by two differently written headers in one file. aws-runtime
/// keeps a file's raw sections in a `HashMap` keyed by the header as written,
/// so which of `[profile a]` and `[profile  a]` wins a key both set depends on
/// the map's iteration order; ours takes the later one. NORMALISE: their
/// values are not compared.
fn ambiguous_sections(text: &str, kinds: &[FileKind]) -> BTreeSet<Target> {
    let mut out = BTreeSet::new();
    for kind in kinds {
        let mut seen: BTreeMap<Target, String> = BTreeMap::new();
        for (raw, target) in raw_sections(text, *kind) {
            match seen.get(&target) {
                Some(first) if *first != raw => {
                    out.insert(target);
                }
                Some(_) => {}
                None => {
                    seen.insert(target, raw);
                }
            }
        }
    }
    out
}

/// (prefix, name) of every prefixed section header in `text`.
fn section_headers(text: &str) -> BTreeSet<(String, String)> {
    raw_sections(text, FileKind::Config)
        .into_iter()
        .filter_map(|(_, t)| match t {
            Target::Section(p, n) => Some((p, n)),
            _ => None,
        })
        .collect()
}

/// Every text that could be a property or sub-property name in `text`: each
/// line's text before its first `=`, trimmed, lower-cased, with and without
/// what follows a `#` or `;`.
fn candidate_keys(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for line in text.split('\n') {
        let Some((before, _)) = line.split_once('=') else {
            continue;
        };
        let trim = |s: &str| s.trim_matches([' ', '\t', '\r']).to_ascii_lowercase();
        keys.insert(trim(before));
        if let Some(cut) = before.find(['#', ';']) {
            keys.insert(trim(&before[..cut]));
        }
    }
    keys
}
