//! `WHO` → `USERS <name> ...`: who is online, in byte order so the answer
//! is the same whatever order people came in.

use crate::protocol::reply::encode_users;
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn who(&mut self, key: usize) {
        let mut names: Vec<&str> = self.online.keys().map(|n| &**n).collect();
        names.sort_unstable();
        self.queues
            .push_reply(key, |b| encode_users(b, names.into_iter()));
    }
}
