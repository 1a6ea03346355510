//! Every `ERR` code, and bad input that must never break a connection.

mod common;
use common::TestServer;

#[test]
fn bad_frames_get_400_and_the_connection_goes_on() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.sync();
    let bad: &[&[u8]] = &[
        b"FROB x",
        b"SAY",
        b"SAY ",
        b"SAY a\\q",
        b"SAY trailing\\",
        b"SAY nul\0byte",
        b"SAY bare\rcr",
        b"SAY \xff\xfe not utf8",
        b"MSG bob",
        b"MSG b@d hi",
        b"MSG bob,,carol hi",
        b"WHO extra",
        b"LOGIN x y z",
    ];
    for frame in bad {
        bob.send_raw(frame);
        bob.send_raw(b"\n");
        let line = bob.recv();
        assert!(line.starts_with("ERR 400 "), "{frame:?} -> {line}");
    }
    bob.send("SAY still here");
    bob.sync();
    let lines = alice.sync();
    assert_eq!(lines.len(), 1, "nothing bad reached alice: {lines:?}");
    assert!(lines[0].ends_with(" still here"));
}

#[test]
fn invalid_utf8_split_across_reads_is_refused() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    bob.send_raw(b"SAY caf\xc3");
    pause();
    bob.send_raw(b"\n");
    bob.expect("ERR 400 ");
    bob.send_raw(b"SAY caf\xc3");
    pause();
    bob.send_raw(b"\xa9\n");
    assert!(
        bob.sync().is_empty(),
        "a valid character split across reads is fine"
    );
}

/// Lets the server read what was sent so far as a chunk of its own.
fn pause() {
    std::thread::sleep(std::time::Duration::from_millis(50));
}

#[test]
fn commands_before_login_get_401_but_ping_stats_and_quit_work() {
    let server = TestServer::start(&[]);
    let mut anon = server.connect();
    for frame in ["SAY hi", "MSG bob hi", "WHO"] {
        anon.send(frame);
        anon.expect("ERR 401 ");
    }
    anon.send("STATS");
    let stats = anon.expect("STATS connections=1 users=0 ");
    for key in [
        "frames_in=",
        "deliveries=",
        "bytes_out=",
        "peak_queued=",
        "held=",
        "slow_cut=",
        "uptime=",
    ] {
        assert!(stats.contains(key), "{key} missing from {stats}");
    }
    anon.send("PING x");
    anon.expect("PONG x");
    anon.send("PONG");
    anon.send("LOGIN anon");
    anon.expect("OK LOGIN anon");
    anon.send("LOGIN again");
    anon.expect("ERR 400 already logged in");
    anon.send("QUIT");
    assert_eq!(anon.until_closed(), ["BYE"]);
}

#[test]
fn unknown_recipient_gets_404_and_nobody_gets_the_message() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.sync();
    alice.send("MSG bob,nobody hi");
    let reply = alice.expect("ERR 404 ");
    assert!(reply.contains("nobody"), "{reply}");
    assert!(bob.sync().is_empty());
}

#[test]
fn idle_connections_are_pinged_then_closed_with_408() {
    let server = TestServer::start(&["--idle-timeout", "2"]);
    let mut watcher = evchat::client::Client::connect_as(server.addr, "watcher").unwrap();
    // A program keeps receiving; the library answers PINGs as it does.
    let watching = std::thread::spawn(move || loop {
        match watcher.recv().unwrap() {
            evchat::client::Event::Left { name, .. } if name == "sleepy" => return,
            _ => {}
        }
    });
    let mut sleepy = server.login("sleepy");
    let ping = sleepy.expect("PING ");
    assert!(ping.len() > 5, "PING carries a token: {ping}");
    // Not answering: the full timeout closes the connection.
    let rest = sleepy.until_closed();
    assert!(
        rest.last().is_some_and(|l| l.starts_with("ERR 408 ")),
        "{rest:?}"
    );
    // The watcher, which answered its PINGs, is still there to see it go.
    watching.join().unwrap();
    // The name is free again.
    server.login("sleepy");
}

