//! Replaying records into the live state they describe: what a journal
//! holds after all its appends, deliveries and forgettings.
//!
//! The same replay serves the start of the server (the whole file) and a
//! compaction (the file up to where it began), so both read the file the
//! same way. Its result, an [`Image`], owns plain bytes — no `Rc`, nothing
//! tied to the loop — so a helper thread can build one.

use super::record::{encode, size_of, Record};
use super::replay_rooms::{RoomsImage, RoomsReplay};
use std::collections::{HashMap, VecDeque};

/// What a journal holds: the state a compacted journal must keep.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Image {
    /// Known names and when each was last seen (milliseconds since the
    /// epoch; 0 when a journal of the first format did not say), least
    /// recently seen first.
    pub known: Vec<(String, u64)>,
    /// Held messages in the order they were accepted, each with the names
    /// it is still held for. Every mailbox is these messages' order.
    pub held: Vec<(Vec<u8>, Vec<String>)>,
    /// Rooms: members, history, read marks.
    pub rooms: RoomsImage,
}

impl Image {
    /// Writes the image as records, one at a time (a compaction does not
    /// hold the image twice): the body of a compacted journal.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut record = Vec::new();
        for (name, at) in &self.known {
            record.clear();
            encode(&mut record, &Record::Seen { name, at: *at });
            out.write_all(&record)?;
        }
        for (frame, to) in &self.held {
            record.clear();
            let to = to.iter().map(String::as_str).collect();
            encode(&mut record, &Record::Held { to, frame });
            out.write_all(&record)?;
        }
        self.rooms.write_to(out)
    }

    /// Bytes [`write_to`](Self::write_to) writes: what is live, for
    /// deciding when a compaction pays.
    pub fn live_bytes(&self) -> u64 {
        let known = self
            .known
            .iter()
            .map(|(name, at)| size_of(&Record::Seen { name, at: *at }));
        let held = self.held.iter().map(|(frame, to)| {
            let to = to.iter().map(String::as_str).collect();
            size_of(&Record::Held { to, frame })
        });
        known.chain(held).sum::<u64>() + self.rooms.live_bytes()
    }

    /// Messages held, counted once per recipient.
    pub fn held_entries(&self) -> usize {
        self.held.iter().map(|(_, to)| to.len()).sum()
    }
}

/// Records applied so far. What it keeps is the live state only: a frame
/// is dropped when its last recipient's delivery is replayed, so replaying
/// a journal takes about as much memory as what it holds now, however much
/// it once held.
#[derive(Debug, Default)]
pub struct Replay {
    /// Name → (last seen, order of that record), for a stable recency order.
    seen: HashMap<String, (u64, u64)>,
    /// Held frames and how many mailboxes still hold each.
    frames: HashMap<u64, (Vec<u8>, usize)>,
    mailboxes: HashMap<String, VecDeque<u64>>,
    next_id: u64,
    next_order: u64,
    /// The last message of the first format, with its recipients so far:
    /// that format wrote one copy per recipient, one after another, and
    /// those copies become one message again.
    legacy: Option<(u64, Vec<String>)>,
    rooms: RoomsReplay,
}

impl Replay {
    pub fn apply(&mut self, record: Record<'_>) {
        if !matches!(record, Record::LegacyHeld { .. }) {
            self.legacy = None;
        }
        self.rooms.apply(&record);
        match record {
            Record::Seen { name, at } => {
                let order = self.order();
                self.seen.insert(name.to_owned(), (at, order));
            }
            Record::LegacyUser(name) => self.know(name),
            Record::Forgotten(name) => {
                self.seen.remove(name);
            }
            Record::Held { to, frame } => {
                let id = self.message(frame);
                for name in to {
                    self.know(name);
                    self.hold(name, id);
                }
            }
            Record::LegacyHeld { name, frame } => self.legacy_held(name, frame),
            Record::RoomJoined { name, .. } => self.know(name),
            Record::Renamed { new, .. } => self.know(new),
            Record::RoomParted { .. }
            | Record::Said { .. }
            | Record::ReadUpTo { .. }
            | Record::HistoryTrimmed { .. }
            | Record::RoomSettings { .. } => {}
            Record::Delivered { name, count } => {
                let Some(mailbox) = self.mailboxes.get_mut(name) else {
                    return;
                };
                let count = (count as usize).min(mailbox.len());
                for id in mailbox.drain(..count) {
                    if let Some((_, holders)) = self.frames.get_mut(&id) {
                        *holders -= 1;
                        if *holders == 0 {
                            self.frames.remove(&id);
                        }
                    }
                }
                if mailbox.is_empty() {
                    self.mailboxes.remove(name);
                }
            }
        }
    }

