//! Held mail: private messages for users who are offline, kept until they
//! log in and acknowledged once they have read them — one interface, two
//! implementations chosen at setup ([`Mailroom`]):
//!
//! - [`journal`]: on this node, in memory ([`Store`](crate::server::store))
//!   and journaled to disk;
//! - [`cluster`]: in JetStream, for a node of a cluster, through the
//!   cluster's helper thread.
//!
//! Either way held mail reaches its recipient the same way: written to it
//! at login ahead of anything newer, followed by a `PING <token>`; only the
//! matching `PONG` — which a client can send only after reading the mail —
//! counts it as delivered; if the connection ends first it goes back to
//! the mailbox ([`MailInFlight`]). The commands use only what is here:
//! [`Hub::shown_recipient`], [`Hub::send_private`],
//! [`Hub::deliver_held`], [`Hub::mail_acknowledged`] and
//! [`Hub::return_mail`].

mod cluster;
mod history;
mod journal;
mod unwritten;

pub use unwritten::Unwritten;
mod pace;

use super::Hub;
use crate::protocol::Event;
use crate::server::store::Letter;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;

/// Where held mail is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::server) enum Mailroom {
    /// On this node: the store, journaled.
    Journal,
    /// In JetStream, shared by the nodes of a cluster.
    JetStream,
}

/// What a parcel of held mail written to a connection came from.
#[derive(Debug)]
pub(in crate::server) enum Contents {
    /// Letters taken out of `owner`'s mailbox in the store.
    Letters {
        owner: Rc<str>,
        letters: VecDeque<Rc<Letter>>,
    },
    /// Messages fetched from JetStream, acknowledged there by ticket.
    Ticket(u64),
    /// No held mail: only rooms' catch-up.
    Nothing,
}

/// Held mail written to a connection (or queued to be) and not yet
/// acknowledged.
#[derive(Debug)]
struct Parcel {
    contents: Contents,
    /// The `PING` token whose `PONG` acknowledges it.
    token: String,
    /// Where in the connection's output (`Output::written` counts) it
    /// starts and ends.
    from: u64,
    until: u64,
    /// It carries its owner's rooms' catch-up up to this number: its
    /// `PONG` makes that the owner's read mark.
    caught_up: Option<u64>,
}

/// A connection's held mail in flight.
#[derive(Debug, Default)]
pub struct MailInFlight {
    parcels: Vec<Parcel>,
    /// How far the session is in taking its mail from JetStream.
    pace: pace::Pace,
    /// The rooms whose catch-up is still to be written, a window at a time.
    pub(in crate::server) catch_up: Option<crate::server::hub::rooms::CatchUp>,
    /// On a cluster node: the rooms' catch-up starts once the held mail
    /// fetched at login is written.
    pub(in crate::server) rooms_due: bool,
}

impl MailInFlight {
    /// Bytes of it not yet written, when `written` bytes are: mail from
    /// the journal's mailboxes does not count against `--max-queue` (it
    /// was counted against `--mailbox-bytes`), though it counts against
    /// `--max-total-queue` like all the queue holds: a copy of it in a
    /// connection's encoding is memory the mailbox limits do not see. Mail
    /// from JetStream counts against both: a cluster's mailboxes are
    /// bounded in messages only.
    #[inline]
    pub fn unwritten(&self, written: u64) -> u64 {
        if self.parcels.is_empty() {
            return 0;
        }
        self.parcels
            .iter()
            .filter(|p| matches!(p.contents, Contents::Letters { .. }))
            .map(|p| p.until.saturating_sub(written.max(p.from)))
            .sum()
    }

    /// `by` bytes were put into the output at `at`: parcels after it move.
    pub(in crate::server) fn shift(&mut self, at: u64, by: u64) {
        for p in self.parcels.iter_mut().filter(|p| p.from >= at) {
            p.from += by;
            p.until += by;
        }
    }

    /// Is a rooms' catch-up written and not yet acknowledged, or still to
    /// be written?
    pub(in crate::server) fn catching_up(&self) -> bool {
        self.rooms_due
            || self.catch_up.is_some()
            || self.parcels.iter().any(|p| p.caught_up.is_some())
    }

    /// Is any parcel written and not yet acknowledged?
    pub(in crate::server) fn has_parcels(&self) -> bool {
        !self.parcels.is_empty()
    }

    /// Takes the parcel `token` acknowledges.
    fn take(&mut self, token: &str) -> Option<Parcel> {
        let at = self.parcels.iter().position(|p| p.token == token)?;
        Some(self.parcels.remove(at))
    }
}

impl<T: Write> Hub<T> {
    /// A recipient of a private message, as it is shown — the name as
    /// first written, whatever case the sender wrote it in — or `None` if
    /// mail cannot be held for it (never seen, not an account). A cluster
    /// asks JetStream while holding: a name this node knows nothing of is
    /// taken as written.
    pub(in crate::server) fn shown_recipient(&self, name: &str) -> Option<Rc<str>> {
        if let Some(shown) = self.online.shown(name) {
            return Some(Rc::clone(shown));
        }
        match self.mailroom {
            Mailroom::Journal => self.store.known_as(name).or_else(|| self.account_as(name)),
            Mailroom::JetStream => Some(
                self.known_elsewhere_as(name)
                    .or_else(|| self.account_as(name))
                    .unwrap_or_else(|| Rc::from(name)),
            ),
        }
    }

