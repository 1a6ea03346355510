//! The hub's side of rooms: a room's frames fan out to its members online
//! from one shared encoding, after the broadcasts accepted before them;
//! what was said while a member was away is queued at their login.

use super::queues::{Limit, Outgoing};
use super::Hub;
use crate::protocol::{ErrorCode, Event};
use crate::server::journal::Record;
use crate::server::rooms::Forgot;
use std::collections::HashSet;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// Rooms are a single node's for now: a node of a cluster says so.
    pub(in crate::server) fn rooms_unavailable(&mut self, key: usize) -> bool {
        if self.cluster.is_none() {
            return false;
        }
        let text = "rooms are not available in a cluster yet";
        self.reply_err(key, ErrorCode::Unavailable, text);
        true
    }

    /// Encodes `event` once and queues it to the sessions `keys`, after
    /// everything accepted before it; charges `key` one unit per session.
    pub(in crate::server) fn send_to_keys(
        &mut self,
        key: usize,
        keys: &[usize],
        event: &Event<'_>,
    ) {
        if self.batch.has_frames() {
            self.seal_charged(key);
        }
        self.charge(key, keys.len() as u64);
        let frame = encoded(event);
        for &to in keys {
            if self
                .queues
                .push(to, Outgoing::Shared(&frame), Limit::Within)
            {
                self.counters.deliveries += 1;
            }
        }
    }

    /// Queues what `room` remembers to `key`, oldest first.
    pub(in crate::server) fn send_history(&mut self, key: usize, room: &str) {
        let frames: Vec<Rc<[u8]>> = self
            .rooms
            .history(room)
            .map(|s| Rc::clone(&s.frame))
            .collect();
        self.charge(key, frames.len() as u64);
        for frame in &frames {
            self.queues
                .push(key, Outgoing::Shared(frame), Limit::Within);
        }
    }
}

impl<T: Write> Hub<T> {
    /// What `name`'s rooms said since its previous session ended, each
    /// room's after a `JOIN <name> <room> <time>`, leaving out what `held`
    /// already has (a message both held for it and said in its rooms) and
    /// what an earlier room's part already had; and the number it goes up
    /// to. Nothing for a name in no room.
    pub(in crate::server) fn catch_up(
        &mut self,
        key: usize,
        name: &str,
        held: &[Rc<[u8]>],
    ) -> (Vec<Rc<[u8]>>, Option<u64>) {
        let rooms = self.rooms.rooms_of(name);
        if rooms.is_empty() {
            return (Vec::new(), None);
        }
        let after = self.rooms.read_up_to(name);
        let held: HashSet<&[u8]> = held.iter().map(|f| &**f).collect();
        let mut sent = HashSet::new();
        let time = self.clock.stamp();
        let mut frames = Vec::new();
        for room in &rooms {
            frames.push(encoded(&Event::Join {
                name,
                room,
                time: time.as_str(),
            }));
            for said in self.rooms.said_since(room, after) {
                if !held.contains(&*said.frame) && sent.insert(said.seq) {
                    frames.push(Rc::clone(&said.frame));
                }
            }
        }
        self.charge(key, frames.len() as u64);
        (frames, Some(self.rooms.last_said()))
    }

    /// The session `key` acknowledged its rooms' catch-up up to `seq`.
    pub(in crate::server) fn caught_up(&mut self, key: usize, seq: u64) {
        let name = self
            .queues
            .sessions
            .get(key)
            .and_then(|s| s.user.name.clone());
        if let Some(name) = name {
            self.mark_read(&name, seq);
        }
    }

    /// `name`'s session `key` ended: it gets its rooms' messages no more,
    /// and — unless a catch-up was left unacknowledged, which then comes
    /// again — it has been sent all they said.
    pub(in crate::server) fn rooms_session_ended(
        &mut self,
        key: usize,
        name: &Rc<str>,
        pending: bool,
    ) {
        self.rooms.offline(name, key);
        if !pending {
            self.mark_read(name, self.rooms.last_said());
        }
    }

    fn mark_read(&mut self, name: &Rc<str>, seq: u64) {
        if self.rooms.has_rooms(name) && self.rooms.read_up_to(name) != seq {
            self.rooms.set_read(name, seq);
            self.journal.append(&Record::ReadUpTo { name, seq });
        }
    }

    /// Journals `name`'s joining `room`; its later replies wait for it.
    pub(in crate::server) fn room_journal_join(&mut self, key: usize, name: &str, room: &str) {
        self.store.pin(name);
        let seq = self.journal.append(&Record::RoomJoined { name, room });
        self.gate(key, seq);
    }

    pub(in crate::server) fn room_journal_part(&mut self, key: usize, name: &str, room: &str) {
        let seq = self.journal.append(&Record::RoomParted { name, room });
        self.gate(key, seq);
    }

    /// Remembers `frame`, said in `rooms`, and journals it; the sender's
    /// later replies wait for the record.
    pub(in crate::server) fn remember(&mut self, key: usize, rooms: &[&str], frame: &Rc<[u8]>) {
        let (seq, forgot) = self.rooms.said(rooms, frame);
        let at = self.journal.append(&Record::Said {
            seq,
            rooms: rooms.to_vec(),
            frame,
        });
        for Forgot { room, count } in forgot {
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            self.journal
                .append(&Record::HistoryTrimmed { room: &room, count });
        }
        self.gate(key, at);
    }
}

/// `event`'s canonical frame, to share.
pub(in crate::server) fn encoded(event: &Event<'_>) -> Rc<[u8]> {
    let mut frame = Vec::with_capacity(event.encoded_len());
    event.encode(&mut frame);
    Rc::from(frame)
}
