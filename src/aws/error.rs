//! What an AWS error answer says.
//!
//! Owns: reading the error type, message and request id from an error
//! answer's headers (`x-amzn-ErrorType`, `x-amzn-RequestId`,
//! `x-amz-request-id`) and body, in the shapes AWS protocols use: JSON
//! (`__type`/`code`/`Code`, `message`/`Message`; the awsJson and restJson
//! protocols) and XML (`<Code>`, `<Message>`; the query and restXml
//! protocols), as the AWS SDKs' error parsers read them
//! (<https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html>, "Operation
//! error serialization"). Pure: headers and body in, fields out.
//! Refuses: guessing an error type from free text.

use serde_json::Value;

/// An AWS error answer: the error type (the shape name only, without the
/// namespace before `#` or the text after `:`), message and request id, and
/// the body as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

fn xml_tag<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].trim())
}

impl AwsError {
    /// Reads an error answer from its headers (names lower-case) and body.
    pub fn parse(headers: &[(String, String)], body: Vec<u8>) -> AwsError {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let text = String::from_utf8_lossy(&body);
        let json: Option<Value> = serde_json::from_str(text.trim()).ok();
        let raw_type = header("x-amzn-errortype")
            .map(str::to_owned)
            .or_else(|| {
                let b = json.as_ref()?;
                ["__type", "code", "Code"]
                    .iter()
                    .find_map(|k| b.get(*k).and_then(Value::as_str).map(str::to_owned))
            })
            .or_else(|| xml_tag(&text, "Code").map(str::to_owned));
        let error_type = raw_type.and_then(|raw| {
            let cut = raw.split(':').next().unwrap_or("");
            let name = cut.rsplit('#').next().unwrap_or(cut).trim();
            (!name.is_empty()).then(|| name.to_owned())
        });
        let message = json
            .as_ref()
            .and_then(|b| b.get("message").or_else(|| b.get("Message")))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| xml_tag(&text, "Message").map(str::to_owned));
        let request_id = header("x-amzn-requestid")
            .or_else(|| header("x-amz-request-id"))
            .map(str::to_owned);
        AwsError {
            error_type,
            message,
            request_id,
            body,
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
}
