//! SigV4A: the ECDSA P-256 key derived from a secret access key, and its signature.
//!
//! Owns: `AWS4-ECDSA-P256-SHA256` key derivation — NIST SP 800-108 KDF in counter
//! mode with HMAC-SHA256, input key `"AWS4A" + secret`, label
//! `AWS4-ECDSA-P256-SHA256`, context = access key id + one counter byte, a
//! candidate `c` accepted when `c <= n - 2`, private scalar `c + 1`
//! (AWS IAM User Guide, "Create a signed AWS API request",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>;
//! reference implementation: aws-c-auth `source/key_derivation.c`,
//! <https://github.com/awslabs/aws-c-auth>). It owns the DER-encoded
//! ECDSA-P256-SHA256 signature of a string to sign (FIPS 186-5 §6.4, SEC 1
//! §4.1.3; DER shape of RFC 3279 §2.2.3): hedged with ring
//! ([`DerivedKey::sign`]) or deterministic ([`DerivedKey::sign_rfc6979`]).
//! Refuses: ever printing the key ([`DerivedKey`] says what is zeroized).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::zeroize::Zeroize;
use rustls::SignatureScheme;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::Sha256;

/// The SigV4A algorithm name.
pub const ALGORITHM: &str = "AWS4-ECDSA-P256-SHA256";

/// n − 2, n being the order of the P-256 group (big-endian).
const N_MINUS_2: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x4f,
];

/// Key derivation gave up: no candidate below n − 1 in 254 tries (probability
/// about 2^-8000; reported rather than assumed impossible).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DerivationError;

impl fmt::Display for DerivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigV4A key derivation found no valid P-256 scalar for these credentials; use SigV4 (--sig-version v4) or other credentials")
    }
}

impl std::error::Error for DerivationError {}

/// The KDF's fixed input for one counter value: `i=1 (u32 BE) ‖ label ‖ 0x00 ‖
/// access key id ‖ counter ‖ L=256 (u32 BE)`.
pub fn fixed_input(access_key_id: &str, counter: u8) -> Vec<u8> {
    let mut input = Vec::with_capacity(4 + ALGORITHM.len() + 1 + access_key_id.len() + 1 + 4);
    input.extend_from_slice(&1u32.to_be_bytes());
    input.extend_from_slice(ALGORITHM.as_bytes());
    input.push(0);
    input.extend_from_slice(access_key_id.as_bytes());
    input.push(counter);
    input.extend_from_slice(&256u32.to_be_bytes());
    input
}

/// `a <= b` for 32-byte big-endian numbers, in time independent of the values.
fn ct_less_or_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    // b - a borrows exactly when a > b.
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(b[i]) - i16::from(a[i]) - borrow;
        borrow = (d >> 8) & 1;
    }
    borrow == 0
}

/// Adds one to a 32-byte big-endian number that is below n − 1 (no overflow).
fn plus_one(mut k: [u8; 32]) -> [u8; 32] {
    let mut carry = 1u16;
    for byte in k.iter_mut().rev() {
        let s = u16::from(*byte) + carry;
        *byte = s as u8;
        carry = s >> 8;
    }
    k
}

/// The DER prefix of a P-256 PKCS#8 `PrivateKeyInfo` (RFC 5208 §5) up to the
/// 32-byte private scalar: SEQUENCE (135 bytes) { INTEGER 0, AlgorithmIdentifier
/// { id-ecPublicKey, prime256v1 } (RFC 5480 §2.1.1), OCTET STRING (109 bytes)
/// { ECPrivateKey (RFC 5915 §3): SEQUENCE (107 bytes) { INTEGER 1, OCTET
/// STRING (32 bytes) …`.
const PKCS8_P256_HEAD: [u8; 36] = [
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02,
    0x01, 0x01, 0x04, 0x20,
];

/// After the scalar: `publicKey [1] { BIT STRING (66 bytes, no unused bits) }`,
/// followed by the 65-byte uncompressed SEC1 point. ring requires the public
/// key to be present and checks that it matches the scalar.
const PKCS8_P256_PUBLIC: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];

