//! Rooms across the cluster: what the rooms bucket and stream hold, and
//! how their entries read.
//!
//! - The bucket `evchat_rooms` has one key per name and room,
//!   `r.<room folded>.<name folded>`, whose value says whether the name is
//!   in the room — `J <time> <room> <name>` since it joined (the name as
//!   shown), `R <time> <room> <name> <old> <place>` since it took over
//!   `old`'s membership by a rename (in `old`'s place: see below),
//!   `N <time> <room> <new> <place>` since it handed its membership, in
//!   place `place`, to `new` by a rename, `P <time> <room>[ <text>]` since
//!   it left, `K <time> <room> <by>[
//!   <text>]` since an operator put it out — and one per name,
//!   `m.<name folded>`, its read mark: the sequence of the rooms stream up
//!   to which it has been sent what its rooms said. (An older evchat's
//!   keys spell the name as shown, and its `J` values do not name it: both
//!   are read, and the hub's copy compares names without case.)
//! - The stream `EVCHAT_ROOMS` holds what rooms said, each message once
//!   (the exact `MSG` frame), on the subject `evchat.said.<room folded>`
//!   of the first room it was said in, the others in its header
//!   `Evchat-Rooms`. Its sequence is every room's order, the same on every
//!   node. It keeps `--history` messages per subject and `--history-bytes`
//!   in all, the oldest going first. Its header `Evchat-After` is the
//!   bucket revision the sender's node had applied: every node takes the
//!   message in only once its watch has brought as much.
//!
//! A member's seniority in a room (who becomes its operator when the last
//! one leaves) is the bucket revision of its join, so every node, and a
//! node that has just started, agrees on it; a rename carries it over.
//!
//! Every node follows both (the bucket with a watch, history first; the
//! stream with an ordered consumer, from its first message) into the same
//! [`Rooms`](crate::server::rooms::Rooms) a single server keeps, so `WHO`,
//! catch-ups and fan-out read a local copy; a node's own changes are
//! written here first and take effect when they come back, in the same
//! order as everyone else's.

use crate::protocol::command::{is_valid_name, is_valid_room};
use crate::protocol::names::{fold_text, same_name};

/// The bucket of memberships and read marks.
pub const ROOMS_BUCKET: &str = "evchat_rooms";
/// The stream of what rooms said.
pub const ROOMS_STREAM: &str = "EVCHAT_ROOMS";
/// The header naming every room a message was said in.
pub const ROOMS_HEADER: &str = "Evchat-Rooms";
/// The header giving the bucket revision its sender's node had applied
/// when the message was said: a node applies the message only after it
/// has applied as much of the bucket (its sender's join, the room's
/// making among it).
pub const AFTER_HEADER: &str = "Evchat-After";

/// A change of membership, as the bucket records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// As shown.
    pub room: String,
    pub name: String,
    /// Joined, or left.
    pub joined: bool,
    pub time: String,
    /// What a leaver said (escaped protocol text).
    pub text: Option<String>,
    /// The operator who put it out (`KICK`), if one did.
    pub kicked_by: Option<String>,
    /// A join that is a rename: the old name, and its place in the room's
    /// seniority, which the new name keeps.
    pub renamed_from: Option<(String, u64)>,
    /// A leaving that is a rename: the new name, and the place it takes.
    pub renamed_to: Option<(String, u64)>,
}

/// What an entry of the rooms bucket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomsEntry {
    Member(Membership),
    Read {
        name: String,
        seq: u64,
    },
    /// A room's settings (the room `#` and folded; the value as the
    /// rooms' settings write it, read by the hub).
    Settings {
        room: String,
        value: String,
    },
}

impl Membership {
    /// What a rename of `old` to `new` writes for one room (as shown,
    /// with `old`'s place in it): first `old`'s leaving to `new` (over its
    /// join, compare-and-swap, so a kick or a part meanwhile wins), then
    /// `new`'s join by the rename.
    pub fn renamed(old: &str, new: &str, time: &str, room: &str, place: u64) -> [Membership; 2] {
        let change = |name: &str, joined: bool| Membership {
            room: room.to_owned(),
            name: name.to_owned(),
            joined,
            time: time.to_owned(),
            text: None,
            kicked_by: None,
            renamed_from: None,
            renamed_to: None,
        };
        [
            Membership {
                renamed_to: Some((new.to_owned(), place)),
                ..change(old, false)
            },
            Membership {
                renamed_from: Some((old.to_owned(), place)),
                ..change(new, true)
            },
        ]
    }

