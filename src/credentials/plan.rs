//! Walking a profile to a plan: which base source, which roles on top.
//!
//! Owns: the profile-chaining rules of the AWS SDKs as Rust `aws-config`
//! implements them (`src/profile/credentials/repr.rs`, pinned by smithy-rs's
//! `aws-config/test-data/assume-role-tests.json`; AWS SDKs and Tools
//! Reference Guide, "Assume role credential provider",
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html>): `role_arn` with
//! `source_profile` (any depth) or `credential_source`, self-reference, static
//! keys in a source profile beating its own `role_arn`, loops detected and
//! reported, and the order of checks inside the base profile
//! (`credential_source`, `web_identity_token_file`, SSO, `login_session`,
//! `credential_process`, static keys). Pure: profiles in, a [`Plan`] out; running
//! it (processes, STS, SSO, IMDS) is `chain.rs`'s job.

use std::fmt;

use super::SourceError;
use super::ini::{ProfileSet, Properties};

/// Where the base credentials of a profile chain come from. `Debug` leaves out
/// the `credential_process` command line (it may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Base {
    /// `aws_access_key_id` / `aws_secret_access_key` (/ `aws_session_token`) of a profile.
    StaticKeys {
        /// The profile holding them.
        profile: String,
    },
    /// `credential_source = Environment`.
    Environment,
    /// `credential_source = Ec2InstanceMetadata`.
    Imds,
    /// `credential_source = EcsContainer`.
    Container,
    /// `web_identity_token_file` + `role_arn` in a profile.
    WebIdentity {
        /// The profile.
        profile: String,
        /// `role_arn`.
        role_arn: String,
        /// `web_identity_token_file`.
        token_file: String,
        /// `role_session_name`, if set.
        session_name: Option<String>,
    },
    /// IAM Identity Center (`sso_session` or the legacy `sso_*` keys).
    Sso {
        /// The profile.
        profile: String,
    },
    /// `aws login` console credentials (`login_session`).
    Login {
        /// The profile.
        profile: String,
        /// `login_session`: the principal ARN the cache file is named after.
        session: String,
    },
    /// `credential_process`.
    Process {
        /// The profile.
        profile: String,
        /// The command line.
        command: String,
    },
}

impl fmt::Debug for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base::Process { profile, .. } => f
                .debug_struct("Process")
                .field("profile", profile)
                .finish_non_exhaustive(),
            Base::StaticKeys { profile } => f
                .debug_struct("StaticKeys")
                .field("profile", profile)
                .finish(),
            Base::Environment => f.write_str("Environment"),
            Base::Imds => f.write_str("Imds"),
            Base::Container => f.write_str("Container"),
            Base::WebIdentity {
                profile,
                role_arn,
                token_file,
                session_name,
            } => f
                .debug_struct("WebIdentity")
                .field("profile", profile)
                .field("role_arn", role_arn)
                .field("token_file", token_file)
                .field("session_name", session_name)
                .finish(),
            Base::Sso { profile } => f.debug_struct("Sso").field("profile", profile).finish(),
            Base::Login { profile, session } => f
                .debug_struct("Login")
                .field("profile", profile)
                .field("session", session)
                .finish(),
        }
    }
}

impl fmt::Display for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base::StaticKeys { profile } => write!(f, "static keys of profile '{profile}'"),
            Base::Environment => f.write_str("credential_source Environment"),
            Base::Imds => f.write_str("credential_source Ec2InstanceMetadata"),
            Base::Container => f.write_str("credential_source EcsContainer"),
            Base::WebIdentity { profile, .. } => write!(f, "web identity of profile '{profile}'"),
            Base::Sso { profile } => write!(f, "IAM Identity Center (SSO) of profile '{profile}'"),
            Base::Login { profile, .. } => write!(f, "aws login session of profile '{profile}'"),
            Base::Process { profile, .. } => write!(f, "credential_process of profile '{profile}'"),
        }
    }
}

/// One role to assume on top of the base, from a profile's `role_arn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RoleLink {
    /// The profile that names the role.
    pub(crate) profile: String,
    /// `role_arn`.
    pub(crate) role_arn: String,
    /// `role_session_name`.
    pub(crate) session_name: Option<String>,
    /// `external_id`.
    pub(crate) external_id: Option<String>,
    /// `duration_seconds` (read for completeness; Rust ignores it, so do we —
    /// the STS default of 3600 s applies).
    pub(crate) duration_seconds: Option<u32>,
}

/// What to run: the base, then each role in order (innermost first; the
/// selected profile's own role, if any, is last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The base credentials' source.
    pub(crate) base: Base,
    /// Roles to assume, in order.
    pub(crate) roles: Vec<RoleLink>,
}

