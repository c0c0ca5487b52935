//! The credential chain and the cache that keeps its answer fresh.
//!
//! Owns: the order in which sources are asked — the AWS SDK default chain in
//! Rust `aws-config` order (`../shared/spec/aws-credentials.md` §1.1):
//! environment keys; the selected profile (planned by `plan.rs`: static keys,
//! `credential_process`, IAM Identity Center, `web_identity_token_file`,
//! `role_arn` chains over `source_profile`/`credential_source`);
//! `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`; container credentials; EC2
//! IMDSv2 — then an optional role on top (`--role-arn`,
//! `AGENTCORE_ASSUME_ROLE_ARN`). It keeps the "tried" list an error shows, and
//! [`CredentialsProvider`], which hands the same credentials to every request
//! and renews them before they expire.
//! Refuses: reading the environment keys when a profile was named with
//! `--profile` (the user asked for that profile, as `aws --profile` does).
//!
//! Choices where the SDKs differ (we follow Rust `aws-config`, §1.4):
//! `credential_process` beats static keys in the same profile; container
//! `..._RELATIVE_URI` beats `..._FULL_URI`; `AWS_DEFAULT_PROFILE` is ignored;
//! IMDS never falls back to IMDSv1. Ours: STS session names are
//! `mcp-sigv4-<epoch millis>` (visible in CloudTrail), and the STS region is
//! `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's region, the endpoint's
//! region, then `us-east-1`, always at the regional STS endpoint.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::container::container_source;
use super::env::{Env, credentials_from_env};
use super::imds::{Imds, imds_source};
use super::ini::{Properties, sub_properties};
use super::plan::{Base, Plan, RoleLink, plan};
use super::process::credentials_from_process;
use super::profile::{
    FileLocations, Platform, ProfileFiles, home_dir, read_bounded, selected_profile,
};
use super::sso::{SsoEndpoints, SsoSource, sso_profile};
use super::sts::{CLIENT_SETTINGS, Sts};
use super::{Credentials, CredentialsError, SourceError};
use crate::http::{Client, TlsRoots};
use crate::secret::Secret;
use crate::sync::Locked;

/// Temporary credentials are renewed when less than this remains (5 minutes):
/// between Rust's 5–10 s and botocore's 15 min, and what the AWS credentials
/// digest recommends for a long-running proxy. Inside this window the renewal
/// runs in the background while requests keep using the current credentials.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(300);

/// When less than this remains, a request waits for the renewal.
pub const MANDATORY_WINDOW: Duration = Duration::from_secs(60);

/// Credentials without an expiry from a source that can change them
/// (`credential_process`, container, IMDS) are asked for again after this long
/// (Rust `aws-config`'s default).
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(900);

/// After a failed background renewal, the next one waits this long.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The most bytes read from a web identity token file.
const MAX_TOKEN_FILE: u64 = 64 << 10;

/// What one source said.
enum Outcome {
    /// It had credentials.
    Found(Credentials),
    /// It had none; the reason goes into the "tried" list and the chain goes on.
    Nothing(String),
    /// It is configured but broken; the chain stops here.
    Failed(SourceError),
}

/// A role to assume on top of whatever the chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleOnTop {
    /// The role ARN.
    pub role_arn: String,
    /// The STS session name (default `mcp-sigv4-<epoch millis>`).
    pub session_name: Option<String>,
    /// The external id.
    pub external_id: Option<String>,
}

/// Credentials as resolved, with what decides when to resolve again.
#[derive(Debug)]
pub struct Resolved {
    /// The credentials.
    pub credentials: Credentials,
    /// The shared files as read, when they were used.
    pub files: Option<ProfileFiles>,
    /// The source can hand out different credentials later (recheck them
    /// after [`RECHECK_INTERVAL`] when they carry no expiry).
    pub dynamic: bool,
}

