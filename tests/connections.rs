//! How many connections the relay opens: the built binary against the
//! scripted upstream of `support/`, which numbers the TCP connections it
//! accepts. Over TLS every new connection costs the client two round trips
//! more (TCP and TLS handshakes), so a relay that opens one per call pays them
//! on every call (an earlier build opened 43 connections for 44 requests). Here: sequential
//! calls share a connection whether the answer is JSON or SSE and in either
//! protocol era, concurrent calls still run at once, and a cancelled call
//! closes its own connection and no other.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Proxy, Reply, Seen, Server, modern_request, rpc_result, standard_reply};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How a server answers a tool call.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Json,
    /// One `message` event, then the stream ends (chunked), as the SDK
    /// servers answer by default.
    Sse,
}

/// The protocol era of the client's requests.
#[derive(Clone, Copy, Debug)]
enum Era {
    /// 2025-06-18: initialize, a session, then requests.
    Sessions,
    /// 2026-07-28: every request names its revision; no handshake.
    Modern,
}

fn call(era: Era, id: i64) -> String {
    let params = json!({"name": "t", "arguments": {"n": id}});
    match era {
        Era::Sessions => {
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params}).to_string()
        }
        Era::Modern => modern_request(json!(id), "tools/call", params),
    }
}

fn server(answer: Answer, delay_ms: u64) -> Server {
    Server::start(move |s| {
        if s.is_rpc("tools/call") {
            let id = s.rpc_id().unwrap_or(Value::Null);
            if delay_ms > 0 {
                std::thread::sleep(ms(delay_ms));
            }
            let result = rpc_result(&id, json!({"content": [{"type": "text", "text": "ok"}]}));
            return match answer {
                Answer::Json => Reply::json(200, result),
                Answer::Sse => Reply::sse().message(&result).finish(),
            };
        }
        standard_reply(s)
    })
}

/// The distinct connections `requests` came on.
fn connections(requests: &[Seen]) -> BTreeSet<usize> {
    requests.iter().map(|s| s.connection).collect()
}

/// 100 tool calls one after another open at most 2 connections.
fn sequential_calls_share_a_connection(answer: Answer, era: Era) {
    let up = server(answer, 0);
    let mut p = Proxy::start(&up.url(), &[]);
    if let Era::Sessions = era {
        p.handshake();
    }
    for id in 100..200 {
        p.send(&call(era, id));
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert!(v.get("result").is_some(), "{v}");
    }
    let calls = up.rpc("tools/call");
    assert_eq!(calls.len(), 100);
    let used = connections(&calls);
    eprintln!(
        "{answer:?} {era:?}: 100 sequential calls on {} connection(s); {} opened in all",
        used.len(),
        up.connections_opened()
    );
    assert!(
        used.len() <= 2,
        "{answer:?} {era:?}: 100 calls used {} connections",
        used.len()
    );
    up.assert_all_signed("svc");
    p.finish();
}

#[test]
fn sequential_calls_with_json_answers_share_a_connection() {
    sequential_calls_share_a_connection(Answer::Json, Era::Sessions);
}

#[test]
fn sequential_calls_with_sse_answers_share_a_connection() {
    sequential_calls_share_a_connection(Answer::Sse, Era::Sessions);
}

#[test]
fn sequential_2026_calls_with_json_answers_share_a_connection() {
    sequential_calls_share_a_connection(Answer::Json, Era::Modern);
}

#[test]
fn sequential_2026_calls_with_sse_answers_share_a_connection() {
    sequential_calls_share_a_connection(Answer::Sse, Era::Modern);
}

/// Other requests than tool calls, answered with SSE, share one too.
#[test]
fn sequential_lists_with_sse_answers_share_a_connection() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/list") {
            let id = s.rpc_id().unwrap_or(Value::Null);
            return Reply::sse()
                .message(&rpc_result(&id, json!({"tools": []})))
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    for id in 100..150 {
        p.send(&json!({"jsonrpc":"2.0","id":id,"method":"tools/list"}).to_string());
        assert_eq!(p.recv_json()["id"], id);
    }
    let used = connections(&up.rpc("tools/list"));
    assert!(used.len() <= 2, "50 lists used {} connections", used.len());
    p.finish();
}

