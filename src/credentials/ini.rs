//! The shared config/credentials file format, parsed as the AWS SDKs do.
//!
//! Owns: turning the text of `~/.aws/config` and `~/.aws/credentials` into
//! profiles, `[sso-session]` sections and other prefixed sections (`[services x]`),
//! and merging the two files. The rules are the ones pinned by the SDKs' shared
//! `profile-parser-tests.json` (crates.io `aws-runtime`, `test-data/`) and
//! implemented by Rust `aws-runtime` (`src/env_config/parse.rs`,
//! `normalize.rs`; AWS SDKs and Tools Reference Guide, "The shared config and
//! credentials files", <https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html>):
//! comments only at column 0 or after whitespace, continuation lines and
//! sub-properties, lower-cased keys, last value wins, credentials file over config
//! file. Pure: text in, data out; reading files is `profile.rs`'s job.
//! Refuses: Go's `:` separator and quote stripping, and botocore's duplicate
//! errors; showing a value in `Debug` (the credentials file holds secret keys),
//! and leaving values in memory after the set is dropped.

use std::collections::BTreeMap;
use std::fmt;

use p256::elliptic_curve::zeroize::Zeroize;

/// Which of the two shared files a text came from; the section rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/config`: `[default]`, `[profile NAME]`, `[sso-session NAME]`, `[PREFIX NAME]`.
    Config,
    /// `~/.aws/credentials`: `[NAME]` only.
    Credentials,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Config => "config file",
            FileKind::Credentials => "credentials file",
        })
    }
}

/// A syntax error, with the 1-based line it was found on. The message texts are
/// the ones the shared test suite expects (`Expected a profile definition`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong, e.g. `Expected an '=' sign defining a property`.
    pub message: &'static str,
    /// 1-based line number.
    pub line: usize,
    /// The file kind being parsed.
    pub kind: FileKind,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The offending text is not echoed: a credentials file holds secrets.
        write!(
            f,
            "{} (line {} of the {})",
            self.message, self.line, self.kind
        )
    }
}

impl std::error::Error for ParseError {}

/// One `[...]` section as written: its trimmed inner text and its properties in
/// file order (keys as written, values trimmed, continuations joined with `\n`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct RawSection {
    header: String,
    properties: Vec<(String, String)>,
}

fn is_blank(line: &str) -> bool {
    line.bytes().all(|b| b == b' ' || b == b'\t')
}

fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Splits `text` into raw sections, checking the line syntax.
fn parse_sections(text: &str, kind: FileKind) -> Result<Vec<RawSection>, ParseError> {
    let err = |message, line| ParseError {
        message,
        line,
        kind,
    };
    let mut sections: Vec<RawSection> = Vec::new();
    // Whether the current property (last of the current section) takes
    // continuation lines, and whether those are sub-properties.
    let mut in_property: Option<bool> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if is_blank(line) {
            continue;
        }
        match line.as_bytes()[0] {
            b'#' | b';' => continue,
            b'[' => {
                let mut header = trim_ws(line);
                if let Some(cut) = header.find(['#', ';']) {
                    header = trim_ws(&header[..cut]);
                }
                if !(header.starts_with('[') && header.ends_with(']') && header.len() >= 2) {
                    return Err(err("Profile definition must end with ']'", line_no));
                }
                sections.push(RawSection {
                    header: trim_ws(&header[1..header.len() - 1]).to_owned(),
                    properties: Vec::new(),
                });
                in_property = None;
            }
            b' ' | b'\t' => {
                let Some(section) = sections.last_mut() else {
                    return Err(err("Expected a profile definition", line_no));
                };
                let (Some(sub_properties), Some(property)) =
                    (in_property, section.properties.last_mut())
                else {
                    return Err(err(
                        "Expected a property definition, found continuation",
                        line_no,
                    ));
                };
                let text = trim_ws(line);
                if sub_properties {
                    let Some((name, _)) = strip_inline_comment(text).split_once('=') else {
                        return Err(err("Expected an '=' sign defining a sub-property", line_no));
                    };
                    if trim_ws(name).is_empty() {
                        return Err(err("Sub-property did not have a name", line_no));
                    }
                }
                property.1.push('\n');
                property.1.push_str(text);
            }
            _ => {
                let Some(section) = sections.last_mut() else {
                    return Err(err("Expected a profile definition", line_no));
                };
                // An inline comment ends the line before its '=' is looked
                // for (`k ;c = v` has no '='), as aws-runtime reads it.
                let Some((key, value)) = strip_inline_comment(line).split_once('=') else {
                    return Err(err("Expected an '=' sign defining a property", line_no));
                };
                let key = trim_ws(key);
                if key.is_empty() {
                    return Err(err("Property did not have a name", line_no));
                }
                let value = trim_ws(value);
                in_property = Some(value.is_empty());
                section.properties.push((key.to_owned(), value.to_owned()));
            }
        }
    }
    Ok(sections)
}

