//! How much of the bus may wait for the loop: what other nodes publish is
//! read from NATS at once by the helper thread and handed to the loop,
//! which takes it in one connection's budget a turn
//! ([`Hub::take_cluster_news`]). Between the two it waits here, bounded in
//! messages and in bytes. Well before the bound, the nodes that fill it
//! are told to slow down ([`congestion`](super::congestion)); what does
//! not fit all the same is dropped, as a last resort (counted in
//! `bus_lagged`), so a flood from another node costs this one a fixed
//! amount of memory however long it lasts, and never piles up in the NATS
//! client's buffer instead.
//!
//! [`Hub::take_cluster_news`]: crate::server::hub::Hub::take_cluster_news

use super::Gauges;
use std::sync::atomic::Ordering;

/// Bus messages that may wait for the loop at once.
pub const BUS_BACKLOG: u64 = 1 << 14;

/// Bytes of bus messages that may wait for the loop at once: sixty-four
/// turns of the bus's read budget. Nodes are told to slow down long before
/// (see [`congestion`](super::congestion)); the rest is room for what is
/// already on its way then — in the other node's NATS client, NATS, and
/// the sockets between — which on a busy machine was seen to exceed 4 MiB.
pub const BUS_BACKLOG_BYTES: u64 = 16 << 20;

/// Room kept past [`BUS_BACKLOG_BYTES`] for small messages (heartbeats,
/// mail notices, short private messages), so that a flood of big ones
/// cannot make a live node look dead.
pub const BUS_SMALL: u64 = 512;
pub const BUS_SMALL_ROOM: u64 = 256 << 10;

impl Gauges {
    /// Takes a bus message of `len` bytes into the backlog if it has room
    /// for it; says whether it did. (One thread admits; the loop only
    /// takes away, so room seen here does not shrink before it is used.)
    pub fn admit(&self, len: u64) -> bool {
        let limit = if len <= BUS_SMALL {
            BUS_BACKLOG_BYTES + BUS_SMALL_ROOM
        } else {
            BUS_BACKLOG_BYTES
        };
        let bytes = self.backlog_bytes.load(Ordering::Acquire);
        // One message always fits an empty backlog, however big.
        let fits = bytes == 0 || bytes + len <= limit;
        if !fits || self.backlog.load(Ordering::Acquire) >= BUS_BACKLOG {
            return false;
        }
        self.backlog.fetch_add(1, Ordering::AcqRel);
        self.backlog_bytes.fetch_add(len, Ordering::AcqRel);
        true
    }

    /// Takes a message into the backlog whatever it holds: what a node
    /// reads before its loop runs (the rooms stream at start, bounded by
    /// `--history-bytes`).
    pub fn admit_anyway(&self, len: u64) {
        self.backlog.fetch_add(1, Ordering::AcqRel);
        self.backlog_bytes.fetch_add(len, Ordering::AcqRel);
    }

    /// The loop took a bus message of `len` bytes.
    pub(super) fn taken(&self, len: u64) {
        self.backlog.fetch_sub(1, Ordering::AcqRel);
        self.backlog_bytes.fetch_sub(len, Ordering::AcqRel);
        self.taken.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_is_bounded_in_bytes_with_room_kept_for_small_messages() {
        let g = Gauges::default();
        let big = 60_000;
        let mut admitted = 0;
        while g.admit(big) {
            admitted += 1;
        }
        assert_eq!(admitted, BUS_BACKLOG_BYTES / big);
        // A heartbeat still gets in; a big message waits for room.
        assert!(g.admit(20));
        assert!(!g.admit(big));
        g.taken(big);
        assert!(g.admit(big));
        // Small ones stop too, past their room.
        while g.admit(BUS_SMALL) {}
        assert!(g.backlog_bytes.load(Ordering::Relaxed) <= BUS_BACKLOG_BYTES + BUS_SMALL_ROOM);
    }

    #[test]
    fn one_message_bigger_than_the_bound_passes_alone() {
        let g = Gauges::default();
        assert!(g.admit(BUS_BACKLOG_BYTES * 2));
        assert!(!g.admit(20 + BUS_BACKLOG_BYTES));
        g.taken(BUS_BACKLOG_BYTES * 2);
        assert_eq!(g.backlog.load(Ordering::Relaxed), 0);
        assert!(g.admit(1));
    }

    #[test]
    fn the_backlog_is_bounded_in_messages() {
        let g = Gauges::default();
        for _ in 0..BUS_BACKLOG {
            assert!(g.admit(1));
        }
        assert!(!g.admit(1));
    }
}
