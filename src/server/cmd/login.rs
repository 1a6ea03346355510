//! `LOGIN <name> [<password>]` → `OK LOGIN <name>`, then held mail, then
//! live traffic.
//!
//! Without accounts a name is free when nobody online has it. With
//! accounts the password is checked on the password thread, never on the
//! loop: the connection waits ([`WaitFor::Password`]), its later input
//! kept in order, until the verdict comes back through [`Hub::auth_done`].
//! A correct password for a name already online takes the name over
//! without a `LEFT`/`JOINED` flicker. In a cluster the name is claimed in
//! the names bucket first ([`Hub::claim_name`]).
//!
//! Checking costs tens of milliseconds of one thread, so checks wait in a
//! fair queue ([`AuthQueue`](crate::server::auth_queue::AuthQueue)) with a
//! bound; passwords are at most [`MAX_PASSWORD`] bytes.

use crate::protocol::{ErrorCode, Event, Text};
use crate::server::accounts::{account_hash, AuthAnswer, AuthJob, AuthRequest};
use crate::server::hub::{Hub, WaitFor, MAX_FAILED_LOGINS};
use log::{info, warn};
use std::io::Write;
use std::rc::Rc;

/// Longest password, in bytes as sent.
pub const MAX_PASSWORD: usize = 1024;

impl<T: Write> Hub<T> {
    pub(super) fn login(&mut self, key: usize, name: &str, password: Option<Text<'_>>) {
        self.check(key, name, password, false);
    }

    /// `AUTH <name> <password>`: the check of a `LOGIN`, without the
    /// login; its `OK AUTH` lets a `LOGIN <name>` of this connection in
    /// without a password. A server without accounts checks nothing.
    pub(super) fn auth(&mut self, key: usize, name: &str, password: Text<'_>) {
        self.check(key, name, Some(password), true);
    }

