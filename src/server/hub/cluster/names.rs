//! Names in a cluster: the names bucket is the truth about who holds a
//! name, and the loop follows it through the helper's watch. A `LOGIN`
//! claims its name there first, waiting the way a password check does —
//! the connection's later input is kept, in order, and taken up when the
//! answer comes; a claim deleted while this node was cut off is claimed
//! again; a name taken on another node takes it from a session here.

use super::super::{Hub, WaitFor};
use super::{Node, PendingClaim};
use crate::protocol::{ErrorCode, Event};
use crate::server::cluster::{claim_value, ClaimOutcome, HeldMail, Holder, MailAtClaim, ToCluster};
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    /// Hands work to the helper; without room, answers `ERR 503` and
    /// returns false.
    pub(in crate::server::hub) fn send_or_refuse(&mut self, key: usize, job: ToCluster) -> bool {
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
        let (over, announce) = match (local, c.remote.get(name)) {
            (Some(old), _) => {
                let old = self.queues.sessions.get(old);
                let rev = old.map(|s| s.node.claim_rev);
                // The value that session's claim has: its name as shown.
                let spelt = old.and_then(|s| s.name()).map_or(name, |n| &**n);
                let mine = claim_value(&c.port.node, &c.port.incarnation, spelt);
                (rev.map(|r| (r, mine)), false)
            }
            (None, Some(h)) => (Some((h.rev, h.value())), !c.is_current(h)),
            (None, None) => (None, true),
        };
        let serial = self.wait(key, WaitFor::NameClaim);
        // A login replacing a session here fetches its mail once it has
        // won, after what that session had not acknowledged goes back.
        let fetch_after = local.is_some();
        let job = ToCluster::Claim {
            key,
            serial,
            name: name.to_owned(),
            over,
            mail: match fetch_after {
                true => MailAtClaim::Leave,
                false => MailAtClaim::Fetch,
            },
        };
        if !self.send_or_refuse(key, job) {
            if let Some(stash) = self.end_wait(key, serial) {
                self.go_on(key, &stash);
            }
            return true;
        }
        if let Some(c) = &mut self.cluster {
            let pending = PendingClaim {
                key,
                announce,
                fetch_after,
                renaming: None,
            };
            c.claiming.insert(Rc::from(name), (serial, pending));
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
            mail: MailAtClaim::Leave,
        };
        if c.port.send(job) {
            let pending = PendingClaim {
                key,
                ..PendingClaim::default()
            };
            c.claiming.insert(Rc::from(name), (0, pending));
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
            if let ClaimOutcome::Won { rev, mail, .. } = outcome {
                self.release(name, rev, mail);
            }
            return;
        };
        self.answering(key, |hub| {
            hub.claim_answered(key, name, pending, outcome, &stash)
        });
    }

    /// A login's claim answered (the claim `pending` for `name`).
    fn claim_answered(
        &mut self,
        key: usize,
        name: &str,
        pending: PendingClaim,
        outcome: ClaimOutcome,
        stash: &[u8],
    ) {
        if let Some(old) = pending.renaming {
            return self.rename_claimed(key, name, &old, outcome, stash);
        }
        match outcome {
            ClaimOutcome::Won { rev, mail, shown } => {
                if let Some(session) = self.queues.sessions.get_mut(key) {
                    session.node.claim_rev = rev;
                }
                if let Some(c) = &mut self.cluster {
                    c.remote.remove(name);
                }
                let give_back = match pending.fetch_after {
                    true => self.take_replaced_windows(key, name),
                    false => Vec::new(),
                };
                // Shown as the cluster first knew the name.
                let name = &*shown;
                self.admit_now(key, name, pending.announce);
                self.queues.with_session(key, |s| s.mail.rooms_due = true);
                if let Some(mail) = mail {
                    self.deliver_fetched(key, name, mail);
                } else if pending.fetch_after {
                    self.fetch_window(key, name, None, give_back);
                } else {
                    self.rooms_catch_up_due(key, &[]);
                }
            }
            refused => self.claim_refused(key, name, refused),
        }
        self.go_on(key, stash);
    }

    /// A claim was not won: why, to the session that asked.
    pub(super) fn claim_refused(&mut self, key: usize, name: &str, outcome: ClaimOutcome) {
        let (code, text) = match outcome {
            ClaimOutcome::Won { .. } | ClaimOutcome::Taken => {
                (ErrorCode::NameTaken, format!("{name} is already online"))
            }
            ClaimOutcome::MailHeld => (
                ErrorCode::NameTaken,
                format!("{name} is taken (it has mail held): pick another"),
            ),
            ClaimOutcome::Unavailable(text) => (ErrorCode::Unavailable, text),
        };
        self.reply_err(key, code, &text);
    }

    fn reclaimed(&mut self, key: usize, name: &str, outcome: ClaimOutcome) {
        let holds = self.online.get(name) == Some(&key);
        match outcome {
            ClaimOutcome::Won { rev, .. } if holds => {
                if let Some(s) = self.queues.sessions.get_mut(key) {
                    s.node.claim_rev = rev;
                }
            }
            ClaimOutcome::Won { rev, mail, .. } => self.release(name, rev, mail),
            ClaimOutcome::Taken if holds => {
                let text = format!("{name} logged in on another node while this one was cut off");
                self.replace(key, &text);
            }
            _ => {}
        }
    }

    pub(super) fn release(&mut self, name: &str, rev: u64, mail: Option<HeldMail>) {
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

    /// A names-bucket change.
    pub(super) fn on_name(&mut self, name: String, holder: Option<Holder>) {
        let here = self.online.get(name.as_str()).copied();
        if let (Some(h), Some(key)) = (&holder, here) {
            if self.is_replay_of_taken_over(key, h) {
                log::debug!(
                    "{name}: an old claim of node {} replayed; kept here",
                    h.node
                );
                return;
            }
        }
        let Some(c) = &mut self.cluster else { return };
        let name: Rc<str> = Rc::from(name);
        if let Some(set) = &mut c.rebuilding {
            set.remove(&name);
        }
        self.users_reply = None;
        let claiming = c.claiming.contains_key(&name);
        let local = self.online.get(&name).copied();
        match holder {
            Some(h) if h.node == c.port.node => {
                c.remote.remove(&name);
                self.claim_found(&name, &h);
            }
            Some(h) => {
                if !c.nodes.contains_key(&h.node) {
                    c.nodes.insert(h.node.clone(), Node::first_heard(self.now));
                }
                let node = h.node.clone();
                c.remote.insert(Rc::clone(&name), h);
                if let (Some(key), false) = (local, claiming) {
                    // Logged in elsewhere with the password: this session
                    // lost the name (no LEFT: the name never went offline).
                    let text = format!("replaced by a new login as {name} on node {node}");
                    self.replace(key, &text);
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

    /// `h` claims `name`: if it is a claim of this node that no session
    /// holds or is taking (an earlier run's, or a session's gone
    /// meanwhile), it is given up. Claims of other nodes are the names
    /// view's business, not this.
    pub(super) fn claim_found(&self, name: &str, h: &Holder) {
        let Some(c) = &self.cluster else { return };
        if h.node != c.port.node {
            return;
        }
        let held = h.incarnation == c.port.incarnation
            && (c.claiming.contains_key(name)
                || self.online.get(name).is_some_and(|&k| {
                    self.queues
                        .sessions
                        .get(k)
                        .is_some_and(|s| s.node.claim_rev == h.rev)
                }));
        if !held {
            c.port.send(ToCluster::Release {
                name: name.to_owned(),
                rev: h.rev,
            });
        }
    }

    /// Is `h`, a claim of another node on the name session `key` holds, a
    /// replay of the claim this session took over, rather than a login
    /// elsewhere? It is when it is older than the session's claim and its
    /// node is dead or has restarted since: such a node cannot have taken
    /// the name. (A restarted names watch, or a copy of the bucket that
    /// lags after NATS servers died, delivers old entries.)
    fn is_replay_of_taken_over(&self, key: usize, h: &Holder) -> bool {
        let Some(c) = &self.cluster else { return false };
        let ours = self.queues.sessions.get(key).map(|s| s.node.claim_rev);
        !c.claiming.values().any(|(_, p)| p.key == key)
            && ours.is_some_and(|rev| h.rev < rev)
            && !c.is_current(h)
    }

    /// The names watch has delivered the whole bucket again: names that
    /// went away while it was down are announced as gone.
    pub(super) fn names_synced(&mut self) {
        let Some(c) = &mut self.cluster else { return };
        let Some(gone) = c.rebuilding.take() else {
            return;
        };
        let gone: Vec<Rc<str>> = gone
            .into_keys()
            .filter(|name| c.remote.remove(name).is_some())
            .collect();
        let time = self.clock.stamp();
        for name in gone {
            self.broadcast_local(&Event::Left {
                name: &name,
                time: time.as_str(),
                text: None,
            });
        }
        self.users_reply = None;
    }
}
