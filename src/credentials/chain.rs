//! The credential chain and the cache that keeps its answer fresh.
//!
//! Owns: the order in which sources are asked (AWS SDK default chain, Rust
//! `aws-config` order: environment, then the selected profile), the "tried" list
//! that an error shows, and [`CredentialsProvider`], which hands the same
//! credentials to every request until they near expiry or the shared files change
//! on disk, then resolves again.
//! Refuses: reading the environment keys when a profile was named with
//! `--profile` (the user asked for that profile, as `aws --profile` does).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::env::{Env, credentials_from_env};
use super::profile::{FileLocations, Platform, ProfileFiles, selected_profile};
use super::{Credentials, CredentialsError};
use crate::secret::Secret;

/// Temporary credentials are renewed when less than this remains (5 minutes):
/// between Rust's 5–10 s and botocore's 15 min, and what the AWS credentials
/// digest recommends for a long-running proxy.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(300);

/// What one source said.
enum Outcome {
    /// It had credentials.
    Found(Credentials),
    /// It had none; the reason goes into the "tried" list and the chain goes on.
    Nothing(String),
    /// It is configured but broken; the chain stops here.
    Failed(String, Option<String>),
}

/// Resolves credentials from the environment and the shared files.
#[derive(Clone, Debug)]
pub struct Resolver {
    env: Env,
    explicit_profile: Option<String>,
    platform: Platform,
}

impl Resolver {
    /// A resolver reading `env`; `explicit_profile` is the `--profile` value.
    pub fn new(env: Env, explicit_profile: Option<String>) -> Self {
        Resolver {
            env,
            explicit_profile,
            platform: Platform::current(),
        }
    }

    /// The selected profile name.
    pub fn profile_name(&self) -> String {
        selected_profile(self.explicit_profile.as_deref(), &self.env)
    }

    /// The environment this resolver reads.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Where the shared files are.
    pub fn file_locations(&self) -> FileLocations {
        FileLocations::resolve(&self.env, self.platform)
    }

    /// Reads the shared files.
    ///
    /// # Errors
    /// A file exists but cannot be read or parsed.
    pub fn load_files(&self) -> Result<ProfileFiles, CredentialsError> {
        ProfileFiles::load(self.file_locations()).map_err(|e| {
            CredentialsError::new(format!("cannot use the shared AWS files: {e}"), None)
        })
    }

