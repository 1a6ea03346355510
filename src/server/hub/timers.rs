//! Periodic work, driven by the loop's tick: keep-alive PINGs, idle
//! timeouts, closing deadlines, and giving memory back after a burst.
//!
//! Time comes from [`Hub::set_now`], never from the clock directly, so
//! tests move it by hand instead of waiting.

use super::Hub;
use crate::protocol::{ErrorCode, Event};
use crate::server::session::Phase;
use std::io::Write;

/// Queued bytes that, once drained, make the hub return memory to the OS.
const TRIM_AFTER: usize = 64 << 20;

impl<T: Write> Hub<T> {
    /// Sends keep-alive PINGs, closes idle connections, ends lingering
    /// ones whose time is up.
    pub fn tick(&mut self) {
        let now = self.now;
        let idle = self.limits.idle_timeout;
        let (mut pings, mut timeouts, mut expired) = (Vec::new(), Vec::new(), Vec::new());
        let mut late_heads = Vec::new();
        for (key, s) in self.queues.sessions.iter() {
            if s.is_open() && s.dialect.deadline().is_some_and(|d| now >= d) {
                late_heads.push(key);
                continue;
            }
            match (s.life.phase(), idle) {
                // Waiting for its password check is not silence.
                (Phase::Open, Some(_)) if s.is_paused() => {}
                (Phase::Open, Some(timeout)) => {
                    let silent = now.saturating_duration_since(s.intake.last_heard);
                    if silent >= timeout {
                        timeouts.push(key);
                    } else if silent >= timeout / 2 && !s.intake.ping_sent {
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
            self.reply(key, &Event::Ping(Some(&token)));
            if let Some(s) = self.queues.sessions.get_mut(key) {
                s.intake.ping_sent = true;
            }
        }
        for key in timeouts {
            let secs = idle.map_or(0, |t| t.as_secs());
            let text = format!("idle for {secs} s; disconnected");
            let who = self.queues.sessions.get(key).map(|s| match &s.user.name {
                Some(name) => format!("{name} ({})", s.peer_name()),
                None => s.peer_name(),
            });
            log::info!("{} {text}", who.unwrap_or_default());
            self.close_with(key, ErrorCode::IdleTimeout, &text);
        }
        self.close_late_heads(late_heads);
        for key in expired {
            self.leave(key, None);
            self.kill(key);
        }
        self.cluster_tick();
        self.retry_fetches();
        self.seal();
        // After a burst (a login storm, a flood) has drained, give the
        // freed heap back instead of holding the peak for good.
        if self.queues.high_water > TRIM_AFTER && self.queues.total < TRIM_AFTER / 64 {
            self.queues.high_water = self.queues.total;
            crate::server::limits::release_free_memory();
        }
    }
}
