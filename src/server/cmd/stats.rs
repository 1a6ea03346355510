//! `STATS` → `STATS key=value ...`: the server's counters, answered before
//! `LOGIN` too, so a monitor need not join the chat.

use crate::protocol::Event;
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn stats(&mut self, key: usize) {
        let line = self.stats_line();
        self.reply(key, &Event::Stats(&line));
    }
}
