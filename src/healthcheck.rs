//! `mcp-sigv4 healthcheck`: asks a `serve` on this machine whether it is
//! healthy, for container health checks that cannot run a shell or `curl`
//! (the image is `FROM scratch`): an ECS `healthCheck`, a Kubernetes `exec`
//! probe, a Docker `HEALTHCHECK`.
//!
//! Owns: reading the target ([`Target`]: `http://` to a loopback address or
//! `localhost`, or `unix:/path` with a request path), one `GET` over one
//! connection with `Connection: close`, bounded in time (one deadline for
//! connect, write and read) and in bytes ([`MAX_ANSWER`]), the answer's status
//! line and headers read with httparse, and the one line that says what was
//! seen and what to do ([`Report`]).
//! Refuses: any host but loopback (it is a local probe, not an HTTP client),
//! `https://`, user information, a query, headers of the caller's, proxies
//! (`HTTP_PROXY` is never read), redirects, and resolving names (`localhost`
//! is 127.0.0.1).
//!
//! Why not `ureq`, the crate's HTTP client: it honours the proxy variables,
//! speaks no Unix sockets without its unversioned transport API, and its
//! timeouts are per phase; this is one request line to our own server, and
//! httparse (which `serve` reads requests with) reads the answer.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::text::clean;
use crate::url::{Host, Scheme, Url};

/// The target when none is given: `serve`'s default `--listen` and its
/// readiness probe.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/readyz";

/// The request path on a Unix socket when `--path` is not given.
pub const DEFAULT_PATH: &str = "/readyz";

/// The default `--timeout`: 3 s, under the 5 s ECS gives a health check by
/// default (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html>).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// The most bytes of the answer read, head and body (4 KiB); the rest is
/// never read.
pub const MAX_ANSWER: usize = 4 << 10;

/// The most characters of the answer's body shown in the line.
const MAX_SHOWN: usize = 300;

/// Where to send the `GET`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Plain HTTP to a loopback address.
    Tcp {
        /// The address connected to (`localhost` is 127.0.0.1).
        addr: SocketAddr,
        /// The `Host` header: the URL's host and port as written.
        host: String,
        /// The request path, starting with `/`.
        path: String,
    },
    /// HTTP over a Unix socket file.
    #[cfg(unix)]
    Unix {
        /// The socket file.
        socket: std::path::PathBuf,
        /// The request path, starting with `/`.
        path: String,
    },
}

impl Target {
    /// Reads the target as typed: `text` is `http://HOST[:PORT][/PATH]`
    /// (HOST `127.0.0.0/8`, `[::1]` or `localhost`; PORT 80 when left out;
    /// PATH `/` when left out) or `unix:/path/to/socket`; `path` (`--path`) is
    /// the request path for a Unix socket, [`DEFAULT_PATH`] when `None`.
    ///
    /// # Errors
    /// What was expected and what was found, for another scheme or host,
    /// user information, a query, a path that is not printable ASCII
    /// starting with `/`, `--path` with an `http://` URL, or `unix:` on a
    /// system without Unix sockets. A URL holding user information is not
    /// echoed.
    pub fn parse(text: &str, path: Option<&str>) -> Result<Target, String> {
        const EXPECTED: &str =
            "expected http://127.0.0.1:PORT/readyz (or [::1], localhost) or unix:/path/to/socket";
        if let Some(socket) = text.strip_prefix("unix:") {
            let path = request_path(path.unwrap_or(DEFAULT_PATH), "--path")?;
            #[cfg(unix)]
            if !socket.is_empty() {
                return Ok(Target::Unix {
                    socket: socket.into(),
                    path,
                });
            }
            let _ = (socket, path);
            return Err(if cfg!(unix) {
                format!("{EXPECTED}, found {text:?}")
            } else {
                format!(
                    "{text:?}: Unix sockets are not supported on this system; expected http://127.0.0.1:PORT/readyz"
                )
            });
        }
        let url = Url::parse(text).map_err(|e| format!("{e}; {EXPECTED}"))?;
        if url.scheme == Scheme::Https {
            return Err(format!(
                "{text:?}: serve speaks plain HTTP, and healthcheck asks only a serve on this machine; {EXPECTED}"
            ));
        }
        let ip = match &url.host {
            Host::Name(n) if n == "localhost" => Ipv4Addr::LOCALHOST.into(),
            host => match host.ip() {
                Some(ip) if ip.is_loopback() => ip,
                _ => {
                    return Err(format!(
                        "refusing {}: healthcheck asks only a serve on this machine (a loopback address; names other than localhost are not resolved); {EXPECTED}",
                        url.host
                    ));
                }
            },
        };
        if path.is_some() {
            return Err(format!(
                "--path is for a unix: socket; put the path in the URL, found {text:?}"
            ));
        }
        if url.query.is_some() {
            return Err(format!(
                "{text:?}: expected no query (serve's probes take none)"
            ));
        }
        let path = if url.path.is_empty() {
            "/".to_owned()
        } else {
            request_path(&url.path, "the URL's path")?
        };
        Ok(Target::Tcp {
            addr: SocketAddr::new(ip, url.port.unwrap_or(80)),
            host: url.authority(),
            path,
        })
    }
}

