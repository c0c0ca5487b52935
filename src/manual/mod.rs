//! The user's reference: what the README summarises, in full, one page per
//! topic. Each page is a Markdown file beside this one (`src/manual/*.md`),
//! read on GitHub as it is and here as a module with no items; none of this
//! text is compiled into the binary.
//!
//! | page | what it holds |
//! | --- | --- |
//! | [`clients`] | `config <client>` for each MCP client and agent framework, where each file goes, what it checks |
//! | [`doctor`] | `mcp-sigv4 doctor`: each check, its exit code, the `--json` document, what is redacted |
//! | [`endpoints`] | what to give as the endpoint, and the signing name and region each AWS host shape gives |
//! | [`credentials`] | the credential chain, several profiles in one entry, role session names, endpoint overrides, corporate TLS, renewal, the region |
//! | [`signing`] | SigV4 and SigV4A, `--sig-version` and the region set |
//! | [`serve`] | `mcp-sigv4 serve`: listening, who may call it, the MCP endpoint's rules, probes and `mcp-sigv4 healthcheck`, bounds, stopping |
//! | [`relay`] | revisions, exactly one answer, recovery, retries, timeouts, limits, connections, load, policy, AgentCore, shutdown and signals |
//! | [`security`] | what it never does |
//! | [`migrating`] | the other proxies' command lines and variables, and where they differ |
//! | [`verify`] | checking a release binary: hashes, the embedded dependency list, the SBOM, the policy, a bit-for-bit rebuild |

#[doc = include_str!("clients.md")]
pub mod clients {}
#[doc = include_str!("doctor.md")]
pub mod doctor {}
#[doc = include_str!("endpoints.md")]
pub mod endpoints {}
#[doc = include_str!("credentials.md")]
pub mod credentials {}
#[doc = include_str!("signing.md")]
pub mod signing {}
#[doc = include_str!("relay.md")]
pub mod relay {}
#[doc = include_str!("serve.md")]
pub mod serve {}
#[doc = include_str!("security.md")]
pub mod security {}
#[doc = include_str!("migrating.md")]
pub mod migrating {}
#[doc = include_str!("verify.md")]
pub mod verify {}
