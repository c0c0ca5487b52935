//! SigV4: string to sign, signing key and HMAC signature.
//!
//! Owns: `AWS4-HMAC-SHA256` (AWS IAM User Guide, "Create a signed AWS API
//! request", steps 2–4:
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>):
//! the string to sign,
//! the signing-key derivation `HMAC("AWS4"+secret, date) → region → service →
//! "aws4_request"`, and the hex signature. The signing key is secret material: it
//! lives in [`SigningKey`], which zeroizes itself and has no `Debug` output.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use p256::elliptic_curve::zeroize::Zeroize;
use sha2::{Digest, Sha256};

use crate::time::AmzDate;

/// The SigV4 algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Lower-case hex SHA-256 of `data` (64 chars): the payload hash and the hash of
/// the canonical request.
pub fn sha256_hex(data: &[u8]) -> String {
    hex32(&Sha256::digest(data).into())
}

/// Lower-case hex of 32 bytes, without the per-char iterator of `hex::encode`.
pub fn hex32(bytes: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    String::from_utf8(out.to_vec()).expect("hex is ASCII")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The credential scope, `<date>/<region>/<service>/aws4_request` for SigV4 or
/// `<date>/<service>/aws4_request` for SigV4A (`region` = `None`).
pub fn credential_scope(time: AmzDate, region: Option<&str>, service: &str) -> String {
    let b = time.amz_bytes();
    let mut s = String::with_capacity(8 + region.map_or(0, |r| r.len() + 1) + service.len() + 14);
    s.push_str(std::str::from_utf8(&b[..8]).expect("ASCII"));
    s.push('/');
    if let Some(region) = region {
        s.push_str(region);
        s.push('/');
    }
    s.push_str(service);
    s.push_str("/aws4_request");
    s
}

/// The string to sign: `ALGORITHM\nX-Amz-Date\nscope\nhex(SHA-256(canonical request))`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringToSign(String);

impl StringToSign {
    /// Builds the string to sign for `algorithm` (`AWS4-HMAC-SHA256` or
    /// `AWS4-ECDSA-P256-SHA256`).
    pub fn new(algorithm: &str, time: AmzDate, scope: &str, canonical_request: &str) -> Self {
        let hash = sha256_hex(canonical_request.as_bytes());
        let mut s = String::with_capacity(algorithm.len() + scope.len() + 16 + 64 + 3);
        s.push_str(algorithm);
        s.push('\n');
        s.push_str(std::str::from_utf8(&time.amz_bytes()).expect("ASCII"));
        s.push('\n');
        s.push_str(scope);
        s.push('\n');
        s.push_str(&hash);
        StringToSign(s)
    }

    /// The text that is signed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StringToSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SigV4 signing key (32 bytes). Depends only on the secret key, the date, the
/// region and the service, so it is derived once a day per scope and reused.
/// Zeroized on drop; prints as `SigningKey(<redacted>)`.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Derives `kSigning` for `secret_access_key` and the scope's parts.
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Vec::with_capacity(4 + secret_access_key.len());
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret_access_key.as_bytes());
        let mut k = hmac(&k_secret, date.as_bytes());
        k_secret.zeroize();
        for part in [region.as_bytes(), service.as_bytes(), b"aws4_request"] {
            let next = hmac(&k, part);
            k.zeroize();
            k = next;
        }
        SigningKey(k)
    }

    /// The signature of `string_to_sign`: lower-case hex of its HMAC-SHA256
    /// under this key (64 chars).
    pub fn sign(&self, string_to_sign: &StringToSign) -> String {
        hex32(&hmac(&self.0, string_to_sign.as_str().as_bytes()))
    }

    /// The key bytes in hex. For test vectors only: never log this.
    pub fn expose_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agentcore_worked_example_signing_key_and_signature() {
        // sigv4-sigv4a.md §3, computed there with aws-sigv4 1.6.4 and independently.
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20260101",
            "us-east-1",
            "bedrock-agentcore",
        );
        assert_eq!(
            key.expose_hex(),
            "1edecc1ebc305e00d130a58fafc68c67d74cd03498edfe53004bd3c88dfe33d3"
        );
        let time = AmzDate::parse_amz("20260101T000000Z").unwrap();
        let scope = credential_scope(time, Some("us-east-1"), "bedrock-agentcore");
        let creq = "POST\n/runtimes/arn%253Aaws%253Abedrock-agentcore%253Aus-east-1%253A123456789012%253Aruntime%252Fmcp_server-AbCdEfGhIj/invocations\nqualifier=DEFAULT\naccept:application/json, text/event-stream\ncontent-type:application/json\nhost:bedrock-agentcore.us-east-1.amazonaws.com\nmcp-protocol-version:2025-06-18\nx-amz-date:20260101T000000Z\nx-amz-security-token:TOKEN123\n\naccept;content-type;host;mcp-protocol-version;x-amz-date;x-amz-security-token\n98e0961a7c1232f08d2f2187d13c4a1a22a0641e00e5dec0eca645d646077fab";
        let sts = StringToSign::new(ALGORITHM, time, &scope, creq);
        assert_eq!(
            sts.as_str(),
            "AWS4-HMAC-SHA256\n20260101T000000Z\n20260101/us-east-1/bedrock-agentcore/aws4_request\nfb1ac721079dd59acee4740f2330beb5e6fa28b4e38e26cead11a4c4a4854101"
        );
        assert_eq!(
            key.sign(&sts),
            "a3a9a5d3dece303b51330c328b0233c751a642bd87ff4b0f2f5790fd6134ea19"
        );
    }

    #[test]
    fn signing_key_debug_is_redacted() {
        let key = SigningKey::derive("secret", "20260101", "us-east-1", "svc");
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }
}
