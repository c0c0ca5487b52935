//! Reading fields of the JSON objects AWS endpoints and helpers answer with.
//!
//! Owns: the one JSON-field reader of the credential sources (the
//! `credential_process` output, container and IMDS credentials, the SSO token
//! cache, the IAM Identity Center portal and OIDC answers): parsing a body into
//! an object, names matched ASCII-case-insensitively with the last match
//! winning (as Rust `aws-config`'s `json_credentials.rs` reads them), typed
//! reads (a non-empty string, an RFC 3339 time), replacing a field in place,
//! and overwriting every string of a parsed document with zeros once it held
//! secrets ([`Document`] does it when dropped). Pure.
//! Refuses: quoting a value in an error: errors name the field only, since the
//! values are secret keys and tokens.

use std::fmt;
use std::time::SystemTime;

use p256::elliptic_curve::zeroize::Zeroize;
use serde_json::{Map, Value};

use crate::secret::Secret;
use crate::time::parse_rfc3339;

/// A JSON object.
pub type Object = Map<String, Value>;

/// Why a JSON answer is not what was expected. Its `Display` is a phrase that
/// follows the name of the document ("the answer …", "the cache file …").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all (position only: serde_json's messages can quote input).
    NotJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// JSON, but not an object.
    NotObject,
    /// A required field is absent, `null` or blank.
    Missing(&'static str),
    /// A field is not a string.
    NotString(&'static str),
    /// A field holds something else than expected.
    Invalid {
        /// The field.
        name: &'static str,
        /// What it should be, e.g. `a positive integer`.
        expected: &'static str,
    },
    /// A field holds a value this reader does not support (a version).
    Unsupported {
        /// The field.
        name: &'static str,
        /// What is supported, e.g. `the number 1`.
        expected: &'static str,
    },
    /// A field is not an RFC 3339 time. (The time parser's own error is not
    /// kept: it quotes the text, which may be a secret in the wrong field.)
    Time {
        /// The field.
        name: &'static str,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::NotJson { line, column } => {
                write!(f, "is not valid JSON (line {line}, column {column})")
            }
            JsonError::NotObject => f.write_str("is not a JSON object"),
            JsonError::Missing(name) => write!(f, "has no \"{name}\""),
            JsonError::NotString(name) => write!(f, "has a \"{name}\" that is not a string"),
            JsonError::Invalid { name, expected } => {
                write!(f, "has a \"{name}\" that is not {expected}")
            }
            JsonError::Unsupported { name, expected } => {
                write!(f, "has an unsupported \"{name}\" (expected {expected})")
            }
            JsonError::Time { name, .. } => write!(
                f,
                "has an unreadable \"{name}\" that is not an RFC 3339 time such as 2025-01-31T12:00:00Z"
            ),
        }
    }
}

impl std::error::Error for JsonError {}

/// Parses `body` as a JSON object. The caller zeroizes it ([`zeroize_object`])
/// when it held secrets.
///
/// # Errors
/// [`JsonError::NotJson`] or [`JsonError::NotObject`].
pub fn object(body: &[u8]) -> Result<Object, JsonError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut o)) => {
            // serde_json keeps a repeated key where it first appeared (with
            // its last value), so in `{"A":1,"a":2,"A":3}` the last match of
            // `a` would be 2. Read again with each key where it was last
            // written, so [`field`]'s last match is the last one written, as
            // aws-config reads it. The text is valid JSON at most 128 deep
            // (serde_json's limit), so `in_written_order` always succeeds.
            let text = std::str::from_utf8(body).expect("serde_json read it as UTF-8");
            let reordered = in_written_order(text, &mut 0);
            zeroize_object(&mut o);
            match reordered {
                Some(Value::Object(o)) => Ok(o),
                _ => unreachable!("valid JSON reads again"),
            }
        }
        Ok(mut other) => {
            zeroize_value(&mut other);
            Err(JsonError::NotObject)
        }
        Err(e) => Err(JsonError::NotJson {
            line: e.line(),
            column: e.column(),
        }),
    }
}

/// A parsed JSON object that holds secrets (keys, tokens): every string in
/// it is overwritten with zeros when it is dropped. Read through `Deref` to
/// [`Object`] with [`field`] and the typed readers.
pub struct Document(Object);

