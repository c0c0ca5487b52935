//! Calling AWS services: what every client of an AWS endpoint shares.
//!
//! Owns: reading AWS error answers ([`error`]). Used by the relay (the MCP
//! endpoint) and by the credential sources (STS, SSO, IMDS, containers).
//! Refuses: knowing MCP, or any one service's operations.

pub mod error;
