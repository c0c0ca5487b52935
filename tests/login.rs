//! `aws login` console credentials (`login_session`) end to end, over real
//! files and a Sign-In stub on 127.0.0.1 (the test server of `support/`),
//! through the public API (`Resolver`, `CredentialsProvider`).
//!
//! Owns the cases, against the Sign-In stub of `support/signin.rs` (which
//! checks every DPoP proof on its own — signature with the cached key's
//! public key, `htm`, `htu`, `iat`, a fresh `jti` — and the refresh token, and
//! rotates the refresh token on every refresh): a cache still valid (no call at all), one inside
//! the last five minutes (one refresh, the file rewritten with the same
//! permissions, unknown fields kept, the rotated token used next), and one
//! Sign-In refuses (`TOKEN_EXPIRED`: "run `aws login --profile …`", and no
//! second call).
//! Refuses: reaching beyond loopback. Every secret contains `S3CR3T`, and no
//! error text may.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mcp_sigv4::credentials::{CredentialsProvider, Env, Resolver};
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};
use support::{
    CLIENT_ID, LOGIN_CACHE_NAME as CACHE_NAME, LOGIN_SESSION as SESSION, Server, SignIn, TempDir,
    login_cache_text as cache_text, p256_key, pem, rfc3339, sec1_der, sign_in_stub, unix_now,
    unix_of,
};

const MARKER: &str = "S3CR3T";

/// The test's world: files in a temporary directory, the stub, the key.
struct World {
    dir: TempDir,
    stub: Server,
    state: Arc<Mutex<SignIn>>,
    key: SigningKey,
    /// The cache file, relative to `dir`.
    cache: String,
    env: BTreeMap<String, String>,
}

/// How the test names the Sign-In endpoint and the cache folder.
enum Layout {
    /// `~/.aws/login/cache`, `AWS_ENDPOINT_URL_SIGNIN`.
    Default,
    /// `AWS_LOGIN_CACHE_DIRECTORY`, the profile's `services` section.
    Moved,
}

fn world(tag: &str, layout: Layout, expires_in: i64) -> World {
    let dir = TempDir::new(tag);
    dir.mkdir("home");
    let key = p256_key(&format!("dpop {tag}"));
    let state = Arc::new(Mutex::new(SignIn {
        refresh_token: "rt-0-S3CR3T".into(),
        ..SignIn::default()
    }));
    let stub = sign_in_stub(&key, Arc::clone(&state));
    let d = dir.str();
    let mut env: BTreeMap<String, String> = [
        ("HOME", format!("{d}/home")),
        ("AWS_CONFIG_FILE", format!("{d}/config")),
        ("AWS_SHARED_CREDENTIALS_FILE", format!("{d}/credentials")),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_PROFILE", "signin".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut config = format!("[profile signin]\nlogin_session = {SESSION}\nregion = us-east-1\n");
    let cache = match layout {
        Layout::Default => {
            env.insert("AWS_ENDPOINT_URL_SIGNIN".into(), stub.base());
            dir.mkdir("home/.aws/login/cache");
            format!("home/.aws/login/cache/{CACHE_NAME}")
        }
        Layout::Moved => {
            env.insert("AWS_LOGIN_CACHE_DIRECTORY".into(), format!("{d}/moved"));
            config.push_str(&format!(
                "services = local\n\n[services local]\nsignin =\n  endpoint_url = {}\n",
                stub.base()
            ));
            dir.mkdir("moved");
            format!("moved/{CACHE_NAME}")
        }
    };
    dir.write("config", &config);
    dir.write(
        &cache,
        &cache_text(&key, "rt-0-S3CR3T", unix_now() + expires_in),
    );
    World {
        dir,
        stub,
        state,
        key,
        cache,
        env,
    }
}

impl World {
    fn resolver(&self) -> Resolver {
        Resolver::new(Env::from_pairs(self.env.clone()), None)
    }

    fn cache_json(&self) -> Value {
        serde_json::from_str(&self.dir.read(&self.cache).expect("the cache file")).unwrap()
    }

    fn bad_proofs(&self) -> Vec<String> {
        self.state.lock().unwrap().bad_proofs.clone()
    }
}

#[test]
fn a_cache_still_valid_is_used_without_any_call() {
    let w = world("login-valid", Layout::Default, 3600);
    let before = w.dir.read(&w.cache);
    let c = w
        .resolver()
        .resolve()
        .expect("the cached credentials")
        .credentials;
    assert_eq!(c.access_key_id(), "ASIACACHED0000001");
    assert_eq!(c.secret_access_key().expose(), "cached-S3CR3T");
    assert_eq!(c.session_token().unwrap().expose(), "cached-token-S3CR3T");
    assert_eq!(c.source(), "aws login session of profile 'signin'");
    assert!(c.expiry().is_some());
    assert!(w.stub.requests().is_empty(), "no call to Sign-In");
    assert_eq!(w.dir.read(&w.cache), before, "the file is not touched");
}

#[test]
fn inside_the_last_five_minutes_one_refresh_rewrites_the_file_and_rotates_the_token() {
    let w = world("login-refresh", Layout::Moved, 120);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = w.dir.path().join(&w.cache);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let provider = CredentialsProvider::new(w.resolver());
    let c = provider.credentials().expect("refreshed credentials");
    assert_eq!(c.access_key_id(), "ASIALOGIN0000001");
    assert_eq!(c.secret_access_key().expose(), "login-1-S3CR3T");
    assert_eq!(w.stub.requests().len(), 1);
    assert_eq!(w.bad_proofs(), Vec::<String>::new());

    let file = w.cache_json();
    assert_eq!(file["accessToken"]["accessKeyId"], "ASIALOGIN0000001");
    assert_eq!(file["accessToken"]["sessionToken"], "login-token-1-S3CR3T");
    assert_eq!(file["accessToken"]["accountId"], "012345678910");
    let expires = unix_of(file["accessToken"]["expiresAt"].as_str().unwrap());
    assert!(
        (expires - (unix_now() + 900)).abs() <= 5,
        "expiresAt {expires}"
    );
    assert_eq!(file["refreshToken"], "rt-1-rotated-S3CR3T");
    assert_eq!(file["idToken"], "header.id-S3CR3T.signature");
    assert_eq!(file["clientId"], CLIENT_ID);
    assert_eq!(file["dpopKey"], pem("EC PRIVATE KEY", &sec1_der(&w.key)));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.dir.path().join(&w.cache))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "the permissions are kept");
    }
    // The refresh's advisory lock file stays beside the cache (removing it
    // would race another process taking it).
    let left: Vec<_> = std::fs::read_dir(w.dir.path().join("moved"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json.lock"))
        })
        .collect();
    assert_eq!(left.len(), 1, "no temporary file left behind");

    // Fresh for 15 minutes: no second call, from this provider or a new one.
    provider.credentials().unwrap();
    let again = w.resolver().resolve().unwrap().credentials;
    assert_eq!(again.access_key_id(), "ASIALOGIN0000001");
    assert_eq!(w.stub.requests().len(), 1);

    // Later (the file says it expired): the rotated token is the one sent.
    let mut file = w.cache_json();
    file["accessToken"]["expiresAt"] = json!(rfc3339(unix_now() - 10));
    w.dir.write(&w.cache, &file.to_string());
    let third = w
        .resolver()
        .resolve()
        .expect("a second refresh")
        .credentials;
    assert_eq!(third.access_key_id(), "ASIALOGIN0000002");
    assert_eq!(w.stub.requests().len(), 2);
    assert_eq!(
        w.bad_proofs(),
        Vec::<String>::new(),
        "each proof checks, each jti fresh"
    );
    assert_eq!(w.cache_json()["refreshToken"], "rt-2-rotated-S3CR3T");
}

