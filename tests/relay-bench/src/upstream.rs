//! The MCP upstream the proxies talk to: MCP Streamable HTTP (spec revision
//! 2025-06-18, "Transports" §Streamable HTTP,
//! <https://modelcontextprotocol.io/specification/2025-06-18/basic/transports>)
//! on 127.0.0.1, plain or TLS, one thread per connection, keep-alive. It answers
//! `initialize` (with an `Mcp-Session-Id`), `ping`, `tools/list` and
//! `tools/call` for two tools — `echo` (returns its `text`) and `big` (returns a
//! text of `bytes` bytes, 16 MiB by default, as JSON or as one SSE event) — takes
//! notifications and responses with `202`, refuses `GET` with `405` (no
//! server-initiated stream) and ends a session on `DELETE`.
//!
//! It is written to be cheap, so the bench measures the proxies: the `big` text
//! is built and JSON-escaped once, requests are parsed once with serde_json.
//! It counts connections and checks that every request from a proxy carries a
//! SigV4 `Authorization` header for the bench's access key (the baseline client
//! marks its own requests with `x-bench-direct`).
//! Refuses: recomputing signatures (the interop suite does that with botocore).

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use serde_json::Value;

use crate::http1;

/// The access key id the bench gives both proxies.
pub const ACCESS_KEY_ID: &str = "AKIDRELAYBENCH";

/// Default size of the `big` tool's text: 16 MiB.
pub const BIG_BYTES: usize = 16 * 1024 * 1024;

/// A byte stream the upstream can serve: a TCP socket or TLS over one.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// What the upstream has seen, for the report.
#[derive(Default)]
pub struct Counters {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// POSTs from a proxy with a SigV4 Authorization for [`ACCESS_KEY_ID`].
    pub signed: AtomicU64,
    /// POSTs from a proxy without one (the bench fails if any).
    pub unsigned: AtomicU64,
}

/// A running upstream.
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its counters.
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    /// Starts an upstream on 127.0.0.1 (an ephemeral port); TLS when `tls` is given.
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>) -> io::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let big = Arc::new(BigText::new(BIG_BYTES));
        let (c, s) = (Arc::clone(&counters), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                c.connections.fetch_add(1, Ordering::Relaxed);
                let _ = conn.set_nodelay(true);
                let (c, big, tls) = (Arc::clone(&c), Arc::clone(&big), tls.clone());
                thread::spawn(move || {
                    let stream: Box<dyn Stream> = match tls {
                        Some(cfg) => match rustls::ServerConnection::new(cfg) {
                            Ok(sc) => Box::new(rustls::StreamOwned::new(sc, conn)),
                            Err(_) => return,
                        },
                        None => Box::new(conn),
                    };
                    let _ = serve(stream, &c, &big);
                });
            }
        });
        Ok(Upstream {
            addr,
            counters,
            stop,
        })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// The `big` tool's text, JSON-escaped once (without the quotes).
struct BigText {
    escaped: Vec<u8>,
    raw_len: usize,
}

impl BigText {
    fn new(len: usize) -> BigText {
        // Log-like lines, so the JSON carries escapes (`\n`, `\"`) as real
        // tool output does.
        let mut raw = String::with_capacity(len + 128);
        let mut i = 0u64;
        while raw.len() < len {
            raw.push_str(&format!(
                "{i:08} \"relay bench\" line: the quick brown fox jumps over the lazy dog\n"
            ));
            i += 1;
        }
        raw.truncate(len);
        let quoted = serde_json::to_string(&raw).expect("a string serializes");
        BigText {
            escaped: quoted.as_bytes()[1..quoted.len() - 1].to_vec(),
            raw_len: len,
        }
    }

    /// The escaped prefix holding the first `n` raw bytes (the text is ASCII, and
    /// each raw byte is one or two escaped bytes; cut at a character boundary).
    fn prefix(&self, n: usize) -> &[u8] {
        if n >= self.raw_len {
            return &self.escaped;
        }
        let mut raw = 0;
        let mut at = 0;
        while raw < n && at < self.escaped.len() {
            at += if self.escaped[at] == b'\\' { 2 } else { 1 };
            raw += 1;
        }
        &self.escaped[..at]
    }
}

