//! `MSG` to targets among which are rooms: the frame reaches the union of
//! the named users and the rooms' members online, each once — the sender
//! only if named — and every room remembers it.
//!
//! All or nothing: a room the sender is not in is `ERR 403`, an unknown
//! name `ERR 404`, and then nobody gets it. `<to-list>` is the targets in
//! the order written, each once, rooms and names compared without case and
//! shown as they are spelt (a room as its creator wrote it, a name as
//! first written). The frame is encoded once, shared by every
//! recipient's queue and every room's history; named users offline have
//! it held as for any private message.

use super::echo::Echo;
use crate::protocol::{fold, same_name, Command, ErrorCode, Event, Text};
use crate::server::hub::{Hub, Limit, Outgoing};
use std::collections::HashSet;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn msg_to_rooms(
        &mut self,
        key: usize,
        me: &str,
        to: &str,
        text: Text<'_>,
        tags: Option<&str>,
    ) {
        if memchr::memchr(b',', to.as_bytes()).is_none() {
            return self.msg_to_one_room(key, me, to, text, tags);
        }
        // Each target is looked up: a long list is paced like a flood,
        // charged before any of it is done.
        let targets = memchr::memchr_iter(b',', to.as_bytes()).count() + 1;
        self.charge(key, targets as u64);
        let mut names: Vec<Rc<str>> = Vec::new();
        let mut named = HashSet::with_capacity(targets);
        let mut unknown = None;
        let mut rooms: Vec<Rc<str>> = Vec::new();
        let mut folded = HashSet::new();
        let mut written: Vec<Rc<str>> = Vec::new();
        for target in Command::recipients(to) {
            if target.starts_with('#') {
                let shown = match self.rooms.may_speak(me, target) {
                    Ok(shown) => shown,
                    Err(why) => return self.not_in(key, &why),
                };
                if folded.insert(fold(target)) {
                    written.push(Rc::clone(&shown));
                    rooms.push(shown);
                }
            } else if named.insert(fold(target)) {
                // Shown as first written, whatever case it is written in.
                match self.shown_recipient(target) {
                    Some(shown) => {
                        written.push(Rc::clone(&shown));
                        names.push(shown);
                    }
                    None => unknown = unknown.or(Some(target)),
                }
            }
        }
        // Each room member online is a delivery — queued on its own unless
        // the message joins the turn's batch as a span for one room, charged
        // by the members it reaches (see `say_in_room`).
        let one_room = rooms.len() == 1 && names.is_empty();
        let members: usize = rooms.iter().map(|r| self.rooms.online_keys(r).len()).sum();
        if !one_room {
            self.charge(key, members as u64);
        }
        if let Some(unknown) = unknown {
            return self.no_such_user(key, unknown);
        }
        let names: Vec<&str> = names.iter().map(|n| &**n).collect();
        // Recipients must see this after anything accepted before it: a
        // message to one room joins the pending batch (see `say_in_room`);
        // any other is queued at once, after a seal.
        if self.batch.has_frames() && !one_room {
            self.seal_charged(key);
        }
        let to_list = written.iter().map(|t| &**t).collect::<Vec<_>>().join(",");
        let frame = self.msg_frame(me, &to_list, text, tags);
        let shown: Vec<&str> = rooms.iter().map(|r| &**r).collect();
        let named_me = names.iter().any(|n| same_name(n, me));
        if self.cluster.is_some() {
            // Delivered from the rooms stream, on every node.
            self.say_in_cluster(key, &shown, &names, &frame);
            if !named_me {
                self.echo(key, Echo::Frame(&frame));
            }
            return;
        }
        self.remember(key, &shown, &frame);
        if let ([room], true) = (&rooms[..], one_room) {
            // The common case, one room and nobody named: a turn's
            // messages to the room reach each member as one shared chunk,
            // as broadcasts do.
            let room = Rc::clone(room);
            self.say_in_room(key, &room, &frame);
            return self.echo(key, Echo::Frame(&frame));
        }
        // Named users get it as a private message; the rooms' other
        // members online, once each, from the same frame.
        let named: HashSet<usize> = names
            .iter()
            .filter_map(|n| self.online.get(n).copied())
            .collect();
        let mut sent = HashSet::with_capacity(members);
        let mut keys = Vec::with_capacity(members);
        for room in &rooms {
            for &to in self.rooms.online_keys(room) {
                if to != key && !named.contains(&to) && sent.insert(to) {
                    keys.push(to);
                }
            }
        }
        for to in keys {
            if self
                .queues
                .push(to, Outgoing::Shared(&frame), Limit::Within)
            {
                self.counters.deliveries += 1;
            }
        }
        if !names.is_empty() {
            self.deliver_named(key, &names, &frame);
        }
        if !named_me {
            self.echo(key, Echo::Frame(&frame));
        }
        self.tell_away(key, &names);
    }

    /// The common case, `MSG #room <text>`: no list to build or check.
    fn msg_to_one_room(
        &mut self,
        key: usize,
        me: &str,
        room: &str,
        text: Text<'_>,
        tags: Option<&str>,
    ) {
        self.charge(key, 1);
        let shown = match self.rooms.may_speak(me, room) {
            Ok(shown) => shown,
            Err(why) => return self.not_in(key, &why),
        };
        let frame = self.msg_frame(me, &shown, text, tags);
        if self.cluster.is_some() {
            self.say_in_cluster(key, &[&shown], &[], &frame);
        } else {
            self.remember(key, &[&shown], &frame);
            self.say_in_room(key, &shown, &frame);
        }
        self.echo(key, Echo::Frame(&frame));
    }

    /// `MSG <from> <to-list> <time> <text>`, stamped now, encoded once to
    /// be shared by every recipient and every room's history.
    fn msg_frame(&mut self, me: &str, to: &str, text: Text<'_>, tags: Option<&str>) -> Rc<[u8]> {
        let time = self.clock.stamp();
        let msg = Event::Msg {
            from: me,
            to,
            time: time.as_str(),
            text: text.escaped(),
        };
        let mut tagged = None;
        super::super::hub::rooms::encoded(super::msg::with_tags(&msg, tags, &mut tagged))
    }

    pub(super) fn not_in(&mut self, key: usize, why: &str) {
        let text = format!("{why}; nothing was sent");
        self.reply_err(key, ErrorCode::Forbidden, &text);
    }
}
