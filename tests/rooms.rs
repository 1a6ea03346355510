//! Rooms with the real binary: the contract of docs/PROTOCOL.md's
//! "Rooms" — joining, talking, leaving, what a room remembers and what a
//! member who was away is sent — across restarts and `kill -9`.

mod common;
use common::{Line, TestServer};
use std::path::Path;

fn server_on(dir: &Path, extra: &[&str]) -> TestServer {
    let mut args = vec!["--data-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    TestServer::start(&args)
}

/// Lines without their times (`T`), for comparing.
fn untimed(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| {
            l.split(' ')
                .map(|f| {
                    if f.len() == 24 && f.ends_with('Z') {
                        "T"
                    } else {
                        f
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Everything `line` is sent up to a barrier, comings and goings left out.
fn replies(line: &mut Line) -> Vec<String> {
    let lines = line.sync().into_iter();
    untimed(
        lines
            .filter(|l| !l.starts_with("JOINED ") && !l.starts_with("LEFT "))
            .collect(),
    )
}

/// Logs in and returns what comes before the PING that follows held mail
/// and catch-up, answering it, then waits until its record is written.
fn login_caught_up(server: &TestServer, name: &str) -> (Line, Vec<String>) {
    let mut c = server.login(name);
    let lines = replies(&mut c);
    c.sync();
    (c, lines)
}

fn quit(mut line: Line) {
    line.send("QUIT");
    line.until_closed();
}

#[test]
fn a_room_is_joined_talked_in_and_left_by_people_on_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dir.path(), &[]);
    let mut amy = server.login("amy");
    let mut bob = server.login("bob");
    amy.send("JOIN #Rust");
    assert_eq!(replies(&mut amy), ["JOIN amy #Rust T"]);
    amy.send("MSG #rust before bob came");
    bob.send("join #RUST");
    assert_eq!(
        replies(&mut bob),
        ["JOIN bob #Rust T", "MSG amy #Rust T before bob came"]
    );
    assert_eq!(replies(&mut amy), ["JOIN bob #Rust T"]);
    bob.send("MSG #rust,amy hi");
    bob.send("WHO #rust");
    bob.send("ROOMS");
    assert_eq!(replies(&mut bob), ["USERS #Rust @amy bob", "ROOMS #Rust"]);
    assert_eq!(replies(&mut amy), ["MSG bob #Rust,amy T hi"]);
    let mut eve = server.login("eve");
    eve.send("MSG #rust sneaking in");
    eve.send("SAY    ");
    assert_eq!(
        replies(&mut eve),
        [
            "ERR 403 not in #Rust; nothing was sent",
            "ERR 400 text must not be only spaces"
        ]
    );
    bob.send("PART #Rust bye");
    assert_eq!(replies(&mut bob), ["PART bob #Rust T bye"]);
    assert_eq!(replies(&mut amy), ["PART bob #Rust T bye"]);
    let stats = server.stats();
    for kv in ["rooms=1", "memberships=1"] {
        assert!(stats.contains(kv), "{stats}");
    }
}

#[test]
fn membership_history_and_what_was_missed_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_on(dir.path(), &[]);
    let mut amy = server.login("amy");
    let bob = server.login("bob");
    amy.send("JOIN #a");
    let mut bob = bob;
    bob.send("JOIN #a");
    replies(&mut bob);
    quit(bob);
    amy.send("MSG #a said while bob was away");
    amy.send("MSG #a,bob for bob twice over");
    // The PONG: both are on disk now.
    assert_eq!(replies(&mut amy), ["JOIN amy #a T", "JOIN bob #a T"]);
    server.kill();
    let server = server_on(dir.path(), &[]);
    let (bob, caught_up) = login_caught_up(&server, "bob");
    assert_eq!(
        caught_up,
        [
            "MSG amy #a,bob T for bob twice over",
            "JOIN bob #a T",
            "MSG amy #a T said while bob was away",
        ]
    );
    quit(bob);
    // Acknowledged: the next login has only the JOIN.
    let (mut bob, again) = login_caught_up(&server, "bob");
    assert_eq!(again, ["JOIN bob #a T"]);
    // A newcomer gets the history; the room remembers both messages.
    let mut cat = server.login("cat");
    cat.send("JOIN #A");
    assert_eq!(
        replies(&mut cat),
        [
            "JOIN cat #a T",
            "MSG amy #a T said while bob was away",
            "MSG amy #a,bob T for bob twice over",
        ]
    );
    bob.send("ROOMS");
    assert_eq!(replies(&mut bob), ["JOIN cat #a T", "ROOMS #a"]);
}

#[test]
fn history_keeps_the_newest_and_a_catch_up_not_acknowledged_comes_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_on(dir.path(), &["--history", "3"]);
    let mut amy = server.login("amy");
    let mut bob = server.login("bob");
    amy.send("JOIN #a");
    bob.send("JOIN #a");
    replies(&mut bob);
    quit(bob);
    for i in 0..5 {
        amy.send(&format!("MSG #a m{i}"));
    }
    replies(&mut amy);
    // bob reads but never answers the PING: it is not acknowledged.
    let mut bob = server.login("bob");
    let mut seen = Vec::new();
    loop {
        let line = bob.recv();
        if line.starts_with("PING ") {
            break;
        }
        seen.push(line);
    }
    assert_eq!(
        untimed(seen),
        [
            "JOIN bob #a T",
            "MSG amy #a T m2",
            "MSG amy #a T m3",
            "MSG amy #a T m4"
        ]
    );
    quit(bob);
    server.kill();
    let server = server_on(dir.path(), &["--history", "3"]);
    let (_bob, again) = login_caught_up(&server, "bob");
    assert_eq!(
        again,
        [
            "JOIN bob #a T",
            "MSG amy #a T m2",
            "MSG amy #a T m3",
            "MSG amy #a T m4"
        ]
    );
}

#[test]
fn a_name_in_a_room_is_never_forgotten_past_max_known() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_on(dir.path(), &["--max-known", "2"]);
    let mut amy = server.login("amy");
    amy.send("JOIN #keep");
    replies(&mut amy);
    quit(amy);
    // Three more names come and go: past --max-known, the least recently
    // seen are forgotten — but not amy, who is in a room.
    for name in ["b1", "b2", "b3"] {
        quit(server.login(name));
    }
    let mut zed = server.login("zed");
    zed.send("MSG amy still there?");
    zed.send("MSG b1 gone?");
    assert_eq!(
        replies(&mut zed),
        ["ERR 404 no such user: b1; nothing was sent"]
    );
    // And across a restart.
    server.kill();
    let server = server_on(dir.path(), &["--max-known", "2"]);
    for name in ["c1", "c2", "c3"] {
        quit(server.login(name));
    }
    let mut zed = server.login("zed");
    zed.send("MSG amy still there?");
    assert_eq!(replies(&mut zed), Vec::<String>::new());
}
