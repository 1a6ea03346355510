//! A connection whose first line has not told yet what it speaks: its
//! bytes are kept, whole, until [`sniff`](super::sniff) decides, and then
//! replayed to the dialect decided on. Undecided bytes stay few: every
//! sniffer decides past one short line.

use super::{line::LINES, sniff, Deadline, Dialect, Input, Settings, WireKind};
use std::time::{Duration, Instant};

/// How long a first line or a request's head may take to arrive.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Sniffing {
    settings: Settings,
    head: Vec<u8>,
    deadline: Deadline,
}

impl Sniffing {
    pub fn new(settings: Settings) -> Sniffing {
        Sniffing {
            settings,
            head: Vec::new(),
            deadline: Deadline::default(),
        }
    }
}

impl Dialect for Sniffing {
    /// Told in lines if it is refused before it has said anything.
    fn encoding(&self) -> WireKind {
        &LINES
    }

    fn decode(
        &mut self,
        data: &[u8],
        now: Instant,
        on: &mut dyn FnMut(Input<'_>) -> bool,
    ) -> usize {
        // Whole, however long: a chat client's first read may carry a
        // burst, all of which is its input.
        self.head.extend_from_slice(data);
        match sniff(&self.head, &self.settings) {
            Some(mut dialect) => {
                if dialect.is_http() {
                    dialect.hurry(self.deadline.at().unwrap_or(now + HEAD_DEADLINE));
                }
                on(Input::Decided(dialect, std::mem::take(&mut self.head)));
            }
            None => self.deadline.start(now + HEAD_DEADLINE),
        }
        data.len()
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.at()
    }

    fn hurry(&mut self, by: Instant) {
        self.deadline.hurry(by);
    }

    fn buffered(&self) -> usize {
        self.head.capacity()
    }
}
