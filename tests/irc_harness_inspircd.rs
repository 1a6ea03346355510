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
