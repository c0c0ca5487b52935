//! Black-box tests of the built binary through stdin, stdout, the exit status
//! and the HTTP the relay sends (`support/`): the end of stdin and SIGTERM
//! while the start-up credentials are still resolving, and answers a request
//! may get that are not its response (media types with parameters, a 202, a
//! body that is not JSON-RPC). Every wait is bounded.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    INITIALIZE, Proxy, Reply, Seen, Server, TempDir, rpc_result, sse_event, standard_reply,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn id_of(s: &Seen) -> Value {
    s.rpc_id().unwrap_or(Value::Null)
}

fn tool_call(id: i64) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"t","arguments":{}}})
        .to_string()
}

/// Every stdout line that arrives until none comes for `quiet`.
fn lines_until_quiet(p: &Proxy, quiet: Duration) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(l) = p.recv_timeout(quiet) {
        lines.push(l);
    }
    lines
}

/// The proxy with profile `slow`, whose `credential_process` takes 10 s (a
/// helper waiting for a prompt, a slow SSO refresh), and a ping that needs no
/// session; `dir` holds the profile files.
fn with_slow_credentials(up: &Server, dir: &TempDir, args: &[&str]) -> Proxy {
    let d = dir.str();
    // The process answers only once the test writes `go` (at most 60 s).
    dir.write(
        "slow.sh",
        &format!(
            "i=0\nwhile [ ! -e {d}/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\nprintf '{{\"Version\":1,\"AccessKeyId\":\"AKIDSLOWPROCESS\",\"SecretAccessKey\":\"slowSecret\"}}'\n"
        ),
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
        .args(args)
        .start()
}

/// The end of stdin while the credentials are still being resolved: the
/// requests in flight get their 1 s, and the process exits 0 while the
/// `credential_process` is still waiting — it does not wait for the
/// credential source to finish (it used to: the start-up resolution ran
/// before stdin was read, so the end of stdin was seen only once the
/// `credential_process` returned).
#[test]
fn the_end_of_stdin_while_credentials_resolve_at_start_up_exits_0_promptly() {
    eof_while_credentials_resolve(&[]);
}

/// As above with `--runtime-session identity`, whose id needs the caller's
/// ARN (it used to be asked for before the relay started, so the end of stdin
/// waited for the credentials and the STS call).
#[test]
fn the_end_of_stdin_while_credentials_resolve_for_the_identity_runtime_session_exits_0_promptly() {
    eof_while_credentials_resolve(&["--runtime-session", "identity"]);
}

fn eof_while_credentials_resolve(args: &[&str]) {
    let up = Server::standard();
    let dir = TempDir::new("startup-slow-eof");
    let mut p = with_slow_credentials(&up, &dir, args);
    p.send(INITIALIZE);
    std::thread::sleep(ms(300));
    p.close_stdin();
    // The credential_process answers only after `go`, written below: an
    // exit seen here did not wait for it.
    let status = p.wait_exit(Duration::from_secs(8));
    dir.write("go", "");
    let stderr = p.stderr();
    let status = status.unwrap_or_else(|| panic!("still running 8 s after stdin ended:\n{stderr}"));
    assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    assert!(up.rpc("initialize").is_empty(), "nothing was signed yet");
}

/// SIGTERM while the credentials are still being resolved takes the graceful
/// path `src/manual/relay.md` promises: exit 0, without waiting for the
/// `credential_process` (it used to kill the process, status 143: the
/// handler was installed only after the start-up resolution).
#[test]
fn sigterm_while_credentials_resolve_at_start_up_exits_0() {
    let up = Server::standard();
    let dir = TempDir::new("startup-slow-term");
    let mut p = with_slow_credentials(&up, &dir, &[]);
    p.send(INITIALIZE);
    std::thread::sleep(ms(300));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &p.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(kill.success());
    // As above: the credential_process is still waiting for `go`.
    let status = p.wait_exit(Duration::from_secs(8));
    dir.write("go", "");
    let stderr = p.stderr();
    let status = status.unwrap_or_else(|| panic!("still running 8 s after SIGTERM:\n{stderr}"));
    assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    assert!(up.rpc("initialize").is_empty(), "nothing was signed yet");
}

/// A client's `ping` while the start-up resolution is still running is
/// answered once the credentials arrive, with the credential_process run once
/// for both (the relay's first request shares the start-up resolution).
#[test]
fn a_request_during_the_start_up_resolution_shares_it() {
    let up = Server::standard();
    let dir = TempDir::new("startup-slow-share");
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

/// Media types are read without their parameters and in any case (RFC 9110
/// §8.3.1): `Application/JSON; charset=utf-8` is JSON and
/// `TEXT/Event-Stream; charset=UTF-8` is SSE.
#[test]
fn media_types_with_parameters_and_in_any_case_are_read() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            let id = id_of(s);
            let answer = rpc_result(&id, json!({"n": id}));
            return if id == json!(2) {
                Reply::body(200, "Application/JSON; charset=utf-8", answer)
            } else {
                Reply::streamed("TEXT/Event-Stream; charset=UTF-8")
                    .raw(&sse_event(&answer))
                    .finish()
            };
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    for id in [2, 3] {
        p.send(&tool_call(id));
        let v = p.recv_json();
        assert_eq!(v["id"], id, "{v}");
        assert_eq!(v["result"]["n"], id, "{v}");
    }
    up.assert_all_signed("svc");
    p.finish();
}

/// A `202 Accepted` (meant for notifications) in answer to a request: the
/// request still gets exactly one answer, an error with its id.
#[test]
fn a_202_in_answer_to_a_request_is_an_error_with_its_id() {
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::accepted();
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    p.send(&tool_call(2));
    let lines = lines_until_quiet(&p, ms(1000));
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["id"], 2, "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    p.assert_ping(3);
    p.finish();
}

/// A 200 JSON body that is not a JSON-RPC answer (a byte order mark before
/// it, another JSON value, invalid UTF-8, an empty array, only a
/// notification) never reaches stdout as it is; the request gets one error
/// with its id, and only JSON-RPC lines are written.
#[test]
fn a_json_body_that_is_not_an_answer_never_reaches_stdout_and_the_request_is_answered() {
    fn body(id: &Value) -> Vec<u8> {
        let answer = rpc_result(id, json!({}));
        match id.as_i64().unwrap() {
            10 => [b"\xEF\xBB\xBF".as_slice(), answer.as_bytes()].concat(),
            11 => br#"{"hello":"world"}"#.to_vec(),
            12 => br#""a string""#.to_vec(),
            13 => {
                let mut b = br#"{"jsonrpc":"2.0","id":13,"result":{"t":"a"#.to_vec();
                b.push(0xff);
                b.extend_from_slice(br#"b"}}"#);
                b
            }
            14 => b"[]".to_vec(),
            _ => br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#.to_vec(),
        }
    }
    let up = Server::start(|s| {
        if s.is_rpc("tools/call") {
            return Reply::json(200, body(&id_of(s)));
        }
        standard_reply(s)
    });
    let mut p = Proxy::start(&up.url(), &[]);
    p.handshake();
    for id in 10..=15 {
        p.send(&tool_call(id));
        let lines = lines_until_quiet(&p, ms(800));
        let values: Vec<Value> = lines
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{id}: not JSON on stdout: {l:?}: {e}"))
            })
            .collect();
        let answers: Vec<&Value> = values.iter().filter(|v| v.get("id").is_some()).collect();
        assert_eq!(answers.len(), 1, "{id}: {lines:?}");
        assert_eq!(answers[0]["id"], id, "{id}: {lines:?}");
        assert_eq!(answers[0]["error"]["code"], -32000, "{id}: {lines:?}");
        // The error says what was wrong with the body.
        let message = answers[0]["error"]["message"].as_str().unwrap_or_default();
        let expected = match id {
            13 => "answered this request with an application/json body that is not UTF-8",
            15 => "ended its answer without a response to this request",
            _ => {
                "answered this request with an application/json body that is not a JSON-RPC message"
            }
        };
        assert!(message.contains(expected), "{id}: {message:?}");
        for v in &values {
            assert_eq!(v["jsonrpc"], "2.0", "{id}: {lines:?}");
        }
    }
    p.assert_ping(20);
    p.finish();
}
