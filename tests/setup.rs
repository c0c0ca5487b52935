//! Setting up, as a new user meets it: a profile name with a typo, and a
//! `config` entry that relies on this shell's environment. The built binary,
//! in an environment of its own (a temporary `HOME` with the AWS files the
//! case writes); no case reaches the network (each is refused or answered
//! before any request).

mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{TempDir, output_within};

const CONFIG: &str = "[profile dev]\nregion = eu-west-1\n\n[profile prod]\nregion = us-east-1\n";
const CREDENTIALS: &str =
    "[dev]\naws_access_key_id = AKIDSETUPDEV0001\naws_secret_access_key = setupDevSecret/K7MDENG\n";
const SHELL_SECRET: &str = "shellOnlySecret/K7MDENG+bPxRfiCY";

/// Runs `mcp-sigv4 <args>` with `HOME` holding `CONFIG` and `CREDENTIALS`,
/// plus `env`; stdin is empty.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = TempDir::new("setup-home");
    home.mkdir(".aws");
    home.write(".aws/config", CONFIG);
    home.write(".aws/credentials", CREDENTIALS);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-sigv4"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("starting mcp-sigv4");
    output_within(
        child,
        Duration::from_secs(20),
        "mcp-sigv4 finished within 20 s",
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_profile_that_does_not_exist_is_reported_before_its_region_is_looked_for() {
    let o = run(
        &["https://mcp.example.com/mcp", "--service", "svc"],
        &[("AWS_PROFILE", "dve")],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with(
            "mcp-sigv4: profile 'dve' not found in ~/.aws/config or ~/.aws/credentials; did you mean 'dev'?"
        ),
        "{err}"
    );
    assert!(!err.contains("region"), "{err}");
}

#[test]
fn config_refuses_a_profile_that_does_not_exist_with_a_did_you_mean() {
    let o = run(
        &[
            "config",
            "claude-desktop",
            "https://mcp.example.com/mcp",
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--profile",
            "dve",
        ],
        &[],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty(), "no entry is printed");
    assert!(err.contains("profile 'dve' not found"), "{err}");
    assert!(err.contains("did you mean 'dev'?"), "{err}");
}

#[test]
fn config_warns_when_credentials_are_only_in_this_shell_and_prints_the_env_block() {
    let o = run(
        &[
            "config",
            "claude-desktop",
            "https://mcp.example.com/mcp",
            "--service",
            "svc",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDSHELLONLY0001"),
            ("AWS_SECRET_ACCESS_KEY", SHELL_SECRET),
            ("AWS_REGION", "ap-south-1"),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY set only in this shell"),
        "{err}"
    );
    assert!(err.contains("does not inherit"), "{err}");
    assert!(err.contains("\"AWS_REGION\": \"ap-south-1\""), "{err}");
    assert!(
        err.contains("\"AWS_SECRET_ACCESS_KEY\": \"<your aws secret access key>\""),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !err.contains(SHELL_SECRET) && !out.contains(SHELL_SECRET),
        "{err}{out}"
    );
    // With the profile and region on the command line, nothing to warn of.
    let o = run(
        &[
            "config",
            "claude-desktop",
            "https://mcp.example.com/mcp",
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--profile",
            "dev",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDSHELLONLY0001"),
            ("AWS_SECRET_ACCESS_KEY", SHELL_SECRET),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
}

/// Starts `mcp-sigv4 <args>` as an MCP client would, writes `input` to its
/// stdin (kept open), and returns its exit code, stdout and stderr.
fn as_a_client(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    use std::io::Write;
    let home = TempDir::new("setup-client");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-sigv4"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting mcp-sigv4");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    // stdin stays open, as a client keeps it while it waits for the answer.
    let o = output_within(
        child,
        Duration::from_secs(20),
        "mcp-sigv4 answered and ended within 20 s",
    );
    drop(stdin);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn a_relay_that_cannot_start_answers_the_clients_initialize_with_the_error_and_its_fix() {
    let initialize = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/note\"}\n{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}\n";
    for (args, error, fix) in [
        (
            vec!["https://mcp.example.com/mcp", "--region", "us-east-1"],
            "cannot tell the AWS service from the host mcp.example.com",
            "pass its signing name with --service",
        ),
        (
            vec!["https://mcp.example.com/mcp", "--regoin", "us-east-1"],
            "invalid option '--regoin'; did you mean --region?",
            "see `mcp-sigv4 --help`",
        ),
    ] {
        let (code, out, err) = as_a_client(&args, initialize);
        assert_eq!(code, Some(2), "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "one answer: {out}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["id"], 0, "{v}");
        assert_eq!(v["error"]["code"], -32000, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("mcp-sigv4 could not start: {error}"))
                && message.contains(fix),
            "{message}"
        );
        assert!(err.contains(error), "stderr still has it: {err}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn config_names_the_clients_file_for_the_os_it_runs_on() {
    let run_config = |client: &str| {
        let o = run(
            &[
                "config",
                client,
                "https://mcp.example.com/mcp",
                "--service",
                "svc",
                "--region",
                "us-east-1",
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stderr(&o)
    };
    let desktop = run_config("claude-desktop");
    assert!(
        desktop.contains("Claude Desktop is made for macOS and Windows"),
        "{desktop}"
    );
    let vscode = run_config("vscode");
    assert!(vscode.contains("~/.config/Code/User/mcp.json"), "{vscode}");
}
