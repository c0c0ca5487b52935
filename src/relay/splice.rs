//! Editing JSON text in place, so what the relay does not change stays byte for
//! byte as it came (number spelling, escapes, key order, whitespace).
//!
//! Owns: finding the byte span of a value by a path of object keys, the spans of
//! an array's elements, and building a new text from spans. Input must already
//! be valid JSON (the relay checks every message with serde_json first); on text
//! that is not, the functions return `None` rather than guess.
//! Refuses: re-serializing anything it did not change.

use std::ops::Range;

/// A byte range in the text.
pub(crate) type Span = Range<usize>;

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips one value; returns its span.
    fn value(&mut self, depth: usize) -> Option<Span> {
        if depth > 128 {
            return None;
        }
        self.ws();
        let start = self.i;
        match self.peek()? {
            b'"' => self.string()?,
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        self.string()?;
                        self.ws();
                        if self.peek()? != b':' {
                            return None;
                        }
                        self.i += 1;
                        self.value(depth + 1)?;
                        self.ws();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b'}' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                } else {
                    loop {
                        self.value(depth + 1)?;
                        self.ws();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            _ => {
                // number, true, false, null
                while self.i < self.b.len()
                    && !matches!(
                        self.b[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                if self.i == start {
                    return None;
                }
            }
        }
        Some(start..self.i)
    }

    fn string(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
        None
    }
}

/// The members of the object at `span`: (key text without quotes, raw;
/// value span).
pub(crate) fn members(text: &str, span: Span) -> Option<Vec<(Span, Span)>> {
    let b = text.as_bytes();
    let mut s = Scanner { b, i: span.start };
    s.ws();
    if s.peek()? != b'{' {
        return None;
    }
    s.i += 1;
    s.ws();
    let mut out = Vec::new();
    if s.peek()? == b'}' {
        return Some(out);
    }
    loop {
        s.ws();
        let k0 = s.i;
        s.string()?;
        let key = k0 + 1..s.i - 1;
        s.ws();
        if s.peek()? != b':' {
            return None;
        }
        s.i += 1;
        let v = s.value(1)?;
        out.push((key, v));
        s.ws();
        match s.peek()? {
            b',' => s.i += 1,
            b'}' => return Some(out),
            _ => return None,
        }
    }
}

/// The span of the whole text's value (trimmed).
pub(crate) fn root(text: &str) -> Option<Span> {
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
    };
    s.value(0)
}

/// The value at `path` (object keys from the root), if every step is an object
/// member. Keys are compared by value: `"p\u0061rams"` is `params` (a rule
/// that missed it would add a second `params`, or leave a list unfiltered).
pub(crate) fn find(text: &str, path: &[&str]) -> Option<Span> {
    let mut span = root(text)?;
    for key in path {
        let m = members(text, span)?;
        span = m.into_iter().find(|(k, _)| key_is(text, k, key))?.1;
    }
    Some(span)
}

/// True when the key at `span` (raw contents, without quotes) means `key`.
pub(crate) fn key_is(text: &str, span: &Span, key: &str) -> bool {
    let raw = &text[span.clone()];
    if !raw.contains('\\') {
        return raw == key;
    }
    serde_json::from_str::<String>(&text[span.start - 1..span.end + 1]).is_ok_and(|k| k == key)
}

/// The element spans of the array at `span`.
pub(crate) fn elements(text: &str, span: Span) -> Option<Vec<Span>> {
    let b = text.as_bytes();
    let mut s = Scanner { b, i: span.start };
    s.ws();
    if s.peek()? != b'[' {
        return None;
    }
    s.i += 1;
    s.ws();
    let mut out = Vec::new();
    if s.peek()? == b']' {
        return Some(out);
    }
    loop {
        out.push(s.value(1)?);
        s.ws();
        match s.peek()? {
            b',' => s.i += 1,
            b']' => return Some(out),
            _ => return None,
        }
    }
}

/// `text` with `span` replaced by `with`.
pub(crate) fn replace(text: &str, span: Span, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..span.start]);
    out.push_str(with);
    out.push_str(&text[span.end..]);
    out
}

/// Adds `"key":value` members (already JSON text) at the end of the object at
/// `span`, after any members it has.
pub(crate) fn append_members(
    text: &str,
    span: Span,
    members_text: &[(String, String)],
) -> Option<String> {
    if members_text.is_empty() {
        return Some(text.to_owned());
    }
    let existing = members(text, span.clone())?;
    let close = span.end - 1; // the '}'
    let mut add = String::new();
    for (i, (k, v)) in members_text.iter().enumerate() {
        if i > 0 || !existing.is_empty() {
            add.push(',');
        }
        add.push_str(&serde_json::to_string(k).ok()?);
        add.push(':');
        add.push_str(v);
    }
    Some(replace(text, close..close, &add))
}

