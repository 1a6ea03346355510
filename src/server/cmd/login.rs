//! `LOGIN <name> [<password>]` → `OK LOGIN <name>`, then held mail, then
//! live traffic.
//!
//! Without accounts a name is free when nobody online has it. With
//! accounts the password is checked on the password thread, never on the
//! loop: the connection's input is paused (and kept, in order) until the
//! verdict comes back through [`Hub::auth_done`]. A correct password for a
//! name already online takes the name over without a `LEFT`/`JOINED`
//! flicker.
//!
//! Checking costs tens of milliseconds of one thread, so checks wait in a
//! fair queue ([`AuthQueue`](crate::server::auth_queue::AuthQueue)) with a
//! bound; passwords are at most [`MAX_PASSWORD`] bytes.

use crate::protocol::reply::encode_fields;
use crate::protocol::{ErrorCode, Text};
use crate::server::accounts::{AuthJob, AuthRequest};
use crate::server::hub::Hub;
use crate::server::session::PendingAuth;
use log::info;
use std::io::Write;
use std::rc::Rc;

/// Longest password, in bytes as sent.
pub const MAX_PASSWORD: usize = 1024;

impl<T: Write> Hub<T> {
    pub(super) fn login(&mut self, key: usize, name: &str, password: Option<Text<'_>>) {
        if !self.has_accounts() {
            let elsewhere = self.cluster.as_ref().and_then(|c| c.live_holder(name));
            if self.online.contains_key(name) || elsewhere.is_some() {
                let text = format!("{name} is already online");
                return self.reply_err(key, ErrorCode::NameTaken, &text);
            }
            return self.admit(key, name);
        };
        let Some(password) = password else {
            let text = "this server needs a password: LOGIN <name> <password>";
            return self.reply_err(key, ErrorCode::NotLoggedIn, text);
        };
        if password.escaped().len() > MAX_PASSWORD {
            let text = format!("password longer than {MAX_PASSWORD} bytes");
            return self.reply_err(key, ErrorCode::BadRequest, &text);
        }
        let peer = self
            .queues
            .sessions
            .get(key)
            .and_then(|s| s.peer)
            .map(|p| p.ip());
        self.next_auth += 1;
        let serial = self.next_auth;
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
                let stash = self.queues.sessions.get_mut(other).and_then(|s| {
                    let mine = s
                        .auth
                        .as_ref()
                        .is_some_and(|p| p.serial == pushed_out.serial);
                    mine.then(|| s.auth.take().map(|p| p.stash).unwrap_or_default())
                });
                if let Some(stash) = stash {
                    self.reply_err(other, ErrorCode::Unavailable, busy);
                    self.resumed.push(other);
                    self.feed(other, &stash);
                }
            }
            Ok(None) => {}
        }
        // Input waits (kept in order in the stash) until the verdict.
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.auth = Some(PendingAuth {
                serial,
                stash: Vec::new(),
            });
        }
        self.send_checks();
    }

    /// Hands the password thread the next waiting logins, as many as may
    /// be checked at once.
    pub(in crate::server) fn send_checks(&mut self) {
        let Some(auth) = &self.auth else {
            return;
        };
        while let Some(request) = self.auth_queue.next_to_check() {
            if let Err(sent) = auth.requests.send(AuthJob::Check(request)) {
                // The thread is gone: answer as it would have, refused.
                let AuthJob::Check(request) = sent.0 else {
                    continue;
                };
                self.auth_queue.done(request.peer);
                let key = request.key;
                if let Some(session) = self.queues.sessions.get_mut(key) {
                    session.auth = None;
                }
                let text = "passwords cannot be checked now; try again later";
                self.reply_err(key, ErrorCode::Unavailable, text);
                self.resumed.push(key);
                return;
            }
        }
    }

    /// Logs a session in as `name`: a correct password for a name already
    /// online replaces the old session, without a LEFT/JOINED flicker.
    pub(in crate::server) fn admit(&mut self, key: usize, name: &str) {
        if self.cluster.is_some() {
            return self.claim(key, name);
        }
        self.admit_now(key, name, true);
    }

    /// Are passwords checked? In a cluster, exactly when the accounts
    /// bucket holds any.
    fn has_accounts(&self) -> bool {
        match (&self.auth, &self.cluster) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(auth), Some(_)) => auth.users.read().is_ok_and(|u| u.names().next().is_some()),
        }
    }

    /// Logs a session in once its name is its own; `announce`: say
    /// `JOINED` (not when the name was taken over from a live session).
    pub(in crate::server) fn admit_now(&mut self, key: usize, name: &str, announce: bool) {
        let replaced = self.online.get(name).copied().filter(|&k| k != key);
        if let Some(old) = replaced {
            self.replace(old);
        }
        let name: Rc<str> = self.seen(name, true);
        self.online.insert(Rc::clone(&name), key);
        self.users_reply = None;
        // Broadcasts already in the batch were sent before this login.
        self.batch.split = true;
        let had_frames = self.batch.has_frames();
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.name = Some(Rc::clone(&name));
            session.joined_at = self.batch.seq;
        }
        if had_frames {
            self.mark_special(key);
        }
        self.queues
            .push_reply(key, |b| encode_fields(b, &["OK LOGIN", &name]));
        let held = self.deliver_held(key, &name);
        match (held, replaced) {
            (0, None) => info!("{name} logged in"),
            (n, None) => info!("{name} logged in; delivering {n} held messages"),
            (n, Some(_)) => info!("{name} logged in again, replacing the old session; {n} held"),
        }
        if replaced.is_none() && announce {
            let time = self.clock.stamp();
            self.broadcast(Some(key), &["JOINED", &name, time.as_str()]);
        }
    }
}
