//! Endpoints: what an endpoint URL or an AgentCore Runtime ARN says.
//!
//! Owns: the endpoint URL taken apart as it will be sent and signed
//! ([`Endpoint`]: host, port, path percent-encoded once, query in canonical
//! SigV4 form), the signing name and region an AWS host name carries
//! ([`infer_from_host`]), and the invocation URL of an AgentCore Runtime ARN
//! ([`runtime_arn_url`]). Pure.
//! Refuses: guessing a service the host does not name (the caller asks for
//! `--service`), and user information in a URL (via [`Url::parse`]).

use crate::error::ConfigError;
use crate::sigv4::canonical::{CanonicalQuery, uri_encode};
use crate::url::Url;

/// An endpoint URL, taken apart into what is sent and signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` or `http`.
    pub scheme: String,
    /// Lower-case host name or IP literal (IPv6 in brackets).
    pub host: String,
    /// The port, when one is given that is not the scheme's default.
    pub port: Option<u16>,
    /// The path exactly as sent (percent-encoded once, never empty).
    pub path: String,
    /// The query exactly as sent, in canonical form (may be empty).
    pub query: String,
}

impl Endpoint {
    /// The `Host` header value: the host, and `:port` when not the default.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// The full URL as sent.
    pub fn url(&self) -> String {
        let mut url = format!("{}://{}{}", self.scheme, self.authority(), self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        url
    }

    /// Parses an `http://` or `https://` URL ([`Url::parse`]: user information
    /// refused, the fragment dropped); bytes not allowed in a path are
    /// percent-encoded; the query is put in canonical SigV4 form so that any
    /// server-side canonicalization agrees.
    ///
    /// # Errors
    /// [`ConfigError`] naming what is wrong with the URL.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let shown = if url.contains('@') {
            "(not shown: it holds user information)".to_owned()
        } else {
            format!("{url:?}")
        };
        let parsed = Url::parse(url)
            .map_err(|e| ConfigError::new(format!("invalid endpoint URL {shown}")).caused_by(e))?;
        let path = if parsed.path.is_empty() {
            "/".to_owned()
        } else {
            encode_path(&parsed.path)
        };
        let query = CanonicalQuery::parse(parsed.query.as_deref().unwrap_or("")).to_string();
        Ok(Endpoint {
            scheme: parsed.scheme.as_str().to_owned(),
            host: parsed.host.to_string(),
            port: parsed.port,
            path,
            query,
        })
    }
}

/// Percent-encodes the bytes that may not appear in a URL path (RFC 3986 §3.3:
/// anything but unreserved, sub-delims, `:`, `@`, `/` and existing `%XX`).
fn encode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if escape || b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// What the host name says about the service, when it follows an AWS pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostInfo {
    /// Signing name read from the host (`bedrock-agentcore`, `aws-mcp`,
    /// `execute-api`, `lambda`): a FIPS host keeps the service's signing
    /// name (`bedrock-agentcore-fips.…` signs as `bedrock-agentcore`).
    pub service: Option<String>,
    /// Region read from the host.
    pub region: Option<String>,
    /// A global (multi-region) endpoint: `.global.` in the host, a host starting
    /// with `global.`, or `<service>.api.aws` with no region label.
    pub global: bool,
    /// A FIPS endpoint (`<service>-fips.<region>…`).
    pub fips: bool,
    /// A dual-stack endpoint (`.dualstack.` or a dual-stack DNS suffix such as
    /// `api.aws`).
    pub dual_stack: bool,
    /// A VPC interface endpoint's own DNS name (`vpce-….vpce.amazonaws.com`).
    pub private_link: bool,
    /// The host takes SigV4A only, so `auto` signs SigV4A (region set `*`)
    /// from the first request: a Lambda Web Function's `MultiRegion`
    /// endpoint (`<id>.lambda-web.global.on.aws`).
    pub sigv4a_only: bool,
}

