//! The flooding client of the flood scenario.
//!
//! It pipelines identical frames as fast as its socket takes them (one
//! `write` of up to 256 KiB at a time, from a ring of ready frames, so the
//! probe is never what limits the flood), reading whatever comes back on
//! the same thread. Floods that produce deliveries
//! (say, msg) stay within a window of frames ahead of the slowest receiver
//! of the flood — large enough that the server always has far more than one
//! turn's read budget waiting from this client, small enough that no
//! receiver falls `--max-queue` behind and gets cut. A pong flood produces
//! nothing to wait for and goes flat out. At the end it sends a barrier, so
//! its frame count and time cover frames the server has processed, not
//! frames sitting in socket buffers.

use super::fleet::write_retrying;
use super::phase::fill;
use super::wire::{Decoder, Item, Target};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which load the flooder puts on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flood {
    /// Broadcasts that fan out to every other user (Redis, NATS: publishes
    /// to the channel everyone subscribes to).
    Say,
    /// Private messages to itself (Redis, NATS: publishes to a channel with
    /// one subscriber, which cannot be the publisher itself there).
    Msg,
    /// PONG frames, which the server only parses (Redis, NATS: publishes to
    /// a channel nobody subscribes to).
    Pong,
}

/// The channel or subject nobody subscribes to.
const VOID: &str = "bench-void";

/// Appends one flood frame.
pub fn frame(target: Target, flood: Flood, to: &str, payload: &[u8], out: &mut Vec<u8>) {
    match (flood, target) {
        (Flood::Say, _) => target.publish(None, payload, out),
        (Flood::Msg, _) => target.publish(Some(to), payload, out),
        (Flood::Pong, Target::Evchat) => {
            out.extend_from_slice(b"PONG ");
            out.extend_from_slice(payload);
            out.push(b'\n');
        }
        (Flood::Pong, _) => target.publish(Some(VOID), payload, out),
    }
}

/// Counters the flooder shares with the coordinator.
#[derive(Debug, Default)]
pub struct FloodCounts {
    /// Frames written in full so far.
    pub sent: AtomicU64,
    /// Flood messages delivered back to the flooder or its sink.
    pub returned: AtomicU64,
    /// Set once the barrier after the last frame has been answered.
    pub finished: AtomicBool,
    /// The flooder gave up (its error is what the run reports).
    pub failed: AtomicBool,
    /// Set by the coordinator: stop reading and return.
    pub quit: AtomicBool,
}

/// What the flood achieved: frames, and the seconds from the first write
/// to the answer of the barrier after the last; and the connections, still
/// open (closing them now would add a LEFT to the server's counts).
pub struct FloodResult {
    pub frames: u64,
    pub seconds: f64,
    pub streams: Vec<TcpStream>,
}

/// The flooding connection, and the one that receives its private flood
/// where it cannot be itself.
pub struct Flooder {
    pub target: Target,
    pub flood: Flood,
    pub stream: (TcpStream, Decoder),
    pub sink: Option<(TcpStream, Decoder)>,
    /// Where a msg flood goes: the flooder's own name, or the sink's.
    pub to: String,
    pub payload: usize,
    /// Frames to send at most (`None`: until `stop`).
    pub cap: Option<u64>,
    /// Most frames ahead of `progress()` (`None`: no limit).
    pub window: Option<u64>,
}

fn drain(conn: &mut (TcpStream, Decoder), buf: &mut [u8], pongs: &mut u64) -> io::Result<u64> {
    let mut returned = 0;
    loop {
        match (&conn.0).read(buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the flooding connection",
                ))
            }
            Ok(n) => conn.1.feed(&buf[..n], |item| match item {
                Item::Message(p) if p.starts_with(b"F:") => returned += 1,
                Item::Pong => *pongs += 1,
                _ => {}
            }),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(returned),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

