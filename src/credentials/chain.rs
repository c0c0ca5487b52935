//! The credential chain.
//!
//! Owns: the order in which sources are asked — the AWS SDK default chain in
//! Rust `aws-config` order (`src/default_provider/credentials.rs`; AWS SDKs
//! and Tools Reference Guide, "Understand the credential provider chain",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html>):
//! environment keys; the selected profile (planned by `plan.rs`: static keys,
//! `credential_process`, IAM Identity Center, `aws login` (`login_session`),
//! `web_identity_token_file`,
//! `role_arn` chains over `source_profile`/`credential_source`);
//! `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`; container credentials; EC2
//! IMDSv2 — then an optional role on top (`--role-arn`,
//! `AGENTCORE_ASSUME_ROLE_ARN`). It keeps the "tried" list an error shows,
//! the state some sources keep between resolutions (the IMDS token, SSO
//! refresh throttling), and the HTTP clients every source sends through, built
//! once from the resolver's TLS roots. The cache in front of it is
//! [`CredentialsProvider`](super::CredentialsProvider).
//! Refuses: reading the environment keys when a profile was named with
//! `--profile` (the user asked for that profile, as `aws --profile` does).
//!
//! Choices where the SDKs differ (we follow Rust `aws-config`):
//! `credential_process` beats static keys in the same profile; container
//! `..._RELATIVE_URI` beats `..._FULL_URI`; `AWS_DEFAULT_PROFILE` is ignored;
//! IMDS never falls back to IMDSv1. Ours: the STS region is `AWS_REGION`,
//! `AWS_DEFAULT_REGION`, the profile's region, the endpoint's region, then
//! `us-east-1`, always at the regional STS endpoint.
//!
//! Role session names: one per process. Every AssumeRole we make (a profile's
//! `role_arn` chain, web identity, `--role-arn`) uses the name the user gave
//! (the profile's `role_session_name` for its own role, else
//! `--role-session-name`, else `AWS_ROLE_SESSION_NAME`), or else the one name
//! chosen when the first resolver was made, `mcp-sigv4-<epoch millis>`
//! (visible in CloudTrail), kept across renewals and shared by the resolvers
//! made from it for other profiles ([`Resolver::for_profile`]). Why: the
//! caller's principal ARN of an assumed role ends in the session name
//! (`arn:aws:sts::<account>:assumed-role/<role>/<session name>`), and servers
//! bind state to it — the AWS MCP Server binds an `Mcp-Session-Id` to the
//! principal, so a new name at the hourly renewal made the session unknown to
//! it (the AWS Python proxy `mcp-proxy-for-aws` had the same bug, its issues
//! #117 and #299, and fixed it with one name per process). botocore
//! (`AssumeRoleCredentialFetcher`) and Rust `aws-config` (`AssumeRoleProvider`)
//! also pick their default name once, when the provider is built.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::advice;
use super::container::{self, container_source};
use super::env::{Env, credentials_from_env};
use super::imds::{self, Imds, imds_source};
use super::ini::{Properties, sub_properties};
use super::login::LoginSource;
use super::plan::{Base, Plan, RoleLink, plan};
use super::process::credentials_from_process;
use super::profile::{FileLocations, Platform, ProfileFiles, home_dir, selected_profile};
use super::sso::{SsoEndpoints, SsoSource, sso_profile};
use super::sts::Sts;
use super::{CallerIdentity, Credentials, CredentialsError, SourceError};
use crate::aws::service::AWS_CLIENT;
use crate::fs::read_secret;
use crate::http::{Client, TlsRoots, Transport};
use crate::secret::Secret;
use crate::sync::Locked;

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
    /// The STS session name (default: the resolver's, see the module docs).
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
    /// after a while when they carry no expiry).
    pub dynamic: bool,
}

/// The HTTP clients of the sources, each with its own timeouts and proxy
/// rule, all trusting the resolver's TLS roots. Built once, on first use.
#[derive(Debug)]
struct Clients {
    /// STS and IAM Identity Center ([`AWS_CLIENT`]: proxies honoured).
    aws: Arc<dyn Transport>,
    /// Container credential endpoints (no proxy).
    container: Arc<dyn Transport>,
    /// EC2 instance metadata (no proxy).
    imds: Arc<dyn Transport>,
}

