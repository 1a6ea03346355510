//! `SAY <text>`: a broadcast to everyone else online. The text is relayed
//! as the sender escaped it (it was validated when parsed), stamped with
//! the turn's time, and joins the turn's batch (see
//! [`fanout`](crate::server::hub)), so a run of messages costs each
//! recipient one queue entry.

use crate::protocol::{Event, Text};
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    #[inline(always)]
    pub(super) fn say(&mut self, key: usize, me: &str, text: Text<'_>, tags: Option<&str>) {
        let time = self.clock.stamp();
        let say = Event::Say {
            from: me,
            time: time.as_str(),
            text: text.escaped(),
        };
        match tags {
            // The common message, on the shortest path.
            None => self.say_event(key, &say),
            Some(tags) => self.say_tagged(key, &say, tags),
        }
    }

    #[inline(always)]
    fn say_event(&mut self, key: usize, say: &Event<'_>) {
        self.broadcast(Some(key), say);
        self.echo(key, super::echo::Echo::Event(say));
    }

    #[inline(never)]
    fn say_tagged(&mut self, key: usize, say: &Event<'_>, tags: &str) {
        let tagged = Event::Tagged { tags, message: say };
        self.say_event(key, &tagged);
    }
}
