//! Graceful shutdown and reload: SIGTERM/SIGINT tell every client, flush,
//! sync the store and exit 0; a second signal exits at once; SIGHUP rereads
//! the users file.

mod common;
use common::{fields, Line, TestServer};

#[test]
fn sigterm_flushes_what_was_queued_tells_everyone_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut server = TestServer::start(&["--data-dir", data]);
    let mut carol = server.login("carol");
    carol.send("QUIT");
    carol.until_closed();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.sync();
    // Queued for alice, who is not reading yet.
    for i in 0..2000 {
        bob.send(&format!("SAY line {i}"));
    }
    bob.send("MSG carol while you were out");
    bob.sync();
    server.signal(libc::SIGTERM);
    let lines = alice.until_closed();
    assert_eq!(lines.len(), 2001, "{:?}", lines.last());
    for (i, line) in lines.iter().take(2000).enumerate() {
        assert_eq!(fields(line).2, format!("line {i}"));
    }
    assert_eq!(lines[2000], "ERR 503 server shutting down");
    assert_eq!(bob.until_closed(), ["ERR 503 server shutting down"]);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(server.log().contains("stopped"), "{}", server.log());
    // The store was synced: carol's message is there after a restart.
    let again = TestServer::start(&["--data-dir", data]);
    let mut carol = again.login("carol");
    let mail = carol.sync();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(fields(&mail[0]).2, "while you were out");
}

/// A server a shutdown must wait for: `sink` has far more queued than the
/// socket buffers hold, and never reads it. Returns it, sink and the
/// talker who sent it all.
fn server_with_a_full_queue() -> (TestServer, Line, Line) {
    let server = TestServer::start(&["--shutdown-timeout", "600", "--max-queue", "64M"]);
    let mut sink = server.login("sink");
    let mut talker = server.login("talker");
    sink.sync();
    let text = "x".repeat(1000);
    for _ in 0..16_000 {
        talker.send(&format!("SAY {text}"));
    }
    talker.sync();
    (server, sink, talker)
}

#[test]
fn a_second_signal_exits_at_once_even_with_unflushed_queues() {
    let (mut server, sink, mut talker) = server_with_a_full_queue();
    server.signal(libc::SIGINT);
    assert_eq!(talker.until_closed(), ["ERR 503 server shutting down"]);
    assert!(
        server.is_alive(),
        "sink's queue keeps the first shutdown waiting"
    );
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit().code(), Some(0));
    let log = server.log();
    assert!(log.contains("second stop signal"), "{log}");
    assert!(log.contains("connection(s) had not finished"), "{log}");
    drop(sink);
}

#[test]
fn sighup_rereads_the_users_file_even_when_its_time_did_not_change() {
    use evchat::server::accounts::{hash_password, Users};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    let mut users = Users::default();
    users.set("amy", hash_password("a").unwrap());
    users.save(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut server = TestServer::start(&["--users", path.to_str().unwrap()]);
    // Restored from a backup, say: new content, old time.
    users.set("bob", hash_password("b").unwrap());
    users.save(&path).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    let mut bob = server.connect();
    bob.send("LOGIN bob b");
    bob.expect("ERR 401 ");
    server.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while !server.log().contains(": 2 users") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    bob.send("LOGIN bob b");
    bob.expect("OK LOGIN bob");
    assert!(server.is_alive(), "SIGHUP must not stop the server");
}

#[test]
fn during_a_shutdown_waiting_clients_are_told_and_newcomers_refused() {
    let (mut server, sink, mut talker) = server_with_a_full_queue();
    // A client the kernel has taken but the server has not yet accepted
    // when the signal comes.
    server.pause();
    let mut late = server.connect();
    server.signal(libc::SIGTERM);
    server.resume();
    assert_eq!(late.until_closed(), ["ERR 503 server shutting down"]);
    assert_eq!(talker.until_closed(), ["ERR 503 server shutting down"]);
    // The listener is closed while sink drains: refused, not reset later.
    let refused = std::net::TcpStream::connect(server.addr).map(|_| ());
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused)
    );
    assert!(server.is_alive());
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().code(), Some(0));
    drop(sink);
}

#[test]
fn sigterm_tells_a_browser_user_and_closes_its_websocket_as_going_away() {
    let mut server = TestServer::start(&[]);
    let mut ws = common::ws::Ws::login(server.addr, "page");
    ws.sync();
    server.signal(libc::SIGTERM);
    let (code, texts) = ws.until_close();
    assert_eq!(texts, ["ERR 503 server shutting down"]);
    assert_eq!(code, Some(1001));
    assert!(server.wait_exit().success());
}
