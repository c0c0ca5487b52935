//! The load client of the `--serve` mode: what an agent's MCP client does
//! against a local Streamable HTTP endpoint (MCP "Transports" §Streamable HTTP,
//! <https://modelcontextprotocol.io/specification/2025-06-18/basic/transports>):
//! one kept HTTP/1.1 connection, `initialize` then `notifications/initialized`,
//! `Mcp-Session-Id` and `MCP-Protocol-Version` on every later request, each
//! POST answered with JSON or an SSE stream (the answer is the event carrying
//! the request's id), `DELETE` to end the session. An optional bearer token.
//! Refuses: the GET stream and resumption (the bench's tools send neither
//! notifications nor requests to the client).

use std::io::{self, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use crate::http1;

/// One MCP session over one connection.
pub struct HttpClient {
    addr: SocketAddr,
    host: String,
    path: String,
    token: Option<String>,
    conn: Option<BufReader<TcpStream>>,
    session: Option<String>,
    next_id: u64,
}

fn other(e: String) -> io::Error {
    io::Error::other(e)
}

impl HttpClient {
    /// A client for `http://addr{path}`; connects on first use.
    pub fn new(addr: SocketAddr, path: &str, token: Option<String>) -> HttpClient {
        HttpClient {
            addr,
            host: addr.to_string(),
            path: path.to_owned(),
            token,
            conn: None,
            session: None,
            next_id: 1,
        }
    }

    fn send(&mut self, method: &str, body: &[u8]) -> io::Result<http1::Message> {
        if self.conn.is_none() {
            let tcp = TcpStream::connect(self.addr)?;
            tcp.set_nodelay(true)?;
            tcp.set_read_timeout(Some(Duration::from_secs(120)))?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, tcp));
        }
        let conn = self.conn.as_mut().expect("connected above");
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2025-06-18"),
        ];
        if let Some(s) = &self.session {
            headers.push(("mcp-session-id", s));
        }
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        http1::write_request(
            conn.get_mut(),
            method,
            &self.host,
            &self.path,
            &headers,
            body,
        )?;
        let msg = http1::read_message(conn, true)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))?;
        if msg
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            self.conn = None;
        }
        Ok(msg)
    }

    /// Sends a request and returns the JSON-RPC answer to it (from a JSON body
    /// or from the SSE event that carries its id).
    pub fn request(&mut self, method: &str, params: Value) -> io::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let body = serde_json::to_vec(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .expect("serializes");
        let msg = self.send("POST", &body)?;
        if msg.status() != 200 {
            return Err(other(format!(
                "{method}: HTTP {} {}",
                msg.status(),
                clip(&String::from_utf8_lossy(&msg.body))
            )));
        }
        if let Some(s) = msg.header("mcp-session-id") {
            self.session = Some(s.to_owned());
        }
        answer(&msg, id).map_err(|e| other(format!("{method}: {e}")))
    }

    /// `initialize` and `notifications/initialized`.
    pub fn initialize(&mut self) -> io::Result<()> {
        let v = self.request(
            "initialize",
            serde_json::json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "mcp-sigv4-relay-bench", "version": "0.0.0"}
            }),
        )?;
        if v.get("result").is_none() {
            return Err(other(format!("initialize: {}", clip(&v.to_string()))));
        }
        let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let m = self.send("POST", note)?;
        if m.status() != 202 && m.status() != 200 {
            return Err(other(format!(
                "notifications/initialized: HTTP {}",
                m.status()
            )));
        }
        Ok(())
    }

    /// One `tools/call` of `echo`; checks the text came back.
    pub fn echo(&mut self, text: &str) -> io::Result<()> {
        let v = self.request(
            "tools/call",
            serde_json::json!({"name": "echo", "arguments": {"text": text}}),
        )?;
        if v["result"]["content"][0]["text"].as_str() != Some(text) {
            return Err(other(format!(
                "echo answered with other text: {}",
                clip(&v.to_string())
            )));
        }
        Ok(())
    }

    /// Ends the session (`DELETE`); errors are ignored, the server may be
    /// gone. Dropping the client does the same, so a client that a load run
    /// drops leaves no session open behind it.
    pub fn close(self) {}
}

impl Drop for HttpClient {
    fn drop(&mut self) {
        if self.session.is_some() {
            let _ = self.send("DELETE", b"");
            self.session = None;
        }
    }
}

/// The JSON-RPC message answering `id` in a response: the JSON body, or the
/// `data` of the SSE event (text/event-stream, WHATWG HTML §9.2) that has it.
fn answer(msg: &http1::Message, id: u64) -> Result<Value, String> {
    let ctype = msg.header("content-type").unwrap_or("");
    let text = String::from_utf8_lossy(&msg.body);
    if ctype.starts_with("application/json") {
        return serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {}", clip(&text)));
    }
    if !ctype.starts_with("text/event-stream") {
        return Err(format!("content-type {ctype:?}: {}", clip(&text)));
    }
    let text = text.replace("\r\n", "\n");
    for event in text.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&data.join("\n")) else {
            continue;
        };
        if v.get("id").and_then(Value::as_u64) == Some(id) {
            return Ok(v);
        }
    }
    Err(format!("no SSE event answers id {id}: {}", clip(&text)))
}

fn clip(s: &str) -> String {
    let s = s.trim_end();
    if s.len() <= 300 {
        s.to_owned()
    } else {
        format!("{}… ({} bytes)", &s[..300], s.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_found_in_json_and_in_sse() {
        let json = http1::Message {
            start: "HTTP/1.1 200 OK".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"jsonrpc":"2.0","id":3,"result":{}}"#.to_vec(),
        };
        assert_eq!(answer(&json, 3).unwrap()["id"], 3);
        let sse = http1::Message {
            start: "HTTP/1.1 200 OK".into(),
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: b"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\n\r\nid: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n\n".to_vec(),
        };
        assert_eq!(answer(&sse, 3).unwrap()["id"], 3);
        assert!(answer(&sse, 4).is_err());
    }
}
