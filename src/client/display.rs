//! How events look in the terminal: `[10:15:30] <alice> hello`, in local
//! time, with private messages, joins, leaves and errors set apart.
//!
//! Everything here comes from the network, so every name, text, key and
//! value goes through [`super::visible`]: the result holds no control
//! character except the LF between the lines of a multi-line message.

use super::visible::{visible_line, visible_lines};
use super::Event;
use crate::protocol::same_name;
use chrono::{DateTime, Local, Utc};

fn clock(time: &DateTime<Utc>) -> String {
    time.with_timezone(&Local).format("[%H:%M:%S]").to_string()
}

/// Puts `head` before the first line of `text` and indents the others
/// under it, so a multi-line message reads as one block.
fn block(head: &str, text: &str) -> String {
    let indent = " ".repeat(head.chars().count());
    let mut out = String::with_capacity(head.len() + text.len() + 16);
    for (i, line) in visible_lines(text).enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&indent);
        } else {
            out.push_str(head);
        }
        out.push_str(&line);
    }
    out
}

/// The tag of a message: the room when it went to one room alone,
/// `[private]` when it is for `me` alone.
fn private_tag(to: &[String], me: &str) -> String {
    match to {
        [room] if room.starts_with('#') => visible_line(room).into_owned(),
        // The server may spell `me` otherwise than it was typed.
        [only] if same_name(only, me) => "[private]".to_owned(),
        _ => {
            let names: Vec<_> = to.iter().map(|n| visible_line(n)).collect();
            format!("[private to {}]", names.join(","))
        }
    }
}

/// A `TOPIC` that tells what a room's topic is (after joining it, or
/// asked), not that it changed: `* topic of #r: text`, then who set it
/// and when.
/// The new name of a rename's `LEFT <old> <time> renamed to <new>` (a
/// leaver's own text never starts so: the server writes such a `QUIT` as
/// `quit: renamed to …`). Its `JOINED <new>` follows at once.
pub fn renamed_to(event: &Event) -> Option<&str> {
    let Event::Left {
        text: Some(text), ..
    } = event
    else {
        return None;
    };
    text.strip_prefix("renamed to ")
        .filter(|new| crate::protocol::command::is_valid_name(new))
}

pub fn render_told_topic(event: &Event) -> Option<String> {
    let Event::Topic {
        room,
        set: Some((by, time)),
        text,
    } = event
    else {
        return None;
    };
    let room = visible_line(room);
    let set = format!(
        "set by {} on {}",
        visible_line(by),
        time.with_timezone(&Local).format("%Y-%m-%d at %H:%M")
    );
    Some(match text {
        Some(text) => format!("{}\n* {set}", block(&format!("* topic of {room}: "), text)),
        None => format!("* {room} has no topic (cleared, {set})"),
    })
}

/// `modes` and their arguments as one line (`+o bob`).
fn words(modes: &str, args: &[String]) -> String {
    let mut out = visible_line(modes).into_owned();
    for arg in args {
        out.push(' ');
        out.push_str(&visible_line(arg));
    }
    out
}

/// The line(s) to show for an event; `None` for events not worth showing.
pub fn render(event: &Event, me: &str) -> Option<String> {
    render_as(event, me, false)
}

