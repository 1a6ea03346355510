//! Held mail in a cluster: in JetStream, through the cluster's helper
//! thread. A private message to someone offline on every node waits —
//! the sender's input paused, as for a password check — until JetStream
//! holds it, and only then reaches the recipients online (here, or on
//! other nodes through the bus), so nobody gets a message that the sender
//! is told failed. Mail held for a user comes a window at a time (see
//! [`super::pace`]): the first with its name's claim at login, or when
//! another node says there is more; each is acknowledged in JetStream by
//! ticket once the `PING` after it is answered.

use super::Hub;
use crate::protocol::{ErrorCode, Event};
use crate::server::cluster::{wire, HoldOutcome, ToCluster};
use crate::server::hub::cluster::PendingMsg;
use crate::server::hub::WaitFor;
use bytes::Bytes;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// A private message in a cluster: to users online here, to other
    /// nodes for users online there, and held in JetStream for the rest —
    /// all of it only once the offline ones' mail is held.
    pub(super) fn send_private_in_cluster(&mut self, key: usize, names: &[&str], msg: &Event<'_>) {
        let mut frame = Vec::with_capacity(msg.encoded_len());
        msg.encode(&mut frame);
        let frame: Rc<[u8]> = Rc::from(frame);
        let Some(c) = &self.cluster else { return };
        let offline: Vec<String> = names
            .iter()
            .filter(|n| !self.online.contains_key(n) && c.live_holder(n).is_none())
            .map(|n| (*n).to_owned())
            .collect();
        // Those held for get it from their mailbox (at once, if they log
        // in meanwhile), never also live: only the others are kept.
        let names: Vec<String> = names
            .iter()
            .filter(|n| !offline.iter().any(|o| o == *n))
            .map(|n| (*n).to_owned())
            .collect();
        if offline.is_empty() {
            return self.deliver_private(Some(key), &names, &frame);
        }
        let serial = self.wait(key, WaitFor::HeldMail);
        let job = ToCluster::Hold {
            key,
            serial,
            names: offline,
            frame: Bytes::copy_from_slice(&frame),
        };
        if self.send_or_refuse(key, job) {
            if let Some(c) = &mut self.cluster {
                c.pending_msgs.insert(serial, PendingMsg { names, frame });
            }
        } else if let Some(stash) = self.end_wait(key, serial) {
            self.go_on(key, &stash);
        }
    }

    /// JetStream answered a hold: the message goes to the recipients
    /// online, or the sender is told why not.
    pub(in crate::server::hub) fn held(&mut self, key: usize, serial: u64, outcome: HoldOutcome) {
        let Some(c) = &mut self.cluster else { return };
        let Some(pending) = c.pending_msgs.remove(&serial) else {
            return;
        };
        let Some(stash) = self.end_wait(key, serial) else {
            // The sender is gone, but the message is held for the offline
            // recipients: the online ones get it too, not half of them.
            if let HoldOutcome::Held { .. } = outcome {
                self.deliver_private(None, &pending.names, &pending.frame);
            }
            return;
        };
        match outcome {
            HoldOutcome::Held { refused } => {
                self.deliver_private(Some(key), &pending.names, &pending.frame);
                for (_, why) in refused {
                    self.reply_err(key, ErrorCode::MailboxFull, &why);
                }
            }
            HoldOutcome::NoSuchUser(name) => {
                let text = format!("no such user: {name}; nothing was sent");
                self.reply_err(key, ErrorCode::NoSuchUser, &text);
            }
            HoldOutcome::Refused(code, text) => self.reply_err(key, code, &text),
        }
        self.go_on(key, &stash);
    }

    /// Delivers a private message to its recipients online here and hands
    /// it to the other nodes for those online there, each name routed to
    /// the node that has it (which holds it if the name has left there
    /// meanwhile). `sender`: the sending session, if it is still there —
    /// its next `PING` waits for those nodes to confirm.
    fn deliver_private(&mut self, sender: Option<usize>, names: &[String], frame: &Rc<[u8]>) {
        let (mut elsewhere, mut nodes) = (String::new(), String::new());
        let mut involved: Vec<String> = Vec::new();
        for name in names {
            match self.online.get(name.as_str()) {
                Some(&recipient) => {
                    if self.push_private(recipient, frame) {
                        self.counters.deliveries += 1;
                    }
                }
                None => {
                    let remote = self.cluster.as_ref().and_then(|c| c.live_holder(name));
                    if let Some(holder) = remote {
                        if !elsewhere.is_empty() {
                            elsewhere.push(',');
                            nodes.push(',');
                        }
                        elsewhere.push_str(name);
                        nodes.push_str(&holder.node);
                        if !involved.contains(&holder.node) {
                            involved.push(holder.node.clone());
                        }
                    }
                }
            }
        }
        if elsewhere.is_empty() {
            return;
        }
        let session = sender.and_then(|key| self.queues.sessions.get_mut(key));
        // Number 0 is no session's: nobody to confirm to.
        let serial = match session {
            Some(s) => {
                s.node.published = true;
                for node in involved {
                    match s.node.confirm_with.iter_mut().find(|(n, _)| *n == node) {
                        Some((_, count)) => *count += 1,
                        None => s.node.confirm_with.push((node, 1)),
                    }
                }
                s.serial
            }
            None => 0,
        };
        let mut payload = Vec::with_capacity(frame.len() + elsewhere.len() + nodes.len() + 24);
        wire::encode_routed(&mut payload, &elsewhere, &nodes, serial, frame);
        // After this node's broadcasts, so it comes after them there too.
        self.publish_bus_out();
        let len = payload.len();
        if let Some(c) = &self.cluster {
            c.port.send(ToCluster::Publish(Bytes::from(payload)));
        }
        // Paced by this node's link as broadcasts are: a flood of private
        // messages to other nodes waits in its socket, not in this node's
        // memory.
        if let Some(key) = sender {
            self.pace(key, len);
        }
    }
}
