//! The DPoP proof of a Sign-In token refresh, and the key it is signed with.
//!
//! Owns: reading the cached P-256 key (`dpopKey`: a PEM `EC PRIVATE KEY`, the
//! SEC1 `ECPrivateKey` of RFC 5915 §3 that Rust `aws-config` reads, or a
//! `PRIVATE KEY`, the PKCS #8 `PrivateKeyInfo` of RFC 5208 §5 around it, which
//! botocore also reads); and the proof
//! itself (RFC 9449 §4.2, <https://www.rfc-editor.org/rfc/rfc9449#section-4.2>):
//! a compact JWS (RFC 7515 §7.1) whose header is
//! `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","x":…,"y":…,"crv":"P-256"}}`
//! (the public key, RFC 7518 §6.2.1) and whose claims are
//! `{"jti":…,"htm":"POST","htu":<the request URL>,"iat":<unix seconds>}`,
//! signed ES256: ECDSA P-256 over SHA-256 of `header.claims`, the signature
//! the 64-byte `r ‖ s` (RFC 7518 §3.4), not DER — as botocore's
//! `_build_dpop_header` and `aws-config`'s `login/dpop.rs` build it. Pure.
//! Refuses: any curve but P-256, and quoting the key (or any byte of it) in an
//! error.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::zeroize::Zeroize;

use crate::base64::{STANDARD, URL_SAFE_NO_PAD};
use crate::der::{INTEGER, OCTET_STRING, OID, Reader, SEQUENCE};

/// Why the cached key cannot be used. Never holds a byte of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not a PEM `EC PRIVATE KEY` or `PRIVATE KEY` block.
    NotPem,
    /// The Base64 inside is broken.
    Base64,
    /// The DER inside is not an EC private key.
    Der,
    /// The key is on another curve than P-256.
    Curve,
    /// The scalar is not a valid P-256 private key.
    Scalar,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::NotPem => "is not a PEM \"EC PRIVATE KEY\" or \"PRIVATE KEY\" block",
            KeyError::Base64 => "holds broken Base64",
            KeyError::Der => "is not a DER-encoded EC private key (SEC1 or PKCS #8)",
            KeyError::Curve => "is not a P-256 key",
            KeyError::Scalar => "is not a valid P-256 private key",
        })
    }
}

impl std::error::Error for KeyError {}

/// 1.2.840.10045.2.1, `id-ecPublicKey`.
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7, `prime256v1` (P-256).
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The next element of `r`, which must have `tag`.
fn take<'a>(r: &mut Reader<'a>, tag: u8) -> Result<&'a [u8], KeyError> {
    r.expect(tag).ok_or(KeyError::Der)
}

/// The 32-byte scalar of a SEC1 `ECPrivateKey`: `SEQUENCE { INTEGER 1,
/// OCTET STRING key, [0] curve OPTIONAL, [1] public key OPTIONAL }`.
fn sec1_scalar(der: &[u8]) -> Result<&[u8], KeyError> {
    let mut outer = Reader::new(der);
    let mut key = Reader::new(take(&mut outer, SEQUENCE)?);
    if take(&mut key, INTEGER)? != [1] {
        return Err(KeyError::Der);
    }
    let scalar = take(&mut key, OCTET_STRING)?;
    if !key.is_empty() {
        match key.next().ok_or(KeyError::Der)? {
            (0xa0, params) if take(&mut Reader::new(params), OID)? != PRIME256V1 => {
                return Err(KeyError::Curve);
            }
            (0xa0 | 0xa1, _) => {}
            _ => return Err(KeyError::Der),
        }
    }
    Ok(scalar)
}

/// The SEC1 document inside a PKCS #8 `PrivateKeyInfo`: `SEQUENCE { INTEGER 0,
/// SEQUENCE { OID ecPublicKey, OID prime256v1 }, OCTET STRING ECPrivateKey }`.
fn pkcs8_inner(der: &[u8]) -> Result<&[u8], KeyError> {
    let mut outer = Reader::new(der);
    let mut info = Reader::new(take(&mut outer, SEQUENCE)?);
    if take(&mut info, INTEGER)? != [0] {
        return Err(KeyError::Der);
    }
    let mut algorithm = Reader::new(take(&mut info, SEQUENCE)?);
    if take(&mut algorithm, OID)? != EC_PUBLIC_KEY {
        return Err(KeyError::Der);
    }
    if take(&mut algorithm, OID)? != PRIME256V1 {
        return Err(KeyError::Curve);
    }
    take(&mut info, OCTET_STRING)
}

/// The P-256 key of a PEM `EC PRIVATE KEY` (SEC1) or `PRIVATE KEY` (PKCS #8)
/// block. A literal `\n` (two characters) counts as a line break, as Rust
/// `aws-config` reads it.
///
/// # Errors
/// [`KeyError`] saying what is wrong, never what the key holds.
pub(crate) fn parse_pem_key(pem: &str) -> Result<SigningKey, KeyError> {
    let mut text = pem.replace("\\n", "\n");
    let result = (|| {
        let (label, rest) = text
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|r| r.split_once("-----"))
            .ok_or(KeyError::NotPem)?;
        let pkcs8 = match label {
            "EC PRIVATE KEY" => false,
            "PRIVATE KEY" => true,
            _ => return Err(KeyError::NotPem),
        };
        let body = rest
            .split_once(&format!("-----END {label}-----"))
            .map(|(b, _)| b)
            .ok_or(KeyError::NotPem)?;
        let mut der = STANDARD.decode(body).ok_or(KeyError::Base64)?;
        let key = (|| {
            let sec1 = if pkcs8 { pkcs8_inner(&der)? } else { &der[..] };
            let scalar = sec1_scalar(sec1)?;
            if scalar.len() != 32 {
                return Err(KeyError::Scalar);
            }
            SigningKey::from_slice(scalar).map_err(|_| KeyError::Scalar)
        })();
        der.zeroize();
        key
    })();
    text.zeroize();
    result
}

