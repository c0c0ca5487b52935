//! The credential chain end to end, over real files and real HTTP on 127.0.0.1,
//! through the public API only (`Resolver`, `CredentialsProvider`, `Env`).
//!
//! Owns: the chain cases as data ([`CASES`]: environment + config text +
//! credentials text + extra files, against one stub that plays STS, the IAM
//! Identity Center portal and OIDC, EC2 IMDSv2 and a container credentials
//! endpoint (the test server of `support/`) → the expected
//! `source()`/key/token/expiry or the expected error text, and the requests the
//! stub must have seen, in order, each signed STS request's signature
//! recomputed independently with the secret the case handed out), run by one
//! runner that reports every failing case; and the [`CredentialsProvider`] behaviour
//! over time (same `Arc` while fresh, rewritten files, background renewal inside
//! five minutes, waiting inside the last minute, `invalidate`, errors held 2 s).
//! Refuses: reaching beyond loopback. The environment is always a fixed map
//! (`Env::from_pairs`, never the process's): `HOME` and both shared files live in
//! a temporary directory, every service endpoint points at the stub, and
//! `AWS_EC2_METADATA_DISABLED=true` unless a case points IMDS at the stub.
//! Every secret in the fixtures contains `S3CR3T`, and no error text may.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mcp_sigv4::credentials::chain::RoleOnTop;
use mcp_sigv4::credentials::{Credentials, CredentialsProvider, Env, Resolver};
use support::{
    Authorization, Reply, Seen, Server, SignedBy, TempDir, rfc3339, unix_now, unix_of,
    unix_of_system,
};

/// Every secret, token and password in the fixtures contains this; no error
/// message or `Debug` output may.
const MARKER: &str = "S3CR3T";

/// The SSO token cache file names: the lowercase hex SHA-1 of the `sso_session`
/// name `my-sso`, and of the legacy `sso_start_url`
/// `https://d-abc123.awsapps.com/start`, as the AWS CLI names them (botocore
/// `utils.py`, `SSOTokenLoader._generate_cache_key`); written out, not computed
/// with our SHA-1.
const CACHE_MY_SSO: &str = "0ad374308c5a4e22f723adf10145eafad7c4031c.json";
const CACHE_LEGACY: &str = "40a89917e3175433e361b710a9d43528d7f1890a.json";

// ---------------------------------------------------------------------------
// The stub: the test server (`support/server.rs`) playing every AWS endpoint
// the chain talks to.

/// How many STS answers and other answers one stub has given.
#[derive(Default)]
struct StubState {
    sts_calls: AtomicU32,
    other_calls: AtomicU32,
}

/// A server on 127.0.0.1 answering as [`aws_stub`], with counters of its own.
fn start_stub() -> Server {
    let state = Arc::new(StubState::default());
    Server::start(move |seen| aws_stub(seen, &state))
}

/// A temporary directory with an empty `home/` (the cases' `HOME`).
fn case_dir(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    dir.mkdir("home");
    dir
}

/// One summary line per request the stub saw, in order.
fn summaries(stub: &Server) -> Vec<String> {
    stub.requests().iter().map(summary).collect()
}

/// One line that the cases' `seen` lists match against, e.g.
/// `POST / Action=AssumeRole RoleArn=… signed-by=AKID scope=us-east-1/sts token=-`.
fn summary(seen: &Seen) -> String {
    let mut out = format!("{} {} ", seen.method, seen.target);
    let form = seen.form();
    if form.contains_key("Action") {
        for key in [
            "Action",
            "RoleArn",
            "RoleSessionName",
            "ExternalId",
            "WebIdentityToken",
            "DurationSeconds",
        ] {
            if let Some(v) = form.get(key) {
                out.push_str(&format!("{key}={v} "));
            }
        }
    }
    match seen.header("authorization") {
        Some(auth) if auth.starts_with("AWS4-HMAC-SHA256 ") => {
            let cred = auth
                .split("Credential=")
                .nth(1)
                .and_then(|c| c.split(',').next())
                .unwrap_or("");
            let parts: Vec<&str> = cred.split('/').collect();
            let (akid, region, service) = match parts.as_slice() {
                [a, _, r, s, _] => (*a, *r, *s),
                _ => ("?", "?", "?"),
            };
            out.push_str(&format!("signed-by={akid} scope={region}/{service} "));
            out.push_str(&format!(
                "token={} ",
                seen.header("x-amz-security-token").unwrap_or("-")
            ));
        }
        Some(other) => out.push_str(&format!("authorization={other} ")),
        None if form.contains_key("Action") => out.push_str("unsigned "),
        None => {}
    }
    for (name, label) in [
        ("x-amz-sso_bearer_token", "bearer"),
        ("x-aws-ec2-metadata-token", "imds-token"),
        ("x-aws-ec2-metadata-token-ttl-seconds", "ttl"),
    ] {
        if let Some(v) = seen.header(name) {
            out.push_str(&format!("{label}={v} "));
        }
    }
    out
}

fn sts_error(status: u16, code: &str, message: &str, request_id: &str) -> Reply {
    Reply::body(
        status,
        "text/xml",
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ),
    )
}

/// What each AWS endpoint answers. STS answers are numbered per stub:
/// `ASIASTUB00000001`, secret `sts-S3CR3T-1`, token `sts-token-S3CR3T-1`, …
fn aws_stub(seen: &Seen, state: &StubState) -> Reply {
    let now = unix_now();
    let path = seen.target.split('?').next().unwrap_or("");
    let form = seen.form();
    if seen.method == "POST" && form.contains_key("Action") {
        let action = form["Action"].as_str();
        let role = form.get("RoleArn").cloned().unwrap_or_default();
        let signed = seen
            .header("authorization")
            .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 "));
        match action {
            "AssumeRole" if !signed => {
                return sts_error(
                    403,
                    "MissingAuthenticationToken",
                    "not signed",
                    "req-unsigned",
                );
            }
            "AssumeRoleWithWebIdentity" if signed => {
                return sts_error(
                    400,
                    "InvalidParameterValue",
                    "must not be signed",
                    "req-signed",
                );
            }
            "AssumeRole" | "AssumeRoleWithWebIdentity" => {}
            _ => return sts_error(400, "InvalidAction", "unknown action", "req-action"),
        }
        if role.ends_with("/stale-base") {
            return sts_error(
                400,
                "ExpiredToken",
                "The security token included in the request is expired",
                "req-expired-1",
            );
        }
        if role.ends_with("/denied") {
            return sts_error(
                403,
                "AccessDenied",
                "User is not authorized to perform: sts:AssumeRole",
                "req-denied-1",
            );
        }
        let n = state.sts_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let role_name = role.rsplit('/').next().unwrap_or("");
        let session = form.get("RoleSessionName").cloned().unwrap_or_default();
        let extra = if action == "AssumeRoleWithWebIdentity" {
            "<SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>\
             <Provider>oidc.example</Provider><Audience>sts.amazonaws.com</Audience>"
        } else {
            ""
        };
        return Reply::body(
            200,
            "text/xml",
            format!(
                "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result>\
                 <Credentials><AccessKeyId>ASIASTUB{n:08}</AccessKeyId>\
                 <SecretAccessKey>sts-S3CR3T-{n}</SecretAccessKey>\
                 <SessionToken>sts-token-S3CR3T-{n}</SessionToken>\
                 <Expiration>{}</Expiration></Credentials>\
                 <AssumedRoleUser><AssumedRoleId>AROASTUB:{session}</AssumedRoleId>\
                 <Arn>arn:aws:sts::123456789012:assumed-role/{role_name}/{session}</Arn></AssumedRoleUser>{extra}\
                 </{action}Result><ResponseMetadata><RequestId>req-{n}</RequestId></ResponseMetadata></{action}Response>",
                rfc3339(now + 3600)
            ),
        );
    }
    let n = state.other_calls.fetch_add(1, Ordering::SeqCst) + 1;
    match (seen.method.as_str(), path) {
        ("GET", "/federation/credentials") => {
            let bearer = seen.header("x-amz-sso_bearer_token").unwrap_or("");
            if !bearer.starts_with("good-") {
                return Reply::body(
                    401,
                    "application/json",
                    r#"{"message":"Session token not found or invalid"}"#,
                )
                .header("x-amzn-errortype", "UnauthorizedException")
                .header("x-amzn-requestid", "req-sso-401");
            }
            Reply::body(
                200,
                "application/json",
                format!(
                    r#"{{"roleCredentials":{{"accessKeyId":"ASIASSO{n:08}","secretAccessKey":"sso-S3CR3T-{n}","sessionToken":"sso-token-S3CR3T-{n}","expiration":{}}}}}"#,
                    (now + 3600) * 1000
                ),
            )
        }
        ("POST", "/token") => {
            let body: serde_json::Value =
                serde_json::from_slice(&seen.body).unwrap_or(serde_json::Value::Null);
            if body["grantType"] == "refresh_token" && body["refreshToken"] == "good-refresh-S3CR3T"
            {
                Reply::body(
                    200,
                    "application/json",
                    r#"{"accessToken":"good-S3CR3T-refreshed","expiresIn":28800,"tokenType":"Bearer"}"#,
                )
            } else {
                Reply::body(400, "application/json", r#"{"error":"invalid_grant"}"#)
                    .header("x-amzn-errortype", "InvalidGrantException")
            }
        }
        ("PUT", "/latest/api/token") => match seen.header("x-aws-ec2-metadata-token-ttl-seconds") {
            Some(ttl) => Reply::body(200, "text/plain", "imds-tok-S3CR3T")
                .header("x-aws-ec2-metadata-token-ttl-seconds", ttl),
            None => Reply::body(400, "text/plain", "missing ttl"),
        },
        ("GET", p) if p.starts_with("/latest/meta-data/iam/security-credentials/") => {
            if seen.header("x-aws-ec2-metadata-token") != Some("imds-tok-S3CR3T") {
                return Reply::body(401, "text/plain", "");
            }
            match &p["/latest/meta-data/iam/security-credentials/".len()..] {
                "" => Reply::body(200, "text/plain", "MyRole"),
                "MyRole" => Reply::body(
                    200,
                    "application/json",
                    format!(
                        r#"{{"Code":"Success","LastUpdated":"{}","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS{n:08}","SecretAccessKey":"imds-S3CR3T","Token":"imds-token-S3CR3T","Expiration":"{}"}}"#,
                        rfc3339(now),
                        rfc3339(now + 6 * 3600)
                    ),
                ),
                _ => Reply::body(404, "text/plain", ""),
            }
        }
        ("GET", "/creds") => {
            let auth = seen.header("authorization").unwrap_or("");
            if !matches!(auth, "ctr-token-S3CR3T" | "ctr-file-token-S3CR3T") {
                return Reply::body(
                    403,
                    "application/json",
                    r#"{"code":"AccessDenied","message":"the authorization token is not valid"}"#,
                );
            }
            Reply::body(
                200,
                "application/json",
                format!(
                    r#"{{"AccessKeyId":"ASIACTR{n:08}","SecretAccessKey":"ctr-S3CR3T","Token":"ctr-session-S3CR3T","Expiration":"{}","RoleArn":"arn:aws:iam::123456789012:role/task"}}"#,
                    rfc3339(now + 3600)
                ),
            )
        }
        _ => Reply::body(404, "text/plain", "no such stub route"),
    }
}

// ---------------------------------------------------------------------------
// The chain cases.

/// What a case must end with.
enum Expect {
    /// Credentials whose `source()` contains `source`, with this access key id;
    /// `token`: `None` = not checked, `Some(None)` = must have none;
    /// `expiry`: `YYYY-MM-DDTHH:MM:SSZ` it must equal.
    Found {
        source: &'static str,
        akid: &'static str,
        token: Option<Option<&'static str>>,
        expiry: Option<&'static str>,
    },
    /// An error whose text contains each of `contains`; `tried`: the sources
    /// of its "tried" list, in order (each a prefix; empty = not checked).
    Error {
        contains: &'static [&'static str],
        tried: &'static [&'static str],
    },
}

