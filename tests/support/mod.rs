//! Test support shared by the integration tests that talk HTTP or run the
//! binary (`tests/relay.rs`, `tests/soak.rs`, `tests/credentials.rs`,
//! `tests/cli.rs`), one file per job:
//!
//! - `server.rs`: the one scripted HTTP/1.1 test server on 127.0.0.1
//!   ([`Server`], [`Reply`], [`Seen`]), for the MCP upstream and the AWS
//!   endpoints alike;
//! - `signature.rs`: an independent SigV4 check of what the server received
//!   ([`SignedBy`], [`assert_signed`]);
//! - `proxy.rs`: the built `mcp-sigv4` binary driven over stdio ([`Proxy`]);
//! - `mcp.rs`: JSON-RPC and SSE texts and a plain MCP server's answers
//!   ([`standard_reply`]);
//! - `fixtures.rs`: a temporary directory ([`TempDir`]), a child's output
//!   waited for with a bound ([`output_within`]) and civil time;
//! - `profiles.rs`: two AWS profiles' files and keys for `--profile a b`
//!   ([`profile_files`], [`profile_proxy`]);
//! - `signin.rs`: an AWS Sign-In stub that checks DPoP proofs on its own
//!   ([`sign_in_stub`]) and the `aws login` cache file;
//! - `serve.rs`: `mcp-sigv4 serve` on a port it picked, and a raw HTTP
//!   client for it ([`start_serve`], [`http`]);
//! - `tls.rs`: a private CA and a server certificate for 127.0.0.1 the test
//!   makes ([`TestCa`]), for [`Server::start_tls`], and PEM/DER key forms.
//!
//! Refuses: reaching beyond loopback and waiting without a bound.

#![allow(dead_code, unused_imports)] // each test binary uses a different part

pub mod fixtures;
pub mod mcp;
pub mod profiles;
pub mod proxy;
pub mod serve;
pub mod server;
pub mod signature;
pub mod signin;
pub mod tls;

pub use fixtures::*;
pub use mcp::*;
pub use profiles::*;
pub use proxy::*;
pub use serve::*;
pub use server::*;
pub use signature::*;
pub use signin::*;
pub use tls::*;
