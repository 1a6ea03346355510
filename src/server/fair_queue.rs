//! Work waiting for a helper thread, served fairly by address.
//!
//! Some work costs a helper thread milliseconds — a TLS handshake's
//! signature, like a password check ([`auth_queue`](super::auth_queue) is
//! the same scheme for logins) — so it is a resource an attacker would
//! like to hog: a thousand requests from one address must not make everyone else
//! wait behind them. The loop keeps the waiting requests here, a queue per
//! address, and hands the thread only `in_flight` at a time, taking
//! addresses in turn. At most `max_per_address` wait from one address; when
//! `max_waiting` wait in all, a request from an address with fewer waiting
//! pushes out the newest of the address with the most, so a few busy
//! addresses cannot shut everyone else out. A request whose connection is
//! gone is dropped before it is started ([`FairQueue::cancel`]).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// What the queue needs to know of a request.
pub trait Queued {
    /// The connection it is for.
    fn key(&self) -> usize;
    /// Tells it apart from a later request with the same key.
    fn serial(&self) -> u64;
    /// Whose it is (`None`: address unknown).
    fn peer(&self) -> Option<IpAddr>;
}

/// How much may wait, and how much the helper gets at once.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Requests waiting or under way, in all.
    pub max_waiting: usize,
    /// Requests waiting or under way from one address.
    pub max_per_address: usize,
    /// Requests handed to the helper at once.
    pub in_flight: usize,
}

#[derive(Debug)]
pub struct FairQueue<R> {
    bounds: Bounds,
    /// Waiting requests by address.
    waiting: HashMap<Option<IpAddr>, VecDeque<R>>,
    /// Addresses with requests waiting, in the order they are served.
    turns: VecDeque<Option<IpAddr>>,
    /// Waiting or under way, per address.
    per_address: HashMap<Option<IpAddr>, usize>,
    in_flight: usize,
}

impl<R: Queued> FairQueue<R> {
    pub fn new(bounds: Bounds) -> FairQueue<R> {
        FairQueue {
            bounds,
            waiting: HashMap::new(),
            turns: VecDeque::new(),
            per_address: HashMap::new(),
            in_flight: 0,
        }
    }

    /// Requests waiting or under way, in all.
    pub fn len(&self) -> usize {
        self.per_address.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.per_address.is_empty()
    }

    /// Queues a request. Gives it back when its address has too many
    /// waiting; when everyone has, may push out another address's newest
    /// waiting request instead, which it returns (to be refused).
    pub fn push(&mut self, request: R) -> Result<Option<R>, R> {
        let mine = self.per_address.get(&request.peer()).copied().unwrap_or(0);
        if mine >= self.bounds.max_per_address {
            return Err(request);
        }
        let mut pushed_out = None;
        if self.len() >= self.bounds.max_waiting {
            match self.push_out_for(mine) {
                Some(other) => pushed_out = Some(other),
                None => return Err(request),
            }
        }
        let peer = request.peer();
        *self.per_address.entry(peer).or_default() += 1;
        let queue = self.waiting.entry(peer).or_default();
        if queue.is_empty() {
            self.turns.push_back(peer);
        }
        queue.push_back(request);
        Ok(pushed_out)
    }

    /// Takes the newest waiting request of the address with the most
    /// waiting, if it has more than `mine` + 1.
    fn push_out_for(&mut self, mine: usize) -> Option<R> {
        let (&peer, _) = self
            .waiting
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .max_by_key(|(_, q)| q.len())?;
        let waiting = self.waiting.get(&peer).map_or(0, VecDeque::len);
        if waiting <= mine + 1 {
            return None;
        }
        let request = self.waiting.get_mut(&peer)?.pop_back()?;
        self.release(peer);
        Some(request)
    }

    /// The next request to hand to the helper, if one may go now: from
    /// the next address in turn.
    pub fn next_to_start(&mut self) -> Option<R> {
        if self.in_flight >= self.bounds.in_flight {
            return None;
        }
        while let Some(peer) = self.turns.pop_front() {
            let Some(queue) = self.waiting.get_mut(&peer) else {
                continue;
            };
            let Some(request) = queue.pop_front() else {
                self.waiting.remove(&peer);
                continue;
            };
            if queue.is_empty() {
                self.waiting.remove(&peer);
            } else {
                self.turns.push_back(peer);
            }
            self.in_flight += 1;
            return Some(request);
        }
        None
    }

    /// A request handed out by [`next`](Self::next_to_start) is done.
    pub fn done(&mut self, peer: Option<IpAddr>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.release(peer);
    }

    /// Drops a waiting request whose connection is gone (if it has not
    /// been handed out yet).
    pub fn cancel(&mut self, key: usize, serial: u64, peer: Option<IpAddr>) {
        let Some(queue) = self.waiting.get_mut(&peer) else {
            return;
        };
        let before = queue.len();
        queue.retain(|r| !(r.key() == key && r.serial() == serial));
        if queue.len() < before {
            if queue.is_empty() {
                self.waiting.remove(&peer);
            }
            self.release(peer);
        }
    }

    fn release(&mut self, peer: Option<IpAddr>) {
        if let Some(n) = self.per_address.get_mut(&peer) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Request(usize, u8);

    impl Queued for Request {
        fn key(&self) -> usize {
            self.0
        }
        fn serial(&self) -> u64 {
            self.0 as u64
        }
        fn peer(&self) -> Option<IpAddr> {
            Some(IpAddr::from([10, 0, 0, self.1]))
        }
    }

    const BOUNDS: Bounds = Bounds {
        max_waiting: 8,
        max_per_address: 4,
        in_flight: 2,
    };

    fn start_all(q: &mut FairQueue<Request>) -> Vec<usize> {
        std::iter::from_fn(|| {
            let r = q.next_to_start()?;
            q.done(r.peer());
            Some(r.0)
        })
        .collect()
    }

    #[test]
    fn addresses_take_turns_and_few_are_under_way_at_once() {
        let mut q = FairQueue::new(BOUNDS);
        for key in 0..4 {
            q.push(Request(key, 1)).unwrap();
        }
        q.push(Request(100, 2)).unwrap();
        let first: Vec<usize> = std::iter::from_fn(|| q.next_to_start())
            .map(|r| r.0)
            .collect();
        assert_eq!(first, [0, 100], "two at once, addresses in turn");
        assert_eq!(q.len(), 5, "under way counts until done");
        q.done(Some(IpAddr::from([10, 0, 0, 1])));
        assert_eq!(q.next_to_start().map(|r| r.0), Some(1));
    }

    #[test]
    fn one_address_is_bounded_and_cannot_shut_a_newcomer_out() {
        let mut q = FairQueue::new(BOUNDS);
        for key in 0..4 {
            q.push(Request(key, 1)).unwrap();
        }
        assert!(q.push(Request(4, 1)).is_err(), "one address's bound");
        for key in 10..14 {
            q.push(Request(key, 2)).unwrap();
        }
        // Full: a newcomer pushes out the newest of a busy address.
        let out = q.push(Request(20, 3)).unwrap().expect("pushed out");
        assert!(out.0 == 3 || out.0 == 13, "{out:?}");
        q.cancel(1, 1, Some(IpAddr::from([10, 0, 0, 1])));
        let started = start_all(&mut q);
        assert!(
            started.contains(&20) && !started.contains(&1),
            "{started:?}"
        );
        assert_eq!(started.len(), 7);
        assert!(q.is_empty());
    }
}
