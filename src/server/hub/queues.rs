//! Output: every session's write queue, the one way frames get into it,
//! the limits on what is queued, and the one place queues are written.
//!
//! [`Queues::push`] only enqueues, in the session's encoding (its
//! dialect's, see [`wire`](crate::server::wire)): an event for it alone, a
//! shared chunk or ranges of one (their copy in the session's encoding is
//! made once for all its recipients), or bytes of the wire's own. It never
//! writes, so nothing that pushes can be re-entered by a write's failure.
//!
//! Writing happens in [`Queues::write`]: at the loop's flush, once a turn
//! for every session with output, and at the hub's settling points for
//! sessions a push took past their limit: such a session is written out
//! first and cut only if it is still over, so the limit is on what the
//! *client* has not taken, not on what one loop turn produced (see
//! [`Hub::settle`](super::Hub)). Writes are held back while the journal
//! has not yet acknowledged the records a session caused
//! ([`Output::gate`]).

use crate::protocol::Event;
use crate::server::keyset::KeySet;
use crate::server::outqueue::OutQueue;
use crate::server::session::Session;
use crate::server::wire::{is_lines, Asked, Copies, Manners, Viewer, Voice, WireKind};
use log::debug;
use slab::Slab;
use std::io::{self, Write};
use std::rc::Rc;

mod labels;

/// A session's output: its queue, in its dialect's encoding.
#[derive(Debug)]
pub struct Output {
    queue: OutQueue,
    kind: WireKind,
    /// Bytes written to the transport so far.
    written: u64,
    /// Output waits until the journal has acknowledged this sequence
    /// number: records this connection caused come before its replies.
    gate: u64,
    /// What the frame being answered asked, in its dialect's terms.
    asked: Asked,
    /// What its dialect's clients expect beyond frames.
    manners: Manners,
    /// The label of the command being answered (IRC's
    /// `labeled-response`).
    label: Option<labels::Label>,
}

impl Output {
    pub fn new(kind: WireKind) -> Output {
        Output {
            queue: OutQueue::default(),
            kind,
            written: 0,
            gate: 0,
            asked: Asked::default(),
            manners: Manners::default(),
            label: None,
        }
    }

    /// Unwritten bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// What this queue holds in memory (see [`OutQueue::cost`]).
    #[inline]
    pub fn cost(&self) -> usize {
        self.queue.cost()
    }

    /// Bytes written so far; with [`Output::len`], where in the stream
    /// the next frame starts.
    #[inline]
    pub fn written(&self) -> u64 {
        self.written
    }

    pub(in crate::server) fn set_encoding(&mut self, kind: WireKind, manners: Manners) {
        self.kind = kind;
        self.manners = manners;
    }

    /// What its clients expect beyond frames (IRC's).
    pub(in crate::server) fn manners(&self) -> Manners {
        self.manners
    }

    /// Replies from now on answer a frame that asked `asked`.
    pub(in crate::server) fn set_asked(&mut self, asked: Asked) {
        self.asked = asked;
    }

    /// Holds back writes until the journal has acknowledged `seq`.
    pub(in crate::server) fn gate(&mut self, seq: u64) {
        self.gate = self.gate.max(seq);
    }

    /// Drops everything not yet begun (see [`OutQueue::drop_unstarted`]).
    pub(in crate::server) fn drop_unstarted(&mut self) -> usize {
        self.queue.drop_unstarted()
    }

    pub(in crate::server) fn clear(&mut self) {
        self.queue = OutQueue::default();
    }
}

/// What [`Queues::push`] queues.
#[derive(Debug, Clone, Copy)]
pub enum Outgoing<'a> {
    /// An event for this session alone.
    Event(&'a Event<'a>),
    /// Canonical frames shared with other sessions.
    Shared(&'a Rc<[u8]>),
    /// Ranges of whole frames of a shared chunk (a batch minus a user's
    /// own frames).
    Ranges(&'a Rc<[u8]>, &'a [(usize, usize)]),
    /// Bytes of the wire's own (an HTTP response, a WebSocket control
    /// frame), queued as they are.
    Wire(&'a [u8]),
}

/// Whether a push is held to the session's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Only for an open session; past its limit it is written, then cut.
    Within,
    /// A closing session's last words: past any limit.
    Past,
}

