//! Per-request signing time: mcp-sigv4's signer against crates.io `aws-sigv4`.
//!
//! Owns: one realistic AgentCore MCP request (a POST with a 1 KiB JSON-RPC
//! `tools/call` body, five headers and temporary credentials), a check that both
//! signers produce the same headers and signature for it (for SigV4A, whose
//! request signature uses ring's hedged nonce, the same headers bar the
//! signature, the same RFC 6979 signature from our deterministic path, and our
//! request signature verifying under aws-sigv4's key), and a timing of each
//! way of signing it — SigV4, and SigV4A with the derived key cached, derived
//! each request, and as `aws-sigv4` does it — plus the sub-steps, so the report
//! says where the time goes. See README.md for the figures and how to read them.
//! Refuses: timing anything but signing (no I/O, no HTTP request building), and
//! running at all when the two signers disagree: a fast wrong signature is no
//! result.
//!
//! Method: each case is warmed up, then timed in batches of many iterations
//! (about `--batch-ms` each); the batches of all cases are interleaved, round
//! after round, so a slow spell on the machine hits every case alike. Per case
//! the report gives the median, the 90th percentile and the minimum over batches
//! of the mean time per operation. Inputs and outputs pass through
//! `std::hint::black_box` so nothing is optimised away.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::{
    self as aws_http, SignableBody, SignableRequest as AwsSignableRequest,
    SigningSettings as AwsSigningSettings,
};
use aws_sigv4::sign::{v4 as aws_v4, v4a as aws_v4a};
use aws_smithy_runtime_api::client::identity::Identity;
use mcp_sigv4::credential_types::Credentials;
use mcp_sigv4::secret::Secret;
use mcp_sigv4::sigv4::canonical::{
    CanonicalHeaders, CanonicalQuery, CanonicalRequest, canonical_uri,
};
use mcp_sigv4::time::AmzDate;
use mcp_sigv4::sigv4::v4::{SigningKey, StringToSign, credential_scope, sha256_hex};
use mcp_sigv4::sigv4::v4a::{self, DerivedKey};
use mcp_sigv4::sigv4::{Algorithm, SignableRequest, Signer, SigningParams, SigningSettings};

// ---------------------------------------------------------------------------
// The request.

const HOST: &str = "bedrock-agentcore.us-east-1.amazonaws.com";
const PATH: &str = "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fmcp_server-AbCdEfGhIj/invocations";
const QUERY: &str = "qualifier=DEFAULT";
const URL: &str = "https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fmcp_server-AbCdEfGhIj/invocations?qualifier=DEFAULT";
const REGION: &str = "us-east-1";
const REGION_SET: &str = "*";
const SERVICE: &str = "bedrock-agentcore";
const AMZ_DATE: &str = "20260101T000000Z";

/// The headers the relay signs on a `tools/call` inside a session.
const HEADERS: [(&str, &str); 5] = [
    ("host", HOST),
    ("content-type", "application/json"),
    ("accept", "application/json, text/event-stream"),
    ("mcp-session-id", "7f3c9a2e-4b1d-4e8f-9a6c-2d5e8b1f3a70"),
    ("mcp-protocol-version", "2025-06-18"),
];

// Documentation-style example keys; the token is generated (see `session_token`).
const ACCESS_KEY_ID: &str = "ASIAIOSFODNN7EXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// STS session tokens run from a few hundred to well over a thousand
/// characters; the token is hashed as part of the canonical request, so its
/// length counts.
const SESSION_TOKEN_LEN: usize = 1000;

/// Body length the issue asks for.
const BODY_LEN: usize = 1024;

/// A JSON-RPC `tools/call` request padded to exactly [`BODY_LEN`] bytes.
fn jsonrpc_body() -> Vec<u8> {
    let head = r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_documentation","arguments":{"query":"How do I sign requests to an AgentCore runtime with SigV4?","limit":10,"context":""#;
    let tail = r#""},"_meta":{"progressToken":"b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}}"#;
    let filler = "The user is migrating an MCP server to a managed runtime and wants the client to authenticate with temporary AWS credentials. ";
    let pad = BODY_LEN - head.len() - tail.len();
    let context: String = filler.chars().cycle().take(pad).collect();
    let body = format!("{head}{context}{tail}").into_bytes();
    assert_eq!(
        body.len(),
        BODY_LEN,
        "body must be exactly {BODY_LEN} bytes"
    );
    body
}

