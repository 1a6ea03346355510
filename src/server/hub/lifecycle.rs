//! A connection's life: opened, logged in, closing, draining, dead.
//!
//! Closing is bookkeeping, not a client: once a connection has been told
//! `BYE` (or an error that ends it) it lingers — its queue drains, its write
//! side is shut, the peer's FIN is awaited, so the last frames are not
//! destroyed by a reset — but it no longer counts against `--max-clients`.
//! Lingering connections still hold descriptors, so they have a small cap
//! of their own (`Limits::max_lingering`); past it the oldest is dropped.
//! A connection refused because the server is full lingers the same way,
//! so its `ERR 503` arrives whole and reading its input stays within the
//! loop's per-turn budget.

use super::Hub;
use crate::protocol::{ErrorCode, Event};
use crate::server::session::Session;
use crate::server::wire::{self, line::Lines, Dialect, Sniffing};
use log::{debug, info, warn};
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How long a closing connection may take to flush its last frames.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// How long to wait for the peer's EOF after our write side is shut.
const DRAIN_LINGER: Duration = Duration::from_secs(2);
/// How long a connection the server is too full for may take to show
/// what it speaks before it is told, in lines.
pub const REFUSED_WAIT: Duration = Duration::from_secs(1);

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Reading and answering frames.
    #[default]
    Open,
    /// No more input is processed; the queue is being flushed, then the
    /// write side is shut. Ends at `deadline` whatever is left.
    Closing { deadline: Instant },
    /// Write side shut; input is discarded until the peer closes too (so
    /// our last frames are not destroyed by a reset), or until `deadline`.
    Draining { deadline: Instant },
    /// Finished: the event loop drops it at the end of this turn.
    Dead,
}

/// A connection's life, changed only here, so the counts of open and
/// lingering connections stay right.
#[derive(Debug, Default)]
pub struct Life {
    phase: Phase,
    /// The peer shut its write side (EOF was read).
    peer_closed: bool,
    /// The server is full: this connection is only told so, in whichever
    /// dialect its first line shows.
    refusal: Option<Box<str>>,
}

impl Life {
    #[inline]
    pub fn phase(&self) -> Phase {
        self.phase
    }

    #[inline]
    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Closing or draining: finishing up, not counted as a client.
    #[inline]
    pub fn is_lingering(&self) -> bool {
        matches!(self.phase, Phase::Closing { .. } | Phase::Draining { .. })
    }

    /// Is it waiting to be told the server is full?
    pub fn is_refused(&self) -> bool {
        self.refusal.is_some()
    }
}

/// What a flush left behind.
#[derive(Debug, PartialEq, Eq)]
pub enum Flushed {
    /// Bytes may remain; a writable event will bring us back.
    Open,
    /// A closing session has written its last byte: shut its write side.
    ShutWrite,
    /// The session is gone or failed.
    Gone,
}

impl<T: Write> Hub<T> {
    /// Adds a new connection and returns its key.
    pub fn open(&mut self, io: T) -> usize {
        self.open_from(io, None)
    }

    /// Adds a new connection from `peer`, which failed logins are logged
    /// with.
    pub fn open_from(&mut self, io: T, peer: Option<SocketAddr>) -> usize {
        let settings = wire::Settings {
            max_line: self.limits.max_line,
            web: self.limits.web,
            irc: self.limits.irc.clone(),
        };
        // Without HTTP or IRC on the port, every connection speaks lines.
        let dialect: Box<dyn Dialect> = if settings.web || settings.irc.is_some() {
            Box::new(Sniffing::new(settings))
        } else {
            Box::new(Lines::new(settings.max_line))
        };
        let mut session = Session::new(io, peer, dialect, self.now);
        self.next_serial += 1;
        session.serial = self.next_serial;
        self.open_count += 1;
        self.queues.sessions.insert(session)
    }

    /// Takes a connection only to refuse it with `ERR 503 <text>`; it
    /// lingers until the error is out. `None` (the connection is the
    /// caller's to drop) when too many connections linger already.
    ///
    /// With HTTP on the port, a refused connection is first read up to
    /// its first line (for at most [`REFUSED_WAIT`]), so that a browser is
    /// told in HTTP or WebSocket and a chat client in lines; at most
    /// `max_lingering` such connections wait at once; they take no
    /// client's slot.
    pub fn open_refused(&mut self, io: T, peer: SocketAddr, text: &str) -> Option<usize> {
        let room = self.refused_waiting < self.limits.max_lingering;
        if self.limits.web && room && !self.stopping {
            let key = self.open_from(io, Some(peer));
            let by = self.now + REFUSED_WAIT;
            if let Some(session) = self.queues.sessions.get_mut(key) {
                session.life.refusal = Some(text.into());
                session.dialect.hurry(by);
                self.refused_waiting += 1;
            }
            return Some(key);
        }
        if self.linger_count >= self.limits.max_lingering {
            return None;
        }
        let key = self.open_from(io, Some(peer));
        self.refuse(key, text);
        Some(key)
    }

