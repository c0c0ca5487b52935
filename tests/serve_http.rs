//! `mcp-sigv4 serve` from outside: the built binary listening on a loopback
//! port, a raw HTTP/1.1 client, and the scripted upstream (`support/`).
//! Each test pins one rule of the server side of MCP Streamable HTTP
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http>):
//! sessions from `initialize` to DELETE, each relayed upstream signed, the
//! client's `Authorization` never forwarded; the probes; and what hostile
//! input gets — slow heads, oversized bodies, idle connections past the
//! bound, a foreign `Origin` or `Host` (DNS rebinding, the transport's
//! "Security Warning"), a missing or wrong token, a non-loopback address
//! without one; SIGTERM and SIGINT (Ctrl+C under Wine) draining a call in
//! flight and exiting 0, a second SIGINT ending the drain at once.
//! Every wait is bounded.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    Reply, SESSION_ID, Server, TempDir, closed_port, connect, header_of, http, mcp_post, read_all,
    rpc_result, signal, sse_messages, standard_reply, start_serve, status_of,
};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"serve-test","version":"0"}}}"#;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Initializes a session; its id.
fn initialize(port: u16, extra: &str) -> String {
    let a = http(port, &mcp_post(INIT, extra));
    assert_eq!(status_of(&a), 200, "{a}");
    let messages = sse_messages(&a);
    assert_eq!(messages.len(), 1, "{a}");
    assert_eq!(
        messages[0]["result"]["protocolVersion"], "2025-06-18",
        "{a}"
    );
    header_of(&a, "mcp-session-id")
        .expect("a session id")
        .to_owned()
}

#[test]
fn a_session_is_relayed_signed_and_ended_upstream_by_delete() {
    let up = Server::start(standard_reply);
    let dir = TempDir::new("serve-token");
    dir.write("token", "serve-test-token-9f8e7d\n");
    let token_file = dir.path().join("token");
    let (p, port) = start_serve(&up.url(), &["--token-file", token_file.to_str().unwrap()]);
    let auth = "Authorization: Bearer serve-test-token-9f8e7d\r\n";
    let id = initialize(port, auth);
    assert_eq!(id.len(), 32, "{id}");
    assert_ne!(id, SESSION_ID, "the upstream's session id is never shown");
    let sid = format!("{auth}Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: 2025-06-18\r\n");
    let a = http(
        port,
        &mcp_post(
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &sid,
        ),
    );
    assert_eq!(status_of(&a), 202, "{a}");
    let a = http(
        port,
        &mcp_post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, &sid),
    );
    assert_eq!(
        header_of(&a, "content-type"),
        Some("text/event-stream"),
        "{a}"
    );
    assert_eq!(
        sse_messages(&a),
        [json!({"jsonrpc":"2.0","id":2,"result":{"method":"tools/list"}})]
    );
    // Every upstream request is signed by us; the client's token went nowhere.
    for seen in up.requests() {
        let a = seen.header("authorization").unwrap_or_default();
        assert!(a.starts_with("AWS4-HMAC-SHA256 "), "{} {a}", seen.method);
        assert!(!seen.text().contains("serve-test-token"));
    }
    let a = http(
        port,
        &format!("DELETE /mcp HTTP/1.1\r\n{sid}Connection: close\r\n\r\n"),
    );
    assert_eq!(status_of(&a), 204, "{a}");
    let deleted = up.wait_for(ms(5000), |s| s.method == "DELETE");
    assert_eq!(
        deleted
            .and_then(|s| s.header("mcp-session-id").map(str::to_owned))
            .as_deref(),
        Some(SESSION_ID)
    );
    let a = http(
        port,
        &mcp_post(r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#, &sid),
    );
    assert_eq!(status_of(&a), 404, "{a}");
    let stderr = p.stderr();
    assert!(
        !stderr.contains("serve-test-token") && !stderr.contains(&id),
        "{stderr}"
    );
    support::assert_clean_stderr(&stderr);
}

