//! IRCv3 `message-tags` against the real binary: a message's client-only
//! tags reach who negotiated them (and line users as a `TAGS` line before
//! the message), `TAGMSG` reaches only who shows tags, and tags a server
//! would vouch for are never relayed.

mod common;

use common::irc_client::Irc;
use common::TestServer;

#[test]
fn client_tags_and_tagmsg_reach_who_shows_tags_and_only_them() {
    let server = TestServer::start(&["--server-name", "evchat-test"]);
    let (mut alice, _) = Irc::register_with(&server, "alice", "message-tags server-time");
    let (mut bob, _) = Irc::register_with(&server, "bob", "message-tags");
    let (mut carol, _) = Irc::register(&server, "carol", false);
    let mut dave = server.login("dave");
    for irc in [&mut alice, &mut bob, &mut carol] {
        irc.send("JOIN #rust");
        irc.until(|l| l.contains(" 366 ") && l.contains(" #rust "));
    }
    dave.send("JOIN #rust");
    dave.until("JOIN dave #rust ");
    for irc in [&mut alice, &mut bob, &mut carol] {
        irc.sync();
    }

    bob.send("@+draft/reply=abc;account=forged;+example.com/x PRIVMSG #rust :re");
    bob.send("@+typing=active TAGMSG #rust");
    bob.send("PRIVMSG #rust :after");
    let said = alice.until(|l| l.ends_with(" PRIVMSG #rust :after"));
    assert_eq!(said.len(), 3, "{said:#?}");
    let time = |l: &str| l.strip_prefix("@time=").map(|r| r[..24].to_owned());
    let t = time(&said[0]).expect("a time tag");
    assert_eq!(
        said[0],
        format!("@time={t};+draft/reply=abc;+example.com/x :bob!bob@evchat PRIVMSG #rust :re")
    );
    let t = time(&said[1]).expect("a time tag");
    assert_eq!(
        said[1],
        format!("@time={t};+typing=active :bob!bob@evchat TAGMSG #rust")
    );
    // Without message-tags: the message without its tags, and no TAGMSG.
    assert_eq!(carol.recv(), ":bob!bob@evchat PRIVMSG #rust :re");
    assert_eq!(carol.recv(), ":bob!bob@evchat PRIVMSG #rust :after");
    // A line user: the tags as a line before the message, and no TAGMSG.
    assert_eq!(dave.recv(), "TAGS +draft/reply=abc;+example.com/x");
    assert!(dave.recv().starts_with("MSG bob #rust "));
    assert!(dave.recv().ends_with(" after"));

    // To a nick, and from a line user.
    bob.send("@+typing=paused TAGMSG alice");
    dave.send("@+draft/react=:) TAGMSG #rust");
    let got = alice.until(|l| l.contains("dave!dave@evchat TAGMSG"));
    assert!(
        got[0].ends_with(";+typing=paused :bob!bob@evchat TAGMSG alice"),
        "{got:#?}"
    );
    assert!(got[1].ends_with(";+draft/react=:) :dave!dave@evchat TAGMSG #rust"));
    // The line protocol takes only client-only tags, only on messages.
    dave.send("@server=1 MSG #rust x");
    assert!(dave.recv().starts_with("ERR 400 bad tags"));
    dave.send("@+a=1 WHO");
    assert!(dave.recv().starts_with("ERR 400 bad tags"));
    dave.send("TAGMSG #rust");
    assert!(dave.recv().starts_with("ERR 400 missing field"));
    // With echo-message, the sender gets it back too, once.
    let (mut erin, _) = Irc::register_with(&server, "erin", "message-tags echo-message");
    erin.send("@+typing=done TAGMSG alice");
    assert_eq!(erin.recv(), "@+typing=done :erin!erin@evchat TAGMSG alice");
    erin.sync();
    // TAGMSG is held to what a message is: an unknown nick is 401.
    bob.send("@+typing=active TAGMSG nobody");
    let answer = bob.until(|l| l.contains(" 401 "));
    assert!(
        answer.last().unwrap().contains(" 401 bob nobody "),
        "{answer:#?}"
    );
}

#[test]
fn held_mail_and_history_keep_their_tags_through_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let args = ["--server-name", "evchat-test", "--data-dir", &data];
    let mut server = TestServer::start(&args);
    Irc::member_away(&server, "erin", "#rust");
    let (mut bob, _) = Irc::register_with(&server, "bob", "message-tags");
    bob.send("JOIN #rust");
    bob.until(|l| l.contains(" 366 bob #rust "));
    bob.send("@+draft/reply=1 PRIVMSG erin :held");
    bob.send("@+draft/reply=2 PRIVMSG #rust :said");
    bob.sync();
    server.kill();

    let server = TestServer::start(&args);
    let (mut erin, mut lines) = Irc::register_with(&server, "erin", "message-tags batch");
    lines.extend(erin.sync());
    let find = |what: &str| {
        lines
            .iter()
            .find(|l| l.ends_with(what))
            .unwrap_or_else(|| panic!("no {what:?} in {lines:#?}"))
    };
    let held = find(":bob!bob@evchat PRIVMSG erin :held");
    assert!(
        held.starts_with("@batch=") && held.contains(";+draft/reply=1 "),
        "{held}"
    );
    let said = find(":bob!bob@evchat PRIVMSG #rust :said");
    assert!(
        said.starts_with("@batch=") && said.contains(";+draft/reply=2 "),
        "{said}"
    );
}
