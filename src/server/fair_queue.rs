//! Work waiting for a helper thread, served fairly by network.
//!
//! Some work costs a helper thread milliseconds — a password check
//! ([`auth_queue`](super::auth_queue)), a TLS handshake's signature
//! ([`handshake_pool`](super::handshake_pool)) — so it is a resource an
//! attacker would like to hog: a thousand requests from one party must not
//! make everyone else wait behind them. The loop keeps the waiting
//! requests here, a queue per network, and hands the thread only
//! `in_flight` at a time, taking networks in turn. A network is what one
//! party typically holds — an IPv4 /24, an IPv6 /64 (an IPv4-mapped IPv6
//! address counts as its IPv4 one) — so the many addresses an attacker can
//! cheaply hold (a /64 is one host's share of IPv6) count as one. At most
//! `max_per_network` wait from one network; when `max_waiting` wait in
//! all, a request from a network with fewer waiting pushes out the newest
//! of the network with the most, so a few busy networks cannot shut
//! everyone else out. A request whose connection is gone is dropped before
//! it is started ([`FairQueue::cancel`]).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Requests are served fairly between networks, not single addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Network {
    /// An IPv4 /24.
    V4([u8; 3]),
    /// An IPv6 /64.
    V6([u16; 4]),
    /// The peer's address is not known.
    Unknown,
}

impl Network {
    pub(super) fn of(peer: Option<IpAddr>) -> Network {
        let Some(ip) = peer else {
            return Network::Unknown;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Network::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                Network::V6([a, b, c, d])
            }
        }
    }
}

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
    /// Requests waiting or under way from one network.
    pub max_per_network: usize,
    /// Requests handed to the helper at once.
    pub in_flight: usize,
}

#[derive(Debug)]
pub struct FairQueue<R> {
    bounds: Bounds,
    /// Waiting requests by network.
    waiting: HashMap<Network, VecDeque<R>>,
    /// Networks with requests waiting, in the order they are served.
    turns: VecDeque<Network>,
    /// Waiting or under way, per network.
    per_network: HashMap<Network, usize>,
    in_flight: usize,
}

impl<R: Queued> FairQueue<R> {
    pub fn new(bounds: Bounds) -> FairQueue<R> {
        FairQueue {
            bounds,
            waiting: HashMap::new(),
            turns: VecDeque::new(),
            per_network: HashMap::new(),
            in_flight: 0,
        }
    }

    /// Requests waiting or under way, in all.
    pub fn len(&self) -> usize {
        self.per_network.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.per_network.is_empty()
    }

    /// Queues a request. Gives it back when its network has too many
    /// waiting; when everyone has, may push out another network's newest
    /// waiting request instead, which it returns (to be refused).
    pub fn push(&mut self, request: R) -> Result<Option<R>, R> {
        let network = Network::of(request.peer());
        let mine = self.per_network.get(&network).copied().unwrap_or(0);
        if mine >= self.bounds.max_per_network {
            return Err(request);
        }
        let mut pushed_out = None;
        if self.len() >= self.bounds.max_waiting {
            match self.push_out_for(mine) {
                Some(other) => pushed_out = Some(other),
                None => return Err(request),
            }
        }
        *self.per_network.entry(network).or_default() += 1;
        let queue = self.waiting.entry(network).or_default();
        if queue.is_empty() {
            self.turns.push_back(network);
        }
        queue.push_back(request);
        Ok(pushed_out)
    }

    /// Takes the newest waiting request of the network with the most
    /// waiting, if it has more than `mine` + 1.
    fn push_out_for(&mut self, mine: usize) -> Option<R> {
        let (&network, _) = self
            .waiting
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .max_by_key(|(_, q)| q.len())?;
        let waiting = self.waiting.get(&network).map_or(0, VecDeque::len);
        if waiting <= mine + 1 {
            return None;
        }
        let request = self.waiting.get_mut(&network)?.pop_back()?;
        self.release(network);
        Some(request)
    }

