//! Names that are one name: a journal written by an evchat that compared
//! names byte for byte may know `Bob` and `bob` as two users, each with
//! held mail and rooms. Names are compared without ASCII case now, so at
//! start such names become one, spelt as the most recently seen of them:
//! their held mail is one mailbox (in the order it was accepted; a message
//! held for both is held once), their rooms one set of memberships, and
//! their catch-up starts where the earliest of them stood (a message may
//! come again, none is missed). The journal is then rewritten as the
//! merged image ([`super::Journal::open`]), so its records never name one
//! user in two spellings again: replaying it needs no folding, and a
//! delivery recorded under a name counts that name's one mailbox.

use super::replay::Image;
use crate::protocol::names::fold_text;
use std::collections::{BTreeSet, HashMap};

/// One name that was several: the spelling kept, and the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub kept: String,
    pub others: Vec<String>,
}

/// Makes names that differ only in ASCII case one in `image`, spelt as
/// the most recently seen of them; returns what was merged (nothing for
/// a journal of a server that compared names without case).
pub fn merge_names(image: &mut Image) -> Vec<Merged> {
    // Known names are least recently seen first: the last spelling of a
    // name wins. Names held mail or rooms but not known (never, as the
    // replay knows them all) come first, as the least recent.
    let mut order: Vec<&str> = Vec::new();
    order.extend(
        image
            .held
            .iter()
            .flat_map(|(_, to)| to.iter().map(String::as_str)),
    );
    order.extend(
        image
            .rooms
            .rooms
            .iter()
            .flat_map(|(_, members)| members.iter().map(String::as_str)),
    );
    order.extend(image.known.iter().map(|(n, _)| n.as_str()));
    let mut spellings: HashMap<String, Vec<String>> = HashMap::new();
    for name in order {
        let all = spellings.entry(fold_text(name)).or_default();
        all.retain(|n| n != name);
        all.push(name.to_owned());
    }
    let mut merged: Vec<Merged> = spellings
        .into_values()
        .filter(|all| all.len() > 1)
        .filter_map(|mut all| {
            let kept = all.pop()?;
            all.sort_unstable();
            Some(Merged { kept, others: all })
        })
        .collect();
    if merged.is_empty() {
        return merged;
    }
    merged.sort_unstable_by(|a, b| a.kept.cmp(&b.kept));
    let rename: HashMap<&str, &str> = merged
        .iter()
        .flat_map(|m| m.others.iter().map(|o| (o.as_str(), m.kept.as_str())))
        .collect();
    let renamed = |name: &String| {
        rename
            .get(name.as_str())
            .map_or(name.clone(), |k| (*k).to_owned())
    };

    // Known: the kept spelling keeps its place, when it was last seen.
    image
        .known
        .retain(|(name, _)| !rename.contains_key(name.as_str()));
    for (_, to) in &mut image.held {
        let names: BTreeSet<String> = to.iter().map(renamed).collect();
        *to = names.into_iter().collect();
    }
    for (_, members) in &mut image.rooms.rooms {
        // In join order, each name once (at its first join).
        let mut seen = std::collections::HashSet::new();
        *members = members
            .iter()
            .map(renamed)
            .filter(|n| seen.insert(n.clone()))
            .collect();
    }
    let mut read: HashMap<String, u64> = HashMap::new();
    for (name, seq) in image.rooms.read.drain(..) {
        let at = read.entry(renamed(&name)).or_insert(seq);
        *at = (*at).min(seq);
    }
    image.rooms.read = read.into_iter().collect();
    image.rooms.read.sort_unstable();
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::journal::RoomsImage;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn spellings_of_one_name_merge_into_the_most_recently_seen_mail_and_rooms_together() {
        let mut image = Image {
            known: vec![("bob".into(), 1), ("amy".into(), 2), ("Bob".into(), 3)],
            held: vec![
                (b"one\n".to_vec(), s(&["bob"])),
                (b"two\n".to_vec(), s(&["Bob", "amy"])),
                (b"both\n".to_vec(), s(&["Bob", "bob"])),
            ],
            rooms: RoomsImage {
                rooms: vec![
                    ("#a".into(), s(&["amy", "bob"])),
                    ("#b".into(), s(&["Bob", "bob"])),
                ],
                said: Vec::new(),
                read: vec![("Bob".into(), 7), ("bob".into(), 5)],
                settings: Vec::new(),
            },
        };
        let merged = merge_names(&mut image);
        assert_eq!(
            merged,
            [Merged {
                kept: "Bob".into(),
                others: s(&["bob"])
            }]
        );
        assert_eq!(image.known, [("amy".into(), 2), ("Bob".into(), 3)]);
        let held: Vec<Vec<String>> = image.held.iter().map(|(_, to)| to.clone()).collect();
        assert_eq!(held, [s(&["Bob"]), s(&["Bob", "amy"]), s(&["Bob"])]);
        // Members stay in join order (the longest-standing first).
        assert_eq!(image.rooms.rooms[0].1, s(&["amy", "Bob"]));
        assert_eq!(image.rooms.rooms[1].1, s(&["Bob"]));
        assert_eq!(image.rooms.read, [("Bob".into(), 5)]);
    }

    #[test]
    fn a_journal_without_such_names_is_left_as_it_is() {
        let mut image = Image {
            known: vec![("bob".into(), 1), ("amy".into(), 2)],
            held: vec![(b"x\n".to_vec(), s(&["bob"]))],
            rooms: RoomsImage::default(),
        };
        let before = format!("{image:?}");
        assert!(merge_names(&mut image).is_empty());
        assert_eq!(format!("{image:?}"), before);
    }
}
