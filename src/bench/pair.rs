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
        let io_err = |who: &str, e: io::Error| format!("pair user {who}: {e}");
        let mut poll = Poll::new().map_err(|e| e.to_string())?;
        for (stream, token) in [(&a, A), (&b, B)] {
            let fd = stream.as_raw_fd();
            poll.registry()
                .register(&mut SourceFd(&fd), token, Interest::READABLE)
                .map_err(|e| e.to_string())?;
        }
        let mut events = Events::with_capacity(8);
        let mut buf = vec![0u8; CHUNK];
        let mut body = vec![b'x'; payload];
        let mut frame = Vec::new();
        let (mut msg, mut ping) = (new_histogram(), new_histogram());
        let deadline = Instant::now() + duration;
        let mut done = 0u64;
        let mut in_flight: Option<InFlight> = None;
        let mut error: Option<String> = None;
        while !counts.quit.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                // Out of time, even with a round trip under way: the flood
                // stops, and that round trip comes back in the end.
                counts.sending_done.store(true, Ordering::Release);
            }
            if in_flight.is_none() && !counts.sending_done.load(Ordering::Acquire) {
                if done < round_trips {
                    frame.clear();
                    fill(&mut body, b'R', done, 0);
                    target.publish(Some(&b_name), &body, &mut frame);
                    target.ping(&mut frame);
                    let sent = Instant::now();
                    write_retrying(&a, &frame).map_err(|e| io_err("A", e))?;
                    in_flight = Some(InFlight {
                        seq: done,
                        sent,
                        msg: None,
                        pong: None,
                    });
                } else {
                    counts.sending_done.store(true, Ordering::Release);
                }
            }
            if in_flight.is_none() && counts.sending_done.load(Ordering::Acquire) {
                counts.complete.store(true, Ordering::Release);
            }
            // Both sockets in turns of one chunk, until neither has more.
            let mut more = true;
            while more {
                more = false;
                if let Some(n) = read_chunk(&a, &mut buf).map_err(|e| io_err("A", e))? {
                    more = true;
                    let now = Instant::now();
                    let mut flood = 0;
                    a_dec.feed(&buf[..n], |item| match item {
                        Item::Message(p) if p.starts_with(b"F:") => flood += 1,
                        Item::Message(p) => {
                            error = Some(format!(
                                "A got an unexpected message: {}",
                                String::from_utf8_lossy(p)
                            ))
                        }
                        Item::Pong => match in_flight.as_mut() {
                            Some(f) if f.pong.is_none() => f.pong = Some(now),
                            _ => error = Some("A got a PONG it did not ask for".into()),
                        },
                        Item::Ping(_) | Item::Error(_) | Item::Other => {}
                    });
                    counts.a_flood.fetch_add(flood, Ordering::AcqRel);
                }
                if let Some(n) = read_chunk(&b, &mut buf).map_err(|e| io_err("B", e))? {
                    more = true;
                    let now = Instant::now();
                    let mut flood = 0;
                    b_dec.feed(&buf[..n], |item| match item {
                        Item::Message(p) if p.starts_with(b"F:") => flood += 1,
                        Item::Message(p) => match (round_seq(p), in_flight.as_mut()) {
                            (Some(seq), Some(f)) if seq == f.seq && f.msg.is_none() => {
                                f.msg = Some(now)
                            }
                            _ => {
                                error = Some(format!(
                                    "B got an unexpected message: {}",
                                    String::from_utf8_lossy(p)
                                ))
                            }
                        },
                        Item::Pong | Item::Ping(_) | Item::Error(_) | Item::Other => {}
                    });
                    counts.b_flood.fetch_add(flood, Ordering::AcqRel);
                }
                if let Some(e) = error.take() {
                    return Err(e);
                }
                if Instant::now() >= deadline {
                    counts.sending_done.store(true, Ordering::Release);
                }
                if let Some(f) = &in_flight {
                    if let (Some(m), Some(p)) = (f.msg, f.pong) {
                        msg.saturating_record(micros(m - f.sent));
                        ping.saturating_record(micros(p - f.sent));
                        done += 1;
                        in_flight = None;
                        break; // send the next one at once
                    }
                }
            }
            if in_flight.is_some() || counts.sending_done.load(Ordering::Acquire) {
                let _ = poll.poll(&mut events, Some(Duration::from_millis(2)));
            }
        }
        if !counts.complete.load(Ordering::Acquire) {
            return Err(format!(
                "the pair's round trip {done} never came back ({})",
                match &in_flight {
                    Some(f) if f.msg.is_none() => "B has not seen the message",
                    _ => "A has no PONG",
                }
            ));
        }
        Ok(PairResult {
            round_trips: done,
            msg,
            ping,
            a,
            b,
        })
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
