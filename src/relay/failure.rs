//! The relay's own answers when a request gets no response from the server:
//! their JSON-RPC codes, texts and hints.
//!
//! Owns: one [`Failure`] (code, message, `data`) per way a request can fail —
//! refused by `--read-only` (`-32003`), unsigned for want of credentials
//! (`-32002`), unreachable or no answer in time (`-32000`, `-32001`), an HTTP
//! error status with what AWS said (`x-amzn-ErrorType`, request id) and a hint
//! that names the fix — and the `notifications/cancelled` a stdio client gets
//! when a `subscriptions/listen` stream drops
//! (<https://modelcontextprotocol.io/specification/2026-07-28/basic/patterns/subscriptions>).
//! Pure: values in, text out.
//! Refuses: putting a secret in a text: only the host, statuses, AWS error
//! types, request ids, limits and the profile's name appear.

use std::time::Duration;

use serde_json::{Value, json};

use super::jsonrpc::{self, Id};
use super::upstream::SendError;
use crate::auth::AuthError;
use crate::aws::error::AwsError;
use crate::http::ErrorKind;

/// JSON-RPC error code for a call the relay refused by policy (`--read-only`).
pub(crate) const POLICY_REFUSED: i64 = -32003;

/// An error to give the client for each unanswered request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Failure {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

/// What the requests were signed as, for hints.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub(crate) service: &'a str,
    pub(crate) region: &'a str,
    pub(crate) profile: &'a str,
}

/// The read timeout a request had, and the flag that sets it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limit {
    pub(crate) read: Duration,
    pub(crate) flag: &'static str,
}

/// A batch under a revision without batches (every revision after
/// 2025-03-26: <https://modelcontextprotocol.io/specification/2025-06-18/changelog>).
pub(crate) fn batch_refused(revision: &str) -> Failure {
    Failure {
        code: jsonrpc::INVALID_REQUEST,
        message: format!(
            "Invalid Request: JSON-RPC batches are not part of MCP {revision} (2025-06-18 removed them); send each message on a line of its own"
        ),
        data: None,
    }
}

/// A request read while `max_in_flight` requests run and the queue behind
/// them is full (`queue_max` requests or `queue_bytes` bytes): not sent, so
/// that stdin is read on (what comes after it may be an answer a running call
/// waits for).
pub(crate) fn queue_full(max_in_flight: usize, queue_max: usize, queue_bytes: usize) -> Failure {
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message: format!(
            "mcp-sigv4 already has {max_in_flight} requests in flight (--max-in-flight) and its queue behind them is full ({queue_max} requests or {} MiB); this request was not sent: send it again once answers arrive, or raise --max-in-flight",
            queue_bytes >> 20
        ),
        data: None,
    }
}

/// The note for a busy answer whose `Retry-After` asked for `wait`, longer
/// than the relay waits before a retry.
pub(crate) fn waits_too_long(wait: Duration) -> String {
    let secs = wait.as_secs();
    let asked = if secs == u64::MAX {
        "longer than can be counted".to_owned()
    } else {
        format!("{secs} s")
    };
    format!(
        "the server asked to be sent this again after {asked} (Retry-After), longer than mcp-sigv4 waits ({} s), so it was not sent again; send it again later",
        crate::retry::MAX_RETRY_WAIT.as_secs()
    )
}

/// A tool call `--read-only` refused, with the reason.
pub(crate) fn refused(why: String) -> Failure {
    Failure {
        code: POLICY_REFUSED,
        message: why,
        data: None,
    }
}