#[test]
fn healthz_answers_and_readyz_says_why_not() {
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    let a = http(port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!((status_of(&a), a.ends_with("ok\n")), (200, true), "{a}");
    let a = http(port, "GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status_of(&a), 200, "{a}");
    let closed = format!("http://127.0.0.1:{}/mcp", closed_port());
    let (_p, port) = start_serve(&closed, &[]);
    let a = http(port, "GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status_of(&a), 503, "{a}");
    assert!(a.contains("not ready: "), "{a}");

    // With a token, the reason (which names hosts, files and variables) is
    // for requests that carry it; a probe without it learns only the status.
    let dir = TempDir::new("serve-token");
    dir.write("token", "ready-token-5a1c");
    let token_file = dir.path().join("token");
    let (_p, port) = start_serve(&closed, &["--token-file", token_file.to_str().unwrap()]);
    let a = http(port, "GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status_of(&a), 503, "{a}");
    assert!(
        a.contains("not ready") && !a.contains("127.0.0.1") && !a.contains("not ready: "),
        "no reason without the token: {a}"
    );
    let a = http(
        port,
        "GET /readyz HTTP/1.1\r\nAuthorization: Bearer ready-token-5a1c\r\nConnection: close\r\n\r\n",
    );
    assert!(a.contains("not ready: "), "the reason with the token: {a}");
}

#[test]
fn hostile_requests_get_their_status_and_nothing_reaches_the_upstream() {
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(
        &up.url(),
        &["--max-body-bytes", "2KiB", "--max-head-bytes", "1KiB"],
    );
    let cases = [
        (mcp_post(INIT, "Origin: http://evil.example.com\r\n"), 403),
        (
            mcp_post(INIT, "").replace("Host: 127.0.0.1", "Host: evil.example.com"),
            403,
        ),
        (
            mcp_post(&format!("{{\"x\":\"{}\"}}", "a".repeat(4096)), ""),
            413,
        ),
        (
            mcp_post(INIT, &format!("X-Filler: {}\r\n", "a".repeat(2048))),
            431,
        ),
        (mcp_post("{not json", ""), 400),
        (mcp_post(INIT, "MCP-Protocol-Version: 2099-99-99\r\n"), 400),
        (
            "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_owned(),
            411,
        ),
    ];
    for (request, want) in cases {
        let a = http(port, &request);
        assert_eq!(status_of(&a), want, "{request:.200}\n{a}");
    }
    assert!(up.requests().is_empty(), "{:?}", up.requests());
}

#[test]
fn a_missing_or_wrong_token_gets_401() {
    let up = Server::start(standard_reply);
    let dir = TempDir::new("serve-token");
    dir.write("token", "right-token-31f4");
    let token_file = dir.path().join("token");
    let (_p, port) = start_serve(&up.url(), &["--token-file", token_file.to_str().unwrap()]);
    for extra in [
        "",
        "Authorization: Bearer wrong-token-31f4\r\n",
        "Authorization: Basic right-token-31f4\r\n",
    ] {
        let a = http(port, &mcp_post(INIT, extra));
        assert_eq!(status_of(&a), 401, "{extra}\n{a}");
        assert_eq!(header_of(&a, "www-authenticate"), Some("Bearer"), "{a}");
    }
    assert!(up.requests().is_empty());
}

#[test]
fn a_non_loopback_address_without_a_token_is_refused_with_the_fix() {
    let up = Server::start(standard_reply);
    let mut p = support::Proxy::builder(&up.url())
        .subcommand("serve")
        .args(&["--listen", "0.0.0.0:0"])
        .no_stdout_reader()
        .start();
    let status = p.wait_exit(ms(10_000)).expect("serve exits");
    // The stderr reader may still be copying the last bytes.
    let end = Instant::now() + ms(3000);
    while !p.stderr().contains("hint:") && Instant::now() < end {
        std::thread::sleep(ms(20));
    }
    let stderr = p.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--token-file"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn a_slow_head_gets_408_within_the_request_timeout() {
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &["--request-timeout", "1"]);
    let start = Instant::now();
    let mut s = connect(port);
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
        .unwrap();
    let a = read_all(&mut s);
    let took = start.elapsed();
    assert_eq!(status_of(&a), 408, "{a}");
    assert!(took >= ms(900) && took < ms(5000), "{took:?}");
}

#[test]
fn idle_connections_past_the_bound_get_503_and_the_bound_frees_as_they_close() {
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &["--max-connections", "4"]);
    let idle: Vec<_> = (0..4).map(|_| connect(port)).collect();
    // Each counts once accepted; the server accepts in order.
    let end = Instant::now() + ms(5000);
    loop {
        let a = http(port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
        if status_of(&a) == 503 {
            assert!(a.contains("--max-connections"), "{a}");
            break;
        }
        assert!(Instant::now() < end, "never refused: {a}");
        std::thread::sleep(ms(50));
    }
    drop(idle);
    let end = Instant::now() + ms(5000);
    while status_of(&http(
        port,
        "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    )) != 200
    {
        assert!(Instant::now() < end, "the bound never freed");
        std::thread::sleep(ms(50));
    }
}

/// A session on `port` with a `tools/call` of `tool` (id 7) that has
/// reached `up`; the connection its answer will come on.
fn call_in_flight(up: &Server, port: u16, tool: &str) -> std::net::TcpStream {
    let id = initialize(port, "");
    let sid = format!("Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: 2025-06-18\r\n");
    let mut call = connect(port);
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#
    );
    call.write_all(mcp_post(&body, &sid).as_bytes()).unwrap();
    up.wait_for(ms(5000), |s| {
        s.json().is_some_and(|v| v["method"] == "tools/call")
    })
    .expect("the call reached the upstream");
    call
}

/// `signal` (`-TERM`, `-INT`) while a tool call is in flight: the call gets
/// its answer, the session is ended upstream with a DELETE, and the process
/// exits 0 (about 1.2 s after the signal; the test allows 8 s).
fn a_signal_lets_a_call_in_flight_finish_then_deletes_the_session(signal_name: &str) {
    let up = Server::start(|seen| {
        let v = seen.json().unwrap_or_default();
        if v["method"] == "tools/call" {
            let r = rpc_result(&v["id"], json!({"content": []}));
            return Reply::sse().sleep(1000).message(&r).finish();
        }
        standard_reply(seen)
    });
    let (mut p, port) = start_serve(&up.url(), &["--drain-timeout", "5"]);
    let mut call = call_in_flight(&up, port, "slow");
    let sent = Instant::now();
    signal(&p, signal_name);
    let a = read_all(&mut call);
    assert_eq!(
        sse_messages(&a),
        [json!({"jsonrpc":"2.0","id":7,"result":{"content":[]}})],
        "{a}"
    );
    let status = p
        .wait_exit(ms(10_000))
        .unwrap_or_else(|| panic!("no exit; stderr:\n{}", p.stderr()));
    assert_eq!(status.code(), Some(0), "{}", p.stderr());
    assert!(sent.elapsed() < ms(8000), "{:?}", sent.elapsed());
    assert!(
        up.requests().iter().any(|s| s.method == "DELETE"),
        "no upstream DELETE"
    );
}

#[test]
fn sigterm_lets_a_call_in_flight_finish_then_deletes_the_session_and_exits_0() {
    a_signal_lets_a_call_in_flight_finish_then_deletes_the_session("-TERM");
}

/// SIGINT; under Wine (`MCP_SIGV4_TEST_RUNNER`) the Windows exe, to which
/// Wine delivers SIGINT as a console Ctrl+C (`CTRL_C_EVENT`).
#[test]
fn sigint_or_ctrl_c_lets_a_call_in_flight_finish_then_deletes_the_session_and_exits_0() {
    a_signal_lets_a_call_in_flight_finish_then_deletes_the_session("-INT");
}

/// A second SIGINT (Ctrl+C under Wine) while the first drains a call held
/// for 20 s (`--drain-timeout 30`) ends the process at once (in well under a
/// second; the test allows 6 s, a third of what the drain would take),
/// without the session DELETE that ends a drain. On Unix SIGINT's default
/// action kills it; on Windows the default console handler exits with
/// `STATUS_CONTROL_C_EXIT`, but Wine 8.0's exits 0, so the status is checked
/// only without `MCP_SIGV4_TEST_RUNNER`.
#[test]
fn a_second_sigint_or_ctrl_c_ends_the_drain_at_once() {
    let up = Server::start(|seen| {
        if seen.json().is_some_and(|v| v["method"] == "tools/call") {
            return Reply::sse().hold(20_000);
        }
        standard_reply(seen)
    });
    let (mut p, port) = start_serve(&up.url(), &["--drain-timeout", "30"]);
    let _call = call_in_flight(&up, port, "held");
    signal(&p, "-INT");
    let draining = p.stderr_containing("no new connections; draining", ms(5000));
    assert!(draining.contains("draining"), "no drain:\n{draining}");
    let sent = Instant::now();
    signal(&p, "-INT");
    let status = p
        .wait_exit(ms(6000))
        .unwrap_or_else(|| panic!("still draining; stderr:\n{}", p.stderr()));
    assert!(sent.elapsed() < ms(6000), "{:?}", sent.elapsed());
    if std::env::var_os("MCP_SIGV4_TEST_RUNNER").is_none() {
        assert_ne!(status.code(), Some(0), "{}", p.stderr());
    }
    assert!(
        !up.requests().iter().any(|s| s.method == "DELETE"),
        "a DELETE: the drain went on"
    );
}

#[test]
fn a_2026_request_is_relayed_without_a_session_and_get_is_405() {
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    let body = support::modern_request(json!(4), "tools/list", json!({}));
    let v = "MCP-Protocol-Version: 2026-07-28\r\n";
    let a = http(
        port,
        &mcp_post(&body, &format!("{v}Mcp-Method: tools/list\r\n")),
    );
    assert_eq!(status_of(&a), 200, "{a}");
    assert_eq!(header_of(&a, "mcp-session-id"), None, "{a}");
    let answers = sse_messages(&a);
    assert_eq!(answers.len(), 1, "{a}");
    assert_eq!(answers[0]["id"], 4, "{a}");
    let sent = up
        .wait_for(ms(5000), |s| s.method == "POST")
        .expect("relayed");
    assert_eq!(sent.header("mcp-method"), Some("tools/list"));
    let a = http(
        port,
        &format!("GET /mcp HTTP/1.1\r\nAccept: text/event-stream\r\n{v}Connection: close\r\n\r\n"),
    );
    assert_eq!(status_of(&a), 405, "{a}");
}

#[test]
fn a_2026_call_after_a_listing_in_another_post_carries_its_mcp_param_header_and_runtime_session() {
    // Each 2026-07-28 POST is a conversation of its own; what one learnt from
    // tools/list (the x-mcp-header arguments) serves the next, and they go
    // in one AgentCore runtime session.
    let list = json!({"tools": [
        {"name": "where", "inputSchema": {"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"}}}}
    ], "ttlMs": 0, "cacheScope": "public", "resultType": "complete"});
    let up = {
        let list = list.clone();
        Server::start(move |s| {
            let id = s.rpc_id().unwrap_or(serde_json::Value::Null);
            if s.is_rpc("tools/list") {
                return Reply::result(&id, list.clone());
            }
            Reply::result(&id, json!({"content": [], "resultType": "complete"}))
        })
    };
    let url = format!("{}/runtimes/x/invocations", up.base());
    let builder = support::Proxy::builder(&url).service("bedrock-agentcore");
    let (_p, port) = support::start_serve_for(builder, &[]);
    let v = "MCP-Protocol-Version: 2026-07-28\r\n";
    let body = support::modern_request(json!(1), "tools/list", json!({}));
    let a = http(
        port,
        &mcp_post(&body, &format!("{v}Mcp-Method: tools/list\r\n")),
    );
    assert_eq!(sse_messages(&a)[0]["id"], 1, "{a}");
    let call = support::modern_request(
        json!(2),
        "tools/call",
        json!({"name": "where", "arguments": {"region": "eu-west-1"}}),
    );
    let a = http(
        port,
        &mcp_post(
            &call,
            &format!("{v}Mcp-Method: tools/call\r\nMcp-Name: where\r\n"),
        ),
    );
    assert_eq!(sse_messages(&a)[0]["id"], 2, "{a}");
    let sent = up
        .wait_for(ms(5000), |s| s.is_rpc("tools/call"))
        .expect("relayed");
    assert_eq!(sent.header("mcp-param-region"), Some("eu-west-1"));
    assert_eq!(up.rpc("tools/list").len(), 1, "listed once, not again");
    let ids: Vec<_> = up
        .matching(|s| s.method == "POST")
        .iter()
        .map(|s| {
            s.header("x-amzn-bedrock-agentcore-runtime-session-id")
                .map(str::to_owned)
        })
        .collect();
    assert!(
        ids[0].is_some() && ids.iter().all(|i| *i == ids[0]),
        "{ids:?}"
    );
}

#[test]
fn the_get_stream_ends_when_its_session_is_deleted() {
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    let id = initialize(port, "");
    let sid = format!("Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: 2025-06-18\r\n");
    let mut get = connect(port);
    get.write_all(
        format!("GET /mcp HTTP/1.1\r\nAccept: text/event-stream\r\n{sid}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    // The first GET's stream is open once its head arrived.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        use std::io::Read;
        assert_eq!(get.read(&mut byte).unwrap(), 1, "the GET stream's head");
        head.push(byte[0]);
    }
    // A second GET for the session while the first is open: 409.
    let a = http(
        port,
        &format!(
            "GET /mcp HTTP/1.1\r\nAccept: text/event-stream\r\n{sid}Connection: close\r\n\r\n"
        ),
    );
    assert_eq!(status_of(&a), 409, "{a}");
    let a = http(
        port,
        &format!("DELETE /mcp HTTP/1.1\r\n{sid}Connection: close\r\n\r\n"),
    );
    assert_eq!(status_of(&a), 204, "{a}");
    let start = Instant::now();
    let streamed = String::from_utf8_lossy(&head).into_owned() + &read_all(&mut get);
    assert!(streamed.starts_with("HTTP/1.1 200 OK"), "{streamed}");
    assert!(
        streamed.ends_with("0\r\n\r\n"),
        "the stream ended: {streamed}"
    );
    assert!(start.elapsed() < ms(5000));
}

#[cfg(unix)]
#[test]
fn every_session_of_a_profile_shares_its_credentials() {
    // Profile `c` runs a credential_process that counts its runs; two client
    // sessions each call a tool as `c`: the process runs once.
    let up = Server::start(standard_reply);
    let dir = support::profile_files();
    let d = dir.str();
    dir.write(
        "creds.sh",
        &format!(
            "echo run >> {d}/runs\nprintf '{{\"Version\":1,\"AccessKeyId\":\"AKIAPROCESSCCCCCCCCC\",\"SecretAccessKey\":\"processSecretC\"}}'\n"
        ),
    );
    dir.write(
        "config",
        &format!("[profile c]\nregion = us-east-1\ncredential_process = sh {d}/creds.sh\n"),
    );
    let builder = support::profile_proxy(&up, &dir);
    let (_p, port) = support::start_serve_for(builder, &["--profile", "a", "c"]);
    for n in 0..2 {
        let id = initialize(port, "");
        let sid = format!("Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: 2025-06-18\r\n");
        let a = http(
            port,
            &mcp_post(
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                &sid,
            ),
        );
        assert_eq!(status_of(&a), 202, "{a}");
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "t", "arguments": {"aws_profile": "c"}}});
        let a = http(port, &mcp_post(&call.to_string(), &sid));
        let answers = sse_messages(&a);
        assert_eq!(answers.len(), 1, "session {n}: {a}");
        assert!(answers[0].get("result").is_some(), "session {n}: {a}");
    }
    let calls = up.rpc("tools/call");
    assert_eq!(calls.len(), 2);
    assert!(
        calls
            .iter()
            .all(|s| support::akid(s) == "AKIAPROCESSCCCCCCCCC")
    );
    let runs = std::fs::read_to_string(dir.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 1, "the credential_process ran once");
}

