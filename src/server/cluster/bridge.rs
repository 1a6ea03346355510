//! The helper thread that owns the NATS client.
//!
//! A current-thread tokio runtime runs: one task reading the bus (one
//! wildcard subscription, so one node's messages keep their order, and
//! telling the nodes that fill the intake to slow down), one reading such
//! notices from the others (both in `bus`), one
//! watching the names bucket, one watching the accounts bucket, and the
//! request loop, which publishes in the order the loop asked and starts a
//! task for each JetStream call (claims, held mail) so a slow one does not
//! hold up the bus. Everything for the loop goes through one std channel;
//! the loop is woken once per burst.

mod bus;
mod relay;
mod rename;
mod serve;

use super::connect::{connect, shown_urls, JS_TIMEOUT};
use super::mailbox::Mailbox;
use super::names::watch_names;
use super::node_claim::NodeClaim;
use super::rooms_store::{follow_said, watch_rooms, RoomStores};
use super::stores::{until_answered, Stores, ATTEMPT, START_PATIENCE};
use super::wire::{self, BUS_ALL};

mod claim;
use super::{Backplane, ClusterSettings, FromCluster, Gauges, QUEUE};
use crate::server::accounts::SharedUsers;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use log::{error, info, warn};
use mio::Waker;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The longest a claim, a hold or a fetch may take, all steps together,
/// before the client is told the cluster is unavailable.
pub(super) const OP_TIMEOUT: Duration = Duration::from_secs(12);

/// The names bucket: name → `<node> <incarnation>`.
pub const NAMES: &str = "evchat_names";
/// Names that have logged in (so mail may be held for them): name → time.
pub const KNOWN: &str = "evchat_known";

/// Sends news to the loop and wakes it once per burst.
#[derive(Clone)]
pub struct ToLoop {
    tx: Sender<FromCluster>,
    woken: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ToLoop {
    pub(super) fn send(&self, news: FromCluster) {
        if self.tx.send(news).is_ok() && !self.woken.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }
}

/// Connects to the cluster, makes sure its buckets and streams exist, and
/// starts the helper thread. Waits (before the loop runs) until the
/// cluster answers, or says why not.
pub fn start(
    settings: ClusterSettings,
    waker: Arc<Waker>,
    users: SharedUsers,
) -> Result<Backplane, String> {
    let (requests, inbox) = tokio::sync::mpsc::channel(QUEUE);
    let (tx, news) = mpsc::channel();
    let woken = Arc::new(AtomicBool::new(false));
    let gauges = Arc::new(Gauges::default());
    let to_loop = ToLoop {
        tx,
        woken: Arc::clone(&woken),
        waker,
    };
    let incarnation = incarnation();
    let (ready_tx, ready) = mpsc::sync_channel(1);
    let (done_tx, done) = mpsc::sync_channel(1);
    let thread_gauges = Arc::clone(&gauges);
    let thread_settings = settings.clone();
    let thread_incarnation = incarnation.clone();
    std::thread::Builder::new()
        .name("evchat-cluster".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("cannot start the cluster runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let link = match Link::open(
                    &thread_settings,
                    thread_incarnation,
                    to_loop,
                    thread_gauges,
                    users,
                )
                .await
                {
                    Ok(link) => link,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                link.serve(inbox).await;
            });
            let _ = done_tx.send(());
        })
        .map_err(|e| format!("cannot start the cluster thread: {e}"))?;
    match ready.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("the cluster thread ended before it connected".into()),
    }
    Ok(Backplane {
        node: settings.node,
        incarnation,
        node_timeout: settings.node_timeout,
        requests,
        news,
        woken,
        gauges,
        done,
    })
}

