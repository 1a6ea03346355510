//! `WHO` → `USERS <name> ...`: who is online — here and, in a cluster, on
//! the other live nodes — in byte order so the answer is the same whatever
//! order people came in. The answer is encoded once and shared until
//! someone comes or goes, so asking costs a queue entry, not a sort of
//! everyone online.

use crate::protocol::Event;
use crate::server::hub::{Hub, Limit, Outgoing};
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn who(&mut self, key: usize) {
        // After the comings and goings accepted before it.
        self.seal_for(key);
        let reply = match &self.users_reply {
            Some(reply) => Rc::clone(reply),
            None => {
                let mut names: Vec<&str> = self.online.keys().map(|n| &**n).collect();
                names.extend(self.names_elsewhere());
                names.sort_unstable();
                let mut line = Vec::new();
                Event::Users(&names).encode(&mut line);
                let reply: Rc<[u8]> = Rc::from(line);
                self.users_reply = Some(Rc::clone(&reply));
                reply
            }
        };
        if self.queues.writes_for_each_reader(key) {
            // Its numerics name the reader (IRC): the names, told to it,
            // a line each, so charged a unit each.
            let line = std::str::from_utf8(&reply).unwrap_or_default();
            self.charge(
                key,
                memchr::memchr_iter(b' ', line.as_bytes()).count() as u64,
            );
            // IRC's WHO tells who is away (`G`): marked `~` for it.
            let names: Vec<String> = line
                .trim_end()
                .split(' ')
                .skip(1)
                .filter(|n| !n.is_empty())
                .map(|n| self.away_marked(n))
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let event = Event::Users(&names);
            self.queues
                .push(key, Outgoing::Event(&event), Limit::Within);
            return;
        }
        self.queues
            .push(key, Outgoing::Shared(&reply), Limit::Within);
    }
}

impl<T: Write> Hub<T> {
    /// `name` (perhaps marked `@` or `+`), marked `~` if it is away here: for a
    /// reader whose answer is written for it alone (IRC's `G`).
    pub(in crate::server) fn away_marked(&self, name: &str) -> String {
        let bare = name.trim_start_matches(['@', '+']);
        let away = self
            .online
            .get(bare)
            .and_then(|&k| self.queues.sessions.get(k))
            .is_some_and(|s| s.user.away.is_some());
        match away {
            true => format!("~{name}"),
            false => name.to_owned(),
        }
    }
}
