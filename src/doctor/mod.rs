//! `mcp-sigv4 doctor <endpoint> [flags] [--json]`: is everything in place?
//!
//! Owns: the checks a new user needs, in order, each timed, with a pass/fail
//! mark and the fix for a failure (the full list is on [`run`]): the
//! credentials and who they are, how requests are signed, DNS, TCP and TLS to
//! the endpoint, then a real MCP session through the relay itself. A failing
//! step makes the steps that need it `skip`; a check the relay does not need
//! is a `warn`. The exit code names the most specific failure
//! ([`Report::cause`]), and the last line is its fix.
//! Refuses: printing any secret (credentials appear as their source and the
//! access key id's last 4 characters) or uncleaned server text ([`Redactor`]),
//! running without an endpoint (a usage error before any network call), and
//! sending the endpoint anything but the unsigned probe and the signed MCP
//! session.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use crate::auth::RequestAuth;
use crate::cli::{Args, UsageError};
use crate::config::{Config, profiles};
use crate::credentials::{Credentials, CredentialsError, Env, Resolver};
use crate::sigv4::Algorithm;

mod network;
mod session;

pub use crate::redact::Redactor;

use network::network;
use session::mcp_session;

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It works.
    Pass,
    /// It does not; the hint says what to do.
    Fail,
    /// It does not, but the relay does not need it; the hint says why.
    Warn,
    /// Not run: a step it needs failed, or it does not apply.
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Pass => "ok",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
            Status::Skip => "skip",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
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
    /// How precisely a failure names its cause, for [`Report::cause`]:
    /// [`Weight::Named`] when the server or STS named an authentication
    /// error, [`Weight::Network`] when STS could not be reached.
    pub weight: Weight,
}

/// How precisely a failed step names the cause of the trouble; the highest
/// weight's hint is the last line of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    /// STS could not be reached: maybe only this check's path is blocked.
    Network,
    /// Any other failure.
    #[default]
    Plain,
    /// The server or STS answered with an authentication error it named
    /// (ExpiredToken, InvalidSignature, SignatureDoesNotMatch,
    /// InvalidClientTokenId, UnrecognizedClient, AccessDenied).
    Named,
}

/// True when `text` names an AWS authentication error: the cause a user
/// must fix first.
fn names_auth_error(text: &str) -> bool {
    [
        "ExpiredToken",
        "InvalidSignature",
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "UnrecognizedClient",
        "AccessDenied",
    ]
    .iter()
    .any(|k| text.contains(k))
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

/// The most characters of one step's detail or hint that are shown.
const MAX_SHOWN: usize = 1200;

impl Report {
    /// The failure to fix first: the one of highest [`Weight`], the first of
    /// those in order; `None` when nothing failed.
    pub fn cause(&self) -> Option<&Step> {
        let mut best: Option<&Step> = None;
        for s in self.steps.iter().filter(|s| s.status == Status::Fail) {
            if best.is_none_or(|b| s.weight > b.weight) {
                best = Some(s);
            }
        }
        best
    }

    fn warnings(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.status == Status::Warn)
    }

    /// 0 when nothing failed (warnings included), else the code of
    /// [`cause`](Self::cause)'s step.
    pub fn exit_code(&self) -> u8 {
        self.cause().map_or(0, Step::exit_code)
    }

    /// Removes every secret `redactor` knows from each detail and hint, and
    /// cleans them (control characters become spaces; at most 1200
    /// characters each).
    pub fn redact(&mut self, redactor: &Redactor) {
        for s in &mut self.steps {
            s.detail = crate::text::clean(&redactor.redact(&s.detail), MAX_SHOWN);
            if let Some(h) = &s.hint {
                s.hint = Some(crate::text::clean(&redactor.redact(h), MAX_SHOWN));
            }
        }
    }

    /// One line per step (`[ok]   credentials   12 ms  …`), then the fix for
    /// [`cause`](Self::cause) as the last line (`hint: …`); with nothing
    /// failed, `all checks passed`, or with warnings `all checks the relay
    /// needs passed; warning: <step>: <why>`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            out.push_str(&format!(
                "[{:<4}] {:<11} {:>6} ms  {}\n",
                s.status.mark(),
                s.name,
                s.ms,
                crate::text::clean(&s.detail, MAX_SHOWN)
            ));
        }
        let hint =
            |s: &Step, or: &str| crate::text::clean(s.hint.as_deref().unwrap_or(or), MAX_SHOWN);
        match self.cause() {
            None => {
                let warnings: Vec<String> = self
                    .warnings()
                    .map(|w| format!("{}: {}", w.name, hint(w, "see above")))
                    .collect();
                if warnings.is_empty() {
                    out.push_str("all checks passed\n");
                } else {
                    out.push_str(&format!(
                        "all checks the relay needs passed; warning: {}\n",
                        warnings.join("; ")
                    ));
                }
            }
            Some(f) => out.push_str(&format!(
                "hint: {}\n",
                hint(f, "see the failing step above")
            )),
        }
        out
    }

    /// One JSON document: `{"ok":…,"exitCode":…,"warnings":[step names],
    /// "cause":<step name or null>,"steps":[{"name","status" (pass, fail,
    /// warn or skip),"detail","hint","ms"}…]}`.
    pub fn json(&self) -> String {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "status": s.status.name(),
                    "detail": crate::text::clean(&s.detail, MAX_SHOWN),
                    "hint": s.hint.as_deref().map(|h| crate::text::clean(h, MAX_SHOWN)),
                    "ms": s.ms as u64,
                })
            })
            .collect();
        let warnings: Vec<&str> = self.warnings().map(|s| s.name).collect();
        let doc = json!({
            "ok": self.exit_code() == 0,
            "exitCode": self.exit_code(),
            "warnings": warnings,
            "cause": self.cause().map(|s| s.name),
            "steps": steps,
        });
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
                weight: Weight::Plain,
            },
            Err(f) => Step {
                name,
                status: if f.warn { Status::Warn } else { Status::Fail },
                weight: if names_auth_error(&f.detail) {
                    Weight::Named
                } else {
                    f.weight
                },
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
            weight: Weight::Plain,
        });
    }
}

