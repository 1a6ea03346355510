//! The loop's side of the cluster: what the rest of the hub asks of it
//! (here, each answering as a single node would when there is no
//! cluster: [`Hub::online_elsewhere`], [`Hub::names_elsewhere`], ...), and
//! the news the cluster's helper thread brings, taken up in turn:
//!
//! - [`names`]: the directory of names held on other nodes, claims and
//!   takeovers;
//! - [`bus`]: other nodes' messages into the turn's batch, this node's out,
//!   and `PING`s that wait for NATS;
//! - [`relay`]: private messages from other nodes, delivered or held
//!   here, and confirmed to their senders' `PING`s;
//! - [`liveness`]: which nodes are alive, by their heartbeats;
//! - [`pacing`]: this node's users' broadcasts held back while another
//!   node's intake is filling with them;
//! - [`rooms`] and [`rooms_apply`]: the node's copy of every room, made
//!   from JetStream, and its users' changes written there first.
//!
//! Held mail in JetStream is [`mail`](super::mail)'s.

mod bus;
mod liveness;
mod names;
mod pacing;
mod relay;
mod rename;
mod rooms;
mod rooms_apply;

use super::input::WORK_BUDGET;
use super::Hub;
use crate::protocol::Event;
use crate::server::cluster::wire;
use crate::server::cluster::{Backplane, FromCluster, Holder, ToCluster};
use crate::server::event_loop::READ_BUDGET;
use crate::server::names::{NameMap, NameSet};
use bytes::Bytes;
use log::debug;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Nodes this node keeps track of, at most.
pub(super) const MAX_NODES: usize = 1024;

/// A dead node's names are deleted from the bucket this long after.
pub(super) const FORGET_AFTER: Duration = Duration::from_secs(60);

/// What the loop knows about another node.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) last_heard: Instant,
    /// When it was declared dead.
    pub(super) dead_since: Option<Instant>,
    /// Its run, from its heartbeats (unknown until the first one): names
    /// held by another run of it are stale.
    pub(super) incarnation: Option<String>,
    /// Its last few earlier runs, and how often one of them spoke again.
    pub(super) earlier: Vec<String>,
    pub(super) clashes: u64,
}

impl Node {
    /// A node first heard of (or first seen holding a name) at `now`: it
    /// has the node timeout from then to be heard.
    pub(super) fn first_heard(now: Instant) -> Node {
        Node {
            last_heard: now,
            dead_since: None,
            incarnation: None,
            earlier: Vec::new(),
            clashes: 0,
        }
    }
}

/// A session's part in the cluster.
#[derive(Debug, Default)]
pub struct NodeLink {
    /// The names bucket's revision of this session's claim (0: none).
    pub(in crate::server) claim_rev: u64,
    /// Sent something to other nodes since its last `PING`, so the next
    /// one waits for NATS to confirm it.
    pub(in crate::server) published: bool,
    /// The nodes it sent private messages to since its last `PING`, and
    /// how many to each: the next one waits until they have delivered or
    /// held them.
    pub(in crate::server) confirm_with: Vec<(String, u64)>,
    /// The hold (numbered) during which it last broadcast, and how many
    /// bytes in that hold (see [`pacing`]).
    pub(in crate::server) paced: (u64, usize),
}

/// A private message waiting for its offline recipients' mail to be held.
#[derive(Debug)]
pub(super) struct PendingMsg {
    pub names: Vec<String>,
    pub frame: Rc<[u8]>,
}

/// A login (or a rename) waiting for its name claim.
#[derive(Debug, Default)]
pub(super) struct PendingClaim {
    pub key: usize,
    /// Announce `JOINED` once won (not when taking over a live session).
    pub announce: bool,
    /// The claim does not fetch the held mail: it replaces a session here,
    /// whose unacknowledged mail goes back first; fetched once won.
    pub fetch_after: bool,
    /// A rename's: the name the session has now.
    pub renaming: Option<Rc<str>>,
}

/// The loop's cluster state.
#[derive(Debug)]
pub struct ClusterState {
    pub port: Backplane,
    /// Names held on other nodes (compared without case, shown as their
    /// claims spell them).
    pub(in crate::server) remote: NameMap<Holder>,
    pub(super) nodes: HashMap<String, Node>,
    /// While the names watch is rebuilt: remote names not seen again yet.
    pub(super) rebuilding: Option<NameSet>,
    /// This turn's local broadcast frames, for the other nodes.
    pub(super) bus_out: Vec<u8>,
    /// Names being claimed, by serial of the wait.
    pub(super) claiming: NameMap<(u64, PendingClaim)>,
    /// Old names whose rooms are being moved to a session's new name, with
    /// that session (and its serial): a kick of the old name meanwhile
    /// takes that session out of the room.
    pub(super) moving: NameMap<(usize, u64)>,
    pub(super) pending_msgs: HashMap<u64, PendingMsg>,
    /// Other nodes' private messages held here, to be confirmed.
    pub(super) relays: relay::Relays,
    /// `PING` tokens waiting for NATS to confirm a flush, or other nodes
    /// their deliveries.
    pub(super) pending_pongs: HashMap<u64, Option<String>>,
    /// When the loop last ran the cluster's tick: a loop that was stalled
    /// (stopped, swapped out, busy) has not heard the others meanwhile.
    pub(super) last_tick: Option<Instant>,
    /// Messages received under this node's own name.
    pub(super) impostor_messages: u64,
    /// Bus messages dropped as malformed, and nodes past `MAX_NODES`
    /// ignored (both logged at powers of two, not each time).
    pub(super) malformed: u64,
    pub(super) ignored_nodes: u64,
    /// Other nodes holding this one's broadcasts back.
    pub(super) pacing: pacing::Pacing,
    pub(super) rooms: rooms::RoomsLink,
    /// What the helper read before the loop ran (the rooms, whole) has
    /// been taken in.
    pub(super) started: bool,
}

