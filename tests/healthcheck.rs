//! `mcp-sigv4 healthcheck` from outside: the built binary asking a running
//! `serve` (support's [`start_serve`]) for `/readyz` and `/healthz`, as an
//! ECS `healthCheck` or a Kubernetes `exec` probe runs it inside the
//! container. Each test pins one outcome and its exit status: 0 for a 2xx
//! answer, 1 for anything else (a not-ready serve, a refused port, a listener
//! that never answers, a host that is not loopback), with one line on stderr
//! and nothing on stdout. Every wait is bounded.

mod support;

use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::{Proxy, Server, closed_port, output_within, standard_reply, start_serve_for};

/// How long one healthcheck run may take before the test fails (its own
/// default timeout is 3 s).
const RUN_LIMIT: Duration = Duration::from_secs(20);

/// Runs `mcp-sigv4 healthcheck ARGS` with an empty environment; its exit
/// status, stdout and stderr.
fn healthcheck(args: &[&str]) -> (i32, String, String) {
    let out = run(args);
    (
        out.status.code().expect("an exit status"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(args: &[&str]) -> Output {
    let mut cmd = support::command();
    cmd.arg("healthcheck")
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    support::keep_runner_env(&mut cmd);
    let child = cmd.spawn().expect("starting mcp-sigv4 healthcheck");
    output_within(child, RUN_LIMIT, "healthcheck ended within 20 s")
}

/// Asserts one run's exit status, that stdout is empty and stderr is one
/// line holding `says`.
fn assert_outcome(args: &[&str], code: i32, says: &str) {
    let (got, stdout, stderr) = healthcheck(args);
    assert_eq!(got, code, "healthcheck {args:?}: {stderr}");
    assert_eq!(stdout, "", "healthcheck {args:?}: stdout");
    assert!(stderr.contains(says), "healthcheck {args:?}: {stderr}");
}

fn serve(builder: support::ProxyBuilder) -> (Proxy, u16) {
    start_serve_for(builder, &[])
}

#[test]
fn a_ready_serve_is_healthy_and_exit_0() {
    let up = Server::start(standard_reply);
    let (_p, port) = serve(Proxy::builder(&up.url()));
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let (code, stdout, stderr) = healthcheck(&[&readyz]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!("mcp-sigv4 healthcheck: {readyz}: 200 ready\n")
    );
    assert_outcome(
        &[
            &format!("http://localhost:{port}/healthz"),
            "--timeout",
            "2",
        ],
        0,
        "200 ok",
    );
    // What serve's /mcp and unknown paths answer a plain GET is not healthy.
    assert_outcome(&[&format!("http://127.0.0.1:{port}/nope")], 1, "404");
}

#[test]
fn a_serve_without_credentials_is_alive_but_not_ready_exit_1() {
    let up = Server::start(standard_reply);
    let (_p, port) = serve(Proxy::builder(&up.url()).without_credentials());
    assert_outcome(
        &[&format!("http://127.0.0.1:{port}/readyz")],
        1,
        "503 not ready: ",
    );
    assert_outcome(&[&format!("http://127.0.0.1:{port}/healthz")], 0, "200 ok");
}

#[test]
fn a_refused_port_exits_1_and_names_the_listen_address() {
    let port = closed_port();
    assert_outcome(
        &[&format!("http://127.0.0.1:{port}/healthz")],
        1,
        // The system's own words come first; Windows words them otherwise.
        &format!(": nothing listens there; is serve running with --listen 127.0.0.1:{port}?"),
    );
}

#[test]
fn a_listener_that_never_answers_times_out_within_the_bound() {
    // The kernel completes the handshake (the backlog); nothing ever reads.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/readyz",
        silent.local_addr().unwrap().port()
    );
    let start = Instant::now();
    let (code, _, stderr) = healthcheck(&[&url, "--timeout", "0.5"]);
    let took = start.elapsed();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("no answer within 0.5 s (--timeout)"),
        "{stderr}"
    );
    // About time: 0.5 s asked, 6x margin for a loaded machine.
    assert!(took < Duration::from_secs(3), "took {took:?}: {stderr}");
}

#[test]
fn hosts_off_this_machine_and_other_schemes_are_refused_exit_1() {
    for (url, says) in [
        ("http://192.0.2.1:8080/readyz", "refusing 192.0.2.1"),
        ("http://example.com/readyz", "refusing example.com"),
        ("https://127.0.0.1:8080/readyz", "serve speaks plain HTTP"),
        ("http://127.0.0.1:8080/readyz?token=x", "expected no query"),
        (
            "http://user:hc-secret-9f@127.0.0.1:8080/readyz",
            "user information",
        ),
    ] {
        let (code, stdout, stderr) = healthcheck(&[url]);
        assert_eq!((code, stdout.as_str()), (1, ""), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(!stderr.contains("hc-secret-9f"), "{stderr}");
    }
    for bad in [&["--timeout", "soon"][..], &["a", "b"], &["--listen", "x"]] {
        let (code, _, stderr) = healthcheck(bad);
        assert_eq!(code, 1, "{bad:?}: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn a_serve_on_a_unix_socket() {
    let up = Server::start(standard_reply);
    let dir = support::TempDir::new("healthcheck-unix");
    let socket = dir.path().join("mcp.sock");
    let listen = format!("unix:{}", socket.display());
    let p = Proxy::builder(&up.url())
        .subcommand("serve")
        .args(&["--listen", &listen])
        .no_stdout_reader()
        .start();
    let stderr = p.stderr_containing("listening on unix:", Duration::from_secs(20));
    assert!(stderr.contains("listening on unix:"), "{stderr}");
    assert_outcome(
        &[&listen],
        0,
        &format!("{listen} (path /readyz): 200 ready"),
    );
    assert_outcome(&[&listen, "--path", "/healthz"], 0, "200 ok");
    assert_outcome(&[&listen, "--path", "/nope"], 1, "404");
    drop(p);
    let gone = dir.path().join("gone.sock");
    assert_outcome(
        &[&format!("unix:{}", gone.display())],
        1,
        "nothing listens there",
    );
}
