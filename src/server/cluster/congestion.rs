//! Back-pressure across nodes: the intake ([`intake`](super::intake)) tells
//! the nodes that fill it to slow down, before it has to drop.
//!
//! Core NATS does not tell a publisher how far its subscribers are, so the
//! node that falls behind says so itself. When what waits for its loop
//! passes [`HIGH_WATER`] bytes, the helper thread publishes
//! `S <node>[,<node>...]` (see [`wire`](super::wire)) on its subject
//! `evchat.slow.<node>`, over a NATS connection of its own (the main one
//! may be reading a flood for tens of milliseconds before it writes),
//! naming the nodes whose broadcasts fill it — those that brought at least
//! a quarter of what arrived since the backlog was last low (private
//! messages are not held back at their source, so they name nobody, and a
//! node whose few broadcasts arrive amid another's flood is not blamed for
//! it); they hold back their
//! own users' broadcasts (see `hub::cluster::pacing`) until it publishes
//! `S` alone, once the backlog is below [`LOW_WATER`]. The space between
//! the high-water mark and the intake's bound is what the notice's way
//! across the bus may cost; only past the bound is anything dropped.
//!
//! A notice is renewed every [`RENEW`] while the backlog stays high, and
//! only while the loop is taking from it: the nodes held back forget a
//! notice after [`NOTICE_LASTS`], so a node whose loop is stuck holds
//! nobody back for longer than that (and one that died, not at all once
//! it is declared dead).

use super::intake::BUS_SMALL;
use super::wire;
use crate::server::event_loop::READ_BUDGET;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Backlog bytes past which the nodes filling it are told to slow down:
/// two turns of the loop's intake, so that the rest of the bound is left
/// for what is on its way before they hear it.
pub const HIGH_WATER: u64 = 2 * READ_BUDGET as u64;
/// Backlog bytes below which they are told they may go on: one turn's
/// intake, which keeps the loop busy while the word goes round.
pub const LOW_WATER: u64 = READ_BUDGET as u64;
/// How often a notice is repeated while the backlog stays high.
pub const RENEW: Duration = Duration::from_secs(1);
pub use super::wire::NOTICE_LASTS;
/// Nodes named in one notice, at most (a forger's names are not kept).
const MAX_NAMED: usize = 256;

/// The intake's side of back-pressure: which nodes are told to slow down.
#[derive(Debug, Default)]
pub struct Congestion {
    /// Nodes told to slow down (empty: none is).
    filling: BTreeSet<String>,
    /// When they were last told, and how many messages the loop had taken
    /// by then.
    told_at: Option<Instant>,
    taken_when_told: u64,
    /// Since the backlog was last low: broadcast bytes by origin, and all
    /// bytes that arrived.
    brought: HashMap<String, u64>,
    arrived: u64,
}

impl Congestion {
    /// Are nodes being held back?
    pub fn is_congested(&self) -> bool {
        !self.filling.is_empty()
    }

    /// A message of `len` bytes from `origin` reached the intake, which
    /// now holds `backlog` bytes (the loop has taken `taken` messages so
    /// far); returns a notice to publish, if one is due. Small messages
    /// (heartbeats, notices) do not fill it and name nobody; nor do
    /// private messages (`broadcast` false), though they count in what
    /// arrived.
    pub fn arrived(
        &mut self,
        origin: &str,
        len: u64,
        broadcast: bool,
        backlog: u64,
        taken: u64,
        now: Instant,
    ) -> Option<Vec<u8>> {
        if backlog <= LOW_WATER && self.filling.is_empty() {
            self.brought.clear();
            self.arrived = 0;
        }
        if len <= BUS_SMALL {
            return self.check(backlog, taken, now);
        }
        self.arrived += len;
        let room = self.brought.len() < MAX_NAMED;
        let brought = match self.brought.get_mut(origin) {
            Some(b) if broadcast => {
                *b += len;
                *b
            }
            None if broadcast && room => {
                self.brought.insert(origin.to_owned(), len);
                len
            }
            _ => 0,
        };
        let fills = brought > 0 && brought * 4 >= self.arrived && backlog > HIGH_WATER;
        if fills && self.filling.len() < MAX_NAMED && !self.filling.contains(origin) {
            self.filling.insert(origin.to_owned());
            return Some(self.tell(taken, now));
        }
        self.check(backlog, taken, now)
    }