    /// Checks a name (and password, with accounts); then logs it in, or
    /// (`only`) says it may log in.
    fn check(&mut self, key: usize, name: &str, password: Option<Text<'_>>, only: bool) {
        if self.auth.as_ref().is_some_and(|a| !a.known()) {
            let text = "this node has not read the cluster's accounts yet; try again in a moment";
            return self.reply_err(key, ErrorCode::Unavailable, text);
        }
        if !self.auth.as_ref().is_some_and(|a| a.required()) {
            if only {
                return self.authed(key, name, None);
            }
            if self.online.contains_key(name) || self.online_elsewhere(name) {
                let text = format!("{name} is already online");
                return self.reply_err(key, ErrorCode::NameTaken, &text);
            }
            return self.admit(key, name);
        };
        // An AUTH's proof, used once, whatever password comes with the
        // LOGIN (IRC's PASS may be a bouncer's): good for its account
        // while that account keeps the password it proved — not after
        // `user add` gave it another, or `user del` removed it.
        let proved = match only {
            true => None,
            false => self
                .queues
                .sessions
                .get_mut(key)
                .and_then(|s| s.user.authed.take()),
        };
        if let Some((account, Some(hash))) = proved {
            let now = self
                .auth
                .as_ref()
                .and_then(|a| account_hash(&a.users, &account));
            if crate::protocol::same_name(&account, name) && now.as_deref() == Some(&*hash) {
                return self.admit(key, &account);
            }
        }
        let Some(password) = password else {
            let text = "this server needs a password: LOGIN <name> <password>";
            self.reply_err(key, ErrorCode::NotLoggedIn, text);
            self.end_if_one_login(key);
            return;
        };
        if password.escaped().len() > MAX_PASSWORD {
            let text = format!("password longer than {MAX_PASSWORD} bytes");
            self.reply_err(key, ErrorCode::BadRequest, &text);
            if !only {
                self.end_if_one_login(key);
            }
            return;
        }
        let peer = self
            .queues
            .sessions
            .get(key)
            .and_then(|s| s.peer)
            .map(|p| p.ip());
        let serial = self.wait_serial();
        let request = AuthRequest {
            key,
            serial,
            peer,
            name: name.to_owned(),
            password: password.unescaped().into_owned(),
        };
        let busy = "too many logins are waiting for their password check; try again in a moment";
        match self.auth_queue.push(request) {
            Err(_) => return self.reply_err(key, ErrorCode::Unavailable, busy),
            Ok(Some(pushed_out)) => {
                // That login will not be checked: its connection goes on.
                let other = pushed_out.key;
                if let Some(stash) = self.end_wait(other, pushed_out.serial) {
                    self.reply_err(other, ErrorCode::Unavailable, busy);
                    self.go_on(other, &stash);
                }
            }
            Ok(None) => {}
        }
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.user.authing = only;
        }
        // Input waits (kept in order) until the verdict.
        self.pause(key, serial, WaitFor::Password);
        self.send_checks();
    }

    /// Hands the password thread the next waiting logins, as many as may
    /// be checked at once.
    pub(in crate::server) fn send_checks(&mut self) {
        let Some(auth) = &self.auth else {
            return;
        };
        while let Some(request) = self.auth_queue.next_to_start() {
            if let Err(sent) = auth.requests.send(AuthJob::Check(request)) {
                // The thread is gone: answer as it would have, refused.
                let AuthJob::Check(request) = sent.0 else {
                    continue;
                };
                self.auth_queue.done(request.peer);
                let key = request.key;
                if let Some(session) = self.queues.sessions.get_mut(key) {
                    session.intake.drop_wait();
                }
                let text = "passwords cannot be checked now; try again later";
                self.reply_err(key, ErrorCode::Unavailable, text);
                self.resumed.push(key);
                return;
            }
        }
    }

    /// Takes the verdict on a password; the connection's input goes on.
    pub fn auth_done(&mut self, answer: AuthAnswer) {
        self.auth_queue.done(answer.peer);
        self.send_checks();
        let key = answer.key;
        // Gone since, or closing: nothing more to do.
        let Some(stash) = self.end_wait(key, answer.serial) else {
            return;
        };
        self.answering(key, |hub| hub.auth_verdict(key, &answer, &stash));
    }

    fn auth_verdict(&mut self, key: usize, answer: &AuthAnswer, stash: &[u8]) {
        let only = self
            .queues
            .sessions
            .get_mut(key)
            .is_some_and(|s| std::mem::take(&mut s.user.authing));
        if answer.ok && only {
            self.authed(key, &answer.name, answer.hash.clone());
        } else if answer.ok {
            self.admit(key, &answer.name);
        } else if !self.failed_login(key, &answer.name) {
            return;
        } else if !only && self.end_if_one_login(key) {
            self.settle();
            return;
        }
        self.go_on(key, stash);
        self.settle();
    }

    /// An `AUTH` was right: `name` (as the account is spelt) may log in.
    fn authed(&mut self, key: usize, name: &str, hash: Option<String>) {
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.user.authed = Some((Rc::from(name), hash.map(Into::into)));
        }
        self.reply(key, &Event::Authed { name });
    }

    /// A refused login ends a connection whose clients cannot try again
    /// on it (IRC's, after `464`): its dialect's farewell follows.
    fn end_if_one_login(&mut self, key: usize) -> bool {
        let one = self
            .queues
            .sessions
            .get(key)
            .is_some_and(|s| s.out.manners().one_login);
        if one {
            self.close(key, None);
        }
        one
    }

    /// A wrong password; returns whether the connection goes on.
    fn failed_login(&mut self, key: usize, name: &str) -> bool {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return false;
        };
        session.user.failed_logins += 1;
        let (failures, peer) = (session.user.failed_logins, session.peer_name());
        warn!("failed login as {name} from {peer} ({failures} of {MAX_FAILED_LOGINS})");
        if failures >= MAX_FAILED_LOGINS {
            let text = format!("{failures} failed logins; disconnected");
            self.close_with(key, ErrorCode::NotLoggedIn, &text);
            return false;
        }
        self.reply_err(key, ErrorCode::NotLoggedIn, "wrong name or password");
        true
    }

    /// Logs a session in as `name` — in a cluster, once its claim on the
    /// name is won.
    pub(in crate::server) fn admit(&mut self, key: usize, name: &str) {
        if !self.claim_name(key, name) {
            self.admit_now(key, name, true);
        }
    }

    /// Logs a session in once its name is its own: a correct password for
    /// a name already online replaces the old session, without a
    /// LEFT/JOINED flicker; `announce`: say `JOINED` (not when the name was
    /// taken over from a live session).
    pub(in crate::server) fn admit_now(&mut self, key: usize, name: &str, announce: bool) {
        let replaced = self.online.get(name).copied().filter(|&k| k != key);
        if let Some(old) = replaced {
            self.replace(old, &format!("replaced by a new login as {name}"));
        }
        let name: Rc<str> = self.seen(name, true);
        self.online.insert(Rc::clone(&name), key);
        self.users_reply = None;
        // Broadcasts already in the batch were sent before this login.
        self.batch.split = true;
        let had_frames = self.batch.has_frames();
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.user.name = Some(Rc::clone(&name));
            session.user.joined_at = self.batch.seq;
            session.dialect.named(&name);
        }
        if had_frames {
            self.mark_special(key);
        }
        self.reply(key, &Event::LoggedIn { name: &name });
        let held = self.deliver_held(key, &name);
        match (held, replaced) {
            (0, None) => info!("{name} logged in"),
            (1, None) => info!("{name} logged in; delivering 1 held message"),
            (n, None) => info!("{name} logged in; delivering {n} held messages"),
            (n, Some(_)) => info!("{name} logged in again, replacing the old session; {n} held"),
        }
        if replaced.is_none() && announce {
            let time = self.clock.stamp();
            let joined = Event::Joined {
                name: &name,
                time: time.as_str(),
            };
            self.broadcast(Some(key), &joined);
            self.announce_in_rooms(key, &name);
        }
    }
}
