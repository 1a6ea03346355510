//! Sessions and their write queues, with back-pressure.
//!
//! Kept apart from the directory of names so that fan-out can walk the
//! directory while pushing into queues. Every push goes through
//! [`Queues::make_room`]: a queue at its limit is first written out (the
//! limit is on what the *client* has not taken, not on what one loop turn
//! produced), and a session still over it is listed for a cut. Writes are
//! held back while the journal has not yet acknowledged the records a
//! session caused ([`Session::gate`]).

use super::wire::{is_ws, Wire};
use crate::server::session::Session;
use log::debug;
use slab::Slab;
use std::io::{self, Write};
use std::rc::Rc;

#[derive(Debug)]
pub struct Queues<T> {
    pub sessions: Slab<Session<T>>,
    /// Bytes queued on all sessions, not counting held mail.
    pub(super) total: usize,
    pub(super) peak: usize,
    /// Highest `total` since memory was last handed back to the OS.
    pub(super) high_water: usize,
    max_queue: usize,
    max_total: usize,
    pub(super) dirty: Vec<usize>,
    pub(super) cuts: Vec<usize>,
    /// Sessions whose socket failed during a write.
    pub(super) failed: Vec<usize>,
    /// Sessions whose output waits for the journal.
    pub(super) gated: Vec<usize>,
    /// The journal's acknowledged sequence number, as last seen.
    pub(super) acked: u64,
    pub(super) bytes_out: u64,
    /// Frames as each transport carries them.
    pub(in crate::server) wire: Wire,
    /// Ranges of a shared chunk for one recipient.
    ranges: Vec<(usize, usize)>,
}

impl<T: Write> Queues<T> {
    pub fn new(max_queue: usize, max_total: usize) -> Queues<T> {
        Queues {
            sessions: Slab::new(),
            total: 0,
            peak: 0,
            high_water: 0,
            max_queue,
            max_total,
            dirty: Vec::new(),
            cuts: Vec::new(),
            failed: Vec::new(),
            gated: Vec::new(),
            acked: 0,
            bytes_out: 0,
            wire: Wire::default(),
            ranges: Vec::new(),
        }
    }

    /// Runs `f` on a session and keeps the byte totals right afterwards.
    pub(super) fn with_session<R>(
        &mut self,
        key: usize,
        f: impl FnOnce(&mut Session<T>) -> R,
    ) -> Option<R> {
        self.with_framed(key, |s, _| f(s))
    }

