//! Shared harness for the data-driven vector tests (`tests/vectors.rs`,
//! `tests/profile_parser.rs`).
//!
//! Owns: opening a folder under `vectors/`, checking its `SHA256SUMS` manifest
//! (every listed file present with the listed SHA-256; no file in the folder or
//! its case folders that is neither listed nor one of our own named files),
//! reading listed files while recording which were read, and the runner that
//! collects every failing case/stage and fails once at the end with all of them.
//! Refuses: reading a vector file that the manifest does not list.

#![allow(dead_code)] // each test binary uses a different part of this file

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Collects failures and counts; [`Runner::finish`] prints them all and fails.
pub struct Runner {
    suite: &'static str,
    failures: Vec<String>,
    checks: usize,
    notes: Vec<String>,
}

impl Runner {
    /// A runner for the suite named `suite` (used in messages).
    pub fn new(suite: &'static str) -> Self {
        Runner {
            suite,
            failures: Vec::new(),
            checks: 0,
            notes: Vec::new(),
        }
    }

    /// Records a failure of `stage` in `case`.
    pub fn fail(&mut self, case: &str, stage: &str, message: impl AsRef<str>) {
        self.checks += 1;
        self.failures.push(format!(
            "{}: {case} [{stage}]: {}",
            self.suite,
            message.as_ref()
        ));
    }

    /// Records a passed check.
    pub fn pass(&mut self) {
        self.checks += 1;
    }

    /// Passes when `ok`, else records `message()`.
    pub fn check(&mut self, case: &str, stage: &str, ok: bool, message: impl FnOnce() -> String) {
        if ok {
            self.pass();
        } else {
            let m = message();
            self.fail(case, stage, m);
        }
    }

    /// Passes when the two texts are equal, else records both and where they first differ.
    pub fn check_eq(&mut self, case: &str, stage: &str, expected: &str, actual: &str) {
        if expected == actual {
            self.pass();
        } else {
            let m = describe_difference(expected, actual);
            self.fail(case, stage, m);
        }
    }

    /// Adds an informational line to the summary (skips, counts).
    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// The number of failures so far.
    pub fn failure_count(&self) -> usize {
        self.failures.len()
    }

    /// Prints `summary`, the notes and every failure; panics if there was any failure.
    pub fn finish(self, summary: &str) {
        eprintln!(
            "{}: {summary}, {} checks, {} failures",
            self.suite,
            self.checks,
            self.failures.len()
        );
        for note in &self.notes {
            eprintln!("  {note}");
        }
        if !self.failures.is_empty() {
            let mut all = String::new();
            for f in &self.failures {
                let _ = writeln!(all, "{f}");
            }
            panic!(
                "{}: {} of {} checks failed:\n{all}",
                self.suite,
                self.failures.len(),
                self.checks
            );
        }
    }
}

/// Expected and actual, escaped so newlines and spaces are visible, with the
/// first differing line pointed out.
pub fn describe_difference(expected: &str, actual: &str) -> String {
    let first = expected
        .split('\n')
        .zip(actual.split('\n'))
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.split('\n').count().min(actual.split('\n').count()));
    format!(
        "expected {expected:?}, found {actual:?} (first difference on line {})",
        first + 1
    )
}

/// Strips one trailing `\n` or `\r\n` (expected files may or may not end with one).
pub fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A folder of vectors under `vectors/`, with its manifest checked.
pub struct VectorDir {
    root: PathBuf,
    /// Relative path (with `/`) → SHA-256 hex, from `SHA256SUMS`.
    manifest: BTreeMap<String, String>,
    read: RefCell<BTreeSet<String>>,
}

