//! The credential chain: which source is asked, in which order.
//!
//! Owns: the order of the AWS SDK default chain, as Rust `aws-config` has it
//! (AWS SDKs and Tools Reference Guide, "Understand the credential provider
//! chain", <https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html>):
//! environment keys; the selected profile (as `plan.rs` plans it); web
//! identity from `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`; container
//! credentials; EC2 IMDSv2 — then an optional role on top (`--role-arn`,
//! `AGENTCORE_ASSUME_ROLE_ARN`). Where the SDKs differ, see [`Resolver`].
//! It also owns the "tried" list an error shows, the state sources keep between
//! resolutions, the HTTP clients they share, and the one role session name
//! ([`Resolver::session_name`]). The cache in front of it is
//! [`CredentialsProvider`](super::CredentialsProvider).
//! Refuses: reading the environment keys when `--profile` named a profile (as
//! `aws --profile` does).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

mod sources;

use super::advice;
use super::container;
use super::env::{Env, credentials_from_env};
use super::imds::{self, Imds};
use super::ini::Properties;
use super::login::LoginSource;
use super::plan::{Base, Plan, RoleLink, plan};
use super::profile::{FileLocations, Platform, ProfileFiles, home_dir, selected_profile};
use super::sso::SsoSource;
use super::{CallerIdentity, Credentials, CredentialsError, SourceError};
use crate::aws::service::AWS_CLIENT;
use crate::http::{Client, TlsRoots, Transport};

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

impl Outcome {
    /// What a source's outcome means for the chain: `Some` credentials or
    /// error to return (the error names the source as `failed`), or `None`
    /// with the reason added to `tried` under `source` (the chain goes on).
    fn settle(
        self,
        (source, failed): (&str, &str),
        tried: &mut Vec<(String, String)>,
    ) -> Option<Result<Credentials, CredentialsError>> {
        match self {
            Outcome::Found(credentials) => Some(Ok(credentials)),
            Outcome::Nothing(why) => {
                tried.push((source.into(), why));
                None
            }
            Outcome::Failed(e) => Some(Err(CredentialsError::source_failed(
                failed,
                e,
                std::mem::take(tried),
            ))),
        }
    }
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
///
/// Where the SDKs differ it follows Rust `aws-config`: `credential_process`
/// beats static keys in the same profile; container `..._RELATIVE_URI` beats
/// `..._FULL_URI`; `AWS_DEFAULT_PROFILE` is ignored; IMDS never falls back to
/// IMDSv1. Our own choice: the STS region is `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, the profile's region, the endpoint's region, then
/// `us-east-1`, always at the regional STS endpoint.
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
    /// else `mcp-sigv4-<epoch millis>` (see [`Resolver::session_name`]).
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
    ///
    /// One per process. Every AssumeRole we make (a profile's `role_arn`
    /// chain, web identity, `--role-arn`) uses the name the user gave (the
    /// profile's `role_session_name` for its own role, else
    /// `--role-session-name`, else `AWS_ROLE_SESSION_NAME`), or else the one
    /// name chosen when the first resolver was made, `mcp-sigv4-<epoch millis>`
    /// (visible in CloudTrail), kept across renewals and shared by the
    /// resolvers made from it for other profiles ([`Resolver::for_profile`]).
    ///
    /// Why: the caller's principal ARN of an assumed role ends in the session
    /// name (`arn:aws:sts::<account>:assumed-role/<role>/<session name>`), and
    /// servers bind state to it — the AWS MCP Server binds an `Mcp-Session-Id`
    /// to the principal, so a new name at the hourly renewal would make the
    /// session unknown to it (the AWS Python proxy `mcp-proxy-for-aws` had
    /// that bug, its GitHub issues #117 and #299, and fixed it with one name
    /// per process). botocore (`AssumeRoleCredentialFetcher`) and Rust
    /// `aws-config` (`AssumeRoleProvider`) also pick their default name once,
    /// when the provider is built.
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

        // 4. Container credentials, then 5. EC2 instance metadata.
        let found = match Outcome::settle(
            self.container(),
            ("container", "container credentials"),
            &mut tried,
        ) {
            None => Outcome::settle(
                self.instance_metadata(files.profile(&profile)),
                ("EC2 instance metadata", "EC2 instance metadata"),
                &mut tried,
            ),
            found => found,
        };
        if let Some(found) = found {
            return found.map(|credentials| Resolved {
                credentials,
                files: Some(files),
                dynamic: true,
            });
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
        let others: Vec<Resolver> = (0..1000)
            .map(|i| first.for_profile(Some(format!("p{i}"))))
            .collect();
        // No client built (and no I/O).
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
