//! The names view across a restart of the names watch (hub/cluster/
//! names.rs): what the replay says, and when names not seen again are
//! taken for gone.

use super::cluster::Node;
use crate::server::cluster::{FromCluster, Holder, ToCluster};

#[test]
fn a_watch_restart_keeps_every_name_until_its_replay_is_complete() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    let bob_rev = n.next_rev;
    n.remote("carol", "b", "b1");
    n.h.flush();
    n.h.lines(alice);
    // The watch restarts; its replay brings bob (carol gave her name up
    // meanwhile, and the deletion was missed).
    n.news(FromCluster::NamesReset);
    n.news(FromCluster::Name {
        name: "bob".into(),
        holder: Some(Holder {
            node: "b".into(),
            incarnation: "b1".into(),
            name: None,
            rev: bob_rev,
        }),
    });
    // Mid-replay nobody is taken for gone: what is still to come is
    // still listed, and nobody is told anyone left.
    assert_eq!(n.who(alice), ["USERS alice bob carol"]);
    n.h.flush();
    assert_eq!(n.h.lines(alice), Vec::<String>::new());
    // The replay is complete: carol, not in it, is gone.
    n.news(FromCluster::NamesSynced);
    n.h.flush();
    assert_eq!(n.h.lines(alice), ["LEFT carol T"]);
    assert_eq!(n.who(alice), ["USERS alice bob"]);
}

#[test]
fn a_dead_nodes_old_claim_replayed_does_not_take_back_a_name_taken_over_from_it() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.bus("b", "H b1");
    n.remote("bob", "b", "b1");
    let old = n.next_rev;
    n.h.flush();
    for t in 1..=4 {
        n.h.at(t);
    }
    assert_eq!(n.h.turn_for(alice), ["LEFT bob T node lost"]);
    // bob logs in again here, taking his name over from the dead node.
    let bob = n.login("bob");
    n.h.lines(alice);
    // NATS servers die: the names watch restarts, and a copy of the bucket
    // that lags replays b's old claim.
    n.news(FromCluster::NamesReset);
    n.news(FromCluster::Name {
        name: "bob".into(),
        holder: Some(Holder {
            node: "b".into(),
            incarnation: "b1".into(),
            name: None,
            rev: old,
        }),
    });
    assert_eq!(n.h.turn_for(bob), Vec::<String>::new());
    assert_eq!(n.who(alice), ["USERS alice bob"]);
    // A login on a live node still takes the name.
    n.bus("c", "H c1");
    n.remote("bob", "c", "c1");
    let replaced = n.h.turn_for(bob);
    assert!(replaced[0].starts_with("ERR 409 replaced"), "{replaced:?}");
}

#[test]
fn a_claim_found_by_a_release_is_given_up_if_unheld_and_never_changes_the_view() {
    let mut n = Node::new();
    let alice = n.login("alice");
    let alice_rev = n.next_rev;
    n.bus("b", "H b1");
    n.h.flush();
    n.h.lines(alice);
    n.jobs();
    let found = |name: &str, node: &str, run: &str, rev: u64| FromCluster::ClaimFound {
        name: name.into(),
        holder: Holder {
            node: node.into(),
            incarnation: run.into(),
            name: None,
            rev,
        },
    };
    let releases = |n: &mut Node| -> Vec<(String, u64)> {
        n.jobs()
            .into_iter()
            .filter_map(|job| match job {
                ToCluster::Release { name, rev } => Some((name, rev)),
                _ => None,
            })
            .collect()
    };
    // Node b's claim on bob, read by a release after the watch brought
    // its deletion: older news, which must not put bob back online.
    n.news(found("bob", "b", "b1", 7));
    assert_eq!(n.who(alice), ["USERS alice"]);
    assert_eq!(releases(&mut n), []);
    // alice's own claim stays hers.
    n.news(found("alice", "a", "a1", alice_rev));
    assert_eq!(releases(&mut n), []);
    // A claim of this node that no session holds is given up.
    n.news(found("carol", "a", "a0", 9));
    assert_eq!(releases(&mut n), [("carol".to_owned(), 9)]);
}
