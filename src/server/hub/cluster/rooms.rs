//! Rooms on a cluster node: the node keeps a copy of every room (who is
//! in it, what it said, who has read what) in the same
//! [`Rooms`](crate::server::rooms::Rooms) a single server keeps, made from
//! the rooms bucket and stream that every node follows
//! ([`cluster::rooms`](crate::server::cluster::rooms)).
//!
//! A change a user asks for here is written to JetStream first; it takes
//! effect on every node, this one included, when it comes back from there
//! — so every node applies everyone's changes in the same order, a room's
//! messages in the stream's. The user's input waits meanwhile (its next
//! line must find it a member, its next message come after), and a
//! JetStream that does not answer is `ERR 503`, with nothing done.

use super::super::{Hub, WaitFor};
use crate::protocol::{ErrorCode, Event};
use crate::server::cluster::rooms::Membership;
use crate::server::cluster::ToCluster;
use bytes::Bytes;
use log::warn;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How long a change may take to come back once JetStream has stored it
/// before its writer's input goes on regardless (a watch being restarted
/// after a NATS server died).
const COME_BACK: Duration = Duration::from_secs(10);

/// The loop's side of the rooms' copy.
#[derive(Debug, Default)]
pub(in crate::server::hub) struct RoomsLink {
    /// The bucket revision and stream sequence applied last.
    pub(super) applied_rev: u64,
    pub(super) applied_seq: u64,
    /// Writes JetStream has not answered yet, by serial of their wait.
    writing: HashMap<u64, Named>,
    /// Stored, waiting to come back.
    returning: Returns,
    /// While the watch is replayed: memberships (name and room, folded) not
    /// seen again yet.
    pub(super) unseen: Option<HashSet<(String, String)>>,
}

/// A write: a message (answered with a stream sequence) or a membership
/// (a bucket revision); a message's names besides its rooms get its frame
/// once it is stored.
#[derive(Debug, Default)]
pub(super) struct Named {
    message: bool,
    names: Vec<String>,
    frame: Option<Rc<[u8]>>,
    /// A rename's moves: the old name, no longer moving once back.
    moving: Option<Rc<str>>,
}

impl Named {
    /// A rename's moves of `old`'s rooms.
    pub(super) fn moves_of(old: &str) -> Named {
        Named {
            moving: Some(Rc::from(old)),
            ..Named::default()
        }
    }
}

/// Writes stored and waiting to come back, by the stream sequence (a
/// message) or bucket revision (a membership) they were stored at: those
/// a change brings back are found without looking at the others.
#[derive(Debug, Default)]
struct Returns {
    messages: std::collections::BTreeMap<u64, Vec<Returning>>,
    members: std::collections::BTreeMap<u64, Vec<Returning>>,
}

impl Returns {
    fn push(&mut self, r: Returning) {
        let by = if r.message {
            &mut self.messages
        } else {
            &mut self.members
        };
        by.entry(r.at).or_default().push(r);
    }

    /// Those back once the bucket is applied up to `rev` and the stream
    /// up to `seq`.
    fn back(&mut self, rev: u64, seq: u64) -> Vec<Returning> {
        let mut done = Vec::new();
        for (by, upto) in [(&mut self.messages, seq), (&mut self.members, rev)] {
            let later = by.split_off(&upto.saturating_add(1));
            done.extend(std::mem::replace(by, later).into_values().flatten());
        }
        done
    }

    fn is_overdue(&self, now: Instant) -> bool {
        let late = |r: &Returning| now.saturating_duration_since(r.since) >= COME_BACK;
        self.messages
            .values()
            .chain(self.members.values())
            .flatten()
            .any(late)
    }

    /// Those that waited too long.
    fn overdue(&mut self, now: Instant) -> Vec<Returning> {
        let mut done = Vec::new();
        for by in [&mut self.messages, &mut self.members] {
            for waiting in by.values_mut() {
                let (late, on): (Vec<_>, Vec<_>) = std::mem::take(waiting)
                    .into_iter()
                    .partition(|r| now.saturating_duration_since(r.since) >= COME_BACK);
                *waiting = on;
                done.extend(late);
            }
            by.retain(|_, waiting| !waiting.is_empty());
        }
        done
    }
}

#[derive(Debug)]
struct Returning {
    key: usize,
    serial: u64,
    /// A stream sequence (a message), or a bucket revision.
    at: u64,
    message: bool,
    since: Instant,
    named: Named,
}

