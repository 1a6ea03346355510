//! The cluster backplane: many evchat nodes as one chat, over NATS with
//! JetStream — an existing engine, not a protocol of our own.
//!
//! The loop stays mio and never waits on NATS: a helper thread
//! ([`bridge`]) owns the NATS client on a current-thread tokio runtime. The
//! loop hands it work with [`Backplane::send`] (a bounded channel, never
//! blocking) and it answers through a std channel plus the loop's
//! `mio::Waker`, once per burst.
//!
//! What lives where (docs/CLUSTER.md has the why):
//!
//! - **Chat** crosses nodes on core NATS ([`wire`]): each node publishes a
//!   turn's broadcasts once, as the frames clients receive, and private
//!   messages for users online elsewhere, all on its own subject, read by
//!   every node through one subscription, so one node's messages keep
//!   their order everywhere. Each node then fans out locally exactly as a
//!   single server does.
//! - **Names** are claimed in the key-value bucket `evchat_names` (create
//!   is the claim, so exactly one node wins a race); every node watches it
//!   for the directory `WHO` answers from.
//! - **Liveness**: each node's loop publishes a heartbeat every second;
//!   a node silent for `--node-timeout` is dead, its users are announced
//!   as gone and its names may be taken over.
//! - **Held mail** is in JetStream ([`mailbox`]): the frame once in the
//!   stream `EVCHAT_BODIES`, a small entry per recipient in the work-queue
//!   stream `EVCHAT_MAILBOX`, acknowledged once the client answers the
//!   `PING` after it.
//! - **Accounts** are in the bucket `evchat_users` ([`users`]).
//! - **Rooms** ([`rooms`]): memberships and read marks in the bucket
//!   `evchat_rooms`, what rooms said in the stream `EVCHAT_ROOMS`; every
//!   node follows both and keeps a copy, which the hub reads as a single
//!   server reads its own.

pub mod answer;
#[cfg(feature = "cluster")]
pub mod congestion;
// The parts that speak to NATS, built with the `cluster` feature only:
// without it no `Backplane` is ever made, and the hub runs as one node.
#[cfg(feature = "cluster")]
pub mod bridge;
#[cfg(feature = "cluster")]
pub mod connect;
#[cfg(feature = "cluster")]
pub mod import;
pub mod intake;
pub mod outbound;
pub use outbound::{OUTBOUND_HIGH, OUTBOUND_LOW};
#[cfg(feature = "cluster")]
pub mod mailbox;
#[cfg(feature = "cluster")]
mod names;
#[cfg(feature = "cluster")]
mod node_claim;
#[cfg(feature = "cluster")]
mod retry;
pub mod rooms;
#[cfg(feature = "cluster")]
mod rooms_store;
pub mod settings;
#[cfg(feature = "cluster")]
mod stores;
#[cfg(feature = "cluster")]
pub mod users;
#[cfg(feature = "cluster")]
mod watch;
#[cfg(feature = "cluster")]
pub mod window;
pub mod wire;
mod work;
pub use work::{FromCluster, MailAtClaim, ToCluster};

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

/// How to reach the cluster and who this node is.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// NATS server URLs (`nats://[user:pass@]host:port`, `tls://...`).
    pub urls: Vec<String>,
    pub node: String,
    /// A NATS credentials file (JWT + nkey), if the servers want one.
    pub creds: Option<std::path::PathBuf>,
    /// A CA certificate for `tls://` servers with a private CA.
    pub ca: Option<std::path::PathBuf>,
    /// Silence after which another node counts as dead.
    pub node_timeout: Duration,
    /// JetStream replicas for buckets and streams (1 or 3).
    pub replicas: usize,
    pub mailbox_max: usize,
    pub held_bytes: usize,
    /// Messages each room remembers (`--history`) and bytes all rooms'
    /// histories take (`--history-bytes`): the rooms stream's limits.
    pub history: usize,
    pub history_bytes: usize,
}

