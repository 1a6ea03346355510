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

mod history;
mod online;
#[cfg(test)]
mod tests;

use super::journal::{record, Record, RoomsImage};
use history::History;
pub use history::Said;
use online::OnlineKeys;
use std::collections::{BTreeSet, HashMap, HashSet};
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

/// Rooms are named by the lower-case form of their name, as bytes (no
/// need to check again that it is UTF-8).
type Folded = Box<[u8]>;

fn fold(room: &str) -> Folded {
    room.as_bytes().to_ascii_lowercase().into_boxed_slice()
}

/// Calls `f` with the lower-case form of `room`, on the stack for any
/// name the protocol allows (a lookup allocates nothing).
fn folded<R>(room: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 64];
    match buf.get_mut(..room.len()) {
        Some(slot) => {
            slot.copy_from_slice(room.as_bytes());
            slot.make_ascii_lowercase();
            f(slot)
        }
        None => f(&fold(room)),
    }
}

#[derive(Debug)]
struct Room {
    /// As its creator wrote it.
    name: Rc<str>,
    members: HashSet<Rc<str>>,
    online: OnlineKeys,
    history: History,
}

#[derive(Debug)]
pub struct Rooms {
    rooms: HashMap<Folded, Room>,
    /// Each name's rooms (folded), in the order joined.
    memberships: HashMap<Rc<str>, Vec<Folded>>,
    /// Where each name's catch-up starts: what was said in its rooms
    /// numbered past this, it has not been sent (see [`Rooms::read_up_to`]).
    read: HashMap<Rc<str>, u64>,
    /// Rooms by history bytes, largest last, for the total's eviction.
    by_size: BTreeSet<(usize, Folded)>,
    limits: RoomLimits,
    /// Bytes charged against `--history-bytes`.
    history_bytes: usize,
    /// The number of the last message said (0: none yet).
    last_said: u64,
    /// Entries in memberships (one per name and room).
    count: usize,
    /// Bytes a rewrite of the journal would take for the rooms, counting
    /// a message said in several rooms once per room (so never less).
    live: u64,
}