/// `path` when it starts with `/` and is printable ASCII without spaces, so
/// that it cannot change the request line.
fn request_path(path: &str, what: &str) -> Result<String, String> {
    if path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic() && b != b'?') {
        Ok(path.to_owned())
    } else {
        Err(format!(
            "{what}: expected a path such as /readyz or /healthz (printable ASCII, no spaces or query), found {path:?}"
        ))
    }
}

impl std::fmt::Display for Target {
    /// `http://127.0.0.1:8080/readyz`, or `unix:/run/mcp.sock (path /readyz)`
    /// as `serve` names its Unix listener.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp { host, path, .. } => write!(f, "http://{host}{path}"),
            #[cfg(unix)]
            Target::Unix { socket, path } => {
                write!(f, "unix:{} (path {path})", socket.display())
            }
        }
    }
}

/// What the check saw.
#[derive(Debug)]
pub enum Seen {
    /// An answer: its status and the start of its body.
    Answer {
        /// The HTTP status code.
        status: u16,
        /// The body as far as read (at most [`MAX_ANSWER`] bytes with the
        /// head), cleaned of control characters and cut for showing.
        body: String,
    },
    /// No answer within the timeout (connecting, sending or reading).
    TimedOut(Duration),
    /// Nothing listens there (connection refused, or no socket file).
    NotListening(io::Error),
    /// The connection failed otherwise, or closed before a whole head.
    Failed(io::Error),
    /// Bytes that are not an HTTP/1.x answer, or a head longer than
    /// [`MAX_ANSWER`].
    NotHttp,
}

/// The outcome of [`check`]: the target and what was seen.
#[derive(Debug)]
pub struct Report {
    /// What was asked.
    pub target: Target,
    /// What came back.
    pub seen: Seen,
}

impl Report {
    /// True for a 2xx answer.
    pub fn healthy(&self) -> bool {
        matches!(self.seen, Seen::Answer { status, .. } if (200..300).contains(&status))
    }

    /// The process's exit code: 0 when [`healthy`](Self::healthy), else 1
    /// (Docker's `HEALTHCHECK` reserves 2,
    /// <https://docs.docker.com/reference/dockerfile/#healthcheck>).
    pub fn exit_code(&self) -> u8 {
        if self.healthy() { 0 } else { 1 }
    }

    /// One line (without its newline) saying what was seen and, when not
    /// healthy, what to do:
    /// `mcp-sigv4 healthcheck: http://127.0.0.1:8080/readyz: 200 ready`.
    pub fn line(&self) -> String {
        let target = &self.target;
        let listen = match target {
            Target::Tcp { addr, .. } => format!("--listen {addr}"),
            #[cfg(unix)]
            Target::Unix { socket, .. } => format!("--listen unix:{}", socket.display()),
        };
        let said = match &self.seen {
            Seen::Answer { status, body } if (200..300).contains(status) => {
                format!("{status} {body}").trim_end().to_owned()
            }
            Seen::Answer { status: 503, body } => format!(
                "503 {body}: serve runs but cannot relay yet; fix what the reason names (with --token-file the reason is in serve's log at --log-level debug)"
            ),
            Seen::Answer { status: 404, body } => format!(
                "404 {body}: expected serve's /readyz or /healthz; is this mcp-sigv4 serve?"
            ),
            Seen::Answer { status, body } => format!("{status} {body}: expected a 2xx status"),
            Seen::TimedOut(t) => format!(
                "no answer within {} s (--timeout): serve is stuck or overloaded; see its log",
                t.as_secs_f64()
            ),
            Seen::NotListening(e) => format!(
                "{}: nothing listens there; is serve running with {listen}?",
                io_text(e)
            ),
            Seen::Failed(e) if e.kind() == io::ErrorKind::PermissionDenied => format!(
                "{}: serve's Unix socket is mode 0600; run healthcheck as serve's user",
                io_text(e)
            ),
            Seen::Failed(e) => format!("{}: see serve's log", io_text(e)),
            Seen::NotHttp => {
                "the answer is not HTTP/1.1 (or its head is over 4 KiB); is this mcp-sigv4 serve?"
                    .to_owned()
            }
        };
        format!("mcp-sigv4 healthcheck: {target}: {said}")
    }
}

