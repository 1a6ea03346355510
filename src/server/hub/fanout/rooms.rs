//! Room frames in the turn's batch. A message to a room joins the pending
//! batch as a span for the room's members online; messages to other rooms
//! join the same batch as spans of their own, so a turn's messages to many
//! small rooms, interleaved, are sealed once — not once per change of
//! room. At the seal each member gets one queue entry: the ranges of the
//! shared chunk said in its rooms, minus its own frames, in the order they
//! were accepted. So a member of two rooms sees their frames in the order
//! they were said, as it would with a seal at every change of room.
//!
//! Each span is charged to its author by the members it reaches (a range
//! each at the seal), each frame by one unit as it is read.

use super::super::Hub;
use super::{Span, BATCH_MAX, NO_ROOM};
use crate::server::hub::queues::{Limit, Outgoing};
use std::io::Write;
use std::rc::Rc;

/// What each recipient of a batch said in several rooms gets, gathered
/// span by span before it is queued: one entry per recipient.
#[derive(Debug, Default)]
pub(in crate::server) struct Cuts {
    /// By session key: 1 + the recipient's place in `cuts` (0: none yet).
    slot: Vec<u32>,
    cuts: Vec<Cut>,
    /// How many of `cuts` are in use (the others keep their memory).
    used: usize,
    /// By span: its frames as a chunk of their own, made for the first
    /// recipient that gets that span alone, shared by the others.
    parts: Vec<Option<Rc<[u8]>>>,
}

#[derive(Debug, Default)]
struct Cut {
    key: usize,
    ranges: Vec<(usize, usize)>,
    frames: u64,
    /// The one span the recipient gets, if one ([`SEVERAL`]: more).
    span: usize,
}

/// A cut of more than one span.
const SEVERAL: usize = usize::MAX;

/// Ranges a recipient's cut keeps room for between seals.
const KEEP_RANGES: usize = 16;

impl Cuts {
    /// Adds `span`, the batch's span number `i`, to session `key`'s cut.
    #[inline]
    fn add(&mut self, key: usize, span: &Span, i: usize) {
        if self.slot.len() <= key {
            self.slot.resize(key + 1, 0);
        }
        let at = match self.slot[key] {
            0 => {
                if self.used == self.cuts.len() {
                    self.cuts.push(Cut::default());
                }
                let cut = &mut self.cuts[self.used];
                cut.key = key;
                cut.ranges.clear();
                cut.frames = 0;
                cut.span = i;
                self.used += 1;
                self.slot[key] = self.used as u32;
                self.used - 1
            }
            n => {
                self.cuts[n as usize - 1].span = SEVERAL;
                n as usize - 1
            }
        };
        let cut = &mut self.cuts[at];
        cut.frames += span.frames;
        match cut.ranges.last_mut() {
            Some(r) if r.1 == span.start => r.1 = span.end,
            _ => cut.ranges.push((span.start, span.end)),
        }
    }
}

impl<T: Write> Hub<T> {
    /// Adds a frame (encoded) said in `room` by session `author` to the
    /// pending batch, sealing first a batch of broadcasts.
    pub(in crate::server) fn say_in_room(&mut self, author: usize, room: &Rc<str>, frame: &[u8]) {
        self.say_in_room_by(Some(author), room, frame);
    }

    /// As [`say_in_room`](Self::say_in_room), for a frame whose author may
    /// not be online here (from the cluster's rooms stream): nobody is
    /// charged, and every member online gets it.
    #[inline]
    pub(in crate::server) fn say_in_room_by(
        &mut self,
        author: Option<usize>,
        room: &Rc<str>,
        frame: &[u8],
    ) {
        if self.batch.has_frames() && self.batch.rooms.is_empty() {
            match author {
                Some(key) => self.seal_charged(key),
                None => self.seal(),
            }
        }
        // A full batch is sealed; its spans were charged as they came.
        if self.batch.buf.len() >= BATCH_MAX && !self.batch.sealing {
            self.seal();
        }
        let batch = &mut self.batch;
        let same = batch.rooms.last().is_some_and(|r| Rc::ptr_eq(r, room));
        if !same {
            batch.rooms.push(Rc::clone(room));
        }
        let at = u32::try_from(batch.rooms.len() - 1).unwrap_or(NO_ROOM - 1);
        let start = batch.buf.len();
        let grows = batch.spans.last().is_some_and(|last| {
            last.author == author && last.end == start && last.room == at && !batch.split
        });
        batch.buf.extend_from_slice(frame);
        if let (false, Some(key)) = (grows, author) {
            let members = self.rooms.online_keys(room).len();
            self.charge(key, members as u64);
        }
        self.note_frames_in(author, start, 1, at);
    }

    /// Something for other recipients comes next (a broadcast, or a
    /// room's members change): seals the pending rooms' frames first.
    #[inline]
    pub(in crate::server) fn end_room_batch(&mut self) {
        if !self.batch.rooms.is_empty() && self.batch.has_frames() {
            self.seal();
        }
    }

    /// Queues `chunk`, said in `rooms` span by span, to their members
    /// online: each gets the ranges of its rooms' spans but its own, in
    /// order, as one entry — a recipient of one span, that span as a
    /// chunk of its own, shared with the span's other recipients (a part
    /// of the whole would be copied for each: see `push_ranges`).
    pub(super) fn queue_rooms(&mut self, chunk: &Rc<[u8]>, spans: &[Span], rooms: &[Rc<str>]) {
        let cuts = &mut self.batch.cuts;
        for (i, span) in spans.iter().enumerate() {
            let Some(room) = rooms.get(span.room as usize) else {
                continue;
            };
            for &key in self.rooms.online_keys(room) {
                if span.author != Some(key) {
                    cuts.add(key, span, i);
                }
            }
        }
        let Cuts {
            slot,
            cuts,
            used,
            parts,
        } = cuts;
        parts.clear();
        parts.resize(spans.len(), None);
        let used = std::mem::take(used);
        for cut in cuts.iter().take(used) {
            let whole = matches!(cut.ranges[..], [(0, end)] if end == chunk.len());
            let part = match (whole, spans.get(cut.span), parts.get_mut(cut.span)) {
                (false, Some(span), Some(part)) => Some(&*part.get_or_insert_with(|| {
                    Rc::from(chunk.get(span.start..span.end).unwrap_or_default())
                })),
                _ => None,
            };
            let what = match (whole, part) {
                (true, _) => Outgoing::Shared(chunk),
                (false, Some(part)) => Outgoing::Shared(part),
                (false, None) => Outgoing::Ranges(chunk, &cut.ranges),
            };
            if self.queues.push(cut.key, what, Limit::Within) {
                self.counters.deliveries += cut.frames;
            }
            if let Some(slot) = slot.get_mut(cut.key) {
                *slot = 0;
            }
        }
        // Kept for the next seal, but not a member of many rooms' worth
        // each: a burst must not leave every member holding a long list.
        for cut in cuts.iter_mut().take(used) {
            if cut.ranges.capacity() > KEEP_RANGES {
                cut.ranges = Vec::new();
            }
        }
        parts.clear();
    }
}
