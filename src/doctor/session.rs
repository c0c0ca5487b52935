//! `doctor`'s MCP steps: `initialize` and every page of `tools/list` through
//! the relay itself — the same signing, sessions and recovery as a client's
//! requests — fed by in-memory stdin and stdout, then the session ended
//! with the relay's signed DELETE; and the fix for an error it answers.
//! Refuses: waiting without a bound (each answer within `--timeout`, at most
//! 60 s; at most 50 pages).

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Failed, Report, Weight, failed, names_auth_error, renew_hint};
use crate::auth::RequestAuth;
use crate::config::Config;

/// The relay's stdin: lines the doctor writes.
struct Lines {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Lines {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Lines {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.pos = 0;
            // A closed channel is the end of stdin.
            self.buf = self.rx.recv().unwrap_or_default();
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

/// The relay's stdout: whole lines back to the doctor.
struct Out {
    tx: Sender<String>,
    line: Vec<u8>,
}

impl Write for Out {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        for &b in data {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.line).into_owned();
                self.line.clear();
                self.tx
                    .send(line)
                    .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            } else {
                self.line.push(b);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits for the answer to request `id`, passing over anything else the
/// server sends (notifications, its own requests).
fn answer(lines: &Receiver<String>, id: i64, limit: Duration) -> Option<Value> {
    let end = Instant::now() + limit;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        let line = lines.recv_timeout(left).ok()?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v.get("id").and_then(Value::as_i64) == Some(id)
            && (v.get("result").is_some() || v.get("error").is_some())
        {
            return Some(v);
        }
    }
}

/// Whole minutes of a clock difference in seconds, rounded (the `Date`
/// header has whole seconds and the request takes some).
pub(super) fn minutes(seconds: i64) -> i64 {
    (seconds.abs() + 30) / 60
}

/// A failed step for the JSON-RPC error `e` the relay gave a request: the
/// error's code and message, the fix, and [`Weight::Named`] when the server
/// named an authentication error.
fn rpc_failure(e: &Value, skew: Option<i64>, source: &str, profile: &str) -> Failed {
    let mut f = failed(
        format!(
            "error {}: {}",
            e.get("code").unwrap_or(&Value::Null),
            crate::text::clean(e.get("message").and_then(Value::as_str).unwrap_or(""), 600)
        ),
        error_hint(e, skew, source, profile),
    );
    let kind = e
        .pointer("/data/awsErrorType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if names_auth_error(kind) {
        f.weight = Weight::Named;
    }
    f
}

/// The fix for a JSON-RPC error the relay gave a request.
fn error_hint(error: &Value, skew: Option<i64>, source: &str, profile: &str) -> String {
    let data = error.get("data").cloned().unwrap_or(Value::Null);
    let kind = data
        .get("awsErrorType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let status = data.get("httpStatus").and_then(Value::as_u64);
    if matches!(kind, "SignatureDoesNotMatch" | "InvalidSignatureException")
        && skew.is_some_and(|s| s.abs() >= 300)
    {
        let s = skew.unwrap_or(0);
        return format!(
            "the local clock is {} min {} the server's: sync it (e.g. `timedatectl set-ntp true`, or your OS's time settings) and retry",
            minutes(s),
            if s > 0 { "behind" } else { "ahead of" }
        );
    }
    if matches!(kind, "ExpiredToken" | "ExpiredTokenException") {
        return format!(
            "the credentials have expired: {}",
            renew_hint(source, profile)
        );
    }
    if let Some(h) = data.get("hint").and_then(Value::as_str) {
        return h.to_owned();
    }
    match status {
        Some(403) => "AWS refused the request: check that these credentials may call this endpoint, and --service/--region".into(),
        Some(s) => format!("the server answered HTTP {s}; see the message above"),
        None => "see the message above".into(),
    }
}

/// `initialize` and `tools/list` through the relay itself, then the session
/// is ended (stdin closes: the relay sends its signed DELETE).
pub(super) fn mcp_session(
    report: &mut Report,
    config: Config,
    auth: RequestAuth,
    skew: Option<i64>,
    source: &str,
    profile: &str,
) {
    let limit = config.timeouts.exchange.min(Duration::from_secs(60));
    let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>();
    let (out_tx, out_rx) = mpsc::channel::<String>();
    let input = Lines {
        rx: in_rx,
        buf: Vec::new(),
        pos: 0,
    };
    let output = Out {
        tx: out_tx,
        line: Vec::new(),
    };
    let relay = std::thread::spawn(move || {
        crate::relay::run(
            config.endpoint,
            config.timeouts,
            config.relay,
            auth,
            Some(crate::random::random_id()),
            input,
            output,
        )
    });
    let send = |v: Value| {
        let mut line = serde_json::to_vec(&v).expect("JSON serializes");
        line.push(b'\n');
        let _ = in_tx.send(line);
    };

    let started = Instant::now();
    send(
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},
        "clientInfo":{"name":"mcp-sigv4-doctor","version":env!("CARGO_PKG_VERSION")}}}),
    );
    let init = answer(&out_rx, 1, limit);
    let init_ok = match &init {
        Some(v) if v.get("result").is_some() => {
            let r = &v["result"];
            let name = r
                .pointer("/serverInfo/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let version = r
                .pointer("/serverInfo/version")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let revision = r
                .get("protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("?");
            report.push(
                "initialize",
                started,
                Ok(format!("server {name} {version}, protocol {revision}")),
            );
            true
        }
        Some(v) => {
            report.push(
                "initialize",
                started,
                Err(rpc_failure(&v["error"], skew, source, profile)),
            );
            false
        }
        None => {
            report.push(
                "initialize",
                started,
                Err(failed(
                    format!("no answer within {} s", limit.as_secs()),
                    "the endpoint accepted the connection but did not answer: check that it is an MCP (Streamable HTTP) endpoint, or raise --timeout",
                )),
            );
            false
        }
    };

    if init_ok {
        send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        let started = Instant::now();
        let mut tools = 0usize;
        let mut read_only = 0usize;
        let mut cursor: Option<Value> = None;
        let mut outcome = Ok(());
        // Bounded: at most 50 pages.
        for page in 0..50i64 {
            let id = 2 + page;
            let mut params = json!({});
            if let Some(c) = &cursor {
                params["cursor"] = c.clone();
            }
            send(json!({"jsonrpc":"2.0","id":id,"method":"tools/list","params":params}));
            match answer(&out_rx, id, limit) {
                Some(v) if v.get("result").is_some() => {
                    let list = v.pointer("/result/tools").and_then(Value::as_array);
                    for t in list.into_iter().flatten() {
                        tools += 1;
                        if t.pointer("/annotations/readOnlyHint") == Some(&Value::Bool(true)) {
                            read_only += 1;
                        }
                    }
                    cursor = v
                        .pointer("/result/nextCursor")
                        .filter(|c| !c.is_null())
                        .cloned();
                    if cursor.is_none() {
                        break;
                    }
                }
                Some(v) => {
                    outcome = Err(rpc_failure(&v["error"], skew, source, profile));
                    break;
                }
                None => {
                    outcome = Err(failed(
                        format!("no answer within {} s", limit.as_secs()),
                        "the server took the session but did not list its tools; raise --timeout or check the server's logs",
                    ));
                    break;
                }
            }
        }
        report.push(
            "tools/list",
            started,
            outcome.map(|()| format!("{tools} tools, {read_only} read-only (readOnlyHint)")),
        );
    } else {
        report.skip("tools/list", "needs an initialized session");
    }
    // The end of stdin: the relay ends the session with a signed DELETE.
    drop(in_tx);
    let _ = relay.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_expiry_hints() {
        let e =
            json!({"code":-32000,"data":{"httpStatus":403,"awsErrorType":"SignatureDoesNotMatch"}});
        let h = error_hint(&e, Some(-420), "environment", "dev");
        assert!(h.contains("7 min ahead of the server's"), "{h}");
        let h = error_hint(&e, Some(10), "environment", "dev");
        assert!(!h.contains("clock"), "{h}");
        let e =
            json!({"code":-32000,"data":{"httpStatus":403,"awsErrorType":"ExpiredTokenException"}});
        assert!(
            error_hint(&e, None, "profile 'dev' (SSO)", "dev")
                .contains("aws sso login --profile dev")
        );
        assert!(
            error_hint(&e, None, "profile 'dev' (aws login)", "dev")
                .contains("aws login --profile dev")
        );
    }
}
