//! `INVITE <name> <room>`: a member asks `name` into a room. An
//! operator's invitation is kept and lets the invited in past `+i`, `+k`
//! and `+l` (until used; a room keeps its latest 50); under `+i` only an
//! operator may invite. Another member's invitation is only told. The
//! invited, if online, and the inviter are told `INVITE <by> <name> <room>
//! <time>`.

use crate::protocol::ErrorCode;
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn invite(&mut self, key: usize, me: &str, name: &str, room: &str) {
        let Some((shown, settings)) = self.existing_room(key, room) else {
            return;
        };
        if !self.rooms.is_member(me, room) {
            return self.reply_err(key, ErrorCode::Forbidden, &format!("not in {shown}"));
        }
        if settings.invite_only && !settings.is_op(me) {
            let why = format!("you are not an operator of {shown} (+i: operators invite)");
            return self.reply_err(key, ErrorCode::Forbidden, &why);
        }
        if self.rooms.is_member(name, room) {
            let why = format!("{name} is already in {shown}");
            return self.reply_err(key, ErrorCode::BadRequest, &why);
        }
        let Some(invited) = self.known_as(name) else {
            return self.reply_err(key, ErrorCode::NoSuchUser, &format!("no such user: {name}"));
        };
        // Not kept (a member's), or kept already (an operator's again):
        // told again all the same.
        if !settings.is_op(me) || settings.is_invited(&invited) {
            // A key or a limit is the operators' to waive: told, not kept
            // (on this node: the invited elsewhere in a cluster is not told).
            let time = self.clock.stamp();
            self.charge(key, 1);
            return self.tell_invite(me, &invited, &shown, time.as_str());
        }
        let mut new = settings.clone();
        new.invited.retain(|i| !i.eq_ignore_ascii_case(name));
        new.invite(invited);
        (new.by, new.time) = (me.to_owned(), self.clock.stamp().as_str().to_owned());
        self.change_settings(key, &shown, settings, new);
    }
}
