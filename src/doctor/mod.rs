//! `mcp-sigv4 doctor <endpoint> [flags] [--json]`: is everything in place?
//!
//! Owns: the checks a new user needs, in order, each timed, with a pass/fail
//! mark and the fix for a failure:
//! 1. `credentials` — which source won, the access key id's last 4
//!    characters and the expiry (never a secret);
//! 2. `identity` — who that is: STS GetCallerIdentity signed by our signer;
//!    with several profiles, 1 and 2 for each of them in turn (each detail
//!    names its profile), while step 5 opens the default profile's session
//!    only (the others open theirs on their first tool call);
//! 3. `signing` — service, region, algorithm and region set, and where each
//!    came from;
//! 4. `dns`, `tcp`, `tls` — the endpoint's (or the proxy's) addresses, a
//!    connection, the certificate's issuer, the CA bundle in use, a verified
//!    HTTPS request and the server's clock;
//! 5. `initialize`, `tools/list` — a real MCP session through the relay
//!    itself (every request signed as the proxy signs it), then ended with a
//!    signed DELETE.
//!
//! A failing step makes the steps that need it `skip`. The exit code names
//! the first failing step ([`Step::exit_code`]) and the last line is its fix.
//! Refuses: printing any secret (credentials appear as their source and the
//! access key id's last 4 characters) and sending anything to the endpoint
//! but the unsigned probe and the signed MCP session.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use crate::auth::RequestAuth;
use crate::cli::Args;
use crate::config::{Config, profiles};
use crate::credentials::{Credentials, CredentialsError, Env, Resolver};
use crate::sigv4::Algorithm;

mod network;
mod session;

use network::network;
use session::mcp_session;

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It works.
    Pass,
    /// It does not; the hint says what to do.
    Fail,
    /// Not run: a step it needs failed, or it does not apply.
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Pass => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check and its outcome.
#[derive(Clone, Debug)]
pub struct Step {
    /// `credentials`, `identity`, `signing`, `dns`, `tcp`, `tls`,
    /// `initialize` or `tools/list`.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found (never a secret).
    pub detail: String,
    /// The fix, for a failure.
    pub hint: Option<String>,
    /// How long the check took, milliseconds.
    pub ms: u128,
}

impl Step {
    /// The process exit code when this is the first step that failed:
    /// 10 credentials, 11 identity, 12 signing (the configuration), 13 dns,
    /// 14 tcp, 15 tls, 16 initialize, 17 tools/list.
    pub fn exit_code(&self) -> u8 {
        match self.name {
            "credentials" => 10,
            "identity" => 11,
            "signing" => 12,
            "dns" => 13,
            "tcp" => 14,
            "tls" => 15,
            "initialize" => 16,
            _ => 17,
        }
    }
}

/// Every step, in order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The steps.
    pub steps: Vec<Step>,
}

impl Report {
    fn first_failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == Status::Fail)
    }

    /// 0 when nothing failed, else the first failing step's code.
    pub fn exit_code(&self) -> u8 {
        self.first_failure().map_or(0, Step::exit_code)
    }

    /// One line per step (`[ok]   credentials   12 ms  …`), then the first
    /// failure's hint as the last line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            out.push_str(&format!(
                "[{:<4}] {:<11} {:>6} ms  {}\n",
                s.status.mark(),
                s.name,
                s.ms,
                s.detail
            ));
        }
        match self.first_failure() {
            None => out.push_str("all checks passed\n"),
            Some(f) => out.push_str(&format!(
                "hint: {}\n",
                f.hint.as_deref().unwrap_or("see the failing step above")
            )),
        }
        out
    }

    /// One JSON document: `{"ok":…,"exitCode":…,"steps":[{"name","status",
    /// "detail","hint","ms"}…]}`.
    pub fn json(&self) -> String {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "status": s.status.name(),
                    "detail": s.detail,
                    "hint": s.hint,
                    "ms": s.ms as u64,
                })
            })
            .collect();
        let doc =
            json!({"ok": self.exit_code() == 0, "exitCode": self.exit_code(), "steps": steps});
        serde_json::to_string_pretty(&doc).expect("a JSON value serializes") + "\n"
    }

    fn push(&mut self, name: &'static str, started: Instant, outcome: Result<String, Failed>) {
        let ms = started.elapsed().as_millis();
        self.steps.push(match outcome {
            Ok(detail) => Step {
                name,
                status: Status::Pass,
                detail,
                hint: None,
                ms,
            },
            Err(f) => Step {
                name,
                status: Status::Fail,
                detail: f.detail,
                hint: Some(f.hint),
                ms,
            },
        });
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        self.steps.push(Step {
            name,
            status: Status::Skip,
            detail: why.to_owned(),
            hint: None,
            ms: 0,
        });
    }
}

