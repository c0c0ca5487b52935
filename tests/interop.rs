//! Interop suite: the built `mcp-sigv4` binary between official MCP clients and
//! official MCP servers (Streamable HTTP), with botocore checking every
//! signature. See `tests/interop/README.md`.
//!
//! This test owns only the plumbing, all of it idempotent:
//! - a Python virtual environment under `<target>/interop-venv` built from
//!   `tests/interop/requirements.txt` (`mcp` 1.30.0, the driver's own);
//! - a second one under `<target>/interop-venv-v2` from
//!   `tests/interop/requirements-v2.txt` (`mcp` 2.3.0, which cannot share an
//!   environment with 1.30.0), for the pairing scenarios;
//! - the MCP Inspector, installed with `npm ci` from the committed
//!   `tests/interop/inspector/package.json` and `package-lock.json` into
//!   `tests/interop/inspector/node_modules`;
//!
//! each reused while a stamp of its pinned inputs and of the tool versions
//! matches; and one run of `tests/interop/run_interop.py` whose output streams
//! to the terminal. All the assertions live in the Python driver; this test
//! fails when it does.
//!
//! A second test crosses `aws login` with botocore: the cache file our
//! refresh rewrote (against the Sign-In stub of `support/signin.rs`) is read
//! by botocore's own reader and credential chain, then refreshed by botocore
//! with the rotated refresh token and our file's DPoP key (its proof checked by
//! the stub), and read back by us (`tests/interop/login_crosscheck.py`;
//! `awscrt`, botocore's `crt` extra, from `requirements-login.txt`).
//!
//! Needs `python3` (>= 3.10, with the `venv` module), `node` and `npm`, and
//! access to PyPI and the npm registry the first time. A missing tool is a
//! failure with a hint, never a silent skip. Environment knobs: `INTEROP_PYTHON`
//! (interpreter, default `python3`), `INTEROP_NPM` (default `npm`),
//! `INTEROP_ARGS` (extra driver arguments, e.g. `--scenario pair-v2-v2`).

mod interop_env;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interop_env::{RegistryUnreachable, run_bounded, stamp_for, tool_version};
use mcp_sigv4::credentials::{Env, Resolver};
use support::{
    LOGIN_CACHE_NAME, LOGIN_SESSION, SignIn, TempDir, login_cache_text, p256_key, rfc3339,
    sign_in_stub, unix_now,
};

/// The tests of this file share `target/interop-venv`: one makes it at a time.
static VENV: Mutex<()> = Mutex::new(());

const BINARY: &str = env!("CARGO_BIN_EXE_mcp-sigv4");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const NPM_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const SUITE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const STAMP_FILE: &str = ".interop-stamp";
/// The file whose presence shows `npm ci` finished (stamps are written last).
const INSPECTOR_PACKAGE: &str = "node_modules/@modelcontextprotocol/inspector/package.json";

