//! Several AWS profiles in one MCP server entry (`--profile a b c`).
//!
//! Owns: the profiles (the first is the default; at most
//! [`MAX_PROFILES`](crate::config::MAX_PROFILES)) and one upstream session for
//! each other profile, made on first use with its own signer ([`Profiles`]).
//! Such a session is opened — servers bind a session to the principal that
//! opened it — by replaying the client's handshake before its first message
//! ([`open_session`]). It owns the `aws_profile` property every tool gains in
//! `tools/list` ([`Profiles::property`]), where each client message goes
//! ([`route`]), and the ids of the requests other sessions' servers send the
//! client, given ids of the relay's own ([`from_server`]).
//! Refuses: changing anything with one profile, or a message of the default
//! session's server; reading the argument of a tool whose own input schema
//! has one of that name (`policy.rs`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

use super::failure::Failure;
use super::jsonrpc::{self, Id, Kind};
use super::pending::Pending;
use super::policy::{PROFILE_ARGUMENT, ToolCache};
use super::splice;
use super::upstream::{Remote, Upstream};
use crate::auth::RequestAuth;
use crate::config::RuntimeSession;
use crate::sync::Locked;

/// Server requests of the other sessions whose answer the relay waits to
/// route back; past it, the oldest is forgotten (its answer then goes to the
/// default session).
pub(crate) const MAX_SERVER_REQUESTS: usize = 1024;

/// The profiles, and the upstream session of each but the default (which is
/// the conversation's `upstream`).
///
/// Each other session is made on first use with a signer of its own
/// (`RequestAuth::for_profile`: its own credentials, cache, renewals and held
/// errors, so one profile's failure never blocks another's calls) and an
/// AgentCore runtime-session id of its own, then recovered and ended (its own
/// signed DELETE) like the default's.
pub(crate) struct Profiles {
    /// Every profile's name, the default first; empty with one profile.
    names: Vec<String>,
    /// The JSON text of the `aws_profile` property schema.
    property: Option<String>,
    link: Option<Arc<Remote>>,
    runtime_session: Option<RuntimeSession>,
    /// The session of profile `i` at `i - 1`, made on first use.
    sessions: Vec<OnceLock<Arc<Upstream>>>,
    /// The signer of profile `i` at `i - 1` (the process's).
    signers: Vec<Arc<RequestAuth>>,
    server_requests: Mutex<ServerRequests>,
}

impl std::fmt::Debug for Profiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiles")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// Requests of the other sessions' servers, by the id the client saw.
#[derive(Debug, Default)]
struct ServerRequests {
    next: u64,
    /// (the id the client saw, the session, the server's id), oldest first.
    waiting: VecDeque<(Id, usize, Id)>,
}

impl Profiles {
    /// One profile: nothing changes.
    pub(crate) fn one() -> Self {
        Profiles {
            names: Vec::new(),
            property: None,
            link: None,
            runtime_session: None,
            sessions: Vec::new(),
            signers: Vec::new(),
            server_requests: Mutex::default(),
        }
    }

    /// `names` (the default first) at `link`, each after the default signed
    /// by its signer in `signers` (the process's, made once: every client's
    /// session of a profile shares its credentials); fewer than two names is
    /// [`Profiles::one`]. Nothing is resolved or connected yet.
    pub(crate) fn new(
        link: &Arc<Remote>,
        signers: &[Arc<RequestAuth>],
        names: &[String],
        runtime_session: Option<RuntimeSession>,
    ) -> Self {
        if names.len() < 2 {
            return Profiles::one();
        }
        let property = json!({
            "type": "string",
            "enum": names,
            "description": format!(
                "AWS profile whose credentials sign this call (default: {})",
                names[0]
            ),
        })
        .to_string();
        Profiles {
            names: names.to_vec(),
            property: Some(property),
            link: Some(Arc::clone(link)),
            runtime_session,
            sessions: names[1..].iter().map(|_| OnceLock::new()).collect(),
            signers: signers.to_vec(),
            server_requests: Mutex::default(),
        }
    }

    /// True with more than one profile.
    pub(crate) fn several(&self) -> bool {
        self.names.len() > 1
    }

    /// The name of the default profile, with several.
    pub(crate) fn default_name(&self) -> Option<&str> {
        self.names.first().map(String::as_str)
    }

    /// The schema of the `aws_profile` property every tool gains (JSON
    /// text), with several profiles.
    pub(crate) fn property(&self) -> Option<&str> {
        self.property.as_deref()
    }

