//! Black-box tests from a review of the built binary: defects a user hit
//! through stdin, stdout, the exit status and the HTTP the relay sends, each
//! pinned by the test that found it (`support/`). Every wait is bounded.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{INITIALIZE, Proxy, Server, TempDir};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The proxy with profile `slow`, whose `credential_process` takes 10 s (a
/// helper waiting for a prompt, a slow SSO refresh), and a ping that needs no
/// session; `dir` holds the profile files.
fn with_slow_credentials(up: &Server, dir: &TempDir) -> Proxy {
    let d = dir.str();
    dir.write(
        "slow.sh",
        "sleep 10\nprintf '{\"Version\":1,\"AccessKeyId\":\"AKIDSLOWPROCESS\",\"SecretAccessKey\":\"slowSecret\"}'\n",
    );
    dir.write(
        "config",
        &format!("[profile slow]\ncredential_process = sh {d}/slow.sh\n"),
    );
    Proxy::builder(&up.url())
        .without_credentials()
        .env("AWS_CONFIG_FILE", &format!("{d}/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", &format!("{d}/credentials"))
        .args(&["--profile", "slow"])
        .start()
}

/// The end of stdin while the credentials are still being resolved: the
/// requests in flight get their 1 s, and the process exits 0 — it does not
/// wait for the credential source to finish (it used to: the start-up
/// resolution ran before stdin was read, so the end of stdin was seen only
/// once the `credential_process` returned, 10 s later).
#[test]
fn the_end_of_stdin_while_credentials_resolve_at_start_up_exits_0_promptly() {
    let up = Server::standard();
    let dir = TempDir::new("review-slow-eof");
    let mut p = with_slow_credentials(&up, &dir);
    p.send(INITIALIZE);
    std::thread::sleep(ms(300));
    let t0 = Instant::now();
    p.close_stdin();
    let status = p.wait_exit(Duration::from_secs(8));
    let took = t0.elapsed();
    let stderr = p.stderr();
    let status = status.unwrap_or_else(|| panic!("still running 8 s after stdin ended:\n{stderr}"));
    assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    assert!(
        took < ms(3000),
        "exited {took:?} after stdin ended:\n{stderr}"
    );
    assert!(up.rpc("initialize").is_empty(), "nothing was signed yet");
}

/// SIGTERM while the credentials are still being resolved takes the graceful
/// path README promises: exit 0 within 3 s (it used to kill the process, status
/// 143: the handler was installed only after the start-up resolution).
#[test]
fn sigterm_while_credentials_resolve_at_start_up_exits_0_within_3_s() {
    let up = Server::standard();
    let dir = TempDir::new("review-slow-term");
    let mut p = with_slow_credentials(&up, &dir);
    p.send(INITIALIZE);
    std::thread::sleep(ms(300));
    let t0 = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &p.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(kill.success());
    let status = p.wait_exit(Duration::from_secs(8));
    let took = t0.elapsed();
    let stderr = p.stderr();
    let status = status.unwrap_or_else(|| panic!("still running 8 s after SIGTERM:\n{stderr}"));
    assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    assert!(took < ms(3000), "exited {took:?} after SIGTERM:\n{stderr}");
}

/// A client's `ping` while the start-up resolution is still running is
/// answered once the credentials arrive, with the credential_process run once
/// for both (the relay's first request shares the start-up resolution).
#[test]
fn a_request_during_the_start_up_resolution_shares_it() {
    let up = Server::standard();
    let dir = TempDir::new("review-slow-share");
    let d = dir.str();
    dir.write(
        "count.sh",
        &format!("echo run >> {d}/runs\nsleep 1\nprintf '{{\"Version\":1,\"AccessKeyId\":\"AKIDCOUNTED\",\"SecretAccessKey\":\"countedSecret\"}}'\n"),
    );
    dir.write(
        "config",
        &format!("[profile counted]\ncredential_process = sh {d}/count.sh\n"),
    );
    let mut p = Proxy::builder(&up.url())
        .without_credentials()
        .env("AWS_CONFIG_FILE", &format!("{d}/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", &format!("{d}/credentials"))
        .args(&["--profile", "counted"])
        .start();
    p.send(r#"{"jsonrpc":"2.0","id":"early","method":"ping"}"#);
    let v = p.recv_json();
    assert_eq!(v["id"], json!("early"), "{v}");
    assert!(v.get("result").is_some(), "{v}");
    assert_eq!(dir.read("runs").map(|r| r.lines().count()), Some(1));
    p.finish();
}
