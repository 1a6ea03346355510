//! Held mail from JetStream, paced: a window at a time, the next fetched by
//! the job that acknowledges the last, and private messages that arrive
//! meanwhile queued after all the older mail (fake helper: windows are
//! handed in by hand).

use super::cluster::{win_claims, Node};
use super::harness::limits;
use crate::server::cluster::{wire, FromCluster, HeldMail, ToCluster};
use bytes::Bytes;

fn window(ticket: u64, texts: &[&str], more: bool) -> HeldMail {
    let frames = texts
        .iter()
        .map(|t| Bytes::from(format!("MSG alice bob 2026-01-01T00:00:00.000Z {t}\n")))
        .collect();
    HeldMail {
        ticket,
        frames,
        more,
    }
}

/// Logs bob in, his claim won with `first` as his first window.
fn login_with(node: &mut Node, first: HeldMail) -> usize {
    let key = node.h.connect();
    node.h.send(key, "LOGIN bob\n");
    win_claims(node, Some(first));
    key
}

/// What bob got: the texts of his messages, and `PING` for the pings.
fn texts(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .filter_map(|l| match l.strip_prefix("MSG alice bob T ") {
            Some(text) => Some(text.to_owned()),
            None => l.starts_with("PING ").then(|| "PING".to_owned()),
        })
        .collect()
}

/// Answers the last `PING` of `lines`.
fn pong(node: &mut Node, key: usize, lines: &[String]) {
    let ping = lines.iter().rev().find(|l| l.starts_with("PING "));
    let ping = ping.cloned().unwrap_or_default();
    node.h
        .send(key, &format!("{}\n", ping.replacen("PING", "PONG", 1)));
}

/// The window jobs asked of the helper: (acknowledged, fetched next).
fn window_jobs(jobs: Vec<ToCluster>) -> Vec<(Option<u64>, bool)> {
    jobs.into_iter()
        .filter_map(|j| match j {
            ToCluster::AckMail { ticket } => Some((Some(ticket), false)),
            ToCluster::Fetch { acknowledge, .. } => Some((acknowledge, true)),
            _ => None,
        })
        .collect()
}

fn private_from_bus(node: &mut Node, text: &str) {
    let frame = format!("MSG alice bob 2026-01-01T00:00:00.000Z {text}\n");
    let mut payload = Vec::new();
    wire::encode_private(&mut payload, "bob", frame.as_bytes());
    node.news(FromCluster::Bus {
        origin: "b".into(),
        payload: Bytes::from(payload),
    });
}

#[test]
fn the_pong_after_a_window_acknowledges_it_and_fetches_the_next_in_one_job() {
    let mut node = Node::new();
    let bob = login_with(&mut node, window(7, &["1", "2"], true));
    let got = node.h.turn_for(bob);
    assert_eq!(texts(got.clone()), ["1", "2", "PING"]);
    assert!(window_jobs(node.jobs()).is_empty(), "not before its PONG");
    pong(&mut node, bob, &got);
    assert_eq!(window_jobs(node.jobs()), [(Some(7), true)]);
    let name = "bob".to_owned();
    let mail = Some(window(8, &["3"], false));
    node.news(FromCluster::Mail {
        key: bob,
        name,
        mail,
    });
    let got = node.h.turn_for(bob);
    assert_eq!(texts(got.clone()), ["3", "PING"]);
    pong(&mut node, bob, &got);
    // The last window: acknowledged, nothing more fetched.
    assert_eq!(window_jobs(node.jobs()), [(Some(8), false)]);
}

#[test]
fn private_messages_arriving_while_older_mail_is_held_come_after_it() {
    let mut node = Node::new();
    node.remote("alice", "b", "b1");
    let carol = node.login("carol");
    let bob = login_with(&mut node, window(7, &["1"], true));
    private_from_bus(&mut node, "live from b");
    node.h.send(carol, "MSG bob live from here\n");
    let got = node.h.turn_for(bob);
    assert_eq!(texts(got.clone()), ["1", "PING"]);
    pong(&mut node, bob, &got);
    node.jobs();
    let mail = Some(window(8, &["2"], false));
    let name = "bob".to_owned();
    node.news(FromCluster::Mail {
        key: bob,
        name,
        mail,
    });
    let got = node.h.turn_for(bob);
    assert_eq!(texts(got[..2].to_vec()), ["2", "PING"]);
    assert!(got[2].ends_with(" live from b"), "{got:?}");
    assert!(got[3].ends_with(" live from here"), "{got:?}");
    // Once the mail is all out, private messages go straight to the queue.
    private_from_bus(&mut node, "later");
    assert_eq!(texts(node.h.turn_for(bob)), ["later"]);
}