    /// The upstream session of profile `index` (not the default's), made
    /// now if it was not: with `--runtime-session identity` that asks STS
    /// who the profile is (on the exchange's thread, never stdin's).
    pub(crate) fn upstream(&self, index: usize) -> Option<Arc<Upstream>> {
        let cell = self.sessions.get(index.checked_sub(1)?)?;
        let up = cell.get_or_init(|| {
            let link = Arc::clone(self.link.as_ref().expect("several profiles have a link"));
            let auth = Arc::clone(&self.signers[index - 1]);
            let runtime_session = match self.runtime_session {
                Some(RuntimeSession::Identity) => auth.identity_session_id().unwrap_or_else(|e| {
                    log::warn!(
                        "--runtime-session identity for profile '{}': {e}; using a random id",
                        self.names[index]
                    );
                    crate::random::random_id()
                }),
                _ => crate::random::random_id(),
            };
            Arc::new(
                Upstream::new(link, auth, Some(runtime_session))
                    .with_profile(index, &self.names[index]),
            )
        });
        Some(Arc::clone(up))
    }

    /// The sessions made so far, but the default's.
    pub(crate) fn made(&self) -> Vec<Arc<Upstream>> {
        self.sessions
            .iter()
            .filter_map(|c| c.get().cloned())
            .collect()
    }

    /// The id the client sees for request `id` of session `index`'s server.
    fn server_request(&self, index: usize, id: &Id) -> Id {
        let mut table = self.server_requests.locked();
        table.next += 1;
        let ours = Id::from_json(
            &json!(format!("{OUR_PREFIX}{}:{}", self.names[index], table.next)).to_string(),
        );
        if table.waiting.len() >= MAX_SERVER_REQUESTS {
            table.waiting.pop_front();
            log::debug!(
                "more than {MAX_SERVER_REQUESTS} server requests unanswered; forgetting the oldest"
            );
        }
        table.waiting.push_back((ours.clone(), index, id.clone()));
        ours
    }

    /// The session and the server's id of the request the client answers
    /// with `id`, if it was one of the other sessions'.
    fn answered(&self, id: &Id) -> Option<(usize, Id)> {
        let mut table = self.server_requests.locked();
        let at = table.waiting.iter().position(|(ours, ..)| ours == id)?;
        table
            .waiting
            .remove(at)
            .map(|(_, index, theirs)| (index, theirs))
    }

    /// The id the client saw for request `theirs` of session `index`.
    fn seen_as(&self, index: usize, theirs: &Id) -> Option<Id> {
        self.server_requests
            .locked()
            .waiting
            .iter()
            .find(|(_, i, t)| *i == index && t == theirs)
            .map(|(ours, ..)| ours.clone())
    }
}

/// Where a client message goes.
#[derive(Debug)]
pub(crate) enum Route {
    /// To the default session, as it is.
    Default,
    /// To the session of the profile at this place (0: the default), with
    /// this body.
    To(usize, String),
    /// Nowhere: the request is answered with this error.
    Refuse(Failure),
}

/// Where the client message `text` (`kind`, parsed as `value`) goes, with
/// several profiles (always [`Route::Default`] with one).
///
/// A `tools/call` whose arguments name a profile goes to that profile's
/// session, without the argument; a name that is not one of the profiles is
/// refused, nothing sent. The client's answer to a server request goes back
/// to the session whose server asked; a cancellation to the session its
/// request went to; everything else to the default session, as it came.
pub(crate) fn route(
    profiles: &Profiles,
    tools: &ToolCache,
    pending: &Pending,
    kind: &Kind,
    text: &str,
    value: Option<&Value>,
) -> Route {
    if !profiles.several() {
        return Route::Default;
    }
    match kind {
        Kind::Request { method, .. } if method == "tools/call" => {
            let params = value.and_then(|v| v.get("params"));
            let name = params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let Some(chosen) = params
                .and_then(|p| p.get("arguments"))
                .and_then(|a| a.get(PROFILE_ARGUMENT))
            else {
                return Route::Default;
            };
            if !tools.routes_by_profile(name) {
                return Route::Default;
            }
            let index = match chosen {
                // A client that fills every optional argument: the default.
                Value::Null => 0,
                Value::String(s) => match profiles.names.iter().position(|n| n == s) {
                    Some(i) => i,
                    None => return Route::Refuse(unknown_profile(profiles, &json!(s))),
                },
                other => return Route::Refuse(unknown_profile(profiles, other)),
            };
            match splice::find(text, &["params", "arguments"])
                .and_then(|args| splice::remove_member(text, args, PROFILE_ARGUMENT))
            {
                Some(stripped) => Route::To(index, stripped),
                None => Route::Refuse(unknown_profile(profiles, chosen)),
            }
        }
        Kind::Response { id: Some(id) } => match profiles.answered(id) {
            Some((index, theirs)) => {
                let body = match splice::find(text, &["id"]) {
                    Some(span) => splice::replace(text, span, theirs.as_json()),
                    None => text.to_owned(),
                };
                Route::To(index, body)
            }
            None => Route::Default,
        },
        Kind::Notification { method } if method == "notifications/cancelled" => {
            let index = value
                .and_then(|v| v.pointer("/params/requestId"))
                .filter(|i| i.is_string() || i.is_number())
                .and_then(|i| pending.route(&Id::from_json(&i.to_string())));
            match index {
                Some(i) if i > 0 => Route::To(i, text.to_owned()),
                _ => Route::Default,
            }
        }
        _ => Route::Default,
    }
}

