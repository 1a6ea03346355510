//! The helper thread's side of rooms: writing memberships, read marks and
//! messages to JetStream, and following the rooms stream into the loop
//! (what the bucket and stream hold: [`rooms`](super::rooms)).

use super::bridge::ToLoop;
use super::connect::bucket;
use super::rooms::{
    folded, parse_entry, parse_rooms, read_key, said_subject, settings_key, Membership, RoomsEntry,
    AFTER_HEADER, ROOMS_BUCKET, ROOMS_HEADER, ROOMS_STREAM,
};
use super::watch::watch_bucket;
use super::wire::is_msg_frame;
use super::{ClusterSettings, FromCluster, Gauges};
use crate::protocol::names::same_name;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::stream::{self, DiscardPolicy};
use async_nats::jetstream::{kv, Context};
use bytes::Bytes;
use futures_util::StreamExt;
use log::warn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub(super) struct RoomStores {
    js: Context,
    pub(super) bucket: kv::Store,
    pub(super) stream: stream::Stream,
}

impl RoomStores {
    pub(super) async fn open(js: &Context, s: &ClusterSettings) -> Result<RoomStores, String> {
        let limit = |n: usize| i64::try_from(n).unwrap_or(i64::MAX).max(1);
        let stream = js
            .get_or_create_stream(stream::Config {
                name: ROOMS_STREAM.into(),
                subjects: vec!["evchat.said.*".into()],
                max_messages_per_subject: limit(s.history),
                max_bytes: limit(s.history_bytes),
                discard: DiscardPolicy::Old,
                num_replicas: s.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot open the stream {ROOMS_STREAM}: {e}"))?;
        Ok(RoomStores {
            js: js.clone(),
            bucket: bucket(js, ROOMS_BUCKET, s.replicas).await?,
            stream,
        })
    }

    /// Records a membership change: the entry's revision.
    pub(super) async fn write_member(&self, change: &Membership) -> Result<u64, String> {
        let value = Bytes::from(change.value());
        self.bucket
            .put(change.key(), value)
            .await
            .map_err(|e| e.to_string())
    }

    /// Records `room`'s settings: the entry's revision.
    pub(super) async fn write_settings(&self, room: &str, value: String) -> Result<u64, String> {
        self.bucket
            .put(settings_key(room), Bytes::from(value))
            .await
            .map_err(|e| e.to_string())
    }

    /// Stores `frame`, said in `rooms` by a node that had applied the
    /// bucket up to revision `after`: its sequence in the stream.
    pub(super) async fn say(
        &self,
        rooms: &[String],
        frame: Bytes,
        after: u64,
    ) -> Result<u64, String> {
        let first = rooms.first().ok_or("a message for no room")?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(ROOMS_HEADER, rooms.join(",").as_str());
        headers.insert(AFTER_HEADER, after.to_string().as_str());
        let ack = self
            .js
            .publish_with_headers(said_subject(first), headers, frame)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ack.await.map_err(|e| e.to_string())?.sequence)
    }

    /// The stream's last sequence (0: empty).
    pub(super) async fn last_said(&self) -> Result<u64, String> {
        let mut stream = self.stream.clone();
        let info = stream.info().await.map_err(|e| e.to_string())?;
        Ok(info.state.last_sequence)
    }

    /// `name` has been sent what its rooms said up to `seq` (at least
    /// once: a mark lost here only sends some of it again).
    pub(super) async fn mark_read(&self, name: &str, seq: u64) {
        let put = self
            .bucket
            .put(read_key(name), Bytes::from(seq.to_string()));
        if let Err(e) = put.await {
            warn!("cannot record what {name} has read in its rooms ({e}): it may come again");
        }
    }

    /// The room `folded` is gone: so is what it said, up to (not
    /// including) sequence `before`. A purge that comes late must not
    /// take what was said since in the room made again on another node.
    pub(super) async fn forget_room(&self, room: &str, before: u64) {
        let subject = said_subject(&format!("#{room}"));
        let purge = self.stream.purge().filter(subject).sequence(before);
        if let Err(e) = purge.await {
            warn!("cannot forget what #{room} said ({e}); it goes as the stream trims");
        }
    }
}

/// Takes `name` out of every room it is in (its account was deleted):
/// each node tells the members online `PART <name> <room> <time> account
/// deleted`. Returns how many rooms it left.
pub(super) async fn leave_every_room(bucket: &kv::Store, name: &str) -> Result<usize, String> {
    let mut keys = bucket.keys().await.map_err(|e| e.to_string())?;
    let mut theirs = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| e.to_string())?;
        // In any case: an older evchat's keys spell the name as shown.
        let of = key.rsplit('.').next().is_some_and(|n| same_name(n, name));
        if key.starts_with("r.") && of {
            theirs.push(key);
        }
    }
    let time = {
        let mut clock = crate::server::clock::Clock::default();
        clock.set();
        clock.stamp().as_str().to_owned()
    };
    let mut left = 0;
    for key in theirs {
        let Some(value) = bucket.get(&key).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let Some(RoomsEntry::Member(member)) = parse_entry(&key, &value, false) else {
            continue;
        };
        if member.joined && same_name(&member.name, name) {
            let parted = Membership {
                joined: false,
                time: time.clone(),
                text: Some("account deleted".into()),
                ..member
            };
            bucket
                .put(&key, Bytes::from(parted.value()))
                .await
                .map_err(|e| e.to_string())?;
            left += 1;
        }
    }
    Ok(left)
}

