//! When the relay sends a client message again: the rules of the send loop.
//!
//! Owns: which answers say the server did not take the message, so it may go
//! again (`--retries`): a connection that failed before the request was sent,
//! 429, 503 and 424 (AgentCore's cold start) for any message, and 502/504 only
//! when every member is free of side effects; how long to wait first (the
//! server's `Retry-After`, else full-jitter backoff: `crate::retry`); when a
//! 404 means the server ended the session the request went in (replay the
//! handshake, send once more:
//! <https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#session-management>);
//! and when a 400 asks for the tools to be listed again (2026-07-28 `-32020`
//! on `tools/call`:
//! <https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http>,
//! "Client Behavior"). Pure but for reading the clock and the jitter in the
//! waits.
//! Refuses: sending a request twice when it may have reached the server,
//! except where the server's answer says it did not take effect.

use std::time::{Duration, SystemTime};

use super::jsonrpc::Kind;
use super::revision::Revision;
use crate::retry;

/// JSON-RPC "method not found": a 2026-07-28 server's 404 for a method it
/// lacks, which is not a lost session.
const METHOD_NOT_FOUND: i64 = -32601;

/// JSON-RPC `HeaderMismatch` (2026-07-28).
const HEADER_MISMATCH: i64 = -32020;

/// True for methods that have no side effects, so a 502/504 may be retried.
pub(crate) fn side_effect_free(method: &str) -> bool {
    matches!(
        method,
        "initialize" | "ping" | "resources/read" | "prompts/get" | "server/discover"
    ) || method.ends_with("/list")
}

/// Whether an answer with `status` may be retried for a message of `items`.
pub(crate) fn retryable(status: u16, items: &[Kind]) -> bool {
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

/// True when an answer with `status` means the server ended the session the
/// request was sent in: a 404 to a request that carried the session id, under
/// a revision with sessions, that is not itself the `initialize` (which opens
/// one), and whose body (`jsonrpc_code`, read only when the rest holds) is not
/// "method not found".
pub(crate) fn session_ended(
    status: u16,
    carried_session: bool,
    is_initialize: bool,
    revision: &Revision,
    jsonrpc_code: impl FnOnce() -> Option<i64>,
) -> bool {
    status == 404
        && carried_session
        && !is_initialize
        && revision.has_sessions()
        && jsonrpc_code() != Some(METHOD_NOT_FOUND)
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
            assert!(retryable(status, &call), "{status}");
        }
        for status in [502, 504] {
            assert!(!retryable(status, &call), "{status}");
            assert!(retryable(status, &list), "{status}");
        }
        let notification = [Kind::Notification {
            method: "notifications/initialized".into(),
        }];
        assert!(retryable(502, &notification));
        let response = [Kind::Response { id: None }];
        assert!(!retryable(502, &response));
        // A batch goes again only when every member may.
        assert!(!retryable(502, &[request("ping"), request("tools/call")]));
        for status in [400, 401, 403, 404, 500] {
            assert!(!retryable(status, &list), "{status}");
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
        let none = || None;
        assert!(session_ended(404, true, false, &r, none));
        assert!(
            !session_ended(404, false, false, &r, none),
            "no session id sent"
        );
        assert!(
            !session_ended(404, true, true, &r, none),
            "initialize itself"
        );
        assert!(!session_ended(
            404,
            true,
            false,
            &Revision::V2026_07_28,
            none
        ));
        assert!(!session_ended(404, true, false, &r, || Some(
            METHOD_NOT_FOUND
        )));
        assert!(session_ended(404, true, false, &r, || Some(-32000)));
        assert!(!session_ended(400, true, false, &r, none));
        // The body is read only when the rest holds.
        assert!(!session_ended(200, true, false, &r, || panic!("read")));
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
