//! `PING [<token>]` → `PONG [<token>]`: the barrier. Everything the
//! connection sent before it is processed first — broadcasts sealed into
//! the recipients' queues, mail held and its record acknowledged by the
//! journal (the connection's output waits for that) — so the `PONG` tells
//! the client all of it is done.
//!
//! `PONG [<token>]` answers the server's own `PING`: a keep-alive (any
//! frame would do), or the one sent after held mail, whose answer counts
//! that mail as delivered.

use crate::protocol::Event;
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn ping(&mut self, key: usize, token: Option<&str>) {
        // A barrier: everything before this frame is queued first.
        self.seal_for(key);
        // In a cluster, also until NATS has what went to other nodes.
        if self.ping_in_cluster(key, token) {
            return;
        }
        self.reply(key, &Event::Pong(token));
    }

    pub(super) fn pong(&mut self, key: usize, token: Option<&str>) {
        if let Some(token) = token {
            self.mail_acknowledged(key, token);
        }
    }
}
