//! The hub's side of rooms: a room's frames fan out to its members online
//! from one shared encoding, after the broadcasts accepted before them;
//! what was said while a member was away is queued at their login.

use super::queues::{Limit, Outgoing};
use super::Hub;
use crate::protocol::Event;
use crate::server::journal::Record;
use crate::server::rooms::Forgot;
use std::collections::HashSet;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// The members of `room` online, here or on other nodes, in byte order.
    pub(in crate::server) fn online_members(&self, room: &str) -> Vec<Rc<str>> {
        let mut names: Vec<Rc<str>> = self
            .rooms
            .members(room)
            .filter(|n| self.online.contains_key(n) || self.online_elsewhere(n))
            .cloned()
            .collect();
        names.sort_unstable();
        names
    }

    /// The members of `room` online, operators marked `@` and voiced
    /// members `+` (as IRC's `NAMES` marks them: the highest only, or for
    /// `all` both, `@+`), in byte order of their names.
    pub(in crate::server) fn marked_members(&self, room: &str, all: bool) -> Vec<String> {
        self.online_members(room)
            .iter()
            .map(|n| {
                let op = self.rooms.is_operator(n, room);
                let voiced = (all || !op) && self.rooms.is_voiced(n, room);
                format!(
                    "{}{}{n}",
                    if op { "@" } else { "" },
                    if voiced { "+" } else { "" }
                )
            })
            .collect()
    }

    /// Does session `key` want a member's every prefix (`multi-prefix`)?
    pub(in crate::server) fn all_prefixes(&self, key: usize) -> bool {
        self.queues
            .sessions
            .get(key)
            .is_some_and(|s| s.out.manners().all_prefixes)
    }

    /// `name` (session `key`) has logged in: readers who see presence per
    /// room (IRC's channels) see it join each room they share with it;
    /// others see only the `JOINED`. Charged one unit per session told.
    pub(in crate::server) fn announce_in_rooms(&mut self, key: usize, name: &str) {
        let told = self.tell_rooms_of(Some(key), name);
        self.charge(key, told);
    }

    /// Logins on other nodes — the `JOINED` frames of a broadcast from
    /// the bus — as [`Hub::announce_in_rooms`] tells local ones, after
    /// the broadcast; returns the sessions told, as work the bus did.
    pub(in crate::server) fn announce_remote_logins(&mut self, frames: &[u8]) -> u64 {
        if !frames.starts_with(b"JOINED ") && memchr::memmem::find(frames, b"\nJOINED ").is_none() {
            return 0;
        }
        let mut told = 0;
        let mut renamed_to: &[u8] = &[];
        for line in frames.split(|&b| b == b'\n') {
            let Some(rest) = line.strip_prefix(b"JOINED ") else {
                renamed_to = renamed_to_of(line);
                continue;
            };
            let name = rest.split(|&b| b == b' ').next().unwrap_or_default();
            // A rename (its LEFT just before): the rooms moved, no JOIN.
            let renamed = name == std::mem::take(&mut renamed_to);
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if renamed || !self.rooms.has_rooms(name) {
                continue;
            }
            if told == 0 {
                // After the JOINED itself, in the everyone channel.
                self.seal();
            }
            told += self.tell_rooms_of(None, name);
        }
        told
    }

    /// Tells the per-room readers of `name`'s rooms that it joined each,
    /// but not session `except`; returns how many were told.
    fn tell_rooms_of(&mut self, except: Option<usize>, name: &str) -> u64 {
        let time = self.clock.stamp();
        let mut told = 0;
        for room in self.rooms.rooms_of(name) {
            let join = Event::Join {
                name,
                room: &room,
                time: time.as_str(),
            };
            for &to in self.rooms.online_keys(&room) {
                if Some(to) != except && self.queues.writes_for_each_reader(to) {
                    self.queues.push(to, Outgoing::Event(&join), Limit::Within);
                    told += 1;
                }
            }
        }
        told
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
    /// Starts `name`'s catch-up at login: returns the first window of what
    /// its rooms said since its previous session ended, each room's after
    /// a `JOIN <name> <room> <time>`, leaving out what `held` already has (a
    /// message both held for it and said in its rooms) — and, if that was
    /// all, the number it goes up to. The rest comes a window at a time,
    /// each once the `PING` after the one before is answered. A room's
    /// live messages reach the session only once its catch-up is written
    /// (until then they are in the room's history, so in its catch-up).
    pub(in crate::server) fn start_catch_up(
        &mut self,
        key: usize,
        name: &str,
        held: &[Rc<[u8]>],
    ) -> (Vec<Rc<[u8]>>, Option<u64>) {
        let rooms = self.rooms.rooms_of(name);
        if rooms.is_empty() {
            return (Vec::new(), None);
        }
        let catch_up = CatchUp {
            rooms: rooms.into(),
            after: self.rooms.read_up_to(name),
            held: held.iter().cloned().collect(),
            sent: HashSet::new(),
            resume: None,
        };
        self.queues
            .with_session(key, |s| s.mail.catch_up = Some(catch_up));
        self.catch_up_window(key)
    }

    /// The next window of a session's catch-up, and the number it goes up
    /// to if it is the last.
    fn catch_up_window(&mut self, key: usize) -> (Vec<Rc<[u8]>>, Option<u64>) {
        // What is pending for a room's members is in its history: a
        // member caught up now must not get it live as well.
        self.end_room_batch();
        let Some(mut catch_up) = self
            .queues
            .with_session(key, |s| s.mail.catch_up.take())
            .flatten()
        else {
            return (Vec::new(), None);
        };
        let Some(name) = self
            .queues
            .sessions
            .get(key)
            .and_then(|s| s.user.name.clone())
        else {
            return (Vec::new(), None);
        };
        let time = self.clock.stamp();
        let (mut frames, mut bytes) = (Vec::new(), 0);
        let window = (self.limits.max_queue / 8).clamp(1 << 10, CATCH_UP_WINDOW);
        while bytes < window {
            let Some(room) = catch_up.rooms.front().cloned() else {
                break;
            };
            // Left since the login.
            if !self.rooms.is_member(&name, &room) {
                catch_up.rooms.pop_front();
                catch_up.resume = None;
                continue;
            }
            if catch_up.resume.is_none() {
                let mut join = Vec::new();
                Event::Join {
                    name: &name,
                    room: &room,
                    time: time.as_str(),
                }
                .encode(&mut join);
                if let Some(topic) = self.topic_of(&room) {
                    topic.encode(&mut join);
                }
                if self.queues.writes_for_each_reader(key) {
                    // An IRC client lists a channel's members from the
                    // names that follow its JOIN: in one chunk with it, so
                    // its encoding knows whose they are.
                    let online = self.marked_members(&room, self.all_prefixes(key));
                    let names: Vec<&str> = online.iter().map(String::as_str).collect();
                    Event::RoomUsers {
                        room: &room,
                        names: &names,
                    }
                    .encode(&mut join);
                }
                let join: Rc<[u8]> = Rc::from(join);
                bytes += join.len();
                frames.push(join);
            }
            // A room's history may be larger than a window: the window ends
            // inside it, and the next one goes on from there.
            let from = catch_up.resume.unwrap_or(0).max(catch_up.after);
            let mut full = None;
            for said in self.rooms.said_since(&room, from) {
                // Its own messages never came to it live: not owed; nor is
                // what its held mail or an earlier room already had.
                let owed = !said_by(&said.frame, &name)
                    && (catch_up.held.is_empty() || !catch_up.held.contains(&said.frame))
                    && catch_up.sent.insert(said.seq);
                if owed {
                    bytes += said.frame.len();
                    frames.push(Rc::clone(&said.frame));
                }
                if bytes >= window {
                    full = Some(said.seq);
                    break;
                }
            }
            // Ended on the room's last message: the room is done.
            let more = full.is_some_and(|seq| self.rooms.said_since(&room, seq).next().is_some());
            catch_up.resume = full.filter(|_| more);
            if more {
                break;
            }
            catch_up.rooms.pop_front();
            self.rooms.online_in(&room, key);
        }
        self.charge(key, frames.len() as u64);
        if catch_up.rooms.is_empty() {
            return (frames, Some(self.rooms.last_said()));
        }
        self.queues
            .with_session(key, |s| s.mail.catch_up = Some(catch_up));
        (frames, None)
    }

    /// The session answered the `PING` after a window: the next one, if
    /// its catch-up is not over and nothing else of it is unanswered.
    pub(in crate::server) fn next_catch_up_window(&mut self, key: usize) {
        let waiting = self
            .queues
            .sessions
            .get(key)
            .is_some_and(|s| s.mail.catch_up.is_some() && !s.mail.has_parcels());
        if !waiting {
            return;
        }
        let (frames, up_to) = self.catch_up_window(key);
        if !frames.is_empty() || up_to.is_some() {
            use super::mail::Contents;
            self.write_held(key, frames.iter(), Contents::Nothing, up_to);
        }
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
        // What its rooms said before it left is its to get: it is marked
        // read below.
        self.end_room_batch();
        self.rooms.offline(name, key);
        if !pending {
            self.mark_read(name, self.rooms.last_said());
        }
    }

    fn mark_read(&mut self, name: &Rc<str>, seq: u64) {
        if self.rooms.has_rooms(name) && self.rooms.read_up_to(name) != seq {
            self.rooms.set_read(name, seq);
            match &self.cluster {
                // Every node's copy learns it from the rooms bucket.
                Some(c) => {
                    c.port.send(crate::server::cluster::ToCluster::RoomRead {
                        name: name.to_string(),
                        seq,
                    });
                }
                None => {
                    self.journal.append(&Record::ReadUpTo { name, seq });
                }
            }
        }
    }

    /// Journals `name`'s joining `room`; its later replies wait for it.
    pub(in crate::server) fn room_journal_join(&mut self, key: usize, name: &str, room: &str) {
        self.store.pin(name);
        let seq = self.journal.append(&Record::RoomJoined { name, room });
        self.gate(key, seq);
    }

    pub(in crate::server) fn room_journal_part(
        &mut self,
        key: Option<usize>,
        name: &str,
        room: &str,
    ) {
        let seq = self.journal.append(&Record::RoomParted { name, room });
        if let Some(key) = key {
            self.gate(key, seq);
        }
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

/// About the most bytes of catch-up written at once — an eighth of
/// `--max-queue`, at most this — a window holding at least one room,
/// whatever its size.
pub(in crate::server) const CATCH_UP_WINDOW: usize = 1 << 20;

/// A session's catch-up still to be written.
#[derive(Debug)]
pub(in crate::server) struct CatchUp {
    /// Its rooms not yet caught up, in the order joined.
    rooms: std::collections::VecDeque<Rc<str>>,
    /// Its read mark at login: what is numbered past it is sent.
    after: u64,
    /// Its held mail, sent just before: not sent again.
    held: HashSet<Rc<[u8]>>,
    /// The numbers of what was sent (a message said in two rooms goes
    /// once).
    sent: HashSet<u64>,
    /// The first room's catch-up is under way: the number sent last (its
    /// `JOIN` went out).
    resume: Option<u64>,
}

/// Is `frame` (`MSG <from> ...`) a message `name` sent?
fn said_by(frame: &[u8], name: &str) -> bool {
    crate::protocol::tags::untagged(frame)
        .strip_prefix(b"MSG ")
        .and_then(|rest| rest.strip_prefix(name.as_bytes()))
        .is_some_and(|rest| rest.first() == Some(&b' '))
}

/// `event`'s canonical frame, to share.
pub(in crate::server) fn encoded(event: &Event<'_>) -> Rc<[u8]> {
    let mut frame = Vec::with_capacity(event.encoded_len());
    event.encode(&mut frame);
    Rc::from(frame)
}

/// The new name a `LEFT <old> <time> renamed to <new>` line names (empty
/// for any other line: a leaver's own text never starts so, see `QUIT`).
fn renamed_to_of(line: &[u8]) -> &[u8] {
    let mut fields = line.splitn(4, |&b| b == b' ');
    let (Some(b"LEFT"), Some(_), Some(_), Some(text)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return &[];
    };
    match text.strip_prefix(b"renamed to ") {
        Some(new) if !new.contains(&b' ') => new,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::renamed_to_of;

    #[test]
    fn only_a_renames_left_line_names_a_new_name() {
        let t = "2026-12-07T10:00:00.000Z";
        let line = format!("LEFT amy {t} renamed to Ann");
        assert_eq!(renamed_to_of(line.as_bytes()), b"Ann");
        for other in [
            format!("LEFT amy {t} bye renamed to Ann"),
            format!("LEFT amy {t} renamed to Ann and Bob"),
            format!("LEFT amy {t}"),
            format!("JOINED Ann {t}"),
        ] {
            assert_eq!(renamed_to_of(other.as_bytes()), b"", "{other}");
        }
    }
}
