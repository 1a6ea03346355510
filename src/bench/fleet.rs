//! A fleet of benchmark connections: opening and logging them in, barriers
//! across all of them, and closing them. The threads that read them are in
//! [`readers`](super::readers).

use super::irc::{self, IrcReader};
pub use super::readers::{new_histogram, Shared, ThreadCounts};
use super::readers::{read_loop, Watched};
use super::wire::{Decoder, Target};
use super::ws;
use super::wsconn::{self, Endpoint, WsReader};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The connections of one benchmark run.
pub struct Fleet {
    pub shared: Arc<Shared>,
    /// Receivers' sockets, in index order (for writing).
    pub receivers: Vec<Arc<TcpStream>>,
    /// Publishers' sockets, in index order.
    pub publishers: Vec<Arc<TcpStream>>,
    pub target: Target,
    /// Receivers speak WebSocket (publishers never do).
    pub ws: bool,
    /// Every connection speaks IRC.
    pub irc: bool,
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
    /// Receivers connect over WebSocket here instead (fanout only: they
    /// must not publish).
    pub ws: Option<Endpoint>,
    /// Every connection, receiver or publisher, speaks IRC ([`irc`]).
    pub irc: bool,
    /// The rooms each receiver is in, and each publisher may say things
    /// in, by index (none past the end: the rooms scenario only).
    pub rooms: Rooms,
}

/// Rooms of receivers and publishers, named as the target spells them.
#[derive(Debug, Default, Clone)]
pub struct Rooms {
    pub receivers: Vec<Vec<String>>,
    pub publishers: Vec<Vec<String>>,
}

