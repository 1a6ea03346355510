//! IRC readers against hostile senders (found by attacking the dialect):
//! what another user writes never forges a line, never swells past IRC's
//! line length, and an IRC connection's own costs are charged to it.

mod common;

use common::irc_client::Irc;
use common::TestServer;

/// Text from another user is shown as text: a carriage return in a
/// message (the line protocol's `\r` escape, or a bare CR inside an IRC
/// client's line) must never reach an IRC reader raw inside a line, where
/// a client that ends lines at CR reads a second, forged line.
#[test]
fn a_carriage_return_in_a_message_never_reaches_an_irc_reader_raw() {
    let server = TestServer::start(&["--server-name", "evchat-test"]);
    let (mut victim, _) = Irc::register(&server, "victim", false);
    victim.sync();
    let mut evil = server.login("evil");
    victim.until(|l| l.contains("JOIN"));
    evil.send("SAY hi\\r:admin!admin@evchat PRIVMSG #everyone :forged");
    evil.send("MSG victim hey\\r:evchat-test 001 victim :forged numeric");
    let say = victim.until(|l| l.contains("PRIVMSG #everyone"));
    let say = say.last().unwrap();
    assert!(!say.contains('\r'), "raw CR inside an IRC line: {say:?}");
    let msg = victim.until(|l| l.contains("PRIVMSG victim"));
    let msg = msg.last().unwrap();
    assert!(!msg.contains('\r'), "raw CR inside an IRC line: {msg:?}");
}

/// One private message to many names must not become megabytes for
/// each IRC reader: the whole name list was each PRIVMSG's target, and
/// the text was cut into 64-byte pieces once that list left no room, so
/// a 64 KB line sent ~16 MB to every IRC recipient, cutting each with
/// `ERR 429`. Every line an IRC reader gets stays within 512 bytes
/// (tags aside) and the reader stays connected.
#[test]
fn a_message_to_many_names_stays_within_irc_line_lengths_for_irc_readers() {
    let server = TestServer::start(&["--server-name", "evchat-test"]);
    let names: Vec<String> = (0..1000)
        .map(|i| format!("n{i:04}{}", "x".repeat(27)))
        .collect();
    for name in &names {
        let mut c = server.login(name);
        c.send("QUIT");
        c.expect("BYE");
    }
    let (mut victim, _) = Irc::register(&server, "victim", false);
    victim.sync();
    let mut sender = server.login("sender");
    let to = format!("victim,{}", names.join(","));
    let text = "z".repeat(65536 - to.len() - 32);
    sender.send(&format!("MSG {to} {text}"));
    let seen = sender.sync();
    assert!(
        !seen.iter().any(|l| l.starts_with("LEFT victim")),
        "the IRC reader was cut (ERR 429) by one message: {seen:?}"
    );
    let mut got = 0usize;
    loop {
        let line = victim.recv();
        assert!(!line.contains("ERR 429"), "the IRC reader was cut: {line}");
        assert!(
            line.len() <= 510,
            "a line of {} bytes: {}...",
            line.len(),
            &line[..200]
        );
        got += line.len();
        if got >= text.len() {
            break;
        }
    }
}

/// What the attack found beside: a long mask is not matched against
/// everyone (it cost its length per name online, uncharged), a line of
/// more than 14 parameters is one message (its rest the last), a token
/// with spaces comes back, blank text is 412, and the everyone channel is
/// not a room a line user can make.
#[test]
fn long_masks_many_parameters_odd_tokens_and_the_everyone_channel() {
    let server = TestServer::start(&["--server-name", "evchat-test"]);
    let mut bob = server.login("bob");
    let (mut alice, _) = Irc::register(&server, "alice", false);
    bob.expect("JOINED alice ");
    let mask = format!("{}b", "*".repeat(100));
    alice.send(&format!("WHO {mask}"));
    let nicks: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
    alice.send(&format!("ISON {} bob", nicks.join(" ")));
    alice.send("PING :lag check 1");
    alice.send("PRIVMSG bob :   ");
    alice.send("CAP");
    assert_eq!(
        alice.sync(),
        [
            ":evchat-test 315 alice * :End of /WHO list",
            ":evchat-test 303 alice :bob",
            ":evchat-test PONG evchat-test :lag check 1",
            ":evchat-test 412 alice :No text to send",
            ":evchat-test 410 alice * :Invalid CAP command",
        ]
    );
    bob.send("JOIN #Everyone");
    assert!(bob.expect("ERR 400 ").contains("not a room"));
}
