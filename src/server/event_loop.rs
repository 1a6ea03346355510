//! The readiness loop: the only code in the server that makes system calls.
//!
//! One thread, one `mio::Poll`, sockets registered edge-triggered for both
//! read and write once, so interest never has to be changed. Each turn:
//!
//! 1. wait for events (no longer than the next timer tick);
//! 2. accept new connections; read each readable socket into one shared
//!    64 KiB scratch buffer and hand the bytes to the hub — at most
//!    [`READ_BUDGET`] bytes per socket per turn, so one flooding client cannot
//!    starve the others (a socket left unread is revisited next turn without
//!    waiting);
//! 3. run timers (keep-alive PINGs, idle timeouts, closing deadlines);
//! 4. queue the turn's broadcasts (one shared chunk for all of them), then
//!    write every connection that has pending output, one `writev` each, as
//!    Redis does before it sleeps — never once per message;
//! 5. drop connections that are finished.
//!
//! Signals arrive as readiness too (signal-hook's self-pipe): SIGTERM or
//! SIGINT starts a graceful shutdown — stop accepting, tell every client
//! `ERR 503 shutting down`, flush queues until `--shutdown-timeout`, sync the
//! store, exit 0; a second one exits at once. SIGHUP rereads the users file.
//!
//! Password checks run on a helper thread (see [`accounts`](super::accounts));
//! its answers arrive through a channel, and a `mio::Waker` ends the wait.

use super::accounts::{AuthAnswer, Authenticator};
use super::config::ServerConfig;
use super::hub::{Flushed, Hub, Limits};
use super::journal::Journal;
use super::store::Store;
use super::tls::{self, Conn};
use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Listener `i` has token `LISTENERS - i`.
const LISTENERS: usize = usize::MAX - 10;
/// A helper thread has answers for the loop.
const WAKER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);
/// Bytes read per `read` call.
const SCRATCH: usize = 64 << 10;
/// Bytes read from one socket per turn before others get their turn.
const READ_BUDGET: usize = 4 * SCRATCH;
/// File descriptors kept back for the listener, poll, logging and the like.
const RESERVED_FDS: u64 = 32;
/// After running out of file descriptors, accepting resumes after this.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

struct Listener {
    socket: TcpListener,
    tls: bool,
}

/// Where the certificate came from, to reread it on SIGHUP.
struct TlsFiles {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    config: Arc<rustls::ServerConfig>,
}

/// A bound server, ready to run.
pub struct Server {
    poll: Poll,
    /// The main port, and the TLS port if there is one.
    listeners: Vec<Listener>,
    hub: Hub<Conn>,
    tls: Option<TlsFiles>,
    /// TLS connections whose close_notify waits for room in the socket.
    tls_closing: Vec<usize>,
    max_clients: usize,
    tick_every: Duration,
    accept_paused_until: Option<Instant>,
    /// Verdicts on passwords, when there are accounts.
    auth_answers: Option<Receiver<AuthAnswer>>,
    _waker: Arc<Waker>,
    signals: Signals,
    shutdown_timeout: Duration,
    /// Set once a graceful shutdown has begun: when it must end.
    stopping_by: Option<Instant>,
    /// A second stop signal: leave now.
    stop_now: bool,
}

