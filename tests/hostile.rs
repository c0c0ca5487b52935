//! Hostile input: the built `mcp-sigv4` binary between a test
//! playing a stdio MCP client that writes whatever it likes and a scripted
//! upstream that answers whatever it likes (`support/`). Each test pins one
//! rule the relay keeps against such input — policy applied to every member
//! of a batch and batches refused where the revision has none
//! (<https://modelcontextprotocol.io/specification/2025-06-18/changelog>,
//! "Remove support for JSON-RPC batching"), no message with duplicate object
//! keys, a deadline that trickled bytes do not extend, a bound on each message
//! and never on a stream, a stdout queue bounded in bytes, ids matched by
//! value (<https://www.jsonrpc.org/specification#request_object>), errors
//! that say what happened, and `initialize` never cancelled
//! (<https://modelcontextprotocol.io/specification/2025-06-18/basic/utilities/cancellation>);
//! no keys a case-insensitive decoder reads as one where the relay reads, no
//! secret the server echoes repeated, stdin read on while requests wait,
//! reconnects and memory bounded, the GET stream open before the first
//! request, answers only on their request's stream, header values checked
//! where they come from
//! — and checks that every request the upstream saw is signed. Every wait is
//! bounded, with margins wide enough for a loaded 2-CPU machine.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{INITIALIZED, Proxy, Reply, Seen, Server, flag, rpc_result, standard_reply};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn request(id: impl Into<Value>, method: &str, params: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id.into(),"method":method,"params":params})
}

fn tool_call(id: i64, name: &str) -> Value {
    request(id, "tools/call", json!({"name": name, "arguments": {}}))
}

