//! What the rooms bucket and stream bring, applied to this node's copy of
//! the rooms and told to the members online here, as a single server
//! tells them its own (see [`rooms`](super::rooms)).

use super::super::Hub;
use crate::protocol::names::fold_text;
use crate::protocol::{Command, Event};
use crate::server::cluster::rooms::{folded, Membership};
use crate::server::cluster::ToCluster;
use crate::server::rooms::Joined;
use bytes::Bytes;
use std::collections::HashSet;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// A membership changed (anyone's, on any node, this one's included).
    pub(in crate::server::hub) fn room_member_applied(&mut self, change: Membership, rev: u64) {
        let name: Rc<str> = Rc::from(change.name.as_str());
        if let Some(c) = &mut self.cluster {
            c.rooms.applied_rev = c.rooms.applied_rev.max(rev);
            if let Some(unseen) = &mut c.rooms.unseen {
                unseen.remove(&(fold_text(&name), folded(&change.room)));
            }
        }
        let here = self.online.get(&name).copied();
        let member = self.rooms.is_member(&name, &change.room);
        match (&change.renamed_from, &change.renamed_to) {
            // A rename moves the membership, told by the NICK already:
            // the old name's leaving to the new one comes first, then the
            // new one's join (which finds the move made).
            // (A replay, which brings only each key's last entry, has no
            // old membership to move: the new one is its own key's.)
            (_, Some((new, _))) => {
                let new: Rc<str> = Rc::from(new.as_str());
                self.moved_here(&change.room, &name, &new);
            }
            (Some((old, place)), None) if !member && !self.moved_here(&change.room, old, &name) => {
                self.joined_room(&name, &change, here, *place);
            }
            // Seniority is the join's revision: the same on every node.
            (None, None) if change.joined && !member => self.joined_room(&name, &change, here, rev),
            (None, None) if !change.joined && member => {
                let here = here.or_else(|| self.moving_session(&name));
                self.left_room(&name, &change, here);
            }
            _ => {}
        }
        self.rooms_returned(false);
    }

    /// The session here whose old name `name` is, while its rooms move.
    fn moving_session(&self, name: &str) -> Option<usize> {
        let (key, serial) = *self.cluster.as_ref()?.moving.get(name)?;
        let session = self.queues.sessions.get(key)?;
        (session.serial == serial).then_some(key)
    }

    /// `old`'s membership of `room` moves to `new` here, with the sessions
    /// online under each name; false if `old` was not a member.
    fn moved_here(&mut self, room: &str, old: &str, new: &Rc<str>) -> bool {
        let old_key = self.online.get(old).copied();
        let new_key = self.online.get(new).copied();
        self.rooms.rename_in(room, (old, old_key), (new, new_key))
    }

    fn joined_room(
        &mut self,
        name: &Rc<str>,
        change: &Membership,
        here: Option<usize>,
        place: u64,
    ) {
        // What the room's members were said before is not the joiner's to
        // get live: it is in the history it is sent.
        self.end_room_batch();
        let joined = self.rooms.admit_at(name, &change.room, here, Some(place));
        if let Joined::New { room, .. } = joined {
            let members = self.rooms.online_keys(&room).to_vec();
            let joined = Event::Join {
                name,
                room: &room,
                time: &change.time,
            };
            self.tell_keys(&members, &joined);
            if let Some(key) = here {
                self.send_topic(key, &room);
                self.send_history(key, &room);
            }
        }
    }

    fn left_room(&mut self, name: &str, change: &Membership, here: Option<usize>) {
        self.end_room_batch();
        // Shown as the room has it, whatever case the change names it in.
        let name = self
            .rooms
            .member_as(&change.room, name)
            .unwrap_or_else(|| Rc::from(name));
        let name = &*name;
        let members = self.rooms.online_keys(&change.room).to_vec();
        let time = match change.time.as_str() {
            "" => self.clock.stamp().as_str().to_owned(),
            time => time.to_owned(),
        };
        let mut old = self
            .rooms
            .settings(&change.room)
            .cloned()
            .unwrap_or_default();
        old.ops.retain(|o| !o.eq_ignore_ascii_case(name));
        old.voiced.retain(|v| !v.eq_ignore_ascii_case(name));
        if let Some(shown) = self.rooms.part(name, &change.room, here) {
            let told = match &change.kicked_by {
                Some(by) => Event::Kick {
                    room: &shown,
                    name,
                    by,
                    time: &time,
                    text: change.text.as_deref(),
                },
                None => Event::Part {
                    name,
                    room: &shown,
                    time: &time,
                    text: change.text.as_deref(),
                },
            };
            self.tell_keys(&members, &told);
            // An operator the room gained, the leaver's being gone.
            self.settings_moved(None, &shown, &old);
            // The node whose user left last takes the room's history away.
            if here.is_some() && self.rooms.shown(&shown).is_none() {
                if let Some(c) = &self.cluster {
                    c.port.send(ToCluster::RoomGone {
                        folded: folded(&shown),
                        before: c.rooms.applied_seq + 1,
                    });
                }
            }
        }
    }

    /// A room's settings from the bucket: taken if the room exists here
    /// (a room made again after the value was written starts anew), and
    /// what changed told to its members online here.
    pub(in crate::server::hub) fn room_settings_applied(
        &mut self,
        room: &str,
        value: &str,
        rev: u64,
    ) {
        if let Some(c) = &mut self.cluster {
            c.rooms.applied_rev = c.rooms.applied_rev.max(rev);
        }
        let Some(old) = self.rooms.settings(room).cloned() else {
            return self.rooms_returned(false);
        };
        match crate::server::rooms::Settings::parse(value) {
            Some(new) => {
                self.end_room_batch();
                self.rooms.set_settings(room, new);
                self.settings_moved(None, room, &old);
            }
            None => log::warn!("the rooms bucket's settings of {room} are not readable: ignored"),
        }
        self.rooms_returned(false);
    }

    /// A read mark from the bucket: never moved back (a node that has
    /// followed the stream less far may write a lower one later).
    pub(in crate::server::hub) fn room_read_applied(&mut self, name: &str, seq: u64) {
        let name: Rc<str> = Rc::from(name);
        if self.rooms.read_up_to(&name) < seq {
            self.rooms.set_read(&name, seq);
        }
    }

    /// A message from the rooms stream: remembered, and queued to the
    /// members online here — all but its sender and those it names (who
    /// have it as a private message) — from one shared frame. Returns how
    /// many frames it brought.
    pub(in crate::server::hub) fn room_said_applied(
        &mut self,
        seq: u64,
        rooms: &[String],
        frame: &Bytes,
    ) -> u64 {
        let Some(c) = &mut self.cluster else { return 0 };
        // A consumer that was recreated may bring some again.
        if seq <= c.rooms.applied_seq {
            return 0;
        }
        c.rooms.applied_seq = seq;
        let frame: Rc<[u8]> = Rc::from(&frame[..]);
        let said_in: Vec<&str> = rooms.iter().map(String::as_str).collect();
        self.rooms.said_as(&said_in, &frame, seq);
        let (from, named) = sender_and_names(&frame);
        let author = from.and_then(|f| self.online.get(f).copied());
        match (&said_in[..], named.is_empty()) {
            ([room], true) => {
                if let Some(room) = self.rooms.shown(room).cloned() {
                    self.say_in_room_by(author, &room, &frame);
                }
            }
            _ => {
                let skip: HashSet<usize> = named
                    .iter()
                    .filter_map(|n| self.online.get(n).copied())
                    .chain(author)
                    .collect();
                let mut sent = HashSet::new();
                let mut keys = Vec::new();
                for room in &said_in {
                    for &to in self.rooms.online_keys(room) {
                        if !skip.contains(&to) && sent.insert(to) {
                            keys.push(to);
                        }
                    }
                }
                self.end_room_batch();
                self.tell_frame(&keys, &frame);
            }
        }
        self.rooms_returned(false);
        1
    }

    /// The rooms watch restarted: memberships it does not bring again
    /// before it has replayed the bucket are gone.
    pub(in crate::server::hub) fn rooms_reset(&mut self) {
        let all: HashSet<(String, String)> = self
            .rooms
            .all()
            .flat_map(|(room, members)| members.map(|m| (fold_text(m), folded(room))))
            .collect();
        if let Some(c) = &mut self.cluster {
            c.rooms.unseen = Some(all);
        }
    }

    pub(in crate::server::hub) fn rooms_synced(&mut self) {
        let Some(unseen) = self.cluster.as_mut().and_then(|c| c.rooms.unseen.take()) else {
            return;
        };
        for (name, room) in unseen {
            let here = self.online.get(&name).copied();
            let change = Membership {
                room: format!("#{room}"),
                name: name.clone(),
                joined: false,
                time: String::new(),
                text: None,
                kicked_by: None,
                renamed_from: None,
                renamed_to: None,
            };
            if self.rooms.is_member(&name, &change.room) {
                self.left_room(&name, &change, here);
            }
        }
    }
}

/// A `MSG` frame's sender, and the names (not rooms) it is addressed to.
fn sender_and_names(frame: &[u8]) -> (Option<&str>, Vec<&str>) {
    let line = std::str::from_utf8(frame).unwrap_or_default();
    let mut parts = line.splitn(4, ' ');
    let (Some("MSG"), from, to) = (parts.next(), parts.next(), parts.next()) else {
        return (None, Vec::new());
    };
    let named = to
        .map(|to| {
            Command::recipients(to)
                .filter(|t| !t.starts_with('#'))
                .collect()
        })
        .unwrap_or_default();
    (from, named)
}
