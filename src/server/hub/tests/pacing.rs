//! Back-pressure from other nodes: while another node says this one fills
//! its intake, a user past their share of the bus waits, unread, and the
//! others' small messages still go out.

use super::cluster::Node;
use super::harness::limits;
use crate::server::cluster::ToCluster;

/// A node whose users may send `SAY`s bigger than a share.
fn node() -> Node {
    Node::with(crate::server::hub::Limits {
        max_line: 8 << 10,
        ..limits()
    })
}

/// A `SAY` bigger than a connection's share of a hold.
fn big(tag: &str) -> String {
    format!("SAY {tag}{}\n", "x".repeat(5000))
}

/// The `SAY` texts (their first 2 characters) `key` received.
fn heard(n: &mut Node, key: usize) -> Vec<String> {
    n.h.turn_for(key)
        .iter()
        .filter_map(|l| l.strip_prefix("SAY "))
        .map(|l| {
            let text = l.splitn(3, ' ').nth(2).unwrap_or_default();
            format!("{} {}", l.split(' ').next().unwrap_or_default(), &text[..2])
        })
        .collect()
}

/// How many bus messages were published, and their bytes.
fn published(n: &mut Node) -> (usize, usize) {
    n.jobs().iter().fold((0, 0), |(c, b), job| match job {
        ToCluster::Publish(p) if p.starts_with(b"B\n") => (c + 1, b + p.len()),
        _ => (c, b),
    })
}

#[test]
fn while_another_node_fills_up_a_flooder_waits_and_small_messages_go_out() {
    let mut n = node();
    let alice = n.login("alice");
    let carol = n.login("carol");
    let dave = n.login("dave");
    n.bus("b", "H b1");
    n.h.flush();
    n.jobs();
    n.bus("b", "S a,c");
    n.h.send(alice, &(big("a1") + &big("a2") + &big("a3")));
    n.h.send(carol, "SAY c1\n");
    assert_eq!(heard(&mut n, dave), ["alice a1", "carol c1"]);
    let (_, bytes) = published(&mut n);
    assert!(bytes < 6000, "only alice's first SAY went out: {bytes}");
    // Renewed: still held; more of alice's input waits behind the rest.
    n.bus("b", "S a");
    n.h.send(alice, "SAY a4\n");
    assert_eq!(heard(&mut n, dave), Vec::<String>::new());
    // Another node's notice that does not name this one changes nothing.
    n.bus("c", "S c");
    assert_eq!(heard(&mut n, dave), Vec::<String>::new());
    // Drained: alice goes on where she stopped, in order.
    n.bus("b", "S");
    assert_eq!(heard(&mut n, dave), ["alice a2", "alice a3", "alice a4"]);
    assert_eq!(published(&mut n).0, 1);
}

#[test]
fn a_hold_runs_out_unless_renewed() {
    let mut n = node();
    let alice = n.login("alice");
    let dave = n.login("dave");
    n.bus("b", "S a");
    n.h.send(alice, &(big("a1") + &big("a2")));
    assert_eq!(heard(&mut n, dave), ["alice a1"]);
    for t in 1..=2 {
        n.h.at(t);
        n.bus("b", "H b1");
    }
    assert_eq!(heard(&mut n, dave), Vec::<String>::new());
    // Not renewed for 3 s (the node is alive: only its notice ran out).
    n.h.at(3);
    assert_eq!(heard(&mut n, dave), ["alice a2"]);
}

#[test]
fn private_messages_to_other_nodes_are_paced_by_this_nodes_link() {
    let mut n = node();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    n.h.flush();
    n.jobs();
    // This node's link is behind: what waits for the NATS client is over
    // its bound.
    let gauges = std::sync::Arc::clone(&n.h.hub.cluster.as_ref().unwrap().port.gauges);
    gauges.up.store(true, std::sync::atomic::Ordering::Relaxed);
    gauges.outbound.store(
        crate::server::cluster::OUTBOUND_HIGH + 1,
        std::sync::atomic::Ordering::Relaxed,
    );
    let text = "x".repeat(5000);
    let flood: String = (0..4).map(|i| format!("MSG bob p{i}{text}\n")).collect();
    n.h.send(alice, &flood);
    n.h.flush();
    let private = n
        .jobs()
        .iter()
        .filter(|job| matches!(job, ToCluster::Publish(p) if !p.starts_with(b"B\n")))
        .count();
    assert_eq!(private, 1, "the sender waits after its share, unread");
}
