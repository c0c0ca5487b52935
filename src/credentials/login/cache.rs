//! The `aws login` token cache file and the Sign-In refresh answer.
//!
//! Owns, as pure functions over outside input: reading
//! `~/.aws/login/cache/<sha256>.json` as `aws login` writes it
//! ([`parse_cache`]); reading the `CreateOAuth2Token` answer
//! ([`parse_refresh_answer`]); and the file's text after a refresh, with
//! everything but the keys, expiry and refresh token kept as read
//! ([`LoginCache::refreshed`]). Names are matched through [`crate::json`].
//! Refuses: quoting a value in an error (they are keys and tokens), and a key
//! on another curve than P-256.

use std::fmt;
use std::time::{Duration, SystemTime};

use p256::ecdsa::SigningKey;
use serde_json::Value;

use super::dpop::{KeyError, parse_pem_key};
use crate::json::{self, Document, JsonError, Object};
use crate::secret::Secret;
use crate::time::format_rfc3339;

/// Why a cache file or a refresh answer cannot be used. Its `Display`
/// follows the name of the document ("the cache file …"). Never holds a
/// value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheError {
    /// A field is missing or of the wrong kind.
    Json(JsonError),
    /// `dpopKey` is not a usable P-256 key.
    Key(KeyError),
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Json(e) => e.fmt(f),
            CacheError::Key(e) => write!(f, "has a \"dpopKey\" that {e}"),
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::Json(e) => Some(e),
            CacheError::Key(e) => Some(e),
        }
    }
}

impl From<JsonError> for CacheError {
    fn from(e: JsonError) -> Self {
        CacheError::Json(e)
    }
}

/// One read of the cache file. `Debug` shows no secret.
pub struct LoginCache {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: Secret,
    pub(crate) session_token: Secret,
    pub(crate) account_id: Option<String>,
    pub(crate) expires_at: SystemTime,
    pub(crate) refresh_token: Secret,
    pub(crate) client_id: String,
    pub(crate) key: SigningKey,
    /// The file as read, to write back with the fields we do not know kept.
    raw: Document,
}

impl fmt::Debug for LoginCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginCache")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("expires_at", &format_rfc3339(self.expires_at))
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The object under `name`.
fn object<'a>(parent: &'a Object, name: &'static str) -> Result<&'a Object, JsonError> {
    match json::field(parent, name) {
        Some(Value::Object(o)) => Ok(o),
        None | Some(Value::Null) => Err(JsonError::Missing(name)),
        Some(_) => Err(JsonError::Invalid {
            name,
            expected: "an object",
        }),
    }
}

/// Reads a login token cache file. The parsed document is kept (for
/// [`LoginCache::refreshed`]) and overwritten with zeros when the result is
/// dropped, or at once on an error.
///
/// The shape, as `aws login` writes it and botocore (`LoginCredentialFetcher`)
/// and Rust `aws-config` (`login/cache.rs`) read it: `accessToken`
/// {`accessKeyId`, `secretAccessKey`, `sessionToken`, `accountId`,
/// `expiresAt`}, `refreshToken`, `clientId`, `dpopKey`, an optional
/// `tokenType` that must then be `aws_sigv4`, and fields of its own
/// (`idToken`) kept as they are; names match ASCII-case-insensitively.
/// Public (hidden) for the fuzz targets.
///
/// # Errors
/// [`CacheError`] naming the field that is missing or invalid, never its
/// value.
#[doc(hidden)]
pub fn parse_cache(bytes: &[u8]) -> Result<LoginCache, CacheError> {
    // `raw` is zeroized when dropped, here on an error or with the cache.
    let raw = Document::parse(bytes)?;
    let access = object(&raw, "accessToken")?;
    if let Some(kind) = json::optional_string(&raw, "tokenType")?
        && !kind.eq_ignore_ascii_case("aws_sigv4")
    {
        return Err(JsonError::Unsupported {
            name: "tokenType",
            expected: "\"aws_sigv4\"",
        }
        .into());
    }
    let key_text = Secret::from(json::required_string(&raw, "dpopKey")?);
    Ok(LoginCache {
        access_key_id: json::required_string(access, "accessKeyId")?.to_owned(),
        secret_access_key: Secret::from(json::required_string(access, "secretAccessKey")?),
        session_token: Secret::from(json::required_string(access, "sessionToken")?),
        account_id: json::optional_string(access, "accountId")?.map(str::to_owned),
        expires_at: json::required_time(access, "expiresAt")?,
        refresh_token: Secret::from(json::required_string(&raw, "refreshToken")?),
        client_id: json::required_string(&raw, "clientId")?.to_owned(),
        key: parse_pem_key(key_text.expose()).map_err(CacheError::Key)?,
        raw,
    })
}

