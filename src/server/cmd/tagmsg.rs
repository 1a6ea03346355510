//! `@<tags> TAGMSG <target>[,<target>...]`: client-only tags without
//! text (IRC's `TAGMSG`: "typing", reactions). It is not a message: not
//! remembered by rooms, not held for anyone offline, not journaled, not
//! sent across a cluster. It reaches the targets online on this node that
//! show tags (IRC clients that negotiated `message-tags`), each once —
//! and nobody else, whose clients would have nothing to show. The targets
//! are checked as `MSG`'s are: a room must be one the sender may speak
//! in (`ERR 403`), a name one the server knows (`ERR 404`).

use crate::protocol::{fold, Command, Event};
use crate::server::hub::{Hub, Limit, Outgoing};
use std::collections::HashSet;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn tagmsg(&mut self, key: usize, me: &str, to: &str, tags: &str) {
        let targets = memchr::memchr_iter(b',', to.as_bytes()).count() + 1;
        self.charge(key, targets as u64);
        let mut readers = Vec::new();
        let mut seen = HashSet::new();
        for target in Command::recipients(to) {
            if !seen.insert(fold(target)) {
                continue;
            }
            if target.starts_with('#') {
                if let Err(why) = self.rooms.may_speak(me, target) {
                    return self.not_in(key, &why);
                }
                readers.extend_from_slice(self.rooms.online_keys(target));
            } else {
                if self.shown_recipient(target).is_none() {
                    return self.no_such_user(key, target);
                }
                readers.extend(self.online.get(target).copied());
            }
        }
        if self.client_tagged == 0 {
            return;
        }
        let echo = self.wants_echo(key);
        // Echoed once, as a message is (IRC's `echo-message`).
        if echo {
            readers.push(key);
        }
        // Each member looked at is a unit of work, a reader or not.
        self.charge(key, readers.len() as u64);
        readers.sort_unstable();
        readers.dedup();
        readers.retain(|&k| {
            (k != key || echo)
                && self
                    .queues
                    .sessions
                    .get(k)
                    .is_some_and(|s| s.out.manners().client_tags)
        });
        // After what the turn said before.
        if self.batch.has_frames() {
            self.seal_charged(key);
        }
        let time = self.clock.stamp();
        let frame: Rc<[u8]> = super::super::hub::rooms::encoded(&Event::TagMsg {
            from: me,
            to,
            time: time.as_str(),
            tags,
        });
        for reader in readers {
            self.queues
                .push(reader, Outgoing::Shared(&frame), Limit::Within);
        }
    }
}
