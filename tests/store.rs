//! The durable store: held messages survive restarts, `kill -9` right after
//! the sender's PONG, and a torn journal tail.

mod common;
use common::{fields, Line, TestServer};
use std::io::Write;
use std::path::Path;

fn server_on(dir: &Path, extra: &[&str]) -> TestServer {
    let mut args = vec!["--data-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    TestServer::start(&args)
}

/// Makes `name` known to the server, then leaves.
fn visit(server: &TestServer, name: &str) {
    let mut c = server.login(name);
    c.send("QUIT");
    c.until_closed();
}

/// Logs in and returns the held messages that follow `OK LOGIN` (up to the
/// PONG of a barrier, which also proves nothing else came first).
fn collect_mail(server: &TestServer, name: &str) -> (Line, Vec<String>) {
    let mut c = server.login(name);
    let lines = c.sync();
    (c, lines)
}

#[test]
fn held_messages_survive_a_restart_in_order_with_sender_and_time_then_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_on(dir.path(), &[]);
    visit(&server, "bob");
    visit(&server, "carol");
    let mut alice = server.login("alice");
    for i in 0..5 {
        alice.send(&format!("MSG bob note\\n{i}"));
    }
    alice.send("MSG bob,carol for both");
    assert!(alice.sync().is_empty());
    server.kill();
    let mut server = server_on(dir.path(), &[]);
    let (_bob, mail) = collect_mail(&server, "bob");
    assert_eq!(mail.len(), 6, "{mail:?}");
    for (i, line) in mail.iter().take(5).enumerate() {
        assert!(line.starts_with("MSG alice bob "), "{line}");
        assert_eq!(fields(line).2, format!("note\\n{i}"));
    }
    assert!(mail[5].starts_with("MSG alice bob,carol "));
    assert_eq!(fields(&mail[5]).2, "for both");
    let times: Vec<String> = mail.iter().map(|l| fields(l).1).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "held in order, with their original times");
    // Delivered mail is removed, durably: bob's barrier PONG came after
    // the record of its delivery, so not even kill -9 brings it back.
    server.kill();
    let again = server_on(dir.path(), &[]);
    let (_bob, mail) = collect_mail(&again, "bob");
    assert!(mail.is_empty(), "delivered twice: {mail:?}");
    let (_carol, mail) = collect_mail(&again, "carol");
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(fields(&mail[0]).2, "for both");
}

#[test]
fn a_message_acknowledged_by_pong_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // `never`: only the write to the OS before the PONG protects it.
    let mut server = server_on(dir.path(), &["--fsync", "never"]);
    visit(&server, "bob");
    let mut alice = server.login("alice");
    alice.send("MSG bob you there?");
    alice.send("PING ack");
    alice.expect("PONG ack");
    server.kill();
    let again = server_on(dir.path(), &["--fsync", "never"]);
    let (_bob, mail) = collect_mail(&again, "bob");
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(fields(&mail[0]).2, "you there?");
}

#[test]
fn a_torn_tail_is_cut_off_and_the_messages_before_it_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_on(dir.path(), &["--fsync", "always"]);
    visit(&server, "bob");
    let mut alice = server.login("alice");
    alice.send("MSG bob one");
    alice.send("MSG bob two");
    alice.sync();
    server.kill();
    // A crash in the middle of appending a record: a length that promises
    // more than is there, then a few bytes of it.
    let journal = dir.path().join("journal");
    let whole = std::fs::metadata(&journal).unwrap().len();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    file.write_all(&[60, 0, 0, 0, 1, 2, 3, 4, b'H', 3, b'b', b'o'])
        .unwrap();
    drop(file);
    let again = server_on(dir.path(), &[]);
    let log = again.log();
    assert!(
        log.contains("WARN") && log.contains("cutting off the last 12 bytes"),
        "{log}"
    );
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), whole);
    let (_bob, mail) = collect_mail(&again, "bob");
    let texts: Vec<String> = mail.iter().map(|l| fields(l).2).collect();
    assert_eq!(texts, ["one", "two"]);
}

#[test]
fn a_foreign_journal_stops_the_start_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("journal"), "not a journal at all").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--port", "0", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("is not an evchat journal") && stderr.contains("Move it out"),
        "{stderr}"
    );
}

#[test]
fn the_mailbox_limit_holds_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_on(dir.path(), &["--mailbox-max", "2"]);
    visit(&server, "bob");
    let mut alice = server.login("alice");
    alice.send("MSG bob 1");
    alice.send("MSG bob 2");
    assert!(alice.sync().is_empty());
    server.kill();
    let again = server_on(dir.path(), &["--mailbox-max", "2"]);
    let mut alice = again.login("alice");
    alice.send("MSG bob 3");
    let lines = alice.sync();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("ERR 507 "), "{lines:?}");
    let (_bob, mail) = collect_mail(&again, "bob");
    let texts: Vec<String> = mail.iter().map(|l| fields(l).2).collect();
    assert_eq!(texts, ["1", "2"]);
}

#[test]
fn two_servers_cannot_share_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = server_on(dir.path(), &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--port", "0", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another evchat-server"));
}