/// What a refresh answered.
pub struct Refreshed {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: Secret,
    pub(crate) session_token: Secret,
    pub(crate) refresh_token: Secret,
    pub(crate) expires_in: Duration,
}

impl fmt::Debug for Refreshed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refreshed")
            .field("access_key_id", &self.access_key_id)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Reads a `CreateOAuth2Token` answer: the `tokenOutput` payload is the body
/// (restJson `@httpPayload`); a body that wraps it in `{"tokenOutput": …}` is
/// read too. `expiresIn` must be a positive number of seconds (Sign-In gives
/// 900). The parsed document is overwritten with zeros before this returns.
/// The shape is the AWS Sign-In API model's (botocore
/// `data/signin/2023-01-01/service-2.json`). Public (hidden) for the fuzz
/// targets.
///
/// # Errors
/// [`JsonError`] naming the field, never its value.
#[doc(hidden)]
pub fn parse_refresh_answer(body: &[u8]) -> Result<Refreshed, JsonError> {
    let root = Document::parse(body)?;
    (|| {
        let output = match json::field(&root, "tokenOutput") {
            Some(Value::Object(o)) => o,
            _ => &root,
        };
        let access = object(output, "accessToken")?;
        let expires_in = json::field(output, "expiresIn")
            .and_then(Value::as_u64)
            .filter(|n| (1..=86_400).contains(n))
            .ok_or(JsonError::Invalid {
                name: "expiresIn",
                expected: "a number of seconds from 1 to 86400",
            })?;
        Ok(Refreshed {
            access_key_id: json::required_string(access, "accessKeyId")?.to_owned(),
            secret_access_key: Secret::from(json::required_string(access, "secretAccessKey")?),
            session_token: Secret::from(json::required_string(access, "sessionToken")?),
            refresh_token: Secret::from(json::required_string(output, "refreshToken")?),
            expires_in: Duration::from_secs(expires_in),
        })
    })()
}

