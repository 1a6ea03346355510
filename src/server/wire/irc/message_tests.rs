use super::*;
use proptest::prelude::*;

#[test]
fn a_full_message_parses_into_its_parts() {
    let m = Message::parse("@time=2026-01-02T03:04:05.678Z;x :nick!u@h PRIVMSG #rust :hi there")
        .unwrap();
    assert_eq!(m.tags, Some("time=2026-01-02T03:04:05.678Z;x"));
    assert_eq!(m.source, Some("nick!u@h"));
    assert_eq!(m.command, "PRIVMSG");
    assert_eq!(m.params(), ["#rust", "hi there"]);
    assert_eq!(m.tag("time").as_deref(), Some("2026-01-02T03:04:05.678Z"));
    assert_eq!(m.tag("x").as_deref(), Some(""));
    assert_eq!(m.tag("y"), None);
}

#[test]
fn clients_spellings_parse() {
    let m = Message::parse("nick alice").unwrap();
    assert!(m.is("NICK"));
    assert_eq!(m.params(), ["alice"]);
    let m = Message::parse("USER alice 0 * :Alice Liddell").unwrap();
    assert_eq!(m.params(), ["alice", "0", "*", "Alice Liddell"]);
    // An empty trailing parameter is a parameter.
    assert_eq!(Message::parse("TOPIC #a :").unwrap().params(), ["#a", ""]);
    // Extra spaces between parameters are one separator.
    assert_eq!(
        Message::parse("JOIN   #a   key").unwrap().params(),
        ["#a", "key"]
    );
    // A colon inside a middle parameter is part of it.
    assert_eq!(Message::parse("PING a:b").unwrap().params(), ["a:b"]);
    assert_eq!(Message::parse("001 x :Welcome").unwrap().command, "001");
}

#[test]
fn what_is_not_a_message_is_said_so() {
    assert_eq!(Message::parse(""), Err(Malformed::NoCommand));
    assert_eq!(Message::parse("   "), Err(Malformed::NoCommand));
    assert_eq!(Message::parse(":src"), Err(Malformed::NoCommand));
    assert_eq!(Message::parse("@a=b"), Err(Malformed::NoCommand));
    assert_eq!(Message::parse("PRIV-MSG x"), Err(Malformed::BadCommand));
    assert_eq!(Message::parse("12 x"), Err(Malformed::BadCommand));
    // Past 14 middle parameters, the rest of the line is the last one.
    let many = format!("CMD{} q r  s", " p".repeat(14));
    let many = Message::parse(&many).unwrap();
    assert_eq!(many.params().len(), 15);
    assert_eq!(many.params()[14], "q r  s");
    let fifteen = format!("CMD{} :last", " p".repeat(14));
    assert_eq!(Message::parse(&fifteen).unwrap().params().len(), 15);
}

#[test]
fn tag_values_escape_and_unescape() {
    let raw = "a;b c\\d\r\ne";
    let mut out = Vec::new();
    escape_tag(raw, &mut out);
    let escaped = String::from_utf8(out).unwrap();
    assert_eq!(escaped, "a\\:b\\sc\\\\d\\r\\ne");
    assert_eq!(unescape_tag(&escaped), raw);
    // A lone trailing backslash is dropped; an unknown escape is the character.
    assert_eq!(unescape_tag("x\\"), "x");
    assert_eq!(unescape_tag("\\b"), "b");
}

/// A middle parameter: no space, not starting with ':'.
fn middle() -> impl Strategy<Value = String> {
    "[^ :\r\n\0][^ \r\n\0]{0,8}"
}

fn trailing() -> impl Strategy<Value = String> {
    "[^\r\n\0]{0,20}"
}

proptest! {
    /// What a server writes parses back to the same parts.
    #[test]
    fn written_messages_parse_back(
        source in proptest::option::of("[a-z][a-z0-9!@.]{0,10}"),
        command in "[A-Za-z]{1,10}|[0-9]{3}",
        middles in proptest::collection::vec(middle(), 0..14),
        last in proptest::option::of(trailing()),
    ) {
        let mut line = String::new();
        if let Some(s) = &source {
            line.push(':');
            line.push_str(s);
            line.push(' ');
        }
        line.push_str(&command);
        for m in &middles {
            line.push(' ');
            line.push_str(m);
        }
        if let Some(t) = &last {
            line.push_str(" :");
            line.push_str(t);
        }
        let m = Message::parse(&line).unwrap();
        prop_assert_eq!(m.source, source.as_deref());
        prop_assert_eq!(m.command, command.as_str());
        let mut want: Vec<&str> = middles.iter().map(|s| s.as_str()).collect();
        if let Some(t) = &last {
            want.push(t);
        }
        prop_assert_eq!(m.params(), &want[..]);
    }

    /// On any line, the parser agrees with irc-proto's wherever irc-proto
    /// takes the line as a message with a command it knows no special form of.
    #[test]
    fn agrees_with_irc_proto(
        // irc-proto rewrites a source it takes for a malformed mask ("a@"):
        // sources here are well-formed.
        source in proptest::option::of("[a-z][a-z0-9]{0,5}(![a-z]{1,4}@[a-z.]{1,6})?"),
        middles in proptest::collection::vec(middle(), 0..6),
        last in proptest::option::of(trailing()),
        tag in proptest::option::of(("[a-z]{1,5}", "[a-z0-9; \\\\]{0,6}")),
    ) {
        let mut line = String::new();
        if let Some((k, v)) = &tag {
            let mut escaped = Vec::new();
            escape_tag(v, &mut escaped);
            line.push('@');
            line.push_str(k);
            line.push('=');
            line.push_str(std::str::from_utf8(&escaped).unwrap());
            line.push(' ');
        }
        if let Some(s) = &source {
            line.push(':');
            line.push_str(s);
            line.push(' ');
        }
        // A command irc-proto keeps raw, so its parameters are compared as parsed.
        line.push_str("XYZZY");
        for m in &middles {
            line.push(' ');
            line.push_str(m);
        }
        if let Some(t) = &last {
            line.push_str(" :");
            line.push_str(t);
        }
        let ours = Message::parse(&line).unwrap();
        let theirs: irc_proto::Message = line.parse().unwrap();
        let prefix = theirs.prefix.as_ref().map(|p| p.to_string());
        prop_assert_eq!(ours.source.map(str::to_owned), prefix);
        match &theirs.command {
            irc_proto::Command::Raw(command, params) => {
                prop_assert_eq!(ours.command, command.as_str());
                let params: Vec<&str> = params.iter().map(String::as_str).collect();
                prop_assert_eq!(ours.params(), &params[..]);
            }
            other => prop_assert!(false, "not raw: {other:?}"),
        }
        if let Some((k, v)) = &tag {
            let theirs = theirs.tags.as_ref().and_then(|tags| {
                tags.iter().find(|t| &t.0 == k).map(|t| t.1.clone().unwrap_or_default())
            });
            let tag = ours.tag(k);
            prop_assert_eq!(&tag, &theirs);
            prop_assert_eq!(tag.as_deref(), Some(v.as_str()));
        }
    }

    /// Any text: a message or a refusal, never a panic.
    #[test]
    fn any_line_is_parsed_or_refused(line in "\\PC{0,80}") {
        let _ = Message::parse(&line);
    }
}