    /// `name` as this server knows it — online, seen before, an account,
    /// or (in a cluster) heard of from other nodes — or `None`.
    pub(in crate::server) fn known_as(&self, name: &str) -> Option<Rc<str>> {
        if let Some(shown) = self.online.shown(name) {
            return Some(Rc::clone(shown));
        }
        let here = match self.mailroom {
            Mailroom::Journal => self.store.known_as(name),
            Mailroom::JetStream => self.known_elsewhere_as(name),
        };
        here.or_else(|| self.rooms.name_as(name))
            .or_else(|| self.account_as(name))
    }

    /// The account `name` is, in any case, spelt as it was made.
    pub(in crate::server) fn account_as(&self, name: &str) -> Option<Rc<str>> {
        let auth = self.auth.as_ref()?;
        crate::server::accounts::account_spelling(&auth.users, name).map(Rc::from)
    }

    /// A private message: delivered to its recipients online, held for
    /// the others (each recipient it cannot be held for is reported to the
    /// sender with `ERR`).
    pub(in crate::server) fn send_private(&mut self, key: usize, names: &[&str], msg: &Event<'_>) {
        match self.mailroom {
            Mailroom::Journal => self.send_private_here(key, names, msg),
            Mailroom::JetStream => self.send_private_in_cluster(key, names, msg),
        }
    }

    /// Queues the mail held for `name` to its new session; returns how many
    /// messages (a cluster's come with the name's claim instead: none).
    pub(in crate::server) fn deliver_held(&mut self, key: usize, name: &Rc<str>) -> usize {
        match self.mailroom {
            Mailroom::Journal => self.deliver_at_login(key, name),
            Mailroom::JetStream => 0,
        }
    }

    /// A `PONG <token>` came: if it answers the `PING` sent after held
    /// mail, that mail is delivered.
    pub(in crate::server) fn mail_acknowledged(&mut self, key: usize, token: &str) {
        let Some(parcel) = self
            .queues
            .with_session(key, |s| s.mail.take(token))
            .flatten()
        else {
            return;
        };
        if let Some(seq) = parcel.caught_up {
            self.caught_up(key, seq);
        }
        match parcel.contents {
            Contents::Letters { owner, letters } => self.letters_delivered(key, &owner, letters),
            Contents::Ticket(ticket) => self.ticket_delivered(key, ticket),
            Contents::Nothing => {}
        }
        self.next_catch_up_window(key);
    }

    /// Puts held mail a session did not acknowledge back in the mailbox
    /// (what was already written may come twice; none is lost).
    pub(in crate::server) fn return_mail(&mut self, key: usize) {
        let parcels = self
            .queues
            .with_session(key, |s| std::mem::take(&mut s.mail.parcels))
            .unwrap_or_default();
        for parcel in parcels {
            match parcel.contents {
                Contents::Letters { owner, letters } => self.return_letters(&owner, letters),
                Contents::Ticket(ticket) => self.return_ticket(ticket),
                Contents::Nothing => {}
            }
        }
        self.end_pace(key);
    }

    /// Writes held `frames` to a session, then a `PING` whose `PONG`
    /// acknowledges them: one parcel with `contents`.
    pub(in crate::server) fn write_held<'f>(
        &mut self,
        key: usize,
        frames: impl Iterator<Item = &'f Rc<[u8]>>,
        contents: Contents,
        caught_up: Option<u64>,
    ) {
        use super::queues::{Limit, Outgoing};
        self.next_ping += 1;
        let token = self.next_ping.to_string();
        let Some(session) = self.queues.sessions.get(key) else {
            return;
        };
        // The parcel is open-ended while its frames are queued, so that what
        // does not count against the queue's limit (see `unwritten`) is
        // never counted, not even for a moment.
        let from = session.out.written() + session.out.len() as u64;
        let parcel = Parcel {
            contents,
            token: token.clone(),
            from,
            until: u64::MAX,
            caught_up,
        };
        let batches = session.out.manners().history_batches;
        self.queues.with_session(key, |s| s.mail.add(parcel));
        if batches {
            let chunk = history::in_batches(frames, &format!("h{token}"));
            self.queues.push(key, Outgoing::Shared(&chunk), Limit::Past);
        } else {
            for frame in frames {
                self.queues.push(key, Outgoing::Shared(frame), Limit::Past);
            }
        }
        self.queues.with_session(key, |s| {
            let until = s.out.written() + s.out.len() as u64;
            s.mail.close(until);
        });
        let ping = Event::Ping(Some(&token));
        self.queues.push(key, Outgoing::Event(&ping), Limit::Past);
        // Queued whole, past the limits, so that no parcel is cut in two;
        // now held to them like anything else.
        self.queues.hold_to_limits(key);
    }
}

impl MailInFlight {
    /// Adds a parcel: letters from the store join the ones in flight,
    /// whose `PING` is now the new one (its `PONG` answers for all of it).
    fn add(&mut self, parcel: Parcel) {
        let in_flight = self
            .parcels
            .iter_mut()
            .find(|p| matches!(p.contents, Contents::Letters { .. }));
        match (in_flight, parcel.contents) {
            (
                Some(p),
                Contents::Letters {
                    letters: mut more, ..
                },
            ) => {
                if let Contents::Letters { letters, .. } = &mut p.contents {
                    letters.append(&mut more);
                }
                p.until = parcel.until;
                p.token = parcel.token;
                p.caught_up = p.caught_up.max(parcel.caught_up);
            }
            (_, contents) => self.parcels.push(Parcel { contents, ..parcel }),
        }
    }

    /// Ends the open parcel (the one being written) at `until`.
    fn close(&mut self, until: u64) {
        for p in &mut self.parcels {
            if p.until == u64::MAX {
                p.until = until;
            }
        }
    }
}
