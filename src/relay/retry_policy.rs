//! When the relay sends a client message again: the rules of the send loop.
//!
//! Owns, as pure rules (but for reading the clock and the jitter in the waits):
//! - which answers say the server did not take the message (`--retries`, [`retryable`]);
//! - how long to wait first: the server's `Retry-After`, else full-jitter
//!   backoff (`crate::retry`);
//! - when an answer means the server ended the session ([`session_ended`],
//!   <https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#session-management>),
//!   so the handshake is replayed and the message sent once more;
//! - when a 400 asks for the tools to be listed again ([`header_mismatch`],
//!   <https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http>,
//!   "Client Behavior").
//!
//! Refuses: sending a request twice when it may have reached the server,
//! except where the server's answer says it did not take effect.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::jsonrpc::Kind;
use super::revision::Revision;
use crate::retry;

/// JSON-RPC "method not found": a 2026-07-28 server's 404 for a method it
/// lacks, which is not a lost session.
const METHOD_NOT_FOUND: i64 = -32601;

/// JSON-RPC `HeaderMismatch` (2026-07-28).
const HEADER_MISMATCH: i64 = -32020;

/// JSON-RPC "invalid params": the server read the request and refused it.
const INVALID_PARAMS: i64 = -32602;

/// The AWS MCP Server's JSON-RPC error for a session it no longer knows ("The
/// provided SessionId was not found or has expired, please re-initialize your
/// connection."), seen with HTTP 200.
pub(crate) const SESSION_NOT_FOUND: i64 = -30001;

/// The JSON-RPC error AWS answers when it throttles ("Too many requests.
/// Please try again later."), with HTTP 429 or inside a 200.
pub(crate) const TOO_MANY_REQUESTS: i64 = -32004;

/// The most bytes of a body read to tell what a refusal says.
const MAX_REFUSAL_TEXT: usize = 4096;

/// An answer that says the server did not take the message, so it may go
/// again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The session the message was sent in is gone: open a new one, then
    /// send it once more.
    SessionLost,
    /// Throttled: send it again after a wait, within `--retries`.
    Throttled,
}

/// What an answer's `body` (an error body, or a JSON-RPC message that answers
/// the request) says, for an answer with `status`: a JSON-RPC error
/// [`SESSION_NOT_FOUND`] (any status) or a 400 whose text says the session id
/// is unknown or missing is a lost session; a JSON-RPC error
/// [`TOO_MANY_REQUESTS`] (any status) is throttling. A 400 that is a JSON-RPC
/// error the server's request handling gave (`-32601`, `-32602`) is not a lost
/// session whatever its text says.
pub(crate) fn refusal(status: u16, body: &[u8]) -> Option<Refusal> {
    let body = &body[..body.len().min(MAX_REFUSAL_TEXT)];
    let message: Option<Value> = serde_json::from_slice(body).ok();
    let error = message.as_ref().and_then(|m| m.get("error"));
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
    match code {
        Some(SESSION_NOT_FOUND) => return Some(Refusal::SessionLost),
        Some(TOO_MANY_REQUESTS) => return Some(Refusal::Throttled),
        Some(METHOD_NOT_FOUND | INVALID_PARAMS) => return None,
        _ => {}
    }
    if status != 400 {
        return None;
    }
    let text = match error.and_then(|e| e.get("message")).and_then(Value::as_str) {
        Some(m) => m.to_ascii_lowercase(),
        None if message.is_none() => String::from_utf8_lossy(body).to_ascii_lowercase(),
        None => return None,
    };
    says_session_lost(&text).then_some(Refusal::SessionLost)
}

/// True for a text (lower case) that says the session id is unknown or
/// missing, as servers put it: the MCP Python SDK ("Bad Request: Missing
/// session ID"; before 1.2x, "Bad Request: No valid session ID provided" for
/// an unknown one), the TypeScript SDK and servers built on it ("Bad Request:
/// Mcp-Session-Id header is required", "Invalid or missing session ID",
/// "Bad Request: Server not initialized" from a server that restarted).
fn says_session_lost(text: &str) -> bool {
    const LOST: [&str; 9] = [
        "not found",
        "unknown",
        "invalid",
        "expired",
        "missing",
        "no valid",
        "does not exist",
        "terminated",
        "required",
    ];
    text.contains("server not initialized")
        || (text.contains("session") && LOST.iter().any(|w| text.contains(w)))
}

/// True for methods that have no side effects, so a 502/504 may be retried.
pub(crate) fn side_effect_free(method: &str) -> bool {
    matches!(
        method,
        "initialize" | "ping" | "resources/read" | "prompts/get" | "server/discover"
    ) || method.ends_with("/list")
}

