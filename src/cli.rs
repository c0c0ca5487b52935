//! The command line: what the user typed, as a plain [`Args`] value.
//!
//! Owns: one `lexopt` loop into [`Args`], the `--help` and `--version` texts.
//! Refuses: any I/O or interpretation — whether the URL is valid, which region
//! applies, where credentials come from is `config.rs`'s job. Error messages echo
//! the bad value; no flag takes a secret, so nothing secret can be echoed.

use std::ffi::OsString;

/// The `--help` text.
pub const HELP: &str = "\
mcp-sigv4: a stdio MCP server that relays every JSON-RPC message to a remote MCP
server over Streamable HTTP, signing each request with AWS SigV4 using your own
AWS credentials.

Usage: mcp-sigv4 <endpoint-url | agentcore-runtime-arn> [options]

Arguments:
  <endpoint-url>            the remote MCP endpoint, e.g.
                            https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/<escaped ARN>/invocations?qualifier=DEFAULT
  <agentcore-runtime-arn>   or an AgentCore Runtime ARN,
                            arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>

Signing:
  --service <name>          signing name (default: inferred from the host, e.g. bedrock-agentcore)
  --region <region>         signing region (default: from the host, else AWS_REGION,
                            AWS_DEFAULT_REGION, the profile's region)
  --profile <name>          AWS profile to take credentials from (default: AWS_PROFILE, else default)
  --sig-version <v>         v4, v4a or auto (default auto, or AWS_SIG_VERSION): auto signs SigV4
                            and, on a global endpoint, switches to SigV4A if the server refuses SigV4
  --region-set <set>        SigV4A region set, e.g. * or us-east-1,us-west-2 (default: * for a
                            global endpoint, else the region)

Credentials:
  --role-arn <arn>          assume this role on top of the credentials found (also
                            AGENTCORE_ASSUME_ROLE_ARN)
  --role-session-name <n>   session name for --role-arn (default mcp-sigv4-<time>)
  --external-id <id>        external id for --role-arn

AgentCore Runtime:
  --qualifier <name>        runtime endpoint for an ARN (default DEFAULT)
  --runtime-session <mode>  X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: identity (a hash of
                            the caller identity), session (one per process; the default for
                            AgentCore runtimes) or request (a new one per request)

Requests:
  --header <K=V>            add a header to every request (repeatable; signed like the rest)
  --headers <K=V,K2=V2>     add several headers
  --metadata <K=V>          add a key to every request's params._meta (repeatable)
  --read-only               list and call only tools annotated readOnlyHint: true
  --retries <n>             retries for requests that failed without taking effect (default 2)

Timeouts (seconds):
  --connect-timeout <s>     TCP and TLS connect (default 60)
  --read-timeout <s>        longest wait for the next bytes of an answer (default 120)
  --write-timeout <s>       sending one request (default 180)
  --timeout <s>             a whole exchange other than a tool call (default 180)
  --tool-timeout <s>        a tools/call: longest wait without any message for it (default 300)

Other:
  --log-level <level>       error, warn, info, debug, trace or off (default warn); logs go to stderr
  -h, --help                print this help
  -V, --version             print the version

Credentials are found as the AWS SDKs find them: the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the selected
profile in ~/.aws/config and ~/.aws/credentials (static keys, credential_process,
IAM Identity Center, web identity, role_arn chains), then AWS_WEB_IDENTITY_TOKEN_FILE,
container credentials and EC2 instance metadata; they are renewed before they expire.
";

/// The `--version` text.
pub const VERSION: &str = concat!("mcp-sigv4 ", env!("CARGO_PKG_VERSION"));

/// What the user asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    /// The endpoint URL, as typed.
    pub endpoint: Option<String>,
    /// `--service`.
    pub service: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--sig-version`: `v4`, `v4a` or `auto`.
    pub sig_version: Option<String>,
    /// `--region-set`.
    pub region_set: Option<String>,
    /// `--connect-timeout`, seconds.
    pub connect_timeout: Option<f64>,
    /// `--read-timeout`, seconds.
    pub read_timeout: Option<f64>,
    /// `--write-timeout`, seconds.
    pub write_timeout: Option<f64>,
    /// `--timeout`, seconds.
    pub timeout: Option<f64>,
    /// `--tool-timeout`, seconds.
    pub tool_timeout: Option<f64>,
    /// `--role-arn`.
    pub role_arn: Option<String>,
    /// `--role-session-name`.
    pub role_session_name: Option<String>,
    /// `--external-id`.
    pub external_id: Option<String>,
    /// `--qualifier`.
    pub qualifier: Option<String>,
    /// `--runtime-session`: `identity`, `session` or `request`.
    pub runtime_session: Option<String>,
    /// `--header` and `--headers`, in order, as typed (`K=V`).
    pub headers: Vec<String>,
    /// `--metadata`, in order, as typed (`K=V`).
    pub metadata: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--help` was given.
    pub help: bool,
    /// `--version` was given.
    pub version: bool,
}

pub use crate::error::UsageError;

fn seconds(flag: &str, value: OsString) -> Result<f64, UsageError> {
    let text = value.to_string_lossy();
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(UsageError::new(format!(
            "{flag}: expected a number of seconds between 0 and 86400, found {text:?}"
        ))),
    }
}

