//! A connection's input: its dialect turns the bytes read, in whatever
//! pieces they came, into input for the hub ([`wire::Input`]), which is
//! acted on here — within a budget of work per turn.
//!
//! The loop already bounds the bytes read from one socket per turn, but a
//! few bytes can ask for much work: a `PING` seals the turn's broadcast
//! batch, which queues it to everyone online, so `SAY a` + `PING` repeated
//! costs as much per 12 bytes as a whole batch. Each frame costs one unit,
//! each seal a connection causes one per user online, each recipient a
//! `MSG` names one, and each it holds mail for [`HOLD_UNITS`]; past
//! [`WORK_BUDGET`] units in a turn the rest of what was read is kept
//! ([`Intake`](super::Intake)) and taken up next turn, after everyone
//! else. Input is also kept aside, in order, while the connection waits
//! (a password check, the cluster), and dropped once the connection is
//! cut or closing.

use super::Hub;
use crate::server::wire::{self, Dialect, Input, Manners, WireKind};
use std::io::Write;
use std::time::Instant;

/// Units of work one connection may cause per loop turn. A unit is about
/// what queueing one delivery costs.
pub const WORK_BUDGET: u64 = 64 << 10;

/// Units of holding a private message for one offline recipient: looking
/// up and filling its mailbox and writing its name in the journal record
/// take some fifty times what queueing a delivery does (measured with the
/// attack of a `MSG` to 15,000 offline names), so a turn holds for about a
/// thousand recipients per connection.
pub const HOLD_UNITS: u64 = 64;

/// A dialect taken out of its session while it decodes (a box of nothing
/// allocates nothing).
#[derive(Debug)]
struct Lent;

impl Dialect for Lent {
    fn encoding(&self) -> WireKind {
        &wire::line::LINES
    }

