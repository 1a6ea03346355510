//! The hub: who is online, what each frame means, and who receives what.
//!
//! The hub opens no sockets and does not poll. The event loop hands it bytes
//! read from a connection ([`Hub::receive`]) and asks it to write queued
//! bytes ([`Hub::flush`]); everything between — parsing, the directory of
//! names, held mail, fan-out, limits — happens here, so it can be tested and
//! benchmarked without sockets. Its only other output is the journal of
//! held mail, which it writes before any socket write of the same turn.
//!
//! Fan-out: every broadcast frame (SAY, JOINED, LEFT) accepted during a loop
//! turn is appended to one pending *batch*, tagged with its author. Before
//! the loop writes, the batch is *sealed*: turned into one reference-counted
//! chunk that every online user's queue points at — except that an author
//! gets the chunk minus its own frames, and a user who logged in during the
//! batch gets only what came after, both as zero-copy byte ranges of the
//! same chunk. So a message is encoded once and never copied per recipient,
//! a burst of messages or logins costs each recipient one queue entry, and
//! the kernel gets few large iovecs instead of many small ones. A private
//! message or a PING seals the batch first, so every recipient still sees
//! frames in the order the server accepted them.

use super::accounts::{has_account, AuthAnswer, AuthJob, AuthPort, AuthRequest};
use super::clock::Clock;
use super::journal::{encode_image, Journal};
use super::outqueue::OutQueue;
use super::session::{MailInFlight, PendingAuth, Phase, Session};
use super::store::Store;
use crate::protocol::reply::{encode_err, encode_fields, encode_users};
use crate::protocol::{parse, Command, ErrorCode, Frame, Text};
use log::{debug, info, warn};
use slab::Slab;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A batch is sealed once it holds this many bytes, bounding how much one
/// sender's burst adds to each recipient's queue in one piece.
const BATCH_MAX: usize = 32 << 10;
/// How long a closing connection may take to flush its last frames.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// Queued bytes that, once drained, make the hub return memory to the OS.
const TRIM_AFTER: usize = 64 << 20;
/// How long to wait for the peer's EOF after our write side is shut.
const DRAIN_LINGER: Duration = Duration::from_secs(2);
/// Failed logins after which a connection is closed.
const MAX_FAILED_LOGINS: u32 = 5;

/// The limits the hub enforces.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_line: usize,
    pub max_queue: usize,
    pub max_total_queue: usize,
    pub mailbox_max: usize,
    pub idle_timeout: Option<Duration>,
}

/// A run of consecutive batch frames by one author, between two logins.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// The session not to send these frames to (`None`: LEFT, whose author
    /// is already gone).
    author: Option<usize>,
    start: usize,
    end: usize,
    frames: u64,
    /// Batch sequence number of the first frame.
    seq: u64,
}

/// Broadcast frames accepted this turn, not yet queued.
#[derive(Debug, Default)]
struct Batch {
    buf: Vec<u8>,
    spans: Vec<Span>,
    frames: u64,
    /// Sequence number of the next frame (never reset, so logins can be
    /// placed between frames).
    seq: u64,
    /// A login happened since the last frame: the next frame starts a span.
    split: bool,
    /// Sessions that need their own cut of the chunk at sealing.
    special: Vec<usize>,
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

/// Counters behind `STATS`.
#[derive(Debug, Default)]
struct Counters {
    frames_in: u64,
    deliveries: u64,
    bytes_in: u64,
    slow_cut: u64,
}

/// Sessions and their queues, kept apart from the directory so fan-out can
/// walk the directory while pushing into queues.
#[derive(Debug)]
pub struct Queues<T> {
    pub sessions: Slab<Session<T>>,
    /// Bytes queued on all sessions, not counting held mail.
    total: usize,
    peak: usize,
    /// Highest `total` since memory was last handed back to the OS.
    high_water: usize,
    max_queue: usize,
    max_total: usize,
    dirty: Vec<usize>,
    cuts: Vec<usize>,
    /// Sessions whose socket failed during a write.
    failed: Vec<usize>,
    bytes_out: u64,
    /// Lives here, beside the sockets, because no socket write may overtake
    /// it: `write` commits the journal first, so whatever a
    /// client is told — a PONG above all — comes after the records of the
    /// messages it acknowledges.
    pub journal: Journal,
}

impl<T: Write> Queues<T> {
    /// Runs `f` on a session and keeps the byte totals right afterwards.
    fn with_session<R>(&mut self, key: usize, f: impl FnOnce(&mut Session<T>) -> R) -> Option<R> {
        let session = self.sessions.get_mut(key)?;
        let before = session.live_queued();
        let result = f(session);
        session.out_exempt = session.out_exempt.min(session.out.len());
        let after = session.live_queued();
        self.total = self.total + after - before;
        self.peak = self.peak.max(self.total);
        self.high_water = self.high_water.max(self.total);
        Some(result)
    }

