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
            tags,
        };
        self.broadcast(Some(key), &say);
        self.echo(key, super::echo::Echo::Event(&say));
    }
}
