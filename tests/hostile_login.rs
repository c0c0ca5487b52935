//! Two `mcp-sigv4` processes (MCP clients start their servers together)
//! sharing one expired `aws login` cache, against an AWS Sign-In stub whose
//! refresh tokens are single-use and whose refresh takes 1 s: the refresh is
//! serialised across processes by the lock beside the cache file, so one
//! refreshes and the other reads the keys it wrote; both sign with them, and
//! the refresh token is spent once.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::{
    LOGIN_CACHE_NAME, LOGIN_SESSION, Proxy, Server, SignIn, TempDir, login_cache_text, p256_key,
    sign_in_stub, unix_now,
};

#[test]
fn two_processes_refreshing_one_login_cache_spend_the_refresh_token_once() {
    let dir = TempDir::new("hostile-login");
    dir.mkdir("home/.aws/login/cache");
    let key = p256_key("dpop hostile-login");
    let state = Arc::new(Mutex::new(SignIn {
        refresh_token: "rt-0-S3CR3T".into(),
        delay: Duration::from_millis(1000),
        ..SignIn::default()
    }));
    let stub = sign_in_stub(&key, Arc::clone(&state));
    let d = dir.str();
    dir.write(
        "config",
        &format!("[profile signin]\nlogin_session = {LOGIN_SESSION}\nregion = us-east-1\n"),
    );
    dir.write("credentials", "");
    let cache = format!("home/.aws/login/cache/{LOGIN_CACHE_NAME}");
    dir.write(
        &cache,
        &login_cache_text(&key, "rt-0-S3CR3T", unix_now() - 10),
    );
    let up = Server::standard();
    let start = || {
        Proxy::builder(&up.url())
            .without_credentials()
            .env("HOME", &format!("{d}/home"))
            .env("AWS_CONFIG_FILE", &format!("{d}/config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", &format!("{d}/credentials"))
            .env("AWS_PROFILE", "signin")
            .env("AWS_ENDPOINT_URL_SIGNIN", &stub.base())
            .start()
    };
    let mut proxies = [start(), start()];
    for p in &mut proxies {
        p.send(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{}}}"#);
    }
    for p in &proxies {
        let line = p
            .recv_timeout(Duration::from_secs(30))
            .expect("an answer from each process");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], 7, "{v}");
        assert!(
            v.get("result").is_some(),
            "both use the refreshed keys: {v}"
        );
    }
    assert_eq!(state.lock().unwrap().refreshed, 1, "one refresh for both");
    let written: Value = serde_json::from_str(&dir.read(&cache).unwrap()).unwrap();
    assert_eq!(
        written["refreshToken"], "rt-1-rotated-S3CR3T",
        "the newest token kept"
    );
    for s in up.requests() {
        let auth = s.header("authorization").unwrap_or("");
        assert!(
            auth.contains("ASIALOGIN0000001"),
            "signed with the refreshed key: {auth}"
        );
    }
    for p in proxies {
        p.finish();
    }
}