impl Server {
    /// Binds the listening socket (with SO_REUSEADDR, which mio sets, so a
    /// restart never waits for old connections in TIME_WAIT).
    /// Opens the store and the users file first; errors say what to fix.
    pub fn bind(config: &ServerConfig) -> Result<Server, String> {
        // Before any helper thread starts (see reserve_descriptors).
        let capacity = super::limits::raise_open_files_limit().saturating_sub(RESERVED_FDS);
        let wanted = (config.max_clients as u64).min(capacity);
        super::limits::reserve_descriptors(wanted + RESERVED_FDS);
        let (journal, image) = Journal::open(&config.data_dir, config.fsync)?;
        let store = Store::from_image(image, config.mailbox_max);
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                config: tls::load_config(cert, key)?,
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        if config.tls_port.is_some() && tls.is_none() {
            return Err("--tls-port needs --tls-cert and --tls-key".into());
        }
        let poll = Poll::new().map_err(|e| format!("cannot create the poller: {e}"))?;
        // The main port speaks TLS when there is a certificate and no
        // separate TLS port.
        let mut ports = vec![(config.port, tls.is_some() && config.tls_port.is_none())];
        if let Some(port) = config.tls_port {
            ports.push((port, true));
        }
        let mut listeners = Vec::new();
        for (i, (port, tls)) in ports.into_iter().enumerate() {
            let mut socket = listen(&config.host, port)
                .map_err(|e| format!("cannot listen on {}:{port}: {e}", config.host))?;
            poll.registry()
                .register(&mut socket, Token(LISTENERS - i), Interest::READABLE)
                .map_err(|e| format!("cannot watch port {port}: {e}"))?;
            listeners.push(Listener { socket, tls });
        }
        let waker = Waker::new(poll.registry(), WAKER)
            .map(Arc::new)
            .map_err(|e| format!("cannot set up the loop's waker: {e}"))?;
        let mut signals = Signals::new([libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
            .map_err(|e| format!("cannot catch signals: {e}"))?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|e| format!("cannot watch signals: {e}"))?;
        let (auth, auth_answers) = match &config.users {
            Some(path) => {
                let waker = Arc::clone(&waker);
                let (requests, answers) = Authenticator::start(path.clone(), move || {
                    let _ = waker.wake();
                })?;
                (Some(requests), Some(answers))
            }
            None => {
                warn!("no --users file: the server is open, anyone may log in as any name");
                (None, None)
            }
        };
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let max_clients = config.max_clients.min(capacity);
        if max_clients < config.max_clients {
            warn!(
                "open-files limit allows {max_clients} clients, not the {} asked for",
                config.max_clients
            );
        }
        info!("client capacity {max_clients}");
        let tick_every = config
            .idle_timeout
            .map_or(Duration::from_secs(1), |t| {
                (t / 4).min(Duration::from_secs(1))
            })
            .max(Duration::from_millis(10));
        let limits = Limits {
            max_line: config.max_line,
            max_queue: config.max_queue,
            max_total_queue: config.max_total_queue,
            mailbox_max: config.mailbox_max,
            idle_timeout: config.idle_timeout,
        };
        Ok(Server {
            poll,
            listeners,
            tls,
            tls_closing: Vec::new(),
            hub: Hub::with_store(limits, store, journal, auth),
            max_clients,
            tick_every,
            accept_paused_until: None,
            auth_answers,
            _waker: waker,
            signals,
            shutdown_timeout: config.shutdown_timeout,
            stopping_by: None,
            stop_now: false,
        })
    }

    /// The main port's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.listeners.first() {
            Some(l) => l.socket.local_addr(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Runs the loop until an unrecoverable error.
    pub fn run(mut self) -> io::Result<()> {
        for l in &self.listeners {
            match (l.tls, self.listeners.len()) {
                (false, _) => info!("listening on {}", l.socket.local_addr()?),
                (true, 1) => info!("listening on {} (TLS)", l.socket.local_addr()?),
                (true, _) => info!("listening for TLS on {}", l.socket.local_addr()?),
            }
        }
        let mut events = Events::with_capacity(1024);
        let mut scratch = vec![0u8; SCRATCH];
        let (mut unread, mut unread_next) = (Vec::new(), Vec::new());
        let mut next_tick = Instant::now() + self.tick_every;
        loop {
            let now = Instant::now();
            let timeout = if unread.is_empty() {
                let mut wake = next_tick;
                if let Some(resume) = self.accept_paused_until {
                    wake = wake.min(resume);
                }
                if let Some(by) = self.stopping_by {
                    wake = wake.min(by);
                }
                wake.saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            self.hub.set_now(now);
            for event in events.iter() {
                match event.token() {
                    WAKER => self.take_auth_answers(),
                    SIGNALS => self.take_signals(now),
                    Token(t) if t > LISTENERS - self.listeners.len() && t <= LISTENERS => {
                        self.accept(LISTENERS - t, now)
                    }
                    Token(key) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read(key, &mut scratch, &mut unread_next);
                        }
                        if event.is_writable() {
                            self.hub.queues.mark_dirty(key);
                            self.flush_tls(key);
                        }
                    }
                }
            }
            self.hub.take_resumed(&mut unread);
            for key in unread.drain(..) {
                self.read(key, &mut scratch, &mut unread_next);
            }
            std::mem::swap(&mut unread, &mut unread_next);
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept_paused_until = None;
                for i in 0..self.listeners.len() {
                    self.accept(i, now);
                }
            }
            if now >= next_tick {
                self.hub.tick();
                next_tick = now + self.tick_every;
            }
            self.hub.end_turn();
            self.flush_and_reap();
            if let Some(by) = self.stopping_by {
                if self.stop_now || self.hub.is_empty() || now >= by {
                    self.finish();
                    return Ok(());
                }
            }
        }
    }