#[test]
fn sessions_share_the_identity_runtime_session_and_sts_is_asked_once() {
    let up = Server::start(|s| {
        if s.target.starts_with("/sts") {
            return Reply::body(
                200,
                "text/xml",
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/serve</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>",
            );
        }
        standard_reply(s)
    });
    let sts = format!("{}/sts", up.base());
    let builder = support::Proxy::builder(&up.url()).env("AWS_ENDPOINT_URL_STS", &sts);
    let (_p, port) = support::start_serve_for(builder, &["--runtime-session", "identity"]);
    for _ in 0..3 {
        let id = initialize(port, "");
        let sid = format!("Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: 2025-06-18\r\n");
        let a = http(
            port,
            &mcp_post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, &sid),
        );
        assert_eq!(sse_messages(&a).len(), 1, "{a}");
    }
    let ids: Vec<String> = up
        .matching(|s| s.target.starts_with("/mcp") && s.method == "POST")
        .iter()
        .map(|s| {
            s.header("x-amzn-bedrock-agentcore-runtime-session-id")
                .expect("a runtime-session id")
                .to_owned()
        })
        .collect();
    assert!(
        ids.len() >= 6 && ids.iter().all(|i| *i == ids[0]),
        "{ids:?}"
    );
    assert_eq!(
        up.matching(|s| s.target.starts_with("/sts")).len(),
        1,
        "STS asked once for every session"
    );
}