/// Who holds a name, as the names bucket records it. The bucket's key is
/// the name folded (ASCII lower case), so that two nodes cannot let `Bob`
/// and `bob` in at once; the value says how the name is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    /// Which run of that node (a node restarted under the same name is
    /// another incarnation: what the old one held is stale).
    pub incarnation: String,
    /// The name as shown; `None` in a claim of an evchat whose values did
    /// not say (its key is then the name as shown).
    pub name: Option<String>,
    /// The bucket revision of this claim.
    pub rev: u64,
}

/// A claim's value in the names bucket: `<node> <incarnation> <name>`,
/// the name as shown.
pub fn claim_value(node: &str, incarnation: &str, name: &str) -> String {
    format!("{node} {incarnation} {name}")
}

impl Holder {
    /// Reads a claim's value (see [`claim_value`]) at revision `rev`; one
    /// without a name (an older evchat's) is read too.
    pub fn parse(value: &[u8], rev: u64) -> Option<Holder> {
        let value = std::str::from_utf8(value).ok()?;
        let mut parts = value.splitn(3, ' ');
        let (node, incarnation) = (parts.next()?, parts.next()?);
        let name = match parts.next() {
            Some(name) if crate::protocol::is_valid_name(name) => Some(name.to_owned()),
            Some(_) => return None,
            None => None,
        };
        Some(Holder {
            node: node.to_owned(),
            incarnation: incarnation.to_owned(),
            name,
            rev,
        })
    }

    /// This claim's value in the names bucket, as it was read.
    pub fn value(&self) -> String {
        match &self.name {
            Some(name) => claim_value(&self.node, &self.incarnation, name),
            None => format!("{} {}", self.node, self.incarnation),
        }
    }
}

/// How a name claim ended.
#[derive(Debug)]
pub enum ClaimOutcome {
    Won {
        rev: u64,
        mail: Option<HeldMail>,
        /// The name as the cluster shows it: as first written, whatever
        /// case the login wrote it in.
        shown: String,
    },
    /// Someone else holds the name.
    Taken,
    /// Mail is held for the name (a claim that wanted none; given up).
    MailHeld,
    Unavailable(String),
}

/// A window of held mail fetched for a login, to be acknowledged with
/// `ticket` once the client answers the `PING` after it, or returned if it
/// does not.
#[derive(Debug)]
pub struct HeldMail {
    pub ticket: u64,
    pub frames: Vec<Bytes>,
    /// More is held after this window: fetched once it is acknowledged.
    pub more: bool,
}

/// How holding a private message for offline users ended.
#[derive(Debug)]
pub enum HoldOutcome {
    /// Held for everyone, except these (each with why not).
    Held {
        refused: Vec<(String, String)>,
    },
    NoSuchUser(String),
    /// Not held for anyone: too big for what is left, or no JetStream.
    Refused(crate::protocol::ErrorCode, String),
}

/// Counters the helper keeps, read by `STATS`.
#[derive(Debug, Default)]
pub struct Gauges {
    pub up: AtomicBool,
    /// Bus messages lost because this node fell behind: dropped by the
    /// intake ([`intake`]), or (counted once per report) by NATS's client.
    pub lagged: AtomicU64,
    /// Bus messages in and out.
    pub bus_in: AtomicU64,
    pub bus_out: AtomicU64,
    /// Work the loop could not hand over (the channel was full).
    pub dropped: AtomicU64,
    /// Bus messages handed to the loop and not yet taken, and their bytes
    /// (bounded: see [`intake`]).
    pub backlog: AtomicU64,
    pub backlog_bytes: AtomicU64,
    /// Bus messages the loop has taken from the backlog since start.
    pub taken: AtomicU64,
    /// Bytes the loop has handed to the helper to publish that the NATS
    /// client has not taken yet, and whether the loop holds its users'
    /// broadcasts back until they are below [`OUTBOUND_LOW`].
    pub outbound: AtomicU64,
    pub outbound_waiting: AtomicBool,
}

/// Messages the loop may have outstanding for the helper thread.
pub const QUEUE: usize = 1 << 16;

