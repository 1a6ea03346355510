//! The loop's side of a cluster, with a fake helper: what other nodes say
//! (heartbeats, names, bus frames) is handed in by hand, and what the loop
//! asks of NATS is read back.

use super::harness::*;
use crate::server::cluster::{
    Backplane, ClaimOutcome, FakeHelper, FromCluster, HoldOutcome, Holder, ToCluster,
};
use bytes::Bytes;
use std::time::Duration;

pub(super) struct Node {
    pub(super) h: Harness,
    pub(super) helper: FakeHelper,
    pub(super) next_rev: u64,
}

impl Node {
    pub(super) fn new() -> Node {
        Node::with(limits())
    }

    pub(super) fn with(limits: crate::server::hub::Limits) -> Node {
        let mut h = Harness::with(limits, crate::server::journal::Journal::disabled());
        let (port, helper) = Backplane::fake("a", "a1", Duration::from_secs(3));
        h.hub.join_cluster(port);
        h.at(0);
        Node {
            h,
            helper,
            next_rev: 100,
        }
    }

    pub(super) fn news(&mut self, news: FromCluster) {
        self.helper.news.send(news).unwrap();
        self.h.hub.take_cluster_news();
    }

    pub(super) fn jobs(&mut self) -> Vec<ToCluster> {
        let mut jobs = Vec::new();
        while let Ok(job) = self.helper.jobs.try_recv() {
            jobs.push(job);
        }
        jobs
    }

    pub(super) fn bus(&mut self, origin: &str, payload: &str) {
        self.news(FromCluster::Bus {
            origin: origin.into(),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
        });
    }

    /// `name` is held by run `run` of `node`.
    pub(super) fn remote(&mut self, name: &str, node: &str, run: &str) {
        self.next_rev += 1;
        self.news(FromCluster::Name {
            name: name.into(),
            holder: Some(Holder {
                node: node.into(),
                incarnation: run.into(),
                name: None,
                rev: self.next_rev,
            }),
        });
    }

    /// Logs `name` in here, its claim won.
    pub(super) fn login(&mut self, name: &str) -> usize {
        let key = self.h.connect();
        self.h.send(key, &format!("LOGIN {name}\n"));
        for job in self.jobs() {
            if let ToCluster::Claim {
                key, serial, name, ..
            } = job
            {
                self.next_rev += 1;
                let outcome = ClaimOutcome::Won {
                    rev: self.next_rev,
                    mail: None,
                    shown: name.clone(),
                };
                self.news(FromCluster::Claimed {
                    key,
                    serial,
                    name,
                    outcome,
                });
            }
        }
        self.h.flush();
        self.h.lines(key);
        key
    }

    pub(super) fn who(&mut self, key: usize) -> Vec<String> {
        self.h.send(key, "WHO\n");
        self.h.turn_for(key)
    }
}

#[test]
fn a_node_restarted_before_its_timeout_has_its_old_users_announced_gone() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    assert_eq!(n.who(alice), ["USERS alice bob"]);
    // b is killed and restarted at once, under its name: a new run.
    n.h.at(1);
    n.bus("b", "H b2");
    assert_eq!(n.h.turn_for(alice), ["LEFT bob T node lost"]);
    assert_eq!(n.who(alice), ["USERS alice"]);
    // The new run releases the old claim: nothing more is said.
    n.news(FromCluster::Name {
        name: "bob".into(),
        holder: None,
    });
    assert_eq!(n.h.turn_for(alice), Vec::<String>::new());
    // bob logs in again on b: a claim of the new run.
    n.remote("bob", "b", "b2");
    n.bus("b", "B\nJOINED bob 2026-11-24T00:00:00.000Z\n");
    assert_eq!(n.h.turn_for(alice), ["JOINED bob T"]);
    assert_eq!(n.who(alice), ["USERS alice bob"]);
}

#[test]
fn a_node_back_from_the_dead_has_its_users_announced_again() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    n.h.flush();
    for t in 1..=4 {
        n.h.at(t);
    }
    assert_eq!(n.h.turn_for(alice), ["LEFT bob T node lost"]);
    assert_eq!(n.who(alice), ["USERS alice"]);
    // b was only paused: it talks again, and bob with it.
    n.bus("b", "H b1");
    assert_eq!(n.h.turn_for(alice), ["JOINED bob T"]);
    assert_eq!(n.who(alice), ["USERS alice bob"]);
}

#[test]
fn a_stalled_loop_does_not_count_the_other_nodes_dead() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    n.h.at(1);
    n.h.flush();
    n.h.lines(alice);
    // This node's loop stops for 10 s (SIGSTOP, swap, a long turn): the
    // heartbeats b sent meanwhile are still on their way.
    n.h.at(11);
    assert_eq!(n.h.turn_for(alice), Vec::<String>::new());
    assert_eq!(n.who(alice), ["USERS alice bob"]);
    // But a node that stays silent afterwards is dead.
    for t in 12..=14 {
        n.h.at(t);
    }
    assert_eq!(n.h.turn_for(alice), ["LEFT bob T node lost"]);
}