/// A failed check: what happened and what to do; `warn` when the relay does
/// not need it.
struct Failed {
    detail: String,
    hint: String,
    weight: Weight,
    warn: bool,
}

fn failed(detail: impl Into<String>, hint: impl Into<String>) -> Failed {
    Failed {
        detail: detail.into(),
        hint: hint.into(),
        weight: Weight::Plain,
        warn: false,
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

/// Runs every check for the command line `args` (of `mcp-sigv4 doctor`),
/// in the process environment.
///
/// The steps, in order:
/// 1. `credentials` — which source won, the access key id's last 4
///    characters and the expiry (never a secret);
/// 2. `identity` — who that is: STS GetCallerIdentity signed by our signer;
///    with several profiles, 1 and 2 for each of them in turn (each detail
///    names its profile), while step 5 opens the default profile's session
///    only (the others open theirs on their first tool call);
/// 3. `signing` — service, region, algorithm and region set, and where each
///    came from;
/// 4. `dns`, `tcp`, `tls` — the endpoint's (or the proxy's) addresses, a
///    connection, the certificate's issuer, the CA bundle in use, a verified
///    HTTPS request and the server's clock;
/// 5. `initialize`, `tools/list` — a real MCP session through the relay
///    itself (every request signed as the proxy signs it), then ended with a
///    signed DELETE.
///
/// A failing step makes the steps that need it `skip`. A check the relay
/// does not need is a `warn`, never a failure: STS unreachable while the
/// credentials are keys the relay signs with as they are (nothing to assume,
/// no SSO, no `--runtime-session identity`). The most specific failure is
/// [`Report::cause`] (an authentication error the server or STS named
/// outranks an unreachable STS). Every detail and hint is cleaned before it
/// is shown (server text cannot move the cursor or start a line of its own)
/// and every secret we sent is removed from it.
///
/// # Errors
/// [`UsageError`] when no endpoint is given (neither on the command line
/// nor in `MCP_TARGET_URL`, `AGENTCORE_AGENT_ARN`, `AGENT_ARN`): nothing is
/// sent.
pub fn run(args: &Args) -> Result<Report, UsageError> {
    let env = Env::process();
    if !crate::config::has_endpoint(args, &env) {
        return Err(UsageError::new(
            "doctor: expected the endpoint to check (an endpoint URL or an AgentCore Runtime ARN)",
        ));
    }
    let mut redactor = Redactor::broad();
    let mut report = check(args, env, &mut redactor);
    report.redact(&redactor);
    Ok(report)
}

fn check(args: &Args, env: Env, redactor: &mut Redactor) -> Report {
    let mut report = Report::default();
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
    if let Ok(c) = &config {
        for (name, value) in &c.relay.extra_headers {
            redactor.header(name);
            redactor.value(value);
        }
    }
    // STS is needed by the relay itself for `--runtime-session identity`
    // (the id is a hash of the caller's ARN) and to assume `--role-arn`.
    let relay_needs_sts = config.as_ref().is_ok_and(|c| {
        c.relay.runtime_session == Some(crate::config::RuntimeSession::Identity)
            || c.assume_role.is_some()
    });
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
    let (credentials, source) = check_credentials(
        &mut report,
        &auth,
        &profile_name,
        &label(&profile_name),
        relay_needs_sts,
        redactor,
    );
    for name in names.iter().skip(1) {
        let other = auth.for_profile(name);
        let _ = check_credentials(
            &mut report,
            &other,
            name,
            &label(name),
            relay_needs_sts,
            redactor,
        );
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

/// True when credentials from `source` (as [`Credentials::source`] names
/// it) come through STS or IAM Identity Center, so the relay cannot sign
/// without reaching AWS's credential services.
fn source_needs_sts(source: &str) -> bool {
    let s = source.to_ascii_lowercase();
    s.starts_with("assume role")
        || s.starts_with("web identity")
        || s.contains("role_arn")
        || s.contains("sso")
        || s.contains("identity center")
}

/// Steps 1 and 2 for the profile `profile` that `auth` signs as: which
/// credentials, and who they are (`label` starts each detail: the profile's
/// name when there are several). An unreachable STS is a warning when
/// neither the credentials' source nor the relay (`relay_needs_sts`) needs
/// it. Tells `redactor` the secrets. Returns the credentials and their
/// source.
fn check_credentials(
    report: &mut Report,
    auth: &RequestAuth,
    profile: &str,
    label: &str,
    relay_needs_sts: bool,
    redactor: &mut Redactor,
) -> (Result<Arc<Credentials>, CredentialsError>, String) {
    let started = Instant::now();
    let credentials = auth.provider().credentials();
    if let Ok(c) = &credentials {
        redactor.value(c.secret_access_key().expose());
        if let Some(t) = c.session_token() {
            redactor.value(t.expose());
        }
    }
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
                .map(|id| {
                    format!(
                        "{label}account {}, {}",
                        crate::text::clean(&id.account, 64),
                        crate::text::clean(&id.arn, 2048)
                    )
                })
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
                    let mut f = failed(format!("{label}{text}"), hint);
                    if crate::credentials::unreachable(&e) {
                        f.weight = Weight::Network;
                        if !relay_needs_sts && !source_needs_sts(&source) {
                            f.warn = true;
                            f.hint = format!(
                                "STS could not be reached, but the relay does not need STS with these credentials ({source}): only this identity check is affected. To run it, allow HTTPS to STS (or set AWS_ENDPOINT_URL_STS to an STS VPC endpoint). {}",
                                f.hint
                            );
                        }
                    }
                    f
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

    #[test]
    fn a_named_authentication_error_outranks_an_unreachable_sts() {
        let mut r = Report::default();
        let mut sts = failed("STS GetCallerIdentity failed: host not found", "check STS");
        sts.weight = Weight::Network;
        r.push("identity", Instant::now(), Err(sts));
        r.push("dns", Instant::now(), Ok("ok".into()));
        let mut server = failed("error -32000: 403", "the credentials have expired");
        server.weight = Weight::Named;
        r.push("initialize", Instant::now(), Err(server));
        assert_eq!(r.exit_code(), 16);
        assert_eq!(r.cause().map(|s| s.name), Some("initialize"));
        assert_eq!(
            r.text().lines().last(),
            Some("hint: the credentials have expired")
        );
        // Of equal weight, the first.
        r.push(
            "tools/list",
            Instant::now(),
            Err(failed("ExpiredToken", "second")),
        );
        assert_eq!(r.exit_code(), 16);
        // A warning alone leaves the exit code 0.
        let mut w = Report::default();
        let mut f = failed("unreachable", "not needed");
        f.warn = true;
        w.push("identity", Instant::now(), Err(f));
        assert_eq!(w.exit_code(), 0);
        assert_eq!(
            w.text().lines().last(),
            Some("all checks the relay needs passed; warning: identity: not needed")
        );
    }
}
