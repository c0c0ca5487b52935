//! The `credential_process` source: run the profile's command, read its JSON.
//!
//! Owns: running the command through the shell, as Rust `aws-config` and Go v2
//! do (`shell`: `sh -c` on Unix, `cmd.exe /S /C` on Windows), with stdin null,
//! a time bound ([`PROCESS_TIMEOUT`]) and an output bound ([`MAX_PROCESS_OUTPUT`]);
//! forwarding the child's stderr to our log line by line, sanitised; reading
//! its `credential_process` JSON ([`parse_process_output`], through
//! [`crate::json`]).
//! Refuses: letting the child read our stdin (it is the MCP client's pipe);
//! putting the child's stdout (it holds secrets) or the command's arguments
//! (they may hold a password; Rust `aws-config` shows only the program too)
//! into an error or a log line; putting its stderr into an error (it reaches
//! the MCP client and a model) — stderr goes to our log only, sanitised and
//! shortened; waiting for the child without bound.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use p256::elliptic_curve::zeroize::Zeroize;

use super::{Credentials, SourceError};
use crate::json::{self, JsonError, Object};
use crate::secret::Secret;
use crate::sync::Locked;
use crate::text::{clean, clean_tail};

/// How long the command may run (60 s) before it is killed: Go v2's
/// `processcreds` default. Long enough for a helper that waits on an MFA touch
/// or a browser sign-in, short enough that a hung helper does not hang every
/// MCP request behind it.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// The most bytes of stdout read from the command (64 KiB); past this the child
/// is killed and the source fails. A real answer is a few hundred bytes to a few
/// KiB (session tokens are up to ~2 KiB).
const MAX_PROCESS_OUTPUT: usize = 64 * 1024;

/// The last bytes of stderr kept for the error excerpt (4 KiB); stderr beyond it
/// is still drained (so the child never blocks on a full pipe) and logged.
const STDERR_TAIL: usize = 4 * 1024;

/// At most this many stderr lines are forwarded to the log per run; the rest is
/// drained silently (a chatty or looping helper must not flood our log).
const MAX_STDERR_LINES: usize = 200;

/// A forwarded stderr line is cut to this many characters.
const MAX_LOG_LINE: usize = 1000;

/// The error excerpt of stderr is cut to this many characters (its end is kept:
/// helpers print the reason last).
const STDERR_EXCERPT: usize = 500;

/// After the child exits, how long to wait for its pipes to reach end of file.
/// A background process it started may hold them open for ever; we then use
/// what was read so far.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// Runs `command` (the `credential_process` value of profile `profile`) and
/// reads credentials from its stdout (AWS SDKs and Tools Reference
/// Guide, "Sourcing credentials with an external process").
///
/// The command runs through the shell (`sh -c` / `cmd.exe /S /C`) with stdin null,
/// for at most [`PROCESS_TIMEOUT`] and [`MAX_PROCESS_OUTPUT`] bytes of stdout.
/// Its stderr is forwarded to the log at `warn`, each line prefixed with
/// `credential_process of profile '<profile>'` — Go v2 passes the child's stderr
/// straight through to the user, and helpers use it for prompts ("touch your
/// security key") and notices. The credentials' `source` is
/// `credential_process of profile '<profile>'` and their expiry is the
/// `Expiration` of the output (none: they never expire).
///
/// # Errors
/// [`SourceError`] when the command cannot be started, runs too long, writes too
/// much, exits with a non-zero status (the error names the program and the
/// status; the end of its stderr goes to the log only), or its output is not
/// the JSON above (the error names the field that is missing or invalid, never
/// its value). Each carries a hint naming the profile's `credential_process`.
pub(crate) fn credentials_from_process(
    command: &str,
    profile: &str,
) -> Result<Credentials, SourceError> {
    run_with_limits(command, profile, PROCESS_TIMEOUT, MAX_PROCESS_OUTPUT)
}

fn run_with_limits(
    command: &str,
    profile: &str,
    timeout: Duration,
    max_output: usize,
) -> Result<Credentials, SourceError> {
    let mut output = run(command, profile, timeout, max_output)?;
    let parsed = parse_process_output(&output, profile);
    output.zeroize();
    parsed
}

