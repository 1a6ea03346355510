//! The loop's side of the cluster: the directory of names held on other
//! nodes, which nodes are alive, and what arrives from the bus.
//!
//! The names bucket is the truth about who holds a name; the loop follows
//! it through the helper's watch. Heartbeats on the bus say which nodes
//! are alive: a node silent for the node timeout is dead, its users are
//! announced as gone here (each node announces to its own users) and its
//! names may be taken over; a minute later its entries are deleted.
//! Frames from the bus join the turn's batch like local ones, so remote
//! messages cost each local recipient one shared queue entry.

use super::Hub;
use crate::protocol::reply::{encode_err, encode_fields};
use crate::protocol::ErrorCode;
use crate::server::cluster::wire::{self, BusMessage};
use crate::server::cluster::{Backplane, FromCluster, Holder, ToCluster};
use bytes::Bytes;
use log::{debug, error, info, warn};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A dead node's names are deleted from the bucket this long after.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// What the loop knows about another node.
#[derive(Debug)]
struct Node {
    last_heard: Instant,
    /// When it was declared dead.
    dead_since: Option<Instant>,
    /// Its run, from its heartbeats (unknown until the first one): names
    /// held by another run of it are stale.
    incarnation: Option<String>,
    /// Its last few earlier runs, and how often one of them spoke again.
    earlier: Vec<String>,
    clashes: u64,
}

/// A private message waiting for its offline recipients' mail to be held.
#[derive(Debug)]
pub(super) struct PendingMsg {
    pub names: Vec<String>,
    pub frame: Rc<[u8]>,
}

/// A login waiting for its name claim.
#[derive(Debug)]
pub(super) struct PendingClaim {
    pub key: usize,
    /// Announce `JOINED` once won (not when taking over a live session).
    pub announce: bool,
}

/// The loop's cluster state.
#[derive(Debug)]
pub struct ClusterState {
    pub port: Backplane,
    /// Names held on other nodes.
    pub(in crate::server) remote: HashMap<Rc<str>, Holder>,
    nodes: HashMap<String, Node>,
    /// While the names watch is rebuilt: remote names not seen again yet.
    rebuilding: Option<HashSet<Rc<str>>>,
    /// This turn's local broadcast frames, for the other nodes.
    pub(super) bus_out: Vec<u8>,
    /// Names being claimed, by serial of the wait.
    pub(super) claiming: HashMap<String, (u64, PendingClaim)>,
    pub(super) pending_msgs: HashMap<u64, PendingMsg>,
    /// `PING` tokens waiting for NATS to confirm a flush.
    pub(super) pending_pongs: HashMap<u64, Option<String>>,
    /// When the loop last ran the cluster's tick: a loop that was stalled
    /// (stopped, swapped out, busy) has not heard the others meanwhile.
    last_tick: Option<Instant>,
    /// Messages received under this node's own name.
    impostor_messages: u64,
}

