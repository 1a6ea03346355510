//! [`NameMap`]: the one shape every map of user names in the server takes
//! — who is online, who is known, whose mailbox, who is in a room — so
//! that each compares names without ASCII case (`Bob` and `bob` are one
//! user; see [`crate::protocol::names`]) and shows a name as it was first
//! written, without each caller remembering to fold.
//!
//! It is keyed by the folded form and takes `&str` as written: a lookup
//! folds on the stack, so the message path allocates nothing for it.

use crate::protocol::names::{fold, folded, Folded};
use std::collections::hash_map::{self, HashMap};
use std::rc::Rc;

/// Values by user name, compared without ASCII case; each entry keeps the
/// spelling its name was first inserted with.
#[derive(Debug)]
pub struct NameMap<V> {
    map: HashMap<Folded, (Rc<str>, V)>,
}

/// Names, compared without ASCII case, each as first written.
pub type NameSet = NameMap<()>;

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap {
            map: HashMap::new(),
        }
    }
}

impl<V> NameMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&V> {
        folded(name, |k| self.map.get(k)).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        folded(name, |k| self.map.get_mut(k)).map(|(_, v)| v)
    }

    /// The name as shown (its first spelling), and its value.
    pub fn get_key_value(&self, name: &str) -> Option<(&Rc<str>, &V)> {
        folded(name, |k| self.map.get(k)).map(|(n, v)| (n, v))
    }

    /// The name as shown, whatever case `name` is written in.
    pub fn shown(&self, name: &str) -> Option<&Rc<str>> {
        self.get_key_value(name).map(|(n, _)| n)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        folded(name, |k| self.map.contains_key(k))
    }

    /// Sets the value of `name`; a name already here keeps the spelling
    /// it was first written with. Returns the value it had.
    pub fn insert(&mut self, name: Rc<str>, value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(&name) {
            return Some(std::mem::replace(slot, value));
        }
        self.map.insert(fold(&name), (name, value));
        None
    }

    /// The value of `name`, made by `make` if it has none (then shown as
    /// `name` is written).
    pub fn get_or_insert_with(&mut self, name: &Rc<str>, make: impl FnOnce() -> V) -> &mut V {
        let (_, value) = match self.map.entry(fold(name)) {
            hash_map::Entry::Occupied(e) => e.into_mut(),
            hash_map::Entry::Vacant(e) => e.insert((Rc::clone(name), make())),
        };
        value
    }

    pub fn remove(&mut self, name: &str) -> Option<V> {
        self.remove_entry(name).map(|(_, v)| v)
    }

    /// Removes `name`, returning it as shown with its value.
    pub fn remove_entry(&mut self, name: &str) -> Option<(Rc<str>, V)> {
        folded(name, |k| self.map.remove(k))
    }

    /// The names, as shown.
    pub fn keys(&self) -> impl Iterator<Item = &Rc<str>> {
        self.map.values().map(|(n, _)| n)
    }

    /// The names, as shown, taken out of the map.
    pub fn into_keys(self) -> impl Iterator<Item = Rc<str>> {
        self.map.into_values().map(|(n, _)| n)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values().map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Rc<str>, &V)> {
        self.map.values().map(|(n, v)| (n, v))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Rc<str>, &mut V) -> bool) {
        self.map.retain(|_, (n, v)| keep(n, v));
    }
}

impl NameSet {
    /// Adds `name`; false if it (in any case) was there already.
    pub fn add(&mut self, name: Rc<str>) -> bool {
        self.insert(name, ()).is_none()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.contains_key(name)
    }
}

impl FromIterator<Rc<str>> for NameSet {
    fn from_iter<I: IntoIterator<Item = Rc<str>>>(names: I) -> Self {
        let mut set = NameSet::new();
        for name in names {
            set.add(name);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_entry_in_any_case_and_keeps_its_first_spelling() {
        let mut online = NameMap::new();
        assert_eq!(online.insert(Rc::from("Bob"), 1), None);
        assert_eq!(online.insert(Rc::from("bob"), 2), Some(1));
        assert_eq!(online.len(), 1);
        assert_eq!(online.get("BOB"), Some(&2));
        assert_eq!(online.shown("bOb").map(|n| &**n), Some("Bob"));
        *online.get_or_insert_with(&Rc::from("BOB"), || 9) += 1;
        assert_eq!(online.get("bob"), Some(&3));
        assert!(online.contains_key("bob") && !online.contains_key("bobby"));
        let (shown, value) = online.remove_entry("bob").unwrap();
        assert_eq!((&*shown, value), ("Bob", 3));
        assert!(online.is_empty());
        let mut set = NameSet::new();
        assert!(set.add(Rc::from("amy")) && !set.add(Rc::from("AMY")));
        assert_eq!(set.keys().map(|n| &**n).collect::<Vec<_>>(), ["amy"]);
    }
}
