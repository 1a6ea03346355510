//! Frames the server sends: encoded by the server, parsed by the client.
//!
//! Encoders append to a caller's buffer so the hub can pack several frames
//! into one shared chunk. Text arrives already escaped (see [`super::Text`]);
//! server-made text (error messages, QUIT reasons) is escaped here.

use super::escape::{escape_into, unescape};
use chrono::{DateTime, Utc};

/// `ERR` codes, in the style of HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest = 400,
    NotLoggedIn = 401,
    /// Not a member of the room.
    Forbidden = 403,
    NoSuchUser = 404,
    IdleTimeout = 408,
    NameTaken = 409,
    TooLong = 413,
    TooSlow = 429,
    Unavailable = 503,
    MailboxFull = 507,
}

/// Appends `ERR <code> <text>`.
pub fn encode_err(out: &mut Vec<u8>, code: ErrorCode, text: &str) {
    out.extend_from_slice(b"ERR ");
    out.extend_from_slice(itoa3(code as u16).as_bytes());
    out.push(b' ');
    escape_into(text, out);
    out.push(b'\n');
}

fn itoa3(n: u16) -> String {
    format!("{n:03}")
}

/// Appends a frame made of literal fields, the last of which is raw text that
/// is already escaped (or needs none: names, times, tokens).
pub fn encode_fields(out: &mut Vec<u8>, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(field.as_bytes());
    }
    out.push(b'\n');
}

/// Appends `USERS <name> ...`.
pub fn encode_users<'a>(out: &mut Vec<u8>, names: impl Iterator<Item = &'a str>) {
    out.extend_from_slice(b"USERS");
    for name in names {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
}

/// A parsed server frame, as the client library hands it to programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// `OK LOGIN <name>`: the login was accepted.
    LoggedIn {
        name: String,
    },
    /// `OK AUTH <name>`: the password is right; `LOGIN <name>` needs none.
    Authed {
        name: String,
    },
    /// `OK NICK <name>`: you are called `name` now.
    Renamed {
        name: String,
    },
    /// A frame this library does not know (a newer server's), as sent.
    Other {
        line: String,
    },
    /// A broadcast.
    Say {
        from: String,
        time: DateTime<Utc>,
        text: String,
    },
    /// A private message; `to` lists the recipients as the sender wrote them.
    Msg {
        from: String,
        to: Vec<String>,
        time: DateTime<Utc>,
        text: String,
    },
    Joined {
        name: String,
        time: DateTime<Utc>,
    },
    /// `text` is the departing user's QUIT text, if any.
    Left {
        name: String,
        time: DateTime<Utc>,
        text: Option<String>,
    },
    /// Online users, sorted.
    Users(Vec<String>),
    /// A room's online members, sorted.
    RoomUsers {
        room: String,
        names: Vec<String>,
    },
    /// The rooms the user is in.
    Rooms(Vec<String>),
    /// Every room and its number of members, the most first.
    List(Vec<(String, usize)>),
    /// `name` joined `room` (the user's own `JOIN` confirms theirs).
    Join {
        name: String,
        room: String,
        time: DateTime<Utc>,
    },
    /// `name` left `room`, with their parting text if any.
    Part {
        name: String,
        room: String,
        time: DateTime<Utc>,
        text: Option<String>,
    },
    /// `name` is away since `time`, with `text`; or back, without.
    Away {
        name: String,
        time: DateTime<Utc>,
        text: Option<String>,
    },
    /// What the server knows of `name`: online (here or on another node
    /// of a cluster) or only known, its rooms, and since when and why it
    /// is away, if it is.
    Whois {
        name: String,
        online: bool,
        rooms: Vec<String>,
        away: Option<(DateTime<Utc>, String)>,
    },
    /// A room's topic: set (or cleared, `text` `None`) by `by` at `time`,
    /// as told to its members, after a `JOIN` and as the answer to
    /// `TOPIC <room>`; `set` `None`: the room has none.
    Topic {
        room: String,
        set: Option<(String, DateTime<Utc>)>,
        text: Option<String>,
    },
    /// `by` changed `room`'s modes (`by` `*`: the server); `modes` as IRC
    /// writes them (`+o-m`), then their arguments.
    Mode {
        room: String,
        by: String,
        time: DateTime<Utc>,
        modes: String,
        args: Vec<String>,
    },
    /// What `room` is set to (`+ntk`), then the key (`*` to outsiders) and
    /// the limit, if any.
    Modes {
        room: String,
        flags: String,
        args: Vec<String>,
    },
    /// The ban masks of `room`.
    Bans {
        room: String,
        masks: Vec<String>,
    },
    /// `by` put `name` out of `room`, saying why if they did.
    Kick {
        room: String,
        name: String,
        by: String,
        time: DateTime<Utc>,
        text: Option<String>,
    },
    /// `by` invited `name` into `room` (told to both).
    Invite {
        by: String,
        name: String,
        room: String,
        time: DateTime<Utc>,
    },
    /// `STATS key=value ...`, in the server's order.
    Stats(Vec<(String, String)>),
    Ping {
        token: Option<String>,
    },
    Pong {
        token: Option<String>,
    },
    /// The server is closing this connection after a QUIT.
    Bye,
    Error {
        code: u16,
        text: String,
    },
}