#[derive(Debug)]
pub struct Queues<T> {
    pub sessions: Slab<Session<T>>,
    /// What all sessions' queues hold in memory ([`Output::cost`]), held
    /// mail being delivered included: it counts against the total, though
    /// not against `--max-queue`, which `--mailbox-bytes` stands in for.
    pub(super) total: usize,
    pub(super) peak: usize,
    /// Highest `total` since memory was last handed back to the OS.
    pub(super) high_water: usize,
    max_queue: usize,
    max_total: usize,
    /// Sessions with output to write this turn.
    dirty: KeySet,
    /// Sessions a push took past a limit, to settle.
    over: KeySet,
    /// Sessions to cut: still over after a write.
    pub(super) cuts: KeySet,
    /// Sessions whose output waits for the journal.
    gated: KeySet,
    /// Sessions whose socket failed during a write.
    pub(super) failed: Vec<usize>,
    /// The journal's acknowledged sequence number, as last seen.
    acked: u64,
    pub(super) bytes_out: u64,
    /// Shared chunks in each encoding.
    copies: Copies,
    /// Ranges of a shared chunk's copy for one recipient.
    ranges: Vec<(usize, usize)>,
    /// Labels opened so far (their batches' references).
    labels: u64,
    /// The session whose input is being acted on: only what is queued for
    /// it then answers its labeled command.
    pub(in crate::server) acting: Option<usize>,
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
            dirty: KeySet::default(),
            over: KeySet::default(),
            cuts: KeySet::default(),
            gated: KeySet::default(),
            failed: Vec::new(),
            acked: 0,
            bytes_out: 0,
            copies: Copies::default(),
            ranges: Vec::new(),
            labels: 0,
            acting: None,
        }
    }

    /// Queues `what` on session `key`, in its encoding. Returns whether it
    /// was queued: not for a gone session, nor `Within` its limit for one
    /// that is closing or being cut.
    #[inline]
    pub fn push(&mut self, key: usize, what: Outgoing<'_>, limit: Limit) -> bool {
        let Some(session) = self.sessions.get_mut(key) else {
            return false;
        };
        let within = limit == Limit::Within;
        if within && (!session.is_open() || self.cuts.contains(key)) {
            return false;
        }
        let before = session.out.cost();
        let (after, queued) = match what {
            // The common case, kept short: a line user takes the chunk.
            Outgoing::Shared(chunk) if is_lines(session.out.kind) => {
                session.out.queue.push_shared(chunk);
                let after = session.out.cost();
                (after, session.live_of(after))
            }
            _ => self.encode(key, what),
        };
        self.total = self.total + after - before;
        self.peak = self.peak.max(self.total);
        self.high_water = self.high_water.max(self.total);
        if within && (queued > self.max_queue || (before > 0 && self.total > self.max_total)) {
            self.over.insert(key);
        }
        self.dirty.insert(key);
        true
    }

    /// Queues `what` in the session's encoding (out of line: the line
    /// path of fan-out above stays small); returns its cost and live bytes
    /// after.
    #[inline(never)]
    fn encode(&mut self, key: usize, what: Outgoing<'_>) -> (usize, usize) {
        let Some(session) = self.sessions.get_mut(key) else {
            return (0, 0);
        };
        let out = &mut session.out;
        if out.label.is_some() && self.acting == Some(key) {
            self.encode_labeled(key, what);
            let after = self.sessions.get(key).map_or(0, |s| s.out.cost());
            return (
                after,
                self.sessions.get(key).map_or(0, |s| s.live_of(after)),
            );
        }
        match what {
            Outgoing::Shared(chunk) => {
                let chunk = self.copies.shared(out.kind, chunk);
                out.queue.push_shared(&chunk);
            }
            Outgoing::Ranges(chunk, ranges) => {
                let mut mapped = std::mem::take(&mut self.ranges);
                let chunk = self.copies.ranges(out.kind, chunk, ranges, &mut mapped);
                push_ranges(&mut out.queue, &chunk, &mapped);
                self.ranges = mapped;
            }
            Outgoing::Event(event) => {
                let (copies, kind) = (&mut self.copies, out.kind);
                let viewer = Viewer {
                    nick: session.user.name.as_deref(),
                    asked: out.asked.what,
                    about: out.asked.about.as_deref(),
                };
                out.queue
                    .push_with(|b| copies.encode(kind, event, &viewer, b));
            }
            Outgoing::Wire(bytes) => {
                out.queue.push_with(|b| b.extend_from_slice(bytes));
            }
        }
        let after = session.out.cost();
        (after, session.live_of(after))
    }

    /// Queues `event` at `at` in session `key`'s output stream (bytes
    /// written plus queued when the place was noted: a frame boundary),
    /// ahead of what was queued since; only if it is still session
    /// `serial`.
    pub(super) fn insert_at(&mut self, key: usize, serial: u64, at: u64, event: &Event<'_>) {
        let Some(session) = self.sessions.get_mut(key).filter(|s| s.serial == serial) else {
            return;
        };
        let mut bytes = Vec::new();
        let viewer = Viewer {
            nick: session.user.name.as_deref(),
            asked: session.out.asked.what,
            about: session.out.asked.about.as_deref(),
        };
        self.copies
            .encode(session.out.kind, event, &viewer, &mut bytes);
        let offset = usize::try_from(at.saturating_sub(session.out.written)).unwrap_or(usize::MAX);
        let before = session.out.cost();
        let by = bytes.len() as u64;
        session.out.queue.insert(offset, bytes);
        session.mail.shift(at, by);
        self.total = self.total + session.out.cost() - before;
        self.dirty.insert(key);
    }

    /// Runs `f` on a session and keeps the total right afterwards (for
    /// changes to what its queue holds: frames written or dropped).
    pub(super) fn with_session<R>(
        &mut self,
        key: usize,
        f: impl FnOnce(&mut Session<T>) -> R,
    ) -> Option<R> {
        let session = self.sessions.get_mut(key)?;
        let before = session.out.cost();
        let result = f(session);
        let after = session.out.cost();
        self.total = self.total + after - before;
        self.peak = self.peak.max(self.total);
        self.high_water = self.high_water.max(self.total);
        Some(result)
    }

    /// Does session `key` write its own replies for itself (IRC's numerics
    /// name the reader), so a reply shared with others would not do?
    pub fn writes_for_each_reader(&self, key: usize) -> bool {
        self.sessions
            .get(key)
            .is_some_and(|s| s.out.kind.event.is_some())
    }

    /// How encodings speak of this server (IRC's server name).
    pub fn set_voice(&mut self, voice: Voice) {
        self.copies = Copies::new(voice);
    }

    /// Lists a session for this turn's flush (once).
    pub fn mark_dirty(&mut self, key: usize) {
        self.dirty.insert(key);
    }

    /// Moves the keys of sessions with output to write into `into`.
    pub(super) fn take_dirty(&mut self, into: &mut Vec<usize>) {
        self.dirty.take_into(into);
    }

    /// Sessions a push took past a limit since last asked.
    pub(super) fn take_over(&mut self) -> Vec<usize> {
        self.over.take()
    }

    #[inline]
    pub(super) fn has_unsettled(&self) -> bool {
        !self.over.is_empty() || !self.failed.is_empty() || !self.cuts.is_empty()
    }

    /// Is a session past its limit (after a write: still)?
    pub(super) fn still_over(&self, key: usize) -> bool {
        self.sessions.get(key).is_some_and(|s| {
            s.live_queued() > self.max_queue || (!s.out.is_empty() && self.total > self.max_total)
        })
    }

    /// Lists an open session past its limits to be settled, as a push
    /// `Within` them would: for what was pushed past them to be queued
    /// whole (held mail), but is held to them all the same.
    pub(super) fn hold_to_limits(&mut self, key: usize) {
        let open = self.sessions.get(key).is_some_and(|s| s.is_open());
        if open && !self.cuts.contains(key) && self.still_over(key) {
            self.over.insert(key);
        }
    }

    /// Writes what the session has queued, unless it waits for the
    /// journal; a failed socket is listed in `failed` for the hub to close.
    pub(super) fn write(&mut self, key: usize) -> io::Result<usize> {
        let acked = self.acked;
        let Some(session) = self.sessions.get_mut(key) else {
            return Ok(0);
        };
        if session.out.gate > acked {
            self.gated.insert(key);
            return Ok(0);
        }
        let result = self
            .with_session(key, |s| {
                let result = s.out.queue.write_to(&mut s.io);
                if let Ok(n) = result {
                    s.out.written += n as u64;
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

    /// Lists a session to settle if it is past its limit (after something
    /// was added beside its queue).
    pub(super) fn check_limit(&mut self, key: usize) {
        if self.still_over(key) {
            self.over.insert(key);
        }
    }

    /// Lists a session to be cut.
    pub(super) fn mark_cut(&mut self, key: usize) {
        self.cuts.insert(key);
    }

    /// Is the session listed to be cut (so nothing more is queued for it,
    /// and its input is not read)?
    pub(super) fn is_cut(&self, key: usize) -> bool {
        self.cuts.contains(key)
    }

    /// The journal acknowledged up to `acked`: sessions waiting for it are
    /// flushed again.
    pub(super) fn release_gated(&mut self, acked: u64) {
        self.acked = acked;
        let sessions = &self.sessions;
        let mut released = Vec::new();
        self.gated.retain(|key| match sessions.get(key) {
            Some(s) if s.out.gate > acked => true,
            Some(_) => {
                released.push(key);
                false
            }
            None => false,
        });
        for key in released {
            self.dirty.insert(key);
        }
    }
}

/// Queues ranges of a chunk already in the session's encoding.
fn push_ranges(queue: &mut OutQueue, chunk: &Rc<[u8]>, ranges: &[(usize, usize)]) {
    let bytes: usize = ranges.iter().map(|(a, b)| b - a).sum();
    if bytes == 0 {
        return;
    }
    if bytes * 8 < chunk.len() {
        // A small part of a large chunk would keep all of it alive
        // while only the part is counted: copy the part instead (in one
        // allocation: a recipient of a few rooms' frames of a batch said
        // in many gets a part of each).
        queue.push_with(|b| {
            b.reserve(bytes);
            for &(start, end) in ranges {
                b.extend_from_slice(chunk.get(start..end).unwrap_or_default());
            }
        });
    } else {
        for &(start, end) in ranges {
            queue.push_range(chunk, start..end);
        }
    }
}

impl<T: Write> super::Hub<T> {
    /// Settles what pushes took past their limits: each such session is
    /// written out first, and cut only if it is still over; sessions whose
    /// write failed are closed at once. Called between frames, after each
    /// batch is queued, and by the loop's flush — never from inside a
    /// push. Returns whether it did anything (the `LEFT`s of those closed
    /// may then wait in the batch).
    #[inline]
    pub(in crate::server) fn settle(&mut self) -> bool {
        self.queues.has_unsettled() && self.settle_now()
    }

    fn settle_now(&mut self) -> bool {
        for key in self.queues.take_over() {
            if self.queues.write(key).is_ok() && self.queues.still_over(key) {
                self.queues.mark_cut(key);
            }
        }
        for key in std::mem::take(&mut self.queues.failed) {
            self.leave(key, None);
            self.kill(key);
        }
        for key in self.queues.cuts.take() {
            self.cut_slow(key);
        }
        true
    }
}