#[test]
fn a_stall_short_of_the_timeout_is_not_counted_against_the_other_nodes() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    n.h.at(1);
    n.h.at(2);
    n.h.flush();
    n.h.lines(alice);
    // Stopped from 2 s to 4 s, less than the timeout (3 s), but b was
    // last heard at 0: its silence while this loop stood still is not its.
    n.h.at(4);
    assert_eq!(n.h.turn_for(alice), Vec::<String>::new());
    assert_eq!(n.who(alice), ["USERS alice bob"]);
    // Silent for the timeout with this loop running: dead.
    n.h.at(5);
    assert_eq!(n.h.turn_for(alice), ["LEFT bob T node lost"]);
}

#[test]
fn a_private_message_held_for_some_reaches_the_online_ones_even_if_the_sender_is_gone() {
    let mut n = Node::new();
    let bob = n.login("bob");
    let amy = n.login("amy");
    n.h.flush();
    n.h.lines(bob);
    n.h.send(amy, "MSG bob,carol hello both\n");
    let (key, serial) = n
        .jobs()
        .into_iter()
        .find_map(|j| match j {
            ToCluster::Hold { key, serial, .. } => Some((key, serial)),
            _ => None,
        })
        .expect("carol's mail is held");
    // amy's connection is reset while JetStream stores carol's copy.
    n.h.hub.fail(amy);
    n.h.reap();
    n.news(FromCluster::Held {
        key,
        serial,
        outcome: HoldOutcome::Held { refused: vec![] },
    });
    assert_eq!(
        n.h.turn_for(bob),
        ["LEFT amy T", "MSG amy bob,carol T hello both"]
    );
}

#[test]
fn the_death_of_many_nodes_is_one_pass_over_the_directory() {
    let mut n = Node::new();
    let alice = n.login("alice");
    for i in 0..20_000 {
        n.bus(&format!("n{i}"), "H x");
    }
    for i in 0..3000 {
        n.remote(&format!("u{i}"), "n0", "x");
    }
    n.h.flush();
    n.h.lines(alice);
    let started = std::time::Instant::now();
    for t in 1..=4 {
        n.h.at(t);
    }
    let lines = n.h.turn_for(alice);
    assert_eq!(lines.len(), 3000);
    // 20,000 dead nodes times 3,000 names took seconds.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn messages_under_this_nodes_own_name_are_dropped() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("a", "B\nSAY mallory 2026-11-24T00:00:00.000Z as you\n");
    n.bus("a", "H a2");
    assert_eq!(n.h.turn_for(alice), Vec::<String>::new());
    n.h.send(alice, "STATS\n");
    let stats = n.h.turn_for(alice).join("");
    assert!(stats.contains(" nodes=1 "), "{stats}");
    for t in 1..=5 {
        n.h.at(t);
    }
    assert_eq!(n.h.turn_for(alice), Vec::<String>::new());
}

#[test]
fn two_processes_under_one_node_name_are_not_a_restart_every_second() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    n.bus("b", "H b2");
    n.remote("carol", "b", "b2");
    assert_eq!(n.h.turn_for(alice), ["LEFT bob T node lost"]);
    for _ in 0..3 {
        n.bus("b", "H b1");
        n.bus("b", "H b2");
    }
    assert_eq!(n.h.turn_for(alice), Vec::<String>::new());
    assert_eq!(n.who(alice), ["USERS alice carol"]);
}

/// Logs bob in on a node whose claim comes with `count` held messages of
/// about 250 bytes, fetched from JetStream under ticket 7.
fn login_with_mail(node: &mut Node, count: usize) -> usize {
    let key = node.h.connect();
    mail_at_login(node, key, count);
    key
}

/// Logs `key` in as bob, who has `count` messages held in JetStream.
fn mail_at_login(node: &mut Node, key: usize, count: usize) {
    node.h.send(key, "LOGIN bob\n");
    let frame = format!(
        "MSG alice bob 2026-01-01T00:00:00.000Z {}\n",
        "m".repeat(200)
    );
    let frames: Vec<Bytes> = (0..count).map(|_| Bytes::from(frame.clone())).collect();
    let mail = crate::server::cluster::HeldMail {
        ticket: 7,
        frames,
        more: false,
    };
    win_claims(node, Some(mail));
}