fn label(profile: &str) -> String {
    format!("credential_process of profile '{profile}'")
}

fn hint(profile: &str) -> String {
    format!(
        "check `credential_process` in profile '{profile}': run that command yourself and see what it prints"
    )
}

/// The program of `command` (its first word, or its quoted first part) for messages, as Rust
/// `aws-config`'s `CommandWithSensitiveArgs` shows it: the arguments may hold
/// a password. `sh -c …` → `` `sh` (arguments not shown) ``.
pub(crate) fn program(command: &str) -> String {
    let command = command.trim();
    // A quoted program (`"C:\Program Files\x.exe" --flag`) is shown whole.
    if let Some(q) = command.chars().next().filter(|c| matches!(c, '"' | '\''))
        && let Some(end) = command[1..].find(q)
    {
        let (program, rest) = command.split_at(end + 2);
        return if rest.trim().is_empty() {
            format!("`{}`", clean(program, 200))
        } else {
            format!("`{}` (arguments not shown)", clean(program, 200))
        };
    }
    match command.split_once(char::is_whitespace) {
        Some((program, _)) => format!("`{}` (arguments not shown)", clean(program, 200)),
        None => format!("`{}`", clean(command, 200)),
    }
}

/// The `cmd.exe` arguments that run `command` as typed: `/S /C "<command>"`.
///
/// `cmd.exe` does not split its command line by the C runtime's rules that
/// `Command::arg` quotes for: given `/S`, it removes the first and the last `"`
/// after `/C` and runs the rest unchanged ("cmd", Windows Commands reference,
/// <https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/cmd>,
/// the quote-processing rules under `/S`). So `"C:\Program Files\x.cmd" a "b c"`
/// runs that program with those two arguments, as it does typed at a prompt;
/// quoted by `Command::arg` it would reach `cmd.exe` as `\"C:\Program …` and
/// name no program.
#[cfg_attr(not(windows), allow(dead_code))]
fn cmd_line(command: &str) -> String {
    format!("/S /C \"{command}\"")
}

/// The shell command that runs `command`: `sh -c <command>` on Unix; on
/// Windows `cmd.exe` with the command line [`cmd_line`] makes, passed as it is.
fn shell(command: &str) -> Command {
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        let mut c = Command::new("cmd.exe");
        c.raw_arg(cmd_line(command));
        c
    }
    #[cfg(not(windows))]
    {
        let mut c = Command::new("sh");
        c.args(["-c", command]);
        c
    }
}

/// What a pipe-reading thread shares with the waiting thread.
#[derive(Default)]
struct Captured {
    /// Stdout: everything (up to the bound). Stderr: the last [`STDERR_TAIL`] bytes.
    bytes: Mutex<Vec<u8>>,
    /// Stdout only: more than the bound arrived; the reader stopped.
    overflow: AtomicBool,
    /// The reader reached end of file (or a read error, or the bound).
    done: AtomicBool,
}

impl Captured {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes.locked())
    }
}

/// Reads stdout into `cap` until end of file, or until more than `max` bytes
/// arrived (then sets `overflow` and stops reading; dropping the pipe gives the
/// child `EPIPE`/`SIGPIPE`).
fn read_stdout(mut pipe: impl Read, cap: &Captured, max: usize) {
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let mut bytes = cap.bytes.locked();
                if bytes.len() + n > max {
                    cap.overflow.store(true, Ordering::Release);
                    break;
                }
                bytes.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    cap.done.store(true, Ordering::Release);
}

