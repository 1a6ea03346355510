//! What this node hands its helper thread to publish, counted in bytes:
//! past [`OUTBOUND_HIGH`] the loop holds its users' broadcasts back (see
//! `hub::cluster::pacing`) until the helper has handed it to the NATS
//! client (which queues few: see `connect`), so a node's own link paces
//! its publishing as another node's congestion does, and what waits here
//! stays bounded.

use super::Gauges;
use std::sync::atomic::Ordering;

/// Bytes handed to the helper to publish past which the loop holds its
/// users' broadcasts back (see `hub::cluster::pacing`): what another node
/// is told to hold back must not be waiting here in bulk already.
pub const OUTBOUND_HIGH: u64 = 1 << 20;
/// ... and below which they go on.
pub const OUTBOUND_LOW: u64 = 256 << 10;

impl Gauges {
    /// The helper has handed a message of `len` bytes to the NATS client;
    /// says whether the loop should hear that it caught up.
    pub fn published(&self, len: u64) -> bool {
        let left = self
            .outbound
            .fetch_sub(len, Ordering::AcqRel)
            .saturating_sub(len);
        left <= OUTBOUND_LOW && self.outbound_waiting.swap(false, Ordering::AcqRel)
    }

    /// Is more than [`OUTBOUND_HIGH`] waiting for the NATS client? If so the
    /// loop waits to hear when it caught up.
    pub fn outbound_behind(&self) -> bool {
        if self.outbound.load(Ordering::Acquire) <= OUTBOUND_HIGH {
            return false;
        }
        self.outbound_waiting.store(true, Ordering::Release);
        // The helper may have caught up before it could see the flag.
        let caught_up = self.outbound.load(Ordering::Acquire) <= OUTBOUND_LOW;
        !(caught_up && self.outbound_waiting.swap(false, Ordering::AcqRel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_hears_once_when_what_it_handed_over_is_down_to_the_low_mark() {
        let g = Gauges::default();
        g.outbound.store(OUTBOUND_HIGH, Ordering::Relaxed);
        assert!(!g.outbound_behind());
        assert!(!g.published(1), "nobody waits");
        g.outbound.store(OUTBOUND_HIGH + 1, Ordering::Relaxed);
        assert!(g.outbound_behind());
        assert!(!g.published(OUTBOUND_HIGH - OUTBOUND_LOW), "not low yet");
        assert!(g.published(1));
        assert!(!g.published(1), "told once");
    }
}
