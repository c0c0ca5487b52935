//! Finding, reading and choosing from the shared config and credentials files.
//!
//! Owns: where the two files are on each OS (`AWS_CONFIG_FILE`,
//! `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/…` with the home directory resolved
//! as the SDKs do: `HOME`, then on Windows `USERPROFILE`, then
//! `HOMEDRIVE`+`HOMEPATH`; pinned by the SDKs' `file-location-tests.json`), reading
//! them with a size bound, noticing when they change on disk, and which profile is
//! selected (`--profile`, else `AWS_PROFILE`, else `default`).
//! Refuses: following `AWS_DEFAULT_PROFILE` (Rust `aws-config` ignores it too).

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use super::env::Env;
use super::ini::{FileKind, ParseError, ProfileSet, Properties};
use p256::elliptic_curve::zeroize::Zeroize;

use crate::fs::{ReadError, read_bounded};

/// The most bytes read from one shared file (4 MiB); a larger file is an error.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// The OS family, for path rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Linux, macOS and other Unix systems.
    Unix,
    /// Windows.
    Windows,
}

impl Platform {
    /// The platform this binary was built for.
    pub fn current() -> Self {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }

    fn separator(self) -> char {
        match self {
            Platform::Unix => '/',
            Platform::Windows => '\\',
        }
    }
}

/// The user's home directory as the AWS SDKs find it: `HOME` on every OS; on
/// Windows then `USERPROFILE`, then `HOMEDRIVE` + `HOMEPATH`. With the real
/// process environment and none of those set, the OS's own answer is used.
pub(crate) fn home_dir(env: &Env, platform: Platform) -> Option<String> {
    if let Some(home) = env.get_nonblank("HOME") {
        return Some(home);
    }
    if platform == Platform::Windows {
        if let Some(profile) = env.get_nonblank("USERPROFILE") {
            return Some(profile);
        }
        if let (Some(drive), Some(path)) =
            (env.get_nonblank("HOMEDRIVE"), env.get_nonblank("HOMEPATH"))
        {
            return Some(format!("{drive}{path}"));
        }
    }
    if !env.is_process() {
        return None;
    }
    std::env::home_dir().and_then(|p| p.to_str().map(str::to_owned))
}

/// Replaces a leading `~/` (and `~\` on Windows) with the home directory.
fn expand_home(path: &str, home: Option<&str>, platform: Platform) -> String {
    let rest = path.strip_prefix("~/").or_else(|| {
        (platform == Platform::Windows)
            .then(|| path.strip_prefix("~\\"))
            .flatten()
    });
    match (rest, home) {
        (Some(rest), Some(home)) => {
            let sep = platform.separator();
            format!("{}{sep}{rest}", home.trim_end_matches(['/', '\\']))
        }
        _ => path.to_owned(),
    }
}

/// Where the two shared files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLocations {
    /// The config file (`AWS_CONFIG_FILE`, else `~/.aws/config`).
    pub config: String,
    /// The credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
    pub credentials: String,
}

impl FileLocations {
    /// Resolves both locations for `platform` from `env`.
    pub fn resolve(env: &Env, platform: Platform) -> Self {
        let home = home_dir(env, platform);
        let sep = platform.separator();
        let default = |name: &str| match &home {
            Some(home) => format!("{}{sep}.aws{sep}{name}", home.trim_end_matches(['/', '\\'])),
            None => format!("~{sep}.aws{sep}{name}"),
        };
        let pick = |var: &str, name: &str| match env.get_nonblank(var) {
            Some(path) => expand_home(&path, home.as_deref(), platform),
            None => default(name),
        };
        FileLocations {
            config: pick("AWS_CONFIG_FILE", "config"),
            credentials: pick("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        }
    }
}

/// What identifies a file's version on disk: modification time and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

/// Reads the stamp of `path`; `None` when it does not exist.
fn stamp(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|m| FileStamp {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

/// A shared file that could not be used.
#[derive(Debug)]
pub enum ProfileFileError {
    /// The file exists but could not be read (permissions, not a file, too big).
    Read {
        /// The path.
        path: String,
        /// What went wrong.
        reason: ReadError,
    },
    /// The file has a syntax error.
    Parse {
        /// The path.
        path: String,
        /// The error, with its line.
        error: ParseError,
    },
}

impl fmt::Display for ProfileFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileFileError::Read { path, reason } => write!(f, "cannot read {path}: {reason}"),
            ProfileFileError::Parse { path, error } => {
                write!(
                    f,
                    "cannot parse {path}: {error}; fix the file or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE elsewhere"
                )
            }
        }
    }
}

impl std::error::Error for ProfileFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProfileFileError::Read { reason, .. } => Some(reason),
            ProfileFileError::Parse { error, .. } => Some(error),
        }
    }
}

