//! A hub without sockets: transports that record what is written, time
//! moved by hand, the journal acknowledged by hand.

use crate::server::hub::*;
use crate::server::journal::Journal;
use crate::server::store::{MailLimits, Store};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A transport that records what the hub writes, or takes nothing while
/// stalled (a client that does not read).
#[derive(Debug, Clone, Default)]
pub struct Wire(pub Rc<RefCell<Vec<u8>>>, pub Rc<Cell<bool>>);

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.1.get() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    /// Takes everything, like a socket with room to spare.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        bufs.iter().map(|b| self.write(b)).sum()
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub fn limits() -> Limits {
    Limits {
        max_line: 1024,
        max_queue: 1 << 20,
        max_total_queue: 1 << 30,
        mail: MailLimits {
            mailbox_max: 10,
            mailbox_bytes: 1 << 20,
            held_bytes: 1 << 24,
            max_known: 1000,
        },
        rooms: crate::server::rooms::RoomLimits {
            max_rooms: 20,
            per_user: 5,
            max_names: 50,
            history: 4,
            history_bytes: 1 << 20,
        },
        idle_timeout: Some(Duration::from_secs(60)),
        max_lingering: 4,
        web: true,
        allow_origins: Vec::new(),
        local_only: true,
        irc: Some(crate::server::wire::irc::Config {
            server: "irc.test".into(),
            everyone: "#everyone".into(),
            max_line: 4096,
        }),
    }
}

pub struct Harness {
    pub hub: Hub<Wire>,
    /// By slab key: a key reused after a removal gets the newest wire.
    pub wires: HashMap<usize, Wire>,
    pub t0: Instant,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(limits(), Journal::disabled())
    }

    pub fn with(limits: Limits, journal: Journal) -> Harness {
        let store = Store::new(limits.mail);
        let hub = Hub::with_store(limits, store, journal, None);
        Harness {
            hub,
            wires: HashMap::new(),
            t0: Instant::now(),
        }
    }

    pub fn connect(&mut self) -> usize {
        let wire = Wire::default();
        let key = self.hub.open(wire.clone());
        self.wires.insert(key, wire);
        key
    }

    pub fn send(&mut self, key: usize, frames: &str) {
        self.hub.receive(key, frames.as_bytes());
    }

    /// Moves the hub's clock to `secs` after the start and runs timers.
    pub fn at(&mut self, secs: u64) {
        self.hub.set_now(self.t0 + Duration::from_secs(secs));
        self.hub.tick();
    }

    /// Ends the turn and writes everything, as the loop does, then drops
    /// finished connections.
    pub fn flush(&mut self) {
        self.hub.end_turn();
        let mut dirty = Vec::new();
        loop {
            self.hub.take_dirty(&mut dirty);
            if dirty.is_empty() {
                break;
            }
            for &key in &dirty {
                if self.hub.flush(key) == Flushed::ShutWrite {
                    self.hub.start_draining(key);
                }
            }
        }
        self.hub.sync_journal();
    }

    /// What `key` received since last asked, timestamps blanked.
    pub fn lines(&mut self, key: usize) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.wires[&key].0.borrow_mut());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| {
                l.split(' ')
                    .map(|f| {
                        if f.ends_with('Z') && f.len() == 24 {
                            "T"
                        } else {
                            f
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// Flushes, then returns what `key` received.
    pub fn turn_for(&mut self, key: usize) -> Vec<String> {
        self.flush();
        self.lines(key)
    }

    /// Logs each of `names` in and has it join `room`, in that order (the
    /// first makes it, so is its operator); their keys, what they were
    /// sent read.
    pub fn members(&mut self, room: &str, names: &[&str]) -> Vec<usize> {
        let keys: Vec<usize> = names.iter().map(|n| self.login(n)).collect();
        for &k in &keys {
            self.send(k, &format!("JOIN {room}\n"));
            self.flush();
        }
        for &k in &keys {
            self.lines(k);
        }
        keys
    }

    pub fn login(&mut self, name: &str) -> usize {
        let key = self.connect();
        self.send(key, &format!("LOGIN {name}\n"));
        self.flush();
        self.lines(key);
        key
    }

    /// Logs `name` in and out, so it is known.
    pub fn visit(&mut self, name: &str) {
        let key = self.login(name);
        self.send(key, "QUIT\n");
        self.flush();
        self.hub.peer_closed(key);
        self.reap();
    }

    pub fn reap(&mut self) {
        let mut dead = Vec::new();
        self.hub.take_dead(&mut dead);
        for key in dead {
            self.hub.remove(key);
        }
    }
}