    /// Lists a session for this turn's flush (once).
    pub fn mark_dirty(&mut self, key: usize) {
        if let Some(session) = self.sessions.get_mut(key) {
            if !session.dirty {
                session.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// Would `extra` more bytes overflow this session's or everyone's limit?
    fn over_limit(&self, session: &Session<T>, extra: usize) -> bool {
        let queued = session.live_queued();
        queued + extra > self.max_queue || (queued > 0 && self.total + extra > self.max_total)
    }

    /// Writes what the session has queued; a failed socket is listed in
    /// `failed` for the hub to close.
    fn write(&mut self, key: usize) -> io::Result<usize> {
        self.journal.commit();
        let result = self
            .with_session(key, |s| {
                let result = s.out.write_to(&mut s.io);
                if let Ok(n) = result {
                    s.out_exempt = s.out_exempt.saturating_sub(n);
                    s.written += n as u64;
                }
                result
            })
            .unwrap_or(Ok(0));
        match &result {
            Ok(n) => {
                self.bytes_out += *n as u64;
                self.settle_mail(key);
            }
            Err(e) => {
                debug!("write to connection {key} failed: {e}");
                self.failed.push(key);
            }
        }
        result
    }

    /// Is there room for `extra` bytes? A queue at its limit is first
    /// written out (the limit is on what the *client* has not taken, not on
    /// what one loop turn produced); if it is still full, the session is
    /// listed for a cut.
    fn make_room(&mut self, key: usize, extra: usize) -> bool {
        let Some(session) = self.sessions.get(key) else {
            return false;
        };
        if !session.is_open() || session.cut {
            return false;
        }
        if !self.over_limit(session, extra) {
            return true;
        }
        if self.write(key).is_err() {
            return false;
        }
        match self.sessions.get(key) {
            Some(s) if !self.over_limit(s, extra) => true,
            _ => {
                self.mark_cut(key);
                false
            }
        }
    }

    /// Queues a shared chunk; a session past its limit is listed for a cut.
    fn push_shared(&mut self, key: usize, chunk: &Rc<[u8]>) -> bool {
        if !self.make_room(key, chunk.len()) {
            return false;
        }
        self.with_session(key, |s| s.out.push_shared(chunk));
        self.mark_dirty(key);
        true
    }

    /// Queues byte ranges of a shared chunk, within the session's limit.
    fn push_ranges(&mut self, key: usize, chunk: &Rc<[u8]>, ranges: &[(usize, usize)]) -> bool {
        let bytes = ranges.iter().map(|(a, b)| b - a).sum();
        if bytes == 0 || !self.make_room(key, bytes) {
            return false;
        }
        self.with_session(key, |s| {
            for &(start, end) in ranges {
                s.out.push_range(chunk, start..end);
            }
        });
        self.mark_dirty(key);
        true
    }

    /// Queues about `size` bytes written by `encode` for this session
    /// alone, within its limit.
    fn push_owned(&mut self, key: usize, size: usize, encode: impl FnOnce(&mut Vec<u8>)) -> bool {
        if !self.make_room(key, size) {
            return false;
        }
        self.with_session(key, |s| s.out.push_with(encode));
        self.mark_dirty(key);
        true
    }

    /// Queues a reply to this session alone, within its limit.
    fn push_reply(&mut self, key: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        // Replies are small; a client past its limit is not reading at all.
        self.push_owned(key, 512, encode);
    }

    /// Queues a last frame before closing, past any limit.
    fn push_final(&mut self, key: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        self.with_session(key, |s| s.out.push_with(encode));
        self.mark_dirty(key);
    }

    /// Once held mail is written out in full, the journal forgets it.
    fn settle_mail(&mut self, key: usize) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        if session
            .mail
            .as_ref()
            .is_some_and(|m| session.written >= m.until)
        {
            if let Some(mail) = session.mail.take() {
                let frames = mail.frames.iter().map(|f| &f[..]);
                self.journal.delivered(&mail.owner, frames);
            }
        }
    }

    fn mark_cut(&mut self, key: usize) {
        if let Some(session) = self.sessions.get_mut(key) {
            if !session.cut {
                session.cut = true;
                self.cuts.push(key);
            }
        }
    }
}

/// The server's state apart from sockets.
#[derive(Debug)]
pub struct Hub<T> {
    pub queues: Queues<T>,
    /// Online users by name.
    online: HashMap<Rc<str>, usize>,
    store: Store,
    batch: Batch,
    clock: Clock,
    limits: Limits,
    now: Instant,
    started: Instant,
    dead: Vec<usize>,
    next_ping: u64,
    counters: Counters,
    /// Where logins go for a password check; `None`: no accounts.
    auth: Option<AuthPort>,
    next_auth: u64,
    /// Sessions whose input was paused and may be read again.
    resumed: Vec<usize>,
    /// Shutting down: departures are not announced.
    stopping: bool,
}

impl<T: Write> Hub<T> {
    /// A hub that keeps nothing on disk and has no accounts.
    pub fn new(limits: Limits) -> Hub<T> {
        let store = Store::new(limits.mailbox_max);
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
            queues: Queues {
                sessions: Slab::new(),
                total: 0,
                peak: 0,
                high_water: 0,
                max_queue: limits.max_queue,
                max_total: limits.max_total_queue,
                dirty: Vec::new(),
                cuts: Vec::new(),
                failed: Vec::new(),
                bytes_out: 0,
                journal,
            },
            online: HashMap::new(),
            store,
            batch: Batch {
                buf: Vec::with_capacity(BATCH_MAX + 1024),
                ..Batch::default()
            },
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
        }
    }

    /// Sets the time of this loop turn: for activity and deadlines, and
    /// for the stamps of the messages accepted in it.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.clock.set();
    }