impl Clients {
    fn new(tls: &TlsRoots) -> Self {
        Clients {
            aws: Arc::new(Client::new(AWS_CLIENT, tls)),
            container: Arc::new(Client::new(container::CLIENT, tls)),
            imds: Arc::new(Client::new(imds::CLIENT, tls)),
        }
    }
}

/// What the resolvers of one process share ([`Resolver::for_profile`]): the
/// TLS roots and the sources' HTTP clients made from them (on first use, then
/// reused: their connection pools too), and the role session name.
#[derive(Debug)]
struct Shared {
    tls: TlsRoots,
    clients: OnceLock<Clients>,
    /// The session name of every AssumeRole whose profile names none.
    session_name: String,
}

impl Shared {
    fn new(tls: TlsRoots, session_name: String) -> Arc<Self> {
        Arc::new(Shared {
            tls,
            clients: OnceLock::new(),
            session_name,
        })
    }
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
    shared: Arc<Shared>,
    imds: Mutex<Option<Arc<Imds>>>,
    sso: Mutex<HashMap<String, Arc<SsoSource>>>,
    login: Mutex<HashMap<String, Arc<LoginSource>>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("explicit_profile", &self.explicit_profile)
            .field("role_on_top", &self.role_on_top)
            .finish_non_exhaustive()
    }
}

/// The role session name a process chooses when the user names none:
/// `mcp-sigv4-<epoch millis>`.
fn default_session_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("mcp-sigv4-{millis}")
}

