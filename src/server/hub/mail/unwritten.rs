//! Held mail whose journal record is not yet written, and what is done
//! when the write fails: a full disk must cost a sender an `ERR 503`, not
//! a stalled connection.
//!
//! Each hold is noted with its batch's sequence number, its sender and the
//! place in the sender's output where the hold happened; so is each
//! delivery of held mail, with its reader. Once the journal has written
//! the record, the note goes. If the write failed, the writer has given up
//! that batch's held mail (see [`writer`](crate::server::journal::writer)):
//! the letter leaves the mailboxes it is in, and the sender gets
//! `ERR 503 ... not held for <name>` at that place — before the replies it
//! sent after, such as the `PONG` it waits for, which are then released.
//! A delivery's record is kept and written once the disk allows, but its
//! reader is told at once that it is not recorded yet, so a `PONG` it gets
//! meanwhile is not taken for that promise.

use super::Hub;
use crate::protocol::{ErrorCode, Event};
use crate::server::store::Letter;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::{Rc, Weak};

/// Records not yet written, in the order of their sequence numbers.
#[derive(Debug, Default)]
pub struct Unwritten(VecDeque<Note>);

#[derive(Debug)]
struct Note {
    seq: u64,
    /// The session that caused the record, and which one it was.
    key: usize,
    serial: u64,
    /// Where in that session's output it was caused.
    at: u64,
    what: Caused,
}

#[derive(Debug)]
enum Caused {
    /// A message held for `to`. Weak: a note must not keep a delivered
    /// letter alive (nor change what the store counts as its last holder).
    Held {
        letter: Weak<Letter>,
        to: Vec<Rc<str>>,
    },
    /// Held mail read by the session.
    Delivered,
}

impl<T: Write> Hub<T> {
    /// Notes that `letter`, held for `to` by session `sender`, waits for
    /// the record acknowledged by `seq`.
    pub(super) fn note_held(
        &mut self,
        sender: usize,
        seq: u64,
        letter: &Rc<Letter>,
        to: Vec<Rc<str>>,
    ) {
        let letter = Rc::downgrade(letter);
        self.note(sender, seq, Caused::Held { letter, to });
    }

    /// Notes that session `reader`'s delivery of held mail waits for the
    /// record acknowledged by `seq`.
    pub(super) fn note_delivered(&mut self, reader: usize, seq: u64) {
        self.note(reader, seq, Caused::Delivered);
    }

    fn note(&mut self, key: usize, seq: u64, what: Caused) {
        let Some(session) = self.queues.sessions.get(key) else {
            return;
        };
        self.unwritten.0.push_back(Note {
            seq,
            key,
            serial: session.serial,
            at: session.out.written() + session.out.len() as u64,
            what,
        });
    }

    /// Settles the notes with what the journal says: refused holds are
    /// undone and their senders told, written ones forgotten.
    pub(super) fn settle_unwritten(&mut self, acked: u64) {
        for (after, through) in self.journal.take_refused() {
            while let Some(note) = self.unwritten.0.front() {
                if note.seq > through {
                    break;
                }
                let Some(note) = self.unwritten.0.pop_front() else {
                    break;
                };
                if note.seq > after {
                    self.not_written(note);
                }
            }
        }
        while self.unwritten.0.front().is_some_and(|h| h.seq <= acked) {
            self.unwritten.0.pop_front();
        }
    }

    /// A note's record was in a failed write: its session is told, at the
    /// place it caused it; held mail is given up.
    fn not_written(&mut self, note: Note) {
        match note.what {
            Caused::Held { letter, to } => {
                if let Some(letter) = letter.upgrade() {
                    self.store.unhold(&letter, &to);
                }
                for name in to.iter().rev() {
                    // Each goes in at the same place, so the last first.
                    let text = format!("the server cannot store messages now; not held for {name}");
                    let event = Event::Error(ErrorCode::Unavailable, &text);
                    self.queues
                        .insert_at(note.key, note.serial, note.at, &event);
                }
            }
            Caused::Delivered => {
                let text = "the server cannot record now that you have read your held mail; \
                            it may come again";
                let event = Event::Error(ErrorCode::Unavailable, text);
                self.queues
                    .insert_at(note.key, note.serial, note.at, &event);
            }
        }
    }
}