/// Cuts a property line (or a sub-property's text) at the first `#` or `;`
/// that follows a space or tab.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if matches!(bytes[i], b'#' | b';') && matches!(bytes[i - 1], b' ' | b'\t') {
            return &value[..i];
        }
    }
    value
}

/// Profile, section and property names allowed by the SDKs:
/// `A-Z a-z 0-9 _ - / . % @ : +`.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-/.%@:+".contains(&b))
}

/// The properties of one profile or section: lower-case key → value.
pub type Properties = BTreeMap<String, String>;

/// Everything the two shared files define, merged. `Debug` shows section and
/// key names only; every value is overwritten with zeros on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProfileSet {
    /// Profiles by name (case-sensitive).
    pub profiles: BTreeMap<String, Properties>,
    /// `[sso-session NAME]` sections by name (config file only).
    pub sso_sessions: BTreeMap<String, Properties>,
    /// Other prefixed sections of the config file, e.g. `("services", "dev")`.
    pub sections: BTreeMap<(String, String), Properties>,
}

impl fmt::Debug for ProfileSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// A section's keys, values left out.
        struct Keys<'a>(&'a Properties);
        impl fmt::Debug for Keys<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_set().entries(self.0.keys()).finish()
            }
        }
        fn keys(m: &BTreeMap<String, Properties>) -> Vec<(&str, Keys<'_>)> {
            m.iter().map(|(n, p)| (n.as_str(), Keys(p))).collect()
        }
        let sections: Vec<_> = self
            .sections
            .iter()
            .map(|((p, n), props)| (format!("{p} {n}"), Keys(props)))
            .collect();
        f.debug_struct("ProfileSet")
            .field("profiles", &keys(&self.profiles))
            .field("sso_sessions", &keys(&self.sso_sessions))
            .field("sections", &sections)
            .finish()
    }
}

impl Drop for ProfileSet {
    fn drop(&mut self) {
        for props in self
            .profiles
            .values_mut()
            .chain(self.sso_sessions.values_mut())
            .chain(self.sections.values_mut())
        {
            props.values_mut().for_each(Zeroize::zeroize);
        }
    }
}

enum Target {
    Profile(String),
    SsoSession(String),
    Section(String, String),
}

impl ProfileSet {
    /// Parses and merges the given files in order: later files override earlier
    /// ones key by key, so pass the config file first and the credentials file
    /// second, as the SDKs merge them.
    ///
    /// # Errors
    /// The first [`ParseError`] found; a file with a syntax error is not used at all.
    pub fn parse<'a>(
        files: impl IntoIterator<Item = (FileKind, &'a str)>,
    ) -> Result<Self, ParseError> {
        let mut set = ProfileSet::default();
        for (kind, text) in files {
            set.add_file(kind, text)?;
        }
        Ok(set)
    }

    /// Parses one file and merges it over what is already here (its keys win).
    /// Nothing is merged when the file has a syntax error.
    ///
    /// # Errors
    /// The first [`ParseError`] in `text`.
    pub fn add_file(&mut self, kind: FileKind, text: &str) -> Result<(), ParseError> {
        let sections = parse_sections(text, kind)?;
        let has_prefixed_default = kind == FileKind::Config
            && sections
                .iter()
                .any(|s| split_header(&s.header) == (Some("profile"), "default"));
        for section in sections {
            let target = match (kind, split_header(&section.header)) {
                (FileKind::Config, (None, "default")) if has_prefixed_default => continue,
                (FileKind::Config, (None, "default")) => Target::Profile("default".into()),
                (FileKind::Config, (None, _)) => continue,
                (FileKind::Config, (Some("profile"), name)) => Target::Profile(name.into()),
                (FileKind::Config, (Some("sso-session"), name)) => Target::SsoSession(name.into()),
                (FileKind::Config, (Some(prefix), name)) => {
                    Target::Section(prefix.into(), name.into())
                }
                (FileKind::Credentials, (None, name)) => Target::Profile(name.into()),
                (FileKind::Credentials, (Some(_), _)) => continue,
            };
            let (map, name_ok) = match &target {
                Target::Profile(n) => (self.profiles.entry(n.clone()), is_identifier(n)),
                Target::SsoSession(n) => (self.sso_sessions.entry(n.clone()), is_identifier(n)),
                Target::Section(p, n) => {
                    // The name is checked, not the prefix, as aws-runtime
                    // does (found by fuzz/fuzz_targets/profile_aws.rs).
                    if !is_identifier(n) {
                        continue;
                    }
                    let props = self.sections.entry((p.clone(), n.clone())).or_default();
                    merge_properties(props, section.properties);
                    continue;
                }
            };
            if !name_ok {
                continue;
            }
            merge_properties(map.or_default(), section.properties);
        }
        Ok(())
    }

