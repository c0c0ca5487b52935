//! Several AWS profiles in one MCP server entry (`--profile a b`),
//! through the built binary against a scripted upstream that binds each
//! MCP session to the principal that opened it, as the AWS MCP Server does:
//! a request in a session signed by another key is refused. Every request
//! the upstream saw has its SigV4 signature recomputed with the secret of
//! the key its `Credential=` names (`support/signature.rs`, [`signer_of`]),
//! so each profile is proven to sign its own calls. What is pinned: every
//! listed tool gains the `aws_profile` argument (every page, after
//! `list_changed`, with `--read-only`, in a batch); a call is routed by it,
//! without it; each profile has a session of its own, opened on first use
//! by replaying the client's handshake, recovered on its own, and ended with
//! its own DELETE (after SIGTERM, all at once within 3 s); an unknown name is refused, nothing sent; one profile's
//! missing credentials leave the other's calls alone; requests the servers
//! send reach the client with ids that cannot collide, and the answers go
//! back to the session that asked; a 2026-07-28 call signs without a
//! session. Every wait is bounded.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{
    AKID_A, AKID_B, INITIALIZE, INITIALIZED, LEGACY_VERSION, PROFILE_KEYS, Proxy, Reply, SECRET_A,
    SECRET_B, Seen, Server, TOKEN_B, akid, modern_request, profile_files, profile_proxy, signer_of,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn request(id: i64, method: &str, params: Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}).to_string()
}

fn call(id: i64, name: &str, arguments: Value) -> String {
    request(
        id,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
}

/// The tools the upstream lists: `whoami` with a property, `bare` without.
fn tools() -> Value {
    json!([
        {"name": "whoami", "description": "d", "inputSchema": {"type": "object",
            "properties": {"q": {"type": "string"}}, "required": ["q"]},
         "annotations": {"readOnlyHint": true}},
        {"name": "bare", "inputSchema": {"type": "object"}}
    ])
}

/// A scripted MCP server that binds each session to the key that opened it.
#[derive(Default)]
struct Binding {
    /// Session id → the access key id that opened it.
    sessions: Mutex<HashMap<String, String>>,
    minted: AtomicUsize,
    /// Session ids the test ended (the next request in one gets 404).
    ended: Mutex<Vec<String>>,
}

impl Binding {
    /// What the server answers: `initialize` opens a session for its signer;
    /// a request in a session another key opened is refused 403; one in an
    /// unknown or ended session 404; `tools/call` answers with who called,
    /// in which session, with which arguments.
    fn reply(&self, s: &Seen) -> Reply {
        let who = akid(s);
        let sid = s.header("mcp-session-id").map(str::to_owned);
        if let Some(sid) = &sid {
            if self.ended.lock().unwrap().contains(sid) {
                return Reply::body(404, "text/plain", "session not found");
            }
            match self.sessions.lock().unwrap().get(sid) {
                None => return Reply::body(404, "text/plain", "session not found"),
                Some(owner) if *owner != who => {
                    return Reply::json(
                        403,
                        r#"{"message":"the session belongs to another principal"}"#,
                    )
                    .header("x-amzn-errortype", "AccessDeniedException");
                }
                Some(_) => {}
            }
        }
        match s.method.as_str() {
            "GET" => return Reply::status(405),
            "DELETE" => return Reply::status(200),
            _ => {}
        }
        let Some(v) = s.json() else {
            return Reply::status(400);
        };
        let id = v.get("id").cloned();
        match (id, v.get("method").and_then(Value::as_str)) {
            (Some(id), Some("initialize")) => {
                let n = self.minted.fetch_add(1, Ordering::AcqRel) + 1;
                let sid = format!("bound-{}-{n}", &who[who.len() - 4..]);
                self.sessions.lock().unwrap().insert(sid.clone(), who);
                Reply::result(
                    &id,
                    json!({"protocolVersion": LEGACY_VERSION,
                           "capabilities": {"tools": {"listChanged": true}},
                           "serverInfo": {"name": "binding", "version": "1.0"}}),
                )
                .header("mcp-session-id", &sid)
            }
            (Some(id), Some("tools/list")) => Reply::result(&id, json!({"tools": tools()})),
            (Some(id), Some("tools/call")) => {
                let text = format!(
                    "{who} {} {}",
                    sid.unwrap_or_default(),
                    v["params"]["arguments"]
                );
                Reply::result(&id, json!({"content": [{"type": "text", "text": text}]}))
            }
            (Some(id), Some(_)) => Reply::result(&id, json!({})),
            _ => Reply::accepted(),
        }
    }
}

fn binding_server() -> (Server, Arc<Binding>) {
    let binding = Arc::new(Binding::default());
    let up = {
        let binding = Arc::clone(&binding);
        Server::start(move |s| binding.reply(s))
    };
    (up, binding)
}

/// What the `tools/call` answer says: (access key id, session id, arguments).
fn called(v: &Value) -> (String, String, Value) {
    let text = v["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a tool result: {v}"));
    let mut parts = text.splitn(3, ' ');
    let who = parts.next().unwrap_or_default().to_owned();
    let sid = parts.next().unwrap_or_default().to_owned();
    let args = serde_json::from_str(parts.next().unwrap_or("null")).unwrap();
    (who, sid, args)
}