fn serve(stream: Box<dyn Stream>, counters: &Counters, big: &BigText) -> io::Result<()> {
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    let mut session = 0u64;
    while let Some(req) = http1::read_message(&mut r, false)? {
        let w = r.get_mut();
        match req.method() {
            "POST" => {}
            "GET" => {
                http1::write_response(
                    w,
                    "405 Method Not Allowed",
                    &[("allow", "POST, DELETE")],
                    &[],
                )?;
                continue;
            }
            "DELETE" => {
                http1::write_response(w, "200 OK", &[], &[])?;
                continue;
            }
            _ => {
                http1::write_response(w, "405 Method Not Allowed", &[], &[])?;
                continue;
            }
        }
        if req.header("x-bench-direct").is_none() {
            let signed = req.header("authorization").is_some_and(|a| {
                (a.starts_with("AWS4-HMAC-SHA256 ") || a.starts_with("AWS4-ECDSA-P256-SHA256 "))
                    && a.contains(&format!("Credential={ACCESS_KEY_ID}/"))
            }) && req.header("x-amz-date").is_some();
            let counter = if signed {
                &counters.signed
            } else {
                &counters.unsigned
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let Ok(msg) = serde_json::from_slice::<Value>(&req.body) else {
            http1::write_response(w, "400 Bad Request", &[], &[b"not JSON"])?;
            continue;
        };
        let (Some(method), Some(id)) = (msg.get("method").and_then(Value::as_str), msg.get("id"))
        else {
            // A notification or a response.
            http1::write_response(w, "202 Accepted", &[], &[])?;
            continue;
        };
        let id = id.to_string();
        let json = [("content-type", "application/json")];
        match method {
            "initialize" => {
                session += 1;
                let asked = msg["params"]["protocolVersion"].as_str().unwrap_or("");
                let version = match asked {
                    "2025-03-26" | "2025-06-18" | "2025-11-25" => asked,
                    _ => "2025-06-18",
                };
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"{version}","capabilities":{{"tools":{{"listChanged":false}}}},"serverInfo":{{"name":"relay-bench-upstream","version":"0.0.0"}}}}}}"#
                );
                let sid = format!("bench-session-{session}");
                http1::write_response(
                    w,
                    "200 OK",
                    &[
                        ("content-type", "application/json"),
                        ("mcp-session-id", &sid),
                    ],
                    &[body.as_bytes()],
                )?;
            }
            "ping" => {
                let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#);
                http1::write_response(w, "200 OK", &json, &[body.as_bytes()])?;
            }
            "tools/list" => {
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"echo","description":"Returns its text.","inputSchema":{{"type":"object","properties":{{"text":{{"type":"string"}},"sse":{{"type":"boolean"}}}},"required":["text"]}}}},{{"name":"big","description":"Returns a text of the given size.","inputSchema":{{"type":"object","properties":{{"bytes":{{"type":"integer"}},"sse":{{"type":"boolean"}}}}}}}}]}}}}"#
                );
                http1::write_response(w, "200 OK", &json, &[body.as_bytes()])?;
            }
            "tools/call" => {
                let args = &msg["params"]["arguments"];
                let sse = args["sse"].as_bool().unwrap_or(false);
                let head = format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":""#
                );
                let tail: &[u8] = br#""}],"isError":false}}"#;
                let echo;
                let text: &[u8] = match msg["params"]["name"].as_str() {
                    Some("big") => {
                        let n = args["bytes"].as_u64().map_or(BIG_BYTES, |n| n as usize);
                        big.prefix(n)
                    }
                    _ => {
                        let t = args["text"].as_str().unwrap_or("");
                        let q = serde_json::to_string(t).expect("a string serializes");
                        echo = q[1..q.len() - 1].to_owned();
                        echo.as_bytes()
                    }
                };
                if sse {
                    http1::write_chunked_response(
                        w,
                        &[
                            ("content-type", "text/event-stream"),
                            ("cache-control", "no-cache"),
                        ],
                        &[
                            b"event: message\ndata: ",
                            head.as_bytes(),
                            text,
                            tail,
                            b"\n\n",
                        ],
                    )?;
                } else {
                    http1::write_response(w, "200 OK", &json, &[head.as_bytes(), text, tail])?;
                }
            }
            _ => {
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"method not found"}}}}"#
                );
                http1::write_response(w, "200 OK", &json, &[body.as_bytes()])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_text_prefix_is_valid_json_of_the_asked_size() {
        let big = BigText::new(10_000);
        for n in [0, 1, 77, 5000, 10_000, 20_000] {
            let json = format!("\"{}\"", String::from_utf8(big.prefix(n).to_vec()).unwrap());
            let s: String = serde_json::from_str(&json).unwrap();
            assert_eq!(s.len(), n.min(10_000));
        }
    }
}
