//! Hostile files at the paths the credential chain reads: the built
//! `mcp-sigv4` binary with a FIFO where the shared credentials file (or the
//! config file) should be. Nothing waits for a writer that never comes: the
//! file is refused as not a regular file, every request is answered at once (a
//! ping, a tool call) with the credential error that names the file, and
//! the process ends cleanly.

#![cfg(unix)]

mod support;

use std::time::Duration;

use support::{Proxy, Server, TempDir};

/// Makes a FIFO at `path` with the system's `mkfifo`; false (and says so)
/// when there is none.
fn mkfifo(path: &str) -> bool {
    match std::process::Command::new("mkfifo").arg(path).status() {
        Ok(s) if s.success() => true,
        other => {
            eprintln!("SKIPPED: mkfifo {path} failed ({other:?}); the FIFO case is not tested");
            false
        }
    }
}

#[test]
fn a_fifo_at_a_credential_path_is_refused_without_blocking() {
    for which in ["credentials", "config"] {
        let dir = TempDir::new("hostile-files");
        dir.mkdir("home");
        let d = dir.str();
        let fifo = format!("{d}/{which}");
        if !mkfifo(&fifo) {
            panic!("mkfifo is part of coreutils and must exist on the test machine");
        }
        let other = if which == "credentials" {
            "config"
        } else {
            "credentials"
        };
        dir.write(other, "");
        let up = Server::standard();
        let mut p = Proxy::builder(&up.url())
            .without_credentials()
            .env("HOME", &format!("{d}/home"))
            .env("AWS_CONFIG_FILE", &format!("{d}/config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", &format!("{d}/credentials"))
            .start();
        // A ping is signed too: answered at once, with the same error.
        p.send(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
        let ping: serde_json::Value = serde_json::from_str(
            &p.recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("the ping's answer with a FIFO as the {which} file")),
        )
        .unwrap();
        assert_eq!(ping["id"], 1, "{ping}");
        p.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}"#);
        let line = p
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("an answer with a FIFO as the {which} file"));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], 2, "{v}");
        assert_eq!(v["error"]["code"], -32002, "{which}: {v}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains("not a regular file"), "{which}: {m}");
        p.finish();
    }
}