/// The handshake, answered.
fn handshake(p: &mut Proxy) {
    p.send(INITIALIZE);
    let v = p.recv_json();
    assert_eq!(v["id"], 1, "{v}");
    p.send(INITIALIZED);
}

/// The `aws_profile` property every tool must carry.
fn profile_property(names: &[&str]) -> Value {
    json!({"type": "string", "enum": names,
           "description": format!("AWS profile whose credentials sign this call (default: {})", names[0])})
}

#[test]
fn each_profile_signs_its_calls_in_a_session_of_its_own_without_the_argument() {
    let (up, _) = binding_server();
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    handshake(&mut p);

    // Every tool gains the argument; the rest of the list is the server's.
    p.send(&request(2, "tools/list", json!({})));
    let v = p.recv_json();
    let listed = v["result"]["tools"].as_array().unwrap();
    let mut expected = tools();
    for tool in expected.as_array_mut().unwrap() {
        tool["inputSchema"]["properties"]["aws_profile"] = profile_property(&["a", "b"]);
    }
    assert_eq!(listed, expected.as_array().unwrap(), "{v}");
    assert_eq!(
        listed[0]["inputSchema"]["required"],
        json!(["q"]),
        "aws_profile is optional"
    );

    // No argument, or the default named: the default session, signed by a.
    p.send(&call(3, "whoami", json!({"q": "x"})));
    let (who, default_session, args) = called(&p.recv_json());
    assert_eq!((who.as_str(), args), (AKID_A, json!({"q": "x"})));
    p.send(&call(4, "whoami", json!({"q": "y", "aws_profile": "a"})));
    let (who, sid, args) = called(&p.recv_json());
    assert_eq!(
        (who.as_str(), sid.as_str(), args),
        (AKID_A, default_session.as_str(), json!({"q": "y"})),
        "the default, without the argument"
    );

    // Profile b: its own session, opened on first use, signed by b.
    let line5 = call(5, "whoami", json!({"aws_profile": "b", "q": "z"}));
    p.send(&line5);
    let (who, b_session, args) = called(&p.recv_json());
    assert_eq!((who.as_str(), args), (AKID_B, json!({"q": "z"})));
    assert_ne!(b_session, default_session, "sessions kept apart");
    p.send(&call(6, "bare", json!({"aws_profile": "b"})));
    let (who, sid, args) = called(&p.recv_json());
    assert_eq!(
        (who.as_str(), sid.as_str(), args),
        (AKID_B, b_session.as_str(), json!({})),
        "the same session of b again"
    );
    // The default session is still a's.
    p.send(&call(7, "bare", json!({})));
    let (who, sid, _) = called(&p.recv_json());
    assert_eq!((who.as_str(), sid), (AKID_A, default_session.clone()));
    p.assert_ping(8);

    let stderr = p.finish();
    assert!(
        stderr
            .contains("opened the MCP session (profile 'b') by replaying the client's initialize"),
        "{stderr}"
    );
    for secret in [SECRET_A, SECRET_B, TOKEN_B, &default_session, &b_session] {
        assert!(!stderr.contains(secret), "a secret on stderr:\n{stderr}");
    }

    let all = up.requests();
    let signers = up.signers("svc", &PROFILE_KEYS);
    let of = |s: &Seen| signers[s.index];
    // b's session: the client's initialize replayed (an id of the relay's
    // own), its notifications/initialized, the two calls, the DELETE.
    // (A GET stream too, when b's session opened before the default's GET
    // learnt that the endpoint has none.)
    let b: Vec<&Seen> = all
        .iter()
        .filter(|s| of(s) == 1 && s.method != "GET")
        .collect();
    let shape: Vec<(String, Option<String>)> = b
        .iter()
        .map(|s| (s.method.clone(), s.rpc_method()))
        .collect();
    assert_eq!(
        shape,
        [
            ("POST".to_owned(), Some("initialize".to_owned())),
            (
                "POST".to_owned(),
                Some("notifications/initialized".to_owned())
            ),
            ("POST".to_owned(), Some("tools/call".to_owned())),
            ("POST".to_owned(), Some("tools/call".to_owned())),
            ("DELETE".to_owned(), None),
        ]
    );
    let replay = b[0].json().unwrap();
    let original: Value = serde_json::from_str(INITIALIZE).unwrap();
    assert_eq!(replay["params"], original["params"]);
    assert_ne!(replay["id"], original["id"]);
    assert_eq!(b[0].header("mcp-session-id"), None);
    for s in &b[1..] {
        assert_eq!(
            s.header("mcp-session-id"),
            Some(b_session.as_str()),
            "{s:?}"
        );
        assert_eq!(s.header("mcp-protocol-version"), Some(LEGACY_VERSION));
    }
    assert_eq!(
        b[2].text(),
        line5.replace(r#""aws_profile":"b","#, ""),
        "the argument is cut out and every other byte kept"
    );
    // a's: everything else, in its one session; each session ended once.
    assert_eq!(
        all.iter()
            .filter(|s| of(s) == 0 && s.is_rpc("initialize"))
            .count(),
        1
    );
    for (key, sid) in [(0, &default_session), (1, &b_session)] {
        let deletes: Vec<&Seen> = all
            .iter()
            .filter(|s| s.method == "DELETE" && of(s) == key)
            .collect();
        assert_eq!(deletes.len(), 1, "one DELETE signed by key {key}");
        assert_eq!(deletes[0].header("mcp-session-id"), Some(sid.as_str()));
    }
    assert!(
        all.iter().all(|s| !s.text().contains("aws_profile")
            && s.header("mcp-session-id")
                .is_none_or(|sid| (of(s) == 0) == (sid == default_session))),
        "no argument ever reaches the server, and no session is used by another key"
    );
}

#[test]
fn an_unknown_profile_is_refused_naming_the_valid_ones_and_nothing_is_sent() {
    let (up, _) = binding_server();
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "--profile", "b"])
        .start();
    handshake(&mut p);
    for (id, given) in [(2, json!("c")), (3, json!(7)), (4, json!(["b"]))] {
        p.send(&call(id, "whoami", json!({"q": "x", "aws_profile": given})));
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["error"]["code"], -32602, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("is not one of this server's AWS profiles: a, b"),
            "{message}"
        );
        assert_eq!(v["error"]["data"]["profiles"], json!(["a", "b"]));
    }
    // A null is the default: the client filled every optional argument.
    p.send(&call(5, "whoami", json!({"q": "x", "aws_profile": null})));
    let (who, _, args) = called(&p.recv_json());
    assert_eq!((who.as_str(), args), (AKID_A, json!({"q": "x"})));
    p.assert_ping(6);
    p.finish();
    assert!(
        up.matching(|s| s.is_rpc("tools/call")).len() == 1,
        "only the null one was sent"
    );
    assert!(up.signers("svc", &PROFILE_KEYS).iter().all(|&k| k == 0));
}