/// Whether an answer with `status` and `body` may be retried for a message of
/// `items`: any message after 429, 503, 424 (AgentCore's cold start) or a JSON-RPC
/// [`TOO_MANY_REQUESTS`] (the server did not take it), and only one free of
/// side effects after 502 and 504.
pub(crate) fn retryable(status: u16, body: &[u8], items: &[Kind]) -> bool {
    if refusal(status, body) == Some(Refusal::Throttled) {
        return true;
    }
    match status {
        429 | 503 | 424 => true,
        502 | 504 => items.iter().all(|k| match k {
            Kind::Request { method, .. } => side_effect_free(method),
            Kind::Notification { .. } => true,
            Kind::Response { .. } => false,
        }),
        _ => false,
    }
}

/// The wait `retry_after` asks for when it is longer than the relay waits
/// ([`retry::MAX_RETRY_WAIT`]): the answer then goes to the client, saying so.
pub(crate) fn asked_too_long(retry_after: Option<&str>, now: SystemTime) -> Option<Duration> {
    retry_after
        .and_then(|v| retry::retry_after(v, now))
        .filter(|d| *d > retry::MAX_RETRY_WAIT)
}

/// The wait before retry `attempt` (0 for the first) after an answer with
/// `retry_after` (the header's value, if any), at `now`; `None` when the server
/// asks for longer than [`retry::MAX_RETRY_WAIT`] (the answer is then given to
/// the client).
pub(crate) fn retry_wait(
    retry_after: Option<&str>,
    attempt: u32,
    now: SystemTime,
) -> Option<Duration> {
    let delay = retry_after
        .and_then(|v| retry::retry_after(v, now))
        .unwrap_or_else(|| retry::backoff(attempt));
    (delay <= retry::MAX_RETRY_WAIT).then_some(delay)
}

/// The wait before retry `attempt` after a connection failed before the
/// request was sent.
pub(crate) fn reconnect_wait(attempt: u32) -> Duration {
    retry::backoff(attempt)
}

/// True when an error answer with `status` and `body` means the server ended
/// the session the request was sent in, for a request under a revision with
/// sessions that is not itself the `initialize` (which opens one): a 404 to a
/// request that carried the session id whose body is not "method not found",
/// or a body that says so in any status ([`refusal`]).
pub(crate) fn session_ended(
    status: u16,
    carried_session: bool,
    is_initialize: bool,
    revision: &Revision,
    body: &[u8],
) -> bool {
    if is_initialize || !revision.has_sessions() {
        return false;
    }
    if status == 404 && carried_session {
        return jsonrpc_code(body) != Some(METHOD_NOT_FOUND);
    }
    refusal(status, body) == Some(Refusal::SessionLost)
}

/// The JSON-RPC error code of a body, if it is a JSON-RPC error.
fn jsonrpc_code(body: &[u8]) -> Option<i64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.pointer("/error/code")?.as_i64()
}