    /// Open connections.
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

    /// Adds a new connection and returns its key.
    pub fn open(&mut self, io: T) -> usize {
        self.open_from(io, None)
    }

    /// Adds a new connection from `peer`, which failed logins are logged
    /// with.
    pub fn open_from(&mut self, io: T, peer: Option<SocketAddr>) -> usize {
        let session = Session::new(io, peer, self.limits.max_line, self.now);
        self.queues.sessions.insert(session)
    }

    /// Handles bytes read from a connection.
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
                self.queues
                    .push_final(key, |b| encode_err(b, ErrorCode::NotLoggedIn, &text));
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

    /// Queues this turn's broadcasts and writes the turn's journal records
    /// (a turn may hold mail without answering anyone); the loop calls it
    /// before writing to sockets.
    pub fn end_turn(&mut self) {
        self.seal();
        self.queues.journal.commit();
    }

    /// The peer closed its write side: like a QUIT without text, except
    /// that no BYE is owed. Queued frames are still delivered.
    pub fn peer_closed(&mut self, key: usize) {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        session.peer_closed = true;
        match session.phase {
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
        match self.queues.sessions.get_mut(key) {
            Some(s) if s.peer_closed => self.kill(key),
            Some(s) => s.phase = Phase::Draining { deadline },
            None => {}
        }
    }

    /// Periodic work: keep-alive PINGs, idle timeouts, closing deadlines.
    pub fn tick(&mut self) {
        let now = self.now;
        let idle = self.limits.idle_timeout;
        let (mut pings, mut timeouts, mut expired) = (Vec::new(), Vec::new(), Vec::new());
        for (key, s) in self.queues.sessions.iter() {
            match (s.phase, idle) {
                (Phase::Open, Some(timeout)) => {
                    let silent = now.saturating_duration_since(s.last_heard);
                    if silent >= timeout {
                        timeouts.push(key);
                    } else if silent >= timeout / 2 && !s.ping_sent {
                        pings.push(key);
                    }
                }
                (Phase::Closing { deadline } | Phase::Draining { deadline }, _)
                    if now >= deadline =>
                {
                    expired.push(key)
                }
                _ => {}
            }
        }
        for key in pings {
            self.next_ping += 1;
            let token = self.next_ping.to_string();
            self.queues
                .push_reply(key, |b| encode_fields(b, &["PING", &token]));
            if let Some(s) = self.queues.sessions.get_mut(key) {
                s.ping_sent = true;
            }
        }
        for key in timeouts {
            let secs = idle.map_or(0, |t| t.as_secs());
            let text = format!("idle for {secs} s; disconnected");
            self.queues
                .push_final(key, |b| encode_err(b, ErrorCode::IdleTimeout, &text));
            self.close(key, None);
        }
        for key in expired {
            self.leave(key, None);
            self.kill(key);
        }
        self.seal();
        self.compact_store();
        // After a burst (a login storm, a flood) has drained, give the
        // freed heap back instead of holding the peak for good.
        if self.queues.high_water > TRIM_AFTER && self.queues.total < TRIM_AFTER / 64 {
            self.queues.high_water = self.queues.total;
            super::limits::release_free_memory();
        }
    }

    /// Finishes a journal compaction that is done, or starts one that pays.
    fn compact_store(&mut self) {
        let journal = &mut self.queues.journal;
        journal.poll_compaction();
        if !journal.wants_compaction() {
            return;
        }
        // Held mail being written to its recipient is still live.
        let in_flight = self
            .queues
            .sessions
            .iter()
            .filter_map(|(_, s)| s.mail.as_ref());
        let in_flight = in_flight.flat_map(|m| m.frames.iter().map(|f| (&*m.owner, &f[..])));
        let mut image = Vec::new();
        encode_image(
            &mut image,
            self.store.users(),
            in_flight.chain(self.store.all_held()),
        );
        self.queues.journal.start_compaction(image);
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
                    encode_err(b, ErrorCode::Unavailable, "server shutting down")
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

    /// Writes the journal out and forces it to the disk.
    pub fn sync_store(&mut self) {
        self.queues.journal.sync();
    }

    /// Moves the keys of sessions with queued output into `into`.
    pub fn take_dirty(&mut self, into: &mut Vec<usize>) {
        into.clear();
        std::mem::swap(into, &mut self.queues.dirty);
    }

    /// Moves the keys of sessions to drop into `into`.
    pub fn take_dead(&mut self, into: &mut Vec<usize>) {
        into.clear();
        std::mem::swap(into, &mut self.dead);
    }

    /// Removes a session for good, returning its transport.
    pub fn remove(&mut self, key: usize) -> Option<T> {
        self.queues.sessions.get(key)?;
        self.leave(key, None);
        self.return_mail(key);
        self.queues
            .with_session(key, |s| s.out = OutQueue::default());
        let session = self.queues.sessions.try_remove(key)?;
        self.seal();
        Some(session.io)
    }

    /// One `STATS` line's worth of figures.
    pub fn stats_line(&self) -> String {
        let c = &self.counters;
        format!(
            "connections={} users={} frames_in={} deliveries={} bytes_in={} bytes_out={} \
             queued={} peak_queued={} held={} slow_cut={} uptime={}",
            self.queues.sessions.len(),
            self.online.len(),
            c.frames_in,
            c.deliveries,
            c.bytes_in,
            self.queues.bytes_out,
            self.queues.total,
            self.queues.peak,
            self.store.held(),
            c.slow_cut,
            self.now.saturating_duration_since(self.started).as_secs(),
        )
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
            Err(e) => self.reply_err(key, ErrorCode::BadRequest, &e.describe()),
        }
    }

    fn dispatch(&mut self, key: usize, command: Command<'_>) {
        let me = self.queues.sessions.get(key).and_then(|s| s.name.clone());
        match (command, me) {
            (Command::Ping { token }, _) => {
                // A barrier: everything before this frame is queued first.
                self.seal();
                self.queues.push_reply(key, |b| match token {
                    Some(token) => encode_fields(b, &["PONG", token]),
                    None => encode_fields(b, &["PONG"]),
                });
            }
            (Command::Pong { .. }, _) => {}
            // Monitors may ask without joining the chat.
            (Command::Stats, _) => {
                let line = self.stats_line();
                self.queues
                    .push_reply(key, |b| encode_fields(b, &["STATS", &line]));
            }
            (Command::Quit { text }, _) => {
                self.seal();
                self.queues
                    .push_final(key, |b| b.extend_from_slice(b"BYE\n"));
                self.close(key, text.map(|t| t.escaped()));
            }
            (Command::Login { name, password }, None) => {
                self.login(key, name, password.map(|p| p.unescaped().into_owned()))
            }
            (Command::Login { .. }, Some(me)) => {
                let text = format!("already logged in as {me}");
                self.reply_err(key, ErrorCode::BadRequest, &text);
            }
            (_, None) => {
                self.reply_err(key, ErrorCode::NotLoggedIn, "log in first: LOGIN <name>");
            }
            (Command::Say { text }, Some(me)) => {
                let time = self.clock.stamp();
                self.broadcast(Some(key), &["SAY", &me, time.as_str(), text.escaped()]);
            }
            (Command::Msg { to, text }, Some(me)) => self.private(key, &me, to, text),
            (Command::Who, Some(_)) => {
                let mut names: Vec<&str> = self.online.keys().map(|n| &**n).collect();
                names.sort_unstable();
                self.queues
                    .push_reply(key, |b| encode_users(b, names.into_iter()));
            }
        }
    }

    fn login(&mut self, key: usize, name: &str, password: Option<String>) {
        let Some(auth) = &self.auth else {
            if self.online.contains_key(name) {
                let text = format!("{name} is already online");
                return self.reply_err(key, ErrorCode::NameTaken, &text);
            }
            return self.admit(key, name);
        };
        let Some(password) = password else {
            let text = "this server needs a password: LOGIN <name> <password>";
            return self.reply_err(key, ErrorCode::NotLoggedIn, text);
        };
        self.next_auth += 1;
        let serial = self.next_auth;
        let request = AuthRequest {
            key,
            serial,
            name: name.to_owned(),
            password,
        };
        if auth.requests.send(AuthJob::Check(request)).is_err() {
            let text = "passwords cannot be checked now; try again later";
            return self.reply_err(key, ErrorCode::Unavailable, text);
        }
        // Input waits (kept in order in the stash) until the verdict.
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.auth = Some(PendingAuth {
                serial,
                stash: Vec::new(),
            });
        }
    }

