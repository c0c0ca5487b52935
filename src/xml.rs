//! A deliberately small XML reader, for the answers of AWS query-protocol
//! services (STS) and their errors.
//!
//! Owns: elements, text, CDATA, comments and processing instructions; the five
//! predefined entities and numeric character references (XML 1.0, §4.1 and
//! §4.6); local names; the questions asked of a parsed document (the only child
//! of a name, a leaf's text), with errors that name the elements, never their
//! content; bounds on depth and element count (see [`parse`]). Pure: bytes in,
//! a tree out, so the fuzz crate can call [`parse`] directly.
//! Refuses: a DOCTYPE or any other declaration (so no entity is ever declared
//! or expanded, and nothing external is fetched), NUL (raw or as a character
//! reference), a reference to a surrogate, an unknown entity, and a document
//! that is not UTF-8.

use std::fmt;

use p256::elliptic_curve::zeroize::Zeroize;

/// The deepest nesting read (16).
pub const MAX_DEPTH: usize = 16;

/// The most elements read (1000).
pub const MAX_ELEMENTS: usize = 1000;

/// One element: local name (namespace prefix dropped), its own text (CDATA
/// included, entities decoded) and child elements. The text is overwritten with
/// zeros on drop, since it may hold a secret key or a token.
#[derive(Debug)]
pub struct Element {
    /// The local name.
    pub name: String,
    /// The element's own text, not trimmed.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Drop for Element {
    fn drop(&mut self) {
        self.text.zeroize();
    }
}

impl Element {
    /// The only child named `name`, if any.
    ///
    /// # Errors
    /// [`XmlError::Repeated`] when there are several.
    pub fn only_child(&self, name: &str) -> Result<Option<&Element>, XmlError> {
        let mut found = self.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(XmlError::Repeated {
                name: name.to_owned(),
                parent: self.name.clone(),
            });
        }
        Ok(first)
    }

    /// The only child named `name`.
    ///
    /// # Errors
    /// [`XmlError::Missing`] or [`XmlError::Repeated`].
    pub fn child(&self, name: &str) -> Result<&Element, XmlError> {
        self.only_child(name)?.ok_or_else(|| XmlError::Missing {
            name: name.to_owned(),
            parent: self.name.clone(),
        })
    }

    /// The trimmed text of this element, which must have no children.
    ///
    /// # Errors
    /// [`XmlError::NotText`] when it has child elements.
    pub fn leaf_text(&self) -> Result<String, XmlError> {
        if !self.children.is_empty() {
            return Err(XmlError::NotText {
                name: self.name.clone(),
            });
        }
        Ok(self.text.trim().to_owned())
    }

    /// The non-empty text of the only child named `name`.
    ///
    /// # Errors
    /// [`XmlError::Missing`], [`XmlError::Repeated`], [`XmlError::NotText`] or
    /// [`XmlError::Empty`].
    pub fn child_text(&self, name: &str) -> Result<String, XmlError> {
        let text = self.child(name)?.leaf_text()?;
        if text.is_empty() {
            return Err(XmlError::Empty {
                name: name.to_owned(),
                parent: self.name.clone(),
            });
        }
        Ok(text)
    }
}