/// Drains stderr to end of file: forwards each line to the log (at most
/// [`MAX_STDERR_LINES`], each cut to [`MAX_LOG_LINE`] characters) and keeps the
/// last [`STDERR_TAIL`] bytes in `cap` for an error.
fn read_stderr(mut pipe: impl Read, cap: &Captured, prefix: &str) {
    let mut chunk = [0u8; 4096];
    let mut line: Vec<u8> = Vec::new();
    let mut logged = 0usize;
    let log_line = |line: &[u8], logged: &mut usize| {
        if *logged < MAX_STDERR_LINES {
            let text = clean(&String::from_utf8_lossy(line), MAX_LOG_LINE);
            if !text.is_empty() {
                log::warn!("{prefix}: {text}");
                *logged += 1;
                if *logged == MAX_STDERR_LINES {
                    log::warn!("{prefix}: (further stderr lines not logged)");
                }
            }
        }
    };
    loop {
        let n = match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        {
            let mut tail = cap.bytes.locked();
            tail.extend_from_slice(&chunk[..n]);
            if tail.len() > STDERR_TAIL {
                let excess = tail.len() - STDERR_TAIL;
                tail.drain(..excess);
            }
        }
        for &b in &chunk[..n] {
            if b == b'\n' {
                log_line(&line, &mut logged);
                line.clear();
            } else if line.len() < MAX_LOG_LINE * 4 {
                line.push(b);
            }
        }
    }
    if !line.is_empty() {
        log_line(&line, &mut logged);
    }
    cap.done.store(true, Ordering::Release);
}

/// The end of stderr for an error: non-empty lines joined with ` / `, the last
/// [`STDERR_EXCERPT`] characters.
fn excerpt(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let joined = text
        .lines()
        .map(|l| clean(l, usize::MAX))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    Some(clean_tail(&joined, STDERR_EXCERPT)).filter(|e| !e.is_empty())
}

/// Kills and reaps the child. The pipe readers are left to finish on their own:
/// a grandchild may still hold the pipes, and we do not wait for it.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits (bounded by `grace`) for a reader to reach end of file.
fn settle(cap: &Captured, grace: Duration) -> bool {
    let until = Instant::now() + grace;
    while !cap.done.load(Ordering::Acquire) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Runs the command and returns its stdout, or why it failed.
fn run(
    command: &str,
    profile: &str,
    timeout: Duration,
    max_output: usize,
) -> Result<Vec<u8>, SourceError> {
    let what = label(profile);
    let started = Instant::now();
    let mut child = shell(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            SourceError::new(format!(
                "cannot start {what} (through {}): {e}",
                if cfg!(windows) {
                    "cmd.exe /S /C"
                } else {
                    "sh -c"
                }
            ))
            .with_hint(hint(profile))
        })?;
    let out = Arc::new(Captured::default());
    let err = Arc::new(Captured::default());
    // Each pipe is read on its own thread, so a child that fills one pipe while
    // we read the other cannot deadlock. The threads end at end of file.
    if let Some(pipe) = child.stdout.take() {
        let out = Arc::clone(&out);
        std::thread::spawn(move || read_stdout(pipe, &out, max_output));
    }
    if let Some(pipe) = child.stderr.take() {
        let err = Arc::clone(&err);
        let prefix = what.clone();
        std::thread::spawn(move || read_stderr(pipe, &err, &prefix));
    }

    let deadline = started + timeout;
    let mut pause = Duration::from_millis(1);
    // Bounded: every pass either returns or sleeps, and the deadline ends it.
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                stop(&mut child);
                return Err(SourceError::new(format!("waiting for {what} failed: {e}"))
                    .with_hint(hint(profile)));
            }
        }
        if out.overflow.load(Ordering::Acquire) {
            stop(&mut child);
            return Err(too_much(&what, profile, max_output));
        }
        let now = Instant::now();
        if now >= deadline {
            stop(&mut child);
            return Err(SourceError::new(format!(
                "{what} did not finish within {} and was stopped",
                seconds(timeout)
            ))
            .with_hint(format!(
                "{}; it may be waiting for input it cannot get (its stdin is closed)",
                hint(profile)
            )));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    };

    let out_complete = settle(&out, PIPE_GRACE);
    settle(&err, PIPE_GRACE);
    if out.overflow.load(Ordering::Acquire) {
        return Err(too_much(&what, profile, max_output));
    }
    if !out_complete {
        log::debug!(
            "{what} exited but its stdout is still open (a process it started holds it); using what it wrote"
        );
    }
    if !status.success() {
        // The end of stderr goes to the log, never into the error: the error
        // reaches the MCP client, and a helper may print a secret there.
        let mut tail = err.take();
        match excerpt(&tail) {
            Some(text) => log::warn!("{what} failed ({status}); the end of its stderr: {text}"),
            None => log::warn!("{what} failed ({status}) and wrote nothing to stderr"),
        }
        tail.zeroize();
        let program = program(command);
        return Err(SourceError::new(format!(
            "{what} ({program}) failed ({status}); its stderr is in mcp-sigv4's log"
        ))
        .with_hint(format!(
            "run the command of `credential_process` in profile '{profile}' yourself to see why it fails ({status})"
        )));
    }
    Ok(out.take())
}