/// Length of the whole PKCS#8 document: 36 + 32 + 5 + 65.
const PKCS8_P256_LEN: usize = PKCS8_P256_HEAD.len() + 32 + PKCS8_P256_PUBLIC.len() + 65;

/// The P-256 PKCS#8 v1 document for `scalar` (32 bytes, big-endian) and its
/// uncompressed public point `sec1` (65 bytes, `0x04 ‖ X ‖ Y`). Secret: the
/// caller zeroizes it.
fn pkcs8_p256(scalar: &[u8; 32], sec1: &[u8]) -> [u8; PKCS8_P256_LEN] {
    let mut der = [0u8; PKCS8_P256_LEN];
    let (head, rest) = der.split_at_mut(PKCS8_P256_HEAD.len());
    head.copy_from_slice(&PKCS8_P256_HEAD);
    let (d, rest) = rest.split_at_mut(32);
    d.copy_from_slice(scalar);
    let (tag, point) = rest.split_at_mut(PKCS8_P256_PUBLIC.len());
    tag.copy_from_slice(&PKCS8_P256_PUBLIC);
    point.copy_from_slice(sec1);
    der
}

/// ring's ECDSA P-256 SHA-256 (ASN.1 DER output) signer for `scalar`, loaded
/// through rustls's ring key provider; `None` if ring refuses the key (which it
/// does only for a scalar outside [1, n − 1] or a mismatched public point,
/// neither of which derivation produces).
fn ring_signer(scalar: &[u8; 32], sec1: &[u8]) -> Option<Box<dyn rustls::sign::Signer>> {
    if sec1.len() != 65 {
        return None;
    }
    let mut der = pkcs8_p256(scalar, sec1);
    let key = rustls::crypto::ring::sign::any_ecdsa_type(&PrivateKeyDer::Pkcs8(
        PrivatePkcs8KeyDer::from(&der[..]),
    ));
    der.zeroize();
    key.ok()?
        .choose_scheme(&[SignatureScheme::ECDSA_NISTP256_SHA256])
}

/// A SigV4A private key derived from a secret access key: the `p256` key (public
/// key, RFC 6979 signatures) and ring's signer for the same scalar.
///
/// Derivation costs two scalar multiplications (the public key, then ring's
/// check that it matches the scalar), so callers cache the key. The `p256`
/// scalar and the PKCS#8 bytes are zeroized; ring keeps its own copy of the
/// scalar, which it does not zeroize when dropped (ring has no such option).
/// The key never prints.
pub struct DerivedKey {
    signing_key: SigningKey,
    ring: Option<Box<dyn rustls::sign::Signer>>,
}

