//! The bus: frames from other nodes join the turn's batch like local
//! ones, so remote messages cost each local recipient one shared queue
//! entry; this node's broadcasts go out once a turn (or a batch's worth);
//! and a `PING` after messages for other nodes waits until NATS has them.

use super::super::{Hub, WaitFor};
use crate::protocol::{ErrorCode, Event};
use crate::server::cluster::wire::{self, BusMessage};
use crate::server::cluster::ToCluster;
use bytes::Bytes;
use log::{error, warn};
use std::io::Write;

impl<T: Write> Hub<T> {
    /// Acts on a message from another node; returns how many frames it
    /// brought.
    pub(super) fn on_bus(&mut self, origin: &str, payload: &Bytes) -> u64 {
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
                return 0;
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
            Ok(BusMessage::Broadcast { frames, count }) => {
                self.broadcast_remote(frames, count);
                return count + self.announce_remote_logins(frames);
            }
            Ok(BusMessage::Private { to, route, frame }) => {
                self.private_from_bus(origin, to, route, frame);
                return 1;
            }
            Ok(BusMessage::Confirm {
                node,
                sender,
                count,
                inbox,
            }) => self.confirm_asked(origin, node, sender, count, inbox),
            Ok(BusMessage::MailFor { name }) => {
                if let Some(&key) = self.online.get(name) {
                    self.mail_waiting(key, name);
                }
            }
            Ok(BusMessage::SlowDown { nodes }) => self.slow_down_asked(origin, nodes),
            Ok(BusMessage::Heartbeat { .. }) => {}
            Err(e) => {
                let Some(c) = &mut self.cluster else { return 0 };
                c.malformed += 1;
                if c.malformed.is_power_of_two() {
                    warn!(
                        "malformed message from node {origin} dropped: {} ({} so far)",
                        e.0, c.malformed
                    );
                }
            }
        }
        0
    }

    /// Sends the `PONG` a flush was waited for.
    pub(super) fn flushed(&mut self, key: usize, serial: u64, ok: bool) {
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
        self.reply(key, &Event::Pong(token.as_deref()));
        self.go_on(key, &stash);
    }

    /// `PING` in a cluster after messages for other nodes: the `PONG` waits
    /// until NATS has them — and, for private messages, until the nodes
    /// they went to have delivered or held them. Returns false when no
    /// wait is needed.
    pub(in crate::server) fn ping_in_cluster(&mut self, key: usize, token: Option<&str>) -> bool {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return false;
        };
        let published = std::mem::take(&mut session.node.published);
        let nodes = std::mem::take(&mut session.node.confirm_with);
        let sender = session.serial;
        if self.cluster.is_none() || (!published && nodes.is_empty()) {
            return false;
        }
        // This turn's broadcasts go to NATS before the flush is asked for.
        self.publish_bus_out();
        let serial = self.wait(key, WaitFor::Publish);
        let job = if nodes.is_empty() {
            ToCluster::Flush { key, serial }
        } else {
            // Their answers mean NATS had everything before: no flush.
            ToCluster::Confirm {
                key,
                serial,
                sender,
                nodes,
            }
        };
        if !self.send_or_refuse(key, job) {
            if let Some(stash) = self.end_wait(key, serial) {
                self.go_on(key, &stash);
            }
            return false;
        }
        if let Some(c) = &mut self.cluster {
            c.pending_pongs.insert(serial, token.map(str::to_owned));
        }
        true
    }
}