    /// Logs a session in as `name`: a correct password for a name already
    /// online replaces the old session, without a LEFT/JOINED flicker.
    fn admit(&mut self, key: usize, name: &str) {
        let replaced = self.online.get(name).copied().filter(|&k| k != key);
        if let Some(old) = replaced {
            self.replace(old);
        }
        let (name, new) = self.store.register(name);
        if new {
            self.queues.journal.user(&name);
        }
        self.online.insert(Rc::clone(&name), key);
        // Broadcasts already in the batch were sent before this login.
        self.batch.split = true;
        if let Some(session) = self.queues.sessions.get_mut(key) {
            session.name = Some(Rc::clone(&name));
            session.joined_at = self.batch.seq;
            if !self.batch.spans.is_empty() && !session.batch_special {
                session.batch_special = true;
                self.batch.special.push(key);
            }
        }
        self.queues
            .push_reply(key, |b| encode_fields(b, &["OK LOGIN", &name]));
        let held = self.deliver_held(key, &name);
        match (held, replaced) {
            (0, None) => info!("{name} logged in"),
            (n, None) => info!("{name} logged in; delivering {n} held messages"),
            (n, Some(_)) => info!("{name} logged in again, replacing the old session; {n} held"),
        }
        if replaced.is_none() {
            let time = self.clock.stamp();
            self.broadcast(Some(key), &["JOINED", &name, time.as_str()]);
        }
    }

