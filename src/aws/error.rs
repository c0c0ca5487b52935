//! What an AWS error answer says.
//!
//! Owns: reading the error type, message and request id from an error answer's
//! headers (`x-amzn-ErrorType`, `x-amzn-RequestId`, `x-amz-request-id`) and
//! body, in the shapes AWS protocols use: JSON (`__type`/`code`, `message`,
//! names in any case: awsJson and restJson,
//! <https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html>, "Operation
//! error serialization"; the OAuth form of the IAM Identity Center OIDC service,
//! `error`/`error_description`, RFC 6749 §5.2) and XML (awsQuery and restXml,
//! read with [`crate::xml`]). Every value goes through the crate's one
//! sanitiser (`text::clean`: control characters removed, at most 512
//! characters), since it came from the server. Pure.
//! Refuses: guessing an error type from free text.

use std::fmt;

use serde_json::Value;

use crate::json;
use crate::text::{MAX_SERVER_TEXT, clean};
use crate::xml::{self, Element};

/// An AWS error answer: the error type (the shape name only, without the
/// namespace before `#` or the text after `:`), message and request id, and
/// the body as read. The three fields are sanitised.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AwsError {
    /// `ExpiredTokenException`, `SignatureDoesNotMatch`, …
    pub error_type: Option<String>,
    /// The service's message.
    pub message: Option<String>,
    /// The request id, for AWS support.
    pub request_id: Option<String>,
    /// The body, as read.
    pub body: Vec<u8>,
}

impl fmt::Debug for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsError")
            .field("error_type", &self.error_type)
            .field("message", &self.message)
            .field("request_id", &self.request_id)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl fmt::Display for AwsError {
    /// `Code: message (request id r-1)`, or the parts known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what())?;
        match &self.request_id {
            Some(id) => write!(f, " (request id {id})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for AwsError {}

/// The text of `<tag>…</tag>` found anywhere: only for a body that does not
/// parse as XML (an answer cut at the read limit).
fn xml_tag<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].trim())
}

/// The `<Error>` element of an XML error document: awsQuery's
/// `<ErrorResponse><Error><Code/><Message/></Error><RequestId/>` (STS), also
/// inside `<Errors>` or under the root `<Response>` as EC2 and emulators such
/// as moto write it, or restXml's root `<Error>`.
fn xml_error(root: &Element) -> Option<&Element> {
    match root.name.as_str() {
        "Error" => Some(root),
        "ErrorResponse" | "Response" => {
            child(root, "Error").or_else(|| child(child(root, "Errors")?, "Error"))
        }
        _ => None,
    }
}

fn child<'e>(parent: &'e Element, name: &str) -> Option<&'e Element> {
    parent.only_child(name).ok().flatten()
}

fn xml_text(parent: Option<&Element>, name: &str) -> Option<String> {
    parent?
        .only_child(name)
        .ok()
        .flatten()
        .and_then(|e| e.leaf_text().ok())
}

/// The shape name of an error type: after the last `#`, before the first `:`.
fn shape_name(raw: &str) -> &str {
    let cut = raw.split(':').next().unwrap_or("");
    cut.rsplit('#').next().unwrap_or(cut).trim()
}

