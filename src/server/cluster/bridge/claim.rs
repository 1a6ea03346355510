//! Claiming a name for a login: create the key in the names bucket, or
//! compare-and-swap over the claim it replaces, then fetch the mail held
//! for it. Requests JetStream does not answer (an election, a busy
//! machine) are asked again within [`OP_TIMEOUT`] ([`retried`]) before
//! the login is told the cluster is unavailable.

use super::super::retry::retried;
use super::{unavailable, Link, OP_TIMEOUT};
use crate::protocol::is_valid_name;
use crate::protocol::names::{fold_text, same_name};
use crate::server::cluster::{claim_value, ClaimOutcome, MailAtClaim};
use async_nats::jetstream::kv;
use bytes::Bytes;
use tokio::time::Instant;

impl Link {
    /// Claims a name (create, or compare-and-swap over `over`), then
    /// fetches its held mail (or, for a rename, makes sure none is held). The bucket's key is the name folded, so a
    /// name is claimed in one case at a time; the claim shows the name as
    /// the cluster first knew it (the known names bucket says), whatever
    /// case this login wrote it in.
    pub(super) async fn claim(
        &self,
        name: &str,
        over: Option<(u64, String)>,
        mail: MailAtClaim,
    ) -> ClaimOutcome {
        let key = fold_text(name);
        let deadline = Instant::now() + OP_TIMEOUT;
        let shown = self.shown_as(name, &key, deadline).await;
        let value = Bytes::from(claim_value(&self.node, &self.incarnation, &shown));
        let what = format!("claiming the name {name}");
        let once = || self.claim_once(&key, &value, over.as_ref());
        let rev = match retried(&what, deadline, once).await {
            Ok(Some(rev)) => rev,
            Ok(None) => return ClaimOutcome::Taken,
            Err(e) => return ClaimOutcome::Unavailable(unavailable(&e)),
        };
        // Known names may be sent mail; without the entry a MSG to this
        // name would get 404, not the login a 503.
        let what = format!("noting {shown} as known");
        let note = || async {
            let known = self.known.put(&key, Bytes::from(shown.clone())).await;
            known.map(drop).map_err(|e| e.to_string())
        };
        if let Err(e) = retried(&what, deadline, note).await {
            log::warn!("cannot note {shown} as a known name: {e}");
        }
        if mail == MailAtClaim::MustBeNone {
            let what = format!("looking for mail held for {shown}");
            let held = retried(&what, deadline, || self.mailbox.has_mail(&key)).await;
            if !matches!(held, Ok(false)) {
                let _ = self.names.delete_expect_revision(&key, Some(rev)).await;
                return match held {
                    Err(e) => ClaimOutcome::Unavailable(unavailable(&e)),
                    _ => ClaimOutcome::MailHeld,
                };
            }
        }
        if mail != MailAtClaim::Fetch {
            return ClaimOutcome::Won {
                rev,
                mail: None,
                shown,
            };
        }
        // Never an endless wait: the login's input is paused meanwhile.
        let what = format!("fetching the mail held for {shown}");
        let fetch = || self.mailbox.fetch(&key);
        match retried(&what, Instant::now() + OP_TIMEOUT, fetch).await {
            Ok(mail) => ClaimOutcome::Won { rev, mail, shown },
            Err(e) => {
                // Without its mail the login would lose it: undo the claim.
                let _ = self.names.delete_expect_revision(&key, Some(rev)).await;
                ClaimOutcome::Unavailable(unavailable(&e))
            }
        }
    }

    /// How the cluster shows `name` (folded: `key`): as the known names
    /// bucket spells it, or as written when it is new there (or says only
    /// that it is known, as an older evchat's entry does, or cannot be
    /// read now: the claim that follows finds out whether JetStream
    /// answers).
    async fn shown_as(&self, name: &str, key: &str, deadline: Instant) -> String {
        let read = || async { self.known.get(key).await.map_err(|e| e.to_string()) };
        let what = format!("reading how {name} is spelt");
        match retried(&what, deadline, read).await {
            Ok(Some(spelt)) => match std::str::from_utf8(&spelt) {
                Ok(spelt) if is_valid_name(spelt) && same_name(spelt, name) => spelt.to_owned(),
                _ => name.to_owned(),
            },
            _ => name.to_owned(),
        }
    }

    /// One attempt at a claim of `name` (folded): its revision when won, `None` when someone
    /// else holds the name, an error when JetStream did not answer. An
    /// attempt that went through unanswered leaves this run's own claim,
    /// which the next attempt finds and claims over.
    async fn claim_once(
        &self,
        name: &str,
        value: &Bytes,
        over: Option<&(u64, String)>,
    ) -> Result<Option<u64>, String> {
        match over {
            None => match self.names.create(name, value.clone()).await {
                Ok(rev) => Ok(Some(rev)),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    // The loop saw nobody holding it. A read may come from a
                    // copy of the bucket that lags (after NATS restarts) or
                    // find this run's own claim, still being released (or
                    // made by an attempt that got no answer): ask the
                    // stream's leader, and claim over a deletion or over
                    // this run's stale claim.
                    match self.leader_entry(name).await? {
                        Some((seq, None)) => self.claim_over(name, value, seq).await,
                        Some((seq, Some(held))) if held == value => {
                            self.claim_over(name, value, seq).await
                        }
                        _ => Ok(None),
                    }
                }
                Err(e) => Err(e.to_string()),
            },
            Some((rev, holder)) => match self.names.update(name, value.clone(), *rev).await {
                Ok(rev) => Ok(Some(rev)),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    // JetStream's copies can disagree on sequence numbers
                    // after servers are killed: if the leader still has the
                    // claim meant, under another revision, replace that;
                    // this run's own claim is one an earlier attempt made.
                    match self.leader_entry(name).await? {
                        Some((seq, Some(held))) if held == holder.as_bytes() || held == value => {
                            self.claim_over(name, value, seq).await
                        }
                        _ => Ok(None),
                    }
                }
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// Claims a name over entry `seq` (compare-and-swap): `None` when
    /// someone else claimed it meanwhile.
    async fn claim_over(&self, name: &str, value: &Bytes, seq: u64) -> Result<Option<u64>, String> {
        match self.names.update(name, value.clone(), seq).await {
            Ok(rev) => Ok(Some(rev)),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}
