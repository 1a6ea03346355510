//! Names are one name in any ASCII case, shown as first written, against
//! the real binary: `BOB` cannot log in beside `bob`, a message to `BOB`
//! reaches `bob`, an account is logged in to in any case, a users file or
//! a data directory from before — with `Bob` and `bob` apart — is mended.

mod common;
use common::{run_with_stdin, Line, TestServer};
use evchat::server::journal::record::{encode, Record, MAGIC};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `evchat-server user ...` on `users` with `stdin` piped in.
fn user_cmd(users: &Path, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evchat-server"));
    command
        .arg("user")
        .args(args)
        .args(["--users", users.to_str().unwrap()]);
    run_with_stdin(&mut command, stdin.as_bytes())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bob_cannot_log_in_while_bob_is_online_and_msg_bob_reaches_bob() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut other = server.connect();
    other.send("LOGIN BOB");
    let refused = other.expect("ERR ");
    assert!(refused.starts_with("ERR 409 "), "{refused}");
    let mut amy = server.login("amy");
    bob.expect("JOINED amy ");
    amy.send("MSG BOB hi\nMSG Bob,bOb,amy again\nWHO");
    let (_, _, first) = common::fields(&bob.expect("MSG "));
    assert_eq!(first, "hi");
    let got = bob.expect("MSG ");
    assert!(got.starts_with("MSG amy bob,amy "), "once, as spelt: {got}");
    assert!(amy.expect("MSG ").starts_with("MSG amy bob,amy "));
    assert_eq!(amy.expect("USERS"), "USERS amy bob");
    assert!(bob.sync().is_empty(), "nothing twice");
}

/// A server whose users file has `name:password` for each pair.
fn server_with(dir: &Path, accounts: &[(&str, &str)]) -> TestServer {
    let users = dir.join("users");
    for (name, password) in accounts {
        let out = user_cmd(&users, &["add", name], &format!("{password}\n"));
        assert!(out.status.success(), "{out:?}");
    }
    TestServer::start(&["--users", users.to_str().unwrap()])
}

#[test]
fn an_account_logs_in_in_any_case_as_spelt_and_replaces_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), &[("bob", "pw"), ("amy", "pw2")]);
    let mut amy = server.connect();
    amy.send("LOGIN amy pw2");
    amy.expect("OK LOGIN amy");
    let mut old = server.connect();
    old.send("LOGIN BOB pw");
    old.expect("OK LOGIN bob");
    amy.expect("JOINED bob ");
    let mut new = server.connect();
    new.send("LOGIN Bob pw");
    new.expect("OK LOGIN bob");
    let closing = old.until_closed();
    assert!(
        closing.len() == 1 && closing[0].starts_with("ERR 409 replaced"),
        "{closing:?}"
    );
    assert!(amy.sync().is_empty(), "no LEFT/JOINED flicker");
    amy.send("MSG BOB still there?");
    assert!(new.expect("MSG ").starts_with("MSG amy bob "));
}

#[test]
fn user_add_refuses_a_name_in_another_case_and_a_file_with_both_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    assert!(user_cmd(&users, &["add", "bob"], "pw\n").status.success());
    let out = user_cmd(&users, &["add", "Bob"], "pw\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("bob is an account already"),
        "{out:?}"
    );
    // A file with both, as an older evchat could write it: the start stops,
    // naming both, until the operator removes one.
    let text = std::fs::read_to_string(&users).unwrap();
    let hash = text.lines().find_map(|l| l.strip_prefix("bob:")).unwrap();
    std::fs::write(&users, format!("{text}Bob:{hash}\n")).unwrap();
    let (code, why) = start_refused(&["--port", "0", "--users", users.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{why}");
    assert!(
        why.contains("bob and Bob are one name") && why.contains("user del"),
        "{why}"
    );
    let listed = user_cmd(&users, &["list"], "");
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "Bob\nbob\n");
    assert!(user_cmd(&users, &["del", "Bob"], "").status.success());
    let server = TestServer::start(&["--users", users.to_str().unwrap()]);
    let mut c = server.connect();
    c.send("LOGIN BOB pw");
    c.expect("OK LOGIN bob");
}

