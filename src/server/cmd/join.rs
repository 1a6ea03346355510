//! `JOIN <room>`: become a member, making the room if need be.
//!
//! Every member online is told `JOIN <name> <room> <time>`, the joiner
//! included (that is its confirmation), and the joiner then gets what the
//! room remembers, oldest first, before anything newer. Joining a room one
//! is in answers again, to the joiner alone, and repeats nothing. A join
//! past `--max-rooms` or `--max-rooms-per-user` is `ERR 507`, changing
//! nothing. With IRC on, the everyone channel's name (`--everyone`) is
//! not a room: `ERR 400`.

use crate::protocol::{ErrorCode, Event};
use crate::server::hub::Hub;
use crate::server::rooms::Joined;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn join(&mut self, key: usize, me: &Rc<str>, room: &str, room_key: Option<&str>) {
        let everyone = self.limits.irc.as_ref().map(|irc| &irc.everyone);
        if everyone.is_some_and(|e| e.eq_ignore_ascii_case(room)) {
            // IRC's channel of everyone online: a room of that name would
            // be out of IRC users' reach and mixed into it.
            let text = format!(
                "{room} is everyone online (IRC's channel for SAY), not a room: pick another name"
            );
            return self.reply_err(key, ErrorCode::BadRequest, &text);
        }
        if self.cluster.is_some() {
            return self.join_in_cluster(key, me, room, room_key);
        }
        let time = self.clock.stamp();
        // What the room's members were said before the join is not the
        // joiner's to get live.
        self.end_room_batch();
        let old = self.rooms.settings(room).cloned();
        let joined = match self.rooms.may_join(me, room, room_key) {
            Err(why) => Err(why),
            Ok(Some(shown)) => Ok(Joined::Already(shown)),
            Ok(None) => Ok(self.rooms.admit(me, room, Some(key))),
        };
        match joined {
            Err(why) => {
                let text = format!("{why}: not joined {room}");
                self.reply_err(key, why.code(), &text);
            }
            Ok(Joined::Already(shown)) => {
                self.seal_for(key);
                let again = Event::Join {
                    name: me,
                    room: &shown,
                    time: time.as_str(),
                };
                self.reply(key, &again);
            }
            Ok(Joined::New { room: shown, .. }) => {
                self.room_journal_join(key, me, &shown);
                // Its creator's operator status, an invitation used up:
                // kept, not told (the JOIN and the names after it say it).
                if let Some(new) = self.rooms.settings(&shown).cloned() {
                    if old.as_ref() != Some(&new) {
                        self.journal_settings(Some(key), &shown, &new);
                    }
                }
                let members = self.rooms.online_keys(&shown).to_vec();
                let joined = Event::Join {
                    name: me,
                    room: &shown,
                    time: time.as_str(),
                };
                self.send_to_keys(key, &members, &joined);
                self.send_topic(key, &shown);
                self.send_history(key, &shown);
            }
        }
    }
}