    /// Connections that count against `--max-clients`: not lingering,
    /// nor only waiting to be refused.
    pub fn open_connections(&self) -> usize {
        self.open_count.saturating_sub(self.refused_waiting)
    }

    /// Takes the refusal a connection waits to be told, if any.
    pub(super) fn take_refusal(&mut self, key: usize) -> Option<Box<str>> {
        let refusal = self.queues.sessions.get_mut(key)?.life.refusal.take()?;
        self.refused_waiting -= 1;
        Some(refusal)
    }

    /// Moves a session to `phase`, keeping the counts of open and
    /// lingering connections, and the lingering cap.
    fn set_phase(&mut self, key: usize, phase: Phase) {
        if phase != Phase::Open {
            // Gone before it was told (reset, timed out): no longer waiting.
            self.take_refusal(key);
        }
        let Some(s) = self.queues.sessions.get_mut(key) else {
            return;
        };
        let (was_open, was_lingering) = (s.is_open(), s.is_lingering());
        s.life.phase = phase;
        let (is_open, is_lingering) = (s.is_open(), s.is_lingering());
        let serial = s.serial;
        if was_open && !is_open {
            self.open_count -= 1;
        }
        if was_lingering && !is_lingering {
            self.linger_count -= 1;
        }
        if !was_lingering && is_lingering {
            self.linger_count += 1;
            self.lingering.push_back((key, serial));
            self.cap_lingering();
        }
    }

    /// Drops the oldest lingering connections past the cap.
    fn cap_lingering(&mut self) {
        // At shutdown every connection lingers, and each gets its time.
        while self.linger_count > self.limits.max_lingering && !self.stopping {
            let Some((key, serial)) = self.lingering.pop_front() else {
                return;
            };
            let current = self.queues.sessions.get(key);
            if current.is_some_and(|s| s.serial == serial && s.is_lingering()) {
                debug!("too many closing connections: dropping connection {key}");
                self.kill(key);
            }
        }
        // Entries of connections that finished on their own pile up
        // otherwise.
        if self.lingering.len() > 2 * self.linger_count + 64 {
            let sessions = &self.queues.sessions;
            self.lingering.retain(|&(key, serial)| {
                sessions
                    .get(key)
                    .is_some_and(|s| s.serial == serial && s.is_lingering())
            });
        }
    }

    /// Stops reading from a session, tells the others it left, and lets its
    /// queue drain before the socket is shut. Its dialect's own last words
    /// (a WebSocket close frame) are queued when it is flushed, after
    /// everything else.
    pub(in crate::server) fn close(&mut self, key: usize, left_text: Option<&str>) {
        self.leave(key, left_text);
        let deadline = self.now + CLOSE_LINGER;
        if self.queues.sessions.get(key).is_some_and(Session::is_open) {
            self.set_phase(key, Phase::Closing { deadline });
        }
        // Listed even with an empty queue, so the flush step closes it.
        self.queues.mark_dirty(key);
    }

