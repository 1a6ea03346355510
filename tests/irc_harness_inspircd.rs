//! The IRC test harness checked against a real IRC server, Debian's
//! InspIRCd, before evchat speaks IRC (issue 20): the raw client and each
//! real client's driver register, join a channel, exchange a channel
//! message and a private message with the raw client both ways, and quit.
//! Once evchat speaks IRC, the same drivers test it.
//!
//! Those tests check the harness, not evchat, so they are `#[ignore]`d:
//!
//! ```sh
//! cargo test --test irc_harness_inspircd -- --ignored
//! ```
//!
//! The message parser's tests need no server and always run.

mod common;

use common::inspircd::{inspircd_available, Inspircd, MOTD, SERVER_NAME};
use common::irc::Irc;
use common::irc_clients::irssi::{irssi_available, said, untimed, Irssi};
use common::irc_clients::python_irc::{python_irc_available, PyIrc};
use common::irc_clients::weechat::{weechat_available, Weechat};
use common::irc_message::{escape_tag_value, Message};

#[test]
fn a_message_parses_into_tags_source_command_and_params() {
    let m = Message::parse(
        r"@time=2024-01-02T03:04:05.678Z;msgid=a\sb\:c\\d\;+x :bob!b@h PRIVMSG #x :hi  there ",
    )
    .unwrap();
    assert_eq!(m.tag("time"), Some(Some("2024-01-02T03:04:05.678Z")));
    assert_eq!(
        m.tag("msgid"),
        Some(Some("a b;c\\d")),
        "escapes, and a lone backslash dropped"
    );
    assert_eq!(m.tag("+x"), Some(None));
    assert_eq!(m.tag("y"), None);
    assert_eq!(m.source.as_deref(), Some("bob!b@h"));
    assert_eq!(m.nick(), Some("bob"));
    assert_eq!(m.command, "PRIVMSG");
    assert_eq!(m.params, ["#x", "hi  there "]);

    let m = Message::parse(":irc.test   005 me  A=1 B :are supported").unwrap();
    assert_eq!((m.nick(), m.command.as_str()), (Some("irc.test"), "005"));
    assert_eq!(
        m.params,
        ["me", "A=1", "B", "are supported"],
        "runs of spaces"
    );
    let m = Message::parse("PING :").unwrap();
    assert_eq!(m.params, [""], "an empty trailing parameter is one");
    let m = Message::parse("PONG x y").unwrap();
    assert_eq!(m.last(), "y", "a last parameter without colon");
    let m = Message::parse("@a= CAP * LS").unwrap();
    assert_eq!(m.tag("a"), Some(None), "an empty value is no value");
}

#[test]
fn a_line_that_breaks_the_grammar_is_refused_with_why() {
    for bad in [
        "", "@ CMD", ": CMD", ":src", "@a=b", "PRIV1 x", "12 x", "1234", "A\rB", "@=v CMD",
        "@a/ CMD",
    ] {
        let parsed = Message::parse(bad);
        assert!(parsed.is_err(), "{bad:?} parsed: {parsed:?}");
    }
    assert!(
        Message::parse("@example.com/k=v;+d/k2 CMD").is_ok(),
        "vendor keys"
    );
}

#[test]
fn tag_values_escape_and_unescape_to_the_same() {
    let value = "a b;c\\d\r\ne";
    let escaped = escape_tag_value(value);
    assert_eq!(escaped, r"a\sb\:c\\d\r\ne");
    let m = Message::parse(&format!("@k={escaped} CMD")).unwrap();
    assert_eq!(m.tag("k"), Some(Some(value)));
}

/// The server, or None (skipped) without InspIRCd.
fn server() -> Option<Inspircd> {
    inspircd_available().then(Inspircd::start)
}