/// A deterministic base64-looking session token of [`SESSION_TOKEN_LEN`] chars.
fn session_token() -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u32 = 0x2545_f491;
    let mut token = String::from("IQoJb3JpZ2luX2VjE");
    while token.len() < SESSION_TOKEN_LEN {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        token.push(char::from(B64[(state >> 26) as usize]));
    }
    token
}

/// Everything both signers need, built once.
struct Fixture {
    body: Vec<u8>,
    token: String,
    ours_creds: Credentials,
    aws_identity: Identity,
    time: AmzDate,
}

impl Fixture {
    fn new() -> Self {
        let token = session_token();
        let ours_creds = Credentials::new(
            ACCESS_KEY_ID,
            Secret::from(SECRET_ACCESS_KEY),
            Some(Secret::from(token.as_str())),
            None,
            "bench",
        );
        let aws_identity = aws_credential_types::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            Some(token.clone()),
            None,
            "bench",
        )
        .into();
        Fixture {
            body: jsonrpc_body(),
            token,
            ours_creds,
            aws_identity,
            time: AmzDate::parse_amz(AMZ_DATE).expect("AMZ_DATE is well formed"),
        }
    }

    fn system_time(&self) -> SystemTime {
        self.time.to_system_time()
    }

    fn ours_request(&self) -> SignableRequest<'_> {
        SignableRequest {
            method: "POST",
            path: PATH,
            query: QUERY,
            headers: &HEADERS,
            body: &self.body,
        }
    }

    fn ours_params(&self, algorithm: Algorithm) -> SigningParams<'_> {
        SigningParams {
            credentials: &self.ours_creds,
            algorithm,
            region: match algorithm {
                Algorithm::V4 => REGION,
                Algorithm::V4a => REGION_SET,
            },
            service: SERVICE,
            time: self.time,
            settings: SigningSettings::default(),
        }
    }

    fn aws_request(&self) -> AwsSignableRequest<'_> {
        AwsSignableRequest::new(
            "POST",
            URL,
            HEADERS.iter().copied(),
            SignableBody::Bytes(&self.body),
        )
        .expect("the URL and headers are valid")
    }

    fn aws_params(&self, algorithm: Algorithm) -> aws_http::SigningParams<'_> {
        match algorithm {
            Algorithm::V4 => aws_v4::SigningParams::builder()
                .identity(&self.aws_identity)
                .region(REGION)
                .name(SERVICE)
                .time(self.system_time())
                .settings(AwsSigningSettings::default())
                .build()
                .expect("all v4 params are set")
                .into(),
            Algorithm::V4a => aws_v4a::SigningParams::builder()
                .identity(&self.aws_identity)
                .region_set(REGION_SET)
                .name(SERVICE)
                .time(self.system_time())
                .settings(AwsSigningSettings::default())
                .build()
                .expect("all v4a params are set")
                .into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Both signers must agree before anything is timed.

/// The headers each signer adds, sorted by name.
fn signed_headers(fx: &Fixture, algorithm: Algorithm) -> (Vec<(String, String)>, String, String) {
    let ours = Signer::new()
        .sign(&fx.ours_request(), &fx.ours_params(algorithm))
        .expect("our signer signs");
    let mut ours_headers: Vec<(String, String)> = ours
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.expose().to_owned()))
        .collect();
    ours_headers.sort();

    let aws_params = fx.aws_params(algorithm);
    let (instructions, aws_signature) = aws_http::sign(fx.aws_request(), &aws_params)
        .expect("aws-sigv4 signs")
        .into_parts();
    let mut aws_headers: Vec<(String, String)> = instructions
        .headers()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    aws_headers.sort();

    match algorithm {
        Algorithm::V4 => assert_eq!(
            ours.signature, aws_signature,
            "{algorithm}: expected the signature aws-sigv4 computes, found another"
        ),
        Algorithm::V4a => {
            // Our requests are signed by ring with a hedged nonce; our RFC 6979
            // path over our string to sign gives aws-sigv4's bytes exactly, which
            // proves the two strings to sign are the same.
            let rfc6979 = DerivedKey::derive(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
                .expect("our derivation succeeds")
                .sign_rfc6979(ours.string_to_sign.as_str());
            assert_eq!(
                rfc6979, aws_signature,
                "{algorithm}: expected our RFC 6979 signature to equal aws-sigv4's, found another"
            );
            // Then the headers are equal once the signatures are taken out.
            for h in ours_headers.iter_mut().chain(aws_headers.iter_mut()) {
                if h.0 == "authorization" {
                    h.1 =
                        h.1.replace(&ours.signature, "<sig>")
                            .replace(&aws_signature, "<sig>");
                }
            }
        }
    }
    assert_eq!(
        ours_headers, aws_headers,
        "{algorithm}: expected the headers aws-sigv4 adds, found others"
    );
    (
        ours_headers,
        ours.signature,
        ours.string_to_sign.to_string(),
    )
}

