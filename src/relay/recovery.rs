//! Opening a new session after the server ended one.
//!
//! Owns: replaying the client's `initialize` (with an id of the relay's own,
//! without a session id) and `notifications/initialized` (in the new session,
//! before any other request may use it), then making the new session current
//! and starting its GET stream — one at a time per upstream session, so that
//! requests that lost the session together open one new session; the same
//! opens another AWS profile's session on its first message (`profiles.rs`)
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#session-management>).
//! Refuses: replaying anything when the client never sent an `initialize`;
//! showing the client the replayed handshake's answers.

use std::fmt;

use serde_json::{Value, json};

use super::conversation::Exchange;
use super::failure::Failure;
use super::internal::{OwnRequestError, request_of_our_own};
use super::jsonrpc;
use super::jsonrpc::Id;
use super::listen;
use super::revision::Revision;
use super::session;
use super::splice;
use super::upstream::SendError;
use super::upstream::SendOptions;
use crate::http::{Method, RequestTimeouts};
use crate::secret::Secret;

/// The body of `notifications/initialized` when the client sent none.
const INITIALIZED: &[u8] = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Why no new session could be opened.
#[derive(Debug)]
pub(crate) enum RecoveryError {
    /// The client never sent an `initialize` to replay.
    NoInitialize,
    /// The client's `initialize` has no id to replace.
    NoId,
    /// The replayed `initialize` got no response.
    Open(OwnRequestError),
    /// The server answered the replayed `initialize` with this error.
    Refused(Value),
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryError::NoInitialize => {
                f.write_str("the server ended the session and there is no initialize to replay")
            }
            RecoveryError::NoId => f.write_str("the initialize to replay has no id"),
            RecoveryError::Open(_) => {
                f.write_str("the server ended the MCP session and opening a new one failed")
            }
            RecoveryError::Refused(error) => write!(
                f,
                "the server ended the MCP session and refused a new initialize: {error}"
            ),
        }
    }
}

impl std::error::Error for RecoveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecoveryError::Open(e) => Some(e),
            _ => None,
        }
    }
}

/// Replays the client's `initialize` and `notifications/initialized` to open a
/// new session after the server ended `failed_generation`. One at a time; a
/// caller whose session was already replaced just goes on.
pub(crate) fn reinitialize(ctx: &Exchange, failed_generation: u64) -> Result<(), RecoveryError> {
    let (shared, up) = (&ctx.shared, &ctx.up);
    let _one = up.reopening();
    let session = up.session();
    if session.generation() != failed_generation {
        return Ok(());
    }
    let original = shared
        .handshake
        .initialize()
        .ok_or(RecoveryError::NoInitialize)?;
    let original = String::from_utf8_lossy(&original).into_owned();
    let id = shared.internal_id();
    let id_span = splice::find(&original, &["id"]).ok_or(RecoveryError::NoId)?;
    let body = splice::replace(&original, id_span, &json!(id).to_string()).into_bytes();
    let old_version = session.protocol_version();
    // The old id is kept until the new session replaces it (the replayed
    // initialize goes without one): requests sent meanwhile carry the old id,
    // get 404, and wait here for the new session.
    let (response, new_id) = request_of_our_own(
        ctx,
        &body,
        &SendOptions::default(),
        &Id::from_json(&json!(id).to_string()),
    )
    .map_err(RecoveryError::Open)?;
    let new_id = new_id.filter(|id| session::valid_id(id));
    if let Some(error) = response.get("error") {
        return Err(RecoveryError::Refused(error.clone()));
    }
    if let Some(v) = response
        .pointer("/result/protocolVersion")
        .and_then(Value::as_str)
    {
        if old_version.as_deref().is_some_and(|old| old != v) {
            log::warn!("the new MCP session negotiated protocol version {v} (was {old_version:?})");
        }
        session.set_protocol_version(v);
    }
    let initialized = shared
        .handshake
        .initialized()
        .unwrap_or_else(|| INITIALIZED.to_vec());
    let t = &shared.process.timeouts;
    let timeouts = RequestTimeouts {
        response: t.read,
        per_read: Some(t.read),
        total: Some(t.exchange),
    };
    // notifications/initialized goes out in the new session before any other
    // request may use it.
    let in_new_session = match &new_id {
        Some(new_id) => SendOptions {
            with_session: true,
            session_id: Some(Secret::from(new_id.as_str())),
            ..Default::default()
        },
        None => SendOptions {
            protocol_version: session.protocol_version(),
            ..Default::default()
        },
    };
    match up.send(Method::Post, &initialized, &in_new_session, timeouts) {
        Ok(s) if (200..300).contains(&s.response.status) => {}
        Ok(s) => log::warn!(
            "notifications/initialized for the new session: HTTP {}",
            s.response.status
        ),
        Err(e) => log::warn!("notifications/initialized for the new session: {e}"),
    }
    let generation = session.replace(new_id.as_deref());
    if failed_generation == 0 && ctx.is_routed() {
        log::info!(
            "opened the MCP session{} by replaying the client's initialize",
            up.of_profile()
        );
    } else {
        log::info!(
            "the server ended the MCP session{}; opened a new one by replaying the client's initialize",
            up.of_profile()
        );
    }
    listen::start(ctx, generation);
    Ok(())
}

/// Before a message goes to another profile's session than the default's:
/// that session, opened on its first message by replaying the client's
/// handshake ([`reinitialize`]), unless the message's `revision` has no
/// sessions (2026-07-28) or it is open. `Err`: the answer for the message's
/// requests — `not_sent`'s for a request that could not be signed (`-32002`
/// with the fix), else an upstream error naming the profile.
pub(crate) fn open_session(
    ctx: &Exchange,
    revision: &Revision,
    not_sent: impl FnOnce(&SendError) -> Failure,
) -> Result<(), Failure> {
    if !ctx.is_routed() || !revision.has_sessions() || ctx.up.session().generation() != 0 {
        return Ok(());
    }
    match reinitialize(ctx, 0) {
        Ok(()) => Ok(()),
        Err(RecoveryError::Open(OwnRequestError::Send(e))) => Err(not_sent(&e)),
        Err(why) => Err(Failure {
            code: jsonrpc::UPSTREAM_ERROR,
            message: format!(
                "cannot open an MCP session{} at {}: {}",
                ctx.up.of_profile(),
                ctx.up.host(),
                crate::error::chain(&why)
            ),
            data: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain;

    #[test]
    fn the_reason_a_new_session_failed_reads_as_one_line() {
        let e = RecoveryError::Open(OwnRequestError::Status {
            status: 503,
            message: Some("busy".into()),
        });
        assert_eq!(
            chain(&e),
            "the server ended the MCP session and opening a new one failed: HTTP 503: busy"
        );
        let e = RecoveryError::Open(OwnRequestError::ContentType(Some("text/plain".into())));
        assert_eq!(
            chain(&e),
            "the server ended the MCP session and opening a new one failed: unexpected content type Some(\"text/plain\")"
        );
        let e = RecoveryError::Refused(json!({"code": -32602, "message": "no"}));
        assert_eq!(
            chain(&e),
            r#"the server ended the MCP session and refused a new initialize: {"code":-32602,"message":"no"}"#
        );
        assert_eq!(
            chain(&RecoveryError::NoInitialize),
            "the server ended the session and there is no initialize to replay"
        );
    }
}
