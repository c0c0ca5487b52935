//! The HTTP client (`src/http.rs`, the only module that talks to ureq and
//! rustls) over real sockets: the one test server of `support/` on
//! 127.0.0.1. What needs no socket is unit-tested in src/ with the in-memory
//! transport.

mod support;

use std::time::Duration;

use mcp_sigv4::http::{Client, ClientSettings, ErrorKind, Method, RequestTimeouts, TlsRoots};
use support::{Reply, Server, closed_port};

fn client() -> Client {
    Client::new(
        ClientSettings {
            connect: Duration::from_secs(5),
            write: Duration::from_secs(5),
            max_body: 1 << 20,
            max_header: mcp_sigv4::http::DEFAULT_MAX_HEADER,
            env_proxy: false,
        },
        &TlsRoots::builtin(),
    )
}

fn timeouts() -> RequestTimeouts {
    RequestTimeouts {
        response: Duration::from_secs(5),
        per_read: Some(Duration::from_secs(5)),
        total: Some(Duration::from_secs(10)),
    }
}

#[test]
fn sends_exactly_the_given_headers_and_reads_any_status() {
    let server = Server::start(|seen| {
        Reply::json(418, format!("{{\"echo\":{:?}}}", seen.text()))
            .header("x-amzn-RequestId", "r-1")
    });
    let url = format!("{}/mcp?a=1", server.base());
    let mut r = client()
        .send(
            Method::Post,
            &url,
            &[("host", "example"), ("x-test", "1")],
            b"hello",
            timeouts(),
        )
        .unwrap();
    assert_eq!(r.status, 418);
    assert_eq!(r.header("x-amzn-requestid"), Some("r-1"));
    assert_eq!(r.media_type().as_deref(), Some("application/json"));
    assert_eq!(r.read_body(100).unwrap(), br#"{"echo":"hello"}"#);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/mcp?a=1");
    assert_eq!(seen[0].header("host"), Some("example"));
    assert_eq!(seen[0].header("x-test"), Some("1"));
    let names: Vec<&str> = seen[0].headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["content-length", "user-agent", "host", "x-test"]);
}

#[test]
fn bodies_past_the_limit_are_refused() {
    let server = Server::start(|_| Reply::json(200, vec![b'x'; 1000]));
    let mut r = client()
        .send(Method::Get, &server.base(), &[], b"", timeouts())
        .unwrap();
    let e = r.read_body(999).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge);
}

#[test]
fn shutdown_interrupts_a_blocked_read_of_a_dedicated_client_only() {
    let server = Server::start(|seen| {
        if seen.target == "/slow" {
            std::thread::sleep(Duration::from_secs(3));
        }
        Reply::json(200, "{}")
    });
    let shared = client();
    let own = shared.dedicated();
    let url = format!("{}/slow", server.base());
    let worker = {
        let own = own.clone();
        std::thread::spawn(move || own.send(Method::Get, &url, &[], b"", timeouts()))
    };
    std::thread::sleep(Duration::from_millis(300));
    own.shutdown();
    // Not interrupted, the read would get the 200 after 3 s (the timeouts
    // allow 5 s): the error is the shutdown's.
    assert!(worker.join().unwrap().is_err());
    // The shared client still works.
    let mut r = shared
        .send(Method::Get, &server.base(), &[], b"", timeouts())
        .unwrap();
    assert_eq!(r.read_body(10).unwrap(), b"{}");
}

#[test]
fn a_closed_port_is_a_connect_error() {
    let e = client()
        .send(
            Method::Get,
            &format!("http://127.0.0.1:{}/", closed_port()),
            &[],
            b"",
            timeouts(),
        )
        .unwrap_err();
    assert!(e.before_send(), "{e:?}");
}

#[test]
fn a_body_that_stalls_is_a_timeout_and_oversized_headers_are_too_large() {
    let server = Server::start(|seen| {
        if seen.target.ends_with("/big-head") {
            return Reply::json(200, "{}").header("x-pad", &"h".repeat(100 << 10));
        }
        Reply::streamed("application/json")
            .content_length(100)
            .bytes(b"{\"partial\":")
            .hold(5000)
    });
    let quick = RequestTimeouts {
        response: Duration::from_secs(5),
        per_read: Some(Duration::from_millis(300)),
        total: Some(Duration::from_secs(10)),
    };
    let mut r = client()
        .send(Method::Get, &server.url(), &[], b"", quick)
        .unwrap();
    let e = r.read_body(1000).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    let url = format!("{}/big-head", server.base());
    let e = client()
        .send(Method::Get, &url, &[], b"", timeouts())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooLarge, "{e}");
    assert_eq!(e.detail, "response headers larger than 65536 bytes");
}
