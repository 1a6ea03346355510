//! A connection's outgoing bytes: a queue of chunks written with `writev`,
//! and what they cost in memory.
//!
//! Broadcast chunks are shared (`Rc<[u8]>`): a message to 1000 users is one
//! allocation and 1000 pointer pushes, never 1000 copies. Replies meant for
//! this connection alone (PONG, ERR) are appended to an owned chunk at the
//! tail, as Redis does with its reply buffer, so a burst of replies is one
//! allocation and one iovec; so is a small shared chunk (a `USERS` reply, a
//! short private message) queued behind anything, since a copy of a few
//! bytes costs less than an entry that keeps a whole chunk alive.
//!
//! What the queue counts against its limits is [`OutQueue::cost`], what it
//! holds in memory — not only the bytes it has to write: its owned chunks'
//! allocations (capacity, not length), every shared chunk it keeps alive in
//! full (once for a run of ranges of it: another queue holding it may let
//! go first, and then this one alone keeps all of it), and its ring of
//! entries. So a client cannot make the server hold more than its limit by
//! choosing what it asks for.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::mem::size_of;
use std::rc::Rc;

/// Most iovecs handed to one `writev` (Linux allows 1024).
const MAX_IOV: usize = 256;
/// Iovecs for a queue of a few chunks, the usual case.
const SMALL_IOV: usize = 8;
/// An owned tail chunk grows up to this size before a new one is started.
const OWNED_CHUNK: usize = 16 << 10;
/// A new owned chunk's first capacity: room for a few replies; it grows by
/// doubling when more come.
const FRESH_OWNED: usize = 64;
/// Shared chunks up to this size are copied into an owned tail chunk
/// rather than referenced.
const COPY_SMALL: usize = 512;

#[derive(Debug)]
enum Chunk {
    /// A byte range of a buffer shared with other queues.
    Shared(Rc<[u8]>, u32, u32),
    Owned(Vec<u8>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Shared(b, start, end) => b.get(*start as usize..*end as usize).unwrap_or(&[]),
            Chunk::Owned(b) => b,
        }
    }

    /// Is this a range of `chunk`?
    fn is_of(&self, chunk: &Rc<[u8]>) -> bool {
        matches!(self, Chunk::Shared(b, _, _) if Rc::ptr_eq(b, chunk))
    }
}

/// What an allocation of `n` bytes takes from glibc's malloc: an 8-byte
/// header, rounded up to 16 bytes, at least 32.
#[inline]
pub fn heap_bytes(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    (n + 8).next_multiple_of(16).max(32)
}

/// What an `Rc<[u8]>` of `len` bytes takes: its two counts and the bytes.
#[inline]
fn rc_bytes(len: usize) -> usize {
    heap_bytes(len + 2 * size_of::<usize>())
}

/// Past this many slots, an emptied queue gives its memory back: a burst
/// should not leave every idle connection holding a large ring.
const KEEP_SLOTS: usize = 64;

/// Bytes waiting to be written to one connection.
#[derive(Debug, Default)]
pub struct OutQueue {
    chunks: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    head_sent: usize,
    /// Bytes queued and not yet written.
    len: usize,
    /// What the chunks hold in memory (see [`OutQueue::cost`]), the ring
    /// aside.
    held: usize,
    /// What the ring of entries takes.
    ring: usize,
}

impl OutQueue {
    /// Unwritten bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What this queue holds in memory while it has anything queued: the
    /// owned chunks' allocations, each shared chunk it keeps alive (whole,
    /// once per run of ranges of it) and the ring of entries. An empty
    /// queue costs nothing here: it has freed its chunks, and the small
    /// ring it may keep (up to `KEEP_SLOTS` entries) is a fixed part of a
    /// connection, like its read buffer.
    #[inline]
    pub fn cost(&self) -> usize {
        if self.chunks.is_empty() {
            return 0;
        }
        self.held + self.ring
    }

    /// Queues a chunk shared with other connections.
    #[inline]
    pub fn push_shared(&mut self, chunk: &Rc<[u8]>) {
        self.push_range(chunk, 0..chunk.len());
    }

