//! Private messages between nodes, never dropped and confirmed.
//!
//! The sending node names, for each recipient, the node it believes the
//! recipient online on (`P <names> <nodes> <sender>`, see
//! [`wire`](crate::server::cluster::wire)). That node alone takes it: it
//! delivers it to the recipient online here, or — the recipient has left
//! meanwhile, its `LEFT` still on its way to the sender — holds it in
//! JetStream for them, as the sender's node would have had it known.
//!
//! A `PING` after private messages to other nodes asks each of those nodes
//! (one request per node, on the bus after the messages) to confirm; a
//! node answers once the holds those messages caused are done, with what
//! could not be held, so an `ERR 507` or `ERR 503` from there reaches the
//! sender before its `PONG`, as on one node. A node that does not answer
//! in time is an `ERR 503` for the sender, never a silent `PONG`.

use super::super::Hub;
use crate::protocol::ErrorCode;
use crate::server::cluster::answer::encode_answer;
use crate::server::cluster::wire::Route;
use crate::server::cluster::{HoldOutcome, ToCluster};
use bytes::Bytes;
use log::warn;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

/// Senders of other nodes whose confirmation this node keeps, at most
/// (one per connection that sent here since its last `PING`).
const MAX_SENDERS: usize = 1 << 16;
/// Failures kept for one sender until it asks, and requests waiting for
/// one sender's holds, at most (only a forger would reach either).
const MAX_FAILURES: usize = 64;
const MAX_WAITING: usize = 4;

/// What a sender of another node will be told when it asks.
#[derive(Debug, Default)]
struct Confirmation {
    /// Its private messages for this node since its last request: fewer
    /// than it says it sent, and the others were lost on the way.
    received: u64,
    /// Holds of its messages under way.
    in_flight: usize,
    failures: Vec<(ErrorCode, String)>,
    /// Inboxes of its requests, answered when the holds are done.
    waiting: Vec<String>,
}

impl Confirmation {
    fn is_empty(&self) -> bool {
        self.received == 0
            && self.in_flight == 0
            && self.failures.is_empty()
            && self.waiting.is_empty()
    }
}

/// This node's side of other nodes' private messages held here.
#[derive(Debug, Default)]
pub(in crate::server::hub) struct Relays {
    /// Holds under way, by id: for which sender of which node, and whom.
    holds: HashMap<u64, (String, u64, Vec<String>)>,
    senders: HashMap<(String, u64), Confirmation>,
    next_id: u64,
    /// Failure reports dropped for want of room (logged at powers of two).
    forgotten: u64,
}

impl Relays {
    /// The confirmation of `sender` of node `origin`, made room for if
    /// need be: `None` when every one kept is still under way.
    fn of(&mut self, origin: &str, sender: u64) -> Option<&mut Confirmation> {
        let key = (origin.to_owned(), sender);
        if !self.senders.contains_key(&key) && self.senders.len() >= MAX_SENDERS {
            // Senders that have not asked (gone, or their node gone): what
            // they were to be told is dropped, and said so in the log (if
            // one does ask, it hears that some of its messages may be lost).
            let before = self.senders.len();
            self.senders
                .retain(|_, c| c.in_flight > 0 || !c.waiting.is_empty());
            self.forgotten += (before - self.senders.len()) as u64;
            warn!(
                "forgot what {} senders on other nodes sent here since their last PING ({} so far)",
                before - self.senders.len(),
                self.forgotten
            );
            if self.senders.len() >= MAX_SENDERS {
                return None;
            }
        }
        Some(self.senders.entry(key).or_default())
    }
}

impl<T: Write> Hub<T> {
    /// A private message from node `origin`: for the recipients the route
    /// gives this node, delivered if online here, else held for them.
    /// (Without a route, from an older node: for whoever is online here.)
    pub(super) fn private_from_bus(
        &mut self,
        origin: &str,
        to: &str,
        route: Option<Route<'_>>,
        frame: &[u8],
    ) {
        // After the broadcasts that came before it.
        if self.batch.has_frames() {
            self.seal();
        }
        let Some(me) = self.cluster.as_ref().map(|c| c.port.node.clone()) else {
            return;
        };
        let frame: Rc<[u8]> = Rc::from(frame);
        let mut offline = Vec::new();
        let mut mine = false;
        let names: Box<dyn Iterator<Item = &str>> = match &route {
            Some(route) => Box::new(route.names_for(to, &me)),
            None => Box::new(to.split(',')),
        };
        for name in names {
            mine = true;
            match self.online.get(name) {
                // Behind older held mail still being delivered, if any.
                Some(&key) => {
                    if self.push_private(key, &frame) {
                        self.counters.deliveries += 1;
                    }
                }
                None => offline.push(name.to_owned()),
            }
        }
        let Some(route) = route.filter(|r| mine && r.sender != 0) else {
            return;
        };
        if let Some(c) = &mut self.cluster {
            if let Some(confirmation) = c.relays.of(origin, route.sender) {
                confirmation.received += 1;
            }
        }
        if !offline.is_empty() {
            self.hold_here(origin, route.sender, offline, &frame);
        }
    }