/// What an `after` check gets.
struct Run<'a> {
    dir: &'a TempDir,
    stub: &'a Server,
    resolver: &'a Resolver,
}

/// A check run after a case passed, with its directory, stub and resolver.
type AfterCheck = fn(&Run<'_>) -> Result<(), String>;

struct Case {
    name: &'static str,
    /// Extra variables (after the defaults, so they can override them).
    /// `{dir}` is the temp directory, `{stub}` the stub's `http://127.0.0.1:port`.
    env: &'static [(&'static str, &'static str)],
    /// `--profile`.
    profile: Option<&'static str>,
    /// `--role-arn` (role on top).
    role_on_top: Option<&'static str>,
    /// `{dir}/config`, `{dir}/credentials` (not written when empty).
    config: &'static str,
    credentials: &'static str,
    /// More files, relative to `{dir}`; `{future}` (now + 8 h), `{soon}`
    /// (now + 2 min) and `{past}` (now − 1 h) are replaced in their text.
    files: &'static [(&'static str, &'static str)],
    expect: Expect,
    /// Requests the stub must have seen, in this order (others may come
    /// between): each a list of substrings of one request's summary.
    seen: &'static [&'static [&'static str]],
    /// How many requests the stub must have seen in all, when given.
    requests: Option<usize>,
    /// A further check.
    after: Option<AfterCheck>,
}

const NO_CASE: Case = Case {
    name: "",
    env: &[],
    profile: None,
    role_on_top: None,
    config: "",
    credentials: "",
    files: &[],
    expect: Expect::Error {
        contains: &[],
        tried: &[],
    },
    seen: &[],
    requests: None,
    after: None,
};

const ENV_KEYS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AKIDENV"),
    ("AWS_SECRET_ACCESS_KEY", "env-S3CR3T"),
];

const STATIC_DEV: &str = "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-S3CR3T\n";
const STATIC_DEFAULT: &str =
    "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-S3CR3T\n";
const BASE_KEYS: &str =
    "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-S3CR3T\n";

const SSO_CONFIG: &str = "[profile dev]\nsso_session = my-sso\nsso_account_id = 111122223333\n\
sso_role_name = ReadOnly\nregion = eu-west-1\n\n[sso-session my-sso]\nsso_region = us-east-1\n\
sso_start_url = https://d-abc123.awsapps.com/start\nsso_registration_scopes = sso:account:access\n";
const SSO_LEGACY_CONFIG: &str = "[profile legacy]\nsso_start_url = https://d-abc123.awsapps.com/start\n\
sso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n";
const SSO_SOURCE: &str =
    "IAM Identity Center (SSO) profile 'dev' (account 111122223333, role ReadOnly)";

const PROC_CONFIG: &str =
    "[profile proc]\ncredential_process = sh {dir}/proc.sh --flag 'quoted arg'\n";

const CASES: &[Case] = &[
    // ---- environment -----------------------------------------------------
    Case {
        name: "env keys win over AWS_PROFILE's profile",
        env: &[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-S3CR3T"),
            ("AWS_SESSION_TOKEN", "env-token-S3CR3T"),
            ("AWS_PROFILE", "dev"),
        ],
        credentials: STATIC_DEV,
        expect: Expect::Found {
            source: "environment",
            akid: "AKIDENV",
            token: Some(Some("env-token-S3CR3T")),
            expiry: None,
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "--profile skips the env keys",
        env: ENV_KEYS,
        profile: Some("dev"),
        credentials: STATIC_DEV,
        expect: Expect::Found {
            source: "profile 'dev' (static keys)",
            akid: "AKIDDEV",
            token: Some(None),
            expiry: None,
        },
        ..NO_CASE
    },
    Case {
        name: "--profile naming a missing profile is an error, env keys notwithstanding",
        env: ENV_KEYS,
        profile: Some("ghost"),
        credentials: STATIC_DEV,
        expect: Expect::Error {
            contains: &[
                "profile 'ghost' not found in ",
                "; profiles: dev; pick one with --profile",
                "aws configure --profile ghost",
            ],
            tried: &[],
        },
        ..NO_CASE
    },
    Case {
        name: "blank env values count as unset",
        env: &[
            ("AWS_ACCESS_KEY_ID", "   "),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_SESSION_TOKEN", " \t "),
            ("AWS_PROFILE", "  "),
        ],
        credentials: STATIC_DEFAULT,
        expect: Expect::Found {
            source: "profile 'default' (static keys)",
            akid: "AKIDDEFAULT",
            token: Some(None),
            expiry: None,
        },
        ..NO_CASE
    },
    Case {
        name: "half-set env keys (id only) are reported",
        env: &[("AWS_ACCESS_KEY_ID", "AKIDHALF")],
        expect: Expect::Error {
            contains: &[
                "no credentials found",
                "env (AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not)",
            ],
            tried: &[
                "env",
                "profile 'default'",
                "web identity",
                "container",
                "EC2 instance metadata",
            ],
        },
        ..NO_CASE
    },
    Case {
        name: "half-set env keys (secret only) are reported",
        env: &[("AWS_SECRET_ACCESS_KEY", "half-S3CR3T")],
        expect: Expect::Error {
            contains: &["env (AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not)"],
            tried: &[],
        },
        ..NO_CASE
    },
    Case {
        name: "half-set env keys fall through to the profile",
        env: &[("AWS_ACCESS_KEY_ID", "AKIDHALF")],
        credentials: STATIC_DEFAULT,
        expect: Expect::Found {
            source: "profile 'default' (static keys)",
            akid: "AKIDDEFAULT",
            token: None,
            expiry: None,
        },
        ..NO_CASE
    },
    // ---- static keys -----------------------------------------------------
    Case {
        name: "static keys with token in the credentials file's [default]",
        credentials: "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-S3CR3T\n\
                      aws_session_token = default-token-S3CR3T\n",
        expect: Expect::Found {
            source: "profile 'default' (static keys)",
            akid: "AKIDDEFAULT",
            token: Some(Some("default-token-S3CR3T")),
            expiry: None,
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "static keys in a config-file [profile] chosen by AWS_PROFILE",
        env: &[("AWS_PROFILE", "cfg")],
        config: "[default]\nregion = us-east-1\n[profile cfg]\naws_access_key_id = AKIDCFG\n\
                 aws_secret_access_key = cfg-S3CR3T\n",
        expect: Expect::Found {
            source: "profile 'cfg' (static keys)",
            akid: "AKIDCFG",
            token: Some(None),
            expiry: None,
        },
        ..NO_CASE
    },
    Case {
        name: "the credentials file wins over the config file for the same profile",
        env: &[("AWS_PROFILE", "dev")],
        config: "[profile dev]\naws_access_key_id = AKIDFROMCONFIG\naws_secret_access_key = cfg-S3CR3T\n",
        credentials: "[dev]\naws_access_key_id = AKIDFROMCREDS\naws_secret_access_key = creds-S3CR3T\n",
        expect: Expect::Found {
            source: "profile 'dev' (static keys)",
            akid: "AKIDFROMCREDS",
            token: None,
            expiry: None,
        },
        ..NO_CASE
    },
    Case {
        name: "a [dev] section without 'profile' in the config file is ignored",
        env: &[("AWS_PROFILE", "dev")],
        config: "[dev]\naws_access_key_id = AKIDIGNORED\naws_secret_access_key = ignored-S3CR3T\n",
        expect: Expect::Error {
            contains: &["profile 'dev' not found in ", "they define no profile"],
            tried: &[],
        },
        ..NO_CASE
    },
    // ---- credential_process ---------------------------------------------
    Case {
        name: "credential_process: keys, token and Expiration honoured",
        env: &[("AWS_PROFILE", "proc")],
        config: PROC_CONFIG,
        files: &[(
            "proc.sh",
            "#!/bin/sh\nprintf '%s' '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-S3CR3T\", \
             \"SessionToken\": \"proc-token-S3CR3T\", \"Expiration\": \"2040-01-02T03:04:05Z\", \"AccountId\": \"111122223333\"}'\n",
        )],
        expect: Expect::Found {
            source: "credential_process of profile 'proc'",
            akid: "AKIDPROC",
            token: Some(Some("proc-token-S3CR3T")),
            expiry: Some("2040-01-02T03:04:05Z"),
        },
        after: Some(|run| {
            let c = run
                .resolver
                .resolve()
                .map_err(|e| e.to_string())?
                .credentials;
            (c.secret_access_key().expose() == "proc-S3CR3T")
                .then_some(())
                .ok_or_else(|| "expected the secret from the process output".to_owned())
        }),
        ..NO_CASE
    },
    Case {
        name: "credential_process: an Expiration with a +02:00 offset",
        env: &[("AWS_PROFILE", "proc")],
        config: PROC_CONFIG,
        files: &[(
            "proc.sh",
            "#!/bin/sh\nprintf '%s' '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-S3CR3T\", \
             \"Expiration\": \"2040-01-02T05:04:05+02:00\"}'\n",
        )],
        expect: Expect::Found {
            source: "credential_process of profile 'proc'",
            akid: "AKIDPROC",
            token: Some(None),
            expiry: Some("2040-01-02T03:04:05Z"),
        },
        ..NO_CASE
    },
    Case {
        name: "credential_process: a failing process gives its program, status and profile, never its stderr",
        env: &[("AWS_PROFILE", "proc")],
        config: PROC_CONFIG,
        files: &[(
            "proc.sh",
            "#!/bin/sh\necho '{\"SecretAccessKey\": \"half-S3CR3T\"}'\necho 'the vault is sealed' >&2\n\
             echo 'run: vault unseal' >&2\nexit 3\n",
        )],
        expect: Expect::Error {
            contains: &[
                "credential_process of profile 'proc' (`sh` (arguments not shown)) failed (exit status: 3)",
                "its stderr is in mcp-sigv4's log",
                "`credential_process` in profile 'proc'",
            ],
            tried: &[],
        },
        // The error reaches the MCP client (and a model): a helper's stderr
        // may hold a secret, so it stays in the log.
        after: Some(|run| {
            let e = run.resolver.resolve().err().ok_or("expected an error")?;
            let shown = format!("{e} {e:?}");
            if shown.contains("vault") || shown.contains("--flag") {
                return Err(format!(
                    "the helper's stderr or arguments in the error: {shown}"
                ));
            }
            Ok(())
        }),
        ..NO_CASE
    },
    Case {
        name: "credential_process: output without Version names the field, not the secret",
        env: &[("AWS_PROFILE", "proc")],
        config: PROC_CONFIG,
        files: &[(
            "proc.sh",
            "#!/bin/sh\nprintf '%s' '{\"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-S3CR3T\"}'\n",
        )],
        expect: Expect::Error {
            contains: &[
                "the output of credential_process of profile 'proc'",
                "Version",
            ],
            tried: &[],
        },
        ..NO_CASE
    },
    Case {
        name: "credential_process: stdin is null",
        env: &[("AWS_PROFILE", "proc")],
        config: PROC_CONFIG,
        files: &[(
            "proc.sh",
            "#!/bin/sh\nd=$(dirname \"$0\")\nreadlink /proc/$$/fd/0 > \"$d/stdin-link.txt\" 2>/dev/null\n\
             cat > \"$d/stdin-content.txt\"\n\
             printf '%s' '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-S3CR3T\"}'\n",
        )],
        expect: Expect::Found {
            source: "credential_process of profile 'proc'",
            akid: "AKIDPROC",
            token: Some(None),
            expiry: None,
        },
        after: Some(|run| {
            let content = run.dir.read("stdin-content.txt");
            if content.as_deref() != Some("") {
                return Err(format!("expected an empty stdin, found {content:?}"));
            }
            match run.dir.read("stdin-link.txt") {
                // Linux: fd 0 must be /dev/null itself.
                Some(link) if !link.trim().is_empty() && link.trim() != "/dev/null" => {
                    Err(format!("expected stdin /dev/null, found {:?}", link.trim()))
                }
                _ => Ok(()),
            }
        }),
        ..NO_CASE
    },
    Case {
        name: "credential_process beats static keys in the same profile (Rust order)",
        env: &[("AWS_PROFILE", "both")],
        config: "[profile both]\naws_access_key_id = AKIDSTATIC\naws_secret_access_key = static-S3CR3T\n\
                 credential_process = sh {dir}/proc.sh\n",
        files: &[(
            "proc.sh",
            "#!/bin/sh\nprintf '%s' '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"proc-S3CR3T\"}'\n",
        )],
        expect: Expect::Found {
            source: "credential_process of profile 'both'",
            akid: "AKIDPROC",
            token: None,
            expiry: None,
        },
        ..NO_CASE
    },
    // ---- IAM Identity Center ---------------------------------------------
    Case {
        name: "SSO: sso-session profile, cached token, portal sees the bearer token",
        env: &[("AWS_PROFILE", "dev")],
        config: SSO_CONFIG,
        files: &[(
            "home/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json",
            "{\"accessToken\": \"good-S3CR3T-access\", \"expiresAt\": \"{future}\", \"region\": \"us-east-1\", \
             \"startUrl\": \"https://d-abc123.awsapps.com/start\"}",
        )],
        expect: Expect::Found {
            source: SSO_SOURCE,
            akid: "ASIASSO00000001",
            token: Some(Some("sso-token-S3CR3T-1")),
            expiry: None,
        },
        seen: &[&[
            "GET /federation/credentials?role_name=ReadOnly&account_id=111122223333 ",
            "bearer=good-S3CR3T-access ",
        ]],
        requests: Some(1),
        after: Some(|run| expiry_within(run, 3500, 3700)),
        ..NO_CASE
    },
    Case {
        name: "SSO: a token expiring within 5 minutes is refreshed through OIDC and written back",
        env: &[("AWS_PROFILE", "dev")],
        config: SSO_CONFIG,
        files: &[(
            "home/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json",
            "{\"accessToken\": \"good-S3CR3T-old\", \"expiresAt\": \"{soon}\", \"refreshToken\": \"good-refresh-S3CR3T\", \
             \"clientId\": \"client-id-1\", \"clientSecret\": \"client-S3CR3T\", \"registrationExpiresAt\": \"{future}\", \
             \"startUrl\": \"https://d-abc123.awsapps.com/start\", \"somethingNew\": 42}",
        )],
        expect: Expect::Found {
            source: SSO_SOURCE,
            akid: "ASIASSO00000002",
            token: None,
            expiry: None,
        },
        seen: &[
            &["POST /token "],
            &[
                "GET /federation/credentials?",
                "bearer=good-S3CR3T-refreshed ",
            ],
        ],
        requests: Some(2),
        after: Some(|run| {
            let text = run
                .dir
                .read(&format!("home/.aws/sso/cache/{CACHE_MY_SSO}"))
                .unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("expected the cache file to stay JSON: {e}"))?;
            if v["accessToken"] != "good-S3CR3T-refreshed" || v["somethingNew"] != 42 {
                return Err("expected the new token written back with unknown fields kept".into());
            }
            let body: serde_json::Value = serde_json::from_slice(&run.stub.requests()[0].body)
                .map_err(|e| format!("expected a JSON OIDC body: {e}"))?;
            (body["clientId"] == "client-id-1" && body["clientSecret"] == "client-S3CR3T")
                .then_some(())
                .ok_or_else(|| "expected clientId and clientSecret in the OIDC body".to_owned())
        }),
        ..NO_CASE
    },
    Case {
        name: "SSO: an expired token without refresh data says aws sso login --profile",
        env: &[("AWS_PROFILE", "dev")],
        config: SSO_CONFIG,
        files: &[(
            "home/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json",
            "{\"accessToken\": \"good-S3CR3T-access\", \"expiresAt\": \"{past}\"}",
        )],
        expect: Expect::Error {
            contains: &[
                "expired at",
                "run `aws sso login --profile dev`",
                "aws sso login --sso-session my-sso",
            ],
            tried: &[],
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "SSO: no cache file says aws sso login --profile",
        env: &[("AWS_PROFILE", "dev")],
        config: SSO_CONFIG,
        expect: Expect::Error {
            contains: &[
                CACHE_MY_SSO,
                "does not exist",
                "run `aws sso login --profile dev`",
            ],
            tried: &[],
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "SSO: the portal refusing the token says aws sso login --profile",
        env: &[("AWS_PROFILE", "dev")],
        config: SSO_CONFIG,
        files: &[(
            "home/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json",
            "{\"accessToken\": \"revoked-S3CR3T\", \"expiresAt\": \"{future}\"}",
        )],
        expect: Expect::Error {
            contains: &[
                "UnauthorizedException",
                "req-sso-401",
                "run `aws sso login --profile dev`",
            ],
            tried: &[],
        },
        ..NO_CASE
    },
    Case {
        name: "SSO: legacy profile reads the start-URL-named cache file",
        env: &[("AWS_PROFILE", "legacy")],
        config: SSO_LEGACY_CONFIG,
        files: &[(
            "home/.aws/sso/cache/40a89917e3175433e361b710a9d43528d7f1890a.json",
            "{\"accessToken\": \"good-S3CR3T-legacy\", \"expiresAt\": \"{future}\"}",
        )],
        expect: Expect::Found {
            source: "IAM Identity Center (SSO) profile 'legacy'",
            akid: "ASIASSO00000001",
            token: None,
            expiry: None,
        },
        seen: &[&[
            "GET /federation/credentials?role_name=ReadOnly&account_id=111122223333 ",
            "bearer=good-S3CR3T-legacy ",
        ]],
        ..NO_CASE
    },
    Case {
        name: "SSO: a legacy profile without its cache file says aws sso login --profile",
        env: &[("AWS_PROFILE", "legacy")],
        config: SSO_LEGACY_CONFIG,
        expect: Expect::Error {
            contains: &[
                CACHE_LEGACY,
                "does not exist",
                "run `aws sso login --profile legacy`",
            ],
            tried: &[],
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "SSO: an expired legacy token is never refreshed",
        env: &[("AWS_PROFILE", "legacy")],
        config: SSO_LEGACY_CONFIG,
        files: &[(
            "home/.aws/sso/cache/40a89917e3175433e361b710a9d43528d7f1890a.json",
            "{\"accessToken\": \"good-S3CR3T-legacy\", \"expiresAt\": \"{soon}\", \"refreshToken\": \"good-refresh-S3CR3T\", \
             \"clientId\": \"c\", \"clientSecret\": \"client-S3CR3T\", \"registrationExpiresAt\": \"{future}\"}",
        )],
        // Two minutes left: still usable, and no refresh attempt.
        expect: Expect::Found {
            source: "IAM Identity Center (SSO) profile 'legacy'",
            akid: "ASIASSO00000001",
            token: None,
            expiry: None,
        },
        seen: &[&["GET /federation/credentials?", "bearer=good-S3CR3T-legacy "]],
        requests: Some(1),
        ..NO_CASE
    },
    // ---- role chains -----------------------------------------------------
    Case {
        name: "role_arn chain of depth 2: innermost first, each signed with the previous answer",
        env: &[("AWS_PROFILE", "outer"), ("AWS_REGION", "eu-west-3")],
        config: "[profile outer]\nrole_arn = arn:aws:iam::123456789012:role/outer\nsource_profile = middle\n\
                 role_session_name = outer-session\nexternal_id = ext-123\n\n\
                 [profile middle]\nrole_arn = arn:aws:iam::123456789012:role/inner\nsource_profile = base\n",
        credentials: BASE_KEYS,
        expect: Expect::Found {
            source: "assume role arn:aws:iam::123456789012:role/outer",
            akid: "ASIASTUB00000002",
            token: Some(Some("sts-token-S3CR3T-2")),
            expiry: None,
        },
        seen: &[
            &[
                "POST / Action=AssumeRole RoleArn=arn:aws:iam::123456789012:role/inner RoleSessionName=mcp-sigv4-",
                "signed-by=AKIDBASE scope=eu-west-3/sts token=- ",
            ],
            &[
                "Action=AssumeRole RoleArn=arn:aws:iam::123456789012:role/outer RoleSessionName=outer-session ExternalId=ext-123 ",
                "signed-by=ASIASTUB00000001 scope=eu-west-3/sts token=sts-token-S3CR3T-1 ",
            ],
        ],
        requests: Some(2),
        after: Some(|run| expiry_within(run, 3500, 3700)),
        ..NO_CASE
    },
    Case {
        name: "role_arn with credential_source = Environment (via --profile)",
        env: &[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-S3CR3T"),
            ("AWS_SESSION_TOKEN", "env-token-S3CR3T"),
        ],
        profile: Some("envrole"),
        config: "[profile envrole]\nrole_arn = arn:aws:iam::123456789012:role/from-env\n\
                 credential_source = Environment\nregion = ap-south-1\n",
        expect: Expect::Found {
            source: "assume role arn:aws:iam::123456789012:role/from-env",
            akid: "ASIASTUB00000001",
            token: None,
            expiry: None,
        },
        seen: &[&[
            "RoleArn=arn:aws:iam::123456789012:role/from-env ",
            "signed-by=AKIDENV scope=ap-south-1/sts token=env-token-S3CR3T ",
        ]],
        requests: Some(1),
        ..NO_CASE
    },
    Case {
        name: "credential_source = Environment without env keys is an error",
        profile: Some("envrole"),
        config: "[profile envrole]\nrole_arn = arn:aws:iam::123456789012:role/from-env\n\
                 credential_source = Environment\n",
        expect: Expect::Error {
            contains: &["credential_source = Environment, but", "AWS_ACCESS_KEY_ID"],
            tried: &[],
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "a source_profile loop is an error listing the loop",
        env: &[("AWS_PROFILE", "a")],
        config: "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n\
                 [profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = c\n\
                 [profile c]\nrole_arn = arn:aws:iam::123456789012:role/c\nsource_profile = a\n",
        expect: Expect::Error {
            contains: &["loop", "a -> b -> c -> a"],
            tried: &[],
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "a missing source_profile is named with its referrer",
        env: &[("AWS_PROFILE", "a")],
        config: "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = nope\n",
        expect: Expect::Error {
            contains: &["could not find source profile 'nope' referenced from 'a'"],
            tried: &[],
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "a profile that is its own source_profile uses its own keys once",
        env: &[("AWS_PROFILE", "selfie")],
        config: "[profile selfie]\nrole_arn = arn:aws:iam::123456789012:role/self\nsource_profile = selfie\n",
        credentials: "[selfie]\naws_access_key_id = AKIDSELF\naws_secret_access_key = self-S3CR3T\n",
        expect: Expect::Found {
            source: "assume role arn:aws:iam::123456789012:role/self",
            akid: "ASIASTUB00000001",
            token: None,
            expiry: None,
        },
        seen: &[&[
            "RoleArn=arn:aws:iam::123456789012:role/self ",
            "signed-by=AKIDSELF ",
        ]],
        requests: Some(1),
        ..NO_CASE
    },
    Case {
        name: "static keys in a source profile beat its own role_arn",
        env: &[("AWS_PROFILE", "top")],
        config: "[profile top]\nrole_arn = arn:aws:iam::123456789012:role/top\nsource_profile = src\n\
                 [profile src]\nrole_arn = arn:aws:iam::123456789012:role/never\nsource_profile = base\n",
        credentials: "[src]\naws_access_key_id = AKIDSRC\naws_secret_access_key = src-S3CR3T\n\
                      [base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-S3CR3T\n",
        expect: Expect::Found {
            source: "assume role arn:aws:iam::123456789012:role/top",
            akid: "ASIASTUB00000001",
            token: None,
            expiry: None,
        },
        seen: &[&[
            "RoleArn=arn:aws:iam::123456789012:role/top ",
            "signed-by=AKIDSRC ",
        ]],
        requests: Some(1),
        ..NO_CASE
    },
    Case {
        name: "STS AccessDenied names the profile, code and request id",
        env: &[("AWS_PROFILE", "denied")],
        config: "[profile denied]\nrole_arn = arn:aws:iam::123456789012:role/denied\nsource_profile = base\n",
        credentials: BASE_KEYS,
        expect: Expect::Error {
            contains: &[
                "role_arn of profile 'denied'",
                "AccessDenied",
                "req-denied-1",
            ],
            tried: &[],
        },
        ..NO_CASE
    },
    // ---- web identity ----------------------------------------------------
    Case {
        name: "web_identity_token_file in a profile: unsigned AssumeRoleWithWebIdentity",
        env: &[("AWS_PROFILE", "wi")],
        config: "[profile wi]\nrole_arn = arn:aws:iam::123456789012:role/web\n\
                 web_identity_token_file = {dir}/token.jwt\nrole_session_name = wi-session\n",
        files: &[("token.jwt", "jwt-S3CR3T-one\n")],
        expect: Expect::Found {
            source: "web identity role arn:aws:iam::123456789012:role/web",
            akid: "ASIASTUB00000001",
            token: Some(Some("sts-token-S3CR3T-1")),
            expiry: None,
        },
        seen: &[&[
            "Action=AssumeRoleWithWebIdentity RoleArn=arn:aws:iam::123456789012:role/web RoleSessionName=wi-session \
             WebIdentityToken=jwt-S3CR3T-one unsigned ",
        ]],
        requests: Some(1),
        ..NO_CASE
    },
    Case {
        name: "AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN; the file is read again on the next resolution",
        env: &[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "{dir}/token.jwt"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web-env"),
        ],
        files: &[("token.jwt", "jwt-S3CR3T-one")],
        expect: Expect::Found {
            source: "web identity role arn:aws:iam::123456789012:role/web-env",
            akid: "ASIASTUB00000001",
            token: None,
            expiry: None,
        },
        seen: &[&[
            "Action=AssumeRoleWithWebIdentity RoleArn=arn:aws:iam::123456789012:role/web-env \
             RoleSessionName=mcp-sigv4-",
            "WebIdentityToken=jwt-S3CR3T-one unsigned ",
        ]],
        after: Some(|run| {
            run.dir.write("token.jwt", "jwt-S3CR3T-two\n");
            let again = run.resolver.resolve().map_err(|e| e.to_string())?;
            let last = summaries(run.stub).pop().unwrap_or_default();
            if !last.contains("WebIdentityToken=jwt-S3CR3T-two ") {
                return Err(format!("expected the rotated token sent, found {last}"));
            }
            (again.credentials.access_key_id() == "ASIASTUB00000002")
                .then_some(())
                .ok_or_else(|| "expected the second STS answer".to_owned())
        }),
        ..NO_CASE
    },
    Case {
        name: "web_identity_token_file without role_arn is an error",
        env: &[("AWS_PROFILE", "wi")],
        config: "[profile wi]\nweb_identity_token_file = {dir}/token.jwt\n",
        files: &[("token.jwt", "jwt-S3CR3T-one")],
        expect: Expect::Error {
            contains: &["role_arn was missing"],
            tried: &[],
        },
        requests: Some(0),
        ..NO_CASE
    },
    // ---- container and IMDS ----------------------------------------------
    Case {
        name: "container full URI with AWS_CONTAINER_AUTHORIZATION_TOKEN",
        env: &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{stub}/creds"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ctr-token-S3CR3T"),
        ],
        expect: Expect::Found {
            source: "container credentials from {stub}/creds",
            akid: "ASIACTR00000001",
            token: Some(Some("ctr-session-S3CR3T")),
            expiry: None,
        },
        seen: &[&["GET /creds ", "authorization=ctr-token-S3CR3T "]],
        requests: Some(1),
        ..NO_CASE
    },
    Case {
        name: "container: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over the literal token",
        env: &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{stub}/creds"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ctr-token-S3CR3T"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "{dir}/ctr-token"),
        ],
        files: &[("ctr-token", "ctr-file-token-S3CR3T\n")],
        expect: Expect::Found {
            source: "container credentials from {stub}/creds",
            akid: "ASIACTR00000001",
            token: None,
            expiry: None,
        },
        seen: &[&["GET /creds ", "authorization=ctr-file-token-S3CR3T "]],
        ..NO_CASE
    },
    Case {
        name: "container: a refused token is an error with a hint, not a fall-through",
        env: &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{stub}/creds"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-S3CR3T"),
        ],
        expect: Expect::Error {
            contains: &[
                "HTTP 403",
                "AccessDenied",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            ],
            tried: &["env", "profile 'default'", "web identity"],
        },
        ..NO_CASE
    },
    Case {
        name: "IMDSv2 through AWS_EC2_METADATA_SERVICE_ENDPOINT: token PUT, role, credentials",
        env: &[
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "{stub}"),
        ],
        expect: Expect::Found {
            source: "EC2 instance metadata (role 'MyRole')",
            akid: "ASIAIMDS00000003",
            token: Some(Some("imds-token-S3CR3T")),
            expiry: None,
        },
        seen: &[
            &["PUT /latest/api/token ", "ttl=21600 "],
            &[
                "GET /latest/meta-data/iam/security-credentials/ ",
                "imds-token=imds-tok-S3CR3T ",
            ],
            &[
                "GET /latest/meta-data/iam/security-credentials/MyRole ",
                "imds-token=imds-tok-S3CR3T ",
            ],
        ],
        requests: Some(3),
        ..NO_CASE
    },
    Case {
        name: "base credentials STS calls expired: the one command that renews them",
        env: &[("AWS_PROFILE", "chain")],
        config: "[profile chain]\nrole_arn = arn:aws:iam::123456789012:role/stale-base\nsource_profile = base\n",
        credentials: BASE_KEYS,
        expect: Expect::Error {
            contains: &[
                "role_arn of profile 'chain': STS AssumeRole of arn:aws:iam::123456789012:role/stale-base failed: ExpiredToken",
                "; put current keys in profile 'base' with `aws configure --profile base`",
            ],
            tried: &[],
        },
        ..NO_CASE
    },
    // ---- nothing -----------------------------------------------------------
    Case {
        name: "nothing anywhere: every source tried with its reason, and a hint",
        expect: Expect::Error {
            contains: &[
                "no credentials found: tried ",
                "env (AWS_ACCESS_KEY_ID not set)",
                "profile 'default' in ",
                "/config and ",
                "/credentials do not exist)",
                "web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)",
                "container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set)",
                "EC2 instance metadata (AWS_EC2_METADATA_DISABLED is true)",
                "; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure`",
            ],
            tried: &[
                "env",
                "profile 'default'",
                "web identity",
                "container",
                "EC2 instance metadata",
            ],
        },
        requests: Some(0),
        ..NO_CASE
    },
    Case {
        name: "nothing in AWS_PROFILE's profile: the hint names that profile",
        env: &[("AWS_PROFILE", "empty")],
        config: "[profile empty]\nregion = us-east-1\n",
        expect: Expect::Error {
            contains: &[
                "no credentials found",
                "profile 'empty' in ",
                "aws configure --profile empty",
                "aws sso login --profile empty",
            ],
            tried: &[
                "env",
                "profile 'empty'",
                "web identity",
                "container",
                "EC2 instance metadata",
            ],
        },
        ..NO_CASE
    },
    // ---- a role on top (--role-arn) -----------------------------------------
    Case {
        name: "--role-arn on top of env keys",
        env: &[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-S3CR3T"),
            ("AWS_REGION", "us-west-2"),
        ],
        role_on_top: Some("arn:aws:iam::123456789012:role/top"),
        expect: Expect::Found {
            source: "assume role arn:aws:iam::123456789012:role/top",
            akid: "ASIASTUB00000001",
            token: Some(Some("sts-token-S3CR3T-1")),
            expiry: None,
        },
        seen: &[&[
            "Action=AssumeRole RoleArn=arn:aws:iam::123456789012:role/top RoleSessionName=mcp-sigv4-",
            "signed-by=AKIDENV scope=us-west-2/sts token=- ",
        ]],
        requests: Some(1),
        ..NO_CASE
    },
    Case {
        name: "--role-arn on top of a profile's static keys",
        profile: Some("dev"),
        credentials: STATIC_DEV,
        role_on_top: Some("arn:aws:iam::123456789012:role/top"),
        expect: Expect::Found {
            source: "assume role arn:aws:iam::123456789012:role/top",
            akid: "ASIASTUB00000001",
            token: None,
            expiry: None,
        },
        seen: &[&[
            "RoleArn=arn:aws:iam::123456789012:role/top ",
            "signed-by=AKIDDEV ",
        ]],
        requests: Some(1),
        ..NO_CASE
    },
    Case {
        name: "--role-arn refused names the base source",
        env: ENV_KEYS,
        role_on_top: Some("arn:aws:iam::123456789012:role/denied"),
        expect: Expect::Error {
            contains: &[
                "--role-arn arn:aws:iam::123456789012:role/denied on top of environment",
                "AccessDenied",
            ],
            tried: &[],
        },
        ..NO_CASE
    },
];

/// The credentials' expiry lies `lo..hi` seconds from now (after a second resolution).
fn expiry_within(run: &Run<'_>, lo: i64, hi: i64) -> Result<(), String> {
    let c = run
        .resolver
        .resolve()
        .map_err(|e| e.to_string())?
        .credentials;
    let left = c.expiry().map(|t| unix_of_system(t) - unix_now());
    match left {
        Some(s) if (lo..=hi).contains(&s) => Ok(()),
        other => Err(format!(
            "expected an expiry {lo}..{hi} s ahead, found {other:?}"
        )),
    }
}

fn fill(text: &str, dir: &TempDir, stub: &Server) -> String {
    let now = unix_now();
    text.replace("{dir}", &dir.str())
        .replace("{stub}", &stub.base())
        .replace("{future}", &rfc3339(now + 8 * 3600))
        .replace("{soon}", &rfc3339(now + 120))
        .replace("{past}", &rfc3339(now - 3600))
}

/// The environment every case starts from.
fn base_env(dir: &TempDir, stub: &Server) -> BTreeMap<String, String> {
    let d = dir.str();
    [
        ("HOME", format!("{d}/home")),
        ("AWS_CONFIG_FILE", format!("{d}/config")),
        ("AWS_SHARED_CREDENTIALS_FILE", format!("{d}/credentials")),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL_STS", stub.base()),
        ("AWS_ENDPOINT_URL_SSO", stub.base()),
        ("AWS_ENDPOINT_URL_SSO_OIDC", stub.base()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Each entry of `expected` matched by a later request than the previous one.
fn match_seen(
    summaries: &[String],
    expected: &[&[&str]],
    dir: &TempDir,
    stub: &Server,
) -> Result<(), String> {
    let mut from = 0;
    for want in expected {
        let want: Vec<String> = want.iter().map(|w| fill(w, dir, stub)).collect();
        match summaries[from..]
            .iter()
            .position(|s| want.iter().all(|w| s.contains(w.as_str())))
        {
            Some(p) => from += p + 1,
            None => {
                return Err(format!(
                    "expected a request (after #{from}) with {want:?}, found:\n      {}",
                    summaries.join("\n      ")
                ));
            }
        }
    }
    Ok(())
}

/// The secret key of `akid` as a case handed it out: its environment, its
/// shared files and scripts (`aws_access_key_id`/`aws_secret_access_key` in one
/// section, `"AccessKeyId"`/`"SecretAccessKey"` in one script), or the stub's
/// own answers (STS `ASIASTUB<n>` → `sts-S3CR3T-<n>`, SSO, IMDS, container).
fn secret_of(case: &Case, akid: &str) -> Option<String> {
    let env = |name: &str| case.env.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    if env("AWS_ACCESS_KEY_ID") == Some(akid) {
        return env("AWS_SECRET_ACCESS_KEY").map(str::to_owned);
    }
    for text in [case.config, case.credentials] {
        for section in text.split('[') {
            let value = |key: &str| {
                section.lines().find_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    (k.trim() == key).then(|| v.trim().to_owned())
                })
            };
            if value("aws_access_key_id").as_deref() == Some(akid) {
                return value("aws_secret_access_key");
            }
        }
    }
    let field = |text: &str, name: &str| {
        let start = text.find(&format!("\"{name}\": \""))? + name.len() + 5;
        text[start..].split('"').next().map(str::to_owned)
    };
    for (_, text) in case.files {
        if field(text, "AccessKeyId").as_deref() == Some(akid) {
            return field(text, "SecretAccessKey");
        }
    }
    let numbered = |prefix: &str| akid.strip_prefix(prefix)?.parse::<u32>().ok();
    if let Some(n) = numbered("ASIASTUB") {
        return Some(format!("sts-S3CR3T-{n}"));
    }
    if let Some(n) = numbered("ASIASSO") {
        return Some(format!("sso-S3CR3T-{n}"));
    }
    numbered("ASIAIMDS")
        .map(|_| "imds-S3CR3T".to_owned())
        .or_else(|| numbered("ASIACTR").map(|_| "ctr-S3CR3T".to_owned()))
}

/// Every SigV4-signed request the stub saw (the STS `AssumeRole` calls) is
/// signed, correctly, for `sts` with the secret of the key it names
/// (`support::SignedBy`, independent of the crate's signer), in the region of
/// its own scope (the cases' `seen` lists pin the region where it matters).
fn check_sts_signatures(case: &Case, stub: &Server) -> Vec<String> {
    let mut failures = Vec::new();
    for seen in stub.requests() {
        let Some(auth) = seen.header("authorization") else {
            continue;
        };
        if !auth.starts_with("AWS4-") {
            continue; // the container endpoint's own authorization token
        }
        let what = summary(&seen);
        let auth = match Authorization::parse(auth) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{what}: {e}"));
                continue;
            }
        };
        let Some(secret) = secret_of(case, &auth.access_key_id) else {
            failures.push(format!(
                "{what}: signed by {}, a key the case did not hand out",
                auth.access_key_id
            ));
            continue;
        };
        let by = SignedBy {
            access_key_id: &auth.access_key_id,
            secret: &secret,
            service: "sts",
            region: &auth.region,
        };
        if let Err(e) = by.check(&seen) {
            failures.push(format!("{what}: {e}"));
        }
    }
    failures
}

