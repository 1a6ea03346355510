//! One connection's input as the hub takes it: what is left for a later
//! turn, the work it caused this turn, what it waits for, and when it was
//! last heard. Its rules are kept here: input that arrives while the
//! connection waits is kept in order behind the wait, and input left over
//! is taken up before anything read later.

use std::time::Instant;

/// What a connection's input is paused for. Each wait is answered by a
/// helper thread, matched by its serial (a slab key is reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Its `LOGIN`'s password, checked on the password thread.
    Password,
    /// Its name, claimed in the cluster's names bucket.
    NameClaim,
    /// JetStream holding a private message for offline recipients.
    HeldMail,
    /// NATS confirming what it sent to other nodes (before a `PONG`).
    Publish,
    /// Another node taking in the broadcasts this node sent it: a hold
    /// (`hub::cluster::pacing`).
    Bus,
}

/// A pause of a connection's input until an answer comes.
#[derive(Debug)]
pub struct Wait {
    serial: u64,
    reason: WaitFor,
    /// Input that arrived meanwhile, replayed once the answer is in.
    stash: Vec<u8>,
}

/// A connection's input, from the hub's side.
#[derive(Debug)]
pub struct Intake {
    /// Input read but left for a later turn: the work budget ran out.
    unprocessed: Vec<u8>,
    /// Work caused in turn `work_turn` (see `hub::input`).
    work: u64,
    work_turn: u64,
    wait: Option<Wait>,
    /// When the last complete frame arrived.
    pub(in crate::server) last_heard: Instant,
    /// A keep-alive PING is out and unanswered.
    pub(in crate::server) ping_sent: bool,
}

impl Intake {
    pub fn new(now: Instant) -> Intake {
        Intake {
            unprocessed: Vec::new(),
            work: 0,
            work_turn: 0,
            wait: None,
            last_heard: now,
            ping_sent: false,
        }
    }

    /// Is input paused until an answer comes?
    #[inline]
    pub fn is_waiting(&self) -> bool {
        self.wait.is_some()
    }

    /// Is input left for a later turn?
    #[inline]
    pub fn has_unprocessed(&self) -> bool {
        !self.unprocessed.is_empty()
    }

    /// Must new input queue up behind earlier input (kept during a wait,
    /// or left from an earlier turn)?
    #[inline]
    pub fn is_behind(&self) -> bool {
        self.wait.is_some() || !self.unprocessed.is_empty()
    }

    /// Keeps input for later, in order: behind the wait if there is one,
    /// else for the next turn.
    pub fn keep(&mut self, data: &[u8]) {
        match &mut self.wait {
            Some(wait) => wait.stash.extend_from_slice(data),
            None => self.unprocessed.extend_from_slice(data),
        }
    }

    /// The input left from an earlier turn, taken to be acted on.
    pub fn take_unprocessed(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.unprocessed)
    }

    /// Pauses input until the answer numbered `serial`. Input kept by an
    /// earlier wait stays kept, in order.
    pub fn wait(&mut self, serial: u64, reason: WaitFor) {
        let stash = self.wait.take().map(|w| w.stash).unwrap_or_default();
        self.wait = Some(Wait {
            serial,
            reason,
            stash,
        });
    }

    /// Ends the wait numbered `serial`, returning the input kept meanwhile;
    /// `None` if the connection waits for something else, or nothing.
    pub fn end_wait(&mut self, serial: u64) -> Option<Vec<u8>> {
        if self.wait.as_ref().is_none_or(|w| w.serial != serial) {
            return None;
        }
        self.wait.take().map(|w| w.stash)
    }

    /// The serial of the password check this connection waits for.
    pub fn password_check(&self) -> Option<u64> {
        self.wait
            .as_ref()
            .filter(|w| w.reason == WaitFor::Password)
            .map(|w| w.serial)
    }

    /// Drops the wait and what it kept (the connection is closing).
    pub fn drop_wait(&mut self) {
        self.wait = None;
    }

    /// Counts `units` of work in `turn`; returns the turn's total so far.
    #[inline]
    pub fn charge(&mut self, turn: u64, units: u64) -> u64 {
        if self.work_turn != turn {
            (self.work_turn, self.work) = (turn, 0);
        }
        self.work = self.work.saturating_add(units);
        self.work
    }

    /// A complete frame arrived: the connection is alive.
    #[inline]
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping_sent = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_waits_behind_a_wait_in_order() {
        let mut intake = Intake::new(Instant::now());
        intake.wait(1, WaitFor::Password);
        intake.keep(b"a");
        // A second wait (a claim after the password) keeps what the first
        // kept.
        intake.wait(2, WaitFor::NameClaim);
        intake.keep(b"b");
        assert_eq!(intake.end_wait(1), None, "not the wait of serial 1");
        assert_eq!(intake.password_check(), None);
        assert_eq!(intake.end_wait(2), Some(b"ab".to_vec()));
        assert!(!intake.is_waiting());
        intake.keep(b"c");
        assert_eq!(intake.take_unprocessed(), b"c");
    }

    #[test]
    fn work_is_counted_per_turn() {
        let mut intake = Intake::new(Instant::now());
        assert_eq!(intake.charge(1, 5), 5);
        assert_eq!(intake.charge(1, 5), 10);
        assert_eq!(intake.charge(2, 1), 1);
    }
}