/// Starts a server that should stop at once: its exit status and what it
/// said. One that starts instead is killed, failing the test (rather than
/// waiting for it for ever).
fn start_refused(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + common::PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut said = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut said);
    }
    (status.code(), said)
}

const T1: &str = "2026-11-20T10:00:00.000Z";

/// A journal as an evchat that compared names byte for byte left it: `bob`
/// seen, then `Bob` later, each with held mail and a room, both in a third.
fn journal_with_bob_twice(dir: &Path) {
    let one = format!("MSG amy bob {T1} for bob\n");
    let two = format!("MSG amy Bob {T1} for Bob\n");
    let both = format!("MSG amy bob,Bob {T1} for both\n");
    let records = [
        Record::Seen { name: "amy", at: 1 },
        Record::Seen { name: "bob", at: 2 },
        Record::Seen { name: "Bob", at: 3 },
        Record::Held {
            to: vec!["bob"],
            frame: one.as_bytes(),
        },
        Record::Held {
            to: vec!["Bob"],
            frame: two.as_bytes(),
        },
        Record::Held {
            to: vec!["Bob", "bob"],
            frame: both.as_bytes(),
        },
        Record::RoomJoined {
            name: "bob",
            room: "#low",
        },
        Record::RoomJoined {
            name: "Bob",
            room: "#high",
        },
        Record::RoomJoined {
            name: "bob",
            room: "#both",
        },
        Record::RoomJoined {
            name: "Bob",
            room: "#both",
        },
    ];
    let mut bytes = MAGIC.to_vec();
    for record in &records {
        encode(&mut bytes, record);
    }
    std::fs::write(dir.join("journal"), bytes).unwrap();
}

fn rooms_of(c: &mut Line) -> String {
    c.send("ROOMS");
    c.expect("ROOMS")
}

#[test]
fn a_data_directory_with_bob_and_bob_merges_them_into_the_most_recently_seen() {
    let dir = tempfile::tempdir().unwrap();
    journal_with_bob_twice(dir.path());
    let data = ["--data-dir", dir.path().to_str().unwrap()];
    let server = TestServer::start(&data);
    let log = server.log_with("are one name now");
    assert!(log.contains("bob and Bob are one name now"), "{log}");
    assert!(log.contains("merged into Bob"), "{log}");
    let mut bob = server.connect();
    bob.send("LOGIN bob");
    bob.expect("OK LOGIN Bob");
    let mail = bob.sync();
    let texts: Vec<String> = mail
        .iter()
        .filter(|l| l.starts_with("MSG "))
        .map(|l| common::fields(l).2)
        .collect();
    assert_eq!(texts, ["for bob", "for Bob", "for both"], "{mail:?}");
    assert_eq!(rooms_of(&mut bob), "ROOMS #both #high #low");
    bob.send("WHO #both");
    assert_eq!(bob.expect("USERS"), "USERS #both @Bob");
    bob.sync();
    drop(bob);
    drop(server);
    // The journal was rewritten merged: a restart finds one name, its
    // mail delivered, its rooms kept, and nothing more to merge.
    let server = TestServer::start(&data);
    let mut bob = server.connect();
    bob.send("LOGIN BOB");
    bob.expect("OK LOGIN Bob");
    let again = bob.sync();
    assert!(
        again.iter().all(|l| l.starts_with("JOIN Bob #")),
        "{again:?}"
    );
    assert_eq!(rooms_of(&mut bob), "ROOMS #both #high #low");
    assert!(!server.log().contains("one name now"), "{}", server.log());
    assert_eq!(server.stat("known"), 2);
    assert_eq!(server.stat("held"), 0);
}