fn run_case(case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    let dir = case_dir("case");
    let stub = start_stub();
    if !case.config.is_empty() {
        dir.write("config", &fill(case.config, &dir, &stub));
    }
    if !case.credentials.is_empty() {
        dir.write("credentials", &fill(case.credentials, &dir, &stub));
    }
    for (rel, text) in case.files {
        dir.write(rel, &fill(text, &dir, &stub));
    }
    let mut env = base_env(&dir, &stub);
    for (k, v) in case.env {
        env.insert((*k).to_owned(), fill(v, &dir, &stub));
    }
    let resolver = Resolver::new(Env::from_pairs(env), case.profile.map(str::to_owned))
        .with_role_on_top(case.role_on_top.map(|arn| RoleOnTop {
            role_arn: arn.to_owned(),
            session_name: None,
            external_id: None,
        }));

    let result = resolver.resolve();
    match (&case.expect, &result) {
        (
            Expect::Found {
                source,
                akid,
                token,
                expiry,
            },
            Ok(resolved),
        ) => {
            let c: &Credentials = &resolved.credentials;
            let source = fill(source, &dir, &stub);
            if !c.source().contains(&source) {
                failures.push(format!(
                    "expected source containing {source:?}, found {:?}",
                    c.source()
                ));
            }
            if c.access_key_id() != *akid {
                failures.push(format!(
                    "expected access key id {akid}, found {}",
                    c.access_key_id()
                ));
            }
            if let Some(want) = token {
                let found = c.session_token().map(|t| t.expose().to_owned());
                if found.as_deref() != *want {
                    failures.push(format!("expected session token {want:?}, found {found:?}"));
                }
            }
            if let Some(want) = expiry {
                let found = c.expiry().map(unix_of_system);
                if found != Some(unix_of(want)) {
                    failures.push(format!(
                        "expected expiry {want}, found {:?}",
                        found.map(rfc3339)
                    ));
                }
            }
            let shown = format!("{c:?}");
            if shown.contains(MARKER) {
                failures.push(format!("expected Debug without secrets, found {shown}"));
            }
        }
        (Expect::Error { contains, tried }, Err(e)) => {
            let text = e.to_string();
            for want in *contains {
                let want = fill(want, &dir, &stub);
                if !text.contains(&want) {
                    failures.push(format!(
                        "expected the error to contain {want:?}, found {text:?}"
                    ));
                }
            }
            if !tried.is_empty() {
                let names: Vec<&str> = e.tried.iter().map(|(s, _)| s.as_str()).collect();
                let ok = names.len() == tried.len()
                    && names
                        .iter()
                        .zip(tried.iter())
                        .all(|(n, t)| n.starts_with(t));
                if !ok {
                    failures.push(format!("expected tried {tried:?}, found {names:?}"));
                }
            }
        }
        (Expect::Found { .. }, Err(e)) => {
            failures.push(format!("expected credentials, found error: {e}"))
        }
        (Expect::Error { .. }, Ok(r)) => failures.push(format!(
            "expected an error, found credentials from {} ({})",
            r.credentials.source(),
            r.credentials.access_key_id()
        )),
    }
    if let Err(e) = &result {
        for shown in [e.to_string(), format!("{e:?}")] {
            if shown.contains(MARKER) {
                failures.push(format!("expected no secret in the error, found {shown}"));
            }
        }
    }
    let summaries = summaries(&stub);
    if let Err(why) = match_seen(&summaries, case.seen, &dir, &stub) {
        failures.push(why);
    }
    failures.extend(check_sts_signatures(case, &stub));
    if let Some(n) = case.requests
        && summaries.len() != n
    {
        failures.push(format!(
            "expected {n} stub requests, found {}:\n      {}",
            summaries.len(),
            summaries.join("\n      ")
        ));
    }
    if failures.is_empty()
        && let Some(after) = case.after
        && let Err(why) = after(&Run {
            dir: &dir,
            stub: &stub,
            resolver: &resolver,
        })
    {
        failures.push(format!("after: {why}"));
    }
    failures
}

