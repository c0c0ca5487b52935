//! Build script (named in Cargo.toml's `package.build`, kept under `src/` so
//! the top level stays as the project keeps it): embeds the git commit for
//! `mcp-sigv4 --version`.
//!
//! The commit comes from `MCP_SIGV4_COMMIT` when the builder sets it (a
//! source archive has no `.git`), else from `git rev-parse` in a checkout;
//! without either, `--version` says `commit unknown`. Nothing else about the
//! machine enters the binary, so two builds of one commit stay identical.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=MCP_SIGV4_COMMIT");
    if let Ok(commit) = std::env::var("MCP_SIGV4_COMMIT") {
        println!("cargo:rustc-env=MCP_SIGV4_COMMIT={commit}");
        return;
    }
    // Rebuild when HEAD moves: HEAD itself, and the branch it points at.
    for path in [git(&["rev-parse", "--git-path", "HEAD"])]
        .into_iter()
        .chain([git(&["symbolic-ref", "-q", "HEAD"])
            .and_then(|r| git(&["rev-parse", "--git-path", &r]))])
        .flatten()
    {
        println!("cargo:rerun-if-changed={path}");
    }
    if let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) {
        println!("cargo:rustc-env=MCP_SIGV4_COMMIT={commit}");
    }
}
