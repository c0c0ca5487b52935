//! Fixtures every integration test may need: a private temporary directory,
//! a child process's output waited for with a bound, and civil time computed
//! without the crate's own formatter.
//!
//! Owns: [`TempDir`] (a fresh directory under the system temp dir, removed when
//! dropped, with helpers to write and read files in it), [`output_within`], and
//! the date arithmetic the tests use to build and check timestamps
//! independently of `mcp_sigv4::time`.
//! Refuses: writing outside its directory (paths are relative to it), and
//! waiting for a child without a bound.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------
// A temporary directory
// ---------------------------------------------------------------------------

/// A private directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory whose name contains `tag`.
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "mcp-sigv4-test-{}-{}-{nanos}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("expected to create {}: {e}", path.display()));
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Its path as text.
    pub fn str(&self) -> String {
        self.0
            .to_str()
            .expect("expected a UTF-8 temp path")
            .to_owned()
    }

    /// Creates the directory `rel` (and its parents) inside.
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("expected to create {}: {e}", path.display()));
        path
    }

    /// Writes `rel` (parents created); `.sh` files are made executable.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("expected to create {}: {e}", parent.display()));
        }
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("expected to write {}: {e}", path.display()));
        #[cfg(unix)]
        if rel.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
    }

    /// The text of `rel`, if it can be read.
    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(rel)).ok()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// A child's output, within a bound
// ---------------------------------------------------------------------------

/// The output of `child` (its stdout and stderr piped) once it ends, waited
/// for at most `limit`; panics with `expected` (what should have happened,
/// e.g. "doctor finished within 60 s") when it has not ended by then.
pub fn output_within(child: Child, limit: Duration, expected: &str) -> Output {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(limit)
        .expect(expected)
        .expect("the child's output")
}

// ---------------------------------------------------------------------------
// Time, without the crate's own formatter
// ---------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("expected the clock after 1970")
        .as_secs() as i64
}

/// `2040-01-02T03:04:05Z` for a Unix time.
pub fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The Unix time of `YYYY-MM-DDTHH:MM:SSZ` (the fixtures' own format only).
pub fn unix_of(text: &str) -> i64 {
    let n = |a: usize, b: usize| -> i64 {
        text[a..b]
            .parse()
            .unwrap_or_else(|_| panic!("expected a YYYY-MM-DDTHH:MM:SSZ time, found {text:?}"))
    };
    days_from_civil(n(0, 4), n(5, 7), n(8, 10)) * 86_400
        + n(11, 13) * 3600
        + n(14, 16) * 60
        + n(17, 19)
}

/// The Unix time of a `SystemTime` (0 before 1970).
pub fn unix_of_system(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