#[test]
fn chain_cases_over_real_files_and_http() {
    let mut report = Vec::new();
    for case in CASES {
        let failures = run_case(case);
        for f in failures {
            report.push(format!("{}: {f}", case.name));
        }
    }
    assert!(
        report.is_empty(),
        "{} failures in {} chain cases:\n  {}",
        report.len(),
        CASES.len(),
        report.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// CredentialsProvider over time.

/// A `credential_process` script that hands out `AKIDPROC0001`, `AKIDPROC0002`, …
/// (secret `proc-S3CR3T-<n>`), counting its runs in `{dir}/count`; from the
/// second run on it first sleeps `delay` seconds. `expiration`: the
/// `Expiration` field's value, or none.
fn counting_process(dir: &TempDir, delay: &str, expiration: Option<i64>) {
    let exp = expiration
        .map(|t| format!(", \"Expiration\": \"{}\"", rfc3339(t)))
        .unwrap_or_default();
    dir.write(
        "proc.sh",
        &format!(
            "#!/bin/sh\nd=$(dirname \"$0\")\nn=$(cat \"$d/count\" 2>/dev/null || echo 0)\nn=$((n + 1))\n\
             echo \"$n\" > \"$d/count\"\n\
             if [ -e \"$d/fail\" ]; then echo 'the helper is locked' >&2; exit 1; fi\n\
             if [ \"$n\" -ge 2 ]; then sleep {delay}; fi\n\
             printf '{{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC%04d\", \"SecretAccessKey\": \"proc-S3CR3T-%d\"{exp}}}' \"$n\" \"$n\"\n"
        ),
    );
    dir.write(
        "config",
        &format!(
            "[profile proc]\ncredential_process = sh {}/proc.sh\n",
            dir.str()
        ),
    );
}

fn runs(dir: &TempDir) -> u32 {
    dir.read("count")
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn provider(dir: &TempDir, stub: &Server, profile: &str) -> CredentialsProvider {
    let mut env = base_env(dir, stub);
    env.insert("AWS_PROFILE".into(), profile.into());
    CredentialsProvider::new(Resolver::new(Env::from_pairs(env), None))
}

#[test]
fn provider_returns_the_same_arc_while_fresh() {
    let dir = case_dir("fresh");
    let stub = start_stub();
    dir.write("credentials", STATIC_DEV);
    let p = provider(&dir, &stub, "dev");
    let first = p.credentials().expect("expected static keys");
    for _ in 0..5 {
        let again = p.credentials().expect("expected static keys");
        assert!(
            Arc::ptr_eq(&first, &again),
            "expected the same Arc while fresh"
        );
    }
    assert_eq!(first.access_key_id(), "AKIDDEV");
}

#[test]
fn provider_picks_up_a_profile_file_rewritten_on_disk() {
    let dir = case_dir("rewrite");
    let stub = start_stub();
    dir.write("credentials", STATIC_DEV);
    let p = provider(&dir, &stub, "dev");
    let first = p.credentials().expect("expected static keys");
    assert_eq!(first.access_key_id(), "AKIDDEV");
    // Past the file system's timestamp tick; same length, as a key rotation is.
    std::thread::sleep(Duration::from_millis(50));
    dir.write(
        "credentials",
        "[dev]\naws_access_key_id = AKIDNEW\naws_secret_access_key = new-S3CR3T\n",
    );
    let second = p.credentials().expect("expected the new static keys");
    assert_eq!(
        second.access_key_id(),
        "AKIDNEW",
        "expected the rewritten keys"
    );
    assert_eq!(second.secret_access_key().expose(), "new-S3CR3T");
    let third = p.credentials().expect("expected the new static keys");
    assert!(
        Arc::ptr_eq(&second, &third),
        "expected the new keys kept while the file stays"
    );
}

#[test]
fn provider_renews_in_the_background_inside_five_minutes() {
    let dir = case_dir("background");
    let stub = start_stub();
    // Four minutes left: inside the 5-minute window, outside the last minute.
    counting_process(&dir, "2", Some(unix_now() + 240));
    let p = provider(&dir, &stub, "proc");
    let first = p.credentials().expect("expected the first process run");
    assert_eq!(first.access_key_id(), "AKIDPROC0001");

    // The renewal (run 2) sleeps 2 s; the call must not wait for it: had
    // it waited, it would have the renewed credentials.
    let second = p.credentials().expect("expected the current credentials");
    assert!(
        Arc::ptr_eq(&first, &second),
        "expected the old credentials returned at once"
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    let mut slowest = Duration::ZERO;
    let renewed = loop {
        let started = Instant::now();
        let c = p
            .credentials()
            .expect("expected credentials while renewing");
        slowest = slowest.max(started.elapsed());
        if c.access_key_id() != "AKIDPROC0001" {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "expected renewed credentials within 15 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(renewed.access_key_id(), "AKIDPROC0002");
    assert!(
        slowest < Duration::from_secs(1),
        "expected no call to wait, the slowest took {slowest:?}"
    );
    assert!(
        runs(&dir) >= 2,
        "expected at least two process runs, found {}",
        runs(&dir)
    );
}

#[test]
fn provider_waits_inside_the_last_minute() {
    let dir = case_dir("mandatory");
    let stub = start_stub();
    // 30 s left: inside the last minute, so a request waits for new ones.
    counting_process(&dir, "0.4", Some(unix_now() + 30));
    let p = provider(&dir, &stub, "proc");
    let first = p.credentials().expect("expected the first process run");
    assert_eq!(first.access_key_id(), "AKIDPROC0001");
    let started = Instant::now();
    let second = p.credentials().expect("expected renewed credentials");
    let took = started.elapsed();
    assert_eq!(
        second.access_key_id(),
        "AKIDPROC0002",
        "expected the call to return new credentials"
    );
    assert!(
        took >= Duration::from_millis(350),
        "expected the call to wait for the renewal, it took {took:?}"
    );
    assert_eq!(runs(&dir), 2);
}

#[test]
fn provider_invalidate_forces_a_new_resolution() {
    let dir = case_dir("invalidate");
    let stub = start_stub();
    counting_process(&dir, "0", None);
    let p = provider(&dir, &stub, "proc");
    let first = p.credentials().expect("expected the first run");
    let again = p.credentials().expect("expected the cached credentials");
    assert!(
        Arc::ptr_eq(&first, &again),
        "expected no new run without an expiry"
    );
    assert_eq!(runs(&dir), 1);

    p.invalidate(&first);
    let second = p.credentials().expect("expected a new run");
    assert_eq!(second.access_key_id(), "AKIDPROC0002");
    assert_eq!(runs(&dir), 2);

    // Invalidating credentials that are no longer current changes nothing.
    p.invalidate(&first);
    let third = p.credentials().expect("expected the current credentials");
    assert!(
        Arc::ptr_eq(&second, &third),
        "expected a stale invalidate to be ignored"
    );
    assert_eq!(runs(&dir), 2);
}

#[test]
fn provider_picks_up_aws_sso_login_after_an_error() {
    let dir = case_dir("sso-login");
    let stub = start_stub();
    dir.write("config", SSO_CONFIG);
    let p = provider(&dir, &stub, "dev");
    let e = p.credentials().expect_err("expected no token yet");
    assert!(
        e.to_string().contains("aws sso login --profile dev"),
        "expected the login hint, found {e}"
    );

    // The user runs `aws sso login` in another terminal.
    let now = unix_now();
    dir.write(
        &format!("home/.aws/sso/cache/{CACHE_MY_SSO}"),
        &format!(
            "{{\"accessToken\": \"good-S3CR3T-login\", \"expiresAt\": \"{}\"}}",
            rfc3339(now + 8 * 3600)
        ),
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(6);
    let c = loop {
        match p.credentials() {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "expected the new token used within 6 s, found {e}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert!(
        c.source().contains(SSO_SOURCE),
        "expected SSO credentials, found {}",
        c.source()
    );
    let summaries = summaries(&stub);
    assert!(
        summaries
            .iter()
            .any(|s| s.contains("bearer=good-S3CR3T-login ")),
        "expected the portal to see the new token, found {summaries:?}"
    );
}

#[test]
fn provider_holds_an_error_for_two_seconds() {
    let dir = case_dir("hold");
    let stub = start_stub();
    counting_process(&dir, "0", None);
    dir.write("fail", "");
    let p = provider(&dir, &stub, "proc");
    let failed_at = Instant::now();
    let e = p.credentials().expect_err("expected the failing process");
    assert!(e.to_string().contains("failed (exit status: 1)"), "{e}");
    assert!(
        !e.to_string().contains("the helper is locked"),
        "stderr in {e}"
    );
    assert_eq!(runs(&dir), 1);

    // Fixed at once, but within 2 s the held error is given again, without a run.
    std::fs::remove_file(dir.path().join("fail")).expect("expected to remove the flag");
    let held = p.credentials();
    assert!(
        failed_at.elapsed() < Duration::from_millis(1500),
        "the test machine is too slow"
    );
    assert!(
        held.is_err(),
        "expected the error held for 2 s, found credentials"
    );
    assert_eq!(
        runs(&dir),
        1,
        "expected no new process run within 2 s of the failure"
    );

    std::thread::sleep(Duration::from_millis(2100).saturating_sub(failed_at.elapsed()));
    let c = p
        .credentials()
        .expect("expected the chain to run again after 2 s");
    assert_eq!(c.access_key_id(), "AKIDPROC0002");
}

#[test]
fn provider_keeps_valid_credentials_while_an_edit_breaks_the_config_file() {
    let dir = case_dir("broken-edit");
    let stub = start_stub();
    dir.write("credentials", STATIC_DEV);
    dir.write("config", "[profile other]\nregion = us-east-1\n");
    let p = provider(&dir, &stub, "dev");
    let first = p.credentials().expect("expected static keys");
    std::thread::sleep(Duration::from_millis(50));
    dir.write(
        "config",
        "[profile other]\nregion = us-east-1\n[profile half-typed\n",
    );
    let during = p.credentials();
    assert!(
        during.as_ref().is_ok_and(|c| Arc::ptr_eq(c, &first)),
        "expected the cached keys kept while the config file does not parse, found {:?}",
        during.map(|c| c.access_key_id().to_owned())
    );
}

// ---------------------------------------------------------------------------
// Role session names.

/// The `RoleSessionName` of every STS request the stub saw, in order.
fn session_names(stub: &Server) -> Vec<String> {
    stub.requests()
        .iter()
        .filter_map(|s| s.form().get("RoleSessionName").cloned())
        .collect()
}

/// Servers bind an `Mcp-Session-Id` to the caller's principal ARN, and an
/// assumed role's ARN ends in the role session name: a new name at a renewal
/// would make the server forget the session. Every AssumeRole of a resolver,
/// and of the resolvers made from it for other profiles, uses one name —
/// profile role chains, web identity and the role on top, across
/// resolutions.
#[test]
fn one_role_session_name_for_every_assume_role_and_renewal() {
    let dir = case_dir("session-name");
    let stub = start_stub();
    dir.write(
        "config",
        &fill(
            "[profile chain]\nrole_arn = arn:aws:iam::123456789012:role/chained\nsource_profile = base\n\
             [profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\n\
             web_identity_token_file = {dir}/token.jwt\n",
            &dir,
            &stub,
        ),
    );
    dir.write("credentials", BASE_KEYS);
    dir.write("token.jwt", "jwt-S3CR3T");
    let mut env = base_env(&dir, &stub);
    env.insert("AWS_PROFILE".into(), "chain".into());
    let resolver = Resolver::new(Env::from_pairs(env), None).with_role_on_top(Some(RoleOnTop {
        role_arn: "arn:aws:iam::123456789012:role/top".into(),
        session_name: None,
        external_id: None,
    }));
    let provider = CredentialsProvider::new(resolver);
    let first = provider.credentials().expect("expected the role chain");
    std::thread::sleep(Duration::from_millis(20));
    provider.invalidate(&first);
    provider
        .credentials()
        .expect("expected the role chain again");
    let web = provider.resolver().for_profile(Some("web".into()));
    std::thread::sleep(Duration::from_millis(20));
    web.resolve().expect("expected web identity");
    let names = session_names(&stub);
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names[0].starts_with("mcp-sigv4-"), "{names:?}");
    assert!(names.iter().all(|n| *n == names[0]), "{names:?}");
}

/// A name the user gives (`--role-session-name`, else `AWS_ROLE_SESSION_NAME`)
/// replaces the chosen one everywhere; a profile's `role_session_name` still
/// wins for its own role.
#[test]
fn a_named_role_session_is_used_everywhere_but_where_a_profile_names_its_own() {
    let dir = case_dir("session-named");
    let stub = start_stub();
    dir.write(
        "config",
        "[profile chain]\nrole_arn = arn:aws:iam::123456789012:role/chained\nsource_profile = inner\n\
         [profile inner]\nrole_arn = arn:aws:iam::123456789012:role/inner\nsource_profile = base\n\
         role_session_name = inner-own\n",
    );
    dir.write("credentials", BASE_KEYS);
    let mut env = base_env(&dir, &stub);
    env.insert("AWS_PROFILE".into(), "chain".into());
    env.insert("AWS_ROLE_SESSION_NAME".into(), "from-env".into());
    let resolver = Resolver::new(Env::from_pairs(env.clone()), None);
    resolver.resolve().expect("expected the role chain");
    assert_eq!(session_names(&stub), ["inner-own", "from-env"]);
    let resolver =
        Resolver::new(Env::from_pairs(env), None).with_session_name(Some("from-flag".into()));
    resolver.resolve().expect("expected the role chain");
    assert_eq!(
        session_names(&stub)[2..],
        ["inner-own".to_owned(), "from-flag".to_owned()]
    );
}

/// Several profiles in one process (issue: many accounts in one MCP entry):
/// one provider per profile, made from the first, each with its own cache and
/// errors — one profile's failure never blocks another's.
#[test]
fn providers_for_other_profiles_resolve_on_their_own() {
    let dir = case_dir("profiles");
    let stub = start_stub();
    dir.write(
        "config",
        "[profile chain]\nrole_arn = arn:aws:iam::123456789012:role/chained\nsource_profile = base\n",
    );
    dir.write("credentials", &format!("{STATIC_DEV}{BASE_KEYS}"));
    let first = provider(&dir, &stub, "dev");
    let ghost = first.for_profile("ghost");
    let chain = first.for_profile("chain");
    let e = ghost.credentials().expect_err("no such profile");
    assert!(e.to_string().contains("profile 'ghost' not found"), "{e}");
    assert_eq!(first.credentials().unwrap().access_key_id(), "AKIDDEV");
    let c = chain.credentials().expect("the role chain");
    assert_eq!(
        c.source(),
        "assume role arn:aws:iam::123456789012:role/chained"
    );
    assert!(ghost.credentials().is_err());
    assert_eq!(first.credentials().unwrap().access_key_id(), "AKIDDEV");
    assert_eq!(chain.resolver().profile_name(), "chain");
    assert_eq!(
        chain.resolver().session_name(),
        first.resolver().session_name()
    );
}
