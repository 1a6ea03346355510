//! A name renamed: its memberships, with their seniority, its operator
//! status, its invitations and its read mark move to the new name — all
//! at once on a single server, one room at a time as a cluster's rooms
//! bucket brings them.

use super::{fold, member_record_bytes, read_record_bytes, Room, Rooms, Settings};
use std::rc::Rc;

impl Rooms {
    /// `old` is called `new` now. Returns its rooms, as shown, and the
    /// rooms whose settings changed (it was an operator there, or invited:
    /// every room is looked at).
    pub fn rename(&mut self, old: &str, new: &Rc<str>) -> (Vec<Rc<str>>, Vec<Rc<str>>) {
        let mut changed = Vec::new();
        for r in self.rooms.values_mut() {
            if !r.members.contains_key(old) {
                if let Some(settings) = renamed_settings(&r.settings, old, new, false) {
                    self.live = Self::put_settings(r, settings, self.live);
                    changed.push(Rc::clone(&r.name));
                }
            }
        }
        let Some((_, folded_rooms)) = self.memberships.remove_entry(old) else {
            return (Vec::new(), changed);
        };
        let mut moved = Vec::new();
        for folded in &folded_rooms {
            let Some(r) = self.rooms.get_mut(folded) else {
                continue;
            };
            if Self::move_member(r, old, new, &mut self.live) {
                changed.push(Rc::clone(&r.name));
            }
            moved.push(Rc::clone(&r.name));
        }
        self.memberships.insert(Rc::clone(new), folded_rooms);
        if let Some(seq) = self.read.remove(old) {
            self.live = self.live.saturating_sub(read_record_bytes(old)) + read_record_bytes(new);
            self.read.insert(Rc::clone(new), seq);
        }
        (moved, changed)
    }

    /// `old`'s membership of `room` is `new`'s now, in its place, with its
    /// operator status and voice: one room of a rename, as a cluster's
    /// rooms bucket brings it (the read mark comes on its own). False if
    /// `old` was not a member (nothing changed).
    ///
    /// The old name's session here, if another one has it now, gets the
    /// room's frames no more; the new name's, if it is here, gets them.
    pub fn rename_in(
        &mut self,
        room: &str,
        (old, old_key): (&str, Option<usize>),
        (new, new_key): (&Rc<str>, Option<usize>),
    ) -> bool {
        let folded = fold(room);
        let Some(r) = self.rooms.get_mut(&folded) else {
            return false;
        };
        if !r.members.contains_key(old) || r.members.contains_key(new) {
            return false;
        }
        Self::move_member(r, old, new, &mut self.live);
        if let Some(key) = old_key.filter(|&k| Some(k) != new_key) {
            r.online.remove(key);
        }
        if let Some(key) = new_key {
            r.online.insert(key);
        }
        if let Some(mine) = self.memberships.get_mut(old) {
            mine.retain(|f| *f != folded);
            if mine.is_empty() {
                self.memberships.remove(old);
            }
        }
        self.memberships
            .get_or_insert_with(new, Vec::new)
            .push(folded);
        true
    }

    /// Moves `old`'s place in `r` to `new`, and its operator status and
    /// voice; an invitation of `old` is dropped. Returns whether the
    /// room's settings changed.
    fn move_member(r: &mut Room, old: &str, new: &Rc<str>, live: &mut u64) -> bool {
        if let Some(seniority) = r.members.remove(old) {
            r.members.insert(Rc::clone(new), seniority);
        }
        *live = live.saturating_sub(member_record_bytes(old, &r.name))
            + member_record_bytes(new, &r.name);
        let settings = renamed_settings(&r.settings, old, new, true);
        let changed = settings.is_some();
        if let Some(settings) = settings {
            *live = Self::put_settings(r, settings, *live);
        }
        r.banned.remove(old);
        if !r.settings.bans.is_empty() && r.settings.is_banned(new) {
            r.banned.add(Rc::clone(new));
        }
        changed
    }

    /// The rooms `name` is invited to and not in, as shown.
    pub fn invited_to(&self, name: &str) -> Vec<Rc<str>> {
        self.rooms
            .values()
            .filter(|r| r.settings.is_invited(name) && !r.members.contains_key(name))
            .map(|r| Rc::clone(&r.name))
            .collect()
    }

    /// `name`'s place in `room`'s seniority (lower: longer standing).
    pub fn seniority(&self, room: &str, name: &str) -> Option<u64> {
        self.room(room)?.members.get(name).copied()
    }
}

/// What a rename of `old` to `new` makes of a room's settings, if it
/// changes them: for a member, its operator status and voice move and an
/// invitation of the old name goes; for one who is not, an invitation
/// moves. (The same on every node, and on a value read back from a
/// cluster's bucket.)
pub fn renamed_settings(
    settings: &Settings,
    old: &str,
    new: &Rc<str>,
    member: bool,
) -> Option<Settings> {
    let mut renamed = settings.clone();
    if member {
        for named in renamed.ops.iter_mut().chain(renamed.voiced.iter_mut()) {
            if named.eq_ignore_ascii_case(old) {
                *named = Rc::clone(new);
            }
        }
        renamed.invited.retain(|i| !i.eq_ignore_ascii_case(old));
    } else if renamed.is_invited(old) {
        renamed.invited.retain(|i| !i.eq_ignore_ascii_case(old));
        renamed.invite(Rc::clone(new));
    }
    (renamed != *settings).then_some(renamed)
}
