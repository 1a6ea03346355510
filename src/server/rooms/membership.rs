//! Who is in which room, and who of them is online.

use super::history::History;
use super::online::OnlineKeys;
use super::{fold, member_record_bytes, read_record_bytes, JoinRefusal, Joined, Room, Rooms};
use crate::server::names::NameMap;
use std::rc::Rc;

impl Rooms {
    /// Makes `name` a member of `room` (making the room if need be), its
    /// session `key` if it is online, if the limits allow.
    pub fn join(
        &mut self,
        name: &Rc<str>,
        room: &str,
        key: Option<usize>,
    ) -> Result<Joined, JoinRefusal> {
        if let Some(shown) = self.may_join(name, room, None)? {
            return Ok(Joined::Already(shown));
        }
        Ok(self.admit(name, room, key))
    }

    /// Whether `name` may join `room` (with `key`, if it gave one): `Some`
    /// room as shown if it is in it already, `None` if it may join, or why
    /// not. An invitation passes `+i`, `+k` and `+l`; nothing passes `+b`.
    pub fn may_join(
        &self,
        name: &str,
        room: &str,
        key: Option<&str>,
    ) -> Result<Option<Rc<str>>, JoinRefusal> {
        match self.room(room) {
            Some(r) if r.members.contains_key(name) => return Ok(Some(Rc::clone(&r.name))),
            Some(r) => {
                let s = &r.settings;
                if s.is_banned(name) {
                    return Err(JoinRefusal::Banned);
                }
                if !s.is_invited(name) {
                    if s.invite_only {
                        return Err(JoinRefusal::InviteOnly);
                    }
                    if s.key.is_some() && s.key.as_deref() != key {
                        return Err(JoinRefusal::Key);
                    }
                    if let Some(limit) = s.limit.filter(|l| r.members.len() >= *l) {
                        return Err(JoinRefusal::Full(limit));
                    }
                }
            }
            None if self.rooms.len() >= self.limits.max_rooms => {
                return Err(JoinRefusal::Rooms(self.limits.max_rooms));
            }
            None => {}
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
        Ok(None)
    }

    /// Makes `name` a member of `room`, whatever the limits (they were
    /// checked where the join was asked: in a cluster, on its node).
    pub fn admit(&mut self, name: &Rc<str>, room: &str, key: Option<usize>) -> Joined {
        self.admit_at(name, room, key, None)
    }

    /// As [`admit`](Self::admit), in seniority `place` if given (a
    /// cluster's: the bucket revision of the join, the same on every node
    /// and after a restart), after every join so far if not.
    pub fn admit_at(
        &mut self,
        name: &Rc<str>,
        room: &str,
        key: Option<usize>,
        place: Option<u64>,
    ) -> Joined {
        let folded = fold(room);
        if let Some(r) = self.rooms.get(&folded) {
            if r.members.contains_key(name) {
                return Joined::Already(Rc::clone(&r.name));
            }
        }
        let created = !self.rooms.contains_key(&folded);
        let r = self.rooms.entry(folded.clone()).or_insert_with(|| Room {
            name: Rc::from(room),
            members: NameMap::new(),
            online: OnlineKeys::default(),
            history: History::default(),
            settings: Default::default(),
            settings_live: 0,
            banned: Default::default(),
        });
        self.joins += 1;
        r.members
            .insert(Rc::clone(name), place.unwrap_or(self.joins));
        // Let in past its bans (an invitation, a restart, another node).
        if !r.settings.bans.is_empty() && r.settings.is_banned(name) {
            r.banned.add(Rc::clone(name));
        }
        // Its creator is its first operator; an invitation is used up.
        let mut settings = r.settings.clone();
        if created {
            settings.ops.push(Rc::clone(name));
        }
        settings.invited.retain(|i| !i.eq_ignore_ascii_case(name));
        if settings != r.settings {
            self.live = Self::put_settings(r, settings, self.live);
        }
        if let Some(key) = key {
            r.online.insert(key);
        }
        let shown = Rc::clone(&r.name);
        self.live += member_record_bytes(name, &shown);
        if created {
            self.by_size.insert((0, folded.clone()));
        }
        self.memberships
            .get_or_insert_with(name, Vec::new)
            .push(folded);
        self.count += 1;
        Joined::New {
            room: shown,
            created,
        }
    }

    /// `name` leaves `room`: the room as shown, or `None` if it was not a
    /// member. A room left empty is gone, with its history.
    pub fn part(&mut self, name: &str, room: &str, key: Option<usize>) -> Option<Rc<str>> {
        let folded = fold(room);
        let r = self.rooms.get_mut(&folded)?;
        r.members.remove(name)?;
        r.banned.remove(name);
        if let Some(key) = key {
            r.online.remove(key);
        }
        // Operator no more; the longest-standing member is one if no
        // operator is left.
        let mut settings = r.settings.clone();
        settings.ops.retain(|o| !o.eq_ignore_ascii_case(name));
        settings.voiced.retain(|v| !v.eq_ignore_ascii_case(name));
        Self::keep_an_operator(r, &mut settings);
        if settings != r.settings {
            self.live = Self::put_settings(r, settings, self.live);
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
            self.live = self.live.saturating_sub(r.settings_live);
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
        self.room(room).into_iter().flat_map(|r| r.members.keys())
    }
}