impl ClusterState {
    pub fn new(port: Backplane) -> ClusterState {
        ClusterState {
            port,
            remote: HashMap::new(),
            nodes: HashMap::new(),
            rebuilding: None,
            bus_out: Vec::new(),
            claiming: HashMap::new(),
            pending_msgs: HashMap::new(),
            pending_pongs: HashMap::new(),
            last_tick: None,
            impostor_messages: 0,
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
    /// Takes what the cluster's helper thread has sent.
    pub fn take_cluster_news(&mut self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let news: Vec<FromCluster> = cluster.port.take_news().collect();
        for item in news {
            self.on_cluster_news(item);
        }
    }

    fn on_cluster_news(&mut self, news: FromCluster) {
        match news {
            FromCluster::Bus { origin, payload } => self.on_bus(&origin, &payload),
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
            FromCluster::Mail { key, name, mail } => {
                if self.online.get(name.as_str()) == Some(&key) {
                    self.deliver_cluster_mail(key, &name, mail);
                } else if let Some(c) = &self.cluster {
                    c.port.send(ToCluster::ReturnMail {
                        ticket: mail.ticket,
                    });
                }
            }
            FromCluster::Name { name, holder } => self.on_name(name, holder),
            FromCluster::NamesReset => {
                if let Some(c) = &mut self.cluster {
                    c.rebuilding = Some(c.remote.keys().cloned().collect());
                }
            }
            FromCluster::NamesSynced => self.names_synced(),
            FromCluster::Link(up) => debug!("cluster link {}", if up { "up" } else { "down" }),
        }
    }

    /// A message from `origin` (a heartbeat of run `incarnation`): it is
    /// alive. Names of an earlier run of it are gone (announced, unless
    /// they were when it was counted dead); a node back from the dead has
    /// its users announced again, as they are in `WHO` again.
    fn heard_from(&mut self, origin: &str, incarnation: Option<&str>) {
        let now = self.now;
        let Some(c) = &mut self.cluster else { return };
        let node = c.nodes.entry(origin.to_owned()).or_insert(Node {
            last_heard: now,
            dead_since: None,
            incarnation: None,
            earlier: Vec::new(),
            clashes: 0,
        });
        node.last_heard = now;
        let was_dead = node.dead_since.take().is_some();
        let restarted = match incarnation {
            Some(run) if node.incarnation.as_deref() != Some(run) => {
                if node.earlier.iter().any(|r| r == run) {
                    // An earlier run is alive: two processes share the
                    // name. Not a restart every other second.
                    node.clashes += 1;
                    if node.clashes.is_power_of_two() {
                        error!("two processes run as node {origin} (runs {run} and {}): node names must be unique in a cluster", node.incarnation.as_deref().unwrap_or("?"));
                    }
                    false
                } else {
                    if let Some(old) = node.incarnation.replace(run.to_owned()) {
                        if node.earlier.len() >= 4 {
                            node.earlier.remove(0);
                        }
                        node.earlier.push(old);
                    }
                    true
                }
            }
            _ => false,
        };
        if !was_dead && !restarted {
            return;
        }
        self.users_reply = None;
        let mut stale = Vec::new();
        let mut back = Vec::new();
        for (name, h) in &c.remote {
            if h.node != origin {
                continue;
            }
            match incarnation {
                Some(run) if restarted && h.incarnation != run => stale.push(Rc::clone(name)),
                _ if was_dead => back.push(Rc::clone(name)),
                _ => {}
            }
        }
        stale.sort_unstable();
        back.sort_unstable();
        for name in &stale {
            c.remote.remove(name);
        }
        if was_dead {
            info!("node {origin} is back");
        } else if !stale.is_empty() {
            info!(
                "node {origin} restarted: its {} users of the earlier run are gone",
                stale.len()
            );
        }
        let time = self.clock.stamp();
        if !was_dead {
            for name in stale {
                self.broadcast_local(&["LEFT", &name, time.as_str(), "node lost"]);
            }
        }
        for name in back {
            self.broadcast_local(&["JOINED", &name, time.as_str()]);
        }
    }

    fn on_bus(&mut self, origin: &str, payload: &Bytes) {
        if let Some(c) = &mut self.cluster {
            if origin == c.port.node {
                // NATS does not echo this node's own messages: another
                // process publishes under its name (the same --node-name
                // twice, or a forger). Counting it would make this node a
                // peer of itself, and its heartbeats a restart every second.
                c.impostor_messages += 1;
                if c.impostor_messages.is_power_of_two() {
                    error!(
                        "another process publishes as node {origin} ({} messages so far): node names must be unique in a cluster; its messages are dropped",
                        c.impostor_messages
                    );
                }
                return;
            }
        }
        let decoded = wire::decode(payload);
        let incarnation = match &decoded {
            Ok(BusMessage::Heartbeat { incarnation }) => Some(*incarnation),
            _ => None,
        };
        if decoded.is_ok() {
            self.heard_from(origin, incarnation);
        }
        match decoded {
            Ok(BusMessage::Broadcast { frames, count }) => self.broadcast_remote(frames, count),
            Ok(BusMessage::Private { to, frame }) => {
                // After the broadcasts that came before it.
                if self.batch.has_frames() {
                    self.seal();
                }
                let frame: Rc<[u8]> = Rc::from(frame);
                for name in to.split(',') {
                    if let Some(&key) = self.online.get(name) {
                        if self.queues.push_shared(key, &frame) {
                            self.counters.deliveries += 1;
                        }
                    }
                }
            }
            Ok(BusMessage::MailFor { name }) => {
                if let (Some(&key), Some(c)) = (self.online.get(name), &self.cluster) {
                    c.port.send(ToCluster::Fetch {
                        key,
                        name: name.to_owned(),
                    });
                }
            }
            Ok(BusMessage::Heartbeat { .. }) => {}
            Err(e) => warn!("malformed message from node {origin} dropped: {}", e.0),
        }
    }

    /// A names-bucket change.
    fn on_name(&mut self, name: String, holder: Option<Holder>) {
        let Some(c) = &mut self.cluster else { return };
        let name: Rc<str> = Rc::from(name);
        if let Some(set) = &mut c.rebuilding {
            set.remove(&name);
        }
        self.users_reply = None;
        let claiming = c.claiming.contains_key(&*name);
        let local = self.online.get(&name).copied();
        match holder {
            Some(h) if h.node == c.port.node => {
                c.remote.remove(&name);
                let ours = h.incarnation == c.port.incarnation
                    && (claiming
                        || local.is_some_and(|k| {
                            self.queues
                                .sessions
                                .get(k)
                                .is_some_and(|s| s.claim_rev == h.rev)
                        }));
                if !ours {
                    // A claim of an earlier run of this node, or of a
                    // session gone meanwhile.
                    c.port.send(ToCluster::Release {
                        name: name.to_string(),
                        rev: h.rev,
                    });
                }
            }
            Some(h) => {
                if !c.nodes.contains_key(&h.node) {
                    c.nodes.insert(
                        h.node.clone(),
                        Node {
                            last_heard: self.now,
                            dead_since: None,
                            incarnation: None,
                            earlier: Vec::new(),
                            clashes: 0,
                        },
                    );
                }
                let node = h.node.clone();
                c.remote.insert(Rc::clone(&name), h);
                if let (Some(key), false) = (local, claiming) {
                    // Logged in elsewhere with the password: this session
                    // lost the name (no LEFT: the name never went offline).
                    let text = format!("replaced by a new login as {name} on node {node}");
                    self.take_name(key);
                    self.return_mail(key);
                    self.queues
                        .push_final(key, |b| encode_err(b, ErrorCode::NameTaken, &text));
                    self.close(key, None);
                }
            }
            None => {
                c.remote.remove(&name);
                if let (Some(key), false) = (local, claiming) {
                    // Our claim was deleted (we were taken for dead): claim
                    // it again, or hand over the name if someone was faster.
                    self.reclaim(key, &name);
                }
            }
        }
    }

    /// The names watch has delivered the whole bucket again: names that
    /// went away while it was down are announced as gone.
    fn names_synced(&mut self) {
        let Some(c) = &mut self.cluster else { return };
        let Some(gone) = c.rebuilding.take() else {
            return;
        };
        let gone: Vec<Rc<str>> = gone
            .into_iter()
            .filter(|name| c.remote.remove(name).is_some())
            .collect();
        let time = self.clock.stamp();
        for name in gone {
            self.broadcast_local(&["LEFT", &name, time.as_str()]);
        }
        self.users_reply = None;
    }

    /// Cluster work on the loop's tick: a heartbeat, and nodes that fell
    /// silent declared dead.
    pub(super) fn cluster_tick(&mut self) {
        let now = self.now;
        let Some(c) = &mut self.cluster else { return };
        let beat = wire::encode_heartbeat(&c.port.incarnation);
        c.port.send(ToCluster::Publish(Bytes::from(beat)));
        let timeout = c.port.node_timeout;
        // A loop that did not run for the node timeout could not hear the
        // others: their silence is its own, and they get their time again.
        if c.last_tick
            .is_some_and(|t| now.saturating_duration_since(t) >= timeout)
        {
            warn!(
                "this node's loop was stalled for {} ms: giving the other nodes their time again",
                c.last_tick
                    .map_or(0, |t| now.saturating_duration_since(t).as_millis())
            );
            for node in c.nodes.values_mut() {
                node.last_heard = now;
            }
        }
        c.last_tick = Some(now);
        let mut died = Vec::new();
        let mut forget = Vec::new();
        for (name, node) in &mut c.nodes {
            match node.dead_since {
                None if now.saturating_duration_since(node.last_heard) >= timeout => {
                    node.dead_since = Some(now);
                    died.push(name.clone());
                }
                Some(since) if now.saturating_duration_since(since) >= FORGET_AFTER => {
                    forget.push(name.clone());
                }
                _ => {}
            }
        }
        if forget.is_empty() && died.is_empty() {
            return;
        }
        // One pass over the directory, whatever the number of nodes.
        let mut users_of: HashMap<String, Vec<(Rc<str>, u64)>> = HashMap::new();
        for name in forget.iter().chain(&died) {
            users_of.insert(name.clone(), Vec::new());
        }
        for (user, h) in &c.remote {
            if let Some(users) = users_of.get_mut(&h.node) {
                users.push((Rc::clone(user), h.rev));
            }
        }
        for name in forget {
            c.nodes.remove(&name);
            for (user, rev) in users_of.remove(&name).unwrap_or_default() {
                c.remote.remove(&user);
                c.port.send(ToCluster::Release {
                    name: user.to_string(),
                    rev,
                });
            }
        }
        for node in died {
            let mut users: Vec<Rc<str>> = users_of
                .remove(&node)
                .unwrap_or_default()
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            users.sort_unstable();
            warn!(
                "node {node} has been silent for {} s: counting it dead, and its {} users gone",
                timeout.as_secs(),
                users.len()
            );
            self.users_reply = None;
            let time = self.clock.stamp();
            for user in users {
                self.broadcast_local(&["LEFT", &user, time.as_str(), "node lost"]);
            }
        }
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

    /// The `STATS` fields of a cluster node.
    pub(super) fn cluster_stats(&self) -> String {
        let Some(c) = &self.cluster else {
            return String::new();
        };
        let g = &c.port.gauges;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        format!(
            " cluster_up={} nodes={} bus_in={} bus_out={} bus_lagged={} bus_dropped={}",
            u8::from(c.port.is_up()),
            c.live_nodes(),
            load(&g.bus_in),
            load(&g.bus_out),
            load(&g.lagged),
            load(&g.dropped),
        )
    }

    /// Sends the `PONG` a flush was waited for.
    fn flushed(&mut self, key: usize, serial: u64, ok: bool) {
        let Some(c) = &mut self.cluster else { return };
        let Some(token) = c.pending_pongs.remove(&serial) else {
            return;
        };
        let Some(stash) = self.end_wait(key, serial) else {
            return;
        };
        if !ok {
            let text = "the cluster is unavailable: what you sent may not have reached other nodes";
            self.reply_err(key, ErrorCode::Unavailable, text);
        }
        self.queues.push_reply(key, |b| match &token {
            Some(token) => encode_fields(b, &["PONG", token]),
            None => encode_fields(b, &["PONG"]),
        });
        self.go_on(key, &stash);
    }
}
