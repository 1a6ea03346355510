//! Rooms: who is in which, who of them is online, and what each room
//! remembers — the state the hub reads, socket-free like the
//! [`store`](super::store).
//!
//! A room's name is `#` and 1–32 characters, compared without ASCII case
//! (`#Rust` and `#rust` are one room) and shown as whoever created it wrote
//! it. Membership belongs to a name, online or not, until it parts; a
//! room whose last member parts is gone, with its history.
//!
//! A message said in rooms is one frame (the exact `MSG` line), shared by
//! the history of every room it went to and the queues of every member
//! online: it costs its size once. Each gets the next number of one
//! sequence for all rooms, so "what was said since you left" is "what is
//! numbered past where you were" (see [`Rooms::read_up_to`]).
//!
//! Limits: `--max-rooms` and `--max-rooms-per-user` refuse a join;
//! `--history` (per room) and `--history-bytes` (all rooms) evict, oldest
//! first — for the total, from the room whose history is largest.

mod charter;
mod history;
mod membership;
mod online;
mod rename;
mod said;
pub mod settings;
#[cfg(test)]
mod tests;

use super::journal::{record, Record, RoomsImage};
use crate::protocol::names::{fold, folded, Folded};
use crate::server::names::NameMap;
use history::History;
pub use history::Said;
use online::OnlineKeys;
pub use rename::renamed_settings;
pub use settings::Settings;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::rc::Rc;

/// What a remembered message takes in memory besides its frame (its entry,
/// the frame's allocation header, its share of the size index), charged
/// against `--history-bytes`.
pub const SAID_BYTES: usize = 64;

/// The rooms' limits.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    pub max_rooms: usize,
    pub per_user: usize,
    /// Names in rooms (each kept known while it is): `--max-known`.
    pub max_names: usize,
    /// Messages each room remembers.
    pub history: usize,
    /// Bytes all rooms' histories take together.
    pub history_bytes: usize,
}

impl Default for RoomLimits {
    fn default() -> RoomLimits {
        RoomLimits {
            max_rooms: 10_000,
            per_user: 100,
            max_names: 100_000,
            history: 100,
            history_bytes: 256 << 20,
        }
    }
}

/// Why a join was refused (`ERR 507`), changing nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefusal {
    Rooms(usize),
    PerUser(usize),
    Names(usize),
    /// `+i`, not invited.
    InviteOnly,
    /// `+k`, the key not given or wrong.
    Key,
    /// `+l`, as many members as that.
    Full(usize),
    /// `+b`.
    Banned,
}

impl JoinRefusal {
    /// The room's own refusals are `ERR 403`; the server's limits `507`.
    pub fn code(&self) -> crate::protocol::ErrorCode {
        use crate::protocol::ErrorCode;
        match self {
            JoinRefusal::InviteOnly | JoinRefusal::Key | JoinRefusal::Banned => {
                ErrorCode::Forbidden
            }
            _ => ErrorCode::MailboxFull,
        }
    }
}

impl fmt::Display for JoinRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinRefusal::Rooms(n) => write!(
                f,
                "the server has as many rooms as it may ({n}, --max-rooms)"
            ),
            JoinRefusal::Names(n) => write!(
                f,
                "the server keeps as many names in rooms as it may ({n}, --max-known)"
            ),
            JoinRefusal::InviteOnly => write!(f, "the room is invite only (+i)"),
            JoinRefusal::Key => write!(f, "the room needs its key (+k): JOIN <room> <key>"),
            JoinRefusal::Full(n) => write!(f, "the room is full (+l {n})"),
            JoinRefusal::Banned => write!(f, "you are banned from the room (+b)"),
            JoinRefusal::PerUser(n) => {
                write!(
                    f,
                    "you are in as many rooms as you may ({n}, --max-rooms-per-user)"
                )
            }
        }
    }
}

/// A room forgot its oldest `count` messages (to journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgot {
    pub room: Rc<str>,
    pub count: usize,
}

/// What a join did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The name is a member now; the room was made for it if `created`.
    New { room: Rc<str>, created: bool },
    /// It already was.
    Already(Rc<str>),
}

#[derive(Debug)]
struct Room {
    /// As its creator wrote it.
    name: Rc<str>,
    /// Its members, online or not, compared without case, each with the
    /// number of its join (the longest-standing has the least).
    members: NameMap<u64>,
    online: OnlineKeys,
    history: History,
    settings: Settings,
    /// What its settings take in a rewritten journal (0: never set).
    settings_live: u64,
    /// Its members a ban matches, kept as bans and members change so a
    /// message is not matched against every mask.
    banned: crate::server::names::NameSet,
}