    /// Asks each source in order and returns the first credentials found, with
    /// the shared files as read (for change detection).
    ///
    /// # Errors
    /// [`CredentialsError`] naming every source tried and why it gave nothing,
    /// with a hint; or the first source that is configured but broken.
    pub fn resolve(&self) -> Result<(Credentials, Option<ProfileFiles>), CredentialsError> {
        let mut tried: Vec<(String, String)> = Vec::new();
        let profile = self.profile_name();

        if let Some(name) = &self.explicit_profile {
            tried.push(("env".into(), format!("skipped: --profile {name} was given")));
        } else {
            match credentials_from_env(&self.env) {
                Ok(c) => return Ok((c, None)),
                Err(why) => tried.push(("env".into(), why)),
            }
        }

        let files = match self.load_files() {
            Ok(files) => files,
            Err(mut e) => {
                e.tried = tried;
                return Err(e);
            }
        };
        let label = format!("profile '{profile}' in {}", files.describe());
        match self.profile_credentials(&files, &profile) {
            Outcome::Found(c) => return Ok((c, Some(files))),
            Outcome::Nothing(why) => tried.push((label, why)),
            Outcome::Failed(why, hint) => {
                let mut e = CredentialsError::new(format!("cannot use {label}: {why}"), hint);
                e.tried = tried;
                return Err(e);
            }
        }

        let hint = if self.explicit_profile.is_some()
            || self.env.get_nonblank("AWS_PROFILE").is_some()
        {
            format!(
                "run `aws configure --profile {profile}` (or `aws sso login --profile {profile}` for IAM Identity Center), or pick another profile with --profile"
            )
        } else {
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure`, or pick a profile with --profile".to_owned()
        };
        let mut e = CredentialsError::new("no credentials found", Some(hint));
        e.tried = tried;
        Err(e)
    }

    fn profile_credentials(&self, files: &ProfileFiles, name: &str) -> Outcome {
        let Some(props) = files.profile(name) else {
            if name == "default" {
                return Outcome::Nothing("not found".into());
            }
            return Outcome::Failed(
                "the profile is not defined".into(),
                Some(format!(
                    "check the name, or create it with `aws configure --profile {name}`"
                )),
            );
        };
        let key = |k: &str| props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        match (key("aws_access_key_id"), key("aws_secret_access_key")) {
            (Some(id), Some(secret)) => {
                let token = key("aws_session_token").map(Secret::from);
                return Outcome::Found(Credentials::new(
                    id,
                    Secret::from(secret),
                    token,
                    None,
                    format!("profile '{name}' (static keys)"),
                ));
            }
            (Some(_), None) => {
                return Outcome::Failed(
                    "aws_access_key_id is set but aws_secret_access_key is not".into(),
                    Some(format!("add aws_secret_access_key to profile '{name}'")),
                );
            }
            (None, Some(_)) => {
                return Outcome::Failed(
                    "aws_secret_access_key is set but aws_access_key_id is not".into(),
                    Some(format!("add aws_access_key_id to profile '{name}'")),
                );
            }
            (None, None) => {}
        }
        let other: Vec<&str> = [
            "role_arn",
            "credential_process",
            "sso_session",
            "sso_start_url",
            "web_identity_token_file",
            "credential_source",
            "login_session",
        ]
        .into_iter()
        .filter(|k| key(k).is_some())
        .collect();
        if other.is_empty() {
            Outcome::Nothing("no keys".into())
        } else {
            Outcome::Nothing(format!(
                "no static keys; {} is not supported by this version",
                other.join(", ")
            ))
        }
    }
}

struct Cached {
    credentials: Arc<Credentials>,
    files: Option<ProfileFiles>,
}

/// Hands out credentials, resolving them once and again only when needed: when
/// temporary credentials have less than [`REFRESH_WINDOW`] left, when the shared
/// files they came from changed on disk, or after [`invalidate`](Self::invalidate).
/// Safe to share between threads; one resolution runs at a time.
pub struct CredentialsProvider {
    resolver: Resolver,
    cached: Mutex<Option<Cached>>,
}

impl CredentialsProvider {
    /// A provider over `resolver`; nothing is resolved until first asked.
    pub fn new(resolver: Resolver) -> Self {
        CredentialsProvider {
            resolver,
            cached: Mutex::new(None),
        }
    }

    /// The resolver in use.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Current credentials, resolved again if they are stale.
    ///
    /// # Errors
    /// [`CredentialsError`] from the chain when no usable credentials exist now.
    pub fn credentials(&self) -> Result<Arc<Credentials>, CredentialsError> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref() {
            if !Self::stale(c, SystemTime::now()) {
                return Ok(Arc::clone(&c.credentials));
            }
        }
        let (credentials, files) = self.resolver.resolve()?;
        let credentials = Arc::new(credentials);
        log::debug!(
            "credentials from {} (access key id {}){}",
            credentials.source(),
            credentials.access_key_id_for_log(),
            match credentials.expiry() {
                Some(t) => format!(", expire {}", crate::sigv4::time::format_rfc3339(t)),
                None => String::new(),
            }
        );
        *cached = Some(Cached {
            credentials: Arc::clone(&credentials),
            files,
        });
        Ok(credentials)
    }

    fn stale(c: &Cached, now: SystemTime) -> bool {
        if let Some(expiry) = c.credentials.expiry() {
            if now + REFRESH_WINDOW >= expiry {
                return true;
            }
        }
        c.files.as_ref().is_some_and(ProfileFiles::changed_on_disk)
    }

    /// Forgets `stale` (if it is still the current credentials) so the next call
    /// resolves again: after the service said the token expired.
    pub fn invalidate(&self, stale: &Arc<Credentials>) {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if cached
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.credentials, stale))
        {
            *cached = None;
        }
    }
}