/// Runs every agreement check; prints one line per check.
fn check_agreement(fx: &Fixture) {
    let (headers, _, _) = signed_headers(fx, Algorithm::V4);
    let names: Vec<&str> = headers.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(
        names,
        ["authorization", "x-amz-date", "x-amz-security-token"],
        "SigV4: expected date, token and authorization headers"
    );
    let token_header = &headers[2].1;
    assert_eq!(token_header, &fx.token, "SigV4: expected the session token");
    println!(
        "check: SigV4 signature and headers equal to aws-sigv4's ({})",
        names.join(", ")
    );

    let (headers, signature, string_to_sign) = signed_headers(fx, Algorithm::V4a);
    let names: Vec<&str> = headers.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "authorization",
            "x-amz-date",
            "x-amz-region-set",
            "x-amz-security-token"
        ],
        "SigV4A: expected date, region set, token and authorization headers"
    );
    println!(
        "check: SigV4A headers equal to aws-sigv4's bar the signature, our RFC 6979 signature equal to aws-sigv4's ({})",
        names.join(", ")
    );

    // The public key of aws-sigv4's scalar is ours, and it verifies our signature.
    let aws_scalar = aws_v4a::generate_signing_key(ACCESS_KEY_ID, SECRET_ACCESS_KEY);
    let aws_key = p256::ecdsa::SigningKey::from_slice(aws_scalar.as_ref())
        .expect("aws-sigv4 derives a valid P-256 scalar");
    let aws_public = v4a::public_key_xy(aws_key.verifying_key());
    let ours_public = Signer::new()
        .v4a_public_key(&fx.ours_creds)
        .expect("our derivation succeeds");
    assert_eq!(
        ours_public, aws_public,
        "SigV4A: expected the public key aws-sigv4's scalar gives, found another"
    );
    assert!(
        v4a::verify(aws_key.verifying_key(), &string_to_sign, &signature),
        "SigV4A: our signature does not verify under aws-sigv4's public key"
    );
    println!(
        "check: SigV4A public key equal to the one from aws-sigv4's scalar (X {}…), and our (ring) request signature verifies under it",
        &ours_public.0[..16]
    );
}

// ---------------------------------------------------------------------------
// Timing.

/// One timed case: a closure that runs the operation `n` times.
struct Case {
    id: &'static str,
    label: String,
    run: Box<dyn FnMut(u64)>,
    iters: u64,
    /// Mean ns/op of each batch.
    samples: Vec<f64>,
}

impl Case {
    fn new(id: &'static str, label: impl Into<String>, mut op: impl FnMut() + 'static) -> Self {
        Case {
            id,
            label: label.into(),
            run: Box::new(move |n| {
                for _ in 0..n {
                    op();
                }
            }),
            iters: 1,
            samples: Vec::new(),
        }
    }

    fn time(&mut self, n: u64) -> Duration {
        let start = Instant::now();
        (self.run)(n);
        start.elapsed()
    }

    /// Runs the operation for about `warmup`, then picks the batch size.
    fn calibrate(&mut self, warmup: Duration, batch: Duration) {
        let start = Instant::now();
        let mut n = 1u64;
        let mut per_op = f64::MAX;
        while start.elapsed() < warmup {
            let t = self.time(n);
            per_op = per_op.min(t.as_nanos() as f64 / n as f64);
            if t < warmup / 8 {
                n *= 2;
            }
        }
        self.iters = ((batch.as_nanos() as f64 / per_op) as u64).max(1);
    }

    fn batch(&mut self) {
        let t = self.time(self.iters);
        self.samples.push(t.as_nanos() as f64 / self.iters as f64);
    }

    fn stats(&self) -> Stats {
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Stats {
            median: at(0.5),
            p90: at(0.9),
            min: s[0],
        }
    }
}

#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    p90: f64,
    min: f64,
}

