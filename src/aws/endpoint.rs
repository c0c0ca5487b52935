//! Where an AWS service is: its endpoint URL and the regional defaults.
//!
//! Owns: [`ServiceUrl`], an endpoint taken apart by the crate's one URL parser
//! ([`crate::url::Url`]) and held to its one plain-HTTP rule (the caller says
//! which [`PlainHttp`] exception applies: none for AWS services, the instance
//! metadata or container addresses for those sources); the request path under
//! the endpoint's own base path; the regional endpoints of the services the
//! credential sources call (`https://<prefix>.<region>.amazonaws.com`,
//! `.amazonaws.com.cn` for the China regions, as the AWS SDKs' endpoint rules
//! give them for the `aws` and `aws-cn` partitions); and the region-name check
//! that keeps a region from rewriting a host name. Pure.
//! Refuses: a query or fragment in an endpoint (the SDKs' `endpoint_url` is a
//! base URL), raw spaces or other bytes outside RFC 3986 in its path, and
//! (through [`Url`]) user information.

use std::fmt;

use crate::url::{PlainHttp, Url, UrlError};

/// A region name that cannot be part of a host name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionError {
    /// The value found.
    pub found: String,
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid AWS region: expected a name such as us-east-1, found {:?}",
            self.found
        )
    }
}

impl std::error::Error for RegionError {}

/// Checks that `region` can be part of a host name: 1–50 characters of
/// `a-z 0-9 -`.
///
/// # Errors
/// [`RegionError`] naming the value.
pub fn check_region(region: &str) -> Result<(), RegionError> {
    let ok = !region.is_empty()
        && region.len() <= 50
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RegionError {
            found: region.to_owned(),
        })
    }
}

/// `https://<prefix>.<region>.amazonaws.com`, or `.amazonaws.com.cn` for the
/// China regions (`cn-…`): STS (`sts`), the IAM Identity Center portal
/// (`portal.sso`) and OIDC (`oidc`). GovCloud uses the default suffix; the ISO
/// and EUSC partitions need an endpoint override.
///
/// # Errors
/// [`RegionError`] when `region` is not a valid region name.
pub fn regional(prefix: &str, region: &str) -> Result<String, RegionError> {
    check_region(region)?;
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://{prefix}.{region}.{suffix}"))
}

/// The AWS Sign-In endpoint of `region` for token refreshes (the `aws login`
/// source): `https://<region>.signin.aws.amazon.com`, in the China regions
/// `https://<region>.signin.amazonaws.cn`, in GovCloud
/// `https://<region>.signin.amazonaws-us-gov.com`, as the endpoint rules of
/// the Sign-In service give them for `CreateOAuth2Token` (botocore
/// `data/signin/2023-01-01/endpoint-rule-set-1.json`, `IsControlPlane`
/// false). Other partitions need an endpoint override.
///
/// # Errors
/// [`RegionError`] when `region` is not a valid region name.
pub fn signin(region: &str) -> Result<String, RegionError> {
    check_region(region)?;
    let domain = if region.starts_with("cn-") {
        "signin.amazonaws.cn"
    } else if region.starts_with("us-gov-") {
        "signin.amazonaws-us-gov.com"
    } else {
        "signin.aws.amazon.com"
    };
    Ok(format!("https://{region}.{domain}"))
}

/// Why an endpoint URL was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointError {
    /// The URL parser or the plain-HTTP rule refused it.
    Url(UrlError),
    /// It has a query or a fragment.
    Query {
        /// The URL, echoed (endpoint URLs are not secret; user information
        /// is refused before this check).
        url: String,
    },
    /// Its path holds spaces or other raw bytes.
    Path {
        /// The URL, echoed.
        url: String,
    },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::Url(e) => e.fmt(f),
            EndpointError::Query { url } => write!(
                f,
                "expected an endpoint URL without query or fragment, found {url:?}"
            ),
            EndpointError::Path { url } => write!(
                f,
                "expected a percent-encoded path in {url:?} (no spaces or other raw bytes)"
            ),
        }
    }
}

impl std::error::Error for EndpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EndpointError::Url(e) => Some(e),
            _ => None,
        }
    }
}

/// An endpoint (`https://host[:port][/base]`), split into what a request
/// needs: the `Host` header value and the base path (without a trailing `/`).
/// A default port (`:443`, `:80`) is dropped, so the `Host` header matches
/// what the SDKs sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUrl {
    scheme: &'static str,
    authority: String,
    base: String,
}