/// True when an answer with `status` to a `tools/call` says its headers do not
/// match its body (`-32020`), so the tools should be listed again before it
/// goes once more.
pub(crate) fn header_mismatch(
    status: u16,
    revision: &Revision,
    is_tool_call: bool,
    jsonrpc_code: impl FnOnce() -> Option<i64>,
) -> bool {
    status == 400
        && revision.routes_by_headers()
        && is_tool_call
        && jsonrpc_code() == Some(HEADER_MISMATCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::jsonrpc::Id;

    fn request(method: &str) -> Kind {
        Kind::Request {
            id: Id::from_json("1"),
            method: method.into(),
        }
    }

    #[test]
    fn only_side_effect_free_methods_retry_on_502() {
        assert!(side_effect_free("tools/list"));
        assert!(side_effect_free("resources/templates/list"));
        assert!(side_effect_free("initialize"));
        assert!(!side_effect_free("tools/call"));
        assert!(!side_effect_free("resources/subscribe"));
    }

    #[test]
    fn busy_answers_retry_anything_gateway_errors_only_what_is_safe() {
        let call = [request("tools/call")];
        let list = [request("tools/list")];
        for status in [429, 503, 424] {
            assert!(retryable(status, b"", &call), "{status}");
        }
        for status in [502, 504] {
            assert!(!retryable(status, b"", &call), "{status}");
            assert!(retryable(status, b"", &list), "{status}");
        }
        let notification = [Kind::Notification {
            method: "notifications/initialized".into(),
        }];
        assert!(retryable(502, b"", &notification));
        let response = [Kind::Response { id: None }];
        assert!(!retryable(502, b"", &response));
        // A batch goes again only when every member may.
        assert!(!retryable(
            502,
            b"",
            &[request("ping"), request("tools/call")]
        ));
        for status in [400, 401, 403, 404, 500] {
            assert!(!retryable(status, b"", &list), "{status}");
        }
    }

    #[test]
    fn the_wait_honours_retry_after_up_to_its_cap() {
        let now = retry::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_wait(Some("3"), 0, now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_wait(Some("Sun, 06 Nov 1994 08:49:47 GMT"), 0, now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(retry_wait(Some("61"), 0, now), None);
        let backoff = retry_wait(Some("soon"), 1, now).unwrap();
        assert!(backoff >= retry::BACKOFF_BASE && backoff <= retry::BACKOFF_BASE * 2);
        assert!(retry_wait(None, 0, now).unwrap() <= retry::BACKOFF_BASE);
    }

    #[test]
    fn a_404_is_a_lost_session_only_for_a_request_in_one() {
        let r = Revision::V2025_11_25;
        assert!(session_ended(404, true, false, &r, b""));
        assert!(
            !session_ended(404, false, false, &r, b""),
            "no session id sent"
        );
        assert!(
            !session_ended(404, true, true, &r, b""),
            "initialize itself"
        );
        assert!(!session_ended(
            404,
            true,
            false,
            &Revision::V2026_07_28,
            b""
        ));
        let not_found = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#;
        assert!(!session_ended(404, true, false, &r, not_found));
        let other = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"gone"}}"#;
        assert!(session_ended(404, true, false, &r, other));
        assert!(!session_ended(400, true, false, &r, b""));
        assert!(!session_ended(200, true, false, &r, b""));
    }

    /// The shapes servers say "your session is gone" in, besides a 404.
    #[test]
    fn session_loss_as_servers_say_it() {
        let r = Revision::V2025_06_18;
        let lost: [(u16, &[u8]); 8] = [
            // The AWS MCP Server, with 200 and in any other status.
            (200, br#"{"jsonrpc":"2.0","id":3,"error":{"code":-30001,"message":"The provided SessionId was not found or has expired, please re-initialize your connection."}}"#),
            (400, br#"{"jsonrpc":"2.0","id":3,"error":{"code":-30001,"message":"expired"}}"#),
            (403, br#"{"jsonrpc":"2.0","id":null,"error":{"code":-30001,"message":"x"}}"#),
            // The MCP Python SDK's transport (missing id), and its manager
            // before it answered 404 for an unknown one (plain text).
            (400, br#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#),
            (400, b"Bad Request: No valid session ID provided"),
            // The TypeScript SDK's examples and transport.
            (400, br#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}"#),
            (400, br#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: Mcp-Session-Id header is required"},"id":null}"#),
            (400, br#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: Server not initialized"},"id":null}"#),
        ];
        for (status, body) in lost {
            let text = String::from_utf8_lossy(body);
            assert_eq!(
                refusal(status, body),
                Some(Refusal::SessionLost),
                "{status} {text}"
            );
            assert!(
                session_ended(status, true, false, &r, body),
                "{status} {text}"
            );
            assert!(
                !session_ended(status, true, true, &r, body),
                "initialize: {text}"
            );
        }
        let not_lost: [(u16, &[u8]); 6] = [
            (400, br#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Unsupported protocol version: 1999-01-01"}}"#),
            (400, b"Bad Request: body is not JSON"),
            // The server read the request and refused its params.
            (400, br#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Invalid params: session_id is required"}}"#),
            // A 500 or 403 with words alone is no lost session.
            (500, b"session storage unknown error"),
            (403, br#"{"message":"session token invalid"}"#),
            (200, br#"{"jsonrpc":"2.0","id":3,"result":{"session":"missing"}}"#),
        ];
        for (status, body) in not_lost {
            let text = String::from_utf8_lossy(body);
            assert_eq!(refusal(status, body), None, "{status} {text}");
            assert!(
                !session_ended(status, true, false, &r, body),
                "{status} {text}"
            );
        }
    }

    #[test]
    fn throttling_as_aws_says_it_goes_again_for_any_method() {
        let call = [request("tools/call")];
        let too_many = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32004,"message":"Too many requests. Please try again later."}}"#;
        for status in [200, 400, 429] {
            assert_eq!(
                refusal(status, too_many),
                Some(Refusal::Throttled),
                "{status}"
            );
            assert!(retryable(status, too_many, &call), "{status}");
        }
        assert!(!retryable(400, b"Too many requests", &call));
    }

    #[test]
    fn a_header_mismatch_on_a_tool_call_lists_tools_again() {
        let r = Revision::V2026_07_28;
        let mismatch = || Some(HEADER_MISMATCH);
        assert!(header_mismatch(400, &r, true, mismatch));
        assert!(!header_mismatch(400, &r, false, mismatch));
        assert!(!header_mismatch(
            400,
            &Revision::V2025_11_25,
            true,
            mismatch
        ));
        assert!(!header_mismatch(400, &r, true, || Some(-32602)));
        assert!(!header_mismatch(404, &r, true, || panic!("read")));
    }
}
