//! `MSG <name>[,<name>...] <text>`: a private message to one or more users,
//! yourself included.
//!
//! All or nothing on names: if any recipient is unknown (never seen, not an
//! account) the sender gets `ERR 404` and nobody gets the message. A name
//! written twice gets it once, and `<to-list>` in what recipients see is
//! the de-duplicated list. The message is encoded once: online recipients
//! share it, and offline ones have it held once for all of them (per
//! recipient that has no room, the sender gets `ERR 507`) — see
//! [`mail`](crate::server::hub), which knows where mail is held.

use crate::protocol::{Command, ErrorCode, Event, Text};
use crate::server::hub::Hub;
use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn msg(&mut self, key: usize, me: &str, to: &str, text: Text<'_>) {
        if memchr::memchr(b'#', to.as_bytes()).is_some() {
            return self.msg_to_rooms(key, me, to, text);
        }
        // One recipient is the common case: no set, no allocation.
        let single;
        let many: Vec<&str>;
        let names: &[&str] = if memchr::memchr(b',', to.as_bytes()).is_some() {
            let mut seen =
                HashSet::with_capacity(memchr::memchr_iter(b',', to.as_bytes()).count() + 1);
            many = Command::recipients(to)
                .filter(|n| seen.insert(*n))
                .collect();
            &many
        } else {
            single = [to];
            &single
        };
        // Each name is looked up, and each recipient is a delivery or a
        // hold: a long list is paced like a flood, not taken as one frame.
        self.charge(key, names.len() as u64);
        if let Some(unknown) = self.unknown_recipient(names) {
            let text = format!("no such user: {unknown}; nothing was sent");
            return self.reply_err(key, ErrorCode::NoSuchUser, &text);
        }
        // Recipients must see this after any broadcast accepted before it.
        if self.batch.has_frames() {
            self.seal_charged(key);
        }
        let to_list: Cow<'_, str> = if names.len() == Command::recipients(to).count() {
            Cow::Borrowed(to)
        } else {
            Cow::Owned(names.join(","))
        };
        let time = self.clock.stamp();
        let msg = Event::Msg {
            from: me,
            to: &to_list,
            time: time.as_str(),
            text: text.escaped(),
        };
        self.send_private(key, names, &msg);
    }
}