impl<T: Write> Hub<T> {
    /// `JOIN` on a cluster node: written to the bucket, joined when it
    /// comes back.
    pub(in crate::server) fn join_in_cluster(
        &mut self,
        key: usize,
        me: &Rc<str>,
        room: &str,
        room_key: Option<&str>,
    ) {
        let time = self.clock.stamp();
        match self.rooms.may_join(me, room, room_key) {
            Err(why) => {
                let text = format!("{why}: not joined {room}");
                self.reply_err(key, why.code(), &text);
            }
            Ok(Some(shown)) => {
                self.seal_for(key);
                let again = Event::Join {
                    name: me,
                    room: &shown,
                    time: time.as_str(),
                };
                self.reply(key, &again);
            }
            Ok(None) => {
                let shown = self
                    .rooms
                    .shown(room)
                    .map_or(room.to_owned(), |r| r.to_string());
                let change = Membership {
                    room: shown,
                    name: me.to_string(),
                    joined: true,
                    time: time.as_str().to_owned(),
                    text: None,
                    kicked_by: None,
                    renamed_from: None,
                    renamed_to: None,
                };
                self.write_room(key, Named::default(), |key, serial| ToCluster::RoomMember {
                    key,
                    serial,
                    change,
                });
            }
        }
    }

    /// `PART` on a cluster node, once it is known to be a member.
    pub(in crate::server) fn part_in_cluster(
        &mut self,
        key: usize,
        me: &str,
        shown: &str,
        text: Option<&str>,
    ) {
        let change = Membership {
            room: shown.to_owned(),
            name: me.to_owned(),
            joined: false,
            time: self.clock.stamp().as_str().to_owned(),
            text: text.map(str::to_owned),
            kicked_by: None,
            renamed_from: None,
            renamed_to: None,
        };
        self.write_room(key, Named::default(), |key, serial| ToCluster::RoomMember {
            key,
            serial,
            change,
        });
    }

    /// `PART *` on a cluster node: every leaving written in one job, told
    /// as each comes back; the user's input waits for the last.
    pub(in crate::server) fn part_all_in_cluster(&mut self, key: usize, changes: Vec<Membership>) {
        if changes.is_empty() {
            return;
        }
        self.write_room(key, Named::default(), |key, serial| {
            ToCluster::RoomMembers {
                key,
                serial,
                changes,
            }
        });
    }

    /// `KICK` on a cluster node, by an operator of a member: written to
    /// the bucket as the kicked's leaving, told when it comes back.
    pub(in crate::server) fn kick_in_cluster(
        &mut self,
        key: usize,
        me: &str,
        shown: &str,
        kicked: &str,
        text: Option<&str>,
    ) {
        let change = Membership {
            room: shown.to_owned(),
            name: kicked.to_owned(),
            joined: false,
            time: self.clock.stamp().as_str().to_owned(),
            text: text.map(str::to_owned),
            kicked_by: Some(me.to_owned()),
            renamed_from: None,
            renamed_to: None,
        };
        self.write_room(key, Named::default(), |key, serial| ToCluster::RoomMember {
            key,
            serial,
            change,
        });
    }

    /// A change of a room's settings on a cluster node (`value`, as
    /// [`Settings::encode`](crate::server::rooms::Settings::encode) wrote
    /// it): written to the bucket whole, told on every node when it comes back (two changes
    /// of one room at once on two nodes: the later one written wins).
    pub(in crate::server) fn settings_in_cluster(&mut self, key: usize, room: &str, value: String) {
        let room = room.to_owned();
        self.write_room(key, Named::default(), |key, serial| {
            ToCluster::RoomSettings {
                key,
                serial,
                room,
                value,
            }
        });
    }

    /// A `MSG` said in `rooms` on a cluster node: stored in the rooms
    /// stream, then delivered to the named `names` (the rooms' members get
    /// it from the stream, on every node).
    pub(in crate::server) fn say_in_cluster(
        &mut self,
        key: usize,
        rooms: &[&str],
        names: &[&str],
        frame: &Rc<[u8]>,
    ) {
        let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        let named = Named {
            moving: None,
            message: true,
            names: names.iter().map(|n| n.to_string()).collect(),
            frame: (!names.is_empty()).then(|| Rc::clone(frame)),
        };
        let frame = Bytes::copy_from_slice(frame);
        let after = self.cluster.as_ref().map_or(0, |c| c.rooms.applied_rev);
        self.write_room(key, named, |key, serial| ToCluster::RoomSay {
            key,
            serial,
            rooms,
            frame,
            after,
        });
    }

