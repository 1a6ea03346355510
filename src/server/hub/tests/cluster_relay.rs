//! Private messages between nodes (hub/cluster/relay.rs), with a fake
//! helper: one that reaches this node for someone who has left is held,
//! never dropped; a sender's `PING` waits for the nodes it sent to, and
//! hears what failed there before its `PONG`.

use super::cluster::Node;
use crate::protocol::ErrorCode;
use crate::server::cluster::{FromCluster, HoldOutcome, ToCluster};

const FRAME: &str = "MSG bob erin 2026-12-07T09:00:00.000Z are you there?\n";

/// The holds of other nodes' messages asked of the helper: (id, names).
fn holds(jobs: &[ToCluster]) -> Vec<(u64, Vec<String>)> {
    jobs.iter()
        .filter_map(|j| match j {
            ToCluster::HoldHere { id, names, .. } => Some((*id, names.clone())),
            _ => None,
        })
        .collect()
}

/// The answers to confirmation requests: (inbox, payload).
fn answers(jobs: &[ToCluster]) -> Vec<(String, String)> {
    jobs.iter()
        .filter_map(|j| match j {
            ToCluster::Answer { inbox, payload } => {
                Some((inbox.clone(), String::from_utf8_lossy(payload).into_owned()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_message_for_someone_no_longer_here_is_held_and_confirmed_once_held() {
    let mut n = Node::new();
    n.bus("b", "H b1");
    // b still had erin online here (node a) when bob wrote to her.
    n.bus("b", &format!("P erin a 7\n{FRAME}"));
    let jobs = n.jobs();
    let held = holds(&jobs);
    assert_eq!(held.len(), 1, "{jobs:?}");
    assert_eq!(held[0].1, ["erin"]);
    // bob's PING: b asks; the answer waits for the hold.
    n.bus("b", "C a 7 1 _INBOX.x.0");
    assert_eq!(answers(&n.jobs()), []);
    n.news(FromCluster::HeldHere {
        id: held[0].0,
        outcome: HoldOutcome::Held { refused: vec![] },
    });
    assert_eq!(answers(&n.jobs()), [("_INBOX.x.0".into(), String::new())]);
    // Nothing more is kept: the next request is answered at once.
    n.bus("b", "C a 7 0 _INBOX.x.1");
    assert_eq!(answers(&n.jobs()), [("_INBOX.x.1".into(), String::new())]);
}

#[test]
fn a_hold_that_fails_here_is_told_to_its_sender_when_it_asks() {
    let mut n = Node::new();
    n.bus("b", "H b1");
    n.bus("b", &format!("P erin a 7\n{FRAME}"));
    let id = holds(&n.jobs())[0].0;
    let why = "erin's mailbox is full (1 messages, mailbox-max): not held for erin";
    n.news(FromCluster::HeldHere {
        id,
        outcome: HoldOutcome::Held {
            refused: vec![("erin".into(), why.into())],
        },
    });
    // Another sender of b asking learns nothing of it; bob does.
    n.bus("b", "C a 8 0 _INBOX.y.0");
    n.bus("b", "C a 7 1 _INBOX.x.0");
    assert_eq!(
        answers(&n.jobs()),
        [
            ("_INBOX.y.0".into(), String::new()),
            ("_INBOX.x.0".into(), format!("507 {why}\n")),
        ]
    );
}

#[test]
fn each_node_takes_only_the_recipients_routed_to_it() {
    let mut n = Node::new();
    let erin = n.login("erin");
    n.bus("b", "H b1");
    let frame = "MSG bob erin,carl,dora 2026-12-07T09:00:00.000Z hi\n";
    // erin is online here; carl is c's to deliver or hold; dora has left.
    n.bus("b", &format!("P erin,carl,dora a,c,a 7\n{frame}"));
    assert_eq!(
        n.h.turn_for(erin),
        ["MSG bob erin,carl,dora T hi"],
        "delivered here"
    );
    let held = holds(&n.jobs());
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].1, ["dora"]);
    // A request for another node is not this node's to answer.
    n.bus("b", "C c 7 1 _INBOX.x.0");
    assert_eq!(answers(&n.jobs()), []);
    // This node's own request is answered once dora's hold is done.
    n.bus("b", "C a 7 1 _INBOX.x.1");
    assert_eq!(answers(&n.jobs()), []);
    n.news(FromCluster::HeldHere {
        id: held[0].0,
        outcome: HoldOutcome::Held { refused: vec![] },
    });
    assert_eq!(answers(&n.jobs()), [("_INBOX.x.1".into(), String::new())]);
}

#[test]
fn a_ping_after_private_messages_to_other_nodes_waits_for_their_confirmation() {
    let mut n = Node::new();
    n.bus("b", "H b1");
    n.bus("c", "H c1");
    n.remote("bob", "b", "b1");
    n.remote("carl", "c", "c1");
    n.remote("cleo", "c", "c1");
    let alice = n.login("alice");
    n.jobs();
    n.h.send(
        alice,
        "MSG bob hi\nMSG carl,cleo hello\nMSG bob again\nPING 1\n",
    );
    n.h.flush();
    let serial = n.h.hub.session(alice).map(|s| s.serial).unwrap_or_default();
    let jobs = n.jobs();
    let published: Vec<String> = jobs
        .iter()
        .filter_map(|j| match j {
            ToCluster::Publish(p) => Some(String::from_utf8_lossy(p).into_owned()),
            _ => None,
        })
        .collect();
    assert!(published[0].starts_with(&format!("P bob b {serial}\n")));
    assert!(published[1].starts_with(&format!("P carl,cleo c,c {serial}\n")));
    // One request per node, not per message; no PONG before the answers.
    let (key, wait) = jobs
        .iter()
        .find_map(|j| match j {
            ToCluster::Confirm {
                key,
                serial: wait,
                sender,
                nodes,
            } => {
                assert_eq!(
                    (*sender, nodes.as_slice()),
                    (serial, &[("b".to_owned(), 2), ("c".to_owned(), 1)][..])
                );
                Some((*key, *wait))
            }
            _ => None,
        })
        .expect("a confirmation asked for");
    assert_eq!(n.h.lines(alice), Vec::<String>::new());
    let why = "bob's mailbox is full (1 messages, mailbox-max): not held for bob";
    n.news(FromCluster::Confirmed {
        key,
        serial: wait,
        failures: vec![(ErrorCode::MailboxFull, why.into())],
    });
    assert_eq!(
        n.h.turn_for(alice),
        [format!("ERR 507 {why}"), "PONG 1".into()]
    );
    // Nothing sent since: the next PING asks nobody.
    n.h.send(alice, "PING 2\n");
    assert_eq!(n.h.turn_for(alice), ["PONG 2"]);
    assert!(!n
        .jobs()
        .iter()
        .any(|j| matches!(j, ToCluster::Confirm { .. } | ToCluster::Flush { .. })));
}

#[test]
fn a_ping_after_broadcasts_only_waits_for_a_flush_not_for_the_nodes() {
    let mut n = Node::new();
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    let alice = n.login("alice");
    n.jobs();
    n.h.send(alice, "SAY hi all\nPING 1\n");
    let jobs = n.jobs();
    assert!(
        jobs.iter().any(|j| matches!(j, ToCluster::Flush { .. })),
        "{jobs:?}"
    );
    assert!(
        !jobs.iter().any(|j| matches!(j, ToCluster::Confirm { .. })),
        "{jobs:?}"
    );
}

#[test]
fn messages_lost_on_the_way_are_told_to_their_sender() {
    let mut n = Node::new();
    let erin = n.login("erin");
    n.bus("b", "H b1");
    // bob sent erin three messages; the bus lost two (a lagging
    // subscription drops what does not fit).
    n.bus("b", &format!("P erin a 7\n{FRAME}"));
    n.bus("b", "C a 7 3 _INBOX.x.0");
    assert_eq!(n.h.turn_for(erin).len(), 1);
    let answered = answers(&n.jobs());
    assert_eq!(answered.len(), 1);
    assert!(
        answered[0].1.starts_with("503 ")
            && answered[0].1.contains("node a can account for 1 of the 3"),
        "{answered:?}"
    );
    // Counted afresh from each request on.
    n.bus("b", &format!("P erin a 7\n{FRAME}"));
    n.bus("b", "C a 7 1 _INBOX.x.1");
    assert_eq!(answers(&n.jobs()), [("_INBOX.x.1".into(), String::new())]);
}

#[test]
fn someone_back_here_while_their_message_is_held_fetches_it() {
    let mut n = Node::new();
    n.bus("b", "H b1");
    n.bus("b", &format!("P erin a 7\n{FRAME}"));
    let id = holds(&n.jobs())[0].0;
    // erin logs in here again before JetStream has it: her login's fetch
    // may come too early, and the notice of the hold is not echoed here.
    let erin = n.login("erin");
    n.news(FromCluster::HeldHere {
        id,
        outcome: HoldOutcome::Held { refused: vec![] },
    });
    let fetches: Vec<(usize, String)> = n
        .jobs()
        .into_iter()
        .filter_map(|j| match j {
            ToCluster::Fetch { key, name, .. } => Some((key, name)),
            _ => None,
        })
        .collect();
    assert_eq!(fetches, [(erin, "erin".to_owned())]);
}
