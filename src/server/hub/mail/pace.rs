//! Held mail from JetStream, paced: a session is given its mail a window
//! at a time (see `cluster::window`), the next fetched only when the
//! client has answered the `PING` after the last — one job that
//! acknowledges the window and fetches the next, so there is never more
//! than one window of it in the node or in the client's queue, and
//! windows come in order. Private messages for the session that arrive
//! while older mail is still held wait beside its queue (counted against
//! `--max-queue`) and follow the last window, as on a single node, where
//! held mail is all queued at login before anything newer.
//!
//! A fetch JetStream does not answer (leaders being elected after a NATS
//! server died) leaves the mail held there: it is asked for again after a
//! pause, as long as its owner is online, rather than left for their next
//! login — they are online, and its sender was told it was delivered or
//! held.

use super::{Contents, Hub, MailInFlight};
use crate::server::cluster::{HeldMail, ToCluster};
use crate::server::hub::queues::{Limit, Outgoing};
use log::{debug, info, warn};
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The longest pause between fetches JetStream did not answer.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(16);

/// The pause after `failures` fetches in a row were not answered: 1 s,
/// doubling up to [`MAX_RETRY_PAUSE`].
fn retry_pause(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.clamp(1, 8).saturating_sub(1)).min(MAX_RETRY_PAUSE)
}

/// Where a session is in taking its mail from JetStream.
#[derive(Debug, Default)]
pub(super) struct Pace {
    /// A window is being fetched for it.
    fetching: bool,
    /// More is held for it than has been queued.
    more: bool,
    /// Private messages newer than mail still held, in arrival order.
    later: VecDeque<Rc<[u8]>>,
    later_bytes: usize,
    /// Fetches JetStream did not answer, in a row, and when to ask again.
    failures: u32,
    retry_at: Option<Instant>,
}

impl Pace {
    /// Is older mail still held, so that newer private messages wait?
    fn holds_back(&self) -> bool {
        self.fetching || self.more
    }
}

impl MailInFlight {
    /// Bytes of private messages waiting for older held mail: queued
    /// output in all but name, so they count against `--max-queue`.
    #[inline]
    pub fn held_back(&self) -> usize {
        self.pace.later_bytes
    }

    /// Is a window written and not yet acknowledged?
    fn window_out(&self) -> bool {
        self.parcels
            .iter()
            .any(|p| matches!(p.contents, Contents::Ticket(_)))
    }

    /// Takes the tickets of the windows not yet acknowledged.
    pub(super) fn take_tickets(&mut self) -> Vec<u64> {
        let mut tickets = Vec::new();
        self.parcels.retain(|p| match p.contents {
            Contents::Ticket(ticket) => {
                tickets.push(ticket);
                false
            }
            Contents::Letters { .. } | Contents::Nothing => true,
        });
        tickets
    }
}

impl<T: Write> Hub<T> {
    /// Queues a private message to session `key`: at once, or after the
    /// older mail still held for it. Returns whether it was queued.
    pub(in crate::server::hub) fn push_private(&mut self, key: usize, frame: &Rc<[u8]>) -> bool {
        let Some(session) = self.queues.sessions.get(key) else {
            return false;
        };
        if !session.mail.pace.holds_back() {
            return self
                .queues
                .push(key, Outgoing::Shared(frame), Limit::Within);
        }
        if !session.is_open() || self.queues.is_cut(key) {
            return false;
        }
        self.queues.with_session(key, |s| {
            s.mail.pace.later_bytes += frame.len();
            s.mail.pace.later.push_back(Rc::clone(frame));
        });
        self.queues.check_limit(key);
        true
    }

    /// Asks for the next window of `name`'s mail, for session `key`, after
    /// acknowledging the last one and giving back `give_back`.
    pub(in crate::server::hub) fn fetch_window(
        &mut self,
        key: usize,
        name: &str,
        acknowledge: Option<u64>,
        give_back: Vec<u64>,
    ) {
        let job = ToCluster::Fetch {
            key,
            name: name.to_owned(),
            acknowledge,
            give_back,
        };
        let sent = self.cluster.as_ref().is_some_and(|c| c.port.send(job));
        self.queues.with_session(key, |s| {
            s.mail.pace.fetching = sent;
            s.mail.pace.more = false;
            s.mail.pace.retry_at = None;
        });
        if !sent {
            self.fetch_failed(key, name, "the cluster link is overloaded");
        }
    }

    /// Another node has held mail for `name`, online here as `key`: fetched
    /// now, or after the window being read.
    pub(in crate::server::hub) fn mail_waiting(&mut self, key: usize, name: &str) {
        let busy = self
            .queues
            .with_session(key, |s| {
                let busy = s.mail.pace.fetching || s.mail.window_out();
                s.mail.pace.more |= busy;
                // Fetched now, or after the fetch or window under way.
                s.mail.pace.retry_at = None;
                busy
            })
            .unwrap_or(true);
        if !busy {
            self.fetch_window(key, name, None, Vec::new());
        }
    }

    /// Takes the unacknowledged windows of the session here that session
    /// `key`'s login of `name` replaces: they go back to JetStream ahead of
    /// the new session's first window, instead of after it.
    pub(in crate::server::hub) fn take_replaced_windows(
        &mut self,
        key: usize,
        name: &str,
    ) -> Vec<u64> {
        let old = self.online.get(name).copied().filter(|&k| k != key);
        old.and_then(|old| self.queues.with_session(old, |s| s.mail.take_tickets()))
            .unwrap_or_default()
    }