/// Builds every case. Each closure owns what it needs (the fixture is leaked:
/// it lives for the whole run anyway).
fn cases(fx: &'static Fixture) -> Vec<Case> {
    let aws_ver = env!("BENCH_AWS_SIGV4_VERSION");
    let mut cases = Vec::new();

    // --- SigV4, whole request.
    let signer = Signer::new();
    cases.push(Case::new(
        "v4.ours",
        "ours: Signer::sign, one Signer reused (key cached)",
        move || {
            let req = fx.ours_request();
            black_box(
                signer
                    .sign(black_box(&req), black_box(&fx.ours_params(Algorithm::V4)))
                    .unwrap(),
            );
        },
    ));
    let aws_v4_params = Box::leak(Box::new(fx.aws_params(Algorithm::V4)));
    cases.push(Case::new(
        "v4.aws",
        format!("aws-sigv4 {aws_ver}: http_request::sign"),
        move || {
            black_box(
                aws_http::sign(black_box(fx.aws_request()), black_box(aws_v4_params)).unwrap(),
            );
        },
    ));

    // --- SigV4A, whole request.
    let signer = Signer::new();
    cases.push(Case::new(
        "v4a.ours.cached",
        "ours: Signer::sign, one Signer reused (derived key cached)",
        move || {
            let req = fx.ours_request();
            black_box(
                signer
                    .sign(black_box(&req), black_box(&fx.ours_params(Algorithm::V4a)))
                    .unwrap(),
            );
        },
    ));
    cases.push(Case::new(
        "v4a.ours.derive",
        "ours: Signer::new() per request (key derived every time)",
        move || {
            let req = fx.ours_request();
            let signer = Signer::new();
            black_box(
                signer
                    .sign(black_box(&req), black_box(&fx.ours_params(Algorithm::V4a)))
                    .unwrap(),
            );
        },
    ));
    let aws_v4a_params = Box::leak(Box::new(fx.aws_params(Algorithm::V4a)));
    cases.push(Case::new(
        "v4a.aws",
        format!("aws-sigv4 {aws_ver}: http_request::sign (derives per call)"),
        move || {
            black_box(
                aws_http::sign(black_box(fx.aws_request()), black_box(aws_v4a_params)).unwrap(),
            );
        },
    ));

    // --- Sub-steps of our signer, on the same inputs.
    let payload_hash = sha256_hex(&fx.body);
    let amz_date = fx.time.to_string();
    let v4_scope = credential_scope(fx.time, Some(REGION), SERVICE);
    let v4a_scope = credential_scope(fx.time, None, SERVICE);
    let headers_v4: Vec<(&'static str, &'static str)> = {
        let date: &'static str = Box::leak(amz_date.clone().into_boxed_str());
        let mut h = HEADERS.to_vec();
        h.push(("x-amz-date", date));
        h.push(("x-amz-security-token", fx.token.as_str()));
        h
    };
    let creq_v4 = CanonicalRequest::new(
        "POST",
        &canonical_uri(PATH, true),
        &CanonicalQuery::parse(QUERY),
        &CanonicalHeaders::new(headers_v4.iter().copied()),
        &payload_hash,
    );
    let sts_v4 = StringToSign::new(Algorithm::V4.name(), fx.time, &v4_scope, creq_v4.as_str());
    let ours_v4_out = Signer::new()
        .sign(&fx.ours_request(), &fx.ours_params(Algorithm::V4))
        .unwrap();
    assert_eq!(
        sts_v4, ours_v4_out.string_to_sign,
        "the sub-step replay must build the string to sign Signer::sign builds"
    );
    let ours_v4a_out = Signer::new()
        .sign(&fx.ours_request(), &fx.ours_params(Algorithm::V4a))
        .unwrap();
    let sts_v4a = ours_v4a_out.string_to_sign.to_string();
    assert!(sts_v4a.contains(&v4a_scope));

    cases.push(Case::new(
        "ours.payload_hash",
        "payload hash: SHA-256 of the 1 KiB body, hex",
        move || {
            black_box(sha256_hex(black_box(&fx.body)));
        },
    ));
    cases.push(Case::new(
        "ours.canonical_uri",
        "canonical URI: normalize + second encoding",
        move || {
            black_box(canonical_uri(black_box(PATH), true));
        },
    ));
    let h = headers_v4.clone();
    cases.push(Case::new(
        "ours.canonical_headers",
        "canonical headers (7, incl. 1000-char token)",
        move || {
            black_box(CanonicalHeaders::new(black_box(&h).iter().copied()));
        },
    ));
    let h = headers_v4.clone();
    let ph = payload_hash.clone();
    cases.push(Case::new(
        "ours.canonical_request",
        "canonical request: URI + query + headers + assemble",
        move || {
            black_box(CanonicalRequest::new(
                "POST",
                &canonical_uri(black_box(PATH), true),
                &CanonicalQuery::parse(black_box(QUERY)),
                &CanonicalHeaders::new(black_box(&h).iter().copied()),
                black_box(&ph),
            ));
        },
    ));
    let creq = creq_v4.clone();
    let scope = v4_scope.clone();
    cases.push(Case::new(
        "ours.string_to_sign",
        format!(
            "string to sign: SHA-256 of the {}-byte canonical request",
            creq_v4.as_str().len()
        ),
        move || {
            black_box(StringToSign::new(
                Algorithm::V4.name(),
                fx.time,
                black_box(&scope),
                black_box(creq.as_str()),
            ));
        },
    ));
    let key = SigningKey::derive(SECRET_ACCESS_KEY, &fx.time.date(), REGION, SERVICE);
    let sts = sts_v4.clone();
    cases.push(Case::new(
        "ours.v4_hmac",
        "SigV4 signature: HMAC-SHA256 with the cached key, hex",
        move || {
            black_box(key.sign(black_box(&sts)));
        },
    ));
    let date = fx.time.date();
    cases.push(Case::new(
        "ours.v4_key",
        "SigV4 key derivation: 4 HMACs (Signer caches it)",
        move || {
            black_box(SigningKey::derive(
                black_box(SECRET_ACCESS_KEY),
                &date,
                REGION,
                SERVICE,
            ));
        },
    ));
    let dk: &'static DerivedKey = Box::leak(Box::new(
        DerivedKey::derive(ACCESS_KEY_ID, SECRET_ACCESS_KEY).unwrap(),
    ));
    assert!(dk.signs_with_ring(), "the derived key must sign with ring");
    let sts = sts_v4a.clone();
    cases.push(Case::new(
        "ours.v4a_sign",
        "SigV4A signature: ring ECDSA P-256 (hedged nonce) + DER hex",
        move || {
            black_box(dk.sign(black_box(&sts)));
        },
    ));
    let sts = sts_v4a.clone();
    cases.push(Case::new(
        "ours.v4a_sign_rfc6979",
        "SigV4A sign_rfc6979: p256 ECDSA (RFC 6979) + DER hex",
        move || {
            black_box(dk.sign_rfc6979(black_box(&sts)));
        },
    ));
    cases.push(Case::new(
        "ours.v4a_derive",
        "SigV4A DerivedKey::derive: KDF + public key + ring key (cached)",
        move || {
            black_box(
                DerivedKey::derive(black_box(ACCESS_KEY_ID), black_box(SECRET_ACCESS_KEY)).unwrap(),
            );
        },
    ));
    let scalar: [u8; 32] = {
        let k = aws_v4a::generate_signing_key(ACCESS_KEY_ID, SECRET_ACCESS_KEY);
        k.as_ref().try_into().expect("a 32-byte scalar")
    };
    cases.push(Case::new(
        "p256.public_key",
        "  of which p256 SigningKey::from_slice (scalar -> public key)",
        move || {
            black_box(p256::ecdsa::SigningKey::from_slice(black_box(&scalar)).unwrap());
        },
    ));

    // --- The matching pieces of aws-sigv4.
    cases.push(Case::new(
        "aws.request",
        "aws-sigv4 SignableRequest::new (URI parse, header list)",
        move || {
            black_box(fx.aws_request());
        },
    ));
    let t = fx.system_time();
    cases.push(Case::new(
        "aws.v4_key",
        "aws-sigv4 sign::v4::generate_signing_key (every call)",
        move || {
            black_box(aws_v4::generate_signing_key(
                black_box(SECRET_ACCESS_KEY),
                t,
                REGION,
                SERVICE,
            ));
        },
    ));
    let aws_v4_key = aws_v4::generate_signing_key(SECRET_ACCESS_KEY, t, REGION, SERVICE);
    let sts = sts_v4.to_string();
    cases.push(Case::new(
        "aws.v4_hmac",
        "aws-sigv4 sign::v4::calculate_signature",
        move || {
            black_box(aws_v4::calculate_signature(
                black_box(&aws_v4_key),
                black_box(sts.as_bytes()),
            ));
        },
    ));
    cases.push(Case::new(
        "aws.v4a_derive",
        "aws-sigv4 sign::v4a::generate_signing_key (KDF only)",
        move || {
            let k = aws_v4a::generate_signing_key(
                black_box(ACCESS_KEY_ID),
                black_box(SECRET_ACCESS_KEY),
            );
            black_box(k.as_ref());
        },
    ));
    let sts = sts_v4a.clone();
    cases.push(Case::new(
        "aws.v4a_sign",
        "aws-sigv4 sign::v4a::calculate_signature (pre-derived key)",
        move || {
            black_box(aws_v4a::calculate_signature(
                black_box(scalar),
                black_box(sts.as_bytes()),
            ));
        },
    ));

    // --- ring, for scale: same key, same string to sign, random nonce.
    let rng = ring::rand::SystemRandom::new();
    let public = p256::ecdsa::SigningKey::from_slice(&scalar)
        .unwrap()
        .verifying_key()
        .to_sec1_bytes();
    let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let ring_key =
        ring::signature::EcdsaKeyPair::from_private_key_and_public_key(alg, &scalar, &public, &rng)
            .expect("ring accepts the derived key");
    let ring_sig = ring_key.sign(&rng, sts_v4a.as_bytes()).unwrap();
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&public).unwrap();
    assert!(
        v4a::verify(&vk, &sts_v4a, &to_hex(ring_sig.as_ref())),
        "ring's signature must verify as ours does"
    );
    let public2 = public.clone();
    let rng2 = rng.clone();
    cases.push(Case::new(
        "ring.v4a_keypair",
        "ring EcdsaKeyPair::from_private_key_and_public_key",
        move || {
            black_box(
                ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
                    alg,
                    black_box(&scalar),
                    black_box(&public2),
                    &rng2,
                )
                .unwrap(),
            );
        },
    ));
    let sts = sts_v4a.clone();
    cases.push(Case::new(
        "ring.v4a_sign",
        "ring ECDSA P-256 sign (random nonce) + DER hex",
        move || {
            let sig = ring_key.sign(&rng, black_box(sts.as_bytes())).unwrap();
            black_box(to_hex(sig.as_ref()));
        },
    ));
    cases
}