impl DerivedKey {
    /// Derives the key for (`access_key_id`, `secret_access_key`).
    ///
    /// # Errors
    /// [`DerivationError`] when no counter value yields a valid scalar.
    pub fn derive(access_key_id: &str, secret_access_key: &str) -> Result<Self, DerivationError> {
        let mut input_key = Vec::with_capacity(5 + secret_access_key.len());
        input_key.extend_from_slice(b"AWS4A");
        input_key.extend_from_slice(secret_access_key.as_bytes());
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&input_key)
            .expect("HMAC takes any key length");
        input_key.zeroize();
        let mut found = None;
        for counter in 1..=254u8 {
            let mut m = mac.clone();
            m.update(&fixed_input(access_key_id, counter));
            let mut candidate: [u8; 32] = m.finalize().into_bytes().into();
            if ct_less_or_equal(&candidate, &N_MINUS_2) {
                let mut scalar = plus_one(candidate);
                candidate.zeroize();
                found = SigningKey::from_slice(&scalar).ok().map(|signing_key| {
                    let sec1 = signing_key.verifying_key().to_sec1_bytes();
                    let ring = ring_signer(&scalar, &sec1);
                    DerivedKey { signing_key, ring }
                });
                scalar.zeroize();
                break;
            }
            candidate.zeroize();
        }
        found.ok_or(DerivationError)
    }

    /// The public key's affine coordinates (X, Y), each as 64 lower-case hex chars,
    /// the form of the signing suite's `public-key.json`.
    pub fn public_key_xy(&self) -> (String, String) {
        public_key_xy(self.signing_key.verifying_key())
    }

    /// The public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// Signs `string_to_sign` (ECDSA P-256, SHA-256 of its UTF-8 bytes) with
    /// ring and returns the DER-encoded signature (`SEQUENCE { r, s }`, RFC 3279
    /// §2.2.3) in lower-case hex: at most 144 chars (72 bytes), typically 140–144. The nonce is hedged (random and
    /// key/message-bound), so repeated calls give different, equally valid
    /// signatures. Never fails: should ring be unavailable for this key or its
    /// RNG fail, the signature is made by [`DerivedKey::sign_rfc6979`].
    ///
    /// ring's P-256 ECDSA (assembly field arithmetic) is reached through
    /// rustls's public key-provider API (`rustls::crypto::ring::sign::any_ecdsa_type`
    /// on a PKCS#8 document built here, RFC 5208 §5 / RFC 5915 §3), so nothing
    /// is linked beyond what TLS already links. About 3x faster than
    /// [`DerivedKey::sign_rfc6979`] (`tests/bench/README.md`).
    pub fn sign(&self, string_to_sign: &str) -> String {
        match self
            .ring
            .as_ref()
            .and_then(|signer| signer.sign(string_to_sign.as_bytes()).ok())
        {
            Some(der) => hex::encode(der),
            None => self.sign_rfc6979(string_to_sign),
        }
    }

    /// Signs `string_to_sign` like [`DerivedKey::sign`] but with `p256` and an
    /// RFC 6979 §3.2 deterministic nonce (HMAC-SHA256), so the hex DER
    /// signature is a function of key and message: the same bytes as aws-sigv4
    /// and aws-c-auth's deterministic mode. About 3x slower than ring. Kept for
    /// tests and the benchmark's cross-check, and as the fallback of
    /// [`DerivedKey::sign`].
    pub fn sign_rfc6979(&self, string_to_sign: &str) -> String {
        let signature: Signature = self.signing_key.sign(string_to_sign.as_bytes());
        hex::encode(signature.to_der().as_bytes())
    }

    /// Whether [`DerivedKey::sign`] signs with ring (true for every key that
    /// derivation produces; false only if ring refused the key).
    pub fn signs_with_ring(&self) -> bool {
        self.ring.is_some()
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey(<redacted>)")
    }
}

/// The affine (X, Y) coordinates of `key` in lower-case hex.
pub fn public_key_xy(key: &VerifyingKey) -> (String, String) {
    let point = key.to_sec1_bytes();
    // Uncompressed SEC1: 0x04 ‖ X (32) ‖ Y (32).
    (hex::encode(&point[1..33]), hex::encode(&point[33..65]))
}

/// A public key from its affine coordinates in hex (as in `public-key.json`).
///
/// # Errors
/// A message when the hex is malformed or the point is not on the curve.
pub fn verifying_key_from_xy(x: &str, y: &str) -> Result<VerifyingKey, String> {
    let mut sec1 = vec![4u8];
    sec1.extend(hex::decode(x).map_err(|e| format!("X: {e}"))?);
    sec1.extend(hex::decode(y).map_err(|e| format!("Y: {e}"))?);
    if sec1.len() != 65 {
        return Err("X and Y must be 32 bytes each".into());
    }
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| "not a point on P-256".to_owned())
}

