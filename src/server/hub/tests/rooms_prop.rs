//! The rooms' promise under any interleaving: for each user and room, the
//! history sent at `JOIN` followed by exactly the room messages said while
//! they were a member, in order — with a repeat only where a login's
//! `PONG` was missing (or a room was joined again, whose history then
//! comes again).

use super::harness::*;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

const USERS: [&str; 3] = ["u0", "u1", "u2"];
const ROOMS: [&str; 2] = ["#a", "#b"];

#[derive(Debug, Clone)]
enum Op {
    Login(usize),
    Quit(usize),
    Ack(usize),
    Join(usize, usize),
    Part(usize, usize),
    Msg(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Login),
        (0..3usize).prop_map(Op::Quit),
        (0..3usize).prop_map(Op::Ack),
        (0..3usize, 0..2usize).prop_map(|(u, r)| Op::Join(u, r)),
        (0..3usize, 0..2usize).prop_map(|(u, r)| Op::Part(u, r)),
        (0..3usize, 0..2usize).prop_map(|(u, r)| Op::Msg(u, r)),
        (0..3usize, 0..2usize).prop_map(|(u, r)| Op::Msg(u, r)),
    ]
}

#[derive(Default)]
struct World {
    h: Option<Harness>,
    key: HashMap<usize, usize>,
    /// The unanswered PING a login sent, by user.
    ping: HashMap<usize, String>,
    member: Vec<BTreeSet<usize>>,
    said: HashMap<usize, Vec<u64>>,
    expected: HashMap<(usize, usize), Vec<u64>>,
    seen: HashMap<(usize, usize), Vec<u64>>,
    /// A session ended with its login's PING unanswered, or a room was
    /// joined again: repeats are allowed there.
    repeats_allowed: BTreeSet<(usize, usize)>,
    next: u64,
}

impl World {
    fn new() -> World {
        let mut limits = limits();
        limits.rooms.history = 1000;
        limits.rooms.per_user = 10;
        World {
            h: Some(Harness::with(
                limits,
                crate::server::journal::Journal::disabled(),
            )),
            member: vec![BTreeSet::new(); 3],
            ..World::default()
        }
    }

    fn h(&mut self) -> &mut Harness {
        self.h.as_mut().unwrap()
    }

    /// Reads what every online user was sent.
    fn read(&mut self) {
        self.h().flush();
        let keys: Vec<(usize, usize)> = self.key.iter().map(|(u, k)| (*u, *k)).collect();
        for (u, k) in keys {
            for line in self.h().lines(k) {
                let f: Vec<&str> = line.splitn(5, ' ').collect();
                match f[..] {
                    ["PING", token] => {
                        self.ping.insert(u, token.to_owned());
                    }
                    ["MSG", _, to, _, text] => {
                        let r = ROOMS.iter().position(|r| *r == to).unwrap();
                        let n = text[1..].parse().unwrap();
                        self.seen.entry((u, r)).or_default().push(n);
                    }
                    _ => {}
                }
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Login(u) if !self.key.contains_key(&u) => {
                let k = self.h().connect();
                self.h().send(k, &format!("LOGIN {}\n", USERS[u]));
                self.key.insert(u, k);
            }
            Op::Quit(u) => {
                let Some(&k) = self.key.get(&u) else { return };
                // What it was sent up to its QUIT is read first.
                self.h().send(k, "QUIT\n");
                self.read();
                let Some(k) = self.key.remove(&u) else { return };
                if self.ping.remove(&u).is_some() {
                    for r in 0..2 {
                        self.repeats_allowed.insert((u, r));
                    }
                }
                self.h().hub.peer_closed(k);
                self.h().reap();
            }
            Op::Ack(u) => {
                if let (Some(&k), Some(token)) = (self.key.get(&u), self.ping.remove(&u)) {
                    self.h().send(k, &format!("PONG {token}\n"));
                }
            }
            Op::Join(u, r) => {
                let Some(&k) = self.key.get(&u) else { return };
                self.h().send(k, &format!("JOIN {}\n", ROOMS[r]));
                if self.member[u].insert(r) {
                    let history = self.said.get(&r).cloned().unwrap_or_default();
                    if !history.is_empty() && self.seen.contains_key(&(u, r)) {
                        self.repeats_allowed.insert((u, r));
                    }
                    self.expected.entry((u, r)).or_default().extend(history);
                }
            }
            Op::Part(u, r) => {
                let Some(&k) = self.key.get(&u) else { return };
                self.h().send(k, &format!("PART {}\n", ROOMS[r]));
                self.member[u].remove(&r);
                if self.member.iter().all(|m| !m.contains(&r)) {
                    self.said.remove(&r);
                }
            }
            Op::Msg(u, r) => {
                let Some(&k) = self.key.get(&u) else { return };
                if !self.member[u].contains(&r) {
                    return;
                }
                self.next += 1;
                let n = self.next;
                self.h().send(k, &format!("MSG {} m{n}\n", ROOMS[r]));
                self.said.entry(r).or_default().push(n);
                for m in 0..3 {
                    if m != u && self.member[m].contains(&r) {
                        self.expected.entry((m, r)).or_default().push(n);
                    }
                }
            }
            _ => {}
        }
    }

    /// Everyone logs in and answers every PING until nothing is owed.
    fn settle(&mut self) {
        for u in 0..3 {
            self.apply(&Op::Login(u));
            self.read();
        }
        for _ in 0..20 {
            for u in 0..3 {
                self.apply(&Op::Ack(u));
                self.read();
            }
        }
    }
}

fn firsts(list: &[u64]) -> Vec<u64> {
    let mut seen = BTreeSet::new();
    list.iter().copied().filter(|n| seen.insert(*n)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    #[test]
    fn members_get_the_history_then_exactly_what_was_said_while_members(
        ops in proptest::collection::vec((op(), any::<bool>()), 0..40)
    ) {
        let mut w = World::new();
        // Several frames may be taken in one turn of the loop, before
        // anything is written.
        for (op, turn_ends) in &ops {
            w.apply(op);
            if *turn_ends {
                w.read();
            }
        }
        w.settle();
        for (u, user) in USERS.iter().enumerate() {
            for (r, room) in ROOMS.iter().enumerate() {
                let expected = w.expected.get(&(u, r)).cloned().unwrap_or_default();
                let seen = w.seen.get(&(u, r)).cloned().unwrap_or_default();
                if w.repeats_allowed.contains(&(u, r)) {
                    prop_assert_eq!(firsts(&seen), firsts(&expected), "{} in {}", user, room);
                } else {
                    prop_assert_eq!(&seen, &expected, "{} in {}", user, room);
                }
            }
        }
    }
}
