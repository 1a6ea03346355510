//! Who is known, and the mail held for them while offline: the store's
//! in-memory form, the one the hub reads. The [`journal`](super::journal)
//! is its durable form, written alongside by the hub and read back into
//! this at start.
//!
//! A held message is one [`Letter`]: the exact frame its recipients will
//! get, shared by every mailbox it is held in (and by the queues of its
//! online recipients), so holding a message for 2000 people costs its size
//! once plus a small entry per mailbox. Limits are in bytes as well as in
//! messages: each mailbox is charged the full size of what it holds
//! (`--mailbox-bytes`, `--mailbox-max`), and all held mail together is
//! charged what it takes in memory (`--held-bytes`): each message once —
//! its frame and [`LETTER_BYTES`] — plus [`ENTRY_BYTES`] per recipient and
//! [`MAILBOX_BYTES`] per name holding mail.
//!
//! Known names — who may be sent mail — are bounded too (`--max-known`):
//! past the limit the least recently seen names that hold no mail and are
//! not online are forgotten, so an open server that anyone may log in to
//! under any name cannot be grown without end. Names holding mail cannot be
//! forgotten, so mail is held for at most `--max-known` names.

mod known;

use super::journal::{record, Image, Record};
use crate::server::names::NameMap;
use known::KnownNames;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

/// What a held message takes in memory besides its frame (its letter, the
/// allocations' headers), charged against `--held-bytes`.
pub const LETTER_BYTES: usize = 96;
/// What one recipient's entry takes (a pointer in its mailbox, with room
/// to grow).
pub const ENTRY_BYTES: usize = 16;
/// What a name holding mail takes: its mailbox, its place in two maps,
/// the name itself.
pub const MAILBOX_BYTES: usize = 256;

/// A held message, shared by the mailboxes of all its recipients.
#[derive(Debug)]
pub struct Letter {
    pub frame: Rc<[u8]>,
    /// Its journal record could not be written and its sender was told:
    /// it is no longer held, and a delivery already under way is not
    /// counted in the journal, which never had it.
    pub refused: std::cell::Cell<bool>,
}

/// The store's limits.
#[derive(Debug, Clone, Copy)]
pub struct MailLimits {
    /// Messages held per mailbox.
    pub mailbox_max: usize,
    /// Bytes held per mailbox.
    pub mailbox_bytes: usize,
    /// Bytes held for everyone together.
    pub held_bytes: usize,
    /// Known names kept, besides those holding mail.
    pub max_known: usize,
}

/// Why a message was not held for one recipient (`ERR 507`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Messages(usize),
    MailboxBytes(usize),
    TotalBytes(usize),
    Mailboxes(usize),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Messages(n) => write!(f, "the mailbox is full ({n} messages, --mailbox-max)"),
            Refusal::MailboxBytes(n) => {
                write!(f, "the mailbox is full ({n} bytes, --mailbox-bytes)")
            }
            Refusal::TotalBytes(n) => {
                write!(
                    f,
                    "the server holds all the mail it may ({n} bytes, --held-bytes)"
                )
            }
            Refusal::Mailboxes(n) => {
                write!(
                    f,
                    "the server holds mail for as many names as it may ({n}, --max-known)"
                )
            }
        }
    }
}

#[derive(Debug, Default)]
struct Mailbox {
    letters: VecDeque<Rc<Letter>>,
    bytes: usize,
}

#[derive(Debug)]
pub struct Store {
    known: KnownNames,
    /// Mailboxes by name, compared without case like every name.
    mailboxes: NameMap<Mailbox>,
    limits: MailLimits,
    /// Entries in mailboxes (one per message and recipient).
    entries: usize,
    /// Bytes charged against `--held-bytes`, mail being delivered included.
    bytes: usize,
    /// Bytes a rewrite of the journal would take.
    live: u64,
}

impl Store {
    pub fn new(limits: MailLimits) -> Store {
        Store {
            known: KnownNames::default(),
            mailboxes: NameMap::new(),
            limits,
            entries: 0,
            bytes: 0,
            live: 0,
        }
    }

    /// The store as the journal left it. Limits are not applied to what
    /// was already accepted.
    pub fn from_image(image: Image, limits: MailLimits) -> Store {
        let mut store = Store::new(limits);
        for (name, _) in &image.known {
            store.see(name, false);
        }
        for (frame, to) in image.held {
            let letter = Rc::new(Letter {
                frame: Rc::from(frame),
                refused: Default::default(),
            });
            for name in &to {
                let name = store.see_if_new(name);
                store.put(&name, &letter);
            }
            store.bytes += letter.frame.len() + LETTER_BYTES;
            store.charge_journal(&letter, &to);
        }
        store
    }

