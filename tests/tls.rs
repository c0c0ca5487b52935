//! Corporate TLS: every HTTPS client the proxy makes trusts the CA bundle the
//! user names (`AWS_CA_BUNDLE`, `--ca-bundle`, the profile's `ca_bundle`),
//! over real TLS on 127.0.0.1 with a private CA the test makes
//! (`support/tls.rs`): STS for a role chain, the IAM Identity Center OIDC and
//! portal endpoints, and the MCP endpoint itself; and a certificate from a CA
//! nobody named fails with a message that says the fix.
//!
//! Each test drives the built binary (`support/proxy.rs`) with no AWS
//! credentials of the harness's own: the credentials come from the files the
//! test writes, and the upstream MCP server sees a request signed with the
//! keys the TLS stub handed out.
//! Refuses: reaching beyond loopback.

mod support;

use serde_json::Value;
use support::{
    Proxy, ProxyBuilder, Reply, Seen, Server, TempDir, TestCa, rfc3339, standard_reply, unix_now,
};

/// Every secret in these fixtures contains this; stderr must not.
const MARKER: &str = "S3CR3T";

/// The SHA-1 of the `sso_session` name `my-sso`: the cache file name `aws sso
/// login` writes (botocore `SSOTokenLoader._generate_cache_key`).
const CACHE_MY_SSO: &str = "0ad374308c5a4e22f723adf10145eafad7c4031c.json";

/// STS (AssumeRole), the IAM Identity Center OIDC (`POST /token`) and portal
/// (`GET /federation/credentials`) on one stub.
fn aws_stub(seen: &Seen) -> Reply {
    let now = unix_now();
    let path = seen.target.split('?').next().unwrap_or("");
    if seen.form().get("Action").map(String::as_str) == Some("AssumeRole") {
        let session = seen
            .form()
            .get("RoleSessionName")
            .cloned()
            .unwrap_or_default();
        return Reply::body(
            200,
            "text/xml",
            format!(
                "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                 <Credentials><AccessKeyId>ASIATLSSTS000001</AccessKeyId>\
                 <SecretAccessKey>tls-sts-S3CR3T</SecretAccessKey>\
                 <SessionToken>tls-sts-token-S3CR3T</SessionToken>\
                 <Expiration>{}</Expiration></Credentials>\
                 <AssumedRoleUser><AssumedRoleId>AROATLS:{session}</AssumedRoleId>\
                 <Arn>arn:aws:sts::123456789012:assumed-role/tls/{session}</Arn></AssumedRoleUser>\
                 </AssumeRoleResult></AssumeRoleResponse>",
                rfc3339(now + 3600)
            ),
        );
    }
    match (seen.method.as_str(), path) {
        ("POST", "/token") => Reply::json(
            200,
            r#"{"accessToken":"good-S3CR3T-refreshed","expiresIn":28800,"tokenType":"Bearer"}"#,
        ),
        ("GET", "/federation/credentials")
            if seen.header("x-amz-sso_bearer_token") == Some("good-S3CR3T-refreshed") =>
        {
            Reply::json(
                200,
                format!(
                    r#"{{"roleCredentials":{{"accessKeyId":"ASIATLSSSO000001","secretAccessKey":"tls-sso-S3CR3T","sessionToken":"tls-sso-token-S3CR3T","expiration":{}}}}}"#,
                    (now + 3600) * 1000
                ),
            )
        }
        _ => Reply::json(400, r#"{"message":"unexpected request"}"#)
            .header("x-amzn-errortype", "BadRequest"),
    }
}

/// A directory with the CA bundle (`ca.pem`), the two shared files and a
/// `home/`.
fn files(ca: &TestCa, config: &str, credentials: &str) -> TempDir {
    let dir = TempDir::new("tls");
    dir.mkdir("home");
    dir.write("ca.pem", &ca.ca_pem());
    dir.write("config", &config.replace("{dir}", &dir.str()));
    dir.write("credentials", credentials);
    dir
}

/// The proxy for `up`, reading only the files in `dir`.
fn proxy(up: &Server, dir: &TempDir, profile: &str) -> ProxyBuilder {
    let d = dir.str();
    Proxy::builder(&up.url())
        .without_credentials()
        .env("HOME", &format!("{d}/home"))
        .env("AWS_CONFIG_FILE", &format!("{d}/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", &format!("{d}/credentials"))
        .env("AWS_PROFILE", profile)
}

/// The access key id of the `Authorization` header of the upstream's POSTs.
fn signed_by(up: &Server) -> Vec<String> {
    up.matching(|s| s.method == "POST")
        .iter()
        .map(|s| {
            s.header("authorization")
                .and_then(|a| a.split("Credential=").nth(1))
                .and_then(|c| c.split('/').next())
                .unwrap_or("unsigned")
                .to_owned()
        })
        .collect()
}

const ROLE_CHAIN: &str = "[profile chain]\nrole_arn = arn:aws:iam::123456789012:role/tls\n\
                          source_profile = base\nregion = us-east-1\n";
const BASE_KEYS: &str =
    "[base]\naws_access_key_id = AKIDTLSBASE\naws_secret_access_key = base-S3CR3T\n";

/// The role chain's STS call over TLS: `bundle` says how the CA is named.
fn sts_through_the_bundle(config_extra: &str, env_bundle: bool) {
    let ca = TestCa::new("sts");
    let sts = Server::start_tls(&ca, aws_stub);
    let up = Server::start(standard_reply);
    let dir = files(&ca, &format!("{ROLE_CHAIN}{config_extra}"), BASE_KEYS);
    let mut builder = proxy(&up, &dir, "chain").env("AWS_ENDPOINT_URL_STS", &sts.base());
    if env_bundle {
        builder = builder.env("AWS_CA_BUNDLE", &format!("{}/ca.pem", dir.str()));
    }
    let mut p = builder.start();
    let init = p.handshake();
    assert!(init.get("result").is_some(), "{init}");
    let stderr = p.finish();
    assert!(!stderr.contains(MARKER), "a secret on stderr:\n{stderr}");
    assert_eq!(sts.requests().len(), 1, "one AssumeRole over TLS");
    let keys = signed_by(&up);
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| k == "ASIATLSSTS000001"), "{keys:?}");
}

