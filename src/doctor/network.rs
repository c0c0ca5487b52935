//! `doctor`'s network steps: DNS, TCP and TLS to the endpoint (or the proxy
//! the environment names), then one verified, unsigned request for the
//! certificate chain's trust and the server's clock.
//! Refuses: sending anything signed (the MCP session is `session.rs`'s).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime};

use super::{Report, Status, Step, failed};
use crate::config::Config;
use crate::http::{Client, ClientSettings, Method, RequestTimeouts, probe};

/// The proxy that applies to `host` from the environment (`HTTPS_PROXY`,
/// `ALL_PROXY`, honouring `NO_PROXY`), as `host:port`.
fn proxy_for(host: &str, https: bool) -> Option<String> {
    let get = |n: &str| {
        std::env::var(n)
            .ok()
            .or_else(|| std::env::var(n.to_ascii_lowercase()).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let no_proxy = get("NO_PROXY").unwrap_or_default();
    let bare = host.trim_matches(['[', ']']);
    let excluded = no_proxy.split(',').map(str::trim).any(|p| {
        p == "*"
            || (!p.is_empty()
                && (bare == p.trim_start_matches('.')
                    || bare.ends_with(&format!(".{}", p.trim_start_matches('.')))))
    });
    if excluded {
        return None;
    }
    let proxy = if https {
        get("HTTPS_PROXY")
    } else {
        get("HTTP_PROXY")
    }
    .or_else(|| get("ALL_PROXY"))?;
    let rest = proxy.split_once("://").map_or(proxy.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    Some(if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    })
}

/// DNS, TCP and TLS to the endpoint (or its proxy), then an unsigned request
/// over the verified connection for the server's clock. Returns the clock
/// difference (server minus local, seconds) when the server sent a `Date`.
pub(super) fn network(report: &mut Report, config: &Config) -> Option<i64> {
    let e = &config.endpoint;
    let https = e.scheme == "https";
    let port = e.port.unwrap_or(if https { 443 } else { 80 });
    let host = e.host.trim_matches(['[', ']']).to_owned();
    let proxy = proxy_for(&e.host, https);
    let connect = config.timeouts.connect.min(Duration::from_secs(15));
    let (target, via) = match &proxy {
        Some(p) => (p.clone(), format!(" (the proxy from the environment, {p})")),
        None => (format!("{}:{port}", e.host), String::new()),
    };

    let started = Instant::now();
    let addrs: Vec<SocketAddr> = match target.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(err) => {
            report.push(
                "dns",
                started,
                Err(failed(
                    format!("cannot resolve {target}{via}: {err}"),
                    "check the host name in the endpoint URL, your DNS, and the VPN or proxy your network needs",
                )),
            );
            report.skip("tcp", "needs an address");
            report.skip("tls", "needs a connection");
            return None;
        }
    };
    let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
    report.push(
        "dns",
        started,
        Ok(format!("{target}{via} → {}", shown.join(", "))),
    );

    let started = Instant::now();
    let mut last = None;
    let mut stream = None;
    for a in addrs.iter().take(4) {
        match TcpStream::connect_timeout(a, connect) {
            Ok(s) => {
                stream = Some((s, *a));
                break;
            }
            Err(err) => last = Some(format!("{a}: {err}")),
        }
    }
    let Some((stream, addr)) = stream else {
        report.push(
            "tcp",
            started,
            Err(failed(
                format!(
                    "cannot connect to {target}{via}: {}",
                    last.unwrap_or_default()
                ),
                "check that the endpoint is reachable from here (firewall, VPN, HTTPS_PROXY) and the port is right",
            )),
        );
        report.skip("tls", "needs a connection");
        return None;
    };
    report.push("tcp", started, Ok(format!("connected to {addr}{via}")));

    let started = Instant::now();
    let roots = match config.relay.tls.bundle_len() {
        Some(n) => format!("trusting {n} certificate(s) from the CA bundle"),
        None => "trusting the built-in roots".to_owned(),
    };
    let shown = if !https {
        drop(stream);
        None
    } else if proxy.is_some() {
        // Through a proxy the raw handshake would be with the proxy; the
        // verified request below goes through it with CONNECT.
        drop(stream);
        Some(format!("through the proxy; {roots}"))
    } else {
        match probe::peer_info(stream, &host, connect) {
            Ok(p) => Some(format!(
                "{}, certificate {} issued by {}; {roots}",
                p.version,
                p.subject.as_deref().unwrap_or("(no readable subject)"),
                p.issuer.as_deref().unwrap_or("(no readable issuer)")
            )),
            Err(err) => {
                report.push(
                    "tls",
                    started,
                    Err(failed(
                        format!("TLS with {host}: {err}"),
                        "check that the endpoint speaks HTTPS on this port; behind a TLS-inspecting proxy set AWS_CA_BUNDLE or --ca-bundle",
                    )),
                );
                return None;
            }
        }
    };
    // A verified, unsigned request: the chain is trusted (or not), and the
    // server's Date tells how far our clock is.
    let client = Client::new(
        ClientSettings {
            connect,
            write: connect,
            max_body: 64 << 10,
            max_header: crate::http::DEFAULT_MAX_HEADER,
            env_proxy: true,
        },
        &config.relay.tls,
    );
    let timeouts = RequestTimeouts {
        response: Duration::from_secs(15),
        per_read: Some(Duration::from_secs(15)),
        total: Some(Duration::from_secs(20)),
    };
    let authority = e.authority();
    let answer = client.send(
        Method::Get,
        &e.url(),
        &[
            ("host", authority.as_str()),
            ("accept", "application/json, text/event-stream"),
        ],
        b"",
        timeouts,
    );
    let skew = answer
        .as_ref()
        .ok()
        .and_then(|r| r.header("date"))
        .and_then(crate::retry::parse_http_date)
        .map(|server| match server.duration_since(SystemTime::now()) {
            Ok(ahead) => ahead.as_secs() as i64,
            Err(behind) => -(behind.duration().as_secs() as i64),
        });
    let clock = match skew {
        Some(s) if s.abs() >= 300 => format!(
            "; the server's clock differs from ours by {} min",
            super::session::minutes(s)
        ),
        Some(s) => format!("; clocks agree within {} s", s.abs().max(1)),
        None => String::new(),
    };
    match (answer, shown) {
        (Err(err), _) => report.push(
            "tls",
            started,
            Err(failed(
                format!(
                    "{} {}: {err}",
                    if https { "HTTPS to" } else { "HTTP to" },
                    e.host
                ),
                if err.to_string().contains("AWS_CA_BUNDLE") {
                    "set AWS_CA_BUNDLE or --ca-bundle to your organisation's CA bundle (PEM)"
                        .to_owned()
                } else {
                    "check the endpoint URL, and the proxy and CA bundle your network needs"
                        .to_owned()
                },
            )),
        ),
        (Ok(r), None) => report.steps.push(Step {
            name: "tls",
            status: Status::Skip,
            detail: format!(
                "plain http to a loopback address (HTTP {} to an unsigned GET{clock})",
                r.status
            ),
            hint: None,
            ms: started.elapsed().as_millis(),
            weight: super::Weight::Plain,
        }),
        (Ok(r), Some(shown)) => report.push(
            "tls",
            started,
            Ok(format!(
                "{shown}; certificate chain trusted (HTTP {} to an unsigned GET{clock})",
                r.status
            )),
        ),
    }
    skew
}