impl ServiceUrl {
    /// Parses an endpoint URL such as `https://sts.us-east-1.amazonaws.com` or
    /// `http://127.0.0.1:4566/`, allowing plain `http://` only as `rule` says.
    ///
    /// # Errors
    /// [`EndpointError`] naming what is wrong.
    pub fn parse(text: &str, rule: PlainHttp) -> Result<Self, EndpointError> {
        let url = Url::parse(text).map_err(EndpointError::Url)?;
        if url.query.is_some() || text.contains('#') {
            return Err(EndpointError::Query {
                url: text.trim().to_owned(),
            });
        }
        let path_ok = url
            .path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&b));
        if !path_ok {
            return Err(EndpointError::Path {
                url: text.trim().to_owned(),
            });
        }
        url.check_plain_http(rule).map_err(EndpointError::Url)?;
        let mut endpoint = ServiceUrl::origin(&url);
        endpoint.base = url.path.trim_end_matches('/').to_owned();
        Ok(endpoint)
    }

    /// The scheme, host and port of `url`, with no base path: for an endpoint
    /// whose path and query belong to each request (a container credentials
    /// URL). The caller has checked `url` against the plain-HTTP rule.
    pub fn origin(url: &Url) -> Self {
        ServiceUrl {
            scheme: url.scheme.as_str(),
            authority: url.authority(),
            base: String::new(),
        }
    }

    /// The `Host` header value: host, and `:port` when not the default.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request path for `operation_path` (which starts with `/`, and may
    /// end in a query) under the endpoint's base path: `/` for STS at
    /// `https://sts.…`, `/base/` for `https://proxy/base`.
    pub fn path(&self, operation_path: &str) -> String {
        format!("{}{operation_path}", self.base)
    }

    /// The full URL of `path` (as [`path`](Self::path) gives it).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.authority, path)
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_endpoints_follow_the_partition() {
        assert_eq!(
            regional("sts", "us-east-1").unwrap(),
            "https://sts.us-east-1.amazonaws.com"
        );
        assert_eq!(
            regional("oidc", "cn-north-1").unwrap(),
            "https://oidc.cn-north-1.amazonaws.com.cn"
        );
        assert!(regional("sts", "us-east-1.evil.com/").is_err());
        assert_eq!(
            regional("sts", "").unwrap_err().to_string(),
            "invalid AWS region: expected a name such as us-east-1, found \"\""
        );
    }

    #[test]
    fn signin_endpoints_follow_the_partition() {
        // As botocore 1.44.5 resolves CreateOAuth2Token for these regions.
        for (region, url) in [
            ("us-east-1", "https://us-east-1.signin.aws.amazon.com"),
            ("eu-west-2", "https://eu-west-2.signin.aws.amazon.com"),
            ("cn-north-1", "https://cn-north-1.signin.amazonaws.cn"),
            (
                "us-gov-west-1",
                "https://us-gov-west-1.signin.amazonaws-us-gov.com",
            ),
        ] {
            assert_eq!(signin(region).unwrap(), url);
        }
        assert!(signin("us-east-1.evil.com/").is_err());
    }

    #[test]
    fn endpoints_are_taken_apart_and_checked() {
        let rule = PlainHttp::LoopbackOnly;
        let u = ServiceUrl::parse("HTTPS://sts.example.com:443/base/", rule).unwrap();
        assert_eq!(u.authority(), "sts.example.com");
        assert_eq!(u.path("/"), "/base/");
        assert_eq!(u.url(&u.path("/")), "https://sts.example.com/base/");
        assert_eq!(u.to_string(), "https://sts.example.com/base");
        let u = ServiceUrl::parse("http://localhost:4566", rule).unwrap();
        assert_eq!(
            (u.authority(), u.path("/").as_str()),
            ("localhost:4566", "/")
        );
        assert!(ServiceUrl::parse("http://[::1]:8080", rule).is_ok());
        assert!(ServiceUrl::parse("http://127.0.0.2", rule).is_ok());
        for (bad, why) in [
            ("http://sts.example.com", "refusing plain http://"),
            ("http://localhost.example.com", "refusing plain http://"),
            ("http://169.254.169.254", "refusing plain http://"),
            ("https://user:pw@sts.example.com", "user info"),
            ("https://sts.example.com/?a=1", "without query"),
            ("https://sts.example.com/#f", "without query"),
            ("ftp://sts.example.com", "expected the scheme https://"),
            ("sts.example.com", "expected a URL"),
            ("https:///path", "the host is missing"),
            ("https://sts.example.com/a b", "percent-encoded path"),
        ] {
            let e = ServiceUrl::parse(bad, rule).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains("pw@"), "{e}");
        }
        assert!(ServiceUrl::parse("http://169.254.169.254", PlainHttp::InstanceMetadata).is_ok());
    }
}
