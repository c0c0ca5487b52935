//! The baseline: the bench calling the upstream itself over one kept HTTP/1.1
//! connection (plain or TLS), with the headers a proxy sends but no signature.
//! What a call costs here is the upstream's own time plus loopback; what a
//! proxy adds is measured against it.

use std::io::{self, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use rustls::pki_types::ServerName;

use crate::http1::{self, Message};
use crate::upstream::Stream;

/// One client connection to the upstream.
pub struct Direct {
    addr: SocketAddr,
    host: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<BufReader<Box<dyn Stream>>>,
    session: Option<String>,
}

impl Direct {
    /// A client for `addr`; TLS with `tls`. Connects on first use.
    pub fn new(addr: SocketAddr, tls: Option<Arc<rustls::ClientConfig>>) -> Direct {
        Direct {
            addr,
            host: addr.to_string(),
            tls,
            conn: None,
            session: None,
        }
    }

    fn connect(&self) -> io::Result<BufReader<Box<dyn Stream>>> {
        let tcp = TcpStream::connect(self.addr)?;
        tcp.set_nodelay(true)?;
        let stream: Box<dyn Stream> = match &self.tls {
            Some(cfg) => {
                let name = ServerName::IpAddress(self.addr.ip().into());
                let cc = rustls::ClientConnection::new(Arc::clone(cfg), name)
                    .map_err(io::Error::other)?;
                Box::new(rustls::StreamOwned::new(cc, tcp))
            }
            None => Box::new(tcp),
        };
        Ok(BufReader::with_capacity(64 * 1024, stream))
    }

    /// POSTs one JSON-RPC message and reads the answer (JSON or SSE, whole).
    pub fn post(&mut self, body: &[u8]) -> io::Result<Message> {
        if self.conn.is_none() {
            self.conn = Some(self.connect()?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let mut headers = vec![
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2025-06-18"),
            ("x-bench-direct", "1"),
        ];
        if let Some(s) = &self.session {
            headers.push(("mcp-session-id", s));
        }
        http1::write_post(conn.get_mut(), &self.host, "/mcp", &headers, body)?;
        let msg = http1::read_message(conn, true)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))?;
        if let Some(s) = msg.header("mcp-session-id") {
            self.session = Some(s.to_owned());
        }
        Ok(msg)
    }
}