    /// Its key in the rooms bucket.
    pub fn key(&self) -> String {
        member_key(&self.room, &self.name)
    }

    /// Its value in the rooms bucket.
    pub fn value(&self) -> String {
        match (&self.text, &self.kicked_by) {
            _ if self.joined => match &self.renamed_from {
                Some((old, place)) => {
                    format!("R {} {} {} {old} {place}", self.time, self.room, self.name)
                }
                None => format!("J {} {} {}", self.time, self.room, self.name),
            },
            (Some(text), Some(by)) => format!("K {} {} {by} {text}", self.time, self.room),
            (None, Some(by)) => format!("K {} {} {by}", self.time, self.room),
            _ if self.renamed_to.is_some() => {
                let (new, place) = self.renamed_to.as_ref().map_or(("", 0), |(n, p)| (n, *p));
                format!("N {} {} {new} {place}", self.time, self.room)
            }
            (text, None) => match text {
                Some(text) => format!("P {} {} {text}", self.time, self.room),
                None => format!("P {} {}", self.time, self.room),
            },
        }
    }
}

/// The key of `room`'s settings.
pub fn settings_key(room: &str) -> String {
    format!("s.{}", folded(room))
}

/// The key of `name`'s membership of `room`: both folded, so a name is a
/// member once in any case.
pub fn member_key(room: &str, name: &str) -> String {
    format!("r.{}.{}", folded(room), fold_text(name))
}

/// The key of `name`'s read mark.
pub fn read_key(name: &str) -> String {
    format!("m.{}", fold_text(name))
}

/// The stream subject of what `room` said.
pub fn said_subject(room: &str) -> String {
    format!("evchat.said.{}", folded(room))
}

/// `room` without its `#`, in lower case: a subject or key token.
pub fn folded(room: &str) -> String {
    fold_text(room.trim_start_matches('#'))
}

/// Reads an entry of the rooms bucket; `None` for anything malformed (the
/// bucket is writable by anyone who can reach NATS: nothing unchecked
/// reaches a client). A deleted or purged membership is a leaving without
/// a time or text.
pub fn parse_entry(key: &str, value: &[u8], deleted: bool) -> Option<RoomsEntry> {
    if let Some(name) = key.strip_prefix("m.") {
        let seq = std::str::from_utf8(value).ok()?.parse().ok()?;
        return is_valid_name(name).then(|| RoomsEntry::Read {
            name: name.to_owned(),
            seq,
        });
    }
    if let Some(room) = key.strip_prefix("s.") {
        let value = std::str::from_utf8(value).ok()?;
        return (is_valid_name(room) && !deleted).then(|| RoomsEntry::Settings {
            room: format!("#{room}"),
            value: value.to_owned(),
        });
    }
    let (folded_room, name) = key.strip_prefix("r.")?.split_once('.')?;
    if !is_valid_name(name) || !is_valid_name(folded_room) {
        return None;
    }
    if deleted {
        return Some(RoomsEntry::Member(Membership {
            room: format!("#{folded_room}"),
            name: name.to_owned(),
            joined: false,
            time: String::new(),
            text: None,
            kicked_by: None,
            renamed_from: None,
            renamed_to: None,
        }));
    }
    let value = std::str::from_utf8(value).ok()?;
    let mut parts = value.splitn(4, ' ');
    let kind = parts.next()?;
    let (joined, kicked) = match kind {
        "J" | "R" => (true, false),
        "P" | "N" => (false, false),
        "K" => (false, true),
        _ => return None,
    };
    let time = parts.next().filter(|t| !t.is_empty())?;
    let room = parts.next()?;
    let mut rest = parts.next();
    let mut kicked_by = None;
    if kicked {
        let (by, text) = match rest?.split_once(' ') {
            Some((by, text)) => (by, Some(text)),
            None => (rest?, None),
        };
        is_valid_name(by).then_some(())?;
        kicked_by = Some(by.to_owned());
        rest = text;
    }
    // A rename names the old name and its place after the new one.
    let mut renamed_from = None;
    if kind == "R" {
        let mut fields = rest?.split(' ');
        let (spelt, old, place) = (fields.next()?, fields.next()?, fields.next()?);
        let place = canonical_number(place)?;
        let valid = fields.next().is_none() && is_valid_name(old) && !same_name(old, spelt);
        valid.then_some(())?;
        renamed_from = Some((old.to_owned(), place));
        rest = Some(spelt);
    }
    let mut renamed_to = None;
    if kind == "N" {
        let (new, place) = rest?.split_once(' ')?;
        let place = canonical_number(place)?;
        let valid = is_valid_name(new) && !same_name(new, name);
        valid.then_some(())?;
        renamed_to = Some((new.to_owned(), place));
        rest = None;
    }
    // A join names the member as shown (one of an older evchat does not:
    // its key does); a leaving may say why.
    let (name, text) = match rest {
        Some(spelt) if joined => (same_name(spelt, name).then_some(spelt)?, None),
        rest => (name, rest),
    };
    let text_ok = |t: &str| crate::protocol::Text::parse(t).is_ok();
    let fits = is_valid_room(room)
        && folded(room) == folded_room
        && super::wire::is_stamp(time)
        && text.is_none_or(text_ok);
    fits.then(|| {
        RoomsEntry::Member(Membership {
            room: room.to_owned(),
            name: name.to_owned(),
            joined,
            time: time.to_owned(),
            text: text.map(str::to_owned),
            kicked_by,
            renamed_from,
            renamed_to,
        })
    })
}