    /// The answer to a fetch: the next window, or nothing more held.
    pub(in crate::server::hub) fn window_fetched(
        &mut self,
        key: usize,
        name: &str,
        mail: Option<HeldMail>,
    ) {
        if self.online.get(name) != Some(&key) {
            // Gone meanwhile: JetStream offers it again.
            if let (Some(mail), Some(c)) = (mail, &self.cluster) {
                c.port.send(ToCluster::ReturnMail {
                    ticket: mail.ticket,
                });
            }
            return;
        }
        let more = self
            .queues
            .with_session(key, |s| {
                s.mail.pace.fetching = false;
                s.mail.pace.failures = 0;
                s.mail.pace.more
            })
            .unwrap_or(false);
        match mail {
            Some(mail) => self.deliver_fetched(key, name, mail),
            // Held for it while this fetch was under way.
            None if more => self.fetch_window(key, name, None, Vec::new()),
            None => {
                self.release_later(key);
                self.rooms_catch_up_due(key, &[]);
            }
        }
    }

    /// A fetch for `name`, online here as `key`, was not done (JetStream
    /// did not answer, or the helper had no room for it): the mail is
    /// still held, and asked for again after a pause.
    /// What waited for it is queued meanwhile rather than held back on
    /// JetStream's account (it would be held back for as long as JetStream
    /// is unavailable).
    pub(in crate::server::hub) fn fetch_failed(&mut self, key: usize, name: &str, why: &str) {
        if self.online.get(name) != Some(&key) {
            return; // gone meanwhile: fetched at the next login
        }
        let now = self.now;
        let failures = self.queues.with_session(key, |s| {
            let pace = &mut s.mail.pace;
            pace.fetching = false;
            pace.more = false;
            pace.failures = pace.failures.saturating_add(1);
            pace.retry_at = Some(now + retry_pause(pace.failures));
            pace.failures
        });
        if failures == Some(1) {
            warn!("cannot fetch the mail held for {name} now ({why}); asking again while {name} is online");
        } else {
            debug!(
                "cannot fetch the mail held for {name} now ({why}), {failures:?} times in a row"
            );
        }
        self.release_later(key);
        // The rooms do not wait for JetStream's mailboxes.
        self.rooms_catch_up_due(key, &[]);
    }

    /// On the loop's tick: fetches JetStream did not answer are asked for
    /// again once their pause is over.
    pub(in crate::server::hub) fn retry_fetches(&mut self) {
        if self.cluster.is_none() {
            return;
        }
        let now = self.now;
        let due: Vec<(usize, Rc<str>)> = self
            .queues
            .sessions
            .iter()
            .filter(|(_, s)| s.mail.pace.retry_at.is_some_and(|at| now >= at))
            .filter_map(|(key, s)| Some((key, Rc::clone(s.name()?))))
            .collect();
        for (key, name) in due {
            if self.online.get(&name) != Some(&key) {
                self.queues
                    .with_session(key, |s| s.mail.pace.retry_at = None);
                continue;
            }
            self.mail_waiting(key, &name);
        }
    }

    /// Writes a window of held mail, then a `PING` whose answer
    /// acknowledges it in JetStream and asks for the next.
    pub(in crate::server::hub) fn deliver_fetched(
        &mut self,
        key: usize,
        name: &str,
        mail: HeldMail,
    ) {
        let count = mail.frames.len();
        let frames: Vec<Rc<[u8]>> = mail.frames.iter().map(|f| Rc::from(&f[..])).collect();
        let more = self
            .queues
            .with_session(key, |s| {
                s.mail.pace.more |= mail.more;
                s.mail.pace.more
            })
            .unwrap_or(false);
        // After the last window, at login, the rooms' catch-up, under the
        // same `PING`.
        let (rooms, up_to) = match more {
            true => (Vec::new(), None),
            false => self.rooms_catch_up_start(key, &frames),
        };
        let contents = Contents::Ticket(mail.ticket);
        self.write_held(key, frames.iter().chain(rooms.iter()), contents, up_to);
        if more {
            info!("{name}: delivering {count} held messages, and more after them");
        } else {
            info!("{name}: delivering {count} held messages");
            self.release_later(key);
        }
    }

    /// The recipient has read the window fetched with `ticket`: it is
    /// acknowledged, and the next one fetched if more is held.
    pub(super) fn ticket_delivered(&mut self, key: usize, ticket: u64) {
        let next = self
            .queues
            .sessions
            .get(key)
            .filter(|s| s.mail.pace.more && !s.mail.pace.fetching)
            .and_then(|s| s.name().cloned());
        match next {
            Some(name) => self.fetch_window(key, &name, Some(ticket), Vec::new()),
            None => {
                if let Some(c) = &self.cluster {
                    c.port.send(ToCluster::AckMail { ticket });
                }
            }
        }
    }

    /// The session ends with mail unacknowledged: JetStream offers it again.
    pub(super) fn return_ticket(&mut self, ticket: u64) {
        if let Some(c) = &self.cluster {
            c.port.send(ToCluster::ReturnMail { ticket });
        }
    }

    /// The session stops taking held mail (it is leaving): what waited
    /// for it is queued now.
    pub(super) fn end_pace(&mut self, key: usize) {
        self.queues.with_session(key, |s| {
            s.mail.pace.fetching = false;
            s.mail.pace.more = false;
            s.mail.pace.retry_at = None;
        });
        self.release_later(key);
    }

    /// Queues the private messages that waited for older held mail.
    fn release_later(&mut self, key: usize) {
        let later = self
            .queues
            .with_session(key, |s| {
                s.mail.pace.later_bytes = 0;
                std::mem::take(&mut s.mail.pace.later)
            })
            .unwrap_or_default();
        for frame in &later {
            self.queues
                .push(key, Outgoing::Shared(frame), Limit::Within);
        }
    }
}
