//! The server's state for one connection, apart from its socket.
//!
//! The hub is generic over `T`, the transport, so that it can be driven
//! without sockets (benchmarks write into `io::sink()`); the event loop uses a
//! mio `TcpStream` there.

use super::outqueue::OutQueue;
use super::store::Letter;
use super::ws::WsDecoder;
use crate::protocol::FrameDecoder;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// Held mail queued at login and not yet known to have arrived. It counts
/// as arrived once its recipient answers the `PING` sent after it; until
/// then the journal still holds it, and if the connection ends first it
/// goes back to the mailbox.
#[derive(Debug)]
pub struct MailInFlight {
    pub owner: Rc<str>,
    pub letters: VecDeque<Rc<Letter>>,
    /// Where in the connection's output (`Session::written` counts) it
    /// starts and ends.
    pub from: u64,
    pub until: u64,
    /// The `PING` token whose `PONG` acknowledges it.
    pub token: String,
}

impl MailInFlight {
    /// Bytes of it not yet written, when `written` bytes are.
    fn unwritten(&self, written: u64) -> u64 {
        self.until.saturating_sub(written.max(self.from))
    }
}

/// A login waiting for its password to be checked off the loop.
#[derive(Debug)]
pub struct PendingAuth {
    /// Matches the answer to this login (a slab key is reused).
    pub serial: u64,
    /// Input that arrived after the LOGIN, replayed once it is decided.
    pub stash: Vec<u8>,
}

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
    /// Who is at the other end, for the log.
    pub peer: Option<SocketAddr>,
    /// Bytes written to the transport so far.
    pub written: u64,
    pub mail: Option<MailInFlight>,
    /// Input is paused while a password is checked.
    pub auth: Option<PendingAuth>,
    pub failed_logins: u32,
    /// Told apart from a later session with the same slab key.
    pub serial: u64,
    /// Output waits until the journal has acknowledged this sequence
    /// number: records this connection caused come before its replies.
    pub gate: u64,
    /// Listed in the queues' list of sessions waiting for the journal.
    pub gated: bool,
    /// The loop turn this connection was last read in (read once a turn).
    pub read_turn: u64,
    /// Listed for reading again next turn (its read budget ran out).
    pub reread: bool,
    /// The peer's end of stream has been signalled (read-closed or error)
    /// and not read yet: read until it is, even past a short read.
    pub eof_pending: bool,
    /// Input read but left for a later turn: the work budget ran out.
    pub unprocessed: Vec<u8>,
    /// Work caused in turn `work_turn` (see `hub::input`).
    pub work: u64,
    pub work_turn: u64,
    /// In a cluster: the names bucket's revision of this session's claim.
    pub claim_rev: u64,
    /// In a cluster: sent something to other nodes since its last `PING`,
    /// so the next one waits for NATS to confirm it.
    pub published: bool,
    /// In a cluster: held mail written to it, with the token of the `PING`
    /// whose answer acknowledges it.
    pub cluster_mail: Vec<(u64, String)>,
    /// What the connection speaks, once its first line has told.
    pub protocol: Protocol,
    /// Bytes read while that is undecided, or an HTTP request's head.
    pub head: Vec<u8>,
    /// When an undecided or HTTP connection is closed if its head has not
    /// come whole (slow headers), whatever the idle timeout.
    pub head_deadline: Option<Instant>,
    /// A WebSocket connection's decoder (boxed: most connections have none).
    pub ws: Option<Box<WsDecoder>>,
    /// A WebSocket close frame has been queued: nothing may follow it.
    pub ws_close_sent: bool,
    /// The server is full: this connection is only told so, in whichever
    /// protocol its first line shows it speaks.
    pub refusal: Option<Box<str>>,
}

/// What a connection speaks (see [`crate::server::http`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Undecided,
    Line,
    Http,
    /// Upgraded from HTTP at `/ws`: one text message is one frame.
    WebSocket,
}

impl<T> Session<T> {
    pub fn new(io: T, peer: Option<SocketAddr>, max_line: usize, now: Instant) -> Session<T> {
        Session {
            io,
            phase: Phase::Open,
            name: None,
            decoder: FrameDecoder::new(max_line),
            out: OutQueue::default(),
            last_heard: now,
            ping_sent: false,
            peer_closed: false,
            dirty: false,
            cut: false,
            joined_at: 0,
            batch_special: false,
            peer,
            written: 0,
            mail: None,
            auth: None,
            failed_logins: 0,
            serial: 0,
            gate: 0,
            gated: false,
            read_turn: 0,
            reread: false,
            eof_pending: false,
            unprocessed: Vec::new(),
            work: 0,
            work_turn: 0,
            claim_rev: 0,
            published: false,
            cluster_mail: Vec::new(),
            protocol: Protocol::Undecided,
            head: Vec::new(),
            head_deadline: None,
            ws: None,
            ws_close_sent: false,
            refusal: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Closing or draining: finishing up, not counted as a client.
    pub fn is_lingering(&self) -> bool {
        matches!(self.phase, Phase::Closing { .. } | Phase::Draining { .. })
    }

    /// Is input paused for a password check?
    pub fn is_paused(&self) -> bool {
        self.auth.is_some()
    }

    /// The peer's address for log lines.
    pub fn peer_name(&self) -> String {
        self.peer
            .map_or_else(|| "(unknown peer)".into(), |p| p.to_string())
    }

    /// Queued bytes that count against `max-queue`: not held mail, which
    /// was counted against the mailbox limits.
    pub fn live_queued(&self) -> usize {
        let mail = self.mail.as_ref().map_or(0, |m| m.unwritten(self.written));
        let mail = usize::try_from(mail).unwrap_or(usize::MAX);
        self.out.len() - mail.min(self.out.len())
    }
}
