//! URLs as every HTTP client of the crate takes them, and the plain-HTTP rule.
//!
//! Owns: taking an absolute `http://` or `https://` URL apart (RFC 3986 §3:
//! scheme, authority, path, query; the fragment is dropped), the host as a
//! typed value (a name, an IPv4 or an IPv6 literal), and the one rule that
//! decides where plain `http://` may go: only to a literal loopback address or
//! `localhost` — and, for the credential sources that live there, the fixed
//! link-local addresses of the EC2 instance metadata service and the ECS/EKS
//! container credential endpoints. No name is ever resolved to decide: a name
//! that resolves to loopback at the check could resolve elsewhere at the
//! request (DNS rebinding), and the request carries a signature, a session
//! token or a bearer token. Pure.
//! Refuses: user information (`user:password@`) in any URL, since a secret in a
//! URL ends up in logs, process lists and shell history; schemes other than
//! `http` and `https`; control characters anywhere.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// TLS.
    Https,
    /// Plain HTTP: see [`PlainHttp`].
    Http,
}

impl Scheme {
    /// `https` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    /// 443 or 80.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// A URL's host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// A registered name, lower-case, without a trailing dot.
    Name(String),
    /// An IPv4 literal.
    V4(Ipv4Addr),
    /// An IPv6 literal (written in brackets in a URL).
    V6(Ipv6Addr),
}

impl Host {
    /// The address, for an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Name(_) => None,
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// The name, for a registered name.
    pub fn name(&self) -> Option<&str> {
        match self {
            Host::Name(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Host {
    /// As in a URL and a `Host` header: IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// An absolute `http(s)` URL taken apart. The path and query are kept as
/// written (no decoding); callers that send them decide how to encode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// The scheme.
    pub scheme: Scheme,
    /// The host.
    pub host: Host,
    /// The port, when one is written that is not the scheme's default.
    pub port: Option<u16>,
    /// The path as written (empty when the URL has none).
    pub path: String,
    /// The query as written, without `?` (`None` when there is no `?`).
    pub query: Option<String>,
}

/// Why a URL was refused. The message names the part that is wrong; it never
/// repeats user information, and callers decide whether to echo the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn err(message: impl Into<String>) -> UrlError {
    UrlError(message.into())
}

impl Url {
    /// Parses `http://host[:port][/path][?query][#fragment]`; surrounding
    /// whitespace is ignored.
    ///
    /// # Errors
    /// [`UrlError`] for another scheme, user information, a missing or
    /// malformed host, a port that is not 1–65535, or a control character.
    /// Spaces and non-ASCII text in the path and query are kept as written.
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let text = text.trim();
        if text.chars().any(char::is_control) {
            return Err(err("expected a URL without control characters"));
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| err("expected a URL such as https://host/path"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => {
                return Err(err(format!(
                    "expected the scheme https:// (or http:// for a loopback host), found {other:?}"
                )));
            }
        };
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        if authority.contains('@') {
            return Err(err(
                "user information (user:password@) in a URL is refused: a secret in a URL ends up in logs and shell history; use an AWS profile or environment credentials",
            ));
        }
        let (host, port) = split_authority(authority)?;
        let port = port.filter(|p| *p != scheme.default_port());
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (rest, None),
        };
        Ok(Url {
            scheme,
            host,
            port,
            path: path.to_owned(),
            query,
        })
    }

    /// The `Host` header value: the host, and `:port` when not the default.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.to_string(),
        }
    }
}

fn split_authority(authority: &str) -> Result<(Host, Option<u16>), UrlError> {
    if authority.is_empty() {
        return Err(err("the host is missing"));
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| err("an IPv6 host must end with ']'"))?;
        let ip = v6
            .parse::<Ipv6Addr>()
            .map_err(|_| err(format!("[{v6}] is not an IPv6 address")))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                err(format!(
                    "expected ':' and a port after [{v6}], found {after:?}"
                ))
            })?),
        };
        (Host::V6(ip), port)
    } else {
        let (name, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        // Labels are non-empty: `a..b` and `a..` name no host, and a name
        // that changes when written again (`a..` would print as `a.`) is
        // not the one the checks judged.
        let valid = !name.is_empty()
            && !name.split('.').any(str::is_empty)
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !valid {
            return Err(err(format!("expected a host name, found {name:?}")));
        }
        let host = match name.parse::<Ipv4Addr>() {
            Ok(ip) => Host::V4(ip),
            Err(_) => Host::Name(name.to_ascii_lowercase()),
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            Some(p)
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|p| *p != 0)
                .ok_or_else(|| err(format!("expected a port number, found {p:?}")))?,
        ),
    };
    Ok((host, port))
}

/// Where plain `http://` may go, besides loopback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainHttp {
    /// Only a literal loopback address (`127.0.0.0/8`, `[::1]`) or
    /// `localhost`: the MCP endpoint, STS, SSO and every other AWS service.
    LoopbackOnly,
    /// Also the EC2 instance metadata service (`169.254.169.254`,
    /// `[fd00:ec2::254]`), as every AWS SDK reaches it.
    InstanceMetadata,
    /// Also the ECS and EKS Pod Identity credential endpoints
    /// (`169.254.170.2`, `169.254.170.23`, `[fd00:ec2::23]`), the addresses
    /// the AWS SDKs allow for `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    ContainerCredentials,
}

/// The fixed link-local addresses of the EC2 instance metadata service.
const IMDS_ADDRESSES: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
];

