//! The hub: who is online, what each frame means, and who receives what.
//!
//! The hub opens no sockets and does not poll. The event loop hands it bytes
//! read from a connection ([`Hub::receive`]) and asks it to write queued
//! bytes ([`Hub::flush`]); everything between — parsing, the directory of
//! names, held mail, fan-out, limits — happens here, so it can be tested and
//! benchmarked without sockets. Its only other output is the journal's
//! record buffer, which the loop hands to the journal's writer thread.
//!
//! - [`queues`]: write queues and back-pressure;
//! - [`fanout`]: one shared encoding per batch of broadcasts;
//! - [`lifecycle`]: open, closing, lingering, dead;
//! - [`mail`]: known names and held mail, in the store and the journal;
//! - [`timers`]: keep-alives, idle timeouts, deadlines;
//! - [`stats`]: the `STATS` counters;
//! - the commands themselves are in [`cmd`](crate::server::cmd), one file
//!   each.

mod fanout;
mod lifecycle;
mod mail;
mod queues;
mod stats;
mod timers;

#[cfg(test)]
mod tests;

pub use lifecycle::Flushed;
pub use queues::Queues;

use crate::protocol::{parse, ErrorCode, Frame};
use crate::server::accounts::{AuthAnswer, AuthJob, AuthPort};
use crate::server::clock::Clock;
use crate::server::journal::Journal;
use crate::server::session::Session;
use crate::server::store::{MailLimits, Store};
use fanout::Batch;
use log::warn;
use stats::Counters;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Failed logins after which a connection is closed.
pub(in crate::server) const MAX_FAILED_LOGINS: u32 = 5;

/// The limits the hub enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_line: usize,
    pub max_queue: usize,
    pub max_total_queue: usize,
    pub mail: MailLimits,
    pub idle_timeout: Option<Duration>,
    /// Connections closing or draining at once (they hold descriptors but
    /// no client slot).
    pub max_lingering: usize,
}

/// The server's state apart from sockets.
#[derive(Debug)]
pub struct Hub<T> {
    pub queues: Queues<T>,
    /// Online users by name.
    pub(in crate::server) online: HashMap<Rc<str>, usize>,
    pub(in crate::server) store: Store,
    pub(in crate::server) journal: Journal,
    pub(in crate::server) batch: Batch,
    pub(in crate::server) clock: Clock,
    pub(in crate::server) limits: Limits,
    now: Instant,
    started: Instant,
    dead: Vec<usize>,
    next_ping: u64,
    pub(in crate::server) counters: Counters,
    /// Where logins go for a password check; `None`: no accounts.
    pub(in crate::server) auth: Option<AuthPort>,
    pub(in crate::server) next_auth: u64,
    /// Sessions whose input was paused and may be read again.
    resumed: Vec<usize>,
    /// Shutting down: departures are not announced.
    stopping: bool,
    next_serial: u64,
    /// Connections in the open phase (the ones `--max-clients` counts).
    open_count: usize,
    /// Connections closing or draining, and in which order they began.
    linger_count: usize,
    lingering: VecDeque<(usize, u64)>,
    /// Connections with input left for the next turn (from the loop).
    throttled: usize,
}

impl<T: Write> Hub<T> {
    /// A hub that keeps nothing on disk and has no accounts.
    pub fn new(limits: Limits) -> Hub<T> {
        let store = Store::new(limits.mail);
        Hub::with_store(limits, store, Journal::disabled(), None)
    }

    /// A hub over a store recovered from `journal`, checking passwords
    /// through `auth` when given.
    pub fn with_store(
        limits: Limits,
        store: Store,
        journal: Journal,
        auth: Option<AuthPort>,
    ) -> Hub<T> {
        let now = Instant::now();
        Hub {
            queues: Queues::new(limits.max_queue, limits.max_total_queue),
            online: HashMap::new(),
            store,
            journal,
            batch: Batch::new(),
            clock: Clock::default(),
            limits,
            now,
            started: now,
            dead: Vec::new(),
            next_ping: 0,
            counters: Counters::default(),
            auth,
            next_auth: 0,
            resumed: Vec::new(),
            stopping: false,
            next_serial: 0,
            open_count: 0,
            linger_count: 0,
            lingering: VecDeque::new(),
            throttled: 0,
        }
    }

