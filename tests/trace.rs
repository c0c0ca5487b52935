//! W3C trace context: a request's `params._meta.traceparent` (and
//! `tracestate`) also sent as signed HTTP headers of that request only; an
//! invalid value is not sent. The built binary against the one test server.

mod support;

use serde_json::Value;
use support::{Proxy, Server, standard_reply};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const STATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

#[test]
fn trace_context_in_meta_is_sent_as_signed_headers_of_that_request_only() {
    let up = Server::start(standard_reply);
    let mut proxy = Proxy::start(&up.url(), &[]);
    proxy.handshake();
    let call = |id: i64, meta: Value| {
        serde_json::json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"echo","arguments":{},"_meta":meta}})
    };
    proxy.send_json(&call(
        2,
        serde_json::json!({"traceparent": PARENT, "tracestate": STATE}),
    ));
    assert_eq!(proxy.recv_json()["id"], 2);
    proxy.send_json(&call(3, serde_json::json!({"progressToken": 1})));
    assert_eq!(proxy.recv_json()["id"], 3);
    proxy.send_json(&call(
        4,
        serde_json::json!({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx-evil: 1", "tracestate": STATE}),
    ));
    assert_eq!(proxy.recv_json()["id"], 4);
    proxy.send_json(&call(
        5,
        serde_json::json!({"traceparent": PARENT, "tracestate": "Not Valid"}),
    ));
    assert_eq!(proxy.recv_json()["id"], 5);

    let calls = up.matching(|s| s.is_rpc("tools/call"));
    let by_id = |id: i64| {
        calls
            .iter()
            .find(|s| s.rpc_id() == Some(serde_json::json!(id)))
            .unwrap_or_else(|| panic!("call {id} reached the server"))
    };
    let first = by_id(2);
    assert_eq!(first.header("traceparent"), Some(PARENT));
    assert_eq!(first.header("tracestate"), Some(STATE));
    let signed = first.header("authorization").unwrap();
    assert!(
        signed.contains("traceparent;tracestate;"),
        "both are signed: {signed}"
    );
    support::assert_signed(first, "svc", "us-east-1");
    // The body is relayed unchanged.
    assert_eq!(
        first.json().unwrap()["params"]["_meta"]["traceparent"],
        PARENT
    );
    for id in [3, 4] {
        let s = by_id(id);
        assert_eq!(s.header("traceparent"), None, "call {id}");
        assert_eq!(s.header("tracestate"), None, "call {id}");
    }
    let last = by_id(5);
    assert_eq!(last.header("traceparent"), Some(PARENT));
    assert_eq!(
        last.header("tracestate"),
        None,
        "an invalid tracestate is dropped"
    );
}