    /// The next request to hand to the helper, if one may go now: from
    /// the next network in turn.
    pub fn next_to_start(&mut self) -> Option<R> {
        if self.in_flight >= self.bounds.in_flight {
            return None;
        }
        while let Some(network) = self.turns.pop_front() {
            let Some(queue) = self.waiting.get_mut(&network) else {
                continue;
            };
            let Some(request) = queue.pop_front() else {
                self.waiting.remove(&network);
                continue;
            };
            if queue.is_empty() {
                self.waiting.remove(&network);
            } else {
                self.turns.push_back(network);
            }
            self.in_flight += 1;
            return Some(request);
        }
        None
    }

    /// A request handed out by [`next`](Self::next_to_start) is done.
    pub fn done(&mut self, peer: Option<IpAddr>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.release(Network::of(peer));
    }

    /// Drops a waiting request whose connection is gone (if it has not
    /// been handed out yet).
    pub fn cancel(&mut self, key: usize, serial: u64, peer: Option<IpAddr>) {
        let network = Network::of(peer);
        let Some(queue) = self.waiting.get_mut(&network) else {
            return;
        };
        let before = queue.len();
        queue.retain(|r| !(r.key() == key && r.serial() == serial));
        if queue.len() < before {
            if queue.is_empty() {
                self.waiting.remove(&network);
            }
            self.release(network);
        }
    }

    fn release(&mut self, network: Network) {
        if let Some(n) = self.per_network.get_mut(&network) {
            *n -= 1;
            if *n == 0 {
                self.per_network.remove(&network);
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
            Some(IpAddr::from([10, 0, self.1, 1]))
        }
    }

    const BOUNDS: Bounds = Bounds {
        max_waiting: 8,
        max_per_network: 4,
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
    fn networks_take_turns_and_few_are_under_way_at_once() {
        let mut q = FairQueue::new(BOUNDS);
        for key in 0..4 {
            q.push(Request(key, 1)).unwrap();
        }
        q.push(Request(100, 2)).unwrap();
        let first: Vec<usize> = std::iter::from_fn(|| q.next_to_start())
            .map(|r| r.0)
            .collect();
        assert_eq!(first, [0, 100], "two at once, networks in turn");
        assert_eq!(q.len(), 5, "under way counts until done");
        q.done(Some(IpAddr::from([10, 0, 1, 1])));
        assert_eq!(q.next_to_start().map(|r| r.0), Some(1));
    }

    #[test]
    fn one_network_is_bounded_and_cannot_shut_a_newcomer_out() {
        let mut q = FairQueue::new(BOUNDS);
        for key in 0..4 {
            q.push(Request(key, 1)).unwrap();
        }
        assert!(q.push(Request(4, 1)).is_err(), "one network's bound");
        for key in 10..14 {
            q.push(Request(key, 2)).unwrap();
        }
        // Full: a newcomer pushes out the newest of a busy network.
        let out = q.push(Request(20, 3)).unwrap().expect("pushed out");
        assert!(out.0 == 3 || out.0 == 13, "{out:?}");
        q.cancel(1, 1, Some(IpAddr::from([10, 0, 1, 1])));
        let started = start_all(&mut q);
        assert!(
            started.contains(&20) && !started.contains(&1),
            "{started:?}"
        );
        assert_eq!(started.len(), 7);
        assert!(q.is_empty());
    }

    #[test]
    fn a_network_is_an_ipv4_24_or_an_ipv6_64() {
        let v4 = |d| Network::of(Some(IpAddr::from([127, 0, 1, d])));
        assert_eq!(v4(1), v4(200));
        assert_ne!(v4(1), Network::of(Some(IpAddr::from([127, 0, 2, 1]))));
        let mapped = std::net::Ipv4Addr::new(127, 0, 1, 9).to_ipv6_mapped();
        assert_eq!(Network::of(Some(IpAddr::V6(mapped))), v4(1));
        let v6 = |h: u16, l: u16| {
            let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, h, l, 0, 0, l);
            Network::of(Some(IpAddr::V6(ip)))
        };
        assert_eq!(v6(2, 1), v6(2, 999));
        assert_ne!(v6(2, 1), v6(3, 1));
        assert_eq!(Network::of(None), Network::Unknown);
    }
}