/// A profile chain that cannot work: what is wrong and how to fix it.
pub(crate) type PlanError = SourceError;

fn err(message: String, hint: Option<String>) -> PlanError {
    match hint {
        Some(h) => PlanError::new(message).with_hint(h),
        None => PlanError::new(message),
    }
}

fn get<'a>(props: &'a Properties, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// True when the profile has a usable static key pair.
pub(crate) fn has_static_keys(props: &Properties) -> bool {
    get(props, "aws_access_key_id").is_some() && get(props, "aws_secret_access_key").is_some()
}

fn has_sso(props: &Properties) -> bool {
    [
        "sso_session",
        "sso_start_url",
        "sso_account_id",
        "sso_role_name",
        "sso_region",
    ]
    .iter()
    .any(|k| get(props, k).is_some())
}

fn named_source(name: &str, profile: &str) -> Result<Base, PlanError> {
    match name {
        "Environment" => Ok(Base::Environment),
        "Ec2InstanceMetadata" => Ok(Base::Imds),
        "EcsContainer" => Ok(Base::Container),
        other => Err(err(
            format!(
                "profile '{profile}' has credential_source = {other:?}, which is not a credential source"
            ),
            Some("use Environment, Ec2InstanceMetadata or EcsContainer".into()),
        )),
    }
}

