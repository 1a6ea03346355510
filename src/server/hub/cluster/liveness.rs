//! Which other nodes are alive. Each node's loop publishes a heartbeat
//! every tick; a node silent for the node timeout is dead: its users are
//! announced as gone here (every node tells its own users), its names may
//! be taken over, and a minute later its entries are deleted. A node heard
//! again comes back with its users; a new run of a node replaces the old
//! one's users. A loop that was itself stalled gives the others their time
//! again before judging them.

use super::super::Hub;
use super::{Node, FORGET_AFTER, MAX_NODES};
use crate::protocol::Event;
use crate::server::cluster::wire;
use crate::server::cluster::ToCluster;
use bytes::Bytes;
use log::{error, info, warn};
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// A message from `origin` (a heartbeat of run `incarnation`): it is
    /// alive. Names of an earlier run of it are gone (announced, unless
    /// they were when it was counted dead); a node back from the dead has
    /// its users announced again, as they are in `WHO` again.
    pub(super) fn heard_from(&mut self, origin: &str, incarnation: Option<&str>) {
        let now = self.now;
        let Some(c) = &mut self.cluster else { return };
        if c.nodes.len() >= MAX_NODES && !c.nodes.contains_key(origin) {
            // Forged heartbeats under ever new names must not grow this.
            c.ignored_nodes += 1;
            if c.ignored_nodes.is_power_of_two() {
                error!(
                    "more than {MAX_NODES} nodes heard from: ignoring node {origin} \
                     ({} ignored so far; is someone publishing on the bus?)",
                    c.ignored_nodes
                );
            }
            return;
        }
        if !c.nodes.contains_key(origin) {
            c.nodes.insert(origin.to_owned(), Node::first_heard(now));
        }
        let Some(node) = c.nodes.get_mut(origin) else {
            return;
        };
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
        for (name, h) in c.remote.iter() {
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
                self.broadcast_local(&node_lost(&name, time.as_str()));
            }
        }
        for name in back {
            self.broadcast_local(&Event::Joined {
                name: &name,
                time: time.as_str(),
            });
        }
    }

    /// Cluster work on the loop's tick: a heartbeat, and nodes that fell
    /// silent declared dead.
    pub(in crate::server::hub) fn cluster_tick(&mut self) {
        let now = self.now;
        self.expire_holds();
        self.rooms_tick();
        let Some(c) = &mut self.cluster else { return };
        let beat = wire::encode_heartbeat(&c.port.incarnation);
        c.port.send(ToCluster::Publish(Bytes::from(beat)));
        let timeout = c.port.node_timeout;
        // A loop that did not run for a while could not hear the others:
        // that silence is its own, not theirs, and is not counted against
        // them (a stall just short of the timeout, on top of the time
        // since a node's last heartbeat, declared it dead).
        let gap = c.last_tick.map(|t| now.saturating_duration_since(t));
        if let Some(gap) = gap.filter(|g| *g >= timeout / 2) {
            warn!(
                "this node's loop was stalled for {} ms: the other nodes get that time again",
                gap.as_millis()
            );
            for node in c.nodes.values_mut() {
                node.last_heard = (node.last_heard + gap).min(now);
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
        for (user, h) in c.remote.iter() {
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
            self.forget_hold_by(&node);
            self.users_reply = None;
            let time = self.clock.stamp();
            for user in users {
                self.broadcast_local(&node_lost(&user, time.as_str()));
            }
        }
    }
}

/// A user of a node counted dead, announced as gone.
fn node_lost<'a>(name: &'a str, time: &'a str) -> Event<'a> {
    Event::Left {
        name,
        time,
        text: Some("node lost"),
    }
}
