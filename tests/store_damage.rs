//! A damaged journal: damage in the middle costs only the records it
//! touches, and what was skipped is saved and said; a journal with not
//! even a header is reported.

mod common;
use common::{fields, TestServer};
use std::os::unix::fs::FileExt;
use std::path::Path;

fn server_on(dir: &Path) -> TestServer {
    TestServer::start(&["--data-dir", dir.to_str().unwrap()])
}

/// A journal holding `n` messages of about 1 KiB for bob, numbered.
fn journal_of(dir: &Path, n: usize) -> u64 {
    let mut server = server_on(dir);
    let mut bob = server.login("bob");
    bob.send("QUIT");
    bob.until_closed();
    let mut alice = server.login("alice");
    let pad = "p".repeat(1000);
    for i in 0..n {
        alice.send(&format!("MSG bob {i} {pad}"));
    }
    assert!(alice.sync().is_empty());
    server.kill();
    std::fs::metadata(dir.join("journal")).unwrap().len()
}

/// Logs in as bob and returns the numbers of the messages held for him.
fn numbers_held(server: &TestServer) -> Vec<usize> {
    let mut bob = server.login("bob");
    let mail = bob.sync();
    bob.sync();
    mail.iter()
        .map(|l| fields(l).2.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// Files the start saved damaged bytes in, and their sizes.
fn saved_aside(dir: &Path) -> Vec<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("damaged"))
        .map(|e| e.metadata().unwrap().len())
        .collect()
}

#[test]
fn a_flipped_bit_mid_journal_loses_one_message_not_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let size = journal_of(dir.path(), 100);
    let journal = std::fs::File::options()
        .read(true)
        .write(true)
        .open(dir.path().join("journal"))
        .unwrap();
    let at = size / 10;
    let mut byte = [0u8];
    journal.read_exact_at(&mut byte, at).unwrap();
    journal.write_all_at(&[byte[0] ^ 0x10], at).unwrap();
    drop(journal);
    let mut server = server_on(dir.path());
    let held = numbers_held(&server);
    assert_eq!(held.len(), 99, "{held:?}");
    let log = server.log();
    assert!(log.contains("skipped") && log.contains("saved in"), "{log}");
    assert!(!log.contains("cutting off"), "not a torn tail: {log}");
    assert_eq!(saved_aside(dir.path()).len(), 1);
    // The journal was rewritten whole: the next start meets no damage.
    server.kill();
    let again = server_on(dir.path());
    let log = again.log();
    assert!(
        !log.contains("skipped") && !log.contains("cutting"),
        "{log}"
    );
}

#[test]
fn a_zeroed_page_mid_journal_loses_only_the_messages_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let size = journal_of(dir.path(), 100);
    let journal = std::fs::File::options()
        .write(true)
        .open(dir.path().join("journal"))
        .unwrap();
    journal.write_all_at(&[0; 4096], size / 10).unwrap();
    drop(journal);
    let server = server_on(dir.path());
    let held = numbers_held(&server);
    // A page touches at most six records of about 1 KiB.
    assert!(held.len() >= 94, "{} kept: {held:?}", held.len());
    assert!(held.windows(2).all(|w| w[0] < w[1]), "in order: {held:?}");
    assert_eq!(held.last(), Some(&99));
    let skipped: u64 = saved_aside(dir.path()).iter().sum();
    assert!((4096..4096 + 2 * 1100).contains(&skipped), "{skipped}");
}

#[test]
fn a_journal_without_its_header_is_reported_not_taken_silently_as_empty() {
    for bytes in [&b""[..], b"EVC"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal"), bytes).unwrap();
        let server = server_on(dir.path());
        let log = server.log();
        let said = format!("only {} bytes", bytes.len());
        assert!(log.contains("WARN") && log.contains(&said), "{log}");
    }
}
