//! A rename's moves in the rooms bucket (what the loop does first:
//! [`hub::cluster::rename`](crate::server::hub)). For each room, the old
//! name's join is replaced by its leaving *to the new name* —
//! compare-and-swap over the join, so a kick or a part that came first
//! wins and the room is not moved — then the new name joins by the rename,
//! in the old one's place, compare-and-swap over the new name's entry as
//! it was before, so a kick of the new name in between wins too. Then each room's settings that name the old
//! name are read afresh and written renamed, compare-and-swap again, so an
//! operator's change meanwhile is kept, never written over with an older
//! copy. Then the read mark.

use super::{Link, OP_TIMEOUT};
use crate::server::cluster::rooms::{parse_entry, settings_key, Membership, RoomsEntry};
use crate::server::rooms::{renamed_settings, Settings};
use async_nats::jetstream::kv;
use bytes::Bytes;
use std::rc::Rc;

/// What a rename moves.
pub(super) struct Moves<'a> {
    pub old: &'a str,
    pub new: &'a str,
    pub time: &'a str,
    /// The old name's rooms, as shown, with its place in each.
    pub rooms: Vec<(String, u64)>,
    /// Rooms the old name is invited to.
    pub invited: Vec<String>,
    pub read: Option<u64>,
}

/// Compare-and-swap attempts on one room's settings before giving up (an
/// operator changing them as fast as JetStream answers).
const ATTEMPTS: usize = 8;

impl Link {
    /// Moves the rooms: the last revision written (0: none), or why not.
    pub(super) async fn move_rooms(&self, m: Moves<'_>) -> Result<u64, String> {
        let bucket = &self.rooms.bucket;
        let mut last = 0;
        let mut moved = Vec::new();
        for (room, place) in &m.rooms {
            let [left, joined] = Membership::renamed(m.old, m.new, m.time, room, *place);
            let key = left.key();
            let Some(rev) = self.member_rev(&key).await? else {
                continue; // not a member any more: kicked, or parted
            };
            // The new name's entry as it is before the move: a kick of the
            // new name once the move is seen, before its join is written,
            // wins over that join.
            let new_key = joined.key();
            let before = timed(bucket.entry(&new_key)).await?;
            let before = before.map_err(|e| e.to_string())?.map(|e| e.revision);
            let swap = bucket.update(&key, Bytes::from(left.value()), rev);
            match timed(swap).await? {
                Ok(_) => {}
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(e.to_string()),
            }
            let value = Bytes::from(joined.value());
            let written = match before {
                Some(rev) => timed(bucket.update(&new_key, value, rev))
                    .await?
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            e.to_string(),
                        )
                    }),
                None => timed(bucket.create(&new_key, value)).await?.map_err(|e| {
                    (
                        e.kind() == kv::CreateErrorKind::AlreadyExists,
                        e.to_string(),
                    )
                }),
            };
            match written {
                Ok(rev) => last = rev,
                Err((true, _)) => continue, // kicked meanwhile, as the new name
                Err((false, e)) => return Err(e),
            }
            moved.push(room);
        }
        let members = moved.into_iter().map(|room| (room, true));
        for (room, member) in members.chain(m.invited.iter().map(|r| (r, false))) {
            if let Some(rev) = self.rename_settings(room, m.old, m.new, member).await? {
                last = rev;
            }
        }
        if let Some(seq) = m.read {
            self.rooms.mark_read(m.new, seq).await;
        }
        Ok(last)
    }

    /// The revision of `key`'s entry if it says its name is in the room.
    async fn member_rev(&self, key: &str) -> Result<Option<u64>, String> {
        let entry = timed(self.rooms.bucket.entry(key)).await?;
        let entry = entry.map_err(|e| e.to_string())?;
        Ok(entry.and_then(|e| {
            let deleted = e.operation != kv::Operation::Put;
            match parse_entry(key, &e.value, deleted) {
                Some(RoomsEntry::Member(m)) if m.joined => Some(e.revision),
                _ => None,
            }
        }))
    }

    /// Renames `old` in `room`'s settings as they are now; the revision
    /// written, if anything was.
    async fn rename_settings(
        &self,
        room: &str,
        old: &str,
        new: &str,
        member: bool,
    ) -> Result<Option<u64>, String> {
        let bucket = &self.rooms.bucket;
        let key = settings_key(room);
        for _ in 0..ATTEMPTS {
            let entry = timed(bucket.entry(&key)).await?;
            let Some(entry) = entry.map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            let Some(renamed) = renamed_value(&entry.value, old, new, member) else {
                return Ok(None);
            };
            let swap = bucket.update(&key, Bytes::from(renamed), entry.revision);
            match timed(swap).await? {
                Ok(rev) => return Ok(Some(rev)),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(format!("the settings of {room} kept changing"))
    }
}

/// A settings value with `old` renamed `new`, if that changes it (and it
/// reads as settings).
fn renamed_value(value: &[u8], old: &str, new: &str, member: bool) -> Option<String> {
    let settings = Settings::parse(std::str::from_utf8(value).ok()?)?;
    let renamed = renamed_settings(&settings, old, &Rc::from(new), member)?;
    Some(renamed.encode())
}

/// A JetStream call within the usual deadline.
async fn timed<T>(call: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(OP_TIMEOUT, call)
        .await
        .map_err(|_| "JetStream did not answer in time".to_owned())
}
