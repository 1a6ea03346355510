//! Presence owed: a session that does not take what it is sent is not
//! queued `JOINED`/`LEFT` notices one by one — with everyone logging in
//! while nobody reads, that would be one entry per login on every session,
//! N² in all. Presence is state, not a log: while a session is stalled
//! (its last write left bytes queued), a batch of presence notices only
//! notes that it is owed who is online; before anything else from others
//! reaches it (a broadcast, a room's frame, a private message), and once
//! it has taken all it was sent, it is queued one `USERS` line with
//! everyone online then — shared with every session owed it at that moment.
//! What it was told before stays true up to that line, and the line is
//! the truth from there on: no message comes from someone it was last told
//! had left.
//!
//! Only sessions that take the shared frames as they are (the line
//! protocol, WebSocket) are owed; an IRC reader, whose presence is per
//! channel, gets its notices as before.

use super::Queues;
use crate::server::hub::{Hub, Limit, Outgoing};
use std::io::Write;

impl<T: Write> Queues<T> {
    /// Leaves presence out for session `key` if it is stalled (and may be
    /// owed it): returns true if it is owed now, so nothing is queued.
    #[inline]
    pub(in crate::server::hub) fn owe_presence(&mut self, key: usize) -> bool {
        let Some(session) = self.sessions.get_mut(key) else {
            return false;
        };
        let out = &mut session.out;
        if !out.stalled || out.kind.event.is_some() {
            return false;
        }
        if !out.owed {
            out.owed = true;
            self.owed.push(key);
        }
        true
    }

    /// Is session `key` owed presence?
    #[inline]
    pub(in crate::server::hub) fn is_owed(&self, key: usize) -> bool {
        self.sessions.get(key).is_some_and(|s| s.out.owed)
    }

    /// Are any sessions owed presence?
    #[inline]
    pub(in crate::server::hub) fn any_owed(&self) -> bool {
        !self.owed.is_empty()
    }
}

impl<T: Write> Hub<T> {
    /// Queues session `key` the presence it is owed, if it is.
    pub(in crate::server::hub) fn pay_presence(&mut self, key: usize) {
        if !self.queues.is_owed(key) {
            return;
        }
        let line = self.users_line();
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.out.owed = false;
        }
        self.queues.push(key, Outgoing::Shared(&line), Limit::Past);
        self.queues.hold_to_limits(key);
    }

    /// Queues every session owed presence what it is owed (before a
    /// batch of frames from others).
    pub(in crate::server::hub) fn pay_all_presence(&mut self) {
        for key in std::mem::take(&mut self.queues.owed) {
            self.pay_presence(key);
        }
    }

    /// After a write: a session owed presence that has taken everything
    /// is queued it now; returns whether it was.
    pub(in crate::server::hub) fn pay_presence_if_drained(&mut self, key: usize) -> bool {
        let drained = self
            .queues
            .sessions
            .get(key)
            .is_some_and(|s| s.out.owed && s.out.is_empty());
        if drained {
            self.pay_presence(key);
            // Its key stays listed, stale; the list is kept to the
            // sessions owed now once it is twice as long as there are
            // sessions.
            if self.queues.owed.len() > 2 * self.queues.sessions.len() + 64 {
                let sessions = &self.queues.sessions;
                self.queues
                    .owed
                    .retain(|&k| sessions.get(k).is_some_and(|s| s.out.owed));
            }
        }
        drained
    }
}
