//! The listening sockets: binding, accepting without ever spinning, and
//! closing them at shutdown so that late clients are refused by the kernel
//! instead of being reset.
//!
//! Accepting is bounded like reading: at most [`ACCEPT_BATCH`] connections
//! per listener per turn, so a connection storm cannot starve the clients
//! already there; what is left is accepted next turn without waiting (the
//! listener is edge-triggered, so the loop remembers it). Running out of
//! descriptors, or any error that would repeat at once, pauses accepting
//! for [`ACCEPT_BACKOFF`] instead of retrying in a tight loop.

use super::error::SetupError;
use log::{debug, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Connections accepted per listener per turn, at most.
pub const ACCEPT_BATCH: usize = 128;
/// After an accept error that would repeat, accepting resumes after this.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections the kernel may complete before we accept them (capped by
/// `net.core.somaxconn`). mio asks for 1024; a login storm bigger than
/// that would have its SYNs dropped and retried a second later.
const BACKLOG: libc::c_int = 4096;

/// Why an accept batch ended.
#[derive(Debug)]
pub enum Stopped {
    /// Nothing more is waiting.
    Drained,
    /// The batch is full; more may be waiting.
    Budget,
    /// An error that would repeat: wait before accepting again.
    Pause(io::Error),
}

/// Takes connections from `accept` and hands each to `take`, at most
/// `budget` of them (failed attempts count too). Pure, so the bounds are
/// tested without sockets.
pub fn accept_batch<C>(
    budget: usize,
    mut accept: impl FnMut() -> io::Result<C>,
    mut take: impl FnMut(C),
) -> Stopped {
    for _ in 0..budget {
        match accept() {
            Ok(conn) => take(conn),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Stopped::Drained,
            // The peer gave up before we took it, or a signal: try the next.
            Err(e) if is_transient(&e) => debug!("accept: {e}"),
            Err(e) => return Stopped::Pause(e),
        }
    }
    Stopped::Budget
}

fn is_transient(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
        || matches!(
            e.raw_os_error(),
            Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM)
        )
}

/// One listening socket.
pub struct Listener {
    /// `None` once closed at shutdown.
    socket: Option<TcpListener>,
    pub addr: SocketAddr,
    /// Connections on it speak TLS.
    pub tls: bool,
}

/// The server's listening sockets.
pub struct Listeners {
    list: Vec<Listener>,
    /// Accepting waits until then after an error that would repeat.
    paused_until: Option<Instant>,
    /// Listeners whose last batch was full.
    more: Vec<usize>,
}