impl Rooms {
    fn of(list: &[Vec<String>], i: usize) -> &[String] {
        list.get(i).map_or(&[], Vec::as_slice)
    }
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
            broken: Mutex::new(None),
            writes: Mutex::new(()),
        });
        let mut watched = Watchers {
            target: spec.target,
            per_thread: (0..readers).map(|_| Vec::new()).collect(),
        };
        let receivers = open_receivers(spec, patience, &mut watched)?;
        let publishers = open_publishers(spec, &mut watched)?;
        let mut handles = Vec::new();
        for (slot, watched) in watched.per_thread.into_iter().enumerate() {
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
            ws: spec.ws.is_some(),
            irc: spec.irc,
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

    /// Writes the same plain frames to every connection, wrapped for the
    /// WebSocket receivers and followed there by `ws_after` (under the
    /// lock their readers take to answer PINGs, so frames never
    /// interleave).
    fn to_everyone(&self, plain: &[u8], ws_after: &[u8]) -> io::Result<()> {
        let mut framed = Vec::new();
        if !plain.is_empty() {
            wsconn::wrap(self.target, plain, &mut framed);
        }
        framed.extend_from_slice(ws_after);
        let _writing = self.shared.writes.lock().unwrap_or_else(|p| p.into_inner());
        for stream in &self.receivers {
            write_retrying(stream, if self.ws { &framed } else { plain })?;
        }
        for stream in self.publishers.iter().filter(|_| !plain.is_empty()) {
            write_retrying(stream, plain)?;
        }
        Ok(())
    }

    /// Appends one publish of `payload`, to everyone or to one receiver
    /// (or room), as the fleet's connections speak.
    pub fn publish(&self, to: Option<&str>, payload: &[u8], out: &mut Vec<u8>) {
        match self.irc {
            true => irc::publish(self.target, to, payload, out),
            false => self.target.publish(to, payload, out),
        }
    }

    /// Writes `data` (whole publishes) to `stream`, one of the fleet's,
    /// while no reader thread writes there: a reader answering a server's
    /// PING on a publisher (an IRC client is one) must not cut a line.
    pub fn send(&self, stream: &TcpStream, data: &[u8]) -> io::Result<()> {
        let _writing = self.shared.writes.lock().unwrap_or_else(|p| p.into_inner());
        write_retrying(stream, data)
    }

    /// Sends a barrier request on every connection and waits for all answers.
    pub fn barrier(&self, patience: Duration) -> io::Result<()> {
        let before = self.shared.pongs();
        let mut ping = Vec::new();
        match self.irc {
            true => irc::ping(&mut ping),
            false => self.target.ping(&mut ping),
        }
        self.to_everyone(&ping, &[])?;
        let count = (self.receivers.len() + self.publishers.len()) as u64;
        self.wait_pongs(before + count, patience)
    }

    fn wait_pongs(&self, want: u64, patience: Duration) -> io::Result<()> {
        let deadline = Instant::now() + patience;
        while self.shared.pongs() < want {
            if let Some(why) = self.shared.broken() {
                return Err(io::Error::other(why));
            }
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

    /// Leaves `rooms` (evchat's and IRC's `PART`s; nothing for the
    /// others) and waits until the server has done so: rooms whose last
    /// member leaves are gone, so the next run starts from none.
    pub fn leave(&self, rooms: &Rooms, patience: Duration) -> io::Result<()> {
        let none = rooms.receivers.is_empty() && rooms.publishers.is_empty();
        if none || !(self.irc || self.target == Target::Evchat) {
            return Ok(());
        }
        let mut part = Vec::new();
        let sockets = [
            (&self.receivers, &rooms.receivers),
            (&self.publishers, &rooms.publishers),
        ];
        for (streams, rooms) in sockets {
            for (stream, rooms) in streams.iter().zip(rooms) {
                part.clear();
                match self.irc {
                    true => irc::part(rooms, &mut part),
                    false => self.target.part(rooms, &mut part),
                }
                write_retrying(stream, &part)?;
            }
        }
        self.barrier(patience)
    }

    /// Closes the fleet politely (QUIT where the protocol has one).
    pub fn close(mut self) {
        let mut quit = Vec::new();
        match self.irc {
            true => irc::quit(&mut quit),
            false => self.target.quit(&mut quit),
        }
        // WebSocket receivers say goodbye with a close frame (1000) too.
        let mut close = Vec::new();
        ws::encode(
            ws::CLOSE,
            &1000u16.to_be_bytes(),
            Some(ws::mask_key()),
            &mut close,
        );
        let _ = self.to_everyone(&quit, &close);
        for stream in self.receivers.iter().chain(&self.publishers) {
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

/// The connections each reader thread will watch, as they open.
struct Watchers {
    target: Target,
    per_thread: Vec<Vec<Watched>>,
}

impl Watchers {
    /// Hands `stream`, made non-blocking, to reader thread `slot` (modulo
    /// their number), read as `how` says; returns it for writing.
    fn add(
        &mut self,
        stream: TcpStream,
        counted: bool,
        slot: usize,
        how: Reader,
    ) -> io::Result<Arc<TcpStream>> {
        stream.set_nonblocking(true)?;
        let stream = Arc::new(stream);
        let readers = self.per_thread.len();
        self.per_thread[slot % readers].push(Watched {
            stream: Arc::clone(&stream),
            decoder: Decoder::new(self.target),
            ws: how.ws,
            irc: how.irc,
            counted,
            count: 0,
        });
        Ok(stream)
    }
}

/// How a connection's bytes are read, besides as the target's own lines.
#[derive(Default)]
struct Reader {
    ws: Option<WsReader>,
    irc: Option<IrcReader>,
}

/// `name`'s first words, and how its connection is read: as the target's
/// protocol, or, for an IRC fleet, registration only, the rest of what
/// `hello` would say sent when the server has welcomed it.
fn first_words(
    spec: &FleetSpec,
    name: &str,
    rooms: &[String],
    receiver: bool,
) -> (Vec<u8>, Reader) {
    let mut hello = Vec::new();
    if spec.irc {
        irc::register(name, &mut hello);
        let mut after = Vec::new();
        irc::welcomed(spec.target, rooms, &mut after);
        let irc = Some(IrcReader::new(after));
        return (hello, Reader { ws: None, irc });
    }
    match receiver {
        true => spec.target.subscribe_in(name, rooms, &mut hello),
        false => spec.target.publisher_in(name, rooms, &mut hello),
    }
    (hello, Reader::default())
}

/// Where connection `i` goes: receivers round robin over the addresses.
fn addr(spec: &FleetSpec, i: usize) -> SocketAddr {
    spec.addrs[i % spec.addrs.len().max(1)]
}

/// Connects and subscribes every receiver, over WebSocket if asked.
fn open_receivers(
    spec: &FleetSpec,
    patience: Duration,
    watched: &mut Watchers,
) -> io::Result<Vec<Arc<TcpStream>>> {
    let mut receivers = Vec::with_capacity(spec.receivers);
    let mut framed = Vec::new();
    // WebSocket upgrades are all asked for first (see wsconn::start).
    let mut asked = std::collections::VecDeque::new();
    if let Some(endpoint) = spec.ws {
        for _ in 0..spec.receivers {
            asked.push_back(wsconn::start(endpoint)?);
        }
    }
    for i in 0..spec.receivers {
        let rooms = Rooms::of(&spec.rooms.receivers, i);
        let (mut hello, mut how) = first_words(spec, &bench_name(i), rooms, true);
        let stream = match asked.pop_front() {
            None => connect(addr(spec, i))?,
            Some(mut stream) => {
                let early = wsconn::finish(&mut stream, patience)?;
                framed.clear();
                wsconn::wrap(spec.target, &hello, &mut framed);
                std::mem::swap(&mut hello, &mut framed);
                how.ws = Some(WsReader::new(spec.target, early));
                stream
            }
        };
        (&stream).write_all(&hello)?;
        receivers.push(watched.add(stream, true, i, how)?);
    }
    Ok(receivers)
}

/// Connects and logs in every publisher, on the first address.
fn open_publishers(spec: &FleetSpec, watched: &mut Watchers) -> io::Result<Vec<Arc<TcpStream>>> {
    let mut publishers = Vec::with_capacity(spec.publishers);
    for i in 0..spec.publishers {
        let stream = connect(addr(spec, 0))?;
        let rooms = Rooms::of(&spec.rooms.publishers, i);
        let (hello, how) = first_words(spec, &bench_name(spec.receivers + i), rooms, false);
        (&stream).write_all(&hello)?;
        publishers.push(watched.add(stream, false, i, how)?);
    }
    Ok(publishers)
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
