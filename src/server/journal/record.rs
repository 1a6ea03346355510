//! The journal's record format: pure bytes in, bytes out, so it can be
//! unit-tested, property-tested and fuzzed apart from any file.
//!
//! A journal file is a header ([`MAGIC`] or the older [`MAGIC_V1`]) and then
//! records `[length: u32 LE][crc32 of payload: u32 LE][payload]`. The
//! payload is a kind byte and its fields; a name is one length byte and at
//! most 255 bytes (the protocol allows 32):
//!
//! - `L name at: u64 LE` — `name` was seen (logged in or out) at `at`, in
//!   milliseconds since the Unix epoch; it is known, and its recency orders
//!   the forgetting of names past `--max-known`;
//! - `F name` — `name` was forgotten;
//! - `M count: u32 LE, count names, frame` — `frame` (the exact `MSG` line
//!   its recipients will get) is held once for all of those names;
//! - `D name count: u32 LE` — the oldest `count` messages held for `name`
//!   were delivered;
//! - `J name room` — `name` joined `room` (spelt as the room is shown);
//! - `P name room` — `name` left `room`;
//! - `S seq: u64 LE, count: u32 LE, count rooms, frame` — `frame` was said
//!   in those rooms, numbered `seq`;
//! - `R name seq: u64 LE` — `name` has been sent what its rooms said up to
//!   `seq`;
//! - `T room count: u32 LE` — `room` forgot its oldest `count` messages
//!   (past `--history` or `--history-bytes`);
//! - `O room value` — `room`'s settings (operators, topic, modes) are
//!   `value` now (see the rooms' `settings` module);
//! - `N old new` — `old` is called `new` now: its rooms (with its place in
//!   each), operator status, invitations and read mark are `new`'s.
//!
//! Journals of the first format also hold `U name` (a known name, time
//! unknown) and `H name frame` (a message held for one name, stored once per
//! recipient). They are still read; compaction rewrites them in this format.

/// First bytes of every journal written now.
pub const MAGIC: &[u8; 8] = b"EVCHATJ2";
/// First bytes of journals of the first format (one copy per recipient).
pub const MAGIC_V1: &[u8; 8] = b"EVCHATJ1";
pub const HEADER: usize = 8;
/// Bytes before each payload: length and checksum.
pub const RECORD_HEAD: usize = 8;
/// No payload is larger. A held message's record holds its frame (at most
/// `--max-line` plus a sender and a time) and its recipients (at most
/// `--max-line` of names), so `--max-line` may be at most
/// [`MAX_LINE_LIMIT`].
pub const MAX_PAYLOAD: usize = 64 << 20;
/// The largest `--max-line` whose held messages always fit in a record.
pub const MAX_LINE_LIMIT: usize = 16 << 20;