#[test]
fn name_online_gets_409_and_the_connection_may_try_again() {
    let server = TestServer::start(&[]);
    let _bob = server.login("bob");
    let mut other = server.connect();
    other.send("LOGIN bob");
    other.expect("ERR 409 ");
    other.send("LOGIN Bob");
    other.expect("OK LOGIN Bob");
}

#[test]
fn overlong_frame_gets_413_then_the_next_frame_works() {
    let server = TestServer::start(&["--max-line", "100"]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.sync();
    let at_limit = format!("SAY {}", "a".repeat(96));
    let over = format!("SAY {}", "b".repeat(97));
    bob.send(&at_limit);
    bob.send_raw(format!("{at_limit}\r\n").as_bytes());
    bob.send(&over);
    bob.expect("ERR 413 ");
    // An endless line without LF, sent in pieces, is discarded up to its LF.
    for _ in 0..50 {
        bob.send_raw(&[b'x'; 1000]);
    }
    bob.send_raw(b"\nSAY after\n");
    bob.expect("ERR 413 ");
    assert!(bob.sync().is_empty(), "one 413 per overlong frame");
    let got = alice.sync();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[2].ends_with(" after"));
}

#[test]
fn client_that_never_reads_is_cut_with_429_and_others_still_receive() {
    let server = TestServer::start(&["--max-line", "2K", "--max-queue", "256K"]);
    let mut reader = server.login("reader");
    let mut lazy = server.login("lazy");
    let mut talker = server.login("talker");
    reader.sync();
    // ~24 MB of broadcasts, far more than socket buffers absorb. The
    // talker stays within a window of the reader, so only `lazy` falls
    // behind.
    const TOTAL: usize = 24_000;
    const WINDOW: usize = 200;
    let text = "z".repeat(1000);
    let (progress, advanced) = std::sync::mpsc::channel();
    let reader_thread = std::thread::spawn(move || {
        let mut n = 0;
        while n < TOTAL {
            if reader.recv().starts_with("SAY talker ") {
                n += 1;
                if n % WINDOW == 0 {
                    let _ = progress.send(n);
                }
            }
        }
        n
    });
    let mut received = 0;
    for sent in 0..TOTAL {
        while sent >= received + 2 * WINDOW {
            received = advanced.recv().unwrap();
        }
        talker.send(&format!("SAY {text}"));
    }
    talker.sync();
    assert_eq!(reader_thread.join().unwrap(), TOTAL);
    assert_eq!(server.stat("slow_cut"), 1);
    // The lazy client finds, after whatever it was sent, ERR 429 and EOF.
    let lines = lazy.until_closed();
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("ERR 429 "),
        "last of {} lines: {last:.80}",
        lines.len()
    );
    // Memory stayed bounded: far below the 24 MB that went through.
    assert!(
        server.status_kib("VmHWM") < 48 * 1024,
        "peak RSS {} KiB",
        server.status_kib("VmHWM")
    );
}

#[test]
fn server_full_gets_503_and_a_slot_frees_when_someone_leaves() {
    let server = TestServer::start(&["--max-clients", "2"]);
    let mut a = server.login("a");
    let _b = server.login("b");
    let mut c = server.connect();
    let lines = c.until_closed();
    assert!(
        lines.first().is_some_and(|l| l.starts_with("ERR 503 ")),
        "{lines:?}"
    );
    a.send("QUIT");
    a.until_closed();
    // The slot is released once the connection is fully closed.
    let mut tries = 0;
    loop {
        let mut d = server.connect();
        d.send("LOGIN d");
        match d.try_recv() {
            Some(line) if line == "OK LOGIN d" => break,
            _ => {
                tries += 1;
                assert!(tries < 100, "slot never freed");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn full_mailbox_gets_507() {
    let server = TestServer::start(&["--mailbox-max", "2"]);
    let mut bob = server.login("bob");
    bob.send("QUIT");
    bob.until_closed();
    let mut carol = server.login("carol");
    carol.send("QUIT");
    carol.until_closed();
    let mut alice = server.login("alice");
    alice.send("MSG bob one");
    alice.send("MSG bob two");
    assert!(alice.sync().is_empty());
    alice.send("MSG bob,carol three");
    let lines = alice.sync();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("ERR 507 ") && lines[0].contains("bob"));
    let mut carol = server.login("carol");
    carol.expect("MSG alice bob,carol ");
}