    /// Sets the time of this loop turn: for activity and deadlines, and
    /// for the stamps of the messages accepted in it.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.clock.set();
    }

    /// Open connections, lingering ones included.
    pub fn len(&self) -> usize {
        self.queues.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.sessions.is_empty()
    }

    /// Logged-in users.
    pub fn online(&self) -> usize {
        self.online.len()
    }

    /// Bytes queued on all connections (held mail not counted).
    pub fn queued(&self) -> usize {
        self.queues.total
    }

    pub fn session(&self, key: usize) -> Option<&Session<T>> {
        self.queues.sessions.get(key)
    }

    pub fn session_mut(&mut self, key: usize) -> Option<&mut Session<T>> {
        self.queues.sessions.get_mut(key)
    }

    /// Handles bytes read from a connection, in whatever pieces they came.
    pub fn receive(&mut self, key: usize, data: &[u8]) {
        self.counters.bytes_in += data.len() as u64;
        self.feed(key, data);
    }

    fn feed(&mut self, key: usize, data: &[u8]) {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        if !session.is_open() {
            return; // closing: input is read only to see the peer's EOF
        }
        if let Some(pending) = &mut session.auth {
            pending.stash.extend_from_slice(data);
            return;
        }
        let mut decoder = std::mem::take(&mut session.decoder);
        let used = decoder.feed(data, |frame| {
            self.on_frame(key, frame);
            self.queues
                .sessions
                .get(key)
                .is_some_and(|s| s.is_open() && !s.is_paused())
        });
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.decoder = decoder;
            if let (Some(pending), Some(rest)) = (&mut session.auth, data.get(used..)) {
                pending.stash.extend_from_slice(rest);
            }
        }
    }

    fn on_frame(&mut self, key: usize, frame: Frame<'_>) {
        self.counters.frames_in += 1;
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.last_heard = self.now;
            session.ping_sent = false;
        }
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong => {
                let text = format!("frame longer than {} bytes; skipped", self.limits.max_line);
                return self.reply_err(key, ErrorCode::TooLong, &text);
            }
        };
        match parse(line) {
            Ok(Some(command)) => self.dispatch(key, command),
            Ok(None) => {}
            Err(e) => self.reply_err(key, ErrorCode::BadRequest, &e.to_string()),
        }
    }

    /// Takes the verdict on a password; the connection's input goes on.
    pub fn auth_done(&mut self, answer: AuthAnswer) {
        let key = answer.key;
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        if session
            .auth
            .as_ref()
            .is_none_or(|p| p.serial != answer.serial)
        {
            return; // for a connection that has gone since
        }
        let stash = session.auth.take().map(|p| p.stash).unwrap_or_default();
        if !session.is_open() {
            return;
        }
        if answer.ok {
            self.admit(key, &answer.name);
        } else {
            session.failed_logins += 1;
            let (failures, peer) = (session.failed_logins, session.peer_name());
            warn!(
                "failed login as {} from {peer} ({failures} of {MAX_FAILED_LOGINS})",
                answer.name
            );
            if failures >= MAX_FAILED_LOGINS {
                let text = format!("{failures} failed logins; disconnected");
                self.queues.push_final(key, |b| {
                    crate::protocol::reply::encode_err(b, ErrorCode::NotLoggedIn, &text)
                });
                return self.close(key, None);
            }
            self.reply_err(key, ErrorCode::NotLoggedIn, "wrong name or password");
        }
        self.resumed.push(key);
        self.feed(key, &stash);
    }

    /// Moves the keys of connections whose input may be read again into
    /// `into`. While a password is checked, a session is paused
    /// ([`Session::is_paused`]) and the loop does not read it.
    pub fn take_resumed(&mut self, into: &mut Vec<usize>) {
        into.append(&mut self.resumed);
    }

    /// Queues this turn's broadcasts and hands the turn's journal records
    /// to the writer; the loop calls it before writing to sockets.
    pub fn end_turn(&mut self) {
        self.seal();
        self.sync_journal();
    }

    /// Graceful shutdown: every connection is told and closed once its
    /// queue is flushed; nobody is told that the others left.
    pub fn shut_down(&mut self) {
        self.seal();
        self.stopping = true;
        let keys: Vec<usize> = self.queues.sessions.iter().map(|(k, _)| k).collect();
        for key in keys {
            let Some(session) = self.queues.sessions.get_mut(key) else {
                continue;
            };
            session.auth = None; // a pending login is dropped with it
            if session.is_open() {
                self.queues.push_final(key, |b| {
                    crate::protocol::reply::encode_err(
                        b,
                        ErrorCode::Unavailable,
                        "server shutting down",
                    )
                });
                self.close(key, None);
            }
        }
    }

    /// Asks the password thread to reread the users file.
    pub fn reload_accounts(&mut self) {
        if let Some(auth) = &self.auth {
            let _ = auth.requests.send(AuthJob::Reload);
        }
    }
}