fn too_much(what: &str, profile: &str, max: usize) -> SourceError {
    SourceError::new(format!(
        "{what} wrote more than {max} bytes to stdout and was stopped"
    ))
    .with_hint(hint(profile))
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Reads the `credential_process` JSON from `stdout`, the output of the
/// `credential_process` of profile `profile`.
///
/// The format: AWS SDKs and Tools Reference Guide, "Process credential
/// provider",
/// <https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html>.
/// `Version` must be the number 1; `AccessKeyId` and `SecretAccessKey` are
/// required non-empty strings; `SessionToken` and `Expiration` (RFC 3339, the
/// credentials' expiry) are optional (`null` counts as absent). Key names match
/// case-insensitively and the last of equal names wins (Rust `aws-config`).
/// Other keys, `AccountId` among them, are ignored: [`Credentials`] carries no
/// account id. The parsed document is overwritten with zeros before this
/// returns.
///
/// # Errors
/// [`SourceError`] naming what is wrong (not JSON, not an object, which field is
/// missing or invalid) without ever quoting the output.
pub(crate) fn parse_process_output(
    stdout: &[u8],
    profile: &str,
) -> Result<Credentials, SourceError> {
    let what = label(profile);
    let bad = |why: JsonError| {
        SourceError::new(format!("the output of {what} {why}"))
            .with_hint(format!(
                "{}; it must print JSON with \"Version\": 1, \"AccessKeyId\" and \"SecretAccessKey\"",
                hint(profile)
            ))
            .caused_by(why)
    };
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(
            SourceError::new(format!("the output of {what} is empty")).with_hint(hint(profile))
        );
    }
    let object = json::Document::parse(stdout).map_err(bad)?;
    read_output(&object, what.clone()).map_err(bad)
}