#[test]
fn one_profile_is_exactly_as_before_and_the_argument_is_the_servers() {
    let (up, _) = binding_server();
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir).args(&["--profile", "a"]).start();
    handshake(&mut p);
    p.send(&request(2, "tools/list", json!({})));
    let v = p.recv_json();
    assert_eq!(v["result"]["tools"], tools(), "no argument added");
    let line = call(3, "whoami", json!({"q": "x", "aws_profile": "b"}));
    p.send(&line);
    let (who, _, args) = called(&p.recv_json());
    assert_eq!(
        (who.as_str(), args),
        (AKID_A, json!({"q": "x", "aws_profile": "b"}))
    );
    p.finish();
    assert!(up.wait_for(ms(100), |s| s.text() == line).is_some());
    assert!(up.signers("svc", &PROFILE_KEYS).iter().all(|&k| k == 0));
}

#[test]
fn a_tool_with_an_aws_profile_argument_of_its_own_keeps_it() {
    let up = Server::start(|s| {
        let v = s.json().unwrap_or(Value::Null);
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        match v.get("method").and_then(Value::as_str) {
            Some("tools/list") => Reply::result(
                &id,
                json!({"tools": [{"name": "own", "inputSchema": {"type": "object",
                    "properties": {"aws_profile": {"type": "string", "description": "the server's"}}}}]}),
            ),
            Some(_) if s.method == "POST" => Reply::result(&id, json!({})),
            _ => Reply::accepted(),
        }
    });
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    p.send(&request(1, "tools/list", json!({})));
    let v = p.recv_json();
    assert_eq!(
        v["result"]["tools"][0]["inputSchema"]["properties"]["aws_profile"]["description"],
        "the server's"
    );
    let line = call(2, "own", json!({"aws_profile": "prod"}));
    p.send(&line);
    assert_eq!(p.recv_json()["id"], 2);
    let stderr = p.finish();
    assert!(
        stderr.contains("has an argument \"aws_profile\" of its own"),
        "{stderr}"
    );
    assert!(up.wait_for(ms(100), |s| s.text() == line).is_some());
    assert!(up.signers("svc", &PROFILE_KEYS).iter().all(|&k| k == 0));
}

