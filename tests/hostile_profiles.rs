//! Hostile servers with several AWS profiles in one entry (`--profile a b`):
//! the built `mcp-sigv4` binary between a test playing a stdio MCP client and
//! a scripted upstream whose sessions answer whatever they like. The ids the
//! relay gives other sessions' server requests (`"mcp-sigv4:<profile>:<n>"`)
//! are a namespace no server can enter: two server requests never reach the
//! client with one id, and each answer goes back to the session that asked,
//! with its own id (<https://www.jsonrpc.org/specification#request_object>).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{
    AKID_A, AKID_B, INITIALIZE, INITIALIZED, PROFILE_KEYS, Reply, Server, akid, profile_files,
    profile_proxy, standard_reply,
};

/// The default session's server (profile `a`) asks the client a request
/// whose id is `"mcp-sigv4:b:1"`, the id the relay gives the first request
/// of profile `b`'s server, which asks one too. The client sees two distinct
/// ids, and each answer reaches the session that asked, with its server's
/// own id. Before, both reached the client as `"mcp-sigv4:b:1"`.
#[test]
fn a_server_cannot_use_the_relays_own_ids_for_other_sessions() {
    let dir = profile_files();
    let answers: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let up = {
        let answers = Arc::clone(&answers);
        Server::start(move |s| {
            let v = s.json().unwrap_or(Value::Null);
            if s.method == "POST" && v.get("result").is_some() {
                answers.lock().unwrap().push((akid(s), v["id"].clone()));
                return Reply::accepted();
            }
            if s.is_rpc("tools/list") {
                return Reply::result(
                    &v["id"],
                    json!({"tools": [{"name": "ask", "inputSchema": {"type": "object"}}]}),
                );
            }
            if s.is_rpc("tools/call") {
                let id = if akid(s) == AKID_A {
                    "mcp-sigv4:b:1"
                } else {
                    "srv-b"
                };
                let ask = json!({"jsonrpc":"2.0","id":id,"method":"roots/list"});
                return Reply::sse()
                    .message(&ask.to_string())
                    .message(
                        &json!({"jsonrpc":"2.0","id":v["id"],"result":{"content":[]}}).to_string(),
                    )
                    .finish();
            }
            standard_reply(s)
        })
    };
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    p.send(INITIALIZE);
    assert_eq!(p.recv_json()["id"], 1);
    p.send(INITIALIZED);
    p.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    assert_eq!(p.recv_json()["id"], 2);
    p.send(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ask","arguments":{}}}"#,
    );
    p.send(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ask","arguments":{"aws_profile":"b"}}}"#);
    let mut asked = Vec::new();
    for _ in 0..4 {
        let v = p.recv_json();
        if v["method"] == "roots/list" {
            asked.push(v["id"].clone());
        }
    }
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_ne!(asked[0], asked[1], "two server requests, two ids on stdout");
    for id in &asked {
        p.send(&json!({"jsonrpc":"2.0","id":id,"result":{"roots":[]}}).to_string());
    }
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while answers.lock().unwrap().len() < 2 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut got = answers.lock().unwrap().clone();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        got,
        [
            (AKID_A.to_owned(), json!("mcp-sigv4:b:1")),
            (AKID_B.to_owned(), json!("srv-b"))
        ],
        "each answer to the session that asked, with its server's id"
    );
    p.finish();
    up.signers("svc", &PROFILE_KEYS);
}
