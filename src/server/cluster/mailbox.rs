//! Held mail in JetStream, each message stored once.
//!
//! A private message for offline users is published once to the stream
//! `EVCHAT_BODIES` (its size counts against `--held-bytes`, the stream's
//! byte limit), and each recipient gets a small entry — the body's sequence
//! number — on `evchat.mailbox.<name>` in the work-queue stream
//! `EVCHAT_MAILBOX` (at most `--mailbox-max` per name, the stream's
//! per-subject limit). A count in the bucket `evchat_mailrefs` says how
//! many entries still point at a body; the last acknowledgement deletes it.
//!
//! At login the node drains the name's durable consumer, a window at a
//! time ([`super::window`]). The entries are acknowledged only when the
//! client answers the `PING` sent after the window; if the session ends
//! first they are given back (nak), and if the node dies JetStream
//! redelivers them after the ack wait. So mail fetched on one node while
//! its owner logs in on another is neither lost nor delivered twice.

use super::bridge::unavailable;
use super::connect::bucket;
use super::{ClusterSettings, HoldOutcome};
use crate::protocol::names::fold_text;
use crate::protocol::ErrorCode;
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy};
use async_nats::jetstream::{self, kv, AckKind, Context};
use bytes::Bytes;
use log::warn;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub const BODIES: &str = "EVCHAT_BODIES";
pub const MAILBOX: &str = "EVCHAT_MAILBOX";
pub const REFS: &str = "evchat_mailrefs";
const BODY_SUBJECT: &str = "evchat.body";
/// How long fetched mail may wait for its acknowledgement before JetStream
/// offers it again (to a later login).
pub(super) const ACK_WAIT: Duration = Duration::from_secs(120);

/// The body sequence number a mailbox entry points at.
pub(super) fn entry_seq(payload: &[u8]) -> Option<u64> {
    std::str::from_utf8(payload).ok()?.parse().ok()
}

/// The subject of `name`'s mailbox: the name folded, so mail held for
/// `BOB` is `bob`'s.
pub(super) fn mailbox_subject(name: &str) -> String {
    format!("evchat.mailbox.{}", fold_text(name))
}

/// The durable consumer of `name`'s mailbox.
pub(super) fn mailbox_consumer(name: &str) -> String {
    format!("mbox-{}", fold_text(name))
}

/// Is `name` in the known names bucket, in any case? Its key is the name
/// folded; an older evchat's entry is under the name as shown.
async fn known_in(known: &kv::Store, name: &str) -> Result<bool, kv::EntryError> {
    let key = fold_text(name);
    if known.get(&key).await?.is_some() {
        return Ok(true);
    }
    Ok(key != name && known.get(name).await?.is_some())
}

/// The helper's handle on held mail.
pub(super) struct Mailbox {
    js: Context,
    pub(super) bodies: stream::Stream,
    pub(super) entries: stream::Stream,
    refs: kv::Store,
    mailbox_max: usize,
    /// Fetched entries waiting for their acknowledgement, by ticket, with
    /// whose they are.
    fetched: Mutex<HashMap<u64, (String, Vec<jetstream::Message>)>>,
    next_ticket: AtomicU64,
}