#[test]
fn mail_held_while_a_window_is_being_read_is_fetched_after_its_pong() {
    let mut node = Node::new();
    let bob = login_with(&mut node, window(7, &["1"], false));
    let got = node.h.turn_for(bob);
    // Another node held more for bob: not fetched beside the window out.
    node.bus("b", &String::from_utf8_lossy(&wire::encode_mail_for("bob")));
    assert!(window_jobs(node.jobs()).is_empty());
    pong(&mut node, bob, &got);
    assert_eq!(window_jobs(node.jobs()), [(Some(7), true)]);
    // Nothing more after all (a duplicate notice): the pace ends.
    let name = "bob".to_owned();
    node.news(FromCluster::Mail {
        key: bob,
        name,
        mail: None,
    });
    private_from_bus(&mut node, "live");
    assert_eq!(texts(node.h.turn_for(bob)), ["live"]);
}

#[test]
fn private_messages_waiting_for_held_mail_count_against_the_queue() {
    let mut l = limits();
    l.max_queue = 4096;
    let mut node = Node::with(l);
    node.remote("alice", "b", "b1");
    let bob = login_with(&mut node, window(7, &["1"], true));
    node.h.flush();
    for _ in 0..10 {
        private_from_bus(&mut node, &"m".repeat(1000));
    }
    assert_eq!(node.h.hub.counters.slow_cut, 1);
    assert!(!node.h.hub.session(bob).is_some_and(|s| s.is_open()));
    // Its window goes back to JetStream.
    let returned = node
        .jobs()
        .into_iter()
        .any(|j| matches!(j, ToCluster::ReturnMail { ticket: 7 }));
    assert!(returned);
}

/// JetStream does not answer a fetch for `key` (bob's).
fn fetch_failed(node: &mut Node, key: usize) {
    node.news(FromCluster::FetchFailed {
        key,
        name: "bob".into(),
        why: "timed out".into(),
    });
}

#[test]
fn mail_jetstream_did_not_hand_out_is_fetched_again_while_its_owner_is_online() {
    let mut node = Node::new();
    let bob = node.login("bob");
    // Another node took bob for offline and held a message for him.
    node.bus("b", &String::from_utf8_lossy(&wire::encode_mail_for("bob")));
    assert_eq!(window_jobs(node.jobs()), [(None, true)]);
    // JetStream is electing leaders: the mail stays held there.
    fetch_failed(&mut node, bob);
    // What comes meanwhile is not held back behind it.
    private_from_bus(&mut node, "live");
    assert_eq!(texts(node.h.turn_for(bob)), ["live"]);
    // Asked for again after a pause, which doubles while it fails.
    node.h.at(1);
    assert_eq!(window_jobs(node.jobs()), [(None, true)]);
    fetch_failed(&mut node, bob);
    node.h.at(2);
    assert!(window_jobs(node.jobs()).is_empty(), "within the pause");
    node.h.at(3);
    assert_eq!(window_jobs(node.jobs()), [(None, true)]);
    let mail = Some(window(7, &["held"], false));
    let name = "bob".to_owned();
    node.news(FromCluster::Mail {
        key: bob,
        name,
        mail,
    });
    let got = node.h.turn_for(bob);
    assert_eq!(texts(got.clone()), ["held", "PING"]);
    pong(&mut node, bob, &got);
    node.h.at(30);
    assert_eq!(
        window_jobs(node.jobs()),
        [(Some(7), false)],
        "not asked again"
    );
    // Not asked for once bob has left: his next login fetches it.
    node.bus("b", &String::from_utf8_lossy(&wire::encode_mail_for("bob")));
    assert_eq!(window_jobs(node.jobs()), [(None, true)]);
    fetch_failed(&mut node, bob);
    node.h.send(bob, "QUIT\n");
    node.h.flush();
    node.h.at(60);
    assert!(window_jobs(node.jobs()).is_empty(), "bob has left");
}