    /// Hands a write to the helper; the session's input waits for it.
    pub(super) fn write_room(
        &mut self,
        key: usize,
        named: Named,
        job: impl FnOnce(usize, u64) -> ToCluster,
    ) {
        let serial = self.wait(key, WaitFor::Publish);
        if !self.send_or_refuse(key, job(key, serial)) {
            if let Some(stash) = self.end_wait(key, serial) {
                self.go_on(key, &stash);
            }
            return;
        }
        if let Some(c) = &mut self.cluster {
            c.rooms.writing.insert(serial, named);
        }
    }

    /// JetStream answered a write: it waits to come back, or is refused.
    pub(in crate::server::hub) fn room_written(
        &mut self,
        key: usize,
        serial: u64,
        outcome: Result<u64, String>,
    ) {
        let Some(c) = &mut self.cluster else { return };
        let Some(named) = c.rooms.writing.remove(&serial) else {
            return;
        };
        match outcome {
            Err(why) => {
                if let Some(old) = &named.moving {
                    c.moving.remove(old);
                }
                if let Some(stash) = self.end_wait(key, serial) {
                    self.reply_err(key, ErrorCode::Unavailable, &why);
                    self.go_on(key, &stash);
                }
            }
            Ok(at) => {
                c.rooms.returning.push(Returning {
                    key,
                    serial,
                    at,
                    message: named.message,
                    since: self.now,
                    named,
                });
                self.rooms_returned(false);
            }
        }
    }

    /// Lets go the writers whose changes have come back (or, `overdue`,
    /// that waited too long for it).
    pub(super) fn rooms_returned(&mut self, overdue: bool) {
        let Some(c) = &mut self.cluster else { return };
        let mut done = c
            .rooms
            .returning
            .back(c.rooms.applied_rev, c.rooms.applied_seq);
        if overdue {
            done.extend(c.rooms.returning.overdue(self.now));
        }
        for r in done {
            let Returning {
                key, serial, named, ..
            } = r;
            if let (Some(old), Some(c)) = (&named.moving, &mut self.cluster) {
                c.moving.remove(old);
            }
            if let Some(stash) = self.end_wait(key, serial) {
                if let Some(frame) = &named.frame {
                    self.send_named(key, &named.names, frame);
                }
                self.go_on(key, &stash);
            }
        }
    }

    /// Sends `frame` (a `MSG` this node made) to the users it names, as
    /// any private message in a cluster.
    fn send_named(&mut self, key: usize, names: &[String], frame: &[u8]) {
        let line = std::str::from_utf8(frame).unwrap_or_default();
        let mut parts = line.trim_end_matches('\n').splitn(5, ' ');
        let (Some("MSG"), Some(from), Some(to), Some(time), Some(text)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return;
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let msg = Event::Msg {
            from,
            to,
            time,
            text,
        };
        self.send_private(key, &names, &msg);
    }

    /// The held mail fetched at login is written (or cannot be fetched
    /// now): the rooms' catch-up comes next, once per login.
    pub(in crate::server::hub) fn rooms_catch_up_due(&mut self, key: usize, held: &[Rc<[u8]>]) {
        let (frames, up_to) = self.rooms_catch_up_start(key, held);
        if !frames.is_empty() || up_to.is_some() {
            use crate::server::hub::mail::Contents;
            self.write_held(key, frames.iter(), Contents::Nothing, up_to);
        }
    }

    /// Starts the rooms' catch-up of a login, if it is due (once per
    /// login), leaving out what `held` (the last window of held mail) had:
    /// its first window, and the number it goes up to if that is all.
    pub(in crate::server::hub) fn rooms_catch_up_start(
        &mut self,
        key: usize,
        held: &[Rc<[u8]>],
    ) -> (Vec<Rc<[u8]>>, Option<u64>) {
        let due = self
            .queues
            .with_session(key, |s| std::mem::take(&mut s.mail.rooms_due))
            .unwrap_or(false);
        let name = self
            .queues
            .sessions
            .get(key)
            .and_then(|s| s.user.name.clone());
        match (due, name) {
            (true, Some(name)) => self.start_catch_up(key, &name, held),
            _ => (Vec::new(), None),
        }
    }

    /// The cluster's tick: writers whose changes never came back go on.
    pub(in crate::server::hub) fn rooms_tick(&mut self) {
        let late = self
            .cluster
            .as_ref()
            .is_some_and(|c| c.rooms.returning.is_overdue(self.now));
        if late {
            warn!("a room change stored in JetStream has not come back within {COME_BACK:?}; its writer goes on");
            self.rooms_returned(true);
        }
    }
}