    /// A closing connection's dialect's last bytes, queued after all else.
    fn farewell(&mut self, key: usize) {
        let stopping = self.stopping;
        let mut farewell = Vec::new();
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.dialect.farewell(stopping, &mut farewell);
        }
        if !farewell.is_empty() {
            self.push_wire(key, &farewell, true);
        }
    }

    /// Takes a session's name off it and out of the directory.
    pub(super) fn take_name(&mut self, key: usize) -> Option<Rc<str>> {
        let session = self.queues.sessions.get_mut(key)?;
        let name = session.user.name.take()?;
        let rev = std::mem::take(&mut session.node.claim_rev);
        let catching_up = session.mail.catching_up();
        let was_away = session.user.away.take().is_some();
        if was_away {
            self.away_online -= 1;
        }
        self.online.remove(&name);
        self.rooms_session_ended(key, &name, catching_up);
        self.users_reply = None;
        self.release_claim(&name, rev);
        if was_away {
            // A session taking over the name starts back, without a QUIT
            // that would say so: those told of away hear it.
            let time = self.clock.stamp();
            self.notify_away(key, &name, time.as_str(), None);
        }
        Some(name)
    }

    /// Takes a session off the directory and announces LEFT.
    pub(super) fn leave(&mut self, key: usize, text: Option<&str>) {
        let Some(name) = self.take_name(key) else {
            return;
        };
        info!("{name} left");
        // A connection that is ending can no longer acknowledge held mail:
        // it goes back to the mailbox now (what was already written may
        // come twice; none is lost), ahead of anything held since.
        self.return_mail(key);
        self.seen(&name, false);
        let time = self.clock.stamp();
        let (name, time) = (&*name, time.as_str());
        if self.stopping {
            // Nobody here is told; the other nodes' users are, even so.
            let left = Event::Left {
                name,
                time,
                text: None,
            };
            return self.tell_other_nodes(&left);
        }
        self.broadcast(None, &Event::Left { name, time, text });
    }

    pub(super) fn kill(&mut self, key: usize) {
        if let Some(s) = self.queues.sessions.get(key) {
            if !matches!(s.life.phase, Phase::Dead) {
                self.set_phase(key, Phase::Dead);
                self.dead.push(key);
                debug!("connection {key} done");
            }
        }
    }

    /// Disconnects a session that cannot keep up with what it is sent.
    pub(super) fn cut_slow(&mut self, key: usize) {
        let Some(session) = self.queues.sessions.get(key) else {
            return;
        };
        if !session.is_open() {
            return;
        }
        let (behind, held) = (session.out.len(), session.live_queued());
        warn!(
            "cutting slow consumer {}: {behind} bytes queued, {held} bytes held",
            session.name().map_or("(not logged in)", |n| n)
        );
        self.counters.slow_cut += 1;
        self.queues.with_session(key, |s| s.out.drop_unstarted());
        let text = format!(
            "too slow: {behind} bytes waiting, holding {held} bytes of memory, and more to \
             come; over the limit of {}; disconnected",
            self.limits.max_queue
        );
        self.close_with(key, ErrorCode::TooSlow, &text);
    }

    /// Closes a session whose name a new login took over (no LEFT: the
    /// name never went offline).
    pub(in crate::server) fn replace(&mut self, old: usize, text: &str) {
        if self.take_name(old).is_none() {
            return;
        }
        self.return_mail(old);
        self.close_with(old, ErrorCode::NameTaken, text);
    }

    /// The peer closed its write side: like a QUIT without text, except
    /// that no BYE is owed. Queued frames are still delivered.
    pub fn peer_closed(&mut self, key: usize) {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        session.life.peer_closed = true;
        match session.life.phase {
            Phase::Open => self.close(key, None),
            Phase::Draining { .. } => self.kill(key),
            Phase::Closing { .. } | Phase::Dead => {}
        }
        self.seal();
    }

    /// A read or write failed: the connection is gone at once.
    pub fn fail(&mut self, key: usize) {
        self.leave(key, None);
        self.kill(key);
        self.seal();
    }

    /// The write side is shut: wait for the peer's EOF, briefly.
    pub fn start_draining(&mut self, key: usize) {
        let deadline = self.now + DRAIN_LINGER;
        match self.queues.sessions.get(key) {
            Some(s) if s.life.peer_closed => self.kill(key),
            Some(_) => self.set_phase(key, Phase::Draining { deadline }),
            None => {}
        }
    }

    /// Writes what a session has queued: the loop's flush, for each
    /// session with output, once a turn.
    pub fn flush(&mut self, key: usize) -> Flushed {
        match self.queues.sessions.get(key).map(|s| s.life.phase) {
            None | Some(Phase::Dead) => return Flushed::Gone,
            Some(Phase::Closing { .. }) => self.farewell(key),
            Some(_) => {}
        }
        if self.queues.write(key).is_err() {
            self.seal(); // closes it, and tells the others
            return Flushed::Gone;
        }
        match self.queues.sessions.get(key) {
            Some(s) if s.out.is_empty() && matches!(s.life.phase, Phase::Closing { .. }) => {
                Flushed::ShutWrite
            }
            Some(_) => Flushed::Open,
            None => Flushed::Gone,
        }
    }

    /// Moves the keys of sessions with queued output into `into`.
    pub fn take_dirty(&mut self, into: &mut Vec<usize>) {
        self.queues.take_dirty(into);
    }

    /// Moves the keys of sessions to drop into `into`.
    pub fn take_dead(&mut self, into: &mut Vec<usize>) {
        into.clear();
        std::mem::swap(into, &mut self.dead);
    }

    /// Removes a session for good, returning its transport.
    pub fn remove(&mut self, key: usize) -> Option<T> {
        let session = self.queues.sessions.get_mut(key)?;
        if let Some(serial) = session.intake.password_check() {
            // Its login need not be checked any more.
            let peer = session.peer.map(|p| p.ip());
            self.auth_queue.cancel(key, serial, peer);
        }
        self.leave(key, None);
        self.return_mail(key);
        self.set_phase(key, Phase::Dead);
        self.queues.with_session(key, |s| s.out.clear());
        let session = self.queues.sessions.try_remove(key)?;
        self.count_manners(session.out.manners(), Default::default());
        self.seal();
        Some(session.io)
    }
}
