//! Known names and held mail, as the hub uses them: the in-memory
//! [`Store`](crate::server::store::Store) and its durable twin, the
//! journal, kept in step.
//!
//! Mail for someone offline is held once for all its offline recipients
//! and journaled as one record; its sender's replies wait for that record
//! (see [`Session::gate`](crate::server::session::Session::gate)). At a
//! login the held mail is queued ahead of anything newer, followed by a
//! `PING <token>`: only the matching `PONG` — which a client can send only
//! after reading the mail — counts it as delivered (recorded, released),
//! and the owner's next replies wait for that record, so a `PONG` after it
//! means it will not come again. If the connection ends first, the mail
//! goes back to the mailbox (or on to the owner's new session).

use super::Hub;
use crate::protocol::reply::{encode_err, encode_fields};
use crate::protocol::ErrorCode;
use crate::server::journal::Record;
use crate::server::session::MailInFlight;
use log::info;
use std::io::Write;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

impl<T: Write> Hub<T> {
    /// Can mail be held for `name`: is it known, or an account?
    pub(in crate::server) fn is_known(&self, name: &str) -> bool {
        self.store.is_known(name)
            || self
                .auth
                .as_ref()
                .is_some_and(|a| crate::server::accounts::has_account(&a.users, name))
    }

    /// Records that `name` was seen now — a login (`online`) or a logout
    /// — and forgets names past `--max-known`.
    pub(in crate::server) fn seen(&mut self, name: &str, online: bool) -> Rc<str> {
        let (name, new) = self.store.see(name, online);
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.journal.append(&Record::Seen { name: &name, at });
        if new {
            let forgotten = self.store.forget_past_limit();
            for gone in forgotten {
                info!("forgot {gone}: least recently seen of more than --max-known names");
                self.journal.append(&Record::Forgotten(&gone));
            }
        }
        name
    }

    /// Holds `frame` for the offline `names`, once for all; each recipient
    /// it cannot be held for is reported to `sender` with `ERR`.
    pub(in crate::server) fn hold(&mut self, sender: usize, names: &[&str], frame: &Rc<[u8]>) {
        if names.is_empty() {
            return;
        }
        if self.journal.is_failing() {
            for name in names {
                let text = format!("the server cannot store messages now; not held for {name}");
                self.reply_err(sender, ErrorCode::Unavailable, &text);
            }
            return;
        }
        let (held, refused) = self.store.hold(names, frame);
        for (name, why) in refused {
            let text = format!("{why}: not held for {name}");
            self.reply_err(sender, ErrorCode::MailboxFull, &text);
        }
        if held.is_empty() {
            return;
        }
        let to = held.iter().map(|n| &**n).collect();
        let seq = self.journal.append(&Record::Held { to, frame });
        self.gate(sender, seq);
    }

    /// Holds back a session's output until the journal acknowledges `seq`.
    fn gate(&mut self, key: usize, seq: u64) {
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.gate = session.gate.max(seq);
        }
    }

    /// Queues the mail held for `name` to its session, followed by a
    /// `PING` whose `PONG` will acknowledge it. Returns how many messages.
    pub(in crate::server) fn deliver_held(&mut self, key: usize, name: &Rc<str>) -> usize {
        let held = self.store.take_held(name);
        let count = held.len();
        if count == 0 {
            return 0;
        }
        self.next_ping += 1;
        let token = self.next_ping.to_string();
        self.queues.with_framed(key, |s, wire| {
            let from = s.written + s.out.len() as u64;
            for letter in &held {
                wire.push_shared(s, &letter.frame);
            }
            let until = s.written + s.out.len() as u64;
            wire.push_with(s, |b| encode_fields(b, &["PING", &token]));
            match &mut s.mail {
                // Its PONG now answers for all of it.
                Some(mail) => {
                    mail.letters.extend(held);
                    mail.until = until;
                    mail.token = token;
                }
                None => {
                    s.mail = Some(MailInFlight {
                        owner: Rc::clone(name),
                        letters: held,
                        from,
                        until,
                        token,
                    })
                }
            }
        });
        self.queues.mark_dirty(key);
        count
    }

    /// A `PONG <token>` came: if it answers the `PING` sent after held mail,
    /// the recipient has read that mail, and its delivery is recorded. The
    /// recipient's next replies wait for that record.
    pub(in crate::server) fn mail_acknowledged(&mut self, key: usize, token: &str) {
        let answers = self
            .queues
            .sessions
            .get(key)
            .and_then(|s| s.mail.as_ref())
            .is_some_and(|m| m.token == token);
        if !answers {
            return;
        }
        let Some(mail) = self.take_mail(key) else {
            return;
        };
        let count = u32::try_from(mail.letters.len()).unwrap_or(u32::MAX);
        let seq = self.journal.append(&Record::Delivered {
            name: &mail.owner,
            count,
        });
        self.store.delivered(&mail.owner, mail.letters);
        self.gate(key, seq);
    }

    /// The held mail a session is delivering, taken off it.
    fn take_mail(&mut self, key: usize) -> Option<MailInFlight> {
        // Through `with_session`: what counts against the queue limits
        // changes with it.
        self.queues.with_session(key, |s| s.mail.take()).flatten()
    }

    /// Puts held mail a session did not finish writing back in the
    /// mailbox — or on to its owner's new session, if there is one.
    pub(super) fn return_mail(&mut self, key: usize) {
        let Some(mail) = self.take_mail(key) else {
            return;
        };
        self.store.restore(&mail.owner, mail.letters);
        if let Some(&now_at) = self.online.get(&mail.owner) {
            self.deliver_held(now_at, &mail.owner);
        }
    }

    /// Hands the turn's records to the journal, and notes what it has
    /// acknowledged so far. Called at the end of every turn, before and
    /// after the flush, and when the journal wakes the loop.
    pub fn sync_journal(&mut self) {
        self.journal.commit(self.store.live_bytes());
        self.queues.release_gated(self.journal.acked());
    }

    /// Writes the journal out, syncs it and ends its thread (at shutdown).
    pub fn close_journal(&mut self) {
        self.journal.close(self.store.live_bytes());
    }

    pub(in crate::server) fn reply_err(&mut self, key: usize, code: ErrorCode, text: &str) {
        self.queues.push_reply(key, |b| encode_err(b, code, text));
    }
}
