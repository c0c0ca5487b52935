//! The table of client requests waiting for an answer.
//!
//! Owns: the rule that every request the client sends gets exactly one response.
//! A request id is registered when it is read from stdin; the first response for
//! it (the server's, or an error the relay makes) removes it; anything after that
//! for the same id is dropped. A request the client cancelled is removed without
//! an error of ours (the client no longer expects one), though the server's own
//! late answer still goes through.
//! Refuses: a second request with an id already waiting; a second answer for
//! one id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::jsonrpc::Id;
use crate::http::Client;
use crate::sync::Locked;

/// How an exchange is told to stop: a flag it checks between reads, and the
/// dedicated HTTP client whose connection is closed at once (a read blocked on
/// a silent stream fails immediately).
#[derive(Debug, Default)]
pub(crate) struct Abort {
    flag: AtomicBool,
    client: Mutex<Option<Client>>,
}

impl Abort {
    /// True once [`abort`](Self::abort) was called.
    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Stops the exchange: sets the flag and closes its connection.
    pub(crate) fn abort(&self) {
        self.flag.store(true, Ordering::Release);
        if let Some(c) = self.client.locked().as_ref() {
            c.shutdown();
        }
    }

    /// Records the client the exchange sends with.
    pub(crate) fn set_client(&self, client: Client) {
        let aborted = self.is_set();
        *self.client.locked() = Some(client.clone());
        if aborted {
            client.shutdown();
        }
    }
}

#[derive(Debug)]
struct Entry {
    method: String,
    cancelled: bool,
    /// Stops the exchange carrying the request (a 2026-07-28 request the client
    /// cancelled: closing the stream is the cancel; and at exit).
    abort: Arc<Abort>,
    /// Its revision cancels by closing the stream (2026-07-28).
    closes_to_cancel: bool,
    /// The profile whose upstream session it went to (0: the default).
    route: usize,
}

/// What a response for an id means for the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Completion {
    /// The id was waiting: forward the response, with the id as the client
    /// spelled it.
    Forward(Id),
    /// The id was not waiting (already answered, or never asked): drop it.
    Unknown,
}

/// Client requests in flight.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    map: Mutex<HashMap<Id, Entry>>,
}