/// Resolves credentials: the environment, the shared files, and the sources
/// they name. Keeps the state some sources need across resolutions (the IMDS
/// token, SSO refresh throttling).
pub struct Resolver {
    env: Env,
    explicit_profile: Option<String>,
    platform: Platform,
    role_on_top: Option<RoleOnTop>,
    endpoint_region: Option<String>,
    client: Client,
    tls: TlsRoots,
    imds: Mutex<Option<Arc<Imds>>>,
    sso: Mutex<HashMap<String, Arc<SsoSource>>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("explicit_profile", &self.explicit_profile)
            .field("role_on_top", &self.role_on_top)
            .finish_non_exhaustive()
    }
}

fn millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn nonblank<'a>(props: &'a Properties, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl Resolver {
    /// A resolver reading `env`; `explicit_profile` is the `--profile` value.
    pub fn new(env: Env, explicit_profile: Option<String>) -> Self {
        Resolver {
            env,
            explicit_profile,
            platform: Platform::current(),
            role_on_top: None,
            endpoint_region: None,
            client: Client::new(CLIENT_SETTINGS, &TlsRoots::builtin()),
            tls: TlsRoots::builtin(),
            imds: Mutex::new(None),
            sso: Mutex::new(HashMap::new()),
        }
    }

    /// Trusts `tls` (a CA bundle, or the built-in roots) in every HTTPS
    /// request the chain makes: STS, SSO, container and IMDS endpoints.
    pub fn with_tls(mut self, tls: TlsRoots) -> Self {
        self.client = Client::new(CLIENT_SETTINGS, &tls);
        self.tls = tls;
        self
    }

    /// Assumes `role` on top of whatever the chain finds.
    pub fn with_role_on_top(mut self, role: Option<RoleOnTop>) -> Self {
        self.role_on_top = role;
        self
    }

    /// The endpoint's region: the STS region when neither the environment nor
    /// the profile names one.
    pub fn with_endpoint_region(mut self, region: Option<String>) -> Self {
        self.endpoint_region = region;
        self
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

    /// Asks each source in order and returns the first credentials found
    /// (with the role on top assumed, if one is set).
    ///
    /// # Errors
    /// [`CredentialsError`] naming every source tried and why it gave nothing,
    /// with a hint; or the first source that is configured but broken.
    pub fn resolve(&self) -> Result<Resolved, CredentialsError> {
        let mut resolved = self.resolve_base()?;
        if let Some(role) = &self.role_on_top {
            let files = resolved.files.clone().or_else(|| self.load_files().ok());
            let sts = self
                .sts(files.as_ref())
                .map_err(|e| self.source_failed("--role-arn", e, Vec::new()))?;
            let session = role
                .session_name
                .clone()
                .unwrap_or_else(|| format!("mcp-sigv4-{}", millis()));
            let on_top = sts
                .assume_role(
                    &resolved.credentials,
                    &role.role_arn,
                    &session,
                    role.external_id.as_deref(),
                    None,
                )
                .map_err(|e| {
                    self.source_failed(
                        &format!(
                            "--role-arn {} on top of {}",
                            role.role_arn,
                            resolved.credentials.source()
                        ),
                        e,
                        Vec::new(),
                    )
                })?;
            resolved.credentials = on_top;
            resolved.dynamic = true;
        }
        Ok(resolved)
    }

    /// Who `credentials` belong to (STS GetCallerIdentity).
    ///
    /// # Errors
    /// [`SourceError`] from STS.
    pub fn caller_identity(
        &self,
        credentials: &Credentials,
    ) -> Result<super::sts::CallerIdentity, SourceError> {
        let files = self.load_files().ok();
        self.sts(files.as_ref())?.get_caller_identity(credentials)
    }

    fn source_failed(
        &self,
        what: &str,
        e: SourceError,
        tried: Vec<(String, String)>,
    ) -> CredentialsError {
        let mut err = CredentialsError::new(
            format!("cannot get credentials from {what}: {}", e.message),
            e.hint,
        );
        err.tried = tried;
        err
    }

    fn resolve_base(&self) -> Result<Resolved, CredentialsError> {
        let mut tried: Vec<(String, String)> = Vec::new();
        let profile = self.profile_name();

        // 1. Environment keys.
        if let Some(name) = &self.explicit_profile {
            tried.push(("env".into(), format!("skipped: --profile {name} was given")));
        } else {
            match credentials_from_env(&self.env) {
                Ok(c) => {
                    return Ok(Resolved {
                        credentials: c,
                        files: None,
                        dynamic: false,
                    });
                }
                Err(why) => tried.push(("env".into(), why)),
            }
        }

        // 2. The selected profile.
        let files = match self.load_files() {
            Ok(files) => files,
            Err(mut e) => {
                e.tried = tried;
                return Err(e);
            }
        };
        let label = format!("profile '{profile}' in {}", files.describe());
        match plan(&files.set, &profile) {
            Err(e) => {
                let mut err =
                    CredentialsError::new(format!("cannot use {label}: {}", e.message), e.hint);
                err.tried = tried;
                return Err(err);
            }
            Ok(None) => tried.push((label, "no credentials in it".into())),
            Ok(Some(plan)) => {
                let dynamic =
                    !(matches!(plan.base, Base::StaticKeys { .. }) && plan.roles.is_empty());
                return match self.run_plan(&plan, &files) {
                    Ok(credentials) => Ok(Resolved {
                        credentials,
                        files: Some(files),
                        dynamic,
                    }),
                    Err(e) => {
                        Err(self.source_failed(&format!("{label} ({})", plan.base), e, tried))
                    }
                };
            }
        }

        // 3. Web identity from the environment.
        if let Some(token_file) = self.env.get_nonblank("AWS_WEB_IDENTITY_TOKEN_FILE") {
            match self.env.get_nonblank("AWS_ROLE_ARN") {
                None => tried.push((
                    "web identity".into(),
                    "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".into(),
                )),
                Some(role_arn) => {
                    let session = self.env.get_nonblank("AWS_ROLE_SESSION_NAME");
                    return self
                        .web_identity(&role_arn, &token_file, session.as_deref(), Some(&files))
                        .map(|credentials| Resolved {
                            credentials,
                            files: Some(files),
                            dynamic: true,
                        })
                        .map_err(|e| {
                            self.source_failed(
                                "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)",
                                e,
                                tried,
                            )
                        });
                }
            }
        } else {
            tried.push((
                "web identity".into(),
                "AWS_WEB_IDENTITY_TOKEN_FILE not set".into(),
            ));
        }

        // 4. Container credentials.
        match self.container() {
            Outcome::Found(credentials) => {
                return Ok(Resolved {
                    credentials,
                    files: Some(files),
                    dynamic: true,
                });
            }
            Outcome::Nothing(why) => tried.push(("container".into(), why)),
            Outcome::Failed(e) => {
                return Err(self.source_failed("container credentials", e, tried));
            }
        }

        // 5. EC2 instance metadata.
        match self.instance_metadata(files.profile(&profile)) {
            Outcome::Found(credentials) => {
                return Ok(Resolved {
                    credentials,
                    files: Some(files),
                    dynamic: true,
                });
            }
            Outcome::Nothing(why) => tried.push(("EC2 instance metadata".into(), why)),
            Outcome::Failed(e) => {
                return Err(self.source_failed("EC2 instance metadata", e, tried));
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

    /// Runs a profile plan: the base, then each role innermost first.
    fn run_plan(&self, plan: &Plan, files: &ProfileFiles) -> Result<Credentials, SourceError> {
        let mut credentials = self.run_base(&plan.base, files)?;
        for RoleLink {
            profile,
            role_arn,
            session_name,
            external_id,
            ..
        } in &plan.roles
        {
            let sts = self.sts(Some(files))?;
            let session = session_name
                .clone()
                .unwrap_or_else(|| format!("mcp-sigv4-{}", millis()));
            credentials = sts
                .assume_role(
                    &credentials,
                    role_arn,
                    &session,
                    external_id.as_deref(),
                    None,
                )
                .map_err(|e| SourceError {
                    message: format!("role_arn of profile '{profile}': {}", e.message),
                    hint: e.hint,
                })?;
        }
        Ok(credentials)
    }

    fn run_base(&self, base: &Base, files: &ProfileFiles) -> Result<Credentials, SourceError> {
        match base {
            Base::StaticKeys { profile } => {
                let props = files
                    .profile(profile)
                    .ok_or_else(|| SourceError::new(format!("profile '{profile}' vanished")))?;
                let id = nonblank(props, "aws_access_key_id").unwrap_or("");
                let secret = nonblank(props, "aws_secret_access_key").unwrap_or("");
                Ok(Credentials::new(
                    id,
                    Secret::from(secret),
                    nonblank(props, "aws_session_token").map(Secret::from),
                    None,
                    format!("profile '{profile}' (static keys)"),
                ))
            }
            Base::Environment => credentials_from_env(&self.env).map_err(|why| {
                SourceError::new(format!("credential_source = Environment, but {why}"))
                    .with_hint("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
            }),
            Base::Container => match self.container() {
                Outcome::Found(c) => Ok(c),
                Outcome::Nothing(why) => Err(SourceError::new(format!(
                    "credential_source = EcsContainer, but {why}"
                ))),
                Outcome::Failed(e) => Err(e),
            },
            Base::Imds => match self.instance_metadata(None) {
                Outcome::Found(c) => Ok(c),
                Outcome::Nothing(why) => Err(SourceError::new(format!(
                    "credential_source = Ec2InstanceMetadata, but {why}"
                ))),
                Outcome::Failed(e) => Err(e),
            },
            Base::WebIdentity {
                role_arn,
                token_file,
                session_name,
                ..
            } => self.web_identity(role_arn, token_file, session_name.as_deref(), Some(files)),
            Base::Sso { profile } => {
                let source = self.sso_source(profile, files)?;
                source.credentials(SystemTime::now())
            }
            Base::Process { profile, command } => credentials_from_process(command, profile),
        }
    }

    fn sso_source(
        &self,
        profile: &str,
        files: &ProfileFiles,
    ) -> Result<Arc<SsoSource>, SourceError> {
        let props = files
            .profile(profile)
            .ok_or_else(|| SourceError::new(format!("profile '{profile}' vanished")))?;
        let sso = sso_profile(profile, props, &files.set).unwrap_or_else(|| {
            Err(SourceError::new(format!(
                "profile '{profile}' has no SSO settings"
            )))
        })?;
        let mut cache = self.sso.locked();
        if let Some(existing) = cache.get(profile) {
            if *existing.profile() == sso {
                return Ok(Arc::clone(existing));
            }
        }
        let home = home_dir(&self.env, self.platform).ok_or_else(|| {
            SourceError::new("cannot find the home directory for the SSO token cache")
                .with_hint("set HOME")
        })?;
        let cache_dir: PathBuf = [home.as_str(), ".aws", "sso", "cache"].iter().collect();
        let endpoints = SsoEndpoints {
            portal: self.endpoint_override("AWS_ENDPOINT_URL_SSO", "sso", Some(props), &files.set),
            oidc: self.endpoint_override(
                "AWS_ENDPOINT_URL_SSO_OIDC",
                "sso_oidc",
                Some(props),
                &files.set,
            ),
        };
        let source = Arc::new(SsoSource::new(
            profile,
            sso,
            &cache_dir,
            self.client.clone(),
            endpoints,
        )?);
        cache.insert(profile.to_owned(), Arc::clone(&source));
        Ok(source)
    }

    /// An endpoint override as the SDKs read them: `AWS_ENDPOINT_URL_<SVC>`, then
    /// `AWS_ENDPOINT_URL`, then the profile's `[services]` section entry for
    /// `service_key`, then the profile's `endpoint_url`; none of them when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` or the profile's
    /// `ignore_configured_endpoint_urls` is `true`.
    fn endpoint_override(
        &self,
        env_var: &str,
        service_key: &str,
        props: Option<&Properties>,
        set: &super::ini::ProfileSet,
    ) -> Option<String> {
        let ignore = self
            .env
            .get_nonblank("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .or_else(|| {
                props
                    .and_then(|p| nonblank(p, "ignore_configured_endpoint_urls"))
                    .map(str::to_owned)
            })
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if ignore {
            return None;
        }
        if let Some(url) = self
            .env
            .get_nonblank(env_var)
            .or_else(|| self.env.get_nonblank("AWS_ENDPOINT_URL"))
        {
            return Some(url);
        }
        let props = props?;
        if let Some(section) = nonblank(props, "services")
            .and_then(|s| set.sections.get(&("services".to_owned(), s.to_owned())))
        {
            if let Some(value) = section.get(service_key) {
                if let Some((_, url)) = sub_properties(value)
                    .into_iter()
                    .find(|(k, _)| *k == "endpoint_url")
                {
                    return Some(url.to_owned());
                }
            }
        }
        nonblank(props, "endpoint_url").map(str::to_owned)
    }

    /// The STS region (see the module docs) and client.
    fn sts(&self, files: Option<&ProfileFiles>) -> Result<Sts, SourceError> {
        let profile = self.profile_name();
        let region = self
            .env
            .get_nonblank("AWS_REGION")
            .or_else(|| self.env.get_nonblank("AWS_DEFAULT_REGION"))
            .or_else(|| files.and_then(|f| f.region(&profile)))
            .or_else(|| self.endpoint_region.clone())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = files.and_then(|f| {
            self.endpoint_override("AWS_ENDPOINT_URL_STS", "sts", f.profile(&profile), &f.set)
        });
        let endpoint = endpoint.or_else(|| {
            if files.is_none() {
                self.env
                    .get_nonblank("AWS_ENDPOINT_URL_STS")
                    .or_else(|| self.env.get_nonblank("AWS_ENDPOINT_URL"))
            } else {
                None
            }
        });
        Sts::new(self.client.clone(), &region, endpoint)
    }

    fn web_identity(
        &self,
        role_arn: &str,
        token_file: &str,
        session_name: Option<&str>,
        files: Option<&ProfileFiles>,
    ) -> Result<Credentials, SourceError> {
        // Read again on every resolution: Kubernetes rotates the file.
        let token = read_bounded(std::path::Path::new(token_file), MAX_TOKEN_FILE)
            .map_err(|why| {
                SourceError::new(format!(
                    "cannot read the web identity token file {token_file}: {why}"
                ))
            })?
            .ok_or_else(|| {
                SourceError::new(format!(
                    "the web identity token file {token_file} does not exist"
                ))
                .with_hint("check AWS_WEB_IDENTITY_TOKEN_FILE / web_identity_token_file")
            })?;
        let token = Secret::new(token.trim().to_owned());
        let session = session_name
            .map(str::to_owned)
            .unwrap_or_else(|| format!("mcp-sigv4-web-identity-{}", millis()));
        self.sts(files)?
            .assume_role_with_web_identity(role_arn, &session, &token)
    }

    fn container(&self) -> Outcome {
        match container_source(&self.env, &self.tls) {
            None => Outcome::Nothing(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set".into(),
            ),
            Some(Err(e)) => Outcome::Failed(e),
            Some(Ok(source)) => match source.credentials() {
                Ok(c) => Outcome::Found(c),
                Err(e) => Outcome::Failed(e),
            },
        }
    }

    /// IMDS: kept across resolutions for its token and last good credentials.
    /// Its failures do not stop the chain (on a laptop it is simply absent).
    fn instance_metadata(&self, profile: Option<&Properties>) -> Outcome {
        let imds = {
            let mut slot = self.imds.locked();
            match slot.as_ref() {
                Some(i) => Arc::clone(i),
                None => match imds_source(&self.env, profile, &self.tls) {
                    None => return Outcome::Nothing("AWS_EC2_METADATA_DISABLED is true".into()),
                    Some(Err(e)) => return Outcome::Failed(e),
                    Some(Ok(i)) => {
                        let i = Arc::new(i);
                        *slot = Some(Arc::clone(&i));
                        i
                    }
                },
            }
        };
        match imds.credentials() {
            Ok(c) => Outcome::Found(c),
            Err(e) => Outcome::Nothing(e.message),
        }
    }
}

struct Cached {
    credentials: Arc<Credentials>,
    files: Option<ProfileFiles>,
    /// When credentials without an expiry are asked for again.
    recheck_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    refreshing: bool,
    last_failure: Option<Instant>,
    /// The last error, given again to requests within [`ERROR_HOLD`] of it, so
    /// a burst of requests without credentials does not run the whole chain
    /// (and its metadata-endpoint timeouts) once each.
    last_error: Option<(Instant, CredentialsError)>,
}

/// How long a failed resolution's error is reused.
pub const ERROR_HOLD: Duration = Duration::from_secs(2);

/// Hands out credentials, resolving them once and again only when needed:
/// inside the [`REFRESH_WINDOW`] before they expire (in the background, while
/// requests go on with the current ones; requests wait only inside the
/// [`MANDATORY_WINDOW`]), when the shared files they came from changed on
/// disk, after [`RECHECK_INTERVAL`] for dynamic credentials without an expiry,
/// or after [`invalidate`](Self::invalidate). Safe to share between threads;
/// one resolution runs at a time.
pub struct CredentialsProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsProvider")
            .field("resolver", &self.inner.resolver)
            .finish_non_exhaustive()
    }
}

struct Inner {
    resolver: Resolver,
    state: Mutex<State>,
    resolving: Mutex<()>,
}

/// What [`CredentialsProvider::credentials`] should do with the cache.
enum Freshness {
    Fresh,
    RenewInBackground,
    Stale,
}

impl CredentialsProvider {
    /// A provider over `resolver`; nothing is resolved until first asked.
    pub fn new(resolver: Resolver) -> Self {
        CredentialsProvider {
            inner: Arc::new(Inner {
                resolver,
                state: Mutex::new(State::default()),
                resolving: Mutex::new(()),
            }),
        }
    }

    /// The resolver in use.
    pub fn resolver(&self) -> &Resolver {
        &self.inner.resolver
    }

    fn freshness(c: &Cached, now: SystemTime) -> Freshness {
        if c.files.as_ref().is_some_and(ProfileFiles::changed_on_disk) {
            return Freshness::Stale;
        }
        if let Some(expiry) = c.credentials.expiry() {
            if now + MANDATORY_WINDOW >= expiry {
                return Freshness::Stale;
            }
            if now + REFRESH_WINDOW >= expiry {
                return Freshness::RenewInBackground;
            }
        }
        if c.recheck_at.is_some_and(|t| Instant::now() >= t) {
            return Freshness::RenewInBackground;
        }
        Freshness::Fresh
    }

    /// Current credentials, renewed when they are stale.
    ///
    /// # Errors
    /// [`CredentialsError`] from the chain when no usable credentials exist now.
    pub fn credentials(&self) -> Result<Arc<Credentials>, CredentialsError> {
        {
            let mut state = self.inner.state.locked();
            if let Some(c) = state.cached.as_ref() {
                match Self::freshness(c, SystemTime::now()) {
                    Freshness::Fresh => return Ok(Arc::clone(&c.credentials)),
                    Freshness::RenewInBackground => {
                        let current = Arc::clone(&c.credentials);
                        let backing_off = state
                            .last_failure
                            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE);
                        if !state.refreshing && !backing_off {
                            state.refreshing = true;
                            let inner = Arc::clone(&self.inner);
                            let spawned = std::thread::Builder::new()
                                .name("credentials".into())
                                .spawn(move || inner.renew_in_background());
                            if spawned.is_err() {
                                state.refreshing = false;
                            }
                        }
                        return Ok(current);
                    }
                    Freshness::Stale => {}
                }
            }
        }
        self.inner.resolve_now()
    }

    /// Forgets `stale` (if it is still the current credentials) so the next call
    /// resolves again: after the service said the token expired.
    pub fn invalidate(&self, stale: &Arc<Credentials>) {
        let mut state = self.inner.state.locked();
        if state
            .cached
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.credentials, stale))
        {
            state.cached = None;
        }
    }
}