/// A failed check: what happened and what to do.
struct Failed {
    detail: String,
    hint: String,
}

fn failed(detail: impl Into<String>, hint: impl Into<String>) -> Failed {
    Failed {
        detail: detail.into(),
        hint: hint.into(),
    }
}

/// The command that renews the credentials of `source` (as `Credentials`
/// names it) for `profile`.
fn renew_hint(source: &str, profile: &str) -> String {
    let s = source.to_ascii_lowercase();
    if s.contains("sso") || s.contains("identity center") {
        format!("run `aws sso login --profile {profile}`")
    } else if s.contains("login") || s.contains("console") {
        format!("run `aws login --profile {profile}`")
    } else if s.contains("process") {
        "run the profile's credential_process by hand to see why it fails".to_owned()
    } else if s.contains("environment") || s.contains("env") {
        "set fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN".to_owned()
    } else {
        format!(
            "renew them, e.g. `aws configure --profile {profile}` or `aws sso login --profile {profile}`"
        )
    }
}

/// Runs every check for the command line `args` (of `mcp-sigv4 doctor`).
pub fn run(args: &Args) -> Report {
    let mut report = Report::default();
    let env = Env::process();
    let started = Instant::now();
    let names = match profiles(args, &env) {
        Ok(p) => p,
        Err(e) => {
            report.push(
                "credentials",
                started,
                Err(failed(
                    e.to_string(),
                    e.hint()
                        .unwrap_or("check --profile and AWS_MCP_PROXY_PROFILES"),
                )),
            );
            return report;
        }
    };
    let resolver = Resolver::new(env, names.first().cloned());
    let profile_name = resolver.profile_name();
    let config = Config::resolve(args, &resolver);
    let auth = match &config {
        Ok(c) => c.request_auth(resolver),
        // Credentials and identity can still be checked without an endpoint.
        Err(_) => RequestAuth::new(
            crate::credentials::CredentialsProvider::new(resolver),
            String::new(),
            String::new(),
            &crate::auth::SigningChoice {
                initial: Algorithm::V4,
                upgrade: false,
                region_set: String::new(),
                unsigned_fallback: false,
            },
        ),
    };

    // 1. and 2. Credentials and identity, of each profile when there are
    // several (the MCP session below is the default profile's).
    let label = |name: &str| {
        if names.len() > 1 {
            format!("profile '{name}': ")
        } else {
            String::new()
        }
    };
    let (credentials, source) =
        check_credentials(&mut report, &auth, &profile_name, &label(&profile_name));
    for name in names.iter().skip(1) {
        let other = auth.for_profile(name);
        let _ = check_credentials(&mut report, &other, name, &label(name));
    }

    // 3. Signing.
    let started = Instant::now();
    let config = match config {
        Ok(c) => {
            let algorithm = match (c.signing.initial, c.signing.upgrade) {
                (Algorithm::V4a, _) => format!("SigV4A, region set {}", c.signing.region_set),
                (Algorithm::V4, true) => format!(
                    "SigV4, switching to SigV4A (region set {}) if the server refuses it",
                    c.signing.region_set
                ),
                (Algorithm::V4, false) => "SigV4".into(),
            };
            report.push(
                "signing",
                started,
                Ok(format!(
                    "service {} (from {}), region {} (from {}), {algorithm}",
                    c.service, c.service_source, c.region, c.region_source
                )),
            );
            c
        }
        Err(e) => {
            report.push(
                "signing",
                started,
                Err(failed(
                    crate::error::chain(&e),
                    e.hint()
                        .unwrap_or("check the endpoint URL and flags")
                        .to_owned(),
                )),
            );
            for name in ["dns", "tcp", "tls", "initialize", "tools/list"] {
                report.skip(name, "needs a configuration that resolves");
            }
            return report;
        }
    };

    // 4. Network.
    let clock_skew = network(&mut report, &config);
    let network_ok = !report
        .steps
        .iter()
        .any(|s| matches!(s.name, "dns" | "tcp" | "tls") && s.status == Status::Fail);

    // 5. MCP.
    if !network_ok {
        report.skip("initialize", "needs the network checks");
        report.skip("tools/list", "needs the network checks");
    } else if credentials.is_err() && !config.signing.unsigned_fallback {
        report.skip("initialize", "needs credentials");
        report.skip("tools/list", "needs credentials");
    } else {
        mcp_session(
            &mut report,
            config,
            auth,
            clock_skew,
            &source,
            &profile_name,
        );
    }
    report
}