/// Why a document could not be read, or is not the shape asked for. Names
/// elements and byte offsets, never text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XmlError {
    /// The bytes are not UTF-8.
    NotUtf8,
    /// Malformed XML: where, and what was expected there.
    Syntax {
        /// Byte offset.
        offset: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// The root element is not the one expected.
    Root {
        /// The expected name.
        expected: String,
    },
    /// A required child element is absent.
    Missing {
        /// The child's name.
        name: String,
        /// The parent's name.
        parent: String,
    },
    /// A child element that may appear once appears more often.
    Repeated {
        /// The child's name.
        name: String,
        /// The parent's name.
        parent: String,
    },
    /// An element expected to hold text holds elements.
    NotText {
        /// The element's name.
        name: String,
    },
    /// An element's text is empty.
    Empty {
        /// The element's name.
        name: String,
        /// The parent's name.
        parent: String,
    },
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::NotUtf8 => f.write_str("the document is not UTF-8"),
            XmlError::Syntax { offset, expected } => {
                write!(f, "malformed XML at byte {offset}: expected {expected}")
            }
            XmlError::Root { expected } => write!(f, "expected the root element {expected}"),
            XmlError::Missing { name, parent } => write!(f, "expected {name} in {parent}"),
            XmlError::Repeated { name, parent } => {
                write!(f, "{name} appears more than once in {parent}")
            }
            XmlError::NotText { name } => {
                write!(f, "expected text in {name}, found child elements")
            }
            XmlError::Empty { name, parent } => write!(f, "{name} in {parent} is empty"),
        }
    }
}

impl std::error::Error for XmlError {}

/// Parses a whole document (an optional byte-order mark, then misc, one root
/// element, misc) and returns its root element.
///
/// Attributes are read to find the end of a tag, then dropped; a namespace
/// prefix is dropped from names. At most [`MAX_DEPTH`] deep and
/// [`MAX_ELEMENTS`] elements, entity references at most 10 characters; the
/// caller bounds the document's size (STS answers are read up to 64 KiB).
/// Control characters other than NUL are read (error answers carry them):
/// whoever shows a text sanitises it.
///
/// # Errors
/// [`XmlError::NotUtf8`] or [`XmlError::Syntax`].
pub fn parse(doc: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(doc).map_err(|_| XmlError::NotUtf8)?;
    // A raw NUL is refused as `&#0;` is (XML 1.0 §2.2). Other C0 controls,
    // though not XML characters either, are read: error answers carry them
    // (an EC2-style message with an escape sequence), and every text shown
    // goes through the sanitiser.
    if let Some(offset) = text.find('\0') {
        return Err(XmlError::Syntax {
            offset,
            expected: "no NUL character",
        });
    }
    parse_str(text)
}

/// [`parse`], and the root element must be named `root`.
///
/// # Errors
/// As [`parse`], or [`XmlError::Root`].
pub fn parse_root(doc: &[u8], root: &str) -> Result<Element, XmlError> {
    let element = parse(doc)?;
    if element.name != root {
        return Err(XmlError::Root {
            expected: root.to_owned(),
        });
    }
    Ok(element)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    elements: usize,
}

