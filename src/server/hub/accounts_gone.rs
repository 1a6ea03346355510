//! An account deleted with `evchat-server user del` leaves its rooms. On
//! a server with accounts only an account can log in, so a member that is
//! not one would be a member for ever: whenever the accounts are read —
//! at start, and each time the users file changes — every such name parts
//! from each of its rooms, as by `PART`: the members online are told, and
//! the journal records it, so a restart agrees.

use super::Hub;
use crate::protocol::Event;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;

/// The text of the `PART` the members online see.
const WHY: &str = "account deleted";

impl<T: Write> Hub<T> {
    /// Takes the names that are no accounts out of the rooms, if the
    /// accounts changed since the last look.
    pub fn drop_deleted_members(&mut self) {
        // A cluster's accounts are optional, and it has no rooms yet.
        let Some(auth) = self.auth.as_ref().filter(|a| !a.optional) else {
            return;
        };
        let Ok(users) = auth.users.read().map(|u| Arc::clone(&u)) else {
            return;
        };
        if self
            .accounts_seen
            .as_ref()
            .is_some_and(|seen| Arc::ptr_eq(seen, &users))
        {
            return;
        }
        let gone: Vec<Rc<str>> = self
            .rooms
            .names()
            .filter(|name| users.hash_of(name).is_none())
            .cloned()
            .collect();
        self.accounts_seen = Some(users);
        for name in gone {
            self.leave_every_room(&name);
        }
    }

    fn leave_every_room(&mut self, name: &str) {
        // Its own session, if it is online, is told and charged.
        let key = self.online.get(name).copied();
        let time = self.clock.stamp();
        for room in self.rooms.rooms_of(name) {
            let members = self.rooms.online_keys(&room).to_vec();
            let parted = Event::Part {
                name,
                room: &room,
                time: time.as_str(),
                text: Some(WHY),
            };
            self.send_to_keys(key.unwrap_or(usize::MAX), &members, &parted);
            self.leave_room(None, name, &room, key);
            let seq = self.journal.this_turn();
            // As for any PART: whoever was told, once its next PONG comes,
            // has it on disk.
            for member in members {
                self.gate(member, seq);
            }
        }
        log::info!("{name} is no account any more: out of its rooms");
    }
}
