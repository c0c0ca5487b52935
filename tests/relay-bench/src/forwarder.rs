//! A delaying TCP forwarder on 127.0.0.1, to stand in for the network between a
//! proxy and a remote MCP server: every byte is held `delay` in each direction
//! (order kept, no bandwidth limit), and a new connection's first bytes wait one
//! extra round trip, the TCP handshake the kernel completes at once on loopback.
//! So a call on a kept connection costs one round trip (2 × delay), a call on a
//! new TLS 1.3 connection three (handshake, TLS, request). It counts the
//! connections it accepts: what a connection-pooling proxy keeps low.
//! Refuses: looking at the bytes (TLS passes through untouched).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A running forwarder.
pub struct Forwarder {
    /// Where clients connect.
    pub addr: SocketAddr,
    connections: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Forwarder {
    /// Forwards 127.0.0.1:(ephemeral) to `target`, `delay` each way.
    pub fn start(target: SocketAddr, delay: Duration) -> io::Result<Forwarder> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (Arc::clone(&connections), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = conn else { continue };
                c.fetch_add(1, Ordering::Relaxed);
                let accepted = Instant::now();
                thread::spawn(move || {
                    let Ok(server) = TcpStream::connect(target) else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                        return;
                    };
                    // The handshake's round trip, then the one-way delay: the
                    // client's first bytes arrive no earlier than 3 × delay
                    // after the connection was made.
                    let first = accepted + 3 * delay;
                    thread::spawn(move || pump(client, s2, delay, Some(first)));
                    pump(server, c2, delay, None);
                });
            }
        });
        Ok(Forwarder {
            addr,
            connections,
            stop,
        })
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies `from` to `to`, each chunk held until `delay` after it was read (and
/// not before `not_before`); at the end of `from`, shuts `to` for writing.
fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration, not_before: Option<Instant>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        for (due, bytes) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut due = Instant::now() + delay;
                if let Some(nb) = not_before {
                    due = due.max(nb);
                }
                if tx.send((due, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}
