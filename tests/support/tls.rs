//! Certificates the tests make: a private CA and a leaf certificate for
//! `127.0.0.1` and `localhost` it signs, for the test server's TLS
//! ([`Server::start_tls`](super::Server::start_tls)), and the PEM and DER
//! forms the tests hand to the proxy (a CA bundle) or write into cache files
//! (an EC private key).
//!
//! Owns: a small DER writer and X.509 v3 certificates built with it (RFC 5280
//! §4.1: `tbsCertificate`, ECDSA-with-SHA256 signature, the extensions
//! webpki looks at — basic constraints, key usage, extended key usage and the
//! subject alternative names), P-256 keys as SEC1 (RFC 5915) and PKCS #8
//! (RFC 5208) documents, and PEM text (Base64 through the `base64` crate). Keys are
//! derived from a label with SHA-256, so a run is reproducible and needs no
//! random-number crate; they protect nothing but a test on 127.0.0.1.
//! Refuses: anything but P-256 and the fields webpki needs.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

/// One DER element: `tag`, the length (short or long form), `content`.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A `SEQUENCE` of `items`.
pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &items.concat())
}

/// An `OBJECT IDENTIFIER` from its dotted arcs.
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    der(0x06, &body)
}

fn bit_string(bytes: &[u8], unused: u8) -> Vec<u8> {
    let mut body = vec![unused];
    body.extend_from_slice(bytes);
    der(0x03, &body)
}

const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const PRIME256V1: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];

/// `-----BEGIN {label}-----`, the Base64 of `der` in lines of 64, `-----END {label}-----`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A P-256 key derived from `label`.
pub fn p256_key(label: &str) -> SigningKey {
    let mut seed = Sha256::digest(label.as_bytes());
    loop {
        if let Ok(k) = SigningKey::from_slice(&seed) {
            return k;
        }
        seed = Sha256::digest(seed);
    }
}

/// The uncompressed public point `04 ‖ X ‖ Y` of `key`.
pub fn public_point(key: &SigningKey) -> Vec<u8> {
    key.verifying_key().to_sec1_point(false).as_bytes().to_vec()
}

/// `key` as a SEC1 `ECPrivateKey` (RFC 5915), with its curve and public key.
pub fn sec1_der(key: &SigningKey) -> Vec<u8> {
    seq(&[
        der(0x02, &[1]),
        der(0x04, &key.to_bytes()),
        der(0xa0, &oid(PRIME256V1)),
        der(0xa1, &bit_string(&public_point(key), 0)),
    ])
}

/// `key` as a PKCS #8 `PrivateKeyInfo` (RFC 5208) around its SEC1 form.
pub fn pkcs8_der(key: &SigningKey) -> Vec<u8> {
    seq(&[
        der(0x02, &[0]),
        seq(&[oid(EC_PUBLIC_KEY), oid(PRIME256V1)]),
        der(0x04, &sec1_der(key)),
    ])
}

fn name(common_name: &str) -> Vec<u8> {
    seq(&[der(
        0x31,
        &seq(&[oid(&[2, 5, 4, 3]), der(0x0c, common_name.as_bytes())]),
    )])
}

fn extension(id: &[u64], critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut items = vec![oid(id)];
    if critical {
        items.push(der(0x01, &[0xff]));
    }
    items.push(der(0x04, &value));
    seq(&items)
}

/// An X.509 v3 certificate for `subject`'s key, signed by `issuer_key` in the
/// name `issuer`, valid 2020–2049; a CA (key usage: certificate signing) or a
/// TLS server certificate for 127.0.0.1 and localhost.
fn certificate(
    serial: u8,
    issuer: &str,
    issuer_key: &SigningKey,
    subject: &str,
    subject_key: &SigningKey,
    ca: bool,
) -> Vec<u8> {
    let algorithm = seq(&[oid(ECDSA_WITH_SHA256)]);
    let spki = seq(&[
        seq(&[oid(EC_PUBLIC_KEY), oid(PRIME256V1)]),
        bit_string(&public_point(subject_key), 0),
    ]);
    let validity = seq(&[der(0x17, b"200101000000Z"), der(0x17, b"491231235959Z")]);
    let extensions = if ca {
        vec![
            extension(&[2, 5, 29, 19], true, seq(&[der(0x01, &[0xff])])),
            // keyCertSign and cRLSign.
            extension(&[2, 5, 29, 15], true, bit_string(&[0x06], 1)),
        ]
    } else {
        vec![
            extension(&[2, 5, 29, 19], true, seq(&[])),
            // digitalSignature.
            extension(&[2, 5, 29, 15], true, bit_string(&[0x80], 7)),
            // serverAuth.
            extension(
                &[2, 5, 29, 37],
                false,
                seq(&[oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1])]),
            ),
            // iPAddress 127.0.0.1 and dNSName localhost.
            extension(
                &[2, 5, 29, 17],
                false,
                seq(&[der(0x87, &[127, 0, 0, 1]), der(0x82, b"localhost")]),
            ),
        ]
    };
    let tbs = seq(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &[serial]),
        algorithm.clone(),
        name(issuer),
        validity,
        name(subject),
        spki,
        der(0xa3, &seq(&extensions)),
    ]);
    let signature: Signature = issuer_key.sign(&tbs);
    seq(&[tbs, algorithm, bit_string(signature.to_der().as_bytes(), 0)])
}

/// A private CA and a server certificate for 127.0.0.1 and localhost that it
/// signed. Cheap to clone.
#[derive(Clone)]
pub struct TestCa {
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// The leaf certificate, DER.
    pub leaf_der: Vec<u8>,
    /// The leaf's key, PKCS #8 DER.
    pub leaf_key_der: Vec<u8>,
    config: Arc<rustls::ServerConfig>,
}

impl TestCa {
    /// A CA named `mcp-sigv4 test CA <label>` and its leaf; the keys derive
    /// from `label`.
    pub fn new(label: &str) -> Self {
        let ca_key = p256_key(&format!("ca {label}"));
        let leaf_key = p256_key(&format!("leaf {label}"));
        let ca_name = format!("mcp-sigv4 test CA {label}");
        let ca_der = certificate(1, &ca_name, &ca_key, &ca_name, &ca_key, true);
        let leaf_der = certificate(2, &ca_name, &ca_key, "127.0.0.1", &leaf_key, false);
        let leaf_key_der = pkcs8_der(&leaf_key);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(leaf_der.clone())],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key_der.clone().into()),
        )
        .expect("the test certificate and key");
        TestCa {
            ca_der,
            leaf_der,
            leaf_key_der,
            config: Arc::new(config),
        }
    }

    /// The CA certificate as a PEM bundle (what `AWS_CA_BUNDLE` names).
    pub fn ca_pem(&self) -> String {
        pem("CERTIFICATE", &self.ca_der)
    }

    /// The server side of the TLS the test server speaks.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }
}

/// Decodes Base64url without padding (RFC 4648 §5), as JWS writes it;
/// `None` for anything else.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