/// A place in a room's seniority as a node writes it: digits, no sign, no
/// leading zero.
fn canonical_number(text: &str) -> Option<u64> {
    let number: u64 = text.parse().ok()?;
    (number.to_string() == text).then_some(number)
}

/// Reads the `Evchat-Rooms` header: the rooms a message was said in.
pub fn parse_rooms(header: &str) -> Option<Vec<String>> {
    let rooms: Vec<String> = header.split(',').map(str::to_owned).collect();
    rooms.iter().all(|r| is_valid_room(r)).then_some(rooms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: &str = "2026-12-07T10:00:00.000Z";

    fn joined(room: &str, name: &str) -> Membership {
        Membership {
            room: room.into(),
            name: name.into(),
            joined: true,
            time: STAMP.into(),
            text: None,
            kicked_by: None,
            renamed_from: None,
            renamed_to: None,
        }
    }

    #[test]
    fn a_rename_reads_back_with_the_old_name_and_its_place() {
        let [n, r] = Membership::renamed("amy", "Ann", STAMP, "#Rust", 41);
        assert_eq!(n.key(), "r.rust.amy");
        assert_eq!(n.value(), format!("N {STAMP} #Rust Ann 41"));
        let back = parse_entry(&n.key(), n.value().as_bytes(), false);
        assert_eq!(back, Some(RoomsEntry::Member(n)));
        for bad in ["Ann", "Ann 041", "Ann +4", "amy 4", "A!n 4", "Ann 4 5"] {
            let value = format!("N {STAMP} #Rust {bad}");
            assert_eq!(
                parse_entry("r.rust.amy", value.as_bytes(), false),
                None,
                "{bad}"
            );
        }
        assert_eq!(r.key(), "r.rust.ann");
        assert_eq!(r.value(), format!("R {STAMP} #Rust Ann amy 41"));
        let back = parse_entry(&r.key(), r.value().as_bytes(), false);
        assert_eq!(back, Some(RoomsEntry::Member(r)));
        for bad in [
            format!("R {STAMP} #Rust Ann amy"),
            format!("R {STAMP} #Rust Ann amy x"),
            format!("R {STAMP} #Rust Ann amy 4 5"),
            format!("R {STAMP} #Rust Ann amy 04"),
            format!("R {STAMP} #Rust Ann amy +4"),
            format!("R {STAMP} #Rust Ann a!y 4"),
            format!("R {STAMP} #Rust Ann ANN 4"),
            format!("R {STAMP} #Rust bob amy 4"),
        ] {
            assert_eq!(
                parse_entry("r.rust.ann", bad.as_bytes(), false),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_membership_reads_back_as_written() {
        let j = joined("#Rust", "Bob");
        assert_eq!(j.key(), "r.rust.bob", "one key in any case");
        assert_eq!(j.value(), format!("J {STAMP} #Rust Bob"));
        let back = parse_entry(&j.key(), j.value().as_bytes(), false);
        assert_eq!(back, Some(RoomsEntry::Member(j.clone())));
        let p = Membership {
            joined: false,
            text: Some("bye for now".into()),
            ..j
        };
        let back = parse_entry(&p.key(), p.value().as_bytes(), false);
        // A leaving names its member by the key: the hub shows the name as
        // its copy of the room has it.
        let named_by_key = Membership {
            name: "bob".into(),
            ..p
        };
        assert_eq!(back, Some(RoomsEntry::Member(named_by_key)));
    }

    #[test]
    fn a_kick_and_settings_read_back() {
        let k = Membership {
            joined: false,
            text: Some("spam".into()),
            kicked_by: Some("amy".into()),
            ..joined("#Rust", "bob")
        };
        assert_eq!(
            parse_entry(&k.key(), k.value().as_bytes(), false),
            Some(RoomsEntry::Member(k.clone()))
        );
        let quiet = Membership { text: None, ..k };
        assert_eq!(
            parse_entry(&quiet.key(), quiet.value().as_bytes(), false),
            Some(RoomsEntry::Member(quiet))
        );
        assert_eq!(
            parse_entry(&settings_key("#Rust"), b"f +nt\n", false),
            Some(RoomsEntry::Settings {
                room: "#rust".into(),
                value: "f +nt\n".into()
            })
        );
        assert_eq!(parse_entry("s.a.b", b"", false), None);
        assert_eq!(
            parse_entry("r.rust.bob", b"K 2026-11-23T10:15:30.123Z #Rust", false),
            None
        );
    }

    #[test]
    fn an_older_evchats_entries_read_too() {
        let old = parse_entry("r.rust.Bob", format!("J {STAMP} #Rust").as_bytes(), false);
        assert_eq!(old, Some(RoomsEntry::Member(joined("#Rust", "Bob"))));
        assert_eq!(read_key("Bob"), "m.bob");
        // A join naming someone else is not one.
        let forged = format!("J {STAMP} #Rust amy");
        assert_eq!(parse_entry("r.rust.bob", forged.as_bytes(), false), None);
    }

    #[test]
    fn read_marks_and_deletions_read_too() {
        assert_eq!(
            parse_entry("m.bob", b"42", false),
            Some(RoomsEntry::Read {
                name: "bob".into(),
                seq: 42
            })
        );
        let Some(RoomsEntry::Member(gone)) = parse_entry("r.rust.bob", b"", true) else {
            panic!("a deletion is a leaving");
        };
        assert!(!gone.joined);
        assert_eq!(gone.room, "#rust");
    }

    #[test]
    fn malformed_entries_are_refused() {
        let t = STAMP;
        for (key, value) in [
            ("r.rust.bob", format!("X {t} #rust")),
            ("r.rust.bob", format!("J {t} #go")),
            ("r.rust.bob", format!("J {t} rust")),
            ("r.rust.bob", "J  #rust".to_owned()),
            ("r.rust.bob", "J 1 #rust".to_owned()),
            ("r.rust.bob", format!("P {t} #rust a\nb")),
            ("r.rust.b b", format!("J {t} #rust")),
            ("r.ru st.bob", format!("J {t} #rust")),
            ("m.bob", "x".to_owned()),
            ("x.bob", "1".to_owned()),
        ] {
            let parsed = parse_entry(key, value.as_bytes(), false);
            assert_eq!(parsed, None, "{key} {value:?}");
        }
        assert_eq!(parse_entry("r.rust.bob", b"\xff", false), None);
    }

    #[test]
    fn the_rooms_header_names_rooms_only() {
        assert_eq!(
            parse_rooms("#a,#B"),
            Some(vec!["#a".to_owned(), "#B".to_owned()])
        );
        assert_eq!(parse_rooms("#a,bob"), None);
        assert_eq!(parse_rooms(""), None);
    }
}