impl Listeners {
    /// Binds each `(port, tls)` on `host` (SO_REUSEADDR, which mio sets,
    /// so a restart never waits for old connections in TIME_WAIT) and
    /// registers listener `i` with token `token(i)`.
    pub fn bind(
        host: &str,
        ports: &[(u16, bool)],
        reuse_port: bool,
        registry: &Registry,
        token: impl Fn(usize) -> Token,
    ) -> Result<Listeners, SetupError> {
        let mut list = Vec::new();
        for (i, &(port, tls)) in ports.iter().enumerate() {
            let listen = || -> io::Result<TcpListener> {
                let addr = (host, port).to_socket_addrs()?.next().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "host has no address")
                })?;
                // socket2 for the options that must be set before bind:
                // SO_REUSEPORT lets the kernel spread connections over the
                // cluster nodes on this machine that share the port.
                let domain = socket2::Domain::for_address(addr);
                let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
                socket.set_reuse_address(true)?;
                if reuse_port {
                    socket.set_reuse_port(true)?;
                }
                socket.set_nonblocking(true)?;
                socket.bind(&addr.into())?;
                socket.listen(BACKLOG)?;
                Ok(TcpListener::from_std(socket.into()))
            };
            let mut socket = listen()
                .map_err(|e| SetupError::caused(format!("cannot listen on {host}:{port}"), e))?;
            registry
                .register(&mut socket, token(i), Interest::READABLE)
                .map_err(|e| SetupError::caused(format!("cannot watch port {port}"), e))?;
            let addr = socket.local_addr().map_err(|e| {
                SetupError::caused(format!("cannot read the address of port {port}"), e)
            })?;
            list.push(Listener {
                socket: Some(socket),
                addr,
                tls,
            });
        }
        Ok(Listeners {
            list,
            paused_until: None,
            more: Vec::new(),
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Listener> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Accepts a batch from listener `which`, handing each connection and
    /// whether it speaks TLS to `take`.
    pub fn accept(
        &mut self,
        which: usize,
        now: Instant,
        mut take: impl FnMut(TcpStream, SocketAddr, bool),
    ) {
        if self.paused_until.is_some_and(|t| now < t) {
            // Its event is not lost: it is accepted from once the pause ends.
            self.again(which);
            return;
        }
        self.paused_until = None;
        let Some(listener) = self.list.get(which) else {
            return;
        };
        let Some(socket) = &listener.socket else {
            return;
        };
        let tls = listener.tls;
        let stopped = accept_batch(
            ACCEPT_BATCH,
            || socket.accept(),
            |(s, peer)| take(s, peer, tls),
        );
        match stopped {
            Stopped::Drained => {}
            Stopped::Budget => self.again(which),
            Stopped::Pause(e) => {
                warn!("cannot accept: {e}; pausing new connections for {ACCEPT_BACKOFF:?}");
                self.paused_until = Some(now + ACCEPT_BACKOFF);
                self.again(which);
            }
        }
    }

    /// Lists a listener to accept from again without waiting for an event.
    fn again(&mut self, which: usize) {
        if !self.more.contains(&which) {
            self.more.push(which);
        }
    }

    /// Listeners to accept from again this turn without an event; empty
    /// while paused.
    pub fn take_more(&mut self, now: Instant) -> Vec<usize> {
        if self.paused_until.is_some_and(|t| now < t) {
            return Vec::new();
        }
        std::mem::take(&mut self.more)
    }

    /// Is there accepting left to do without waiting for an event?
    pub fn has_more(&self) -> bool {
        !self.more.is_empty()
    }

    /// When a pause ends, if one is on.
    pub fn paused_until(&self) -> Option<Instant> {
        self.paused_until.filter(|_| !self.more.is_empty())
    }

    /// Closes every listener: from now on the kernel refuses connections.
    /// Connections already waiting in the backlog are first handed to
    /// `take`, so they can be told why instead of being reset.
    pub fn close(
        &mut self,
        registry: &Registry,
        mut take: impl FnMut(TcpStream, SocketAddr, bool),
    ) {
        for listener in &mut self.list {
            let Some(mut socket) = listener.socket.take() else {
                continue;
            };
            let tls = listener.tls;
            let _ = accept_batch(
                ACCEPT_BATCH * 8,
                || socket.accept(),
                |(s, peer)| take(s, peer, tls),
            );
            let _ = registry.deregister(&mut socket);
        }
        self.more.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_bounded_and_a_repeating_error_pauses() {
        let mut taken = 0;
        let stopped = accept_batch(5, || Ok(()), |()| taken += 1);
        assert!(matches!(stopped, Stopped::Budget));
        assert_eq!(taken, 5);
        let mut calls = 0;
        let stopped = accept_batch(
            5,
            || -> io::Result<()> {
                calls += 1;
                Err(io::Error::from_raw_os_error(libc::EMFILE))
            },
            |()| {},
        );
        assert!(matches!(stopped, Stopped::Pause(_)));
        assert_eq!(calls, 1, "no retry in a tight loop");
        let mut calls = 0;
        let stopped = accept_batch(
            5,
            || -> io::Result<()> {
                calls += 1;
                Err(io::Error::from_raw_os_error(libc::ECONNABORTED))
            },
            |()| {},
        );
        assert!(
            matches!(stopped, Stopped::Budget),
            "bounded even when every try fails"
        );
        assert_eq!(calls, 5);
        let stopped = accept_batch(
            5,
            || -> io::Result<()> { Err(io::ErrorKind::WouldBlock.into()) },
            |()| {},
        );
        assert!(matches!(stopped, Stopped::Drained));
    }
}