/// The parsed, merged shared files and the stamps of the versions read.
#[derive(Clone, Debug)]
pub struct ProfileFiles {
    /// Where they were read from.
    pub locations: FileLocations,
    /// Their merged content.
    pub set: ProfileSet,
    stamps: [Option<FileStamp>; 2],
}

impl ProfileFiles {
    /// Reads and parses both files (a missing file counts as empty).
    ///
    /// # Errors
    /// [`ProfileFileError`] when a file exists but cannot be read or parsed.
    pub fn load(locations: FileLocations) -> Result<Self, ProfileFileError> {
        let paths = [
            (FileKind::Config, &locations.config),
            (FileKind::Credentials, &locations.credentials),
        ];
        let mut set = ProfileSet::default();
        let mut stamps = [None, None];
        for (i, (kind, path)) in paths.iter().enumerate() {
            stamps[i] = stamp(Path::new(path));
            let mut text = read_bounded(Path::new(path), MAX_FILE_BYTES)
                .map_err(|reason| ProfileFileError::Read {
                    path: path.to_string(),
                    reason,
                })?
                .unwrap_or_default();
            let added = set.add_file(*kind, &text);
            // The credentials file holds secret keys.
            text.zeroize();
            added.map_err(|error| ProfileFileError::Parse {
                path: path.to_string(),
                error,
            })?;
        }
        Ok(ProfileFiles {
            locations,
            set,
            stamps,
        })
    }

    /// True when neither file existed when they were read.
    pub fn none_exist(&self) -> bool {
        self.stamps.iter().all(Option::is_none)
    }

    /// True when either file's stamp differs from the version read.
    pub fn changed_on_disk(&self) -> bool {
        stamp(Path::new(&self.locations.config)) != self.stamps[0]
            || stamp(Path::new(&self.locations.credentials)) != self.stamps[1]
    }

    /// The named profile.
    pub fn profile(&self, name: &str) -> Option<&Properties> {
        self.set.profile(name)
    }

    /// `config` and `credentials` paths for messages: `~/.aws/config and ~/.aws/credentials`.
    pub fn describe(&self) -> String {
        format!(
            "{} or {}",
            self.locations.config, self.locations.credentials
        )
    }

    /// The region of `profile`: its `region`, else the `region` of its
    /// `source_profile` chain (stopping at a loop), as Rust `aws-config` does.
    pub fn region(&self, profile: &str) -> Option<String> {
        let mut seen: Vec<&str> = Vec::new();
        let mut name = profile;
        loop {
            let props = self.profile(name)?;
            if let Some(region) = props.get("region").filter(|r| !r.is_empty()) {
                return Some(region.clone());
            }
            seen.push(name);
            let next = props.get("source_profile")?;
            if seen.contains(&next.as_str()) {
                return None;
            }
            name = next;
        }
    }
}

/// The selected profile name: `--profile`, else `AWS_PROFILE`, else `default`.
pub fn selected_profile(explicit: Option<&str>, env: &Env) -> String {
    explicit
        .map(str::to_owned)
        .or_else(|| env.get_nonblank("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_is_expanded_only_as_first_component() {
        assert_eq!(
            expand_home("~/x/config", Some("/home/u"), Platform::Unix),
            "/home/u/x/config"
        );
        assert_eq!(
            expand_home("/a/~/config", Some("/home/u"), Platform::Unix),
            "/a/~/config"
        );
        assert_eq!(
            expand_home("~\\x", Some("C:\\u"), Platform::Windows),
            "C:\\u\\x"
        );
        assert_eq!(expand_home("~\\x", Some("/home/u"), Platform::Unix), "~\\x");
    }
}