#[test]
fn a_refused_refresh_says_run_aws_login_and_is_not_retried() {
    let w = world("login-refused", Layout::Default, -60);
    w.state.lock().unwrap().refuse = Some("TOKEN_EXPIRED");
    let provider = CredentialsProvider::new(w.resolver());
    let e = provider.credentials().expect_err("an expired session");
    let text = format!("{e} {e:?}");
    assert!(text.contains("run `aws login --profile signin`"), "{text}");
    assert!(text.contains("TOKEN_EXPIRED"), "{text}");
    assert!(
        text.contains("aws login session of profile 'signin'"),
        "{text}"
    );
    assert!(!text.contains(MARKER), "a secret in {text}");
    assert_eq!(w.stub.requests().len(), 1);
    assert_eq!(w.bad_proofs(), Vec::<String>::new());

    // A burst of requests, then later ones: no retry storm.
    for _ in 0..5 {
        assert!(provider.credentials().is_err());
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let e = provider.credentials().expect_err("still expired");
    assert!(
        e.to_string().contains("run `aws login --profile signin`"),
        "{e}"
    );
    assert_eq!(
        w.stub.requests().len(),
        1,
        "the refused refresh token is not sent again"
    );

    // `aws login` in another terminal: the new file is used at once.
    w.dir.write(
        &w.cache,
        &cache_text(&w.key, "rt-new-S3CR3T", unix_now() + 3600),
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let c = provider.credentials().expect("the new session");
    assert_eq!(c.access_key_id(), "ASIACACHED0000001");
    assert_eq!(w.stub.requests().len(), 1);

    // USER_CREDENTIALS_CHANGED reads the same.
    let w = world("login-changed", Layout::Moved, -60);
    w.state.lock().unwrap().refuse = Some("USER_CREDENTIALS_CHANGED");
    let e = w.resolver().resolve().expect_err("changed credentials");
    assert!(e.to_string().contains("USER_CREDENTIALS_CHANGED"), "{e}");
    assert!(
        e.to_string().contains("run `aws login --profile signin`"),
        "{e}"
    );
}

#[test]
fn a_missing_or_broken_cache_file_says_run_aws_login() {
    let w = world("login-missing", Layout::Default, 3600);
    std::fs::remove_file(w.dir.path().join(&w.cache)).unwrap();
    let e = w.resolver().resolve().expect_err("no cache file");
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert!(
        e.to_string().contains("run `aws login --profile signin`"),
        "{e}"
    );
    w.dir.write(
        &w.cache,
        r#"{"accessToken":{"accessKeyId":"A"},"dpopKey":"S3CR3T"}"#,
    );
    let e = w.resolver().resolve().expect_err("a broken cache file");
    assert!(e.to_string().contains("has no \"secretAccessKey\""), "{e}");
    assert!(!e.to_string().contains(MARKER), "{e}");
    assert!(w.stub.requests().is_empty());
}