impl AwsError {
    /// Reads an error answer from its headers (names lower-case) and body.
    pub fn parse(headers: &[(String, String)], body: Vec<u8>) -> AwsError {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let object = json::object(&body).ok();
        let json_text = |names: &[&'static str]| {
            let o = object.as_ref()?;
            names.iter().find_map(|name| {
                json::optional_string(o, name)
                    .ok()
                    .flatten()
                    .map(str::to_owned)
            })
        };
        let (xml_root, unparsed) = match object {
            Some(_) => (None, None),
            None => match xml::parse(&body) {
                Ok(root) => (Some(root), None),
                Err(_) => (None, Some(String::from_utf8_lossy(&body))),
            },
        };
        let error = xml_root.as_ref().and_then(xml_error);
        let in_text = |tag| {
            unparsed
                .as_deref()
                .and_then(|t| xml_tag(t, tag).map(str::to_owned))
        };
        let error_type = header("x-amzn-errortype")
            .or_else(|| json_text(&["__type", "code", "error"]))
            .or_else(|| xml_text(error, "Code"))
            .or_else(|| in_text("Code"))
            .map(|raw| clean(shape_name(&raw), MAX_SERVER_TEXT))
            .filter(|t| !t.is_empty());
        let message = json_text(&["message", "error_description"])
            .or_else(|| xml_text(error, "Message"))
            .or_else(|| in_text("Message"))
            .map(|m| clean(&m, MAX_SERVER_TEXT))
            .filter(|m| !m.is_empty());
        let request_id = header("x-amzn-requestid")
            .or_else(|| header("x-amz-request-id"))
            .or_else(|| xml_text(xml_root.as_ref(), "RequestId"))
            .or_else(|| xml_text(xml_root.as_ref(), "RequestID"))
            .or_else(|| xml_text(error, "RequestId"))
            .map(|r| clean(&r, MAX_SERVER_TEXT))
            .filter(|r| !r.is_empty());
        drop(xml_root);
        AwsError {
            error_type,
            message,
            request_id,
            body,
        }
    }

    /// `Code: message (HTTP 403, request id r-1)`, or the parts known:
    /// what an error message says about a refused call.
    pub fn describe(&self, status: u16) -> String {
        let id = match &self.request_id {
            Some(id) => format!(", request id {id}"),
            None => String::new(),
        };
        format!("{} (HTTP {status}{id})", self.what())
    }

    /// `Code: message`, or the part known.
    fn what(&self) -> String {
        match (&self.error_type, &self.message) {
            (Some(code), Some(m)) => format!("{code}: {m}"),
            (Some(one), None) | (None, Some(one)) => one.clone(),
            (None, None) => "no error details in the answer".to_owned(),
        }
    }

    /// True for `ExpiredToken` / `ExpiredTokenException`: the credentials the
    /// request was signed with have expired.
    pub fn expired_credentials(&self) -> bool {
        matches!(
            self.error_type.as_deref(),
            Some("ExpiredToken" | "ExpiredTokenException")
        )
    }

    /// True when the service refused the signature itself.
    pub fn signature_refused(&self) -> bool {
        matches!(
            self.error_type.as_deref(),
            Some(
                "InvalidSignatureException"
                    | "SignatureDoesNotMatch"
                    | "IncompleteSignatureException"
            )
        )
    }

