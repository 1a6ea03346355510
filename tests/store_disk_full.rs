//! A journal that cannot be written (a full disk, here a file-size limit
//! put on the running server): the sender whose message was in the failed
//! write is told `ERR 503` before its `PONG`, at once, and its connection
//! goes on; nothing it was told is not held comes back later.

mod common;
use common::{fields, TestServer};

/// Sets the running server's file-size limit (`RLIMIT_FSIZE`; its hard
/// limit stays): past it a write fails with `EFBIG`, as one to a full
/// disk fails with `ENOSPC`. Returns the limit it had.
fn limit_file_size(server: &TestServer, bytes: u64) -> u64 {
    let pid = server.pid() as libc::pid_t;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit writes the old limit into `old`, which we own.
    let read = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut old) };
    assert_eq!(read, 0, "prlimit: {}", std::io::Error::last_os_error());
    let limit = libc::rlimit {
        rlim_cur: bytes.min(old.rlim_max),
        rlim_max: old.rlim_max,
    };
    // SAFETY: prlimit only reads `limit`.
    let set = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) };
    assert_eq!(set, 0, "prlimit: {}", std::io::Error::last_os_error());
    old.rlim_cur
}

#[test]
fn a_sender_caught_by_a_failed_write_gets_err_503_at_once_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut server = TestServer::start(&["--data-dir", data, "--fsync", "always"]);
    for name in ["bob", "dave"] {
        let mut visitor = server.login(name);
        visitor.send("QUIT");
        visitor.until_closed();
    }
    let mut carol = server.login("carol");
    let mut alice = server.login("alice");
    alice.send("MSG dave held before");
    alice.sync();
    carol.sync();
    // The disk is full: not one more byte fits in the journal.
    let size = std::fs::metadata(dir.path().join("journal")).unwrap().len();
    let unlimited = limit_file_size(&server, size);
    alice.send("MSG bob one");
    alice.send("PING after-one");
    alice.expect("ERR 503 the server cannot store messages now; not held for bob");
    alice.expect("PONG after-one");
    // Its connection goes on: live traffic, and more refusals, at once.
    alice.send("MSG carol live");
    assert_eq!(fields(&carol.recv()).2, "live");
    alice.send("MSG bob,carol both");
    let lines = alice.sync();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("ERR 503 ") && lines[0].ends_with("for bob"));
    assert_eq!(fields(&carol.recv()).2, "both");
    server.log_with("cannot write");
    // A reader whose delivery cannot be recorded is told so, and goes on.
    let mut dave = server.login("dave");
    let mail = dave.sync();
    assert_eq!(fields(&mail[0]).2, "held before");
    let told = dave.sync();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].starts_with("ERR 503 the server cannot record"),
        "{told:?}"
    );
    // Space comes back: held mail is taken again.
    limit_file_size(&server, unlimited);
    alice.send("MSG bob two");
    let lines = alice.sync();
    assert!(!lines.iter().any(|l| l.starts_with("ERR")), "{lines:?}");
    assert_eq!(server.stat("held"), 1, "what was refused is not held");
    server.kill();
    let again = TestServer::start(&["--data-dir", data]);
    let mut bob = again.login("bob");
    let mail = bob.sync();
    let texts: Vec<String> = mail.iter().map(|l| fields(l).2).collect();
    assert_eq!(texts, ["two"], "{mail:?}");
    let mut dave = again.login("dave");
    assert!(dave.sync().is_empty(), "dave's mail came again");
}
