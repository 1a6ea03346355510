//! `STATS` → `STATS key=value ...`: the server's counters, answered before
//! `LOGIN` too, so a monitor need not join the chat.

use crate::protocol::reply::encode_fields;
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn stats(&mut self, key: usize) {
        let line = self.stats_line();
        self.queues
            .push_reply(key, |b| encode_fields(b, &["STATS", &line]));
    }
}