/// A raw client registered as `nick` with server-time, in `channel`.
fn raw_in(server: &Inspircd, nick: &str, channel: &str) -> Irc {
    let mut raw = Irc::connect(server.addr);
    let welcome = raw.register_with(nick, &["server-time"]);
    assert_eq!(welcome.acked, ["server-time"]);
    raw.send(&format!("JOIN {channel}"));
    let join = raw.expect("JOIN");
    assert_eq!((join.nick(), join.param(0)), (Some(nick), channel));
    let (_, end) = raw.until("366");
    assert_eq!(end.param(1), channel);
    raw
}

/// The next message must be `nick`'s JOIN of `channel`.
fn expect_join(raw: &mut Irc, nick: &str, channel: &str) {
    let join = raw.expect("JOIN");
    assert_eq!(
        (join.nick(), join.param(0)),
        (Some(nick), channel),
        "{join}"
    );
}

/// The next message must be a PRIVMSG from `nick` to `target`: `text`,
/// stamped by server-time.
fn expect_privmsg(raw: &mut Irc, nick: &str, target: &str, text: &str) {
    let m = raw.expect("PRIVMSG");
    assert_eq!(
        (m.nick(), m.param(0), m.param(1)),
        (Some(nick), target, text),
        "{m}"
    );
    assert!(
        m.tag("time").flatten().is_some_and(|t| t.ends_with('Z')),
        "{m}"
    );
}

/// The next message must be `nick`'s QUIT, with `reason` in it.
fn expect_quit(raw: &mut Irc, nick: &str, reason: &str) {
    let quit = raw.expect("QUIT");
    assert_eq!(quit.nick(), Some(nick), "{quit}");
    assert!(quit.last().contains(reason), "{quit}");
}

#[test]
#[ignore = "checks the harness against InspIRCd: --ignored"]
fn the_raw_client_registers_talks_both_ways_and_quits() {
    let Some(server) = server() else { return };
    let mut alice = Irc::connect(server.addr);
    let welcome = alice.register_with("alice", &["server-time", "message-tags"]);
    assert!(
        welcome.caps.iter().any(|c| c == "server-time"),
        "{:?}",
        welcome.caps
    );
    assert_eq!(welcome.get("001").source.as_deref(), Some(SERVER_NAME));
    assert_eq!(welcome.get("001").param(0), "alice");
    assert!(
        welcome.isupport().contains(&"CHANTYPES=#"),
        "{:?}",
        welcome.isupport()
    );
    assert_eq!(welcome.get("372").last(), MOTD);
    assert_eq!(alice.nick, "alice");
    alice.send("JOIN #x");
    expect_join(&mut alice, "alice", "#x");
    alice.until("366");

    let mut bob = raw_in(&server, "bob", "#x");
    expect_join(&mut alice, "bob", "#x");
    alice.send("PRIVMSG #x :hello bob");
    expect_privmsg(&mut bob, "alice", "#x", "hello bob");
    bob.send("PRIVMSG #x :hello alice");
    let m = alice.expect("PRIVMSG");
    assert!(m.tag("msgid").is_some(), "message-tags brings msgid: {m}");
    alice.send("PRIVMSG bob :psst");
    expect_privmsg(&mut bob, "alice", "bob", "psst");
    bob.send("PRIVMSG alice :psst back");
    assert_eq!(alice.expect("PRIVMSG").last(), "psst back");
    assert!(alice.sync().is_empty(), "nothing more came");

    alice.quit("bye now");
    expect_quit(&mut bob, "alice", "bye now");
    bob.quit("done");
}

