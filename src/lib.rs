//! # mcp-sigv4
//!
//! A stdio MCP server that relays every JSON-RPC message, unchanged, to a remote
//! MCP server over MCP's Streamable HTTP transport, and signs every HTTP request
//! with AWS SigV4 (or SigV4A) using the user's own AWS credentials.
//!
//! The `mcp-sigv4` binary wires the parts together. Three of them are a
//! library for other programs, documented here with runnable examples:
//!
//! - [`sigv4`]: the signer — canonical request, string to sign, SigV4 HMAC
//!   and SigV4A ECDSA signatures, with the signing keys cached — checked
//!   against AWS's published signing test suite.
//! - [`credentials`]: the credential chain as the AWS SDKs run it (the
//!   environment, the shared config and credentials files and every source
//!   they name), with a [`CredentialsProvider`](credentials::CredentialsProvider)
//!   that keeps the credentials fresh; [`credential_types::Credentials`] is the
//!   value both use.
//! - [`endpoint`]: what an endpoint URL or AgentCore Runtime ARN says — the
//!   URL as it will be sent and signed, and the signing name and region an AWS
//!   host carries.
//!
//! [`manual`] is the user's reference, the pages the README links to.
//! [`secret`] and [`time`] are the small value types those use. Every other
//! module is the relay's own and hidden from these docs; its items may change
//! between releases.
//!
//! ```
//! // Infer the signing name and region from a host, then sign a JSON-RPC POST.
//! use mcp_sigv4::credential_types::Credentials;
//! use mcp_sigv4::endpoint::{Endpoint, infer_from_host};
//! use mcp_sigv4::secret::Secret;
//! use mcp_sigv4::sigv4::{Algorithm, SignableRequest, Signer, SigningParams, SigningSettings};
//! use mcp_sigv4::time::AmzDate;
//!
//! let endpoint = Endpoint::parse("https://aws-mcp.us-east-1.api.aws/mcp").unwrap();
//! let host = infer_from_host(&endpoint.host);
//! assert_eq!(host.service.as_deref(), Some("aws-mcp"));
//! assert_eq!(host.region.as_deref(), Some("us-east-1"));
//!
//! let credentials = Credentials::new(
//!     "AKIDEXAMPLE",
//!     Secret::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
//!     None,
//!     None,
//!     "example",
//! );
//! let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
//! let authority = endpoint.authority();
//! let headers = [("host", authority.as_str()), ("content-type", "application/json")];
//! let signed = Signer::new()
//!     .sign(
//!         &SignableRequest {
//!             method: "POST",
//!             path: &endpoint.path,
//!             query: &endpoint.query,
//!             headers: &headers,
//!             body,
//!         },
//!         &SigningParams {
//!             credentials: &credentials,
//!             algorithm: Algorithm::V4,
//!             region: "us-east-1",
//!             service: "aws-mcp",
//!             time: AmzDate::parse_amz("20260101T000000Z").unwrap(),
//!             settings: SigningSettings::default(),
//!         },
//!     )
//!     .unwrap();
//! // The signature botocore's SigV4Auth gives for the same request and clock.
//! let authorization = signed.headers.iter().find(|h| h.0 == "authorization").unwrap().1.expose();
//! assert_eq!(
//!     authorization,
//!     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/aws-mcp/aws4_request, \
//!      SignedHeaders=content-type;host;x-amz-date, \
//!      Signature=3b850d6c8d2b1b77927c84ac7e3d8948e8602aa6af19963e550543b4b277c550"
//! );
//! ```
//!
//! ## Architecture
//!
//! Dependencies point one way: the leaves import nothing above them; `sigv4`
//! and `credentials` share only the leaves (the credentials value lives in
//! `credential_types`, as the AWS SDKs keep it in a credential-types crate);
//! `aws` (calling an AWS service: one fetch with the retry policy, one reader
//! of AWS error answers) serves `credentials` and the relay; `config` sits on
//! those; the relay on `config`; `main` on everything.
//!
//! | layer | modules |
//! | --- | --- |
//! | leaves (pure, or one small job each) | `secret` (redacted, zeroized), `time` (X-Amz-Date, RFC 3339; the clock passed in), `url` (the one URL parser and plain-HTTP rule), `credential_types`, `text` (the one sanitiser for text from servers and children), `json`, `xml`, `base64` (RFC 4648), `der` (X.690 elements), `redact` (the secrets a request carried, taken out of server text), `fs` (bounded reads, atomic rewrites), `retry` (backoff, `Retry-After`), `random`, `sync`, `signal` (SIGINT/SIGTERM, Windows console events; the only `unsafe`) |
//! | signing and credentials | `sigv4` (canonical request, SigV4 key and signature, SigV4A key derivation, the signer's caches), `http` (the only ureq/rustls user: TLS roots, connection leases, bounded bodies), `aws` (service calls and their errors), `credentials` (profile files, the chain, each source, the provider that renews) |
//! | configuration and the process | `endpoint` (URL as sent and signed; host → signing name and region), `auth` (credentials + signer → one request's headers; the SigV4/SigV4A choice), `error` (causes, hints, exit codes), `cli` (arguments → `Args`, no I/O), `config` (`Args` + environment → `Config`), `client_config` (`config <client>`: each client's shape and file path per OS), `framework_snippet` (`config strands|langchain|…`), `doctor` |
//! | the relay | `relay`: the process's part made once (`relay::process`: the endpoint, its connections, the default signer, the options), one conversation per client on it (`relay::conversation`: its upstream session, requests waiting, handshake; `relay::clients` opens, feeds and ends one), and where that client's messages go (`relay::sink`: a queue bounded in bytes whose reader is the stdout writer, or an HTTP response of `serve`) |
//! | the HTTP listener | `serve` (`mcp-sigv4 serve`): request heads read with httparse and bounded (`serve::request`), `Host`/`Origin`/token checks, one relay conversation per `Mcp-Session-Id`, each answer an SSE event as it arrives, the drain on SIGTERM or Ctrl+C; `healthcheck` (`mcp-sigv4 healthcheck`: one bounded GET of a serve's probe on loopback or a Unix socket, for container health checks) |
//! | the user's reference | `manual` (doc-only pages, `src/manual/*.md`: clients, doctor, endpoints, credentials, signing, relay, serve, security, migrating, verify; nothing in the binary) |
//! | outside `src/` | `tests/` (black-box suites on one test server; `tests/README.md`), `vectors/` (AWS test data, with provenance), `fuzz/` (cargo-fuzz targets, own workspace), `.packaging/` (release builds and packages), `.ci/` (what CI runs) |
//!
//! One message's walk, for a `tools/call` from the client:
//!
//! 1. The stdin thread (`relay::stdio`) reads one line, bounded by
//!    `--max-line-size`, and `relay::dispatch` checks it: UTF-8 JSON-RPC, no
//!    key twice in one object, its id not already in flight; `--metadata` is
//!    applied here.
//! 2. `relay::admission` starts an exchange for it on a thread of its own (or
//!    queues it past `--max-in-flight`; pings, notifications and answers to
//!    the server go ahead).
//! 3. The exchange (`relay::exchange`) applies `--read-only` (`relay::policy`),
//!    waits for the handshake if it has not ended, then has `auth` sign the
//!    POST (canonical request, string to sign, signature; `sigv4`) with the
//!    credentials the provider holds, and sends it over a pooled connection
//!    (`http`), with the session's `Mcp-Session-Id` and protocol headers.
//! 4. The answer is a JSON body or an SSE stream (`relay::stream`,
//!    `relay::sse`); each message in it goes to `relay::inbound`, which checks
//!    it, matches a response to the request still waiting on it (exactly once)
//!    and passes server requests and notifications on.
//! 5. The message goes to the conversation's sink (`relay::sink`); the stdout
//!    thread (`relay::stdio`) writes each message as one whole line and
//!    flushes. A failure anywhere on the way (refused signature, timeout,
//!    lost session after recovery) becomes one JSON-RPC error with the
//!    request's id (`relay::failure`), never silence.
//!
//! ## What this crate never does
//! - It never writes a secret access key, session token, signing key, SigV4A
//!   private key, bearer token or `Mcp-Session-Id` to a log, an error or stdout.
//!   They are held in [`secret::Secret`] (redacted `Debug`/`Display`, zeroized on
//!   drop) and read only through `Secret::expose`.
//! - It never writes anything but JSON-RPC messages to stdout.
//! - It never reads the client's stdin from a child process.
//! - It never sends a request over plain HTTP to a host that is not a literal
//!   loopback address or `localhost` (no name is resolved to decide), except the
//!   link-local metadata endpoints that only exist inside AWS compute (EC2 IMDS
//!   `169.254.169.254`, ECS/EKS `169.254.170.2`/`.23`), as every AWS SDK does.
//! - The relay never sends a message with a key twice in one object, never
//!   lets a batch member around `--read-only` or `--metadata`, never holds more
//!   than one message of a stream at a time (each bounded, the stream not), and
//!   never waits on a tool call past `--tool-timeout` without a message,
//!   however slowly the server trickles bytes.
//! - It never uses `unsafe` code outside `signal`, the SIGINT/SIGTERM
//!   handler (a self-pipe) and the Windows console control handler, where
//!   each block carries its SAFETY argument.

#![deny(missing_docs)]

#[doc(hidden)]
pub mod auth;
#[doc(hidden)]
pub mod aws;
pub(crate) mod base64;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod client_config;
#[doc(hidden)]
pub mod config;
pub mod credential_types;
pub mod credentials;
pub(crate) mod der;
#[doc(hidden)]
pub mod doctor;
pub mod endpoint;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod framework_snippet;
pub(crate) mod fs;
#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod healthcheck;
#[doc(hidden)]
pub mod http;
pub(crate) mod json;
pub mod manual;
#[doc(hidden)]
pub mod random;
pub(crate) mod redact;
#[doc(hidden)]
pub mod relay;
#[doc(hidden)]
pub mod retry;
pub mod secret;
#[doc(hidden)]
pub mod serve;
#[doc(hidden)]
pub mod signal;
pub mod sigv4;
#[doc(hidden)]
pub mod sync;
pub(crate) mod text;
pub mod time;
#[doc(hidden)]
pub mod url;
#[doc(hidden)]
pub mod xml;
