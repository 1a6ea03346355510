//! One process per node name: a second process under a name in use is
//! refused at start and told which process holds it; the name is free at
//! once after its holder stops, and after `--node-timeout` when its holder
//! was killed; a holder that was stopped that long stops when it finds its
//! name taken over. Real nats-server and evchat-server processes; skipped
//! without nats-server, except under CI.

mod common;

use common::cluster::node;
use common::nats::{nats_server_available, NatsCluster};
use common::{Line, PATIENCE};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Starts an evchat node that must be refused: returns its exit code and
/// its log. Fails the test if it starts listening instead.
fn refused_node(urls: &str, name: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--port", "0", "--cluster", urls, "--node-name", name])
        .args(["--held-bytes", "16M"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start evchat-server");
    let stderr = child.stderr.take().expect("stderr");
    let mut log = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening on ") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second process as node {name} started:\n{log}");
        }
    }
    (child.wait().expect("wait").code(), log)
}

/// Reads until a line starting with `prefix` (answering PINGs).
fn wait_for(line: &mut Line, prefix: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "no {prefix:?} in time");
        let got = line.recv();
        if let Some(token) = got.strip_prefix("PING ") {
            line.send(&format!("PONG {token}"));
        } else if got.starts_with(prefix) {
            return got;
        }
    }
}

#[test]
fn a_second_process_under_a_node_name_in_use_is_refused_and_told_which_holds_it() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let a = node(&nats.urls(), "a", &[]);
    let b = node(&nats.urls(), "b", &[]);
    let (code, log) = refused_node(&nats.urls(), "a");
    assert_eq!(code, Some(1), "{log}");
    let holder = format!("pid {} on host", a.pid());
    assert!(
        log.contains("node name a is in use by another process") && log.contains(&holder),
        "{log}"
    );
    // The chat is as if the second process had never been tried.
    let mut alice = a.login("alice");
    let mut bob = b.login("bob");
    wait_for(&mut alice, "JOINED bob");
    alice.send("MSG bob are you there?");
    alice.send("PING sent");
    wait_for(&mut alice, "PONG sent");
    assert!(wait_for(&mut bob, "MSG ").ends_with(" are you there?"));
    bob.send("WHO");
    assert_eq!(wait_for(&mut bob, "USERS"), "USERS alice bob");
}

#[test]
fn a_node_name_is_free_at_once_after_sigterm_and_after_the_node_timeout_after_kill_9() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let quick = ["--node-timeout", "2"];
    let mut first = node(&nats.urls(), "a", &quick);
    first.signal(libc::SIGTERM);
    assert!(first.wait_exit().success(), "{}", first.log());
    assert!(
        first.log().contains("gave node name a back"),
        "{}",
        first.log()
    );
    // Given back: taken without waiting.
    let mut second = node(&nats.urls(), "a", &quick);
    assert!(!second.log().contains("is held by"), "{}", second.log());
    second.kill();
    // Killed: its claim stays until it has been silent for the timeout —
    // longer than one JetStream call may take (5 s), as the default 10 s
    // is: the wait is not cut short and taken for JetStream not answering.
    let third = node(&nats.urls(), "a", &["--node-timeout", "6"]);
    let log = third.log();
    let holder = format!("pid {} on host", second.pid());
    assert!(
        log.contains("node name a is held by") && log.contains(&holder),
        "{log}"
    );
    assert!(log.contains("took over node name a from"), "{log}");
    third.login("alice");
}

#[test]
fn a_stopped_holder_whose_name_was_taken_over_stops_when_it_resumes() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let quick = ["--node-timeout", "2"];
    let mut first = node(&nats.urls(), "a", &quick);
    first.pause();
    let second = node(&nats.urls(), "a", &quick);
    assert!(second.log().contains("took over node name a from"));
    first.resume();
    first.wait_exit();
    assert!(
        first.log().contains("node name a was taken over by"),
        "{}",
        first.log()
    );
    // The newer process keeps the name.
    second.login("alice");
}
