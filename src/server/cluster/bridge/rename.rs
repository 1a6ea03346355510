//! A rename's moves in the rooms bucket (what the loop does first:
//! [`hub::cluster::rename`](crate::server::hub)). For each room, the old
//! name's join is replaced by its leaving *to the new name* —
//! compare-and-swap over the join, so a kick or a part that came first
//! wins and the room is not moved — then the new name joins by the rename,
//! in the old one's place. Then each room's settings that name the old
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
        for (room, place) in &m.rooms {
            let [left, joined] = Membership::renamed(m.old, m.new, m.time, room, *place);
            let key = left.key();
            let Some(rev) = self.member_rev(&key).await? else {
                continue; // not a member any more: kicked, or parted
            };
            let swap = bucket.update(&key, Bytes::from(left.value()), rev);
            match timed(swap).await? {
                Ok(_) => {}
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(e.to_string()),
            }
            last = self.rooms.write_member(&joined).await?;
        }
        let members = m.rooms.iter().map(|(room, _)| (room, true));
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
