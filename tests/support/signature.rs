//! An independent SigV4 check of a request as the test server received it.
//!
//! Owns: [`SignedBy::check`], which recomputes an `AWS4-HMAC-SHA256` signature over
//! the method, target, headers and (de-chunked) body the server actually
//! received, with the secret key the test handed out, and compares it with the
//! request's `Signature=`. The canonical request, the string to sign and the
//! HMAC-SHA256 key chain are written here from the AWS definition (IAM User
//! Guide, "Create a signed AWS API request",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>)
//! with the `hmac` and `sha2` crates. It also checks the credential scope, that
//! the signed headers cover `host`, `x-amz-date` and every `x-amz-*` header sent
//! (so `x-amz-security-token` when present), that `x-amz-date` is the scope's day
//! and within five minutes of the test's clock, and that an
//! `x-amz-content-sha256`, if sent, is the hash of the body received. Then
//! [`assert_signed`]: that check for the relay's requests, with the keys the
//! proxy was given ([`AKID`], [`SECRET_KEY`], [`SESSION_TOKEN`]); and
//! [`signer_of`]: which of several key pairs signed a request (several
//! profiles), checked the same way with that pair's secret.
//! Refuses: `mcp_sigv4::sigv4`. Nothing here calls the crate's signer, so a
//! mistake would have to be made twice to pass. SigV4A
//! (`AWS4-ECDSA-P256-SHA256`) fails as "not SigV4": no test that uses this
//! module signs with it (the interop suite verifies SigV4A, in Python). S3's
//! single-encoding rule is reported as unsupported rather than checked wrongly.
//! `tests/relay.rs` holds this checker to AWS's own signing suite
//! (`vectors/sigv4`) and shows that it refuses a changed body or key.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::fixtures::{days_from_civil, unix_now};
use super::proxy::{AKID, SECRET_KEY, SESSION_TOKEN};
use super::server::{Seen, Server};

/// The region the proxy is started with ([`super::proxy::Proxy::builder`]).
pub const REGION: &str = "us-east-1";
/// The largest difference between `x-amz-date` and the test's clock accepted
/// (AWS refuses a request more than five minutes off).
const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// The parts of an `AWS4-HMAC-SHA256` `authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id of `Credential=`.
    pub access_key_id: String,
    /// The scope's day, `YYYYMMDD`.
    pub date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service.
    pub service: String,
    /// `SignedHeaders=`, in order.
    pub signed_headers: Vec<String>,
    /// `Signature=`, as sent.
    pub signature: String,
}

impl Authorization {
    /// Reads `AWS4-HMAC-SHA256 Credential=…/…/…/…/aws4_request,
    /// SignedHeaders=…, Signature=…`.
    ///
    /// # Errors
    /// What is missing or malformed, as "expected X, found Y".
    pub fn parse(value: &str) -> Result<Self, String> {
        let rest = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
            format!("expected a SigV4 (AWS4-HMAC-SHA256) authorization, found {value:?}")
        })?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',').map(str::trim) {
            let (name, v) = part.split_once('=').ok_or_else(|| {
                format!("expected Name=value in the authorization, found {part:?}")
            })?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => {
                    return Err(format!(
                        "unexpected {name:?} in the authorization {value:?}"
                    ));
                }
            };
            if slot.replace(v).is_some() {
                return Err(format!("{name} twice in the authorization {value:?}"));
            }
        }
        let missing = |what: &str| format!("no {what}= in the authorization {value:?}");
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?;
        let parts: Vec<&str> = credential.split('/').collect();
        let [akid, date, region, service, terminator] = parts[..] else {
            return Err(format!(
                "expected Credential=<key>/<date>/<region>/<service>/aws4_request, found {credential:?}"
            ));
        };
        if terminator != "aws4_request" {
            return Err(format!(
                "expected the scope to end in aws4_request, found {credential:?}"
            ));
        }
        if !(date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!(
                "expected a YYYYMMDD scope date, found {date:?} in {credential:?}"
            ));
        }
        if !(signature.len() == 64
            && signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(format!(
                "expected a signature of 64 lower-case hex digits, found {signature:?}"
            ));
        }
        Ok(Authorization {
            access_key_id: akid.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers: signed.split(';').map(str::to_owned).collect(),
            signature: signature.to_owned(),
        })
    }
}

impl Seen {
    /// The `SignedHeaders` list of the `authorization` header.
    pub fn signed_headers(&self) -> Vec<String> {
        let auth = self.header("authorization").unwrap_or("");
        auth.split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("SignedHeaders="))
            .map(|l| l.split(';').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Every value of header `name` (any case), in order.
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Who must have signed a request, and for what: the expectation
/// [`SignedBy::check`] holds a request to.
#[derive(Clone, Copy, Debug)]
pub struct SignedBy<'a> {
    /// The access key id the test handed out.
    pub access_key_id: &'a str,
    /// Its secret key.
    pub secret: &'a str,
    /// The signing name.
    pub service: &'a str,
    /// The signing region.
    pub region: &'a str,
}

impl SignedBy<'_> {
    /// Checks that `seen` carries a valid SigV4 signature by this key for this
    /// service and region, recomputed over what the server received, signed
    /// within five minutes of now; the path is normalized (every service but S3).
    ///
    /// # Errors
    /// The first thing that does not hold. A signature mismatch shows the
    /// canonical request and string to sign recomputed here (never the secret).
    pub fn check(&self, seen: &Seen) -> Result<(), String> {
        self.check_at(seen, unix_now(), true)
    }