fn nonblank<'a>(props: &'a Properties, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl Resolver {
    /// A resolver reading `env`; `explicit_profile` is the `--profile` value.
    /// The role session name is chosen here, once: `AWS_ROLE_SESSION_NAME`,
    /// else `mcp-sigv4-<epoch millis>` (see the module docs).
    pub fn new(env: Env, explicit_profile: Option<String>) -> Self {
        let session_name = env
            .get_nonblank("AWS_ROLE_SESSION_NAME")
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(default_session_name);
        Resolver {
            env,
            explicit_profile,
            platform: Platform::current(),
            role_on_top: None,
            endpoint_region: None,
            shared: Shared::new(TlsRoots::builtin(), session_name),
            imds: Mutex::new(None),
            sso: Mutex::new(HashMap::new()),
            login: Mutex::new(HashMap::new()),
        }
    }

    /// A resolver for another profile (`None`: `AWS_PROFILE`, else `default`)
    /// with everything else of this one — the environment, the role on top,
    /// the endpoint's region — sharing its HTTP clients (their connection
    /// pools) and its role session name. Cheap: nothing is read or connected
    /// until it resolves. Each has its own source state (IMDS token, SSO
    /// refresh throttling), so one profile's failures never hold up another.
    pub fn for_profile(&self, profile: Option<String>) -> Resolver {
        Resolver {
            env: self.env.clone(),
            explicit_profile: profile,
            platform: self.platform,
            role_on_top: self.role_on_top.clone(),
            endpoint_region: self.endpoint_region.clone(),
            shared: Arc::clone(&self.shared),
            imds: Mutex::new(None),
            sso: Mutex::new(HashMap::new()),
            login: Mutex::new(HashMap::new()),
        }
    }

    /// Trusts `tls` (a CA bundle, or the built-in roots) in every HTTPS
    /// request the chain makes: STS, SSO, Sign-In, container and IMDS
    /// endpoints. The clients (and the sources holding one) are made again
    /// with these roots; the role session name stays.
    pub fn with_tls(mut self, tls: TlsRoots) -> Self {
        self.shared = Shared::new(tls, self.shared.session_name.clone());
        self.imds = Mutex::new(None);
        self.sso = Mutex::new(HashMap::new());
        self.login = Mutex::new(HashMap::new());
        self
    }

    /// Uses `name` (`--role-session-name`) as the role session name of every
    /// AssumeRole whose profile names none; `None` keeps the one chosen.
    pub fn with_session_name(mut self, name: Option<String>) -> Self {
        if let Some(name) = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
            self.shared = Shared::new(self.shared.tls.clone(), name);
            self.imds = Mutex::new(None);
            self.sso = Mutex::new(HashMap::new());
            self.login = Mutex::new(HashMap::new());
        }
        self
    }

    /// The role session name of an AssumeRole whose profile names none.
    pub fn session_name(&self) -> &str {
        &self.shared.session_name
    }

    /// The sources' HTTP clients, made on first use from the TLS roots.
    fn clients(&self) -> &Clients {
        self.shared
            .clients
            .get_or_init(|| Clients::new(&self.shared.tls))
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
    fn file_locations(&self) -> FileLocations {
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
                .map_err(|e| CredentialsError::source_failed("--role-arn", e, Vec::new()))?;
            let session = role
                .session_name
                .clone()
                .unwrap_or_else(|| self.session_name().to_owned());
            let on_top = sts
                .assume_role(
                    &resolved.credentials,
                    &role.role_arn,
                    &session,
                    role.external_id.as_deref(),
                    None,
                )
                .map_err(|e| {
                    CredentialsError::source_failed(
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
    ) -> Result<CallerIdentity, SourceError> {
        let files = self.load_files().ok();
        self.sts(files.as_ref())?.get_caller_identity(credentials)
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
                Err(why) => tried.push(("env".into(), why.to_string())),
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
        let home = home_dir(&self.env, self.platform);
        if files.profile(&profile).is_none() && profile != "default" {
            // A name the user gave (--profile, AWS_PROFILE) that the files
            // do not define: say which names they do define.
            return Err(advice::profile_not_found(&profile, &files, home.as_deref()));
        }
        let label = format!("profile '{profile}' in {}", files.describe());
        match plan(&files.set, &profile) {
            Err(e) => {
                let summary = format!("cannot use {label}: {}", e.message);
                return Err(CredentialsError::from_source(summary, e, tried));
            }
            Ok(None) => tried.push((label, advice::nothing_in_profile(&files, home.as_deref()))),
            Ok(Some(plan)) => {
                let dynamic =
                    !(matches!(plan.base, Base::StaticKeys { .. }) && plan.roles.is_empty());
                return match self.run_plan(&plan, &files) {
                    Ok(credentials) => Ok(Resolved {
                        credentials,
                        files: Some(files),
                        dynamic,
                    }),
                    Err(e) => Err(CredentialsError::source_failed(
                        &format!("{label} ({})", plan.base),
                        e,
                        tried,
                    )),
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
                    return self
                        .web_identity(&role_arn, &token_file, None, Some(&files))
                        .map(|credentials| Resolved {
                            credentials,
                            files: Some(files),
                            dynamic: true,
                        })
                        .map_err(|e| {
                            CredentialsError::source_failed(
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
                return Err(CredentialsError::source_failed(
                    "container credentials",
                    e,
                    tried,
                ));
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
                return Err(CredentialsError::source_failed(
                    "EC2 instance metadata",
                    e,
                    tried,
                ));
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
                .unwrap_or_else(|| self.session_name().to_owned());
            credentials = sts
                .assume_role(
                    &credentials,
                    role_arn,
                    &session,
                    external_id.as_deref(),
                    None,
                )
                .map_err(|e| {
                    advice::with_base_fix(e, &plan.base)
                        .context(&format!("role_arn of profile '{profile}'"))
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
                    .caused_by(why)
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
            Base::Login { profile, session } => self
                .login_source(profile, session, files)?
                .credentials(SystemTime::now()),
            Base::Process { profile, command } => credentials_from_process(command, profile),
        }
    }

    /// The `aws login` source of `profile`, kept across resolutions (its
    /// refresh throttle) while its session, cache folder and endpoint stay.
    fn login_source(
        &self,
        profile: &str,
        session: &str,
        files: &ProfileFiles,
    ) -> Result<Arc<LoginSource>, SourceError> {
        let props = files.profile(profile);
        let cache_dir = match self.env.get_nonblank("AWS_LOGIN_CACHE_DIRECTORY") {
            Some(dir) => PathBuf::from(match dir.trim().strip_prefix("~/") {
                Some(rest) => match home_dir(&self.env, self.platform) {
                    Some(home) => format!("{home}/{rest}"),
                    None => dir.trim().to_owned(),
                },
                None => dir.trim().to_owned(),
            }),
            None => {
                let home = home_dir(&self.env, self.platform).ok_or_else(|| {
                    SourceError::new("cannot find the home directory for the aws login cache")
                        .with_hint("set HOME, or AWS_LOGIN_CACHE_DIRECTORY")
                })?;
                [home.as_str(), ".aws", "login", "cache"].iter().collect()
            }
        };
        let region = self.region(Some(files), profile);
        let endpoint =
            self.endpoint_override("AWS_ENDPOINT_URL_SIGNIN", "signin", props, &files.set);
        let source = LoginSource::new(
            profile,
            session,
            &cache_dir,
            Arc::clone(&self.clients().aws),
            &region,
            endpoint,
        )?;
        let mut cache = self.login.locked();
        if let Some(existing) = cache.get(profile) {
            if existing.serves(session, &cache_dir, source.endpoint()) {
                return Ok(Arc::clone(existing));
            }
        }
        let source = Arc::new(source);
        cache.insert(profile.to_owned(), Arc::clone(&source));
        Ok(source)
    }

    /// The region of the AWS services the sources call for `profile`:
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` (through its
    /// `source_profile` chain), the endpoint's region, then `us-east-1`.
    fn region(&self, files: Option<&ProfileFiles>, profile: &str) -> String {
        self.env
            .get_nonblank("AWS_REGION")
            .or_else(|| self.env.get_nonblank("AWS_DEFAULT_REGION"))
            .or_else(|| files.and_then(|f| f.region(profile)))
            .or_else(|| self.endpoint_region.clone())
            .unwrap_or_else(|| "us-east-1".to_owned())
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
            Arc::clone(&self.clients().aws),
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
        let region = self.region(files, &profile);
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
        Sts::new(Arc::clone(&self.clients().aws), &region, endpoint)
    }

    fn web_identity(
        &self,
        role_arn: &str,
        token_file: &str,
        session_name: Option<&str>,
        files: Option<&ProfileFiles>,
    ) -> Result<Credentials, SourceError> {
        // Read again on every resolution: Kubernetes rotates the file.
        let token = read_secret(Path::new(token_file), MAX_TOKEN_FILE)
            .map_err(|why| {
                SourceError::new(format!(
                    "cannot read the web identity token file {token_file}: {why}"
                ))
                .caused_by(why)
            })?
            .ok_or_else(|| {
                SourceError::new(format!(
                    "the web identity token file {token_file} does not exist"
                ))
                .with_hint("check AWS_WEB_IDENTITY_TOKEN_FILE / web_identity_token_file")
            })?;
        let session = session_name.unwrap_or(self.session_name());
        self.sts(files)?
            .assume_role_with_web_identity(role_arn, session, &token)
    }

    fn container(&self) -> Outcome {
        match container_source(&self.env, Arc::clone(&self.clients().container)) {
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
                None => match imds_source(&self.env, profile, Arc::clone(&self.clients().imds)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_for_other_profiles_share_the_clients_and_the_session_name() {
        let env = Env::from_pairs([("HOME".to_owned(), "/nonexistent-home".to_owned())]);
        let first = Resolver::new(env, Some("a".into()))
            .with_tls(TlsRoots::builtin())
            .with_session_name(Some("one-name".into()));
        let started = std::time::Instant::now();
        let others: Vec<Resolver> = (0..1000)
            .map(|i| first.for_profile(Some(format!("p{i}"))))
            .collect();
        let took = started.elapsed();
        // No I/O and no client built: well under a millisecond each.
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
        assert!(
            first.shared.clients.get().is_none(),
            "clients are built on first use"
        );
        let clients = first.clients();
        for other in &others {
            assert!(Arc::ptr_eq(&clients.aws, &other.clients().aws));
            assert!(Arc::ptr_eq(&clients.imds, &other.clients().imds));
            assert_eq!(other.session_name(), "one-name");
        }
        assert_eq!(others[7].profile_name(), "p7");
        // with_tls gives new clients (new roots), and keeps the name.
        let retrusted = others[0].for_profile(None).with_tls(TlsRoots::builtin());
        assert!(!Arc::ptr_eq(&clients.aws, &retrusted.clients().aws));
        assert_eq!(retrusted.session_name(), "one-name");
    }
}