impl Inner {
    /// Resolves and caches, one resolution at a time; a caller that waited for
    /// another's resolution uses its result when it is fresh.
    fn resolve_now(&self) -> Result<Arc<Credentials>, CredentialsError> {
        let _one = self.resolving.locked();
        {
            let state = self.state.locked();
            if let Some(c) = state.cached.as_ref() {
                if matches!(
                    CredentialsProvider::freshness(c, SystemTime::now()),
                    Freshness::Fresh
                ) {
                    return Ok(Arc::clone(&c.credentials));
                }
            }
            if let Some((at, e)) = &state.last_error {
                if at.elapsed() < ERROR_HOLD {
                    return Self::still_usable(&state).ok_or_else(|| e.clone());
                }
            }
        }
        let result = self.resolver.resolve();
        let mut state = self.state.locked();
        match result {
            Ok(resolved) => Ok(Self::store(&mut state, resolved)),
            Err(e) => {
                state.last_failure = Some(Instant::now());
                state.last_error = Some((Instant::now(), e.clone()));
                match Self::still_usable(&state) {
                    Some(current) => {
                        log::warn!(
                            "resolving credentials again failed; the current ones are still valid and used: {e}"
                        );
                        Ok(current)
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// The cached credentials, if they have not expired (a failed renewal, or a
    /// shared file that no longer parses, does not take away working keys).
    fn still_usable(state: &State) -> Option<Arc<Credentials>> {
        let c = state.cached.as_ref()?;
        let valid = c
            .credentials
            .expiry()
            .is_none_or(|t| SystemTime::now() + Duration::from_secs(10) < t);
        valid.then(|| Arc::clone(&c.credentials))
    }

    fn renew_in_background(&self) {
        let result = {
            let _one = self.resolving.locked();
            self.resolver.resolve()
        };
        let mut state = self.state.locked();
        state.refreshing = false;
        match result {
            Ok(resolved) => {
                Self::store(&mut state, resolved);
            }
            Err(e) => {
                state.last_failure = Some(Instant::now());
                log::warn!("renewing credentials failed (the current ones are still used): {e}");
            }
        }
    }

    fn store(state: &mut State, resolved: Resolved) -> Arc<Credentials> {
        let credentials = Arc::new(resolved.credentials);
        log::debug!(
            "credentials from {} (access key id {}){}",
            credentials.source(),
            credentials.access_key_id_for_log(),
            match credentials.expiry() {
                Some(t) => format!(", expire {}", crate::time::format_rfc3339(t)),
                None => String::new(),
            }
        );
        let recheck_at = (resolved.dynamic && credentials.expiry().is_none())
            .then(|| Instant::now() + RECHECK_INTERVAL);
        state.cached = Some(Cached {
            credentials: Arc::clone(&credentials),
            files: resolved.files,
            recheck_at,
        });
        state.last_failure = None;
        state.last_error = None;
        credentials
    }
}