/// Walks from `selected` to a plan.
///
/// Returns `Ok(None)` when the selected profile gives no credentials and the
/// chain should go on to the next source: the profile is `default` and does
/// not exist, or the selected profile holds nothing that makes credentials.
///
/// # Errors
/// [`PlanError`] for a named profile that does not exist, a missing
/// `source_profile`, a loop, a profile with both or neither of
/// `source_profile`/`credential_source` next to `role_arn`, an unknown
/// `credential_source`, web identity without `role_arn`, or a source profile
/// that holds no credentials.
pub(crate) fn plan(set: &ProfileSet, selected: &str) -> Result<Option<Plan>, PlanError> {
    let mut visited: Vec<String> = Vec::new();
    let mut roles: Vec<RoleLink> = Vec::new();
    let mut name = selected.to_owned();
    let base = loop {
        let first = visited.is_empty();
        let Some(props) = set.profile(&name) else {
            if first && name == "default" {
                return Ok(None);
            }
            if first {
                return Err(err(
                    format!("profile '{name}' is not defined"),
                    Some(format!(
                        "check the name, or create it with `aws configure --profile {name}`"
                    )),
                ));
            }
            return Err(err(
                format!(
                    "could not find source profile '{name}' referenced from '{}'",
                    visited.last().map(String::as_str).unwrap_or("")
                ),
                Some(format!("define [profile {name}] or fix source_profile")),
            ));
        };
        if visited.contains(&name) {
            visited.push(name);
            return Err(err(
                format!("profile chain forms a loop: {}", visited.join(" -> ")),
                Some("break the cycle of source_profile settings".into()),
            ));
        }
        visited.push(name.clone());
        if !first && has_static_keys(props) {
            break Base::StaticKeys { profile: name };
        }
        if let (Some(role_arn), None) = (
            get(props, "role_arn"),
            get(props, "web_identity_token_file"),
        ) {
            roles.push(RoleLink {
                profile: name.clone(),
                role_arn: role_arn.to_owned(),
                session_name: get(props, "role_session_name").map(str::to_owned),
                external_id: get(props, "external_id").map(str::to_owned),
                duration_seconds: get(props, "duration_seconds").and_then(|d| d.parse().ok()),
            });
            match (
                get(props, "source_profile"),
                get(props, "credential_source"),
            ) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        format!(
                            "profile '{name}' contained both source_profile and credential_source"
                        ),
                        Some("keep only one of them".into()),
                    ));
                }
                (None, None) => {
                    return Err(err(
                        format!("profile '{name}' has role_arn, so it must contain source_profile or credential_source"),
                        Some("add source_profile = <profile with credentials> or credential_source = Environment | Ec2InstanceMetadata | EcsContainer".into()),
                    ));
                }
                (Some(source), None) if source == name => {
                    if !has_static_keys(props) {
                        return Err(err(
                            format!(
                                "profile '{name}' is its own source_profile but has no static keys"
                            ),
                            Some("add aws_access_key_id and aws_secret_access_key to it".into()),
                        ));
                    }
                    break Base::StaticKeys { profile: name };
                }
                (None, Some(source)) => break named_source(source, &name)?,
                (Some(source), None) => {
                    name = source.to_owned();
                    continue;
                }
            }
        }
        // The base profile: checks in Rust aws-config order.
        if let Some(source) = get(props, "credential_source") {
            break named_source(source, &name)?;
        }
        if let Some(token_file) = get(props, "web_identity_token_file") {
            let Some(role_arn) = get(props, "role_arn") else {
                return Err(err(
                    format!(
                        "profile '{name}' has web_identity_token_file but role_arn was missing"
                    ),
                    Some("add role_arn to the profile".into()),
                ));
            };
            break Base::WebIdentity {
                profile: name.clone(),
                role_arn: role_arn.to_owned(),
                token_file: token_file.to_owned(),
                session_name: get(props, "role_session_name").map(str::to_owned),
            };
        }
        if has_sso(props) {
            break Base::Sso { profile: name };
        }
        if let Some(session) = get(props, "login_session") {
            break Base::Login {
                profile: name.clone(),
                session: session.to_owned(),
            };
        }
        if let Some(command) = get(props, "credential_process") {
            break Base::Process {
                profile: name.clone(),
                command: command.to_owned(),
            };
        }
        if has_static_keys(props) {
            break Base::StaticKeys { profile: name };
        }
        if first {
            return Ok(None);
        }
        return Err(err(
            format!(
                "source profile '{name}' (referenced from '{}') contains no credentials",
                visited
                    .get(visited.len().saturating_sub(2))
                    .map(String::as_str)
                    .unwrap_or("")
            ),
            Some(format!(
                "add keys, sso_session or credential_process to profile '{name}'"
            )),
        ));
    };
    roles.reverse();
    Ok(Some(Plan { base, roles }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::ini::FileKind;

    fn set(config: &str) -> ProfileSet {
        ProfileSet::parse([(FileKind::Config, config)]).unwrap()
    }

    fn role(profile: &str, arn: &str) -> RoleLink {
        RoleLink {
            profile: profile.into(),
            role_arn: arn.into(),
            session_name: None,
            external_id: None,
            duration_seconds: None,
        }
    }

    /// The chain as data: config text, selected profile, expected plan or error.
    #[test]
    fn profile_chains() {
        let keys = "aws_access_key_id = A\naws_secret_access_key = S\n";
        struct Case {
            name: &'static str,
            config: String,
            selected: &'static str,
            expect: Result<Option<Plan>, &'static str>,
        }
        let cases = vec![
            Case {
                name: "static keys",
                config: format!("[default]\n{keys}"),
                selected: "default",
                expect: Ok(Some(Plan { base: Base::StaticKeys { profile: "default".into() }, roles: vec![] })),
            },
            Case {
                name: "missing default profile falls through",
                config: "[profile other]\nregion = x".into(),
                selected: "default",
                expect: Ok(None),
            },
            Case {
                name: "missing named profile is an error",
                config: "[default]\nregion = x".into(),
                selected: "dev",
                expect: Err("profile 'dev' is not defined"),
            },
            Case {
                name: "profile without credentials falls through",
                config: "[profile dev]\nregion = x".into(),
                selected: "dev",
                expect: Ok(None),
            },
            Case {
                name: "role chain three deep, innermost first",
                config: format!(
                    "[profile a]\nrole_arn = arn:a\nsource_profile = b\nexternal_id = ext\n[profile b]\nrole_arn = arn:b\nsource_profile = c\nrole_session_name = sb\n[profile c]\n{keys}"
                ),
                selected: "a",
                expect: Ok(Some(Plan {
                    base: Base::StaticKeys { profile: "c".into() },
                    roles: vec![
                        RoleLink { session_name: Some("sb".into()), ..role("b", "arn:b") },
                        RoleLink { external_id: Some("ext".into()), ..role("a", "arn:a") },
                    ],
                })),
            },
            Case {
                name: "static keys in a source profile beat its own role_arn",
                config: format!("[profile a]\nrole_arn = arn:a\nsource_profile = b\n[profile b]\nrole_arn = arn:b\nsource_profile = c\n{keys}"),
                selected: "a",
                expect: Ok(Some(Plan { base: Base::StaticKeys { profile: "b".into() }, roles: vec![role("a", "arn:a")] })),
            },
            Case {
                name: "static keys next to role_arn and source_profile in the selected profile are ignored",
                config: format!("[profile a]\n{keys}role_arn = arn:a\nsource_profile = b\n[profile b]\n{keys}"),
                selected: "a",
                expect: Ok(Some(Plan { base: Base::StaticKeys { profile: "b".into() }, roles: vec![role("a", "arn:a")] })),
            },
            Case {
                name: "self-referencing source_profile uses its own keys",
                config: format!("[profile a]\n{keys}role_arn = arn:a\nsource_profile = a\n"),
                selected: "a",
                expect: Ok(Some(Plan { base: Base::StaticKeys { profile: "a".into() }, roles: vec![role("a", "arn:a")] })),
            },
            Case {
                name: "loop is reported with the path",
                config: "[profile a]\nrole_arn = arn:a\nsource_profile = b\n[profile b]\nrole_arn = arn:b\nsource_profile = a\n".into(),
                selected: "a",
                expect: Err("profile chain forms a loop: a -> b -> a"),
            },
            Case {
                name: "missing source profile",
                config: "[profile a]\nrole_arn = arn:a\nsource_profile = nope\n".into(),
                selected: "a",
                expect: Err("could not find source profile 'nope' referenced from 'a'"),
            },
            Case {
                name: "both source_profile and credential_source",
                config: "[profile a]\nrole_arn = arn:a\nsource_profile = b\ncredential_source = Environment\n".into(),
                selected: "a",
                expect: Err("contained both source_profile and credential_source"),
            },
            Case {
                name: "neither source_profile nor credential_source",
                config: "[profile a]\nrole_arn = arn:a\n".into(),
                selected: "a",
                expect: Err("must contain source_profile or credential_source"),
            },
            Case {
                name: "credential_source names",
                config: "[profile e]\nrole_arn = arn:e\ncredential_source = Environment\n[profile i]\nrole_arn = arn:i\ncredential_source = Ec2InstanceMetadata\n[profile c]\nrole_arn = arn:c\ncredential_source = EcsContainer\n".into(),
                selected: "i",
                expect: Ok(Some(Plan { base: Base::Imds, roles: vec![role("i", "arn:i")] })),
            },
            Case {
                name: "unknown credential_source",
                config: "[profile a]\nrole_arn = arn:a\ncredential_source = Laptop\n".into(),
                selected: "a",
                expect: Err("credential_source = \"Laptop\""),
            },
            Case {
                name: "web identity profile, and a role on top of it",
                config: "[profile w]\nrole_arn = arn:w\nweb_identity_token_file = /t\n[profile top]\nrole_arn = arn:top\nsource_profile = w\n".into(),
                selected: "top",
                expect: Ok(Some(Plan {
                    base: Base::WebIdentity { profile: "w".into(), role_arn: "arn:w".into(), token_file: "/t".into(), session_name: None },
                    roles: vec![role("top", "arn:top")],
                })),
            },
            Case {
                name: "web identity without role_arn",
                config: "[profile w]\nweb_identity_token_file = /t\n".into(),
                selected: "w",
                expect: Err("role_arn was missing"),
            },
            Case {
                name: "credential_process beats static keys in the same profile (Rust order)",
                config: format!("[profile p]\n{keys}credential_process = /bin/creds --x\n"),
                selected: "p",
                expect: Ok(Some(Plan { base: Base::Process { profile: "p".into(), command: "/bin/creds --x".into() }, roles: vec![] })),
            },
            Case {
                name: "sso profile as the source of a role",
                config: "[profile s]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n[sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://x\n[profile r]\nrole_arn = arn:r\nsource_profile = s\n".into(),
                selected: "r",
                expect: Ok(Some(Plan { base: Base::Sso { profile: "s".into() }, roles: vec![role("r", "arn:r")] })),
            },
            Case {
                name: "source profile without credentials",
                config: "[profile a]\nrole_arn = arn:a\nsource_profile = b\n[profile b]\nregion = x\n".into(),
                selected: "a",
                expect: Err("source profile 'b' (referenced from 'a') contains no credentials"),
            },
            Case {
                name: "login_session after SSO, before credential_process (Rust order)",
                config: "[profile l]\nlogin_session = arn:aws:iam::1:user/x\ncredential_process = /bin/x\n\
                         [profile s]\nlogin_session = arn:aws:iam::1:user/x\nsso_session = corp\n".into(),
                selected: "l",
                expect: Ok(Some(Plan { base: Base::Login { profile: "l".into(), session: "arn:aws:iam::1:user/x".into() }, roles: vec![] })),
            },
            Case {
                name: "a login_session profile as the source of a role",
                config: "[profile l]\nlogin_session = arn:aws:iam::1:user/x\n[profile r]\nrole_arn = arn:r\nsource_profile = l\n".into(),
                selected: "r",
                expect: Ok(Some(Plan { base: Base::Login { profile: "l".into(), session: "arn:aws:iam::1:user/x".into() }, roles: vec![role("r", "arn:r")] })),
            },
        ];
        let mut failures = Vec::new();
        for case in &cases {
            let got = plan(&set(&case.config), case.selected);
            let ok = match (&got, &case.expect) {
                (Ok(g), Ok(e)) => g == e,
                (Err(g), Err(e)) => g.message.contains(e),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{}: expected {:?}, got {:?}",
                    case.name, case.expect, got
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}