/// A fresh identifier for this run of the node.
fn incarnation() -> String {
    let mut bytes = [0u8; 6];
    let _ = crate::server::accounts::random_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The helper's state.
pub(super) struct Link {
    client: async_nats::Client,
    subject: async_nats::Subject,
    names: kv::Store,
    known: kv::Store,
    mailbox: Mailbox,
    rooms: RoomStores,
    node: String,
    incarnation: String,
    to_loop: ToLoop,
    gauges: Arc<Gauges>,
    users: SharedUsers,
    /// This process's claim on its node name, given back at the end.
    node_claim: Arc<NodeClaim>,
}

impl Link {
    async fn open(
        settings: &ClusterSettings,
        incarnation: String,
        to_loop: ToLoop,
        gauges: Arc<Gauges>,
        users: SharedUsers,
    ) -> Result<Link, String> {
        let started = tokio::time::Instant::now();
        let client = connect(settings, Some((to_loop.clone(), Arc::clone(&gauges)))).await?;
        gauges.up.store(true, Ordering::Relaxed);
        let js = jetstream::new(client.clone());
        let Stores {
            names,
            known,
            mailbox,
            accounts,
            rooms,
        } = Stores::open(&js, settings, started + START_PATIENCE).await?;
        // Last before joining: a second process under this name stops here.
        let claim = || NodeClaim::take(&client, &js, settings, &incarnation);
        // An attempt waits up to the node timeout for a holder to be heard,
        // between JetStream calls of its own.
        let attempt = settings.node_timeout + 3 * ATTEMPT;
        let deadline = started + START_PATIENCE + settings.node_timeout;
        let node_claim = Arc::new(until_answered(deadline, attempt, claim).await?);
        tokio::spawn(Arc::clone(&node_claim).guard());
        let subject: async_nats::Subject = wire::subject_of(&settings.node).into();
        // Heard at once: a process that asks for this name now is refused.
        let beat = Bytes::from(wire::encode_heartbeat(&incarnation));
        let _ = client.publish(subject.clone(), beat).await;
        let bus = client
            .subscribe(BUS_ALL)
            .await
            .map_err(|e| format!("cannot subscribe to the bus: {e}"))?;
        // Notices that other nodes should slow down go out on a connection
        // of their own: the main one may be busy reading a flood for tens
        // of milliseconds before it writes, and every one of them lets
        // more of the flood come.
        let control = connect(settings, None).await?;
        let notices = client
            .subscribe(wire::SLOW_ALL)
            .await
            .map_err(|e| format!("cannot subscribe to the bus: {e}"))?;
        let out = (control, wire::slow_subject_of(&settings.node).into());
        tokio::spawn(bus::read_bus(
            bus,
            out,
            to_loop.clone(),
            Arc::clone(&gauges),
        ));
        let me = settings.node.clone();
        tokio::spawn(bus::read_notices(
            notices,
            me,
            to_loop.clone(),
            Arc::clone(&gauges),
        ));
        tokio::spawn(watch_names(names.clone(), to_loop.clone()));
        // Logins wait for the rooms too: a user's catch-up is made from
        // them, so all they held must be in before the first.
        let (members_read, members) = tokio::sync::oneshot::channel();
        let watched = Arc::new(AtomicU64::new(0));
        tokio::spawn(watch_rooms(
            rooms.bucket.clone(),
            to_loop.clone(),
            members_read,
            Arc::clone(&watched),
        ));
        // The stream after the bucket: a message whose room is not made
        // yet in the node's copy is not kept there (behind 50,000
        // memberships, every room's history was lost this way).
        let rooms_stream = rooms.stream.clone();
        let (gauges_said, to_loop_said) = (Arc::clone(&gauges), to_loop.clone());
        let rooms_read = async {
            let _ = members.await;
            let (said_read, said) = tokio::sync::oneshot::channel();
            tokio::spawn(follow_said(
                rooms_stream,
                to_loop_said,
                gauges_said,
                said_read,
                watched,
            ));
            let _ = said.await;
        };
        if tokio::time::timeout(START_PATIENCE, rooms_read)
            .await
            .is_err()
        {
            return Err("cannot read the rooms from JetStream".into());
        }
        let (read, accounts_read) = tokio::sync::oneshot::channel();
        tokio::spawn(accounts.watch(Arc::clone(&users), read));
        // Logins wait for the accounts (ERR 503 until then): read them
        // before saying the node has joined, unless JetStream is slow.
        if tokio::time::timeout(JS_TIMEOUT, accounts_read)
            .await
            .is_err()
        {
            warn!("the cluster's accounts are not read yet; logins are refused until they are");
        }
        info!(
            "cluster: node {} (run {incarnation}) joined through {}",
            settings.node,
            shown_urls(&settings.urls)
        );
        Ok(Link {
            subject,
            client,
            names,
            known,
            mailbox,
            rooms,
            node: settings.node.clone(),
            incarnation,
            to_loop,
            gauges,
            users,
            node_claim,
        })
    }

    /// Gives a name up if it is still claim `rev`, retrying while JetStream
    /// is unavailable (a name left claimed would be locked everywhere).
    async fn release(&self, name: &str, rev: u64) {
        let key = crate::protocol::names::fold_text(name);
        for attempt in 1..=30u64 {
            // Each attempt has its own deadline: after the link came back, a
            // delete can wait for ever on an answer the old link lost.
            let delete = self.names.delete_expect_revision(&key, Some(rev));
            let outcome = match tokio::time::timeout(OP_TIMEOUT, delete).await {
                Ok(outcome) => outcome.map_err(|e| e.to_string()),
                Err(_) => Err("no answer".to_owned()),
            };
            match outcome {
                Ok(()) => return,
                // The claim has changed: not ours to release any more.
                Err(e) if e.contains("wrong last sequence") => {
                    // Claimed again since — or, after NATS restarts, the
                    // claim meant is under another number, or a later claim
                    // of this run has no session any more. The loop is told
                    // the leader's entry: a claim of this node that no
                    // session holds is released in turn, one a session
                    // holds is left alone.
                    if let Ok(Some((seq, Some(value)))) = self.leader_entry(&key).await {
                        if let (true, Some(holder)) =
                            (seq != rev, super::Holder::parse(&value, seq))
                        {
                            let name = name.to_owned();
                            self.to_loop.send(FromCluster::ClaimFound { name, holder });
                        }
                    }
                    return;
                }
                Err(e) => {
                    if attempt == 1 {
                        warn!("cannot release the name {name} yet ({e}); retrying");
                    }
                    log::debug!("releasing {name} (rev {rev}), attempt {attempt}: {e}");
                    tokio::time::sleep(Duration::from_millis(200 * attempt.min(10))).await;
                }
            }
        }
        error!(
            "gave up releasing the name {name}; it frees when this node's run is taken for dead"
        );
    }

    /// A name's last entry (`key`: the name folded) as the stream's leader
    /// has it (direct reads may come from a copy that lags): its sequence,
    /// and its value unless it was deleted.
    async fn leader_entry(&self, key: &str) -> Result<Option<(u64, Option<Bytes>)>, String> {
        let subject = format!("$KV.{NAMES}.{key}");
        match self
            .names
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(last) => {
                let operation = last.headers.get("KV-Operation").map(|v| v.as_str());
                let deleted = matches!(operation, Some("DEL") | Some("PURGE"));
                Ok(Some((last.sequence, (!deleted).then_some(last.payload))))
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The text of an `ERR 503` for a JetStream failure.
pub(super) fn unavailable(why: &str) -> String {
    // JetStream says this when it has no quorum, which reads like a setup
    // mistake; say what it means.
    let why = if why.contains("no stream found") {
        "JetStream has no quorum"
    } else {
        why
    };
    format!("the cluster is unavailable ({why}); try again later")
}
