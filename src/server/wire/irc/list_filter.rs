//! `LIST`'s argument: channels named, and ELIST's filters (ISUPPORT
//! `ELIST=MNU`): `>n` more than n members, `<n` fewer, a mask with `*` or
//! `?` (M), and `!mask` for channels that do not match it (N). A room is
//! listed when it is named or matches a mask (if any is given), matches no
//! `!mask`, and its members are within the bounds.

use crate::protocol::{fold, folded, Folded};
use std::collections::HashSet;

/// The most masks a `LIST` is read with (each is tried on every room).
const MAX_MASKS: usize = 8;

/// The longest mask tried (as `WHO`'s).
const MAX_MASK: usize = 64;

#[derive(Debug, Default)]
pub(super) struct ListFilter<'a> {
    /// Channels named: each room is one lookup, however many are named.
    named: HashSet<Folded>,
    masks: Vec<&'a str>,
    not: Vec<&'a str>,
    more_than: Option<usize>,
    fewer_than: Option<usize>,
}

impl<'a> ListFilter<'a> {
    pub(super) fn parse(argument: &'a str) -> ListFilter<'a> {
        let mut filter = ListFilter::default();
        for item in argument.split(',').filter(|i| !i.is_empty()) {
            if let Some(n) = item.strip_prefix('>') {
                // More than a number past counting: none; than no number:
                // none either (a filter never widens what is listed).
                filter.more_than = Some(count(n).unwrap_or(usize::MAX));
            } else if let Some(n) = item.strip_prefix('<') {
                filter.fewer_than = Some(count(n).unwrap_or(0));
            } else if let Some(mask) = item.strip_prefix('!') {
                if filter.not.len() < MAX_MASKS {
                    filter.not.push(mask);
                }
            } else if item.len() > MAX_MASK {
                // Too long to try on every room: as a name, found nowhere.
                filter.named.insert(fold(item));
            } else if item.contains(['*', '?']) {
                if filter.masks.len() < MAX_MASKS {
                    filter.masks.push(item);
                }
            } else {
                filter.named.insert(fold(item));
            }
        }
        filter
    }

    /// Is `room`, of `members`, listed?
    pub(super) fn lists(&self, room: &str, members: usize) -> bool {
        let matches = |mask: &&str| super::whois::matches(mask, room);
        let chosen = (self.named.is_empty() && self.masks.is_empty())
            || folded(room, |f| self.named.contains(f))
            || self.masks.iter().any(matches);
        chosen
            && !self.not.iter().any(matches)
            && self.more_than.is_none_or(|n| members > n)
            && self.fewer_than.is_none_or(|n| members < n)
    }
}

/// A member count as a filter writes it: digits, saturating; `None` if
/// it is not one.
fn count(n: &str) -> Option<usize> {
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(n.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_masks_negations_and_sizes() {
        let rooms = [("#rust", 10), ("#Go", 3), ("#rustaceans", 1), ("#c", 40)];
        let listed = |argument: &str| -> Vec<&str> {
            let filter = ListFilter::parse(argument);
            rooms
                .iter()
                .filter(|(r, n)| filter.lists(r, *n))
                .map(|(r, _)| *r)
                .collect()
        };
        assert_eq!(listed(""), ["#rust", "#Go", "#rustaceans", "#c"]);
        assert_eq!(listed("#RUST,#c"), ["#rust", "#c"]);
        assert_eq!(listed("#rust*"), ["#rust", "#rustaceans"]);
        assert_eq!(listed("!#rust*"), ["#Go", "#c"]);
        assert_eq!(listed(">2,<20"), ["#rust", "#Go"]);
        assert_eq!(listed("#rust*,>5"), ["#rust"]);
        assert_eq!(listed("#?o"), ["#Go"]);
        // Filters that cannot be read, or past counting, list nothing.
        assert!(listed(">x").is_empty() && listed("<-1").is_empty());
        assert!(listed(">99999999999999999999999").is_empty());
        assert_eq!(listed("<99999999999999999999999").len(), 4);
    }
}
