//! `MSG <name>[,<name>...] <text>`: a private message to one or more users,
//! yourself included.
//!
//! All or nothing on names: if any recipient is unknown (never seen, not an
//! account) the sender gets `ERR 404` and nobody gets the message. Names
//! are compared without case: a name written twice, in any case, gets it
//! once, and `<to-list>` in what recipients see is the de-duplicated list,
//! each name as it is shown (as first written), so `MSG BOB hi` reaches
//! `bob` as `MSG alice bob ...`. The message is encoded once: online
//! recipients share it, and offline ones have it held once for all of them
//! (per recipient that has no room, the sender gets `ERR 507`) — see
//! [`mail`](crate::server::hub), which knows where mail is held.

use super::echo::Echo;
use crate::protocol::{fold, same_name, Command, ErrorCode, Event, Text};
use crate::server::hub::Hub;
use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn msg(
        &mut self,
        key: usize,
        me: &str,
        to: &str,
        text: Text<'_>,
        tags: Option<&str>,
    ) {
        if memchr::memchr(b'#', to.as_bytes()).is_some() {
            return self.msg_to_rooms(key, me, to, text, tags);
        }
        if memchr::memchr(b',', to.as_bytes()).is_none() {
            return self.msg_to_one(key, me, to, text, tags);
        }
        let mut seen = HashSet::with_capacity(memchr::memchr_iter(b',', to.as_bytes()).count() + 1);
        let written: Vec<&str> = Command::recipients(to)
            .filter(|n| seen.insert(fold(n)))
            .collect();
        // Each name is looked up, and each recipient is a delivery or a
        // hold: a long list is paced like a flood, not taken as one frame.
        self.charge(key, written.len() as u64);
        let mut shown = Vec::with_capacity(written.len());
        for name in &written {
            match self.shown_recipient(name) {
                Some(name) => shown.push(name),
                None => return self.no_such_user(key, name),
            }
        }
        // Recipients must see this after any broadcast accepted before it.
        if self.batch.has_frames() {
            self.seal_charged(key);
        }
        let names: Vec<&str> = shown.iter().map(|n| &**n).collect();
        let as_written = names.len() == Command::recipients(to).count()
            && names
                .iter()
                .zip(Command::recipients(to))
                .all(|(n, t)| *n == t);
        let to_list: Cow<'_, str> = match as_written {
            true => Cow::Borrowed(to),
            false => Cow::Owned(names.join(",")),
        };
        let time = self.clock.stamp();
        let msg = Event::Msg {
            from: me,
            to: &to_list,
            time: time.as_str(),
            text: text.escaped(),
        };
        let mut tagged = None;
        let msg = with_tags(&msg, tags, &mut tagged);
        self.send_private(key, &names, msg);
        if !names.iter().any(|n| same_name(n, me)) {
            self.echo(key, Echo::Event(msg));
        }
        self.tell_away(key, &names);
    }

    /// The common case, one recipient: no list, no set, no allocation.
    fn msg_to_one(&mut self, key: usize, me: &str, to: &str, text: Text<'_>, tags: Option<&str>) {
        self.charge(key, 1);
        let Some(name): Option<Rc<str>> = self.shown_recipient(to) else {
            return self.no_such_user(key, to);
        };
        if self.batch.has_frames() {
            self.seal_charged(key);
        }
        let time = self.clock.stamp();
        let msg = Event::Msg {
            from: me,
            to: &name,
            time: time.as_str(),
            text: text.escaped(),
        };
        let mut tagged = None;
        let msg = with_tags(&msg, tags, &mut tagged);
        self.send_private(key, &[&name], msg);
        if !same_name(&name, me) {
            self.echo(key, Echo::Event(msg));
        }
        self.tell_away(key, &[&name]);
    }

    pub(super) fn no_such_user(&mut self, key: usize, name: &str) {
        let text = format!("no such user: {name}; nothing was sent");
        self.reply_err(key, ErrorCode::NoSuchUser, &text);
    }
}

/// A message with its sender's tags, if it has any (made in `slot`):
/// the common, untagged one is not copied.
pub(super) fn with_tags<'a>(
    message: &'a Event<'a>,
    tags: Option<&'a str>,
    slot: &'a mut Option<Event<'a>>,
) -> &'a Event<'a> {
    match tags {
        Some(tags) => slot.insert(Event::Tagged { tags, message }),
        None => message,
    }
}