fn is_region(label: &str) -> bool {
    // us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-iso-east-1, eusc-de-east-1
    let parts: Vec<&str> = label.split('-').collect();
    parts.len() >= 3
        && (2..=4).contains(&parts[0].len())
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&parts[parts.len() - 1].len())
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// The DNS suffixes of the AWS partitions (the AWS SDKs' `partitions.json`:
/// `dnsSuffix` and `dualStackDnsSuffix` of `aws`, `aws-cn`, `aws-us-gov`,
/// `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`, `aws-eusc`), and `on.aws`
/// of Lambda function URLs; the second field is true for a dual-stack
/// suffix. Longest first, so `amazonaws.com.cn` is not read as `amazonaws.com`.
const DNS_SUFFIXES: [(&str, bool); 11] = [
    (".api.amazonwebservices.com.cn", true),
    (".api.amazonwebservices.eu", true),
    (".amazonaws.com.cn", false),
    (".cloud.adc-e.uk", false),
    (".csp.hci.ic.gov", false),
    (".sc2s.sgov.gov", false),
    (".amazonaws.com", false),
    (".amazonaws.eu", false),
    (".c2s.ic.gov", false),
    (".api.aws", true),
    (".on.aws", false),
];

/// Reads service, region and the endpoint's kind from an AWS host name.
///
/// | host | signing name | region |
/// | --- | --- | --- |
/// | `<service>.<region>.<suffix>` (`bedrock-agentcore.us-east-1.amazonaws.com`, `aws-mcp.us-east-1.api.aws`) | `<service>` | `<region>` |
/// | `<prefix>.<service>.<region>.<suffix>` (AgentCore Gateway `<id>.gateway.bedrock-agentcore.…`, API Gateway `<id>.execute-api.…`) | `<service>` | `<region>` |
/// | `<id>.lambda-url.<region>.on.aws` | `lambda` | `<region>` |
/// | `<id>[.<generated>].lambda-web.<region>.on.aws` (Lambda Web Function) | `lambda` | `<region>` |
/// | `<id>.lambda-web.global.on.aws` (Lambda Web Function, `MultiRegion`) | `lambda`, SigV4A from the first request | none: region set `*` |
/// | `<service>-fips.<region>.<suffix>` | `<service>` (FIPS keeps the signing name) | `<region>` |
/// | `<service>[-fips].dualstack.<region>.<suffix>` | `<service>` | `<region>` |
/// | `vpce-<id>[-<az>].<service>[-fips].<region>.vpce.amazonaws.com` (PrivateLink) | `<service>` | `<region>` |
/// | `<service>.global.<suffix>`, `global.…`, `<service>.api.aws` | `<service>` | none: global |
///
/// `<suffix>` is any partition's DNS suffix: `amazonaws.com` (also GovCloud),
/// `amazonaws.com.cn`, `api.aws`, `api.amazonwebservices.com.cn`, the ISO and
/// European Sovereign Cloud suffixes. A VPC endpoint's private DNS name is the
/// ordinary regional host. Anything else gives no service (the caller asks
/// for `--service`).
///
/// Lambda Web Function endpoints sign as Lambda: their IAM action is
/// `lambda:InvokeWebFunctionEndpoint`, `IamAuth` endpoints take SigV4 and
/// `MultiRegion` ones SigV4a (AWS Lambda Developer Guide, "Lambda Web Function
/// endpoint access control",
/// <https://docs.aws.amazon.com/lambda/latest/dg/web-functions-endpoint-access-control.html>;
/// endpoint types and domain names: "Lambda Web Function endpoints",
/// <https://docs.aws.amazon.com/lambda/latest/dg/web-functions-endpoints.html>).
pub fn infer_from_host(host: &str) -> HostInfo {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut info = HostInfo {
        global: host.starts_with("global.") || host.contains(".global."),
        ..HostInfo::default()
    };
    let Some(&(suffix, dual_stack_suffix)) = DNS_SUFFIXES.iter().find(|(s, _)| host.ends_with(s))
    else {
        return info;
    };
    info.dual_stack = dual_stack_suffix;
    let mut labels: Vec<&str> = host[..host.len() - suffix.len()].split('.').collect();
    if suffix == ".amazonaws.com" && labels.last() == Some(&"vpce") {
        // vpce-0123abcd-4567efgh[-us-east-1a].<service>.<region>.vpce.amazonaws.com
        labels.pop();
        if labels.len() < 3 || !labels[0].starts_with("vpce-") {
            return info;
        }
        info.private_link = true;
    }
    let Some(&last) = labels.last() else {
        return info;
    };
    let service_label = if is_region(last) {
        info.region = Some(last.to_owned());
        labels.pop();
        if labels.last() == Some(&"dualstack") {
            info.dual_stack = true;
            labels.pop();
        }
        labels.last().copied()
    } else if last == "global" {
        info.global = true;
        labels.len().checked_sub(2).map(|i| labels[i])
    } else if suffix == ".api.aws" && labels.len() == 1 {
        info.global = true;
        Some(last)
    } else {
        None
    };
    // A DNS label starts with a letter or digit.
    let service_label =
        service_label.filter(|s| s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()));
    let service_label = match service_label.and_then(|s| s.strip_suffix("-fips")) {
        Some(base) if !base.is_empty() => {
            info.fips = true;
            Some(base)
        }
        _ => service_label,
    };
    info.service = service_label.map(|s| match s {
        "lambda-url" | "lambda-web" => "lambda".to_owned(),
        s => s.to_owned(),
    });
    info.sigv4a_only = suffix == ".on.aws" && info.global && service_label == Some("lambda-web");
    info
}