/// No HTTP answer: no credentials, a failed signature, a timeout, or no
/// connection.
pub(crate) fn not_sent(host: &str, e: &SendError, limit: Limit) -> Failure {
    match e {
        SendError::Auth(AuthError::Credentials(c)) => Failure {
            code: jsonrpc::CREDENTIALS_ERROR,
            message: format!("mcp-sigv4 cannot sign the request: {c}"),
            data: c.hint.as_ref().map(|h| json!({ "hint": h })),
        },
        SendError::Auth(a) => Failure {
            code: jsonrpc::CREDENTIALS_ERROR,
            message: format!("mcp-sigv4 cannot sign the request: {a}"),
            data: None,
        },
        SendError::Unsendable { credentials, .. } => Failure {
            code: if *credentials {
                jsonrpc::CREDENTIALS_ERROR
            } else {
                jsonrpc::INTERNAL_ERROR
            },
            message: format!("mcp-sigv4: {e}"),
            data: None,
        },
        SendError::Http(h) if h.kind == ErrorKind::Timeout => Failure {
            code: jsonrpc::REQUEST_TIMEOUT,
            message: format!(
                "no answer from {host} in time ({h}); the limit is {} s ({})",
                limit.read.as_secs_f64(),
                limit.flag
            ),
            data: None,
        },
        SendError::Http(h) if h.kind == ErrorKind::Connect => Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: format!(
                "cannot reach {host}: {h}; check the endpoint URL, your network and any HTTPS_PROXY setting"
            ),
            data: None,
        },
        // The server was reached: say what it did, not where to look for
        // a network problem.
        SendError::Http(h) if h.kind == ErrorKind::TooLarge => Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: format!(
                "{host} answered with {h} (--max-header-size); the answer was not read"
            ),
            data: None,
        },
        SendError::Http(h) if h.kind == ErrorKind::Io => Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: format!(
                "the connection to {host} failed after the request was sent, before an answer ({h}); the request may have reached the server"
            ),
            data: None,
        },
        SendError::Http(h) => Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: format!("{host} sent an answer mcp-sigv4 cannot read: {h}"),
            data: None,
        },
    }
}

/// An answer (a JSON body, an SSE event) larger than the limit `flag` sets.
pub(crate) fn too_large(host: &str, max: usize, flag: &str) -> Failure {
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message: format!(
            "the answer from {host} is larger than {max} bytes ({flag}); it was not passed on"
        ),
        data: Some(json!({ "limit": max, "flag": flag })),
    }
}

/// An answer body that broke off before it was complete.
pub(crate) fn broke_off(host: &str, e: &std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    let closed = matches!(
        e.kind(),
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    ) || e.to_string().to_ascii_lowercase().contains("disconnect");
    let message = if closed {
        format!("{host} closed the connection before its answer was complete ({e})")
    } else {
        format!("the answer from {host} broke off before it was complete ({e})")
    };
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message,
        data: None,
    }
}

/// An HTTP error status: the status, what AWS said, the authentication
/// retries' `note`, and a hint; the same in `data`.
pub(crate) fn http_status(
    host: &str,
    status: u16,
    error: &AwsError,
    note: Option<&str>,
    scope: Scope<'_>,
) -> Failure {
    // A busy answer that was not retried says why in its note instead of the
    // hint that it was.
    let hint = match (status, note) {
        (429 | 503, Some(_)) => None,
        _ => hint_for(status, error.error_type.as_deref(), scope),
    };
    let mut message = format!("{host} answered HTTP {status}");
    if let Some(t) = &error.error_type {
        message.push_str(&format!(" {t}"));
    }
    if let Some(m) = &error.message {
        message.push_str(&format!(": {m}"));
    }
    if let Some(r) = &error.request_id {
        message.push_str(&format!(" (request id {r})"));
    }
    if let Some(n) = note {
        message.push_str(&format!("; {n}"));
    }
    if let Some(h) = &hint {
        message.push_str(&format!("; {h}"));
    }
    let mut data = json!({ "httpStatus": status });
    if let Some(t) = &error.error_type {
        data["awsErrorType"] = json!(t);
    }
    if let Some(r) = &error.request_id {
        data["awsRequestId"] = json!(r);
    }
    if let Some(h) = hint {
        data["hint"] = json!(h);
    }
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message,
        data: Some(data),
    }
}

