//! The pair of ordinary users of the flood scenario, and what they feel.
//!
//! User A sends B a private message and, in the same write, a `PING`
//! barrier; a round trip ends when B has the message and A has the `PONG`.
//! The time to B's message is what a user waits to see what someone wrote;
//! the time to A's `PONG` is how long the server takes to get to A at all.
//! Round trips run back to back (closed loop, one at a time), both recorded
//! in HdrHistograms in microseconds. One thread reads both sockets in 64 KiB
//! turns, counting the flood's broadcasts they receive on the way, so
//! neither socket's backlog delays noticing the other's answer for long.

use super::fleet::{new_histogram, write_retrying};
use super::phase::fill;
use super::wire::{Decoder, Item, Target};
use hdrhistogram::Histogram;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters the pair shares with the coordinator and the flooder.
#[derive(Debug, Default)]
pub struct PairCounts {
    /// Flood messages A and B have received.
    pub a_flood: AtomicU64,
    pub b_flood: AtomicU64,
    /// The pair sends no more round trips (done, or out of time); the
    /// flooder stops when it sees this.
    pub sending_done: AtomicBool,
    /// The last round trip has come back.
    pub complete: AtomicBool,
    /// The pair gave up (its error is what the run reports).
    pub failed: AtomicBool,
    /// Set by the coordinator: stop reading and return.
    pub quit: AtomicBool,
}

/// What the pair measured.
pub struct PairResult {
    pub round_trips: u64,
    /// From A's write to B's reading the message, µs.
    pub msg: Histogram<u64>,
    /// From A's write to A's reading the PONG, µs.
    pub ping: Histogram<u64>,
    pub a: TcpStream,
    pub b: TcpStream,
}

/// The pair: A and B connected, logged in and non-blocking.
pub struct Pair {
    pub target: Target,
    pub a: (TcpStream, Decoder),
    pub b: (TcpStream, Decoder),
    /// B's name (its private channel or subject).
    pub b_name: String,
    pub payload: usize,
    pub round_trips: u64,
    /// No new round trip starts after this long.
    pub duration: Duration,
}

/// One round trip under way.
struct InFlight {
    seq: u64,
    sent: Instant,
    msg: Option<Instant>,
    pong: Option<Instant>,
}

const A: Token = Token(0);
const B: Token = Token(1);
const CHUNK: usize = 64 << 10;

/// Reads one chunk; `Ok(None)` when the socket has nothing now.
fn read_chunk(stream: &TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match (&*stream).read(buf) {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection (an idle timeout shorter than the run?)",
        )),
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Some(0)),
        Err(e) => Err(e),
    }
}

/// The sequence number of a round-trip payload `R:<seq>:...`.
fn round_seq(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(b"R:")?;
    let end = memchr::memchr(b':', rest)?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

impl Pair {
    /// Runs round trips until done or out of time, then reads on (counting
    /// flood messages) until `counts.quit`.
    pub fn run(self, counts: &PairCounts) -> Result<PairResult, String> {
        let Pair {
            target,
            a: (a, mut a_dec),
            b: (b, mut b_dec),
            b_name,
            payload,
            round_trips,
            duration,
        } = self;
        let mut poll = Poll::new().map_err(|e| e.to_string())?;
        for (stream, token) in [(&a, A), (&b, B)] {
            let fd = stream.as_raw_fd();
            poll.registry()
                .register(&mut SourceFd(&fd), token, Interest::READABLE)
                .map_err(|e| e.to_string())?;
        }
        let mut events = Events::with_capacity(8);
        let mut buf = vec![0u8; CHUNK];
        let mut trips = Trips::new(target, b_name, payload);
        let deadline = Instant::now() + duration;
        while !counts.quit.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                // Out of time, even with a round trip under way: the flood
                // stops, and that round trip comes back in the end.
                counts.sending_done.store(true, Ordering::Release);
            }
            if trips.in_flight.is_none() && !counts.sending_done.load(Ordering::Acquire) {
                if trips.done < round_trips {
                    trips.send(&a).map_err(|e| io_err("A", e))?;
                } else {
                    counts.sending_done.store(true, Ordering::Release);
                }
            }
            if trips.in_flight.is_none() && counts.sending_done.load(Ordering::Acquire) {
                counts.complete.store(true, Ordering::Release);
            }
            let (a, b) = ((&a, &mut a_dec), (&b, &mut b_dec));
            trips.read_turns(a, b, &mut buf, counts, deadline)?;
            if trips.in_flight.is_some() || counts.sending_done.load(Ordering::Acquire) {
                let _ = poll.poll(&mut events, Some(Duration::from_millis(2)));
            }
        }
        if !counts.complete.load(Ordering::Acquire) {
            return Err(format!(
                "the pair's round trip {} never came back ({})",
                trips.done,
                match &trips.in_flight {
                    Some(f) if f.msg.is_none() => "B has not seen the message",
                    _ => "A has no PONG",
                }
            ));
        }
        Ok(PairResult {
            round_trips: trips.done,
            msg: trips.msg,
            ping: trips.ping,
            a,
            b,
        })
    }
}