impl Document {
    /// Parses `body` as a JSON object ([`object`]).
    ///
    /// # Errors
    /// [`JsonError::NotJson`] or [`JsonError::NotObject`].
    pub fn parse(body: &[u8]) -> Result<Self, JsonError> {
        object(body).map(Document)
    }

    /// The document as JSON text, a [`Secret`] (it holds what was read).
    pub fn text(&self) -> Secret {
        Secret::new(serde_json::to_string(&self.0).expect("a JSON object serializes"))
    }
}

impl Default for Document {
    fn default() -> Self {
        Document(Object::new())
    }
}

impl Clone for Document {
    fn clone(&self) -> Self {
        Document(self.0.clone())
    }
}

impl std::ops::Deref for Document {
    type Target = Object;
    fn deref(&self) -> &Object {
        &self.0
    }
}

impl std::ops::DerefMut for Document {
    fn deref_mut(&mut self) -> &mut Object {
        &mut self.0
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        zeroize_object(&mut self.0);
    }
}

/// The JSON value at `text[*at..]`, each object's members in the order of
/// their keys' last occurrence (a repeated key moves to where it was last
/// written, with that value). `None` for text that is not JSON.
fn in_written_order(text: &str, at: &mut usize) -> Option<Value> {
    fn skip(text: &str, at: &mut usize) {
        *at = text.len()
            - text[*at..]
                .trim_start_matches([' ', '\t', '\n', '\r'])
                .len();
    }
    fn one(text: &str, at: &mut usize) -> Option<Value> {
        let mut s = serde_json::Deserializer::from_str(&text[*at..]).into_iter::<Value>();
        let v = s.next()?.ok()?;
        *at += s.byte_offset();
        Some(v)
    }
    fn then(text: &str, at: &mut usize, c: u8) -> bool {
        skip(text, at);
        let yes = text.as_bytes().get(*at) == Some(&c);
        if yes {
            *at += 1;
        }
        yes
    }
    skip(text, at);
    match text.as_bytes().get(*at)? {
        b'{' => {
            *at += 1;
            let mut map = Object::new();
            if then(text, at, b'}') {
                return Some(Value::Object(map));
            }
            loop {
                skip(text, at);
                let Value::String(key) = one(text, at)? else {
                    return None;
                };
                if !then(text, at, b':') {
                    return None;
                }
                let value = in_written_order(text, at)?;
                if let Some(mut old) = map.shift_remove(&key) {
                    zeroize_value(&mut old);
                }
                map.insert(key, value);
                if !then(text, at, b',') {
                    return then(text, at, b'}').then_some(Value::Object(map));
                }
            }
        }
        b'[' => {
            *at += 1;
            let mut items = Vec::new();
            if then(text, at, b']') {
                return Some(Value::Array(items));
            }
            loop {
                items.push(in_written_order(text, at)?);
                if !then(text, at, b',') {
                    return then(text, at, b']').then_some(Value::Array(items));
                }
            }
        }
        _ => one(text, at),
    }
}

/// The value of `name` in `object`, names compared ASCII-case-insensitively;
/// the last match wins.
pub fn field<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .next_back()
}

/// An optional string field: absent, `null` or blank is `None`.
///
/// # Errors
/// [`JsonError::NotString`] when it is another type.
pub fn optional_string<'a>(
    object: &'a Object,
    name: &'static str,
) -> Result<Option<&'a str>, JsonError> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(JsonError::NotString(name)),
    }
}

/// A required, non-blank string field.
///
/// # Errors
/// [`JsonError::Missing`] or [`JsonError::NotString`].
pub fn required_string<'a>(object: &'a Object, name: &'static str) -> Result<&'a str, JsonError> {
    optional_string(object, name)?.ok_or(JsonError::Missing(name))
}

/// An optional RFC 3339 time field.
///
/// # Errors
/// [`JsonError::NotString`] or [`JsonError::Time`].
pub fn optional_time(object: &Object, name: &'static str) -> Result<Option<SystemTime>, JsonError> {
    match optional_string(object, name)? {
        None => Ok(None),
        Some(text) => parse_rfc3339(text)
            .map(Some)
            .map_err(|_| JsonError::Time { name }),
    }
}