/// 20 calls at once still run at once (each takes 600 ms: one after another
/// would be 12 s), and a second round reuses their connections.
#[test]
fn twenty_concurrent_calls_run_at_once_and_their_connections_are_reused() {
    for (answer, era) in [(Answer::Sse, Era::Sessions), (Answer::Json, Era::Modern)] {
        let up = server(answer, 600);
        let mut p = Proxy::start(&up.url(), &[]);
        if let Era::Sessions = era {
            p.handshake();
        }
        let mut firsts = Vec::new();
        for round in 0..2 {
            let started = Instant::now();
            let mut all = String::new();
            for id in 0..20 {
                all.push_str(&call(era, 1000 * (round + 1) + id));
                all.push('\n');
            }
            p.send_raw(all.as_bytes());
            let mut ids: Vec<i64> = (0..20)
                .map(|_| p.recv_json()["id"].as_i64().unwrap())
                .collect();
            ids.sort_unstable();
            let want: Vec<i64> = (0..20).map(|id| 1000 * (round + 1) + id).collect();
            assert_eq!(ids, want);
            let took = started.elapsed();
            assert!(
                took < ms(4000),
                "{answer:?} {era:?} round {round}: 20 calls took {took:?}"
            );
            firsts.push(up.connections_opened());
        }
        let calls = up.rpc("tools/call");
        let second: Vec<Seen> = calls
            .iter()
            .filter(|s| {
                s.rpc_id()
                    .and_then(|v| v.as_i64())
                    .is_some_and(|id| id >= 2000)
            })
            .cloned()
            .collect();
        let first_round = connections(
            &calls
                .iter()
                .filter(|s| {
                    s.rpc_id()
                        .and_then(|v| v.as_i64())
                        .is_some_and(|id| id < 2000)
                })
                .cloned()
                .collect::<Vec<_>>(),
        );
        let reused = connections(&second).intersection(&first_round).count();
        eprintln!(
            "{answer:?} {era:?}: {} connections after round 1, {} after round 2; {reused} of round 2's were round 1's",
            firsts[0], firsts[1]
        );
        assert!(
            firsts[1] - firsts[0] <= 2,
            "{answer:?} {era:?}: the second round opened {} connections",
            firsts[1] - firsts[0]
        );
        p.finish();
    }
}

/// A 2026-07-28 call the client cancels is cut off by closing its own
/// connection; the other call in flight goes on on its own, and the next call
/// reuses a connection that was kept.
#[test]
fn a_cancelled_call_closes_only_its_own_connection() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            let id = s.rpc_id().unwrap_or(Value::Null);
            if id == json!(1) {
                // Never answers: the client cancels it.
                return Reply::sse().hold(10_000);
            }
            std::thread::sleep(ms(800));
            return Reply::sse()
                .message(&rpc_result(&id, json!({"content": []})))
                .finish();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(&call(Era::Modern, 1));
    p.send(&call(Era::Modern, 2));
    let first = up
        .wait_for(ms(3000), |s| s.rpc_id() == Some(json!(1)))
        .expect("call 1 reached the server");
    up.wait_for(ms(3000), |s| s.rpc_id() == Some(json!(2)))
        .expect("call 2 reached the server");
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"no"}}"#);
    assert!(
        up.wait_client_closed(first.index, ms(3000)),
        "the cancelled call's connection is closed"
    );
    let v = p.recv_json();
    assert_eq!(v["id"], 2, "the other call goes on: {v}");
    p.send(&call(Era::Modern, 3));
    assert_eq!(p.recv_json()["id"], 3);
    p.expect_silence(ms(300));
    let calls = up.rpc("tools/call");
    let on = |id: i64| {
        calls
            .iter()
            .find(|s| s.rpc_id() == Some(json!(id)))
            .map(|s| s.connection)
            .unwrap()
    };
    assert_ne!(on(1), on(2));
    assert_eq!(on(3), on(2), "the call after reuses the kept connection");
    up.assert_all_signed("svc");
    p.finish();
}
