//! A room's settings as the rooms keep them: read by the hub, replaced
//! whole by a change (a `MODE`, a `TOPIC`, an `INVITE`, or the same from
//! another node), its rule kept here: while a room has members, one of
//! them at least is an operator, and only members are.

use super::settings::{banned_by, Settings};
use super::{settings_record_bytes, Room, Rooms};
use std::rc::Rc;

/// The names of `names` that are members of `r`, as shown there, each
/// once (a list from another node or the journal names whom it likes).
fn members_of(r: &Room, names: &[Rc<str>]) -> Vec<Rc<str>> {
    names
        .iter()
        .filter_map(|n| r.members.shown(n).cloned())
        .fold(Vec::new(), |mut kept: Vec<Rc<str>>, n| {
            if !kept.iter().any(|x| x.eq_ignore_ascii_case(&n)) {
                kept.push(n);
            }
            kept
        })
}

impl Rooms {
    /// `room`'s settings, if it exists.
    pub fn settings(&self, room: &str) -> Option<&Settings> {
        self.room(room).map(|r| &r.settings)
    }

    /// Is `name` an operator of `room`?
    pub fn is_operator(&self, name: &str, room: &str) -> bool {
        self.settings(room).is_some_and(|s| s.is_op(name))
    }

    /// May `name` speak in `room`? The room as shown, or why not (`ERR
    /// 403`'s text): not a member, banned (`+b`), or moderated (`+m`)
    /// and neither an operator nor voiced.
    pub fn may_speak(&self, name: &str, room: &str) -> Result<Rc<str>, String> {
        let Some(r) = self.room(room) else {
            return Err(format!("not in {room}"));
        };
        if !r.members.contains_key(name) {
            return Err(format!("not in {}", r.name));
        }
        let s = &r.settings;
        if s.moderated && !s.is_op(name) && !s.is_voiced(name) {
            return Err(format!(
                "{} is moderated (+m): only its operators and voiced members speak",
                r.name
            ));
        }
        if !r.banned.is_empty() && r.banned.contains(name) && !s.is_op(name) {
            return Err(format!("you are banned from {} (+b)", r.name));
        }
        Ok(Rc::clone(&r.name))
    }

    /// Replaces `room`'s settings (nothing if it does not exist): its
    /// operators kept to its members, as shown there, and the
    /// longest-standing member one if none is.
    pub fn set_settings(&mut self, room: &str, mut settings: Settings) {
        let Some(r) = super::folded(room, |f| self.rooms.get_mut(f)) else {
            return;
        };
        settings.ops = members_of(r, &settings.ops);
        settings.voiced = members_of(r, &settings.voiced);
        Self::keep_an_operator(r, &mut settings);
        self.live = Self::put_settings(r, settings, self.live);
    }

    /// Is `name` voiced in `room`?
    pub fn is_voiced(&self, name: &str, room: &str) -> bool {
        self.settings(room).is_some_and(|s| s.is_voiced(name))
    }

    /// A room with members and no operator gets one: its longest-standing
    /// member, the server's doing now (the hub stamps the time).
    pub(super) fn keep_an_operator(r: &Room, settings: &mut Settings) {
        if !settings.ops.is_empty() {
            return;
        }
        if let Some((eldest, _)) = r.members.iter().min_by_key(|(_, &n)| n) {
            settings.ops.push(Rc::clone(eldest));
            (settings.by, settings.time) = ("*".into(), String::new());
        }
    }

    /// Sets `r`'s settings, returning `live` moved by what their record
    /// takes now.
    pub(super) fn put_settings(r: &mut Room, settings: Settings, live: u64) -> u64 {
        // Who is banned, for the masks that came or went only.
        let gone = r.settings.bans.iter().any(|b| !settings.bans.contains(b));
        if gone {
            r.banned.retain(|name, _| settings.is_banned(name));
        }
        let added: Vec<&String> = settings
            .bans
            .iter()
            .filter(|b| !r.settings.bans.contains(b))
            .collect();
        if !added.is_empty() {
            for name in r.members.keys() {
                if !r.banned.contains(name) && added.iter().any(|m| banned_by(m, name)) {
                    r.banned.add(Rc::clone(name));
                }
            }
        }
        let bytes = settings_record_bytes(&r.name, &settings.encode());
        r.settings = settings;
        let live = live.saturating_sub(r.settings_live) + bytes;
        r.settings_live = bytes;
        live
    }

    /// A room of `name`'s where a ban silences it (an operator is never).
    pub fn banned_in(&self, name: &str) -> Option<Rc<str>> {
        self.memberships
            .get(name)
            .into_iter()
            .flatten()
            .find_map(|f| {
                let r = self.rooms.get(f)?;
                let silenced = r.banned.contains(name) && !r.settings.is_op(name);
                silenced.then(|| Rc::clone(&r.name))
            })
    }

    /// `room`'s members (online or not).
    pub fn member_count(&self, room: &str) -> usize {
        self.room(room).map_or(0, |r| r.members.len())
    }
}