/// Steps 1 and 2 for the profile `profile` that `auth` signs as: which
/// credentials, and who they are (`label` starts each detail: the profile's
/// name when there are several). Returns the credentials and their source.
fn check_credentials(
    report: &mut Report,
    auth: &RequestAuth,
    profile: &str,
    label: &str,
) -> (Result<Arc<Credentials>, CredentialsError>, String) {
    let started = Instant::now();
    let credentials = auth.provider().credentials();
    let source = credentials
        .as_ref()
        .map(|c| c.source().to_owned())
        .unwrap_or_default();
    report.push(
        "credentials",
        started,
        match &credentials {
            Ok(c) => {
                let id = c.access_key_id();
                let last4 = id.get(id.len().saturating_sub(4)..).unwrap_or("");
                let expiry = match c.expiry() {
                    Some(t) => {
                        let left = t
                            .duration_since(SystemTime::now())
                            .map(|d| format!("in {} min", d.as_secs() / 60))
                            .unwrap_or_else(|_| "already".into());
                        format!("expire {} ({left})", crate::time::format_rfc3339(t))
                    }
                    None => "no expiry".into(),
                };
                Ok(format!(
                    "{label}from {}; access key id …{last4}; {expiry}",
                    c.source()
                ))
            }
            Err(e) => Err(failed(
                format!("{label}{e}"),
                e.hint.clone().unwrap_or_else(|| {
                    format!("configure credentials, e.g. `aws configure --profile {profile}` or `aws sso login --profile {profile}`")
                }),
            )),
        },
    );

    match &credentials {
        Ok(c) => {
            let started = Instant::now();
            let outcome = auth
                .provider()
                .resolver()
                .caller_identity(c)
                .map(|id| format!("{label}account {}, {}", id.account, id.arn))
                .map_err(|e| {
                    let text = e.to_string();
                    let hint = if text.contains("ExpiredToken") {
                        format!(
                            "the credentials have expired: {}",
                            renew_hint(&source, profile)
                        )
                    } else if text.contains("InvalidClientTokenId")
                        || text.contains("SignatureDoesNotMatch")
                    {
                        format!(
                            "AWS does not accept these credentials: {}",
                            renew_hint(&source, profile)
                        )
                    } else {
                        e.hint.clone().unwrap_or_else(|| {
                            "check the network path to STS (HTTPS_PROXY, AWS_CA_BUNDLE)".into()
                        })
                    };
                    failed(format!("{label}{text}"), hint)
                });
            report.push("identity", started, outcome);
        }
        Err(_) => report.skip("identity", &format!("{label}needs credentials")),
    }
    (credentials, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_name_the_first_failure_and_the_hint_is_last() {
        let mut r = Report::default();
        r.push("credentials", Instant::now(), Ok("from environment".into()));
        r.push(
            "identity",
            Instant::now(),
            Err(failed("HTTP 403 InvalidClientTokenId", "fix A")),
        );
        r.push("signing", Instant::now(), Err(failed("no region", "fix B")));
        r.skip("dns", "needs a configuration that resolves");
        assert_eq!(r.exit_code(), 11);
        let text = r.text();
        assert!(text.starts_with("[ok  ] credentials"), "{text}");
        assert!(text.contains("[FAIL] identity"), "{text}");
        assert!(text.contains("[skip] dns"), "{text}");
        assert_eq!(text.lines().last(), Some("hint: fix A"));
        let v: Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["exitCode"], 11);
        assert_eq!(v["steps"][1]["status"], "fail");
        assert_eq!(v["steps"][1]["hint"], "fix A");
        assert_eq!(v["steps"][3]["status"], "skip");
        assert!(v["steps"][0]["ms"].is_u64());
        let ok = Report::default();
        assert_eq!(ok.exit_code(), 0);
        assert_eq!(ok.text(), "all checks passed\n");
    }
}
