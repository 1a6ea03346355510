//! Every `ERR` code, and bad input that must never break a connection.
//! (`413` and `429` are in `hostile.rs`, with the floods that cause them.)

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
    let server = TestServer::start(&["--idle-timeout", "1"]);
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
    // Names are compared without case: Bob is bob.
    other.send("LOGIN Bob");
    other.expect("ERR 409 ");
    other.send("LOGIN bobby");
    other.expect("OK LOGIN bobby");
}

#[test]
fn server_full_gets_503_and_a_slot_frees_when_someone_leaves() {
    let server = TestServer::start(&["--max-clients", "2"]);
    let mut a = server.login("a");
    let _b = server.login("b");
    a.sync();
    let mut c = server.connect();
    assert_eq!(c.until_closed(), ["ERR 503 server full; try again later"]);
    // a quits but keeps its socket open: the server lingers on it (for its
    // FIN) — bookkeeping, which takes no client's slot.
    a.send("QUIT");
    assert_eq!(a.until_closed(), ["BYE"]);
    let mut d = server.connect();
    d.send("LOGIN d");
    d.expect("OK LOGIN d");
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