    fn order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }

    fn know(&mut self, name: &str) {
        if !self.seen.contains_key(name) {
            let order = self.order();
            self.seen.insert(name.to_owned(), (0, order));
        }
    }

    fn message(&mut self, frame: &[u8]) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.frames.insert(id, (frame.to_vec(), 0));
        id
    }

    /// Puts message `id` in `name`'s mailbox.
    fn hold(&mut self, name: &str, id: u64) {
        if let Some((_, holders)) = self.frames.get_mut(&id) {
            *holders += 1;
        }
        self.mailboxes
            .entry(name.to_owned())
            .or_default()
            .push_back(id);
    }

    fn legacy_held(&mut self, name: &str, frame: &[u8]) {
        self.know(name);
        let same = match &self.legacy {
            Some((id, to)) => {
                self.frames.get(id).is_some_and(|(f, _)| f == frame)
                    && !to.iter().any(|n| n == name)
            }
            None => false,
        };
        let id = match (&mut self.legacy, same) {
            (Some((id, to)), true) => {
                to.push(name.to_owned());
                *id
            }
            _ => {
                let id = self.message(frame);
                self.legacy = Some((id, vec![name.to_owned()]));
                id
            }
        };
        self.hold(name, id);
    }

    /// The state after every record applied.
    pub fn finish(mut self) -> Image {
        let mut to: HashMap<u64, Vec<String>> = HashMap::new();
        for (name, ids) in &self.mailboxes {
            for id in ids {
                to.entry(*id).or_default().push(name.clone());
            }
        }
        let mut ids: Vec<u64> = to.keys().copied().collect();
        ids.sort_unstable();
        let held = ids
            .into_iter()
            .filter_map(|id| {
                let mut names = to.remove(&id)?;
                names.sort_unstable();
                Some((self.frames.remove(&id)?.0, names))
            })
            .collect();
        let mut known: Vec<(String, (u64, u64))> = self.seen.into_iter().collect();
        known.sort_unstable_by_key(|(_, recency)| *recency);
        let known = known.into_iter().map(|(n, (at, _))| (n, at)).collect();
        Image {
            known,
            held,
            rooms: self.rooms.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(records: Vec<Record<'_>>) -> Image {
        let mut r = Replay::default();
        for record in records {
            r.apply(record);
        }
        r.finish()
    }

    #[test]
    fn deliveries_and_forgetting_leave_the_live_state() {
        let image = replay(vec![
            Record::Seen { name: "bob", at: 5 },
            Record::Seen { name: "amy", at: 7 },
            Record::Held {
                to: vec!["bob", "carol"],
                frame: b"one\n",
            },
            Record::Held {
                to: vec!["bob"],
                frame: b"two\n",
            },
            Record::Delivered {
                name: "bob",
                count: 1,
            },
            Record::Seen { name: "bob", at: 9 },
            Record::Forgotten("amy"),
        ]);
        assert_eq!(
            image.held,
            [
                (b"one\n".to_vec(), vec!["carol".to_owned()]),
                (b"two\n".to_vec(), vec!["bob".to_owned()])
            ]
        );
        let names: Vec<&str> = image.known.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["carol", "bob"], "least recently seen first");
        assert_eq!(image.held_entries(), 2);
    }

    #[test]
    fn copies_of_the_first_format_become_one_message_again() {
        let image = replay(vec![
            Record::LegacyUser("bob"),
            Record::LegacyUser("carol"),
            Record::LegacyHeld {
                name: "bob",
                frame: b"x\n",
            },
            Record::LegacyHeld {
                name: "carol",
                frame: b"x\n",
            },
            // The same bytes again, for bob: a second message.
            Record::LegacyHeld {
                name: "bob",
                frame: b"x\n",
            },
            Record::Delivered {
                name: "carol",
                count: 1,
            },
        ]);
        assert_eq!(
            image.held,
            [
                (b"x\n".to_vec(), vec!["bob".to_owned()]),
                (b"x\n".to_vec(), vec!["bob".to_owned()])
            ]
        );
    }

    #[test]
    fn a_delivered_message_is_dropped_as_soon_as_its_last_recipient_has_it() {
        let mut r = Replay::default();
        r.apply(Record::Held {
            to: vec!["bob", "carol"],
            frame: b"one\n",
        });
        r.apply(Record::Delivered {
            name: "bob",
            count: 1,
        });
        assert_eq!(r.frames.len(), 1, "carol still has it");
        r.apply(Record::Delivered {
            name: "carol",
            count: 1,
        });
        assert!(r.frames.is_empty(), "nobody has it: its bytes are gone");
    }

    #[test]
    fn an_image_replays_to_itself() {
        let image = replay(vec![
            Record::Seen { name: "bob", at: 1 },
            Record::Held {
                to: vec!["bob", "carol"],
                frame: b"one\n",
            },
            Record::Held {
                to: vec!["carol"],
                frame: b"two\n",
            },
        ]);
        let mut bytes = Vec::new();
        image.write_to(&mut bytes).unwrap();
        assert_eq!(image.live_bytes(), bytes.len() as u64);
        let mut again = Replay::default();
        let mut at = 0;
        while at < bytes.len() {
            let (record, used) = super::super::record::decode(&bytes[at..]).unwrap();
            again.apply(record);
            at += used;
        }
        assert_eq!(again.finish(), image);
    }
}