    /// Holds a private message from `sender` of node `origin` for `names`,
    /// who are not online here (any more).
    fn hold_here(&mut self, origin: &str, sender: u64, names: Vec<String>, frame: &[u8]) {
        let Some(c) = &mut self.cluster else { return };
        c.relays.next_id += 1;
        let id = c.relays.next_id;
        let job = ToCluster::HoldHere {
            id,
            names: names.clone(),
            frame: Bytes::copy_from_slice(frame),
        };
        let sent = c.port.send(job);
        if sent {
            let hold = (origin.to_owned(), sender, names.clone());
            c.relays.holds.insert(id, hold);
        }
        // Number 0: the sender is gone, nobody will ask.
        let tracked = (sender != 0).then(|| c.relays.of(origin, sender)).flatten();
        match (tracked, sent) {
            (Some(confirmation), true) => confirmation.in_flight += 1,
            (Some(confirmation), false) if confirmation.failures.len() < MAX_FAILURES => {
                let text = format!(
                    "the cluster link of node {} is overloaded: not held for {}",
                    c.port.node,
                    names.join(",")
                );
                confirmation.failures.push((ErrorCode::Unavailable, text));
            }
            (_, false) => warn!(
                "a private message from node {origin} for {} was neither delivered nor held: the cluster link is overloaded",
                names.join(",")
            ),
            (None, true) => {}
        }
    }

    /// JetStream answered a hold for another node's sender: noted for
    /// its confirmation, which goes out if it was waiting for this.
    pub(super) fn held_here(&mut self, id: u64, outcome: HoldOutcome) {
        let Some(c) = &mut self.cluster else { return };
        let Some((origin, sender, names)) = c.relays.holds.remove(&id) else {
            return;
        };
        if let HoldOutcome::Held { refused } = &outcome {
            // Whoever logged in here again meanwhile may have fetched their
            // mail before this was held (the notice of it reaches every
            // node but this one): fetched again, in its turn.
            for name in names.iter().filter(|n| refused.iter().all(|r| &r.0 != *n)) {
                if let Some(&key) = self.online.get(name.as_str()) {
                    self.mail_waiting(key, name);
                }
            }
        }
        let Some(c) = &mut self.cluster else { return };
        let failures = match outcome {
            HoldOutcome::Held { refused } => refused
                .into_iter()
                .map(|(_, why)| (ErrorCode::MailboxFull, why))
                .collect(),
            HoldOutcome::NoSuchUser(name) => vec![(
                ErrorCode::NoSuchUser,
                format!("no such user: {name}; not held"),
            )],
            HoldOutcome::Refused(code, why) => vec![(code, why)],
        };
        let key = (origin, sender);
        let Some(confirmation) = c.relays.senders.get_mut(&key) else {
            for (_, why) in failures {
                warn!(
                    "a private message from node {} could not be held: {why}",
                    key.0
                );
            }
            return;
        };
        confirmation.in_flight = confirmation.in_flight.saturating_sub(1);
        let room = MAX_FAILURES.saturating_sub(confirmation.failures.len());
        confirmation
            .failures
            .extend(failures.into_iter().take(room));
        self.answer_if_done(key);
    }

    /// Node `origin` asks `node` (this one?) to confirm the `count` private
    /// messages its connection `sender` sent here since it last asked:
    /// answered now, or once the holds they caused are done.
    pub(super) fn confirm_asked(
        &mut self,
        origin: &str,
        node: &str,
        sender: u64,
        count: u64,
        inbox: &str,
    ) {
        let Some(c) = &mut self.cluster else { return };
        if node != c.port.node || sender == 0 {
            return;
        }
        let me = c.port.node.clone();
        let Some(confirmation) = c.relays.of(origin, sender) else {
            let busy = (
                ErrorCode::Unavailable,
                format!("node {me} is too busy to confirm"),
            );
            return self.answer_confirmation(inbox.to_owned(), &[busy]);
        };
        let received = std::mem::take(&mut confirmation.received);
        if received < count && confirmation.failures.len() < MAX_FAILURES {
            let text = format!(
                "the cluster is unavailable: node {me} can account for {received} of the {count} private messages you sent there (it may have restarted meanwhile); the others may be lost"
            );
            confirmation.failures.push((ErrorCode::Unavailable, text));
        }
        if confirmation.waiting.len() < MAX_WAITING {
            confirmation.waiting.push(inbox.to_owned());
        }
        self.answer_if_done((origin.to_owned(), sender));
    }

    /// Answers the requests of a sender whose holds here are all done;
    /// forgets it once nothing is left to tell.
    fn answer_if_done(&mut self, key: (String, u64)) {
        let Some(c) = &mut self.cluster else { return };
        let Some(confirmation) = c.relays.senders.get_mut(&key) else {
            return;
        };
        if confirmation.in_flight > 0 || confirmation.waiting.is_empty() {
            // Still under way; or nobody asked yet: told when it asks.
            if confirmation.is_empty() {
                c.relays.senders.remove(&key);
            }
            return;
        }
        let waiting = std::mem::take(&mut confirmation.waiting);
        let mut failures = std::mem::take(&mut confirmation.failures);
        if confirmation.is_empty() {
            c.relays.senders.remove(&key);
        }
        for inbox in waiting {
            // The first request is the sender's; any other, a forger's.
            self.answer_confirmation(inbox, &std::mem::take(&mut failures));
        }
    }

    fn answer_confirmation(&self, inbox: String, failures: &[(ErrorCode, String)]) {
        if let Some(c) = &self.cluster {
            let payload = Bytes::from(encode_answer(failures));
            c.port.send(ToCluster::Answer { inbox, payload });
        }
    }

    /// The nodes a `PING` waited for answered (or did not in time): what
    /// failed there comes before the `PONG`.
    pub(super) fn confirmed(
        &mut self,
        key: usize,
        serial: u64,
        failures: Vec<(ErrorCode, String)>,
    ) {
        let Some(c) = &mut self.cluster else { return };
        let Some(token) = c.pending_pongs.remove(&serial) else {
            return;
        };
        let Some(stash) = self.end_wait(key, serial) else {
            return;
        };
        for (code, text) in failures {
            self.reply_err(key, code, &text);
        }
        self.reply(key, &crate::protocol::Event::Pong(token.as_deref()));
        self.go_on(key, &stash);
    }
}
