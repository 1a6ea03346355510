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
//! On a cluster node the new name is claimed in the names bucket first,
//! and the rooms move there ([`rename`](crate::server::hub::cluster)).

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
        if self.cluster.is_some() {
            return self.rename_in_cluster(key, me, new);
        }
        let new = self.switch_name(key, me, new);
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
        self.tell_renamed(key, me, &new);
    }

    /// Session `key`, `me`, is called `new` from now on (its rooms are
    /// the caller's to move); returns the new name as the server keeps it.
    pub(in crate::server) fn switch_name(&mut self, key: usize, me: &str, new: &str) -> Rc<str> {
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
        info!("{me} is {new} now");
        self.seen(&new, true)
    }

    /// Tells everyone online that `me` is `new` now, and the renamer.
    pub(in crate::server) fn tell_renamed(&mut self, key: usize, me: &str, new: &str) {
        let time = self.clock.stamp();
        // LEFT and JOINED as one frame: an IRC reader's encoding sees them
        // together and writes one NICK.
        let renamed = Event::NameChanged {
            old: me,
            new,
            time: time.as_str(),
        };
        self.broadcast(Some(key), &renamed);
        self.seal_for(key);
        self.reply(key, &Event::Renamed { name: new });
    }

    /// Why `me` may not be called `new`, if it may not.
    fn why_not_rename(&self, key: usize, me: &str, new: &str) -> Option<(ErrorCode, String)> {
        if self.auth.as_ref().is_some_and(|a| a.required()) {
            let why = "names are accounts on this server: log in as the other one";
            return Some((ErrorCode::Forbidden, why.into()));
        }
        if same_name(me, new) {
            return Some((ErrorCode::NameTaken, format!("{new} is your name")));
        }
        if let Some(room) = self.rooms.banned_in(me) {
            let why = format!("you are banned in {room} (+b): no new name while banned");
            return Some((ErrorCode::Forbidden, why));
        }
        if self.online.contains_key(new) || self.online_elsewhere(new) {
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
