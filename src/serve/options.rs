//! `serve`'s settings: the flags as typed, checked and read into [`Options`].
//!
//! Owns: the defaults of every bound, reading `--token-file` (at most 4 KiB,
//! never logged or echoed), and the refusal of a non-loopback `--listen`
//! without a token.
//! Refuses: starting anything.

use std::path::Path;
use std::time::Duration;

use super::listen::Listen;
use crate::cli::ServeArgs;
use crate::error::ConfigError;
use crate::secret::Secret;

/// The default `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;
/// The default `--max-sessions`.
pub const DEFAULT_MAX_SESSIONS: usize = 256;
/// The default `--max-body-bytes` (4 MiB, as the MCP Python SDK's server).
pub const DEFAULT_MAX_BODY: u64 = 4 << 20;
/// The default `--max-head-bytes` (16 KiB).
pub const DEFAULT_MAX_HEAD: u64 = 16 << 10;
/// The default `--request-timeout`: a request's head and body, from its first
/// byte.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The default `--keep-alive`: an idle connection between requests.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(60);
/// The default `--session-idle`.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// The default `--drain-timeout`: after SIGTERM or Ctrl+C, for requests in
/// flight.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);
/// The most bytes of a token file.
const MAX_TOKEN_FILE: u64 = 4 << 10;

/// What `serve` runs with.
#[derive(Debug)]
pub struct Options {
    /// Where to listen.
    pub listen: Listen,
    /// The bearer token every request must carry, when given.
    pub token: Option<Secret>,
    /// Connections open at once; past it a new one is answered 503 and closed.
    pub max_connections: usize,
    /// Client sessions at once; past it an `initialize` is answered 503.
    pub max_sessions: usize,
    /// One request body, bytes (413 past it).
    pub max_body: u64,
    /// One request head, bytes (431 past it).
    pub max_head: usize,
    /// A request's head and body from its first byte (408 past it).
    pub request_timeout: Duration,
    /// An idle connection between requests.
    pub keep_alive: Duration,
    /// A session with nothing in progress for this long is ended.
    pub session_idle: Duration,
    /// After SIGTERM or Ctrl+C, how long requests in flight may take.
    pub drain: Duration,
}

impl Options {
    /// Checks `args` and reads the token file.
    ///
    /// # Errors
    /// [`ConfigError`] for a bad `--listen`, an unreadable or empty token
    /// file, or a non-loopback address without `--token-file`.
    pub fn resolve(args: &ServeArgs) -> Result<Options, ConfigError> {
        let text = args.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = Listen::parse(text).map_err(ConfigError::new)?;
        let token = match &args.token_file {
            Some(path) => Some(read_token(Path::new(path))?),
            None => None,
        };
        if !listen.is_loopback() && token.is_none() {
            return Err(ConfigError::new(format!(
                "--listen {text}: not a loopback address, and no --token-file: anyone who can reach it could call the MCP server with your AWS credentials"
            ))
            .with_hint(
                "give --token-file FILE (clients then send 'Authorization: Bearer <the file's text>'), or listen on 127.0.0.1:PORT",
            ));
        }
        Ok(Options {
            listen,
            token,
            max_connections: args.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            max_sessions: args.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS),
            max_body: args.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
            max_head: usize::try_from(args.max_head_bytes.unwrap_or(DEFAULT_MAX_HEAD))
                .unwrap_or(usize::MAX),
            request_timeout: args.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
            keep_alive: args.keep_alive.unwrap_or(DEFAULT_KEEP_ALIVE),
            session_idle: args.session_idle.unwrap_or(DEFAULT_SESSION_IDLE),
            drain: args.drain_timeout.unwrap_or(DEFAULT_DRAIN),
        })
    }
}

/// The token: the file's text without surrounding white space.
fn read_token(path: &Path) -> Result<Secret, ConfigError> {
    let shown = path.display();
    let fix = "write the token (one line, at most 4 KiB) to the file, readable by this user";
    let text = match crate::fs::read_secret(path, MAX_TOKEN_FILE) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err(
                ConfigError::new(format!("--token-file {shown}: no such file")).with_hint(fix),
            );
        }
        Err(e) => {
            return Err(
                ConfigError::new(format!("--token-file {shown}: cannot read it: {e}"))
                    .with_hint(fix),
            );
        }
    };
    let token = Secret::from(text.expose().trim());
    if token.is_empty() {
        return Err(
            ConfigError::new(format!("--token-file {shown}: the file is empty")).with_hint(fix),
        );
    }
    Ok(token)
}
