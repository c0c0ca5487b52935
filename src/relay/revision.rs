//! The MCP protocol revisions, and what the relay does differently in each.
//!
//! Owns: the [`Revision`] a client message is sent under — the one a request
//! names in its `params._meta` envelope (`io.modelcontextprotocol/protocolVersion`,
//! since 2026-07-28), else the one the session negotiated — and every rule that
//! depends on it: sessions and the handshake, the GET stream and resumption,
//! cancelling by closing the request's stream, routing headers, batches
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http>;
//! <https://modelcontextprotocol.io/specification/2026-07-28/basic/transports/streamable-http>,
//! "Backward Compatibility"). Pure.
//! Refuses: judging a revision it does not know. An unknown name in an envelope
//! is carried as [`Revision::Other`], sent by the rules of the first revision
//! with an envelope, and left to the server to accept or refuse (`-32022`).

use serde_json::Value;

/// The `_meta` key that carries a request's protocol revision (2026-07-28).
pub(crate) const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";

/// An MCP protocol revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Revision {
    /// 2025-03-26: Streamable HTTP with sessions; JSON-RPC batches both ways.
    V2025_03_26,
    /// 2025-06-18: no batches; the `MCP-Protocol-Version` header.
    V2025_06_18,
    /// 2025-11-25: priming events; servers may close a stream to be polled.
    V2025_11_25,
    /// 2026-07-28: no handshake, no sessions, no GET stream, no resumption;
    /// each request names its revision in `_meta`, carries routing headers and
    /// is cancelled by closing its stream.
    V2026_07_28,
    /// A name this relay does not know, from a request's envelope: sent by
    /// 2026-07-28's rules (the envelope exists only since then) for the server
    /// to judge. Holds the name as the request gave it.
    Other(String),
}

impl Revision {
    /// The revision a request names in its `_meta` envelope, if it names one.
    pub(crate) fn from_envelope(message: &Value) -> Option<Revision> {
        let name = message
            .get("params")?
            .get("_meta")?
            .get(VERSION_KEY)?
            .as_str()?;
        Some(match name {
            "2026-07-28" => Revision::V2026_07_28,
            // The revisions before 2026-07-28 have no envelope: a request that
            // names one in its envelope is not one of theirs.
            other => Revision::Other(other.to_owned()),
        })
    }

    /// The revision of a message without an envelope: the one `initialize`
    /// negotiated (`negotiated`, the server's `protocolVersion`). Before that,
    /// or for a name the relay does not know, 2025-03-26, which the transport
    /// tells a server to assume when it knows nothing else
    /// (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#protocol-version-header>).
    /// A session is a handshake revision whatever the server's name says.
    pub(crate) fn negotiated(negotiated: Option<&str>) -> Revision {
        match negotiated {
            Some("2025-06-18") => Revision::V2025_06_18,
            Some("2025-11-25") => Revision::V2025_11_25,
            _ => Revision::V2025_03_26,
        }
    }

    /// The revision's name, e.g. `2025-11-25`: the `MCP-Protocol-Version`
    /// value.
    pub(crate) fn name(&self) -> &str {
        match self {
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
            Revision::Other(name) => name,
        }
    }

    /// The 2025 revisions: an `initialize` handshake opens a session
    /// (`Mcp-Session-Id`, a 404 for a session the server ended, DELETE to end
    /// it), and the server may offer a GET stream.
    pub(crate) fn has_sessions(&self) -> bool {
        matches!(
            self,
            Revision::V2025_03_26 | Revision::V2025_06_18 | Revision::V2025_11_25
        )
    }

    /// A broken SSE stream may be resumed with a GET carrying `Last-Event-ID`
    /// (2025 revisions; 2026-07-28: "Resumable SSE streams via `Last-Event-ID`
    /// are not supported").
    pub(crate) fn resumes_streams(&self) -> bool {
        self.has_sessions()
    }

    /// Cancelling a request over HTTP is closing its response stream, not a
    /// POSTed `notifications/cancelled` (2026-07-28, "Cancellation").
    pub(crate) fn cancels_by_closing_stream(&self) -> bool {
        !self.has_sessions()
    }

    /// Each request carries `MCP-Protocol-Version` (its envelope's name),
    /// `Mcp-Method`, `Mcp-Name` and `Mcp-Param-*` headers derived from its
    /// body, and a `-32020` header mismatch on `tools/call` calls for listing
    /// the tools again (2026-07-28, "Request Metadata").
    pub(crate) fn routes_by_headers(&self) -> bool {
        !self.has_sessions()
    }

    /// A message may be a JSON-RPC batch (2025-03-26 only).
    pub(crate) fn allows_batches(&self) -> bool {
        *self == Revision::V2025_03_26
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(name: &str) -> Value {
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{VERSION_KEY: name}}})
    }

    #[test]
    fn a_request_names_its_revision_in_its_envelope() {
        assert_eq!(
            Revision::from_envelope(&envelope("2026-07-28")),
            Some(Revision::V2026_07_28)
        );
        assert_eq!(
            Revision::from_envelope(&envelope("2027-01-01")),
            Some(Revision::Other("2027-01-01".into()))
        );
        // A handshake revision's name in an envelope is not that revision.
        assert_eq!(
            Revision::from_envelope(&envelope("2025-11-25")),
            Some(Revision::Other("2025-11-25".into()))
        );
        let plain = json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}});
        assert_eq!(Revision::from_envelope(&plain), None);
        let not_text =
            json!({"jsonrpc":"2.0","id":2,"method":"x","params":{"_meta":{VERSION_KEY: 1}}});
        assert_eq!(Revision::from_envelope(&not_text), None);
    }

    #[test]
    fn a_session_is_a_handshake_revision_whatever_it_negotiated() {
        assert_eq!(
            Revision::negotiated(Some("2025-11-25")),
            Revision::V2025_11_25
        );
        assert_eq!(
            Revision::negotiated(Some("2025-06-18")),
            Revision::V2025_06_18
        );
        for other in [
            None,
            Some("2025-03-26"),
            Some("2024-11-05"),
            Some("2026-07-28"),
        ] {
            assert_eq!(Revision::negotiated(other), Revision::V2025_03_26);
        }
    }

    #[test]
    fn each_revision_has_its_rules() {
        let all = [
            Revision::V2025_03_26,
            Revision::V2025_06_18,
            Revision::V2025_11_25,
            Revision::V2026_07_28,
            Revision::Other("2027-01-01".into()),
        ];
        let sessions: Vec<bool> = all.iter().map(Revision::has_sessions).collect();
        assert_eq!(sessions, [true, true, true, false, false]);
        for r in &all {
            assert_eq!(r.resumes_streams(), r.has_sessions(), "{r}");
            assert_eq!(r.cancels_by_closing_stream(), !r.has_sessions(), "{r}");
            assert_eq!(r.routes_by_headers(), !r.has_sessions(), "{r}");
        }
        let batches: Vec<bool> = all.iter().map(Revision::allows_batches).collect();
        assert_eq!(batches, [true, false, false, false, false]);
        let names: Vec<&str> = all.iter().map(Revision::name).collect();
        assert_eq!(
            names,
            [
                "2025-03-26",
                "2025-06-18",
                "2025-11-25",
                "2026-07-28",
                "2027-01-01"
            ]
        );
    }
}
