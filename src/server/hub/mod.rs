//! The hub: who is online, what each command means, and who receives what.
//!
//! The hub opens no sockets and does not poll. The event loop hands it bytes
//! read from a connection ([`Hub::receive`]), which the connection's
//! dialect ([`wire`](crate::server::wire)) turns into commands, and asks it
//! to write queued bytes ([`Hub::flush`]); everything between — the
//! directory of names, held mail, fan-out, limits — happens here, so it can
//! be tested and benchmarked without sockets. It speaks in
//! [`Event`](crate::protocol::Event)s; how each connection writes them is
//! its encoding's business. Besides the write queues, it hands records to
//! the journal's writer and work to the cluster's helper, each once a turn.
//!
//! Each piece of a connection's state has one owner here (see
//! [`session`](crate::server::session)):
//!
//! - [`input`]: input out of the dialect, within a per-turn budget of
//!   work; [`intake`]: a connection's input state and its waits;
//! - [`queues`]: the write queues, the one push, and the limits;
//!   [`replies`]: what the hub says to one connection;
//! - [`fanout`]: one shared encoding per batch of broadcasts;
//! - [`lifecycle`]: open, closing, lingering, dead;
//! - [`mail`]: held mail — one interface, kept in the journal or in
//!   JetStream;
//! - [`timers`]: keep-alives, idle timeouts, deadlines;
//! - [`web`] and [`websocket`]: what HTTP requests are answered, and the
//!   upgrade to WebSocket;
//! - [`stats`]: the `STATS` counters;
//! - [`cluster`]: in a cluster, the directory of names on other nodes,
//!   their liveness and messages, and the commands that wait for NATS;
//! - the commands themselves are in [`cmd`](crate::server::cmd), one file
//!   each.

mod accounts_gone;
mod charter;
mod cluster;
mod fanout;
pub(super) mod input;
mod intake;
mod lifecycle;
mod mail;
mod queues;
mod replies;
pub(in crate::server) mod rooms;
mod stats;
mod timers;
mod web;
mod websocket;

#[cfg(test)]
mod tests;

pub use cluster::{ClusterState, NodeLink};
pub use intake::{Intake, Wait, WaitFor};
pub use lifecycle::{Flushed, Life, Phase};
pub use mail::MailInFlight;
use mail::Mailroom;
pub use queues::{Limit, Outgoing, Output, Queues};

use crate::server::accounts::{AuthJob, AuthPort};
use crate::server::clock::Clock;
use crate::server::journal::Journal;
use crate::server::names::NameMap;
use crate::server::rooms::{RoomLimits, Rooms};
use crate::server::session::Session;
use crate::server::store::{MailLimits, Store};
use fanout::Batch;
use stats::Counters;
use std::collections::VecDeque;
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
    pub rooms: RoomLimits,
    pub idle_timeout: Option<Duration>,
    /// Connections closing or draining at once (they hold descriptors but
    /// no client slot).
    pub max_lingering: usize,
    /// Serve HTTP on the chat port: the page, `/ws`, health and metrics.
    pub web: bool,
    /// Origins besides this server's own whose pages may open `/ws`.
    pub allow_origins: Vec<String>,
    /// The server listens on loopback only: a page's `/ws` must be asked
    /// for by a host name of this machine (see [`crate::server::wire::websocket::upgrade`]).
    pub local_only: bool,
    /// IRC on the chat port, and how (`None`: `--no-irc`).
    pub irc: Option<crate::server::wire::irc::Config>,
}

