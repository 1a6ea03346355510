//! `TOPIC <room>` → `TOPIC <room> <by> <time> <text>`, or `TOPIC <room>`
//! when it has none (anyone may ask); `TOPIC <room> <text>` sets it and
//! `TOPIC <room> ` (nothing after the space) clears it: members only, and
//! under `+t` operators only. Every member online is told the new one.

use crate::protocol::{ErrorCode, Event, Text};
use crate::server::hub::Hub;
use crate::server::rooms::settings::{Topic, MAX_TOPIC};
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn topic(
        &mut self,
        key: usize,
        me: &str,
        room: &str,
        text: Option<Option<Text<'_>>>,
    ) {
        let Some((shown, settings)) = self.existing_room(key, room) else {
            return;
        };
        let Some(text) = text else {
            self.seal_for(key);
            let event = Event::Topic {
                room: &shown,
                set: settings.topic.as_ref().map(|t| (&*t.by, &*t.time)),
                text: settings.topic.as_ref().map(|t| &*t.text),
            };
            return self.reply(key, &event);
        };
        if !self.rooms.is_member(me, room) {
            return self.reply_err(key, ErrorCode::Forbidden, &format!("not in {shown}"));
        }
        if settings.topic_locked && !settings.is_op(me) {
            let why = format!("you are not an operator of {shown} (+t: operators set the topic)");
            return self.reply_err(key, ErrorCode::Forbidden, &why);
        }
        if text.is_some_and(|t| t.escaped().len() > MAX_TOPIC) {
            let why = format!("a topic is at most {MAX_TOPIC} bytes: not set");
            return self.reply_err(key, ErrorCode::BadRequest, &why);
        }
        let time = self.clock.stamp().as_str().to_owned();
        let mut new = settings.clone();
        new.topic = text.map(|t| Topic {
            text: t.escaped().to_owned(),
            by: me.to_owned(),
            time: time.clone(),
        });
        (new.by, new.time) = (me.to_owned(), time);
        self.change_settings(key, &shown, settings, new);
    }
}
