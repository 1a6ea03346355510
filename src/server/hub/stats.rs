//! The counters behind `STATS`, kept where the work happens and read in
//! one line, so a monitor can watch a running server with `nc`.

use super::Hub;
use std::io::Write;

/// Counters since start.
#[derive(Debug, Default)]
pub struct Counters {
    pub frames_in: u64,
    pub deliveries: u64,
    pub bytes_in: u64,
    pub slow_cut: u64,
}

impl<T: Write> Hub<T> {
    /// One `STATS` line's worth of figures.
    pub fn stats_line(&self) -> String {
        let c = &self.counters;
        let mut line = format!(
            "connections={} users={} frames_in={} deliveries={} bytes_in={} bytes_out={} \
             queued={} peak_queued={} held={} held_bytes={} known={} rooms={} memberships={} \
             history_bytes={} slow_cut={} closing={} throttled={} logins_waiting={} uptime={}",
            self.queues.sessions.len(),
            self.online.len(),
            c.frames_in,
            c.deliveries,
            c.bytes_in,
            self.queues.bytes_out,
            self.queues.total,
            self.queues.peak,
            self.store.held(),
            self.store.held_bytes(),
            self.store.known_names(),
            self.rooms.len(),
            self.rooms.memberships(),
            self.rooms.history_bytes(),
            c.slow_cut,
            self.linger_count,
            self.throttled,
            self.auth_queue.len(),
            self.now.saturating_duration_since(self.started).as_secs(),
        );
        if let Some((waiting, done)) = self.handshakes {
            line.push_str(&format!(" handshaking={waiting} handshakes={done}"));
        }
        line.push_str(&self.cluster_stats());
        line
    }

    /// How many connections the loop left input unread for until the next
    /// turn (their read budget ran out), for `STATS throttled`.
    pub fn set_throttled(&mut self, n: usize) {
        self.throttled = n;
    }

    /// TLS handshakes waiting for the handshake threads or with them now,
    /// and those finished since start (from the loop, when there is TLS).
    pub fn set_handshakes(&mut self, waiting: usize, done: u64) {
        self.handshakes = Some((waiting, done));
    }
}
