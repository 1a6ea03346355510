//! Replaying the rooms' records: who is in which room, what each room
//! still remembers and where each member's catch-up starts — plain
//! strings and bytes, like the rest of the [`Image`](super::Image).

use super::record::{encode, size_of, Record};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// The rooms as a journal holds them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RoomsImage {
    /// Each room as shown, with its members in the order they joined (the
    /// longest-standing first: who becomes operator when none is left).
    pub rooms: Vec<(String, Vec<String>)>,
    /// What rooms remember, in the order said: its number, its frame and
    /// the rooms (as shown) that still remember it.
    pub said: Vec<(u64, Vec<u8>, Vec<String>)>,
    /// Where each member's catch-up starts.
    pub read: Vec<(String, u64)>,
    /// Each room's settings (as shown, its value), for those set.
    pub settings: Vec<(String, String)>,
}

impl RoomsImage {
    /// Writes the image as records: memberships, then what was said (each
    /// message once, with its rooms), then read marks.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let mut record = Vec::new();
        for r in self.records() {
            record.clear();
            encode(&mut record, &r);
            out.write_all(&record)?;
        }
        Ok(())
    }

    pub fn live_bytes(&self) -> u64 {
        self.records().map(|r| size_of(&r)).sum()
    }

    fn records(&self) -> impl Iterator<Item = Record<'_>> {
        let joined = self.rooms.iter().flat_map(|(room, members)| {
            members
                .iter()
                .map(move |name| Record::RoomJoined { name, room })
        });
        let said = self.said.iter().map(|(seq, frame, rooms)| Record::Said {
            seq: *seq,
            rooms: rooms.iter().map(String::as_str).collect(),
            frame,
        });
        let read = self
            .read
            .iter()
            .map(|(name, seq)| Record::ReadUpTo { name, seq: *seq });
        let settings = self
            .settings
            .iter()
            .map(|(room, value)| Record::RoomSettings { room, value });
        joined.chain(settings).chain(said).chain(read)
    }
}

#[derive(Debug, Default)]
struct Room {
    shown: String,
    /// Each member with the number of its join.
    members: HashMap<String, u64>,
    history: VecDeque<u64>,
    settings: Option<String>,
}

/// The rooms' records applied so far: only what is live is kept.
#[derive(Debug, Default)]
pub struct RoomsReplay {
    rooms: HashMap<String, Room>,
    /// Frames still remembered, with how many rooms remember each.
    said: HashMap<u64, (Vec<u8>, usize)>,
    /// Rooms each name is in.
    memberships: HashMap<String, usize>,
    read: HashMap<String, u64>,
    /// Joins replayed so far.
    joins: u64,
}

impl RoomsReplay {
    /// Applies a rooms' record; others are not its business.
    pub fn apply(&mut self, record: &Record<'_>) {
        match *record {
            Record::RoomJoined { name, room } => {
                let r = self
                    .rooms
                    .entry(room.to_ascii_lowercase())
                    .or_insert_with(|| Room {
                        shown: room.to_owned(),
                        ..Room::default()
                    });
                if !r.members.contains_key(name) {
                    self.joins += 1;
                    r.members.insert(name.to_owned(), self.joins);
                    *self.memberships.entry(name.to_owned()).or_default() += 1;
                }
            }
            Record::RoomParted { name, room } => self.part(name, room),
            Record::Said {
                seq,
                ref rooms,
                frame,
            } => {
                let mut holders = 0;
                for room in rooms {
                    if let Some(r) = self.rooms.get_mut(&room.to_ascii_lowercase()) {
                        r.history.push_back(seq);
                        holders += 1;
                    }
                }
                if holders > 0 {
                    self.said.insert(seq, (frame.to_vec(), holders));
                }
            }
            Record::HistoryTrimmed { room, count } => {
                let Some(r) = self.rooms.get_mut(&room.to_ascii_lowercase()) else {
                    return;
                };
                let count = (count as usize).min(r.history.len());
                let gone: Vec<u64> = r.history.drain(..count).collect();
                self.unref(gone);
            }
            Record::Renamed { old, new } => self.rename(old, new),
            Record::RoomSettings { room, value } => {
                if let Some(r) = self.rooms.get_mut(&room.to_ascii_lowercase()) {
                    r.settings = Some(value.to_owned());
                }
            }
            Record::ReadUpTo { name, seq } if self.memberships.contains_key(name) => {
                self.read.insert(name.to_owned(), seq);
            }
            _ => {}
        }
    }

