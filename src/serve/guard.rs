//! Who may talk to `serve`: the DNS-rebinding checks on `Host` and `Origin`,
//! and the bearer token.
//!
//! Owns: what a loopback host or origin is (`localhost`, `127.0.0.1`, `[::1]`,
//! any port), and the token comparison (time independent of the token's
//! bytes). The MCP transport's "Security Warning"
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#security-warning>):
//! servers MUST validate `Origin`; an invalid one is answered 403. Pure.
//! Refuses: resolving names; only those three spellings are loopback.

use crate::secret::Secret;

/// True for `localhost`, `127.0.0.1` or `[::1]`, with or without a port (a
/// `Host` header's form, RFC 9110 §7.2).
pub fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => {
            return rest.split_once(']').is_some_and(|(inside, port)| {
                inside == "::1" && (port.is_empty() || port.strip_prefix(':').is_some_and(digits))
            });
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) if digits(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1"
}

/// A port: one to five digits.
fn digits(port: &str) -> bool {
    (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit())
}

/// True for an `Origin` that names a loopback host over `http` or `https`
/// (RFC 6454 §7: `scheme "://" host [ ":" port ]`). `null` and every other
/// origin are foreign.
pub fn loopback_origin(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let host = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    host.is_some_and(|h| !h.contains('/') && loopback_host(h))
}

/// True when `authorization` is `Bearer <token>` with exactly `token`
/// (the scheme in any case, RFC 6750 §2.1). Compared in time that depends
/// only on the lengths.
pub fn bearer_matches(token: &Secret, authorization: Option<&str>) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && token.ct_eq(&Secret::from(given.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_and_origins() {
        for h in [
            "localhost",
            "LOCALHOST:3000",
            "127.0.0.1",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example.com",
            "evil.example.com:80",
            "127.0.0.1.evil.com",
            "localhost:x",
            "localhost:",
            "[::1]x",
            "[::2]:1",
            "",
            "0.0.0.0:80",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
        for o in [
            "http://localhost:6274",
            "https://127.0.0.1",
            "http://[::1]:3000",
        ] {
            assert!(loopback_origin(o), "{o}");
        }
        for o in [
            "null",
            "http://evil.example.com",
            "http://localhost.evil.com",
            "file://localhost",
            "http://localhost/x",
            "http://localhost@evil.com",
        ] {
            assert!(!loopback_origin(o), "{o}");
        }
    }

    #[test]
    fn bearer_token() {
        let t = Secret::from("s3cret-token");
        assert!(bearer_matches(&t, Some("Bearer s3cret-token")));
        assert!(bearer_matches(&t, Some("bearer s3cret-token")));
        assert!(!bearer_matches(&t, Some("Bearer s3cret-tokeN")));
        assert!(!bearer_matches(&t, Some("Basic s3cret-token")));
        assert!(!bearer_matches(&t, Some("s3cret-token")));
        assert!(!bearer_matches(&t, None));
    }
}
