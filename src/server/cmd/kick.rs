//! `KICK <room> <name> [<text>]`: an operator puts a member out of a room.
//! Every member online, the kicked included, is told `KICK <room> <name>
//! <by> <time> [<text>]`; the membership ends as a `PART` ends it.

use crate::protocol::{ErrorCode, Event, Text};
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn kick(
        &mut self,
        key: usize,
        me: &str,
        room: &str,
        name: &str,
        text: Option<Text<'_>>,
    ) {
        let Some(shown) = self.rooms.shown(room).cloned() else {
            return self.reply_err(key, ErrorCode::Forbidden, &format!("no such room {room}"));
        };
        if !self.rooms.is_member(me, room) {
            return self.reply_err(key, ErrorCode::Forbidden, &format!("not in {shown}"));
        }
        if !self.rooms.is_operator(me, room) {
            let why = format!("you are not an operator of {shown}");
            return self.reply_err(key, ErrorCode::Forbidden, &why);
        }
        let Some(kicked) = self.rooms.member_as(room, name) else {
            return self.reply_err(
                key,
                ErrorCode::NoSuchUser,
                &format!("{name} is not in {shown}"),
            );
        };
        let text = text.map(|t| t.escaped());
        if self.cluster.is_some() {
            return self.kick_in_cluster(key, me, &shown, &kicked, text);
        }
        let time = self.clock.stamp();
        let members = self.rooms.online_keys(room).to_vec();
        let event = Event::Kick {
            room: &shown,
            name: &kicked,
            by: me,
            time: time.as_str(),
            text,
        };
        self.send_to_keys(key, &members, &event);
        let here = self.online.get(&kicked).copied();
        self.leave_room(Some(key), &kicked, &shown, here);
    }

    /// `name` (its session `here`, if online here) is out of `room`: its
    /// membership journaled, and any operator the room gained told.
    pub(in crate::server) fn leave_room(
        &mut self,
        key: Option<usize>,
        name: &str,
        room: &str,
        here: Option<usize>,
    ) {
        let mut old = self.rooms.settings(room).cloned().unwrap_or_default();
        // A leaver's operator status and voice go with it, untold.
        old.ops.retain(|o| !o.eq_ignore_ascii_case(name));
        old.voiced.retain(|v| !v.eq_ignore_ascii_case(name));
        self.rooms.part(name, room, here);
        if self.cluster.is_none() {
            self.room_journal_part(key, name, room);
        }
        self.settings_moved(key, room, &old);
    }
}
