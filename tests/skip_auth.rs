//! `--skip-auth` (the `mcp-proxy-for-aws` flag): with no AWS credentials
//! anywhere, requests go out unsigned, with one warning on stderr; without
//! the flag the same client gets a JSON-RPC -32002 error naming the sources
//! tried, and nothing reaches the server.

mod support;

use std::time::Duration;

use support::{INITIALIZE, Proxy, Server, standard_reply};

#[test]
fn without_credentials_skip_auth_sends_unsigned_requests_with_one_warning() {
    let up = Server::start(standard_reply);
    let mut p = Proxy::builder(&up.url())
        .without_credentials()
        .args(&["--skip-auth"])
        .start();
    let init = p.handshake();
    assert_eq!(init["id"], 1, "{init}");
    assert!(init.get("result").is_some(), "the server's answer: {init}");
    p.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    let list = p.recv_json();
    assert_eq!(list["id"], 2, "{list}");
    let stderr = p.finish();
    let posts = up.matching(|s| s.method == "POST");
    assert!(
        posts.len() >= 3,
        "initialize, initialized, tools/list: {}",
        posts.len()
    );
    for s in &posts {
        assert_eq!(s.header("authorization"), None, "an unsigned request");
        assert_eq!(s.header("x-amz-date"), None, "an unsigned request");
    }
    assert_eq!(
        stderr.matches("--skip-auth: no AWS credentials").count(),
        1,
        "one warning:\n{stderr}"
    );
}

#[test]
fn without_credentials_and_without_skip_auth_nothing_is_sent() {
    let up = Server::start(standard_reply);
    let mut p = Proxy::builder(&up.url()).without_credentials().start();
    p.send(INITIALIZE);
    let answer = p.recv_json();
    assert_eq!(answer["id"], 1, "{answer}");
    assert_eq!(answer["error"]["code"], -32002, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no credentials"), "{message}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(up.matching(|s| s.method == "POST").is_empty());
    drop(p);
}