/// Why a server frame could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFrame(pub String);

impl std::fmt::Display for BadFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad frame from server: {}", self.0)
    }
}

impl std::error::Error for BadFrame {}

impl ServerFrame {
    /// Parses one line (without LF) from the server.
    pub fn parse(line: &str) -> Result<ServerFrame, BadFrame> {
        let bad = || BadFrame(line.chars().take(200).collect());
        let mut fields = Fields(line);
        let verb = fields.next().ok_or_else(bad)?;
        let time = |f: &mut Fields| -> Result<DateTime<Utc>, BadFrame> {
            let t = f.next().ok_or_else(bad)?;
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| bad())
        };
        let text = |raw: &str| unescape(raw).map(|t| t.into_owned()).map_err(|_| bad());
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let room = |f: &mut Fields| -> Result<String, BadFrame> {
            match f.next() {
                Some(r) if r.len() > 1 && r.starts_with('#') => Ok(r.to_owned()),
                _ => Err(bad()),
            }
        };
        let word = |f: &mut Fields| -> Result<String, BadFrame> {
            f.next()
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .ok_or_else(bad)
        };
        // What is left, as words (`MODE`'s arguments, `BANS`'s masks).
        let words = |f: &mut Fields| -> Result<Vec<String>, BadFrame> {
            let words: Vec<String> = f
                .rest()
                .map_or(Vec::new(), |r| r.split(' ').map(str::to_owned).collect());
            match words.iter().any(String::is_empty) {
                true => Err(bad()),
                false => Ok(words),
            }
        };
        let frame = match verb {
            "OK" => match (fields.next(), fields.rest()) {
                (Some("LOGIN"), Some(name)) => ServerFrame::LoggedIn { name: name.into() },
                (Some("AUTH"), Some(name)) => ServerFrame::Authed { name: name.into() },
                (Some("NICK"), Some(name)) => ServerFrame::Renamed { name: name.into() },
                _ => return Err(bad()),
            },
            "SAY" => {
                let from = fields.next().ok_or_else(bad)?.to_owned();
                let time = time(&mut fields)?;
                let text = text(fields.rest().ok_or_else(bad)?)?;
                ServerFrame::Say { from, time, text }
            }
            "MSG" => {
                let from = fields.next().ok_or_else(bad)?.to_owned();
                let to = fields.next().ok_or_else(bad)?;
                let to = to.split(',').map(str::to_owned).collect();
                let time = time(&mut fields)?;
                let text = text(fields.rest().ok_or_else(bad)?)?;
                ServerFrame::Msg {
                    from,
                    to,
                    time,
                    text,
                }
            }
            "JOINED" => ServerFrame::Joined {
                name: fields.next().ok_or_else(bad)?.to_owned(),
                time: time(&mut fields)?,
            },
            "AWAY" => ServerFrame::Away {
                name: fields.next().ok_or_else(bad)?.to_owned(),
                time: time(&mut fields)?,
                text: fields.rest().map(text).transpose()?,
            },
            "WHOIS" => {
                let name = fields.next().ok_or_else(bad)?.to_owned();
                let state = fields.next().ok_or_else(bad)?;
                let rooms = match fields.next().ok_or_else(bad)? {
                    "-" => Vec::new(),
                    rooms => rooms.split(',').map(str::to_owned).collect(),
                };
                let away = match state {
                    "away" => {
                        let since = time(&mut fields)?;
                        Some((since, text(fields.rest().ok_or_else(bad)?)?))
                    }
                    "online" | "offline" => None,
                    _ => return Err(bad()),
                };
                ServerFrame::Whois {
                    name,
                    online: state != "offline",
                    rooms,
                    away,
                }
            }
            "LEFT" => ServerFrame::Left {
                name: fields.next().ok_or_else(bad)?.to_owned(),
                time: time(&mut fields)?,
                text: fields.rest().map(text).transpose()?,
            },
            "USERS" => {
                let names: Vec<String> = fields
                    .rest()
                    .map(|r| r.split(' ').map(str::to_owned).collect())
                    .unwrap_or_default();
                match names.split_first() {
                    Some((room, names)) if room.starts_with('#') => ServerFrame::RoomUsers {
                        room: room.clone(),
                        names: names.to_vec(),
                    },
                    _ => ServerFrame::Users(names),
                }
            }
            "LIST" => {
                let words: Vec<&str> = fields.rest().map_or(Vec::new(), |r| r.split(' ').collect());
                let mut rooms = Vec::with_capacity(words.len() / 2);
                for pair in words.chunks(2) {
                    let [room, members] = pair else {
                        return Err(bad());
                    };
                    let members = members.parse().map_err(|_| bad())?;
                    rooms.push(((*room).to_owned(), members));
                }
                ServerFrame::List(rooms)
            }
            "ROOMS" => ServerFrame::Rooms(
                fields
                    .rest()
                    .map(|r| r.split(' ').map(str::to_owned).collect())
                    .unwrap_or_default(),
            ),
            "JOIN" => ServerFrame::Join {
                name: fields.next().ok_or_else(bad)?.to_owned(),
                room: fields.next().ok_or_else(bad)?.to_owned(),
                time: time(&mut fields)?,
            },
            "PART" => ServerFrame::Part {
                name: fields.next().ok_or_else(bad)?.to_owned(),
                room: fields.next().ok_or_else(bad)?.to_owned(),
                time: time(&mut fields)?,
                text: fields.rest().map(text).transpose()?,
            },
            "TOPIC" => {
                let room = room(&mut fields)?;
                match fields.next() {
                    None => ServerFrame::Topic {
                        room,
                        set: None,
                        text: None,
                    },
                    Some("") => return Err(bad()),
                    Some(by) => ServerFrame::Topic {
                        room,
                        set: Some((by.to_owned(), time(&mut fields)?)),
                        text: fields.rest().map(text).transpose()?,
                    },
                }
            }
            "MODE" => {
                let room = room(&mut fields)?;
                let by = word(&mut fields)?;
                let time = time(&mut fields)?;
                let modes = word(&mut fields)?;
                if !modes.starts_with(['+', '-']) {
                    return Err(bad());
                }
                ServerFrame::Mode {
                    room,
                    by,
                    time,
                    modes,
                    args: words(&mut fields)?,
                }
            }
            "MODES" => {
                let room = room(&mut fields)?;
                let flags = word(&mut fields)?;
                if !flags.starts_with('+') {
                    return Err(bad());
                }
                ServerFrame::Modes {
                    room,
                    flags,
                    args: words(&mut fields)?,
                }
            }
            "BANS" => ServerFrame::Bans {
                room: room(&mut fields)?,
                masks: words(&mut fields)?,
            },
            "KICK" => ServerFrame::Kick {
                room: room(&mut fields)?,
                name: word(&mut fields)?,
                by: word(&mut fields)?,
                time: time(&mut fields)?,
                text: fields.rest().map(text).transpose()?,
            },
            "INVITE" => {
                let frame = ServerFrame::Invite {
                    by: word(&mut fields)?,
                    name: word(&mut fields)?,
                    room: room(&mut fields)?,
                    time: time(&mut fields)?,
                };
                if fields.rest().is_some() {
                    return Err(bad());
                }
                frame
            }
            "STATS" => ServerFrame::Stats(
                fields
                    .rest()
                    .unwrap_or("")
                    .split(' ')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            ),
            "PING" => ServerFrame::Ping {
                token: owned(fields.rest()),
            },
            "PONG" => ServerFrame::Pong {
                token: owned(fields.rest()),
            },
            "BYE" => ServerFrame::Bye,
            "ERR" => {
                let code = fields.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
                let text = text(fields.rest().unwrap_or(""))?;
                ServerFrame::Error { code, text }
            }
            // A frame of a newer server: a verb as the protocol writes
            // them, kept for programs that know it, not an error that would
            // end the connection.
            other if is_verb(other) => ServerFrame::Other {
                line: line.chars().take(MAX_OTHER).collect(),
            },
            _ => return Err(bad()),
        };
        Ok(frame)
    }
}

