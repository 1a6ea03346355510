//! A connection's outgoing bytes: a queue of chunks written with `writev`.
//!
//! Broadcast chunks are shared (`Rc<[u8]>`): a message to 1000 users is one
//! allocation and 1000 pointer pushes, never 1000 copies. Replies meant for
//! this connection alone (PONG, ERR, USERS) are appended to an owned chunk at
//! the tail, as Redis does with its reply buffer, so a burst of replies is
//! one allocation and one iovec.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::rc::Rc;

/// Most iovecs handed to one `writev` (Linux allows 1024).
const MAX_IOV: usize = 256;
/// Iovecs for a queue of a few chunks, the usual case.
const SMALL_IOV: usize = 8;
/// An owned tail chunk grows up to this size before a new one is started.
const OWNED_CHUNK: usize = 16 << 10;

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
}

impl OutQueue {
    /// Unwritten bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes this queue keeps alive: whole shared chunks, even when only
    /// part of one is queued, and the owned ones' capacity.
    pub fn retained(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| match c {
                Chunk::Shared(b, _, _) => b.len(),
                Chunk::Owned(b) => b.capacity(),
            })
            .sum()
    }

    /// Queues a chunk shared with other connections.
    pub fn push_shared(&mut self, chunk: &Rc<[u8]>) {
        self.push_range(chunk, 0..chunk.len());
    }

    /// Queues part of a shared chunk (a batch minus this connection's own
    /// frames). Chunks are at most a few hundred KiB, so offsets fit u32.
    pub fn push_range(&mut self, chunk: &Rc<[u8]>, range: std::ops::Range<usize>) {
        let (Ok(start), Ok(end)) = (u32::try_from(range.start), u32::try_from(range.end)) else {
            return;
        };
        if start >= end || range.end > chunk.len() {
            return;
        }
        self.len += range.len();
        self.chunks
            .push_back(Chunk::Shared(Rc::clone(chunk), start, end));
    }

    /// Appends frames written by `encode` to this connection alone; returns
    /// how many bytes were added.
    pub fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> usize {
        let reuse = matches!(self.chunks.back(), Some(Chunk::Owned(b)) if b.len() < OWNED_CHUNK);
        if !reuse {
            self.chunks.push_back(Chunk::Owned(Vec::with_capacity(256)));
        }
        let Some(Chunk::Owned(tail)) = self.chunks.back_mut() else {
            return 0;
        };
        let before = tail.len();
        encode(tail);
        let added = tail.len() - before;
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
            self.chunks.pop_front();
        }
        if self.chunks.is_empty() && self.chunks.capacity() > KEEP_SLOTS {
            self.chunks = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unwritten(q: &OutQueue) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, c) in q.chunks.iter().enumerate() {
            let b = c.bytes();
            out.extend_from_slice(if i == 0 { &b[q.head_sent..] } else { b });
        }
        assert_eq!(out.len(), q.len());
        out
    }

    #[test]
    fn bytes_inserted_go_exactly_where_asked_in_any_chunk() {
        for offset in 0..=12 {
            let mut q = OutQueue::default();
            let shared: Rc<[u8]> = Rc::from(&b"xxAAAA"[..]);
            q.push_range(&shared, 2..6);
            q.push_with(|b| b.extend_from_slice(b"BBBB"));
            q.push_shared(&Rc::from(&b"CCCC"[..]));
            q.insert(offset, b"!".to_vec());
            let mut expected = b"AAAABBBBCCCC".to_vec();
            expected.insert(offset, b'!');
            assert_eq!(unwritten(&q), expected, "at {offset}");
        }
        // Past a partly written front chunk.
        let mut q = OutQueue::default();
        q.push_with(|b| b.extend_from_slice(b"AAAA"));
        q.consume(2);
        q.insert(0, b"!".to_vec());
        q.insert(2, b"?".to_vec());
        assert_eq!(unwritten(&q), b"!A?A");
        q.insert(99, b".".to_vec());
        assert_eq!(unwritten(&q), b"!A?A.");
    }

    /// A writer that takes at most `limit` bytes per call, then blocks.
    struct Trickle {
        got: Vec<u8>,
        limit: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            if self.limit == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.limit - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
            }
            self.limit -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_shared_and_owned_chunks_in_order() {
        let shared: Rc<[u8]> = Rc::from(&b"SAY a t hi\n"[..]);
        let mut q = OutQueue::default();
        q.push_with(|b| b.extend_from_slice(b"OK LOGIN x\n"));
        q.push_shared(&shared);
        q.push_with(|b| b.extend_from_slice(b"PONG\n"));
        q.push_with(|b| b.extend_from_slice(b"PONG 2\n"));
        assert_eq!(q.len(), 11 + 11 + 5 + 7);
        let mut w = Trickle {
            got: vec![],
            limit: 15,
            calls: 0,
        };
        assert_eq!(q.write_to(&mut w).unwrap(), 15);
        assert_eq!(w.calls, 1, "a short write ends the attempt");
        w.limit = 1000;
        q.write_to(&mut w).unwrap();
        assert_eq!(w.got, b"OK LOGIN x\nSAY a t hi\nPONG\nPONG 2\n");
        assert!(q.is_empty());
        assert_eq!(Rc::strong_count(&shared), 1);
    }

    #[test]
    fn a_long_queue_is_written_in_as_many_writes_as_it_takes() {
        let shared: Rc<[u8]> = Rc::from(&b"x\n"[..]);
        let mut q = OutQueue::default();
        for _ in 0..(MAX_IOV + SMALL_IOV + 3) {
            q.push_shared(&shared);
        }
        let mut w = Trickle {
            got: vec![],
            limit: usize::MAX,
            calls: 0,
        };
        q.write_to(&mut w).unwrap();
        assert_eq!(w.got.len(), 2 * (MAX_IOV + SMALL_IOV + 3));
        assert_eq!(w.calls, 2, "MAX_IOV chunks a writev");
        assert!(q.is_empty());
    }

    #[test]
    fn ranges_of_a_shared_chunk() {
        let shared: Rc<[u8]> = Rc::from(&b"AAA\nBBB\nCCC\n"[..]);
        let mut q = OutQueue::default();
        q.push_range(&shared, 0..4);
        q.push_range(&shared, 8..12);
        q.push_range(&shared, 12..99); // out of bounds: ignored
        q.push_range(&shared, 4..4); // empty: ignored
        assert_eq!(q.len(), 8);
        let mut w = Trickle {
            got: vec![],
            limit: 100,
            calls: 0,
        };
        q.write_to(&mut w).unwrap();
        assert_eq!(w.got, b"AAA\nCCC\n");
    }

    #[test]
    fn drop_unstarted_keeps_a_partly_written_frame() {
        let mut q = OutQueue::default();
        q.push_with(|b| b.extend_from_slice(&[b'a'; OWNED_CHUNK + 1]));
        q.push_with(|b| b.extend_from_slice(b"later\n"));
        let mut w = Trickle {
            got: vec![],
            limit: 10,
            calls: 0,
        };
        q.write_to(&mut w).unwrap();
        assert_eq!(q.drop_unstarted(), 6);
        assert_eq!(q.len(), OWNED_CHUNK + 1 - 10);
        let mut fresh = OutQueue::default();
        fresh.push_with(|b| b.extend_from_slice(b"x\n"));
        assert_eq!(fresh.drop_unstarted(), 2);
        assert!(fresh.is_empty());
    }
}
