//! Black-box tests of the relay: the built `mcp-sigv4` binary between a test
//! playing the stdio MCP client and a scripted Streamable-HTTP upstream
//! (`support/`). Each test pins one behaviour of the MCP Streamable HTTP
//! transport (<https://modelcontextprotocol.io/specification/2025-06-18/basic/transports#streamable-http>)
//! or of the 2026-07-28 revision
//! (<https://modelcontextprotocol.io/specification/2026-07-28>), and checks that
//! every request the upstream saw carries a correct SigV4 signature by the
//! environment credentials, recomputed over what it received
//! (`support/signature.rs`). Every wait is bounded; each test takes a few
//! seconds at most.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    INITIALIZE, INITIALIZED, LEGACY_VERSION, Proxy, Reply, SESSION_ID, Seen, Server, flag,
    modern_request, rpc_result, sse_event, standard_reply, wait_for_flag,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn id_of(s: &Seen) -> Value {
    s.rpc_id().unwrap_or(Value::Null)
}

fn request(id: i64, method: &str, params: Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}).to_string()
}

fn tool_call(id: i64, name: &str) -> String {
    request(id, "tools/call", json!({"name": name, "arguments": {}}))
}

fn progress(token: &str, n: u64) -> String {
    json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":token,"progress":n}})
        .to_string()
}

// ---------------------------------------------------------------------------
// 1. Input errors
// ---------------------------------------------------------------------------

#[test]
fn input_errors_are_answered_and_the_proxy_keeps_working() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &[]);

    p.send("this is not json");
    let line = p.recv();
    assert!(line.contains(r#""id":null"#), "{line}");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    p.assert_ping(100);

    p.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"pi\xff\xfeng\"}\n");
    let line = p.recv();
    assert!(line.contains(r#""id":null"#), "{line}");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["error"]["code"], -32700, "invalid UTF-8: {v}");
    p.assert_ping(101);

    p.send(r#"{"id":7}"#);
    let v = p.recv_json();
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert_eq!(v["id"], 7, "{v}");
    p.assert_ping(102);

    p.send("[]");
    let v = p.recv_json();
    assert_eq!(v["error"]["code"], -32600, "{v}");
    p.assert_ping(103);

    let posts = up.matching(|s| s.method == "POST");
    assert_eq!(posts.len(), 4, "only the pings go upstream");
    assert!(posts.iter().all(|s| s.is_rpc("ping")));
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_duplicate_request_id_in_flight_is_refused_and_the_first_answered_once() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::sse()
                .sleep(800)
                .message(&rpc_result(&id_of(s), json!({"content": []})))
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(5, "slow"));
    up.wait_for(ms(3000), |s| s.is_rpc("tools/call"))
        .expect("the tool call reaches the server");
    p.send(r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#);

    let v = p.recv_json();
    assert_eq!(v["id"], 5, "{v}");
    assert_eq!(v["error"]["code"], -32600, "the duplicate is refused: {v}");
    let v = p.recv_json();
    assert_eq!(v["id"], 5, "{v}");
    assert_eq!(
        v["result"],
        json!({"content": []}),
        "the first is answered: {v}"
    );
    p.expect_silence(ms(300));
    p.assert_ping(6);
    assert!(
        up.rpc("ping").iter().all(|s| id_of(s) != json!(5)),
        "the duplicate never reaches the server"
    );
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 2. JSON and SSE answers
// ---------------------------------------------------------------------------

#[test]
fn a_pretty_printed_json_answer_arrives_as_one_compact_line_byte_for_byte() {
    let pretty = "{\r\n  \"jsonrpc\" : \"2.0\",\n  \"id\" : 3,\n  \"result\" : {\n    \"zeta\" : 1.50e3,\n\t\"alpha\" : \"tab\\there \\u00e9 \\\"q\\\" \\\\ \\/ two  spaces\",\n    \"list\" : [ 1, -0.0, 2E-7, { \"k\" : null } ],\n    \"big\" : 123456789012345678901234567890,\n    \"empty\" : { }\n  }\n}\n";
    let up = Server::start(move |s| {
        if s.is_rpc("resources/read") {
            return Reply::json(200, pretty);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&request(3, "resources/read", json!({"uri": "file:///x"})));
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":3,"result":{"zeta":1.50e3,"alpha":"tab\there \u00e9 \"q\" \\ \/ two  spaces","list":[1,-0.0,2E-7,{"k":null}],"big":123456789012345678901234567890,"empty":{}}}"#
    );
    p.assert_ping(4);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn an_sse_answer_forwards_only_real_messages_and_a_reply_to_a_server_request_is_posted() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::sse()
                .raw(": keep-alive comment\n\n")
                .raw("id: prime-1\ndata:\n\n")
                .raw("event: message\nid: ev-2\ndata: {\"jsonrpc\":\"2.0\",\ndata:  \"method\":\"notifications/progress\",\ndata:  \"params\":{\"progressToken\":\"tok\",\"progress\":1,\"total\":2}}\n\n")
                .raw("event: other\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"not/for/the/client\"}\n\n")
                .raw("data: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"sampling/createMessage\",\"params\":{\"maxTokens\":5}}\n\n")
                .raw("data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"hi\"}}\r\n\r\n")
                .raw(": another comment\n")
                .raw("data: {\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"content\":[]}}\n\n")
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(4, "t"));
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok","progress":1,"total":2}}"#
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{"maxTokens":5}}"#
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}"#
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":4,"result":{"content":[]}}"#
    );

    let reply = r#"{"jsonrpc":"2.0","id":"srv-1","result":{"role":"assistant","content":{"type":"text","text":"ok"},"model":"m"}}"#;
    p.send(reply);
    let posted = up
        .wait_for(ms(3000), |s| s.method == "POST" && s.text() == reply)
        .expect("the client's response is POSTed unchanged");
    assert_eq!(
        posted.header("accept"),
        Some("application/json, text/event-stream")
    );
    assert_eq!(posted.header("content-type"), Some("application/json"));
    p.expect_silence(ms(300));
    p.assert_ping(5);
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 3. Exactly once
// ---------------------------------------------------------------------------

