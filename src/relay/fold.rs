//! Keys a case-insensitive JSON decoder would read as one.
//!
//! Owns: the key folding of Go's `encoding/json` (v1), which matches an
//! object's keys to a struct's fields ignoring case, with Unicode simple case
//! folding (so `K`, `k` and the Kelvin sign U+212A are one key: [`fold_char`]);
//! and finding two keys of one object that fold together at the levels of a
//! message the relay reads or routes on ([`folded_keys`]). A server that
//! decodes so would run what the relay never checked
//! (`{"name":"echo","Name":"dangerous"}` under `--read-only`), so such a
//! message is refused. Pure.
//! Refuses: judging levels the relay never reads (deeper in the arguments, a
//! result): there the relay and the server cannot disagree, and tools may have
//! keys that differ only in case.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// The members of an object, borrowed from its text.
type Members<'a> = BTreeMap<String, &'a RawValue>;

/// `c`'s simple case folding, as a value equal for every character of one
/// orbit of Go's `unicode.SimpleFold` (the Unicode `CaseFolding.txt` `C` and
/// `S` mappings; `foldName` in `encoding/json/fold.go` maps each rune to the
/// smallest of its orbit). Built from the standard library's case mappings: lower,
/// upper, lower again, each taken only where it is one character (the simple
/// mapping; a full mapping to several characters, such as `ß` to `SS`, is not
/// a simple folding). The three orbits that case mappings do not join (added
/// to `CaseFolding.txt` in Unicode 14: U+1FD3 with U+0390, U+1FE3 with U+03B0,
/// U+FB05 with U+FB06) are joined by hand. Where the standard library's
/// Unicode is newer than a decoder's, this folds more characters together
/// than it does: more is refused, never less.
pub(crate) fn fold_char(c: char) -> char {
    fn single(mut m: impl Iterator<Item = char>, c: char) -> char {
        match (m.next(), m.next()) {
            (Some(one), None) => one,
            _ => c,
        }
    }
    let lower = |c: char| single(c.to_lowercase(), c);
    let upper = |c: char| single(c.to_uppercase(), c);
    match c {
        '\u{1FD3}' => '\u{0390}',
        '\u{1FE3}' => '\u{03B0}',
        '\u{FB05}' => '\u{FB06}',
        c if c.is_ascii() => c.to_ascii_lowercase(),
        c => lower(upper(lower(c))),
    }
}

/// `key` folded character by character ([`fold_char`]).
pub(crate) fn fold(key: &str) -> String {
    key.chars().map(fold_char).collect()
}

/// Two keys of `members` (distinct as written) that fold to one, in key order.
fn folded_pair(members: &Members<'_>) -> Option<(String, String)> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for key in members.keys() {
        if let Some(first) = seen.insert(fold(key), key) {
            return Some((first.to_owned(), key.clone()));
        }
    }
    None
}

/// Two keys a case-insensitive decoder would read as one, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Folded {
    /// Where the object is: `""` for the message itself, else `params`,
    /// `params._meta` or `params.arguments`.
    pub(crate) at: &'static str,
    /// The two keys, decoded; `None` when a key of the object cannot be
    /// decoded (a lone surrogate escape, which Go reads as U+FFFD), so that
    /// what it folds with cannot be told: refused as well.
    pub(crate) keys: Option<(String, String)>,
}

/// The members of `raw` when it is an object: `Ok(None)` when it is no
/// object, `Err` when it is one whose keys cannot all be decoded.
fn members(raw: &RawValue) -> Result<Option<Members<'_>>, ()> {
    if !raw.get().trim_start().starts_with('{') {
        return Ok(None);
    }
    serde_json::from_str(raw.get()).map(Some).map_err(|_| ())
}