/// One record, borrowing from the bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    Seen {
        name: &'a str,
        at: u64,
    },
    Forgotten(&'a str),
    Held {
        to: Vec<&'a str>,
        frame: &'a [u8],
    },
    Delivered {
        name: &'a str,
        count: u32,
    },
    RoomJoined {
        name: &'a str,
        room: &'a str,
    },
    RoomParted {
        name: &'a str,
        room: &'a str,
    },
    Said {
        seq: u64,
        rooms: Vec<&'a str>,
        frame: &'a [u8],
    },
    ReadUpTo {
        name: &'a str,
        seq: u64,
    },
    HistoryTrimmed {
        room: &'a str,
        count: u32,
    },
    RoomSettings {
        room: &'a str,
        value: &'a str,
    },
    Renamed {
        old: &'a str,
        new: &'a str,
    },
    /// First format: a known name.
    LegacyUser(&'a str),
    /// First format: a frame held for one name.
    LegacyHeld {
        name: &'a str,
        frame: &'a [u8],
    },
}

/// Why the bytes at some offset are not a whole, valid record.
pub type DecodeError = &'static str;

/// Appends one record to `out`. Names longer than 255 bytes are cut (the
/// protocol never makes one).
pub fn encode(out: &mut Vec<u8>, record: &Record<'_>) {
    let at = out.len();
    out.extend_from_slice(&[0; RECORD_HEAD]);
    match record {
        Record::Seen { name, at } => {
            out.push(b'L');
            put_name(out, name);
            out.extend_from_slice(&at.to_le_bytes());
        }
        Record::Forgotten(name) => {
            out.push(b'F');
            put_name(out, name);
        }
        Record::Held { to, frame } => {
            out.push(b'M');
            let count = u32::try_from(to.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_le_bytes());
            for name in to.iter().take(count as usize) {
                put_name(out, name);
            }
            out.extend_from_slice(frame);
        }
        Record::Delivered { name, count } => {
            out.push(b'D');
            put_name(out, name);
            out.extend_from_slice(&count.to_le_bytes());
        }
        Record::RoomJoined { name, room } => {
            out.push(b'J');
            put_name(out, name);
            put_name(out, room);
        }
        Record::RoomParted { name, room } => {
            out.push(b'P');
            put_name(out, name);
            put_name(out, room);
        }
        Record::Said { seq, rooms, frame } => {
            out.push(b'S');
            out.extend_from_slice(&seq.to_le_bytes());
            let count = u32::try_from(rooms.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_le_bytes());
            for room in rooms.iter().take(count as usize) {
                put_name(out, room);
            }
            out.extend_from_slice(frame);
        }
        Record::ReadUpTo { name, seq } => {
            out.push(b'R');
            put_name(out, name);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        Record::HistoryTrimmed { room, count } => {
            out.push(b'T');
            put_name(out, room);
            out.extend_from_slice(&count.to_le_bytes());
        }
        Record::RoomSettings { room, value } => {
            out.push(b'O');
            put_name(out, room);
            out.extend_from_slice(value.as_bytes());
        }
        Record::Renamed { old, new } => {
            out.push(b'N');
            put_name(out, old);
            put_name(out, new);
        }
        Record::LegacyUser(name) => {
            out.push(b'U');
            out.extend_from_slice(name.as_bytes());
        }
        Record::LegacyHeld { name, frame } => {
            out.push(b'H');
            put_name(out, name);
            out.extend_from_slice(frame);
        }
    }
    let payload_len = out.len() - at - RECORD_HEAD;
    let crc = crc32fast::hash(out.get(at + RECORD_HEAD..).unwrap_or_default());
    let len = u32::try_from(payload_len).unwrap_or(u32::MAX);
    let mut head = [0u8; RECORD_HEAD];
    head[..4].copy_from_slice(&len.to_le_bytes());
    head[4..].copy_from_slice(&crc.to_le_bytes());
    if let Some(slot) = out.get_mut(at..at + RECORD_HEAD) {
        slot.copy_from_slice(&head);
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let bytes = name.as_bytes();
    let bytes = bytes.get(..255).unwrap_or(bytes);
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

/// Bytes a `Said` record takes in the file, head included, from its
/// rooms' lengths and its frame's (no record built: it is counted for
/// every room message).
#[inline]
pub fn said_size(rooms: impl Iterator<Item = usize>, frame: usize) -> u64 {
    let payload = 1 + 8 + 4 + rooms.map(|r| 1 + r).sum::<usize>() + frame;
    (RECORD_HEAD + payload) as u64
}

/// Bytes a record takes in the file, head included.
pub fn size_of(record: &Record<'_>) -> u64 {
    let payload = match record {
        Record::Seen { name, .. } => 1 + 1 + name.len() + 8,
        Record::Forgotten(name) => 1 + 1 + name.len(),
        Record::Held { to, frame } => {
            1 + 4 + to.iter().map(|n| 1 + n.len()).sum::<usize>() + frame.len()
        }
        Record::Delivered { name, .. } => 1 + 1 + name.len() + 4,
        Record::RoomJoined { name, room } | Record::RoomParted { name, room } => {
            1 + 1 + name.len() + 1 + room.len()
        }
        Record::Said { rooms, frame, .. } => {
            return said_size(rooms.iter().map(|r| r.len()), frame.len());
        }
        Record::ReadUpTo { name, .. } => 1 + 1 + name.len() + 8,
        Record::HistoryTrimmed { room, .. } => 1 + 1 + room.len() + 4,
        Record::RoomSettings { room, value } => 1 + 1 + room.len() + value.len(),
        Record::Renamed { old, new } => 1 + 1 + old.len() + 1 + new.len(),
        Record::LegacyUser(name) => 1 + name.len(),
        Record::LegacyHeld { name, frame } => 1 + 1 + name.len() + frame.len(),
    };
    (RECORD_HEAD + payload) as u64
}

/// Decodes the record at the start of `bytes`; returns it and the bytes it
/// took. Any damage — a cut, a flipped bit, an impossible field — is an
/// error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<(Record<'_>, usize), DecodeError> {
    let mut head = Reader(bytes.get(..RECORD_HEAD).ok_or("record header cut short")?);
    let len = head.u32()? as usize;
    let crc = head.u32()?;
    if len == 0 || len > MAX_PAYLOAD {
        return Err("impossible record length");
    }
    let payload = bytes
        .get(RECORD_HEAD..RECORD_HEAD + len)
        .ok_or("record cut short")?;
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch");
    }
    let mut r = Reader(payload);
    let kind = r.byte()?;
    let record = match kind {
        b'L' => {
            let name = r.name()?;
            let at = r.u64()?;
            r.end()?;
            Record::Seen { name, at }
        }
        b'F' => {
            let name = r.name()?;
            r.end()?;
            Record::Forgotten(name)
        }
        b'M' => {
            let count = r.u32()? as usize;
            // Each name takes at least two bytes: a count beyond that is
            // damage, and must not size an allocation.
            if count > r.0.len() / 2 {
                return Err("impossible recipient count");
            }
            let mut to = Vec::with_capacity(count);
            for _ in 0..count {
                to.push(r.name()?);
            }
            Record::Held { to, frame: r.0 }
        }
        b'D' => {
            let name = r.name()?;
            let count = r.u32()?;
            r.end()?;
            Record::Delivered { name, count }
        }
        b'J' | b'P' => {
            let (name, room) = (r.name()?, r.name()?);
            r.end()?;
            match kind {
                b'J' => Record::RoomJoined { name, room },
                _ => Record::RoomParted { name, room },
            }
        }
        b'S' => {
            let seq = r.u64()?;
            let count = r.u32()? as usize;
            if count > r.0.len() / 2 {
                return Err("impossible room count");
            }
            let mut rooms = Vec::with_capacity(count);
            for _ in 0..count {
                rooms.push(r.name()?);
            }
            Record::Said {
                seq,
                rooms,
                frame: r.0,
            }
        }
        b'R' => {
            let name = r.name()?;
            let seq = r.u64()?;
            r.end()?;
            Record::ReadUpTo { name, seq }
        }
        b'T' => {
            let room = r.name()?;
            let count = r.u32()?;
            r.end()?;
            Record::HistoryTrimmed { room, count }
        }
        b'N' => {
            let (old, new) = (r.name()?, r.name()?);
            r.end()?;
            Record::Renamed { old, new }
        }
        b'O' => {
            let room = r.name()?;
            let value = std::str::from_utf8(r.0).map_err(|_| "settings not UTF-8")?;
            Record::RoomSettings { room, value }
        }
        b'U' => Record::LegacyUser(std::str::from_utf8(r.0).map_err(|_| "name not UTF-8")?),
        b'H' => {
            let name = r.name()?;
            Record::LegacyHeld { name, frame: r.0 }
        }
        _ => return Err("unknown record kind"),
    };
    Ok((record, RECORD_HEAD + len))
}

/// Reads fields off the front of a payload.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err("field cut short");
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| "field cut short")?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| "field cut short")?;
        Ok(u64::from_le_bytes(b))
    }

    fn name(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.byte()? as usize;
        if len == 0 {
            return Err("empty name");
        }
        std::str::from_utf8(self.take(len)?).map_err(|_| "name not UTF-8")
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("bytes after the last field")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_kinds(frame: &[u8]) -> Vec<Record<'_>> {
        vec![
            Record::Seen {
                name: "bob",
                at: 1_700_000_000_123,
            },
            Record::Forgotten("carol"),
            Record::Held {
                to: vec!["bob", "carol"],
                frame,
            },
            Record::Delivered {
                name: "bob",
                count: 3,
            },
            Record::RoomJoined {
                name: "bob",
                room: "#Rust",
            },
            Record::RoomParted {
                name: "bob",
                room: "#Rust",
            },
            Record::Said {
                seq: 42,
                rooms: vec!["#a", "#b"],
                frame,
            },
            Record::ReadUpTo {
                name: "bob",
                seq: 41,
            },
            Record::HistoryTrimmed {
                room: "#a",
                count: 2,
            },
            Record::LegacyUser("dave"),
            Record::LegacyHeld {
                name: "dave",
                frame,
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_and_its_size_is_known() {
        let frame = b"MSG a bob,carol 2026-01-01T00:00:00.000Z hi\n";
        let records = all_kinds(frame);
        let mut buf = Vec::new();
        for r in &records {
            let before = buf.len();
            encode(&mut buf, r);
            assert_eq!((buf.len() - before) as u64, size_of(r), "{r:?}");
        }
        let mut at = 0;
        for r in &records {
            let (got, used) = decode(&buf[at..]).unwrap();
            assert_eq!(&got, r);
            at += used;
        }
        assert_eq!(at, buf.len());
    }

    #[test]
    fn damage_is_an_error_with_a_reason() {
        let mut buf = Vec::new();
        encode(
            &mut buf,
            &Record::Delivered {
                name: "bob",
                count: 1,
            },
        );
        let mut flipped = buf.clone();
        flipped[RECORD_HEAD + 1] ^= 1;
        assert_eq!(decode(&flipped), Err("checksum mismatch"));
        assert_eq!(decode(&buf[..5]), Err("record header cut short"));
        assert_eq!(decode(&buf[..RECORD_HEAD + 2]), Err("record cut short"));
        assert_eq!(decode(&[0; 16]), Err("impossible record length"));
    }

    #[test]
    fn the_largest_held_message_fits_a_record() {
        let frame = vec![b'x'; MAX_LINE_LIMIT + 200];
        let names: Vec<String> = (0..MAX_LINE_LIMIT / 33)
            .map(|i| format!("{i:032}"))
            .collect();
        let to: Vec<&str> = names.iter().map(String::as_str).collect();
        let record = Record::Held { to, frame: &frame };
        assert!(size_of(&record) <= (RECORD_HEAD + MAX_PAYLOAD) as u64);
        let mut buf = Vec::new();
        encode(&mut buf, &record);
        assert_eq!(decode(&buf).unwrap().0, record);
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,32}"
    }

    fn record() -> impl Strategy<Value = (u8, Vec<String>, Vec<u8>, u64)> {
        (
            0u8..11,
            proptest::collection::vec(name(), 1..5),
            proptest::collection::vec(any::<u8>(), 0..200),
            any::<u64>(),
        )
    }

    fn build<'a>(kind: u8, names: &'a [String], frame: &'a [u8], n: u64) -> Record<'a> {
        let name = names[0].as_str();
        match kind {
            0 => Record::Seen { name, at: n },
            1 => Record::Forgotten(name),
            2 => Record::Held {
                to: names.iter().map(String::as_str).collect(),
                frame,
            },
            3 => Record::Delivered {
                name,
                count: n as u32,
            },
            4 => Record::LegacyUser(name),
            5 => Record::LegacyHeld { name, frame },
            6 => Record::RoomJoined {
                name,
                room: names.last().map_or(name, String::as_str),
            },
            7 => Record::RoomParted {
                name,
                room: names.last().map_or(name, String::as_str),
            },
            8 => Record::Said {
                seq: n,
                rooms: names.iter().map(String::as_str).collect(),
                frame,
            },
            9 => Record::ReadUpTo { name, seq: n },
            _ => Record::HistoryTrimmed {
                room: name,
                count: n as u32,
            },
        }
    }

    proptest! {
        #[test]
        fn any_sequence_round_trips(records in proptest::collection::vec(record(), 0..20)) {
            let built: Vec<Record<'_>> =
                records.iter().map(|(k, names, f, n)| build(*k, names, f, *n)).collect();
            let mut buf = Vec::new();
            for r in &built {
                encode(&mut buf, r);
            }
            let mut at = 0;
            for r in &built {
                let (got, used) = decode(&buf[at..]).unwrap();
                prop_assert_eq!(&got, r);
                at += used;
            }
            prop_assert_eq!(at, buf.len());
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_what_is_accepted_has_one_spelling(
            bytes in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            if let Ok((record, used)) = decode(&bytes) {
                let mut again = Vec::new();
                encode(&mut again, &record);
                prop_assert_eq!(&again[..], &bytes[..used]);
            }
        }

        #[test]
        fn a_cut_record_is_refused(r in record(), cut in 0usize..1000) {
            let (k, names, f, n) = &r;
            let mut buf = Vec::new();
            encode(&mut buf, &build(*k, names, f, *n));
            let cut = cut % buf.len();
            prop_assert!(decode(&buf[..cut]).is_err());
        }
    }
}
