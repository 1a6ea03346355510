//! The server's state for one connection, apart from its socket.
//!
//! The hub is generic over `T`, the transport, so that it can be driven
//! without sockets (benchmarks write into `io::sink()`); the event loop uses a
//! mio `TcpStream` there.

use super::outqueue::OutQueue;
use crate::protocol::FrameDecoder;
use std::rc::Rc;
use std::time::Instant;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and answering frames.
    Open,
    /// No more input is processed; the queue is being flushed, then the
    /// write side is shut. Ends at `deadline` whatever is left.
    Closing { deadline: Instant },
    /// Write side shut; input is discarded until the peer closes too (so
    /// our last frames are not destroyed by a reset), or until `deadline`.
    Draining { deadline: Instant },
    /// Finished: the event loop drops it at the end of this turn.
    Dead,
}

#[derive(Debug)]
pub struct Session<T> {
    pub io: T,
    pub phase: Phase,
    /// The logged-in name, shared with the hub's directory.
    pub name: Option<Rc<str>>,
    pub decoder: FrameDecoder,
    pub out: OutQueue,
    /// Queued bytes of held mail, which do not count against `max-queue`
    /// (they were already counted against the mailbox limit).
    pub out_exempt: usize,
    /// When the last complete frame arrived.
    pub last_heard: Instant,
    /// A keep-alive PING is out and unanswered.
    pub ping_sent: bool,
    /// The peer shut its write side (EOF was read).
    pub peer_closed: bool,
    /// Already listed in the hub's dirty list for this turn.
    pub dirty: bool,
    /// Already listed for a slow-consumer cut.
    pub cut: bool,
    /// Batch sequence number at login: earlier broadcasts are not for it.
    pub joined_at: u64,
    /// Authored frames in, or logged in during, the pending batch.
    pub batch_special: bool,
}

impl<T> Session<T> {
    pub fn new(io: T, max_line: usize, now: Instant) -> Session<T> {
        Session {
            io,
            phase: Phase::Open,
            name: None,
            decoder: FrameDecoder::new(max_line),
            out: OutQueue::default(),
            out_exempt: 0,
            last_heard: now,
            ping_sent: false,
            peer_closed: false,
            dirty: false,
            cut: false,
            joined_at: 0,
            batch_special: false,
        }
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Queued bytes that count against `max-queue`.
    pub fn live_queued(&self) -> usize {
        self.out.len() - self.out_exempt.min(self.out.len())
    }
}