/// A 2xx answer that is neither JSON nor an event stream.
pub(crate) fn wrong_content_type(host: &str, status: u16, content_type: Option<&str>) -> Failure {
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message: format!(
            "{host} answered HTTP {status} with content type {:?}, expected application/json or text/event-stream",
            content_type.unwrap_or("(none)")
        ),
        data: Some(json!({ "httpStatus": status })),
    }
}

/// A 2xx answer with a `Content-Encoding` (`encoding`, sanitised) the relay
/// did not ask for and does not decode.
pub(crate) fn encoded(host: &str, status: u16, encoding: &str) -> Failure {
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message: format!(
            "{host} answered HTTP {status} with Content-Encoding {encoding:?}, which mcp-sigv4 did not ask for and does not decode; configure the server (or a proxy in front of it) to send its answers unencoded"
        ),
        data: Some(json!({ "httpStatus": status })),
    }
}

/// A JSON answer (`application/json`) the relay could not read: `why` is
/// what was wrong with it ("is not UTF-8", "is not a JSON-RPC message").
pub(crate) fn unreadable_answer(host: &str, why: &str) -> Failure {
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message: format!(
            "{host} answered this request with an application/json body that {why} (the log on stderr says more)"
        ),
        data: None,
    }
}

/// The answer ended without a response to the request.
pub(crate) fn no_response(host: &str) -> Failure {
    Failure {
        code: jsonrpc::UPSTREAM_ERROR,
        message: format!("{host} ended its answer without a response to this request"),
        data: None,
    }
}

/// A request that timed out: `limit` says which limit fired.
pub(crate) fn timed_out(host: &str, limit: &str) -> Failure {
    Failure {
        code: jsonrpc::REQUEST_TIMEOUT,
        message: format!("{host} timed out: {limit}"),
        data: None,
    }
}

/// The limit a tool call exceeded.
pub(crate) fn tool_limit(tool: Duration) -> String {
    format!("no message for {} s (--tool-timeout)", tool.as_secs_f64())
}

/// The limit any other request exceeded.
pub(crate) fn exchange_limit(exchange: Duration, read: Duration) -> String {
    format!(
        "no complete answer within {} s (--timeout) or no data for {} s (--read-timeout)",
        exchange.as_secs_f64(),
        read.as_secs_f64()
    )
}

/// What a stdio client is told when the server's stream for its
/// `subscriptions/listen` request `id` drops without the listen response.
pub(crate) fn listen_ended(id: &Id, host: &str) -> String {
    jsonrpc::cancelled_notification(id, &format!("the subscription stream from {host} ended"))
}

