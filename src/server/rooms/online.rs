//! The sessions of a room's members online: a list to fan out over, with
//! each key's place kept so that a logout takes it out at once.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub(super) struct OnlineKeys {
    keys: Vec<usize>,
    at: HashMap<usize, usize>,
}

impl OnlineKeys {
    pub(super) fn insert(&mut self, key: usize) {
        if self.at.contains_key(&key) {
            return;
        }
        self.at.insert(key, self.keys.len());
        self.keys.push(key);
    }

    pub(super) fn remove(&mut self, key: usize) {
        let Some(i) = self.at.remove(&key) else {
            return;
        };
        self.keys.swap_remove(i);
        if let Some(&moved) = self.keys.get(i) {
            self.at.insert(moved, i);
        }
    }

    pub(super) fn keys(&self) -> &[usize] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::OnlineKeys;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn holds_exactly_the_keys_inserted_and_not_removed(
            ops in proptest::collection::vec((any::<bool>(), 0usize..8), 0..64)
        ) {
            let mut keys = OnlineKeys::default();
            let mut model = BTreeSet::new();
            for (insert, key) in ops {
                if insert {
                    keys.insert(key);
                    model.insert(key);
                } else {
                    keys.remove(key);
                    model.remove(&key);
                }
                let held: BTreeSet<usize> = keys.keys().iter().copied().collect();
                prop_assert_eq!(keys.keys().len(), held.len());
                prop_assert_eq!(&held, &model);
            }
        }
    }
}