impl Mailbox {
    pub(super) async fn open(js: &Context, s: &ClusterSettings) -> Result<Mailbox, String> {
        let bodies = js
            .get_or_create_stream(stream::Config {
                name: BODIES.into(),
                subjects: vec![BODY_SUBJECT.into()],
                max_bytes: i64::try_from(s.held_bytes).unwrap_or(i64::MAX),
                discard: DiscardPolicy::New,
                num_replicas: s.replicas,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot open the stream {BODIES}: {e}"))?;
        let entries = js
            .get_or_create_stream(stream::Config {
                name: MAILBOX.into(),
                subjects: vec!["evchat.mailbox.*".into()],
                retention: RetentionPolicy::WorkQueue,
                max_bytes: -1,
                max_messages_per_subject: i64::try_from(s.mailbox_max).unwrap_or(i64::MAX),
                discard: DiscardPolicy::New,
                discard_new_per_subject: true,
                num_replicas: s.replicas,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot open the stream {MAILBOX}: {e}"))?;
        let refs = bucket(js, REFS, s.replicas).await?;
        Ok(Mailbox {
            js: js.clone(),
            bodies,
            entries,
            refs,
            mailbox_max: s.mailbox_max,
            fetched: Mutex::new(HashMap::new()),
            next_ticket: AtomicU64::new(1),
        })
    }

    /// Holds `frame` for `names`, who are offline: all of them must be
    /// known (logged in once, or accounts).
    pub(super) async fn hold(
        &self,
        known: &kv::Store,
        is_account: &(dyn Fn(&str) -> bool + Send + Sync),
        names: &[String],
        frame: Bytes,
    ) -> HoldOutcome {
        for name in names {
            if is_account(name) {
                continue;
            }
            match known_in(known, name).await {
                Ok(true) => {}
                Ok(false) => return HoldOutcome::NoSuchUser(name.clone()),
                Err(e) => {
                    return HoldOutcome::Refused(
                        ErrorCode::Unavailable,
                        unavailable(&e.to_string()),
                    )
                }
            }
        }
        let seq = match publish(&self.js, BODY_SUBJECT.to_owned(), frame, None).await {
            Ok(seq) => seq,
            Err(e) if e.contains("maximum bytes") => {
                let text = "the cluster holds all the mail it may (held-bytes); nothing was sent, not held for anyone";
                return HoldOutcome::Refused(ErrorCode::MailboxFull, text.into());
            }
            Err(e) => return HoldOutcome::Refused(ErrorCode::Unavailable, unavailable(&e)),
        };
        let key = seq.to_string();
        let count = names.len();
        if let Err(e) = self.refs.put(&key, count.to_string().into()).await {
            let _ = self.bodies.delete_message(seq).await;
            return HoldOutcome::Refused(ErrorCode::Unavailable, unavailable(&e.to_string()));
        }
        let mut refused = Vec::new();
        for name in names {
            let id = format!("{seq}-{name}");
            let entry = Bytes::from(key.clone());
            if let Err(e) = publish(&self.js, mailbox_subject(name), entry, Some(&id)).await {
                let why = if e.contains("maximum messages per subject") {
                    format!(
                        "{name}'s mailbox is full ({} messages, mailbox-max): not held for {name}",
                        self.mailbox_max
                    )
                } else {
                    format!("{}: not held for {name}", unavailable(&e))
                };
                refused.push((name.clone(), why));
                self.unref(seq).await;
            }
        }
        HoldOutcome::Held { refused }
    }

    /// Is anything held for `name`?
    pub(super) async fn has_mail(&self, name: &str) -> Result<bool, String> {
        let subject = mailbox_subject(name);
        match self.entries.get_last_raw_message_by_subject(&subject).await {
            Ok(_) => Ok(true),
            // NATS 2.9 answers "no message" for a subject whose last entry
            // was acknowledged (so deleted) while earlier ones — a window
            // handed to a node that died — are still there: counted then,
            // or that mail would never be fetched again.
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                Ok(self.count_of(&subject).await? > 0)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Entries on `subject` now, as the stream's per-subject state says.
    async fn count_of(&self, subject: &str) -> Result<usize, String> {
        use futures_util::TryStreamExt;
        let failed = |e: &dyn std::fmt::Display| format!("cannot count held mail: {e}");
        let mut subjects = self
            .entries
            .info_with_subjects(subject)
            .await
            .map_err(|e| failed(&e))?;
        let mut count = 0;
        while let Some((listed, n)) = subjects.try_next().await.map_err(|e| failed(&e))? {
            if listed == subject {
                count += n;
            }
        }
        Ok(count)
    }

    /// Keeps fetched `messages` for `name` until acknowledged or given
    /// back: their ticket.
    pub(super) fn keep(&self, name: &str, messages: Vec<jetstream::Message>) -> u64 {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut fetched) = self.fetched.lock() {
            fetched.insert(ticket, (name.to_owned(), messages));
        }
        ticket
    }

    fn take(&self, ticket: u64) -> (String, Vec<jetstream::Message>) {
        self.fetched
            .lock()
            .ok()
            .and_then(|mut f| f.remove(&ticket))
            .unwrap_or_default()
    }

    /// The client has read the mail: delete its entries, and bodies no
    /// entry points at any more.
    pub(super) async fn acknowledge(&self, ticket: u64) {
        let (name, messages) = self.take(ticket);
        for message in messages {
            if let Err(e) = message.double_ack().await {
                warn!("cannot acknowledge held mail: {e}; it may come again");
                continue;
            }
            if let Some(seq) = entry_seq(&message.payload) {
                self.unref(seq).await;
            }
        }
        // A mailbox's consumer lives while it has mail: consumers stay as
        // many as the users with mail waiting, not as all users ever.
        if !name.is_empty() && matches!(self.has_mail(&name).await, Ok(false)) {
            let _ = self.entries.delete_consumer(&mailbox_consumer(&name)).await;
        }
    }

    /// The session ended before the client acknowledged: offer it again.
    pub(super) async fn give_back(&self, ticket: u64) {
        for message in self.take(ticket).1 {
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
    }

    /// One entry fewer points at body `seq`; the last one deletes it.
    async fn unref(&self, seq: u64) {
        let key = seq.to_string();
        for _ in 0..16 {
            let Ok(Some(entry)) = self.refs.entry(&key).await else {
                return;
            };
            let left: u64 = std::str::from_utf8(&entry.value)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            let done = if left <= 1 {
                let gone = self.refs.delete_expect_revision(&key, Some(entry.revision));
                if gone.await.is_ok() {
                    let _ = self.bodies.delete_message(seq).await;
                    let _ = self.refs.purge(&key).await;
                    true
                } else {
                    false
                }
            } else {
                let fewer = Bytes::from((left - 1).to_string());
                self.refs.update(&key, fewer, entry.revision).await.is_ok()
            };
            if done {
                return;
            }
        }
        warn!("cannot update the count of held message {seq}; it stays stored");
    }
}

/// Publishes to JetStream and waits for the acknowledgement: the sequence
/// number, or the error's text.
async fn publish(
    js: &Context,
    subject: String,
    payload: Bytes,
    id: Option<&str>,
) -> Result<u64, String> {
    let mut message = jetstream::context::Publish::build().payload(payload);
    if let Some(id) = id {
        message = message.message_id(id);
    }
    let ack = js
        .send_publish(subject, message)
        .await
        .map_err(|e| e.to_string())?;
    let ack = ack.await.map_err(|e| e.to_string())?;
    Ok(ack.sequence)
}
