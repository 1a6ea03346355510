//! Held mail on this node: the in-memory [`Store`](crate::server::store::Store)
//! and its durable twin, the journal, kept in step.
//!
//! Mail for someone offline is held once for all its offline recipients
//! and journaled as one record; its sender's replies wait for that record
//! (see [`Output::gate`](crate::server::hub::Output)). At a login the held
//! mail is queued ahead of anything newer (see [`super`]); its `PONG`
//! records the delivery, and the owner's next replies wait for that
//! record, so a `PONG` after it means it will not come again. If the
//! connection ends first, the mail goes back to the mailbox (or on to the
//! owner's new session).

use super::{Contents, Hub};
use crate::protocol::{ErrorCode, Event};
use crate::server::hub::input::HOLD_UNITS;
use crate::server::hub::queues::{Limit, Outgoing};
use crate::server::journal::Record;
use crate::server::store::Letter;
use log::info;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

impl<T: Write> Hub<T> {
    /// Records that `name` was seen now — a login (`online`) or a logout
    /// — and forgets names past `--max-known`.
    pub(in crate::server) fn seen(&mut self, name: &str, online: bool) -> Rc<str> {
        // A name in a room is never forgotten.
        let keep = online || self.rooms.has_rooms(name);
        let (name, new) = self.store.see(name, keep);
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.journal.append(&Record::Seen { name: &name, at });
        if new {
            let forgotten = self.store.forget_past_limit();
            for gone in forgotten {
                info!("forgot {gone}: least recently seen of more than --max-known names");
                self.journal.append(&Record::Forgotten(&gone));
            }
        }
        name
    }

    /// A private message on a single node: queued to its online
    /// recipients (encoded once, or straight into the queue of a single
    /// one), held for the offline ones.
    pub(super) fn send_private_here(&mut self, key: usize, names: &[&str], msg: &Event<'_>) {
        if let [name] = names {
            if let Some(&recipient) = self.online.get(name) {
                // Nothing to share: encoded straight into its queue, where
                // consecutive messages form one contiguous buffer.
                if self
                    .queues
                    .push(recipient, Outgoing::Event(msg), Limit::Within)
                {
                    self.counters.deliveries += 1;
                }
                return;
            }
        }
        let mut frame = Vec::with_capacity(msg.encoded_len());
        msg.encode(&mut frame);
        let frame: Rc<[u8]> = Rc::from(frame);
        self.deliver_named(key, names, &frame);
    }

    /// Queues `frame` to the named users online and holds it for the
    /// others, once for all.
    pub(in crate::server) fn deliver_named(
        &mut self,
        key: usize,
        names: &[&str],
        frame: &Rc<[u8]>,
    ) {
        let mut offline = Vec::new();
        for &name in names {
            match self.online.get(name) {
                Some(&recipient) => {
                    if self
                        .queues
                        .push(recipient, Outgoing::Shared(frame), Limit::Within)
                    {
                        self.counters.deliveries += 1;
                    }
                }
                None => offline.push(name),
            }
        }
        self.hold(key, &offline, frame);
    }

    /// Holds `frame` for the offline `names`, once for all; each recipient
    /// it cannot be held for is reported to `sender` with `ERR`.
    pub(in crate::server) fn hold(&mut self, sender: usize, names: &[&str], frame: &Rc<[u8]>) {
        if names.is_empty() {
            return;
        }
        self.charge(sender, names.len() as u64 * HOLD_UNITS);
        if self.journal.is_failing() {
            for name in names {
                let text = format!("the server cannot store messages now; not held for {name}");
                self.reply_err(sender, ErrorCode::Unavailable, &text);
            }
            return;
        }
        let (held, refused) = self.store.hold(names, frame);
        for (name, why) in refused {
            let text = format!("{why}: not held for {name}");
            self.reply_err(sender, ErrorCode::MailboxFull, &text);
        }
        if held.is_empty() {
            return;
        }
        let to = held.iter().map(|n| &**n).collect();
        let seq = self.journal.append(&Record::Held { to, frame });
        let letter = held.first().and_then(|n| self.store.last_letter_of(n));
        if let Some(letter) = letter {
            self.note_held(sender, seq, &letter, held);
        }
        self.gate(sender, seq);
    }

    /// Holds back a session's output until the journal acknowledges `seq`.
    pub(in crate::server) fn gate(&mut self, key: usize, seq: u64) {
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.out.gate(seq);
        }
    }

    /// Queues the mail held for `name` in the store to its session.
    pub(super) fn deliver_from_store(&mut self, key: usize, name: &Rc<str>) -> usize {
        self.deliver_with_catch_up(key, name, false)
    }

    /// Queues the mail held for `name` to its new session, then what its
    /// rooms said while it was away, then one `PING` for all of it.
    pub(super) fn deliver_at_login(&mut self, key: usize, name: &Rc<str>) -> usize {
        self.deliver_with_catch_up(key, name, true)
    }

    fn deliver_with_catch_up(&mut self, key: usize, name: &Rc<str>, catch_up: bool) -> usize {
        let held = self.store.take_held(name);
        let count = held.len();
        let frames: Vec<Rc<[u8]>> = held.iter().map(|l| Rc::clone(&l.frame)).collect();
        let (rooms, up_to) = match catch_up {
            true => self.start_catch_up(key, name, &frames),
            false => (Vec::new(), None),
        };
        if count == 0 && rooms.is_empty() {
            return 0;
        }
        let contents = match count {
            0 => Contents::Nothing,
            _ => Contents::Letters {
                owner: Rc::clone(name),
                letters: held,
            },
        };
        self.write_held(key, frames.iter().chain(rooms.iter()), contents, up_to);
        count
    }

    /// The recipient has read these letters: their delivery is recorded,
    /// and its next replies wait for that record.
    pub(super) fn letters_delivered(
        &mut self,
        key: usize,
        owner: &Rc<str>,
        letters: VecDeque<Rc<Letter>>,
    ) {
        // A letter whose record was refused is not in the journal.
        let journaled = letters.iter().filter(|l| !l.refused.get()).count();
        let count = u32::try_from(journaled).unwrap_or(u32::MAX);
        let seq = self
            .journal
            .append(&Record::Delivered { name: owner, count });
        self.store.delivered(owner, letters);
        self.note_delivered(key, seq);
        self.gate(key, seq);
    }

    /// Puts letters back in the mailbox, ahead of anything held since — or
    /// on to their owner's new session, if there is one.
    pub(super) fn return_letters(&mut self, owner: &Rc<str>, letters: VecDeque<Rc<Letter>>) {
        self.store.restore(owner, letters);
        if let Some(&now_at) = self.online.get(owner) {
            self.deliver_from_store(now_at, owner);
        }
    }

    /// Hands the turn's records to the journal, and notes what it has
    /// acknowledged so far. Called at the end of every turn, before and
    /// after the flush, and when the journal wakes the loop.
    pub fn sync_journal(&mut self) {
        self.journal
            .commit(self.store.live_bytes() + self.rooms.live_bytes());
        // Acknowledged first: refusals are reported before any later
        // batch is acknowledged, so none is missed.
        let acked = self.journal.acked();
        self.settle_unwritten(acked);
        self.queues.release_gated(self.journal.settled());
    }

    /// Writes the journal out, syncs it and ends its thread (at shutdown).
    pub fn close_journal(&mut self) {
        self.journal
            .close(self.store.live_bytes() + self.rooms.live_bytes());
    }
}
