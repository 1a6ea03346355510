//! Logins waiting for their password check, served fairly.
//!
//! Checking a password costs tens of milliseconds of the password thread,
//! so checks are a resource an attacker would like to hog: a thousand
//! logins from one address must not make everyone else wait behind them.
//! The loop keeps the waiting logins here, a queue per address, and hands
//! the thread only [`IN_FLIGHT`] at a time, taking addresses in turn. At
//! most [`MAX_WAITING_PER_ADDRESS`] wait from one address; when
//! [`MAX_WAITING`] wait in all, a login from an address with fewer waiting
//! pushes out the newest of the address with the most, so a few busy
//! addresses cannot shut everyone else out. A refused or pushed-out login
//! gets `ERR 503` and may try again. A login whose connection is gone is
//! dropped before it is checked.

use crate::server::accounts::AuthRequest;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Logins waiting or being checked, in all.
pub const MAX_WAITING: usize = 256;
/// Logins waiting or being checked from one address.
pub const MAX_WAITING_PER_ADDRESS: usize = 64;
/// Checks handed to the password thread at once.
pub const IN_FLIGHT: usize = 2;

#[derive(Debug, Default)]
pub struct AuthQueue {
    /// Waiting logins by address (`None`: address unknown).
    waiting: HashMap<Option<IpAddr>, VecDeque<AuthRequest>>,
    /// Addresses with logins waiting, in the order they are served.
    turns: VecDeque<Option<IpAddr>>,
    /// Waiting or being checked, per address.
    per_address: HashMap<Option<IpAddr>, usize>,
    in_flight: usize,
}

impl AuthQueue {
    /// Queues a login. Gives it back when its address has too many
    /// waiting; when everyone has, may push out another address's newest
    /// waiting login instead, which it returns (to be told `ERR 503`).
    pub fn push(&mut self, request: AuthRequest) -> Result<Option<AuthRequest>, AuthRequest> {
        let total: usize = self.per_address.values().sum();
        let mine = self.per_address.get(&request.peer).copied().unwrap_or(0);
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
        *self.per_address.entry(request.peer).or_default() += 1;
        let queue = self.waiting.entry(request.peer).or_default();
        if queue.is_empty() {
            self.turns.push_back(request.peer);
        }
        queue.push_back(request);
        Ok(pushed_out)
    }

    /// Takes the newest waiting login of the address with the most
    /// waiting, if it has more than `mine` + 1.
    fn push_out_for(&mut self, mine: usize) -> Option<AuthRequest> {
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

    /// The next login to hand to the password thread, if one may go now:
    /// from the next address in turn.
    pub fn next_to_check(&mut self) -> Option<AuthRequest> {
        if self.in_flight >= IN_FLIGHT {
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

    /// A check handed out by [`next`](Self::next_to_check) is done.
    pub fn done(&mut self, peer: Option<IpAddr>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.release(peer);
    }

    /// Drops a waiting login whose connection is gone (if it has not been
    /// handed out yet).
    pub fn cancel(&mut self, key: usize, serial: u64, peer: Option<IpAddr>) {
        let Some(queue) = self.waiting.get_mut(&peer) else {
            return;
        };
        let before = queue.len();
        queue.retain(|r| !(r.key == key && r.serial == serial));
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

    fn request(key: usize, peer: u8) -> AuthRequest {
        AuthRequest {
            key,
            serial: key as u64,
            peer: Some(IpAddr::from([10, 0, 0, peer])),
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
        q.cancel(5, 5, Some(IpAddr::from([10, 0, 0, 1])));
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
}