#[test]
#[ignore = "checks the harness against InspIRCd: --ignored"]
fn irssi_registers_talks_both_ways_and_quits() {
    let Some(server) = server() else { return };
    if !irssi_available() {
        return;
    }
    let mut raw = raw_in(&server, "raw", "#x");
    let irssi = Irssi::connect(server.addr, "ircy");
    assert_eq!(irssi.nick, "ircy");
    irssi.join("#x");
    expect_join(&mut raw, "ircy", "#x");

    irssi.say("#x", "hello from irssi");
    expect_privmsg(&mut raw, "ircy", "#x", "hello from irssi");
    raw.send("PRIVMSG #x :hello irssi");
    irssi.wait_said("raw", "hello irssi");
    irssi.say("raw", "psst raw");
    expect_privmsg(&mut raw, "ircy", "raw", "psst raw");
    raw.send("PRIVMSG ircy :psst irssi");
    let rows = irssi.wait_said("raw", "psst irssi");
    let private = rows.iter().any(|r| untimed(r) == "<raw> psst irssi");
    assert!(private, "no channel mode in a query: {rows:#?}");

    let (status, screen) = irssi.quit("irssi out");
    assert_eq!(status, 0, "{screen:#?}");
    let kept = screen.iter().any(|r| said(r, "raw", "psst irssi"));
    assert!(kept, "the last screen stays readable: {screen:#?}");
    expect_quit(&mut raw, "ircy", "irssi out");
    raw.quit("done");
}

#[test]
#[ignore = "checks the harness against InspIRCd: --ignored"]
fn weechat_registers_talks_both_ways_and_quits() {
    let Some(server) = server() else { return };
    if !weechat_available() {
        return;
    }
    let mut raw = raw_in(&server, "raw", "#x");
    let mut weechat = Weechat::connect(server.addr, "wee");
    assert_eq!(weechat.nick, "wee");
    weechat.join("#x");
    expect_join(&mut raw, "wee", "#x");

    weechat.say("#x", "hello from weechat");
    expect_privmsg(&mut raw, "wee", "#x", "hello from weechat");
    raw.send("PRIVMSG #x :hello weechat");
    weechat.wait_log("#x", "raw's line", |l| {
        l.by("raw") && l.text == "hello weechat"
    });
    weechat.say("raw", "psst raw");
    expect_privmsg(&mut raw, "wee", "raw", "psst raw");
    raw.send("PRIVMSG wee :psst weechat");
    weechat.wait_log("raw", "raw's private line", |l| {
        l.by("raw") && l.text == "psst weechat"
    });

    let status = weechat.quit("weechat out");
    assert!(status.success(), "{status}");
    expect_quit(&mut raw, "wee", "weechat out");
    raw.quit("done");
}

#[test]
#[ignore = "checks the harness against InspIRCd: --ignored"]
fn the_python_irc_bot_registers_talks_both_ways_and_quits() {
    let Some(server) = server() else { return };
    if !python_irc_available() {
        return;
    }
    let mut raw = raw_in(&server, "raw", "#x");
    let mut bot = PyIrc::connect_with(server.addr, "pybot", &["multi-prefix"]);
    assert_eq!(bot.nick, "pybot");
    assert!(
        bot.seen
            .iter()
            .any(|e| e.kind == "cap" && e.arguments[0] == "ACK"),
        "{:#?}",
        bot.seen
    );
    bot.join("#x");
    expect_join(&mut raw, "pybot", "#x");

    bot.send(&["privmsg", "#x", "hello from python"]);
    expect_privmsg(&mut raw, "pybot", "#x", "hello from python");
    raw.send("PRIVMSG #x :hello python");
    let (_, m) = bot.until("raw's line", |e| e.is("pubmsg", "raw"));
    assert_eq!(
        (m.target.as_deref(), m.arguments.as_slice()),
        (Some("#x"), &["hello python".to_owned()][..])
    );
    bot.send(&["privmsg", "raw", "psst raw"]);
    expect_privmsg(&mut raw, "pybot", "raw", "psst raw");
    raw.send("PRIVMSG pybot :psst python");
    let (_, m) = bot.until("raw's private line", |e| e.is("privmsg", "raw"));
    assert_eq!(m.arguments, ["psst python"]);

    let status = bot.quit("python out");
    assert!(status.success(), "{status}\n{}", bot.stderr());
    expect_quit(&mut raw, "pybot", "python out");
    raw.quit("done");
}
