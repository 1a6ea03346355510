//! What the commands do differently in a cluster: a `LOGIN` waits for its
//! name claim, and a `PING` after messages for other nodes waits until
//! NATS has them (a `MSG` to someone offline waits until JetStream holds
//! the mail: see [`mail`](super::mail)). Each waits the way a password
//! check does: the connection's later input is kept, in order, and taken
//! up when the answer comes.

use super::cluster::PendingClaim;
use super::{Hub, WaitFor};
use crate::protocol::ErrorCode;
use crate::server::cluster::{claim_value, ClaimOutcome, HeldMail, ToCluster};
use std::io::Write;

impl<T: Write> Hub<T> {
    /// Hands work to the helper; without room, answers `ERR 503` and
    /// returns false.
    pub(super) fn send_or_refuse(&mut self, key: usize, job: ToCluster) -> bool {
        let sent = self.cluster.as_ref().is_some_and(|c| c.port.send(job));
        if !sent {
            let text = "the cluster link is overloaded; try again in a moment";
            self.reply_err(key, ErrorCode::Unavailable, text);
        }
        sent
    }

    /// In a cluster, a login first claims the name in the names bucket:
    /// returns whether a claim is under way (the login goes on when it is
    /// won); `false` on a single node, where the name is free already.
    pub(in crate::server) fn claim_name(&mut self, key: usize, name: &str) -> bool {
        let Some(c) = &self.cluster else {
            return false;
        };
        if c.claiming.contains_key(name) {
            let text = format!("{name} is logging in right now");
            self.reply_err(key, ErrorCode::NameTaken, &text);
            return true;
        }
        let local = self.online.get(name).copied().filter(|&k| k != key);
        let mine = claim_value(&c.port.node, &c.port.incarnation);
        let (over, announce) = match (local, c.remote.get(name)) {
            (Some(old), _) => {
                let rev = self.queues.sessions.get(old).map(|s| s.node.claim_rev);
                (rev.map(|r| (r, mine)), false)
            }
            (None, Some(h)) => (Some((h.rev, h.value())), !c.is_current(h)),
            (None, None) => (None, true),
        };
        let serial = self.wait(key, WaitFor::NameClaim);
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
            return true;
        }
        if let Some(c) = &mut self.cluster {
            let pending = PendingClaim { key, announce };
            c.claiming.insert(name.to_owned(), (serial, pending));
        }
        true
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
                    session.node.claim_rev = rev;
                }
                if let Some(c) = &mut self.cluster {
                    c.remote.remove(name);
                }
                self.admit_now(key, name, pending.announce);
                if let Some(mail) = mail {
                    self.deliver_fetched(key, name, mail);
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
                    s.node.claim_rev = rev;
                }
            }
            ClaimOutcome::Won { rev, mail } => self.release(name, rev, mail),
            ClaimOutcome::Taken if holds => {
                let text = format!("{name} logged in on another node while this one was cut off");
                self.replace(key, &text);
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
