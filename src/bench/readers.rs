//! The probe's reader threads and what they share with the coordinator.
//!
//! Receivers are spread over reader threads, each with its own mio `Poll`,
//! so the probe reads in parallel and is not the bottleneck. Each reader
//! thread counts deliveries per connection and publishes the smallest count
//! among its receivers; the publisher uses the minimum over all threads as
//! its flow-control signal. Latency samples go to a per-thread histogram.

use super::fleet::write_retrying;
use super::irc::IrcReader;
use super::wire::{Decoder, Item};
use super::wsconn::WsReader;
use hdrhistogram::Histogram;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters one reader thread shares with the coordinator.
#[derive(Debug, Default)]
pub struct ThreadCounts {
    /// Smallest delivery count among this thread's receivers.
    pub min: AtomicU64,
    /// Largest delivery count among this thread's receivers.
    pub max: AtomicU64,
    /// Deliveries to this thread's receivers.
    pub total: AtomicU64,
    /// Bytes read by this thread from receivers.
    pub bytes: AtomicU64,
    /// Barrier answers seen, on all of this thread's connections.
    pub pongs: AtomicU64,
}

/// State shared by the coordinator and the reader threads.
pub struct Shared {
    pub epoch: Instant,
    pub stop: AtomicBool,
    pub threads: Vec<ThreadCounts>,
    pub latency: Vec<Mutex<Histogram<u64>>>,
    /// The first refusal any connection got from the server.
    pub refused: Mutex<Option<String>>,
    /// The first connection the server closed or broke (WebSocket): its
    /// count will never come, so waiting for it is pointless.
    pub broken: Mutex<Option<String>>,
    /// Held while writing to the fleet's connections, by the coordinator
    /// and by readers answering PINGs, so that frames and lines never
    /// interleave. Readers only try it (see [`pay`]).
    pub writes: Mutex<()>,
}

impl Shared {
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn broken(&self) -> Option<String> {
        self.broken.lock().ok().and_then(|b| b.clone())
    }

