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
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn on_bus(&mut self, origin: &str, payload: &Bytes) {
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
                        if self.push_private(key, &frame) {
                            self.counters.deliveries += 1;
                        }
                    }
                }
            }
            Ok(BusMessage::MailFor { name }) => {
                if let Some(&key) = self.online.get(name) {
                    self.mail_waiting(key, name);
                }
            }
            Ok(BusMessage::Heartbeat { .. }) => {}
            Err(e) => {
                let Some(c) = &mut self.cluster else { return };
                c.malformed += 1;
                if c.malformed.is_power_of_two() {
                    warn!(
                        "malformed message from node {origin} dropped: {} ({} so far)",
                        e.0, c.malformed
                    );
                }
            }
        }
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
    /// until NATS has them. Returns false when no wait is needed.
    pub(in crate::server) fn ping_in_cluster(&mut self, key: usize, token: Option<&str>) -> bool {
        let published = self
            .queues
            .sessions
            .get_mut(key)
            .is_some_and(|s| std::mem::take(&mut s.node.published));
        if self.cluster.is_none() || !published {
            return false;
        }
        // This turn's broadcasts go to NATS before the flush is asked for.
        self.publish_bus_out();
        let serial = self.wait(key, WaitFor::Publish);
        if !self.send_or_refuse(key, ToCluster::Flush { key, serial }) {
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