    /// As [`SignedBy::check`], with the clock at `now` (Unix seconds) and path
    /// normalization (RFC 3986 dot segments, repeated slashes) as given.
    ///
    /// # Errors
    /// As [`SignedBy::check`].
    pub fn check_at(&self, seen: &Seen, now: i64, normalize_path: bool) -> Result<(), String> {
        let SignedBy {
            access_key_id,
            secret,
            service,
            region,
        } = *self;
        let auth = match seen.header_values("authorization")[..] {
            [one] => Authorization::parse(one)?,
            [] => return Err("no authorization header".to_owned()),
            _ => return Err("more than one authorization header".to_owned()),
        };
        let scope_found = format!(
            "{}/{}/{}/{}",
            auth.access_key_id, auth.date, auth.region, auth.service
        );
        if (
            auth.access_key_id.as_str(),
            auth.region.as_str(),
            auth.service.as_str(),
        ) != (access_key_id, region, service)
        {
            return Err(format!(
                "expected Credential={access_key_id}/<date>/{region}/{service}/aws4_request, found {scope_found}/aws4_request"
            ));
        }

        let amz_date = match seen.header_values("x-amz-date")[..] {
            [one] => one,
            [] => return Err("no x-amz-date header".to_owned()),
            _ => return Err("more than one x-amz-date header".to_owned()),
        };
        let signed_at = amz_date_unix(amz_date)?;
        if !amz_date.starts_with(&auth.date) {
            return Err(format!(
                "expected x-amz-date on the scope's day {}, found {amz_date}",
                auth.date
            ));
        }
        let skew = signed_at - now;
        if skew.abs() > MAX_SKEW_SECONDS {
            return Err(format!(
                "expected x-amz-date within {MAX_SKEW_SECONDS} s of now, found {amz_date} ({skew} s off)"
            ));
        }

        let signed = &auth.signed_headers;
        if signed.windows(2).any(|w| w[0] >= w[1])
            || signed
                .iter()
                .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
        {
            return Err(format!(
                "expected SignedHeaders lower-case, sorted and without repeats, found {signed:?}"
            ));
        }
        let mut must_sign = vec!["host".to_owned(), "x-amz-date".to_owned()];
        must_sign.extend(
            seen.headers
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .filter(|n| n.starts_with("x-amz-")),
        );
        for h in &must_sign {
            if !signed.contains(h) {
                return Err(format!(
                    "expected SignedHeaders to include {h}, found {signed:?}"
                ));
            }
        }

        let body_hash = hex::encode(Sha256::digest(&seen.body));
        let payload_hash = match seen.header_values("x-amz-content-sha256")[..] {
            [] => body_hash,
            [sent] if sent == body_hash => body_hash,
            [sent] => {
                return Err(format!(
                    "expected x-amz-content-sha256 {body_hash} (the body received), found {sent}"
                ));
            }
            _ => return Err("more than one x-amz-content-sha256 header".to_owned()),
        };

        let (path, query) = seen
            .target
            .split_once('?')
            .unwrap_or((seen.target.as_str(), ""));
        let mut headers = String::new();
        for name in signed {
            let values = seen.header_values(name);
            if values.is_empty() {
                return Err(format!("{name} is in SignedHeaders but was not received"));
            }
            let values: Vec<String> = values.iter().map(|v| fold_spaces(v)).collect();
            headers.push_str(&format!("{name}:{}\n", values.join(",")));
        }
        let canonical_request = format!(
            "{}\n{}\n{}\n{headers}\n{}\n{payload_hash}",
            seen.method,
            canonical_uri(path, service, normalize_path)?,
            canonical_query(query)?,
            signed.join(";"),
        );
        let scope = format!("{}/{region}/{service}/aws4_request", auth.date);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), &auth.date);
        let k_region = hmac(&k_date, region);
        let k_service = hmac(&k_region, service);
        let k_signing = hmac(&k_service, "aws4_request");
        let expected = hex::encode(hmac(&k_signing, &string_to_sign));
        if expected != auth.signature {
            return Err(format!(
                "expected Signature={expected}, found {}\n--- canonical request (recomputed) ---\n{canonical_request}\n--- string to sign ---\n{string_to_sign}\n---",
                auth.signature
            ));
        }
        Ok(())
    }
}