#[test]
fn a_2026_request_whose_headers_disagree_with_its_body_gets_400_header_mismatch() {
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    let v = "MCP-Protocol-Version: 2026-07-28\r\n";
    let read = support::modern_request(
        json!(7),
        "resources/read",
        json!({"uri": "file:///data/résumé.txt"}),
    );
    for (extra, names) in [
        ("Mcp-Method: resources/read\r\n", "Mcp-Name"),
        (
            "Mcp-Method: resources/read\r\nMcp-Name: file:///data/other.txt\r\n",
            "Mcp-Name",
        ),
        ("Mcp-Method: tools/call\r\nMcp-Name: x\r\n", "Mcp-Method"),
    ] {
        let a = http(port, &mcp_post(&read, &format!("{v}{extra}")));
        assert_eq!(status_of(&a), 400, "{a}");
        let error: serde_json::Value =
            serde_json::from_str(a.split("\r\n\r\n").nth(1).unwrap_or_default()).expect("JSON");
        assert_eq!(error["error"]["code"], -32020, "{a}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(names),
            "{a}"
        );
    }
    assert!(up.requests().is_empty(), "nothing was relayed");
    // The same request with its name sentinel-encoded, as the spec's example has it.
    let name = "Mcp-Name: =?base64?ZmlsZTovLy9kYXRhL3LDqXN1bcOpLnR4dA==?=\r\n";
    let a = http(
        port,
        &mcp_post(&read, &format!("{v}Mcp-Method: resources/read\r\n{name}")),
    );
    assert_eq!(status_of(&a), 200, "{a}");
    assert_eq!(sse_messages(&a)[0]["id"], 7, "{a}");
}
