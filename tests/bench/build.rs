//! Records what the figures depend on, for the report header: the compiler that
//! built the benchmark, the versions of the crates compared, and the mcp-sigv4
//! commit. Each falls back to "unknown" rather than failing the build.

use std::env;
use std::fs;
use std::path::Path;
use std::process::Command;

fn main() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc_version = run(&rustc, &["-V"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={rustc_version}");

    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock = fs::read_to_string(Path::new(&dir).join("Cargo.lock")).unwrap_or_default();
    for (krate, var) in [
        ("aws-sigv4", "BENCH_AWS_SIGV4_VERSION"),
        ("p256", "BENCH_P256_VERSION"),
        ("sha2", "BENCH_SHA2_VERSION"),
    ] {
        let version = locked_version(&lock, krate).unwrap_or_else(|| "unknown".to_owned());
        println!("cargo:rustc-env={var}={version}");
    }
    println!("cargo:rerun-if-changed=Cargo.lock");

    // The commit of the signer under test, "+dirty" when src/ has local changes;
    // BENCH_MCP_SIGV4_COMMIT names it when building from an export without .git.
    println!("cargo:rerun-if-env-changed=BENCH_MCP_SIGV4_COMMIT");
    if let Ok(commit) = env::var("BENCH_MCP_SIGV4_COMMIT") {
        println!("cargo:rustc-env=BENCH_MCP_SIGV4_COMMIT={commit}");
        return;
    }
    let root = Path::new(&dir).join("../..");
    let root = root.to_str().unwrap_or("../..");
    let commit = run("git", &["-C", root, "rev-parse", "--short", "HEAD"])
        .map(|c| {
            let dirty = run("git", &["-C", root, "status", "--porcelain", "--", "src"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}+dirty") } else { c }
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BENCH_MCP_SIGV4_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../../src");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
}

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The version of `krate` in a Cargo.lock (the first entry if several).
fn locked_version(lock: &str, krate: &str) -> Option<String> {
    let name_line = format!("name = \"{krate}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == name_line {
            let version = lines.next()?.strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_owned());
        }
    }
    None
}
