//! `PART <room> [<text>]`: leave a room. Every member online is told
//! `PART <name> <room> <time> [<text>]`, the leaver included; not being a
//! member is `ERR 403`. The last member to leave takes the room away, with
//! what it remembers. `PART * [<text>]` leaves every room one is in, each
//! told as its own `PART` (IRC's `JOIN 0`).

use crate::protocol::{ErrorCode, Event, Text};
use crate::server::cluster::rooms::Membership;
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn part(&mut self, key: usize, me: &str, room: &str, text: Option<Text<'_>>) {
        let Some(shown) = self.rooms.shown(room).cloned() else {
            return self.reply_err(key, ErrorCode::Forbidden, &format!("not in {room}"));
        };
        if !self.rooms.is_member(me, room) {
            return self.reply_err(key, ErrorCode::Forbidden, &format!("not in {shown}"));
        }
        if self.cluster.is_some() {
            let text = text.map(|t| t.escaped());
            return self.part_in_cluster(key, me, &shown, text);
        }
        let members = self.rooms.online_keys(room).to_vec();
        let time = self.clock.stamp();
        let parted = Event::Part {
            name: me,
            room: &shown,
            time: time.as_str(),
            text: text.map(|t| t.escaped()),
        };
        self.send_to_keys(key, &members, &parted);
        self.leave_room(Some(key), me, &shown, Some(key));
    }
}

impl<T: Write> Hub<T> {
    pub(super) fn part_all(&mut self, key: usize, me: &str, text: Option<Text<'_>>) {
        let rooms = self.rooms.rooms_of(me);
        self.charge(key, 1 + rooms.len() as u64);
        let text = text.map(|t| t.escaped());
        if self.cluster.is_some() {
            let time = self.clock.stamp().as_str().to_owned();
            let changes = rooms
                .iter()
                .map(|room| Membership {
                    room: room.to_string(),
                    name: me.to_owned(),
                    joined: false,
                    time: time.clone(),
                    text: text.map(str::to_owned),
                    kicked_by: None,
                    renamed_from: None,
                    renamed_to: None,
                })
                .collect();
            return self.part_all_in_cluster(key, changes);
        }
        let time = self.clock.stamp();
        for room in rooms {
            let members = self.rooms.online_keys(&room).to_vec();
            let parted = Event::Part {
                name: me,
                room: &room,
                time: time.as_str(),
                text,
            };
            self.send_to_keys(key, &members, &parted);
            self.leave_room(Some(key), me, &room, Some(key));
        }
    }
}
