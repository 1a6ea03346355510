//! away-notify as clients rely on it (found by attacking it): in the order
//! things were said, after a login's JOIN, told when a replacing login
//! ends an away; and a too-long IRC password is 464 and a close.

mod common;

use common::irc_client::Irc;
use common::TestServer;

fn server(args: &[&str]) -> TestServer {
    let mut all = vec!["--server-name", "evchat-test"];
    all.extend_from_slice(args);
    TestServer::start(&all)
}

fn away_notified(server: &TestServer, nick: &str) -> Irc {
    let mut irc = Irc::connect(server);
    irc.send("CAP LS 302");
    irc.send(&format!("NICK {nick}"));
    irc.send(&format!("USER {nick} 0 * :{nick}"));
    irc.send("CAP REQ :away-notify");
    irc.send("CAP END");
    irc.until(|l| l.contains(&format!(" 366 {nick} #everyone ")));
    irc
}

/// An AWAY is told in the order it was said among the sender's other
/// words: a message, then AWAY, then a message, arrive in that order.
#[test]
fn away_notify_keeps_the_order_of_what_the_user_said() {
    let server = server(&[]);
    let mut alice = away_notified(&server, "alice");
    let mut bob = server.login("bob");
    alice.until(|l| l.starts_with(":bob!bob@evchat JOIN"));
    // One write: the three frames are taken in one loop turn.
    bob.send_raw(b"SAY one\nAWAY brb\nSAY two\nAWAY\nSAY three\n");
    bob.sync();
    assert_eq!(
        alice.sync(),
        [
            ":bob!bob@evchat PRIVMSG #everyone :one",
            ":bob!bob@evchat AWAY :brb",
            ":bob!bob@evchat PRIVMSG #everyone :two",
            ":bob!bob@evchat AWAY",
            ":bob!bob@evchat PRIVMSG #everyone :three",
        ]
    );
}

/// A login and its AWAY in one write: the JOIN comes first (an AWAY from
/// a nick the client has in no channel is dropped or misplaced).
#[test]
fn away_notify_comes_after_the_join_of_a_user_who_just_logged_in() {
    let server = server(&[]);
    let mut alice = away_notified(&server, "alice");
    let mut bob = server.connect();
    bob.send_raw(b"LOGIN bob\nAWAY out to lunch\n");
    bob.expect("OK LOGIN bob");
    bob.sync();
    assert_eq!(
        alice.sync(),
        [
            ":bob!bob@evchat JOIN #everyone",
            ":bob!bob@evchat AWAY :out to lunch",
        ]
    );
}

/// A new login replaces an away session: the user is no longer away
/// (WHOIS has no 301), so an away-notify client must be told (an AWAY
/// without text), or it shows the user away for ever.
#[test]
fn away_notify_tells_of_the_away_ended_by_a_replacing_login() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = [("alice", "secret word"), ("bob", "secret word")];
    let users = common::users_file(dir.path(), &accounts);
    let server = server(&["--users", users.to_str().unwrap()]);
    let mut alice = Irc::connect(&server);
    alice.send("CAP LS 302");
    alice.send("PASS :secret word");
    alice.send("NICK alice");
    alice.send("USER alice 0 * :alice");
    alice.send("CAP REQ :away-notify");
    alice.send("CAP END");
    alice.until(|l| l.contains(" 366 alice #everyone "));
    let mut bob = server.connect();
    bob.send("LOGIN bob secret word");
    bob.expect("OK LOGIN bob");
    bob.send("AWAY out to lunch");
    bob.expect("AWAY bob ");
    alice.until(|l| l == ":bob!bob@evchat AWAY :out to lunch");
    let mut again = server.connect();
    again.send("LOGIN bob secret word");
    again.expect("OK LOGIN bob");
    bob.expect("ERR 409");
    alice.send("WHOIS bob");
    let whois = alice.until(|l| l.contains(" 318 "));
    assert!(whois.iter().all(|l| !l.contains(" 301 ")), "{whois:#?}");
    let told = alice.sync();
    assert!(
        whois
            .iter()
            .chain(&told)
            .any(|l| l == ":bob!bob@evchat AWAY"),
        "bob is back but alice was not told: {whois:#?} {told:#?}"
    );
}

/// A PASS past the longest password is a refused registration like any
/// other: 464 and the connection closes (docs/IRC.md), not `432` (a bad
/// nick) and a connection left open where registering again is `462`.
#[test]
fn a_pass_too_long_is_464_and_the_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let users = common::users_file(dir.path(), &[("alice", "secret word")]);
    let server = server(&["--users", users.to_str().unwrap()]);
    let mut irc = Irc::connect(&server);
    irc.send(&format!("PASS {}", "x".repeat(1500)));
    irc.send("NICK alice");
    irc.send("USER alice 0 * :a");
    let refused = irc.recv();
    assert!(refused.starts_with(":evchat-test 464 * "), "{refused}");
    assert_eq!(irc.recv(), "ERROR :Closing link");
}

/// WHO tells who is away (`G`, `H` otherwise) in a channel and among
/// everyone, USERHOST marks them `-`; NAMES does not tell it.
#[test]
fn who_and_userhost_tell_who_is_away() {
    let server = server(&[]);
    let mut bob = server.login("bob");
    bob.send("JOIN #r");
    bob.expect("JOIN bob #r ");
    bob.send("AWAY lunch");
    bob.expect("AWAY bob ");
    let (mut alice, _) = Irc::register(&server, "alice", false);
    alice.send("JOIN #r");
    let names = alice.until(|l| l.contains(" 366 alice #r "));
    assert!(
        names.contains(&":evchat-test 353 alice = #r :alice @bob".to_owned()),
        "{names:#?}"
    );
    alice.send("WHO #r");
    let who = alice.until(|l| l.contains(" 315 "));
    assert!(
        who.contains(&":evchat-test 352 alice #r bob evchat evchat-test bob G@ :0 bob".to_owned()),
        "{who:#?}"
    );
    assert!(
        who.contains(
            &":evchat-test 352 alice #r alice evchat evchat-test alice H :0 alice".to_owned()
        ),
        "{who:#?}"
    );
    alice.send("USERHOST bob alice");
    assert_eq!(
        alice.recv(),
        ":evchat-test 302 alice :bob=-bob@evchat alice=+alice@evchat"
    );
    alice.send("WHO b*");
    let who = alice.until(|l| l.contains(" 315 "));
    assert_eq!(
        who[0],
        ":evchat-test 352 alice * bob evchat evchat-test bob G :0 bob"
    );
}
