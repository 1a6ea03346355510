//! Back-pressure from other nodes: while another node's intake is filling
//! with this node's broadcasts (it said `S <nodes>` naming this one, see
//! [`congestion`](crate::server::cluster::congestion)), this node is *held
//! back*: its users' broadcasts may add only [`HOLD_ROOM`] bytes in all to
//! the bus, at most [`SHARE`] per connection, and a connection past its
//! share (or any, once the room is used) has its input paused — left
//! unread in its socket, as the work budget leaves it — until the hold
//! ends. So a flooder waits while its neighbours' small messages still go
//! out within their share, and the flood reaches the bus only as fast as
//! the slowest live node takes it in.
//!
//! This node's own link holds it back the same way — private messages to
//! users on other nodes included — while more than
//! [`OUTBOUND_HIGH`] bytes handed to the NATS thread wait to be published
//! (until it says it caught up): what another node asks to hold back must
//! not be queued here in bulk already, and this node's memory stays
//! bounded too. (Not while the link is down: local chat goes on then.)
//!
//! A hold ends when every node that asked for it has said it drained (`S`
//! without this node), has not renewed its notice for
//! [`NOTICE_LASTS`], or is declared dead: a stuck or lost node holds
//! nobody back for long. What was accepted is always published; only
//! reading more waits.

use super::super::{Hub, WaitFor};
use crate::server::cluster::wire::NOTICE_LASTS;
#[cfg(doc)]
use crate::server::cluster::OUTBOUND_HIGH;
use log::{debug, info};
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

/// Broadcast bytes one connection may publish during a hold before its
/// input waits for the hold to end: enough for a few chat lines.
pub(in crate::server::hub) const SHARE: usize = 4 << 10;
/// Broadcast bytes all connections together may publish during a hold.
pub(in crate::server::hub) const HOLD_ROOM: usize = 256 << 10;
/// Stands for this node's own link among the nodes holding it back (node
/// names are never empty).
pub(super) const OWN_LINK: &str = "";

/// This node's side of back-pressure.
#[derive(Debug, Default)]
pub(in crate::server::hub) struct Pacing {
    /// The nodes holding this one back, and until when their word holds.
    by: HashMap<String, Instant>,
    /// Holds begun so far: a connection's count from an earlier one is void.
    holds: u64,
    /// Broadcast bytes published during this hold.
    spent: usize,
    /// Connections whose input waits for the hold to end, with the serial
    /// of their wait.
    paused: HashMap<usize, u64>,
}

impl Pacing {
    pub(in crate::server::hub) fn is_held_back(&self) -> bool {
        !self.by.is_empty()
    }

    pub(in crate::server::hub) fn holds(&self) -> u64 {
        self.holds
    }
}

impl<T: Write> Hub<T> {
    /// Node `origin` says which nodes fill its intake: this one is held
    /// back by it if named, and no longer if not.
    pub(super) fn slow_down_asked(&mut self, origin: &str, nodes: &str) {
        let Some(c) = &mut self.cluster else { return };
        if nodes.split(',').any(|n| n == c.port.node) {
            self.hold_by(origin);
        } else {
            self.forget_hold_by(origin);
        }
    }

    /// `node` (or [`OWN_LINK`]) holds this node back, for
    /// [`NOTICE_LASTS`] unless it says so again.
    fn hold_by(&mut self, node: &str) {
        let until = self.now + NOTICE_LASTS;
        let Some(c) = &mut self.cluster else { return };
        let pacing = &mut c.pacing;
        if pacing.by.is_empty() {
            pacing.holds += 1;
            pacing.spent = 0;
            if pacing.holds.is_power_of_two() {
                let who = match node {
                    OWN_LINK => "the cluster link".to_owned(),
                    node => format!("node {node}"),
                };
                info!(
                    "{who} takes in this node's broadcasts more slowly than its users send them: holding them back ({} times so far)",
                    pacing.holds
                );
            }
        }
        pacing.by.insert(node.to_owned(), until);
    }

    /// A connection's broadcast of `bytes` went to the bus: during a hold,
    /// counts it, and pauses the connection's input once past its share.
    pub(in crate::server::hub) fn pace(&mut self, key: usize, bytes: usize) {
        let Some(c) = &mut self.cluster else { return };
        if c.port.is_up() && c.port.gauges.outbound_behind() {
            self.hold_by(OWN_LINK);
        }
        let Some(c) = &mut self.cluster else { return };
        let pacing = &mut c.pacing;
        if pacing.by.is_empty() {
            return;
        }
        pacing.spent = pacing.spent.saturating_add(bytes);
        let Some(s) = self.queues.sessions.get_mut(key) else {
            return;
        };
        let (hold, used) = &mut s.node.paced;
        if *hold != pacing.holds {
            (*hold, *used) = (pacing.holds, 0);
        }
        *used = used.saturating_add(bytes);
        let over = *used >= SHARE || pacing.spent >= HOLD_ROOM;
        if over && s.is_open() && !s.is_paused() {
            let serial = self.wait(key, WaitFor::Bus);
            if let Some(c) = &mut self.cluster {
                c.pacing.paused.insert(key, serial);
            }
        }
    }

    /// On the tick: notices not renewed in time run out.
    pub(super) fn expire_holds(&mut self) {
        let now = self.now;
        if let Some(c) = &mut self.cluster {
            c.pacing.by.retain(|_, until| *until > now);
        }
        self.end_hold_if_free();
    }

    /// A node declared dead (or that has drained, or this node's link once
    /// it caught up or went down) holds it back no more.
    pub(super) fn forget_hold_by(&mut self, node: &str) {
        if let Some(c) = &mut self.cluster {
            c.pacing.by.remove(node);
        }
        self.end_hold_if_free();
    }

    /// Once no node holds this one back, the paused connections go on.
    fn end_hold_if_free(&mut self) {
        let Some(c) = &mut self.cluster else { return };
        if c.pacing.is_held_back() || c.pacing.paused.is_empty() {
            return;
        }
        let paused = std::mem::take(&mut c.pacing.paused);
        debug!("hold ended: {} connections go on", paused.len());
        for (key, serial) in paused {
            if let Some(stash) = self.end_wait(key, serial) {
                self.go_on(key, &stash);
            }
        }
    }
}
