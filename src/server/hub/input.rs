//! A connection's input: frames cut out of the bytes read, in whatever
//! pieces they came, and acted on — within a budget of work per turn.
//!
//! The loop already bounds the bytes read from one socket per turn, but a
//! few bytes can ask for much work: a `PING` seals the turn's broadcast
//! batch, which queues it to everyone online, so `SAY a` + `PING` repeated
//! costs as much per 12 bytes as a whole batch. Each frame costs one unit
//! and each seal a connection causes costs one per user online; past
//! [`WORK_BUDGET`] units in a turn the rest of what was read is kept
//! (`Session::unprocessed`) and taken up next turn, after everyone else.
//! Input is also kept aside, in order, while the connection's password is
//! checked, and dropped once the connection is cut or closing. Lines and
//! WebSocket messages ([`super::websocket`]) become the same frames here.

use super::{Hub, MAX_FAILED_LOGINS};
use crate::protocol::reply::encode_err;
use crate::protocol::{parse, ErrorCode, Frame};
use crate::server::accounts::AuthAnswer;
use crate::server::session::Protocol;
use log::warn;
use std::io::Write;

/// Units of work one connection may cause per loop turn.
pub const WORK_BUDGET: u64 = 64 << 10;

impl<T: Write> Hub<T> {
    /// Handles bytes read from a connection, in whatever pieces they came.
    pub fn receive(&mut self, key: usize, data: &[u8]) {
        self.counters.bytes_in += data.len() as u64;
        self.feed(key, data);
    }

    /// Is input of this connection left for a later turn (its work budget
    /// ran out)? The loop then reads no more from its socket this turn.
    pub fn has_unprocessed(&self, key: usize) -> bool {
        self.queues
            .sessions
            .get(key)
            .is_some_and(|s| !s.unprocessed.is_empty())
    }

    /// Takes up input left from an earlier turn, within this turn's budget.
    /// Returns whether some is left still.
    pub fn resume_input(&mut self, key: usize) -> bool {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return false;
        };
        let left = std::mem::take(&mut session.unprocessed);
        self.feed(key, &left);
        self.has_unprocessed(key)
    }

    pub(in crate::server) fn feed(&mut self, key: usize, data: &[u8]) {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        if !session.is_open() || session.cut {
            return; // closing: input is read only to see the peer's EOF
        }
        if matches!(session.protocol, Protocol::Undecided | Protocol::Http) {
            return self.sniff_or_serve(key, data);
        }
        if let Some(pending) = &mut session.auth {
            pending.stash.extend_from_slice(data);
            return;
        }
        if !session.unprocessed.is_empty() {
            // Behind what is left from before, in order.
            session.unprocessed.extend_from_slice(data);
            return;
        }
        let used = match session.protocol {
            Protocol::WebSocket => self.decode_ws(key, data),
            _ => self.decode_lines(key, data),
        };
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        let rest = data.get(used..).unwrap_or_default();
        if rest.is_empty() || !session.is_open() || session.cut {
            return;
        }
        match &mut session.auth {
            Some(pending) => pending.stash.extend_from_slice(rest),
            None => session.unprocessed.extend_from_slice(rest),
        }
    }

    /// Cuts input into lines and acts on them, as long as the connection
    /// may go on; returns the bytes consumed.
    fn decode_lines(&mut self, key: usize, data: &[u8]) -> usize {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return data.len();
        };
        let mut decoder = std::mem::take(&mut session.decoder);
        let used = decoder.feed(data, |frame| {
            self.on_frame(key, frame);
            self.may_go_on(key)
        });
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.decoder = decoder;
        }
        used
    }

    /// May the frames after this one be acted on now?
    pub(super) fn may_go_on(&mut self, key: usize) -> bool {
        let turn = self.turn;
        self.queues.sessions.get_mut(key).is_some_and(|s| {
            if s.work_turn != turn {
                (s.work_turn, s.work) = (turn, 0);
            }
            s.is_open() && !s.cut && !s.is_paused() && s.work < WORK_BUDGET
        })
    }

    /// Counts `units` of work against the connection's budget this turn.
    pub(in crate::server) fn charge(&mut self, key: usize, units: u64) {
        let turn = self.turn;
        if let Some(s) = self.queues.sessions.get_mut(key) {
            if s.work_turn != turn {
                (s.work_turn, s.work) = (turn, 0);
            }
            s.work = s.work.saturating_add(units);
        }
    }

    /// Seals the turn's batch for a command that must come after it,
    /// charging its cost — one unit per user online — to `key`. Not needed
    /// when the batch holds nothing `key` would receive.
    pub(in crate::server) fn seal_for(&mut self, key: usize) {
        if !self.batch.nothing_for(key) {
            self.seal_charged(key);
        }
    }

    /// Seals the batch, charging its cost to `key`.
    pub(in crate::server) fn seal_charged(&mut self, key: usize) {
        self.charge(key, self.online.len() as u64);
        self.seal();
    }

    pub(super) fn on_frame(&mut self, key: usize, frame: Frame<'_>) {
        self.counters.frames_in += 1;
        self.charge(key, 1);
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.last_heard = self.now;
            session.ping_sent = false;
        }
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong => {
                let text = format!("frame longer than {} bytes; skipped", self.limits.max_line);
                return self.reply_err(key, ErrorCode::TooLong, &text);
            }
        };
        match parse(line) {
            Ok(Some(command)) => self.dispatch(key, command),
            Ok(None) => {}
            Err(e) => self.reply_err(key, ErrorCode::BadRequest, &e.to_string()),
        }
    }

    /// Takes the verdict on a password; the connection's input goes on.
    pub fn auth_done(&mut self, answer: AuthAnswer) {
        self.auth_queue.done(answer.peer);
        self.send_checks();
        let key = answer.key;
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        if session
            .auth
            .as_ref()
            .is_none_or(|p| p.serial != answer.serial)
        {
            return; // for a connection that has gone since
        }
        let stash = session.auth.take().map(|p| p.stash).unwrap_or_default();
        if !session.is_open() {
            return;
        }
        // Waiting for the verdict was not silence.
        session.last_heard = self.now;
        if answer.ok {
            self.admit(key, &answer.name);
        } else {
            session.failed_logins += 1;
            let (failures, peer) = (session.failed_logins, session.peer_name());
            warn!(
                "failed login as {} from {peer} ({failures} of {MAX_FAILED_LOGINS})",
                answer.name
            );
            if failures >= MAX_FAILED_LOGINS {
                let text = format!("{failures} failed logins; disconnected");
                self.queues
                    .push_final(key, |b| encode_err(b, ErrorCode::NotLoggedIn, &text));
                return self.close(key, None);
            }
            self.reply_err(key, ErrorCode::NotLoggedIn, "wrong name or password");
        }
        self.resumed.push(key);
        self.feed(key, &stash);
    }

    /// Moves the keys of connections whose input may be read again into
    /// `into`. While a password is checked, a session is paused
    /// ([`Session::is_paused`]) and the loop does not read it.
    pub fn take_resumed(&mut self, into: &mut Vec<usize>) {
        into.append(&mut self.resumed);
    }
}
