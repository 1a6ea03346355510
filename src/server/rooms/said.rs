//! What rooms remember, within their limits, and how far each name has
//! been sent it.

use super::{fold, read_record_bytes, said_record_bytes, Forgot, Rooms, Said, SAID_BYTES};
use std::rc::Rc;

impl Rooms {
    /// Remembers `frame`, said in `rooms` (each as shown or not), under
    /// the next number; evicts past the limits. Returns its number, and
    /// how many of the oldest messages each room forgot.
    pub fn said(&mut self, rooms: &[&str], frame: &Rc<[u8]>) -> (u64, Vec<Forgot>) {
        self.last_said += 1;
        let seq = self.last_said;
        (seq, self.said_as(rooms, frame, seq))
    }

    /// As [`said`](Self::said), under a number already given (replaying
    /// the journal).
    pub fn said_as(&mut self, rooms: &[&str], frame: &Rc<[u8]>, seq: u64) -> Vec<Forgot> {
        self.last_said = self.last_said.max(seq);
        let cost = frame.len() + SAID_BYTES;
        let mut forgot = Vec::new();
        for room in rooms {
            let folded = fold(room);
            let Some(r) = self.rooms.get_mut(&folded) else {
                continue;
            };
            let before = r.history.bytes();
            r.history.push(Said::new(seq, Rc::clone(frame)), cost);
            self.live += said_record_bytes(&r.name, frame);
            let (count, freed, freed_live) = r.history.trim_to(self.limits.history, &r.name);
            if count > 0 {
                forgot.push(Forgot {
                    room: Rc::clone(&r.name),
                    count,
                });
            }
            let after = r.history.bytes();
            self.by_size.remove(&(before, folded.clone()));
            self.by_size.insert((after, folded));
            self.history_bytes = (self.history_bytes + cost).saturating_sub(freed);
            self.live = self.live.saturating_sub(freed_live);
        }
        self.trim_total(&mut forgot);
        forgot
    }

    /// Forgets the oldest `count` messages of `room` (replaying the
    /// journal).
    pub fn forget(&mut self, room: &str, count: usize) {
        let folded = fold(room);
        let Some(r) = self.rooms.get_mut(&folded) else {
            return;
        };
        let before = r.history.bytes();
        for _ in 0..count {
            let (freed, freed_live) = r.history.evict_oldest(&r.name);
            self.history_bytes = self.history_bytes.saturating_sub(freed);
            self.live = self.live.saturating_sub(freed_live);
        }
        let after = r.history.bytes();
        self.by_size.remove(&(before, folded.clone()));
        self.by_size.insert((after, folded));
    }

    /// Evicts the oldest message of the largest history until all fit.
    fn trim_total(&mut self, forgot: &mut Vec<Forgot>) {
        while self.history_bytes > self.limits.history_bytes {
            let Some((bytes, folded)) = self.by_size.pop_last() else {
                return;
            };
            let Some(r) = self.rooms.get_mut(&folded) else {
                continue;
            };
            let (freed, freed_live) = r.history.evict_oldest(&r.name);
            self.history_bytes = self.history_bytes.saturating_sub(freed);
            self.live = self.live.saturating_sub(freed_live);
            self.by_size.insert((bytes - freed, folded));
            if freed == 0 {
                return;
            }
            match forgot.iter_mut().find(|f| Rc::ptr_eq(&f.room, &r.name)) {
                Some(f) => f.count += 1,
                None => forgot.push(Forgot {
                    room: Rc::clone(&r.name),
                    count: 1,
                }),
            }
        }
    }

    /// What `room` remembers, oldest first.
    pub fn history(&self, room: &str) -> impl Iterator<Item = &Said> {
        self.room(room).into_iter().flat_map(|r| r.history.iter())
    }

    /// What was said in `room` numbered past `after`, oldest first.
    pub fn said_since(&self, room: &str, after: u64) -> impl Iterator<Item = &Said> {
        self.history(room).filter(move |s| s.seq > after)
    }

    /// Where `name`'s catch-up starts: it has been sent everything its
    /// rooms said up to this number (0 for a name never caught up).
    pub fn read_up_to(&self, name: &str) -> u64 {
        self.read.get(name).copied().unwrap_or(0)
    }

    /// `name` has been sent everything up to `seq` (its session ended
    /// after a catch-up it acknowledged, or without one to make).
    pub fn set_read(&mut self, name: &Rc<str>, seq: u64) {
        if self.has_rooms(name) && self.read.insert(Rc::clone(name), seq).is_none() {
            self.live += read_record_bytes(name);
        }
    }

    /// Every name's read mark, for a rewrite of the journal.
    pub fn read_marks(&self) -> impl Iterator<Item = (&Rc<str>, u64)> {
        self.read.iter().map(|(n, s)| (n, *s))
    }

    /// Every room as shown, with its members, for a rewrite of the journal.
    pub fn all(&self) -> impl Iterator<Item = (&Rc<str>, impl Iterator<Item = &Rc<str>>)> {
        self.rooms.values().map(|r| (&r.name, r.members.keys()))
    }
}