/// As [`render`]; a `missed` message (held for you, or said in your rooms
/// while you were away, sent at login) says so.
pub fn render_as(event: &Event, me: &str, missed: bool) -> Option<String> {
    let name = |n: &str| visible_line(n).into_owned();
    Some(match event {
        Event::Say { from, time, text } => {
            block(&format!("{} <{}> ", clock(time), name(from)), text)
        }
        Event::Msg {
            from,
            to,
            time,
            text,
        } => {
            let away = if missed { "(while away) " } else { "" };
            let head = format!(
                "{} {away}{} <{}> ",
                clock(time),
                private_tag(to, me),
                name(from)
            );
            block(&head, text)
        }
        Event::Joined { name: who, time } => format!("{} * {} joined", clock(time), name(who)),
        Event::Left {
            name: who,
            time,
            text,
        } => match (renamed_to(event), text) {
            (Some(new), _) => format!("{} * {} is now {}", clock(time), name(who), name(new)),
            (None, Some(text)) => block(&format!("{} * {} left: ", clock(time), name(who)), text),
            (None, None) => format!("{} * {} left", clock(time), name(who)),
        },
        Event::Users(names) => {
            let names: Vec<_> = names.iter().map(|n| visible_line(n)).collect();
            format!("* online ({}): {}", names.len(), names.join(", "))
        }
        Event::RoomUsers { room, names } => {
            let names: Vec<_> = names.iter().map(|n| visible_line(n)).collect();
            format!("* {} ({}): {}", name(room), names.len(), names.join(", "))
        }
        Event::List(rooms) if rooms.is_empty() => "* there is no room yet".to_owned(),
        Event::List(rooms) => {
            let rooms: Vec<_> = rooms
                .iter()
                .map(|(r, n)| format!("{} ({n})", visible_line(r)))
                .collect();
            format!("* rooms ({}): {}", rooms.len(), rooms.join(", "))
        }
        Event::Rooms(rooms) if rooms.is_empty() => "* you are in no room".to_owned(),
        Event::Rooms(rooms) => {
            let rooms: Vec<_> = rooms.iter().map(|r| visible_line(r)).collect();
            format!("* your rooms: {}", rooms.join(", "))
        }
        Event::Join {
            name: who,
            room,
            time,
        } => format!("{} * {} joined {}", clock(time), name(who), name(room)),
        Event::Part {
            name: who,
            room,
            time,
            text,
        } => {
            let head = format!("{} * {} left {}", clock(time), name(who), name(room));
            match text {
                Some(text) => block(&format!("{head}: "), text),
                None => head,
            }
        }
        Event::Away {
            name: who,
            time,
            text,
        } => match (same_name(who, me), text) {
            (true, Some(text)) => block(&format!("{} * you are away: ", clock(time)), text),
            (true, None) => format!("{} * you are back", clock(time)),
            (false, Some(text)) => {
                let since = time.with_timezone(&Local).format("%H:%M");
                block(&format!("* {} is away since {since}: ", name(who)), text)
            }
            (false, None) => format!("{} * {} is back", clock(time), name(who)),
        },
        Event::Whois {
            name: who,
            online,
            rooms,
            away,
        } => {
            let rooms: Vec<_> = rooms.iter().map(|r| visible_line(r)).collect();
            let rooms = match rooms.is_empty() {
                true => "in no room".to_owned(),
                false => format!("in {}", rooms.join(", ")),
            };
            match (online, away) {
                (true, Some((since, text))) => {
                    let since = since.with_timezone(&Local).format("%H:%M");
                    let head = format!("* {} is away since {since} ({rooms}): ", name(who));
                    block(&head, text)
                }
                (true, None) => format!("* {} is online, {rooms}", name(who)),
                (false, _) => format!("* {} is offline, {rooms}", name(who)),
            }
        }
        Event::Topic {
            room, set: None, ..
        } => format!("* {} has no topic", name(room)),
        Event::Topic {
            room,
            set: Some((by, time)),
            text: None,
        } => format!(
            "{} * {} cleared the topic of {}",
            clock(time),
            name(by),
            name(room)
        ),
        Event::Topic {
            room,
            set: Some((by, time)),
            text: Some(text),
        } => {
            let head = format!(
                "{} * {} set the topic of {}: ",
                clock(time),
                name(by),
                name(room)
            );
            block(&head, text)
        }
        Event::Mode {
            room,
            by,
            time,
            modes,
            args,
        } => {
            // `*` is the server, giving a room that lost its last
            // operator a new one.
            let by = match by.as_str() {
                "*" => "the server".to_owned(),
                by => name(by),
            };
            format!(
                "{} * {by} sets mode {} on {}",
                clock(time),
                words(modes, args),
                name(room)
            )
        }
        Event::Modes { room, flags, args } => {
            format!("* {} is {}", name(room), words(flags, args))
        }
        Event::Bans { room, masks } if masks.is_empty() => {
            format!("* nobody is banned from {}", name(room))
        }
        Event::Bans { room, masks } => {
            let masks: Vec<_> = masks.iter().map(|m| visible_line(m)).collect();
            format!("* banned from {}: {}", name(room), masks.join(", "))
        }
        Event::Kick {
            room,
            name: who,
            by,
            time,
            text,
        } => {
            let who = match same_name(who, me) {
                true => "you".to_owned(),
                false => name(who),
            };
            let head = format!(
                "{} * {} kicked {who} from {}",
                clock(time),
                name(by),
                name(room)
            );
            match text {
                Some(text) => block(&format!("{head} ("), &format!("{text})")),
                None => head,
            }
        }
        Event::Invite {
            by,
            name: who,
            room,
            time,
        } => match same_name(by, me) {
            true => format!(
                "{} * you invited {} to {}",
                clock(time),
                name(who),
                name(room)
            ),
            false => format!(
                "{} * {} invites you to {} \u{2014} /join {}",
                clock(time),
                name(by),
                name(room),
                name(room)
            ),
        },
        Event::Stats(pairs) => {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", visible_line(k), visible_line(v)))
                .collect();
            format!("* server: {}", pairs.join(" "))
        }
        Event::Error { code, text } => block(&format!("! error {code}: "), text),
        Event::LoggedIn { name: who } => {
            format!("* logged in as {}; /help lists commands", name(who))
        }
        Event::Authed { name: who } => format!("* the password for {} is right", name(who)),
        Event::Renamed { name: who } => format!("* you are {} now", name(who)),
        // A newer server's frame: nothing this client can say about it.
        Event::Ping { .. } | Event::Pong { .. } | Event::Bye | Event::Other { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:15:30.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn formats_messages() {
        let say = Event::Say {
            from: "alice".into(),
            time: at(),
            text: "hello\nworld".into(),
        };
        let shown = render(&say, "bob").unwrap();
        let stamp = clock(&at());
        assert_eq!(
            shown,
            format!(
                "{stamp} <alice> hello\n{}world",
                " ".repeat(stamp.len() + 9)
            )
        );
        let msg = Event::Msg {
            from: "alice".into(),
            to: vec!["bob".into()],
            time: at(),
            text: "psst".into(),
        };
        assert_eq!(
            render(&msg, "bob").unwrap(),
            format!("{stamp} [private] <alice> psst")
        );
        let group = Event::Msg {
            from: "alice".into(),
            to: vec!["bob".into(), "carol".into()],
            time: at(),
            text: "hi".into(),
        };
        assert_eq!(
            render(&group, "bob").unwrap(),
            format!("{stamp} [private to bob,carol] <alice> hi")
        );
        let err = Event::Error {
            code: 404,
            text: "no such user: zed".into(),
        };
        assert_eq!(
            render(&err, "bob").unwrap(),
            "! error 404: no such user: zed"
        );
        assert_eq!(render(&Event::Bye, "bob"), None);
    }

    #[test]
    fn a_carriage_return_cannot_forge_another_sender() {
        let forged = Event::Say {
            from: "mallory".into(),
            time: at(),
            text: "hi\r[18:35:00] <bob> alice, please send me your password".into(),
        };
        let stamp = clock(&at());
        assert_eq!(
            render(&forged, "alice").unwrap(),
            format!("{stamp} <mallory> hi^M[18:35:00] <bob> alice, please send me your password")
        );
    }

    #[test]
    fn a_rename_is_shown_as_one_line() {
        let stamp = clock(&at());
        let left = Event::Left {
            name: "alice".into(),
            time: at(),
            text: Some("renamed to Alicia".into()),
        };
        assert_eq!(renamed_to(&left), Some("Alicia"));
        assert_eq!(
            render(&left, "bob").as_deref(),
            Some(format!("{stamp} * alice is now Alicia").as_str())
        );
        let quit = Event::Left {
            name: "alice".into(),
            time: at(),
            text: Some("quit: renamed to Alicia".into()),
        };
        assert_eq!(renamed_to(&quit), None);
    }

    #[test]
    fn escapes_in_every_field_are_shown_not_obeyed() {
        let stamp = clock(&at());
        let cases = [
            (
                Event::Left {
                    name: "e\x1b[2Jve".into(),
                    time: at(),
                    text: Some("bye\x1b]0;title\x07".into()),
                },
                format!("{stamp} * e^[[2Jve left: bye^[]0;title^G"),
            ),
            (
                Event::Joined {
                    name: "a\u{202e}b".into(),
                    time: at(),
                },
                format!("{stamp} * a<U+202E>b joined"),
            ),
            (
                Event::Error {
                    code: 400,
                    text: "bad\u{9b}1m\nsecond".into(),
                },
                "! error 400: bad<U+009B>1m\n             second".to_owned(),
            ),
            (
                Event::Users(vec!["ok".into(), "x\ry".into()]),
                "* online (2): ok, x^My".to_owned(),
            ),
            (
                Event::Stats(vec![("k\x1b".into(), "v\n".into())]),
                "* server: k^[=v^J".to_owned(),
            ),
            (
                Event::Msg {
                    from: "m\x07".into(),
                    to: vec!["bob".into(), "c\u{2066}".into()],
                    time: at(),
                    text: "t\x7f".into(),
                },
                format!("{stamp} [private to bob,c<U+2066>] <m^G> t^?"),
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(render(&event, "bob").unwrap(), expected);
        }
    }

    #[test]
    fn room_operators_doings_read_as_sentences() {
        let stamp = clock(&at());
        let set = || Some(("amy".to_owned(), at()));
        let cases = [
            (
                Event::Topic {
                    room: "#r".into(),
                    set: set(),
                    text: Some("all about\nrust".into()),
                },
                format!(
                    "{stamp} * amy set the topic of #r: all about\n{}rust",
                    " ".repeat(stamp.len() + 28)
                ),
            ),
            (
                Event::Topic {
                    room: "#r".into(),
                    set: set(),
                    text: None,
                },
                format!("{stamp} * amy cleared the topic of #r"),
            ),
            (
                Event::Topic {
                    room: "#r".into(),
                    set: None,
                    text: None,
                },
                "* #r has no topic".to_owned(),
            ),
            (
                Event::Mode {
                    room: "#r".into(),
                    by: "amy".into(),
                    time: at(),
                    modes: "+o-m".into(),
                    args: vec!["bob".into()],
                },
                format!("{stamp} * amy sets mode +o-m bob on #r"),
            ),
            (
                Event::Mode {
                    room: "#r".into(),
                    by: "*".into(),
                    time: at(),
                    modes: "+o".into(),
                    args: vec!["bob".into()],
                },
                format!("{stamp} * the server sets mode +o bob on #r"),
            ),
            (
                Event::Modes {
                    room: "#r".into(),
                    flags: "+ntkl".into(),
                    args: vec!["*".into(), "5".into()],
                },
                "* #r is +ntkl * 5".to_owned(),
            ),
            (
                Event::Bans {
                    room: "#r".into(),
                    masks: vec!["cat!*@*".into(), "b*!*@*".into()],
                },
                "* banned from #r: cat!*@*, b*!*@*".to_owned(),
            ),
            (
                Event::Bans {
                    room: "#r".into(),
                    masks: vec![],
                },
                "* nobody is banned from #r".to_owned(),
            ),
            (
                Event::Kick {
                    room: "#r".into(),
                    name: "cat".into(),
                    by: "amy".into(),
                    time: at(),
                    text: Some("flooding".into()),
                },
                format!("{stamp} * amy kicked cat from #r (flooding)"),
            ),
            (
                Event::Kick {
                    room: "#r".into(),
                    name: "BOB".into(),
                    by: "amy".into(),
                    time: at(),
                    text: None,
                },
                format!("{stamp} * amy kicked you from #r"),
            ),
            (
                Event::Invite {
                    by: "amy".into(),
                    name: "bob".into(),
                    room: "#r".into(),
                    time: at(),
                },
                format!("{stamp} * amy invites you to #r \u{2014} /join #r"),
            ),
            (
                Event::Invite {
                    by: "Bob".into(),
                    name: "cat".into(),
                    room: "#r".into(),
                    time: at(),
                },
                format!("{stamp} * you invited cat to #r"),
            ),
            (
                Event::RoomUsers {
                    room: "#r".into(),
                    names: vec!["@amy".into(), "bob".into()],
                },
                "* #r (2): @amy, bob".to_owned(),
            ),
        ];
        for (event, expected) in cases {
            assert_eq!(render(&event, "bob").unwrap(), expected);
        }
    }

    #[test]
    fn a_topic_told_says_what_it_is_and_who_set_it_when() {
        let on = at().with_timezone(&Local).format("%Y-%m-%d at %H:%M");
        let told = Event::Topic {
            room: "#r".into(),
            set: Some(("amy\x1b".into(), at())),
            text: Some("hi\rthere".into()),
        };
        assert_eq!(
            render_told_topic(&told).unwrap(),
            format!("* topic of #r: hi^Mthere\n* set by amy^[ on {on}")
        );
        let cleared = Event::Topic {
            room: "#r".into(),
            set: Some(("amy".into(), at())),
            text: None,
        };
        assert_eq!(
            render_told_topic(&cleared).unwrap(),
            format!("* #r has no topic (cleared, set by amy on {on})")
        );
        assert_eq!(render_told_topic(&Event::Bye), None);
    }

    fn any_event() -> impl Strategy<Value = Event> {
        let s = || any::<String>();
        prop_oneof![
            (s(), s()).prop_map(|(from, text)| Event::Say {
                from,
                time: at(),
                text
            }),
            (s(), proptest::collection::vec(s(), 1..3), s()).prop_map(|(from, to, text)| {
                Event::Msg {
                    from,
                    to,
                    time: at(),
                    text,
                }
            }),
            s().prop_map(|name| Event::Joined { name, time: at() }),
            (s(), proptest::option::of(s())).prop_map(|(name, text)| Event::Left {
                name,
                time: at(),
                text
            }),
            proptest::collection::vec(s(), 0..4).prop_map(Event::Users),
            proptest::collection::vec((s(), s()), 0..4).prop_map(Event::Stats),
            (any::<u16>(), s()).prop_map(|(code, text)| Event::Error { code, text }),
            s().prop_map(|name| Event::LoggedIn { name }),
            (s(), proptest::option::of(s()), proptest::option::of(s())).prop_map(
                |(room, by, text)| Event::Topic {
                    room,
                    set: by.map(|by| (by, at())),
                    text
                }
            ),
            (s(), s(), s(), proptest::collection::vec(s(), 0..3)).prop_map(
                |(room, by, modes, args)| Event::Mode {
                    room,
                    by,
                    time: at(),
                    modes,
                    args
                }
            ),
            (s(), s(), proptest::collection::vec(s(), 0..3))
                .prop_map(|(room, flags, args)| Event::Modes { room, flags, args }),
            (s(), proptest::collection::vec(s(), 0..3))
                .prop_map(|(room, masks)| Event::Bans { room, masks }),
            (s(), s(), s(), proptest::option::of(s())).prop_map(|(room, name, by, text)| {
                Event::Kick {
                    room,
                    name,
                    by,
                    time: at(),
                    text,
                }
            }),
            (s(), s(), s()).prop_map(|(by, name, room)| Event::Invite {
                by,
                name,
                room,
                time: at()
            }),
        ]
    }

    proptest! {
        #[test]
        fn rendered_output_holds_no_control_character_but_lf(event in any_event()) {
            let shown = render(&event, "bob").unwrap_or_default();
            let told = render_told_topic(&event).unwrap_or_default();
            for line in shown.split('\n').chain(told.split('\n')) {
                prop_assert!(
                    !line.chars().any(|c| c.is_control() || super::super::visible::is_unsafe(c)),
                    "{line:?}"
                );
            }
        }
    }
}
