//! An account deleted with `evchat-server user del` leaves its rooms, on
//! a running server (the members online see its `PART`) and on one that
//! was down when it happened; a restart agrees, and an account made again
//! under that name starts in no room.

mod common;
use common::{run_with_stdin, Line, TestServer};
use std::path::Path;
use std::process::Command;

/// Runs `evchat-server user ...` with `stdin` piped in.
fn user(users: &Path, args: &[&str], stdin: &str) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evchat-server"));
    command
        .arg("user")
        .args(args)
        .args(["--users", users.to_str().unwrap()]);
    let out = run_with_stdin(&mut command, stdin.as_bytes());
    assert!(out.status.success(), "{out:?}");
}

fn server(dir: &Path) -> TestServer {
    let users = dir.join("users");
    let data = dir.join("data");
    TestServer::start(&[
        "--users",
        users.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ])
}

fn login(server: &TestServer, name: &str) -> Line {
    let mut c = server.connect();
    c.send(&format!("LOGIN {name} pw-{name}"));
    c.expect(&format!("OK LOGIN {name}"));
    c
}

/// What `ROOMS` answers, once the login's catch-up is answered.
fn rooms(c: &mut Line) -> String {
    c.sync();
    c.send("ROOMS");
    loop {
        let line = c.recv();
        if line.starts_with("ROOMS") {
            return line;
        }
    }
}

/// alice and bob in `#r`, alice gone offline; bob still online.
fn two_in_a_room(dir: &Path) -> (TestServer, Line) {
    let users = dir.join("users");
    user(&users, &["add", "alice"], "pw-alice\n");
    user(&users, &["add", "bob"], "pw-bob\n");
    let server = server(dir);
    let mut alice = login(&server, "alice");
    alice.send("JOIN #r");
    alice.sync();
    let mut bob = login(&server, "bob");
    bob.send("JOIN #r");
    bob.sync();
    alice.send("QUIT");
    alice.until_closed();
    (server, bob)
}

#[test]
fn a_deleted_account_leaves_its_rooms_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, mut bob) = two_in_a_room(dir.path());
    assert_eq!(common::stat_of(&running.stats(), "memberships"), 2);
    user(&dir.path().join("users"), &["del", "alice"], "");
    // The server notices the file changed (it looks once a second).
    let parted = loop {
        let line = bob.recv();
        if line.starts_with("PART ") {
            break line;
        }
    };
    assert!(parted.starts_with("PART alice #r "), "{parted}");
    assert!(parted.ends_with(" account deleted"), "{parted}");
    // Its last operator gone, the longest-standing member is one.
    assert!(bob.expect("MODE #r * ").ends_with(" +o bob"));
    bob.send("WHO #r");
    bob.expect("USERS #r @bob");
    assert_eq!(running.stat("memberships"), 1);

    // A restart agrees, and alice made again starts in no room.
    bob.sync(); // the PART's record is written before bob's PONG
    running.kill();
    user(&dir.path().join("users"), &["add", "alice"], "pw-alice\n");
    let again = server(dir.path());
    assert_eq!(again.stat("memberships"), 1);
    assert_eq!(rooms(&mut login(&again, "alice")), "ROOMS");
    assert_eq!(rooms(&mut login(&again, "bob")), "ROOMS #r");
}

#[test]
fn an_account_deleted_while_the_server_was_down_is_in_no_room_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, bob) = two_in_a_room(dir.path());
    drop(bob);
    first.kill();
    user(&dir.path().join("users"), &["del", "alice"], "");
    let again = server(dir.path());
    assert_eq!(again.stat("memberships"), 1);
    let mut bob = login(&again, "bob");
    assert_eq!(rooms(&mut bob), "ROOMS #r");
    user(&dir.path().join("users"), &["add", "alice"], "pw-alice\n");
    // Read at this login: the new account, in no room.
    assert_eq!(rooms(&mut login(&again, "alice")), "ROOMS");
}