impl Pending {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Pending::default()
    }

    /// Registers a request (`closes_to_cancel`: its revision cancels by closing
    /// the stream, as 2026-07-28 does); returns its abort flag, or `None` when
    /// the id is already in flight.
    pub(crate) fn register(
        &self,
        id: &Id,
        method: &str,
        closes_to_cancel: bool,
    ) -> Option<Arc<Abort>> {
        let mut map = self.map.locked();
        if map.contains_key(id) {
            return None;
        }
        let abort = Arc::new(Abort::default());
        map.insert(
            id.clone(),
            Entry {
                method: method.to_owned(),
                cancelled: false,
                abort: Arc::clone(&abort),
                closes_to_cancel,
                route: 0,
            },
        );
        Some(abort)
    }

    /// Marks a request as cancelled by the client. The exchange of a request
    /// whose revision cancels by closing the stream (2026-07-28) is also told
    /// to stop. Returns `Some(closes_to_cancel)` when the id was in flight.
    pub(crate) fn cancel(&self, id: &Id) -> Option<bool> {
        let mut map = self.map.locked();
        let e = map.get_mut(id)?;
        e.cancelled = true;
        let closes_to_cancel = e.closes_to_cancel;
        let abort = Arc::clone(&e.abort);
        drop(map);
        if closes_to_cancel {
            abort.abort();
        }
        Some(closes_to_cancel)
    }

    /// The ids of the requests still waiting that the client did not cancel.
    pub(crate) fn waiting(&self) -> Vec<Id> {
        let map = self.map.locked();
        map.iter()
            .filter(|(_, e)| !e.cancelled)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Stops every exchange in flight and forgets their requests (at exit).
    /// Returns how many there were.
    pub(crate) fn abort_all(&self) -> usize {
        let entries: Vec<Arc<Abort>> = {
            let mut map = self.map.locked();
            map.drain().map(|(_, e)| e.abort).collect()
        };
        for a in &entries {
            a.abort();
        }
        entries.len()
    }

    /// A response for `id` arrived from the server.
    pub(crate) fn complete(&self, id: &Id) -> Completion {
        match self.map.locked().remove_entry(id) {
            Some((theirs, _)) => Completion::Forward(theirs),
            None => Completion::Unknown,
        }
    }

    /// The relay is about to answer `id` with an error: true when it should
    /// (the id was waiting and not cancelled). The id is removed either way.
    pub(crate) fn fail(&self, id: &Id) -> bool {
        self.map.locked().remove(id).is_some_and(|e| !e.cancelled)
    }

    /// [`fail`](Self::fail) for the registration that handed out `abort`
    /// only: once a request is answered the client may send another with the
    /// same id, and the first one's exchange, still finishing, must not answer
    /// or remove the new one.
    pub(crate) fn fail_own(&self, id: &Id, abort: &Arc<Abort>) -> bool {
        let mut map = self.map.locked();
        if !map.get(id).is_some_and(|e| Arc::ptr_eq(&e.abort, abort)) {
            return false;
        }
        map.remove(id).is_some_and(|e| !e.cancelled)
    }

    /// Records that waiting request `id` went to the upstream session of
    /// profile `route` (several profiles), so its cancellation goes there too.
    pub(crate) fn set_route(&self, id: &Id, route: usize) {
        if let Some(e) = self.map.locked().get_mut(id) {
            e.route = route;
        }
    }

    /// The profile whose session waiting request `id` went to.
    pub(crate) fn route(&self, id: &Id) -> Option<usize> {
        self.map.locked().get(id).map(|e| e.route)
    }

    /// True when `id` is waiting and the client cancelled it.
    pub(crate) fn is_cancelled(&self, id: &Id) -> bool {
        self.map.locked().get(id).is_some_and(|e| e.cancelled)
    }

    /// True when `id` is waiting.
    pub(crate) fn contains(&self, id: &Id) -> bool {
        self.map.locked().contains_key(id)
    }

    /// The method of a waiting request.
    pub(crate) fn method(&self, id: &Id) -> Option<String> {
        self.map.locked().get(id).map(|e| e.method.clone())
    }

    /// How many requests are waiting.
    pub(crate) fn len(&self) -> usize {
        self.map.locked().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_answer_per_id() {
        let p = Pending::new();
        let id = Id::from_json("1");
        assert!(p.register(&id, "tools/call", false).is_some());
        assert!(p.register(&id, "tools/call", false).is_none());
        assert_eq!(p.complete(&id), Completion::Forward(id.clone()));
        assert_eq!(p.complete(&id), Completion::Unknown);
        assert!(!p.fail(&id));
    }

    #[test]
    fn ids_match_by_value_and_the_clients_spelling_comes_back() {
        let p = Pending::new();
        let theirs = Id::from_json(r#""café""#);
        assert!(p.register(&theirs, "ping", false).is_some());
        assert!(
            p.register(&Id::from_json(r#""caf\u00e9""#), "ping", false)
                .is_none(),
            "the same id, spelled otherwise, is in flight"
        );
        match p.complete(&Id::from_json(r#""caf\u00e9""#)) {
            Completion::Forward(id) => assert_eq!(id.as_json(), r#""café""#),
            other => panic!("{other:?}"),
        }
        assert!(p.register(&Id::from_json("10"), "ping", false).is_some());
        assert!(p.contains(&Id::from_json("1e1")));
        assert!(!p.contains(&Id::from_json("\"10\"")));
    }

    /// Regression: the initialize exchange, finishing after its answer went
    /// out, failed the client's next request, which reused id 1.
    #[test]
    fn an_exchange_fails_only_its_own_registration_of_an_id() {
        let p = Pending::new();
        let id = Id::from_json("1");
        let first = p.register(&id, "initialize", false).unwrap();
        assert!(matches!(p.complete(&id), Completion::Forward(_)));
        let second = p.register(&id, "tools/call", false).unwrap();
        assert!(!p.fail_own(&id, &first), "another request's now");
        assert!(p.contains(&id));
        assert!(p.fail_own(&id, &second));
        assert!(!p.contains(&id));
    }

    #[test]
    fn cancelled_requests_get_no_error_from_us() {
        let p = Pending::new();
        let id = Id::from_json("\"c\"");
        let abort = p.register(&id, "tools/call", false).unwrap();
        assert_eq!(p.cancel(&id), Some(false));
        assert!(!abort.is_set());
        assert!(!p.fail(&id));
        assert_eq!(p.len(), 0);
        let abort = p.register(&id, "tools/call", true).unwrap();
        assert_eq!(p.cancel(&id), Some(true));
        assert!(
            abort.is_set(),
            "a 2026-07-28 request's stream is closed on cancel"
        );
        assert_eq!(p.complete(&id), Completion::Forward(id.clone()));
        assert_eq!(p.cancel(&Id::from_json("9")), None);
    }
}