    /// Queues the mail held for `name` to its session; the journal keeps
    /// it until it is written out. Returns how many messages.
    fn deliver_held(&mut self, key: usize, name: &Rc<str>) -> usize {
        let held = self.store.take_held(name);
        let count = held.len();
        if count == 0 {
            return 0;
        }
        self.queues.with_session(key, |s| {
            for frame in &held {
                s.out.push_shared(frame);
                s.out_exempt += frame.len();
            }
            let until = s.written + s.out.len() as u64;
            match &mut s.mail {
                Some(mail) => {
                    mail.frames.extend(held);
                    mail.until = until;
                }
                None => {
                    s.mail = Some(MailInFlight {
                        owner: Rc::clone(name),
                        frames: held,
                        until,
                    })
                }
            }
        });
        self.queues.mark_dirty(key);
        count
    }

    /// Closes a session whose name a new login took over.
    fn replace(&mut self, old: usize) {
        let Some(name) = self.take_name(old) else {
            return;
        };
        self.return_mail(old);
        let text = format!("replaced by a new login as {name}");
        self.queues
            .push_final(old, |b| encode_err(b, ErrorCode::NameTaken, &text));
        self.close(old, None); // no LEFT: the name never went offline
    }

    /// Puts held mail a session did not finish writing back in the
    /// mailbox — or on to its owner's new session, if there is one.
    fn return_mail(&mut self, key: usize) {
        let Some(mail) = self
            .queues
            .sessions
            .get_mut(key)
            .and_then(|s| s.mail.take())
        else {
            return;
        };
        self.store.restore(&mail.owner, mail.frames);
        if let Some(&now_at) = self.online.get(&mail.owner) {
            self.deliver_held(now_at, &mail.owner);
        }
    }