/// A required RFC 3339 time field.
///
/// # Errors
/// [`JsonError::Missing`], [`JsonError::NotString`] or [`JsonError::Time`].
pub fn required_time(object: &Object, name: &'static str) -> Result<SystemTime, JsonError> {
    optional_time(object, name)?.ok_or(JsonError::Missing(name))
}

/// Sets the string field `name` (matched case-insensitively, keeping the key as
/// written; added under `name` when absent), zeroizing the old value.
pub fn set_string(object: &mut Object, name: &str, value: &str) {
    let key = object
        .keys()
        .rfind(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned());
    if let Some(Value::String(old)) = object.get_mut(&key) {
        old.zeroize();
    }
    object.insert(key, Value::String(value.to_owned()));
}

/// Overwrites every string in `value` (keys excepted) with zeros.
pub fn zeroize_value(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(zeroize_value),
        Value::Object(o) => zeroize_object(o),
        _ => {}
    }
}

/// Overwrites every string value in `object` with zeros.
pub fn zeroize_object(object: &mut Object) {
    object.values_mut().for_each(zeroize_value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_written_of_a_repeated_name_wins() {
        // serde_json alone keeps `"A"` at its first place: the last match of
        // `a` was the 2 (found by fuzz/fuzz_targets/process_output.rs).
        let o = object(br#"{"A":1,"a":2,"A":3,"n":{"k":"x","K":"y","k":"z"}}"#).unwrap();
        assert_eq!(field(&o, "a"), Some(&Value::from(3)));
        let n = field(&o, "n").and_then(Value::as_object).unwrap();
        assert_eq!(field(n, "k"), Some(&Value::from("z")));
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "A", "n"]);
    }

    #[test]
    fn fields_match_case_insensitively_and_the_last_wins() {
        let o = object(br#"{"Token":"a","TOKEN":"b","n":5,"blank":" ","nul":null}"#).unwrap();
        assert_eq!(required_string(&o, "token"), Ok("b"));
        assert_eq!(optional_string(&o, "blank"), Ok(None));
        assert_eq!(optional_string(&o, "nul"), Ok(None));
        assert_eq!(required_string(&o, "nul"), Err(JsonError::Missing("nul")));
        assert_eq!(
            required_string(&o, "n").unwrap_err().to_string(),
            "has a \"n\" that is not a string"
        );
        assert_eq!(
            required_string(&o, "other").unwrap_err().to_string(),
            "has no \"other\""
        );
    }

    #[test]
    fn documents_and_times_say_what_is_wrong_without_values() {
        assert_eq!(object(b"[1]"), Err(JsonError::NotObject));
        let e = object(br#"{"a": "SECRET"#).unwrap_err().to_string();
        assert!(e.starts_with("is not valid JSON (line 1, column"), "{e}");
        let o = object(br#"{"expiresAt":"SECRET-soon","ok":"2026-01-01T00:00:00Z"}"#).unwrap();
        let e = required_time(&o, "expiresAt").unwrap_err().to_string();
        assert!(e.contains("unreadable \"expiresAt\""), "{e}");
        assert!(e.contains("not an RFC 3339 time"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        let debug = format!("{:?}", required_time(&o, "expiresAt").unwrap_err());
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(required_time(&o, "ok").is_ok());
    }

    #[test]
    fn set_string_keeps_the_key_as_written() {
        let mut o = object(br#"{"AccessToken":"old"}"#).unwrap();
        set_string(&mut o, "accessToken", "new");
        set_string(&mut o, "expiresAt", "t");
        assert_eq!(
            Value::Object(o.clone()).to_string(),
            r#"{"AccessToken":"new","expiresAt":"t"}"#
        );
        zeroize_object(&mut o);
        assert_eq!(o["AccessToken"], "");
    }

    #[test]
    fn a_document_writes_back_what_it_read_with_fields_set() {
        let mut doc = Document::parse(br#"{"AccessToken":"old","kept":[1,{"n":"v"}]}"#).unwrap();
        set_string(&mut doc, "accessToken", "new");
        let copy = doc.clone();
        drop(doc);
        assert_eq!(
            copy.text().expose(),
            r#"{"AccessToken":"new","kept":[1,{"n":"v"}]}"#
        );
        assert!(matches!(Document::parse(b"[1]"), Err(JsonError::NotObject)));
    }
}