#[test]
fn sts_over_https_with_a_private_ca_named_by_aws_ca_bundle() {
    sts_through_the_bundle("", true);
}

#[test]
fn sts_over_https_with_a_private_ca_named_by_the_profiles_ca_bundle() {
    sts_through_the_bundle("ca_bundle = {dir}/ca.pem\n", false);
}

#[test]
fn sso_oidc_and_portal_over_https_through_the_bundle() {
    let ca = TestCa::new("sso");
    let sso = Server::start_tls(&ca, aws_stub);
    let up = Server::start(standard_reply);
    let dir = files(
        &ca,
        "[profile dev]\nsso_session = my-sso\nsso_account_id = 111122223333\nsso_role_name = ReadOnly\n\
         region = us-east-1\n\n[sso-session my-sso]\nsso_region = us-east-1\n\
         sso_start_url = https://d-abc123.awsapps.com/start\n",
        "",
    );
    dir.mkdir("home/.aws/sso/cache");
    let now = unix_now();
    // Expiring within five minutes: the OIDC refresh comes first.
    dir.write(
        &format!("home/.aws/sso/cache/{CACHE_MY_SSO}"),
        &format!(
            r#"{{"startUrl":"https://d-abc123.awsapps.com/start","region":"us-east-1","accessToken":"old-S3CR3T","expiresAt":"{}","clientId":"cid","clientSecret":"cs-S3CR3T","registrationExpiresAt":"{}","refreshToken":"rt-S3CR3T"}}"#,
            rfc3339(now + 60),
            rfc3339(now + 86_400)
        ),
    );
    let mut p = proxy(&up, &dir, "dev")
        .env("AWS_ENDPOINT_URL_SSO", &sso.base())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", &sso.base())
        .env("AWS_CA_BUNDLE", &format!("{}/ca.pem", dir.str()))
        .start();
    let init = p.handshake();
    assert!(init.get("result").is_some(), "{init}");
    p.finish();
    let paths: Vec<String> = sso.requests().iter().map(|s| s.target.clone()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert_eq!(paths[0], "/token");
    assert!(
        paths[1].starts_with("/federation/credentials?"),
        "{paths:?}"
    );
    let keys = signed_by(&up);
    assert!(keys.iter().all(|k| k == "ASIATLSSSO000001"), "{keys:?}");
}

#[test]
fn the_mcp_endpoint_over_https_through_ca_bundle() {
    let ca = TestCa::new("mcp");
    let up = Server::start_tls(&ca, standard_reply);
    let dir = TempDir::new("tls-mcp");
    dir.write("ca.pem", &ca.ca_pem());
    let bundle = format!("{}/ca.pem", dir.str());
    let mut p = Proxy::start(&up.url(), &["--ca-bundle", &bundle]);
    let init = p.handshake();
    assert!(init.get("result").is_some(), "{init}");
    p.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#);
    assert_eq!(p.recv_json()["id"], 2);
    p.finish();
    assert!(up.url().starts_with("https://127.0.0.1:"));
    assert!(up.matching(|s| s.method == "POST").len() >= 3);
}

/// The message an untrusted certificate gives names the fix.
fn assert_names_the_fix(message: &str) {
    assert!(
        message.contains("set AWS_CA_BUNDLE or --ca-bundle"),
        "expected the fix in {message:?}"
    );
}

#[test]
fn an_unknown_ca_fails_and_says_set_aws_ca_bundle_or_ca_bundle() {
    let ca = TestCa::new("unknown");
    // The MCP endpoint.
    let up = Server::start_tls(&ca, standard_reply);
    let mut p = Proxy::start(&up.url(), &[]);
    p.send(support::INITIALIZE);
    let answer: Value = p.recv_json();
    assert_eq!(answer["id"], 1, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert_names_the_fix(message);
    drop(p);
    assert!(up.requests().is_empty(), "nothing reached the server");

    // STS for a role chain: the credential error says it too.
    let sts = Server::start_tls(&ca, aws_stub);
    let plain = Server::start(standard_reply);
    let dir = files(&ca, ROLE_CHAIN, BASE_KEYS);
    let mut p = proxy(&plain, &dir, "chain")
        .env("AWS_ENDPOINT_URL_STS", &sts.base())
        .start();
    p.send(support::INITIALIZE);
    let answer: Value = p.recv_json();
    assert_eq!(answer["error"]["code"], -32002, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert_names_the_fix(message);
    assert!(message.contains("STS AssumeRole"), "{message}");
    assert!(
        !message.contains("check network access"),
        "a TLS trust failure is not sent to the network: {message}"
    );
    assert!(
        answer["error"]["data"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("AWS_CA_BUNDLE, --ca-bundle or the profile's ca_bundle")),
        "{answer}"
    );
    drop(p);
    assert!(plain.requests().is_empty(), "nothing was sent unsigned");
}

/// The container credential endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`,
/// any host over `https://`) over TLS with a private CA: the bundle reaches
/// that client too, the token file's value is sent as `Authorization`, and
/// the MCP endpoint sees requests signed with the keys it handed out; without
/// the bundle the credential error names the fix and nothing is signed.
#[test]
fn container_credentials_over_https_through_aws_ca_bundle() {
    let ca = TestCa::new("container");
    let creds = Server::start_tls(&ca, |s| {
        if s.target != "/creds" || s.header("authorization") != Some("container-S3CR3T-token") {
            return Reply::json(401, r#"{"message":"unexpected request"}"#);
        }
        Reply::json(
            200,
            format!(
                r#"{{"AccessKeyId":"ASIATLSCONTAINER01","SecretAccessKey":"tls-container-S3CR3T","Token":"tls-container-token-S3CR3T","Expiration":"{}"}}"#,
                rfc3339(unix_now() + 3600)
            ),
        )
    });
    let dir = files(&ca, "", "");
    dir.write("token", "container-S3CR3T-token");
    let with = |up: &Server, bundle: bool| {
        let d = dir.str();
        let mut b = proxy(up, &dir, "default")
            .env("AWS_REGION", "us-east-1")
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("{}/creds", creds.base()),
            )
            .env(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                &format!("{d}/token"),
            );
        if bundle {
            b = b.env("AWS_CA_BUNDLE", &format!("{d}/ca.pem"));
        }
        b.start()
    };

    let up = Server::start(standard_reply);
    let mut p = with(&up, true);
    let init = p.handshake();
    assert!(init.get("result").is_some(), "{init}");
    let stderr = p.finish();
    assert!(!stderr.contains(MARKER), "a secret on stderr:\n{stderr}");
    assert!(
        !creds.requests().is_empty(),
        "the container endpoint was asked"
    );
    let keys = signed_by(&up);
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| k == "ASIATLSCONTAINER01"), "{keys:?}");

    let up = Server::start(standard_reply);
    let mut p = with(&up, false);
    p.send(support::INITIALIZE);
    let answer: Value = p.recv_json();
    assert_eq!(answer["error"]["code"], -32002, "{answer}");
    assert_names_the_fix(answer["error"]["message"].as_str().unwrap_or_default());
    let stderr = p.finish();
    assert!(!stderr.contains(MARKER), "a secret on stderr:\n{stderr}");
    assert!(
        up.requests().is_empty(),
        "nothing unsigned reached the server"
    );
}
