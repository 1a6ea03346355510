//! What the hub says to one connection, through the one push
//! ([`Queues::push`](super::Queues::push)): a reply, within the
//! connection's limit; last words before it is closed, past any limit;
//! and bytes of its wire's own (an HTTP response, a WebSocket control
//! frame). Events are framed by the connection's encoding; wire bytes go
//! as they are.

use super::queues::{Limit, Outgoing};
use super::Hub;
use crate::protocol::{ErrorCode, Event};
use std::io::Write;

impl<T: Write> Hub<T> {
    /// Queues a reply to this connection alone, within its limit.
    pub(in crate::server) fn reply(&mut self, key: usize, event: &Event<'_>) {
        self.queues.push(key, Outgoing::Event(event), Limit::Within);
    }

    /// Queues `ERR <code> <text>` to this connection, within its limit.
    pub(in crate::server) fn reply_err(&mut self, key: usize, code: ErrorCode, text: &str) {
        self.reply(key, &Event::Error(code, text));
    }

    /// Queues a connection's last frame before it is closed, past any
    /// limit.
    pub(in crate::server) fn last_words(&mut self, key: usize, event: &Event<'_>) {
        // Not an answer to what it last asked: said as it is.
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.out.set_asked(Default::default());
        }
        self.queues.push(key, Outgoing::Event(event), Limit::Past);
    }

    /// Says `ERR <code> <text>` as a connection's last frame and closes it.
    pub(in crate::server) fn close_with(&mut self, key: usize, code: ErrorCode, text: &str) {
        self.last_words(key, &Event::Error(code, text));
        self.close(key, None);
    }

    /// Queues bytes of the wire's own as they are; `last`: past any
    /// limit, as a closing connection's last.
    pub(in crate::server) fn push_wire(&mut self, key: usize, bytes: &[u8], last: bool) {
        let limit = if last { Limit::Past } else { Limit::Within };
        self.queues.push(key, Outgoing::Wire(bytes), limit);
    }
}