    fn take_signals(&mut self, now: Instant) {
        let signals: Vec<i32> = self.signals.pending().collect();
        for signal in signals {
            match signal {
                libc::SIGHUP => {
                    info!("SIGHUP: rereading the users file and certificates");
                    self.hub.reload_accounts();
                    self.reload_tls();
                }
                _ if self.stopping_by.is_some() => {
                    warn!("second stop signal: exiting now");
                    self.stop_now = true;
                }
                _ => {
                    info!(
                        "stop signal: closing {} connections (at most {:?})",
                        self.hub.len(),
                        self.shutdown_timeout
                    );
                    self.stopping_by = Some(now + self.shutdown_timeout);
                    // New connections are refused by the kernel from now on.
                    for l in &mut self.listeners {
                        let _ = self.poll.registry().deregister(&mut l.socket);
                    }
                    self.hub.shut_down();
                }
            }
        }
    }

    /// The last step of a shutdown: what is left unsent is given up, the
    /// store is synced.
    fn finish(mut self) {
        let left = self.hub.len();
        if left > 0 {
            warn!("{left} connection(s) had not finished; closing them");
        }
        self.hub.sync_store();
        info!("stopped");
    }

    fn take_auth_answers(&mut self) {
        if let Some(answers) = &self.auth_answers {
            for answer in answers.try_iter() {
                self.hub.auth_done(answer);
            }
        }
    }

    /// A new certificate for new connections; on failure the old one stays.
    fn reload_tls(&mut self) {
        let Some(files) = &mut self.tls else {
            return;
        };
        match tls::load_config(&files.cert, &files.key) {
            Ok(config) => {
                files.config = config;
                info!("certificate reloaded from {}", files.cert.display());
            }
            Err(e) => warn!("{e}; keeping the certificate loaded before"),
        }
    }

    /// Writes a TLS connection's pending ciphertext; finishes a close
    /// that was waiting for it.
    fn flush_tls(&mut self, key: usize) {
        let Some(session) = self.hub.session_mut(key) else {
            return;
        };
        if !session.io.is_tls() {
            return;
        }
        if session.io.flush_tls().is_err() {
            self.hub.fail(key);
        }
    }

    /// Shuts the write side once a TLS close_notify is out.
    fn finish_tls_closes(&mut self) {
        let mut waiting = std::mem::take(&mut self.tls_closing);
        waiting.retain(|&key| {
            let Some(session) = self.hub.session_mut(key) else {
                return false;
            };
            if session.io.flush_tls().is_err() {
                self.hub.fail(key);
                return false;
            }
            if session.io.tls_pending() {
                return true;
            }
            let _ = session.io.stream.shutdown(Shutdown::Write);
            self.hub.start_draining(key);
            false
        });
        self.tls_closing = waiting;
    }

