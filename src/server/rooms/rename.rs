//! A name renamed: its memberships, with their seniority, its operator
//! status, its invitations and its read mark move to the new name.

use super::{member_record_bytes, read_record_bytes, Rooms};
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
            if let Some(seniority) = r.members.remove(old) {
                r.members.insert(Rc::clone(new), seniority);
            }
            self.live = self.live.saturating_sub(member_record_bytes(old, &r.name))
                + member_record_bytes(new, &r.name);
            let mut settings = r.settings.clone();
            for named in settings.ops.iter_mut().chain(settings.voiced.iter_mut()) {
                if named.eq_ignore_ascii_case(old) {
                    *named = Rc::clone(new);
                }
            }
            // An invitation was for the old name.
            settings.invited.retain(|i| !i.eq_ignore_ascii_case(old));
            if settings != r.settings {
                self.live = Self::put_settings(r, settings, self.live);
                changed.push(Rc::clone(&r.name));
            }
            r.banned.remove(old);
            if !r.settings.bans.is_empty() && r.settings.is_banned(new) {
                r.banned.add(Rc::clone(new));
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
}