/// `aws_profile` names no profile of this entry.
fn unknown_profile(profiles: &Profiles, given: &Value) -> Failure {
    Failure {
        code: jsonrpc::INVALID_PARAMS,
        message: format!(
            "Invalid params: {PROFILE_ARGUMENT} {} is not one of this server's AWS profiles: {}; the call was not sent",
            jsonrpc::shorten(&given.to_string(), 64),
            profiles.names.join(", ")
        ),
        data: Some(json!({ "profiles": profiles.names })),
    }
}

/// The prefix of the ids the relay gives other sessions' server requests.
const OUR_PREFIX: &str = "mcp-sigv4:";

/// True when `id` is a string in the relay's own namespace ([`OUR_PREFIX`]),
/// whatever its escapes.
fn in_our_namespace(id: &Id) -> bool {
    serde_json::from_str::<String>(id.as_json()).is_ok_and(|s| s.starts_with(OUR_PREFIX))
}

/// A message from the server of session `index`, on its way to the client:
/// a request of another session than the default's gets an id of the
/// relay's own, and so does one of the default session's whose id is in the
/// relay's namespace (so that no two requests reach the client with one id);
/// a cancellation of one of them names that id. `None`: unchanged.
///
/// The relay's ids read `"mcp-sigv4:<profile>:<n>"`, so two servers' ids
/// never meet on stdout; the client's answer gets the server's id back on its
/// way to that session (at most [`MAX_SERVER_REQUESTS`] remembered, the
/// oldest forgotten first).
pub(crate) fn from_server(
    profiles: &Profiles,
    index: usize,
    kind: &Kind,
    line: &str,
) -> Option<String> {
    if !profiles.several() {
        return None;
    }
    if index == 0 {
        match kind {
            Kind::Request { id, .. } if !in_our_namespace(id) => return None,
            Kind::Request { .. } => {}
            Kind::Notification { method } if method == "notifications/cancelled" => {}
            _ => return None,
        }
    }
    match kind {
        Kind::Request { id, .. } => {
            let ours = profiles.server_request(index, id);
            let span = splice::find(line, &["id"])?;
            Some(splice::replace(line, span, ours.as_json()))
        }
        Kind::Notification { method } if method == "notifications/cancelled" => {
            let span = splice::find(line, &["params", "requestId"])?;
            let theirs = &line[span.clone()];
            if !(theirs.starts_with('"')
                || theirs.starts_with('-')
                || theirs.as_bytes()[0].is_ascii_digit())
            {
                return None;
            }
            let ours = profiles.seen_as(index, &Id::from_json(theirs))?;
            Some(splice::replace(line, span, ours.as_json()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Profiles {
        Profiles {
            names: vec!["a".into(), "b".into()],
            ..Profiles::one()
        }
    }

    fn kind(line: &str) -> Kind {
        jsonrpc::classify(line.as_bytes()).unwrap().items[0].clone()
    }

    #[test]
    fn a_server_request_of_another_session_gets_an_id_of_ours_and_its_answer_the_servers() {
        let p = two();
        let request = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;
        assert_eq!(
            from_server(&p, 0, &kind(request), request),
            None,
            "the default's: as it came"
        );
        let ours = from_server(&p, 1, &kind(request), request).unwrap();
        assert_eq!(
            ours,
            r#"{"jsonrpc":"2.0","id":"mcp-sigv4:b:1","method":"ping"}"#
        );
        let cancel =
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7.0}}"#;
        assert_eq!(
            from_server(&p, 1, &kind(cancel), cancel).unwrap(),
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"mcp-sigv4:b:1"}}"#,
            "matched by value"
        );
        let unknown =
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":8}}"#;
        assert_eq!(from_server(&p, 1, &kind(unknown), unknown), None);
        let id = Id::from_json(r#""mcp-sigv4:b:1""#);
        assert_eq!(p.answered(&id), Some((1, Id::from_json("7"))));
        assert_eq!(p.answered(&id), None, "answered once");
    }

    #[test]
    fn the_oldest_server_request_is_forgotten_past_the_bound() {
        let p = two();
        for n in 0..=MAX_SERVER_REQUESTS {
            p.server_request(1, &Id::from_json(&n.to_string()));
        }
        assert_eq!(p.answered(&Id::from_json(r#""mcp-sigv4:b:1""#)), None);
        assert_eq!(
            p.answered(&Id::from_json(r#""mcp-sigv4:b:2""#)),
            Some((1, Id::from_json("1")))
        );
        assert_eq!(
            p.server_requests.locked().waiting.len(),
            MAX_SERVER_REQUESTS - 1
        );
    }
}
