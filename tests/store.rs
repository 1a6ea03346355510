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
/// PONG of a barrier, which also proves nothing else came first), with
/// their delivery recorded.
fn collect_mail(server: &TestServer, name: &str) -> (Line, Vec<String>) {
    let mut c = server.login(name);
    // The first barrier reads the mail and answers the PING after it; the
    // second comes back only once that answer's delivery record is written.
    let lines = c.sync();
    c.sync();
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

/// Logs in as each of `names` and out again, on one connection each.
fn visit_all(server: &TestServer, names: &[String]) {
    for name in names {
        visit(server, name);
    }
}

/// Bytes in the data directory's files.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn a_message_for_many_offline_users_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = server_on(dir.path(), &[]);
    let names: Vec<String> = (0..500).map(|i| format!("u{i}")).collect();
    visit_all(&server, &names);
    visit_all(&server, &["zed".to_string()]);
    let mut alice = server.login("alice");
    // The journal is written in order and a PONG waits for the mail its
    // connection held: once this one is in, so are the visitors' records.
    alice.send("MSG zed x");
    assert!(alice.sync().is_empty());
    let before = dir_bytes(dir.path());
    // 20 KB for 500 people who are away: it was 10 MB on disk, one copy
    // per recipient (recipient list included).
    let text = "t".repeat(20_000);
    alice.send(&format!("MSG {} {text}", names.join(",")));
    assert!(alice.sync().is_empty());
    let grown = dir_bytes(dir.path()) - before;
    assert!(
        grown < 20_000 + 3_000 + 500 * 16,
        "{grown} bytes on disk for one message"
    );
    assert_eq!(server.stat("held"), 501);
    // Charged what it takes in memory: its bytes once, and each of the
    // 500 a mailbox entry (a few hundred bytes).
    let charged = server.stat("held_bytes");
    assert!(charged < 30_000 + 501 * 300, "{charged} bytes charged");
    // After a restart, each of them still gets it, once.
    server.kill();
    let again = server_on(dir.path(), &[]);
    for name in ["u0", "u250", "u499"] {
        let (_c, mail) = collect_mail(&again, name);
        assert_eq!(mail.len(), 1, "{name}: {mail:?}");
        assert_eq!(fields(&mail[0]).2, text);
    }
    assert_eq!(again.stat("held"), 498);
}

#[test]
fn held_bytes_are_capped_per_mailbox_and_in_total_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(
        dir.path(),
        &[
            "--max-line",
            "1K",
            "--mailbox-bytes",
            "2K",
            "--held-bytes",
            "4K",
        ],
    );
    visit_all(&server, &["bob".into(), "carol".into(), "dave".into()]);
    let mut alice = server.login("alice");
    let text = "m".repeat(900);
    alice.send(&format!("MSG bob {text}"));
    alice.send(&format!("MSG bob {text}"));
    assert!(alice.sync().is_empty(), "two fit bob's 2K");
    alice.send(&format!("MSG bob,carol {text}"));
    let lines = alice.sync();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("ERR 507 ") && lines[0].contains("--mailbox-bytes"),
        "{lines:?}"
    );
    assert!(lines[0].ends_with("not held for bob"), "{lines:?}");
    // carol got that one; with what a mailbox and a message take besides
    // their bytes, the total is near 4K: dave's is refused.
    alice.send(&format!("MSG dave {text}"));
    let lines = alice.sync();
    assert!(
        lines.len() == 1 && lines[0].contains("--held-bytes") && lines[0].ends_with("dave"),
        "{lines:?}"
    );
    let (_carol, mail) = collect_mail(&server, "carol");
    assert_eq!(mail.len(), 1);
    // Delivered mail frees its room.
    alice.send(&format!("MSG dave {text}"));
    let errors: Vec<String> = alice
        .sync()
        .into_iter()
        .filter(|l| l.starts_with("ERR"))
        .collect();
    assert!(errors.is_empty(), "{errors:?} {}", server.stats());
}

#[test]
fn past_max_known_the_least_recently_seen_names_are_forgotten_even_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--max-known", "3"];
    let mut server = server_on(dir.path(), &flags);
    let names = |n: &[&str]| -> Vec<String> { n.iter().map(|s| s.to_string()).collect() };
    visit_all(&server, &names(&["ann", "ben", "cat"]));
    let mut zed = server.login("zed"); // the fourth: ann, seen first, goes
    zed.send("MSG ann hi");
    assert!(zed.expect("ERR 404 ").contains("ann"));
    // ben holds mail, so he stays when zed's friends come and go.
    zed.send("MSG ben you there?");
    assert!(zed.sync().is_empty());
    zed.send("QUIT");
    zed.until_closed();
    server.kill();
    // Recency survived the restart: cat is now the least recently seen
    // of those without mail, and goes when dan comes.
    let server = server_on(dir.path(), &flags);
    visit(&server, "dan");
    let mut zed = server.login("zed");
    zed.send("MSG cat hi");
    assert!(zed.expect("ERR 404 ").contains("cat"));
    zed.send("MSG ben,dan again");
    let lines = zed.sync();
    assert!(lines.is_empty(), "the others are still known: {lines:?}");
    assert_eq!(server.stat("known"), 3, "{}", server.stats());
}

#[test]
fn a_data_directory_of_the_first_format_starts_and_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    // A journal as servers of the first format wrote it: known names, and
    // a message held for bob and carol as two full copies.
    let frame = b"MSG amy bob,carol 2026-11-20T10:00:00.000Z from the old days\n";
    let mut bytes = b"EVCHATJ1".to_vec();
    let mut record = |payload: Vec<u8>| {
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
    };
    for name in ["amy", "bob", "carol"] {
        record([b"U", name.as_bytes()].concat());
    }
    for name in ["bob", "carol"] {
        record([&b"H"[..], &[name.len() as u8], name.as_bytes(), frame].concat());
    }
    std::fs::write(dir.path().join("journal"), &bytes).unwrap();
    let server = server_on(dir.path(), &[]);
    let (_bob, mail) = collect_mail(&server, "bob");
    assert_eq!(
        mail,
        ["MSG amy bob,carol 2026-11-20T10:00:00.000Z from the old days"]
    );
    // Rewritten in the current format, the message once for both.
    let journal = dir.path().join("journal");
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while std::fs::read(&journal).unwrap().get(..8) != Some(&b"EVCHATJ2"[..]) {
        assert!(std::time::Instant::now() < deadline, "not rewritten");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(server.log().contains("first format"), "{}", server.log());
    let (_carol, mail) = collect_mail(&server, "carol");
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(server.stat("held"), 0);
}
