//! Chatting as users do: broadcast, private messages, held mail, presence.

mod common;
use common::{fields, TestServer};

#[test]
fn broadcast_reaches_every_other_user_and_not_the_sender() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut others: Vec<_> = ["bob", "carol", "dave"]
        .iter()
        .map(|n| server.login(n))
        .collect();
    alice.sync(); // JOINED notices
    for o in &mut others {
        o.sync();
    }
    alice.send("SAY hello,  everyone ");
    assert!(
        alice.sync().is_empty(),
        "the sender gets no copy and no reply"
    );
    for o in &mut others {
        let line = o.expect("SAY alice ");
        let (from, time, text) = fields(&line);
        assert_eq!(
            (from.as_str(), text.as_str()),
            ("alice", "hello,  everyone ")
        );
        assert!(
            chrono::DateTime::parse_from_rfc3339(&time).is_ok(),
            "{time}"
        );
        assert_eq!(time.len(), "2026-11-23T10:15:30.123Z".len());
    }
}

#[test]
fn private_messages_to_one_to_several_and_to_oneself() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    let mut eve = server.login("eve");
    for c in [&mut alice, &mut bob, &mut carol, &mut eve] {
        c.sync();
    }
    alice.send("MSG bob just you");
    alice.send("MSG bob,carol,bob,alice you three");
    assert_eq!(alice.sync().len(), 1, "alice gets her own copy");
    assert!(bob.expect("MSG alice bob ").ends_with(" just you"));
    // The list as recipients see it is de-duplicated, in the order written.
    let two = bob.expect("MSG alice bob,carol,alice ");
    assert!(two.ends_with(" you three"));
    assert!(bob.sync().is_empty(), "a name listed twice gets one copy");
    carol.expect("MSG alice bob,carol,alice ");
    assert!(eve.sync().is_empty(), "eve was not addressed");
}

#[test]
fn held_messages_arrive_at_next_login_in_order_before_newer_ones() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    bob.send("QUIT");
    bob.expect("BYE");
    let mut alice = server.login("alice");
    alice.sync();
    for i in 1..=5 {
        alice.send(&format!("MSG bob held {i}"));
    }
    alice.sync();
    let mut bob = server.connect();
    bob.send("LOGIN bob");
    bob.expect("OK LOGIN bob");
    alice.send("SAY live after login");
    for i in 1..=5 {
        let line = bob.expect("MSG alice bob ");
        assert_eq!(fields(&line).2, format!("held {i}"));
    }
    let rest = bob.sync();
    assert!(
        rest.iter().any(|l| l.ends_with(" live after login")),
        "{rest:?}"
    );
    // Delivered mail is gone: a second login gets none of it again.
    bob.send("QUIT");
    bob.until_closed();
    let mut bob = server.login("bob");
    assert!(bob.sync().is_empty());
}

#[test]
fn joins_and_leaves_are_announced_with_quit_text() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    let line = alice.expect("JOINED bob ");
    assert_eq!(line.split(' ').count(), 3);
    let mut carol = server.login("carol");
    alice.expect("JOINED carol ");
    drop(bob); // disconnect without QUIT
    let left = alice.expect("LEFT bob ");
    assert_eq!(left.split(' ').count(), 3, "no text without QUIT: {left}");
    carol.send("QUIT gone\\nfishing");
    assert_eq!(carol.until_closed().last().map(String::as_str), Some("BYE"));
    let left = alice.expect("LEFT carol ");
    assert!(left.ends_with(" gone\\nfishing"), "{left}");
}

#[test]
fn who_lists_online_users_in_byte_order() {
    let server = TestServer::start(&[]);
    let mut users: Vec<_> = ["bob", "Zed", "alice", "_x"]
        .iter()
        .map(|n| server.login(n))
        .collect();
    let mut gone = server.login("gone");
    gone.send("QUIT");
    gone.until_closed();
    users[0].sync();
    users[0].send("who");
    let lines = users[0].sync();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("USERS Zed _x alice bob")
    );
}

#[test]
fn ping_is_a_barrier_and_echoes_its_token() {
    let server = TestServer::start(&[]);
    let mut anon = server.connect();
    anon.send("PING");
    anon.expect("PONG");
    anon.send("PING with spaces 1");
    assert_eq!(anon.recv(), "PONG with spaces 1");
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.sync();
    // Everything bob sends before his PING is queued for alice by the time
    // bob has his PONG.
    for i in 0..100 {
        bob.send(&format!("SAY m{i}"));
    }
    bob.sync();
    alice.send("PING done");
    let mut seen = 0;
    loop {
        let line = alice.recv();
        if line == "PONG done" {
            break;
        }
        assert!(line.ends_with(&format!(" m{seen}")), "{line}");
        seen += 1;
    }
    assert_eq!(seen, 100);
}