fn io_err(who: &str, e: io::Error) -> String {
    format!("pair user {who}: {e}")
}

/// The round trips: the one under way, and those done.
struct Trips {
    target: Target,
    b_name: String,
    body: Vec<u8>,
    frame: Vec<u8>,
    done: u64,
    in_flight: Option<InFlight>,
    /// What went wrong in the last read (reported after both were read).
    error: Option<String>,
    msg: Histogram<u64>,
    ping: Histogram<u64>,
}

impl Trips {
    fn new(target: Target, b_name: String, payload: usize) -> Trips {
        Trips {
            target,
            b_name,
            body: vec![b'x'; payload],
            frame: Vec::new(),
            done: 0,
            in_flight: None,
            error: None,
            msg: new_histogram(),
            ping: new_histogram(),
        }
    }

    /// Starts round trip `done`: A sends B the message and, in the same
    /// write, a PING.
    fn send(&mut self, a: &TcpStream) -> io::Result<()> {
        self.frame.clear();
        fill(&mut self.body, b'R', self.done, 0);
        let to = Some(self.b_name.as_str());
        self.target.publish(to, &self.body, &mut self.frame);
        self.target.ping(&mut self.frame);
        let sent = Instant::now();
        write_retrying(a, &self.frame)?;
        self.in_flight = Some(InFlight {
            seq: self.done,
            sent,
            msg: None,
            pong: None,
        });
        Ok(())
    }

    /// Reads both sockets in turns of one chunk until neither has more,
    /// counting the flood's messages; stops early when the round trip
    /// under way is complete (the next goes out at once).
    fn read_turns(
        &mut self,
        (a, a_dec): (&TcpStream, &mut Decoder),
        (b, b_dec): (&TcpStream, &mut Decoder),
        buf: &mut [u8],
        counts: &PairCounts,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut more = true;
        while more {
            more = false;
            if let Some(n) = read_chunk(a, buf).map_err(|e| io_err("A", e))? {
                more = true;
                let flood = self.take_a(a_dec, &buf[..n], Instant::now());
                counts.a_flood.fetch_add(flood, Ordering::AcqRel);
            }
            if let Some(n) = read_chunk(b, buf).map_err(|e| io_err("B", e))? {
                more = true;
                let flood = self.take_b(b_dec, &buf[..n], Instant::now());
                counts.b_flood.fetch_add(flood, Ordering::AcqRel);
            }
            if let Some(e) = self.error.take() {
                return Err(e);
            }
            if Instant::now() >= deadline {
                counts.sending_done.store(true, Ordering::Release);
            }
            if self.record_complete() {
                break; // send the next one at once
            }
        }
        Ok(())
    }

    /// Takes in what A read at `now`: the PONG of the round trip under
    /// way. Returns the flood messages in it.
    fn take_a(&mut self, decoder: &mut Decoder, data: &[u8], now: Instant) -> u64 {
        let (in_flight, error) = (&mut self.in_flight, &mut self.error);
        let mut flood = 0;
        decoder.feed(data, |item| match item {
            Item::Message(p) if p.starts_with(b"F:") => flood += 1,
            Item::Message(p) => {
                *error = Some(format!(
                    "A got an unexpected message: {}",
                    String::from_utf8_lossy(p)
                ))
            }
            Item::Pong => match in_flight.as_mut() {
                Some(f) if f.pong.is_none() => f.pong = Some(now),
                _ => *error = Some("A got a PONG it did not ask for".into()),
            },
            Item::Ping(_) | Item::Error(_) | Item::Other => {}
        });
        flood
    }

    /// Takes in what B read at `now`: the message of the round trip under
    /// way. Returns the flood messages in it.
    fn take_b(&mut self, decoder: &mut Decoder, data: &[u8], now: Instant) -> u64 {
        let (in_flight, error) = (&mut self.in_flight, &mut self.error);
        let mut flood = 0;
        decoder.feed(data, |item| match item {
            Item::Message(p) if p.starts_with(b"F:") => flood += 1,
            Item::Message(p) => match (round_seq(p), in_flight.as_mut()) {
                (Some(seq), Some(f)) if seq == f.seq && f.msg.is_none() => f.msg = Some(now),
                _ => {
                    *error = Some(format!(
                        "B got an unexpected message: {}",
                        String::from_utf8_lossy(p)
                    ))
                }
            },
            Item::Pong | Item::Ping(_) | Item::Error(_) | Item::Other => {}
        });
        flood
    }

    /// Records the round trip under way if B has its message and A its
    /// PONG; whether it did.
    fn record_complete(&mut self) -> bool {
        let Some(f) = &self.in_flight else {
            return false;
        };
        let (Some(m), Some(p)) = (f.msg, f.pong) else {
            return false;
        };
        self.msg.saturating_record(micros(m - f.sent));
        self.ping.saturating_record(micros(p - f.sent));
        self.done += 1;
        self.in_flight = None;
        true
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_round_trip_sequence() {
        assert_eq!(super::round_seq(b"R:42:0:xxxx"), Some(42));
        assert_eq!(super::round_seq(b"F:42:0:xxxx"), None);
        assert_eq!(super::round_seq(b"R:4x"), None);
    }
}