/// `text` without the member `key` (compared by value, as [`find`] does) of
/// the object at `span`, and the comma that separated it; `None` when the
/// object has no such member. The other members keep their bytes.
pub(crate) fn remove_member(text: &str, span: Span, key: &str) -> Option<String> {
    let members = members(text, span)?;
    let at = members.iter().position(|(k, _)| key_is(text, k, key))?;
    // The key's span leaves out its quotes.
    let start = members[at].0.start - 1;
    let cut = match (members.get(at + 1), at.checked_sub(1)) {
        // Up to the next member's key: its comma goes too.
        (Some((next, _)), _) => start..next.start - 1,
        // The last member: from the end of the one before it, comma and all.
        (None, Some(before)) => members[before].1.end..members[at].1.end,
        (None, None) => start..members[at].1.end,
    };
    Some(replace(text, cut, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = r#"{ "jsonrpc":"2.0", "id" : 7, "method":"x", "params": {"n": 1.50e3, "s": "a\"}b", "_meta": {}, "arr": [1, {"k": []}, "]"] } }"#;

    #[test]
    fn finds_values_by_path_without_touching_them() {
        assert_eq!(&MSG[find(MSG, &["id"]).unwrap()], "7");
        assert_eq!(&MSG[find(MSG, &["params", "n"]).unwrap()], "1.50e3");
        assert_eq!(&MSG[find(MSG, &["params", "s"]).unwrap()], r#""a\"}b""#);
        assert_eq!(&MSG[find(MSG, &["params", "_meta"]).unwrap()], "{}");
        let arr = find(MSG, &["params", "arr"]).unwrap();
        let els: Vec<&str> = elements(MSG, arr)
            .unwrap()
            .into_iter()
            .map(|s| &MSG[s])
            .collect();
        assert_eq!(els, ["1", r#"{"k": []}"#, r#""]""#]);
        assert!(find(MSG, &["params", "missing"]).is_none());
        let escaped = r#"{"p\u0061rams":{"_meta":{}}}"#;
        assert_eq!(&escaped[find(escaped, &["params", "_meta"]).unwrap()], "{}");
        assert!(find(MSG, &["id", "deeper"]).is_none());
    }

    #[test]
    fn edits_keep_everything_else() {
        let meta = find(MSG, &["params", "_meta"]).unwrap();
        let out = append_members(MSG, meta, &[("team".into(), "\"core\"".into())]).unwrap();
        assert_eq!(
            out,
            MSG.replace(r#""_meta": {}"#, r#""_meta": {"team":"core"}"#)
        );
        let params = find(&out, &["params"]).unwrap();
        let out2 = append_members(&out, params, &[("z".into(), "true".into())]).unwrap();
        assert!(out2.ends_with(r#""]"] ,"z":true} }"#), "{out2}");
        let id = find(MSG, &["id"]).unwrap();
        assert_eq!(
            replace(MSG, id, "\"mcp-sigv4-1\"").replace("\"mcp-sigv4-1\"", "7"),
            MSG
        );
    }

    #[test]
    fn a_member_is_removed_with_its_comma_and_nothing_else() {
        let obj = r#"{"a": 1.50e3, "aws_profile" : "dev" ,"b":[1]}"#;
        let all = root(obj).unwrap();
        assert_eq!(
            remove_member(obj, all.clone(), "aws_profile").unwrap(),
            r#"{"a": 1.50e3, "b":[1]}"#
        );
        assert_eq!(
            remove_member(obj, all.clone(), "a").unwrap(),
            r#"{"aws_profile" : "dev" ,"b":[1]}"#
        );
        assert_eq!(
            remove_member(obj, all.clone(), "b").unwrap(),
            r#"{"a": 1.50e3, "aws_profile" : "dev"}"#
        );
        assert_eq!(remove_member(obj, all, "c"), None);
        let one = r#"{ "aws_\u0070rofile":null }"#;
        assert_eq!(
            remove_member(one, root(one).unwrap(), "aws_profile").unwrap(),
            "{  }"
        );
        let nested = r#"{"params":{"arguments":{"x":"}","aws_profile":"p"}}}"#;
        let args = find(nested, &["params", "arguments"]).unwrap();
        assert_eq!(
            remove_member(nested, args, "aws_profile").unwrap(),
            r#"{"params":{"arguments":{"x":"}"}}}"#
        );
    }

    #[test]
    fn invalid_text_gives_none() {
        assert!(root("{\"a\":").is_none());
        assert!(find("[1,2", &["a"]).is_none());
        assert!(members("{\"a\" 1}", 0..7).is_none());
    }
}