/// Every claim the hub asked for is won; the first comes with `mail`.
pub(super) fn win_claims(node: &mut Node, mut mail: Option<crate::server::cluster::HeldMail>) {
    for job in node.jobs() {
        if let ToCluster::Claim {
            key, serial, name, ..
        } = job
        {
            let outcome = ClaimOutcome::Won {
                rev: 1,
                mail: mail.take(),
                shown: name.clone(),
            };
            node.news(FromCluster::Claimed {
                key,
                serial,
                name,
                outcome,
            });
        }
    }
}

fn tickets(jobs: Vec<ToCluster>, acked: bool) -> Vec<u64> {
    jobs.into_iter()
        .filter_map(|j| match j {
            ToCluster::AckMail { ticket } if acked => Some(ticket),
            ToCluster::ReturnMail { ticket } if !acked => Some(ticket),
            _ => None,
        })
        .collect()
}

#[test]
fn mail_from_jetstream_is_acknowledged_by_the_pong_after_it() {
    let mut node = Node::new();
    let key = login_with_mail(&mut node, 100);
    let got = node.h.turn_for(key);
    assert_eq!(got.first().map(String::as_str), Some("OK LOGIN bob"));
    assert_eq!(
        got.iter().filter(|l| l.starts_with("MSG alice")).count(),
        100
    );
    let ping = got.last().cloned().unwrap_or_default();
    assert!(ping.starts_with("PING "), "{ping}");
    assert!(tickets(node.jobs(), true).is_empty(), "not before its PONG");
    node.h.send(key, &ping.replacen("PING", "PONG", 1));
    node.h.send(key, "\n");
    assert_eq!(tickets(node.jobs(), true), [7]);
}

#[test]
fn mail_from_jetstream_counts_against_the_queue_and_goes_back_if_not_read() {
    // A cluster's mailboxes are bounded in messages, not bytes: what a
    // login fetches counts against --max-queue, so a client that reads
    // none of it is cut, and the mail goes back to JetStream.
    let mut l = limits();
    l.max_queue = 4096;
    let mut node = Node::with(l);
    let key = node.h.connect();
    node.h.wires[&key].1.set(true); // reads nothing
    mail_at_login(&mut node, key, 100);
    // Cut once the mail is queued and written as far as it goes, without
    // waiting for anything more to be queued.
    assert_eq!(node.h.hub.counters.slow_cut, 1);
    node.h.send(key, "WHO\n");
    node.h.flush();
    assert_eq!(node.h.hub.counters.slow_cut, 1);
    assert!(!node.h.hub.session(key).is_some_and(|s| s.is_open()));
    assert_eq!(tickets(node.jobs(), false), [7]);
}

#[test]
fn private_messages_from_the_bus_are_held_to_the_queue_limit_one_by_one() {
    let mut l = limits();
    l.max_queue = 4096;
    let mut node = Node::with(l);
    node.remote("alice", "b", "b1");
    let victim = node.login("victim");
    node.h.wires[&victim].1.set(true); // reads nothing
                                       // A burst of private messages from another node, taken in one turn.
    let frame = format!(
        "MSG alice victim 2026-01-01T00:00:00.000Z {}\n",
        "m".repeat(1000)
    );
    for _ in 0..200 {
        let mut payload = Vec::new();
        crate::server::cluster::wire::encode_private(&mut payload, "victim", frame.as_bytes());
        node.helper
            .news
            .send(FromCluster::Bus {
                origin: "b".into(),
                payload: Bytes::from(payload),
            })
            .unwrap();
    }
    node.h.hub.take_cluster_news();
    // Cut once a message took it past its limit, not after all of them.
    assert_eq!(node.h.hub.counters.slow_cut, 1);
    let peak = node.h.hub.queues.peak;
    assert!(
        peak <= 4096 + frame.len(),
        "{peak} bytes queued at the peak"
    );
}

#[test]
fn the_bus_is_taken_in_within_one_connections_read_budget_a_turn() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.h.flush();
    n.h.lines(alice);
    // 100 batches of 32 frames from node b, all waiting at once: 3 MiB.
    let frame = format!("SAY bob 2026-11-24T00:00:00.000Z {}\n", "x".repeat(960));
    let payload = Bytes::from(format!("B\n{}", frame.repeat(32)));
    for _ in 0..100 {
        let origin = "b".into();
        let payload = payload.clone();
        n.helper
            .news
            .send(FromCluster::Bus { origin, payload })
            .unwrap();
    }
    let mut per_turn = Vec::new();
    loop {
        let more = n.h.hub.take_cluster_news();
        per_turn.push(n.h.turn_for(alice).len());
        if !more {
            break;
        }
    }
    // A turn takes what one connection may send in one (the message that
    // crosses the budget included), and the rest in the turns after.
    let most = (crate::server::event_loop::READ_BUDGET / payload.len() + 1) * 32;
    assert!(per_turn.iter().all(|&n| n <= most), "{per_turn:?}");
    assert_eq!(per_turn.iter().sum::<usize>(), 3200, "{per_turn:?}");
}
