//! A JSON-RPC batch (2025-03-26 only), taken apart and put back together.
//!
//! Owns: splitting a batch from the client into its members — each member's
//! text as it came, and what it is, or why it is not a JSON-RPC message — so
//! that every rule the relay has for a message applies to every member, and
//! joining the members that go out into one batch again
//! (<https://www.jsonrpc.org/specification#batch>;
//! <https://modelcontextprotocol.io/specification/2025-03-26/basic/transports#sending-messages-to-the-server>).
//! Pure.
//! Refuses: deciding which members go out: that is `dispatch.rs`'s (the
//! revision's rule, ids, `--metadata`) and the exchange's (`--read-only`).

use serde_json::value::RawValue;

use super::jsonrpc::{self, Id, Invalid, Kind};

/// One member of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    /// Its JSON text, as it came.
    pub(crate) text: String,
    /// What it is, or why it is not a JSON-RPC message (with its id, when
    /// one was readable).
    pub(crate) kind: Result<Kind, (String, Option<Id>)>,
}

impl Member {
    /// The id of a member that is a request, or an invalid member whose id
    /// was readable: the ids the client expects an answer for.
    pub(crate) fn answer_id(&self) -> Option<&Id> {
        match &self.kind {
            Ok(Kind::Request { id, .. }) => Some(id),
            Ok(_) => None,
            Err((_, id)) => id.as_ref(),
        }
    }
}

/// True when `bytes` is a JSON array (a batch), by its first character.
pub(crate) fn is_batch(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'[')
}

/// The members of the batch `bytes`.
///
/// # Errors
/// [`Invalid::Parse`] for text that is not UTF-8 JSON, [`Invalid::Request`]
/// for an empty batch.
pub(crate) fn split(bytes: &[u8]) -> Result<Vec<Member>, Invalid> {
    let text = std::str::from_utf8(bytes).map_err(|e| Invalid::Parse(format!("not UTF-8: {e}")))?;
    let raw: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|e| Invalid::Parse(format!("not JSON: {e}")))?;
    if raw.is_empty() {
        return Err(Invalid::Request(
            "an empty batch is not a request".into(),
            None,
        ));
    }
    Ok(raw
        .into_iter()
        .map(|m| Member {
            text: m.get().to_owned(),
            kind: jsonrpc::classify_member(m),
        })
        .collect())
}

/// The batch of `members`' texts.
pub(crate) fn join<'a>(members: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, m) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(m);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_text_and_invalid_ones_their_id() {
        let members = split(
            br#" [ {"jsonrpc":"2.0","id":1,"method":"ping", "params":{"n":1.50e3}} ,
                  {"jsonrpc":"2.0","method":"notifications/x"},
                  {"id":"bad","method":"m"}, 7,
                  {"jsonrpc":"2.0","id":2,"method":"a","method":"b"} ]"#,
        )
        .unwrap();
        assert_eq!(members.len(), 5);
        assert_eq!(
            members[0].text,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping", "params":{"n":1.50e3}}"#
        );
        assert_eq!(members[0].answer_id(), Some(&Id::from_json("1")));
        assert_eq!(members[1].answer_id(), None);
        assert!(members[2].kind.is_err());
        assert_eq!(members[2].answer_id(), Some(&Id::from_json("\"bad\"")));
        assert_eq!(
            members[3].kind,
            Err(("expected a JSON-RPC object".into(), None))
        );
        assert!(matches!(&members[4].kind, Err((why, Some(_))) if why.contains("twice")));
        assert_eq!(
            join(members.iter().take(2).map(|m| m.text.as_str())),
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping", "params":{"n":1.50e3}},{"jsonrpc":"2.0","method":"notifications/x"}]"#
        );
        assert!(matches!(split(b"[]"), Err(Invalid::Request(_, None))));
        assert!(matches!(split(b"[1,"), Err(Invalid::Parse(_))));
        assert!(is_batch(b" \n[1]") && !is_batch(b"{}") && !is_batch(b""));
    }
}
