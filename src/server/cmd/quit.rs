//! `QUIT [<text>]` → `BYE`, then the connection closes once its queue is
//! flushed; the others see `LEFT` with the text. Allowed before `LOGIN`.

use crate::protocol::{Event, Text};
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn quit(&mut self, key: usize, text: Option<Text<'_>>) {
        self.seal_for(key);
        self.last_words(key, &Event::Bye);
        self.close(key, text.map(|t| t.escaped()));
    }
}
