//! Reading and writing the small files the crate uses, with bounds.
//!
//! Owns: reading a whole text file of at most a given size (the shared AWS
//! files, token files, the SSO token cache, a CA bundle) — a missing file is
//! not an error, a larger one is; reading one that holds a secret straight into
//! a [`Secret`]; and replacing a file atomically (a temporary file in the same
//! directory with the permissions of the file it replaces — mode 0600 on Unix
//! for a new one, as the AWS CLI writes its caches — then a rename), so a
//! reader never sees half a file.
//! Refuses: reading without a bound, and echoing a file's content in an error.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use p256::elliptic_curve::zeroize::Zeroize;

use crate::secret::Secret;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The file exists but opening or reading it failed.
    Io(std::io::Error),
    /// It is larger than the bound.
    TooLarge {
        /// The bound, in bytes.
        max: u64,
    },
    /// It is not UTF-8 text.
    NotUtf8,
    /// It is not a regular file (a FIFO, a device, a socket, a directory):
    /// reading one could wait for ever.
    NotRegular,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => e.fmt(f),
            ReadError::TooLarge { max } => write!(f, "larger than {max} bytes"),
            ReadError::NotUtf8 => f.write_str("not UTF-8 text"),
            ReadError::NotRegular => f.write_str(
                "not a regular file (a FIFO, a device or a directory); only a regular file is read there",
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The bytes of `path`, at most `max`; `Ok(None)` when it does not exist. The
/// buffer is sized once from the file's length, so a secret is not left behind
/// in reallocated memory. Only a regular file is read: anything else is
/// refused before it is opened, and (on Unix) it is opened without waiting
/// (`O_NONBLOCK`: opening a FIFO waits for a writer) and checked again, so
/// that no read waits on a FIFO or a device.
fn read_bytes(path: &Path, max: u64) -> Result<Option<Vec<u8>>, ReadError> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Err(ReadError::NotRegular),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReadError::Io(e)),
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReadError::Io(e)),
    };
    // Replaced by something else between the two looks.
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(ReadError::NotRegular);
    }
    let expected = file.metadata().map_or(0, |m| m.len()).min(max + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0) + 1);
    match file.take(max + 1).read_to_end(&mut bytes) {
        Ok(n) if n as u64 > max => {
            bytes.zeroize();
            Err(ReadError::TooLarge { max })
        }
        Ok(_) => Ok(Some(bytes)),
        Err(e) => {
            bytes.zeroize();
            Err(ReadError::Io(e))
        }
    }
}

/// Reads a whole UTF-8 file of at most `max` bytes; `Ok(None)` when it does not
/// exist.
///
/// # Errors
/// [`ReadError`] when the file exists but cannot be read, is larger than `max`,
/// or is not UTF-8.
pub fn read_bounded(path: &Path, max: u64) -> Result<Option<String>, ReadError> {
    match read_bytes(path, max)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|e| {
            e.into_bytes().zeroize();
            ReadError::NotUtf8
        }),
    }
}

/// [`read_bounded`] for a file that holds a secret (a token): the text goes
/// straight into a [`Secret`], and nothing is left behind on an error.
///
/// # Errors
/// As [`read_bounded`].
pub fn read_secret(path: &Path, max: u64) -> Result<Option<Secret>, ReadError> {
    read_bounded(path, max).map(|text| text.map(Secret::new))
}

/// Replaces `path` with `bytes` through a temporary file in the same directory
/// and a rename, so a reader sees the old file or the new one, never half of
/// one. On Unix the new file gets the permission bits of the one it replaces
/// (a user who opened the cache to a group keeps that), or 0600 when there is
/// none. The temporary file is removed on failure.
///
/// # Errors
/// The I/O error of creating, writing, syncing or renaming.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let invalid = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    let dir = path
        .parent()
        .ok_or_else(|| invalid("the file has no directory"))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| invalid("the file has no name"))?;
    let tmp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777);
            // Created unreadable to others whatever the old mode; set exactly
            // below (the umask applies to `mode` at creation).
            options.mode(0o600);
            mode
        };
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_and_a_missing_file_is_none() {
        let dir = std::env::temp_dir().join(format!("mcp-sigv4-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big");
        std::fs::write(&path, vec![b'a'; 100]).unwrap();
        let e = read_bounded(&path, 99).unwrap_err();
        assert!(e.to_string().contains("larger than 99 bytes"), "{e}");
        assert_eq!(read_bounded(&path, 100).unwrap().unwrap().len(), 100);
        assert_eq!(read_bounded(&dir.join("missing"), 10).unwrap(), None);
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert_eq!(
            read_bounded(&path, 10).unwrap_err().to_string(),
            "not UTF-8 text"
        );
        std::fs::write(&path, "tok\n").unwrap();
        assert_eq!(read_secret(&path, 10).unwrap().unwrap().expose(), "tok\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_writes_replace_the_file_and_leave_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("mcp-sigv4-fs-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache.json");
        write_atomically(&path, b"first").unwrap();
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode(&path), 0o600, "a new file is 0600");
            // The permissions of the file replaced are kept.
            for kept in [0o640, 0o644, 0o400] {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(kept)).unwrap();
                write_atomically(&path, b"again").unwrap();
                assert_eq!(mode(&path), kept);
            }
        }
        assert!(write_atomically(&dir.join("no/such/dir/x"), b"x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
