//! # mcp-sigv4
//!
//! A stdio MCP server that relays every JSON-RPC message, unchanged, to a remote
//! MCP server over MCP's Streamable HTTP transport, and signs every HTTP request
//! with AWS SigV4 (or SigV4A) using the user's own AWS credentials.
//!
//! The library holds the parts; the `mcp-sigv4` binary wires them together.
//!
//! - [`sigv4`]: canonical request, string to sign, SigV4 HMAC and SigV4A ECDSA
//!   signatures, checked against the AWS signing test suite.
//! - [`credentials`]: the environment, the shared config/credentials files and the
//!   credential chain, with a cache that keeps credentials fresh.
//!
//! ## What this crate never does
//! - It never writes a secret access key, session token, signing key, SigV4A
//!   private key, bearer token or `Mcp-Session-Id` to a log, an error or stdout.
//!   They are held in [`secret::Secret`] (redacted `Debug`/`Display`, zeroized on
//!   drop) and read only through `Secret::expose`.
//! - It never writes anything but JSON-RPC messages to stdout.
//! - It never reads the client's stdin from a child process.
//! - It never sends a request over plain HTTP to a host that is not loopback,
//!   except the link-local metadata endpoints that only exist inside AWS compute
//!   (EC2 IMDS `169.254.169.254`, ECS/EKS `169.254.170.2`/`.23`), as every AWS SDK does.
//! - It never uses `unsafe` code.

#![deny(missing_docs)]

pub mod auth;
pub mod aws;
pub mod cli;
pub mod client_config;
pub mod config;
pub mod credential_types;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod http;
pub mod random;
pub mod relay;
pub mod retry;
pub mod secret;
pub mod signal;
pub mod sigv4;
pub mod sync;
pub mod time;
pub mod url;

#[cfg(test)]
pub(crate) mod test_server;