impl VectorDir {
    /// Opens `vectors/<name>` and checks it against its `SHA256SUMS`: every listed
    /// file must exist with that SHA-256; every file in the folder and in its
    /// sub-folders (the case folders) must be listed, except the top-level files
    /// named in `own_files` (ours, not upstream's). Problems go to `runner`.
    pub fn open(name: &str, own_files: &[&str], runner: &mut Runner) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("vectors")
            .join(name);
        let mut dir = VectorDir {
            root,
            manifest: BTreeMap::new(),
            read: RefCell::new(BTreeSet::new()),
        };
        let case = "SHA256SUMS";
        let text = match std::fs::read_to_string(dir.root.join("SHA256SUMS")) {
            Ok(t) => t,
            Err(e) => {
                runner.fail(
                    case,
                    "manifest",
                    format!("cannot read vectors/{name}/SHA256SUMS: {e}"),
                );
                return dir;
            }
        };
        for (i, line) in text.lines().enumerate() {
            // sha256sum format: 64 hex digits, two spaces (or space + '*'), path.
            let parsed = line
                .split_once("  ")
                .or_else(|| line.split_once(" *"))
                .filter(|(h, p)| {
                    h.len() == 64
                        && h.bytes()
                            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                        && !p.is_empty()
                        && !p.starts_with('/')
                        && !p.split('/').any(|s| s == ".." || s == "." || s.is_empty())
                });
            let Some((hash, path)) = parsed else {
                runner.fail(
                    case,
                    "manifest",
                    format!(
                        "line {}: expected `<sha256>  <relative path>`, found {line:?}",
                        i + 1
                    ),
                );
                continue;
            };
            if dir
                .manifest
                .insert(path.to_owned(), hash.to_owned())
                .is_some()
            {
                runner.fail(
                    case,
                    "manifest",
                    format!("line {}: {path} listed twice", i + 1),
                );
            }
        }
        if dir.manifest.is_empty() {
            runner.fail(case, "manifest", "SHA256SUMS lists no files");
        }
        for (path, hash) in &dir.manifest {
            match std::fs::read(dir.root.join(path)) {
                Ok(bytes) => {
                    let actual = sha256_hex(&bytes);
                    runner.check(path, "manifest", &actual == hash, || {
                        format!("SHA-256 mismatch: SHA256SUMS says {hash}, file has {actual}")
                    });
                }
                Err(e) => runner.fail(
                    path,
                    "manifest",
                    format!("listed in SHA256SUMS but cannot be read: {e}"),
                ),
            }
        }
        // Nothing unlisted: top-level files must be listed or ours, files in case
        // folders must be listed, and there are no deeper folders.
        for entry in list_dir(&dir.root) {
            let path = dir.root.join(&entry);
            if path.is_dir() {
                for inner in list_dir(&path) {
                    let rel = format!("{entry}/{inner}");
                    if dir.root.join(&rel).is_dir() {
                        runner.fail(&rel, "manifest", "unexpected folder inside a case folder");
                    } else if !dir.manifest.contains_key(&rel) {
                        runner.fail(&rel, "manifest", "file is not listed in SHA256SUMS");
                    }
                }
            } else if !dir.manifest.contains_key(&entry)
                && !own_files.contains(&entry.as_str())
                && entry != "SHA256SUMS"
            {
                runner.fail(
                    &entry,
                    "manifest",
                    "file is neither listed in SHA256SUMS nor one of our own files",
                );
            }
        }
        dir
    }

    /// The case folders (sub-folders), sorted.
    pub fn case_folders(&self) -> Vec<String> {
        list_dir(&self.root)
            .into_iter()
            .filter(|e| self.root.join(e).is_dir())
            .collect()
    }

    /// True when the manifest lists `rel` (e.g. `get-vanilla/request.txt`).
    pub fn has(&self, rel: &str) -> bool {
        self.manifest.contains_key(rel)
    }

    /// Reads a file the manifest lists, recording that it was read. `None` when
    /// the manifest does not list it (or it cannot be read; the manifest check
    /// has reported that already).
    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        if !self.has(rel) {
            return None;
        }
        self.read.borrow_mut().insert(rel.to_owned());
        std::fs::read(self.root.join(rel)).ok()
    }

    /// As [`VectorDir::read`], as UTF-8 text.
    pub fn read_text(&self, rel: &str) -> Option<String> {
        self.read(rel).and_then(|b| String::from_utf8(b).ok())
    }

    /// Reads one of our own (unlisted) top-level files.
    pub fn read_own(&self, name: &str) -> std::io::Result<String> {
        std::fs::read_to_string(self.root.join(name))
    }

    /// Fails for every manifest entry no check has read: each upstream file must
    /// be used by some stage (or its case skipped with a written reason).
    pub fn check_all_read(&self, runner: &mut Runner, skipped_cases: &BTreeSet<String>) {
        let read = self.read.borrow();
        for path in self.manifest.keys() {
            let case = path.split('/').next().unwrap_or(path);
            if !read.contains(path) && !skipped_cases.contains(case) {
                runner.fail(
                    path,
                    "coverage",
                    "listed in SHA256SUMS but no check read it",
                );
            }
        }
    }
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
