//! Calling AWS services: what every client of an AWS endpoint shares.
//!
//! Owns: where a service is (`endpoint`: `ServiceUrl` on the crate's one URL
//! parser and plain-HTTP rule, the regional defaults), one call with the retry
//! policy (`service`), and reading AWS error answers ([`error`]). Used by the relay (the MCP endpoint's error answers) and by
//! the credential sources (STS, IAM Identity Center, instance metadata,
//! container credentials), which are then only their own requests and answers.
//! Refuses: knowing MCP, credentials, or any one service's operations.

pub(crate) mod endpoint;
pub mod error;
pub(crate) mod service;