fn read_output(object: &Object, what: String) -> Result<Credentials, JsonError> {
    let version = JsonError::Unsupported {
        name: "Version",
        expected: "the number 1",
    };
    match json::field(object, "Version") {
        None => return Err(JsonError::Missing("Version")),
        Some(v) if v.as_u64() == Some(1) => {}
        Some(_) => return Err(version),
    }
    let access_key_id = json::required_string(object, "AccessKeyId")?;
    let secret = json::required_string(object, "SecretAccessKey")?;
    let token = json::optional_string(object, "SessionToken")?;
    let expiry = json::optional_time(object, "Expiration")?;
    Ok(Credentials::new(
        access_key_id,
        Secret::from(secret),
        token.map(Secret::from),
        expiry,
        what,
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEJ7//////////TOKENVALUE";

    fn run_json(json: &str) -> Result<Credentials, SourceError> {
        let command = format!("printf '%s' '{json}'");
        run_with_limits(&command, "dev", Duration::from_secs(10), MAX_PROCESS_OUTPUT)
    }

    fn assert_no_secrets(e: &SourceError) {
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains(SECRET), "secret in {shown}");
            assert!(!shown.contains(TOKEN), "token in {shown}");
            assert!(!shown.contains("SECRETKEY"), "secret in {shown}");
        }
    }

    #[test]
    fn full_output_gives_keys_token_and_expiry() {
        let c = run_json(&format!(
            r#"{{"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "{SECRET}", "SessionToken": "{TOKEN}", "Expiration": "2030-05-02T18:36:00+00:00", "AccountId": "111122223333"}}"#
        ))
        .unwrap();
        assert_eq!(c.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key().expose(), SECRET);
        assert_eq!(c.session_token().unwrap().expose(), TOKEN);
        assert_eq!(
            c.expiry(),
            Some(parse_rfc3339("2030-05-02T18:36:00Z").unwrap())
        );
        assert_eq!(c.source(), "credential_process of profile 'dev'");
    }

    #[test]
    fn minimal_output_never_expires_and_keys_match_case_insensitively() {
        let c = run_json(&format!(
            r#"{{"version": 1, "accesskeyid": "AKIAEXAMPLE", "SECRETACCESSKEY": "{SECRET}", "SessionToken": null}}"#
        ))
        .unwrap();
        assert_eq!(c.access_key_id(), "AKIAEXAMPLE");
        assert_eq!(c.secret_access_key().expose(), SECRET);
        assert!(c.session_token().is_none());
        assert_eq!(c.expiry(), None);
    }

    #[test]
    fn version_must_be_the_number_one() {
        let body = format!(r#""AccessKeyId": "AKID", "SecretAccessKey": "{SECRET}""#);
        let e = run_json(&format!("{{{body}}}")).unwrap_err();
        assert!(e.message.contains("has no \"Version\""), "{e}");
        assert_no_secrets(&e);
        for version in ["2", "\"1\"", "1.5", "null"] {
            let e = run_json(&format!(r#"{{"Version": {version}, {body}}}"#)).unwrap_err();
            assert!(
                e.message.contains("unsupported \"Version\""),
                "{version}: {e}"
            );
            assert_no_secrets(&e);
        }
    }

    #[test]
    fn missing_or_invalid_fields_are_named_without_values() {
        let cases = [
            (
                format!(r#"{{"Version": 1, "SecretAccessKey": "{SECRET}"}}"#),
                "has no \"AccessKeyId\"",
            ),
            (
                r#"{"Version": 1, "AccessKeyId": "AKID"}"#.to_owned(),
                "has no \"SecretAccessKey\"",
            ),
            (
                r#"{"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "  "}"#.to_owned(),
                "has no \"SecretAccessKey\"",
            ),
            (
                format!(
                    r#"{{"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "{SECRET}", "SessionToken": 5}}"#
                ),
                "\"SessionToken\" that is not a string",
            ),
            (
                format!(
                    r#"{{"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "{SECRET}", "Expiration": "{TOKEN}"}}"#
                ),
                "\"Expiration\" that is not an RFC 3339 time",
            ),
            (
                format!(r#"{{"Version": 1, "SecretAccessKey": "{SECRET}""#),
                "is not valid JSON",
            ),
            (format!(r#"["{SECRET}"]"#), "is not a JSON object"),
            (String::new(), "is empty"),
        ];
        let mut failures = Vec::new();
        for (json, expected) in &cases {
            match run_json(json) {
                Ok(_) => failures.push(format!("{expected}: accepted")),
                Err(e) => {
                    assert_no_secrets(&e);
                    if !e.message.contains(expected) {
                        failures.push(format!("{expected}: got {e}"));
                    }
                    assert!(
                        e.hint.as_deref().unwrap().contains("credential_process"),
                        "{e}"
                    );
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn non_zero_exit_names_the_program_and_status_but_not_stderr_or_stdout() {
        let command = format!(
            "printf '%s' '{{\"SecretAccessKey\": \"{SECRET}\"}}'; echo 'first line' >&2; echo 'token expired: {TOKEN}' >&2; exit 3"
        );
        let e = run_with_limits(&command, "dev", Duration::from_secs(10), 1024).unwrap_err();
        assert!(
            e.message.contains(
                "credential_process of profile 'dev' (`printf` (arguments not shown)) failed (exit status: 3)"
            ),
            "{e}"
        );
        assert!(!e.to_string().contains("first line"), "{e}");
        assert!(!e.to_string().contains("token expired"), "{e}");
        let hint = e.hint.as_deref().unwrap();
        assert!(
            hint.contains("`credential_process` in profile 'dev'")
                && hint.contains("exit status: 3"),
            "{hint}"
        );
        assert_no_secrets(&e);
    }

    #[test]
    fn the_program_is_shown_without_its_arguments() {
        assert_eq!(program("/usr/bin/vault-creds"), "`/usr/bin/vault-creds`");
        assert_eq!(
            program(" helper --password hunter2 "),
            "`helper` (arguments not shown)"
        );
        assert_eq!(program("a\x1b[31m b"), "`a [31m` (arguments not shown)");
        assert_eq!(
            program(r#""C:\Users\Jane Doe\get creds.cmd" dev --password x"#),
            r#"`"C:\Users\Jane Doe\get creds.cmd"` (arguments not shown)"#
        );
        assert_eq!(program("'/opt/my tools/creds'"), "`'/opt/my tools/creds'`");
        assert_eq!(
            program(r#""unclosed quote"#),
            r#"`"unclosed` (arguments not shown)"#
        );
    }

    #[test]
    fn cmd_exe_gets_the_command_unchanged_between_the_quotes_it_strips() {
        assert_eq!(
            cmd_line(r#""C:\Users\Jane Doe\get creds.exe" EXE "two words""#),
            r#"/S /C ""C:\Users\Jane Doe\get creds.exe" EXE "two words"""#
        );
        assert_eq!(cmd_line("helper dev"), r#"/S /C "helper dev""#);
    }

    #[test]
    fn a_slow_command_is_killed_at_the_timeout() {
        let started = Instant::now();
        // Not `exec`: the shell stays the child and `sleep` a grandchild holding
        // the pipes, which must not keep us waiting either.
        let e = run_with_limits(
            "sleep 20; echo done",
            "dev",
            Duration::from_millis(300),
            1024,
        )
        .unwrap_err();
        let took = started.elapsed();
        assert!(e.message.contains("did not finish within 300 ms"), "{e}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }

    #[test]
    fn oversized_output_stops_the_command() {
        // `yes` never ends by itself: only the bound stops it (the timeout
        // would say "did not finish").
        let e = run_with_limits("yes x", "dev", Duration::from_secs(20), 4096).unwrap_err();
        assert!(e.message.contains("more than 4096 bytes"), "{e}");
    }

    #[test]
    fn the_child_stdin_is_null() {
        // `cat` copies stdin: it must see end of file at once (an inherited stdin
        // could be a terminal or the MCP client's pipe and would block until the
        // timeout, an error). On Linux the command also reports what its fd 0 is.
        let command = format!(
            "cat; k=$(readlink /proc/self/fd/0 2>/dev/null || echo unknown); printf '{{\"Version\":1,\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"{SECRET}\"}}' \"$k\""
        );
        let c = run_with_limits(&command, "dev", Duration::from_secs(10), 4096).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(c.access_key_id(), "/dev/null");
        }
    }

    #[test]
    fn a_background_process_holding_stdout_does_not_block() {
        // Blocked, it would end at the 10 s timeout with an error.
        let command = format!(
            "(sleep 20 &); printf '%s' '{{\"Version\":1,\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"{SECRET}\"}}'"
        );
        let c = run_with_limits(&command, "dev", Duration::from_secs(10), 4096).unwrap();
        assert_eq!(c.access_key_id(), "AKID");
    }

    #[test]
    fn a_missing_shell_command_is_a_failed_exit() {
        let e = credentials_from_process("/nonexistent/mcp-sigv4-helper", "p").unwrap_err();
        // The shell reports it (status 127); why is in the log.
        assert!(
            e.message.contains(
                "credential_process of profile 'p' (`/nonexistent/mcp-sigv4-helper`) failed (exit status: 127)"
            ),
            "{e}"
        );
    }

    #[test]
    fn excerpt_keeps_the_end_of_long_stderr() {
        let long = format!("{}\nthe reason\n", "x".repeat(2000));
        let text = excerpt(long.as_bytes()).unwrap();
        assert!(
            text.starts_with('…') && text.ends_with(" / the reason"),
            "{text}"
        );
        assert_eq!(text.chars().count(), STDERR_EXCERPT + 1);
        assert_eq!(
            excerpt(b"\x1b[31mred\x1b[0m\r\n"),
            Some("[31mred [0m".into())
        );
        assert_eq!(excerpt(b" \n\n"), None);
    }
}