#[test]
fn a_response_sent_twice_reaches_stdout_once() {
    let (called, called_cond) = flag();
    let (deleted, deleted_cond) = flag();
    let up = Server::start(move |s| {
        if s.is_rpc("tools/call") {
            called.store(true, Ordering::Release);
            let r = rpc_result(&id_of(s), json!({"n": 1}));
            return Reply::sse().message(&r).message(&r).finish();
        }
        if s.method == "GET" {
            // The same response once more, on the GET stream.
            return Reply::sse()
                .wait_until(called_cond.clone(), ms(4000))
                .sleep(200)
                .message(&rpc_result(&json!(6), json!({"n": 1})))
                .wait_until(deleted_cond.clone(), ms(6000))
                .finish();
        }
        if s.method == "DELETE" {
            deleted.store(true, Ordering::Release);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    up.wait_for(ms(3000), |s| s.method == "GET")
        .expect("the GET stream opens");
    p.send(&tool_call(6, "t"));
    let v = p.recv_json();
    assert_eq!(v, json!({"jsonrpc":"2.0","id":6,"result":{"n":1}}));
    p.expect_silence(ms(800));
    p.assert_ping(7);
    up.assert_all_signed("svc");
    p.finish();
}

/// The stream ends (chunked: terminal chunk; close-delimited: the server closes
/// the connection) after a notification, without the response and without an
/// event id to resume from.
fn stream_ends_without_the_response(close_delimited: bool) {
    let up = Server::start(move |s| {
        if s.is_rpc("tools/call") {
            let r = Reply::sse();
            let r = if close_delimited {
                r.close_delimited()
            } else {
                r
            };
            return r.message(&progress("p", 1)).finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(8, "t"));
    assert_eq!(p.recv(), progress("p", 1));
    let v = p.recv_json();
    assert_eq!(v["id"], 8, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("without a response"), "{message}");
    p.expect_silence(ms(200));
    p.assert_ping(9);
    assert!(
        up.matching(|s| s.method == "GET").is_empty(),
        "no event id, no resumption"
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn an_sse_stream_ending_without_the_response_gives_an_error_for_that_id() {
    stream_ends_without_the_response(false);
}

#[test]
fn a_close_delimited_sse_stream_ending_without_the_response_gives_an_error_for_that_id() {
    stream_ends_without_the_response(true);
}

// ---------------------------------------------------------------------------
// 4. HTTP errors
// ---------------------------------------------------------------------------

#[test]
fn a_403_access_denied_carries_status_type_request_id_and_hint() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::json(
                403,
                r#"{"message":"User: arn:aws:iam::123456789012:user/dev is not authorized to perform: bedrock-agentcore:InvokeAgentRuntime"}"#,
            )
            .header(
                "x-amzn-ErrorType",
                "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/",
            )
            .header("x-amzn-RequestId", "0f1e2d3c-aaaa-bbbb-cccc-123456789abc");
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(11, "t"));
    let v = p.recv_json();
    assert_eq!(v["id"], 11, "{v}");
    let e = &v["error"];
    assert_eq!(e["code"], -32000, "{v}");
    let message = e["message"].as_str().unwrap();
    for part in [
        "403",
        "AccessDeniedException",
        "0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
        "is not authorized",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
    assert!(
        !message.contains("http://internal"),
        "the error type is trimmed: {message}"
    );
    assert_eq!(e["data"]["httpStatus"], 403, "{v}");
    assert_eq!(e["data"]["awsErrorType"], "AccessDeniedException", "{v}");
    assert_eq!(
        e["data"]["awsRequestId"], "0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
        "{v}"
    );
    let hint = e["data"]["hint"].as_str().expect("a hint");
    assert!(!hint.is_empty() && message.contains(hint), "{v}");
    assert_eq!(up.rpc("tools/call").len(), 1, "a 403 is not retried");
    p.assert_ping(12);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_401_hints_at_oauth() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::status(401).header(
                "www-authenticate",
                r#"Bearer resource_metadata="https://example.invalid/.well-known/oauth-protected-resource""#,
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(13, "t"));
    let v = p.recv_json();
    assert_eq!(v["id"], 13, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    assert_eq!(v["error"]["data"]["httpStatus"], 401, "{v}");
    let hint = v["error"]["data"]["hint"].as_str().expect("a hint");
    assert!(hint.contains("OAuth"), "{hint}");
    assert!(v["error"]["message"].as_str().unwrap().contains("401"));
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_400_json_rpc_error_with_null_id_is_forwarded_with_the_requests_id() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::json(
                400,
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"Invalid params: name"}}"#,
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(14, "t"));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":14,"error":{"code":-32602,"message":"Invalid params: name"}})
    );
    p.assert_ping(15);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_400_json_rpc_error_with_id_server_error_is_forwarded_with_the_requests_id() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/list") {
            return Reply::json(
                400,
                r#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#,
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&request(16, "tools/list", json!({})));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":16,"error":{"code":-32600,"message":"Bad Request: Missing session ID"}})
    );
    p.assert_ping(17);
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 5. Sessions
// ---------------------------------------------------------------------------

#[test]
fn the_session_id_and_protocol_version_from_initialize_go_on_every_later_request() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &[]);
    let init = p.handshake();
    assert_eq!(init["result"]["protocolVersion"], LEGACY_VERSION);
    p.send(&request(2, "tools/list", json!({})));
    assert_eq!(p.recv_json()["id"], 2);
    let get = up
        .wait_for(ms(3000), |s| s.method == "GET")
        .expect("a GET stream is tried");

    let first = &up.rpc("initialize")[0];
    assert_eq!(first.header("mcp-session-id"), None);
    assert_eq!(first.header("mcp-protocol-version"), None);
    assert_eq!(first.text(), INITIALIZE, "initialize goes out unchanged");
    for s in up
        .rpc("notifications/initialized")
        .iter()
        .chain(&up.rpc("tools/list"))
        .chain([&get])
    {
        assert_eq!(
            s.header("mcp-session-id"),
            Some(SESSION_ID),
            "{} {:?}",
            s.method,
            s.rpc_method()
        );
        assert_eq!(
            s.header("mcp-protocol-version"),
            Some(LEGACY_VERSION),
            "{} {:?}",
            s.method,
            s.rpc_method()
        );
    }
    assert_eq!(up.rpc("notifications/initialized")[0].text(), INITIALIZED);
    up.assert_all_signed("svc");
    p.finish();
}

/// A scripted server's answer to `initialize`: session `<SESSION_ID>-gen<n>`
/// for the n-th one, made current in `current`; every one after the first
/// takes `reinit_delay_ms`.
fn new_session(
    s: &Seen,
    minted: &AtomicUsize,
    current: &Mutex<Option<String>>,
    reinit_delay_ms: u64,
) -> Reply {
    let n = minted.fetch_add(1, Ordering::AcqRel) + 1;
    if n > 1 {
        std::thread::sleep(ms(reinit_delay_ms));
    }
    let sid = format!("{SESSION_ID}-gen{n}");
    *current.lock().unwrap() = Some(sid.clone());
    Reply::result(
        &id_of(s),
        json!({"protocolVersion": LEGACY_VERSION, "capabilities": {},
               "serverInfo": {"name": "scripted", "version": "1.0"}}),
    )
    .header("mcp-session-id", &sid)
}

#[test]
fn a_404_for_the_session_replays_initialize_and_resends_the_request_once() {
    let current: Arc<Mutex<Option<String>>> = Arc::default();
    let minted = Arc::new(AtomicUsize::new(0));
    let up = {
        let current = Arc::clone(&current);
        Server::start(move |s| {
            if s.is_rpc("initialize") {
                return new_session(s, &minted, &current, 0);
            }
            if let Some(sid) = s.header("mcp-session-id")
                && current.lock().unwrap().as_deref() != Some(sid)
            {
                return Reply::body(404, "text/plain", "session not found");
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(INITIALIZE);
    assert_eq!(p.recv_json()["id"], 1);
    p.send(INITIALIZED);
    up.wait_for(ms(3000), |s| s.is_rpc("notifications/initialized"))
        .unwrap();
    // The server ends the session.
    *current.lock().unwrap() = None;
    p.send(&tool_call(3, "t"));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":3,"result":{"method":"tools/call"}}),
        "the client sees only the server's answer"
    );
    p.assert_ping(4);

    let posts: Vec<Seen> = up.matching(|s| s.method == "POST");
    let methods: Vec<String> = posts.iter().map(|s| s.rpc_method().unwrap()).collect();
    assert_eq!(
        methods,
        [
            "initialize",
            "notifications/initialized",
            "tools/call",
            "initialize",
            "notifications/initialized",
            "tools/call",
            "ping"
        ]
    );
    let s1 = format!("{SESSION_ID}-gen1");
    let s2 = format!("{SESSION_ID}-gen2");
    assert_eq!(posts[2].header("mcp-session-id"), Some(s1.as_str()));
    let replay = posts[3].json().unwrap();
    assert_ne!(replay["id"], json!(1), "the replay has an id of its own");
    assert_eq!(
        replay["params"],
        serde_json::from_str::<Value>(INITIALIZE).unwrap()["params"]
    );
    assert_eq!(posts[3].header("mcp-session-id"), None, "{:?}", posts[3]);
    assert_eq!(posts[4].header("mcp-session-id"), Some(s2.as_str()));
    assert_eq!(posts[5].header("mcp-session-id"), Some(s2.as_str()));
    assert_eq!(posts[5].body, posts[2].body, "the same request is resent");
    assert_eq!(posts[6].header("mcp-session-id"), Some(s2.as_str()));
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn concurrent_requests_across_a_session_loss_reopen_it_once_and_are_each_answered_once() {
    let current: Arc<Mutex<Option<String>>> = Arc::default();
    let minted = Arc::new(AtomicUsize::new(0));
    let up = {
        let current = Arc::clone(&current);
        Server::start(move |s| {
            if s.is_rpc("initialize") {
                // A slow new session: requests keep arriving meanwhile.
                return new_session(s, &minted, &current, 400);
            }
            match s.header("mcp-session-id") {
                None => Reply::body(400, "text/plain", "Bad Request: missing session id"),
                Some(sid) if current.lock().unwrap().as_deref() != Some(sid) => {
                    Reply::body(404, "text/plain", "session not found")
                }
                Some(_) => standard_reply(s),
            }
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(INITIALIZE);
    assert_eq!(p.recv_json()["id"], 1);
    p.send(INITIALIZED);
    up.wait_for(ms(3000), |s| s.is_rpc("notifications/initialized"))
        .unwrap();
    // The server ends the session; 8 calls at once, then 4 more while the
    // new session is being opened.
    *current.lock().unwrap() = None;
    for id in 10..18 {
        p.send(&tool_call(id, "t"));
    }
    up.wait_for(ms(3000), |s| {
        s.is_rpc("initialize") && s.rpc_id() != Some(json!(1))
    })
    .expect("the client's initialize is replayed");
    for id in 18..22 {
        p.send(&tool_call(id, "t"));
    }
    let mut answered: Vec<i64> = (10..22)
        .map(|_| {
            let v = p.recv_json();
            assert_eq!(v["result"], json!({"method": "tools/call"}), "{v}");
            v["id"].as_i64().unwrap()
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, (10..22).collect::<Vec<_>>(), "each id once");
    p.expect_silence(ms(300));

    assert_eq!(up.rpc("initialize").len(), 2, "one new session for all");
    let s2 = format!("{SESSION_ID}-gen2");
    for s in up.matching(|s| s.method == "POST" && !s.is_rpc("initialize")) {
        assert!(
            s.header("mcp-session-id").is_some(),
            "every request after the handshake carries a session id: {s:?}"
        );
    }
    let calls = up.rpc("tools/call");
    for id in 10..22 {
        let last = calls
            .iter()
            .rfind(|s| s.rpc_id() == Some(json!(id)))
            .unwrap();
        assert_eq!(last.header("mcp-session-id"), Some(s2.as_str()), "{id}");
    }
    let initialized = up.rpc("notifications/initialized");
    assert_eq!(initialized.len(), 2);
    assert_eq!(initialized[1].header("mcp-session-id"), Some(s2.as_str()));
    let replay_at = up.rpc("initialize")[1].index;
    assert!(
        calls
            .iter()
            .filter(|s| s.header("mcp-session-id") == Some(s2.as_str()))
            .all(|s| s.index > initialized[1].index && s.index > replay_at),
        "the new session is used only after its notifications/initialized"
    );
    up.assert_all_signed("svc");
    p.finish();
}

/// A server that says "your session is gone" with `lost(request id)` to any
/// request that carries an id of a session it ended; tool calls it runs are
/// counted in `ran`.
fn losing_server(
    current: &Arc<Mutex<Option<String>>>,
    ran: &Arc<AtomicUsize>,
    lost: fn(&Value) -> Reply,
) -> Server {
    let current = Arc::clone(current);
    let ran = Arc::clone(ran);
    let minted = AtomicUsize::new(0);
    Server::start(move |s| {
        if s.is_rpc("initialize") {
            return new_session(s, &minted, &current, 0);
        }
        if let Some(sid) = s.header("mcp-session-id")
            && current.lock().unwrap().as_deref() != Some(sid)
        {
            return lost(&id_of(s));
        }
        if s.is_rpc("tools/call") {
            ran.fetch_add(1, Ordering::AcqRel);
        }
        standard_reply(s)
    })
}

/// The session ends; a tool call meets `lost`: the client's initialize is
/// replayed, the call goes once more and runs exactly once, and the client
/// sees only its result.
fn a_lost_session_said_as(lost: fn(&Value) -> Reply) {
    let current: Arc<Mutex<Option<String>>> = Arc::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let up = losing_server(&current, &ran, lost);
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    up.wait_for(ms(3000), |s| s.is_rpc("notifications/initialized"))
        .unwrap();
    *current.lock().unwrap() = None;
    p.send(&tool_call(3, "t"));
    assert_eq!(
        p.recv_json(),
        json!({"jsonrpc":"2.0","id":3,"result":{"method":"tools/call"}}),
        "the client sees only the server's answer"
    );
    p.expect_silence(ms(300));
    assert_eq!(ran.load(Ordering::Acquire), 1, "the tool ran exactly once");
    assert_eq!(up.rpc("initialize").len(), 2, "one new session");
    let calls = up.rpc("tools/call");
    assert_eq!(calls.len(), 2, "refused once, then sent once more");
    let s2 = format!("{SESSION_ID}-gen2");
    assert_eq!(calls[1].header("mcp-session-id"), Some(s2.as_str()));
    assert_eq!(calls[1].body, calls[0].body);
    p.assert_ping(4);
    up.assert_all_signed("svc");
    p.finish();
}

/// The AWS MCP Server: a JSON-RPC error -30001 with HTTP 200.
#[test]
fn an_aws_session_not_found_error_with_200_opens_a_new_session() {
    a_lost_session_said_as(|id| {
        Reply::json(
            200,
            support::rpc_error(
                id,
                -30001,
                "The provided SessionId was not found or has expired, please re-initialize your connection.",
            ),
        )
    });
}

/// -30001 in another status, and inside an SSE answer.
#[test]
fn an_aws_session_not_found_error_in_any_status_or_on_a_stream_opens_a_new_session() {
    a_lost_session_said_as(|id| {
        Reply::json(400, support::rpc_error(id, -30001, "session expired"))
    });
    a_lost_session_said_as(|id| {
        Reply::sse()
            .message(&support::rpc_error(
                id,
                -30001,
                "The provided SessionId was not found or has expired, please re-initialize your connection.",
            ))
            .finish()
    });
}

/// The MCP Python SDK: 400 with a JSON-RPC error "Missing session ID" (id
/// "server-error"), and its older session manager's plain-text 400 for an
/// unknown id.
#[test]
fn a_python_sdk_400_for_the_session_id_opens_a_new_session() {
    a_lost_session_said_as(|_| {
        Reply::json(
            400,
            r#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#,
        )
    });
    a_lost_session_said_as(|_| {
        Reply::body(
            400,
            "text/plain; charset=utf-8",
            "Bad Request: No valid session ID provided",
        )
    });
}

/// The TypeScript SDK's shapes: its examples' "No valid session ID provided"
/// and a restarted server's "Server not initialized", both with `id: null`.
#[test]
fn a_typescript_sdk_400_for_the_session_opens_a_new_session() {
    a_lost_session_said_as(|_| {
        Reply::json(
            400,
            r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}"#,
        )
    });
    a_lost_session_said_as(|_| {
        Reply::json(
            400,
            r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: Server not initialized"},"id":null}"#,
        )
    });
}

/// A 400 for any other reason is the client's answer: no new session, no
/// resend.
#[test]
fn a_400_for_another_reason_stays_an_error() {
    for body in [
        r#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Unsupported protocol version: 2025-06-18"}}"#,
        r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Invalid params: session_id is required"}}"#,
    ] {
        let up = Server::start(move |s| {
            if s.is_rpc("tools/call") {
                return Reply::json(400, body);
            }
            standard_reply(s)
        });
        let mut p = Proxy::start(&up.url(), &[]);
        p.handshake();
        p.send(&tool_call(3, "t"));
        let v = p.recv_json();
        assert_eq!(v["id"], 3, "{v}");
        assert!(v.get("error").is_some(), "{v}");
        p.expect_silence(ms(300));
        assert_eq!(up.rpc("initialize").len(), 1, "{body}");
        assert_eq!(up.rpc("tools/call").len(), 1, "{body}");
        up.assert_all_signed("svc");
        p.finish();
    }
}

#[test]
fn a_json_rpc_error_answering_a_notification_does_not_reach_the_client() {
    for status in [400, 200] {
        let up = Server::start(move |s| {
            if s.is_rpc("notifications/roots/list_changed") {
                return Reply::json(
                    status,
                    r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}"#,
                );
            }
            standard_reply(s)
        });
        let mut p = Proxy::start(&up.url(), &[]);
        p.send(r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
        up.wait_for(ms(3000), |s| s.is_rpc("notifications/roots/list_changed"))
            .unwrap();
        p.expect_silence(ms(300));
        p.assert_ping(2);
        up.assert_all_signed("svc");
        p.finish();
    }
}

#[test]
fn a_late_answer_from_an_ended_session_does_not_bring_its_id_back() {
    let current: Arc<Mutex<Option<String>>> = Arc::default();
    let minted = Arc::new(AtomicUsize::new(0));
    let up = {
        let current = Arc::clone(&current);
        Server::start(move |s| {
            if s.is_rpc("initialize") {
                return new_session(s, &minted, &current, 0);
            }
            let sid = s.header("mcp-session-id").unwrap_or("").to_owned();
            if s.is_rpc("tools/call") && s.text().contains("\"slow\"") {
                // Accepted in its session, answered after that session ended,
                // with the session id echoed as AgentCore does.
                std::thread::sleep(ms(1500));
                return Reply::result(&id_of(s), json!({"slow": true}))
                    .header("mcp-session-id", &sid);
            }
            if current.lock().unwrap().as_deref() != Some(sid.as_str()) {
                return Reply::body(404, "text/plain", "session not found");
            }
            standard_reply(s).header("mcp-session-id", &sid)
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(INITIALIZE);
    assert_eq!(p.recv_json()["id"], 1);
    p.send(INITIALIZED);
    up.wait_for(ms(3000), |s| s.is_rpc("notifications/initialized"))
        .unwrap();
    p.send(&tool_call(5, "slow"));
    up.wait_for(ms(3000), |s| s.is_rpc("tools/call")).unwrap();
    *current.lock().unwrap() = None;
    p.send(&tool_call(6, "t"));
    assert_eq!(p.recv_json()["id"], 6);
    assert_eq!(p.recv_json()["id"], 5, "the slow call's late answer");
    p.assert_ping(7);
    let s2 = format!("{SESSION_ID}-gen2");
    let pings = up.rpc("ping");
    assert_eq!(
        pings
            .iter()
            .map(|s| s.header("mcp-session-id"))
            .collect::<Vec<_>>(),
        [Some(s2.as_str())],
        "the ping goes out once, in the new session"
    );
    assert_eq!(up.rpc("initialize").len(), 2);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn stdin_eof_sends_a_signed_delete_with_the_session_id_and_exits_0() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.assert_ping(2);
    p.finish();
    let deletes = up.matching(|s| s.method == "DELETE");
    assert_eq!(deletes.len(), 1, "{:?}", up.requests());
    assert_eq!(deletes[0].header("mcp-session-id"), Some(SESSION_ID));
    assert_eq!(deletes[0].target, "/mcp");
    up.assert_all_signed("svc");
}

// ---------------------------------------------------------------------------
// 6. Retries
// ---------------------------------------------------------------------------

/// A server that answers the first `failures` POSTs of `method` with `first`,
/// then normally.
fn failing_first(method: &'static str, failures: usize, first: fn() -> Reply) -> Server {
    let seen = AtomicUsize::new(0);
    Server::start(move |s| {
        if s.is_rpc(method) && seen.fetch_add(1, Ordering::AcqRel) < failures {
            return first();
        }
        standard_reply(s)
    })
}

fn gap(a: &Seen, b: &Seen) -> Duration {
    b.at.duration_since(a.at)
}

/// One tools/call that meets `first` once, then the standard answer: the
/// client gets the answer, and the resend waited for `Retry-After: 1`.
fn retried_after_the_wait(first: fn() -> Reply) {
    let up = failing_first("tools/call", 1, first);
    let mut p = Proxy::start(&up.url(), &["--retries", "2"]);
    p.send(&tool_call(1, "t"));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":1,"result":{"method":"tools/call"}})
    );
    let calls = up.rpc("tools/call");
    assert_eq!(calls.len(), 2);
    assert!(
        gap(&calls[0], &calls[1]) >= ms(900),
        "Retry-After: 1 is honoured"
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_503_with_retry_after_is_retried_after_the_wait() {
    retried_after_the_wait(|| Reply::body(503, "text/plain", "busy").header("retry-after", "1"));
}

#[test]
fn a_429_with_retry_after_is_retried_after_the_wait() {
    retried_after_the_wait(|| {
        Reply::json(429, r#"{"message":"Rate exceeded"}"#)
            .header("x-amzn-ErrorType", "ThrottlingException")
            .header("retry-after", "1")
    });
}

fn three_tools() -> Value {
    json!({"tools": [
        {"name": "a", "inputSchema": {"type": "object"}},
        {"name": "b", "inputSchema": {"type": "object"}},
        {"name": "c", "inputSchema": {"type": "object"}}
    ]})
}

/// AWS's throttling: a JSON-RPC error -32004 "Too many requests", here with
/// HTTP 200 (and `Retry-After: 1` on the first), twice.
fn throttled_twice(sse: bool) {
    let seen = Arc::new(AtomicUsize::new(0));
    let up = {
        let seen = Arc::clone(&seen);
        Server::start(move |s| {
            if s.is_rpc("tools/list") {
                let id = id_of(s);
                let n = seen.fetch_add(1, Ordering::AcqRel);
                if n < 2 {
                    let error = support::rpc_error(
                        &id,
                        -32004,
                        "Too many requests. Please try again later.",
                    );
                    let reply = if sse {
                        Reply::sse().message(&error).finish()
                    } else {
                        Reply::json(200, error)
                    };
                    return if n == 0 {
                        reply.header("retry-after", "1")
                    } else {
                        reply
                    };
                }
                return Reply::result(&id, three_tools());
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &["--retries", "2"]);
    p.handshake();
    p.send(&request(2, "tools/list", json!({})));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":2,"result":three_tools()}),
        "{v}"
    );
    p.expect_silence(ms(300));
    let lists = up.rpc("tools/list");
    assert_eq!(lists.len(), 3);
    assert!(gap(&lists[0], &lists[1]) >= ms(900), "Retry-After: 1");
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_too_many_requests_error_with_200_is_retried_after_the_wait() {
    throttled_twice(false);
}

#[test]
fn a_too_many_requests_error_on_a_stream_is_retried() {
    throttled_twice(true);
}

/// Throttled past `--retries`: the client gets the throttling error, never an
/// empty tools/list — also under `--read-only`, which filters the list.
#[test]
fn throttling_past_the_retries_is_an_error_never_an_empty_tools_list() {
    for (status, args) in [(429, &[][..]), (200, &[][..]), (429, &["--read-only"][..])] {
        let up = Server::start(move |s| {
            if s.is_rpc("tools/list") {
                return Reply::json(
                    status,
                    support::rpc_error(
                        &id_of(s),
                        -32004,
                        "Too many requests. Please try again later.",
                    ),
                )
                .header("retry-after", "0");
            }
            standard_reply(s)
        });
        let mut all = vec!["--retries", "1"];
        all.extend_from_slice(args);
        let mut p = Proxy::start(&up.url(), &all);
        p.handshake();
        p.send(&request(2, "tools/list", json!({})));
        let v = p.recv_json();
        assert_eq!(v["id"], 2, "{v}");
        assert!(v.get("result").is_none(), "never a list: {v}");
        assert_eq!(v["error"]["code"], -32004, "the server's own error: {v}");
        p.expect_silence(ms(300));
        assert_eq!(up.rpc("tools/list").len(), 2, "{status} {args:?}");
        up.assert_all_signed("svc");
        p.finish();
    }
}

/// `--read-only` lists the tools itself before calling one it does not know;
/// a throttled listing goes again, so the tool is not refused as unlisted.
#[test]
fn read_only_lists_tools_again_when_its_own_listing_is_throttled() {
    let seen = Arc::new(AtomicUsize::new(0));
    let up = {
        let seen = Arc::clone(&seen);
        Server::start(move |s| {
            if s.is_rpc("tools/list") {
                if seen.fetch_add(1, Ordering::AcqRel) == 0 {
                    return Reply::json(
                        429,
                        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32004,"message":"Too many requests. Please try again later."}}"#,
                    )
                    .header("retry-after", "0");
                }
                return Reply::result(
                    &id_of(s),
                    json!({"tools": [{"name": "look", "inputSchema": {"type": "object"},
                                      "annotations": {"readOnlyHint": true}}]}),
                );
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &["--read-only", "--retries", "2"]);
    p.handshake();
    p.send(&tool_call(2, "look"));
    assert_eq!(
        p.recv_json(),
        json!({"jsonrpc":"2.0","id":2,"result":{"method":"tools/call"}})
    );
    assert_eq!(up.rpc("tools/list").len(), 2);
    assert_eq!(up.rpc("tools/call").len(), 1);
    up.assert_all_signed("svc");
    p.finish();
}

/// A throttled tool call did not run: it goes again (a 429 says so for any
/// method).
#[test]
fn a_throttled_tools_call_is_retried_and_runs_once() {
    let up = failing_first("tools/call", 1, || {
        Reply::json(
            429,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32004,"message":"Too many requests. Please try again later."}}"#,
        )
        .header("retry-after", "0")
    });
    let mut p = Proxy::start(&up.url(), &["--retries", "2"]);
    p.send(&tool_call(1, "t"));
    assert_eq!(
        p.recv_json(),
        json!({"jsonrpc":"2.0","id":1,"result":{"method":"tools/call"}})
    );
    p.expect_silence(ms(300));
    assert_eq!(up.rpc("tools/call").len(), 2);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_502_on_tools_call_is_not_retried() {
    let up = failing_first("tools/call", 10, || {
        Reply::body(502, "text/plain", "bad gateway")
    });
    let mut p = Proxy::start(&up.url(), &["--retries", "2"]);
    p.send(&tool_call(1, "t"));
    let v = p.recv_json();
    assert_eq!(v["id"], 1, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    assert_eq!(v["error"]["data"]["httpStatus"], 502, "{v}");
    std::thread::sleep(ms(800));
    assert_eq!(
        up.rpc("tools/call").len(),
        1,
        "a tool call may have taken effect"
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_502_on_tools_list_is_retried() {
    let up = failing_first("tools/list", 1, || {
        Reply::body(502, "text/plain", "bad gateway")
    });
    let mut p = Proxy::start(&up.url(), &["--retries", "2"]);
    p.send(&request(1, "tools/list", json!({})));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":1,"result":{"method":"tools/list"}})
    );
    assert_eq!(up.rpc("tools/list").len(), 2);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn retries_0_does_not_retry() {
    let up = failing_first("tools/list", 10, || {
        Reply::body(503, "text/plain", "busy").header("retry-after", "0")
    });
    let mut p = Proxy::start(&up.url(), &["--retries", "0"]);
    p.send(&request(1, "tools/list", json!({})));
    let v = p.recv_json();
    assert_eq!(v["id"], 1, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    assert_eq!(v["error"]["data"]["httpStatus"], 503, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("not retried: --retries is 0") && !m.contains("was retried"),
        "says it was not retried: {m}"
    );
    std::thread::sleep(ms(300));
    assert_eq!(up.rpc("tools/list").len(), 1);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn an_unreachable_endpoint_gives_cannot_reach_and_the_proxy_keeps_running() {
    let url = format!("http://127.0.0.1:{}/mcp", support::closed_port());
    let mut p = Proxy::start(&url, &["--retries", "1", "--connect-timeout", "2"]);
    for id in [1, 2] {
        p.send(&request(id, "tools/list", json!({})));
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["error"]["code"], -32000, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("cannot reach"), "{m}");
        assert!(p.running(), "the proxy keeps running");
    }
    p.finish();
}

// ---------------------------------------------------------------------------
// 7. Timeouts
// ---------------------------------------------------------------------------

#[test]
fn a_silent_tool_call_times_out_and_is_cancelled_upstream() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::sse().hold(10_000);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--tool-timeout", "1"]);
    let t0 = Instant::now();
    p.send(&tool_call(20, "slow"));
    let v = p.recv_json();
    let took = t0.elapsed();
    assert_eq!(v["id"], 20, "{v}");
    assert_eq!(v["error"]["code"], -32001, "{v}");
    // Not before the 1 s, and not long after: it takes 1.0-1.1 s on a busy
    // 2-core machine, so 3.5 s leaves more than 3x.
    assert!(
        took >= ms(900) && took <= ms(3500),
        "timed out after {took:?}"
    );
    let cancel = up
        .wait_for(ms(3000), |s| s.is_rpc("notifications/cancelled"))
        .expect("the server is told the request is cancelled");
    assert_eq!(cancel.json().unwrap()["params"]["requestId"], 20);
    p.assert_ping(21);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_tool_call_without_an_answer_head_times_out_and_is_cancelled_upstream() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::silent(4000);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--tool-timeout", "1", "--retries", "0"]);
    p.send(&tool_call(22, "slow"));
    let v = p.recv_json();
    assert_eq!(v["id"], 22, "{v}");
    assert_eq!(v["error"]["code"], -32001, "{v}");
    let cancel = up
        .wait_for(ms(3000), |s| s.is_rpc("notifications/cancelled"))
        .expect("the server is told the request is cancelled");
    assert_eq!(cancel.json().unwrap()["params"]["requestId"], 22);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn progress_notifications_restart_the_tool_timeout() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            let mut r = Reply::sse();
            for n in 1..=12 {
                r = r.message(&progress("p", n)).sleep(300);
            }
            return r
                .message(&rpc_result(&id_of(s), json!({"done": true})))
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--tool-timeout", "2"]);
    let t0 = Instant::now();
    p.send(&request(
        23,
        "tools/call",
        json!({"name":"slow","arguments":{},"_meta":{"progressToken":"p"}}),
    ));
    for n in 1..=12 {
        assert_eq!(p.recv(), progress("p", n));
    }
    let v = p.recv_json();
    assert_eq!(v, json!({"jsonrpc":"2.0","id":23,"result":{"done":true}}));
    // 3.6 s of tool call in all, with no gap over 0.3 s: well past the
    // 2 s timeout, which each progress notification restarts.
    assert!(t0.elapsed() >= ms(3500));
    assert!(up.rpc("notifications/cancelled").is_empty());
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 8. Cancellation (2025 revisions)
// ---------------------------------------------------------------------------

#[test]
fn a_client_cancel_of_a_legacy_request_is_posted_and_gets_no_error_of_ours() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            // Silent, then the stream ends without a response.
            return Reply::sse().hold(1500);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(30, "slow"));
    up.wait_for(ms(3000), |s| s.is_rpc("tools/call")).unwrap();
    let cancel = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":30,"reason":"user"}}"#;
    p.send(cancel);
    let seen = up
        .wait_for(ms(3000), |s| s.is_rpc("notifications/cancelled"))
        .expect("the cancellation is POSTed");
    assert_eq!(seen.text(), cancel);
    p.expect_silence(ms(2000));
    p.assert_ping(31);
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 9. The GET stream and resumption
// ---------------------------------------------------------------------------

#[test]
fn the_get_stream_opens_after_initialized_and_its_messages_reach_stdout() {
    let (deleted, deleted_cond) = flag();
    let up = Server::start(move |s| {
        if s.method == "GET" {
            return Reply::sse()
                .raw("id: g-1\ndata:\n\n")
                .message(r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"from GET"}}"#)
                .message(r#"{"jsonrpc":"2.0","id":"srv-9","method":"roots/list"}"#)
                .wait_until(deleted_cond.clone(), ms(6000))
                .finish();
        }
        if s.method == "DELETE" {
            deleted.store(true, Ordering::Release);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"from GET"}}"#
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":"srv-9","method":"roots/list"}"#
    );
    let gets = up.matching(|s| s.method == "GET");
    assert_eq!(gets.len(), 1);
    let get = &gets[0];
    let initialized = &up.rpc("notifications/initialized")[0];
    assert!(
        get.index > initialized.index,
        "GET after notifications/initialized"
    );
    assert_eq!(get.header("accept"), Some("text/event-stream"));
    assert_eq!(get.header("mcp-session-id"), Some(SESSION_ID));
    assert_eq!(get.header("mcp-protocol-version"), Some(LEGACY_VERSION));
    assert_eq!(get.header("last-event-id"), None);
    assert_eq!(get.target, "/mcp");
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_405_to_the_get_stream_is_not_retried() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    up.wait_for(ms(3000), |s| s.method == "GET")
        .expect("a GET stream is tried");
    std::thread::sleep(ms(1800));
    assert_eq!(up.matching(|s| s.method == "GET").len(), 1);
    up.assert_all_signed("svc");
    p.finish();
}

/// The stderr lines that mention `needle`.
fn log_lines<'a>(stderr: &'a str, needle: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(needle)).collect()
}

/// A server whose session `current` ends when the test says so (404 for the
/// old id), answering GET with `get`.
fn ending_server(current: &Arc<Mutex<Option<String>>>, get: fn() -> Reply) -> Server {
    let current = Arc::clone(current);
    let minted = AtomicUsize::new(0);
    Server::start(move |s| {
        if s.method == "GET" {
            return get();
        }
        if s.is_rpc("initialize") {
            return new_session(s, &minted, &current, 0);
        }
        if let Some(sid) = s.header("mcp-session-id")
            && current.lock().unwrap().as_deref() != Some(sid)
        {
            return Reply::body(404, "text/plain", "session not found");
        }
        standard_reply(s)
    })
}

/// The AWS MCP Server answers the GET stream with 405 and a JSON-RPC body: it
/// has none, so it is asked once per endpoint, not once per session, and said
/// once at debug.
#[test]
fn a_405_to_the_get_stream_is_asked_once_per_endpoint_and_logged_once_at_debug() {
    let current: Arc<Mutex<Option<String>>> = Arc::default();
    let up = ending_server(&current, || {
        Reply::json(
            405,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Method not allowed"}}"#,
        )
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    up.wait_for(ms(3000), |s| s.method == "GET")
        .expect("a GET stream is tried");
    // The server ends the session; a new one is opened for the next call.
    *current.lock().unwrap() = None;
    p.send(&tool_call(2, "t"));
    assert_eq!(p.recv_json()["result"], json!({"method": "tools/call"}));
    assert_eq!(up.rpc("initialize").len(), 2);
    std::thread::sleep(ms(1500));
    assert_eq!(up.matching(|s| s.method == "GET").len(), 1, "GETs");
    let stderr = p.finish();
    let said = log_lines(&stderr, "GET stream (HTTP 405)");
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("[DEBUG "), "{}", said[0]);
}

/// Another 4xx to the GET stream stops it too, with a warning (once, however
/// many sessions ask).
#[test]
fn a_4xx_to_the_get_stream_stops_it_and_is_logged_once_at_warn() {
    let current: Arc<Mutex<Option<String>>> = Arc::default();
    let up = ending_server(&current, || {
        Reply::json(403, r#"{"message":"not for you"}"#)
            .header("x-amzn-ErrorType", "AccessDeniedException")
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    up.wait_for(ms(3000), |s| s.method == "GET")
        .expect("a GET stream is tried");
    std::thread::sleep(ms(1500));
    assert_eq!(up.matching(|s| s.method == "GET").len(), 1, "not retried");
    *current.lock().unwrap() = None;
    p.send(&tool_call(2, "t"));
    assert_eq!(p.recv_json()["result"], json!({"method": "tools/call"}));
    up.wait_for(ms(3000), |s| s.method == "GET" && s.index > 4)
        .expect("the new session tries its own GET stream");
    std::thread::sleep(ms(1500));
    assert_eq!(
        up.matching(|s| s.method == "GET").len(),
        2,
        "one per session"
    );
    let stderr = p.finish();
    let said = log_lines(&stderr, "GET stream: HTTP 403");
    assert_eq!(said.len(), 2, "{stderr}");
    assert!(said[0].contains("[WARN "), "{}", said[0]);
    assert!(said[1].contains("[DEBUG "), "{}", said[1]);
}

#[test]
fn a_broken_post_stream_is_resumed_with_last_event_id() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::sse()
                .raw(&format!(
                    "id: 5\nretry: 100\n{}",
                    sse_event(&progress("p", 1))
                ))
                .raw("data: {\"jsonrpc\":\"2.0\",\"id\":40,\"res")
                .cut();
        }
        if s.method == "GET" && s.header("last-event-id") == Some("5") {
            return Reply::sse()
                .raw(&format!(
                    "id: 6\n{}",
                    sse_event(&rpc_result(&json!(40), json!({"resumed": true})))
                ))
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&tool_call(40, "t"));
    assert_eq!(p.recv(), progress("p", 1));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":40,"result":{"resumed":true}})
    );
    let get = up
        .wait_for(ms(100), |s| s.method == "GET")
        .expect("a resumption GET");
    assert_eq!(get.header("last-event-id"), Some("5"));
    assert_eq!(get.header("accept"), Some("text/event-stream"));
    assert_eq!(
        up.rpc("tools/call").len(),
        1,
        "the request is not sent again"
    );
    p.assert_ping(41);
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 10. 2025-03-26 batches
// ---------------------------------------------------------------------------

#[test]
fn a_batch_goes_out_as_one_post_and_its_array_answer_as_one_line() {
    let up = Server::start(|s| {
        if s.method == "POST" && s.json().is_some_and(|v| v.is_array()) {
            return Reply::json(
                200,
                "[\n  {\"jsonrpc\": \"2.0\", \"id\": 51, \"result\": {\"prompts\": []}},\n  {\"jsonrpc\": \"2.0\", \"id\": 50, \"result\": {\"tools\": []}}\n]",
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    let batch = r#"[{"jsonrpc":"2.0","id":50,"method":"tools/list"},{"jsonrpc":"2.0","id":51,"method":"prompts/list","params":{}}]"#;
    p.send(batch);
    assert_eq!(
        p.recv(),
        r#"[{"jsonrpc":"2.0","id":51,"result":{"prompts":[]}},{"jsonrpc":"2.0","id":50,"result":{"tools":[]}}]"#
    );
    p.assert_ping(52);
    let posts = up.matching(|s| s.method == "POST");
    assert_eq!(posts.len(), 2, "one POST for the batch, one for the ping");
    assert_eq!(posts[0].text(), batch, "the batch goes out unchanged");
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 11. 2026-07-28
// ---------------------------------------------------------------------------

#[test]
fn modern_requests_carry_version_method_and_name_headers() {
    let up = Server::start(|s| {
        let id = id_of(s);
        Reply::result(&id, json!({"resultType": "complete"}))
    });
    let mut p = Proxy::start(&up.url(), &[]);
    let cases = [
        (modern_request(json!(1), "tools/list", json!({})), None),
        (
            modern_request(
                json!(2),
                "tools/call",
                json!({"name": "café", "arguments": {}}),
            ),
            Some("=?base64?Y2Fmw6k=?="),
        ),
        (
            modern_request(json!("three"), "prompts/get", json!({"name": "greet"})),
            Some("greet"),
        ),
        (
            modern_request(
                json!(4),
                "resources/read",
                json!({"uri": "file:///data/résumé.txt"}),
            ),
            Some("=?base64?ZmlsZTovLy9kYXRhL3LDqXN1bcOpLnR4dA==?="),
        ),
        (
            modern_request(
                json!(5),
                "tools/call",
                json!({"name": "=?base64?abc?=", "arguments": {}}),
            ),
            Some("=?base64?PT9iYXNlNjQ/YWJjPz0=?="),
        ),
    ];
    for (line, name) in &cases {
        p.send(line);
        let v = p.recv_json();
        let sent: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["id"], sent["id"], "{v}");
        let s = up
            .wait_for(ms(1000), |s| s.text() == *line)
            .expect("the body goes out unchanged");
        assert_eq!(s.header("mcp-protocol-version"), Some("2026-07-28"));
        assert_eq!(s.header("mcp-method"), sent["method"].as_str());
        assert_eq!(s.header("mcp-name"), *name, "{line}");
        assert_eq!(s.header("mcp-session-id"), None);
        let signed = s.signed_headers();
        for h in ["mcp-protocol-version", "mcp-method"] {
            assert!(signed.iter().any(|x| x == h), "{h} is signed: {signed:?}");
        }
        if name.is_some() {
            assert!(signed.iter().any(|x| x == "mcp-name"), "{signed:?}");
        }
    }
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn modern_tools_call_carries_mcp_param_headers_and_invalid_tools_are_dropped() {
    let list = json!({"tools": [
        {"name": "deploy", "inputSchema": {"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "count": {"type": "integer", "x-mcp-header": "Count"},
            "opts": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}}},
            "note": {"type": "string"}}}},
        {"name": "broken", "inputSchema": {"type": "object", "properties": {
            "x": {"type": "number", "x-mcp-header": "X"}}}},
        {"name": "plain", "inputSchema": {"type": "object"}}
    ], "ttlMs": 0, "cacheScope": "public", "resultType": "complete"});
    let up = {
        let list = list.clone();
        Server::start(move |s| {
            let id = id_of(s);
            if s.is_rpc("tools/list") {
                return Reply::result(&id, list.clone());
            }
            Reply::result(&id, json!({"content": [], "resultType": "complete"}))
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&modern_request(json!(1), "tools/list", json!({})));
    let v = p.recv_json();
    let mut expected = list.clone();
    expected["tools"].as_array_mut().unwrap().remove(1);
    assert_eq!(
        v["result"], expected,
        "the tool with an invalid annotation is dropped"
    );

    let call = modern_request(
        json!(2),
        "tools/call",
        json!({"name": "deploy", "arguments": {"region": "zürich", "count": 3, "opts": {"dry": true}, "note": "n"}}),
    );
    p.send(&call);
    assert_eq!(p.recv_json()["id"], 2);
    let s = up.wait_for(ms(1000), |s| s.text() == call).unwrap();
    assert_eq!(s.header("mcp-name"), Some("deploy"));
    assert_eq!(
        s.header("mcp-param-region"),
        Some("=?base64?esO8cmljaA==?=")
    );
    assert_eq!(s.header("mcp-param-count"), Some("3"));
    assert_eq!(s.header("mcp-param-dry-run"), Some("true"));
    assert_eq!(
        s.headers
            .iter()
            .filter(|(n, _)| n.starts_with("mcp-param-"))
            .count(),
        3
    );
    let signed = s.signed_headers();
    assert!(signed.iter().any(|h| h == "mcp-param-region"), "{signed:?}");

    // An argument that is absent or null: no header.
    let call = modern_request(
        json!(3),
        "tools/call",
        json!({"name": "deploy", "arguments": {"region": null}}),
    );
    p.send(&call);
    assert_eq!(p.recv_json()["id"], 3);
    let s = up.wait_for(ms(1000), |s| s.text() == call).unwrap();
    assert!(
        !s.headers.iter().any(|(n, _)| n.starts_with("mcp-param-")),
        "{:?}",
        s.headers
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn modern_server_discover_refused_with_id_server_error_gets_the_clients_id() {
    let up = Server::start(|s| {
        if s.is_rpc("server/discover") {
            return Reply::json(
                400,
                r#"{"jsonrpc":"2.0","id":"server-error","error":{"code":-32600,"message":"Bad Request: Missing session ID"}}"#,
            )
            .header("mcp-session-id", "stray-session-nobody-uses");
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&modern_request(json!("d1"), "server/discover", json!({})));
    let v = p.recv_json();
    assert_eq!(
        v,
        json!({"jsonrpc":"2.0","id":"d1","error":{"code":-32600,"message":"Bad Request: Missing session ID"}})
    );
    p.expect_silence(ms(500));
    up.assert_all_signed("svc");
    p.finish();
}

fn modern_cancel(keep_alive: bool) {
    let up = Server::start(move |s| {
        if s.is_rpc("tools/call") {
            let mut r = Reply::sse();
            if keep_alive {
                for _ in 0..20 {
                    r = r.raw(": keep-alive\n\n").sleep(200);
                }
            }
            return r.hold(4000);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&modern_request(
        json!(60),
        "tools/call",
        json!({"name": "slow", "arguments": {}}),
    ));
    let call = up.wait_for(ms(3000), |s| s.is_rpc("tools/call")).unwrap();
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":60,"reason":"user"}}"#);
    assert!(
        up.wait_client_closed(call.index, ms(2000)),
        "the proxy closes the request's stream"
    );
    p.expect_silence(ms(300));
    assert!(
        up.rpc("notifications/cancelled").is_empty(),
        "the cancellation is not POSTed"
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn modern_cancel_arriving_after_the_answer_is_not_posted() {
    let up = Server::start(|s| match s.rpc_id() {
        Some(id) => Reply::result(&id, json!({"resultType": "complete", "content": []})),
        None => Reply::accepted(),
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&modern_request(
        json!(61),
        "tools/call",
        json!({"name": "quick", "arguments": {}}),
    ));
    assert_eq!(p.recv_json()["id"], 61);
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":61,"reason":"late"}}"#);
    p.send(&modern_request(json!(62), "ping", json!({})));
    assert_eq!(p.recv_json()["id"], 62);
    p.expect_silence(ms(200));
    assert!(
        up.rpc("notifications/cancelled").is_empty(),
        "a 2026-07-28 cancel is never POSTed"
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_late_cancel_is_posted_again_once_the_client_initializes() {
    let up = Server::start(|s| match s.rpc_id() {
        Some(_) if s.is_rpc("initialize") || s.is_rpc("ping") => standard_reply(s),
        Some(id) => Reply::result(&id, json!({"resultType": "complete"})),
        None => Reply::accepted(),
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&modern_request(json!(1), "tools/list", json!({})));
    assert_eq!(p.recv_json()["id"], 1);
    // The client falls back to a 2025 handshake: cancels are notifications again.
    p.handshake();
    p.send(&tool_call(3, "t"));
    assert_eq!(p.recv_json()["id"], 3);
    let cancel = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"late"}}"#;
    p.send(cancel);
    let seen = up
        .wait_for(ms(3000), |s| s.is_rpc("notifications/cancelled"))
        .expect("a 2025 cancel is POSTed, even for an id already answered");
    assert_eq!(seen.text(), cancel);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn modern_cancel_closes_a_stream_with_keep_alives_and_is_not_posted() {
    modern_cancel(true);
}

#[test]
fn modern_cancel_closes_a_silent_stream_and_is_not_posted() {
    modern_cancel(false);
}

// ---------------------------------------------------------------------------
// 12. Policy: --read-only, --header, --metadata
// ---------------------------------------------------------------------------

/// A server with tools `ro` (read-only), `rw` (not) and `plain` (no
/// annotations). Once the test raises `changed`, the two swap roles, and the
/// next tools/call stream announces it with `notifications/tools/list_changed`.
fn tools_server(changed: Arc<AtomicBool>) -> Server {
    let announced = AtomicBool::new(false);
    Server::start(move |s| {
        let id = id_of(s);
        let now = changed.load(Ordering::Acquire);
        if s.is_rpc("tools/list") {
            return Reply::result(
                &id,
                json!({"tools": [
                    {"name": "ro", "annotations": {"readOnlyHint": !now}, "inputSchema": {"type": "object"}},
                    {"name": "rw", "annotations": {"readOnlyHint": now}, "inputSchema": {"type": "object"}},
                    {"name": "plain", "inputSchema": {"type": "object"}}
                ]}),
            );
        }
        if s.is_rpc("tools/call") {
            let name = s.json().unwrap()["params"]["name"].clone();
            let result = rpc_result(&id, json!({"called": name}));
            if now && !announced.swap(true, Ordering::AcqRel) {
                return Reply::sse()
                    .message(r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
                    .message(&result)
                    .finish();
            }
            return Reply::json(200, result);
        }
        standard_reply(s)
    })
}

fn tool_names(v: &Value) -> Vec<String> {
    v["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a tools/list result: {v}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn called(up: &Server) -> Vec<String> {
    up.rpc("tools/call")
        .iter()
        .map(|s| {
            s.json().unwrap()["params"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn assert_refused(v: &Value, id: i64) {
    assert_eq!(v["id"], id, "{v}");
    let m = v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {v}"));
    assert!(m.contains("--read-only"), "{m}");
}

#[test]
fn read_only_lists_only_read_only_tools_and_refuses_the_others() {
    let up = tools_server(Arc::default());
    let mut p = Proxy::start(&up.url(), &["--read-only"]);
    p.send(&request(1, "tools/list", json!({})));
    assert_eq!(tool_names(&p.recv_json()), ["ro"]);

    for (id, name) in [(2, "rw"), (3, "plain")] {
        p.send(&tool_call(id, name));
        assert_refused(&p.recv_json(), id);
    }
    p.send(&tool_call(4, "ro"));
    assert_eq!(p.recv_json()["result"]["called"], "ro");
    assert_eq!(called(&up), ["ro"], "the server never sees a refused call");
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn read_only_says_when_the_tool_list_could_not_be_read() {
    let up = failing_first("tools/list", 10, || {
        Reply::body(500, "text/plain", "internal error")
    });
    let mut p = Proxy::start(&up.url(), &["--read-only", "--retries", "0"]);
    p.send(&tool_call(1, "look"));
    let v = p.recv_json();
    assert_eq!(v["id"], 1, "{v}");
    assert_eq!(v["error"]["code"], -32003, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("tools/list could not be read") && m.contains("HTTP 500"),
        "says the listing failed, not that the tool is missing: {m}"
    );
    assert!(up.rpc("tools/call").is_empty(), "nothing was called");
    p.finish();
}

#[test]
fn read_only_lists_tools_itself_before_calling_an_unknown_tool() {
    let up = tools_server(Arc::default());
    let mut p = Proxy::start(&up.url(), &["--read-only"]);
    p.send(&tool_call(1, "ro"));
    let v = p.recv_json();
    assert_eq!(v, json!({"jsonrpc":"2.0","id":1,"result":{"called":"ro"}}));
    let posts = up.matching(|s| s.method == "POST");
    let methods: Vec<String> = posts.iter().map(|s| s.rpc_method().unwrap()).collect();
    assert_eq!(methods, ["tools/list", "tools/call"]);
    assert_ne!(
        id_of(&posts[0]),
        json!(1),
        "the proxy's own list has its own id"
    );

    p.send(&tool_call(2, "ghost"));
    assert_refused(&p.recv_json(), 2);
    p.send(&tool_call(3, "rw"));
    assert_refused(&p.recv_json(), 3);
    assert_eq!(called(&up), ["ro"]);
    p.expect_silence(ms(200));
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn read_only_follows_the_new_list_after_list_changed() {
    let changed = Arc::new(AtomicBool::new(false));
    let up = tools_server(Arc::clone(&changed));
    let mut p = Proxy::start(&up.url(), &["--read-only"]);
    p.send(&request(1, "tools/list", json!({})));
    assert_eq!(tool_names(&p.recv_json()), ["ro"]);
    p.send(&tool_call(2, "ro"));
    assert_eq!(p.recv_json()["result"]["called"], "ro");

    changed.store(true, Ordering::Release);
    p.send(&tool_call(3, "ro"));
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#
    );
    assert_eq!(p.recv_json()["result"]["called"], "ro");

    p.send(&request(4, "tools/list", json!({})));
    assert_eq!(tool_names(&p.recv_json()), ["rw"]);
    p.send(&tool_call(5, "ro"));
    assert_refused(&p.recv_json(), 5);
    p.send(&tool_call(6, "rw"));
    assert_eq!(p.recv_json()["result"]["called"], "rw");
    assert_eq!(called(&up), ["ro", "ro", "rw"]);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn extra_headers_reach_the_server_and_are_signed() {
    let up = Server::standard();
    let mut p = Proxy::start(
        &up.url(),
        &["--header", "X-Tenant=acme", "--headers", "A=1,B=2"],
    );
    p.handshake();
    p.assert_ping(2);
    up.wait_for(ms(3000), |s| s.method == "GET").unwrap();
    p.finish();
    let all = up.requests();
    assert!(all.iter().any(|s| s.method == "DELETE"));
    for s in &all {
        assert_eq!(
            s.header("x-tenant"),
            Some("acme"),
            "{} #{}",
            s.method,
            s.index
        );
        assert_eq!(s.header("a"), Some("1"), "{} #{}", s.method, s.index);
        assert_eq!(s.header("b"), Some("2"), "{} #{}", s.method, s.index);
        let signed = s.signed_headers();
        for h in ["x-tenant", "a", "b"] {
            assert!(signed.iter().any(|x| x == h), "{h} not in {signed:?}");
        }
    }
    up.assert_all_signed("svc");
}

#[test]
fn metadata_is_added_to_requests_but_not_to_notifications_or_responses() {
    let up = Server::standard();
    let mut p = Proxy::start(
        &up.url(),
        &["--metadata", "team=core", "--metadata", "env=test"],
    );
    p.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"n":1},"_meta":{"progressToken":"p1","team":"mine"}}}"#);
    assert_eq!(p.recv_json()["id"], 1);
    p.send(r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#);
    assert_eq!(p.recv_json()["id"], 2);
    let note = r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#;
    p.send(note);
    // Notifications and responses are not ordered among themselves: wait.
    up.wait_for(ms(3000), |s| s.text() == note)
        .expect("the notification goes out unchanged");
    let reply = r#"{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[]}}"#;
    p.send(reply);
    up.wait_for(ms(3000), |s| s.text() == reply)
        .expect("the response goes out unchanged");
    let posts = up.matching(|s| s.method == "POST");
    let bodies: Vec<String> = posts.iter().map(Seen::text).collect();
    assert_eq!(
        bodies,
        [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"n":1},"_meta":{"progressToken":"p1","team":"mine","env":"test"}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"_meta":{"team":"core","env":"test"}}}"#,
            note,
            reply,
        ]
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn rewritten_messages_keep_their_number_spelling() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/list") {
            return Reply::json(
                200,
                rpc_result(
                    &id_of(s),
                    json!({"tools": [{"name": "ro", "annotations": {"readOnlyHint": true}},
                                     {"name": "rw", "annotations": {"readOnlyHint": false}}]}),
                )
                .replace(
                    r#""name":"ro""#,
                    r#""name":"ro","weight":1.50e3,"tiny":2E-7"#,
                ),
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--metadata", "team=core", "--read-only"]);
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ro","arguments":{"n":1.50e3,"m":2E-7}}}"#;
    p.send(call);
    assert_eq!(p.recv_json()["id"], 1);
    let request = up.rpc("tools/call")[0].text();
    p.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    let answer = p.recv();
    assert_eq!(
        (request.as_str(), answer.as_str()),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ro","arguments":{"n":1.50e3,"m":2E-7},"_meta":{"team":"core"}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"ro","weight":1.50e3,"tiny":2E-7,"annotations":{"readOnlyHint":true}}]}}"#
        ),
        "(request as the server saw it, tools/list as the client saw it)"
    );
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 13. AgentCore runtime session
// ---------------------------------------------------------------------------

const RUNTIME_SESSION: &str = "x-amzn-bedrock-agentcore-runtime-session-id";

fn agentcore_run(args: &[&str]) -> Vec<String> {
    let up = Server::standard();
    let url = format!("{}/runtimes/x/invocations", up.base());
    let mut p = Proxy::builder(&url)
        .service("bedrock-agentcore")
        .args(args)
        .start();
    p.handshake();
    p.assert_ping(2);
    p.send(&request(3, "tools/list", json!({})));
    assert_eq!(p.recv_json()["id"], 3);
    up.wait_for(ms(3000), |s| s.method == "GET").unwrap();
    p.finish();
    up.assert_all_signed("bedrock-agentcore");
    let all = up.requests();
    assert!(all.iter().any(|s| s.method == "DELETE"));
    all.iter()
        .map(|s| {
            assert_eq!(s.target, "/runtimes/x/invocations");
            let v = s
                .header(RUNTIME_SESSION)
                .unwrap_or_else(|| panic!("{} #{} lacks {RUNTIME_SESSION}", s.method, s.index));
            assert!((33..=256).contains(&v.len()), "{v:?}");
            assert!(s.signed_headers().iter().any(|h| h == RUNTIME_SESSION));
            v.to_owned()
        })
        .collect()
}

#[test]
fn agentcore_requests_carry_one_runtime_session_id() {
    let ids = agentcore_run(&[]);
    assert!(ids.len() >= 6, "{ids:?}");
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
}

#[test]
fn agentcore_runtime_session_request_gives_each_request_its_own_id() {
    let ids = agentcore_run(&["--runtime-session", "request"]);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

// ---------------------------------------------------------------------------
// 13b. Order and load
// ---------------------------------------------------------------------------

/// Regression: against a server slow to acknowledge
/// notifications, a cancellation and two notifications held a ping back,
/// each for up to 10 s. Only the handshake orders messages now.
#[test]
fn notifications_slow_to_acknowledge_hold_back_no_ping() {
    // The notifications are acknowledged only once the ping was answered.
    let (acknowledge, acknowledged) = flag();
    let up = Server::start(move |s| {
        if s.method == "POST"
            && s.rpc_method().is_some_and(|m| {
                m.starts_with("notifications/") && m != "notifications/initialized"
            })
        {
            wait_for_flag(&acknowledged, ms(30_000));
            return Reply::accepted();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99,"reason":"x"}}"#);
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
    p.send(r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#);
    let v: Value = serde_json::from_str(
        &p.recv_timeout(ms(10_000))
            .unwrap_or_else(|| panic!("no ping answer; stderr:\n{}", p.stderr())),
    )
    .unwrap();
    assert_eq!(v["id"], 5, "{v}");
    acknowledge.store(true, Ordering::Release);
    let notes = || {
        up.matching(|s| {
            s.rpc_method()
                .is_some_and(|m| m.ends_with("list_changed") || m.ends_with("cancelled"))
        })
    };
    let end = Instant::now() + ms(6000);
    while notes().len() < 3 && Instant::now() < end {
        std::thread::sleep(ms(50));
    }
    assert_eq!(notes().len(), 3, "every notification still goes out");
    up.assert_all_signed("svc");
    p.finish();
}

/// The order the lifecycle needs is kept: a request written right after
/// `notifications/initialized` reaches the server only once that was
/// accepted; a ping, allowed at any time, does not wait for it.
#[test]
fn requests_wait_for_notifications_initialized_and_a_ping_does_not() {
    // Accepted after 1.5 s and only once the ping was answered.
    let (accept, accepted) = flag();
    let up = Server::start(move |s| {
        if s.is_rpc("notifications/initialized") {
            std::thread::sleep(ms(1500));
            wait_for_flag(&accepted, ms(30_000));
            return Reply::accepted();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(INITIALIZE);
    assert_eq!(p.recv_json()["id"], 1);
    p.send(INITIALIZED);
    p.send(&request(2, "tools/list", json!({})));
    p.send(r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#);
    let first: Value = serde_json::from_str(
        &p.recv_timeout(ms(10_000))
            .unwrap_or_else(|| panic!("no answer; stderr:\n{}", p.stderr())),
    )
    .unwrap();
    assert_eq!(first["id"], 3, "the ping first: {first}");
    accept.store(true, Ordering::Release);
    assert_eq!(p.recv_json()["id"], 2);
    let initialized = &up.rpc("notifications/initialized")[0];
    let list = &up.rpc("tools/list")[0];
    assert!(
        gap(initialized, list) >= ms(1400),
        "tools/list {:?} after notifications/initialized",
        gap(initialized, list)
    );
    up.assert_all_signed("svc");
    p.finish();
}

/// The threads of a process (Linux: `/proc/<pid>/task`).
#[cfg(target_os = "linux")]
fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

/// 300 slow calls written at once: every id is answered exactly once, the
/// proxy's threads stay under the cap (64) plus a few, and a ping written
/// after them gets through long before they are done.
#[test]
#[cfg(target_os = "linux")]
fn three_hundred_slow_calls_are_answered_once_each_with_threads_under_the_cap() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            std::thread::sleep(ms(300));
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    let pid = p.pid();
    let base = threads_of(pid);
    let (stop_tx, stop) = std::sync::mpsc::channel::<()>();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while stop.recv_timeout(ms(5)).is_err() {
            peak = peak.max(threads_of(pid));
        }
        peak
    });
    let mut all = String::new();
    for id in 1000..1300 {
        all.push_str(&tool_call(id, "slow"));
        all.push('\n');
    }
    all.push_str(r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#);
    all.push('\n');
    p.send_raw(all.as_bytes());
    let mut ids = Vec::new();
    let mut ping_at = None;
    let end = Instant::now() + Duration::from_secs(60);
    while ids.len() < 300 && Instant::now() < end {
        let Some(line) = p.recv_timeout(ms(5000)) else {
            break;
        };
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["id"] == 9 {
            ping_at = Some(ids.len());
            continue;
        }
        assert_eq!(v["result"], json!({"method": "tools/call"}), "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    if ping_at.is_none() {
        let v = p.recv_json();
        assert_eq!(v["id"], 9, "{v}");
        ping_at = Some(ids.len());
    }
    stop_tx.send(()).unwrap();
    let peak = sampler.join().unwrap();
    eprintln!("threads: {base} before the calls, {peak} at the peak");
    ids.sort_unstable();
    assert_eq!(ids, (1000..1300).collect::<Vec<i64>>(), "every id once");
    p.expect_silence(ms(300));
    // A few: main, stdin, stdout, signals, the GET stream's, the ping's
    // exchange. (A host name, unlike 127.0.0.1, also costs a short-lived
    // thread per new connection: ureq times the lookup on one.)
    assert!(
        peak <= 64 + 8,
        "the proxy had {peak} threads at its peak ({base} before the calls)"
    );
    let ping_at = ping_at.unwrap();
    assert!(ping_at < 150, "the ping was answered after {ping_at} calls");
    assert_eq!(up.rpc("tools/call").len(), 300, "each call sent once");
    p.finish();
}

/// `--max-in-flight 2`: a third call waits for a slot; cancelled while it
/// waits, it never goes out; a ping goes ahead meanwhile; the server never
/// sees more than two calls at once.
#[test]
fn past_max_in_flight_calls_wait_a_cancelled_one_never_goes_out_and_a_ping_goes_ahead() {
    let busy = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    // The slow calls end only once the ping was answered and both arrived.
    let (release, released) = flag();
    let up = {
        let (busy, peak) = (Arc::clone(&busy), Arc::clone(&peak));
        Server::start(move |s| {
            if s.is_rpc("tools/call") {
                let now = busy.fetch_add(1, Ordering::AcqRel) + 1;
                peak.fetch_max(now, Ordering::AcqRel);
                if s.text().contains("slow") {
                    wait_for_flag(&released, ms(30_000));
                } else {
                    std::thread::sleep(ms(50));
                }
                busy.fetch_sub(1, Ordering::AcqRel);
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &["--max-in-flight", "2"]);
    p.handshake();
    p.send(&tool_call(1, "slow"));
    p.send(&tool_call(2, "slow"));
    p.send(&tool_call(3, "quick"));
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"changed my mind"}}"#);
    p.send(r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#);
    let v = p.recv_json();
    assert_eq!(v["id"], 4, "the ping goes ahead: {v}");
    // Both slow calls held by the server at once, then let go.
    let end = Instant::now() + ms(10_000);
    while up.rpc("tools/call").len() < 2 && Instant::now() < end {
        std::thread::sleep(ms(20));
    }
    release.store(true, Ordering::Release);
    let mut slow: Vec<Value> = vec![p.recv_json()["id"].clone(), p.recv_json()["id"].clone()];
    slow.sort_by_key(|v| v.as_i64());
    assert_eq!(slow, [json!(1), json!(2)]);
    p.send(&tool_call(5, "quick"));
    assert_eq!(p.recv_json()["id"], 5, "nothing for the cancelled call");
    p.expect_silence(ms(300));
    let calls: Vec<Value> = up.rpc("tools/call").iter().map(id_of).collect();
    assert!(
        !calls.contains(&json!(3)),
        "the cancelled call went out: {calls:?}"
    );
    assert_eq!(peak.load(Ordering::Acquire), 2, "at most two at once");
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 14. Shutdown and secrets
// ---------------------------------------------------------------------------

#[test]
fn a_closed_stdout_ends_the_proxy_with_status_0_and_no_panic() {
    let up = Server::standard();
    let mut p = Proxy::builder(&up.url()).no_stdout_reader().start();
    drop(p.take_stdout());
    p.send(INITIALIZE);
    let status = p
        .wait_exit(ms(5000))
        .unwrap_or_else(|| panic!("the proxy did not exit; stderr:\n{}", p.stderr()));
    std::thread::sleep(ms(100));
    let stderr = p.stderr();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    support::assert_clean_stderr(&stderr);
    let delete = up
        .wait_for(ms(500), |s| s.method == "DELETE")
        .expect("the session is ended");
    assert_eq!(delete.header("mcp-session-id"), Some(SESSION_ID));
    up.assert_all_signed("svc");
}

/// Closes stdin while the server holds open whatever `hold` selects (for 20 s,
/// not ending it on DELETE), and checks the proxy still DELETEs the session
/// and exits 0 promptly.
fn eof_with_open_streams(hold_get: bool, hold_call: bool) {
    let up = Server::start(move |s| {
        if (hold_get && s.method == "GET") || (hold_call && s.is_rpc("tools/call")) {
            return Reply::sse().raw(": open\n\n").hold(20_000);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    up.wait_for(ms(3000), |s| s.method == "GET").unwrap();
    if hold_call {
        p.send(&tool_call(2, "slow"));
        up.wait_for(ms(3000), |s| s.is_rpc("tools/call")).unwrap();
    } else {
        p.assert_ping(2);
    }
    let t0 = Instant::now();
    p.close_stdin();
    let status = p.wait_exit(ms(6000));
    let stderr = p.stderr();
    let status =
        status.unwrap_or_else(|| panic!("no exit 6 s after stdin closed; stderr:\n{stderr}"));
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(t0.elapsed() < ms(5000), "took {:?}", t0.elapsed());
    let delete = up.wait_for(ms(500), |s| s.method == "DELETE");
    assert_eq!(
        delete
            .expect("the session is ended")
            .header("mcp-session-id"),
        Some(SESSION_ID)
    );
    support::assert_clean_stderr(&stderr);
    up.assert_all_signed("svc");
}

#[test]
fn stdin_eof_exits_promptly_while_a_tool_call_is_in_flight() {
    eof_with_open_streams(false, true);
}

#[test]
fn stdin_eof_exits_promptly_while_the_get_stream_is_open() {
    eof_with_open_streams(true, false);
}

#[test]
fn debug_logs_hold_no_secrets() {
    let expired = Arc::new(AtomicBool::new(false));
    let up = {
        let expired = Arc::clone(&expired);
        Server::start(move |s| {
            if s.is_rpc("tools/call") {
                if expired.swap(false, Ordering::AcqRel) {
                    return Reply::body(404, "text/plain", "no such session");
                }
                let id = id_of(s);
                if id == json!(3) {
                    return Reply::json(403, r#"{"message":"denied"}"#)
                        .header("x-amzn-ErrorType", "AccessDeniedException")
                        .header("x-amzn-RequestId", "rid-1");
                }
                return Reply::sse()
                    .raw("id: e1\ndata:\n\n")
                    .message(&rpc_result(&id, json!({"ok": true})))
                    .finish();
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send(&tool_call(2, "t"));
    assert_eq!(p.recv_json()["id"], 2);
    p.send(&tool_call(3, "t"));
    assert_eq!(p.recv_json()["error"]["data"]["httpStatus"], 403);
    expired.store(true, Ordering::Release);
    p.send(&tool_call(4, "t"));
    assert_eq!(p.recv_json()["result"]["ok"], true);
    p.send(r#"{"jsonrpc":"2.0","id":"srv-x","result":{}}"#);
    p.assert_ping(5);
    let stderr = p.finish();
    assert!(stderr.contains("DEBUG"), "debug logs are on:\n{stderr}");
    assert!(!stderr.contains(SESSION_ID));
    assert_eq!(up.rpc("initialize").len(), 2, "the 404 path was logged too");
    up.assert_all_signed("svc");
}

// ---------------------------------------------------------------------------
// 15. The signature check every test above relies on
// ---------------------------------------------------------------------------

/// A path with escapes (an AgentCore runtime ARN) and a query: the signature
/// covers them as the server received them (the path encoded once more in the
/// canonical request, the query sorted).
#[test]
fn an_escaped_path_and_a_query_are_signed_as_received() {
    let up = Server::standard();
    let path = "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fmy_agent-Ab1/invocations";
    let mut p = Proxy::start(&format!("{}{path}?qualifier=DEFAULT&a=1", up.base()), &[]);
    p.handshake();
    p.assert_ping(2);
    p.finish();
    for s in up.requests() {
        let (p, q) = s.target.split_once('?').unwrap_or((&s.target, ""));
        let mut params: Vec<&str> = q.split('&').collect();
        params.sort_unstable();
        assert_eq!(
            (p, params),
            (path, vec!["a=1", "qualifier=DEFAULT"]),
            "{} #{}",
            s.method,
            s.index
        );
    }
    up.assert_all_signed("svc");
}

/// One `header-signed-request.txt` of AWS's signing suite as the test server
/// would have recorded it (folded header lines joined with a space).
fn suite_request(text: &str) -> Seen {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let (method, rest) = first.split_once(' ').unwrap_or((first, ""));
    let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Seen {
        index: 0,
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
        at: Instant::now(),
        connection: 0,
    }
}

/// The checker accepts AWS's own signed requests (`vectors/sigv4`: the 38
/// cases with a `context.json` and the two escaped-path cases), refuses each of them once its body or its secret
/// key is changed, and refuses the one case that sends a session token it did
/// not sign. So a relay test passes only on a signature AWS would accept.
#[test]
fn the_signature_check_accepts_the_aws_suite_and_refuses_changes() {
    /// Cases the checker must refuse, with the reason it must give.
    const REFUSED: &[(&str, &str)] = &[(
        "post-sts-header-after",
        "expected SignedHeaders to include x-amz-security-token",
    )];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/sigv4");
    let read = |case: &str, f: &str| {
        std::fs::read_to_string(root.join(case).join(f))
            .unwrap_or_else(|e| panic!("vectors/sigv4/{case}/{f}: {e}"))
    };
    // (case, signing parameters): each case's context.json, and for the two
    // cases without one (escaped paths), the parameters of their signature
    // check in legacy-contexts.json.
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&root)
        .expect("vectors/sigv4")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("context.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .map(|c| {
            let context = serde_json::from_str(&read(&c, "context.json")).unwrap();
            (c, context)
        })
        .collect();
    let legacy: Value = serde_json::from_str(&read("", "legacy-contexts.json")).unwrap();
    for (case, entries) in legacy["cases"].as_object().unwrap() {
        for e in entries.as_array().unwrap() {
            if e["checks"]
                .as_array()
                .unwrap()
                .contains(&json!("signature"))
            {
                cases.push((case.clone(), e.clone()));
            }
        }
    }
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(cases.len(), 40, "expected AWS's 38 cases and 2 legacy ones");
    let mut failures = Vec::new();
    let mut accepted = 0;
    for (case, context) in &cases {
        let secret = context["credentials"]["secret_access_key"]
            .as_str()
            .unwrap();
        let by = support::SignedBy {
            access_key_id: context["credentials"]["access_key_id"].as_str().unwrap(),
            secret,
            service: context["service"].as_str().unwrap(),
            region: context["region"].as_str().unwrap(),
        };
        let now = support::unix_of(context["timestamp"].as_str().unwrap());
        let normalize = context["normalize"].as_bool().unwrap();
        let seen = suite_request(&read(case, "header-signed-request.txt"));
        let result = by.check_at(&seen, now, normalize);
        if let Some((_, why)) = REFUSED.iter().find(|(c, _)| c == case) {
            match result {
                Err(e) if e.contains(why) => {}
                other => failures.push(format!("{case}: expected Err({why:?}), found {other:?}")),
            }
            continue;
        }
        if let Err(e) = result {
            failures.push(format!(
                "{case}: expected the suite's signature accepted, found {e}"
            ));
            continue;
        }
        accepted += 1;
        let mut changed = seen.clone();
        changed.body.push(b'x');
        if by.check_at(&changed, now, normalize).is_ok() {
            failures.push(format!("{case}: a changed body was accepted"));
        }
        let wrong = format!("{}x", &secret[..secret.len() - 1]);
        let by_wrong = support::SignedBy {
            secret: &wrong,
            ..by
        };
        match by_wrong.check_at(&seen, now, normalize) {
            Err(e) if e.starts_with("expected Signature=") => {}
            other => failures.push(format!(
                "{case}: expected a wrong secret refused, found {other:?}"
            )),
        }
        if by.check_at(&seen, now + 6 * 60, normalize).is_ok() {
            failures.push(format!("{case}: a signature 6 minutes old was accepted"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures ({accepted} of {} cases accepted):\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
    assert_eq!(accepted, cases.len() - REFUSED.len());
}
