//! `NICK <name>`: a logged-in user takes another name, on a server without
//! accounts (with accounts, a name is an account: log in as it). The
//! name's rooms, with its place and operator status in each, and its
//! invitations move to the new name; mail held for the old name stays
//! with it (the old name is free: what is sent to it is held for it). Everyone else is
//! told `LEFT <old> <time> renamed to <new>` then `JOINED <new> <time>`
//! (IRC readers see one `NICK`); the renamer is answered `OK NICK <new>`.
//!
//! The new name must be free: not online, in no room, holding no mail
//! (taking it would take what belongs to it). Not while held mail or a
//! catch-up waits for its `PONG` (its acknowledgement names the name).
//! Not on a cluster node yet.

use crate::protocol::{same_name, ErrorCode, Event};
use crate::server::hub::Hub;
use crate::server::journal::Record;
use log::info;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn nick(&mut self, key: usize, me: &Rc<str>, new: &str) {
        if let Some(why) = self.why_not_rename(key, me, new) {
            return self.reply_err(key, why.0, &why.1);
        }
        let new: Rc<str> = Rc::from(new);
        // Told to everyone online, twice (LEFT and JOINED).
        self.charge(key, 1 + 2 * self.online.len() as u64);
        self.online.remove(me);
        self.online.insert(Rc::clone(&new), key);
        self.users_reply = None;
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.user.name = Some(Rc::clone(&new));
            session.dialect.named(&new);
        }
        self.seen(me, false);
        let new = self.seen(&new, true);
        // One record: replayed in place, a room keeps its history and the
        // name its place in each.
        let (rooms, changed) = self.rooms.rename(me, &new);
        let seq = self.journal.append(&Record::Renamed { old: me, new: &new });
        self.gate(key, seq);
        // What it cost: each room moved, each room's settings written anew
        // (a unit per 8 bytes, as a MODE), and every room looked at.
        let settings: usize = changed
            .iter()
            .filter_map(|room| self.rooms.settings(room))
            .map(|s| s.encode().len() / 8)
            .sum();
        self.charge(key, (rooms.len() + settings + self.rooms.len() / 64) as u64);
        info!("{me} is {new} now");
        let time = self.clock.stamp();
        // LEFT and JOINED as one frame: an IRC reader's encoding sees them
        // together and writes one NICK.
        let renamed = Event::NameChanged {
            old: me,
            new: &new,
            time: time.as_str(),
        };
        self.broadcast(Some(key), &renamed);
        self.seal_for(key);
        self.reply(key, &Event::Renamed { name: &new });
    }

    /// Why `me` may not be called `new`, if it may not.
    fn why_not_rename(&self, key: usize, me: &str, new: &str) -> Option<(ErrorCode, String)> {
        if self.auth.as_ref().is_some_and(|a| a.required()) {
            let why = "names are accounts on this server: log in as the other one";
            return Some((ErrorCode::Forbidden, why.into()));
        }
        if self.cluster.is_some() {
            let why = "a rename is not offered on a cluster node yet";
            return Some((ErrorCode::BadRequest, why.into()));
        }
        if same_name(me, new) {
            return Some((ErrorCode::NameTaken, format!("{new} is your name")));
        }
        if let Some(room) = self.rooms.banned_in(me) {
            let why = format!("you are banned in {room} (+b): no new name while banned");
            return Some((ErrorCode::Forbidden, why));
        }
        if self.online.contains_key(new) {
            return Some((ErrorCode::NameTaken, format!("{new} is already online")));
        }
        if self.rooms.has_rooms(new) || self.store.last_letter_of(new).is_some() {
            let why = format!("{new} is taken (it is in rooms or has mail held): pick another");
            return Some((ErrorCode::NameTaken, why));
        }
        let waiting = self
            .queues
            .sessions
            .get(key)
            .is_some_and(|s| s.mail.has_parcels() || s.mail.catching_up());
        if waiting {
            let why = "answer the PING after your held messages first, then rename";
            return Some((ErrorCode::NameTaken, why.into()));
        }
        None
    }
}