    /// Queues part of a shared chunk (a batch minus this connection's own
    /// frames). Chunks are at most a few hundred KiB, so offsets fit u32.
    #[inline]
    pub fn push_range(&mut self, chunk: &Rc<[u8]>, range: std::ops::Range<usize>) {
        let (Ok(start), Ok(end)) = (u32::try_from(range.start), u32::try_from(range.end)) else {
            return;
        };
        if start >= end || range.end > chunk.len() {
            return;
        }
        // Into an empty queue (a reader that keeps up) the chunk goes as
        // it is; behind other chunks, a small one is copied: one sender's
        // burst of short messages to a slow reader would otherwise be an
        // entry and a kept-alive chunk for each few bytes.
        if range.len() <= COPY_SMALL && !self.chunks.is_empty() {
            let bytes = chunk.get(range).unwrap_or_default();
            self.push_with(|b| b.extend_from_slice(bytes));
            return;
        }
        self.len += range.len();
        if !self.chunks.back().is_some_and(|c| c.is_of(chunk)) {
            self.held += rc_bytes(chunk.len());
        }
        self.push_chunk(Chunk::Shared(Rc::clone(chunk), start, end));
    }

    #[inline]
    fn push_chunk(&mut self, chunk: Chunk) {
        let capacity = self.chunks.capacity();
        self.chunks.push_back(chunk);
        if self.chunks.capacity() != capacity {
            self.ring = heap_bytes(self.chunks.capacity() * size_of::<Chunk>());
        }
    }

    /// Appends frames written by `encode` to this connection alone; returns
    /// how many bytes were added.
    pub fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> usize {
        if !self.tail_has_room() {
            self.push_chunk(Chunk::Owned(Vec::with_capacity(FRESH_OWNED)));
            self.held += heap_bytes(FRESH_OWNED);
        }
        let Some(Chunk::Owned(tail)) = self.chunks.back_mut() else {
            return 0;
        };
        let (before, capacity) = (tail.len(), tail.capacity());
        encode(tail);
        let added = tail.len() - before;
        self.held = self.held + heap_bytes(tail.capacity()) - heap_bytes(capacity);
        self.len += added;
        added
    }

    /// Puts `bytes` at `offset` into what is not yet written, which must be
    /// a frame boundary (it is clamped to the queue's end): for what must
    /// come before frames queued already.
    pub fn insert(&mut self, offset: usize, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let added = bytes.len();
        // Measured in the chunks' own bytes: the front's sent part counts.
        let mut left = offset.min(self.len) + self.head_sent;
        let mut at = 0;
        while let Some(chunk) = self.chunks.get(at) {
            let size = chunk.bytes().len();
            if left < size {
                break;
            }
            left -= size;
            at += 1;
        }
        if left > 0 {
            // Inside chunk `at`: split it in two there.
            let tail = match self.chunks.get_mut(at) {
                Some(Chunk::Shared(b, start, end)) => {
                    let cut = *start + left as u32;
                    let tail = Chunk::Shared(Rc::clone(b), cut, *end);
                    *end = cut;
                    tail
                }
                Some(Chunk::Owned(b)) => Chunk::Owned(b.split_off(left)),
                None => return,
            };
            at += 1;
            self.chunks.insert(at, tail);
        } else if at == 0 && self.head_sent > 0 {
            // At the very front, behind a partly written chunk: nothing
            // goes before bytes already sent, so the chunk is cut there.
            let sent = self.head_sent;
            match self.chunks.front_mut() {
                Some(Chunk::Shared(_, start, _)) => *start += sent as u32,
                Some(Chunk::Owned(b)) => drop(b.drain(..sent)),
                None => {}
            }
            self.head_sent = 0;
        }
        self.chunks.insert(at, Chunk::Owned(bytes));
        self.len += added;
        // Rare (a failed journal write): what the queue holds is counted
        // afresh rather than kept in step through the split.
        self.held = held_by(&self.chunks);
        self.ring = heap_bytes(self.chunks.capacity() * size_of::<Chunk>());
    }

    /// Is the last chunk an owned one with room to append to? Small
    /// appends never grow one past `OWNED_CHUNK`: doubling it then would
    /// leave half of it empty.
    fn tail_has_room(&self) -> bool {
        matches!(self.chunks.back(),
            Some(Chunk::Owned(b)) if b.len() + COPY_SMALL <= b.capacity().max(OWNED_CHUNK))
    }

