//! Errors that say the fix: a profile name that is not in the files (with the
//! closest name and the names there are), shared files that do not exist, and
//! the one command that renews each kind of base credentials.
//!
//! Owns: the "did you mean" rule (the optimal-string-alignment distance,
//! case-insensitive, at most 2 and less than the name's length), paths shown
//! under `~` when they are in the home directory, and [`fix_for`]. Pure.
//! Refuses: showing anything of a profile but its name.

use super::plan::Base;
use super::profile::ProfileFiles;
use super::{CredentialsError, SourceError};

/// The most profile names an error lists.
const MAX_NAMES: usize = 20;

/// The optimal-string-alignment distance of `a` and `b` (insertions,
/// deletions, substitutions and swaps of neighbours), compared
/// case-insensitively.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `name`, when one is close enough to be a typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = 2.min(name.chars().count().saturating_sub(1));
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `path` with the home directory written `~`.
pub(crate) fn short_path(path: &str, home: Option<&str>) -> String {
    match home.map(|h| h.trim_end_matches(['/', '\\'])) {
        Some(h)
            if !h.is_empty() && path.starts_with(h) && path[h.len()..].starts_with(['/', '\\']) =>
        {
            format!("~{}", &path[h.len()..])
        }
        _ => path.to_owned(),
    }
}

/// `profile 'dve' not found in ~/.aws/config or ~/.aws/credentials; did you
/// mean 'dev'? profiles: dev, prod, sandbox` — or, when neither file exists,
/// that they do not.
pub(crate) fn profile_not_found(
    profile: &str,
    files: &ProfileFiles,
    home: Option<&str>,
) -> CredentialsError {
    let config = short_path(&files.locations.config, home);
    let credentials = short_path(&files.locations.credentials, home);
    if files.none_exist() {
        return CredentialsError::new(
            format!("profile '{profile}' not found: neither {config} nor {credentials} exists"),
            Some(format!(
                "create it with `aws configure --profile {profile}` (or `aws configure sso --profile {profile}`, or `aws login --profile {profile}`)"
            )),
        );
    }
    let names: Vec<&str> = files.set.profiles.keys().map(String::as_str).collect();
    let mut summary = format!("profile '{profile}' not found in {config} or {credentials}");
    match closest(profile, names.iter().copied()) {
        Some(near) => summary.push_str(&format!("; did you mean '{near}'?")),
        None => summary.push(';'),
    }
    if names.is_empty() {
        summary.push_str(" they define no profile");
    } else {
        summary.push_str(&format!(
            " profiles: {}",
            names[..names.len().min(MAX_NAMES)].join(", ")
        ));
        if names.len() > MAX_NAMES {
            summary.push_str(&format!(" and {} more", names.len() - MAX_NAMES));
        }
    }
    CredentialsError::new(
        summary,
        Some(format!(
            "pick one with --profile (or AWS_PROFILE), or create it with `aws configure --profile {profile}`"
        )),
    )
}

/// What the "tried" list says of a profile with nothing in it.
pub(crate) fn nothing_in_profile(files: &ProfileFiles, home: Option<&str>) -> String {
    if files.none_exist() {
        format!(
            "{} and {} do not exist",
            short_path(&files.locations.config, home),
            short_path(&files.locations.credentials, home)
        )
    } else {
        "no credentials in it".to_owned()
    }
}

/// The one command that renews credentials from `base` when a service called
/// them expired or unknown.
pub(crate) fn fix_for(base: &Base) -> Option<String> {
    Some(match base {
        Base::Sso { profile } => format!("run `aws sso login --profile {profile}`"),
        Base::Login { profile, .. } => format!("run `aws login --profile {profile}`"),
        Base::StaticKeys { profile } => {
            format!(
                "put current keys in profile '{profile}' with `aws configure --profile {profile}`"
            )
        }
        Base::Process { profile, .. } => format!(
            "run the command of `credential_process` in profile '{profile}' yourself and check the keys it prints"
        ),
        Base::Environment => {
            "set current keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned()
        }
        Base::WebIdentity { .. } | Base::Imds | Base::Container => return None,
    })
}

/// `e` with the hint [`fix_for`] `base` when the service said the base
/// credentials are expired or not valid.
pub(crate) fn with_base_fix(e: SourceError, base: &Base) -> SourceError {
    let stale = matches!(
        e.error_type(),
        Some(
            "ExpiredToken"
                | "ExpiredTokenException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
        )
    );
    match (stale, fix_for(base)) {
        (true, Some(fix)) => {
            let hint = match &e.hint {
                Some(h) => format!("{fix} ({h})"),
                None => fix,
            };
            e.with_hint(hint)
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_profile_meant() {
        let names = ["dev", "prod", "sandbox"];
        assert_eq!(closest("dve", names), Some("dev"));
        assert_eq!(closest("Prod", names), Some("prod"));
        assert_eq!(closest("sandbx", names), Some("sandbox"));
        assert_eq!(closest("staging", names), None);
        assert_eq!(closest("x", names), None);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn paths_under_home_are_written_with_a_tilde() {
        assert_eq!(
            short_path("/home/u/.aws/config", Some("/home/u")),
            "~/.aws/config"
        );
        assert_eq!(
            short_path("/home/u/.aws/config", Some("/home/u/")),
            "~/.aws/config"
        );
        assert_eq!(
            short_path("/home/user2/x", Some("/home/u")),
            "/home/user2/x"
        );
        assert_eq!(short_path("/etc/aws", None), "/etc/aws");
    }
}