/// The ECS and EKS Pod Identity credential addresses.
const CONTAINER_ADDRESSES: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

impl Url {
    /// True when this URL may be used: `https`, or plain `http` to a host the
    /// rule allows. The host is never resolved.
    pub fn allowed(&self, rule: PlainHttp) -> bool {
        if self.scheme == Scheme::Https {
            return true;
        }
        match &self.host {
            Host::Name(n) => n == "localhost",
            host => {
                let ip = host.ip().expect("an IP literal");
                ip.is_loopback()
                    || match rule {
                        PlainHttp::LoopbackOnly => false,
                        PlainHttp::InstanceMetadata => IMDS_ADDRESSES.contains(&ip),
                        PlainHttp::ContainerCredentials => CONTAINER_ADDRESSES.contains(&ip),
                    }
            }
        }
    }

    /// [`allowed`](Self::allowed), as an error that says why and what to do.
    ///
    /// # Errors
    /// [`UrlError`] naming the host (never the whole URL) and the rule.
    pub fn check_plain_http(&self, rule: PlainHttp) -> Result<(), UrlError> {
        if self.allowed(rule) {
            return Ok(());
        }
        let also = match rule {
            PlainHttp::LoopbackOnly => "",
            PlainHttp::InstanceMetadata => " or the EC2 instance metadata address",
            PlainHttp::ContainerCredentials => " or a container credentials address",
        };
        let why = match self.host {
            Host::Name(_) => " (host names other than localhost are not resolved to decide)",
            _ => "",
        };
        Err(err(format!(
            "refusing plain http:// to {}: signed requests and tokens would travel unencrypted; use https:// (http:// is allowed only to a loopback address, localhost{also}){why}",
            self.host
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_as_written() {
        let u = Url::parse(" HTTPS://Example.COM:443/a%2Fb/c?x=1&y#frag ").unwrap();
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.host, Host::Name("example.com".into()));
        assert_eq!(u.port, None);
        assert_eq!(u.path, "/a%2Fb/c");
        assert_eq!(u.query.as_deref(), Some("x=1&y"));
        assert_eq!(u.authority(), "example.com");
        let u = Url::parse("http://[::1]:8080").unwrap();
        assert_eq!(u.host, Host::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(u.authority(), "[::1]:8080");
        assert_eq!((u.path.as_str(), u.query), ("", None));
        let u = Url::parse("http://127.0.0.1:80/?").unwrap();
        assert_eq!(u.host, Host::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(u.port, None);
        assert_eq!(u.query.as_deref(), Some(""));
        assert_eq!(
            Url::parse("https://host.example./").unwrap().host,
            Host::Name("host.example".into())
        );
    }

    #[test]
    fn malformed_urls_say_what_is_wrong() {
        for (url, says) in [
            ("ftp://h/", "expected the scheme https://"),
            ("example.com/mcp", "expected a URL such as"),
            ("https:///mcp", "the host is missing"),
            ("https://u:pw9XK@h/", "user information"),
            ("https://[::1/", "must end with ']'"),
            ("https://[zz]/", "is not an IPv6 address"),
            ("https://[::1]x/", "expected ':' and a port"),
            ("https://h:0/", "expected a port number"),
            ("https://h:+80/", "expected a port number"),
            ("https://h:99999/", "expected a port number"),
            ("https://h%41/", "expected a host name"),
            ("https://h/a\nb", "without control characters"),
            ("https://h b/", "expected a host name"),
            // Found by fuzzing (fuzz/regressions/url_rule/).
            ("http://169.241965...:54/", "expected a host name"),
            ("https://a..b/", "expected a host name"),
        ] {
            let e = Url::parse(url).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("pw9XK"), "{url}: {e}");
        }
    }

    #[test]
    fn plain_http_only_to_literal_loopback_or_localhost() {
        let ok = |u: &str, rule| Url::parse(u).unwrap().allowed(rule);
        use PlainHttp::*;
        for u in [
            "http://localhost:1/",
            "http://LOCALHOST/",
            "http://127.0.0.1/",
            "http://127.9.9.9/",
            "http://[::1]/",
            "https://anything.example/",
        ] {
            assert!(ok(u, LoopbackOnly), "{u}");
        }
        // Names that resolve to loopback (here, /etc/hosts often maps the
        // machine's own name) are still refused: no lookup decides.
        for u in [
            "http://vm:8080/",
            "http://localhost.example/",
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(!ok(u, LoopbackOnly), "{u}");
        }
        assert!(ok("http://169.254.169.254/", InstanceMetadata));
        assert!(ok("http://[fd00:ec2::254]/", InstanceMetadata));
        assert!(!ok("http://169.254.170.2/", InstanceMetadata));
        assert!(ok("http://169.254.170.2/", ContainerCredentials));
        assert!(ok("http://169.254.170.23/", ContainerCredentials));
        assert!(ok("http://[fd00:ec2::23]/", ContainerCredentials));
        assert!(!ok("http://169.254.169.254/", ContainerCredentials));
        let e = Url::parse("http://vm:8080/x?token=abc")
            .unwrap()
            .check_plain_http(LoopbackOnly)
            .unwrap_err()
            .to_string();
        assert!(e.contains("refusing plain http:// to vm"), "{e}");
        assert!(e.contains("not resolved"), "{e}");
        assert!(!e.contains("token=abc"), "{e}");
    }
}
