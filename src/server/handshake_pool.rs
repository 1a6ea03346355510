//! TLS handshakes off the loop: a small pool of threads does their
//! cryptography.
//!
//! With rustls the expensive part of a handshake — the key exchange, the
//! signature (milliseconds with an RSA-4096 key) — happens in
//! `ServerConnection::process_new_packets`. A replayed ClientHello costs
//! its sender one write and the server one signature, so a flood of them
//! on the loop would hold up every client, plain ones included. The loop
//! therefore only moves bytes: it reads ciphertext into the connection,
//! and while the handshake is under way it hands the connection
//! (`Box<ServerConnection>`, no socket) to this pool, which processes the
//! records and hands it back through a channel, waking the loop with the
//! `mio::Waker`. The loop (`tls_loop`) then writes the handshake's
//! answer and reads on. Once the handshake is done, what is left —
//! symmetric encryption of the records — stays on the loop, charged to
//! the read budget. The threads run below the loop's priority.
//!
//! Handshakes wait in a [`FairQueue`]: networks (IPv4 /24, IPv6 /64) take turns, at most
//! [`BOUNDS`]`.max_per_network` wait from one network and `max_waiting` in
//! all; a connection over them is closed at once, so a flood is refused
//! instead of queued, and what it costs the threads is shared fairly with
//! everyone else's handshakes.

use super::fair_queue::{Bounds, FairQueue, Queued};
use log::debug;
use rustls::ServerConnection;
use std::io;
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// Threads doing handshakes.
pub const THREADS: usize = 2;
/// Their nice value: the loop (0) gets the CPU first.
const NICENESS: libc::c_int = 10;
/// Handshakes waiting for the pool or in it.
pub const BOUNDS: Bounds = Bounds {
    max_waiting: 256,
    max_per_network: 64,
    // One being done and one ready, per thread.
    in_flight: 2 * THREADS,
};

/// A connection whose handshake records wait for the pool.
#[derive(Debug)]
pub struct Waiting {
    pub key: usize,
    /// Its turn with the pool, told apart from any other's.
    pub ticket: u64,
    pub peer: Option<IpAddr>,
}

impl Queued for Waiting {
    fn key(&self) -> usize {
        self.key
    }
    fn serial(&self) -> u64 {
        self.ticket
    }
    fn peer(&self) -> Option<IpAddr> {
        self.peer
    }
}

/// A connection handed to the pool, and back.
#[derive(Debug)]
pub struct Job {
    pub key: usize,
    pub ticket: u64,
    pub peer: Option<IpAddr>,
    pub tls: Box<ServerConnection>,
    /// Filled in by the pool: did rustls accept the records?
    pub result: Result<(), rustls::Error>,
}

/// The pool, as the loop sees it.
pub struct HandshakePool {
    queue: FairQueue<Waiting>,
    jobs: Sender<Job>,
    done: Receiver<Job>,
    next_ticket: u64,
    /// Handshakes finished since start, for `STATS`.
    pub finished: u64,
}

impl HandshakePool {
    /// Starts the threads; each finished job wakes the loop with `wake`.
    pub fn start(wake: impl Fn() + Send + Sync + 'static) -> io::Result<HandshakePool> {
        let (jobs, todo) = mpsc::channel::<Job>();
        let (finished, done) = mpsc::channel::<Job>();
        let todo = Arc::new(Mutex::new(todo));
        let wake = Arc::new(wake);
        for i in 0..THREADS {
            let (todo, finished, wake) = (Arc::clone(&todo), finished.clone(), Arc::clone(&wake));
            std::thread::Builder::new()
                .name(format!("tls-handshake-{i}"))
                .spawn(move || work(&todo, &finished, &*wake))?;
        }
        Ok(HandshakePool {
            queue: FairQueue::new(BOUNDS),
            jobs,
            done,
            next_ticket: 0,
            finished: 0,
        })
    }

    /// A ticket for a connection about to queue.
    pub fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// Queues a connection's handshake; see [`FairQueue::push`].
    pub fn push(&mut self, waiting: Waiting) -> Result<Option<Waiting>, Waiting> {
        self.queue.push(waiting)
    }

    /// The next connection whose records may go to the pool now.
    pub fn next_to_start(&mut self) -> Option<Waiting> {
        self.queue.next_to_start()
    }

    /// Hands a connection to the threads; gives it back if they are gone.
    pub fn start_job(&mut self, job: Job) -> Result<(), Job> {
        self.jobs.send(job).map_err(|e| e.0)
    }

    /// A connection handed out (or meant to be) is back: its place frees.
    pub fn done(&mut self, peer: Option<IpAddr>) {
        self.queue.done(peer);
    }

    /// Drops a queued connection that is gone.
    pub fn cancel(&mut self, key: usize, ticket: u64, peer: Option<IpAddr>) {
        self.queue.cancel(key, ticket, peer);
    }

    /// Connections the pool has handed back since last asked.
    pub fn take_done(&mut self) -> Vec<Job> {
        self.done.try_iter().collect()
    }

    /// Handshakes waiting for the pool or in it.
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }
}

/// One thread of the pool: processes each connection's records, hands it
/// back and wakes the loop.
fn work(todo: &Mutex<Receiver<Job>>, finished: &Sender<Job>, wake: &dyn Fn()) {
    // Below the loop's priority: when the CPU is short, the loop, which
    // serves everyone, comes before a flood's handshakes.
    // SAFETY: setpriority on this thread (Linux: who = 0 is the calling
    // thread); no memory is involved.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS) } != 0 {
        debug!("cannot lower the handshake thread's priority");
    }
    loop {
        let job = match todo.lock() {
            Ok(todo) => todo.recv(),
            Err(_) => return,
        };
        let Ok(mut job) = job else {
            return; // the loop is gone
        };
        job.result = job.tls.process_new_packets().map(|_| ());
        if finished.send(job).is_err() {
            return;
        }
        wake();
    }
}
