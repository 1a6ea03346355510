//! Logins waiting for their password check, served fairly.
//!
//! Checking a password costs tens of milliseconds of the password thread,
//! so checks are a resource an attacker would like to hog: a thousand
//! logins from one network must not make everyone else wait behind them.
//! The loop keeps the waiting logins in a [`FairQueue`] — a queue per
//! network (IPv4 /24, IPv6 /64), taken in turn — and hands the thread only
//! [`IN_FLIGHT`] at a time. At most [`MAX_WAITING_PER_NETWORK`] wait from
//! one network; when [`MAX_WAITING`] wait in all, a login from a network
//! with fewer waiting pushes out the newest of the network with the most.
//! A refused or pushed-out login gets `ERR 503` and may try again. A login
//! whose connection is gone is dropped before it is checked.

use super::fair_queue::{Bounds, FairQueue, Queued};
use crate::server::accounts::AuthRequest;
use std::net::IpAddr;

/// Logins waiting or being checked, in all.
pub const MAX_WAITING: usize = 256;
/// Logins waiting or being checked from one network.
pub const MAX_WAITING_PER_NETWORK: usize = 64;
/// Checks handed to the password thread at once.
pub const IN_FLIGHT: usize = 2;

/// The logins waiting for, or in, their password check.
pub type AuthQueue = FairQueue<AuthRequest>;

impl Default for AuthQueue {
    fn default() -> AuthQueue {
        FairQueue::new(Bounds {
            max_waiting: MAX_WAITING,
            max_per_network: MAX_WAITING_PER_NETWORK,
            in_flight: IN_FLIGHT,
        })
    }
}

impl Queued for AuthRequest {
    fn key(&self) -> usize {
        self.key
    }
    fn serial(&self) -> u64 {
        self.serial
    }
    fn peer(&self) -> Option<IpAddr> {
        self.peer
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
        let first: Vec<usize> = std::iter::from_fn(|| q.next_to_start())
            .map(|r| r.key)
            .collect();
        assert_eq!(first, [0, 100], "{IN_FLIGHT} at once, addresses in turn");
        q.done(Some(IpAddr::from([10, 0, 0, 1])));
        assert_eq!(q.next_to_start().map(|r| r.key), Some(1));
    }

    #[test]
    fn a_few_busy_addresses_cannot_shut_a_newcomer_out() {
        let mut q = AuthQueue::default();
        let busy = MAX_WAITING / MAX_WAITING_PER_NETWORK;
        for peer in 0..busy {
            for key in 0..MAX_WAITING_PER_NETWORK {
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
        assert_eq!(out.key % 1000, MAX_WAITING_PER_NETWORK - 1);
        // And it is checked among the first, in its turn.
        let first: Vec<usize> = (0..=busy)
            .filter_map(|_| {
                let r = q.next_to_start()?;
                q.done(r.peer);
                Some(r.key)
            })
            .collect();
        assert!(first.contains(&7), "{first:?}");
    }

    #[test]
    fn too_many_waiting_are_refused_and_cancelled_ones_are_dropped() {
        let mut q = AuthQueue::default();
        for key in 0..MAX_WAITING_PER_NETWORK {
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
                let r = q.next_to_start()?;
                q.done(r.peer);
                Some(r.key)
            })
            .collect();
        assert!(!keys.contains(&5));
        assert_eq!(keys.len(), MAX_WAITING_PER_NETWORK + 1);
    }

    #[test]
    fn addresses_of_one_network_are_served_as_one() {
        let mut q = AuthQueue::default();
        // A crowd of 200 addresses in one /24, one login each.
        for key in 0..200 {
            let _ = q.push(from(key, IpAddr::from([127, 0, 0, key as u8])));
        }
        assert_eq!(q.len(), MAX_WAITING_PER_NETWORK);
        // And of 200 addresses in one /64.
        for key in 0..200u16 {
            let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, key, 0, 0, key);
            let _ = q.push(from(1000 + key as usize, IpAddr::V6(ip)));
        }
        assert_eq!(q.len(), 2 * MAX_WAITING_PER_NETWORK);
        // A login from another /24 (given as IPv4-mapped IPv6) waits behind
        // one of each crowd, not behind everyone.
        let mapped = std::net::Ipv4Addr::new(127, 0, 1, 9).to_ipv6_mapped();
        q.push(from(7, IpAddr::V6(mapped))).unwrap();
        let order: Vec<usize> = (0..4)
            .filter_map(|_| {
                let r = q.next_to_start()?;
                q.done(r.peer);
                Some(r.key)
            })
            .collect();
        assert_eq!(order[..3], [0, 1000, 7], "{order:?}");
    }
}