#[derive(Debug)]
pub struct Rooms {
    rooms: HashMap<Folded, Room>,
    /// Each name's rooms (folded), in the order joined.
    memberships: NameMap<Vec<Folded>>,
    /// Where each name's catch-up starts: what was said in its rooms
    /// numbered past this, it has not been sent (see [`Rooms::read_up_to`]).
    read: NameMap<u64>,
    /// Rooms by history bytes, largest last, for the total's eviction.
    by_size: BTreeSet<(usize, Folded)>,
    limits: RoomLimits,
    /// Bytes charged against `--history-bytes`.
    history_bytes: usize,
    /// The number of the last message said (0: none yet).
    last_said: u64,
    /// Entries in memberships (one per name and room).
    count: usize,
    /// Joins so far: each member's place in its room's seniority.
    joins: u64,
    /// Bytes a rewrite of the journal would take for the rooms, counting
    /// a message said in several rooms once per room (so never less).
    live: u64,
}

impl Rooms {
    pub fn new(limits: RoomLimits) -> Rooms {
        Rooms {
            rooms: HashMap::new(),
            memberships: NameMap::new(),
            read: NameMap::new(),
            by_size: BTreeSet::new(),
            limits,
            history_bytes: 0,
            last_said: 0,
            count: 0,
            joins: 0,
            live: 0,
        }
    }

    /// The rooms a journal held, under `limits` (a room or membership past
    /// them is kept: they refuse joins, they do not undo them).
    pub fn restore(image: RoomsImage, limits: RoomLimits) -> Rooms {
        let mut rooms = Rooms::new(RoomLimits {
            max_rooms: usize::MAX,
            per_user: usize::MAX,
            max_names: usize::MAX,
            ..limits
        });
        for (room, members) in image.rooms {
            for name in members {
                let _ = rooms.join(&Rc::from(name), &room, None);
            }
        }
        for (seq, frame, said_in) in image.said {
            let said_in: Vec<&str> = said_in.iter().map(String::as_str).collect();
            rooms.said_as(&said_in, &Rc::from(frame), seq);
        }
        for (room, value) in image.settings {
            match Settings::parse(&value) {
                Some(settings) => rooms.set_settings(&room, settings),
                None => {
                    log::warn!("the journal's settings of {room} are not readable: left as made")
                }
            }
        }
        for (name, seq) in image.read {
            rooms.set_read(&Rc::from(name), seq);
        }
        rooms.limits = limits;
        rooms
    }

    fn room(&self, room: &str) -> Option<&Room> {
        folded(room, |f| self.rooms.get(f))
    }

    fn room_mut(&mut self, room: &str) -> Option<&mut Room> {
        folded(room, |f| self.rooms.get_mut(f))
    }

    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Memberships, one per name and room.
    pub fn memberships(&self) -> usize {
        self.count
    }

    pub fn history_bytes(&self) -> usize {
        self.history_bytes
    }

    /// What the rooms take in a rewritten journal (see [`said_record_bytes`]).
    pub fn live_bytes(&self) -> u64 {
        self.live
    }

    /// The number of the last message said in any room.
    pub fn last_said(&self) -> u64 {
        self.last_said
    }

    /// The room `room` names, as it is shown, if it exists.
    pub fn shown(&self, room: &str) -> Option<&Rc<str>> {
        self.room(room).map(|r| &r.name)
    }

    /// `name` as the rooms show it, if it is in any.
    pub fn name_as(&self, name: &str) -> Option<Rc<str>> {
        self.memberships.shown(name).cloned()
    }

    /// `name` as `room` shows it, if it is a member.
    pub fn member_as(&self, room: &str, name: &str) -> Option<Rc<str>> {
        self.room(room)?.members.shown(name).cloned()
    }

    pub fn is_member(&self, name: &str, room: &str) -> bool {
        self.room(room)
            .is_some_and(|r| r.members.contains_key(name))
    }

    /// Does `name` belong to any room (so must stay known)?
    pub fn has_rooms(&self, name: &str) -> bool {
        self.memberships.contains_key(name)
    }

    /// Every room, as shown, with its number of members (online or not):
    /// the most members first, then by name.
    pub fn listing(&self) -> Vec<(Rc<str>, usize)> {
        let mut all: Vec<(Rc<str>, usize)> = self
            .rooms
            .values()
            .map(|r| (Rc::clone(&r.name), r.members.len()))
            .collect();
        all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all
    }

    /// `name`'s rooms, as shown, in the order joined.
    pub fn rooms_of(&self, name: &str) -> Vec<Rc<str>> {
        self.memberships
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|f| self.rooms.get(f).map(|r| Rc::clone(&r.name)))
            .collect()
    }
}

/// What `name`'s membership of `room` takes in a rewritten journal.
fn member_record_bytes(name: &str, room: &str) -> u64 {
    record::size_of(&Record::RoomJoined { name, room })
}

/// What `room`'s settings take in a rewritten journal.
fn settings_record_bytes(room: &str, value: &str) -> u64 {
    record::size_of(&Record::RoomSettings { room, value })
}

/// What a read mark takes in a rewritten journal.
fn read_record_bytes(name: &str) -> u64 {
    record::size_of(&Record::ReadUpTo { name, seq: 0 })
}

/// What `frame` takes in a rewritten journal as said in `room` alone.
pub(crate) fn said_record_bytes(room: &str, frame: &[u8]) -> u64 {
    record::said_size(std::iter::once(room.len()), frame.len())
}