/// The most of an unknown frame kept.
const MAX_OTHER: usize = 1 << 16;

/// An upper-case word of 2 to 16 letters: how every verb is written.
fn is_verb(word: &str) -> bool {
    (2..=16).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_uppercase())
}

/// Space-separated fields, with the remainder available as one field.
struct Fields<'a>(&'a str);

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a str> {
        if self.0.is_empty() {
            return None;
        }
        let (field, rest) = self.0.split_once(' ').unwrap_or((self.0, ""));
        self.0 = rest;
        Some(field)
    }

    fn rest(&mut self) -> Option<&'a str> {
        let rest = std::mem::take(&mut self.0);
        (!rest.is_empty()).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn parses_server_frames() {
        let at = "2026-11-23T10:15:30.123Z";
        let cases = [
            ("OK LOGIN bob", ServerFrame::LoggedIn { name: "bob".into() }),
            ("OK NICK bob", ServerFrame::Renamed { name: "bob".into() }),
            ("OK AUTH bob", ServerFrame::Authed { name: "bob".into() }),
            (
                &format!("SAY al {at}  two\\nlines"),
                ServerFrame::Say {
                    from: "al".into(),
                    time: t(at),
                    text: " two\nlines".into(),
                },
            ),
            (
                &format!("MSG al bo,cy {at} hi"),
                ServerFrame::Msg {
                    from: "al".into(),
                    to: vec!["bo".into(), "cy".into()],
                    time: t(at),
                    text: "hi".into(),
                },
            ),
            (
                &format!("LEFT al {at} bye now"),
                ServerFrame::Left {
                    name: "al".into(),
                    time: t(at),
                    text: Some("bye now".into()),
                },
            ),
            (
                &format!("AWAY al {at} at lunch"),
                ServerFrame::Away {
                    name: "al".into(),
                    time: t(at),
                    text: Some("at lunch".into()),
                },
            ),
            (
                &format!("AWAY al {at}"),
                ServerFrame::Away {
                    name: "al".into(),
                    time: t(at),
                    text: None,
                },
            ),
            (
                "WHOIS al offline -",
                ServerFrame::Whois {
                    name: "al".into(),
                    online: false,
                    rooms: vec![],
                    away: None,
                },
            ),
            (
                &format!("WHOIS al away #a,#b {at} out\\\\now"),
                ServerFrame::Whois {
                    name: "al".into(),
                    online: true,
                    rooms: vec!["#a".into(), "#b".into()],
                    away: Some((t(at), "out\\now".into())),
                },
            ),
            (
                "USERS a b",
                ServerFrame::Users(vec!["a".into(), "b".into()]),
            ),
            (
                "USERS #r a",
                ServerFrame::RoomUsers {
                    room: "#r".into(),
                    names: vec!["a".into()],
                },
            ),
            (
                "ROOMS #a #b",
                ServerFrame::Rooms(vec!["#a".into(), "#b".into()]),
            ),
            ("ROOMS", ServerFrame::Rooms(vec![])),
            (
                "LIST #a 3 #b 1",
                ServerFrame::List(vec![("#a".into(), 3), ("#b".into(), 1)]),
            ),
            ("LIST", ServerFrame::List(vec![])),
            (
                &format!("JOIN al #r {at}"),
                ServerFrame::Join {
                    name: "al".into(),
                    room: "#r".into(),
                    time: t(at),
                },
            ),
            (
                &format!("PART al #r {at} so\\nlong"),
                ServerFrame::Part {
                    name: "al".into(),
                    room: "#r".into(),
                    time: t(at),
                    text: Some("so\nlong".into()),
                },
            ),
            (
                "PONG x y",
                ServerFrame::Pong {
                    token: Some("x y".into()),
                },
            ),
            (
                "ERR 404 no such user: zed",
                ServerFrame::Error {
                    code: 404,
                    text: "no such user: zed".into(),
                },
            ),
            ("BYE", ServerFrame::Bye),
            (
                "TOPIC #r",
                ServerFrame::Topic {
                    room: "#r".into(),
                    set: None,
                    text: None,
                },
            ),
            (
                &format!("TOPIC #r amy {at}"),
                ServerFrame::Topic {
                    room: "#r".into(),
                    set: Some(("amy".into(), t(at))),
                    text: None,
                },
            ),
            (
                &format!("TOPIC #r amy {at} hello\\nworld  "),
                ServerFrame::Topic {
                    room: "#r".into(),
                    set: Some(("amy".into(), t(at))),
                    text: Some("hello\nworld  ".into()),
                },
            ),
            (
                &format!("MODE #r * {at} +o bob"),
                ServerFrame::Mode {
                    room: "#r".into(),
                    by: "*".into(),
                    time: t(at),
                    modes: "+o".into(),
                    args: vec!["bob".into()],
                },
            ),
            (
                &format!("MODE #r amy {at} -t"),
                ServerFrame::Mode {
                    room: "#r".into(),
                    by: "amy".into(),
                    time: t(at),
                    modes: "-t".into(),
                    args: vec![],
                },
            ),
            (
                "MODES #r +ntikl * 2",
                ServerFrame::Modes {
                    room: "#r".into(),
                    flags: "+ntikl".into(),
                    args: vec!["*".into(), "2".into()],
                },
            ),
            (
                "MODES #r +n",
                ServerFrame::Modes {
                    room: "#r".into(),
                    flags: "+n".into(),
                    args: vec![],
                },
            ),
            (
                "BANS #r cat!*@* b*!*@*",
                ServerFrame::Bans {
                    room: "#r".into(),
                    masks: vec!["cat!*@*".into(), "b*!*@*".into()],
                },
            ),
            (
                "BANS #r",
                ServerFrame::Bans {
                    room: "#r".into(),
                    masks: vec![],
                },
            ),
            (
                &format!("KICK #r cat amy {at} flood\\ning"),
                ServerFrame::Kick {
                    room: "#r".into(),
                    name: "cat".into(),
                    by: "amy".into(),
                    time: t(at),
                    text: Some("flood\ning".into()),
                },
            ),
            (
                &format!("KICK #r cat amy {at}"),
                ServerFrame::Kick {
                    room: "#r".into(),
                    name: "cat".into(),
                    by: "amy".into(),
                    time: t(at),
                    text: None,
                },
            ),
            (
                &format!("INVITE bob cat #r {at}"),
                ServerFrame::Invite {
                    by: "bob".into(),
                    name: "cat".into(),
                    room: "#r".into(),
                    time: t(at),
                },
            ),
        ];
        for (line, frame) in cases {
            assert_eq!(ServerFrame::parse(line), Ok(frame), "{line}");
        }
        assert!(ServerFrame::parse("SAY al notatime hi").is_err());
        // A newer server's frame is kept, not an error.
        assert_eq!(
            ServerFrame::parse("NOPE a b"),
            Ok(ServerFrame::Other {
                line: "NOPE a b".into()
            })
        );
        assert!(ServerFrame::parse("nope").is_err());
        assert!(ServerFrame::parse("N0PE").is_err());
    }

    #[test]
    fn malformed_room_frames_are_errors() {
        let at = "2026-11-23T10:15:30.123Z";
        for line in [
            "TOPIC".to_owned(),
            "TOPIC r".to_owned(),
            "TOPIC #".to_owned(),
            "TOPIC #r amy".to_owned(),
            "TOPIC #r amy notatime text".to_owned(),
            "TOPIC #r  {at}".to_owned(),
            format!("TOPIC #r amy {at} bad\\xescape"),
            "MODE #r".to_owned(),
            format!("MODE #r amy {at}"),
            format!("MODE #r amy {at} o bob"),
            format!("MODE #r amy {at} +o  bob"),
            "MODE #r amy +o bob".to_owned(),
            "MODES".to_owned(),
            "MODES #r".to_owned(),
            "MODES #r nt".to_owned(),
            "BANS".to_owned(),
            "BANS x".to_owned(),
            "BANS #r a  b".to_owned(),
            "KICK #r cat amy".to_owned(),
            format!("KICK #r cat {at}"),
            format!("KICK cat amy #r {at}"),
            "INVITE bob cat #r".to_owned(),
            format!("INVITE bob cat r {at}"),
            format!("INVITE bob cat #r {at} extra"),
        ] {
            let line = line.replace("{at}", at);
            assert!(ServerFrame::parse(&line).is_err(), "{line:?} parsed");
        }
    }

    proptest::proptest! {
        /// Whatever a server sends, parsing answers, never panics.
        #[test]
        fn parsing_anything_never_panics(
            verb in proptest::sample::select(vec![
                "OK", "SAY", "MSG", "JOINED", "LEFT", "USERS", "ROOMS", "LIST", "JOIN",
                "PART", "AWAY", "WHOIS", "TOPIC", "MODE", "MODES", "BANS", "KICK",
                "INVITE", "STATS", "PING", "PONG", "BYE", "ERR",
            ]),
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("2026-11-23T10:15:30.123Z".to_owned()),
                    proptest::strategy::Just("#r".to_owned()),
                    proptest::strategy::Just(String::new()),
                    "[-+#*@!a-z0-9\\\\]{0,6}",
                    proptest::arbitrary::any::<String>(),
                ],
                0..7,
            ),
        ) {
            let line = [verb.to_owned()].into_iter().chain(words).collect::<Vec<_>>().join(" ");
            let _ = ServerFrame::parse(&line);
        }
    }

    #[test]
    fn error_text_is_escaped() {
        let mut out = Vec::new();
        encode_err(&mut out, ErrorCode::BadRequest, "a\nb");
        assert_eq!(out, b"ERR 400 a\\nb\n");
    }
}
