//! The sources as the chain runs them: building each one (its endpoint,
//! region, cache folder and HTTP client) from the profile files and the
//! environment, and keeping the ones that hold state across resolutions (IAM
//! Identity Center and `aws login` per profile, IMDS).
//!
//! Owns: [`Resolver`]'s `run_base` (one [`Base`] to credentials), the endpoint
//! overrides as the SDKs read them (`AWS_ENDPOINT_URL_<SERVICE>`,
//! `AWS_ENDPOINT_URL`, a profile's `services` section and `endpoint_url`, none
//! with `ignore_configured_endpoint_urls`; AWS SDKs and Tools Reference Guide,
//! "Service-specific endpoints",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>),
//! the region of the AWS services the sources call, and the web identity token
//! file read.
//! Refuses: knowing the chain's order (that is `chain.rs`'s).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::super::container::container_source;
use super::super::env::credentials_from_env;
use super::super::imds::imds_source;
use super::super::ini::{Properties, sub_properties};
use super::super::login::LoginSource;
use super::super::plan::Base;
use super::super::process::credentials_from_process;
use super::super::profile::{ProfileFiles, home_dir};
use super::super::sso::{SsoEndpoints, SsoSource, sso_profile};
use super::super::sts::Sts;
use super::super::{Credentials, SourceError};
use super::{MAX_TOKEN_FILE, Outcome, Resolver, nonblank};
use crate::fs::read_secret;
use crate::secret::Secret;
use crate::sync::Locked;

impl Resolver {
    pub(super) fn run_base(
        &self,
        base: &Base,
        files: &ProfileFiles,
    ) -> Result<Credentials, SourceError> {
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
    pub(super) fn login_source(
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
        if let Some(existing) = cache.get(profile)
            && existing.serves(session, &cache_dir, source.endpoint())
        {
            return Ok(Arc::clone(existing));
        }
        let source = Arc::new(source);
        cache.insert(profile.to_owned(), Arc::clone(&source));
        Ok(source)
    }

    /// The region of the AWS services the sources call for `profile`:
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` (through its
    /// `source_profile` chain), the endpoint's region, then `us-east-1`.
    pub(super) fn region(&self, files: Option<&ProfileFiles>, profile: &str) -> String {
        self.env
            .get_nonblank("AWS_REGION")
            .or_else(|| self.env.get_nonblank("AWS_DEFAULT_REGION"))
            .or_else(|| files.and_then(|f| f.region(profile)))
            .or_else(|| self.endpoint_region.clone())
            .unwrap_or_else(|| "us-east-1".to_owned())
    }

    pub(super) fn sso_source(
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
        if let Some(existing) = cache.get(profile)
            && *existing.profile() == sso
        {
            return Ok(Arc::clone(existing));
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
    pub(super) fn endpoint_override(
        &self,
        env_var: &str,
        service_key: &str,
        props: Option<&Properties>,
        set: &super::super::ini::ProfileSet,
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
            && let Some(value) = section.get(service_key)
            && let Some((_, url)) = sub_properties(value)
                .into_iter()
                .find(|(k, _)| *k == "endpoint_url")
        {
            return Some(url.to_owned());
        }
        nonblank(props, "endpoint_url").map(str::to_owned)
    }

    /// The STS region (see the module docs) and client.
    pub(super) fn sts(&self, files: Option<&ProfileFiles>) -> Result<Sts, SourceError> {
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

    pub(super) fn web_identity(
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

    pub(super) fn container(&self) -> Outcome {
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
    pub(super) fn instance_metadata(&self, profile: Option<&Properties>) -> Outcome {
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