    fn private(&mut self, key: usize, me: &str, to: &str, text: Text<'_>) {
        // One recipient is the common case: no set, no allocation.
        let single;
        let many: Vec<&str>;
        let names: &[&str] = if memchr::memchr(b',', to.as_bytes()).is_some() {
            let mut seen = HashSet::new();
            many = Command::recipients(to)
                .filter(|n| seen.insert(*n))
                .collect();
            &many
        } else {
            single = [to];
            &single
        };
        if let Some(unknown) = names
            .iter()
            .find(|n| !self.online.contains_key(**n) && !self.is_known(n))
        {
            let text = format!("no such user: {unknown}; nothing was sent");
            return self.reply_err(key, ErrorCode::NoSuchUser, &text);
        }
        // Recipients must see this after any broadcast accepted before it.
        self.seal();
        let time = self.clock.stamp();
        let fields = ["MSG", me, to, time.as_str(), text.escaped()];
        let size = fields.iter().map(|f| f.len() + 1).sum();
        if let [name] = names {
            if let Some(&recipient) = self.online.get(*name) {
                // Nothing to share: encode straight into its queue, where
                // consecutive messages form one contiguous buffer.
                if self
                    .queues
                    .push_owned(recipient, size, |b| encode_fields(b, &fields))
                {
                    self.counters.deliveries += 1;
                }
                return;
            }
        }
        let mut frame = Vec::with_capacity(size);
        encode_fields(&mut frame, &fields);
        let frame: Rc<[u8]> = Rc::from(frame);
        for &name in names {
            match self.online.get(name) {
                Some(&recipient) => {
                    if self.queues.push_shared(recipient, &frame) {
                        self.counters.deliveries += 1;
                    }
                }
                None if self.queues.journal.is_failing() => {
                    let text = format!("the server cannot store messages now; not held for {name}");
                    self.reply_err(key, ErrorCode::Unavailable, &text);
                }
                None => match self.store.hold(name, &frame) {
                    Ok(()) => self.queues.journal.held(name, &frame),
                    Err(_) => {
                        let text = format!("mailbox of {name} is full; not delivered to {name}");
                        self.reply_err(key, ErrorCode::MailboxFull, &text);
                    }
                },
            }
        }
    }

    /// Can mail be held for `name`: has it logged in before, or is it an
    /// account?
    fn is_known(&self, name: &str) -> bool {
        self.store.is_known(name)
            || self
                .auth
                .as_ref()
                .is_some_and(|a| has_account(&a.users, name))
    }

    fn reply_err(&mut self, key: usize, code: ErrorCode, text: &str) {
        self.queues.push_reply(key, |b| encode_err(b, code, text));
    }

    /// Adds a broadcast frame to the pending batch.
    fn broadcast(&mut self, author: Option<usize>, fields: &[&str]) {
        if self.batch.buf.len() >= BATCH_MAX {
            self.seal();
        }
        let batch = &mut self.batch;
        let start = batch.buf.len();
        encode_fields(&mut batch.buf, fields);
        let end = batch.buf.len();
        match batch.spans.last_mut() {
            Some(last) if last.author == author && last.end == start && !batch.split => {
                last.end = end;
                last.frames += 1;
            }
            _ => batch.spans.push(Span {
                author,
                start,
                end,
                frames: 1,
                seq: batch.seq,
            }),
        }
        batch.split = false;
        batch.seq += 1;
        batch.frames += 1;
        if let Some(key) = author {
            if let Some(session) = self.queues.sessions.get_mut(key) {
                if !session.batch_special {
                    session.batch_special = true;
                    self.batch.special.push(key);
                }
            }
        }
    }

    /// Queues the pending batch for everyone online, then cuts slow
    /// consumers found on the way (whose LEFT frames form a new batch, and
    /// so on).
    fn seal(&mut self) {
        loop {
            if !self.batch.buf.is_empty() {
                self.queue_batch();
            }
            if self.queues.cuts.is_empty() && self.queues.failed.is_empty() {
                return;
            }
            for key in std::mem::take(&mut self.queues.failed) {
                self.leave(key, None);
                self.kill(key);
            }
            for key in std::mem::take(&mut self.queues.cuts) {
                self.cut_slow(key);
            }
        }
    }

    fn queue_batch(&mut self) {
        let chunk: Rc<[u8]> = Rc::from(self.batch.buf.as_slice());
        self.batch.buf.clear();
        let spans = std::mem::take(&mut self.batch.spans);
        let frames = std::mem::take(&mut self.batch.frames);
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for &key in self.online.values() {
            let Some(session) = self.queues.sessions.get(key) else {
                continue;
            };
            if !session.batch_special {
                if self.queues.push_shared(key, &chunk) {
                    self.counters.deliveries += frames;
                }
                continue;
            }
            // Everything except its own frames and what predates its login.
            let joined_at = session.joined_at;
            ranges.clear();
            let mut wanted = 0;
            for span in &spans {
                if span.author == Some(key) || span.seq < joined_at {
                    continue;
                }
                wanted += span.frames;
                match ranges.last_mut() {
                    Some(r) if r.1 == span.start => r.1 = span.end,
                    _ => ranges.push((span.start, span.end)),
                }
            }
            if self.queues.push_ranges(key, &chunk, &ranges) {
                self.counters.deliveries += wanted;
            }
        }
        for key in std::mem::take(&mut self.batch.special) {
            if let Some(session) = self.queues.sessions.get_mut(key) {
                session.batch_special = false;
            }
        }
    }