#[test]
fn interop_official_mcp_sdk_and_botocore() {
    let interop_dir = Path::new(MANIFEST_DIR).join("tests").join("interop");
    let venv_python = {
        let _one = VENV.lock().unwrap_or_else(|e| e.into_inner());
        venv("interop-venv", "requirements.txt")
    };
    let venv_v2_python = venv("interop-venv-v2", "requirements-v2.txt");

    let inspector = interop_dir.join("inspector");
    ensure_inspector(&inspector);

    let mut command = Command::new(&venv_python);
    command
        .arg("-u")
        .arg(interop_dir.join("run_interop.py"))
        .arg("--binary")
        .arg(BINARY)
        .arg("--python-v2")
        .arg(&venv_v2_python)
        .arg("--inspector")
        .arg(&inspector)
        .args(
            std::env::var("INTEROP_ARGS")
                .unwrap_or_default()
                .split_whitespace(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    eprintln!("interop: running {command:?}");
    let status = run_bounded(command, SUITE_TIMEOUT, "the interop driver");
    assert!(
        status.success(),
        "interop suite failed ({status}); the driver's summary above names each failed check, \
         and it keeps the proxy and upstream logs in the directory it prints"
    );
}

/// The main venv, with `awscrt` (botocore's `crt` extra) added from
/// `requirements-login.txt` when it cannot be imported yet.
fn login_venv() -> PathBuf {
    let interop_dir = Path::new(MANIFEST_DIR).join("tests").join("interop");
    let _one = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let venv_python = venv("interop-venv", "requirements.txt");
    let has_crt = Command::new(&venv_python)
        .args(["-c", "import awscrt"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_crt {
        let login = interop_dir.join("requirements-login.txt");
        eprintln!(
            "interop: installing {} beside {}",
            login.display(),
            venv_python.display()
        );
        let status = interop_env::pip_install(&venv_python, &login);
        assert!(
            status.success(),
            "`pip install -r {}` failed ({status})\nhint: it needs access to PyPI",
            login.display()
        );
    }
    venv_python
}

/// What `login_crosscheck.py` printed: botocore's view of the cache file.
fn botocore_reads(python: &Path, dir: &TempDir, stub: &str) -> serde_json::Value {
    let script = Path::new(MANIFEST_DIR).join("tests/interop/login_crosscheck.py");
    let d = dir.str();
    let output = Command::new(python)
        .arg(script)
        .args([LOGIN_SESSION, "signin"])
        .env_clear()
        .env("HOME", format!("{d}/home"))
        .env("AWS_CONFIG_FILE", format!("{d}/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", format!("{d}/credentials"))
        .env("AWS_LOGIN_CACHE_DIRECTORY", format!("{d}/cache"))
        .env("AWS_ENDPOINT_URL_SIGNIN", stub)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .output()
        .expect("running login_crosscheck.py");
    assert!(
        output.status.success(),
        "login_crosscheck.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "login_crosscheck.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// `aws login` across implementations: our refresh rewrites the cache file;
/// botocore reads it (its own reader and its credential chain, no call); once
/// the file says it expired, botocore refreshes with the refresh token we
/// stored and the DPoP key we kept (the stub checks its proof as it checks
/// ours); and we read botocore's file back.
#[test]
fn interop_botocore_reads_and_refreshes_the_aws_login_cache_we_rewrote() {
    let python = login_venv();
    let dir = TempDir::new("login-interop");
    dir.mkdir("home");
    dir.mkdir("cache");
    let key = p256_key("dpop interop");
    let state = Arc::new(Mutex::new(SignIn {
        refresh_token: "rt-0-S3CR3T".into(),
        ..SignIn::default()
    }));
    let stub = sign_in_stub(&key, Arc::clone(&state));
    dir.write(
        "config",
        &format!("[profile signin]\nlogin_session = {LOGIN_SESSION}\nregion = us-east-1\n"),
    );
    let cache = format!("cache/{LOGIN_CACHE_NAME}");
    dir.write(
        &cache,
        &login_cache_text(&key, "rt-0-S3CR3T", unix_now() + 120),
    );
    let d = dir.str();
    let env = Env::from_pairs([
        ("HOME".to_owned(), format!("{d}/home")),
        ("AWS_CONFIG_FILE".to_owned(), format!("{d}/config")),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            format!("{d}/credentials"),
        ),
        ("AWS_LOGIN_CACHE_DIRECTORY".to_owned(), format!("{d}/cache")),
        ("AWS_ENDPOINT_URL_SIGNIN".to_owned(), stub.base()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ("AWS_PROFILE".to_owned(), "signin".to_owned()),
    ]);
    let ours = Resolver::new(env.clone(), None)
        .resolve()
        .expect("our refresh");
    assert_eq!(ours.credentials.access_key_id(), "ASIALOGIN0000001");
    assert_eq!(stub.requests().len(), 1);

    let seen = botocore_reads(&python, &dir, &stub.base());
    eprintln!(
        "interop: botocore {} read the file we rewrote",
        seen["botocore"]
    );
    assert_eq!(seen["cached_access_key"], "ASIALOGIN0000001", "{seen}");
    assert_eq!(seen["cached_account_id"], "012345678910", "{seen}");
    assert_eq!(seen["method"], "login", "{seen}");
    assert_eq!(seen["access_key"], "ASIALOGIN0000001", "{seen}");
    assert_eq!(seen["secret_key"], "login-1-S3CR3T", "{seen}");
    assert_eq!(seen["token"], "login-token-1-S3CR3T", "{seen}");
    assert_eq!(stub.requests().len(), 1, "botocore found them fresh");

    // Later: the file says they expired; botocore refreshes with our rotated token.
    let mut file: serde_json::Value = serde_json::from_str(&dir.read(&cache).unwrap()).unwrap();
    assert_eq!(file["refreshToken"], "rt-1-rotated-S3CR3T");
    file["accessToken"]["expiresAt"] = serde_json::json!(rfc3339(unix_now() - 10));
    dir.write(&cache, &file.to_string());
    let seen = botocore_reads(&python, &dir, &stub.base());
    assert_eq!(seen["access_key"], "ASIALOGIN0000002", "{seen}");
    assert_eq!(stub.requests().len(), 2);
    let bad = state.lock().unwrap().bad_proofs.clone();
    assert!(
        bad.is_empty(),
        "botocore's DPoP proof failed the stub's checks: {bad:?}"
    );

    // And we read botocore's file back, without a call.
    let back = Resolver::new(env, None).resolve().expect("botocore's file");
    assert_eq!(back.credentials.access_key_id(), "ASIALOGIN0000002");
    assert_eq!(stub.requests().len(), 2);
}

/// The pinned MCP Inspector in `<dir>/node_modules`, installed with `npm ci`
/// from the committed lock file; reused while the stamp of package.json,
/// package-lock.json and the node and npm versions matches.
fn ensure_inspector(dir: &Path) {
    let hint = "the inspector-cli scenario runs the MCP Inspector (npm) and needs Node.js and npm: \
                install them (Debian/Ubuntu: apt-get install nodejs npm), or point INTEROP_NPM at npm";
    let npm = std::env::var("INTEROP_NPM").unwrap_or_else(|_| "npm".to_string());
    let node = tool_version("node", hint);
    let npm_version = tool_version(&npm, hint);
    let stamp = stamp_for(
        &[&dir.join("package.json"), &dir.join("package-lock.json")],
        &format!("node {node} npm {npm_version}"),
    );
    let modules = dir.join("node_modules");
    let stamp_path = modules.join(STAMP_FILE);
    if dir.join(INSPECTOR_PACKAGE).is_file()
        && fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
    {
        eprintln!("interop: reusing {} ({})", modules.display(), stamp.trim());
        return;
    }
    eprintln!(
        "interop: installing the MCP Inspector into {} with npm ci (first run, or the lock changed)",
        modules.display()
    );
    let mut install = Command::new(&npm);
    install
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .stdin(Stdio::null());
    let status = run_bounded(install, NPM_TIMEOUT, "npm ci");
    assert!(
        status.success() && dir.join(INSPECTOR_PACKAGE).is_file(),
        "`npm ci` in {} failed ({status})\nhint: the first run needs access to the npm registry",
        dir.display()
    );
    fs::write(&stamp_path, stamp)
        .unwrap_or_else(|e| panic!("expected to write {}: {e}", stamp_path.display()));
}

/// `<target>/<name>` built from `tests/interop/<requirements>` (or reused);
/// its python. PyPI out of reach fails the test: this suite is not skipped.
fn venv(name: &str, requirements: &str) -> PathBuf {
    interop_env::ensure_venv(name, requirements).unwrap_or_else(|RegistryUnreachable(why)| {
        panic!("expected to install tests/interop/{requirements} from PyPI: {why}")
    })
}