    /// Drops everything not yet begun, keeping a partly written chunk so the
    /// peer never sees half a frame followed by another frame. Returns the
    /// number of bytes dropped.
    pub fn drop_unstarted(&mut self) -> usize {
        let keep = usize::from(self.head_sent > 0).min(self.chunks.len());
        let before = self.len;
        self.chunks.truncate(keep);
        self.len = self
            .chunks
            .front()
            .map_or(0, |c| c.bytes().len() - self.head_sent);
        if self.chunks.is_empty() {
            self.head_sent = 0;
        }
        self.held = held_by(&self.chunks);
        self.chunks.shrink_to(KEEP_SLOTS);
        self.ring = heap_bytes(self.chunks.capacity() * size_of::<Chunk>());
        before - self.len
    }

    /// Writes as much as the writer takes, one `writev` per call unless the
    /// writer took everything offered. Returns bytes written; `WouldBlock`
    /// is not an error here, it just ends the attempt.
    pub fn write_to(&mut self, writer: &mut impl Write) -> io::Result<usize> {
        // A queue is usually a chunk or two: an iovec array sized for that
        // is cheaper to set up than the largest, once per write.
        if self.chunks.len() <= SMALL_IOV {
            self.write_with::<SMALL_IOV>(writer)
        } else {
            self.write_with::<MAX_IOV>(writer)
        }
    }

    fn write_with<const N: usize>(&mut self, writer: &mut impl Write) -> io::Result<usize> {
        let mut written = 0;
        while !self.is_empty() {
            let mut iov = [IoSlice::new(&[]); N];
            let mut count = 0;
            let mut offered = 0;
            for (i, chunk) in self.chunks.iter().take(N).enumerate() {
                let bytes = chunk.bytes();
                let bytes = if i == 0 {
                    bytes.get(self.head_sent..).unwrap_or_default()
                } else {
                    bytes
                };
                iov[count] = IoSlice::new(bytes);
                offered += bytes.len();
                count += 1;
            }
            match writer.write_vectored(&iov[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.consume(n);
                    written += n;
                    // A short write means the socket buffer is full: asking
                    // again would only earn a WouldBlock.
                    if n < offered {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    fn consume(&mut self, mut n: usize) {
        if n == self.len {
            // All of it, the usual case for a reader that keeps up: a
            // chunk or two, popped without counting each.
            while self.chunks.pop_front().is_some() {}
            (self.len, self.head_sent, self.held) = (0, 0, 0);
            if self.chunks.capacity() > KEEP_SLOTS {
                self.chunks = VecDeque::new();
                self.ring = 0;
            }
            return;
        }
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let left = front.bytes().len() - self.head_sent;
            if n < left {
                self.head_sent += n;
                return;
            }
            n -= left;
            self.head_sent = 0;
            self.pop_front();
        }
        if self.chunks.is_empty() && self.chunks.capacity() > KEEP_SLOTS {
            self.chunks = VecDeque::new();
            self.ring = 0;
        }
    }

    /// Drops the front chunk, and its cost unless the next entry is a
    /// range of the same shared chunk, which keeps it alive.
    fn pop_front(&mut self) {
        let freed = match self.chunks.pop_front() {
            Some(Chunk::Owned(b)) => heap_bytes(b.capacity()),
            Some(Chunk::Shared(b, _, _)) if !self.chunks.front().is_some_and(|c| c.is_of(&b)) => {
                rc_bytes(b.len())
            }
            _ => 0,
        };
        self.held = self.held.saturating_sub(freed);
    }
}

/// What `chunks` hold in memory, counted afresh.
fn held_by(chunks: &VecDeque<Chunk>) -> usize {
    let mut held = 0;
    let mut previous: Option<&Chunk> = None;
    for chunk in chunks {
        held += match chunk {
            Chunk::Owned(b) => heap_bytes(b.capacity()),
            Chunk::Shared(b, _, _) if !previous.is_some_and(|p| p.is_of(b)) => rc_bytes(b.len()),
            Chunk::Shared(..) => 0,
        };
        previous = Some(chunk);
    }
    held
}
