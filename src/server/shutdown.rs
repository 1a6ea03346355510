//! Signals and the graceful shutdown, as readiness on the loop
//! (signal-hook's self-pipe), never a handler that touches state.
//!
//! SIGTERM or SIGINT: the listeners are closed (connections already in the
//! backlog are taken first and told `ERR 503 server shutting down`, so from
//! then on the kernel refuses newcomers instead of resetting them), every
//! client is told the same and closed once its queue is flushed — for up to
//! `--shutdown-timeout` — then the journal is written, synced and its
//! thread ended, and the process exits 0. A second signal exits at once.
//! SIGHUP rereads the users file and the certificate.

use super::event_loop::Server;
use super::tls;
use log::{info, warn};
use std::time::Instant;

impl Server {
    pub(super) fn take_signals(&mut self, now: Instant) {
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
                _ => self.begin_shutdown(now),
            }
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        info!(
            "stop signal: closing {} connections (at most {:?})",
            self.hub.len(),
            self.shutdown_timeout
        );
        let mut waiting = Vec::new();
        let registry = self.poll.registry();
        self.listeners
            .close(registry, |s, peer, tls| waiting.push((s, peer, tls)));
        // Told first, while closing connections still have room.
        for (stream, peer, tls) in waiting {
            self.admit_connection(stream, peer, tls, Some("server shutting down"));
        }
        self.hub.shut_down();
        self.stopping_by = Some(now + self.shutdown_timeout);
    }

    /// The last step of a shutdown: what is left unsent is given up, the
    /// journal is written, synced and closed.
    pub(super) fn finish(mut self) {
        let left = self.hub.len();
        if left > 0 {
            warn!("{left} connection(s) had not finished; closing them");
        }
        self.hub.close_journal();
        self.hub.leave_cluster();
        info!("stopped");
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
}
