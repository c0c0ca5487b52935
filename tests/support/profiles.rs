//! Two AWS profiles for the tests of `--profile a b`: the shared files that
//! define them and a proxy that reads only those files.
//!
//! Owns: the profiles' keys ([`PROFILE_KEYS`]: `a` with static keys, `b` with
//! a session token), the files in a [`TempDir`] ([`profile_files`], with a
//! third profile `nokeys` that gives no credentials), the proxy builder that
//! uses them and nothing from the environment ([`profile_proxy`]), and which
//! key signed a request ([`akid`]).
//! Refuses: reading the user's own AWS files.

use super::{Authorization, KeyPair, Proxy, ProxyBuilder, Seen, Server, TempDir};

/// Profile `a`'s access key id.
pub const AKID_A: &str = "AKIAPROFILEAAAAAAAAA";
/// Profile `a`'s secret key.
pub const SECRET_A: &str = "profileSecretA/K7MDENG+bPxRfiCYzz9Qaaaa";
/// Profile `b`'s access key id.
pub const AKID_B: &str = "ASIAPROFILEBBBBBBBBB";
/// Profile `b`'s secret key.
pub const SECRET_B: &str = "profileSecretB/K7MDENG+bPxRfiCYzz9Qbbbb";
/// Profile `b`'s session token.
pub const TOKEN_B: &str = "ProfileBSessionToken/IQoJb3JpZ2luX2VjEJr+bbbb==";

/// The two profiles' keys: `a` (static keys) is 0, `b` (with a token) is 1.
pub const PROFILE_KEYS: [KeyPair<'static>; 2] = [
    KeyPair {
        access_key_id: AKID_A,
        secret: SECRET_A,
        session_token: None,
    },
    KeyPair {
        access_key_id: AKID_B,
        secret: SECRET_B,
        session_token: Some(TOKEN_B),
    },
];

/// The access key id a request was signed with ("" when it has none).
pub fn akid(s: &Seen) -> String {
    Authorization::parse(s.header("authorization").unwrap_or(""))
        .map(|a| a.access_key_id)
        .unwrap_or_default()
}

/// The shared files: profiles `a` and `b` with their keys, and `nokeys`,
/// which exists but gives no credentials; `home/` is an empty home.
pub fn profile_files() -> TempDir {
    let dir = TempDir::new("profiles");
    dir.mkdir("home");
    dir.write(
        "credentials",
        &format!(
            "[a]\naws_access_key_id = {AKID_A}\naws_secret_access_key = {SECRET_A}\n\n\
             [b]\naws_access_key_id = {AKID_B}\naws_secret_access_key = {SECRET_B}\naws_session_token = {TOKEN_B}\n"
        ),
    );
    dir.write("config", "[profile nokeys]\nregion = us-east-1\n");
    dir
}

/// The proxy for `up` with the shared files in `dir` and only them.
pub fn profile_proxy(up: &Server, dir: &TempDir) -> ProxyBuilder {
    let d = dir.str();
    Proxy::builder(&up.url())
        .without_credentials()
        .env("HOME", &format!("{d}/home"))
        .env("AWS_CONFIG_FILE", &format!("{d}/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", &format!("{d}/credentials"))
}