/// Verifies a hex DER ECDSA-P256-SHA256 `signature` of `string_to_sign` under
/// `key`. High-S signatures are accepted, as AWS accepts them.
pub fn verify(key: &VerifyingKey, string_to_sign: &str, signature_hex: &str) -> bool {
    let Ok(der) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::from_der(&der) else {
        return false;
    };
    // RustCrypto rejects high-S on verify; normalizing keeps the same (r, s) class.
    let signature = signature.normalize_s();
    key.verify(string_to_sign.as_bytes(), &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn fixed_input_matches_the_verified_vector() {
        // sigv4-sigv4a.md §4.2 (verified there against the suite's public keys).
        assert_eq!(
            hex::encode(fixed_input(AKID, 1)),
            "00000001415753342d45434453412d503235362d53484132353600414b49444558414d504c450100000100"
        );
    }

    #[test]
    fn derived_public_key_matches_the_verified_vector() {
        let key = DerivedKey::derive(AKID, SECRET).unwrap();
        let (x, y) = key.public_key_xy();
        assert_eq!(
            x,
            "b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1"
        );
        assert_eq!(
            y,
            "865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518"
        );
    }

    #[test]
    fn rfc6979_signature_matches_aws_sigv4() {
        // sigv4-sigv4a.md §4.4: aws-sigv4 1.6.4's deterministic signature.
        let key = DerivedKey::derive(AKID, SECRET).unwrap();
        let sts = "AWS4-ECDSA-P256-SHA256\n20260101T000000Z\n20260101/bedrock-agentcore/aws4_request\n722408bccac5507a4669bec580d32af82dc73c9483861ca7715f30fc8df6e986";
        let sig = key.sign_rfc6979(sts);
        assert_eq!(
            sig,
            "3046022100f6d981377b59fa0264aa65e2cbe6338852e90380afa1a6505ec931c746b75897022100cd7c7c8f55c04f9fc3ae01cd2e7aff3a7135cc307f09605769c0933467499e93"
        );
        assert!(verify(key.verifying_key(), sts, &sig));
        assert!(!verify(
            key.verifying_key(),
            &sts.replace("2026", "2025"),
            &sig
        ));
    }

    #[test]
    fn ring_signatures_verify_and_are_hedged() {
        let key = DerivedKey::derive(AKID, SECRET).unwrap();
        assert!(key.signs_with_ring());
        let sts = "AWS4-ECDSA-P256-SHA256\n20260101T000000Z\n20260101/bedrock-agentcore/aws4_request\n722408bccac5507a4669bec580d32af82dc73c9483861ca7715f30fc8df6e986";
        let a = key.sign(sts);
        let b = key.sign(sts);
        // DER SEQUENCE of two INTEGERs, each at most 33 bytes.
        assert!(a.starts_with("30") && a.len() <= 144, "{a}");
        assert_ne!(a, b, "ring's nonce is not deterministic");
        for sig in [&a, &b] {
            assert!(verify(key.verifying_key(), sts, sig));
            assert!(!verify(
                key.verifying_key(),
                &sts.replace("2026", "2025"),
                sig
            ));
        }
        let other = DerivedKey::derive("AKIDOTHER", SECRET).unwrap();
        assert!(!verify(other.verifying_key(), sts, &a));
    }

    #[test]
    fn pkcs8_document_is_well_formed_der() {
        let der = pkcs8_p256(&[0x11; 32], &[0x04; 65]);
        assert_eq!(der.len(), 138);
        // Each length byte matches what follows it.
        assert_eq!(usize::from(der[2]), der.len() - 3);
        assert_eq!(usize::from(der[28]), der.len() - 29);
        assert_eq!(usize::from(der[30]), der.len() - 31);
        assert_eq!(&der[34..36], &[0x04, 0x20]);
        assert_eq!(&der[36..68], &[0x11; 32]);
        assert_eq!(usize::from(der[69]), der.len() - 70);
        assert_eq!(usize::from(der[71]), 1 + 65);
        // A point that does not belong to the scalar is refused by ring.
        assert!(ring_signer(&[0x11; 32], &[0x04; 65]).is_none());
    }

    #[test]
    fn comparison_and_increment_at_the_edges() {
        let mut n_minus_1 = N_MINUS_2;
        n_minus_1[31] += 1;
        assert!(ct_less_or_equal(&N_MINUS_2, &N_MINUS_2));
        assert!(!ct_less_or_equal(&n_minus_1, &N_MINUS_2));
        assert!(ct_less_or_equal(&[0; 32], &N_MINUS_2));
        assert!(!ct_less_or_equal(&[0xff; 32], &N_MINUS_2));
        let mut x = [0u8; 32];
        x[31] = 0xff;
        let y = plus_one(x);
        assert_eq!((y[30], y[31]), (1, 0));
    }

    #[test]
    fn debug_is_redacted() {
        let key = DerivedKey::derive(AKID, SECRET).unwrap();
        assert_eq!(format!("{key:?}"), "DerivedKey(<redacted>)");
    }
}