#[test]
fn a_404_in_one_profiles_session_reopens_that_one_and_leaves_the_other() {
    let (up, binding) = binding_server();
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    handshake(&mut p);
    p.send(&call(2, "bare", json!({})));
    let (_, a_session, _) = called(&p.recv_json());
    p.send(&call(3, "bare", json!({"aws_profile": "b"})));
    let (_, b_session, _) = called(&p.recv_json());

    // The server ends b's session.
    binding.ended.lock().unwrap().push(b_session.clone());
    p.send(&call(4, "bare", json!({"aws_profile": "b"})));
    let (who, new_b, _) = called(&p.recv_json());
    assert_eq!(who, AKID_B);
    assert_ne!(new_b, b_session, "a new session for b");
    p.send(&call(5, "bare", json!({})));
    let (who, sid, _) = called(&p.recv_json());
    assert_eq!(
        (who.as_str(), sid),
        (AKID_A, a_session.clone()),
        "a's untouched"
    );

    // And the other way round.
    binding.ended.lock().unwrap().push(a_session.clone());
    p.send(&call(6, "bare", json!({})));
    let (who, new_a, _) = called(&p.recv_json());
    assert_eq!(who, AKID_A);
    assert_ne!(new_a, a_session);
    p.send(&call(7, "bare", json!({"aws_profile": "b"})));
    let (who, sid, _) = called(&p.recv_json());
    assert_eq!(
        (who.as_str(), sid),
        (AKID_B, new_b.clone()),
        "b's untouched"
    );
    p.finish();

    let signers = up.signers("svc", &PROFILE_KEYS);
    let initializes: Vec<usize> = up
        .rpc("initialize")
        .iter()
        .map(|s| signers[s.index])
        .collect();
    assert_eq!(
        initializes,
        [0, 1, 1, 0],
        "one new session each, by its own key"
    );
}

#[test]
fn one_profiles_missing_credentials_do_not_hold_up_the_others() {
    let (up, _) = binding_server();
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "nokeys", "b"])
        .start();
    handshake(&mut p);
    for round in 0..2 {
        let base = 10 * (round + 1);
        p.send(&call(base, "bare", json!({"aws_profile": "nokeys"})));
        p.send(&call(base + 1, "bare", json!({"aws_profile": "b"})));
        p.send(&call(base + 2, "bare", json!({})));
        let mut answers: HashMap<i64, Value> = HashMap::new();
        for _ in 0..3 {
            let v = p.recv_json();
            answers.insert(v["id"].as_i64().unwrap(), v);
        }
        let refused = &answers[&base];
        assert_eq!(refused["error"]["code"], -32002, "{refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains("nokeys"), "{message}");
        assert_eq!(called(&answers[&(base + 1)]).0, AKID_B);
        assert_eq!(called(&answers[&(base + 2)]).0, AKID_A);
    }
    p.finish();
    // Nothing was ever sent for nokeys: every request is a's or b's.
    up.signers("svc", &PROFILE_KEYS);
}

