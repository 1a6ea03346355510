//! Logins waiting for their password check, served fairly.
//!
//! Checking a password costs tens of milliseconds of the password thread,
//! so checks are a resource an attacker would like to hog: a thousand
//! logins from one address must not make everyone else wait behind them.
//! The loop keeps the waiting logins here, a queue per network, and hands
//! the thread only [`IN_FLIGHT`] at a time, taking networks in turn. A
//! network is what one party typically holds — an IPv4 /24, an IPv6 /64
//! (an IPv4-mapped IPv6 address counts as its IPv4 one) — so an attacker
//! with many addresses of one network, which is cheap (a /64 is one host's
//! share of IPv6), counts as one. At most [`MAX_WAITING_PER_ADDRESS`] wait
//! from one network; when [`MAX_WAITING`] wait in all, a login from a
//! network with fewer waiting pushes out the newest of the network with
//! the most, so a few busy networks cannot shut everyone else out. A refused or pushed-out login
//! gets `ERR 503` and may try again. A login whose connection is gone is
//! dropped before it is checked.

use crate::server::accounts::AuthRequest;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Logins are served fairly between networks, not single addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Network {
    /// An IPv4 /24.
    V4([u8; 3]),
    /// An IPv6 /64.
    V6([u16; 4]),
    /// The peer's address is not known.
    Unknown,
}

