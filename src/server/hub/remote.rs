//! What the commands do differently in a cluster: a `LOGIN` waits for its
//! name claim, a `MSG` to someone offline waits until JetStream holds the
//! mail, and a `PING` after messages for other nodes waits until NATS has
//! them. Each waits the way a password check does: the connection's later
//! input is kept, in order, and taken up when the answer comes.

use super::cluster::{PendingClaim, PendingMsg};
use super::Hub;
use crate::protocol::reply::encode_err;
use crate::protocol::ErrorCode;
use crate::server::cluster::wire;
use crate::server::cluster::{claim_value, ClaimOutcome, HeldMail, HoldOutcome, ToCluster};
use crate::server::session::PendingAuth;
use bytes::Bytes;
use log::info;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// Pauses the connection's input until the answer numbered by the
    /// returned serial.
    fn wait(&mut self, key: usize) -> u64 {
        self.next_auth += 1;
        let serial = self.next_auth;
        if let Some(session) = self.queues.sessions.get_mut(key) {
            let stash = session.auth.take().map(|p| p.stash).unwrap_or_default();
            session.auth = Some(PendingAuth { serial, stash });
        }
        serial
    }

    /// Ends a wait: the input kept meanwhile, if the connection is still
    /// there and waiting for this answer.
    pub(super) fn end_wait(&mut self, key: usize, serial: u64) -> Option<Vec<u8>> {
        let session = self.queues.sessions.get_mut(key)?;
        if session.auth.as_ref().is_none_or(|p| p.serial != serial) {
            return None;
        }
        let stash = session.auth.take().map(|p| p.stash).unwrap_or_default();
        session.last_heard = self.now;
        session.is_open().then_some(stash)
    }

    /// Takes up the input kept during a wait.
    pub(super) fn go_on(&mut self, key: usize, stash: &[u8]) {
        self.resumed.push(key);
        self.feed(key, stash);
    }

    /// Hands work to the helper; without room, answers `ERR 503` and
    /// returns false.
    fn send_or_refuse(&mut self, key: usize, job: ToCluster) -> bool {
        let sent = self.cluster.as_ref().is_some_and(|c| c.port.send(job));
        if !sent {
            let text = "the cluster link is overloaded; try again in a moment";
            self.reply_err(key, ErrorCode::Unavailable, text);
        }
        sent
    }

    /// In a cluster, `admit` first claims the name in the names bucket.
    pub(in crate::server) fn claim(&mut self, key: usize, name: &str) {
        let Some(c) = &self.cluster else { return };
        if c.claiming.contains_key(name) {
            let text = format!("{name} is logging in right now");
            return self.reply_err(key, ErrorCode::NameTaken, &text);
        }
        let local = self.online.get(name).copied().filter(|&k| k != key);
        let mine = claim_value(&c.port.node, &c.port.incarnation);
        let (over, announce) = match (local, c.remote.get(name)) {
            (Some(old), _) => {
                let rev = self.queues.sessions.get(old).map(|s| s.claim_rev);
                (rev.map(|r| (r, mine)), false)
            }
            (None, Some(h)) => (Some((h.rev, h.value())), !c.is_current(h)),
            (None, None) => (None, true),
        };
        let serial = self.wait(key);
        let job = ToCluster::Claim {
            key,
            serial,
            name: name.to_owned(),
            over,
            with_mail: true,
        };
        if !self.send_or_refuse(key, job) {
            if let Some(stash) = self.end_wait(key, serial) {
                self.go_on(key, &stash);
            }
            return;
        }
        if let Some(c) = &mut self.cluster {
            let pending = PendingClaim { key, announce };
            c.claiming.insert(name.to_owned(), (serial, pending));
        }
    }

    /// Claims a name again for a session that holds it (its entry was
    /// deleted while this node was cut off).
    pub(super) fn reclaim(&mut self, key: usize, name: &str) {
        let Some(c) = &mut self.cluster else { return };
        if c.claiming.contains_key(name) {
            return; // a claim is under way already; its answer decides
        }
        let job = ToCluster::Claim {
            key,
            serial: 0,
            name: name.to_owned(),
            over: None,
            with_mail: false,
        };
        if c.port.send(job) {
            let pending = PendingClaim {
                key,
                announce: false,
            };
            c.claiming.insert(name.to_owned(), (0, pending));
        }
    }

    pub(super) fn claimed(&mut self, key: usize, serial: u64, name: &str, outcome: ClaimOutcome) {
        let Some(c) = &mut self.cluster else { return };
        let Some((_, pending)) = c.claiming.remove(name) else {
            return;
        };
        if serial == 0 {
            return self.reclaimed(pending.key, name, outcome);
        }
        let Some(stash) = self.end_wait(key, serial) else {
            // The connection went away meanwhile: give the name back.
            if let ClaimOutcome::Won { rev, mail } = outcome {
                self.release(name, rev, mail);
            }
            return;
        };
        match outcome {
            ClaimOutcome::Won { rev, mail } => {
                if let Some(session) = self.queues.sessions.get_mut(key) {
                    session.claim_rev = rev;
                }
                if let Some(c) = &mut self.cluster {
                    c.remote.remove(name);
                }
                self.admit_now(key, name, pending.announce);
                if let Some(mail) = mail {
                    self.deliver_cluster_mail(key, name, mail);
                }
            }
            ClaimOutcome::Taken => {
                let text = format!("{name} is already online");
                self.reply_err(key, ErrorCode::NameTaken, &text);
            }
            ClaimOutcome::Unavailable(text) => {
                self.reply_err(key, ErrorCode::Unavailable, &text);
            }
        }
        self.go_on(key, &stash);
    }

    fn reclaimed(&mut self, key: usize, name: &str, outcome: ClaimOutcome) {
        let holds = self.online.get(name) == Some(&key);
        match outcome {
            ClaimOutcome::Won { rev, .. } if holds => {
                if let Some(s) = self.queues.sessions.get_mut(key) {
                    s.claim_rev = rev;
                }
            }
            ClaimOutcome::Won { rev, mail } => self.release(name, rev, mail),
            ClaimOutcome::Taken if holds => {
                let text = format!("{name} logged in on another node while this one was cut off");
                self.take_name(key);
                self.return_mail(key);
                self.queues
                    .push_final(key, |b| encode_err(b, ErrorCode::NameTaken, &text));
                self.close(key, None);
            }
            _ => {}
        }
    }

    fn release(&mut self, name: &str, rev: u64, mail: Option<HeldMail>) {
        let Some(c) = &self.cluster else { return };
        if let Some(mail) = mail {
            c.port.send(ToCluster::ReturnMail {
                ticket: mail.ticket,
            });
        }
        c.port.send(ToCluster::Release {
            name: name.to_owned(),
            rev,
        });
    }

    /// Writes held mail fetched from JetStream, then a `PING` whose answer
    /// acknowledges it there.
    pub(super) fn deliver_cluster_mail(&mut self, key: usize, name: &str, mail: HeldMail) {
        self.next_ping += 1;
        let token = self.next_ping.to_string();
        let count = mail.frames.len();
        self.queues.with_framed(key, |s, wire| {
            for frame in &mail.frames {
                wire.push_shared(s, &Rc::from(&frame[..]));
            }
            wire.push_with(s, |b| {
                crate::protocol::reply::encode_fields(b, &["PING", &token]);
            });
            s.cluster_mail.push((mail.ticket, token));
        });
        self.queues.mark_dirty(key);
        info!("{name}: delivering {count} held messages");
    }

    /// A `PONG` answered the `PING` after held mail: acknowledge it.
    pub(in crate::server) fn cluster_mail_acknowledged(&mut self, key: usize, token: &str) {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        let Some(at) = session.cluster_mail.iter().position(|(_, t)| t == token) else {
            return;
        };
        let (ticket, _) = session.cluster_mail.remove(at);
        if let Some(c) = &self.cluster {
            c.port.send(ToCluster::AckMail { ticket });
        }
    }

    /// The session ends with mail unacknowledged: JetStream offers it again.
    pub(super) fn return_cluster_mail(&mut self, key: usize) {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        let tickets = std::mem::take(&mut session.cluster_mail);
        if let Some(c) = &self.cluster {
            for (ticket, _) in tickets {
                c.port.send(ToCluster::ReturnMail { ticket });
            }
        }
    }

    /// `MSG` in a cluster: to users online here, to other nodes for users
    /// online there, and held in JetStream for the rest — all of it only
    /// once the offline ones' mail is held (so nobody gets a message that
    /// the sender is told failed).
    pub(in crate::server) fn msg_in_cluster(
        &mut self,
        key: usize,
        names: &[&str],
        frame: Rc<[u8]>,
    ) {
        let Some(c) = &self.cluster else { return };
        let offline: Vec<String> = names
            .iter()
            .filter(|n| !self.online.contains_key(**n) && c.live_holder(n).is_none())
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
            return self.deliver_msg(key, &names, &frame);
        }
        let serial = self.wait(key);
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

    pub(super) fn held(&mut self, key: usize, serial: u64, outcome: HoldOutcome) {
        let Some(c) = &mut self.cluster else { return };
        let Some(pending) = c.pending_msgs.remove(&serial) else {
            return;
        };
        let Some(stash) = self.end_wait(key, serial) else {
            // The sender is gone, but the message is held for the offline
            // recipients: the online ones get it too, not half of them.
            if let HoldOutcome::Held { .. } = outcome {
                self.deliver_msg(key, &pending.names, &pending.frame);
            }
            return;
        };
        match outcome {
            HoldOutcome::Held { refused } => {
                self.deliver_msg(key, &pending.names, &pending.frame);
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
    /// it to the other nodes for those online there.
    fn deliver_msg(&mut self, key: usize, names: &[String], frame: &Rc<[u8]>) {
        let mut elsewhere = String::new();
        for name in names {
            match self.online.get(name.as_str()) {
                Some(&recipient) => {
                    if self.queues.push_shared(recipient, frame) {
                        self.counters.deliveries += 1;
                    }
                }
                None => {
                    let remote = self.cluster.as_ref().and_then(|c| c.live_holder(name));
                    if remote.is_some() {
                        if !elsewhere.is_empty() {
                            elsewhere.push(',');
                        }
                        elsewhere.push_str(name);
                    }
                }
            }
        }
        if elsewhere.is_empty() {
            return;
        }
        let mut payload = Vec::with_capacity(frame.len() + elsewhere.len() + 3);
        wire::encode_private(&mut payload, &elsewhere, frame);
        if let Some(c) = &self.cluster {
            c.port.send(ToCluster::Publish(Bytes::from(payload)));
        }
        if let Some(s) = self.queues.sessions.get_mut(key) {
            s.published = true;
        }
    }

    /// `PING` in a cluster after messages for other nodes: the `PONG` waits
    /// until NATS has them. Returns false when no wait is needed.
    pub(in crate::server) fn ping_in_cluster(&mut self, key: usize, token: Option<&str>) -> bool {
        let published = self
            .queues
            .sessions
            .get_mut(key)
            .is_some_and(|s| std::mem::take(&mut s.published));
        if self.cluster.is_none() || !published {
            return false;
        }
        // This turn's broadcasts go to NATS before the flush is asked for.
        self.publish_bus_out();
        let serial = self.wait(key);
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
