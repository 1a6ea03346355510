//! A set of connection keys listed once per turn: the sessions to flush,
//! to cut, to read again, waiting for the journal. Each is a list (the
//! order work is done in) and a flag per key (so a key is listed once),
//! kept in step here rather than by every caller.
//!
//! Keys are slab keys, which are reused: an entry means "look at whoever
//! has this key when the list is taken", so a stale entry is harmless and
//! a new session at a listed key is covered by the entry already there.

/// Keys listed at most once until the list is taken.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<usize>,
    /// A flag per key (a byte: cheaper to test and set than a bit, and a
    /// key's byte costs nothing beside its session): set exactly for the
    /// keys in `keys`.
    listed: Vec<bool>,
}

impl KeySet {
    /// Lists `key` unless it is listed already; returns whether it was new.
    #[inline]
    pub fn insert(&mut self, key: usize) -> bool {
        match self.listed.get_mut(key) {
            Some(true) => return false,
            Some(flag) => *flag = true,
            None => {
                self.listed.resize(key + 1, false);
                if let Some(flag) = self.listed.get_mut(key) {
                    *flag = true;
                }
            }
        }
        self.keys.push(key);
        true
    }

    /// Is `key` listed?
    #[inline]
    pub fn contains(&self, key: usize) -> bool {
        self.listed.get(key).is_some_and(|&f| f)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Moves the listed keys, in the order listed, into `into` (cleared
    /// first) and empties the set, so they may be listed again.
    pub fn take_into(&mut self, into: &mut Vec<usize>) {
        into.clear();
        self.clear_flags();
        std::mem::swap(into, &mut self.keys);
    }

    /// The listed keys, in the order listed; the set is left empty.
    pub fn take(&mut self) -> Vec<usize> {
        let mut keys = Vec::new();
        self.take_into(&mut keys);
        keys
    }

    /// Empties the set, keeping its memory for the next turn.
    pub fn clear(&mut self) {
        self.clear_flags();
        self.keys.clear();
    }

    /// Keeps only the keys `keep` says to keep (in order).
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        for key in self.take() {
            if keep(key) {
                self.insert(key);
            }
        }
    }

    fn clear_flags(&mut self) {
        // Many keys listed: wiping every flag is cheaper than one by one.
        if self.keys.len() * 8 >= self.listed.len() {
            return self.listed.fill(false);
        }
        for &key in &self.keys {
            if let Some(flag) = self.listed.get_mut(key) {
                *flag = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_key_is_listed_once_until_taken() {
        let mut set = KeySet::default();
        assert!(set.insert(3));
        assert!(set.insert(200));
        assert!(!set.insert(3));
        assert!(set.contains(200) && !set.contains(4));
        assert_eq!(set.take(), vec![3, 200]);
        assert!(set.is_empty() && !set.contains(3));
        assert!(set.insert(3), "listed again once taken");
    }

    proptest! {
        #[test]
        fn the_list_and_the_bits_agree(ops in proptest::collection::vec((0usize..300, any::<bool>()), 0..200)) {
            let mut set = KeySet::default();
            let mut model: Vec<usize> = Vec::new();
            for (key, take) in ops {
                if take {
                    prop_assert_eq!(set.take(), std::mem::take(&mut model));
                } else {
                    let new = !model.contains(&key);
                    prop_assert_eq!(set.insert(key), new);
                    if new {
                        model.push(key);
                    }
                }
                for k in 0..300 {
                    prop_assert_eq!(set.contains(k), model.contains(&k));
                }
            }
        }
    }
}