impl Rooms {
    pub fn new(limits: RoomLimits) -> Rooms {
        Rooms {
            rooms: HashMap::new(),
            memberships: HashMap::new(),
            read: HashMap::new(),
            by_size: BTreeSet::new(),
            limits,
            history_bytes: 0,
            last_said: 0,
            count: 0,
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

    pub fn is_member(&self, name: &str, room: &str) -> bool {
        self.room(room).is_some_and(|r| r.members.contains(name))
    }

    /// Does `name` belong to any room (so must stay known)?
    pub fn has_rooms(&self, name: &str) -> bool {
        self.memberships.contains_key(name)
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

    /// Makes `name` a member of `room` (making the room if need be), its
    /// session `key` if it is online. `shown` spells a new room.
    pub fn join(
        &mut self,
        name: &Rc<str>,
        room: &str,
        key: Option<usize>,
    ) -> Result<Joined, JoinRefusal> {
        let folded = fold(room);
        if let Some(r) = self.rooms.get(&folded) {
            if r.members.contains(name) {
                return Ok(Joined::Already(Rc::clone(&r.name)));
            }
        } else if self.rooms.len() >= self.limits.max_rooms {
            return Err(JoinRefusal::Rooms(self.limits.max_rooms));
        }
        let mine = self.memberships.get(name).map_or(0, Vec::len);
        if mine >= self.limits.per_user {
            return Err(JoinRefusal::PerUser(self.limits.per_user));
        }
        // A name in a room is never forgotten: their number is bounded
        // as held mail's is.
        if mine == 0 && self.memberships.len() >= self.limits.max_names {
            return Err(JoinRefusal::Names(self.limits.max_names));
        }
        let created = !self.rooms.contains_key(&folded);
        let r = self.rooms.entry(folded.clone()).or_insert_with(|| Room {
            name: Rc::from(room),
            members: HashSet::new(),
            online: OnlineKeys::default(),
            history: History::default(),
        });
        r.members.insert(Rc::clone(name));
        if let Some(key) = key {
            r.online.insert(key);
        }
        let shown = Rc::clone(&r.name);
        self.live += member_record_bytes(name, &shown);
        if created {
            self.by_size.insert((0, folded.clone()));
        }
        self.memberships
            .entry(Rc::clone(name))
            .or_default()
            .push(folded);
        self.count += 1;
        Ok(Joined::New {
            room: shown,
            created,
        })
    }

    /// `name` leaves `room`: the room as shown, or `None` if it was not a
    /// member. A room left empty is gone, with its history.
    pub fn part(&mut self, name: &str, room: &str, key: Option<usize>) -> Option<Rc<str>> {
        let folded = fold(room);
        let r = self.rooms.get_mut(&folded)?;
        if !r.members.remove(name) {
            return None;
        }
        if let Some(key) = key {
            r.online.remove(key);
        }
        let shown = Rc::clone(&r.name);
        self.count -= 1;
        self.live = self.live.saturating_sub(member_record_bytes(name, &shown));
        if let Some(mine) = self.memberships.get_mut(name) {
            mine.retain(|f| *f != folded);
            if mine.is_empty() {
                self.memberships.remove(name);
                if self.read.remove(name).is_some() {
                    self.live = self.live.saturating_sub(read_record_bytes(name));
                }
            }
        }
        if r.members.is_empty() {
            let bytes = r.history.bytes();
            self.by_size.remove(&(bytes, folded.clone()));
            self.history_bytes -= bytes;
            self.live = self.live.saturating_sub(r.history.live_bytes(&r.name));
            self.rooms.remove(&folded);
        }
        Some(shown)
    }

    /// `name` is gone for good (its account deleted): out of every room.
    pub fn remove_name(&mut self, name: &str) -> Vec<Rc<str>> {
        let rooms = self.rooms_of(name);
        for room in &rooms {
            self.part(name, room, None);
        }
        rooms
    }

    /// Every name in a room.
    pub fn names(&self) -> impl Iterator<Item = &Rc<str>> {
        self.memberships.keys()
    }

    /// `name`'s session `key` gets `room`'s messages from now on (its
    /// catch-up of that room is written).
    pub fn online_in(&mut self, room: &str, key: usize) {
        if let Some(r) = self.room_mut(room) {
            r.online.insert(key);
        }
    }

    /// `name`'s session `key` has ended.
    pub fn offline(&mut self, name: &str, key: usize) {
        for folded in self.memberships.get(name).into_iter().flatten() {
            if let Some(r) = self.rooms.get_mut(folded) {
                r.online.remove(key);
            }
        }
    }

    /// The sessions of `room`'s members online.
    pub fn online_keys(&self, room: &str) -> &[usize] {
        self.room(room).map_or(&[], |r| r.online.keys())
    }

    /// The names of `room`'s members online, as `is_online` says.
    pub fn members(&self, room: &str) -> impl Iterator<Item = &Rc<str>> {
        self.room(room).into_iter().flat_map(|r| r.members.iter())
    }

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
    pub fn all(&self) -> impl Iterator<Item = (&Rc<str>, &HashSet<Rc<str>>)> {
        self.rooms.values().map(|r| (&r.name, &r.members))
    }
}

/// What `name`'s membership of `room` takes in a rewritten journal.
fn member_record_bytes(name: &str, room: &str) -> u64 {
    record::size_of(&Record::RoomJoined { name, room })
}

/// What a read mark takes in a rewritten journal.
fn read_record_bytes(name: &str) -> u64 {
    record::size_of(&Record::ReadUpTo { name, seq: 0 })
}

/// What `frame` takes in a rewritten journal as said in `room` alone.
pub(crate) fn said_record_bytes(room: &str, frame: &[u8]) -> u64 {
    let rooms = vec![room];
    record::size_of(&Record::Said {
        seq: 0,
        rooms,
        frame,
    })
}