#[test]
fn the_argument_is_listed_on_every_page_after_list_changed_and_with_read_only() {
    let changed = Arc::new(AtomicBool::new(false));
    let up = {
        let changed = Arc::clone(&changed);
        Server::start(move |s| {
            let v = s.json().unwrap_or(Value::Null);
            let id = v.get("id").cloned().unwrap_or(Value::Null);
            match v.get("method").and_then(Value::as_str) {
                Some("tools/list") if v.pointer("/params/cursor").is_none() => Reply::result(
                    &id,
                    json!({"tools": [
                        {"name": "read", "annotations": {"readOnlyHint": true}, "inputSchema": {"type": "object"}},
                        {"name": "write", "inputSchema": {"type": "object"}}],
                        "nextCursor": "page2"}),
                ),
                Some("tools/list") => {
                    let name = if changed.load(Ordering::Acquire) {
                        "later"
                    } else {
                        "second"
                    };
                    Reply::result(
                        &id,
                        json!({"tools": [{"name": name, "annotations": {"readOnlyHint": true}}]}),
                    )
                }
                Some("tools/call") => Reply::sse()
                    .message(r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
                    .message(&json!({"jsonrpc":"2.0","id":id,"result":{"content":[]}}).to_string())
                    .finish(),
                Some(_) if s.method == "POST" && v.get("id").is_some() => {
                    Reply::result(&id, json!({}))
                }
                _ => Reply::accepted(),
            }
        })
    };
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b", "--read-only"])
        .start();
    handshake(&mut p);
    let property = profile_property(&["a", "b"]);
    let page = |p: &mut Proxy, id: i64, cursor: Option<&str>| -> Vec<Value> {
        let params = cursor.map_or(json!({}), |c| json!({"cursor": c}));
        p.send(&request(id, "tools/list", params));
        let v = p.recv_json();
        v["result"]["tools"].as_array().unwrap().clone()
    };
    let first = page(&mut p, 1, None);
    assert_eq!(first.len(), 1, "--read-only keeps only the read-only tool");
    assert_eq!(
        first[0]["inputSchema"]["properties"]["aws_profile"],
        property
    );
    let second = page(&mut p, 2, Some("page2"));
    assert_eq!(second[0]["name"], "second");
    assert_eq!(
        second[0]["inputSchema"],
        json!({"type": "object", "properties": {"aws_profile": property}}),
        "an input schema made for a tool that had none"
    );
    // A refused call is refused whichever profile it names.
    p.send(&call(3, "write", json!({"aws_profile": "b"})));
    assert_eq!(p.recv_json()["error"]["code"], -32003);
    // list_changed (on b's stream), then the new list has it too.
    changed.store(true, Ordering::Release);
    p.send(&call(4, "read", json!({"aws_profile": "b"})));
    assert_eq!(p.recv_json()["method"], "notifications/tools/list_changed");
    assert_eq!(p.recv_json()["id"], 4);
    let later = page(&mut p, 5, Some("page2"));
    assert_eq!(later[0]["name"], "later");
    assert_eq!(
        later[0]["inputSchema"]["properties"]["aws_profile"],
        property
    );
    p.finish();
    assert!(
        up.matching(|s| s.text().contains("\"write\"") && s.is_rpc("tools/call"))
            .is_empty()
    );
    let signers = up.signers("svc", &PROFILE_KEYS);
    let call = up.rpc("tools/call");
    assert_eq!(call.len(), 1);
    assert_eq!(signers[call[0].index], 1, "b's call signed by b");
}

/// A client's answer as the server saw it: (access key id, session id, body).
type Answer = (String, Option<String>, Value);

#[test]
fn server_requests_of_each_session_reach_the_client_with_their_own_ids_and_answers_go_back() {
    // While a call runs, each session's server asks the client a ping it
    // cancels at once and a sampling request, with the same ids; it answers
    // the call once the client answered the sampling request.
    let answered: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let binding = Arc::new(Binding::default());
    let up = {
        let answered = Arc::clone(&answered);
        let binding = Arc::clone(&binding);
        Server::start(move |s| {
            let v = s.json().unwrap_or(Value::Null);
            if s.method == "POST" && v.get("result").is_some() {
                answered.lock().unwrap().push((
                    akid(s),
                    s.header("mcp-session-id").map(str::to_owned),
                    v,
                ));
                return Reply::accepted();
            }
            if s.is_rpc("tools/call") {
                let answered = Arc::clone(&answered);
                let who = akid(s);
                let done: support::Condition =
                    Arc::new(move || answered.lock().unwrap().iter().any(|(k, ..)| *k == who));
                return Reply::sse()
                    .message(r#"{"jsonrpc":"2.0","id":"srv-2","method":"ping"}"#)
                    .message(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"srv-2"}}"#)
                    .message(r#"{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{"maxTokens":5}}"#)
                    .wait_until(done, Duration::from_secs(5))
                    .message(&json!({"jsonrpc":"2.0","id":v["id"],"result":{"content":[]}}).to_string())
                    .finish();
            }
            binding.reply(s)
        })
    };
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    handshake(&mut p);
    p.send(&call(2, "bare", json!({})));
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":"srv-2","method":"ping"}"#
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"srv-2"}}"#,
        "the default session's messages as they came"
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{"maxTokens":5}}"#
    );
    p.send(&call(3, "bare", json!({"aws_profile": "b"})));
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":"mcp-sigv4:b:1","method":"ping"}"#,
        "b's get ids of the relay's own"
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"mcp-sigv4:b:1"}}"#,
        "and a cancellation names the id the client saw"
    );
    assert_eq!(
        p.recv(),
        r#"{"jsonrpc":"2.0","id":"mcp-sigv4:b:2","method":"sampling/createMessage","params":{"maxTokens":5}}"#
    );
    // The client answers b first, then a (they go out at once, each to
    // its session).
    for id in ["mcp-sigv4:b:2", "srv-1"] {
        p.send(
            &json!({"jsonrpc":"2.0","id":id,"result":{"role":"assistant",
                "content":{"type":"text","text":"ok"},"model":"m"}})
            .to_string(),
        );
    }
    let mut ids: Vec<Value> = (0..2).map(|_| p.recv_json()["id"].clone()).collect();
    ids.sort_by_key(Value::to_string);
    assert_eq!(ids, [json!(2), json!(3)]);
    p.finish();
    let answered = answered.lock().unwrap();
    let sessions = binding.sessions.lock().unwrap();
    assert_eq!(answered.len(), 2, "{answered:?}");
    for (who, sid, v) in answered.iter() {
        assert_eq!(v["id"], "srv-1", "the server's own id back: {v}");
        let sid = sid.as_ref().expect("in a session");
        assert_eq!(
            sessions.get(sid),
            Some(who),
            "in the session of the key that asked"
        );
    }
    let mut by: Vec<&str> = answered.iter().map(|(who, ..)| who.as_str()).collect();
    by.sort_unstable();
    assert_eq!(by, [AKID_A, AKID_B], "each session got its own answer");
    up.signers("svc", &PROFILE_KEYS);
}

