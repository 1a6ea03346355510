//! What the server says, as values: every frame it sends, before any wire
//! has encoded it.
//!
//! The hub speaks these and nothing else. [`Event::encode`] writes the
//! canonical form — the line protocol's frame — which batches of
//! broadcasts, the cluster's bus and the journal carry; each kind of
//! connection writes the same event its own way (the server's `wire`
//! module). Fields are borrowed: `<text>` as the sender escaped it (it was
//! validated when parsed, see [`Text`](super::Text)), times as stamped,
//! and only server-made error text is escaped here.
//! [`ServerFrame`](super::ServerFrame) is the other side: a frame parsed
//! by a client, owned and unescaped.

use super::reply::{encode_err, encode_fields, encode_users, ErrorCode};

/// One frame the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// `OK LOGIN <name>`.
    LoggedIn { name: &'a str },
    /// `OK AUTH <name>`: the password was right; `LOGIN <name>` may follow.
    Authed { name: &'a str },
    /// `OK NICK <name>`: the session is called `name` now.
    Renamed { name: &'a str },
    /// `SAY <from> <time> <text>`: a broadcast.
    Say {
        from: &'a str,
        time: &'a str,
        text: &'a str,
    },
    /// `MSG <from> <to-list> <time> <text>`: a private message.
    Msg {
        from: &'a str,
        to: &'a str,
        time: &'a str,
        text: &'a str,
    },
    /// `TAGS <tags>` before a message (a `Say` or `Msg`): its sender's
    /// client-only tags. (A variant of its own, so that the common,
    /// untagged message stays small.)
    Tagged {
        tags: &'a str,
        message: &'a Event<'a>,
    },
    /// `TAGS <tags>` and `TAGMSG <from> <to-list> <time>`, one frame:
    /// tags without text (IRC's `TAGMSG`).
    TagMsg {
        from: &'a str,
        to: &'a str,
        time: &'a str,
        tags: &'a str,
    },
    /// `JOINED <name> <time>`.
    Joined { name: &'a str, time: &'a str },
    /// `LEFT <old> <time> renamed to <new>` and `JOINED <new> <time>`, one
    /// frame of two lines: `old` took the name `new`.
    NameChanged {
        old: &'a str,
        new: &'a str,
        time: &'a str,
    },
    /// `LEFT <name> <time> [<text>]`.
    Left {
        name: &'a str,
        time: &'a str,
        text: Option<&'a str>,
    },
    /// `USERS <name> ...`, in the order given.
    Users(&'a [&'a str]),
    /// `USERS <room> <name> ...`: a room's online members.
    RoomUsers { room: &'a str, names: &'a [&'a str] },
    /// `ROOMS <room> ...`: the rooms a user is in.
    Rooms(&'a [&'a str]),
    /// `LIST <room> <members> ...`: every room and its number of members.
    List(&'a [(&'a str, usize)]),
    /// `JOIN <name> <room> <time>`: `name` joined `room`.
    Join {
        name: &'a str,
        room: &'a str,
        time: &'a str,
    },
    /// `PART <name> <room> <time> [<text>]`: `name` left `room`.
    Part {
        name: &'a str,
        room: &'a str,
        time: &'a str,
        text: Option<&'a str>,
    },
    /// `AWAY <name> <time> [<text>]`: `name` is away since `time` (with
    /// `text`), or back (without).
    Away {
        name: &'a str,
        time: &'a str,
        text: Option<&'a str>,
    },
    /// `WHOIS <name> <online|away|offline> <rooms> [<since> <text>]`:
    /// `rooms` comma separated (`-` for none); away's since and text.
    Whois {
        name: &'a str,
        online: bool,
        rooms: &'a [&'a str],
        away: Option<(&'a str, &'a str)>,
    },
    /// That `name` went away (with `text`) or came back, told to those
    /// who asked to hear it (IRC's `away-notify`); written as `AWAY`.
    AwayChanged {
        name: &'a str,
        time: &'a str,
        text: Option<&'a str>,
    },
    /// `TOPIC <room> <by> <time> [<text>]`: set (or cleared, without
    /// text) by `by`; `TOPIC <room>` alone: it has none.
    Topic {
        room: &'a str,
        set: Option<(&'a str, &'a str)>,
        text: Option<&'a str>,
    },
    /// `MODE <room> <by> <time> <modes> [<arg> ...]`: a change of the
    /// room's modes (`by` `*`: the server's own).
    Mode {
        room: &'a str,
        by: &'a str,
        time: &'a str,
        modes: &'a str,
        args: &'a str,
    },
    /// `MODES <room> <flags> [<arg> ...]`: what a room is set to.
    Modes { room: &'a str, flags: &'a str },
    /// `BANS <room> [<mask> ...]`.
    Bans { room: &'a str, masks: &'a [&'a str] },
    /// `KICK <room> <name> <by> <time> [<text>]`.
    Kick {
        room: &'a str,
        name: &'a str,
        by: &'a str,
        time: &'a str,
        text: Option<&'a str>,
    },
    /// `INVITE <by> <name> <room> <time>`.
    Invite {
        by: &'a str,
        name: &'a str,
        room: &'a str,
        time: &'a str,
    },
    /// `STATS <key=value> ...`.
    Stats(&'a str),
    /// `PING [<token>]`.
    Ping(Option<&'a str>),
    /// `PONG [<token>]`.
    Pong(Option<&'a str>),
    /// `BYE`: the connection closes after a `QUIT`.
    Bye,
    /// `ERR <code> <text>`, the text unescaped (escaped here).
    Error(ErrorCode, &'a str),
}

/// `TAGS <tags>`, the line before a message that carries tags.
fn encode_tags(out: &mut Vec<u8>, tags: &str) {
    encode_fields(out, &["TAGS", tags]);
}

impl Event<'_> {
    /// Appends the event's canonical frame, LF included.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Event::LoggedIn { name } => encode_fields(out, &["OK LOGIN", name]),
            Event::Authed { name } => encode_fields(out, &["OK AUTH", name]),
            Event::Renamed { name } => encode_fields(out, &["OK NICK", name]),
            Event::Say { from, time, text } => encode_fields(out, &["SAY", from, time, text]),
            Event::Msg {
                from,
                to,
                time,
                text,
            } => encode_fields(out, &["MSG", from, to, time, text]),
            Event::Tagged { tags, message } => {
                encode_tags(out, tags);
                message.encode(out);
            }
            Event::TagMsg {
                from,
                to,
                time,
                tags,
            } => {
                encode_tags(out, tags);
                encode_fields(out, &["TAGMSG", from, to, time]);
            }
            Event::Joined { name, time } => encode_fields(out, &["JOINED", name, time]),
            Event::NameChanged { old, new, time } => {
                encode_fields(out, &["LEFT", old, time, "renamed to", new]);
                encode_fields(out, &["JOINED", new, time]);
            }
            Event::Left { name, time, text } => match text {
                Some(text) => encode_fields(out, &["LEFT", name, time, text]),
                None => encode_fields(out, &["LEFT", name, time]),
            },
            Event::Users(names) => encode_users(out, names.iter().copied()),
            Event::RoomUsers { room, names } => {
                encode_users(out, std::iter::once(room).chain(names.iter().copied()))
            }
            Event::Rooms(rooms) => {
                out.extend_from_slice(b"ROOMS");
                for room in rooms {
                    out.push(b' ');
                    out.extend_from_slice(room.as_bytes());
                }
                out.push(b'\n');
            }
            Event::List(rooms) => {
                out.extend_from_slice(b"LIST");
                for (room, members) in rooms {
                    out.push(b' ');
                    out.extend_from_slice(room.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(members.to_string().as_bytes());
                }
                out.push(b'\n');
            }
            Event::Join { name, room, time } => encode_fields(out, &["JOIN", name, room, time]),
            Event::Part {
                name,
                room,
                time,
                text,
            } => match text {
                Some(text) => encode_fields(out, &["PART", name, room, time, text]),
                None => encode_fields(out, &["PART", name, room, time]),
            },
            Event::Away { name, time, text } | Event::AwayChanged { name, time, text } => {
                match text {
                    Some(text) => encode_fields(out, &["AWAY", name, time, text]),
                    None => encode_fields(out, &["AWAY", name, time]),
                }
            }
            Event::Whois {
                name,
                online,
                rooms,
                away,
            } => {
                let state = match (online, away) {
                    (false, _) => "offline",
                    (true, None) => "online",
                    (true, Some(_)) => "away",
                };
                let rooms = match rooms.is_empty() {
                    true => "-".to_owned(),
                    false => rooms.join(","),
                };
                match away {
                    Some((since, text)) if online => {
                        encode_fields(out, &["WHOIS", name, state, &rooms, since, text])
                    }
                    _ => encode_fields(out, &["WHOIS", name, state, &rooms]),
                }
            }
            Event::Topic {
                room, set: None, ..
            } => encode_fields(out, &["TOPIC", room]),
            Event::Topic {
                room,
                set: Some((by, time)),
                text,
            } => match text {
                Some(text) => encode_fields(out, &["TOPIC", room, by, time, text]),
                None => encode_fields(out, &["TOPIC", room, by, time]),
            },
            Event::Mode {
                room,
                by,
                time,
                modes,
                args,
            } => match args {
                "" => encode_fields(out, &["MODE", room, by, time, modes]),
                args => encode_fields(out, &["MODE", room, by, time, modes, args]),
            },
            Event::Modes { room, flags } => encode_fields(out, &["MODES", room, flags]),
            Event::Bans { room, masks } => {
                encode_fields(out, &[&["BANS", room][..], masks].concat())
            }
            Event::Kick {
                room,
                name,
                by,
                time,
                text,
            } => match text {
                Some(text) => encode_fields(out, &["KICK", room, name, by, time, text]),
                None => encode_fields(out, &["KICK", room, name, by, time]),
            },
            Event::Invite {
                by,
                name,
                room,
                time,
            } => encode_fields(out, &["INVITE", by, name, room, time]),
            Event::Stats(line) => encode_fields(out, &["STATS", line]),
            Event::Ping(Some(token)) => encode_fields(out, &["PING", token]),
            Event::Ping(None) => encode_fields(out, &["PING"]),
            Event::Pong(Some(token)) => encode_fields(out, &["PONG", token]),
            Event::Pong(None) => encode_fields(out, &["PONG"]),
            Event::Bye => encode_fields(out, &["BYE"]),
            Event::Error(code, text) => encode_err(out, code, text),
        }
    }

    /// Bytes of the canonical frame.
    pub fn encoded_len(&self) -> usize {
        let fields = |f: &[&str]| f.iter().map(|f| f.len() + 1).sum::<usize>();
        match *self {
            Event::Say { from, time, text } => fields(&["SAY", from, time, text]),
            Event::Msg {
                from,
                to,
                time,
                text,
            } => fields(&["MSG", from, to, time, text]),
            Event::Tagged { tags, message } => 6 + tags.len() + message.encoded_len(),
            _ => {
                let mut out = Vec::new();
                self.encode(&mut out);
                out.len()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerFrame;

    fn line(event: Event<'_>) -> String {
        let mut out = Vec::new();
        event.encode(&mut out);
        assert_eq!(out.len(), event.encoded_len());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn events_encode_as_the_protocol_frames() {
        let t = "2026-01-02T03:04:05.678Z";
        assert_eq!(line(Event::LoggedIn { name: "a" }), "OK LOGIN a\n");
        let say = Event::Say {
            from: "a",
            time: t,
            text: "hi\\nthere",
        };
        assert_eq!(line(say), format!("SAY a {t} hi\\nthere\n"));
        let msg = Event::Msg {
            from: "a",
            to: "b,c",
            time: t,
            text: "x",
        };
        assert_eq!(line(msg), format!("MSG a b,c {t} x\n"));
        let in_room = Event::Msg {
            from: "a",
            to: "#r",
            time: t,
            text: "x",
        };
        let tagged = Event::Tagged {
            tags: "+draft/reply=1",
            message: &in_room,
        };
        assert_eq!(
            line(tagged),
            format!("TAGS +draft/reply=1\nMSG a #r {t} x\n")
        );
        let tagmsg = Event::TagMsg {
            from: "a",
            to: "b",
            time: t,
            tags: "+typing=active",
        };
        assert_eq!(
            line(tagmsg),
            format!("TAGS +typing=active\nTAGMSG a b {t}\n")
        );
        assert_eq!(
            line(Event::Left {
                name: "a",
                time: t,
                text: Some("bye")
            }),
            format!("LEFT a {t} bye\n")
        );
        assert_eq!(line(Event::Users(&["a", "b"])), "USERS a b\n");
        assert_eq!(line(Event::Users(&[])), "USERS\n");
        let room_users = Event::RoomUsers {
            room: "#r",
            names: &["a", "b"],
        };
        assert_eq!(line(room_users), "USERS #r a b\n");
        assert_eq!(line(Event::Rooms(&["#a", "#B"])), "ROOMS #a #B\n");
        assert_eq!(line(Event::Rooms(&[])), "ROOMS\n");
        let join = Event::Join {
            name: "a",
            room: "#r",
            time: t,
        };
        assert_eq!(line(join), format!("JOIN a #r {t}\n"));
        let part = Event::Part {
            name: "a",
            room: "#r",
            time: t,
            text: Some("bye"),
        };
        assert_eq!(line(part), format!("PART a #r {t} bye\n"));
        assert_eq!(line(Event::Ping(Some("7"))), "PING 7\n");
        assert_eq!(line(Event::Pong(None)), "PONG\n");
        assert_eq!(line(Event::Bye), "BYE\n");
        assert_eq!(
            line(Event::Error(ErrorCode::NoSuchUser, "no\nsuch")),
            "ERR 404 no\\nsuch\n"
        );
    }

    #[test]
    fn what_is_encoded_parses_back() {
        let t = "2026-01-02T03:04:05.678Z";
        let events = [
            Event::Joined { name: "a", time: t },
            Event::Left {
                name: "a",
                time: t,
                text: None,
            },
            Event::Stats("users=1 frames_in=2"),
            Event::Error(ErrorCode::TooSlow, "too slow"),
            Event::Topic {
                room: "#r",
                set: None,
                text: None,
            },
            Event::Topic {
                room: "#r",
                set: Some(("a", t)),
                text: None,
            },
            Event::Topic {
                room: "#r",
                set: Some(("a", t)),
                text: Some(" two\\nlines "),
            },
            Event::Mode {
                room: "#r",
                by: "*",
                time: t,
                modes: "+o",
                args: "a",
            },
            Event::Mode {
                room: "#r",
                by: "a",
                time: t,
                modes: "+ikl-m",
                args: "key 3",
            },
            Event::Modes {
                room: "#r",
                flags: "+ntk *",
            },
            Event::Bans {
                room: "#r",
                masks: &[],
            },
            Event::Bans {
                room: "#r",
                masks: &["a!*@*", "b*!*@*"],
            },
            Event::Kick {
                room: "#r",
                name: "b",
                by: "a",
                time: t,
                text: Some("why"),
            },
            Event::Kick {
                room: "#r",
                name: "b",
                by: "a",
                time: t,
                text: None,
            },
            Event::Invite {
                by: "a",
                name: "b",
                room: "#r",
                time: t,
            },
        ];
        for event in events {
            let text = line(event);
            let parsed = ServerFrame::parse(text.trim_end_matches('\n'));
            assert!(parsed.is_ok(), "{text}: {parsed:?}");
        }
    }
}