impl Network {
    fn of(peer: Option<IpAddr>) -> Network {
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

/// Logins waiting or being checked, in all.
pub const MAX_WAITING: usize = 256;
/// Logins waiting or being checked from one network.
pub const MAX_WAITING_PER_ADDRESS: usize = 64;
/// Checks handed to the password thread at once.
pub const IN_FLIGHT: usize = 2;

#[derive(Debug, Default)]
pub struct AuthQueue {
    /// Waiting logins by network.
    waiting: HashMap<Network, VecDeque<AuthRequest>>,
    /// Networks with logins waiting, in the order they are served.
    turns: VecDeque<Network>,
    /// Waiting or being checked, per network.
    per_network: HashMap<Network, usize>,
    in_flight: usize,
}

impl AuthQueue {
    /// Queues a login. Gives it back when its network has too many
    /// waiting; when everyone has, may push out another network's newest
    /// waiting login instead, which it returns (to be told `ERR 503`).
    pub fn push(&mut self, request: AuthRequest) -> Result<Option<AuthRequest>, AuthRequest> {
        let network = Network::of(request.peer);
        let total = self.waiting_or_checked();
        let mine = self.per_network.get(&network).copied().unwrap_or(0);
        if mine >= MAX_WAITING_PER_ADDRESS {
            return Err(request);
        }
        let mut pushed_out = None;
        if total >= MAX_WAITING {
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

    /// Logins waiting or being checked, in all.
    pub fn waiting_or_checked(&self) -> usize {
        self.per_network.values().sum()
    }

    /// Takes the newest waiting login of the network with the most
    /// waiting, if it has more than `mine` + 1.
    fn push_out_for(&mut self, mine: usize) -> Option<AuthRequest> {
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

    /// The next login to hand to the password thread, if one may go now:
    /// from the next network in turn.
    pub fn next_to_check(&mut self) -> Option<AuthRequest> {
        if self.in_flight >= IN_FLIGHT {
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

    /// A check handed out by [`next`](Self::next_to_check) is done.
    pub fn done(&mut self, peer: Option<IpAddr>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.release(Network::of(peer));
    }

    /// Drops a waiting login whose connection is gone (if it has not been
    /// handed out yet).
    pub fn cancel(&mut self, key: usize, serial: u64, peer: Option<IpAddr>) {
        let network = Network::of(peer);
        let Some(queue) = self.waiting.get_mut(&network) else {
            return;
        };
        let before = queue.len();
        queue.retain(|r| !(r.key == key && r.serial == serial));
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

    /// A login from network `10.0.<net>.0/24`.
    fn request(key: usize, net: u8) -> AuthRequest {
        from(key, IpAddr::from([10, 0, net, 1]))
    }

    fn from(key: usize, peer: IpAddr) -> AuthRequest {
        AuthRequest {
            key,
            serial: key as u64,
            peer: Some(peer),
            name: format!("u{key}"),
            password: "pw".into(),
        }
    }

    #[test]
    fn addresses_take_turns_and_few_are_checked_at_once() {
        let mut q = AuthQueue::default();
        for key in 0..10 {
            q.push(request(key, 1)).unwrap(); // a crowd from one address
        }
        q.push(request(100, 2)).unwrap(); // one login from another
        let first: Vec<usize> = std::iter::from_fn(|| q.next_to_check())
            .map(|r| r.key)
            .collect();
        assert_eq!(first, [0, 100], "{IN_FLIGHT} at once, addresses in turn");
        q.done(Some(IpAddr::from([10, 0, 0, 1])));
        assert_eq!(q.next_to_check().map(|r| r.key), Some(1));
    }

    #[test]
    fn a_few_busy_addresses_cannot_shut_a_newcomer_out() {
        let mut q = AuthQueue::default();
        let busy = MAX_WAITING / MAX_WAITING_PER_ADDRESS;
        for peer in 0..busy {
            for key in 0..MAX_WAITING_PER_ADDRESS {
                q.push(request(1000 * (peer + 1) + key, peer as u8))
                    .unwrap();
            }
        }
        // Everything is full; a login from a new address pushes out the
        // newest of a busy one.
        let out = q
            .push(request(7, 200))
            .unwrap()
            .expect("someone pushed out");
        assert_eq!(out.key % 1000, MAX_WAITING_PER_ADDRESS - 1);
        // And it is checked among the first, in its turn.
        let first: Vec<usize> = (0..=busy)
            .filter_map(|_| {
                let r = q.next_to_check()?;
                q.done(r.peer);
                Some(r.key)
            })
            .collect();
        assert!(first.contains(&7), "{first:?}");
    }

    #[test]
    fn too_many_waiting_are_refused_and_cancelled_ones_are_dropped() {
        let mut q = AuthQueue::default();
        for key in 0..MAX_WAITING_PER_ADDRESS {
            q.push(request(key, 1)).unwrap();
        }
        assert!(q.push(request(999, 1)).is_err(), "one address");
        assert!(q.push(request(1000, 2)).is_ok(), "another still may");
        q.cancel(5, 5, Some(IpAddr::from([10, 0, 1, 1])));
        assert!(
            q.push(request(998, 1)).is_ok(),
            "a cancelled one freed its place"
        );
        let keys: Vec<usize> = (0..MAX_WAITING)
            .filter_map(|_| {
                let r = q.next_to_check()?;
                q.done(r.peer);
                Some(r.key)
            })
            .collect();
        assert!(!keys.contains(&5));
        assert_eq!(keys.len(), MAX_WAITING_PER_ADDRESS + 1);
    }

    #[test]
    fn addresses_of_one_network_are_served_as_one() {
        let mut q = AuthQueue::default();
        // A crowd of 200 addresses in one /24, one login each.
        for key in 0..200 {
            let _ = q.push(from(key, IpAddr::from([127, 0, 0, key as u8])));
        }
        assert_eq!(q.waiting_or_checked(), MAX_WAITING_PER_ADDRESS);
        // And of 200 addresses in one /64.
        for key in 0..200u16 {
            let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, key, 0, 0, key);
            let _ = q.push(from(1000 + key as usize, IpAddr::V6(ip)));
        }
        assert_eq!(q.waiting_or_checked(), 2 * MAX_WAITING_PER_ADDRESS);
        // A login from another /24 (given as IPv4-mapped IPv6) waits behind
        // one of each crowd, not behind everyone.
        let mapped = std::net::Ipv4Addr::new(127, 0, 1, 9).to_ipv6_mapped();
        q.push(from(7, IpAddr::V6(mapped))).unwrap();
        let order: Vec<usize> = (0..4)
            .filter_map(|_| {
                let r = q.next_to_check()?;
                q.done(r.peer);
                Some(r.key)
            })
            .collect();
        assert_eq!(order[..3], [0, 1000, 7], "{order:?}");
        // The mapped address counts as its IPv4 network.
        assert_eq!(
            Network::of(Some(IpAddr::V6(mapped))),
            Network::of(Some(IpAddr::from([127, 0, 1, 200])))
        );
    }
}
