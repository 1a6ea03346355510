//! Taking connections in: each accepted socket becomes a client — or,
//! when the server is full or stopping, a connection that is only told why
//! (`ERR 503`) and then closed like any other, without a client slot.
//! Either way it is registered with the poller once, edge-triggered for
//! reading and writing.

use super::event_loop::Server;
use super::tls::Conn;
use log::{debug, warn};
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::net::SocketAddr;
use std::time::Instant;

impl Server {
    pub(super) fn accept(&mut self, which: usize, now: Instant) {
        if self.stopping_by.is_some() {
            return;
        }
        let mut accepted = Vec::new();
        self.listeners
            .accept(which, now, |s, peer, tls| accepted.push((s, peer, tls)));
        for (stream, peer, tls) in accepted {
            self.admit_connection(stream, peer, tls, None);
        }
    }

    /// Takes an accepted connection: as a client, or — when the server is
    /// full or stopping — only to tell it why with `ERR 503 <refusal>`.
    pub(super) fn admit_connection(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        tls: bool,
        refusal: Option<&str>,
    ) {
        let refusal = match refusal {
            Some(text) => Some(text),
            None if self.hub.open_connections() >= self.max_clients => {
                Some("server full; try again later")
            }
            None => None,
        };
        // Chat frames are small and latency matters more than packing.
        let _ = stream.set_nodelay(true);
        let conn = match self.tls.as_ref().filter(|_| tls) {
            None => Conn::plain(stream, peer),
            Some(files) => match Conn::tls(stream, peer, &files.config) {
                Ok(conn) => conn,
                Err(e) => return warn!("cannot start TLS for {peer}: {e}"),
            },
        };
        let key = match refusal {
            None => self.hub.open_from(conn, Some(peer)),
            Some(text) => {
                debug!("refusing {peer}: {text}");
                match self.hub.open_refused(conn, peer, text) {
                    Some(key) => key,
                    None => return, // too many closing already: just close it
                }
            }
        };
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
