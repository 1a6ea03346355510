//! Names in any ASCII case across a cluster: the names bucket is keyed by
//! the folded name, so `Bob` on one node and `bob` on another cannot both
//! be online; a message to `BOB` reaches `Bob` on any node, held or live;
//! and the name is shown as the cluster first knew it. Real nats-server
//! and evchat-server processes; skipped without nats-server, except
//! under CI.

mod common;

use common::cluster::{login_eventually, node};
use common::nats::{nats_server_available, NatsCluster};
use common::{Line, PATIENCE};
use std::time::Instant;

/// Reads lines (answering the server's PINGs) until one satisfies `done`.
fn wait_line(line: &mut Line, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "no such line in time");
        let got = line.recv();
        if let Some(token) = got.strip_prefix("PING ") {
            line.send(&format!("PONG {token}"));
            continue;
        }
        if done(&got) {
            return got;
        }
    }
}

/// Asks WHO until its answer lists `name` (`online`) or does not.
fn wait_listed(line: &mut Line, name: &str, online: bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        line.send("WHO");
        let got = wait_line(line, |l| l.starts_with("USERS"));
        if got.split(' ').skip(1).any(|n| n == name) == online {
            return;
        }
        assert!(Instant::now() < deadline, "WHO said {got:?}");
    }
}

/// Logs in as `login` once the name is free everywhere; returns the
/// connection and the name `OK LOGIN` gave.
fn login_as(server: &common::TestServer, login: &str) -> (Line, String) {
    let deadline = Instant::now() + PATIENCE;
    let mut line = Line::connect(server.addr);
    loop {
        line.send(&format!("LOGIN {login}"));
        let answer = line.recv();
        if let Some(name) = answer.strip_prefix("OK LOGIN ") {
            return (line, name.to_owned());
        }
        assert!(
            answer.starts_with("ERR 409") && Instant::now() < deadline,
            "{login}: {answer}"
        );
    }
}

#[test]
fn bob_on_one_node_and_bob_on_another_cannot_both_be_online() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let urls = nats.urls();
    let (a, b) = (
        node(&urls, "a", &["--node-timeout", "3"]),
        node(&urls, "b", &["--node-timeout", "3"]),
    );
    let (mut bob, _) = login_as(&a, "Bob");
    let mut other = Line::connect(b.addr);
    for spelt in ["bob", "BOB", "Bob"] {
        other.send(&format!("LOGIN {spelt}"));
        let answer = other.recv();
        assert!(answer.starts_with("ERR 409 "), "{spelt}: {answer}");
    }
    // Raced on two nodes in two cases: exactly one wins.
    for i in 0..10 {
        let (mut one, mut two) = (Line::connect(a.addr), Line::connect(b.addr));
        one.send(&format!("LOGIN Racer{i}"));
        two.send(&format!("LOGIN racer{i}"));
        let answers = [one.recv(), two.recv()];
        let won = answers.iter().filter(|l| l.starts_with("OK LOGIN")).count();
        let lost = answers.iter().filter(|l| l.starts_with("ERR 409")).count();
        assert_eq!((won, lost), (1, 1), "{answers:?}");
    }
    // A message to the name in any case reaches it, shown as it is spelt.
    let mut amy = login_eventually(&b, "LOGIN amy");
    wait_listed(&mut amy, "Bob", true);
    amy.send("MSG BOB live");
    let got = wait_line(&mut bob, |l| l.starts_with("MSG "));
    assert!(
        got.starts_with("MSG amy Bob ") && got.ends_with(" live"),
        "{got}"
    );
    // Gone, it is held for under its one name, and the name logs in on
    // the other node in another case as the cluster first knew it.
    bob.send("QUIT");
    bob.until_closed();
    wait_listed(&mut amy, "Bob", false);
    amy.send("MSG bOB held");
    let replies = amy.sync();
    assert!(replies.iter().all(|l| !l.starts_with("ERR")), "{replies:?}");
    let (mut again, shown) = login_as(&b, "bob");
    assert_eq!(shown, "Bob", "shown as first written");
    let mail = wait_line(&mut again, |l| l.starts_with("MSG "));
    assert!(mail.ends_with(" held"), "{mail}");
}
