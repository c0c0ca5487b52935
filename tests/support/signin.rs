//! A stub of AWS Sign-In's `CreateOAuth2Token` (`POST /v1/token`) for the
//! `aws login` tests (`tests/login.rs`, and the botocore cross-check of
//! `tests/interop.rs`), and the cache file `aws login` writes.
//!
//! Owns: [`sign_in_stub`], which checks every DPoP proof on its own (RFC 9449
//! §4.3, <https://www.rfc-editor.org/rfc/rfc9449#section-4.3>: a JWS of type
//! `dpop+jwt`, ES256, its `jwk` the public key of the cached key the test
//! made, the signature verified with that key by `p256` directly, `htm`
//! `POST`, `htu` the URL called, `iat` within a minute, a `jti` never seen
//! before) and the refresh token, answers as Sign-In does (the `tokenOutput`
//! payload as the body; `AccessDeniedException` with an `error` code), and
//! rotates the refresh token on every refresh; [`login_cache_text`].
//! Refuses: anything of the crate's own in the checks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};

use super::fixtures::{rfc3339, unix_now};
use super::server::{Reply, Seen, Server};
use super::tls::{base64url_decode, pem, public_point, sec1_der};

/// The `login_session` of botocore's `login-provider-test-cases.json`, and the
/// cache file name botocore gives it there (the hex SHA-256 of the ARN).
pub const LOGIN_SESSION: &str = "arn:aws:sts::012345678910:assumed-role/Admin/admin";
pub const LOGIN_CACHE_NAME: &str =
    "4b0ba8f99f075c0633e122fd73346ce203a3faf18ea0310eb2d29df1bab2e255.json";
/// The `clientId` of the AWS CLI's same-device login.
pub const CLIENT_ID: &str = "arn:aws:signin:::devtools/same-device";

/// What the Sign-In stub knows.
#[derive(Default)]
pub struct SignIn {
    /// The refresh token it accepts now.
    pub refresh_token: String,
    /// Answer every refresh with this `AccessDeniedException` error code.
    pub refuse: Option<&'static str>,
    /// Every `jti` seen.
    pub jtis: HashSet<String>,
    /// Proofs that failed a check, with why.
    pub bad_proofs: Vec<String>,
    /// Refreshes answered.
    pub refreshed: u32,
    /// How long each refresh takes before it is answered (a slow network;
    /// refreshes are answered one at a time).
    pub delay: std::time::Duration,
}

/// Checks the DPoP proof of `seen` against the public key `public` (`04‖X‖Y`)
/// and `htu`, on its own: nothing of the crate's is used.
fn check_proof(
    seen: &Seen,
    public: &[u8],
    htu: &str,
    jtis: &mut HashSet<String>,
) -> Result<(), String> {
    let jws = seen.header("dpop").ok_or("no DPoP header")?;
    let parts: Vec<&str> = jws.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err(format!("expected three parts, found {}", parts.len()));
    };
    let decode = |part: &str| -> Result<Value, String> {
        let bytes = base64url_decode(part).ok_or("not Base64url")?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let h = decode(header)?;
    if h["typ"] != "dpop+jwt" || h["alg"] != "ES256" {
        return Err(format!("header {h}"));
    }
    let jwk = &h["jwk"];
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
        return Err(format!("jwk {jwk}"));
    }
    let coordinate = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(base64url_decode)
            .filter(|b| b.len() == 32)
            .ok_or(format!("jwk {name}"))
    };
    let mut point = vec![4u8];
    point.extend(coordinate("x")?);
    point.extend(coordinate("y")?);
    if point != public {
        return Err("the jwk is not the cached key's public key".into());
    }
    let key = VerifyingKey::from_sec1_bytes(public).map_err(|e| e.to_string())?;
    let signature = base64url_decode(signature)
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or("the signature is not 64 bytes of r and s")?;
    key.verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "the signature does not verify".to_owned())?;
    let c = decode(claims)?;
    if c["htm"] != "POST" || c["htu"] != htu {
        return Err(format!("claims {c}, expected htu {htu}"));
    }
    let iat = c["iat"].as_i64().ok_or("no iat")?;
    if (iat - unix_now()).abs() > 60 {
        return Err(format!("iat {iat} is not now"));
    }
    let jti = c["jti"]
        .as_str()
        .filter(|j| j.len() >= 16)
        .ok_or("no jti")?;
    if !jtis.insert(jti.to_owned()) {
        return Err(format!("jti {jti} was used before"));
    }
    Ok(())
}

/// The Sign-In stub for the cached key `key`.
pub fn sign_in_stub(key: &SigningKey, state: Arc<Mutex<SignIn>>) -> Server {
    let public = public_point(key);
    let base = Arc::new(Mutex::new(String::new()));
    let server = {
        let base = Arc::clone(&base);
        Server::start(move |seen| {
            let mut s = state.lock().unwrap();
            if (seen.method.as_str(), seen.target.as_str()) != ("POST", "/v1/token") {
                return Reply::json(404, r#"{"message":"no such route"}"#);
            }
            let htu = format!("{}/v1/token", base.lock().unwrap());
            if let Err(why) = check_proof(seen, &public, &htu, &mut s.jtis) {
                s.bad_proofs.push(why.clone());
                return Reply::json(
                    400,
                    json!({"error": "INVALID_REQUEST", "message": why}).to_string(),
                )
                .header("x-amzn-errortype", "ValidationException");
            }
            let body = seen.json().unwrap_or(Value::Null);
            let denied = |code: &str| {
                Reply::json(
                    401,
                    json!({"error": code, "message": "the session is no longer valid"}).to_string(),
                )
                .header("x-amzn-errortype", "AccessDeniedException")
                .header("x-amzn-requestid", "req-signin-1")
            };
            std::thread::sleep(s.delay);
            if let Some(code) = s.refuse {
                return denied(code);
            }
            if body
                != json!({"clientId": CLIENT_ID, "refreshToken": s.refresh_token, "grantType": "refresh_token"})
            {
                return denied("TOKEN_EXPIRED");
            }
            s.refreshed += 1;
            let n = s.refreshed;
            s.refresh_token = format!("rt-{n}-rotated-S3CR3T");
            Reply::json(
                200,
                json!({
                    "accessToken": {
                        "accessKeyId": format!("ASIALOGIN{n:07}"),
                        "secretAccessKey": format!("login-{n}-S3CR3T"),
                        "sessionToken": format!("login-token-{n}-S3CR3T"),
                    },
                    "tokenType": "aws_sigv4",
                    "expiresIn": 900,
                    "refreshToken": s.refresh_token,
                })
                .to_string(),
            )
        })
    };
    *base.lock().unwrap() = server.base();
    server
}

/// A cache file as `aws login` writes it, expiring at `expires_at` (unix).
pub fn login_cache_text(key: &SigningKey, refresh_token: &str, expires_at: i64) -> String {
    json!({
        "accessToken": {
            "accessKeyId": "ASIACACHED0000001",
            "secretAccessKey": "cached-S3CR3T",
            "sessionToken": "cached-token-S3CR3T",
            "accountId": "012345678910",
            "expiresAt": rfc3339(expires_at),
        },
        "tokenType": "aws_sigv4",
        "refreshToken": refresh_token,
        "idToken": "header.id-S3CR3T.signature",
        "clientId": CLIENT_ID,
        "dpopKey": pem("EC PRIVATE KEY", &sec1_der(key)),
    })
    .to_string()
}
