//! What the MCP client is told when there are no credentials, and what stays
//! in the log: through the built binary, the client's JSON-RPC error names
//! the source and the one command that fixes it; a `credential_process`
//! helper's stderr reaches the log (sanitised, shortened) and never the
//! client, which the error would hand to a model.
//! Refuses: reaching beyond loopback.

mod support;

use serde_json::Value;
use support::{INITIALIZE, Proxy, ProxyBuilder, Server, TempDir, standard_reply};

/// The proxy for `up` with no credentials but the shared files in `dir`.
fn proxy(up: &Server, dir: &TempDir) -> ProxyBuilder {
    let d = dir.str();
    Proxy::builder(&up.url())
        .without_credentials()
        .env("HOME", &format!("{d}/home"))
        .env("AWS_CONFIG_FILE", &format!("{d}/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", &format!("{d}/credentials"))
}

/// The error message the client gets for `initialize`.
fn initialize_error(p: &mut Proxy) -> String {
    p.send(INITIALIZE);
    let answer: Value = p.recv_json();
    assert_eq!(answer["id"], 1, "{answer}");
    assert_eq!(answer["error"]["code"], -32002, "{answer}");
    answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_failing_credential_process_names_its_program_and_status_and_keeps_stderr_in_the_log() {
    let up = Server::start(standard_reply);
    let dir = TempDir::new("process-error");
    dir.mkdir("home");
    dir.write(
        "helper.sh",
        "#!/bin/sh\necho 'vault token hvs.S3CR3T-from-stderr' >&2\nprintf 'sealed \\033[31mred\\033[0m\\n' >&2\nexit 7\n",
    );
    dir.write(
        "config",
        &format!(
            "[profile proc]\ncredential_process = sh {}/helper.sh --password hunter2\n",
            dir.str()
        ),
    );
    let mut p = proxy(&up, &dir).env("AWS_PROFILE", "proc").start();
    let message = initialize_error(&mut p);
    assert!(
        message.contains(
            "credential_process of profile 'proc' (`sh` (arguments not shown)) failed (exit status: 7)"
        ),
        "{message}"
    );
    for leaked in ["S3CR3T", "vault token", "sealed", "hunter2"] {
        assert!(
            !message.contains(leaked),
            "{leaked:?} reached the client: {message}"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let stderr = p.stderr();
    drop(p);
    // The log has it, the escape sequence made harmless.
    assert!(
        stderr.contains(
            "the end of its stderr: vault token hvs.S3CR3T-from-stderr / sealed  [31mred [0m"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "an escape sequence in the log");
    assert!(!stderr.contains("hunter2"), "the arguments in the log");
    assert!(up.requests().is_empty());
}
