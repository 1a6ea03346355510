//! Known names — who may be sent mail while offline — as a bounded set.
//!
//! On an open server anyone may log in under any name, and every name that
//! logs in becomes known; without a bound, a script could grow the server
//! (and its journal) without end. Past the limit the least recently seen
//! names are forgotten, but only those that may be: a name that is online,
//! or holds mail, is *pinned* and kept out of the order until it may be
//! forgotten again (its logout). So forgetting is a pop from the front of
//! an ordered map, never a scan.

use crate::server::names::NameMap;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Debug, Default)]
pub struct KnownNames {
    /// Every known name, as first written (compared without case), and
    /// its place in `forgettable` unless pinned.
    names: NameMap<Option<u64>>,
    /// Names that may be forgotten, least recently seen first.
    forgettable: BTreeMap<u64, Rc<str>>,
    next: u64,
}

impl KnownNames {
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    pub(super) fn len(&self) -> usize {
        self.names.len()
    }

    /// The shared copy of a known name, as first written.
    pub fn get(&self, name: &str) -> Option<Rc<str>> {
        self.names.shown(name).map(Rc::clone)
    }

    /// Marks `name` seen now: known from now on, and either forgettable
    /// (as the most recently seen) or pinned. Returns the shared copy (as
    /// first written), and whether the name is new.
    pub fn see(&mut self, name: &str, forgettable: bool) -> (Rc<str>, bool) {
        let (name, new) = match self.get(name) {
            Some(name) => (name, false),
            None => (Rc::from(name), true),
        };
        if let Some(Some(at)) = self.names.get(&name) {
            self.forgettable.remove(at);
        }
        let place = forgettable.then(|| {
            self.next += 1;
            self.forgettable.insert(self.next, Rc::clone(&name));
            self.next
        });
        self.names.insert(Rc::clone(&name), place);
        (name, new)
    }

    /// Keeps a known name from being forgotten (it now holds mail).
    pub fn pin(&mut self, name: &Rc<str>) {
        if let Some(Some(at)) = self.names.get(name).copied() {
            self.forgettable.remove(&at);
            self.names.insert(Rc::clone(name), None);
        }
    }

    /// Forgets the least recently seen forgettable names until at most
    /// `max` are known (or none may be forgotten); returns them.
    pub fn forget_past(&mut self, max: usize) -> Vec<Rc<str>> {
        let mut forgotten = Vec::new();
        while self.names.len() > max {
            let Some((_, name)) = self.forgettable.pop_first() else {
                break; // everyone left is pinned
            };
            self.names.remove(&name);
            forgotten.push(name);
        }
        forgotten
    }
}