#[test]
fn a_batch_member_for_another_profile_goes_alone_and_the_listing_in_a_batch_gains_the_argument() {
    let up = Server::start(|s| {
        let v = s.json().unwrap_or(Value::Null);
        let answer = |m: &Value| -> Option<Value> {
            let id = m.get("id")?.clone();
            let method = m.get("method")?.as_str()?;
            Some(match method {
                "initialize" => {
                    json!({"jsonrpc":"2.0","id":id,"result":{"protocolVersion":"2025-03-26","capabilities":{},"serverInfo":{"name":"old","version":"1"}}})
                }
                "tools/list" => {
                    json!({"jsonrpc":"2.0","id":id,"result":{"tools":[{"name":"t","inputSchema":{"type":"object"}}]}})
                }
                _ => json!({"jsonrpc":"2.0","id":id,"result":{"by": akid(s), "body": m}}),
            })
        };
        match &v {
            Value::Array(members) => {
                let answers: Vec<Value> = members.iter().filter_map(answer).collect();
                Reply::json(200, Value::Array(answers).to_string())
            }
            m if s.method == "POST" => match answer(m) {
                Some(a) => {
                    let r = Reply::json(200, a.to_string());
                    if m["method"] == "initialize" {
                        r.header("mcp-session-id", &format!("old-{}", akid(s)))
                    } else {
                        r
                    }
                }
                None => Reply::accepted(),
            },
            _ => Reply::status(405),
        }
    });
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    p.send(&INITIALIZE.replace(LEGACY_VERSION, "2025-03-26"));
    assert_eq!(p.recv_json()["id"], 1);
    p.send(INITIALIZED);
    p.send(
        &json!([
            {"jsonrpc":"2.0","id":2,"method":"tools/list"},
            {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t","arguments":{"aws_profile":"b","n":1}}},
            {"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"t","arguments":{"aws_profile":"a","n":2}}},
            {"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"t","arguments":{"aws_profile":"zz"}}}
        ])
        .to_string(),
    );
    let mut lines: Vec<Value> = (0..3).map(|_| p.recv_json()).collect();
    lines.sort_by_key(|v| {
        if v.is_array() {
            0
        } else {
            v["id"].as_i64().unwrap_or(0)
        }
    });
    let batch = lines[0].as_array().expect("the batch's answer, one array");
    assert_eq!(batch.len(), 2);
    assert_eq!(
        batch[0]["result"]["tools"][0]["inputSchema"]["properties"]["aws_profile"],
        profile_property(&["a", "b"])
    );
    assert_eq!(batch[1]["id"], 4);
    assert_eq!(batch[1]["result"]["by"], AKID_A);
    assert_eq!(
        batch[1]["result"]["body"]["params"]["arguments"],
        json!({"n": 2})
    );
    assert_eq!(
        lines[1]["id"], 3,
        "b's member answered on a line of its own"
    );
    assert_eq!(lines[1]["result"]["by"], AKID_B);
    assert_eq!(
        lines[1]["result"]["body"]["params"]["arguments"],
        json!({"n": 1})
    );
    assert_eq!(lines[2]["id"], 5);
    assert_eq!(lines[2]["error"]["code"], -32602);
    p.finish();
    let signers = up.signers("svc", &PROFILE_KEYS);
    let batches: Vec<Seen> = up.matching(|s| s.json().is_some_and(|v| v.is_array()));
    assert_eq!(batches.len(), 1);
    assert_eq!(signers[batches[0].index], 0);
    assert!(!batches[0].text().contains("aws_profile"));
}

#[test]
fn a_modern_call_for_another_profile_is_signed_by_it_without_a_session() {
    let up = Server::start(|s| {
        let v = s.json().unwrap_or(Value::Null);
        Reply::result(&v["id"], json!({"by": akid(s), "resultType": "complete"}))
    });
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    let line = modern_request(
        json!(1),
        "tools/call",
        json!({"name": "deploy", "arguments": {"aws_profile": "b", "region": "eu-west-1"}}),
    );
    p.send(&line);
    let v = p.recv_json();
    assert_eq!(v["result"]["by"], AKID_B, "{v}");
    p.finish();
    let seen = up.requests();
    assert_eq!(seen.len(), 1, "no handshake replayed: {seen:?}");
    let s = &seen[0];
    assert_eq!(signer_of(s, "svc", "us-east-1", &PROFILE_KEYS), 1);
    assert_eq!(s.header("mcp-session-id"), None);
    assert_eq!(s.header("mcp-name"), Some("deploy"));
    assert_eq!(s.header("mcp-protocol-version"), Some("2026-07-28"));
    let sent = s.json().unwrap();
    assert_eq!(sent["params"]["arguments"], json!({"region": "eu-west-1"}));
    assert_eq!(
        sent["params"]["_meta"],
        serde_json::from_str::<Value>(&line).unwrap()["params"]["_meta"]
    );
}

#[test]
fn a_cancellation_goes_to_the_session_of_the_call_it_cancels() {
    let (release, released) = support::flag();
    let up = {
        let inner = Binding::default();
        Server::start(move |s| {
            if s.is_rpc("tools/call") {
                let id = s.json().unwrap()["id"].clone();
                return Reply::sse()
                    .wait_until(released.clone(), Duration::from_secs(5))
                    .message(&json!({"jsonrpc":"2.0","id":id,"result":{"content":[]}}).to_string())
                    .finish();
            }
            inner.reply(s)
        })
    };
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    handshake(&mut p);
    p.send(&call(2, "bare", json!({"aws_profile": "b"})));
    let call_seen = up
        .wait_for(ms(3000), |s| s.is_rpc("tools/call"))
        .expect("b's call went out");
    p.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"user"}}"#);
    let cancel = up
        .wait_for(ms(3000), |s| s.is_rpc("notifications/cancelled"))
        .expect("the cancellation went out");
    release.store(true, Ordering::Release);
    // The server's own late answer may still come; then the ping's.
    p.send(r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#);
    let mut next = p.recv_json();
    if next["id"] == 2 {
        next = p.recv_json();
    }
    assert_eq!(next["id"], 3, "{next}");
    p.finish();
    assert_eq!(akid(&cancel), AKID_B);
    assert_eq!(
        cancel.header("mcp-session-id"),
        call_seen.header("mcp-session-id"),
        "in b's session"
    );
    up.signers("svc", &PROFILE_KEYS);
}

#[test]
#[cfg(unix)]
fn sigterm_ends_every_profiles_session_at_once_and_exits_0() {
    // Each DELETE takes the server 1.5 s: one after the other they would
    // not fit in the 2.5 s a signal leaves, and the second would not be
    // answered (its "MCP session ended (HTTP 200)" line is checked below).
    let binding = Arc::new(Binding::default());
    let up = {
        let binding = Arc::clone(&binding);
        Server::start(move |s| {
            if s.method == "DELETE" {
                std::thread::sleep(ms(1500));
            }
            binding.reply(s)
        })
    };
    let dir = profile_files();
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b"])
        .start();
    handshake(&mut p);
    p.send(&call(2, "bare", json!({})));
    let (_, a_session, _) = called(&p.recv_json());
    p.send(&call(3, "bare", json!({"aws_profile": "b"})));
    let (_, b_session, _) = called(&p.recv_json());
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &p.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(kill.success());
    let status = p
        .wait_exit(ms(6000))
        .unwrap_or_else(|| panic!("the proxy did not exit; stderr:\n{}", p.stderr()));
    let stderr = p.stderr();
    assert_eq!(status.code(), Some(0), "{status:?}; stderr:\n{stderr}");
    let signers = up.signers("svc", &PROFILE_KEYS);
    let mut deletes: Vec<(usize, String)> = up
        .matching(|s| s.method == "DELETE")
        .iter()
        .map(|s| {
            (
                signers[s.index],
                s.header("mcp-session-id").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    deletes.sort();
    assert_eq!(deletes, [(0, a_session), (1, b_session)], "{stderr}");
    for line in [
        "MCP session ended (HTTP 200) (profile 'a')",
        "MCP session ended (HTTP 200) (profile 'b')",
    ] {
        assert!(stderr.contains(line), "{line}:\n{stderr}");
    }
}

/// The AgentCore runtime-session header of each profile's requests, with
/// `--runtime-session mode`, against an upstream that also plays STS
/// (GetCallerIdentity answers with an ARN named after the signing key).
fn runtime_sessions(mode: &str) -> (Vec<String>, Vec<String>) {
    let binding = Arc::new(Binding::default());
    let up = {
        let binding = Arc::clone(&binding);
        Server::start(move |s| {
            if s.target.starts_with("/sts") {
                let arn = format!("arn:aws:iam::123456789012:user/{}", akid(s));
                return Reply::body(
                    200,
                    "text/xml",
                    format!(
                        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
                    ),
                );
            }
            binding.reply(s)
        })
    };
    let dir = profile_files();
    let sts = format!("{}/sts", up.base());
    let mut p = profile_proxy(&up, &dir)
        .args(&["--profile", "a", "b", "--runtime-session", mode])
        .env("AWS_ENDPOINT_URL_STS", &sts)
        .start();
    handshake(&mut p);
    for (id, args) in [
        (2, json!({})),
        (3, json!({"aws_profile": "b"})),
        (4, json!({"aws_profile": "b"})),
    ] {
        p.send(&call(id, "bare", args));
        assert_eq!(p.recv_json()["id"], id);
    }
    p.finish();
    let mcp: Vec<Seen> = up.matching(|s| s.target.starts_with("/mcp"));
    for s in up.matching(|s| s.target.starts_with("/sts")) {
        signer_of(&s, "sts", "us-east-1", &PROFILE_KEYS);
    }
    let of = |key: usize| -> Vec<String> {
        mcp.iter()
            .filter(|s| signer_of(s, "svc", "us-east-1", &PROFILE_KEYS) == key)
            .map(|s| {
                s.header("x-amzn-bedrock-agentcore-runtime-session-id")
                    .unwrap_or_else(|| {
                        panic!("{} #{} has no runtime session id", s.method, s.index)
                    })
                    .to_owned()
            })
            .collect()
    };
    (of(0), of(1))
}

fn one_value(ids: &[String]) -> &str {
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one id for the whole run: {ids:?}"
    );
    &ids[0]
}

#[test]
fn each_profile_has_a_runtime_session_id_of_its_own() {
    use sha2::{Digest, Sha256};
    let (a, b) = runtime_sessions("session");
    assert_ne!(one_value(&a), one_value(&b), "random, one per profile");
    let (a, b) = runtime_sessions("identity");
    let hash = |key: &str| -> String {
        let arn = format!("arn:aws:iam::123456789012:user/{key}");
        Sha256::digest(arn.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(one_value(&a), hash(AKID_A), "the hash of a's caller ARN");
    assert_eq!(one_value(&b), hash(AKID_B), "the hash of b's caller ARN");
}