/// The first two keys that fold together ([`fold`]) in one object at a level
/// of `message` the relay reads or routes on: the message itself (`jsonrpc`,
/// `id`, `method`, `params`), `params` (`name`, `uri`, `arguments`, `_meta`),
/// `params._meta` (the protocol version, the progress token) and
/// `params.arguments` (the AWS profile argument).
/// `message` is the text of a JSON object with no key twice in one object.
pub(crate) fn folded_keys(message: &str) -> Option<Folded> {
    let undecodable = |at| Some(Folded { at, keys: None });
    let top: Members<'_> = match serde_json::from_str(message) {
        Ok(top) => top,
        Err(_) => return undecodable(""),
    };
    if let Some(keys) = folded_pair(&top) {
        return Some(Folded {
            at: "",
            keys: Some(keys),
        });
    }
    let params = match top.get("params").map(|p| members(p)) {
        None | Some(Ok(None)) => return None,
        Some(Ok(Some(params))) => params,
        Some(Err(())) => return undecodable("params"),
    };
    if let Some(keys) = folded_pair(&params) {
        return Some(Folded {
            at: "params",
            keys: Some(keys),
        });
    }
    for (name, at) in [("_meta", "params._meta"), ("arguments", "params.arguments")] {
        match params.get(name).map(|v| members(v)) {
            None | Some(Ok(None)) => {}
            Some(Ok(Some(inner))) => {
                if let Some(keys) = folded_pair(&inner) {
                    return Some(Folded {
                        at,
                        keys: Some(keys),
                    });
                }
            }
            Some(Err(())) => return undecodable(at),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_simple_fold_orbits_fold_together() {
        for orbit in [
            "kK\u{212A}",
            "sS\u{17F}",
            "\u{B5}\u{39C}\u{3BC}",
            "\u{3B8}\u{398}\u{3D1}\u{3F4}",
            "\u{345}\u{399}\u{3B9}\u{1FBE}",
            "\u{DF}\u{1E9E}",
            "\u{1C4}\u{1C5}\u{1C6}",
            "\u{1F80}\u{1F88}",
            "\u{13A0}\u{AB70}",
            "\u{390}\u{1FD3}",
            "\u{3B0}\u{1FE3}",
            "\u{FB05}\u{FB06}",
            "\u{131}I",
        ] {
            let folded: Vec<char> = orbit.chars().map(fold_char).collect();
            assert!(
                folded.windows(2).all(|w| w[0] == w[1]),
                "{orbit:?} -> {folded:?}"
            );
        }
        // Not one orbit in Go's folding.
        for (a, b) in [('\u{130}', 'i'), ('\u{DF}', 's'), ('a', 'b'), ('_', '-')] {
            assert_ne!(fold_char(a), fold_char(b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn folded_keys_are_found_at_the_levels_the_relay_reads() {
        let at = |m: &str| folded_keys(m).map(|f| (f.at, f.keys.unwrap_or_default()));
        assert_eq!(
            at(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","Name":"b"}}"#
            ),
            Some(("params", ("Name".into(), "name".into())))
        );
        assert_eq!(
            at(r#"{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"tools/call"}"#),
            Some(("", ("METHOD".into(), "method".into())))
        );
        assert_eq!(
            at(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":1,"PROGRESSTOKEN":2}}}"#)
                .map(|x| x.0),
            Some("params._meta")
        );
        assert_eq!(
            at(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"arguments":{"aws_profile":"a","aw\u017F_profile":"b"}}}"#)
                .map(|x| x.0),
            Some("params.arguments")
        );
        // Deeper than the relay reads, or no object at all: not judged.
        assert_eq!(
            at(
                r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"arguments":{"h":{"A":1,"a":2}}}}"#
            ),
            None
        );
        assert_eq!(
            at(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#),
            None
        );
        assert_eq!(
            at(r#"{"jsonrpc":"2.0","id":1,"result":{"A":1,"a":2}}"#),
            None
        );
        // A key that cannot be decoded hides what it folds with: refused.
        assert_eq!(
            at(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":"a","\udc00":1}}"#),
            Some(("params", Default::default()))
        );
    }
}