/// The operating system's message without its `(os error N)` suffix or the
/// full stop Windows ends its messages with.
fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(at) => &text[..at],
        None => &text,
    };
    clean(&text.trim_end_matches('.').to_lowercase(), MAX_SHOWN)
}

/// One `GET` of `target`, all of it (connect, send, read) within `timeout`.
///
/// The exchange runs on a thread of its own and the caller waits at most
/// `timeout` for it: a connect that the operating system would let block
/// (a Unix socket whose backlog is full) cannot hold the check up. A thread
/// still blocked then is left behind; the process is about to exit.
pub fn check(target: Target, timeout: Duration) -> Report {
    let (tx, rx) = std::sync::mpsc::channel();
    let deadline = Instant::now() + timeout;
    let asked = target.clone();
    let spawned = std::thread::Builder::new()
        .name("healthcheck".into())
        .spawn(move || {
            let _ = tx.send(exchange(&asked, deadline, timeout));
        });
    let seen = match spawned {
        Err(e) => Seen::Failed(e),
        Ok(_) => rx
            .recv_timeout(timeout + Duration::from_millis(50))
            .unwrap_or(Seen::TimedOut(timeout)),
    };
    Report { target, seen }
}

/// A connection of either kind, with its timeouts.
enum Conn {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Conn {
    fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
            #[cfg(unix)]
            Conn::Unix(s) => {
                s.set_read_timeout(Some(t))?;
                s.set_write_timeout(Some(t))
            }
        }
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Tcp(s) => s,
            #[cfg(unix)]
            Conn::Unix(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The time left before `deadline`, or `None` when it has passed.
fn left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

fn exchange(target: &Target, deadline: Instant, timeout: Duration) -> Seen {
    let timed_out = || Seen::TimedOut(timeout);
    let Some(first) = left(deadline) else {
        return timed_out();
    };
    let connected = match target {
        Target::Tcp { addr, .. } => TcpStream::connect_timeout(addr, first).map(Conn::Tcp),
        #[cfg(unix)]
        Target::Unix { socket, .. } => {
            std::os::unix::net::UnixStream::connect(socket).map(Conn::Unix)
        }
    };
    let mut conn = match connected {
        Ok(c) => c,
        Err(e) if crate::http::is_timeout(&e) => return timed_out(),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) =>
        {
            return Seen::NotListening(e);
        }
        Err(e) => return Seen::Failed(e),
    };
    let (host, path) = match target {
        Target::Tcp { host, path, .. } => (host.as_str(), path.as_str()),
        #[cfg(unix)]
        Target::Unix { path, .. } => ("localhost", path.as_str()),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mcp-sigv4-healthcheck\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    );
    let Some(t) = left(deadline) else {
        return timed_out();
    };
    let sent = conn
        .set_timeouts(t)
        .and_then(|()| conn.stream().write_all(request.as_bytes()));
    match sent {
        Ok(()) => {}
        Err(e) if crate::http::is_timeout(&e) => return timed_out(),
        Err(e) => return Seen::Failed(e),
    }
    let mut buf = vec![0u8; MAX_ANSWER];
    let mut len = 0;
    loop {
        if let Some(seen) = answer(&buf[..len], len == MAX_ANSWER) {
            return seen;
        }
        let Some(t) = left(deadline) else {
            return timed_out();
        };
        if let Err(e) = conn.set_timeouts(t) {
            return Seen::Failed(e);
        }
        match conn.stream().read(&mut buf[len..]) {
            Ok(0) => {
                return answer(&buf[..len], true).unwrap_or_else(|| {
                    Seen::Failed(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection closed before a whole answer",
                    ))
                });
            }
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if crate::http::is_timeout(&e) => return timed_out(),
            Err(e) => return Seen::Failed(e),
        }
    }
}