/// Lower-case hex, as the signers return signatures.
fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

// ---------------------------------------------------------------------------
// Report.

struct Options {
    rounds: usize,
    batch: Duration,
    warmup: Duration,
    check_only: bool,
    /// Time only this case, for as long as asked, and print its figures (for a
    /// profiler: `perf record -- mcp-sigv4-bench --only v4.ours`).
    only: Option<String>,
}

const HELP: &str = "\
mcp-sigv4-bench: per-request signing time, mcp-sigv4 against aws-sigv4

usage: cargo run --release --manifest-path tests/bench/Cargo.toml [-- OPTIONS]

options:
  --rounds N      timed batches per case, interleaved across cases (default 150)
  --batch-ms N    target length of one batch in milliseconds (default 2)
  --warmup-ms N   warm-up per case in milliseconds (default 200)
  --quick         --rounds 5 --batch-ms 2 --warmup-ms 20: a smoke run
  --check         only check that both signers agree, time nothing
  --only ID       time one case only (for a profiler); --list shows the ids
  --list          list the case ids
  -h, --help      this text
";

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        rounds: 150,
        batch: Duration::from_millis(2),
        warmup: Duration::from_millis(200),
        check_only: false,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = args
                .next()
                .ok_or_else(|| format!("expected a number after {name}, found nothing"))?;
            v.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected a positive number after {name}, found {v:?}"))
        };
        match arg.as_str() {
            "--rounds" => o.rounds = number("--rounds")? as usize,
            "--batch-ms" => o.batch = Duration::from_millis(number("--batch-ms")?),
            "--warmup-ms" => o.warmup = Duration::from_millis(number("--warmup-ms")?),
            "--quick" => {
                o.rounds = 5;
                o.batch = Duration::from_millis(2);
                o.warmup = Duration::from_millis(20);
            }
            "--check" => o.check_only = true,
            "--only" => {
                o.only = Some(
                    args.next()
                        .ok_or("expected a case id after --only, found nothing")?,
                )
            }
            "--list" => o.only = Some(String::new()),
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("expected an option (see --help), found {other:?}")),
        }
    }
    Ok(o)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown (no /proc/cpuinfo)".to_owned())
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{ns:.0}")
    } else {
        format!("{ns:.1}")
    }
}