/// Where the loop's work for the helper goes: the helper's async runtime
/// reads it. (Without the `cluster` feature there is no helper, and no
/// backplane is ever made; the type only keeps the hub's code one.)
#[cfg(feature = "cluster")]
type Requests = tokio::sync::mpsc::Sender<ToCluster>;
#[cfg(not(feature = "cluster"))]
type Requests = std::sync::mpsc::SyncSender<ToCluster>;

/// The loop's side of the backplane.
pub struct Backplane {
    pub node: String,
    pub incarnation: String,
    pub node_timeout: Duration,
    requests: Requests,
    pub news: Receiver<FromCluster>,
    /// Set by the helper when it has news and has woken the loop.
    pub woken: Arc<AtomicBool>,
    pub gauges: Arc<Gauges>,
    /// Says when the helper has handed everything to NATS and ended.
    done: Receiver<()>,
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane")
            .field("node", &self.node)
            .finish()
    }
}

impl Backplane {
    /// Hands work to the helper without waiting; false when the channel is
    /// full (NATS has stalled), which is counted and logged.
    pub fn send(&self, job: ToCluster) -> bool {
        let len = match &job {
            ToCluster::Publish(payload) => payload.len() as u64,
            _ => 0,
        };
        // Counted first: the helper may publish it at once.
        self.gauges.outbound.fetch_add(len, Ordering::AcqRel);
        match self.requests.try_send(job) {
            Ok(()) => true,
            Err(_) => {
                self.gauges.outbound.fetch_sub(len, Ordering::AcqRel);
                let before = self.gauges.dropped.fetch_add(1, Ordering::Relaxed);
                if before.is_power_of_two() || before == 0 {
                    log::error!(
                        "the cluster link is {} messages behind; dropping ({} so far)",
                        QUEUE,
                        before + 1
                    );
                }
                false
            }
        }
    }

    /// The loop starts taking what the helper has sent: the helper wakes it
    /// again for anything sent from now on.
    pub fn start_taking(&self) {
        self.woken.store(false, Ordering::Release);
    }

    /// The next item the helper has sent, if any.
    pub fn next_news(&self) -> Option<FromCluster> {
        let news = self.news.try_recv().ok()?;
        match &news {
            FromCluster::Bus { payload, .. } => self.gauges.taken(payload.len() as u64),
            FromCluster::RoomSaid { frame, .. } => self.gauges.taken(frame.len() as u64),
            _ => {}
        }
        Some(news)
    }

    /// Ends the helper once it has carried out what it was given (names
    /// released, last messages published), waiting at most a few seconds.
    pub fn close(self) {
        let Backplane { requests, done, .. } = self;
        drop(requests);
        if done.recv_timeout(Duration::from_secs(3)).is_err() {
            log::warn!("the cluster link did not finish in time; other nodes will notice by the heartbeats");
        }
    }

    pub fn is_up(&self) -> bool {
        self.gauges.up.load(Ordering::Relaxed)
    }
}

/// A backplane without NATS, for the hub's tests: what the loop asks for
/// comes out of `jobs`, news for the loop goes into `news`.
#[cfg(all(test, feature = "cluster"))]
pub struct FakeHelper {
    pub jobs: tokio::sync::mpsc::Receiver<ToCluster>,
    pub news: std::sync::mpsc::Sender<FromCluster>,
    _done: std::sync::mpsc::SyncSender<()>,
}

#[cfg(all(test, feature = "cluster"))]
impl Backplane {
    pub fn fake(node: &str, incarnation: &str, node_timeout: Duration) -> (Backplane, FakeHelper) {
        let (requests, jobs) = tokio::sync::mpsc::channel(QUEUE);
        let (news_tx, news) = std::sync::mpsc::channel();
        let (done_tx, done) = std::sync::mpsc::sync_channel(1);
        let port = Backplane {
            node: node.to_owned(),
            incarnation: incarnation.to_owned(),
            node_timeout,
            requests,
            news,
            woken: Arc::new(AtomicBool::new(false)),
            gauges: Arc::new(Gauges::default()),
            done,
        };
        let helper = FakeHelper {
            jobs,
            news: news_tx,
            _done: done_tx,
        };
        (port, helper)
    }
}
