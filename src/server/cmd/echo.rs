//! A message back to its sender once accepted, for connections that ask
//! for it (IRC's `echo-message`): the same frame, with the server's time,
//! after everything accepted before it. Nothing is echoed to a sender who
//! gets the message anyway (one named among its recipients).

use crate::protocol::Event;
use crate::server::hub::{Hub, Limit, Outgoing};
use std::io::Write;
use std::rc::Rc;

/// What is echoed: an event, or a frame shared with its recipients.
pub(super) enum Echo<'a> {
    Event(&'a Event<'a>),
    Frame(&'a Rc<[u8]>),
}

impl<T: Write> Hub<T> {
    /// Does session `key` want its messages back (`echo-message`)?
    #[inline]
    pub(super) fn wants_echo(&self, key: usize) -> bool {
        self.echoing > 0
            && self
                .queues
                .sessions
                .get(key)
                .is_some_and(|s| s.out.manners().echo)
    }

    #[inline]
    pub(super) fn echo(&mut self, key: usize, echo: Echo<'_>) {
        if !self.wants_echo(key) {
            return;
        }
        // After what the batch holds for it, as the recipients see it.
        self.seal_for(key);
        let out = match echo {
            Echo::Event(event) => Outgoing::Event(event),
            Echo::Frame(frame) => Outgoing::Shared(frame),
        };
        self.queues.push(key, out, Limit::Within);
    }
}