impl ClusterState {
    pub fn new(port: Backplane) -> ClusterState {
        ClusterState {
            port,
            remote: NameMap::new(),
            nodes: HashMap::new(),
            rebuilding: None,
            bus_out: Vec::new(),
            claiming: NameMap::new(),
            moving: NameMap::new(),
            pending_msgs: HashMap::new(),
            relays: Default::default(),
            pending_pongs: HashMap::new(),
            last_tick: None,
            impostor_messages: 0,
            malformed: 0,
            ignored_nodes: 0,
            pacing: Default::default(),
            rooms: Default::default(),
            started: false,
        }
    }

    /// Is `holder`'s claim one of a live node's current run? Nodes never
    /// heard from are given the node timeout from when they were first
    /// seen.
    pub(in crate::server) fn is_current(&self, holder: &Holder) -> bool {
        self.nodes.get(&holder.node).is_none_or(|n| {
            n.dead_since.is_none()
                && n.incarnation
                    .as_deref()
                    .is_none_or(|i| i == holder.incarnation)
        })
    }

    /// Who holds `name` on another live node.
    pub(in crate::server) fn live_holder(&self, name: &str) -> Option<&Holder> {
        self.remote.get(name).filter(|h| self.is_current(h))
    }

    pub(super) fn live_nodes(&self) -> usize {
        1 + self
            .nodes
            .values()
            .filter(|n| n.dead_since.is_none())
            .count()
    }
}

impl<T: Write> Hub<T> {
    /// Takes what the cluster's helper thread has sent, within the budget
    /// of one connection's turn: at most [`READ_BUDGET`] bytes from the bus
    /// and [`WORK_BUDGET`] units of work — one per item, one per frame, and
    /// one per user online for each batch it seals, as a local sender is
    /// charged. So a flood from another node costs this node's users what
    /// the same flood from one of them would, and the bus takes its turn
    /// with the local connections. Returns whether more may be waiting
    /// (the loop then does not sleep before its next turn).
    pub fn take_cluster_news(&mut self) -> bool {
        let Some(cluster) = &self.cluster else {
            return false;
        };
        cluster.port.start_taking();
        let (mut bytes, mut units) = (0usize, 0u64);
        while bytes < READ_BUDGET && units < WORK_BUDGET {
            let Some(item) = self.cluster.as_ref().and_then(|c| c.port.next_news()) else {
                self.started_up();
                return false;
            };
            match &item {
                FromCluster::Bus { payload, .. } => bytes += payload.len(),
                FromCluster::RoomSaid { frame, .. } => bytes += frame.len(),
                _ => {}
            }
            let seals = self.batch.seals;
            let frames = self.on_cluster_news(item);
            // What an item queued past a limit is settled before the next
            // (a run of private messages from the bus to one reader).
            self.settle();
            let sealed = self.batch.seals.saturating_sub(seals);
            units += 1 + frames + sealed.saturating_mul(self.online.len() as u64);
        }
        true
    }

    /// Everything read before the loop ran is taken in: the helper thread's
    /// copies of the rooms' history are freed, and the allocator is asked
    /// to give them back (freed by this thread into the helper's arena,
    /// they were kept: a node started on 47 MiB of history held 138 MB).
    fn started_up(&mut self) {
        let Some(c) = &mut self.cluster else { return };
        if std::mem::replace(&mut c.started, true) {
            return;
        }
        if self.rooms.history_bytes() > 0 {
            crate::server::limits::release_free_memory();
        }
    }

