//! IRCv3 batches against the real binary: held mail and a room's history
//! in `chathistory` batches for a client that negotiated `batch`.

mod common;

use common::irc_client::Irc;
use common::TestServer;

fn server() -> TestServer {
    TestServer::start(&["--server-name", "evchat-test"])
}

/// The reference of a `BATCH +<ref> <type> <target>` line.
fn opened<'a>(line: &'a str, kind_and_target: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(":evchat-test BATCH +")?;
    let (reference, what) = rest.split_once(' ')?;
    (what == kind_and_target).then_some(reference)
}

#[test]
fn held_mail_and_history_come_in_chathistory_batches_to_who_asked() {
    let server = server();
    for name in ["alice", "plain"] {
        let (mut irc, _) = Irc::register(&server, name, false);
        irc.send("JOIN #rust");
        irc.until(|l| l.contains(&format!(" 366 {name} #rust ")));
        irc.send("QUIT");
        irc.until(|l| l.starts_with("ERROR "));
    }
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.expect("JOIN bob #rust ");
    bob.send("MSG alice,plain first\\nsecond");
    bob.send("MSG #rust said while away");
    bob.sync();
    let (mut alice, mut lines) = Irc::register_with(&server, "alice", "batch server-time");
    lines.extend(alice.sync());
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {lines:#?}"))
    };
    // Mail from bob: one batch whose target is bob, both lines in it.
    let start = at(" BATCH +");
    let mail = opened(&lines[start], "chathistory bob").expect("a batch for bob's mail");
    let tag = format!("@batch={mail};time=20");
    assert!(lines[start + 1].starts_with(&tag), "{lines:#?}");
    assert!(lines[start + 1].ends_with(" PRIVMSG alice,plain :first"));
    assert!(lines[start + 2].starts_with(&tag));
    assert!(lines[start + 2].ends_with(" PRIVMSG alice,plain :second"));
    assert_eq!(lines[start + 3], format!(":evchat-test BATCH -{mail}"));
    // The channel's JOIN and names stay outside; its history has a batch.
    let join = at(":alice!alice@evchat JOIN #rust");
    assert!(!lines[join].contains("batch="), "{}", lines[join]);
    let room = at(" chathistory #rust");
    assert!(join < room);
    let history = opened(&lines[room], "chathistory #rust").expect("a batch for #rust");
    assert!(history != mail);
    assert!(lines[room + 1].starts_with(&format!("@batch={history};time=20")));
    assert!(lines[room + 1].ends_with(" PRIVMSG #rust :said while away"));
    assert_eq!(lines[room + 2], format!(":evchat-test BATCH -{history}"));
    let batches = lines.iter().filter(|l| l.contains(" BATCH ")).count();
    assert_eq!(batches, 4, "{lines:#?}");

    // Who did not ask gets the same lines, with no batch.
    let (mut plain, mut lines) = Irc::register(&server, "plain", false);
    lines.extend(plain.sync());
    assert!(lines
        .iter()
        .all(|l| !l.contains("BATCH") && !l.starts_with('@')));
    assert!(lines
        .iter()
        .any(|l| l.ends_with(" PRIVMSG alice,plain :second")));
    assert!(lines
        .iter()
        .any(|l| l.ends_with(" PRIVMSG #rust :said while away")));
}