impl Flooder {
    /// Floods until `stop()` or the cap, then waits for the barrier and
    /// reads on until `counts.quit`.
    pub fn run(
        mut self,
        counts: &FloodCounts,
        stop: impl Fn() -> bool,
        progress: impl Fn() -> u64,
    ) -> Result<FloodResult, String> {
        let err = |e: io::Error| format!("flooder: {e}");
        let mut poll = self.poll().map_err(err)?;
        let mut events = Events::with_capacity(8);
        let mut buf = vec![0u8; 256 << 10];
        let (ring, len) = self.ring();
        let cap = self.cap.unwrap_or(u64::MAX);
        let (mut bytes, mut pongs) = (0u64, 0u64);
        let start = Instant::now();
        let mut barrier_sent = false;
        let mut finished_at = Duration::ZERO;
        loop {
            let mut returned = drain(&mut self.stream, &mut buf, &mut pongs).map_err(err)?;
            if let Some(sink) = &mut self.sink {
                returned += drain(sink, &mut buf, &mut pongs).map_err(err)?;
            }
            counts.returned.fetch_add(returned, Ordering::AcqRel);
            if barrier_sent {
                if pongs > 0 && !counts.finished.load(Ordering::Acquire) {
                    finished_at = start.elapsed();
                    counts.finished.store(true, Ordering::Release);
                }
                if counts.quit.load(Ordering::Acquire) {
                    break;
                }
                let _ = poll.poll(&mut events, Some(Duration::from_millis(5)));
                continue;
            }
            let sent = bytes / len;
            let partial = bytes % len;
            let room = if sent >= cap || stop() {
                if partial == 0 {
                    // Every frame counted was written in full: the barrier.
                    let mut ping = Vec::new();
                    self.target.ping(&mut ping);
                    write_retrying(&self.stream.0, &ping).map_err(err)?;
                    pongs = 0;
                    barrier_sent = true;
                    continue;
                }
                len - partial // finish the frame under way
            } else {
                let allowed = self
                    .window
                    .map_or(cap, |w| cap.min(progress().saturating_add(w)));
                allowed
                    .saturating_sub(sent)
                    .saturating_mul(len)
                    .saturating_sub(partial)
            };
            let before = bytes;
            let blocked = self.write_ring(&ring, &mut bytes, room).map_err(err)?;
            if bytes != before {
                counts.sent.store(bytes / len, Ordering::Release);
            }
            if blocked {
                // The socket is full, or the window is: wait for room.
                let _ = poll.poll(&mut events, Some(Duration::from_millis(1)));
            }
        }
        let sent = bytes / len;
        Ok(FloodResult {
            frames: sent,
            seconds: finished_at.as_secs_f64(),
            streams: std::iter::once(self.stream.0)
                .chain(self.sink.map(|s| s.0))
                .collect(),
        })
    }

    /// A poll on the flooding connection (readable and writable) and the
    /// sink's (readable).
    fn poll(&self) -> io::Result<Poll> {
        let poll = Poll::new()?;
        let fd = self.stream.0.as_raw_fd();
        poll.registry().register(
            &mut SourceFd(&fd),
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        if let Some((sink, _)) = &self.sink {
            let fd = sink.as_raw_fd();
            poll.registry()
                .register(&mut SourceFd(&fd), Token(1), Interest::READABLE)?;
        }
        Ok(poll)
    }

    /// About 256 KiB of identical flood frames, and one frame's length.
    /// Every frame is the same, so a ring of them is written as fast as
    /// the socket takes bytes, and frames sent = bytes written ÷ length.
    fn ring(&self) -> (Vec<u8>, u64) {
        let mut body = vec![b'x'; self.payload];
        fill(&mut body, b'F', 0, 0);
        let mut one = Vec::new();
        frame(self.target, self.flood, &self.to, &body, &mut one);
        let ring = one.repeat(((256 << 10) / one.len()).max(1));
        (ring, one.len() as u64)
    }

    /// Writes at most `room` bytes of `ring`, from where the `bytes` written
    /// so far left off; whether it could not (the socket is full, or the
    /// window: `room` is 0).
    fn write_ring(&self, ring: &[u8], bytes: &mut u64, room: u64) -> io::Result<bool> {
        let at = (*bytes % ring.len() as u64) as usize;
        let end = ring.len().min(at.saturating_add(room as usize));
        if at == end {
            return Ok(true); // the window is full
        }
        match (&self.stream.0).write(&ring[at..end]) {
            Ok(n) => {
                *bytes += n as u64;
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_frames_in_each_format() {
        let mut out = Vec::new();
        frame(Target::Evchat, Flood::Pong, "me", b"F:1", &mut out);
        frame(Target::Evchat, Flood::Msg, "me", b"F:2", &mut out);
        frame(Target::Evchat, Flood::Say, "me", b"F:3", &mut out);
        frame(Target::Nats, Flood::Pong, "me", b"F:4", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PONG F:1\nMSG me F:2\nSAY F:3\nPUB bench-void 3\r\nF:4\r\n"
        );
    }
}