fn text(flag: &str, value: OsString) -> Result<String, UsageError> {
    value
        .into_string()
        .map_err(|v| UsageError::new(format!("{flag}: expected UTF-8 text, found {v:?}")))
}

impl Args {
    /// Reads the arguments (without the program name).
    ///
    /// # Errors
    /// [`UsageError`] for an unknown flag, a missing or malformed value, or a
    /// second endpoint.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, UsageError> {
        use lexopt::prelude::*;
        let mut parser = lexopt::Parser::from_args(args);
        let mut a = Args::default();
        while let Some(arg) = parser.next()? {
            match arg {
                Long("service") => a.service = Some(text("--service", parser.value()?)?),
                Long("region") => a.region = Some(text("--region", parser.value()?)?),
                Long("profile") => a.profile = Some(text("--profile", parser.value()?)?),
                Long("log-level") => a.log_level = Some(text("--log-level", parser.value()?)?),
                Long("sig-version") => {
                    a.sig_version = Some(text("--sig-version", parser.value()?)?)
                }
                Long("region-set") => a.region_set = Some(text("--region-set", parser.value()?)?),
                Long("connect-timeout") => {
                    a.connect_timeout = Some(seconds("--connect-timeout", parser.value()?)?)
                }
                Long("read-timeout") => {
                    a.read_timeout = Some(seconds("--read-timeout", parser.value()?)?)
                }
                Long("write-timeout") => {
                    a.write_timeout = Some(seconds("--write-timeout", parser.value()?)?)
                }
                Long("timeout") => a.timeout = Some(seconds("--timeout", parser.value()?)?),
                Long("tool-timeout") => {
                    a.tool_timeout = Some(seconds("--tool-timeout", parser.value()?)?)
                }
                Long("role-arn") => a.role_arn = Some(text("--role-arn", parser.value()?)?),
                Long("role-session-name") => {
                    a.role_session_name = Some(text("--role-session-name", parser.value()?)?)
                }
                Long("external-id") => {
                    a.external_id = Some(text("--external-id", parser.value()?)?)
                }
                Long("qualifier") => a.qualifier = Some(text("--qualifier", parser.value()?)?),
                Long("runtime-session") => {
                    a.runtime_session = Some(text("--runtime-session", parser.value()?)?)
                }
                Long("header") => a.headers.push(text("--header", parser.value()?)?),
                Long("headers") => {
                    let list = text("--headers", parser.value()?)?;
                    a.headers.extend(
                        list.split(',')
                            .map(str::trim)
                            .filter(|h| !h.is_empty())
                            .map(str::to_owned),
                    );
                }
                Long("metadata") => a.metadata.push(text("--metadata", parser.value()?)?),
                Long("read-only") => a.read_only = true,
                Long("retries") => {
                    let v = text("--retries", parser.value()?)?;
                    a.retries = Some(v.parse().ok().filter(|n| *n <= 10).ok_or_else(|| {
                        UsageError::new(format!(
                            "--retries: expected a number from 0 to 10, found {v:?}"
                        ))
                    })?);
                }
                Short('h') | Long("help") => a.help = true,
                Short('V') | Long("version") => a.version = true,
                Value(v) if a.endpoint.is_none() => a.endpoint = Some(text("<endpoint-url>", v)?),
                Value(v) => {
                    return Err(UsageError::new(format!(
                        "expected one endpoint URL, found a second one: {:?}",
                        v.to_string_lossy()
                    )));
                }
                _ => return Err(arg.unexpected().into()),
            }
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, UsageError> {
        Args::parse(args.iter().map(OsString::from))
    }

    #[test]
    fn reads_endpoint_and_flags_in_any_order() {
        let a = parse(&[
            "--region",
            "us-west-2",
            "https://x.example/mcp",
            "--service=svc",
            "--profile",
            "dev",
        ])
        .unwrap();
        assert_eq!(a.endpoint.as_deref(), Some("https://x.example/mcp"));
        assert_eq!(a.region.as_deref(), Some("us-west-2"));
        assert_eq!(a.service.as_deref(), Some("svc"));
        assert_eq!(a.profile.as_deref(), Some("dev"));
    }

    #[test]
    fn repeatable_flags_keep_their_order() {
        let a = parse(&[
            "u",
            "--header",
            "A=1",
            "--headers",
            "B=2, C=3",
            "--metadata",
            "k=v",
            "--read-only",
            "--retries",
            "0",
        ])
        .unwrap();
        assert_eq!(a.headers, ["A=1", "B=2", "C=3"]);
        assert_eq!(a.metadata, ["k=v"]);
        assert!(a.read_only);
        assert_eq!(a.retries, Some(0));
        assert!(parse(&["u", "--retries", "11"]).is_err());
    }

    #[test]
    fn errors_name_the_flag_and_echo_the_value() {
        let e = parse(&["u", "--timeout", "soon"]).unwrap_err().to_string();
        assert!(e.contains("--timeout") && e.contains("\"soon\""), "{e}");
        let e = parse(&["u", "--nope"]).unwrap_err().to_string();
        assert!(e.contains("--nope"), "{e}");
        let e = parse(&["u", "v"]).unwrap_err().to_string();
        assert!(e.contains("second"), "{e}");
        let e = parse(&["u", "--region"]).unwrap_err().to_string();
        assert!(e.contains("--region"), "{e}");
    }
}
