//! Telling a room's settings change: a change (a `MODE`, `TOPIC` or
//! `INVITE` here, a `PART` or `KICK` that moved the operators, or any of
//! these from another node) is told by what differs before and after, so
//! a single server and every cluster node tell it alike.

use super::rooms::encoded;
use super::{Hub, Limit, Outgoing};
use crate::protocol::Event;
use crate::server::journal::Record;
use crate::server::rooms::Settings;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// `room`'s settings went from `old` to what the rooms hold now: told
    /// to its members online here (an invitation to the invited and its
    /// inviter), and on a single server journaled — `key`'s later replies
    /// wait for the record.
    pub(in crate::server) fn settings_moved(
        &mut self,
        key: Option<usize>,
        room: &str,
        old: &Settings,
    ) {
        let (Some(shown), Some(new)) = (
            self.rooms.shown(room).cloned(),
            self.rooms.settings(room).cloned(),
        ) else {
            return;
        };
        if *old == new {
            return;
        }
        self.journal_settings(key, &shown, &new);
        let stamp = self.clock.stamp();
        let time = match new.time.as_str() {
            "" => stamp.as_str(),
            time => time,
        };
        let members = self.rooms.online_keys(&shown).to_vec();
        let (modes, args) = old.diff(&new);
        if !modes.is_empty() {
            let args = args.join(" ");
            let event = Event::Mode {
                room: &shown,
                by: &new.by,
                time,
                modes: &modes,
                args: &args,
            };
            self.tell_keys(&members, &event);
        }
        if old.topic != new.topic {
            let event = match &new.topic {
                Some(t) => Event::Topic {
                    room: &shown,
                    set: Some((&t.by, &t.time)),
                    text: Some(&t.text),
                },
                None => Event::Topic {
                    room: &shown,
                    set: Some((&new.by, time)),
                    text: None,
                },
            };
            self.tell_keys(&members, &event);
        }
        for invited in old.new_invites(&new) {
            self.tell_invite(&new.by, invited, &shown, time);
        }
    }

    /// `room` as shown and its settings, if it exists; if not, `key` is
    /// told `ERR 403 no such room` (for a command about a room's settings).
    pub(in crate::server) fn existing_room(
        &mut self,
        key: usize,
        room: &str,
    ) -> Option<(Rc<str>, Settings)> {
        let found = self
            .rooms
            .shown(room)
            .cloned()
            .zip(self.rooms.settings(room).cloned());
        if found.is_none() {
            let text = format!("no such room {room}");
            self.reply_err(key, crate::protocol::ErrorCode::Forbidden, &text);
        }
        found
    }

    /// Tells `invited` (if online here) and its inviter `by` of an
    /// invitation into `room`.
    pub(in crate::server) fn tell_invite(
        &mut self,
        by: &str,
        invited: &str,
        room: &str,
        time: &str,
    ) {
        let event = Event::Invite {
            by,
            name: invited,
            room,
            time,
        };
        let told: Vec<usize> = [invited, by]
            .iter()
            .filter_map(|n| self.online.get(n).copied())
            .collect();
        self.tell_keys(&told, &event);
    }

    /// Journals `room`'s settings, on a single server (in a cluster, the
    /// rooms bucket has them); `key`'s later replies wait for the record.
    pub(in crate::server) fn journal_settings(
        &mut self,
        key: Option<usize>,
        room: &str,
        new: &Settings,
    ) {
        if self.cluster.is_some() {
            return;
        }
        let value = new.encode();
        let seq = self.journal.append(&Record::RoomSettings {
            room,
            value: &value,
        });
        if let Some(key) = key {
            self.gate(key, seq);
        }
    }

    /// `room`'s topic, if it has one, as told after a `JOIN`.
    pub(in crate::server) fn topic_of<'a>(&'a self, room: &'a str) -> Option<Event<'a>> {
        let topic = self.rooms.settings(room)?.topic.as_ref()?;
        Some(Event::Topic {
            room,
            set: Some((&topic.by, &topic.time)),
            text: Some(&topic.text),
        })
    }

    /// Tells the joiner of `room` (session `key`) its topic, if it has
    /// one: to it alone, so an IRC client has it as its 332.
    pub(in crate::server) fn send_topic(&mut self, key: usize, room: &str) {
        let Some(topic) = self.rooms.settings(room).and_then(|s| s.topic.clone()) else {
            return;
        };
        let event = Event::Topic {
            room,
            set: Some((&topic.by, &topic.time)),
            text: Some(&topic.text),
        };
        self.queues
            .push(key, Outgoing::Event(&event), Limit::Within);
    }

    /// Encodes `event` once and queues it to `keys`, after everything
    /// accepted before it.
    pub(in crate::server) fn tell_keys(&mut self, keys: &[usize], event: &Event<'_>) {
        if !keys.is_empty() {
            self.tell_frame(keys, &encoded(event));
        }
    }

    /// Queues `frame` to `keys`, after everything accepted before it.
    pub(in crate::server) fn tell_frame(&mut self, keys: &[usize], frame: &Rc<[u8]>) {
        if keys.is_empty() {
            return;
        }
        if self.batch.has_frames() {
            self.seal();
        }
        for &to in keys {
            if self.queues.push(to, Outgoing::Shared(frame), Limit::Within) {
                self.counters.deliveries += 1;
            }
        }
    }
}