/// Panics unless `seen` is SigV4-signed, correctly, by the proxy's [`AKID`] and
/// [`SECRET_KEY`] for `service` in `region`, over what the server received
/// ([`SignedBy::check`]); and unless a session token sent is [`SESSION_TOKEN`].
pub fn assert_signed(seen: &Seen, service: &str, region: &str) {
    let what = format!("{} {} (request #{})", seen.method, seen.target, seen.index);
    let by = SignedBy {
        access_key_id: AKID,
        secret: SECRET_KEY,
        service,
        region,
    };
    if let Err(why) = by.check(seen) {
        panic!("{what}: {why}");
    }
    if let Some(token) = seen.header("x-amz-security-token") {
        assert_eq!(token, SESSION_TOKEN, "{what}: x-amz-security-token");
    }
}

/// One key pair a test handed out (several profiles sign with several).
#[derive(Clone, Copy, Debug)]
pub struct KeyPair<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// Its secret key.
    pub secret: &'a str,
    /// The session token that goes with it, if any.
    pub session_token: Option<&'a str>,
}

/// Which of `keys` signed `seen`, after checking that it did, correctly
/// ([`SignedBy::check`] with that key's secret, for `service` in `region`),
/// and that the session token sent is that key's (none when it has none).
/// Panics otherwise, also when `seen` names a key not among `keys`.
pub fn signer_of(seen: &Seen, service: &str, region: &str, keys: &[KeyPair<'_>]) -> usize {
    let what = format!("{} {} (request #{})", seen.method, seen.target, seen.index);
    let auth = Authorization::parse(seen.header("authorization").unwrap_or(""))
        .unwrap_or_else(|why| panic!("{what}: {why}"));
    let Some(at) = keys
        .iter()
        .position(|k| k.access_key_id == auth.access_key_id)
    else {
        panic!(
            "{what}: signed by {:?}, which is none of the keys handed out",
            auth.access_key_id
        );
    };
    let key = keys[at];
    let by = SignedBy {
        access_key_id: key.access_key_id,
        secret: key.secret,
        service,
        region,
    };
    if let Err(why) = by.check(seen) {
        panic!("{what}: {why}");
    }
    assert_eq!(
        seen.header("x-amz-security-token"),
        key.session_token,
        "{what}: x-amz-security-token"
    );
    at
}

impl Server {
    /// Which of `keys` signed each request so far, in order, each checked
    /// as [`signer_of`] does, for `service` in [`REGION`].
    pub fn signers(&self, service: &str, keys: &[KeyPair<'_>]) -> Vec<usize> {
        let all = self.requests();
        assert!(!all.is_empty(), "the server saw no request");
        all.iter()
            .map(|s| signer_of(s, service, REGION, keys))
            .collect()
    }

    /// Panics unless every request so far is signed for `service` in
    /// [`REGION`] ([`assert_signed`]).
    pub fn assert_all_signed(&self, service: &str) {
        let all = self.requests();
        assert!(!all.is_empty(), "the server saw no request");
        for s in &all {
            assert_signed(s, service, REGION);
        }
    }
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The Unix time of `YYYYMMDDTHHMMSSZ`.
fn amz_date_unix(text: &str) -> Result<i64, String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(b.len() == 16 && b[8] == b'T' && b[15] == b'Z' && digits(0..8) && digits(9..15)) {
        return Err(format!(
            "expected x-amz-date as YYYYMMDDTHHMMSSZ, found {text:?}"
        ));
    }
    let n = |a: usize, z: usize| -> i64 { text[a..z].parse().unwrap_or(0) };
    Ok(days_from_civil(n(0, 4), n(4, 6), n(6, 8)) * 86_400
        + n(9, 11) * 3600
        + n(11, 13) * 60
        + n(13, 15))
}

/// A header value trimmed, with each run of spaces and tabs folded to one space.
fn fold_spaces(value: &str) -> String {
    value
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 3986 encoding of every byte but the unreserved ones (and `/` when
/// `keep_slash`), upper-case hex.
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decodes `%XX` (nothing else is special).
fn percent_decode(text: &str) -> Result<Vec<u8>, String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let byte = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("expected %XX in the query, found {text:?}"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The canonical URI of the path as received: normalized when asked (dot
/// segments resolved, empty segments dropped, a trailing slash kept), then
/// encoded once more, as every service but S3 does with its already encoded path.
fn canonical_uri(path: &str, service: &str, normalize: bool) -> Result<String, String> {
    if service == "s3" {
        return Err("S3's single-encoded canonical URI is not supported by this check".into());
    }
    let path = if path.is_empty() { "/" } else { path };
    let path = if normalize {
        let mut kept: Vec<&str> = Vec::new();
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    kept.pop();
                }
                s => kept.push(s),
            }
        }
        let mut out = format!("/{}", kept.join("/"));
        let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
        if trailing && out != "/" {
            out.push('/');
        }
        out
    } else {
        path.to_owned()
    };
    Ok(uri_encode(path.as_bytes(), true))
}

/// The canonical query: each name and value decoded and encoded again, sorted by
/// name, then value.
fn canonical_query(query: &str) -> Result<String, String> {
    let mut pairs = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        pairs.push((
            uri_encode(&percent_decode(name)?, false),
            uri_encode(&percent_decode(value)?, false),
        ));
    }
    pairs.sort();
    Ok(pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&"))
}
