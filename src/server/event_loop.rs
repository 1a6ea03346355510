//! The readiness loop: it alone reads sockets, accepts and shuts them;
//! writing is [`Hub::flush`]'s (through the write queues,
//! [`hub::Queues::write`](super::hub)), which the loop calls once a turn
//! for each connection with output — and which the hub calls itself only
//! for a connection a push took past its limit, at a point between frames.
//!
//! One thread, one `mio::Poll`, sockets registered edge-triggered for both
//! read and write once, so interest never has to be changed. Each turn:
//!
//! 1. wait for events (not at all when work was left over from the last
//!    turn; otherwise no longer than the next timer tick);
//! 2. accept new connections (a bounded batch per listener); read each
//!    readable socket into one shared 64 KiB scratch buffer and hand the
//!    bytes to the hub — at most [`READ_BUDGET`] bytes per socket per turn,
//!    and each socket at most once per turn, so one flooding client cannot
//!    starve the others: a socket left with input is read again next turn,
//!    after everyone else has had theirs; then take what helper threads
//!    sent, the cluster's bus within the same budget as one socket (what
//!    is left waits for the next turn);
//! 3. run timers (keep-alive PINGs, idle timeouts, closing deadlines);
//! 4. queue the turn's broadcasts (one shared chunk for all of them), hand
//!    the turn's journal records to the journal's writer thread, then
//!    write every connection that has pending output, one `writev` each, as
//!    Redis does before it sleeps — never once per message;
//! 5. drop connections that are finished.
//!
//! End of stream is noticed however it arrives: a read-closed or error
//! event marks the connection, and it is read until EOF even past a short
//! read (a FIN that came with the last data brings no further event).
//!
//! Helper threads (passwords, the journal) report through channels and wake
//! the loop with a `mio::Waker`; signals arrive as readiness too (see
//! [`shutdown`](super::shutdown)). TLS is driven here as well: rustls does
//! no I/O, so a TLS connection is just another transport ([`Conn`]) —
//! but a handshake's cryptography is slow, and goes to the
//! [handshake pool](super::handshake_pool), which wakes the loop too.

use super::accounts::AuthAnswer;
use super::handshake_pool::HandshakePool;
use super::hub::{Flushed, Hub};
use super::keyset::KeySet;
use super::listener::Listeners;
use super::tls::{Conn, Crypto};
use log::{debug, info};
use mio::{Events, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Listener `i` has token `LISTENERS - i`.
pub(super) const LISTENERS: usize = usize::MAX - 10;
/// A helper thread has news for the loop.
pub(super) const WAKER: Token = Token(usize::MAX - 2);
pub(super) const SIGNALS: Token = Token(usize::MAX - 3);
/// Bytes read per `read` call.
const SCRATCH: usize = 64 << 10;
/// Bytes read from one socket per turn before others get their turn.
pub const READ_BUDGET: usize = 4 * SCRATCH;

/// A connection's reads as the loop schedules them.
#[derive(Debug, Default)]
pub struct Reading {
    /// The loop turn it was last read in (read once a turn).
    turn: u64,
    /// The peer's end of stream has been signalled (read-closed or error)
    /// and not read yet: read until it is, even past a short read.
    eof_pending: bool,
}

/// Where the certificate came from, to reread it on SIGHUP.
pub(super) struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub config: Arc<rustls::ServerConfig>,
}

/// What [`Server::bind`] builds a server from.
pub(super) struct Parts {
    pub poll: Poll,
    pub listeners: Listeners,
    pub hub: Hub<Conn>,
    pub tls: Option<TlsFiles>,
    pub handshakes: Option<HandshakePool>,
    pub max_clients: usize,
    pub tick_every: Duration,
    pub auth_answers: Option<Receiver<AuthAnswer>>,
    pub waker: Arc<Waker>,
    pub signals: Signals,
    pub shutdown_timeout: Duration,
}

/// A bound server, ready to run.
pub struct Server {
    pub(super) poll: Poll,
    pub(super) listeners: Listeners,
    pub(super) hub: Hub<Conn>,
    pub(super) tls: Option<TlsFiles>,
    /// Does TLS handshakes' cryptography, when there is TLS.
    pub(super) handshakes: Option<HandshakePool>,
    /// TLS connections whose close_notify waits for room in the socket.
    pub(super) tls_closing: Vec<usize>,
    pub(super) max_clients: usize,
    tick_every: Duration,
    /// Verdicts on passwords, when there are accounts.
    auth_answers: Option<Receiver<AuthAnswer>>,
    _waker: Arc<Waker>,
    pub(super) signals: Signals,
    pub(super) shutdown_timeout: Duration,
    /// Set once a graceful shutdown has begun: when it must end.
    pub(super) stopping_by: Option<Instant>,
    /// A second stop signal: leave now.
    pub(super) stop_now: bool,
    /// Sockets whose read budget ran out (or whose handshake came back
    /// from the pool), to read again next turn.
    pub(super) reread: KeySet,
    /// News from the cluster left for the next turn (its budget ran out).
    cluster_backlog: bool,
}