    /// Acts on one item of news; returns how many frames it brought.
    fn on_cluster_news(&mut self, news: FromCluster) -> u64 {
        match news {
            FromCluster::Bus { origin, payload } => return self.on_bus(&origin, &payload),
            FromCluster::Claimed {
                key,
                serial,
                name,
                outcome,
            } => self.claimed(key, serial, &name, outcome),
            FromCluster::Held {
                key,
                serial,
                outcome,
            } => self.held(key, serial, outcome),
            FromCluster::Flushed { key, serial, ok } => self.flushed(key, serial, ok),
            FromCluster::Confirmed {
                key,
                serial,
                failures,
            } => self.confirmed(key, serial, failures),
            FromCluster::HeldHere { id, outcome } => self.held_here(id, outcome),
            FromCluster::Mail { key, name, mail } => self.window_fetched(key, &name, mail),
            FromCluster::FetchFailed { key, name, why } => self.fetch_failed(key, &name, &why),
            FromCluster::Name { name, holder } => self.on_name(name, holder),
            FromCluster::ClaimFound { name, holder } => self.claim_found(&name, &holder),
            FromCluster::NamesReset => {
                if let Some(c) = &mut self.cluster {
                    c.rebuilding = Some(c.remote.keys().cloned().collect());
                }
            }
            FromCluster::NamesSynced => self.names_synced(),
            FromCluster::Link(up) => {
                debug!("cluster link {}", if up { "up" } else { "down" });
                if !up {
                    // Publishing waits for the link to come back; local
                    // chat does not wait for it.
                    self.forget_hold_by(pacing::OWN_LINK);
                }
            }
            FromCluster::CaughtUp => self.forget_hold_by(pacing::OWN_LINK),
            FromCluster::RoomMember { change, rev } => self.room_member_applied(change, rev),
            FromCluster::RoomSettings { room, value, rev } => {
                self.room_settings_applied(&room, &value, rev)
            }
            FromCluster::RoomRead { name, seq } => self.room_read_applied(&name, seq),
            FromCluster::RoomSaid { seq, rooms, frame } => {
                return self.room_said_applied(seq, &rooms, &frame)
            }
            FromCluster::RoomWritten {
                key,
                serial,
                outcome,
            } => self.room_written(key, serial, outcome),
            FromCluster::RoomsReset => self.rooms_reset(),
            FromCluster::RoomsSynced => self.rooms_synced(),
        }
        0
    }

    /// Publishes this turn's local broadcasts to the other nodes, once.
    pub(super) fn publish_bus_out(&mut self) {
        let Some(c) = &mut self.cluster else { return };
        if c.bus_out.is_empty() {
            return;
        }
        let mut payload = Vec::with_capacity(c.bus_out.len() + 2);
        wire::encode_broadcast(&mut payload, &c.bus_out);
        c.bus_out.clear();
        c.port.send(ToCluster::Publish(Bytes::from(payload)));
    }

    /// Adds the batch's frames from `start` on to what the other nodes are
    /// sent, published once a batch's worth has gathered (and at the end
    /// of the turn); returns whether there are other nodes.
    pub(super) fn batch_to_bus(&mut self, start: usize) -> bool {
        let Some(c) = &mut self.cluster else {
            return false;
        };
        c.bus_out.extend_from_slice(self.batch.frames_from(start));
        if c.bus_out.len() >= super::fanout::BATCH_MAX {
            self.publish_bus_out();
        }
        true
    }

    /// Tells the other nodes' users `event`, not this node's (at
    /// shutdown, a user's departure).
    pub(super) fn tell_other_nodes(&mut self, event: &Event<'_>) {
        if let Some(c) = &mut self.cluster {
            event.encode(&mut c.bus_out);
        }
    }

    /// Gives up a session's claim on its name (fails harmlessly if the
    /// name has been taken over since).
    pub(super) fn release_claim(&self, name: &str, rev: u64) {
        if let (Some(c), true) = (&self.cluster, rev != 0) {
            c.port.send(ToCluster::Release {
                name: name.to_owned(),
                rev,
            });
        }
    }

    /// Is `name` online on another live node?
    pub(in crate::server) fn online_elsewhere(&self, name: &str) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| c.live_holder(name).is_some())
    }

    /// `name` as this node has heard it spelt elsewhere: held on another
    /// node, or a member of a room (in any case).
    pub(in crate::server) fn known_elsewhere_as(&self, name: &str) -> Option<Rc<str>> {
        let remote = self.cluster.as_ref()?.remote.shown(name).cloned();
        remote.or_else(|| self.rooms.name_as(name))
    }

    /// The names online on other live nodes.
    pub(in crate::server) fn names_elsewhere(&self) -> impl Iterator<Item = &str> {
        self.cluster.iter().flat_map(|c| {
            c.remote
                .iter()
                .filter(|(_, h)| c.is_current(h))
                .map(|(n, _)| &**n)
        })
    }

    /// Is this a cluster node whose link to NATS is down?
    pub(super) fn backplane_down(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| !c.port.is_up())
    }

    /// The `STATS` fields of a cluster node.
    pub(super) fn cluster_stats(&self) -> String {
        let Some(c) = &self.cluster else {
            return String::new();
        };
        let g = &c.port.gauges;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        format!(
            " cluster_up={} nodes={} bus_in={} bus_out={} bus_lagged={} bus_dropped={} bus_holds={}",
            u8::from(c.port.is_up()),
            c.live_nodes(),
            load(&g.bus_in),
            load(&g.bus_out),
            load(&g.lagged),
            load(&g.dropped),
            c.pacing.holds(),
        )
    }
}