    /// The slowest receiver's count, over all threads.
    pub fn min_received(&self) -> u64 {
        self.threads
            .iter()
            .filter(|t| t.max.load(Ordering::Acquire) != u64::MAX)
            .map(|t| t.min.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    pub fn max_received(&self) -> u64 {
        self.threads
            .iter()
            .map(|t| t.max.load(Ordering::Acquire))
            .filter(|&m| m != u64::MAX)
            .max()
            .unwrap_or(0)
    }

    pub fn total_received(&self) -> u64 {
        self.threads
            .iter()
            .map(|t| t.total.load(Ordering::Acquire))
            .sum()
    }

    pub fn bytes_received(&self) -> u64 {
        self.threads
            .iter()
            .map(|t| t.bytes.load(Ordering::Acquire))
            .sum()
    }

    pub fn pongs(&self) -> u64 {
        self.threads
            .iter()
            .map(|t| t.pongs.load(Ordering::Acquire))
            .sum()
    }

    /// Merges and clears the latency histograms (values in microseconds).
    pub fn take_latency(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for h in &self.latency {
            let mut h = h.lock().unwrap_or_else(|p| p.into_inner());
            let _ = all.add(&*h);
            h.reset();
        }
        all
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs to 100 s at 3 significant digits; cannot fail for these bounds.
    Histogram::new_with_bounds(1, 100_000_000, 3).unwrap_or_else(|_| Histogram::new(3).unwrap())
}

/// One connection in the fleet, as the reader thread holds it. The socket
/// is shared with the writers (one fd per connection, not two: a 10000
/// connection run must fit the open-files limit).
pub struct Watched {
    pub stream: Arc<TcpStream>,
    pub decoder: Decoder,
    /// Set when the connection speaks WebSocket.
    pub ws: Option<WsReader>,
    /// Set when the connection speaks IRC.
    pub irc: Option<IrcReader>,
    /// Receivers are counted; publisher connections are only drained.
    pub counted: bool,
    pub count: u64,
}

/// Parses the intended send time (ns since epoch) from a latency payload:
/// `L:<seq>:<ns>:xxxx`.
fn intended_ns(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(b"L:")?;
    let rest = &rest[memchr::memchr(b':', rest)? + 1..];
    let end = memchr::memchr(b':', rest)?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// Takes in one read's bytes: returns the deliveries and barrier answers in
/// them, with latency samples added to `samples`, and whether the
/// connection still owes the server an answer (see [`pay`]).
fn take_in(
    c: &mut Watched,
    data: &mut [u8],
    shared: &Shared,
    samples: &mut Vec<u64>,
) -> (u64, u64, bool) {
    let now = shared.now_ns();
    let (mut got, mut pongs) = (0u64, 0u64);
    let on_item = |item: Item<'_>| match item {
        Item::Message(payload) => {
            got += 1;
            if let Some(sent) = intended_ns(payload) {
                samples.push(now.saturating_sub(sent) / 1000);
            }
        }
        Item::Pong => pongs += 1,
        Item::Error(line) => {
            if let Ok(mut first) = shared.refused.lock() {
                first.get_or_insert_with(|| String::from_utf8_lossy(line).into_owned());
            }
        }
        Item::Ping(_) | Item::Other => {}
    };
    if let Some(irc) = c.irc.as_mut() {
        irc.absorb(data, on_item);
    } else if let Some(ws) = c.ws.as_mut() {
        ws.absorb(&mut c.decoder, data, on_item);
    } else {
        c.decoder.feed(data, on_item);
        return (got, pongs, false);
    }
    (got, pongs, pay(c, shared))
}

/// Writes what `c` owes the server (answers to its PINGs; an IRC
/// client's lines after `001`) and notes a connection the server ended;
/// returns whether something is still owed. While the coordinator writes
/// (a barrier, a publish) it stays owed until a later poll: waiting could
/// hold this thread, and the receivers it reads, behind a publisher's
/// blocked write.
fn pay(c: &mut Watched, shared: &Shared) -> bool {
    let (replies, closed) = match (c.irc.as_mut(), c.ws.as_mut()) {
        (Some(irc), _) => (&mut irc.replies, &mut irc.closed),
        (None, Some(ws)) => (&mut ws.replies, &mut ws.closed),
        (None, None) => return false,
    };
    if !replies.is_empty() {
        let _writing = match shared.writes.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return true,
        };
        if let Err(e) = write_retrying(&c.stream, replies) {
            closed.get_or_insert_with(|| format!("cannot answer the server: {e}"));
        }
        replies.clear();
    }
    if let Some(why) = closed.as_ref() {
        if let Ok(mut first) = shared.broken.lock() {
            first.get_or_insert_with(|| why.clone());
        }
    }
    false
}

/// Reader thread `slot`: reads its connections until `shared.stop`,
/// publishing their counts in `shared.threads[slot]` after every poll.
pub fn read_loop(slot: usize, mut conns: Vec<Watched>, shared: &Shared) {
    let counts = &shared.threads[slot];
    let Ok(mut poll) = Poll::new() else { return };
    for (i, c) in conns.iter_mut().enumerate() {
        let fd = c.stream.as_raw_fd();
        let _ = poll
            .registry()
            .register(&mut SourceFd(&fd), Token(i), Interest::READABLE);
    }
    let receivers = conns.iter().filter(|c| c.counted).count();
    if receivers == 0 {
        counts.max.store(u64::MAX, Ordering::Release); // no say in the minimum
    }
    let mut samples: Vec<u64> = Vec::new();
    // What came with WebSocket handshakes' answers (NATS's INFO, say).
    for c in &mut conns {
        if let Some(mut early) = c.ws.as_mut().map(|ws| std::mem::take(&mut ws.early)) {
            let (got, pongs, _) = take_in(c, &mut early, shared, &mut samples);
            c.count += got;
            counts.pongs.fetch_add(pongs, Ordering::AcqRel);
        }
    }
    // Connections that owe the server an answer not written yet.
    let mut owing: Vec<usize> = (0..conns.len()).collect();
    let mut tally = Tally::new(&conns);
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 << 10];
    while !shared.stop.load(Ordering::Acquire) {
        if poll
            .poll(&mut events, Some(Duration::from_millis(5)))
            .is_err()
        {
            continue;
        }
        let mut turn = Turn::default();
        owing.retain(|&i| pay(&mut conns[i], shared));
        for event in events.iter() {
            let i = event.token().0;
            if let Some(c) = conns.get_mut(i) {
                let owes = turn.read(c, &mut buf, shared, &mut samples, &mut tally);
                if owes && !owing.contains(&i) {
                    owing.push(i);
                }
            }
        }
        if turn.min_moved {
            tally = Tally {
                max: tally.max,
                ..Tally::new(&conns)
            };
        }
        if !samples.is_empty() {
            let mut h = shared.latency[slot]
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for s in samples.drain(..) {
                h.saturating_record(s.max(1));
            }
        }
        if turn.delivered > 0 {
            counts.total.fetch_add(turn.delivered, Ordering::AcqRel);
            counts.bytes.fetch_add(turn.bytes, Ordering::AcqRel);
            counts.max.store(tally.max, Ordering::Release);
        }
        counts.min.store(tally.min, Ordering::Release);
        if turn.pongs > 0 {
            counts.pongs.fetch_add(turn.pongs, Ordering::AcqRel);
        }
    }
}

/// The smallest and largest counts among a thread's receivers.
struct Tally {
    min: u64,
    /// How many receivers have the smallest count: when none is left, the
    /// minimum has moved.
    at_min: usize,
    max: u64,
}

impl Tally {
    fn new(conns: &[Watched]) -> Tally {
        let counted = || conns.iter().filter(|c| c.counted);
        let min = counted().map(|c| c.count).min().unwrap_or(0);
        Tally {
            min,
            at_min: counted().filter(|c| c.count == min).count(),
            max: conns.iter().map(|c| c.count).max().unwrap_or(0),
        }
    }
}

/// What one poll's reads brought.
#[derive(Default)]
struct Turn {
    delivered: u64,
    bytes: u64,
    pongs: u64,
    /// The last receiver at the smallest count got more.
    min_moved: bool,
}

impl Turn {
    /// Reads `c` until it has nothing more now, counting into `tally`;
    /// returns whether it still owes the server an answer.
    fn read(
        &mut self,
        c: &mut Watched,
        buf: &mut [u8],
        shared: &Shared,
        samples: &mut Vec<u64>,
        tally: &mut Tally,
    ) -> bool {
        let mut owes = false;
        loop {
            let n = match (&*c.stream).read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let (got, answers, owed) = take_in(c, &mut buf[..n], shared, samples);
            owes = owed;
            self.pongs += answers;
            if c.counted {
                self.bytes += n as u64;
                self.delivered += got;
                if c.count == tally.min && got > 0 {
                    tally.at_min -= 1;
                    self.min_moved |= tally.at_min == 0;
                }
                c.count += got;
                tally.max = tally.max.max(c.count);
            }
            if n < buf.len() {
                break;
            }
        }
        owes
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_intended_send_time() {
        assert_eq!(super::intended_ns(b"L:12:34567:xxxx"), Some(34567));
        assert_eq!(super::intended_ns(b"T:12:34567:xxxx"), None);
        assert_eq!(super::intended_ns(b"L:12"), None);
    }
}