/// Follows the rooms bucket into the loop (see [`watch_bucket`]);
/// `watched` is the highest revision handed to the loop. (The runtime has
/// one thread: nothing of the stream's can reach the loop between an
/// entry's being counted here and its being sent.)
pub(super) async fn watch_rooms(
    bucket: kv::Store,
    to_loop: ToLoop,
    first_sync: oneshot::Sender<()>,
    watched: Arc<AtomicU64>,
) {
    let news = |entry: kv::Entry| {
        watched.fetch_max(entry.revision, Ordering::AcqRel);
        let deleted = entry.operation != kv::Operation::Put;
        match parse_entry(&entry.key, &entry.value, deleted)? {
            RoomsEntry::Member(change) => Some(FromCluster::RoomMember {
                change,
                rev: entry.revision,
            }),
            RoomsEntry::Read { name, seq } => Some(FromCluster::RoomRead { name, seq }),
            RoomsEntry::Settings { room, value } => Some(FromCluster::RoomSettings {
                room,
                value,
                rev: entry.revision,
            }),
        }
    };
    let reset = || FromCluster::RoomsReset;
    let synced = || FromCluster::RoomsSynced;
    watch_bucket(
        bucket,
        "rooms",
        to_loop,
        news,
        reset,
        synced,
        Some(first_sync),
    )
    .await;
}

/// Follows the rooms stream into the loop, from its first message, in its
/// order; `first_sync` is told once what it held at the start has been
/// handed over. The rest of the stream waits in JetStream while the loop
/// has a full intake: nothing is dropped, and memory stays bounded. Each
/// message waits until the rooms watch has brought what its sender's node
/// had applied of the bucket (`watched`): a message that reached the loop
/// before the join making its room was not kept in this node's copy.
pub(super) async fn follow_said(
    stream: stream::Stream,
    to_loop: ToLoop,
    gauges: Arc<Gauges>,
    first_sync: oneshot::Sender<()>,
    watched: Arc<AtomicU64>,
) {
    let mut behind = WatchBehind::new(watched);
    let mut first_sync = Some(first_sync);
    let at_start = match stream.get_info().await {
        Ok(info) if info.state.messages > 0 => info.state.last_sequence,
        Ok(_) => 0,
        Err(e) => {
            warn!("cannot read the rooms stream's state ({e})");
            0
        }
    };
    if at_start == 0 {
        first_sync.take().map(|t| t.send(()));
    }
    let mut next = 0u64;
    loop {
        let deliver_policy = match next {
            0 => DeliverPolicy::All,
            start_sequence => DeliverPolicy::ByStartSequence { start_sequence },
        };
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_policy,
                ..Default::default()
            })
            .await;
        let messages = match consumer {
            Ok(consumer) => consumer.messages().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                warn!("cannot follow the rooms stream ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        while let Some(message) = messages.next().await {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    warn!("the rooms stream's consumer broke ({e}); following it again");
                    break;
                }
            };
            let Ok((seq, pending)) = message.info().map(|i| (i.stream_sequence, i.pending)) else {
                continue;
            };
            next = seq + 1;
            let rooms = message
                .headers
                .as_ref()
                .and_then(|h| h.get(ROOMS_HEADER))
                .and_then(|v| parse_rooms(v.as_str()));
            let valid = |r: &Vec<String>| {
                said_in_first(r, &message.subject) && is_msg_frame(&message.payload)
            };
            match rooms.filter(valid) {
                None => warn!("a malformed message in the rooms stream ({seq}) skipped"),
                Some(rooms) => {
                    let after = message
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(AFTER_HEADER))
                        .and_then(|v| v.as_str().parse().ok());
                    behind.wait_for(after.unwrap_or(0)).await;
                    let frame = message.payload.clone();
                    let len = frame.len() as u64;
                    if first_sync.is_some() {
                        // Read before the loop runs: all of it is taken in
                        // first.
                        gauges.admit_anyway(len);
                    } else {
                        while !gauges.admit(len) {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                    to_loop.send(FromCluster::RoomSaid { seq, rooms, frame });
                }
            }
            // Caught up: nothing more was pending (the last message at
            // the start may have been purged since), or past it.
            if pending == 0 || seq >= at_start {
                first_sync.take().map(|t| t.send(()));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Is a message's subject that of the first room it names?
fn said_in_first(rooms: &[String], subject: &str) -> bool {
    rooms
        .first()
        .is_some_and(|r| subject.strip_prefix("evchat.said.") == Some(folded(r).as_str()))
}

/// How long a message waits for the rooms watch to bring what its sender
/// had applied: past it (a watch being restarted, or copies of the bucket
/// numbering entries otherwise after a NATS server died, see
/// [`watch`](super::watch)) it goes on, as before this wait.
const WATCH_PATIENCE: Duration = Duration::from_secs(10);

/// The rooms watch, as far as the stream's consumer waits for it.
struct WatchBehind {
    watched: Arc<AtomicU64>,
    /// Revisions up to this were waited for in vain: not again.
    waived: u64,
}

impl WatchBehind {
    fn new(watched: Arc<AtomicU64>) -> WatchBehind {
        WatchBehind { watched, waived: 0 }
    }

    /// Returns once the watch has handed the loop revision `after`, or
    /// after [`WATCH_PATIENCE`].
    async fn wait_for(&mut self, after: u64) {
        if after <= self.waived {
            return;
        }
        let deadline = tokio::time::Instant::now() + WATCH_PATIENCE;
        while self.watched.load(Ordering::Acquire) < after {
            if tokio::time::Instant::now() >= deadline {
                let at = self.watched.load(Ordering::Acquire);
                warn!("the rooms watch is at {at}, a room message waited for {after}: it goes on");
                self.waived = after;
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}
