//! `mcp-sigv4 serve` attacked from outside: the built binary on a loopback
//! port, raw HTTP/1.1 written by hand, the scripted upstream (`support/`).
//! Each test pins what a hostile or careless client got wrong before: every
//! request gets exactly one answer, and the bytes of one answer never run
//! into the next on a kept-alive connection
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http>,
//! RFC 9110, RFC 9112). Every wait is bounded.

mod support;

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use support::{
    Reply, Server, connect, header_of, http, mcp_post, read_all, rpc_result, signal, sse_messages,
    standard_reply, start_serve, status_of,
};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"serve-adversary","version":"0"}}}"#;

/// Initializes a session; the headers later requests of it carry.
fn session(port: u16) -> String {
    let a = http(port, &mcp_post(INIT, ""));
    assert_eq!(status_of(&a), 200, "{a}");
    let id = header_of(&a, "mcp-session-id").expect("a session id");
    format!("Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: 2025-06-18\r\n")
}

#[test]
fn a_malformed_request_gets_its_error_with_its_id() {
    // JSON that is no valid JSON-RPC request but carries an id: the relay
    // answers it with -32600 and that id, as it does on stdio. Before, serve
    // took it for a notification, answered 202, and dropped the error.
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    let sid = session(port);
    for (body, id) in [
        (r#"{"jsonrpc":"2.0","id":5,"method":5}"#, 5),
        (r#"{"jsonrpc":"2.0","id":6,"method":null}"#, 6),
        (r#"{"jsonrpc":"2.0","id":7}"#, 7),
    ] {
        let a = http(port, &mcp_post(body, &sid));
        assert_eq!(status_of(&a), 200, "{body}: {a}");
        let m = sse_messages(&a);
        assert_eq!(m.len(), 1, "{body}: {a}");
        assert_eq!(
            (m[0]["id"].as_i64(), m[0]["error"]["code"].as_i64()),
            (Some(id), Some(-32600)),
            "{a}"
        );
    }
    // Valid JSON text with a lone surrogate escape (what JavaScript's
    // JSON.stringify writes for half an emoji) goes upstream as on stdio,
    // and is answered with its own id; before it was refused as "not JSON".
    let body = r#"{"jsonrpc":"2.0","id":"\ud800","method":"tools/list"}"#;
    let a = http(port, &mcp_post(body, &sid));
    assert_eq!(status_of(&a), 200, "{a}");
    assert_eq!(a.matches(r#""id":"\ud800""#).count(), 1, "{a}");
    assert!(
        up.requests()
            .iter()
            .any(|s| s.text().contains(r#""id":"\ud800""#)),
        "relayed upstream"
    );
}

#[test]
fn a_head_answer_has_no_body_so_the_next_answer_is_where_the_client_looks() {
    // RFC 9110 §9.3.2: the answer to HEAD has no content. Before, a HEAD to
    // an unknown path (or a HEAD /mcp with a bad MCP-Protocol-Version) got
    // the GET's body on a kept-alive connection, which a client reads as the
    // start of the next answer: the pipelined GET's 200 was not first.
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    for first in [
        "HEAD /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "HEAD /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMCP-Protocol-Version: 1999-01-01\r\n\r\n",
        "HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ] {
        let mut s = connect(port);
        let next = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        s.write_all(format!("{first}{next}").as_bytes()).unwrap();
        let a = read_all(&mut s);
        let (head, rest) = a.split_once("\r\n\r\n").expect("an answer");
        assert!(head.starts_with("HTTP/1.1 "), "{a}");
        assert!(
            rest.starts_with("HTTP/1.1 200 OK\r\n") && rest.ends_with("\r\n\r\nok\n"),
            "{first:?}: the second answer right after the first head: {a:?}"
        );
    }
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    // RFC 9110 §10.1.1: a server that reads the body sends 100 (Continue) to
    // a client that asked and waits. Before, serve sent nothing and waited
    // for the body: curl waits a second, a client without that fallback
    // until --request-timeout (408).
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &["--request-timeout", "60"]);
    let sid = session(port);
    let body = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let request = mcp_post(body, &format!("{sid}Expect: 100-continue\r\n"));
    let head = request.strip_suffix(body).unwrap();
    let mut s = connect(port);
    s.write_all(head.as_bytes()).unwrap();
    let mut first = [0u8; 25];
    std::io::Read::read_exact(&mut s, &mut first).expect("100 Continue before the body");
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(body.as_bytes()).unwrap();
    let a = read_all(&mut s);
    assert_eq!(status_of(&a), 200, "{a}");
    assert_eq!(sse_messages(&a)[0]["id"], 2, "{a}");
}

#[test]
fn a_client_that_sends_a_body_too_large_reads_the_413() {
    // A client that writes its whole body before it reads (Python's http
    // clients, a script). Before, serve wrote 413 and closed with the body
    // unread: the kernel answered the rest with a reset, the client's write
    // failed with ECONNRESET and the 413 saying --max-body-bytes was never
    // read. Now serve ends its half and reads and drops the rest first.
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &["--max-body-bytes", "2KiB"]);
    let body = format!("{{\"x\":\"{}\"}}", "a".repeat(8 << 20));
    let request = mcp_post(&body, "");
    let mut s = connect(port);
    s.write_all(request.as_bytes())
        .expect("the whole body written: serve reads what it refused");
    let a = read_all(&mut s);
    assert_eq!(status_of(&a), 413, "{a:.300}");
    assert!(a.contains("--max-body-bytes"), "{a:.300}");
    assert!(up.requests().is_empty());
}

/// An upstream whose `tools/call` answers only after 20 s.
fn slow_calls() -> Server {
    Server::start(|seen| {
        let v = seen.json().unwrap_or_default();
        if v["method"] == "tools/call" {
            let r = rpc_result(&v["id"], json!({"content": []}));
            return Reply::sse().sleep(20_000).message(&r).finish();
        }
        standard_reply(seen)
    })
}

const CALL: &str = r#"{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"slow","arguments":{}}}"#;

/// The one message `answer` carries: an error for `"call-7"`.
fn assert_one_error_for_the_call(answer: &str) {
    let m = sse_messages(answer);
    assert_eq!(m.len(), 1, "exactly one answer: {answer}");
    assert_eq!(m[0]["id"], "call-7", "{answer}");
    assert!(m[0]["error"]["message"].as_str().is_some(), "{answer}");
}

#[test]
fn a_call_in_flight_when_its_session_is_deleted_gets_an_error_with_its_id() {
    // Before, the POST's stream ended with no message at all: the client
    // waited for an answer that would never come (its own timeout, 60 s in
    // the TypeScript SDK).
    let up = slow_calls();
    let (_p, port) = start_serve(&up.url(), &[]);
    let sid = session(port);
    let mut call = connect(port);
    call.write_all(mcp_post(CALL, &sid).as_bytes()).unwrap();
    up.wait_for(Duration::from_secs(5), |s| {
        s.json().is_some_and(|v| v["method"] == "tools/call")
    })
    .expect("the call reached the upstream");
    let a = http(
        port,
        &format!("DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{sid}Connection: close\r\n\r\n"),
    );
    assert_eq!(status_of(&a), 204, "{a}");
    let a = read_all(&mut call);
    assert!(a.ends_with("0\r\n\r\n"), "the stream ended: {a}");
    assert_one_error_for_the_call(&a);
    let cancelled = up.requests().iter().any(|s| {
        s.json()
            .is_some_and(|v| v["method"] == "notifications/cancelled")
    });
    assert!(cancelled, "the call was cancelled upstream");
}

/// Waits (at most 15 s) for serve to exit after the signal, and asserts it
/// exited 0.
fn assert_exits_0_after_the_signal(p: &mut support::Proxy) {
    let status = p
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("no exit 15 s after the signal; stderr:\n{}", p.stderr()));
    assert_eq!(status.code(), Some(0), "{}", p.stderr());
}

#[test]
fn a_call_past_the_drain_at_sigterm_gets_an_error_and_serve_exits_0() {
    let up = slow_calls();
    let (mut p, port) = start_serve(&up.url(), &["--drain-timeout", "1"]);
    let sid = session(port);
    let mut call = connect(port);
    call.write_all(mcp_post(CALL, &sid).as_bytes()).unwrap();
    up.wait_for(Duration::from_secs(5), |s| {
        s.json().is_some_and(|v| v["method"] == "tools/call")
    })
    .expect("the call reached the upstream");
    signal(&p, "-TERM");
    let a = read_all(&mut call);
    assert_one_error_for_the_call(&a);
    assert_exits_0_after_the_signal(&mut p);
    assert!(
        up.requests().iter().any(|s| s.method == "DELETE"),
        "the upstream session was ended"
    );
}

/// Opens the session's GET stream on a new connection; the connection, its
/// answer's head read.
fn open_get(port: u16, sid: &str) -> (std::net::TcpStream, String) {
    let mut get = connect(port);
    let request = format!(
        "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{sid}Connection: close\r\n\r\n"
    );
    get.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match std::io::Read::read(&mut get, &mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    (get, String::from_utf8_lossy(&head).into_owned())
}

#[test]
fn a_client_that_reopens_its_get_stream_gets_it_back() {
    // A client whose GET connection dropped opens a new one. Before, serve
    // noticed the old one was gone only when a keep-alive comment failed to
    // go out (15 to 30 s later) and answered every GET until then 409; the
    // TypeScript SDK's reconnection gives up after two retries in a few
    // seconds, and the session had no GET stream for the rest of its life.
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    let sid = session(port);
    let (first, head) = open_get(port, &sid);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    drop(first);
    let (mut again, head) = open_get(port, &sid);
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n"),
        "the stream again: {head}"
    );
    // A GET while that one is open and read: still one at a time.
    let (_, head) = open_get(port, &sid);
    assert!(head.starts_with("HTTP/1.1 409 "), "{head}");
    // The stream that held on still works: it ends at the session's end.
    let a = http(
        port,
        &format!("DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{sid}Connection: close\r\n\r\n"),
    );
    assert_eq!(status_of(&a), 204, "{a}");
    let rest = read_all(&mut again);
    assert!(rest.ends_with("0\r\n\r\n"), "{rest:?}");
}

#[test]
fn a_failed_initialize_does_not_keep_its_session() {
    // Before, an initialize the upstream refused still left its session in
    // the table until --session-idle (30 min by default): a client retrying
    // against an upstream that was down filled --max-sessions, and once the
    // upstream was back every client got 503 "busy".
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let up = {
        let down = std::sync::Arc::clone(&down);
        Server::start(move |seen| {
            let v = seen.json().unwrap_or_default();
            if v["method"] == "initialize" && down.load(std::sync::atomic::Ordering::SeqCst) {
                return Reply::json(503, r#"{"message":"warming up"}"#);
            }
            standard_reply(seen)
        })
    };
    let (_p, port) = start_serve(&up.url(), &["--max-sessions", "2"]);
    let mut failed = Vec::new();
    for _ in 0..3 {
        let a = http(port, &mcp_post(INIT, ""));
        assert_eq!(status_of(&a), 200, "{a}");
        let m = sse_messages(&a);
        assert_eq!((m.len(), m[0]["id"].as_i64()), (1, Some(1)), "{a}");
        assert!(m[0]["error"].is_object(), "the initialize failed: {a}");
        failed.extend(header_of(&a, "mcp-session-id").map(str::to_owned));
    }
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    let sid = session(port);
    let a = http(
        port,
        &mcp_post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, &sid),
    );
    assert_eq!(sse_messages(&a)[0]["id"], 2, "{a}");
    for id in failed {
        let a = http(
            port,
            &mcp_post(
                r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
                &format!("Mcp-Session-Id: {id}\r\n"),
            ),
        );
        assert_eq!(
            status_of(&a),
            404,
            "a failed initialize's session is gone: {a}"
        );
    }
}

#[test]
fn smuggling_shapes_are_refused_and_pipelined_answers_keep_their_order() {
    // What held up, kept: every request-framing ambiguity of RFC 9112 §6.3
    // is refused and ends the connection, so nothing after it is read as a
    // request; and on one kept-alive connection a streamed POST, a probe and
    // a second POST sent in one write are answered whole and in order.
    let up = Server::start(|seen| {
        let v = seen.json().unwrap_or_default();
        if v["method"] == "tools/call" {
            let r = rpc_result(&v["id"], json!({"content": []}));
            return Reply::sse().sleep(300).message(&r).finish();
        }
        standard_reply(seen)
    });
    let (_p, port) = start_serve(&up.url(), &[]);
    let smuggled = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for framing in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length : 5\r\n",
        "Content-Length: +5\r\n",
        "Transfer-Encoding: chunked\r\n",
        "X: a\r\n folded\r\nContent-Length: 5\r\n",
    ] {
        let a = http(
            port,
            &format!("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n0\r\n\r\n{smuggled}"),
        );
        assert!(
            matches!(status_of(&a), 400 | 411) && a.matches("HTTP/1.1").count() == 1,
            "{framing:?}: {a}"
        );
    }
    let sid = session(port);
    let call = r#"{"jsonrpc":"2.0","id":"first","method":"tools/call","params":{"name":"t","arguments":{}}}"#;
    let ping = r#"{"jsonrpc":"2.0","id":"third","method":"ping"}"#;
    let keep = mcp_post(call, &sid).replace("Connection: close\r\n", "");
    let all = format!(
        "{keep}GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n{}",
        mcp_post(ping, &sid)
    );
    let mut s = connect(port);
    s.write_all(all.as_bytes()).unwrap();
    let a = read_all(&mut s);
    let first = a.find(r#""id":"first""#).expect(&a);
    let ok = a.find("\r\n\r\nok\n").expect(&a);
    let third = a.find(r#""id":"third""#).expect(&a);
    assert!(first < ok && ok < third, "{a}");
    assert_eq!(a.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{a}");
    assert_eq!(
        a.matches("\r\n0\r\n\r\n").count(),
        2,
        "both streams end: {a}"
    );
}

#[test]
fn an_http_1_0_client_gets_its_stream_without_chunked_coding() {
    // RFC 9112 §6.1: a server must not send chunked transfer coding to a
    // client that did not say HTTP/1.1. Before, an HTTP/1.0 POST got chunk
    // sizes inside its event stream; now the stream ends with the
    // connection.
    let up = Server::start(standard_reply);
    let (_p, port) = start_serve(&up.url(), &[]);
    let sid = session(port);
    let body = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let request = mcp_post(body, &sid).replacen("HTTP/1.1", "HTTP/1.0", 1);
    let a = http(port, &request);
    assert_eq!(status_of(&a), 200, "{a}");
    assert_eq!(header_of(&a, "transfer-encoding"), None, "{a}");
    assert_eq!(header_of(&a, "connection"), Some("close"), "{a}");
    let (_, events) = a.split_once("\r\n\r\n").unwrap();
    assert_eq!(
        events,
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"method\":\"tools/list\"}}\n\n",
        "{a}"
    );
}

/// `serve` for `up` listening on the Unix socket `path`, with `args`.
#[cfg(unix)]
fn start_unix_serve(up: &Server, path: &std::path::Path, args: &[&str]) -> support::Proxy {
    let listen = format!("unix:{}", path.display());
    support::Proxy::builder(&up.url())
        .subcommand("serve")
        .args(&["--listen", &listen])
        .args(args)
        .no_stdout_reader()
        .start()
}

#[cfg(unix)]
#[test]
fn a_unix_socket_in_use_is_refused_and_each_run_removes_its_own_file() {
    // Before, a second serve at the same socket path took the file over:
    // the first could no longer wake its own accept and never exited at
    // SIGTERM. And a serve that exited left its socket file behind (the
    // signal handler held the listener, so its drop never ran).
    let up = Server::start(standard_reply);
    let dir = support::TempDir::new("serve-unix");
    let path = dir.path().join("s.sock");
    let mut first = start_unix_serve(&up, &path, &[]);
    first.stderr_containing("listening on unix:", Duration::from_secs(20));
    let mut second = start_unix_serve(&up, &path, &[]);
    let status = second
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the second serve runs; stderr:\n{}", second.stderr()));
    assert_eq!(status.code(), Some(1), "{}", second.stderr());
    assert!(
        second.stderr().contains("another process listens"),
        "{}",
        second.stderr()
    );
    let mut c = std::os::unix::net::UnixStream::connect(&path).expect("the first still listens");
    c.set_read_timeout(Some(support::ANSWER_WAIT)).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut a = String::new();
    let _ = std::io::Read::read_to_string(&mut c, &mut a);
    assert_eq!(status_of(&a), 200, "{a}");
    signal(&first, "-TERM");
    assert_exits_0_after_the_signal(&mut first);
    assert!(!path.exists(), "the socket file is removed at exit");
}

#[cfg(unix)]
#[test]
fn sigterm_ends_a_unix_socket_serve_whose_socket_file_was_removed() {
    // Before, the drain waited for the accept loop, which shutdown wakes by
    // connecting to the socket file: with the file gone it never woke, and
    // the process ran on after SIGTERM.
    let up = Server::start(standard_reply);
    let dir = support::TempDir::new("serve-unix-gone");
    let path = dir.path().join("s.sock");
    let mut p = start_unix_serve(&up, &path, &["--drain-timeout", "1"]);
    p.stderr_containing("listening on unix:", Duration::from_secs(20));
    std::fs::remove_file(&path).expect("removing the socket file");
    signal(&p, "-TERM");
    assert_exits_0_after_the_signal(&mut p);
}