    /// Disconnects a session that cannot keep up with what it is sent.
    fn cut_slow(&mut self, key: usize) {
        let Some(session) = self.queues.sessions.get(key) else {
            return;
        };
        if !session.is_open() {
            return;
        }
        let behind = session.out.len();
        warn!(
            "cutting slow consumer {}: {behind} bytes queued",
            session.name.as_deref().unwrap_or("(not logged in)")
        );
        self.counters.slow_cut += 1;
        self.queues.with_session(key, |s| s.out.drop_unstarted());
        let text = format!(
            "too slow: {behind} bytes waiting, limit {}; disconnected",
            self.limits.max_queue
        );
        self.queues
            .push_final(key, |b| encode_err(b, ErrorCode::TooSlow, &text));
        self.close(key, None);
    }

    /// Stops reading from a session, tells the others it left, and lets its
    /// queue drain before the socket is shut.
    fn close(&mut self, key: usize, left_text: Option<&str>) {
        self.leave(key, left_text);
        let deadline = self.now + CLOSE_LINGER;
        if let Some(s) = self.queues.sessions.get_mut(key) {
            if s.is_open() {
                s.phase = Phase::Closing { deadline };
            }
        }
        // Listed even with an empty queue, so the flush step closes it.
        self.queues.mark_dirty(key);
    }

    /// Takes a session's name off it and out of the directory.
    fn take_name(&mut self, key: usize) -> Option<Rc<str>> {
        let name = self.queues.sessions.get_mut(key)?.name.take()?;
        self.online.remove(&name);
        Some(name)
    }

    /// Takes a session off the directory and announces LEFT.
    fn leave(&mut self, key: usize, text: Option<&str>) {
        let Some(name) = self.take_name(key) else {
            return;
        };
        info!("{name} left");
        if self.stopping {
            return;
        }
        let time = self.clock.stamp();
        match text {
            Some(text) => self.broadcast(None, &["LEFT", &name, time.as_str(), text]),
            None => self.broadcast(None, &["LEFT", &name, time.as_str()]),
        }
    }

    fn kill(&mut self, key: usize) {
        if let Some(s) = self.queues.sessions.get_mut(key) {
            if !matches!(s.phase, Phase::Dead) {
                s.phase = Phase::Dead;
                self.dead.push(key);
                debug!("connection {key} done");
            }
        }
    }

