//! A fleet of benchmark connections and the threads that read them.
//!
//! Receivers are spread over reader threads, each with its own mio `Poll`,
//! so the probe reads in parallel and is not the bottleneck. Each reader
//! thread counts deliveries per connection and publishes the smallest count
//! among its receivers; the publisher uses the minimum over all threads as
//! its flow-control signal. Latency samples go to a per-thread histogram.

use super::wire::{Decoder, Item, Target};
use hdrhistogram::Histogram;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
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
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
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
struct Watched {
    stream: Arc<TcpStream>,
    decoder: Decoder,
    /// Receivers are counted; publisher connections are only drained.
    counted: bool,
    count: u64,
}

/// The connections of one benchmark run.
pub struct Fleet {
    pub shared: Arc<Shared>,
    /// Receivers' sockets, in index order (for writing).
    pub receivers: Vec<Arc<TcpStream>>,
    /// Publishers' sockets, in index order.
    pub publishers: Vec<Arc<TcpStream>>,
    pub target: Target,
    handles: Vec<JoinHandle<()>>,
}

/// What to open.
pub struct FleetSpec {
    pub target: Target,
    /// Receiver `i` connects to `addrs[i % len]`, publishers to the first
    /// (one server, or the nodes of a cluster).
    pub addrs: Vec<SocketAddr>,
    pub receivers: usize,
    pub publishers: usize,
    /// Receivers also publish (mesh, private); only where the target allows.
    pub receivers_publish: bool,
    pub readers: usize,
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The name of the bench's connection `i` (also its private channel /
/// subject). Every scenario draws from the same names, `bench-0`,
/// `bench-1`, ..., in order: an open evchat server remembers every name that
/// ever logged in, so repeated runs must reuse a small fixed set instead of
/// leaving fresh names behind each time.
pub fn bench_name(i: usize) -> String {
    format!("bench-{i}")
}

impl Fleet {
    /// Opens every connection, subscribes, and waits until all are ready
    /// and all presence traffic has been drained.
    pub fn open(spec: &FleetSpec, patience: Duration) -> io::Result<Fleet> {
        let readers = spec.readers.max(1);
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            threads: (0..readers).map(|_| ThreadCounts::default()).collect(),
            latency: (0..readers).map(|_| Mutex::new(new_histogram())).collect(),
            refused: Mutex::new(None),
        });
        let mut per_thread: Vec<Vec<Watched>> = (0..readers).map(|_| Vec::new()).collect();
        let mut receivers = Vec::with_capacity(spec.receivers);
        let mut publishers = Vec::with_capacity(spec.publishers);
        let mut hello = Vec::new();
        let mut add =
            |stream: TcpStream, counted: bool, slot: usize| -> io::Result<Arc<TcpStream>> {
                stream.set_nonblocking(true)?;
                let stream = Arc::new(stream);
                per_thread[slot % readers].push(Watched {
                    stream: Arc::clone(&stream),
                    decoder: Decoder::new(spec.target),
                    counted,
                    count: 0,
                });
                Ok(stream)
            };
        let addr = |i: usize| spec.addrs[i % spec.addrs.len().max(1)];
        for i in 0..spec.receivers {
            let stream = connect(addr(i))?;
            hello.clear();
            spec.target.subscribe(&bench_name(i), &mut hello);
            (&stream).write_all(&hello)?;
            receivers.push(add(stream, true, i)?);
        }
        for i in 0..spec.publishers {
            let stream = connect(addr(0))?;
            hello.clear();
            spec.target
                .publisher(&bench_name(spec.receivers + i), &mut hello);
            (&stream).write_all(&hello)?;
            publishers.push(add(stream, false, i)?);
        }
        let mut handles = Vec::new();
        for (slot, watched) in per_thread.into_iter().enumerate() {
            let shared = Arc::clone(&shared);
            handles.push(
                std::thread::Builder::new()
                    .name(format!("bench-reader-{slot}"))
                    .spawn(move || read_loop(slot, watched, &shared))?,
            );
        }
        let fleet = Fleet {
            shared,
            receivers,
            publishers,
            target: spec.target,
            handles,
        };
        let everyone = (spec.receivers + spec.publishers) as u64;
        fleet.wait_pongs(everyone, patience)?;
        // A second barrier: JOINED notices caused by later logins reach
        // earlier users before this round's answers.
        fleet.barrier(patience)?;
        // A refused login (a server with accounts, say) still answers the
        // barrier: measuring it would only stall.
        if let Some(why) = fleet.refused() {
            return Err(io::Error::other(format!("the server refused: {why}")));
        }
        Ok(fleet)
    }

    /// The first refusal a connection of the fleet got, if any.
    pub fn refused(&self) -> Option<String> {
        self.shared.refused.lock().ok().and_then(|r| r.clone())
    }

    /// Sends a barrier request on every connection and waits for all answers.
    pub fn barrier(&self, patience: Duration) -> io::Result<()> {
        let before = self.shared.pongs();
        let mut ping = Vec::new();
        self.target.ping(&mut ping);
        for stream in self.receivers.iter().chain(&self.publishers) {
            write_retrying(stream, &ping)?;
        }
        let count = (self.receivers.len() + self.publishers.len()) as u64;
        self.wait_pongs(before + count, patience)
    }

    fn wait_pongs(&self, want: u64, patience: Duration) -> io::Result<()> {
        let deadline = Instant::now() + patience;
        while self.shared.pongs() < want {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "only {} of {want} connections answered",
                        self.shared.pongs()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Closes the fleet politely (QUIT where the protocol has one).
    pub fn close(mut self) {
        let mut quit = Vec::new();
        self.target.quit(&mut quit);
        for stream in self.receivers.iter().chain(&self.publishers) {
            if !quit.is_empty() {
                let _ = write_retrying(stream, &quit);
            }
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
        self.shared.stop.store(true, Ordering::Release);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Writes all of `data` to a (possibly non-blocking) socket.
pub fn write_retrying(mut stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(100))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Parses the intended send time (ns since epoch) from a latency payload:
/// `L:<seq>:<ns>:xxxx`.
fn intended_ns(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(b"L:")?;
    let rest = &rest[memchr::memchr(b':', rest)? + 1..];
    let end = memchr::memchr(b':', rest)?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

fn read_loop(slot: usize, mut conns: Vec<Watched>, shared: &Shared) {
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
    let mut at_min = receivers;
    let mut min = 0u64;
    let mut max = 0u64;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 << 10];
    let mut samples: Vec<u64> = Vec::new();
    while !shared.stop.load(Ordering::Acquire) {
        if poll
            .poll(&mut events, Some(Duration::from_millis(5)))
            .is_err()
        {
            continue;
        }
        let mut delivered = 0u64;
        let mut bytes = 0u64;
        let mut pongs = 0u64;
        let mut min_moved = false;
        for event in events.iter() {
            let Some(c) = conns.get_mut(event.token().0) else {
                continue;
            };
            loop {
                let n = match (&*c.stream).read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let now = shared.now_ns();
                let mut got = 0u64;
                c.decoder.feed(&buf[..n], |item| match item {
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
                    Item::Other => {}
                });
                if c.counted {
                    bytes += n as u64;
                    delivered += got;
                    if c.count == min && got > 0 {
                        at_min -= 1;
                        min_moved |= at_min == 0;
                    }
                    c.count += got;
                    max = max.max(c.count);
                }
                if n < buf.len() {
                    break;
                }
            }
        }
        if min_moved {
            min = conns
                .iter()
                .filter(|c| c.counted)
                .map(|c| c.count)
                .min()
                .unwrap_or(0);
            at_min = conns.iter().filter(|c| c.counted && c.count == min).count();
        }
        if !samples.is_empty() {
            let mut h = shared.latency[slot]
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for s in samples.drain(..) {
                h.saturating_record(s.max(1));
            }
        }
        if delivered > 0 {
            counts.total.fetch_add(delivered, Ordering::AcqRel);
            counts.bytes.fetch_add(bytes, Ordering::AcqRel);
            counts.max.store(max, Ordering::Release);
        }
        counts.min.store(min, Ordering::Release);
        if pongs > 0 {
            counts.pongs.fetch_add(pongs, Ordering::AcqRel);
        }
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
