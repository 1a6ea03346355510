//! The loop's TLS work beside reading and writing: it queues a connection
//! whose handshake records came, hands queued ones to the
//! [pool](super::handshake_pool) in turn, and takes them back — writing the
//! handshake's answer and reading on — when the pool wakes it; and it
//! closes a TLS connection only once its close_notify is out.

use super::event_loop::Server;
use super::handshake_pool::{Job, Waiting};
use super::tls::{Conn, Crypto};
use log::{debug, warn};
use std::net::Shutdown;

impl Server {
    /// Queues a connection whose handshake records wait for the pool; one
    /// the queue has no room for (or pushes out) is closed.
    pub(super) fn queue_handshake(&mut self, key: usize) {
        let Some(session) = self.hub.session_mut(key) else {
            return;
        };
        let Some(pool) = self.handshakes.as_mut() else {
            warn!("a TLS connection without the handshake pool");
            return self.hub.fail(key);
        };
        let ticket = pool.ticket();
        let peer = session.io.peer;
        session.io.queued(ticket);
        let refused = match pool.push(Waiting {
            key,
            ticket,
            peer: Some(peer.ip()),
        }) {
            Ok(pushed_out) => pushed_out,
            Err(refused) => Some(refused),
        };
        if let Some(w) = refused {
            let still_queued = self
                .hub
                .session(w.key)
                .is_some_and(|s| s.io.crypto() == Crypto::Queued(w.ticket));
            if still_queued {
                debug!(
                    "too many TLS handshakes waiting; closing connection {}",
                    w.key
                );
                self.hub.fail(w.key);
            }
        }
    }

    /// Hands queued handshakes to the pool, as many as it may have.
    pub(super) fn start_handshakes(&mut self) {
        let Some(pool) = self.handshakes.as_mut() else {
            return;
        };
        while let Some(w) = pool.next_to_start() {
            let session = self.hub.session_mut(w.key);
            let Some(tls) = session.and_then(|s| s.io.send_away(w.ticket)) else {
                pool.done(w.peer); // gone meanwhile
                continue;
            };
            let job = Job {
                key: w.key,
                ticket: w.ticket,
                peer: w.peer,
                tls,
                result: Ok(()),
            };
            if let Err(job) = pool.start_job(job) {
                warn!("the TLS handshake threads are gone");
                pool.done(job.peer);
                if let Some(s) = self.hub.session_mut(job.key) {
                    let _ = s.io.come_back(job.ticket, job.tls);
                }
                self.hub.fail(job.key);
            }
        }
    }

    /// Takes back what the pool is done with: writes each handshake's
    /// answer, and reads on next turn (what came meanwhile had no event
    /// of its own).
    pub(super) fn take_handshakes_done(&mut self) {
        let Some(pool) = self.handshakes.as_mut() else {
            return;
        };
        for job in pool.take_done() {
            pool.done(job.peer);
            let Some(session) = self.hub.session_mut(job.key) else {
                continue;
            };
            if session.io.come_back(job.ticket, job.tls).is_err() {
                continue; // its connection is gone, the key reused
            }
            if let Err(e) = job.result {
                debug!("TLS handshake with {} failed: {e}", session.io.peer);
                let _ = session.io.flush_tls(); // the alert saying why
                self.hub.fail(job.key);
                continue;
            }
            if !session.io.is_handshaking() {
                pool.finished += 1;
            }
            if session.io.flush_tls().is_err() {
                self.hub.fail(job.key);
                continue;
            }
            // Plaintext queued before the handshake was done may go now.
            self.hub.queues.mark_dirty(job.key);
            self.reread.insert(job.key);
        }
        self.start_handshakes();
    }

    /// A connection is being dropped: its place in the queue frees.
    pub(super) fn forget_handshake(&mut self, key: usize, conn: &Conn) {
        if let (Crypto::Queued(ticket), Some(pool)) = (conn.crypto(), self.handshakes.as_mut()) {
            pool.cancel(key, ticket, Some(conn.peer.ip()));
        }
    }

    /// Writes a TLS connection's pending ciphertext.
    pub(super) fn flush_tls(&mut self, key: usize) {
        let Some(session) = self.hub.session_mut(key) else {
            return;
        };
        if session.io.is_tls() && session.io.flush_tls().is_err() {
            self.hub.fail(key);
        }
    }

    /// Shuts the write side once a TLS close_notify is out.
    pub(super) fn finish_tls_closes(&mut self) {
        let mut waiting = std::mem::take(&mut self.tls_closing);
        waiting.retain(|&key| {
            let Some(session) = self.hub.session_mut(key) else {
                return false;
            };
            if session.io.flush_tls().is_err() {
                self.hub.fail(key);
                return false;
            }
            if session.io.is_handshaking() {
                return true; // its last words wait in rustls until then
            }
            session.io.close_notify();
            if session.io.tls_pending() {
                return true;
            }
            let _ = session.io.stream.shutdown(Shutdown::Write);
            self.hub.start_draining(key);
            false
        });
        self.tls_closing = waiting;
    }
}