    fn accept(&mut self, which: usize, now: Instant) {
        if self.accept_paused_until.is_some() || self.stopping_by.is_some() {
            return;
        }
        let Some(listener) = self.listeners.get(which) else {
            return;
        };
        let tls = if listener.tls {
            self.tls.as_ref().map(|t| Arc::clone(&t.config))
        } else {
            None
        };
        loop {
            let Some(listener) = self.listeners.get(which) else {
                return;
            };
            let (stream, peer) = match listener.socket.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_out_of_fds(&e) => {
                    warn!("cannot accept: {e}; pausing new connections briefly");
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    return;
                }
                Err(e) => {
                    debug!("accept failed: {e}");
                    continue;
                }
            };
            if self.hub.len() >= self.max_clients {
                // A TLS client could not read a plain ERR; it is just closed.
                if tls.is_none() {
                    refuse_full(stream, peer);
                }
                continue;
            }
            // Chat frames are small and latency matters more than packing.
            let _ = stream.set_nodelay(true);
            let conn = match &tls {
                None => Conn::plain(stream, peer),
                Some(config) => match Conn::tls(stream, peer, config) {
                    Ok(conn) => conn,
                    Err(e) => {
                        warn!("cannot start TLS for {peer}: {e}");
                        continue;
                    }
                },
            };
            let key = self.hub.open_from(conn, Some(peer));
            let registered = match self.hub.session_mut(key) {
                Some(session) => self.poll.registry().register(
                    &mut session.io.stream,
                    Token(key),
                    Interest::READABLE | Interest::WRITABLE,
                ),
                None => Ok(()),
            };
            match registered {
                Ok(()) => debug!("connection {key} from {peer}"),
                Err(e) => {
                    warn!("cannot watch connection from {peer}: {e}");
                    self.hub.remove(key);
                }
            }
        }
    }

    /// Reads what a socket has, up to the per-turn budget.
    fn read(&mut self, key: usize, scratch: &mut [u8], unread: &mut Vec<usize>) {
        if self.hub.session(key).is_some_and(|s| s.io.is_tls()) {
            // A handshake that finishes here may free plaintext queued
            // before it: retry the queue this turn.
            self.hub.queues.mark_dirty(key);
        }
        let mut budget = READ_BUDGET;
        loop {
            let Some(session) = self.hub.session_mut(key) else {
                return;
            };
            if session.is_paused() {
                return; // read again once resumed
            }
            // A short read of a plain socket drained it (epoll reports the
            // next arrival as a new edge); TLS is read until WouldBlock.
            let plain = !session.io.is_tls();
            match session.io.read(scratch) {
                Ok(0) => return self.hub.peer_closed(key),
                Ok(n) => {
                    self.hub.receive(key, &scratch[..n]);
                    if n < scratch.len() && plain {
                        return;
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        unread.push(key);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("read from connection {key} failed: {e}");
                    return self.hub.fail(key);
                }
            }
        }
    }

    /// Writes all pending output, then drops finished connections; repeats
    /// while dropping one queued something for others (a LEFT).
    fn flush_and_reap(&mut self) {
        let (mut dirty, mut dead) = (Vec::new(), Vec::new());
        if !self.tls_closing.is_empty() {
            self.finish_tls_closes();
        }
        loop {
            self.hub.take_dirty(&mut dirty);
            for &key in &dirty {
                if self.hub.flush(key) == Flushed::ShutWrite {
                    let Some(session) = self.hub.session_mut(key) else {
                        continue;
                    };
                    session.io.close_notify();
                    if session.io.tls_pending() {
                        if !self.tls_closing.contains(&key) {
                            self.tls_closing.push(key);
                        }
                        continue;
                    }
                    let _ = session.io.stream.shutdown(Shutdown::Write);
                    self.hub.start_draining(key);
                }
            }
            self.hub.take_dead(&mut dead);
            for &key in &dead {
                if let Some(mut conn) = self.hub.remove(key) {
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

fn listen(host: &str, port: u16) -> io::Result<TcpListener> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host has no address"))?;
    TcpListener::bind(addr)
}

fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Tells a connection over the limit why it is refused, without blocking.
fn refuse_full(stream: TcpStream, peer: SocketAddr) {
    debug!("refusing {peer}: server full");
    let _ = (&stream).write(b"ERR 503 server full; try again later\n");
    let _ = stream.shutdown(Shutdown::Write);
    // Whatever the client already sent would turn our close into a reset
    // that can destroy the ERR in flight; read it off first.
    let mut sink = [0u8; 4096];
    while matches!((&stream).read(&mut sink), Ok(n) if n > 0) {}
}
