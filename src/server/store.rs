//! Who has ever logged in, and the messages held for them while offline.
//!
//! This is the store's in-memory form, the one the hub reads; the
//! [`journal`](super::journal) is its durable form, written alongside by
//! the hub and read back into this at start. Held messages are kept as the
//! exact frames the recipients will receive (shared with online recipients
//! of the same message), so delivering mail at login is a queue push, not a
//! re-encoding. Each mailbox is bounded by `mailbox_max`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use super::journal::Image;

/// A mailbox has reached its limit; the message was not stored.
#[derive(Debug, PartialEq, Eq)]
pub struct MailboxFull;

#[derive(Debug)]
pub struct Store {
    known: HashSet<Rc<str>>,
    mail: HashMap<Rc<str>, VecDeque<Rc<[u8]>>>,
    mailbox_max: usize,
    held: usize,
}

impl Store {
    pub fn new(mailbox_max: usize) -> Store {
        Store {
            known: HashSet::new(),
            mail: HashMap::new(),
            mailbox_max,
            held: 0,
        }
    }

    /// The store as the journal left it.
    pub fn from_image(image: Image, mailbox_max: usize) -> Store {
        let mut store = Store::new(mailbox_max);
        for name in &image.users {
            store.register(name);
        }
        for (name, frames) in image.mail {
            let key = store.register(&name).0;
            store.held += frames.len();
            let mailbox = frames.into_iter().map(Rc::from).collect();
            store.mail.insert(key, mailbox);
        }
        store
    }

    /// Has `name` ever logged in? Messages to unknown names are refused.
    pub fn is_known(&self, name: &str) -> bool {
        self.known.contains(name)
    }

    /// Records a login; returns the shared copy of the name, and whether
    /// it is new.
    pub fn register(&mut self, name: &str) -> (Rc<str>, bool) {
        if let Some(known) = self.known.get(name) {
            return (Rc::clone(known), false);
        }
        let name: Rc<str> = Rc::from(name);
        self.known.insert(Rc::clone(&name));
        (name, true)
    }

    /// Holds a frame for an offline user, in arrival order.
    pub fn hold(&mut self, name: &str, frame: &Rc<[u8]>) -> Result<(), MailboxFull> {
        let key = self.register(name).0;
        let mailbox = self.mail.entry(key).or_default();
        if mailbox.len() >= self.mailbox_max {
            return Err(MailboxFull);
        }
        mailbox.push_back(Rc::clone(frame));
        self.held += 1;
        Ok(())
    }

    /// Takes every frame held for `name`, oldest first.
    pub fn take_held(&mut self, name: &str) -> VecDeque<Rc<[u8]>> {
        let mail = self.mail.remove(name).unwrap_or_default();
        self.held -= mail.len();
        mail
    }

    /// Puts back frames taken by [`take_held`](Self::take_held) that never
    /// reached their recipient, ahead of anything held since.
    pub fn restore(&mut self, name: &str, mut frames: VecDeque<Rc<[u8]>>) {
        let key = self.register(name).0;
        self.held += frames.len();
        let mailbox = self.mail.entry(key).or_default();
        frames.append(mailbox);
        *mailbox = frames;
    }

    /// Known names, and every held frame with its recipient: the live state
    /// a compacted journal must keep.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.known.iter().map(|n| &**n)
    }

    pub fn all_held(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.mail
            .iter()
            .flat_map(|(n, m)| m.iter().map(move |f| (&**n, &f[..])))
    }

    /// Messages held for all users together.
    pub fn held(&self) -> usize {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_in_order_up_to_the_limit() {
        let mut store = Store::new(2);
        assert!(!store.is_known("bob"));
        store.register("bob");
        let frames: Vec<Rc<[u8]>> = (0..3).map(|i| Rc::from(vec![i])).collect();
        assert_eq!(store.hold("bob", &frames[0]), Ok(()));
        assert_eq!(store.hold("bob", &frames[1]), Ok(()));
        assert_eq!(store.hold("bob", &frames[2]), Err(MailboxFull));
        assert_eq!(store.held(), 2);
        let got: Vec<_> = store.take_held("bob").into_iter().collect();
        assert_eq!(got, frames[..2].to_vec());
        assert_eq!((store.held(), store.take_held("bob").len()), (0, 0));
    }
}
