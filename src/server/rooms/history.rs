//! What one room remembers: its last messages, oldest first, and what
//! they cost.

use std::collections::VecDeque;
use std::rc::Rc;

/// One message said in a room: its number in the sequence of all rooms,
/// and its frame (shared with every other room it went to).
#[derive(Debug, Clone)]
pub struct Said {
    pub seq: u64,
    pub frame: Rc<[u8]>,
}

impl Said {
    pub fn new(seq: u64, frame: Rc<[u8]>) -> Said {
        Said { seq, frame }
    }
}

#[derive(Debug, Default)]
pub(super) struct History {
    said: VecDeque<(Said, usize)>,
    /// What the entries are charged, together.
    bytes: usize,
}

impl History {
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn push(&mut self, said: Said, cost: usize) {
        self.said.push_back((said, cost));
        self.bytes += cost;
    }

    /// Keeps the newest `max` entries; returns how many went, the bytes
    /// they were charged and what they took in the journal's image.
    pub(super) fn trim_to(&mut self, max: usize, room: &str) -> (usize, usize, u64) {
        let (mut count, mut freed, mut live) = (0, 0, 0);
        while self.said.len() > max {
            let (bytes, image) = self.evict_oldest(room);
            count += 1;
            freed += bytes;
            live += image;
        }
        (count, freed, live)
    }

    /// Drops the oldest entry; returns the bytes it was charged (0: it was
    /// empty) and what it took in the journal's image.
    pub(super) fn evict_oldest(&mut self, room: &str) -> (usize, u64) {
        let Some((said, cost)) = self.said.pop_front() else {
            return (0, 0);
        };
        self.bytes -= cost;
        (cost, super::said_record_bytes(room, &said.frame))
    }

    /// What all entries take in the journal's image.
    pub(super) fn live_bytes(&self, room: &str) -> u64 {
        let image = |(s, _): &(Said, usize)| super::said_record_bytes(room, &s.frame);
        self.said.iter().map(image).sum()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Said> {
        self.said.iter().map(|(s, _)| s)
    }
}