    fn decode(&mut self, _: &[u8], _: Instant, _: &mut dyn FnMut(Input<'_>) -> bool) -> usize {
        0
    }
}

/// A dialect that input switched the connection to, and the bytes it
/// starts with.
type Switch = Option<(Box<dyn Dialect>, Vec<u8>)>;

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
            .is_some_and(|s| s.intake.has_unprocessed() || s.dialect.has_pending())
    }

    /// Takes up input left from an earlier turn, within this turn's budget.
    /// Returns whether some is left still.
    pub fn resume_input(&mut self, key: usize) -> bool {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return false;
        };
        let left = session.intake.take_unprocessed();
        self.feed(key, &left);
        self.has_unprocessed(key)
    }

    pub(in crate::server) fn feed(&mut self, key: usize, data: &[u8]) {
        if !self.takes_input(key) {
            return; // closing: input is read only to see the peer's EOF
        }
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        if session.intake.is_behind() {
            // Behind what is kept from before, in order.
            return session.intake.keep(data);
        }
        let used = self.decode(key, data);
        let rest = data.get(used..).unwrap_or_default();
        if !rest.is_empty() && self.takes_input(key) {
            if let Some(session) = self.queues.sessions.get_mut(key) {
                session.intake.keep(rest);
            }
        }
    }

    /// Is the connection open and not being cut?
    fn takes_input(&self, key: usize) -> bool {
        self.queues.sessions.get(key).is_some_and(|s| s.is_open()) && !self.queues.is_cut(key)
    }

    /// Runs the connection's dialect over `data` and acts on its input, as
    /// long as the connection may go on; returns the bytes consumed.
    fn decode(&mut self, key: usize, data: &[u8]) -> usize {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return data.len();
        };
        let mut dialect = std::mem::replace(&mut session.dialect, Box::new(Lent));
        let mut switch: Switch = None;
        let now = self.now;
        // A labeled command taken up again: what others said since is not
        // its response.
        if self.queues.has_label(key) {
            self.seal_for(key);
        }
        self.queues.acting = Some(key);
        let used = dialect.decode(data, now, &mut |input| {
            self.take_input(key, input, &mut switch)
        });
        self.queues.acting = None;
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return used;
        };
        let Some((next, replay)) = switch else {
            // A login decided while it decoded reached the placeholder.
            if let Some(name) = &session.user.name {
                dialect.named(name);
            }
            session.dialect = dialect;
            return used;
        };
        let http = next.is_http();
        session.speak(next);
        // A connection the server is too full for is told so in its own
        // dialect; HTTP is answered as ever (the page, health, `/ws`).
        if !http {
            if let Some(refusal) = self.take_refusal(key) {
                self.refuse(key, &refusal);
                return used;
            }
        }
        self.feed(key, &replay);
        used
    }

    /// Keeps the counts of sessions by manners as one changes (or goes:
    /// `now` the default).
    pub(in crate::server) fn count_manners(&mut self, was: Manners, now: Manners) {
        let count = |n: &mut usize, was: bool, now: bool| match (was, now) {
            (false, true) => *n += 1,
            (true, false) => *n -= 1,
            _ => {}
        };
        count(&mut self.echoing, was.echo, now.echo);
        count(&mut self.away_notified, was.away_notify, now.away_notify);
        count(&mut self.client_tagged, was.client_tags, now.client_tags);
    }

    /// Acts on one piece of input; returns whether the dialect may go on.
    fn take_input(&mut self, key: usize, input: Input<'_>, switch: &mut Switch) -> bool {
        match input {
            Input::Frame(frame) => {
                self.counters.frames_in += 1;
                let (turn, now) = (self.turn, self.now);
                if let Some(session) = self.queues.sessions.get_mut(key) {
                    session.intake.charge(turn, 1);
                    session.intake.heard(now);
                }
                match frame {
                    Ok(Some(command)) => self.dispatch(key, command),
                    Ok(None) => {}
                    Err(refused) => self.reply_err(key, refused.code, &refused.text),
                }
            }
            Input::Answer(bytes) => {
                // What the dialect answered itself was asked: activity.
                let now = self.now;
                if let Some(session) = self.queues.sessions.get_mut(key) {
                    session.intake.heard(now);
                }
                self.charge(key, 1);
                if !bytes.is_empty() {
                    self.push_wire(key, &bytes, false);
                }
            }
            Input::Request(request) => {
                let (request, after) = *request;
                *switch = self.serve(key, request).map(|ws| (ws, after));
                return false;
            }
            Input::Asking(asked) => {
                if let Some(session) = self.queues.sessions.get_mut(key) {
                    session.out.set_asked(asked);
                }
                return true;
            }
            Input::Label(label) => {
                match label {
                    Some(label) => {
                        // What the turn's batch holds for it so far is not
                        // the response: written first, untagged. (What a
                        // command causes for its own sender is queued to
                        // it directly, never through the batch.)
                        self.seal_for(key);
                        self.queues.open_label(key, label);
                    }
                    None => self.queues.close_label(key),
                }
                return true;
            }
            Input::Encoding(kind, manners) => {
                let Some(session) = self.queues.sessions.get_mut(key) else {
                    return true;
                };
                let was = session.out.manners();
                session.out.set_encoding(kind, manners);
                self.count_manners(was, manners);
                return true;
            }
            Input::Decided(dialect, replay) => {
                *switch = Some((dialect, replay));
                return false;
            }
            Input::End => {
                self.close(key, None);
                return false;
            }
        }
        // What a frame took past its limit is settled before the next.
        self.settle();
        self.may_go_on(key)
    }

    /// May the frames after this one be acted on now?
    pub(super) fn may_go_on(&mut self, key: usize) -> bool {
        let turn = self.turn;
        if self.queues.is_cut(key) {
            return false;
        }
        self.queues.sessions.get_mut(key).is_some_and(|s| {
            s.is_open() && !s.is_paused() && s.intake.charge(turn, 0) < WORK_BUDGET
        })
    }

    /// Counts `units` of work against the connection's budget this turn.
    pub(in crate::server) fn charge(&mut self, key: usize, units: u64) {
        let turn = self.turn;
        if let Some(s) = self.queues.sessions.get_mut(key) {
            s.intake.charge(turn, units);
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

    /// Input waits until the answer numbered by the returned serial.
    pub(in crate::server) fn wait(&mut self, key: usize, reason: super::WaitFor) -> u64 {
        let serial = self.wait_serial();
        self.pause(key, serial, reason);
        serial
    }

    /// A new serial for a wait (a slab key is reused; serials are not).
    pub(in crate::server) fn wait_serial(&mut self) -> u64 {
        self.next_wait += 1;
        self.next_wait
    }

    /// Input waits until the answer numbered `serial`.
    pub(in crate::server) fn pause(&mut self, key: usize, serial: u64, reason: super::WaitFor) {
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.intake.wait(serial, reason);
        }
    }

    /// Ends a wait: the input kept meanwhile, if the connection is still
    /// there, open and waiting for this answer.
    pub(in crate::server) fn end_wait(&mut self, key: usize, serial: u64) -> Option<Vec<u8>> {
        let now = self.now;
        let session = self.queues.sessions.get_mut(key)?;
        let stash = session.intake.end_wait(serial)?;
        // Waiting for the answer was not silence.
        session.intake.last_heard = now;
        session.is_open().then_some(stash)
    }

    /// Runs `f`, which answers what session `key` was waiting for (a
    /// password check, a name claim): what it queues for `key` answers
    /// that session's command (a labeled one's response).
    pub(in crate::server) fn answering<R>(
        &mut self,
        key: usize,
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        let was = self.queues.acting.replace(key);
        let result = f(self);
        self.queues.acting = was;
        result
    }

    /// Takes up the input kept during a wait: the loop reads the
    /// connection again.
    pub(in crate::server) fn go_on(&mut self, key: usize, stash: &[u8]) {
        self.resumed.push(key);
        self.feed(key, stash);
    }

    /// Moves the keys of connections whose input may be read again into
    /// `into`. While it waits, a session is paused
    /// ([`Session::is_paused`](crate::server::session::Session::is_paused))
    /// and the loop does not read it.
    pub fn take_resumed(&mut self, into: &mut Vec<usize>) {
        into.append(&mut self.resumed);
    }

    /// Are connections waiting to be read again (resumed after the loop
    /// took them this turn, by a timer)?
    pub fn has_resumed(&self) -> bool {
        !self.resumed.is_empty()
    }
}
