//! `ROOMS` → `ROOMS <room> ...`: the rooms one is in, in the order joined;
//! `LIST` → `LIST <room> <members> ...`: every room, the most members
//! first (a unit of work per room);
//! `WHO <room>` → `USERS <room> <name> ...`: a room's members online, in
//! byte order (members only: `ERR 403`).

use crate::protocol::{ErrorCode, Event};
use crate::server::hub::Hub;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn rooms(&mut self, key: usize, me: &str) {
        let rooms = self.rooms.rooms_of(me);
        let rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
        self.seal_for(key);
        self.reply(key, &Event::Rooms(&rooms));
    }

    pub(super) fn list(&mut self, key: usize) {
        let all = self.rooms.listing();
        self.charge(key, all.len() as u64);
        let all: Vec<(&str, usize)> = all.iter().map(|(r, n)| (&**r, *n)).collect();
        self.seal_for(key);
        self.reply(key, &Event::List(&all));
    }

    pub(super) fn who_in(&mut self, key: usize, me: &str, room: &str) {
        let shown = match self.rooms.shown(room) {
            Some(shown) if self.rooms.is_member(me, room) => Rc::clone(shown),
            _ => return self.reply_err(key, ErrorCode::Forbidden, &format!("not in {room}")),
        };
        // Every member is looked at, online or not.
        let count = self.rooms.members(room).count() as u64;
        self.charge(key, count);
        self.seal_for(key);
        let mut online = self.marked_members(room, self.all_prefixes(key));
        if self.queues.writes_for_each_reader(key) {
            online = online.iter().map(|n| self.away_marked(n)).collect();
        }
        let names: Vec<&str> = online.iter().map(String::as_str).collect();
        let reply = Event::RoomUsers {
            room: &shown,
            names: &names,
        };
        self.queues.push(
            key,
            crate::server::hub::Outgoing::Event(&reply),
            crate::server::hub::Limit::Within,
        );
    }
}
