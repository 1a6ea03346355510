//! How connections end: a FIN however it arrives, resets mid-frame,
//! half-closes, closing with a full queue — and that a connection on its
//! way out no longer takes a client's place.

mod common;
use common::pair::{healthy, reset, wait_connections, Pair};
use common::{Line, TestServer, PATIENCE};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

/// Reads lines until one starts with `prefix`; returns it.
fn until(line: &mut Line, prefix: &str) -> String {
    loop {
        let got = line.recv();
        if got.starts_with(prefix) {
            return got;
        }
    }
}

#[test]
fn a_login_followed_at_once_by_fin_is_noticed() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    let mut watcher = server.login("watcher");
    watcher.sync();
    // While the server is stopped, the kernel takes the connection, the
    // LOGIN and the FIN: the server's first look at the socket finds data
    // and end of stream together, and no later event will come.
    server.pause();
    let mut ghost = TcpStream::connect(server.addr).unwrap();
    ghost.write_all(b"LOGIN ghost\n").unwrap();
    ghost.shutdown(Shutdown::Write).unwrap();
    server.resume();
    until(&mut watcher, "JOINED ghost ");
    until(&mut watcher, "LEFT ghost ");
    // The name is free again, and the ghost was answered before the close.
    server.login("ghost");
    let mut told = String::new();
    ghost.set_read_timeout(Some(PATIENCE)).unwrap();
    ghost.read_to_string(&mut told).unwrap();
    assert_eq!(told, "OK LOGIN ghost\n");
}

#[test]
fn a_fin_after_more_than_one_turn_of_data_is_noticed_and_all_is_read() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    let mut watcher = server.login("watcher");
    watcher.sync();
    // 2 MB of broadcasts and then the FIN: far more than one turn's read
    // budget, so the FIN is waiting while the socket is read turn by turn.
    server.pause();
    let mut talker = TcpStream::connect(server.addr).unwrap();
    let writer = std::thread::spawn(move || {
        talker.write_all(b"LOGIN talker\n").unwrap();
        for i in 0..20_000 {
            talker
                .write_all(format!("SAY {i:05} {}\n", "x".repeat(90)).as_bytes())
                .unwrap();
        }
        talker.shutdown(Shutdown::Write).unwrap();
        talker
    });
    server.resume();
    let _talker = writer.join().unwrap();
    until(&mut watcher, "JOINED talker ");
    for i in 0..20_000 {
        let line = until(&mut watcher, "SAY talker ");
        assert!(line.contains(&format!(" {i:05} ")), "{i}: {line:.40}");
    }
    until(&mut watcher, "LEFT talker ");
}

#[test]
fn lingering_connections_have_a_cap_of_their_own() {
    let mut server = TestServer::start(&["--max-clients", "4"]);
    let fds = server.open_fds();
    // Many clients quit and never close: each lingers until the cap (16
    // for 4 clients) makes the oldest go.
    let mut quitters = Vec::new();
    for i in 0..60 {
        let mut q = server.login(&format!("q{i}"));
        q.send("QUIT");
        q.expect("BYE");
        quitters.push(q);
    }
    let mut c = server.login("still-room");
    c.sync();
    assert!(server.stat("closing") <= 16, "{}", server.stats());
    assert!(
        server.open_fds() <= fds + 16 + 2,
        "{} descriptors",
        server.open_fds()
    );
    healthy(&mut server, 64);
}

#[test]
fn a_refused_client_that_keeps_sending_stalls_nobody() {
    let server = TestServer::start(&["--max-clients", "3"]);
    let mut pair = Pair::new(&server);
    let _third = server.login("third");
    let mut refused = TcpStream::connect(server.addr).unwrap();
    let mut writer = refused.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let chunk = vec![b'z'; 64 << 10];
        let mut sent = 0usize;
        while writer.write_all(&chunk).is_ok() && sent < 256 << 20 {
            sent += chunk.len();
        }
    });
    // The pair is served while the refused client pours bytes in.
    for _ in 0..10 {
        pair.check();
    }
    refused.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut first = [0u8; 40];
    let n = refused.read(&mut first).unwrap();
    assert!(
        first[..n].starts_with(b"ERR 503 server full"),
        "{:?}",
        String::from_utf8_lossy(&first[..n])
    );
    // It is closed in the end, whatever it sends.
    sending.join().unwrap();
    pair.check();
}

#[test]
fn resets_half_closes_and_closing_with_a_full_queue() {
    let mut server = TestServer::start(&["--max-queue", "64M"]);
    let mut pair = Pair::new(&server);
    // Reset in the middle of a frame: the half frame is never delivered.
    // (Wait until the server has read it, so the reset comes after.)
    let mut r = server.login("resetter");
    let before = server.stat("bytes_in");
    r.send_raw(b"SAY never finis");
    let deadline = Instant::now() + PATIENCE;
    while server.stat("bytes_in") < before + 15 + 6 {
        assert!(Instant::now() < deadline, "the half frame was not read");
    }
    reset(r.stream.try_clone().unwrap());
    drop(r);
    pair.check();
    // Half-close after QUIT: BYE still arrives, then EOF.
    let mut h = server.login("halfway");
    h.send("QUIT done");
    h.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(h.until_closed(), ["BYE"]);
    pair.check();
    // A client that closes while its queue is full.
    let full = server.login("fullq");
    let mut talker = server.login("talker2");
    let text = "q".repeat(1000);
    for _ in 0..20_000 {
        talker.send(&format!("SAY {text}"));
    }
    talker.sync();
    pair.check();
    assert!(server.stat("queued") > 0, "fullq should have a backlog");
    reset(full.stream.try_clone().unwrap());
    drop(full);
    wait_connections(&server, 3, &mut pair);
    let deadline = Instant::now() + PATIENCE;
    while server.stat("queued") > 0 {
        assert!(Instant::now() < deadline, "queue of a closed client kept");
        pair.check();
    }
    // No line from the broken clients ever reached the pair.
    assert!(
        pair.seen.iter().all(|l| !l.contains("never finis")),
        "{:?}",
        pair.seen
    );
    assert!(pair.seen.iter().any(|l| l.starts_with("LEFT resetter ")));
    healthy(&mut server, 96);
}