    /// Whether a notice is due now: `S` alone once the backlog has drained,
    /// or the last one again after [`RENEW`] if the loop has taken
    /// something since (a stuck loop lets its notice expire).
    pub fn check(&mut self, backlog: u64, taken: u64, now: Instant) -> Option<Vec<u8>> {
        if self.filling.is_empty() {
            return None;
        }
        if backlog <= LOW_WATER {
            self.filling.clear();
            self.told_at = None;
            return Some(wire::encode_slow_down([]));
        }
        let due = self
            .told_at
            .is_none_or(|t| now.saturating_duration_since(t) >= RENEW);
        (due && taken != self.taken_when_told).then(|| self.tell(taken, now))
    }

    fn tell(&mut self, taken: u64, now: Instant) -> Vec<u8> {
        self.told_at = Some(now);
        self.taken_when_told = taken;
        wire::encode_slow_down(self.filling.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: u64 = 60_000;

    #[test]
    fn the_nodes_that_fill_the_intake_are_told_until_it_drains() {
        let mut c = Congestion::default();
        let t = Instant::now();
        assert_eq!(c.arrived("a", BIG, true, HIGH_WATER, 0, t), None);
        assert_eq!(
            c.arrived("a", BIG, true, HIGH_WATER + 1, 0, t),
            Some(b"S a".to_vec())
        );
        // Told once; a second node filling it is added at once.
        assert_eq!(c.arrived("a", BIG, true, HIGH_WATER + 2, 0, t), None);
        // A heartbeat fills nothing.
        assert_eq!(c.arrived("h", 20, true, HIGH_WATER + 3, 0, t), None);
        assert_eq!(
            c.arrived("c", BIG, true, HIGH_WATER + 3, 0, t),
            Some(b"S a,c".to_vec())
        );
        // Between the marks nothing changes.
        assert_eq!(c.check(LOW_WATER + 1, 5, t), None);
        assert_eq!(c.check(LOW_WATER, 5, t), Some(b"S".to_vec()));
        assert!(!c.is_congested());
        assert_eq!(c.check(0, 6, t), None);
    }

    #[test]
    fn private_floods_and_a_few_broadcasts_amid_them_name_nobody() {
        let mut c = Congestion::default();
        let t = Instant::now();
        // Node a floods private messages: the backlog is high, a is not
        // held back (it cannot be), and c's occasional lines are not
        // blamed.
        for i in 0..20 {
            assert_eq!(c.arrived("a", BIG, false, HIGH_WATER + i, 0, t), None);
        }
        assert_eq!(c.arrived("c", 2_000, true, HIGH_WATER + 30, 0, t), None);
        assert!(!c.is_congested());
        // A broadcast flood among them is named once it is a quarter of it.
        for _ in 0..6 {
            assert_eq!(c.arrived("b", BIG, true, HIGH_WATER * 2, 0, t), None);
        }
        assert_eq!(
            c.arrived("b", BIG, true, HIGH_WATER * 2, 0, t),
            Some(b"S b".to_vec())
        );
    }

    #[test]
    fn a_notice_is_renewed_only_while_the_loop_takes_from_the_intake() {
        let mut c = Congestion::default();
        let t = Instant::now();
        assert!(c.arrived("a", BIG, true, HIGH_WATER * 2, 1, t).is_some());
        assert_eq!(c.check(HIGH_WATER, 2, t + RENEW / 2), None);
        assert_eq!(c.check(HIGH_WATER, 2, t + RENEW), Some(b"S a".to_vec()));
        // The loop took nothing since: no renewal, the notice runs out.
        assert_eq!(c.check(HIGH_WATER, 2, t + RENEW * 3), None);
        assert_eq!(c.check(HIGH_WATER, 3, t + RENEW * 3), Some(b"S a".to_vec()));
    }
}