    fn part(&mut self, name: &str, room: &str) {
        let folded = room.to_ascii_lowercase();
        let Some(r) = self.rooms.get_mut(&folded) else {
            return;
        };
        if r.members.remove(name).is_none() {
            return;
        }
        // Operator status and invitations end with the membership, whether
        // or not the hub wrote the settings again.
        if let Some(value) = &mut r.settings {
            *value = without_name(value, name);
        }
        if let Some(count) = self.memberships.get_mut(name) {
            *count -= 1;
            if *count == 0 {
                self.memberships.remove(name);
                self.read.remove(name);
            }
        }
        if r.members.is_empty() {
            let gone: Vec<u64> = r.history.drain(..).collect();
            self.rooms.remove(&folded);
            self.unref(gone);
        }
    }

    /// `old` is `new` now, in place: its memberships keep their order,
    /// its operator and invitation lines in every room's settings and its
    /// read mark move.
    fn rename(&mut self, old: &str, new: &str) {
        // Names are written as the hub shows them: looked up as they are.
        for r in self.rooms.values_mut() {
            if let Some(seniority) = r.members.remove(old) {
                r.members.insert(new.to_owned(), seniority);
            }
            if let Some(value) = r.settings.as_mut().filter(|v| v.contains(old)) {
                *value = renamed_in(value, old, new);
            }
        }
        if let Some(count) = self.memberships.remove(old) {
            self.memberships.insert(new.to_owned(), count);
        }
        if let Some(seq) = self.read.remove(old) {
            self.read.insert(new.to_owned(), seq);
        }
    }

    /// Rooms no longer remember `seqs`: a frame no room remembers goes.
    fn unref(&mut self, seqs: Vec<u64>) {
        for seq in seqs {
            if let Some((_, holders)) = self.said.get_mut(&seq) {
                *holders -= 1;
                if *holders == 0 {
                    self.said.remove(&seq);
                }
            }
        }
    }

    /// Names in rooms: they stay known.
    pub fn members(&self) -> impl Iterator<Item = &String> {
        self.memberships.keys()
    }

    pub fn finish(mut self) -> RoomsImage {
        let mut by_seq: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for r in self.rooms.values() {
            for seq in &r.history {
                by_seq.entry(*seq).or_default().push(r.shown.clone());
            }
        }
        let said = by_seq
            .into_iter()
            .filter_map(|(seq, mut rooms)| {
                rooms.sort_unstable();
                Some((seq, self.said.remove(&seq)?.0, rooms))
            })
            .collect();
        let mut settings: Vec<(String, String)> = self
            .rooms
            .values()
            .filter_map(|r| Some((r.shown.clone(), r.settings.clone()?)))
            .collect();
        settings.sort_unstable();
        let mut rooms: Vec<(String, Vec<String>)> = self
            .rooms
            .into_values()
            .map(|r| {
                let mut members: Vec<(String, u64)> = r.members.into_iter().collect();
                members.sort_unstable_by_key(|m| m.1);
                (r.shown, members.into_iter().map(|m| m.0).collect())
            })
            .collect();
        rooms.sort_unstable();
        let mut read: Vec<(String, u64)> = self.read.into_iter().collect();
        read.sort_unstable();
        RoomsImage {
            rooms,
            said,
            read,
            settings,
        }
    }
}