fn parse_str(s: &str) -> Result<Element, XmlError> {
    let mut p = Parser {
        s,
        pos: 0,
        elements: 0,
    };
    if p.rest().starts_with('\u{feff}') {
        p.pos += '\u{feff}'.len_utf8();
    }
    p.misc()?;
    if !p.rest().starts_with('<') {
        return Err(p.err("the root element"));
    }
    let root = p.element(0)?;
    p.misc()?;
    if p.pos != s.len() {
        return Err(p.err("the end of the document after the root element"));
    }
    Ok(root)
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn err(&self, expected: &'static str) -> XmlError {
        XmlError::Syntax {
            offset: self.pos,
            expected,
        }
    }

    fn skip_ws(&mut self) -> bool {
        let n = self.rest().len()
            - self
                .rest()
                .trim_start_matches([' ', '\t', '\r', '\n'])
                .len();
        self.pos += n;
        n > 0
    }

    /// Skips past `end`, or fails with `expected`.
    fn skip_past(&mut self, end: &str, expected: &'static str) -> Result<&'a str, XmlError> {
        match self.rest().find(end) {
            Some(at) => {
                let start = self.pos;
                self.pos += at + end.len();
                Ok(&self.s[start..start + at])
            }
            None => Err(self.err(expected)),
        }
    }

    /// Whitespace, comments and processing instructions outside the root.
    fn misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            let rest = self.rest();
            if rest.starts_with("<?") {
                self.skip_past("?>", "'?>' closing a processing instruction")?;
            } else if rest.starts_with("<!--") {
                self.skip_past("-->", "'-->' closing a comment")?;
            } else if rest.starts_with("<!") {
                return Err(self.err("no DOCTYPE or other declaration"));
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<&'a str, XmlError> {
        let rest = self.rest();
        let n = rest
            .find(|c: char| c.is_whitespace() || "/>=<&\"'?!".contains(c) || c.is_control())
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(self.err("a name"));
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.s[start..start + n])
    }

    fn expect(&mut self, c: char, expected: &'static str) -> Result<(), XmlError> {
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    fn element(&mut self, depth: usize) -> Result<Element, XmlError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("elements nested at most 16 deep"));
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(self.err("at most 1000 elements"));
        }
        self.expect('<', "'<'")?;
        let qname = self.name()?;
        let local = qname.rsplit(':').next().unwrap_or(qname).to_owned();
        if local.is_empty() {
            return Err(self.err("a local name after the namespace prefix"));
        }
        let mut element = Element {
            name: local,
            text: String::new(),
            children: Vec::new(),
        };
        // Attributes are read (to find the end of the tag) and dropped.
        loop {
            let spaced = self.skip_ws();
            if self.rest().starts_with("/>") {
                self.pos += 2;
                return Ok(element);
            }
            if self.rest().starts_with('>') {
                self.pos += 1;
                break;
            }
            if !spaced {
                return Err(self.err("whitespace, '>' or '/>' in a start tag"));
            }
            self.name()?;
            self.skip_ws();
            self.expect('=', "'=' after an attribute name")?;
            self.skip_ws();
            let quote = match self.rest().chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return Err(self.err("a quoted attribute value")),
            };
            self.pos += 1;
            let value = self.skip_past(
                if quote == '"' { "\"" } else { "'" },
                "the closing quote of an attribute value",
            )?;
            if value.contains('<') {
                return Err(self.err("an attribute value without '<'"));
            }
        }
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return Err(self.err("an end tag"));
            }
            if rest.starts_with("</") {
                self.pos += 2;
                let end = self.name()?;
                if end != qname {
                    return Err(self.err("the end tag of the open element"));
                }
                self.skip_ws();
                self.expect('>', "'>' closing an end tag")?;
                return Ok(element);
            }
            if rest.starts_with("<!--") {
                self.skip_past("-->", "'-->' closing a comment")?;
            } else if rest.starts_with("<![CDATA[") {
                self.pos += "<![CDATA[".len();
                let data = self.skip_past("]]>", "']]>' closing a CDATA section")?;
                element.text.push_str(data);
            } else if rest.starts_with("<?") {
                self.skip_past("?>", "'?>' closing a processing instruction")?;
            } else if rest.starts_with("<!") {
                return Err(self.err("no declaration inside an element"));
            } else if rest.starts_with('<') {
                let child = self.element(depth + 1)?;
                element.children.push(child);
            } else {
                let n = rest.find('<').unwrap_or(rest.len());
                let start = self.pos;
                decode_text(&self.s[start..start + n], start, &mut element.text)?;
                self.pos += n;
            }
        }
    }
}