/// The answer in `bytes` once its head is whole and its body is whole (by
/// `Content-Length`) or `ended` (the connection closed, or [`MAX_ANSWER`]
/// read); `None` while more may come. A head that is not HTTP is
/// [`Seen::NotHttp`].
fn answer(bytes: &[u8], ended: bool) -> Option<Seen> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut headers);
    let head = match r.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if !ended => return None,
        Ok(httparse::Status::Partial) if bytes.is_empty() => return None,
        Ok(httparse::Status::Partial) | Err(_) => return Some(Seen::NotHttp),
    };
    let status = r.code?;
    let length = r
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| {
            std::str::from_utf8(h.value)
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        });
    let chunked = r.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            && h.value.to_ascii_lowercase().ends_with(b"chunked")
    });
    let body = &bytes[head..];
    let whole = length.is_some_and(|n| body.len() >= n);
    if !(whole || ended) {
        return None;
    }
    let body = match length {
        Some(n) => &body[..n.min(body.len())],
        None => body,
    };
    // A chunked body is shown from its first chunk: the size line dropped.
    let body = match chunked {
        true => body
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body, |at| &body[at + 1..]),
        false => body,
    };
    Some(Seen::Answer {
        status,
        body: clean(&String::from_utf8_lossy(body), MAX_SHOWN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse(DEFAULT_URL, None).unwrap();
        assert_eq!(
            t,
            Target::Tcp {
                addr: "127.0.0.1:8080".parse().unwrap(),
                host: "127.0.0.1:8080".into(),
                path: "/readyz".into(),
            }
        );
        assert_eq!(t.to_string(), DEFAULT_URL);
        let t = Target::parse("http://localhost:9/healthz", None).unwrap();
        assert!(
            matches!(&t, Target::Tcp { addr, host, .. } if *addr == "127.0.0.1:9".parse().unwrap() && host == "localhost:9")
        );
        let t = Target::parse("http://[::1]/", None).unwrap();
        assert!(matches!(&t, Target::Tcp { addr, .. } if *addr == "[::1]:80".parse().unwrap()));
        assert!(Target::parse("http://127.0.0.2:1", None).is_ok());
        for (bad, says) in [
            ("http://192.0.2.1:8080/readyz", "refusing 192.0.2.1"),
            ("http://example.com/readyz", "refusing example.com"),
            ("http://0.0.0.0:8080/readyz", "refusing 0.0.0.0"),
            ("https://127.0.0.1:8080/readyz", "plain HTTP"),
            ("http://u:secret-pw@127.0.0.1/", "user information"),
            ("http://127.0.0.1:1/readyz?x=1", "no query"),
            ("ftp://127.0.0.1/", "scheme"),
            ("127.0.0.1:8080", "expected"),
            ("unix:", "expected"),
        ] {
            let e = Target::parse(bad, None).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains("secret-pw"), "{e}");
        }
        let e = Target::parse("http://127.0.0.1:1/a", Some("/b")).unwrap_err();
        assert!(e.contains("--path"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn unix_targets() {
        let t = Target::parse("unix:/run/m.sock", None).unwrap();
        assert_eq!(t.to_string(), "unix:/run/m.sock (path /readyz)");
        let t = Target::parse("unix:/run/m.sock", Some("/healthz")).unwrap();
        assert_eq!(t.to_string(), "unix:/run/m.sock (path /healthz)");
        for bad in ["healthz", "/a b", "/x?y"] {
            let e = Target::parse("unix:/s", Some(bad)).unwrap_err();
            assert!(e.contains("--path"), "{e}");
        }
    }

    #[test]
    fn answers() {
        let ok = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n", false);
        assert!(matches!(ok, Some(Seen::Answer { status: 200, ref body }) if body == "ok"));
        assert!(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok\n", false).is_none());
        assert!(answer(b"HTTP/1.1 200 OK\r\nContent-Le", false).is_none());
        let cut = answer(b"HTTP/1.1 503 x\r\n\r\nnot \x1b[31mready", true);
        assert!(
            matches!(cut, Some(Seen::Answer { status: 503, ref body }) if body == "not  [31mready")
        );
        let chunked = answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nready\n\r\n0\r\n\r\n",
            true,
        );
        assert!(
            matches!(chunked, Some(Seen::Answer { status: 200, ref body }) if body.starts_with("ready"))
        );
        assert!(matches!(
            answer(b"SSH-2.0-OpenSSH\r\n", true),
            Some(Seen::NotHttp)
        ));
        assert!(matches!(
            answer(b"HTTP/1.1 200 OK\r\nX: y", true),
            Some(Seen::NotHttp)
        ));
    }

    #[test]
    fn lines_say_what_was_seen_and_what_to_do() {
        let target = Target::parse(DEFAULT_URL, None).unwrap();
        let report = |seen| Report {
            target: target.clone(),
            seen,
        };
        let r = report(Seen::Answer {
            status: 200,
            body: "ready".into(),
        });
        assert_eq!(
            (r.exit_code(), r.line().as_str()),
            (
                0,
                "mcp-sigv4 healthcheck: http://127.0.0.1:8080/readyz: 200 ready"
            )
        );
        let r = report(Seen::NotListening(io::Error::from(
            io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(r.exit_code(), 1);
        assert!(r.line().contains("--listen 127.0.0.1:8080"), "{}", r.line());
        let r = report(Seen::TimedOut(Duration::from_millis(2500)));
        assert!(r.line().contains("within 2.5 s"), "{}", r.line());
        let r = report(Seen::Answer {
            status: 204,
            body: String::new(),
        });
        assert!(r.line().ends_with("/readyz: 204"), "{:?}", r.line());
        let r = report(Seen::Answer {
            status: 301,
            body: String::new(),
        });
        assert_eq!(r.exit_code(), 1);
    }
}