/// The DPoP proof for a `POST` to `url` at `now`, signed with `key`, with
/// `jti` its unique id (RFC 9449 §4.2: a value no other proof carries; the
/// caller passes a fresh UUID-shaped id per attempt).
pub(crate) fn proof(key: &SigningKey, url: &str, now: SystemTime, jti: &str) -> String {
    let point = key.verifying_key().to_sec1_point(false);
    let xy = &point.as_bytes()[1..];
    let header = serde_json::json!({
        "typ": "dpop+jwt",
        "alg": "ES256",
        "jwk": {
            "kty": "EC",
            "x": URL_SAFE_NO_PAD.encode(&xy[..32]),
            "y": URL_SAFE_NO_PAD.encode(&xy[32..]),
            "crv": "P-256",
        },
    });
    let iat = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = serde_json::json!({ "jti": jti, "htm": "POST", "htu": url, "iat": iat });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string().as_bytes()),
        URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
    );
    // RFC 6979 deterministic ECDSA over SHA-256: no random number needed.
    let signature: Signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(&signature.to_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;

    /// A SEC1 key from Rust `aws-config`'s `login/dpop.rs` tests, with the
    /// public coordinates those tests expect.
    const AWS_CONFIG_KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBMB/RwQERsVoqWRQG4zK8CnaAa5dfrpbm+9tFdBh3z4oAoGCCqGSM49\nAwEHoUQDQgAEWb1VLi1EA2hJaTz4yYuxSELvY+1GAfL+8rUTCAdiFid87Bf6GY+s\n2+1RpqDv0RpZiDIMCrZrsAh+RK9S3QCaGA==\n-----END EC PRIVATE KEY-----\n";
    /// A PKCS #8 key from botocore's `login-provider-test-cases.json`.
    const BOTOCORE_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+PNauWi/ihtwHHbq\n1tgc8Vgpwx0qQlNSN38y+z0igWehRANCAAR2Ntw6BXJ1v8jb9XjzKZJ+gL5f/3Jq\nIqiH2PUGKWxoFwNlcNB83FivEXEzlTbuCQK5OezOYb3gbvHuzKkB0nDX\n-----END PRIVATE KEY-----";

    fn decode_url(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    #[test]
    fn sec1_and_pkcs8_keys_are_read() {
        let key = parse_pem_key(AWS_CONFIG_KEY).unwrap();
        let point = key.verifying_key().to_sec1_point(false);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&point.as_bytes()[1..33]),
            "Wb1VLi1EA2hJaTz4yYuxSELvY-1GAfL-8rUTCAdiFic"
        );
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&point.as_bytes()[33..]),
            "fOwX-hmPrNvtUaag79EaWYgyDAq2a7AIfkSvUt0Amhg"
        );
        assert!(parse_pem_key(BOTOCORE_KEY).is_ok());
        // A literal backslash-n, as some writers leave it.
        assert!(parse_pem_key(&AWS_CONFIG_KEY.replace('\n', "\\n")).is_ok());
    }

    #[test]
    fn broken_keys_say_what_is_wrong_without_the_key() {
        let cases = [
            ("", KeyError::NotPem),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
                KeyError::NotPem,
            ),
            ("-----BEGIN EC PRIVATE KEY-----\nMHcC", KeyError::NotPem),
            (
                "-----BEGIN EC PRIVATE KEY-----\nM*cC\n-----END EC PRIVATE KEY-----",
                KeyError::Base64,
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----",
                KeyError::Der,
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nMHcCAQEEIBMB\n-----END PRIVATE KEY-----",
                KeyError::Der,
            ),
        ];
        for (pem, expected) in cases {
            assert_eq!(parse_pem_key(pem).err(), Some(expected), "{pem:?}");
        }
        // A P-384 key (secp384r1 in the SEC1 parameters).
        let mut der = vec![0x30, 0x2e, 0x02, 0x01, 0x01, 0x04, 0x20];
        der.extend([7u8; 32]);
        der.extend([0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]);
        let pem = format!(
            "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----",
            STANDARD.encode(&der)
        );
        assert_eq!(parse_pem_key(&pem).err(), Some(KeyError::Curve));
    }

    #[test]
    fn the_proof_is_an_es256_jws_over_the_request() {
        let key = parse_pem_key(AWS_CONFIG_KEY).unwrap();
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1_651_516_560);
        let url = "https://us-east-1.signin.aws.amazon.com/v1/token";
        let jws = proof(&key, url, now, "11111111-2222-4333-8444-555555555555");
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&decode_url(parts[0])).unwrap();
        assert_eq!(
            header.to_string(),
            r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","x":"Wb1VLi1EA2hJaTz4yYuxSELvY-1GAfL-8rUTCAdiFic","y":"fOwX-hmPrNvtUaag79EaWYgyDAq2a7AIfkSvUt0Amhg","crv":"P-256"}}"#
        );
        let claims: serde_json::Value = serde_json::from_slice(&decode_url(parts[1])).unwrap();
        assert_eq!(
            claims.to_string(),
            format!(
                r#"{{"jti":"11111111-2222-4333-8444-555555555555","htm":"POST","htu":"{url}","iat":1651516560}}"#
            )
        );
        let signature = Signature::from_slice(&decode_url(parts[2])).unwrap();
        let verifying = VerifyingKey::from(&key);
        verifying
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the signature verifies with the public key");
    }
}
