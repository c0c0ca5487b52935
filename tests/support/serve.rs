//! `mcp-sigv4 serve` under test: the built binary listening on a port it
//! picked, and a raw HTTP/1.1 client for it.
//!
//! Owns: [`start_serve`] (the binary with `serve <upstream> --listen
//! 127.0.0.1:0`, its port read from the line it logs), and [`http`], one
//! request on a new connection read until the server closes it.
//! Refuses: waiting without a bound.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::proxy::Proxy;
use super::server::POLL;

/// How long `serve` may take to start listening.
const LISTEN_WAIT: Duration = Duration::from_secs(20);

/// How long one answer may take to arrive whole.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// `serve` for `upstream` on a free loopback port, with `args` added; its
/// port.
pub fn start_serve(upstream: &str, args: &[&str]) -> (Proxy, u16) {
    start_serve_for(Proxy::builder(upstream), args)
}

/// [`start_serve`] with the proxy `builder` made (another signing name).
pub fn start_serve_for(builder: super::proxy::ProxyBuilder, args: &[&str]) -> (Proxy, u16) {
    let mut all = vec!["--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let p = builder
        .subcommand("serve")
        .args(&all)
        .no_stdout_reader()
        .start();
    let end = Instant::now() + LISTEN_WAIT;
    loop {
        let stderr = p.stderr();
        let port = stderr.lines().find_map(|l| {
            let rest = l.strip_prefix("mcp-sigv4 serve: listening on http://127.0.0.1:")?;
            rest.strip_suffix("/mcp")?.parse().ok()
        });
        if let Some(port) = port {
            return (p, port);
        }
        assert!(
            Instant::now() < end,
            "serve did not listen; stderr:\n{stderr}"
        );
        std::thread::sleep(POLL);
    }
}

/// A connection to `serve` on `port`, reads bounded by [`ANSWER_WAIT`].
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connecting to serve");
    s.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    s
}

/// Sends `request` (raw bytes of HTTP/1.1) on a new connection and reads
/// until the server closes it or [`ANSWER_WAIT`] passes.
pub fn http(port: u16, request: &str) -> String {
    let mut s = connect(port);
    s.write_all(request.as_bytes()).expect("writing to serve");
    read_all(&mut s)
}

/// Reads `s` until it closes (or its read timeout).
pub fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A POST to `/mcp` with the headers every MCP client sends, `extra` (whole
/// header lines) and `Connection: close`.
pub fn mcp_post(body: &str, extra: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The status code of an answer.
pub fn status_of(answer: &str) -> u16 {
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A header of an answer's head.
pub fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The `data` of every SSE event in an answer, parsed.
pub fn sse_messages(answer: &str) -> Vec<serde_json::Value> {
    answer
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

/// Sends `signal` (`-TERM`, `-INT`) to the process with `kill`.
pub fn signal(p: &Proxy, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([signal, &p.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(ok.success(), "kill {signal}");
}
