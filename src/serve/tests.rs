//! The server against an echo backend, over real loopback connections.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::relay::sink::Output;
use crate::serve::backend::Conversation;

/// Answers each request `{"echo": method}`; `slow` after 300 ms, `push`
/// also sends a notification on the GET stream.
#[derive(Default)]
struct Echo {
    opened: AtomicUsize,
    ended: Arc<AtomicUsize>,
}

struct EchoConversation {
    unsolicited: Mutex<Option<Output>>,
    ended: Arc<AtomicUsize>,
}

impl Backend for Echo {
    fn open(&self, unsolicited: Output) -> Box<dyn Conversation> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        Box::new(EchoConversation {
            unsolicited: Mutex::new(Some(unsolicited)),
            ended: Arc::clone(&self.ended),
        })
    }

    fn ready(&self) -> Result<(), String> {
        Err("credentials: none found".into())
    }
}

impl Conversation for EchoConversation {
    fn post(&self, body: Vec<u8>, answers: Output) {
        let v: Value = serde_json::from_slice(&body).unwrap();
        let items = match v {
            Value::Array(a) => a,
            one => vec![one],
        };
        let push = self.unsolicited.lock().unwrap().clone();
        std::thread::spawn(move || {
            for m in items {
                let (Some(id), Some(method)) = (m.get("id"), m.get("method")) else {
                    continue;
                };
                if method == "slow" {
                    std::thread::sleep(Duration::from_millis(300));
                }
                if method == "push"
                    && let Some(p) = &push
                {
                    p.send(br#"{"jsonrpc":"2.0","method":"notifications/pushed"}"#.to_vec());
                }
                let answer = json!({"jsonrpc": "2.0", "id": id, "result": {"echo": method}});
                answers.send(answer.to_string());
            }
        });
    }

    fn end(&self, _limit: Duration) {
        self.unsolicited.lock().unwrap().take();
        self.ended.fetch_add(1, Ordering::SeqCst);
    }
}

fn options() -> Options {
    Options {
        listen: Listen::parse("127.0.0.1:0").unwrap(),
        token: None,
        max_connections: 4,
        max_sessions: 8,
        max_body: 4096,
        max_head: 2048,
        request_timeout: Duration::from_millis(500),
        keep_alive: Duration::from_secs(5),
        session_idle: Duration::from_secs(600),
        drain: Duration::from_secs(2),
    }
}

struct Running {
    addr: SocketAddr,
    server: Arc<Server>,
    listener: Arc<Listener>,
    thread: Option<std::thread::JoinHandle<()>>,
    ended: Arc<AtomicUsize>,
}

impl Running {
    fn start(options: Options) -> Running {
        let listener = Arc::new(Listener::bind(&options.listen).unwrap());
        // Only TCP here (a Unix socket listener has its own test).
        #[allow(irrefutable_let_patterns, reason = "Windows has no Unix variant")]
        let Listener::Tcp(l) = &*listener else {
            panic!("a TCP listener")
        };
        let addr = l.local_addr().unwrap();
        let echo = Echo::default();
        let ended = Arc::clone(&echo.ended);
        let server = Server::new(options, Box::new(echo));
        let (s, l) = (Arc::clone(&server), Arc::clone(&listener));
        let thread = std::thread::spawn(move || accept_loop(&s, &l));
        Running {
            addr,
            server,
            listener,
            thread: Some(thread),
            ended,
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// Sends `request` on a new connection and reads until it closes.
    fn exchange(&self, request: &str) -> String {
        let mut s = self.connect();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    fn stop_and_drain(mut self) {
        stop(&self.server, &self.listener);
        self.thread.take().unwrap().join().unwrap();
        drain(&self.server);
    }
}

const ACCEPT: &str = "Accept: application/json, text/event-stream\r\n";

fn post(body: &str, extra: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{ACCEPT}Content-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn status(answer: &str) -> u16 {
    answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;

fn initialize(r: &Running) -> String {
    let a = r.exchange(&post(INIT, ""));
    assert_eq!(status(&a), 200, "{a}");
    assert!(
        a.contains("data: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{\"echo\":\"initialize\"}}")
            || a.contains("\"echo\":\"initialize\""),
        "{a}"
    );
    header(&a, "mcp-session-id").unwrap().to_owned()
}

#[test]
fn a_session_from_initialize_to_delete() {
    let r = Running::start(options());
    let id = initialize(&r);
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let sid = format!("Mcp-Session-Id: {id}\r\n");
    // A notification: 202, no body.
    let a = r.exchange(&post(
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &sid,
    ));
    assert_eq!(status(&a), 202, "{a}");
    // A request: an SSE stream with the answer, chunked.
    let a = r.exchange(&post(
        r#"{"jsonrpc":"2.0","id":"t","method":"tools/list"}"#,
        &sid,
    ));
    assert_eq!(header(&a, "content-type"), Some("text/event-stream"), "{a}");
    assert!(
        a.contains("event: message\ndata: ") && a.contains("\"echo\":\"tools/list\""),
        "{a}"
    );
    assert!(a.ends_with("0\r\n\r\n"), "{a}");
    assert!(!a.contains("id: 0"), "no priming before 2025-11-25: {a}");
    let v = "MCP-Protocol-Version: 2025-11-25\r\n";
    let a = r.exchange(&post(
        r#"{"jsonrpc":"2.0","id":2,"method":"x"}"#,
        &format!("{sid}{v}"),
    ));
    assert!(a.contains("id: 0\ndata:\n\n"), "priming first: {a}");
    // Without the header, and with an unknown one.
    let a = r.exchange(&post(r#"{"jsonrpc":"2.0","id":3,"method":"x"}"#, ""));
    assert_eq!(status(&a), 400, "{a}");
    let a = r.exchange(&post(
        r#"{"jsonrpc":"2.0","id":3,"method":"x"}"#,
        "Mcp-Session-Id: nope\r\n",
    ));
    assert_eq!(status(&a), 404, "{a}");
    // DELETE ends it; then it is unknown.
    let a = r.exchange(&format!(
        "DELETE /mcp HTTP/1.1\r\n{sid}Connection: close\r\n\r\n"
    ));
    assert_eq!(status(&a), 204, "{a}");
    assert_eq!(r.ended.load(Ordering::SeqCst), 1);
    let a = r.exchange(&post(r#"{"jsonrpc":"2.0","id":4,"method":"x"}"#, &sid));
    assert_eq!(status(&a), 404, "{a}");
    r.stop_and_drain();
}

#[test]
fn refusals_name_their_status() {
    let r = Running::start(options());
    let cases = [
        (post("{nope", ""), 400),
        (post("[]", ""), 400),
        (post(INIT, "MCP-Protocol-Version: 1999-01-01\r\n"), 400),
        (post(INIT, "Origin: http://evil.example.com\r\n"), 403),
        (post(INIT, "Origin: null\r\n"), 403),
        (
            "POST /mcp HTTP/1.1\r\nHost: evil.example.com\r\nContent-Length: 0\r\n\r\n".into(),
            403,
        ),
        (
            post(INIT, "").replace(ACCEPT, "Accept: application/json\r\n"),
            406,
        ),
        (
            post(INIT, "").replace(
                "application/json\r\nContent-Length",
                "text/plain\r\nContent-Length",
            ),
            415,
        ),
        (post(&"x".repeat(5000), ""), 413),
        (
            "POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(),
            411,
        ),
        (
            format!("GET /mcp HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(3000)),
            431,
        ),
        (
            "PUT /mcp HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            405,
        ),
        (
            "GET /other HTTP/1.1\r\nConnection: close\r\n\r\n".into(),
            404,
        ),
        (
            "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".into(),
            200,
        ),
        (
            "GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n".into(),
            503,
        ),
        (
            format!(
                "GET /mcp HTTP/1.1\r\n{ACCEPT}MCP-Protocol-Version: 2026-07-28\r\nConnection: close\r\n\r\n"
            ),
            405,
        ),
    ];
    for (request, want) in cases {
        let a = r.exchange(&request);
        assert_eq!(status(&a), want, "{request:?}\n{a}");
    }
    let a = r.exchange("GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(a.ends_with("not ready: credentials: none found\n"), "{a}");
    let a = r.exchange(&post("{nope", ""));
    assert!(a.contains("-32700"), "{a}");
    r.stop_and_drain();
}

#[test]
fn slow_heads_and_bodies_get_408() {
    let r = Running::start(options());
    let start = Instant::now();
    let mut s = r.connect();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert_eq!(status(&out), 408, "{out}");
    assert!(start.elapsed() < Duration::from_secs(3));
    let mut s = r.connect();
    s.write_all(
        post("{}", "")
            .replace("Content-Length: 2", "Content-Length: 20")
            .as_bytes(),
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert_eq!(status(&out), 408, "{out}");
    r.stop_and_drain();
}

#[test]
fn connections_past_the_bound_get_503() {
    let r = Running::start(options());
    let idle: Vec<TcpStream> = (0..4).map(|_| r.connect()).collect();
    // Each counts once the accept loop has taken it.
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let a = r.exchange("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
        if status(&a) == 503 {
            break;
        }
        assert!(Instant::now() < end, "never refused: {a}");
    }
    drop(idle);
    let end = Instant::now() + Duration::from_secs(5);
    while status(&r.exchange("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")) != 200 {
        assert!(Instant::now() < end, "the bound never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    r.stop_and_drain();
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let r = Running::start(options());
    let mut s = r.connect();
    let one = "GET /healthz HTTP/1.1\r\n\r\n";
    s.write_all(format!("{one}{one}").as_bytes()).unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 1024];
    while got.matches("ok\n").count() < 2 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{got}");
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    assert_eq!(got.matches("HTTP/1.1 200 OK").count(), 2, "{got}");
    r.stop_and_drain();
}

#[test]
fn the_get_stream_carries_unsolicited_messages_one_at_a_time() {
    let r = Running::start(options());
    let id = initialize(&r);
    let sid = format!("Mcp-Session-Id: {id}\r\n");
    let get = format!("GET /mcp HTTP/1.1\r\n{ACCEPT}{sid}\r\n");
    let mut stream = r.connect();
    stream.write_all(get.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(
        std::str::from_utf8(&buf[..n])
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    let a = r.exchange(&format!(
        "GET /mcp HTTP/1.1\r\n{ACCEPT}{sid}Connection: close\r\n\r\n"
    ));
    assert_eq!(status(&a), 409, "{a}");
    let a = r.exchange(&post(r#"{"jsonrpc":"2.0","id":5,"method":"push"}"#, &sid));
    assert!(a.contains("\"echo\":\"push\""), "{a}");
    let mut got = String::new();
    while !got.contains("notifications/pushed") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    // DELETE ends the GET stream too.
    r.exchange(&format!(
        "DELETE /mcp HTTP/1.1\r\n{sid}Connection: close\r\n\r\n"
    ));
    while !got.contains("0\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    r.stop_and_drain();
}

#[test]
fn stateless_2026_posts_get_a_conversation_each() {
    let r = Running::start(options());
    let v = "MCP-Protocol-Version: 2026-07-28\r\n";
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let a = r.exchange(&post(body, &format!("{v}Mcp-Method: tools/list\r\n")));
    assert_eq!(status(&a), 200, "{a}");
    assert!(
        a.contains("\"echo\":\"tools/list\"") && header(&a, "mcp-session-id").is_none(),
        "{a}"
    );
    assert_eq!(r.ended.load(Ordering::SeqCst), 1);
    let a = r.exchange(&post(body, &format!("{v}Mcp-Method: tools/call\r\n")));
    assert_eq!(status(&a), 400, "{a}");
    assert!(a.contains("-32020"), "{a}");
    r.stop_and_drain();
}

#[test]
fn drain_lets_a_post_in_flight_finish_then_ends_sessions() {
    let r = Running::start(options());
    let id = initialize(&r);
    let sid = format!("Mcp-Session-Id: {id}\r\n");
    let mut s = r.connect();
    s.write_all(post(r#"{"jsonrpc":"2.0","id":9,"method":"slow"}"#, &sid).as_bytes())
        .unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while *r.server.busy.lock().unwrap() == 0 {
        assert!(Instant::now() < end, "the POST never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let ended = Arc::clone(&r.ended);
    r.stop_and_drain();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.contains("\"echo\":\"slow\""), "{out}");
    assert_eq!(ended.load(Ordering::SeqCst), 1);
}

#[test]
fn idle_sessions_are_ended() {
    let mut o = options();
    o.session_idle = Duration::from_millis(300);
    let r = Running::start(o);
    let sweeper = Arc::clone(&r.server);
    std::thread::spawn(move || sweep(&sweeper));
    let id = initialize(&r);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(r.ended.load(Ordering::SeqCst), 1);
    let a = r.exchange(&post(
        r#"{"jsonrpc":"2.0","id":4,"method":"x"}"#,
        &format!("Mcp-Session-Id: {id}\r\n"),
    ));
    assert_eq!(status(&a), 404, "{a}");
    r.stop_and_drain();
}

#[test]
fn a_token_is_required_when_given() {
    let mut o = options();
    o.token = Some(crate::secret::Secret::from("tok-123"));
    let r = Running::start(o);
    let a = r.exchange(&post(INIT, ""));
    assert_eq!(status(&a), 401, "{a}");
    assert_eq!(header(&a, "www-authenticate"), Some("Bearer"));
    let a = r.exchange(&post(INIT, "Authorization: Bearer tok-124\r\n"));
    assert_eq!(status(&a), 401, "{a}");
    let a = r.exchange(&post(INIT, "Authorization: Bearer tok-123\r\n"));
    assert_eq!(status(&a), 200, "{a}");
    let a = r.exchange("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(status(&a), 200, "{a}");
    r.stop_and_drain();
}

#[cfg(unix)]
#[test]
fn a_unix_socket_replaces_a_stale_file_is_private_and_goes_at_the_end() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("serve-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    // A socket file an earlier run left behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let mut o = options();
    o.listen = Listen::parse(&format!("unix:{}", path.display())).unwrap();
    let listener = Arc::new(Listener::bind(&o.listen).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let server = Server::new(o, Box::new(Echo::default()));
    let (s, l) = (Arc::clone(&server), Arc::clone(&listener));
    let thread = std::thread::spawn(move || accept_loop(&s, &l));
    let mut c = UnixStream::connect(&path).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // No Host check on a socket file: its permissions decide who connects.
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: anything\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert_eq!(status(&out), 200, "{out}");
    stop(&server, &listener);
    thread.join().unwrap();
    drop(listener);
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reopened_get_stream_carries_what_the_session_sends() {
    // The receiver a GET whose client went away gives up reaches the next
    // GET, messages and all.
    let r = Running::start(options());
    let id = initialize(&r);
    let sid = format!("Mcp-Session-Id: {id}\r\n");
    let get = format!("GET /mcp HTTP/1.1\r\n{ACCEPT}{sid}\r\n");
    let mut buf = [0u8; 4096];
    let mut first = r.connect();
    first.write_all(get.as_bytes()).unwrap();
    let n = first.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(first);
    let mut again = r.connect();
    again.write_all(get.as_bytes()).unwrap();
    let n = again.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let a = r.exchange(&post(r#"{"jsonrpc":"2.0","id":5,"method":"push"}"#, &sid));
    assert!(a.contains("\"echo\":\"push\""), "{a}");
    let mut got = head;
    while !got.contains("notifications/pushed") {
        let n = again.read(&mut buf).unwrap();
        assert!(n > 0, "{got}");
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    r.stop_and_drain();
}

#[cfg(unix)]
#[test]
fn a_unix_socket_in_use_is_not_taken_over_and_each_run_removes_only_its_own() {
    // Before, a second serve with the same socket path removed the first's
    // live socket file and bound its own: the first was unreachable, its
    // shutdown's wake connected to the second, so its accept never
    // returned and SIGTERM never ended it; and whichever ended first
    // removed the other's file.
    use std::os::unix::net::UnixStream;
    let dir = std::env::temp_dir().join(format!("serve-unix-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let listen = Listen::parse(&format!("unix:{}", path.display())).unwrap();
    let first = Arc::new(Listener::bind(&listen).unwrap());
    let server = Server::new(options(), Box::new(Echo::default()));
    let (s, l) = (Arc::clone(&server), Arc::clone(&first));
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        accept_loop(&s, &l);
        let _ = done.send(());
    });
    let e = Listener::bind(&listen).expect_err("a live socket is not replaced");
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
    assert!(
        UnixStream::connect(&path).is_ok(),
        "the first still listens"
    );
    stop(&server, &first);
    finished
        .recv_timeout(Duration::from_secs(5))
        .expect("the first's accept loop woke and returned");
    // A file another run made at the same path after this one's was gone
    // stays when this one ends.
    std::fs::remove_file(&path).unwrap();
    let second = Listener::bind(&listen).unwrap();
    drop(first);
    assert!(path.exists(), "the second's socket file is left alone");
    drop(second);
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