impl Server {
    pub(super) fn new(p: Parts) -> Server {
        Server {
            poll: p.poll,
            listeners: p.listeners,
            hub: p.hub,
            tls: p.tls,
            handshakes: p.handshakes,
            tls_closing: Vec::new(),
            max_clients: p.max_clients,
            tick_every: p.tick_every,
            auth_answers: p.auth_answers,
            _waker: p.waker,
            signals: p.signals,
            shutdown_timeout: p.shutdown_timeout,
            stopping_by: None,
            stop_now: false,
            reread: KeySet::default(),
            cluster_backlog: false,
        }
    }

    /// The main port's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.listeners.iter().next() {
            Some(l) => Ok(l.addr),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Runs the loop until a shutdown ends or an unrecoverable error.
    pub fn run(mut self) -> io::Result<()> {
        for l in self.listeners.iter() {
            match (l.tls, self.listeners.len()) {
                (false, _) => info!("listening on {}", l.addr),
                (true, 1) => info!("listening on {} (TLS)", l.addr),
                (true, _) => info!("listening for TLS on {}", l.addr),
            }
            if self.hub.limits.web {
                let scheme = if l.tls { "https" } else { "http" };
                let mut shown = l.addr;
                if shown.ip().is_unspecified() {
                    shown.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                info!("chat from a browser: open {scheme}://{shown}/");
            }
        }
        let mut events = Events::with_capacity(1024);
        let mut scratch = vec![0u8; SCRATCH];
        let mut resumed = Vec::new();
        let mut leftovers = Vec::new();
        let mut next_tick = Instant::now() + self.tick_every;
        loop {
            let timeout = self.wait_for(next_tick);
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            // A new turn: a socket is read at most once in it.
            self.hub.set_now(now);
            // Last turn's leftovers are read this turn, once.
            self.reread.take_into(&mut leftovers);
            // Helpers' news is taken once a turn, after the sockets' events:
            // the bus has its turn's budget as a connection has.
            let mut woken = self.cluster_backlog;
            for event in events.iter() {
                match event.token() {
                    WAKER => woken = true,
                    SIGNALS => self.take_signals(now),
                    Token(t) if t > LISTENERS - self.listeners.len() && t <= LISTENERS => {
                        self.accept(LISTENERS - t, now)
                    }
                    Token(key) => {
                        if event.is_read_closed() || event.is_error() {
                            if let Some(s) = self.hub.session_mut(key) {
                                s.reading.eof_pending = true;
                            }
                        }
                        // A reset connection waiting for its password
                        // check is not read until the verdict: let it go
                        // now, and its check with it.
                        if event.is_error() && self.hub.session(key).is_some_and(|s| s.is_paused())
                        {
                            self.hub.fail(key);
                            continue;
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read(key, &mut scratch);
                        }
                        if event.is_writable() {
                            self.hub.queues.mark_dirty(key);
                            self.flush_tls(key);
                        }
                    }
                }
            }
            if woken {
                self.take_helper_news();
            }
            self.hub.take_resumed(&mut resumed);
            for key in resumed.drain(..).chain(leftovers.drain(..)) {
                self.read(key, &mut scratch);
            }
            for which in self.listeners.take_more(now) {
                self.accept(which, now);
            }
            self.start_handshakes();
            self.hub.set_throttled(self.reread.len());
            if let Some(pool) = &self.handshakes {
                self.hub.set_handshakes(pool.waiting(), pool.finished);
            }
            if now >= next_tick {
                self.hub.tick();
                next_tick = now + self.tick_every;
            }
            self.hub.end_turn();
            self.flush_and_reap();
            // Deliveries recorded while flushing go to the journal now.
            self.hub.sync_journal();
            if let Some(by) = self.stopping_by {
                if self.stop_now || self.hub.is_empty() || now >= by {
                    self.finish();
                    return Ok(());
                }
            }
        }
    }

    /// How long the next poll may wait: not at all with work left over.
    fn wait_for(&self, next_tick: Instant) -> Duration {
        let accept_now = self.listeners.has_more() && self.listeners.paused_until().is_none();
        let resumed = self.hub.has_resumed();
        if !self.reread.is_empty() || accept_now || self.cluster_backlog || resumed {
            return Duration::ZERO;
        }
        let mut wake = next_tick;
        if let Some(resume) = self.listeners.paused_until() {
            wake = wake.min(resume);
        }
        if let Some(by) = self.stopping_by {
            wake = wake.min(by);
        }
        wake.saturating_duration_since(Instant::now())
    }

    /// A helper thread woke the loop: password verdicts, journal progress,
    /// handshakes done.
    fn take_helper_news(&mut self) {
        self.take_handshakes_done();
        if let Some(answers) = &self.auth_answers {
            for answer in answers.try_iter() {
                self.hub.auth_done(answer);
            }
            self.hub.drop_deleted_members();
        }
        self.cluster_backlog = self.hub.take_cluster_news();
        self.hub.sync_journal();
    }

    /// Reads what a socket has, once per turn, up to the budget.
    fn read(&mut self, key: usize, scratch: &mut [u8]) {
        let turn = self.hub.turn();
        let Some(session) = self.hub.session_mut(key) else {
            return;
        };
        if session.is_paused() {
            return; // read again once resumed
        }
        if session.reading.turn == turn {
            // Read already this turn; input replayed since (after a
            // password check) may have been left for the next one.
            if self.hub.has_unprocessed(key) {
                self.read_again(key);
            }
            return;
        }
        session.reading.turn = turn;
        if session.io.is_tls() {
            // A handshake that finishes here may free plaintext queued
            // before it: retry the queue this turn.
            self.hub.queues.mark_dirty(key);
        }
        // Input left over from a turn whose work budget ran out comes first.
        if self.hub.has_unprocessed(key) && self.hub.resume_input(key) {
            return self.read_again(key);
        }
        let mut budget = READ_BUDGET;
        loop {
            let Some(session) = self.hub.session_mut(key) else {
                return;
            };
            if session.is_paused() {
                return;
            }
            // A short read of a plain socket drained it (epoll reports the
            // next arrival as a new edge) — unless the peer's FIN is known
            // to be waiting. TLS is read until WouldBlock.
            let drained_if_short = !session.io.is_tls() && !session.reading.eof_pending;
            let wire_before = session.io.wire_read();
            let read = session.io.read(scratch);
            // TLS counts what came off the wire: tiny records cost their
            // decryption whatever plaintext they carry.
            let wire = session.io.wire_read().saturating_sub(wire_before);
            match read {
                Ok(0) => return self.hub.peer_closed(key),
                Ok(n) => {
                    self.hub.receive(key, scratch.get(..n).unwrap_or_default());
                    let cost = usize::try_from(wire).unwrap_or(usize::MAX).max(n);
                    budget = budget.saturating_sub(cost);
                    if budget == 0 || self.hub.has_unprocessed(key) {
                        return self.read_again(key);
                    }
                    if n < scratch.len() && drained_if_short {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let wanted = self.hub.session(key).map(|s| s.io.crypto());
                    if wanted == Some(Crypto::Wanted) {
                        self.queue_handshake(key);
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("read from connection {key} failed: {e}");
                    return self.hub.fail(key);
                }
            }
        }
    }

    /// Lists a socket whose budget ran out for next turn (once).
    fn read_again(&mut self, key: usize) {
        self.reread.insert(key);
    }

    /// Writes all pending output, then drops finished connections; repeats
    /// while dropping one queued something for others (a LEFT).
    fn flush_and_reap(&mut self) {
        let (mut dirty, mut dead) = (Vec::new(), Vec::new());
        loop {
            self.hub.take_dirty(&mut dirty);
            for &key in &dirty {
                if self.hub.flush(key) == Flushed::ShutWrite {
                    let Some(session) = self.hub.session_mut(key) else {
                        continue;
                    };
                    if session.io.is_tls() {
                        // Closed once the handshake (if any) and the
                        // close_notify are through.
                        if !self.tls_closing.contains(&key) {
                            self.tls_closing.push(key);
                        }
                        continue;
                    }
                    let _ = session.io.stream.shutdown(Shutdown::Write);
                    self.hub.start_draining(key);
                }
            }
            if !self.tls_closing.is_empty() {
                self.finish_tls_closes();
            }
            self.hub.take_dead(&mut dead);
            for &key in &dead {
                if let Some(mut conn) = self.hub.remove(key) {
                    self.forget_handshake(key, &conn);
                    let _ = self.poll.registry().deregister(&mut conn.stream);
                    debug!("closed connection {key} from {}", conn.peer);
                }
            }
            if dirty.is_empty() && dead.is_empty() {
                return;
            }
        }
    }
}