    /// Keeps a known `name` from being forgotten (it is in a room).
    pub fn pin(&mut self, name: &str) {
        if let Some(name) = self.known.get(name) {
            self.known.pin(&name);
        }
    }

    /// May mail be held for `name`?
    pub fn is_known(&self, name: &str) -> bool {
        self.known.contains(name)
    }

    /// A known name as first written, whatever case `name` is in.
    pub fn known_as(&self, name: &str) -> Option<Rc<str>> {
        self.known.get(name)
    }

    /// Marks `name` as seen now: at a login (`online`: it cannot be
    /// forgotten while online) or a logout. Returns the shared copy of the
    /// name, and whether it is new.
    pub fn see(&mut self, name: &str, online: bool) -> (Rc<str>, bool) {
        let forgettable = !online && !self.mailboxes.contains_key(name);
        let (name, new) = self.known.see(name, forgettable);
        if new {
            self.live += seen_record_size(&name);
        }
        (name, new)
    }

    /// Forgets the least recently seen names past `--max-known` that hold
    /// no mail and are not online; returns them (to journal).
    pub fn forget_past_limit(&mut self) -> Vec<Rc<str>> {
        let forgotten = self.known.forget_past(self.limits.max_known);
        for name in &forgotten {
            self.live = self.live.saturating_sub(seen_record_size(name));
        }
        forgotten
    }