/// The members of a POST body: the array's, or the one message.
fn members(s: &Seen) -> Vec<Value> {
    match s.json() {
        Some(Value::Array(a)) => a,
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

/// Every tool the upstream was asked to run, batched or not.
fn tools_called(up: &Server) -> Vec<String> {
    up.requests()
        .iter()
        .flat_map(members)
        .filter(|m| m["method"] == "tools/call")
        .map(|m| m["params"]["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The batches (array bodies) the upstream received.
fn batches(up: &Server) -> Vec<Vec<Value>> {
    up.requests()
        .iter()
        .filter_map(|s| match s.json() {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        })
        .collect()
}

/// Reads stdout lines until every id in `ids` has an answer (array lines are
/// taken apart); fails after `limit`. Returns each id's answer, and how many
/// lines were arrays.
fn answers(p: &Proxy, ids: &[i64], limit: Duration) -> (BTreeMap<i64, Value>, usize) {
    let end = Instant::now() + limit;
    let mut got = BTreeMap::new();
    let mut arrays = 0;
    while !ids.iter().all(|id| got.contains_key(id)) {
        let left = end.saturating_duration_since(Instant::now());
        let line = p
            .recv_timeout(left)
            .unwrap_or_else(|| panic!("answers for {ids:?} within {limit:?}; got {got:?}"));
        let v: Value = serde_json::from_str(&line).unwrap();
        let items = match v {
            Value::Array(a) => {
                arrays += 1;
                a
            }
            v => vec![v],
        };
        for item in items {
            if let Some(id) = item["id"].as_i64() {
                assert!(
                    got.insert(id, item.clone()).is_none(),
                    "two answers for {id}"
                );
            }
        }
    }
    (got, arrays)
}

/// A 2025-03-26 server: batches both ways (an array answer for an array
/// body), tools `read` (readOnlyHint) and `dangerous`, every call recorded.
fn batch_server() -> Server {
    Server::start(|s| {
        if s.method != "POST" {
            return standard_reply(s);
        }
        let Some(body) = s.json() else {
            return standard_reply(s);
        };
        let answer = |m: &Value| -> Option<Value> {
            let id = m.get("id")?.clone();
            let result = match m["method"].as_str()? {
                "initialize" => json!({"protocolVersion": "2025-03-26",
                    "capabilities": {"tools": {}}, "serverInfo": {"name": "batch", "version": "1"}}),
                "tools/list" => json!({"tools": [
                    {"name": "read", "annotations": {"readOnlyHint": true}, "inputSchema": {"type": "object"}},
                    {"name": "dangerous", "annotations": {"readOnlyHint": false}, "inputSchema": {"type": "object"}}
                ]}),
                "tools/call" => json!({"called": m["params"]["name"]}),
                other => json!({"method": other}),
            };
            Some(json!({"jsonrpc":"2.0","id":id,"result":result}))
        };
        match &body {
            Value::Array(items) => {
                let out: Vec<Value> = items.iter().filter_map(answer).collect();
                if out.is_empty() {
                    Reply::accepted()
                } else {
                    Reply::json(200, Value::Array(out).to_string())
                }
            }
            single => match answer(single) {
                Some(a) if single["method"] == "initialize" => {
                    Reply::json(200, a.to_string()).header("mcp-session-id", "sess-batch-1")
                }
                Some(a) => Reply::json(200, a.to_string()),
                None => Reply::accepted(),
            },
        }
    })
}

fn handshake(p: &mut Proxy) {
    p.send_json(&request(
        1,
        "initialize",
        json!({"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"hostile","version":"1"}}),
    ));
    let v = p.recv_json();
    assert_eq!(v["id"], 1, "initialize answer: {v}");
    p.send(INITIALIZED);
}

// ---------------------------------------------------------------------------
// 1. Batches and policy
// ---------------------------------------------------------------------------

#[test]
fn read_only_applies_to_every_member_of_a_batch() {
    let up = batch_server();
    let mut p = Proxy::start(&up.url(), &["--read-only"]);
    handshake(&mut p);
    p.send_json(&json!([
        tool_call(2, "dangerous"),
        tool_call(3, "read"),
        request(4, "ping", json!({}))
    ]));
    let (got, _) = answers(&p, &[2, 3, 4], ms(10_000));
    assert_eq!(got[&2]["error"]["code"], -32003, "{}", got[&2]);
    assert!(
        got[&2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--read-only"),
        "{}",
        got[&2]
    );
    assert_eq!(got[&3]["result"], json!({"called": "read"}));
    assert_eq!(got[&4]["result"], json!({"method": "ping"}));

    // A batched tools/list answer is filtered member by member.
    p.send_json(&json!([
        request(5, "tools/list", json!({})),
        request(6, "ping", json!({}))
    ]));
    let (got, _) = answers(&p, &[5, 6], ms(10_000));
    let names: Vec<&str> = got[&5]["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", got[&5]))
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["read"], "{}", got[&5]);
    assert!(
        !tools_called(&up).iter().any(|n| n == "dangerous"),
        "the refused tool ran: {:?}",
        tools_called(&up)
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn metadata_is_added_to_every_request_of_a_batch() {
    let up = batch_server();
    let mut p = Proxy::start(&up.url(), &["--metadata", "team=search"]);
    handshake(&mut p);
    p.send_json(&json!([
        request(2, "ping", json!({})),
        json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}),
        request(3, "tools/list", json!({"_meta": {"team": "own"}}))
    ]));
    answers(&p, &[2, 3], ms(10_000));
    let batch = batches(&up).pop().expect("the batch went out");
    assert_eq!(batch.len(), 3, "{batch:?}");
    assert_eq!(batch[0]["params"]["_meta"]["team"], "search");
    assert!(
        batch[1]["params"].get("_meta").is_none(),
        "a notification gets no metadata"
    );
    assert_eq!(
        batch[2]["params"]["_meta"]["team"], "own",
        "the client's key wins"
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_batch_is_refused_once_the_session_negotiated_a_revision_without_batches() {
    let up = Server::standard(); // negotiates 2025-06-18
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send_json(&json!([
        request(2, "ping", json!({})),
        json!({"jsonrpc":"2.0","method":"notifications/roots/list_changed"}),
        tool_call(3, "anything")
    ]));
    let (got, arrays) = answers(&p, &[2, 3], ms(10_000));
    assert_eq!(arrays, 0, "a 2025-06-18 client gets no array");
    for id in [2, 3] {
        assert_eq!(got[&id]["error"]["code"], -32600, "{}", got[&id]);
        let m = got[&id]["error"]["message"].as_str().unwrap();
        assert!(m.contains("batch") && m.contains("2025-06-18"), "{m}");
    }
    p.expect_silence(ms(300));
    assert!(batches(&up).is_empty(), "no batch reaches the server");
    assert!(tools_called(&up).is_empty());
    p.assert_ping(4);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_batch_sent_before_the_initialize_answer_is_refused_once_it_negotiates_no_batches() {
    let up = Server::start(|s| {
        if s.is_rpc("initialize") {
            std::thread::sleep(ms(700));
        }
        standard_reply(s) // negotiates 2025-06-18
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(support::INITIALIZE);
    p.send_json(&json!([
        request(2, "ping", json!({})),
        request(3, "tools/list", json!({}))
    ]));
    let (got, arrays) = answers(&p, &[1, 2, 3], ms(15_000));
    assert_eq!(arrays, 0);
    assert!(got[&1].get("result").is_some(), "{}", got[&1]);
    for id in [2, 3] {
        assert_eq!(got[&id]["error"]["code"], -32600, "{}", got[&id]);
    }
    assert!(batches(&up).is_empty(), "no batch reaches the server");
    p.send(INITIALIZED);
    p.assert_ping(4);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_message_with_duplicate_object_keys_is_refused() {
    let up = batch_server();
    let mut p = Proxy::start(&up.url(), &["--read-only"]);
    handshake(&mut p);
    for (id, line) in [
        (
            7,
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read","arguments":{},"name":"dangerous"}}"#,
        ),
        (
            8,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"read","n\u0061me":"dangerous"}}"#,
        ),
        (
            9,
            r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"read","arguments":{"a":1,"a":2}}}"#,
        ),
        (
            10,
            r#"[{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"read","name":"dangerous"}}]"#,
        ),
    ] {
        p.send(line);
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["error"]["code"], -32600, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("appears twice") && (m.contains("\"name\"") || m.contains("\"a\"")),
            "{m}"
        );
    }
    // Whose id is given twice cannot be told: the error has a null id.
    p.send(r#"{"jsonrpc":"2.0","id":11,"id":12,"method":"ping"}"#);
    let v = p.recv_json();
    assert_eq!(v["id"], Value::Null, "{v}");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    p.assert_ping(13);
    assert!(tools_called(&up).is_empty(), "{:?}", tools_called(&up));
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 2. Deadlines that trickled bytes do not extend
// ---------------------------------------------------------------------------

/// A tool call whose answer never completes a message, one byte at a time:
/// answered -32001 within the tool timeout (2 s, plus a wide margin), the
/// server told it is cancelled.
fn trickled_tool_call_times_out(answer: fn() -> Reply) {
    trickled_answer_times_out(
        "tools/call",
        &["--tool-timeout", "2"],
        "--tool-timeout",
        answer,
    );
}

/// A `method` request whose answer never completes a message: answered
/// -32001 once the limit `flag` sets (2 s in `args`) passes, the server told
/// it is cancelled.
fn trickled_answer_times_out(method: &str, args: &[&str], flag: &str, answer: fn() -> Reply) {
    let watched = method.to_owned();
    let up = Server::start(move |s| {
        if s.is_rpc(&watched) {
            return answer();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), args);
    p.handshake();
    let t0 = Instant::now();
    p.send_json(&request(
        20,
        method,
        json!({"name": "slow", "arguments": {}}),
    ));
    let line = p
        .recv_timeout(ms(12_000))
        .unwrap_or_else(|| panic!("no answer within 12 s; stderr:\n{}", p.stderr()));
    let took = t0.elapsed();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["id"], 20, "{v}");
    assert_eq!(v["error"]["code"], -32001, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.contains(flag), "{m}");
    assert!(!m.contains("cannot reach"), "{m}");
    assert!(took >= ms(1900), "timed out after {took:?}");
    let cancel = up
        .wait_for(ms(5000), |s| s.is_rpc("notifications/cancelled"))
        .expect("the server is told the request is cancelled");
    assert_eq!(cancel.json().unwrap()["params"]["requestId"], 20);
    p.assert_ping(21);
    up.assert_all_signed("svc");
    p.finish();
}

/// 200 ms per byte: a message that would take 30 s.
fn slow_bytes() -> Vec<u8> {
    let mut text =
        br#"{"jsonrpc":"2.0","id":20,"result":{"content":[{"type":"text","text":""#.to_vec();
    text.extend(std::iter::repeat_n(b'x', 100));
    text.extend_from_slice(br#""}]}}"#);
    text
}

#[test]
fn an_sse_data_line_trickled_byte_by_byte_does_not_hold_off_the_tool_timeout() {
    trickled_tool_call_times_out(|| {
        Reply::sse()
            .raw("event: message\ndata: ")
            .trickle(&slow_bytes(), 200)
            .finish()
    });
}

#[test]
fn a_json_body_trickled_byte_by_byte_does_not_hold_off_the_tool_timeout() {
    trickled_tool_call_times_out(|| {
        Reply::streamed("application/json")
            .trickle(&slow_bytes(), 200)
            .finish()
    });
}

#[test]
fn any_exchange_ends_at_its_deadline_however_the_answer_trickles() {
    // Not a tool call: the whole-exchange limit, which bytes do not move.
    trickled_answer_times_out(
        "resources/read",
        &["--timeout", "2", "--read-timeout", "2"],
        "--timeout",
        || {
            Reply::sse()
                .raw("event: message\ndata: ")
                .trickle(&slow_bytes(), 200)
                .finish()
        },
    );
}

#[test]
fn a_json_body_that_stalls_on_a_tool_call_is_a_timeout() {
    trickled_tool_call_times_out(|| {
        let body = slow_bytes();
        Reply::streamed("application/json")
            .content_length(body.len())
            .bytes(&body[..20])
            .hold(20_000)
    });
}

// ---------------------------------------------------------------------------
// 3. Each message bounded, never the sum of a stream
// ---------------------------------------------------------------------------

const MIB: usize = 1 << 20;

fn big_notification(n: usize, size: usize) -> String {
    let text = "p".repeat(size);
    json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"big","progress":n,"message":text}})
        .to_string()
}

#[test]
fn a_tool_call_streaming_more_than_the_message_limit_keeps_its_result() {
    // 70 events of 1 MiB: past the 64 MiB default in total, each far under it.
    const EVENTS: usize = 70;
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            let mut r = Reply::sse();
            for n in 0..EVENTS {
                r = r.message(&big_notification(n, MIB));
            }
            return r
                .message(&rpc_result(&json!(30), json!({"done": true})))
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send_json(&tool_call(30, "big"));
    for n in 0..EVENTS {
        let line = p
            .recv_timeout(ms(30_000))
            .unwrap_or_else(|| panic!("progress {n} of {EVENTS}; stderr:\n{}", p.stderr()));
        assert!(line.len() > MIB, "progress {n}: {} bytes", line.len());
    }
    let v: Value = serde_json::from_str(&p.recv_timeout(ms(30_000)).expect("the result")).unwrap();
    assert_eq!(v, json!({"jsonrpc":"2.0","id":30,"result":{"done":true}}));
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn the_get_stream_is_not_cut_after_the_message_limit() {
    const EVENTS: usize = 70;
    let served = Arc::new(AtomicBool::new(false));
    let up = {
        let served = Arc::clone(&served);
        Server::start(move |s| {
            if s.method == "GET" {
                if served.swap(true, Ordering::AcqRel) {
                    return Reply::status(405);
                }
                let mut r = Reply::sse();
                for n in 0..EVENTS {
                    r = r.message(&big_notification(n, MIB));
                }
                return r
                    .message(r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"last"}}"#)
                    .hold(10_000);
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    for n in 0..EVENTS {
        let line = p
            .recv_timeout(ms(30_000))
            .unwrap_or_else(|| panic!("notification {n} of {EVENTS}; stderr:\n{}", p.stderr()));
        assert!(line.len() > MIB, "notification {n}: {} bytes", line.len());
    }
    let v = p.recv_json();
    assert_eq!(v["params"]["data"], "last", "{v}");
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn an_sse_event_over_the_limit_is_an_error_for_its_request_and_the_stream_goes_on() {
    let up = Server::start(|s| {
        if s.method == "GET" {
            return standard_reply(s);
        }
        if s.is_rpc("tools/call") {
            let id = s.rpc_id().unwrap();
            let huge = rpc_result(&id, json!({"text": "z".repeat(8 << 10)}));
            return Reply::sse()
                .message(&big_notification(1, 100))
                .message(&big_notification(2, 9 << 10))
                .message(&big_notification(3, 100))
                .message(&huge)
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--max-event-size", "4KiB"]);
    p.handshake();
    p.send_json(&tool_call(31, "huge"));
    let first = p.recv_json();
    assert_eq!(first["params"]["progress"], 1, "{first}");
    let third = p.recv_json();
    assert_eq!(
        third["params"]["progress"], 3,
        "the oversized notification is skipped, the stream read on: {third}"
    );
    let v = p.recv_json();
    assert_eq!(v["id"], 31, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("larger than 4096 bytes") && m.contains("--max-event-size"),
        "{m}"
    );
    assert!(!m.contains("cannot reach"), "{m}");
    p.assert_ping(32);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_server_request_over_the_event_limit_is_answered_to_the_server() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            let id = s.rpc_id().unwrap();
            let ask = json!({"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage",
                "params":{"messages":[{"role":"user","content":{"type":"text","text":"q".repeat(8 << 10)}}]}})
                .to_string();
            return Reply::sse()
                .message(&ask)
                .message(&rpc_result(&id, json!({"ok": true})))
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--max-event-size", "4KiB"]);
    p.handshake();
    p.send_json(&tool_call(33, "asks"));
    let v = p.recv_json();
    assert_eq!(v, json!({"jsonrpc":"2.0","id":33,"result":{"ok":true}}));
    let reply = up
        .wait_for(ms(5000), |s| {
            s.method == "POST" && s.rpc_id() == Some(json!("srv-1"))
        })
        .expect("the server's request is answered");
    let reply = reply.json().unwrap();
    assert!(reply.get("error").is_some(), "{reply}");
    let m = reply["error"]["message"].as_str().unwrap();
    assert!(m.contains("larger than 4096 bytes"), "{m}");
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 4. The stdout queue is bounded in bytes
// ---------------------------------------------------------------------------

#[test]
fn a_client_that_stops_reading_holds_the_proxy_to_the_stdout_queue() {
    // 300 notifications of 256 KiB (75 MiB) on the GET stream while the
    // client reads nothing for 3 s: the proxy holds the 16 MiB queue and a
    // message or two, and loses none of them.
    const EVENTS: usize = 300;
    let served = Arc::new(AtomicBool::new(false));
    let up = {
        let served = Arc::clone(&served);
        Server::start(move |s| {
            if s.method == "GET" {
                if served.swap(true, Ordering::AcqRel) {
                    return Reply::status(405);
                }
                let mut r = Reply::sse();
                for n in 0..EVENTS {
                    r = r.message(&big_notification(n, 256 << 10));
                }
                return r.hold(20_000);
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    // Let the GET stream fill the queue while nobody reads.
    p.pause_stdout();
    std::thread::sleep(ms(3000));
    let peak = p.status_kib("VmHWM");
    p.resume_stdout();
    for n in 0..EVENTS {
        let line = p
            .recv_timeout(ms(30_000))
            .unwrap_or_else(|| panic!("notification {n} of {EVENTS}; stderr:\n{}", p.stderr()));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["params"]["progress"], n, "in order, none lost");
    }
    if let Some(peak) = peak {
        assert!(
            peak < 48 * 1024,
            "peak RSS {peak} KiB while the client did not read"
        );
    }
    p.finish();
}

// ---------------------------------------------------------------------------
// 5. Ids matched by value, answered in the client's spelling
// ---------------------------------------------------------------------------

#[test]
fn an_answer_with_the_id_spelled_differently_reaches_the_client_in_its_own_spelling() {
    let up = Server::start(|s| {
        if s.is_rpc("resources/read") {
            let uri = s.json().unwrap()["params"]["uri"].clone();
            let id = match uri.as_str().unwrap() {
                "cafe" => r#""caf\u00e9""#,
                "ten" => "1e1",
                "seven" => "7.0",
                "one" => "1",
                _ => "null",
            };
            return Reply::json(
                200,
                format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"uri":{uri}}}}}"#),
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    for (id, uri) in [(r#""café""#, "cafe"), ("10", "ten"), ("7", "seven")] {
        p.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"resources/read","params":{{"uri":"{uri}"}}}}"#
        ));
        let line = p.recv();
        assert_eq!(
            line,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"uri":"{uri}"}}}}"#)
        );
    }
    // A string is not a number: "1" is not answered by 1.
    p.send(r#"{"jsonrpc":"2.0","id":"1","method":"resources/read","params":{"uri":"one"}}"#);
    let v = p.recv_json();
    assert_eq!(v["id"], "1", "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 6. Duplicate ids
// ---------------------------------------------------------------------------

#[test]
fn a_batch_with_a_duplicate_id_sends_the_first_and_refuses_the_second() {
    let up = batch_server();
    let mut p = Proxy::start(&up.url(), &[]);
    handshake(&mut p);
    p.send_json(&json!([
        request(7, "ping", json!({})),
        request(7, "tools/list", json!({})),
        request(8, "ping", json!({}))
    ]));
    let mut seen = Vec::new();
    let end = Instant::now() + ms(10_000);
    while seen.len() < 3 {
        let line = p
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|| panic!("three answers; got {seen:?}"));
        match serde_json::from_str::<Value>(&line).unwrap() {
            Value::Array(a) => seen.extend(a),
            v => seen.push(v),
        }
    }
    p.expect_silence(ms(300));
    let errors: Vec<&Value> = seen.iter().filter(|v| v.get("error").is_some()).collect();
    assert_eq!(errors.len(), 1, "{seen:?}");
    assert_eq!(errors[0]["id"], 7);
    assert_eq!(errors[0]["error"]["code"], -32600);
    let sent = batches(&up).pop().expect("the batch went out");
    let ids: Vec<&Value> = sent.iter().map(|m| &m["id"]).collect();
    assert_eq!(ids, [&json!(7), &json!(8)], "{sent:?}");
    assert_eq!(sent[0]["method"], "ping");
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_batch_reusing_an_id_in_flight_does_not_steal_its_answer() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::sse()
                .sleep(4000)
                .message(&rpc_result(&s.rpc_id().unwrap(), json!({"tool": true})))
                .finish();
        }
        if s.is_rpc("initialize") {
            return Reply::json(
                200,
                rpc_result(
                    &s.rpc_id().unwrap(),
                    json!({"protocolVersion":"2025-03-26","capabilities":{},"serverInfo":{"name":"b","version":"1"}}),
                ),
            )
            .header("mcp-session-id", "sess-batch-2");
        }
        if let Some(Value::Array(items)) = s.json() {
            let out: Vec<Value> = items
                .iter()
                .filter_map(|m| {
                    Some(json!({"jsonrpc":"2.0","id":m.get("id")?,"result":{"ping":true}}))
                })
                .collect();
            return Reply::json(200, Value::Array(out).to_string());
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    handshake(&mut p);
    p.send_json(&tool_call(5, "slow"));
    up.wait_for(ms(5000), |s| s.is_rpc("tools/call"))
        .expect("the tool call reaches the server");
    p.send_json(&json!([
        request(5, "ping", json!({})),
        request(6, "ping", json!({}))
    ]));
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let end = Instant::now() + ms(15_000);
    while results.len() + errors.len() < 3 {
        let line = p
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|| panic!("three answers; got {results:?} {errors:?}"));
        let v: Value = serde_json::from_str(&line).unwrap();
        for item in match v {
            Value::Array(a) => a,
            v => vec![v],
        } {
            if item.get("error").is_some() {
                errors.push(item);
            } else {
                results.push(item);
            }
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], 5);
    assert_eq!(errors[0]["error"]["code"], -32600);
    assert!(
        results.contains(&json!({"jsonrpc":"2.0","id":5,"result":{"tool":true}})),
        "the tool call keeps its answer: {results:?}"
    );
    assert!(results.iter().any(|r| r["id"] == 6), "{results:?}");
    let sent = batches(&up).pop().expect("the batch went out");
    assert_eq!(sent.len(), 1, "only id 6 goes out: {sent:?}");
    assert_eq!(sent[0]["id"], 6);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn an_array_answer_to_a_single_request_is_delivered_per_member_once() {
    let up = Server::start(|s| {
        if s.is_rpc("resources/read") {
            let id = s.rpc_id().unwrap();
            return Reply::json(
                200,
                json!([
                    {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"note"}},
                    {"jsonrpc":"2.0","id":id,"result":{"n":1}},
                    {"jsonrpc":"2.0","id":id,"result":{"n":2}}
                ])
                .to_string(),
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send_json(&request(3, "resources/read", json!({"uri": "x"})));
    let note = p.recv_json();
    assert_eq!(note["method"], "notifications/message", "{note}");
    assert_eq!(
        p.recv_json(),
        json!({"jsonrpc":"2.0","id":3,"result":{"n":1}})
    );
    p.expect_silence(ms(500));
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// 10. Errors that say what happened
// ---------------------------------------------------------------------------

fn assert_not_blamed_on_the_network(m: &str) {
    assert!(
        !m.contains("cannot reach") && !m.contains("HTTPS_PROXY"),
        "the server was reached: {m}"
    );
}

#[test]
fn a_server_that_closes_mid_body_is_not_called_unreachable() {
    let up = Server::start(|s| {
        if s.is_rpc("resources/read") {
            return Reply::streamed("application/json")
                .content_length(1000)
                .bytes(br#"{"jsonrpc":"2.0","id":40,"result":{"#)
                .cut();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--retries", "0"]);
    p.handshake();
    p.send_json(&request(40, "resources/read", json!({"uri": "x"})));
    let v = p.recv_json();
    assert_eq!(v["id"], 40, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert_not_blamed_on_the_network(m);
    assert!(m.contains("closed the connection"), "{m}");
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_json_answer_over_the_message_limit_says_so_with_the_requests_id() {
    let up = Server::start(|s| {
        if s.is_rpc("resources/read") {
            let id = s.rpc_id().unwrap();
            return Reply::json(200, rpc_result(&id, json!({"text": "y".repeat(64 << 20)})));
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send_json(&request(41, "resources/read", json!({"uri": "x"})));
    let v: Value = serde_json::from_str(&p.recv_timeout(ms(30_000)).expect("an answer")).unwrap();
    assert_eq!(v["id"], 41, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert_not_blamed_on_the_network(m);
    assert!(
        m.contains("larger than 67108864 bytes") && m.contains("--max-message-size"),
        "{m}"
    );
    p.assert_ping(42);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn oversized_answer_headers_are_not_called_unreachable() {
    let up = Server::start(|s| {
        if s.is_rpc("resources/read") {
            return Reply::result(&s.rpc_id().unwrap(), json!({}))
                .header("x-padding", &"h".repeat(100 << 10));
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--retries", "0"]);
    p.handshake();
    p.send_json(&request(43, "resources/read", json!({"uri": "x"})));
    let v = p.recv_json();
    assert_eq!(v["id"], 43, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert_not_blamed_on_the_network(m);
    assert!(
        m.contains("headers larger than 65536 bytes") && m.contains("--max-header-size"),
        "{m}"
    );
    p.finish();
    // The limit is the user's to raise.
    let mut p = Proxy::start(&up.url(), &["--max-header-size", "256KiB"]);
    p.handshake();
    p.send_json(&request(44, "resources/read", json!({"uri": "x"})));
    assert_eq!(p.recv_json(), json!({"jsonrpc":"2.0","id":44,"result":{}}));
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_stdin_line_over_the_limit_is_answered_with_its_id() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &["--max-line-size", "1KiB"]);
    p.handshake();
    let line = json!({"jsonrpc":"2.0","id":"big-44","method":"tools/call",
        "params":{"name":"x","arguments":{"blob":"b".repeat(4096)}}});
    p.send_json(&line);
    let v = p.recv_json();
    assert_eq!(v["id"], "big-44", "{v}");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("larger than 1024 bytes") && m.contains("--max-line-size"),
        "{m}"
    );
    // The TypeScript SDK writes the id last: read from the line's end.
    let late = format!(
        r#"{{"method":"tools/call","params":{{"blob":"{}"}},"jsonrpc":"2.0","id":45}}"#,
        "b".repeat(8192)
    );
    p.send(&late);
    let v = p.recv_json();
    assert_eq!(v["id"], 45, "{v}");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    // An id in neither end cannot be read: null.
    let lost = format!(
        r#"{{"jsonrpc":"2.0","method":"tools/call","id":"x{}","params":{{"blob":"{}"}}}}"#,
        "i".repeat(8192),
        "b".repeat(8192)
    );
    p.send(&lost);
    let v = p.recv_json();
    assert_eq!(v["id"], Value::Null, "{v}");
    p.assert_ping(46);
    assert!(tools_called(&up).is_empty());
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_client_answer_over_the_line_limit_is_refused_to_the_server() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &["--max-line-size", "1KiB"]);
    p.handshake();
    // A sampling result the server asked for, far over the bound, id last.
    let answer = format!(
        r#"{{"result":{{"role":"assistant","content":{{"type":"text","text":"{}"}}}},"jsonrpc":"2.0","id":"srv-9"}}"#,
        "a".repeat(4096)
    );
    p.send(&answer);
    let told = up
        .wait_for(ms(5000), |s| {
            s.method == "POST" && s.rpc_id() == Some(json!("srv-9"))
        })
        .expect("the server is told");
    let told = told.json().unwrap();
    assert_eq!(told["error"]["code"], -32603, "{told}");
    assert!(
        told["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 1024 bytes"),
        "{told}"
    );
    p.expect_silence(ms(300));
    p.assert_ping(2);
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn a_stdin_line_over_the_default_limit_is_answered_with_its_id() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    let mut line = br#"{"jsonrpc":"2.0","id":47,"method":"tools/call","params":{"blob":""#.to_vec();
    line.extend(std::iter::repeat_n(b'b', 64 << 20));
    line.extend_from_slice(b"\"}}\n");
    p.send_raw(&line);
    let v: Value = serde_json::from_str(&p.recv_timeout(ms(30_000)).expect("an answer")).unwrap();
    assert_eq!(v["id"], 47, "{v}");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    p.assert_ping(48);
    p.finish();
}

#[test]
fn initialize_is_never_the_subject_of_a_cancellation() {
    let up = Server::start(|s| {
        if s.is_rpc("initialize") {
            return Reply::silent(4000);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--timeout", "1", "--read-timeout", "1"]);
    p.send(support::INITIALIZE);
    let v = p.recv_timeout(ms(8000)).expect("the initialize times out");
    let v: Value = serde_json::from_str(&v).unwrap();
    assert_eq!(v["id"], 1, "{v}");
    assert_eq!(v["error"]["code"], -32001, "{v}");
    // The client cancels it too, against the rules: not passed on.
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"gave up"}}"#);
    p.assert_ping(2);
    std::thread::sleep(ms(1000));
    let cancels = up.rpc("notifications/cancelled");
    assert!(
        cancels.is_empty(),
        "initialize was cancelled: {:?}",
        cancels.iter().map(Seen::text).collect::<Vec<_>>()
    );
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// Peak memory for a 16 MiB tool result: run with
// `cargo test --release --test hostile -- --ignored --nocapture peak_rss`.
// ---------------------------------------------------------------------------

fn peak_rss_kib(sse: bool) -> Option<u64> {
    let body = rpc_result(
        &json!(50),
        json!({"content":[{"type":"text","text":"r".repeat(16 * MIB)}]}),
    );
    let up = {
        let body = body.clone();
        Server::start(move |s| {
            if s.is_rpc("tools/call") {
                return if sse {
                    Reply::sse().message(&body).finish()
                } else {
                    Reply::json(200, body.clone())
                };
            }
            standard_reply(s)
        })
    };
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    let before = p.status_kib("VmHWM");
    p.send_json(&tool_call(50, "big"));
    let line = p.recv_timeout(ms(60_000)).expect("the result");
    assert_eq!(line.len(), body.len());
    let peak = p.status_kib("VmHWM");
    #[allow(clippy::print_stdout)]
    {
        println!(
            "16 MiB result over {}: peak RSS {:?} KiB (before the call {:?} KiB)",
            if sse { "SSE" } else { "JSON" },
            peak,
            before
        );
    }
    p.finish();
    peak
}

#[test]
#[ignore = "a measurement: run it with --release --ignored --nocapture"]
fn peak_rss_for_a_16_mib_tool_result() {
    let json = peak_rss_kib(false);
    let sse = peak_rss_kib(true);
    for (what, peak) in [("JSON", json), ("SSE", sse)] {
        if let Some(peak) = peak {
            assert!(peak < 64 * 1024, "{what}: {peak} KiB, over 4x the message");
        }
    }
}

// ---------------------------------------------------------------------------
// Keys a case-insensitive decoder reads as one
// ---------------------------------------------------------------------------

/// A server that decodes JSON as Go's `encoding/json` does matches keys to
/// fields ignoring case, with Unicode simple folding (the Kelvin sign U+212A
/// is `k`, the long s U+017F is `s`): two such keys in one object at a level
/// the relay reads or routes on (the message, `params`, `params._meta`,
/// `params.arguments`) could make it run what the relay never checked. Each
/// is refused with -32600 that says why, alone in a batch; nothing of it is
/// sent.
#[test]
fn keys_a_case_insensitive_decoder_reads_as_one_are_refused() {
    let up = batch_server();
    let mut p = Proxy::start(&up.url(), &["--read-only"]);
    handshake(&mut p);
    let refused = [
        (
            20,
            r#"{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"read","Name":"dangerous","arguments":{}}}"#,
        ),
        (
            21,
            r#"{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"NAME":"dangerous","name":"read"}}"#,
        ),
        (
            22,
            r#"{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":"read","arguments":{},"argument\u017F":{"x":1}}}"#,
        ),
        (
            23,
            r#"{"jsonrpc":"2.0","id":23,"method":"tools/call","params":{"name":"read","_meta":{"progressToken":1,"progressTo\u212Aen":2}}}"#,
        ),
        (
            24,
            r#"{"jsonrpc":"2.0","id":24,"method":"ping","Method":"tools/call","params":{"name":"dangerous"}}"#,
        ),
        (
            25,
            r#"{"jsonrpc":"2.0","id":25,"method":"tools/call","params":{"name":"read","arguments":{"aws_profile":"a","AWS_Profile":"b"}}}"#,
        ),
        (
            26,
            "{\"jsonrpc\":\"2.0\",\"id\":26,\"method\":\"tools/call\",\"params\":{\"name\":\"read\",\"N\u{212A}\":1,\"nk\":2}}",
        ),
    ];
    for (id, line) in refused {
        p.send(line);
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{line}: {v}");
        assert_eq!(v["error"]["code"], -32600, "{line}: {v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("differ only in letter case") && m.contains("ignoring case"),
            "{m}"
        );
    }
    // A key that cannot be decoded (Go reads U+FFFD) hides what it folds with.
    p.send(r#"{"jsonrpc":"2.0","id":29,"method":"tools/call","params":{"name":"read","\udc00":1,"arguments":{}}}"#);
    let v = p.recv_json();
    assert_eq!(v["id"], 29, "{v}");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lone surrogate"),
        "{v}"
    );
    // The id itself spelled twice: whose it is cannot be told.
    p.send(r#"{"jsonrpc":"2.0","id":27,"ID":28,"method":"ping"}"#);
    let v = p.recv_json();
    assert_eq!(v["id"], Value::Null, "{v}");
    assert_eq!(v["error"]["code"], -32600, "{v}");
    // In a batch, the member is refused alone; the rest goes.
    p.send(
        r#"[{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"read","nAmE":"dangerous"}},{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"read","arguments":{}}}]"#,
    );
    let (got, _) = answers(&p, &[30, 31], Duration::from_secs(20));
    assert_eq!(got[&30]["error"]["code"], -32600, "{:?}", got[&30]);
    assert_eq!(got[&31]["result"]["called"], "read", "{:?}", got[&31]);
    // Keys the relay never reads may differ only in case, as tools' may.
    p.send_json(&request(
        32,
        "tools/call",
        json!({"name": "read", "arguments": {"headers": {"Accept": "a", "accept": "b"}}}),
    ));
    let v = p.recv_json();
    assert_eq!(v["result"]["called"], "read", "{v}");
    p.assert_ping(33);
    assert_eq!(tools_called(&up), ["read", "read"]);
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// Stdin is read while requests wait
// ---------------------------------------------------------------------------

/// With `--max-in-flight 1` and a tool call waiting on the client's answer to
/// the server's `sampling/createMessage`, the client sends 70 more calls, then
/// that answer, then a ping. Stdin is read on: 64 calls wait in the queue,
/// the 6 past it are answered at once with an error that names the bound
/// (never sent), the answer reaches the server, the ping is answered, and
/// then every call is. Before, the reader waited for room after 4 queued
/// calls, so the answer was never read and all of it waited on the server.
#[test]
fn stdin_is_read_on_while_the_request_queue_is_full() {
    let (answered, answered_cond) = flag();
    let up = Server::start(move |s| {
        let Some(v) = s.json() else {
            return standard_reply(s);
        };
        if s.method == "POST" && v["id"] == "srv-ask" && v.get("result").is_some() {
            answered.store(true, Ordering::Release);
            return Reply::accepted();
        }
        if s.is_rpc("tools/call") && v["params"]["name"] == "ask" {
            let ask = json!({"jsonrpc":"2.0","id":"srv-ask","method":"sampling/createMessage",
                "params":{"messages":[],"maxTokens":5}});
            return Reply::sse()
                .message(&ask.to_string())
                .wait_until(answered_cond.clone(), Duration::from_secs(60))
                .message(&rpc_result(&v["id"], json!({"asked": true})))
                .finish();
        }
        if s.is_rpc("tools/call") {
            return Reply::result(&v["id"], json!({"called": v["params"]["name"]}));
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--max-in-flight", "1"]);
    p.handshake();
    p.send_json(&tool_call(2, "ask"));
    let ask = p.recv_json();
    assert_eq!(ask["method"], "sampling/createMessage", "{ask}");
    let calls: Vec<i64> = (100..170).collect();
    for &id in &calls {
        p.send_json(&tool_call(id, "quick"));
    }
    p.send(r#"{"jsonrpc":"2.0","id":"srv-ask","result":{"role":"assistant","content":{"type":"text","text":"ok"},"model":"m"}}"#);
    p.send_json(&request(9, "ping", json!({})));
    let mut ids = vec![2, 9];
    ids.extend(&calls);
    // All answered within 20 s (`answers` fails past it), so not after the
    // server's 60 s wait.
    let (got, _) = answers(&p, &ids, Duration::from_secs(20));
    assert_eq!(got[&9]["result"], json!({}), "{:?}", got[&9]);
    assert_eq!(got[&2]["result"]["asked"], true, "{:?}", got[&2]);
    let refused: Vec<i64> = calls
        .iter()
        .copied()
        .filter(|id| got[id].get("error").is_some())
        .collect();
    assert_eq!(
        refused,
        (164..170).collect::<Vec<_>>(),
        "past the queue of 64"
    );
    for id in &refused {
        assert_eq!(got[id]["error"]["code"], -32000, "{:?}", got[id]);
        let m = got[id]["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("--max-in-flight") && m.contains("not sent"),
            "{m}"
        );
    }
    let called = tools_called(&up);
    assert_eq!(called.len(), 65, "ask and the 64 queued: {called:?}");
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// Secrets a server echoes
// ---------------------------------------------------------------------------

/// Every header of `s`, as a WAF or gateway that quotes the request would.
fn echo(s: &Seen) -> String {
    s.headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A server whose every error quotes the request's headers back: the
/// relay's own errors (-32000 with the status, a wrong content type, the
/// `--read-only` listing) and its log (a failed notification, the GET
/// stream) carry none of the secret values it sent — the session token, the
/// signature, the `Mcp-Session-Id`, a `--header` value — whole or cut short,
/// and say `[redacted]` where one was.
#[test]
fn secrets_a_server_echoes_never_reach_the_client_or_the_log() {
    const API_KEY: &str = "x-api-key-value-0123456789-secret";
    let up = Server::start(|s| {
        let Some(v) = s.json() else {
            if s.method == "GET" {
                return Reply::json(400, json!({"message": echo(s)}).to_string());
            }
            return standard_reply(s);
        };
        let token = s.header("x-amz-security-token").unwrap_or("");
        let aws_error = |s: &Seen| {
            Reply::json(
                500,
                json!({"__type": "InternalFailure", "message": echo(s)}).to_string(),
            )
            .header("x-amzn-requestid", &token[..token.len().min(24)])
        };
        match v["method"].as_str() {
            Some("tools/call") if v["params"]["name"] == "plain" => {
                let id = s.header("mcp-session-id").unwrap_or("");
                Reply::body(200, &format!("text/{id}"), "hi")
            }
            Some("tools/call" | "tools/list" | "notifications/roots/list_changed") => aws_error(s),
            _ => standard_reply(s),
        }
    });
    let mut p = Proxy::start(&up.url(), &["--header", &format!("X-Api-Key={API_KEY}")]);
    p.handshake();
    p.send_json(&tool_call(2, "echo"));
    p.send_json(&tool_call(3, "plain"));
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
    let (got, _) = answers(&p, &[2, 3], Duration::from_secs(10));
    let m2 = got[&2]["error"]["message"].as_str().unwrap().to_owned();
    assert!(m2.contains("HTTP 500 InternalFailure"), "{m2}");
    assert!(m2.contains("[redacted]"), "{m2}");
    assert!(
        m2.contains("x-amz-date: 2"),
        "what is not secret stays: {m2}"
    );
    let m3 = got[&3]["error"]["message"].as_str().unwrap().to_owned();
    assert!(m3.contains("\"text/[redacted]\""), "{m3}");
    up.wait_for(Duration::from_secs(5), |s| {
        s.rpc_method().as_deref() == Some("notifications/roots/list_changed")
    })
    .expect("the notification went out");
    let stdout = format!("{:?}", got);

    // The --read-only listing's failure, on a proxy of its own.
    let mut r = Proxy::start(
        &up.url(),
        &["--read-only", "--header", &format!("X-Api-Key={API_KEY}")],
    );
    r.handshake();
    r.send_json(&tool_call(4, "any"));
    let v = r.recv_json();
    assert_eq!(v["id"], 4, "{v}");
    let m4 = v.to_string();

    let mut secrets: Vec<String> = vec![
        support::SESSION_TOKEN.to_owned(),
        support::SESSION_TOKEN[..20].to_owned(),
        support::SESSION_ID.to_owned(),
        API_KEY.to_owned(),
    ];
    for s in up.requests() {
        let auth = s.header("authorization").unwrap_or("").to_owned();
        if let Some(sig) = auth.split("Signature=").nth(1) {
            secrets.push(sig[..16].to_owned());
        }
    }
    let stderr_p = p.finish();
    let stderr_r = r.finish();
    let texts = [
        ("stdout", format!("{stdout}{m4}")),
        ("stderr", stderr_p.clone()),
        ("stderr --read-only", stderr_r.clone()),
    ];
    for (what, text) in &texts {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} in {what}:\n{text}"
            );
        }
    }
    assert!(
        stderr_p.contains("[redacted]"),
        "the failed notification and the GET stream are logged:\n{stderr_p}"
    );
    assert!(
        stderr_r.contains("[redacted]"),
        "the failed listing is logged:\n{stderr_r}"
    );
}

// ---------------------------------------------------------------------------
// Reconnects
// ---------------------------------------------------------------------------

/// A GET stream that says `retry: 0` and ends at once: the relay waits at
/// least 500 ms before it opens the stream again, and twice as long after
/// each stream in a row that ended at once (0.5, 0.5, 1, 2 s: 4 GETs in the
/// first 3.5 s). Before, it reconnected at once: thousands of signed GETs a
/// second.
#[test]
fn a_get_stream_that_ends_at_once_is_reopened_ever_more_slowly() {
    let up = Server::start(|s| {
        if s.method == "GET" {
            return Reply::sse().raw("retry: 0\n\n").finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    let first = up
        .wait_for(Duration::from_secs(5), |s| s.method == "GET")
        .expect("the GET stream is opened");
    std::thread::sleep(Duration::from_secs(3));
    let gets: Vec<Instant> = up
        .matching(|s| s.method == "GET")
        .iter()
        .map(|s| s.at)
        .collect();
    assert!(
        (2..=8).contains(&gets.len()),
        "{} GETs in 3 s after the first",
        gets.len()
    );
    for pair in gets.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(450),
            "GETs {:?} apart",
            pair[1] - pair[0]
        );
    }
    assert!(gets[0] == first.at);
    p.assert_ping(5);
    up.assert_all_signed("svc");
    p.finish();
}

// ---------------------------------------------------------------------------
// Memory held to --max-stdout-queue
// ---------------------------------------------------------------------------

/// Twelve tool calls answered with 8 MiB JSON bodies (96 MiB in all) while
/// the client reads nothing: the answers the exchanges read count against
/// `--max-stdout-queue` (16 MiB) with the queue, so the process holds about
/// the bound and one answer, not every answer (before: each exchange read
/// its whole body, then waited to queue it: peak RSS past 100 MiB). None is
/// lost.
#[test]
fn answers_being_read_count_against_the_stdout_queue() {
    const CALLS: i64 = 12;
    const SIZE: usize = 8 << 20;
    let text = Arc::new("x".repeat(SIZE));
    let up = Server::start(move |s| {
        if s.is_rpc("tools/call") {
            let id = s.rpc_id().unwrap();
            return Reply::json(
                200,
                format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"{text}"}}]}}}}"#
                ),
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.pause_stdout();
    for id in 0..CALLS {
        p.send_json(&tool_call(100 + id, "big"));
    }
    let end = Instant::now() + Duration::from_secs(20);
    while up.rpc("tools/call").len() < CALLS as usize && Instant::now() < end {
        std::thread::sleep(ms(50));
    }
    assert_eq!(
        up.rpc("tools/call").len(),
        CALLS as usize,
        "every call sent"
    );
    std::thread::sleep(ms(4000));
    let peak = p.status_kib("VmHWM");
    eprintln!("peak RSS {peak:?} KiB");
    p.resume_stdout();
    let ids: Vec<i64> = (100..100 + CALLS).collect();
    let (got, _) = answers(&p, &ids, Duration::from_secs(60));
    for id in &ids {
        let text = got[id]["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or("");
        assert_eq!(text.len(), SIZE, "answer {id} whole");
    }
    if let Some(peak) = peak {
        assert!(
            peak < 56 * 1024,
            "peak RSS {peak} KiB while the client did not read 96 MiB of answers"
        );
    }
    p.finish();
}

// ---------------------------------------------------------------------------
// --max-line-size measures the message
// ---------------------------------------------------------------------------

/// A message of exactly `--max-line-size` bytes goes out whether its line
/// ends in LF or CRLF (the CR is the line's, not the message's); one byte
/// more is refused either way. Before, the CRLF one was refused.
#[test]
fn max_line_size_measures_the_message_without_the_cr_of_a_crlf_line() {
    let up = Server::standard();
    let mut p = Proxy::start(&up.url(), &["--max-line-size", "1KiB"]);
    p.handshake();
    let sized = |id: i64, size: usize| {
        let head = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"x","arguments":{{"blob":""#
        );
        let tail = r#""}}}"#;
        let line = format!("{head}{}{tail}", "b".repeat(size - head.len() - tail.len()));
        assert_eq!(line.len(), size);
        line
    };
    p.send_raw(format!("{}\r\n", sized(50, 1024)).as_bytes());
    assert!(
        p.recv_json()["result"].is_object(),
        "1024 bytes and CRLF go out"
    );
    p.send_raw(format!("{}\n", sized(51, 1024)).as_bytes());
    assert!(
        p.recv_json()["result"].is_object(),
        "1024 bytes and LF go out"
    );
    for (id, end) in [(52, "\r\n"), (53, "\n")] {
        p.send_raw(format!("{}{end}", sized(id, 1025)).as_bytes());
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["error"]["code"], -32600, "1025 bytes are refused: {v}");
    }
    assert_eq!(tools_called(&up).len(), 2);
    p.finish();
}

// ---------------------------------------------------------------------------
// Retry-After longer than the relay waits
// ---------------------------------------------------------------------------

/// A 429 whose `Retry-After` asks for longer than the relay waits (60 s) is
/// answered at once, once sent, and the error says what happened — the
/// server asked for N s — not that the request was retried with `--retries`.
/// Before, it said "retried with --retries and still refused".
#[test]
fn a_retry_after_longer_than_the_relay_waits_is_said_so() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            let wait = if s.json().unwrap()["params"]["name"] == "hour" {
                "3600"
            } else {
                "99999999999999999999999"
            };
            return Reply::json(429, r#"{"message":"slow down"}"#).header("retry-after", wait);
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &["--retries", "2"]);
    p.handshake();
    for (id, name, said) in [
        (2, "hour", "after 3600 s"),
        (3, "ever", "longer than can be counted"),
    ] {
        p.send_json(&tool_call(id, name));
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["error"]["code"], -32000, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("HTTP 429"), "{m}");
        assert!(m.contains(said) && m.contains("(Retry-After)"), "{m}");
        assert!(!m.contains("retried with --retries"), "{m}");
    }
    assert_eq!(up.rpc("tools/call").len(), 2, "each sent once");
    p.finish();
}

// ---------------------------------------------------------------------------
// A Content-Encoding nobody asked for
// ---------------------------------------------------------------------------

/// A JSON or SSE answer with `Content-Encoding: gzip`, which the relay never
/// asks for: the request's error names the encoding. Before, it said "not
/// UTF-8" or "ended its answer without a response".
#[test]
fn an_unrequested_content_encoding_is_named_in_the_error() {
    // The gzip header and a few deflated bytes: what a compressing proxy sends.
    const GZIP: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0xae, 0x05, 0x00,
    ];
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            let sse = s.json().unwrap()["params"]["name"] == "sse";
            let ct = if sse {
                "text/event-stream"
            } else {
                "application/json"
            };
            return Reply::body(200, ct, GZIP).header("content-encoding", "gzip");
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    for (id, name) in [(2, "json"), (3, "sse")] {
        p.send_json(&tool_call(id, name));
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["error"]["code"], -32000, "{v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("Content-Encoding \"gzip\""), "{m}");
    }
    p.assert_ping(4);
    p.finish();
}

/// Ids the server spells again in another way that is equal by JSON value:
/// a lone surrogate escape in other hex case or with its neighbours escaped,
/// an exponent with leading zeros, and one longer than 15 digits; each
/// answer reaches the client in its own spelling. Before, these ids were
/// compared as written and the answers were dropped (the request got
/// -32000).
#[test]
fn ids_equal_by_value_match_whatever_the_spelling() {
    let up = Server::start(|s| {
        // serde_json reads no lone surrogate: the body is looked at as text.
        let text = s.text();
        if s.method == "POST" && text.contains("resources/read") {
            let uri = ["lone", "zeros", "long"]
                .into_iter()
                .find(|u| text.contains(&format!("\"{u}\"")))
                .map_or(Value::Null, |u| json!(u));
            let id = match uri.as_str().unwrap_or("") {
                "lone" => r#""\uDC00\u0078""#,
                "zeros" => "10",
                "long" => "50e99999999999999999999",
                _ => "null",
            };
            return Reply::json(
                200,
                format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"uri":{uri}}}}}"#),
            );
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    for (id, uri) in [
        (r#""\udc00x""#, "lone"),
        ("1e0000000000000000001", "zeros"),
        ("5e100000000000000000000", "long"),
    ] {
        p.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"resources/read","params":{{"uri":"{uri}"}}}}"#
        ));
        let line = p.recv();
        assert_eq!(
            line,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"uri":"{uri}"}}}}"#)
        );
    }
    p.assert_ping(9);
    p.finish();
}

// ---------------------------------------------------------------------------
// Answers only on their request's stream
// ---------------------------------------------------------------------------

/// While a tool call's own stream is still open, the server's GET stream
/// carries a response with the call's id: it is not the answer (a response
/// belongs on its request's stream, in its request's session); the one on
/// the call's stream is. Before, the forged one reached the client and the
/// real one was dropped.
#[test]
fn a_response_on_another_stream_does_not_answer_a_request() {
    let (called, called_cond) = flag();
    let (forged, forged_cond) = flag();
    let up = Server::start(move |s| {
        if s.method == "GET" {
            let forged = Arc::clone(&forged);
            let said: support::Condition = Arc::new(move || {
                forged.store(true, Ordering::Release);
                true
            });
            return Reply::sse()
                .wait_until(called_cond.clone(), Duration::from_secs(10))
                .message(r#"{"jsonrpc":"2.0","id":2,"result":{"forged":true}}"#)
                .wait_until(said, Duration::from_secs(1))
                .hold(10_000);
        }
        if s.is_rpc("tools/call") {
            called.store(true, Ordering::Release);
            return Reply::sse()
                .wait_until(forged_cond.clone(), Duration::from_secs(10))
                .sleep(300)
                .message(r#"{"jsonrpc":"2.0","id":2,"result":{"real":true}}"#)
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    up.wait_for(Duration::from_secs(5), |s| s.method == "GET")
        .expect("the GET stream is open");
    p.send_json(&tool_call(2, "slow"));
    let v = p.recv_json();
    assert_eq!(v["id"], 2, "{v}");
    assert_eq!(v["result"], json!({"real": true}), "{v}");
    p.expect_silence(ms(500));
    p.assert_ping(3);
    p.finish();
}

// ---------------------------------------------------------------------------
// The GET stream is open before the first request
// ---------------------------------------------------------------------------

/// A server whose GET stream answers only after 1 s (a busy machine), and
/// which sends a message related to no request (an `elicitation/create`, as
/// the MCP conformance suite's reference server does) only on an open GET
/// stream, dropping it otherwise: the first tool call after the handshake
/// goes out only once the GET stream is open, so the message reaches the
/// client. Before, the call went at once and the server found no stream.
#[test]
fn the_get_stream_is_open_before_the_first_request_goes_out() {
    let (open, open_cond) = flag();
    let (called, called_cond) = flag();
    let up = Server::start(move |s| {
        if s.method == "GET" {
            std::thread::sleep(ms(1000));
            open.store(true, Ordering::Release);
            return Reply::sse()
                .wait_until(called_cond.clone(), Duration::from_secs(10))
                .message(r#"{"jsonrpc":"2.0","id":"e1","method":"elicitation/create","params":{"message":"name?","requestedSchema":{"type":"object"}}}"#)
                .hold(10_000);
        }
        if s.is_rpc("tools/call") {
            let stream_open = open_cond();
            called.store(true, Ordering::Release);
            return Reply::result(&s.rpc_id().unwrap(), json!({"streamOpen": stream_open}));
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send_json(&tool_call(2, "ask"));
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let line = p
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("the call's answer and the elicitation; got {lines:?}"));
        lines.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let answer = lines
        .iter()
        .find(|v| v["id"] == 2)
        .expect("the call's answer");
    assert_eq!(answer["result"]["streamOpen"], true, "{answer}");
    assert!(
        lines.iter().any(|v| v["method"] == "elicitation/create"),
        "{lines:?}"
    );
    p.finish();
}

// ---------------------------------------------------------------------------
// Values no header may carry
// ---------------------------------------------------------------------------

/// A session token or an access key id with a control character (a stray
/// CR from a file written on Windows, an escape) is never sent, and every
/// request says which value, from where, with -32002; a protocol version the
/// server negotiates with one is not kept (requests go without it). Before,
/// every request failed as "sent an answer mcp-sigv4 cannot read".
#[test]
fn a_control_character_in_a_header_value_is_named_where_it_came_from() {
    let up = Server::standard();
    for (name, env, value, said) in [
        (
            "token",
            "AWS_SESSION_TOKEN",
            "token-with\rCR",
            "the session token from",
        ),
        (
            "key id",
            "AWS_ACCESS_KEY_ID",
            "AKIA\u{1b}[31mRED",
            "the access key id from",
        ),
    ] {
        let mut p = Proxy::builder(&up.url()).env(env, value).start();
        p.send_json(&tool_call(2, "x"));
        let v = p.recv_json();
        assert_eq!(v["id"], 2, "{name}: {v}");
        assert_eq!(v["error"]["code"], -32002, "{name}: {v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(
            m.contains(said) && m.contains("environment") && m.contains("control character"),
            "{name}: {m}"
        );
        assert!(!m.contains(value), "the value is not quoted: {m}");
        p.finish();
    }
    assert!(up.rpc("tools/call").is_empty(), "nothing sent");

    let odd = Server::start(|s| {
        if s.is_rpc("initialize") {
            return Reply::result(
                &s.rpc_id().unwrap(),
                json!({"protocolVersion": "2025-06-18\u{7}", "capabilities": {},
                       "serverInfo": {"name": "odd", "version": "1"}}),
            )
            .header("mcp-session-id", "sess-odd-1");
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&odd.url(), &[]);
    p.handshake();
    p.send_json(&tool_call(3, "x"));
    let v = p.recv_json();
    assert_eq!(v["result"]["method"], "tools/call", "the call goes: {v}");
    let call = &odd.rpc("tools/call")[0];
    assert_eq!(call.header("mcp-protocol-version"), None);
    p.finish();
}