/// The endpoint URL for an AgentCore Runtime ARN
/// (`arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>`, optionally
/// `…/runtime-endpoint/<name>`, which gives the qualifier):
/// `https://bedrock-agentcore.<region>.amazonaws.com/runtimes/<ARN, percent-encoded>/invocations?qualifier=<q>`.
///
/// # Errors
/// [`ConfigError`] when the ARN is not an AgentCore runtime ARN.
pub fn runtime_arn_url(arn: &str, qualifier: Option<&str>) -> Result<String, ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(format!("{arn:?} is not an AgentCore Runtime ARN ({why})"))
            .with_hint("expected arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>")
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "bedrock-agentcore" {
        return Err(bad("wrong service or shape"));
    }
    let (partition, region, account, resource) = (parts[1], parts[3], parts[4], parts[5]);
    if !is_region(region) {
        return Err(bad("no region"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account must be 12 digits"));
    }
    let rest = resource
        .strip_prefix("runtime/")
        .ok_or_else(|| bad("not a runtime"))?;
    let (runtime_id, endpoint_name) = match rest.split_once("/runtime-endpoint/") {
        Some((id, name)) => (id, Some(name)),
        None => (rest, None),
    };
    if runtime_id.is_empty() || runtime_id.contains('/') {
        return Err(bad("no runtime id"));
    }
    let runtime_arn =
        format!("arn:{partition}:bedrock-agentcore:{region}:{account}:runtime/{runtime_id}");
    let qualifier = qualifier.or(endpoint_name).unwrap_or("DEFAULT");
    let suffix = if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!(
        "https://bedrock-agentcore.{region}.{suffix}/runtimes/{}/invocations?qualifier={}",
        uri_encode(&runtime_arn),
        uri_encode(qualifier)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(host: &str) -> (Option<&'static str>, Option<&'static str>, bool) {
        let i = infer_from_host(host);
        (
            i.service.map(|s| &*Box::leak(s.into_boxed_str())),
            i.region.map(|s| &*Box::leak(s.into_boxed_str())),
            i.global,
        )
    }

    #[test]
    fn lambda_web_function_hosts_sign_as_lambda() {
        let regional = infer_from_host("abcd1234.lambda-web.us-west-2.on.aws");
        assert_eq!(regional.service.as_deref(), Some("lambda"));
        assert_eq!(regional.region.as_deref(), Some("us-west-2"));
        assert!(!regional.global && !regional.sigv4a_only);
        let generated = infer_from_host("abcd1234.x7k2p9.lambda-web.eu-central-1.on.aws");
        assert_eq!(generated.service.as_deref(), Some("lambda"));
        assert_eq!(generated.region.as_deref(), Some("eu-central-1"));
        assert!(!generated.sigv4a_only);
        let global = infer_from_host("abcd1234.lambda-web.global.on.aws");
        assert_eq!(global.service.as_deref(), Some("lambda"));
        assert_eq!(global.region, None);
        assert!(global.global && global.sigv4a_only);
        // Only Lambda Web's global hosts are SigV4A from the start.
        assert!(!infer_from_host("aws-mcp.global.api.aws").sigv4a_only);
    }

    #[test]
    fn host_patterns_give_service_and_region() {
        assert_eq!(
            info("bedrock-agentcore.us-east-1.amazonaws.com"),
            (Some("bedrock-agentcore"), Some("us-east-1"), false)
        );
        assert_eq!(
            info("aws-mcp.us-west-2.api.aws"),
            (Some("aws-mcp"), Some("us-west-2"), false)
        );
        assert_eq!(
            info("sts.eu-central-1.amazonaws.com"),
            (Some("sts"), Some("eu-central-1"), false)
        );
        assert_eq!(
            info("abc123.execute-api.ap-southeast-2.amazonaws.com"),
            (Some("execute-api"), Some("ap-southeast-2"), false)
        );
        assert_eq!(
            info("xyz.lambda-url.us-gov-west-1.on.aws"),
            (Some("lambda"), Some("us-gov-west-1"), false)
        );
        assert_eq!(
            info("gw-1.gateway.bedrock-agentcore.us-east-1.amazonaws.com"),
            (Some("bedrock-agentcore"), Some("us-east-1"), false)
        );
        assert_eq!(
            info("svc.cn-north-1.amazonaws.com.cn"),
            (Some("svc"), Some("cn-north-1"), false)
        );
        assert_eq!(
            info("aws-mcp.global.api.aws"),
            (Some("aws-mcp"), None, true)
        );
        assert_eq!(info("aws-mcp.api.aws"), (Some("aws-mcp"), None, true));
        assert_eq!(info("global.example.com"), (None, None, true));
        assert_eq!(info("mcp.example.com"), (None, None, false));
        assert_eq!(info("127.0.0.1"), (None, None, false));
    }

    /// One case per host shape of the table in `src/manual/endpoints.md`: host, signing name,
    /// region, FIPS, dual-stack, PrivateLink.
    #[test]
    fn every_host_shape_gives_signing_name_and_region() {
        type Case = (
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            bool,
            bool,
            bool,
        );
        let cases: [Case; 14] = [
            // PrivateLink: the endpoint's own DNS names, regional and zonal.
            (
                "vpce-0123abcd-4567efgh.bedrock-agentcore.us-east-1.vpce.amazonaws.com",
                Some("bedrock-agentcore"),
                Some("us-east-1"),
                false,
                false,
                true,
            ),
            (
                "vpce-0123abcd-4567efgh-us-east-1a.bedrock-agentcore.us-east-1.vpce.amazonaws.com",
                Some("bedrock-agentcore"),
                Some("us-east-1"),
                false,
                false,
                true,
            ),
            (
                "vpce-0aa1-0bb2.execute-api.eu-west-1.vpce.amazonaws.com",
                Some("execute-api"),
                Some("eu-west-1"),
                false,
                false,
                true,
            ),
            (
                "vpce-0aa1-0bb2.bedrock-agentcore-fips.us-gov-west-1.vpce.amazonaws.com",
                Some("bedrock-agentcore"),
                Some("us-gov-west-1"),
                true,
                false,
                true,
            ),
            // FIPS keeps the signing name; GovCloud and China.
            (
                "bedrock-agentcore-fips.us-gov-west-1.amazonaws.com",
                Some("bedrock-agentcore"),
                Some("us-gov-west-1"),
                true,
                false,
                false,
            ),
            (
                "bedrock-agentcore-fips.us-east-1.amazonaws.com",
                Some("bedrock-agentcore"),
                Some("us-east-1"),
                true,
                false,
                false,
            ),
            (
                "polly-fips.cn-northwest-1.api.amazonwebservices.com.cn",
                Some("polly"),
                Some("cn-northwest-1"),
                true,
                true,
                false,
            ),
            // Dual-stack, old and new forms.
            (
                "bedrock-agentcore.dualstack.us-east-1.amazonaws.com",
                Some("bedrock-agentcore"),
                Some("us-east-1"),
                false,
                true,
                false,
            ),
            (
                "s3-fips.dualstack.us-gov-east-1.amazonaws.com",
                Some("s3"),
                Some("us-gov-east-1"),
                true,
                true,
                false,
            ),
            (
                "bedrock-agentcore-fips.us-east-1.api.aws",
                Some("bedrock-agentcore"),
                Some("us-east-1"),
                true,
                true,
                false,
            ),
            // Other partitions.
            (
                "bedrock-agentcore.eusc-de-east-1.amazonaws.eu",
                Some("bedrock-agentcore"),
                Some("eusc-de-east-1"),
                false,
                false,
                false,
            ),
            (
                "svc.us-iso-east-1.c2s.ic.gov",
                Some("svc"),
                Some("us-iso-east-1"),
                false,
                false,
                false,
            ),
            // Not AWS shapes: no service.
            ("vpce-x.vpce.amazonaws.com", None, None, false, false, false),
            (
                "-fips.us-east-1.amazonaws.com",
                None,
                Some("us-east-1"),
                false,
                false,
                false,
            ),
        ];
        for (host, service, region, fips, dual_stack, private_link) in cases {
            let i = infer_from_host(host);
            assert_eq!(
                (
                    i.service.as_deref(),
                    i.region.as_deref(),
                    i.fips,
                    i.dual_stack,
                    i.private_link
                ),
                (service, region, fips, dual_stack, private_link),
                "{host}"
            );
            assert!(!i.global, "{host}");
        }
    }

    #[test]
    fn urls_are_taken_apart_as_sent() {
        let e = Endpoint::parse("HTTPS://Bedrock-AgentCore.us-east-1.amazonaws.com:443/runtimes/arn%3Aaws%3Ax/invocations?qualifier=DEFAULT#frag").unwrap();
        assert_eq!(e.scheme, "https");
        assert_eq!(e.host, "bedrock-agentcore.us-east-1.amazonaws.com");
        assert_eq!(e.port, None);
        assert_eq!(e.path, "/runtimes/arn%3Aaws%3Ax/invocations");
        assert_eq!(e.query, "qualifier=DEFAULT");
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (e.authority().as_str(), e.path.as_str()),
            ("127.0.0.1:8080", "/")
        );
        let e = Endpoint::parse("http://[::1]:9/a b/é?b=2&a=1").unwrap();
        assert_eq!(e.authority(), "[::1]:9");
        assert_eq!(e.path, "/a%20b/%C3%A9");
        assert_eq!(e.query, "a=1&b=2");
        assert!(Endpoint::parse("ftp://x/").is_err());
        assert!(Endpoint::parse("https://user:pw@x/").is_err());
        assert!(Endpoint::parse("https://x:99999/").is_err());
        assert!(Endpoint::parse("https:///path").is_err());
        // Found by fuzzing (fuzz/regressions/endpoint_url/).
        assert!(Endpoint::parse("http://[::1]&").is_err());
        assert!(Endpoint::parse("https://[::1]8443/mcp").is_err());
        assert!(Endpoint::parse("https://b:+05").is_err());
    }
    #[test]
    fn runtime_arns_become_invocation_urls() {
        let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/mcp_server-AbCdEfGhIj";
        assert_eq!(
            runtime_arn_url(arn, None).unwrap(),
            "https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fmcp_server-AbCdEfGhIj/invocations?qualifier=DEFAULT"
        );
        let ep = format!("{arn}/runtime-endpoint/prod");
        assert!(
            runtime_arn_url(&ep, None)
                .unwrap()
                .ends_with("/invocations?qualifier=prod")
        );
        assert!(
            runtime_arn_url(&ep, Some("beta"))
                .unwrap()
                .ends_with("?qualifier=beta")
        );
        for bad in [
            "arn:aws:lambda:us-east-1:123456789012:function/x",
            "arn:aws:bedrock-agentcore:us-east-1:123:runtime/x",
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/x",
        ] {
            assert!(runtime_arn_url(bad, None).is_err(), "{bad}");
        }
    }
}