impl LoginCache {
    /// The cache after `answer` at `now`, and the file's new text (a
    /// [`Secret`]: it holds the keys and the refresh token): new keys,
    /// `expiresAt = now + expiresIn`, the rotated refresh token, and
    /// everything else (`accountId`, `clientId`, `dpopKey`, `idToken`,
    /// unknown fields) as read, so the AWS CLI and other SDKs keep working on
    /// the file.
    pub(crate) fn refreshed(&self, answer: &Refreshed, now: SystemTime) -> (LoginCache, Secret) {
        let expires_at = now + answer.expires_in;
        let mut raw = self.raw.clone();
        let access_key = raw
            .keys()
            .rfind(|k| k.eq_ignore_ascii_case("accessToken"))
            .cloned()
            .unwrap_or_else(|| "accessToken".to_owned());
        if let Some(Value::Object(access)) = raw.get_mut(&access_key) {
            json::set_string(access, "accessKeyId", &answer.access_key_id);
            json::set_string(access, "secretAccessKey", answer.secret_access_key.expose());
            json::set_string(access, "sessionToken", answer.session_token.expose());
            json::set_string(access, "expiresAt", &format_rfc3339(expires_at));
        }
        json::set_string(&mut raw, "refreshToken", answer.refresh_token.expose());
        let text = raw.text();
        let cache = LoginCache {
            access_key_id: answer.access_key_id.clone(),
            secret_access_key: answer.secret_access_key.clone(),
            session_token: answer.session_token.clone(),
            account_id: self.account_id.clone(),
            expires_at,
            refresh_token: answer.refresh_token.clone(),
            client_id: self.client_id.clone(),
            key: self.key.clone(),
            raw,
        };
        (cache, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    const KEY: &str = "-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIBMB/RwQERsVoqWRQG4zK8CnaAa5dfrpbm+9tFdBh3z4oAoGCCqGSM49\\nAwEHoUQDQgAEWb1VLi1EA2hJaTz4yYuxSELvY+1GAfL+8rUTCAdiFid87Bf6GY+s\\n2+1RpqDv0RpZiDIMCrZrsAh+RK9S3QCaGA==\\n-----END EC PRIVATE KEY-----\\n";

    fn cache(extra: &str) -> String {
        format!(
            r#"{{"accessToken":{{"accessKeyId":"ASIAOLD","secretAccessKey":"old-S3CR3T","sessionToken":"old-token-S3CR3T","accountId":"012345678901","expiresAt":"2026-01-01T00:00:00Z"}},"tokenType":"aws_sigv4","refreshToken":"rt-S3CR3T","idToken":"id-S3CR3T","clientId":"arn:aws:signin:::devtools/same-device","dpopKey":"{KEY}"{extra}}}"#
        )
    }

    #[test]
    fn the_cache_file_is_read_with_names_in_any_case() {
        let c = parse_cache(cache("").as_bytes()).unwrap();
        assert_eq!(c.access_key_id, "ASIAOLD");
        assert_eq!(c.secret_access_key.expose(), "old-S3CR3T");
        assert_eq!(c.account_id.as_deref(), Some("012345678901"));
        assert_eq!(c.expires_at, parse_rfc3339("2026-01-01T00:00:00Z").unwrap());
        assert_eq!(c.refresh_token.expose(), "rt-S3CR3T");
        assert!(!format!("{c:?}").contains("S3CR3T"));
        let lower = cache("").replace("\"accessKeyId\"", "\"ACCESSKEYID\"");
        assert_eq!(
            parse_cache(lower.as_bytes()).unwrap().access_key_id,
            "ASIAOLD"
        );
    }

    #[test]
    fn missing_and_invalid_fields_are_named_without_values() {
        let full = cache("");
        let cases = [
            (
                full.replace(r#""refreshToken":"rt-S3CR3T","#, ""),
                "has no \"refreshToken\"",
            ),
            (
                full.replace(r#""clientId":"arn:aws:signin:::devtools/same-device","#, ""),
                "has no \"clientId\"",
            ),
            (
                full.replace(r#""sessionToken":"old-token-S3CR3T","#, ""),
                "has no \"sessionToken\"",
            ),
            (
                full.replace("2026-01-01T00:00:00Z", "soon-S3CR3T"),
                "unreadable \"expiresAt\"",
            ),
            (
                full.replace("aws_sigv4", "bearer"),
                "unsupported \"tokenType\"",
            ),
            (
                full.replace("MHcCAQEE", "MHcC*QEE"),
                "\"dpopKey\" that holds broken Base64",
            ),
            (
                r#"{"accessToken":"S3CR3T"}"#.to_owned(),
                "\"accessToken\" that is not an object",
            ),
            ("[1]".to_owned(), "is not a JSON object"),
        ];
        for (text, expected) in cases {
            let e = parse_cache(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(expected), "{expected}: {e}");
            assert!(!e.contains("S3CR3T"), "{e}");
        }
    }

    #[test]
    fn a_refresh_rewrites_keys_expiry_and_refresh_token_and_keeps_the_rest() {
        let c = parse_cache(cache(r#","extra":{"n":1}"#).as_bytes()).unwrap();
        for body in [
            r#"{"accessToken":{"accessKeyId":"ASIANEW","secretAccessKey":"new-S3CR3T","sessionToken":"new-token-S3CR3T"},"tokenType":"aws_sigv4","expiresIn":900,"refreshToken":"rt2-S3CR3T"}"#,
            r#"{"tokenOutput":{"accessToken":{"accessKeyId":"ASIANEW","secretAccessKey":"new-S3CR3T","sessionToken":"new-token-S3CR3T"},"expiresIn":900,"refreshToken":"rt2-S3CR3T"}}"#,
        ] {
            let answer = parse_refresh_answer(body.as_bytes()).unwrap();
            let now = parse_rfc3339("2026-02-01T10:00:00Z").unwrap();
            let (new, text) = c.refreshed(&answer, now);
            assert_eq!(new.expires_at, now + Duration::from_secs(900));
            let written: Value = serde_json::from_str(text.expose()).unwrap();
            assert_eq!(
                written,
                serde_json::json!({
                    "accessToken": {
                        "accessKeyId": "ASIANEW",
                        "secretAccessKey": "new-S3CR3T",
                        "sessionToken": "new-token-S3CR3T",
                        "accountId": "012345678901",
                        "expiresAt": "2026-02-01T10:15:00Z",
                    },
                    "tokenType": "aws_sigv4",
                    "refreshToken": "rt2-S3CR3T",
                    "idToken": "id-S3CR3T",
                    "clientId": "arn:aws:signin:::devtools/same-device",
                    "dpopKey": KEY.replace("\\n", "\n"),
                    "extra": {"n": 1},
                })
            );
            let again = parse_cache(text.expose().as_bytes()).unwrap();
            assert_eq!(again.refresh_token.expose(), "rt2-S3CR3T");
        }
    }

    #[test]
    fn refresh_answers_need_keys_a_refresh_token_and_a_lifetime() {
        for (body, expected) in [
            (
                r#"{"accessToken":{"accessKeyId":"A","secretAccessKey":"S3CR3T","sessionToken":"T"},"expiresIn":900}"#,
                "has no \"refreshToken\"",
            ),
            (
                r#"{"accessToken":{"accessKeyId":"A","secretAccessKey":"S3CR3T","sessionToken":"T"},"refreshToken":"R","expiresIn":0}"#,
                "\"expiresIn\" that is not",
            ),
            (
                r#"{"refreshToken":"S3CR3T","expiresIn":900}"#,
                "has no \"accessToken\"",
            ),
        ] {
            let e = parse_refresh_answer(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{expected}: {e}");
            assert!(!e.contains("S3CR3T"), "{e}");
        }
    }
}