/// Appends `raw` to `out` with `&lt; &gt; &amp; &quot; &apos;`, `&#NNN;` and
/// `&#xHHH;` decoded; any other `&` is an error.
fn decode_text(raw: &str, offset: usize, out: &mut String) -> Result<(), XmlError> {
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let here = offset + (raw.len() - rest.len()) + at;
        let bad = XmlError::Syntax {
            offset: here,
            expected: "an entity: &lt; &gt; &amp; &quot; &apos; or &#N; / &#xH;",
        };
        let after = &rest[at + 1..];
        let end = after.find(';').filter(|n| *n <= 10).ok_or(bad)?;
        let entity = &after[..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                // No NUL (as raw), no surrogates (char::from_u32 refuses those).
                n.filter(|n| *n != 0)
                    .and_then(char::from_u32)
                    .ok_or(XmlError::Syntax {
                        offset: here,
                        expected: "a character reference to a valid XML character",
                    })?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_cdata_comments_and_prefixes_are_read() {
        let doc = br#"<?xml version="1.0"?>
<!-- a comment -->
<p:Root xmlns:p="urn:x" a='1>2'>
 <p:A>&#65;&#x53;I&#X4B;</p:A>
 <p:B>&lt;&gt;&amp;&quot;&apos;&#233;&#x1F600;</p:B>
 <p:C><![CDATA[a<b&c]]>&amp;d<!-- mid --><?pi x?></p:C>
 <p:Empty/>
</p:Root>
"#;
        let root = parse_root(doc, "Root").unwrap();
        assert_eq!(root.child_text("A").unwrap(), "ASIK");
        assert_eq!(root.child_text("B").unwrap(), "<>&\"'é😀");
        assert_eq!(root.child_text("C").unwrap(), "a<b&c&d");
        assert_eq!(
            root.child_text("Empty"),
            Err(XmlError::Empty {
                name: "Empty".into(),
                parent: "Root".into()
            })
        );
        assert_eq!(
            root.child("D").unwrap_err().to_string(),
            "expected D in Root"
        );
        assert_eq!(
            parse_root(doc, "Other").unwrap_err().to_string(),
            "expected the root element Other"
        );
        let e = parse(b"<R><A>1</A><A>2</A><N><x/></N></R>").unwrap();
        assert_eq!(
            e.child("A").unwrap_err().to_string(),
            "A appears more than once in R"
        );
        assert_eq!(
            e.child_text("N").unwrap_err().to_string(),
            "expected text in N, found child elements"
        );
    }

    #[test]
    fn malformed_documents_name_the_place_and_never_the_text() {
        for (doc, expect) in [
            (
                "<a>&#0;</a>",
                "a character reference to a valid XML character",
            ),
            // Found by fuzzing (fuzz/regressions/xml_reader/).
            ("<a>x\0</a>", "no NUL character"),
            ("<a:>x</a:>", "a local name after the namespace prefix"),
            (
                "<a>&#xD800;</a>",
                "a character reference to a valid XML character",
            ),
            (
                "<a>&#x110000;</a>",
                "a character reference to a valid XML character",
            ),
            (
                "<a>&#;</a>",
                "a character reference to a valid XML character",
            ),
            ("<a>&amp</a>", "an entity"),
            ("<a>&unknownentity;</a>", "an entity"),
            (
                "<!DOCTYPE x [<!ENTITY a \"SECRET\">]><a>&a;</a>",
                "no DOCTYPE",
            ),
            (
                "<a><!ENTITY b \"x\"></a>",
                "no declaration inside an element",
            ),
            ("<a></b>", "the end tag of the open element"),
            ("<a>SECRET", "an end tag"),
            ("<a/><b/>", "the end of the document"),
            ("", "the root element"),
            ("SECRET", "the root element"),
            ("<a x=1/>", "a quoted attribute value"),
            ("<a x='<'/>", "an attribute value without '<'"),
        ] {
            let e = parse(doc.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(expect), "{doc}: expected {expect:?} in {e:?}");
            assert!(!e.contains("SECRET"), "{doc}: {e}");
        }
        assert_eq!(parse(b"<a>\xff</a>").unwrap_err(), XmlError::NotUtf8);
    }

    #[test]
    fn nesting_and_element_count_are_bounded() {
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(XmlError::Syntax {
                expected: "elements nested at most 16 deep",
                ..
            })
        ));
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        let wide = format!("<r>{}</r>", "<e/>".repeat(MAX_ELEMENTS));
        assert!(matches!(
            parse(wide.as_bytes()),
            Err(XmlError::Syntax {
                expected: "at most 1000 elements",
                ..
            })
        ));
    }
}