/// The server's state apart from sockets.
#[derive(Debug)]
pub struct Hub<T> {
    pub queues: Queues<T>,
    /// Online users by name (compared without case, shown as their
    /// sessions' names), and their sessions.
    pub(in crate::server) online: NameMap<usize>,
    pub(in crate::server) store: Store,
    pub(in crate::server) rooms: Rooms,
    pub(in crate::server) journal: Journal,
    /// Held mail whose record the journal has not yet written.
    unwritten: mail::Unwritten,
    /// Where held mail is kept: this node's journal, or JetStream.
    mailroom: Mailroom,
    pub(in crate::server) batch: Batch,
    pub(in crate::server) clock: Clock,
    pub(in crate::server) limits: Limits,
    now: Instant,
    started: Instant,
    dead: Vec<usize>,
    pub(in crate::server) next_ping: u64,
    pub(in crate::server) counters: Counters,
    /// Where logins go for a password check; `None`: no accounts.
    pub(in crate::server) auth: Option<AuthPort>,
    /// The accounts whose deleted names were last taken out of the rooms.
    accounts_seen: Option<std::sync::Arc<crate::server::accounts::Users>>,
    /// The serial of the last wait (a password check, a cluster answer).
    pub(in crate::server) next_wait: u64,
    /// Sessions whose input was paused and may be read again.
    pub(in crate::server) resumed: Vec<usize>,
    /// Shutting down: departures are not announced.
    stopping: bool,
    next_serial: u64,
    /// Connections in the open phase (the ones `--max-clients` counts).
    open_count: usize,
    /// Connections the server is too full for, waiting to show what they
    /// speak before they are told (counted in `open_count`).
    refused_waiting: usize,
    /// Connections closing or draining, and in which order they began.
    linger_count: usize,
    lingering: VecDeque<(usize, u64)>,
    /// Connections with input left for the next turn (from the loop).
    throttled: usize,
    /// TLS handshakes waiting now and done since start (from the loop).
    handshakes: Option<(usize, u64)>,
    /// Loop turns so far (work budgets are per turn).
    turn: u64,
    /// Logins waiting for their password check.
    pub(in crate::server) auth_queue: crate::server::auth_queue::AuthQueue,
    /// The answer to `WHO` while nobody comes or goes: shared by every
    /// connection that asks.
    pub(in crate::server) users_reply: Option<Rc<[u8]>>,
    /// Sessions marked away: while none is, a message costs no look.
    pub(in crate::server) away_online: usize,
    /// Sessions that want their messages echoed: while none does, a
    /// message costs no look.
    pub(in crate::server) echoing: usize,
    /// Sessions shown other clients' tags (see `Manners::client_tags`).
    pub(in crate::server) client_tagged: usize,
    /// Sessions told of anyone's away (IRC's `away-notify`): while none
    /// is, an `AWAY` costs no look.
    pub(in crate::server) away_notified: usize,
    /// The other nodes, when this one is part of a cluster.
    pub(in crate::server) cluster: Option<Box<ClusterState>>,
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
        let mut queues = Queues::new(limits.max_queue, limits.max_total_queue);
        if let Some(irc) = &limits.irc {
            queues.set_voice(crate::server::wire::Voice {
                server: irc.server.clone(),
                everyone: irc.everyone.clone(),
                max_line: irc.max_line,
            });
        }
        Hub {
            queues,
            online: NameMap::new(),
            store,
            rooms: Rooms::new(limits.rooms),
            journal,
            unwritten: Default::default(),
            mailroom: Mailroom::Journal,
            batch: Batch::new(),
            clock: Clock::default(),
            limits,
            now,
            started: now,
            dead: Vec::new(),
            next_ping: 0,
            counters: Counters::default(),
            auth,
            accounts_seen: None,
            next_wait: 0,
            resumed: Vec::new(),
            stopping: false,
            next_serial: 0,
            open_count: 0,
            refused_waiting: 0,
            linger_count: 0,
            lingering: VecDeque::new(),
            throttled: 0,
            handshakes: None,
            turn: 0,
            auth_queue: Default::default(),
            users_reply: None,
            away_online: 0,
            echoing: 0,
            client_tagged: 0,
            away_notified: 0,
            cluster: None,
        }
    }

    /// Takes the rooms a journal held (at start).
    pub fn restore_rooms(&mut self, image: crate::server::journal::RoomsImage) {
        for (_, members) in &image.rooms {
            for name in members {
                self.store.pin(name);
            }
        }
        self.rooms = Rooms::restore(image, self.limits.rooms);
    }

    /// Sets the time of this loop turn: for activity and deadlines, and
    /// for the stamps of the messages accepted in it.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.turn += 1;
        self.clock.set();
    }

    /// The loop's turns so far, this one included (`set_now` starts one).
    pub fn turn(&self) -> u64 {
        self.turn
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

    /// Hands the turn's broadcasts to the other nodes, queues them here,
    /// and hands the turn's journal records to the writer; the loop calls
    /// it before writing to sockets.
    pub fn end_turn(&mut self) {
        self.publish_bus_out();
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
            session.intake.drop_wait(); // a pending login is dropped with it
            if session.is_open() {
                self.refuse(key, "server shutting down");
            }
        }
    }

    /// Is a graceful shutdown under way?
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Makes this hub a node of a cluster.
    pub fn join_cluster(&mut self, port: crate::server::cluster::Backplane) {
        self.cluster = Some(Box::new(ClusterState::new(port)));
        self.mailroom = Mailroom::JetStream;
    }

    /// At exit: this turn's last messages go to the other nodes, and the
    /// helper thread is given a moment to hand them (and the released
    /// names) to NATS.
    pub fn leave_cluster(&mut self) {
        self.publish_bus_out();
        if let Some(c) = self.cluster.take() {
            c.port.close();
        }
    }

    /// Asks the password thread to reread the users file.
    pub fn reload_accounts(&mut self) {
        if let Some(auth) = &self.auth {
            let _ = auth.requests.send(AuthJob::Reload);
        }
    }
}