    /// The JSON-RPC error code in the body, if the body is a JSON-RPC error.
    pub fn jsonrpc_code(&self) -> Option<i64> {
        let v: Value = serde_json::from_slice(&self.body).ok()?;
        v.pointer("/error/code")?.as_i64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn header_type_wins_and_is_cut_to_the_shape_name() {
        let e = AwsError::parse(
            &h(&[
                (
                    "x-amzn-errortype",
                    "ExpiredTokenException:http://internal.amazon.com/",
                ),
                ("x-amzn-requestid", "r-1"),
            ]),
            br#"{"__type":"Other","message":"The security token included in the request is expired"}"#
                .to_vec(),
        );
        assert_eq!(e.error_type.as_deref(), Some("ExpiredTokenException"));
        assert!(e.expired_credentials());
        assert_eq!(
            e.message.as_deref(),
            Some("The security token included in the request is expired")
        );
        assert_eq!(e.request_id.as_deref(), Some("r-1"));
    }

    #[test]
    fn json_and_xml_bodies() {
        let e = AwsError::parse(
            &[],
            br#"{"__type":"com.amazon.coral.service#InvalidSignatureException","Message":"m"}"#
                .to_vec(),
        );
        assert_eq!(e.error_type.as_deref(), Some("InvalidSignatureException"));
        assert!(e.signature_refused());
        assert_eq!(e.message.as_deref(), Some("m"));
        let e = AwsError::parse(
            &h(&[("x-amz-request-id", "r-2")]),
            b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error></ErrorResponse>".to_vec(),
        );
        assert_eq!(e.error_type.as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(e.message.as_deref(), Some("no"));
        assert_eq!(e.request_id.as_deref(), Some("r-2"));
        let e = AwsError::parse(
            &[],
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}"#.to_vec(),
        );
        assert_eq!(e.jsonrpc_code(), Some(-32601));
        assert_eq!(e.error_type, None);
    }

    #[test]
    fn query_protocol_shapes_and_their_request_ids() {
        let sts = br#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error>
  <RequestId>4b2a8e7c</RequestId>
</ErrorResponse>"#;
        let e = AwsError::parse(&[], sts.to_vec());
        assert_eq!(e.error_type.as_deref(), Some("AccessDenied"));
        assert_eq!(e.message.as_deref(), Some("not allowed"));
        assert_eq!(e.request_id.as_deref(), Some("4b2a8e7c"));
        assert_eq!(
            e.describe(403),
            "AccessDenied: not allowed (HTTP 403, request id 4b2a8e7c)"
        );
        // moto 5.2.5 answers `<ErrorResponse><Errors><Error>…` (seen on its server).
        let moto = br#"<?xml version="1.0" encoding="utf-8"?>
<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>"#;
        let e = AwsError::parse(&[], moto.to_vec());
        assert_eq!(e.error_type.as_deref(), Some("SignatureDoesNotMatch"));
        assert!(e.message.unwrap().starts_with("The request signature"));
        let ec2 = b"<Response><Errors><Error><Code>AuthFailure</Code><Message>m\x1b[31m</Message></Error></Errors><RequestID>r-9</RequestID></Response>";
        let e = AwsError::parse(&[], ec2.to_vec());
        assert_eq!(
            (e.error_type, e.message, e.request_id),
            (
                Some("AuthFailure".into()),
                Some("m [31m".into()),
                Some("r-9".into())
            )
        );
        let e = AwsError::parse(
            &h(&[("x-amzn-requestid", "hdr-id-1")]),
            b"<html><body>Forbidden".to_vec(),
        );
        assert_eq!(
            e.describe(403),
            "no error details in the answer (HTTP 403, request id hdr-id-1)"
        );
        let s3 =
            b"<Error><Code>NoSuchKey</Code><Message>m</Message><RequestId>r</RequestId></Error>";
        let e = AwsError::parse(&[], s3.to_vec());
        assert_eq!(e.error_type.as_deref(), Some("NoSuchKey"));
        assert_eq!(e.request_id.as_deref(), Some("r"));
    }

    #[test]
    fn oauth_and_lower_case_json_shapes() {
        let e = AwsError::parse(
            &[],
            br#"{"error":"invalid_grant","error_description":"Invalid refresh token provided"}"#
                .to_vec(),
        );
        assert_eq!(e.error_type.as_deref(), Some("invalid_grant"));
        assert_eq!(e.message.as_deref(), Some("Invalid refresh token provided"));
        let e = AwsError::parse(
            &[],
            br#"{"code":"AccessDeniedException","message":"token is not valid"}"#.to_vec(),
        );
        assert_eq!(
            e.describe(403),
            "AccessDeniedException: token is not valid (HTTP 403)"
        );
    }

    #[test]
    fn server_text_is_sanitised_before_anyone_shows_it() {
        // Before the one sanitiser, the relay's reader passed an answer's
        // message on with its escape sequences and line breaks.
        let e = AwsError::parse(
            &h(&[("x-amzn-requestid", "r\n1")]),
            format!(
                r#"{{"__type":"Bad\u001b[2J","message":"line\r\nFAKE LOG LINE {}"}}"#,
                "x".repeat(2000)
            )
            .into_bytes(),
        );
        let message = e.message.unwrap();
        assert!(message.starts_with("line  FAKE LOG LINE x"), "{message}");
        assert!(!message.contains(['\r', '\n']));
        assert_eq!(message.chars().count(), MAX_SERVER_TEXT + 1);
        assert_eq!(e.error_type.as_deref(), Some("Bad [2J"));
        assert_eq!(e.request_id.as_deref(), Some("r 1"));
    }
}