fn fmt_rate(ns: f64) -> String {
    let per_s = 1e9 / ns;
    if per_s >= 1e6 {
        format!("{:.2} M", per_s / 1e6)
    } else {
        format!("{:.1} k", per_s / 1e3)
    }
}

/// The timed cases by id, and the figures derived from them.
struct Results<'a> {
    cases: &'a [Case],
}

impl Results<'_> {
    fn case(&self, id: &str) -> &Case {
        self.cases
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no case {id}"))
    }

    fn median(&self, id: &str) -> f64 {
        self.case(id).stats().median
    }

    /// The median over rounds of `f(round)`. Ratios are taken round by round —
    /// the two batches of one round ran a few milliseconds apart — so a slow
    /// spell of the (shared, virtual) machine cancels out of them.
    fn paired(&self, f: impl Fn(usize) -> f64) -> f64 {
        let rounds = self.cases[0].samples.len();
        let mut v: Vec<f64> = (0..rounds).map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// How many times longer `id` takes than `base`, round by round.
    fn ratio(&self, id: &str, base: &str) -> f64 {
        let (a, b) = (&self.case(id).samples, &self.case(base).samples);
        self.paired(|r| a[r] / b[r])
    }

    /// aws-sigv4's whole SigV4A request less its key derivation, over our cached
    /// SigV4A request, round by round.
    fn aws_prederived_ratio(&self) -> f64 {
        let aws = &self.case("v4a.aws").samples;
        let kdf = &self.case("aws.v4a_derive").samples;
        let ours = &self.case("v4a.ours.cached").samples;
        self.paired(|r| (aws[r] - kdf[r]) / ours[r])
    }
}