/// A settings value with `old`'s operator, voice and invitation lines
/// `new`'s.
fn renamed_in(value: &str, old: &str, new: &str) -> String {
    value
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((kind @ ("o" | "v" | "i"), name)) if name.eq_ignore_ascii_case(old) => {
                format!("{kind} {new}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

/// A settings value without `name` among its operators, voiced and
/// invited.
fn without_name(value: &str, name: &str) -> String {
    value
        .lines()
        .filter(|line| {
            let named = ["o ", "v ", "i "]
                .iter()
                .find_map(|kind| line.strip_prefix(kind));
            !named.is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .flat_map(|line| [line, "\n"])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(records: &[Record<'_>]) -> RoomsImage {
        let mut r = RoomsReplay::default();
        for record in records {
            r.apply(record);
        }
        r.finish()
    }

    #[test]
    fn parts_trims_and_empty_rooms_leave_only_what_is_live() {
        let image = replay(&[
            Record::RoomJoined {
                name: "amy",
                room: "#Rust",
            },
            Record::RoomJoined {
                name: "bob",
                room: "#rust",
            },
            Record::RoomJoined {
                name: "bob",
                room: "#go",
            },
            Record::Said {
                seq: 1,
                rooms: vec!["#rust", "#go"],
                frame: b"one\n",
            },
            Record::Said {
                seq: 2,
                rooms: vec!["#Rust"],
                frame: b"two\n",
            },
            Record::Said {
                seq: 3,
                rooms: vec!["#nowhere"],
                frame: b"lost\n",
            },
            Record::HistoryTrimmed {
                room: "#RUST",
                count: 1,
            },
            Record::ReadUpTo {
                name: "bob",
                seq: 2,
            },
            Record::ReadUpTo {
                name: "zed",
                seq: 2,
            },
            Record::RoomParted {
                name: "amy",
                room: "#rust",
            },
        ]);
        assert_eq!(
            image.rooms,
            [
                ("#Rust".to_owned(), vec!["bob".to_owned()]),
                ("#go".to_owned(), vec!["bob".to_owned()]),
            ]
        );
        assert_eq!(
            image.said,
            [
                (1, b"one\n".to_vec(), vec!["#go".to_owned()]),
                (2, b"two\n".to_vec(), vec!["#Rust".to_owned()]),
            ]
        );
        assert_eq!(image.read, [("bob".to_owned(), 2)]);
        // The last member goes: the room and all it remembered with it.
        let image = replay(&[
            Record::RoomJoined {
                name: "amy",
                room: "#a",
            },
            Record::Said {
                seq: 1,
                rooms: vec!["#a"],
                frame: b"x\n",
            },
            Record::ReadUpTo {
                name: "amy",
                seq: 1,
            },
            Record::RoomParted {
                name: "amy",
                room: "#A",
            },
        ]);
        assert_eq!(image, RoomsImage::default());
    }

    #[test]
    fn a_leaver_or_renamed_name_takes_its_operator_voice_and_invitation_lines() {
        let value = "c amy T\nf +nt\no amy\no bob\nv bob\nv cat\ni bob\n";
        assert_eq!(without_name(value, "BOB"), "c amy T\nf +nt\no amy\nv cat\n");
        assert_eq!(
            renamed_in(value, "bob", "Bobby"),
            "c amy T\nf +nt\no amy\no Bobby\nv Bobby\nv cat\ni Bobby\n"
        );
    }

    #[test]
    fn an_image_replays_to_itself() {
        let image = replay(&[
            Record::RoomJoined {
                name: "amy",
                room: "#a",
            },
            Record::RoomJoined {
                name: "amy",
                room: "#b",
            },
            Record::Said {
                seq: 4,
                rooms: vec!["#a", "#b"],
                frame: b"x\n",
            },
            Record::Said {
                seq: 5,
                rooms: vec!["#b"],
                frame: b"y\n",
            },
            Record::ReadUpTo {
                name: "amy",
                seq: 4,
            },
        ]);
        let mut bytes = Vec::new();
        image.write_to(&mut bytes).unwrap();
        assert_eq!(image.live_bytes(), bytes.len() as u64);
        let mut again = RoomsReplay::default();
        let mut at = 0;
        while at < bytes.len() {
            let (record, used) = super::super::record::decode(&bytes[at..]).unwrap();
            again.apply(&record);
            at += used;
        }
        assert_eq!(again.finish(), image);
    }
}