#[test]
fn crlf_lowercase_commands_and_escaped_newlines_work_end_to_end() {
    let server = TestServer::start(&[]);
    let mut alice = server.connect();
    alice.send_raw(b"login alice\r\n");
    alice.expect("OK LOGIN alice");
    let mut bob = evchat::client::Client::connect_as(server.addr, "bob").unwrap();
    bob.sync().unwrap();
    alice.sync();
    alice.send_raw(b"say two\\nlines and a \\\\ and a \\r\r\n");
    match bob.recv().unwrap() {
        evchat::client::Event::Say { from, text, .. } => {
            assert_eq!(from, "alice");
            assert_eq!(text, "two\nlines and a \\ and a \r");
        }
        other => panic!("unexpected {other:?}"),
    }
    bob.say("back\nat you\\").unwrap();
    let line = alice.expect("SAY bob ");
    assert_eq!(fields(&line).2, "back\\nat you\\\\");
}

#[test]
fn two_hundred_clients_at_once() {
    let server = TestServer::start(&[]);
    let mut clients: Vec<_> = (0..200).map(|i| server.login(&format!("u{i}"))).collect();
    for c in &mut clients {
        c.sync();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&format!("SAY from {i}"));
    }
    // After every client's barrier, every SAY has been queued.
    let mut seen: Vec<Vec<String>> = clients.iter_mut().map(|c| c.sync()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        seen[i].extend(c.sync());
        let mut got = 0;
        for line in &seen[i] {
            assert!(line.starts_with("SAY u"), "{line}");
            assert!(!line.ends_with(&format!(" from {i}")), "own message echoed");
            got += 1;
        }
        assert_eq!(got, 199, "client {i}");
    }
}

#[test]
fn away_is_told_after_a_message_to_you_until_you_are_back_or_gone() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.expect("JOINED bob ");
    alice.send("AWAY at lunch\\nback at 2");
    let (name, time, text) = fields(&alice.expect("AWAY alice "));
    assert_eq!(
        (name.as_str(), text.as_str()),
        ("alice", "at lunch\\nback at 2")
    );
    // Every message naming her tells its sender, after it: since when, why.
    bob.send("MSG alice,bob hi");
    bob.expect("MSG bob alice,bob ");
    assert_eq!(
        bob.expect("AWAY "),
        format!("AWAY alice {time} at lunch\\nback at 2")
    );
    alice.expect("MSG bob alice,bob ");
    // Too long a text changes nothing.
    alice.send(&format!("AWAY {}", "x".repeat(401)));
    assert!(alice
        .expect("ERR 400 ")
        .contains("away text longer than 400 bytes"));
    bob.send("MSG alice still?");
    assert!(bob.expect("AWAY alice ").ends_with(" at lunch\\nback at 2"));
    // Away is the session's: a new one starts back.
    alice.send("QUIT");
    alice.expect("MSG bob alice ");
    alice.expect("BYE");
    let mut alice = server.login("alice");
    bob.send("MSG alice welcome back");
    alice.expect("MSG bob alice ");
    assert!(bob.sync().iter().all(|l| !l.starts_with("AWAY")));
}

#[test]
fn whois_tells_online_away_or_known_and_the_rooms() {
    let server = TestServer::start(&[]);
    let mut carol = server.login("Carol");
    carol.send("JOIN #Rust");
    carol.expect("JOIN Carol #Rust ");
    carol.send("QUIT");
    carol.expect("BYE");
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #Rust ");
    let mut alice = server.login("alice");
    alice.send("WHOIS BOB");
    assert_eq!(alice.recv(), "WHOIS bob online #Rust");
    alice.send("WHOIS carol");
    assert_eq!(alice.recv(), "WHOIS Carol offline #Rust");
    alice.send("WHOIS alice");
    assert_eq!(alice.recv(), "WHOIS alice online -");
    bob.expect("JOINED alice ");
    bob.send("AWAY out\\nback soon");
    let (_, since, _) = fields(&bob.expect("AWAY bob "));
    alice.send("WHOIS bob");
    assert_eq!(
        alice.recv(),
        format!("WHOIS bob away #Rust {since} out\\nback soon")
    );
    alice.send("WHOIS nobody");
    assert!(alice.expect("ERR 404 ").contains("nobody"));
    alice.send("WHOIS #rust");
    alice.expect("ERR 400 ");
}