const COLUMNS: &str = "median       p90       min      req/s";

fn print_header(title: &str, ratio: &str) {
    println!("{title}");
    println!(
        "  {:<64} {COLUMNS} {ratio:>7}",
        "case (ns/op, over batches)"
    );
}

fn print_row(label: &str, s: Stats, ratio: Option<f64>) {
    println!(
        "  {:<64} {:>6} {:>9} {:>9} {:>10} {:>7}",
        label,
        fmt_ns(s.median),
        fmt_ns(s.p90),
        fmt_ns(s.min),
        fmt_rate(s.median),
        ratio.map_or(String::new(), |r| format!("{r:.2}x"))
    );
}

fn report(cases: &[Case]) {
    let r = Results { cases };
    let row = |id: &str, base: Option<&str>| {
        let case = r.case(id);
        print_row(&case.label, case.stats(), base.map(|b| r.ratio(id, b)));
    };

    print_header("SigV4 (AWS4-HMAC-SHA256), whole request", "÷ ours");
    row("v4.ours", Some("v4.ours"));
    row("v4.aws", Some("v4.ours"));
    println!();

    print_header(
        "SigV4A (AWS4-ECDSA-P256-SHA256, region set *), whole request",
        "÷ ours",
    );
    row("v4a.ours.cached", Some("v4a.ours.cached"));
    row("v4a.ours.derive", Some("v4a.ours.cached"));
    row("v4a.aws", Some("v4a.ours.cached"));
    let aws_prederived = r.median("v4a.aws") - r.median("aws.v4a_derive");
    println!(
        "  {:<64} {:>6} {:>9} {:>9} {:>10} {:>6.2}x",
        "aws-sigv4, key pre-derived (estimate: above less its KDF)",
        fmt_ns(aws_prederived),
        "",
        "",
        fmt_rate(aws_prederived),
        r.aws_prederived_ratio()
    );
    println!();

    print_header("Where the time goes: our sub-steps, same inputs", "");
    for id in [
        "ours.payload_hash",
        "ours.canonical_uri",
        "ours.canonical_headers",
        "ours.canonical_request",
        "ours.string_to_sign",
        "ours.v4_hmac",
        "ours.v4_key",
        "ours.v4a_sign",
        "ours.v4a_sign_rfc6979",
        "ours.v4a_derive",
        "p256.public_key",
    ] {
        row(id, None);
    }
    println!();
    print_header("aws-sigv4's public pieces, and ring for scale", "");
    for id in [
        "aws.request",
        "aws.v4_key",
        "aws.v4_hmac",
        "aws.v4a_derive",
        "aws.v4a_sign",
        "ring.v4a_keypair",
        "ring.v4a_sign",
    ] {
        row(id, None);
    }
    println!();

    // Our SigV4 request = the sub-steps + the rest (date and scope text, header
    // vectors, cache lookup, Authorization header, output).
    let steps = [
        "ours.payload_hash",
        "ours.canonical_request",
        "ours.string_to_sign",
        "ours.v4_hmac",
    ];
    let sum: f64 = steps.iter().map(|id| r.median(id)).sum();
    let whole = r.median("v4.ours");
    let hashing =
        r.median("ours.payload_hash") + r.median("ours.string_to_sign") + r.median("ours.v4_hmac");
    println!(
        "ours, SigV4: {} ns = payload hash {} + canonical request {} + string to sign {} + HMAC {} + the rest {}",
        fmt_ns(whole),
        fmt_ns(r.median("ours.payload_hash")),
        fmt_ns(r.median("ours.canonical_request")),
        fmt_ns(r.median("ours.string_to_sign")),
        fmt_ns(r.median("ours.v4_hmac")),
        fmt_ns(whole - sum),
    );
    println!(
        "             of which hashing (body, canonical request, HMAC) {} ns, {:.0}%",
        fmt_ns(hashing),
        100.0 * hashing / whole
    );
    println!(
        "ours, SigV4A: the ECDSA signature alone is {:.0}% of the request",
        100.0 * r.median("ours.v4a_sign") / r.median("v4a.ours.cached")
    );
    println!();

    println!("Goals (tests/bench/README.md); ratios are medians of per-round ratios");
    let goal = |met: bool, text: String| {
        println!("  [{}] {text}", if met { "met" } else { "NOT MET" });
    };
    let v4_speedup = r.ratio("v4.aws", "v4.ours");
    goal(
        v4_speedup >= 2.0,
        format!("SigV4: ours at least 2x faster than aws-sigv4: {v4_speedup:.2}x"),
    );
    let cache_gain = r.ratio("v4a.ours.derive", "v4a.ours.cached");
    goal(
        cache_gain >= 5.0,
        format!(
            "SigV4A: cached key at least 5x faster than deriving per request: {cache_gain:.2}x"
        ),
    );
    let vs_aws = r.ratio("v4a.aws", "v4a.ours.cached");
    goal(
        vs_aws >= 3.0,
        format!("SigV4A: ours (key cached, ring) at least 3x faster than aws-sigv4: {vs_aws:.2}x"),
    );
    let vs_prederived = r.aws_prederived_ratio();
    goal(
        vs_prederived >= 1.0,
        format!(
            "SigV4A: cached no slower than aws-sigv4 with a pre-derived key: {vs_prederived:.2}x (estimate; the ECDSA step alone {:.2}x: ring against p256)",
            r.ratio("aws.v4a_sign", "ours.v4a_sign")
        ),
    );
    println!("  (a goal not met is reported, not an error: the exit status stays 0)");
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let fx: &'static Fixture = Box::leak(Box::new(Fixture::new()));

    println!("mcp-sigv4 signing benchmark");
    println!(
        "date:      {}",
        AmzDate::from_system_time(SystemTime::now()).rfc3339()
    );
    println!(
        "machine:   {}, {} logical CPUs",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("compiler:  {}", env!("BENCH_RUSTC_VERSION"));
    println!(
        "crates:    mcp-sigv4 {} (path ../..), aws-sigv4 {}, p256 {}, sha2 {}",
        env!("BENCH_MCP_SIGV4_COMMIT"),
        env!("BENCH_AWS_SIGV4_VERSION"),
        env!("BENCH_P256_VERSION"),
        env!("BENCH_SHA2_VERSION"),
    );
    if cfg!(debug_assertions) {
        println!("WARNING:   debug build; figures are meaningless without --release");
    }
    println!(
        "request:   POST {PATH}?{QUERY}\n           body {} bytes (JSON-RPC tools/call), {} headers signed + x-amz-date + {}-char x-amz-security-token",
        fx.body.len(),
        HEADERS.len(),
        fx.token.len()
    );
    println!();

    check_agreement(fx);
    if options.check_only {
        return ExitCode::SUCCESS;
    }
    println!();

    let mut cases = cases(fx);
    if let Some(only) = &options.only {
        cases.retain(|c| c.id == only);
        let Some(case) = cases.first_mut() else {
            for case in self::cases(fx) {
                println!("{:<24} {}", case.id, case.label.trim());
            }
            return if only.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        };
        case.calibrate(options.warmup, options.batch);
        for _ in 0..options.rounds {
            case.batch();
        }
        let s = case.stats();
        println!(
            "{}: median {} ns/op, p90 {}, min {}",
            case.label.trim(),
            fmt_ns(s.median),
            fmt_ns(s.p90),
            fmt_ns(s.min)
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "timing {} cases: warm-up {} ms each, then {} interleaved rounds of ~{} ms batches…",
        cases.len(),
        options.warmup.as_millis(),
        options.rounds,
        options.batch.as_millis()
    );
    for case in &mut cases {
        case.calibrate(options.warmup, options.batch);
    }
    for _ in 0..options.rounds {
        for case in &mut cases {
            case.batch();
        }
    }
    println!();

    report(&cases);
    ExitCode::SUCCESS
}
