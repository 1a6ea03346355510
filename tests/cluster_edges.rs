//! The cluster's edges: moving in from a single node, accounts moved into
//! the bucket, full mailboxes, a node stopped politely, and NATS guarded by
//! a password. Real nats-server and evchat-server processes, as users run
//! them; skipped without nats-server, except under CI.

mod common;

use common::cluster::{login_eventually, node};
use common::nats::{nats_server_available, NatsCluster};
use common::{run_with_stdin, Line, TestServer};
use std::process::Command;

fn server_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_evchat-server"))
}

#[test]
fn a_single_nodes_journal_moves_into_the_cluster_once() {
    if !nats_server_available() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    {
        let mut alone = TestServer::start(&["--data-dir", dir]);
        let mut carol = alone.login("carol");
        carol.send("JOIN #Old");
        carol.expect("JOIN carol #Old ");
        carol.send("QUIT");
        carol.until_closed();
        let mut alice = alone.login("alice");
        alice.send("MSG carol from the old days");
        alice.send("JOIN #old");
        alice.expect("JOIN alice #Old ");
        alice.send("MSG #old said alone");
        assert!(alice.sync().is_empty());
        alone.signal(libc::SIGTERM);
        assert!(alone.wait_exit().success());
    }
    let nats = NatsCluster::start(1);
    let first = node(&nats.urls(), "a", &["--data-dir", dir]);
    assert!(
        first.log().contains("imported the single-node journal"),
        "{}",
        first.log()
    );
    assert!(data.path().join("journal.imported").exists());
    let mut carol = login_eventually(&first, "LOGIN carol");
    let mail = carol.recv();
    assert!(mail.ends_with(" from the old days"), "{mail}");
    // Her rooms came along, with what was said in them while she was away.
    carol.expect("JOIN carol #Old ");
    let said = carol.recv();
    assert!(
        said.starts_with("MSG alice #Old ") && said.ends_with(" said alone"),
        "{said}"
    );
    // Not imported twice.
    let second = node(&nats.urls(), "b", &["--data-dir", dir]);
    assert!(!second.log().contains("imported"), "{}", second.log());
}

#[test]
fn user_import_moves_a_users_file_into_the_cluster() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    let file = file.to_str().unwrap();
    let mut add = server_cmd();
    add.args(["user", "add", "bob", "--users", file]);
    assert!(run_with_stdin(&mut add, b"hunter2\n").status.success());
    let out = server_cmd()
        .args(["user", "import", "--users", file, "--cluster", &nats.urls()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 accounts"));
    let out = server_cmd()
        .args(["user", "list", "--cluster", &nats.urls()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "bob");
    let server = node(&nats.urls(), "a", &[]);
    login_eventually(&server, "LOGIN bob hunter2");
    let mut wrong = Line::connect(server.addr);
    wrong.send("LOGIN bob nope");
    wrong.expect("ERR 401");
}

#[test]
fn a_full_mailbox_refuses_with_507_and_says_whose() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let server = node(&nats.urls(), "a", &["--mailbox-max", "2"]);
    let mut carol = server.login("carol");
    carol.send("QUIT");
    carol.until_closed();
    let mut alice = server.login("alice");
    alice.send("MSG carol one");
    alice.send("MSG carol two");
    assert!(alice.sync().is_empty());
    alice.send("MSG carol three");
    let refused = alice.sync();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].starts_with("ERR 507") && refused[0].contains("carol's mailbox is full"),
        "{refused:?}"
    );
    let mut carol = login_eventually(&server, "LOGIN carol");
    assert!(carol.recv().ends_with(" one"));
    assert!(carol.recv().ends_with(" two"));
    carol.expect("PING ");
}

#[test]
fn a_node_stopped_with_sigterm_says_its_users_left_and_frees_their_names() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let a = node(&nats.urls(), "a", &[]);
    let mut b = node(&nats.urls(), "b", &[]);
    let mut alice = a.login("alice");
    let _erin = b.login("erin");
    loop {
        if alice.recv().starts_with("JOINED erin") {
            break;
        }
    }
    b.signal(libc::SIGTERM);
    b.wait_exit();
    let left = alice.expect("LEFT erin");
    assert!(!left.contains("node lost"), "{left}");
    login_eventually(&a, "LOGIN erin");
}

/// A single nats-server with JetStream that wants a user and password.
const GUARDED: &str = "authorization { user: evchat, password: s3cret }\n";

#[test]
fn nats_guarded_by_a_password_takes_it_in_the_url() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start_with(1, GUARDED);
    let port = nats.client_addr(0).port();
    let wrong = format!("nats://evchat:wrong@127.0.0.1:{port}");
    let out = server_cmd()
        .args(["--port", "0", "--cluster", &wrong, "--node-name", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cannot reach the cluster"), "{said}");
    assert!(!said.contains("wrong"), "a password in the log: {said}");
    let right = format!("nats://evchat:s3cret@127.0.0.1:{port}");
    let server = node(&right, "a", &[]);
    let mut alice = server.login("alice");
    alice.send("SAY guarded");
    assert!(alice.sync().is_empty());
    assert!(server.stats().contains("cluster_up=1"));
}

#[test]
fn quit_and_login_again_at_once_on_one_node_keeps_the_name() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let server = node(&nats.urls(), "a", &[]);
    for _ in 0..20 {
        let mut first = server.login("iris");
        // The next LOGIN comes as soon as the QUIT is done (its BYE), so the
        // claim follows the release at once, while NATS may not have carried
        // it out yet. (Should the release not have landed, the node takes
        // its own stale claim over rather than answer 409; NATS answers the
        // two in order, so this test does not force that.) Not sooner: two
        // connections' bytes are read in whatever order the kernel reports
        // them ready, so a LOGIN sent beside the QUIT may be read first.
        let mut second = server.connect();
        first.send("QUIT");
        first.expect("BYE");
        second.send("LOGIN iris");
        first.until_closed();
        second.expect("OK LOGIN iris");
        second.send("QUIT");
        second.until_closed();
    }
}