    /// Holds `frame` for each of `names` that has room: stored once,
    /// however many. Returns the names it is held for, and each refusal.
    pub fn hold<'a>(
        &mut self,
        names: &[&'a str],
        frame: &Rc<[u8]>,
    ) -> (Vec<Rc<str>>, Vec<(&'a str, Refusal)>) {
        let letter = Rc::new(Letter {
            frame: Rc::clone(frame),
            refused: Default::default(),
        });
        let (mut held, mut refused) = (Vec::new(), Vec::new());
        for &name in names {
            match self.room_for(name, frame.len(), held.is_empty()) {
                Ok(()) => {
                    if held.is_empty() {
                        self.bytes += frame.len() + LETTER_BYTES;
                    }
                    let name = self.see_if_new(name);
                    self.put(&name, &letter);
                    held.push(name);
                }
                Err(why) => refused.push((name, why)),
            }
        }
        if !held.is_empty() {
            self.charge_journal(&letter, &held);
        }
        (held, refused)
    }

    /// The letter held last for `name` (the one [`hold`](Self::hold) just
    /// made).
    pub fn last_letter_of(&self, name: &str) -> Option<Rc<Letter>> {
        self.mailboxes.get(name)?.letters.back().cloned()
    }

    /// Gives up a letter held for `to` whose journal record could not be
    /// written: it leaves the mailboxes still holding it; a copy being
    /// delivered is let go (see [`restore`](Self::restore)).
    pub fn unhold(&mut self, letter: &Rc<Letter>, to: &[Rc<str>]) {
        if letter.refused.replace(true) {
            return;
        }
        let to_names: Vec<&str> = to.iter().map(|n| &**n).collect();
        self.live = self.live.saturating_sub(record::size_of(&Record::Held {
            to: to_names,
            frame: &letter.frame,
        }));
        for name in to {
            let Some(mailbox) = self.mailboxes.get_mut(name) else {
                continue;
            };
            let Some(at) = mailbox.letters.iter().rposition(|l| Rc::ptr_eq(l, letter)) else {
                continue;
            };
            mailbox.letters.remove(at);
            mailbox.bytes = mailbox.bytes.saturating_sub(letter.frame.len());
            self.entries -= 1;
            self.bytes = self.bytes.saturating_sub(ENTRY_BYTES);
            if mailbox.letters.is_empty() {
                self.mailboxes.remove(name);
                self.bytes = self.bytes.saturating_sub(MAILBOX_BYTES);
            }
        }
        // Only the caller's copy left: nothing is being delivered.
        if Rc::strong_count(letter) == 1 {
            self.bytes = self.bytes.saturating_sub(letter.frame.len() + LETTER_BYTES);
        }
    }

    /// A name known already keeps its recency; a new one (an account that
    /// never logged in) becomes known.
    fn see_if_new(&mut self, name: &str) -> Rc<str> {
        match self.known.get(name) {
            Some(name) => name,
            None => self.see(name, false).0,
        }
    }

    fn room_for(&self, name: &str, size: usize, first: bool) -> Result<(), Refusal> {
        let l = &self.limits;
        let mailbox = self.mailboxes.get(name);
        let (count, bytes) = mailbox.map_or((0, 0), |m| (m.letters.len(), m.bytes));
        if count >= l.mailbox_max {
            return Err(Refusal::Messages(l.mailbox_max));
        }
        if bytes + size > l.mailbox_bytes {
            return Err(Refusal::MailboxBytes(l.mailbox_bytes));
        }
        if mailbox.is_none() && self.mailboxes.len() >= l.max_known {
            return Err(Refusal::Mailboxes(l.max_known));
        }
        let extra = ENTRY_BYTES
            + if first { size + LETTER_BYTES } else { 0 }
            + if mailbox.is_none() { MAILBOX_BYTES } else { 0 };
        if self.bytes + extra > l.held_bytes {
            return Err(Refusal::TotalBytes(l.held_bytes));
        }
        Ok(())
    }

    /// Adds one entry to a mailbox.
    fn put(&mut self, name: &Rc<str>, letter: &Rc<Letter>) {
        let mailbox = self.mailbox(name);
        mailbox.letters.push_back(Rc::clone(letter));
        mailbox.bytes += letter.frame.len();
        self.entries += 1;
        self.bytes += ENTRY_BYTES;
    }

    /// Counts a message's record in what a rewrite of the journal keeps.
    fn charge_journal<S: AsRef<str>>(&mut self, letter: &Letter, to: &[S]) {
        let to: Vec<&str> = to.iter().map(AsRef::as_ref).collect();
        self.live += record::size_of(&Record::Held {
            to,
            frame: &letter.frame,
        });
    }

    /// Takes every letter held for `name`, oldest first, for delivery. They
    /// stay charged until [`delivered`](Self::delivered) or
    /// [`restore`](Self::restore).
    pub fn take_held(&mut self, name: &str) -> VecDeque<Rc<Letter>> {
        let Some(mailbox) = self.mailboxes.remove(name) else {
            return VecDeque::new();
        };
        self.entries -= mailbox.letters.len();
        self.bytes = self.bytes.saturating_sub(MAILBOX_BYTES);
        mailbox.letters
    }

    /// Letters taken for `name` reached it: their charges are released,
    /// and a message delivered to its last recipient is freed.
    pub fn delivered(&mut self, name: &str, letters: VecDeque<Rc<Letter>>) {
        for letter in letters {
            self.bytes = self.bytes.saturating_sub(ENTRY_BYTES);
            let journaled = !letter.refused.get(); // else uncounted already
            if journaled {
                self.live = self.live.saturating_sub(1 + name.len() as u64);
            }
            if Rc::strong_count(&letter) == 1 {
                self.bytes = self.bytes.saturating_sub(letter.frame.len() + LETTER_BYTES);
            }
            if Rc::strong_count(&letter) == 1 && journaled {
                let whole = record::size_of(&Record::Held {
                    to: Vec::new(),
                    frame: &letter.frame,
                });
                self.live = self.live.saturating_sub(whole);
            }
        }
    }

    /// Puts back letters taken by [`take_held`](Self::take_held) that
    /// never reached their recipient, ahead of anything held since.
    pub fn restore(&mut self, name: &Rc<str>, mut letters: VecDeque<Rc<Letter>>) {
        // One given up meanwhile is not held any more: let go of it.
        let (gone, kept): (VecDeque<_>, VecDeque<_>) =
            letters.into_iter().partition(|l| l.refused.get());
        for letter in gone {
            self.bytes = self.bytes.saturating_sub(ENTRY_BYTES);
            if Rc::strong_count(&letter) == 1 {
                self.bytes = self.bytes.saturating_sub(letter.frame.len() + LETTER_BYTES);
            }
        }
        letters = kept;
        if letters.is_empty() {
            return;
        }
        self.entries += letters.len();
        let mailbox = self.mailbox(name);
        mailbox.bytes += letters.iter().map(|l| l.frame.len()).sum::<usize>();
        letters.append(&mut mailbox.letters);
        mailbox.letters = letters;
    }

    /// The mailbox of `name`, made (and charged) if it has none; the name
    /// is known, and kept from being forgotten, while it holds mail.
    fn mailbox(&mut self, name: &Rc<str>) -> &mut Mailbox {
        if !self.known.contains(name) {
            self.see(name, false);
        }
        self.known.pin(name);
        if !self.mailboxes.contains_key(name) {
            self.bytes += MAILBOX_BYTES;
        }
        self.mailboxes.get_or_insert_with(name, Mailbox::default)
    }

    /// Messages held, counted once per recipient.
    pub fn held(&self) -> usize {
        self.entries
    }

    /// Bytes charged against `--held-bytes`.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    pub fn known_names(&self) -> usize {
        self.known.len()
    }

    /// Bytes a rewrite of the journal would take (for compaction).
    pub fn live_bytes(&self) -> u64 {
        self.live
    }
}

/// What a name's `Seen` record takes in the journal.
fn seen_record_size(name: &str) -> u64 {
    record::size_of(&Record::Seen { name, at: 0 })
}

#[cfg(test)]
mod tests;