/// The fix for an HTTP error, where one is known.
pub(crate) fn hint_for(status: u16, error_type: Option<&str>, scope: Scope<'_>) -> Option<String> {
    let Scope {
        service,
        region,
        profile,
    } = scope;
    let scope = format!("signed for service '{service}' in region '{region}'");
    match (status, error_type) {
        (_, Some("ExpiredToken" | "ExpiredTokenException")) => Some(format!(
            "the AWS credentials have expired: renew them (e.g. `aws sso login --profile {profile}`) and retry"
        )),
        (_, Some("InvalidSignatureException" | "SignatureDoesNotMatch" | "IncompleteSignatureException")) => Some(format!(
            "the signature was refused: check the system clock, and that --service/--region match the endpoint ({scope})"
        )),
        (_, Some("UnrecognizedClientException" | "InvalidClientTokenId")) => Some(format!(
            "AWS does not recognize these credentials: check the access key and session token (profile '{profile}' or the AWS_* environment variables)"
        )),
        (401, _) => Some(
            "the endpoint asked for a bearer token (OAuth), not SigV4: configure the server for IAM (SigV4) authentication".into(),
        ),
        (403, _) => Some(format!(
            "AWS refused the request: check that the credentials are valid and allowed to call this resource (e.g. bedrock-agentcore:InvokeAgentRuntime), and that --service/--region match the endpoint ({scope})"
        )),
        (429, _) | (503, _) => Some("the server is busy; the request was retried with --retries and still refused".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpError;

    const SCOPE: Scope<'static> = Scope {
        service: "svc",
        region: "eu-west-1",
        profile: "dev",
    };

    #[test]
    fn an_http_error_says_status_type_request_id_note_and_hint() {
        let error = AwsError {
            error_type: Some("AccessDeniedException".into()),
            message: Some("not allowed".into()),
            request_id: Some("req-1".into()),
            ..Default::default()
        };
        let f = http_status("h.example", 403, &error, Some("a note"), SCOPE);
        assert_eq!(f.code, jsonrpc::UPSTREAM_ERROR);
        assert!(
            f.message.starts_with(
                "h.example answered HTTP 403 AccessDeniedException: not allowed (request id req-1); a note; AWS refused the request"
            ),
            "{}",
            f.message
        );
        let data = f.data.unwrap();
        assert_eq!(data["httpStatus"], 403);
        assert_eq!(data["awsErrorType"], "AccessDeniedException");
        assert_eq!(data["awsRequestId"], "req-1");
        assert!(
            data["hint"]
                .as_str()
                .unwrap()
                .contains("'svc' in region 'eu-west-1'")
        );
        let bare = http_status("h", 500, &AwsError::default(), None, SCOPE);
        assert_eq!(bare.message, "h answered HTTP 500");
        assert_eq!(bare.data, Some(json!({ "httpStatus": 500 })));
    }

    #[test]
    fn hints_name_the_fix() {
        let hint = |status, t| hint_for(status, t, SCOPE).unwrap_or_default();
        assert!(hint(400, Some("ExpiredToken")).contains("aws sso login --profile dev"));
        assert!(hint(403, Some("SignatureDoesNotMatch")).contains("system clock"));
        assert!(hint(403, Some("InvalidClientTokenId")).contains("profile 'dev'"));
        assert!(hint(401, None).contains("bearer token"));
        assert!(hint(429, None).contains("--retries"));
        assert_eq!(hint_for(500, None, SCOPE), None);
    }

    #[test]
    fn no_answer_tells_timeouts_from_unreachable() {
        let limit = Limit {
            read: Duration::from_secs(5),
            flag: "--read-timeout",
        };
        let timeout = SendError::Http(HttpError {
            kind: ErrorKind::Timeout,
            detail: "timed out (recv response)".into(),
        });
        let f = not_sent("h", &timeout, limit);
        assert_eq!(f.code, jsonrpc::REQUEST_TIMEOUT);
        assert_eq!(
            f.message,
            "no answer from h in time (timed out (recv response)); the limit is 5 s (--read-timeout)"
        );
        let refused = SendError::Http(HttpError {
            kind: ErrorKind::Connect,
            detail: "the connection could not be made".into(),
        });
        let f = not_sent("h", &refused, limit);
        assert_eq!(f.code, jsonrpc::UPSTREAM_ERROR);
        assert!(
            f.message
                .starts_with("cannot reach h: the connection could not be made; check")
        );
        // The server was reached: no network advice.
        for kind in [ErrorKind::Io, ErrorKind::TooLarge, ErrorKind::Other] {
            let e = SendError::Http(HttpError {
                kind,
                detail: "d".into(),
            });
            let f = not_sent("h", &e, limit);
            assert!(
                !f.message.contains("cannot reach") && !f.message.contains("HTTPS_PROXY"),
                "{kind:?}: {}",
                f.message
            );
        }
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "Peer disconnected");
        assert!(
            broke_off("h", &eof)
                .message
                .starts_with("h closed the connection")
        );
        let f = too_large("h", 1024, "--max-message-size");
        assert_eq!(
            f.message,
            "the answer from h is larger than 1024 bytes (--max-message-size); it was not passed on"
        );
    }

    #[test]
    fn a_dropped_listen_stream_is_a_cancelled_notification_for_its_id() {
        let line = listen_ended(&Id::from_json("\"sub-1\""), "h");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["method"], "notifications/cancelled");
        assert_eq!(v["params"]["requestId"], "sub-1");
        assert!(v.get("id").is_none());
    }
}
