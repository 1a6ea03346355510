//! `NICK` on a cluster node. The new name is claimed in the names bucket
//! first, as a login's is, and must have no mail held; the session's
//! input waits meanwhile. Once it is won the session is called by it
//! (everyone is told, on every node, as on a single server), the old
//! name's claim is given back, and its rooms move in the rooms bucket:
//! for each, the new name joins *by a rename* in the old name's place,
//! then the old name leaves. Every node applies such a join as a move of
//! the membership — no `PART` or `JOIN` is told, the `NICK` was — so
//! operator status, voice and seniority stay the same on every node and
//! after a restart. The input waits until the moves have come back.

use super::super::Hub;
use super::rooms::Named;
use super::PendingClaim;
use crate::protocol::ErrorCode;
use crate::server::cluster::{ClaimOutcome, MailAtClaim, ToCluster};
use crate::server::hub::WaitFor;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// `NICK` on a cluster node, once nothing here stands against it:
    /// claims `new` for session `key`, called `me`.
    pub(in crate::server) fn rename_in_cluster(&mut self, key: usize, me: &Rc<str>, new: &str) {
        let Some(c) = &self.cluster else { return };
        if c.claiming.contains_key(new) {
            let text = format!("{new} is logging in right now");
            return self.reply_err(key, ErrorCode::NameTaken, &text);
        }
        let serial = self.wait(key, WaitFor::NameClaim);
        let job = ToCluster::Claim {
            key,
            serial,
            name: new.to_owned(),
            over: None,
            mail: MailAtClaim::MustBeNone,
        };
        if !self.send_or_refuse(key, job) {
            if let Some(stash) = self.end_wait(key, serial) {
                self.go_on(key, &stash);
            }
            return;
        }
        if let Some(c) = &mut self.cluster {
            let pending = PendingClaim {
                key,
                renaming: Some(Rc::clone(me)),
                ..PendingClaim::default()
            };
            c.claiming.insert(Rc::from(new), (serial, pending));
        }
    }

    /// A rename's claim of `new` answered, for session `key`, called `old`.
    pub(super) fn rename_claimed(
        &mut self,
        key: usize,
        new: &str,
        old: &str,
        outcome: ClaimOutcome,
        stash: &[u8],
    ) {
        match outcome {
            ClaimOutcome::Won { rev, shown, .. } if self.online.get(old) == Some(&key) => {
                self.rename_won(key, old, &shown, rev);
            }
            ClaimOutcome::Won { rev, shown, .. } => self.release(&shown, rev, None),
            refused => self.claim_refused(key, new, refused),
        }
        self.go_on(key, stash);
    }

    /// Session `key` holds `new` now (its claim at revision `rev`): it is
    /// called so, `old` is given back, and `old`'s rooms move.
    fn rename_won(&mut self, key: usize, old: &str, new: &str, rev: u64) {
        // The old name's claim, given back once its rooms are moved; the
        // session by its serial (a slab key is reused).
        let (old_rev, serial) = self.queues.sessions.get_mut(key).map_or((0, 0), |s| {
            (std::mem::replace(&mut s.node.claim_rev, rev), s.serial)
        });
        if let Some(c) = &mut self.cluster {
            c.remote.remove(new);
        }
        // What moves, from this node's copy, before anything changes.
        let rooms: Vec<(String, u64)> = self
            .rooms
            .rooms_of(old)
            .iter()
            .map(|room| {
                (
                    room.to_string(),
                    self.rooms.seniority(room, old).unwrap_or(0),
                )
            })
            .collect();
        let invited: Vec<String> = self
            .rooms
            .invited_to(old)
            .iter()
            .map(|room| room.to_string())
            .collect();
        let read = Some(self.rooms.read_up_to(old)).filter(|&seq| seq > 0);
        // Each room moved, each settings value read and written again, and
        // every room looked at.
        let work = 3 * rooms.len() + 2 * invited.len() + self.rooms.len() / 64;
        self.charge(key, work as u64);
        let new = self.switch_name(key, old, new);
        self.tell_renamed(key, old, &new);
        // The old name is given back once its rooms are moved (by the
        // helper): a login under it meanwhile would be let into them.
        let time = self.clock.stamp().as_str().to_owned();
        let (old, new_name) = (old.to_owned(), new.to_string());
        if let Some(c) = &mut self.cluster {
            c.moving.insert(Rc::from(old.as_str()), (key, serial));
        }
        self.write_room(key, Named::moves_of(&old), |key, serial| {
            ToCluster::RoomRename {
                key,
                serial,
                old,
                new: new_name,
                time,
                rooms,
                invited,
                read,
                old_rev,
            }
        });
        // Mail held for the new name while it was being claimed (another
        // node took it for offline): fetched now.
        self.mail_waiting(key, &new);
    }
}
