//! What the MCP client is told when there are no credentials, and what stays
//! in the log: through the built binary, the client's JSON-RPC error names
//! the source and the one command that fixes it; a `credential_process`
//! helper's stderr reaches the log (sanitised, shortened) and never the
//! client, which the error would hand to a model.
//! Refuses: reaching beyond loopback.

mod support;

use std::time::Duration;

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
    let stderr = p.stderr_containing("the end of its stderr", Duration::from_secs(5));
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

/// A directory whose `home/.aws/` holds `config` and `credentials` (when
/// given), so the messages show them as `~/.aws/…`.
fn home_with(config: Option<&str>, credentials: Option<&str>) -> TempDir {
    let dir = TempDir::new("errors-home");
    dir.mkdir("home/.aws");
    if let Some(text) = config {
        dir.write("home/.aws/config", text);
    }
    if let Some(text) = credentials {
        dir.write("home/.aws/credentials", text);
    }
    dir
}

/// The proxy for `up` with `HOME` at `dir/home` and nothing else.
fn proxy_at_home(up: &Server, dir: &TempDir) -> ProxyBuilder {
    Proxy::builder(&up.url())
        .without_credentials()
        .env("HOME", &format!("{}/home", dir.str()))
}

#[test]
fn a_profile_name_not_in_the_files_gets_the_closest_name_and_the_list_at_start_and_in_each_error() {
    let up = Server::start(standard_reply);
    let dir = home_with(
        Some("[profile prod]\nregion = eu-west-1\n[profile sandbox]\nsso_session = corp\n"),
        Some("[dev]\naws_access_key_id = AKIDDEVELOPER\naws_secret_access_key = dev-S3CR3T\n"),
    );
    let expected = "profile 'dve' not found in ~/.aws/config or ~/.aws/credentials; \
                    did you mean 'dev'? profiles: dev, prod, sandbox";
    let mut p = proxy_at_home(&up, &dir).args(&["--profile", "dve"]).start();
    for _ in 0..2 {
        let message = initialize_error(&mut p);
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("aws configure --profile dve"), "{message}");
        for content in ["AKIDDEVELOPER", "S3CR3T", "eu-west-1", "corp"] {
            assert!(!message.contains(content), "{content:?} in {message}");
        }
    }
    let stderr = p.stderr_containing(expected, Duration::from_secs(5));
    drop(p);
    let warning = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains(expected))
        .unwrap_or_else(|| panic!("expected a start-up warning:\n{stderr}"));
    assert!(!warning.contains("S3CR3T"), "{warning}");
    assert!(up.requests().is_empty());
}

#[test]
fn no_shared_files_at_all_says_they_do_not_exist() {
    let up = Server::start(standard_reply);
    let dir = home_with(None, None);
    let mut p = proxy_at_home(&up, &dir).start();
    let message = initialize_error(&mut p);
    assert!(
        message.contains("(~/.aws/config and ~/.aws/credentials do not exist)"),
        "{message}"
    );
    assert!(!message.contains("no credentials in it"), "{message}");
    drop(p);
    let mut p = proxy_at_home(&up, &dir).args(&["--profile", "dev"]).start();
    let message = initialize_error(&mut p);
    assert!(
        message.contains(
            "profile 'dev' not found: neither ~/.aws/config nor ~/.aws/credentials exists"
        ),
        "{message}"
    );
    assert!(
        message.contains("`aws configure --profile dev`"),
        "{message}"
    );
}

#[test]
fn an_expired_sso_token_or_login_session_names_its_command() {
    let up = Server::start(standard_reply);
    let dir = home_with(
        Some(
            "[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = R\n\
             [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://d-1.awsapps.com/start\n\
             [profile console]\nlogin_session = arn:aws:iam::111122223333:user/me\n",
        ),
        None,
    );
    for (profile, fix) in [
        ("sso", "run `aws sso login --profile sso`"),
        ("console", "run `aws login --profile console`"),
    ] {
        let mut p = proxy_at_home(&up, &dir)
            .args(&["--profile", profile])
            .start();
        let message = initialize_error(&mut p);
        assert!(message.contains(fix), "{message}");
        assert!(
            message.contains(&format!("profile '{profile}'")),
            "{message}"
        );
    }
}
