//! The token cache files that `aws sso login` and `aws login` write, read and
//! rewritten one way for both sources.
//!
//! Owns: reading the file (a regular file of at most [`MAX_FILE_BYTES`],
//! straight into a [`Secret`]); when to refresh ([`REFRESH_WINDOW`], at most one attempt per
//! [`MIN_REFRESH_INTERVAL`]); the lock shared with other processes; and the
//! rewrite (atomic, with the file's permissions, [`crate::fs::write_atomically`]).
//! What each file holds is its source's business (`sso.rs`, `login/cache.rs`).
//! Refuses: quoting the file's content in an error or a log.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::SourceError;
use crate::fs::{read_secret, write_atomically};
use crate::secret::Secret;
use crate::sync::Locked;
use crate::time::format_rfc3339;

/// A token is refreshed when less than this remains (5 minutes): Rust
/// `aws-config`'s `REFRESH_BUFFER_TIME` for both files; botocore's
/// `_REFRESH_THRESHOLD` for the login file (it uses 15 minutes for SSO).
pub(crate) const REFRESH_WINDOW: Duration = Duration::from_secs(300);

/// At most one refresh attempt per this interval (30 s), as Rust `aws-config`.
pub(crate) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The largest cache file read (64 KiB); a real one is under 8 KiB.
pub(crate) const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The longest [`TokenFile::lock`] waits for another process's lock before
/// the refresh goes ahead without it: 20 s (a refresh is one HTTPS call).
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(20);

/// One token cache file and the refresh attempts made on it by this process.
#[derive(Debug)]
pub(crate) struct TokenFile {
    path: PathBuf,
    last_refresh_attempt: Mutex<Option<SystemTime>>,
}

impl TokenFile {
    /// The file at `path`; nothing is read yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        TokenFile {
            path,
            last_refresh_attempt: Mutex::new(None),
        }
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file and gives its bytes to `parse`. `error` turns what went
    /// wrong ("does not exist", "cannot be read: …", or `parse`'s error,
    /// which never quotes the content) into the source's message.
    ///
    /// # Errors
    /// What `error` makes of it, with the cause attached.
    pub(crate) fn load<T, E>(
        &self,
        parse: impl FnOnce(&[u8]) -> Result<T, E>,
        error: impl Fn(String) -> SourceError,
    ) -> Result<T, SourceError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let text = match read_secret(&self.path, MAX_FILE_BYTES) {
            Ok(Some(text)) => text,
            Ok(None) => return Err(error("does not exist".into())),
            Err(why) => return Err(error(format!("cannot be read: {why}")).caused_by(why)),
        };
        parse(text.expose().as_bytes()).map_err(|why| error(why.to_string()).caused_by(why))
    }

    /// Records a refresh attempt at `now` unless one was made less than
    /// [`MIN_REFRESH_INTERVAL`] earlier. A clock that went backwards allows one.
    pub(crate) fn may_refresh(&self, now: SystemTime) -> bool {
        let mut last = self.last_refresh_attempt.locked();
        if let Some(since) = last.and_then(|t| now.duration_since(t).ok())
            && since < MIN_REFRESH_INTERVAL
        {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The advisory lock on `<file>.lock` beside the file
    /// (`std::fs::File::lock`: `flock` on Unix, `LockFileEx` on Windows),
    /// waited for at most [`LOCK_WAIT`]; `None` (logged) when it cannot be
    /// had, and the refresh goes ahead without it. The lock file is opened
    /// without waiting and used only when it is a regular file. Held until
    /// the returned file is dropped.
    // `File::try_lock` is stable since Rust 1.89 (the crate's rust-version).
    pub(crate) fn lock(&self) -> Option<File> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NONBLOCK);
        }
        let file = match options.open(&path) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => f,
            Ok(_) => {
                log::warn!(
                    "{} is not a regular file; refreshing without a lock",
                    path.display()
                );
                return None;
            }
            Err(e) => {
                log::warn!(
                    "cannot open {} ({e}); refreshing without a lock",
                    path.display()
                );
                return None;
            }
        };
        let end = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Some(file),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    log::warn!(
                        "cannot lock {} ({e}); refreshing without the lock",
                        path.display()
                    );
                    return None;
                }
            }
        }
    }

    /// Replaces the file with `text` after a refresh of `what` (e.g. "the aws
    /// login session of profile 'p'") that expires at `expires_at`. A failed
    /// write is logged (with `unwritten`, what follows from it) and
    /// otherwise ignored: the refreshed token is still used.
    pub(crate) fn write_back(
        &self,
        text: &Secret,
        what: &str,
        expires_at: SystemTime,
        unwritten: &str,
    ) {
        match write_atomically(&self.path, text.expose().as_bytes()) {
            Ok(()) => log::debug!(
                "refreshed {what} (expires {}) and updated {}",
                format_rfc3339(expires_at),
                self.path.display()
            ),
            Err(why) => log::warn!(
                "refreshed {what} but could not update {}: {why}{unwritten}",
                self.path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_is_allowed_once_per_interval_and_after_a_clock_jump_back() {
        let file = TokenFile::new(PathBuf::from("unused.json"));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(file.may_refresh(t0));
        assert!(!file.may_refresh(t0 + Duration::from_secs(29)));
        assert!(file.may_refresh(t0 + MIN_REFRESH_INTERVAL));
        assert!(file.may_refresh(t0), "the clock went back");
    }
}
