//! A name renamed: its memberships, with their seniority, its operator
//! status, its invitations and its read mark move to the new name — all
//! at once on a single server, one room at a time as a cluster's rooms
//! bucket brings them.

use super::{fold, member_record_bytes, read_record_bytes, Room, Rooms};
use std::rc::Rc;

impl Rooms {
    /// `old` is called `new` now. Returns its rooms, as shown, and the
    /// rooms whose settings changed (it was an operator there, or invited:
    /// every room is looked at).
    pub fn rename(&mut self, old: &str, new: &Rc<str>) -> (Vec<Rc<str>>, Vec<Rc<str>>) {
        let mut changed = Vec::new();
        for r in self.rooms.values_mut() {
            if r.settings.is_invited(old) && !r.members.contains_key(old) {
                let mut settings = r.settings.clone();
                settings.invited.retain(|i| !i.eq_ignore_ascii_case(old));
                settings.invite(Rc::clone(new));
                self.live = Self::put_settings(r, settings, self.live);
                changed.push(Rc::clone(&r.name));
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
    pub fn rename_in(&mut self, room: &str, old: &str, new: &Rc<str>) -> bool {
        let folded = fold(room);
        let Some(r) = self.rooms.get_mut(&folded) else {
            return false;
        };
        if !r.members.contains_key(old) || r.members.contains_key(new) {
            return false;
        }
        Self::move_member(r, old, new, &mut self.live);
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
        let mut settings = r.settings.clone();
        for named in settings.ops.iter_mut().chain(settings.voiced.iter_mut()) {
            if named.eq_ignore_ascii_case(old) {
                *named = Rc::clone(new);
            }
        }
        // An invitation was for the old name.
        settings.invited.retain(|i| !i.eq_ignore_ascii_case(old));
        let changed = settings != r.settings;
        if changed {
            *live = Self::put_settings(r, settings, *live);
        }
        r.banned.remove(old);
        if !r.settings.bans.is_empty() && r.settings.is_banned(new) {
            r.banned.add(Rc::clone(new));
        }
        changed
    }

    /// What a rename of `old` to `new` makes of the rooms' settings,
    /// without making it: each room whose settings change (its operator
    /// status and voice, an invitation), as shown, with the settings'
    /// encoded value — as [`rename`](Self::rename) and, room by room,
    /// [`rename_in`](Self::rename_in) change them.
    pub fn renamed_settings(&self, old: &str, new: &Rc<str>) -> Vec<(Rc<str>, String)> {
        let mut changed = Vec::new();
        for r in self.rooms.values() {
            let mut settings = r.settings.clone();
            if r.members.contains_key(old) {
                for named in settings.ops.iter_mut().chain(settings.voiced.iter_mut()) {
                    if named.eq_ignore_ascii_case(old) {
                        *named = Rc::clone(new);
                    }
                }
                settings.invited.retain(|i| !i.eq_ignore_ascii_case(old));
            } else if settings.is_invited(old) {
                settings.invited.retain(|i| !i.eq_ignore_ascii_case(old));
                settings.invite(Rc::clone(new));
            }
            if settings != r.settings {
                changed.push((Rc::clone(&r.name), settings.encode()));
            }
        }
        changed
    }

    /// `name`'s place in `room`'s seniority (lower: longer standing).
    pub fn seniority(&self, room: &str, name: &str) -> Option<u64> {
        self.room(room)?.members.get(name).copied()
    }
}