    /// Writes what a session has queued.
    pub fn flush(&mut self, key: usize) -> Flushed {
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return Flushed::Gone;
        };
        session.dirty = false;
        if session.phase == Phase::Dead {
            return Flushed::Gone;
        }
        if self.queues.write(key).is_err() {
            self.seal(); // closes it, and tells the others
            return Flushed::Gone;
        }
        match self.queues.sessions.get(key) {
            Some(s) if s.out.is_empty() && matches!(s.phase, Phase::Closing { .. }) => {
                Flushed::ShutWrite
            }
            Some(_) => Flushed::Open,
            None => Flushed::Gone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A transport that records what the hub writes, or takes nothing
    /// while stalled (a client that does not read).
    #[derive(Debug, Clone, Default)]
    struct Wire(Rc<RefCell<Vec<u8>>>, Rc<std::cell::Cell<bool>>);

    impl Write for Wire {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.1.get() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        /// Takes everything, like a socket with room to spare.
        fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
            bufs.iter().map(|b| self.write(b)).sum()
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Harness {
        hub: Hub<Wire>,
        wires: Vec<Wire>,
    }

    impl Harness {
        fn new() -> Harness {
            let limits = Limits {
                max_line: 1024,
                max_queue: 1 << 20,
                max_total_queue: 1 << 30,
                mailbox_max: 10,
                idle_timeout: None,
            };
            Harness {
                hub: Hub::new(limits),
                wires: Vec::new(),
            }
        }

        fn connect(&mut self) -> usize {
            let wire = Wire::default();
            self.wires.push(wire.clone());
            self.hub.open(wire)
        }

        fn send(&mut self, key: usize, frames: &str) {
            self.hub.receive(key, frames.as_bytes());
        }

        /// Ends the turn, writes everything, and returns each connection's
        /// new lines with timestamps blanked.
        fn turn(&mut self) -> Vec<Vec<String>> {
            self.hub.end_turn();
            let mut dirty = Vec::new();
            self.hub.take_dirty(&mut dirty);
            for key in dirty {
                self.hub.flush(key);
            }
            self.wires
                .iter()
                .map(|w| {
                    let bytes = std::mem::take(&mut *w.0.borrow_mut());
                    String::from_utf8(bytes)
                        .unwrap()
                        .lines()
                        .map(|l| {
                            l.split(' ')
                                .map(|f| {
                                    if f.ends_with('Z') && f.len() == 24 {
                                        "T"
                                    } else {
                                        f
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect()
                })
                .collect()
        }
    }

    #[test]
    fn one_turn_of_many_senders_reaches_each_without_its_own_frames() {
        let mut h = Harness::new();
        let (a, b, c) = (h.connect(), h.connect(), h.connect());
        h.send(a, "LOGIN a\n");
        h.send(b, "LOGIN b\n");
        h.send(c, "LOGIN c\n");
        let joined = h.turn();
        assert_eq!(joined[a], ["OK LOGIN a", "JOINED b T", "JOINED c T"]);
        assert_eq!(joined[b], ["OK LOGIN b", "JOINED c T"]);
        assert_eq!(joined[c], ["OK LOGIN c"]);
        let before = h.hub.counters.deliveries;
        h.send(a, "SAY a1\nSAY a2\n");
        h.send(b, "SAY b1\n");
        h.send(a, "SAY a3\n");
        let out = h.turn();
        assert_eq!(out[a], ["SAY b T b1"]);
        assert_eq!(out[b], ["SAY a T a1", "SAY a T a2", "SAY a T a3"]);
        assert_eq!(
            out[c],
            ["SAY a T a1", "SAY a T a2", "SAY b T b1", "SAY a T a3"]
        );
        assert_eq!(h.hub.counters.deliveries - before, 4 + 3 + 1);
    }

    #[test]
    fn held_mail_not_written_when_the_connection_dies_goes_back_to_the_mailbox() {
        let mut h = Harness::new();
        let (a, b) = (h.connect(), h.connect());
        h.send(b, "LOGIN bob\nQUIT\n");
        h.send(a, "LOGIN amy\n");
        h.turn();
        h.send(a, "MSG bob kept\n");
        h.turn();
        assert_eq!(h.hub.store.held(), 1);
        let stalled = h.connect();
        h.wires[stalled].1.set(true);
        h.send(stalled, "LOGIN bob\n");
        h.turn();
        assert_eq!(h.hub.store.held(), 0, "taken for delivery");
        h.hub.fail(stalled);
        let mut dead = Vec::new();
        h.hub.take_dead(&mut dead);
        for key in dead {
            h.hub.remove(key);
        }
        assert_eq!(h.hub.store.held(), 1, "back in the mailbox");
        let again = h.connect();
        h.send(again, "LOGIN bob\n");
        let out = h.turn();
        // Its slab key was reused; its wire is the newest.
        assert_eq!(out.last().unwrap(), &["OK LOGIN bob", "MSG amy bob T kept"]);
    }

    #[test]
    fn a_login_mid_turn_gets_only_what_came_after_it() {
        let mut h = Harness::new();
        let (a, c) = (h.connect(), h.connect());
        h.send(a, "LOGIN a\n");
        h.turn();
        h.send(a, "SAY before\n");
        h.send(c, "LOGIN c\n");
        h.send(a, "SAY after\n");
        let out = h.turn();
        assert_eq!(out[c], ["OK LOGIN c", "SAY a T after"]);
        assert_eq!(out[a], ["JOINED c T"]);
    }

    #[test]
    fn private_messages_and_pongs_keep_acceptance_order() {
        let mut h = Harness::new();
        let (a, b) = (h.connect(), h.connect());
        h.send(a, "LOGIN a\n");
        h.send(b, "LOGIN b\n");
        h.turn();
        h.send(b, "SAY first\n");
        h.send(a, "SAY x\nMSG b y\nPING p\n");
        let out = h.turn();
        assert_eq!(out[b], ["SAY a T x", "MSG a b T y"]);
        assert_eq!(out[a], ["SAY b T first", "PONG p"]);
    }

    #[test]
    fn leaving_mid_turn_is_announced_to_everyone_left() {
        let mut h = Harness::new();
        let (a, b, c) = (h.connect(), h.connect(), h.connect());
        for (k, n) in [(a, "a"), (b, "b"), (c, "c")] {
            h.send(k, &format!("LOGIN {n}\n"));
        }
        h.turn();
        h.send(b, "SAY bye all\nQUIT later\n");
        h.send(c, "SAY c1\n");
        let out = h.turn();
        assert_eq!(out[a], ["SAY b T bye all", "LEFT b T later", "SAY c T c1"]);
        assert_eq!(out[b], ["BYE"]);
        assert_eq!(out[c], ["SAY b T bye all", "LEFT b T later"]);
    }
}