    /// Runs `f` on a session and the per-transport encoding (to queue
    /// frames in the session's framing), keeping the byte totals right.
    pub(super) fn with_framed<R>(
        &mut self,
        key: usize,
        f: impl FnOnce(&mut Session<T>, &mut Wire) -> R,
    ) -> Option<R> {
        let session = self.sessions.get_mut(key)?;
        let before = session.live_queued();
        let result = f(session, &mut self.wire);
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

    /// Writes what the session has queued, unless it waits for the
    /// journal; a failed socket is listed in `failed` for the hub to close.
    pub(super) fn write(&mut self, key: usize) -> io::Result<usize> {
        let acked = self.acked;
        let Some(session) = self.sessions.get_mut(key) else {
            return Ok(0);
        };
        if session.gate > acked {
            if !session.gated {
                session.gated = true;
                self.gated.push(key);
            }
            return Ok(0);
        }
        let result = self
            .with_session(key, |s| {
                let result = s.out.write_to(&mut s.io);
                if let Ok(n) = result {
                    s.written += n as u64;
                }
                result
            })
            .unwrap_or(Ok(0));
        match &result {
            Ok(n) => self.bytes_out += *n as u64,
            Err(e) => {
                debug!("write to connection {key} failed: {e}");
                self.failed.push(key);
            }
        }
        result
    }

    /// Is there room for `extra` bytes? See the module doc.
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
    pub(in crate::server) fn push_shared(&mut self, key: usize, chunk: &Rc<[u8]>) -> bool {
        if self.sessions.get(key).is_some_and(is_ws) {
            return self.push_shared_ws(key, chunk);
        }
        self.push_chunk(key, chunk)
    }

    /// Queues a shared chunk's WebSocket copy (kept apart so the line
    /// path stays as small as it was).
    #[inline(never)]
    fn push_shared_ws(&mut self, key: usize, chunk: &Rc<[u8]>) -> bool {
        let Some(session) = self.sessions.get(key) else {
            return false;
        };
        let chunk = self.wire.shared_for(session, chunk);
        self.push_chunk(key, &chunk)
    }

    /// Queues a chunk already in the session's framing.
    #[inline]
    fn push_chunk(&mut self, key: usize, chunk: &Rc<[u8]>) -> bool {
        if !self.make_room(key, chunk.len()) {
            return false;
        }
        self.with_session(key, |s| s.out.push_shared(chunk));
        self.mark_dirty(key);
        true
    }

    /// Queues byte ranges of a shared chunk, within the session's limit.
    pub(super) fn push_ranges(
        &mut self,
        key: usize,
        chunk: &Rc<[u8]>,
        ranges: &[(usize, usize)],
    ) -> bool {
        let Some(session) = self.sessions.get(key) else {
            return false;
        };
        if !is_ws(session) {
            return self.push_cut(key, chunk, ranges);
        }
        let mut mapped = std::mem::take(&mut self.ranges);
        let chunk = self.wire.ranges_for(session, chunk, ranges, &mut mapped);
        let pushed = self.push_cut(key, &chunk, &mapped);
        self.ranges = mapped;
        pushed
    }

    /// Queues ranges of a chunk already in the session's framing.
    fn push_cut(&mut self, key: usize, chunk: &Rc<[u8]>, ranges: &[(usize, usize)]) -> bool {
        let bytes: usize = ranges.iter().map(|(a, b)| b - a).sum();
        if bytes == 0 || !self.make_room(key, bytes) {
            return false;
        }
        self.with_session(key, |s| {
            if bytes * 8 < chunk.len() {
                // A small part of a large chunk would keep all of it alive
                // while only the part is counted: copy the part instead.
                s.out.push_with(|b| {
                    for &(start, end) in ranges {
                        b.extend_from_slice(chunk.get(start..end).unwrap_or_default());
                    }
                });
            } else {
                for &(start, end) in ranges {
                    s.out.push_range(chunk, start..end);
                }
            }
        });
        self.mark_dirty(key);
        true
    }

    /// Queues about `size` bytes written by `encode` for this session
    /// alone, within its limit.
    pub(in crate::server) fn push_owned(
        &mut self,
        key: usize,
        size: usize,
        encode: impl FnOnce(&mut Vec<u8>),
    ) -> bool {
        if !self.make_room(key, size) {
            return false;
        }
        self.with_framed(key, |s, wire| wire.push_with(s, encode));
        self.mark_dirty(key);
        true
    }

    /// Queues a reply to this session alone, within its limit.
    pub(in crate::server) fn push_reply(&mut self, key: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        // Replies are small; a client past its limit is not reading at all.
        self.push_owned(key, 512, encode);
    }

    /// Queues a last frame before closing, past any limit.
    pub(in crate::server) fn push_final(&mut self, key: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        self.with_framed(key, |s, wire| wire.push_with(s, encode));
        self.mark_dirty(key);
    }

    /// Queues bytes as they are, in no transport's framing (a WebSocket
    /// control frame), within the session's limit unless `last`.
    pub(in crate::server) fn push_raw(
        &mut self,
        key: usize,
        last: bool,
        encode: impl FnOnce(&mut Vec<u8>),
    ) {
        if last || self.make_room(key, 256) {
            self.with_session(key, |s| s.out.push_with(encode));
            self.mark_dirty(key);
        }
    }

    pub(super) fn mark_cut(&mut self, key: usize) {
        if let Some(session) = self.sessions.get_mut(key) {
            if !session.cut {
                session.cut = true;
                self.cuts.push(key);
            }
        }
    }

    /// The journal acknowledged up to `acked`: sessions waiting for it are
    /// flushed again.
    pub(super) fn release_gated(&mut self, acked: u64) {
        self.acked = acked;
        let waiting = std::mem::take(&mut self.gated);
        for key in waiting {
            match self.sessions.get_mut(key) {
                Some(s) if s.gate > acked => self.gated.push(key),
                Some(s) => {
                    s.gated = false;
                    self.mark_dirty(key);
                }
                None => {}
            }
        }
    }
}
