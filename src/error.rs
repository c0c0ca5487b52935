//! Errors that end the process, how they are printed, and their exit codes.
//!
//! Owns: [`Error`], the one error `main` can receive — a command line that
//! cannot be read ([`UsageError`]), a configuration that cannot work
//! ([`ConfigError`]), or a relay that could not run — its exit code
//! ([`Error::exit_code`], the only mapping of errors to codes), and the text
//! printed for it ([`render`]): the error and its causes on one line
//! (`mcp-sigv4: what happened: why`), then a `hint:` line with the fix when
//! one is known, as rage and ripgrep print theirs.
//! Refuses: exiting the process — only `main` does — and printing secrets:
//! every message is built from values that are not secret (flags never take a
//! secret; URLs with user information are refused without being echoed).

use std::fmt;

/// Exit code of a successful run (the client closed stdin, or `--help`).
pub const EXIT_OK: u8 = 0;
/// Exit code when the relay could not run or stopped on an I/O failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a command line or configuration that cannot work: nothing
/// was sent.
pub const EXIT_USAGE: u8 = 2;

/// A boxed cause.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A command line that could not be read (an unknown flag, a missing or
/// malformed value). Its hint points to `--help`.
#[derive(Debug)]
pub struct UsageError {
    message: String,
    source: Option<Cause>,
}

impl UsageError {
    /// An error saying `message` (`--retries: expected a number …, found "x"`).
    pub fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            source: None,
        }
    }

    /// The fix: always `see mcp-sigv4 --help`.
    pub fn hint(&self) -> Option<&str> {
        Some("see `mcp-sigv4 --help`")
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        // lexopt's own text says what was wrong ("invalid option '--x'").
        UsageError {
            message: e.to_string(),
            source: None,
        }
    }
}

/// A configuration that cannot work: what is wrong, its cause, and the
/// change that fixes it.
#[derive(Debug)]
pub struct ConfigError {
    message: String,
    hint: Option<String>,
    source: Option<Cause>,
}

impl ConfigError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// Adds the fix (`pass --region, set AWS_REGION, …`).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds the cause.
    pub fn caused_by(mut self, source: impl Into<Cause>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The fix, when one is known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// A URL refused by [`Url::check_plain_http`](crate::url::Url::check_plain_http)
    /// or [`Url::parse`](crate::url::Url::parse): its message already says
    /// what to do.
    pub fn from_url(e: crate::url::UrlError) -> Self {
        ConfigError::new(e.0)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Why the process ends with a failure.
#[derive(Debug)]
pub enum Error {
    /// The command line could not be read.
    Usage(UsageError),
    /// The configuration cannot work.
    Config(ConfigError),
    /// The relay could not run (e.g. a thread could not be started), or
    /// reading stdin failed.
    Relay(Cause),
}

impl Error {
    /// The process exit code: [`EXIT_USAGE`] for usage and configuration
    /// errors (nothing was sent), [`EXIT_FAILURE`] otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config(_) => EXIT_USAGE,
            Error::Relay(_) => EXIT_FAILURE,
        }
    }

    /// The fix, when one is known.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage(e) => e.hint(),
            Error::Config(e) => e.hint(),
            Error::Relay(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Config(e) => e.fmt(f),
            Error::Relay(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(e) => e.source(),
            Error::Config(e) => e.source(),
            Error::Relay(e) => e.source(),
        }
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

/// An error and its causes on one line, joined by `: `.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// What `main` prints on stderr for `e`: `mcp-sigv4: <chain>`, and a
/// `hint: <fix>` line when a fix is known. Ends with a newline.
pub fn render(e: &Error) -> String {
    let mut text = format!("mcp-sigv4: {}\n", chain(e));
    if let Some(h) = e.hint() {
        text.push_str(&format!("hint: {h}\n"));
    }
    text
}

/// The JSON-RPC error code of the answer to a client whose relay could not
/// start (the implementation-defined server-error range of JSON-RPC 2.0,
/// <https://www.jsonrpc.org/specification#error_object>).
pub const STARTUP_ERROR_CODE: i64 = -32000;

/// The answer, one JSON-RPC line without its newline, to `line` (a message
/// the MCP client sent, normally its `initialize`) when the relay could not
/// start because of `e`: an error whose message is `mcp-sigv4 could not
/// start: <error chain> (fix: <hint>)`, and whose `data` carries `exitCode`
/// and `hint`, so an MCP client shows the cause instead of "connection
/// closed". `None` for a line that is not a request (no `id`, or no
/// `method`): a notification or an answer gets no answer.
pub fn startup_answer(e: &Error, line: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let id = v.get("id").filter(|id| id.is_string() || id.is_number())?;
    v.get("method").and_then(serde_json::Value::as_str)?;
    let mut message = format!("mcp-sigv4 could not start: {}", chain(e));
    if let Some(h) = e.hint() {
        message.push_str(&format!(" (fix: {h})"));
    }
    let answer = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": STARTUP_ERROR_CODE,
            "message": message,
            "data": {"exitCode": e.exit_code(), "hint": e.hint()},
        },
    });
    Some(answer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_up_error_answers_the_clients_request() {
        let e =
            Error::from(ConfigError::new("cannot tell the AWS region").with_hint("pass --region"));
        let a = startup_answer(
            &e,
            br#"{"jsonrpc":"2.0","id":"init-1","method":"initialize","params":{}}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["id"], "init-1");
        assert_eq!(v["error"]["code"], STARTUP_ERROR_CODE);
        assert_eq!(
            v["error"]["message"],
            "mcp-sigv4 could not start: cannot tell the AWS region (fix: pass --region)"
        );
        assert_eq!(v["error"]["data"]["exitCode"], 2);
        assert!(!a.contains('\n'));
        for not_a_request in [
            &br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            b"not json",
        ] {
            assert_eq!(startup_answer(&e, not_a_request), None);
        }
    }

    #[test]
    fn causes_go_on_one_line_and_the_hint_on_its_own() {
        let cause = ConfigError::new("expected a port number, found \"x\"");
        let e = Error::from(
            ConfigError::new("invalid endpoint URL \"https://h:x/\"")
                .caused_by(cause)
                .with_hint("check the URL"),
        );
        assert_eq!(
            render(&e),
            "mcp-sigv4: invalid endpoint URL \"https://h:x/\": expected a port number, found \"x\"\nhint: check the URL\n"
        );
        assert_eq!(e.exit_code(), EXIT_USAGE);
        let e = Error::from(UsageError::new("--retries: expected a number"));
        assert_eq!(
            render(&e),
            "mcp-sigv4: --retries: expected a number\nhint: see `mcp-sigv4 --help`\n"
        );
        let e = Error::Relay("reading stdin failed".into());
        assert_eq!(e.exit_code(), EXIT_FAILURE);
        assert_eq!(render(&e), "mcp-sigv4: reading stdin failed\n");
    }
}