    /// The named profile, if either file defines it.
    pub fn profile(&self, name: &str) -> Option<&Properties> {
        self.profiles.get(name)
    }

    /// The named `[sso-session]` section.
    pub fn sso_session(&self, name: &str) -> Option<&Properties> {
        self.sso_sessions.get(name)
    }
}

fn merge_properties(into: &mut Properties, properties: Vec<(String, String)>) {
    for (key, value) in properties {
        if is_identifier(&key) {
            into.insert(key.to_ascii_lowercase(), value);
        }
    }
}

/// Splits a section header at its first space or tab into (prefix, name).
fn split_header(header: &str) -> (Option<&str>, &str) {
    match header.find([' ', '\t']) {
        Some(at) => (Some(&header[..at]), trim_ws(&header[at..])),
        None => (None, header),
    }
}

/// Reads a property's sub-properties (`s3 =` followed by indented `name = value`
/// lines): the value's lines after the first, as trimmed `(name, value)` pairs.
pub fn sub_properties(value: &str) -> Vec<(&str, &str)> {
    value
        .split('\n')
        .skip(1)
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (trim_ws(k), trim_ws(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<ProfileSet, ParseError> {
        ProfileSet::parse([(FileKind::Config, text)])
    }

    #[test]
    fn errors_carry_the_line_number_and_not_the_text() {
        let e = config("[profile foo]\naws_secret_access_key : hunter2").unwrap_err();
        assert_eq!(e.line, 2);
        let shown = e.to_string();
        assert!(
            shown.contains("Expected an '=' sign defining a property"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn services_sections_keep_their_sub_properties() {
        let set = config(
            "[profile dev]\nservices = local\n[services local]\nbedrock-agentcore =\n  endpoint_url = http://127.0.0.1:9000\n",
        )
        .unwrap();
        let section = &set.sections[&("services".to_owned(), "local".to_owned())];
        assert_eq!(
            sub_properties(&section["bedrock-agentcore"]),
            vec![("endpoint_url", "http://127.0.0.1:9000")]
        );
    }

    #[test]
    fn a_prefixed_section_is_kept_whatever_its_prefix() {
        // aws-runtime validates a section's name only; found by the
        // differential fuzz target (fuzz/regressions/profile_aws/).
        let set = config("[se\u{fffd}vices local]\nsts =\n  endpoint_url = http://127.0.0.1:1\n")
            .unwrap();
        let key = ("se\u{fffd}vices".to_owned(), "local".to_owned());
        assert!(set.sections.contains_key(&key), "{set:?}");
        let set = config("[services l\u{fffd}cal]\nsts =\n  endpoint_url = x\n").unwrap();
        assert!(set.sections.is_empty(), "{set:?}");
    }

    #[test]
    fn an_inline_comment_ends_the_line_before_the_equals_sign() {
        // As aws-runtime; found by the differential fuzz target
        // (fuzz/regressions/profile_aws/).
        let e = config("[profile a]\nk ;c = v\n").unwrap_err();
        assert_eq!(
            (e.message, e.line),
            ("Expected an '=' sign defining a property", 2)
        );
        let e = config("[profile a]\ns3 =\n  x #c = 1\n").unwrap_err();
        assert_eq!(
            (e.message, e.line),
            ("Expected an '=' sign defining a sub-property", 3)
        );
        let set = config("[profile a]\nk;x = v\nj = w ;c\n").unwrap();
        assert_eq!(set.profiles["a"].get("j").map(String::as_str), Some("w"));
        assert!(!set.profiles["a"].contains_key("k;x"));
    }

    #[test]
    fn indented_hash_is_a_continuation_not_a_comment() {
        let set = config("[profile a]\nk = v\n  # not a comment").unwrap();
        assert_eq!(set.profiles["a"]["k"], "v\n# not a comment");
    }

    #[test]
    fn debug_shows_names_not_values() {
        // Before, `Debug` printed every value: a logged `ProfileFiles` would
        // have shown the credentials file's secret keys.
        let set = ProfileSet::parse([(
            FileKind::Credentials,
            "[dev]\naws_access_key_id = AKID\naws_secret_access_key = S3CR3T-value\n",
        )])
        .unwrap();
        let shown = format!("{set:?}");
        assert!(shown.contains("aws_secret_access_key"), "{shown}");
        assert!(shown.contains("dev"), "{shown}");
        assert!(!shown.contains("S3CR3T"), "{shown}");
        assert!(!shown.contains("AKID"), "{shown}");
    }
}
