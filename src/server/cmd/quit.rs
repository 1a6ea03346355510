//! `QUIT [<text>]` → `BYE`, then the connection closes once its queue is
//! flushed; the others see `LEFT` with the text. Allowed before `LOGIN`.

use crate::protocol::{Event, Text};
use crate::server::hub::Hub;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn quit(&mut self, key: usize, text: Option<Text<'_>>) {
        self.seal_for(key);
        self.last_words(key, &Event::Bye);
        // A QUIT saying "renamed to <name>" would read as a rename (a LEFT
        // of that text is how a NICK is told): said as a quit.
        let text = text.map(|t| t.escaped());
        let forged = text.is_some_and(|t| {
            t.get(..11)
                .is_some_and(|w| w.eq_ignore_ascii_case("renamed to "))
        });
        match forged {
            true => self.close(key, text.map(|t| format!("quit: {t}")).as_deref()),
            false => self.close(key, text),
        }
    }
}
