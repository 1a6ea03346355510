//! Frames a client sends, parsed without copying.
//!
//! `<text>` fields stay in their escaped form ([`Text`]): the server checks
//! them and relays the same bytes, so a broadcast costs no unescape and no
//! re-escape. Names are checked here, once, so the hub never sees a bad one.

use super::escape::{self, EscapeError};
use super::tags::{split_tags, ClientTags};
use std::borrow::Cow;

/// Longest name, in bytes (names are ASCII).
pub const MAX_NAME: usize = 32;

/// Escaped text that has been validated: non-empty, only known escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'a>(&'a str);

impl<'a> Text<'a> {
    /// Validates an escaped `<text>` field.
    pub fn parse(raw: &'a str) -> Result<Text<'a>, ParseError> {
        if raw.is_empty() {
            return Err(ParseError::EmptyText);
        }
        escape::validate(raw).map_err(ParseError::Escape)?;
        Ok(Text(raw))
    }

    /// The text as it travels on the wire.
    pub fn escaped(&self) -> &'a str {
        self.0
    }

    /// The text as the user wrote it.
    pub fn unescaped(&self) -> Cow<'a, str> {
        // Validated at construction, so this cannot fail; fall back to raw.
        escape::unescape(self.0).unwrap_or(Cow::Borrowed(self.0))
    }
}

/// One client frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    Login {
        name: &'a str,
        /// Escaped text: the rest of the line, so it may hold spaces.
        password: Option<Text<'a>>,
    },
    /// `AUTH <name> <password>`: the password checked, nobody logged in
    /// (a `LOGIN <name>` after it needs none; IRC's SASL).
    Auth {
        name: &'a str,
        password: Text<'a>,
    },
    Say {
        text: Text<'a>,
        tags: Option<ClientTags<'a>>,
    },
    /// `to` is the recipient list as written (comma separated, all valid).
    Msg {
        to: &'a str,
        text: Text<'a>,
        tags: Option<ClientTags<'a>>,
    },
    /// `@<tags> TAGMSG <target>[,<target>...]`: tags and no text (IRC's
    /// `TAGMSG`: typing, reactions), for those who show tags.
    TagMsg {
        to: &'a str,
        tags: ClientTags<'a>,
    },
    Who,
    /// `WHO <room>`: the room's online members.
    WhoIn {
        room: &'a str,
    },
    /// `JOIN <room> [<key>]`.
    Join {
        room: &'a str,
        key: Option<&'a str>,
    },
    /// `TOPIC <room>` asks; `TOPIC <room> <text>` sets; `TOPIC <room> `
    /// (a space, no text) clears.
    Topic {
        room: &'a str,
        text: Option<Option<Text<'a>>>,
    },
    /// `MODE <room> [<modes> [<arg> ...]]`: `changes` is the rest of the
    /// line, read by the rooms' settings.
    Mode {
        room: &'a str,
        changes: Option<&'a str>,
    },
    /// `KICK <room> <name> [<text>]`.
    Kick {
        room: &'a str,
        name: &'a str,
        text: Option<Text<'a>>,
    },
    /// `INVITE <name> <room>`.
    Invite {
        name: &'a str,
        room: &'a str,
    },
    /// `NICK <name>`: take another name.
    Nick {
        name: &'a str,
    },
    /// `PART <room> [<text>]`.
    Part {
        room: &'a str,
        text: Option<Text<'a>>,
    },
    /// `PART * [<text>]`: leave every room (IRC's `JOIN 0`).
    PartAll {
        text: Option<Text<'a>>,
    },
    /// `ROOMS`: the rooms the user is in.
    Rooms,
    /// `LIST`: every room, with its number of members.
    List,
    /// `WHOIS <name>`: whether a name is online, away or known, and its
    /// rooms.
    Whois {
        name: &'a str,
    },
    /// `AWAY [<text>]`: away with that text, or back without.
    Away {
        text: Option<Text<'a>>,
    },
    Stats,
    Ping {
        token: Option<&'a str>,
    },
    Pong {
        token: Option<&'a str>,
    },
    Quit {
        text: Option<Text<'a>>,
    },
}

impl<'a> Command<'a> {
    /// The targets of a `Msg` (names and rooms), in the order written
    /// (may repeat).
    pub fn recipients(to: &'a str) -> impl Iterator<Item = &'a str> {
        to.split(',')
    }

    /// Appends this command as a frame, LF included.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let tags = match self {
            Command::Say { tags, .. } | Command::Msg { tags, .. } => *tags,
            Command::TagMsg { tags, .. } => Some(*tags),
            _ => None,
        };
        if let Some(tags) = tags {
            out.push(b'@');
            out.extend_from_slice(tags.as_str().as_bytes());
            out.push(b' ');
        }
        let mut put = |parts: &[&str]| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(part.as_bytes());
            }
            out.push(b'\n');
        };
        match self {
            Command::Login { name, password } => match password {
                Some(password) => put(&["LOGIN", name, password.escaped()]),
                None => put(&["LOGIN", name]),
            },
            Command::Auth { name, password } => put(&["AUTH", name, password.escaped()]),
            Command::Say { text, .. } => put(&["SAY", text.escaped()]),
            Command::Msg { to, text, .. } => put(&["MSG", to, text.escaped()]),
            Command::TagMsg { to, .. } => put(&["TAGMSG", to]),
            Command::Who => put(&["WHO"]),
            Command::WhoIn { room } => put(&["WHO", room]),
            Command::Join { room, key: None } => put(&["JOIN", room]),
            Command::Join { room, key: Some(k) } => put(&["JOIN", room, k]),
            Command::Topic { room, text: None } => put(&["TOPIC", room]),
            Command::Topic {
                room,
                text: Some(None),
            } => put(&["TOPIC", room, ""]),
            Command::Topic {
                room,
                text: Some(Some(t)),
            } => put(&["TOPIC", room, t.escaped()]),
            Command::Mode {
                room,
                changes: None,
            } => put(&["MODE", room]),
            Command::Mode {
                room,
                changes: Some(c),
            } => put(&["MODE", room, c]),
            Command::Kick {
                room,
                name,
                text: None,
            } => put(&["KICK", room, name]),
            Command::Kick {
                room,
                name,
                text: Some(t),
            } => put(&["KICK", room, name, t.escaped()]),
            Command::Invite { name, room } => put(&["INVITE", name, room]),
            Command::Nick { name } => put(&["NICK", name]),
            Command::Part {
                room,
                text: Some(t),
            } => put(&["PART", room, t.escaped()]),
            Command::Part { room, text: None } => put(&["PART", room]),
            Command::PartAll { text: Some(t) } => put(&["PART", "*", t.escaped()]),
            Command::PartAll { text: None } => put(&["PART", "*"]),
            Command::Rooms => put(&["ROOMS"]),
            Command::List => put(&["LIST"]),
            Command::Whois { name } => put(&["WHOIS", name]),
            Command::Away { text: Some(t) } => put(&["AWAY", t.escaped()]),
            Command::Away { text: None } => put(&["AWAY"]),
            Command::Stats => put(&["STATS"]),
            Command::Ping { token: Some(t) } => put(&["PING", t]),
            Command::Ping { token: None } => put(&["PING"]),
            Command::Pong { token: Some(t) } => put(&["PONG", t]),
            Command::Pong { token: None } => put(&["PONG"]),
            Command::Quit { text: Some(t) } => put(&["QUIT", t.escaped()]),
            Command::Quit { text: None } => put(&["QUIT"]),
        }
    }
}

/// Why a frame was refused; every variant maps to `ERR 400`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotUtf8,
    UnknownCommand,
    MissingField(&'static str),
    ExtraField(&'static str),
    BadName,
    BadRoom,
    BlankText,
    EmptyText,
    Escape(EscapeError),
    BadToken,
    BadTags,
}

impl std::fmt::Display for ParseError {
    /// The `<text>` of the `ERR 400` reply.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::NotUtf8 => f.write_str("frame is not valid UTF-8"),
            ParseError::UnknownCommand => f.write_str(
                "unknown command; try LOGIN, SAY, MSG, JOIN, PART, TOPIC, MODE, KICK, INVITE, WHO, ROOMS, LIST, WHOIS, AWAY, STATS, PING, QUIT",
            ),
            ParseError::MissingField(usage) => write!(f, "missing field; usage: {usage}"),
            ParseError::ExtraField(usage) => write!(f, "too many fields; usage: {usage}"),
            ParseError::BadName => write!(f, "bad name: {NAME_RULE}"),
            ParseError::BadRoom => write!(f, "bad room: {ROOM_RULE}"),
            ParseError::BlankText => f.write_str("text must not be only spaces"),
            ParseError::EmptyText => f.write_str("text must not be empty"),
            ParseError::Escape(e) => write!(f, "{e}"),
            ParseError::BadToken => f.write_str("bad token: no NUL or backslash escapes allowed"),
            ParseError::BadTags => f.write_str(
                "bad tags: only client-only tags (@+name[=value];...), before SAY, MSG or TAGMSG",
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// What a valid name is, for every message that refuses one.
pub const NAME_RULE: &str = "names are 1-32 characters of A-Z a-z 0-9 _ -";

/// What a valid room name is.
pub const ROOM_RULE: &str = "rooms are # and 1-32 characters of A-Z a-z 0-9 _ -";

/// Is `room` `#` and 1–32 characters of `[A-Za-z0-9_-]`?
pub fn is_valid_room(room: &str) -> bool {
    room.strip_prefix('#').is_some_and(is_valid_name)
}

fn room(field: &str) -> Result<&str, ParseError> {
    if is_valid_room(field) {
        Ok(field)
    } else {
        Err(ParseError::BadRoom)
    }
}

/// A `MSG` target: a room (`#...`) or a name.
fn target(field: &str) -> Result<&str, ParseError> {
    if field.starts_with('#') {
        room(field)
    } else {
        name(field)
    }
}

/// Text people see: not made only of spaces, tabs and escaped line
/// breaks, which would show as an empty line.
#[inline(always)]
fn visible_text(raw: &str) -> Result<Text<'_>, ParseError> {
    let text = Text::parse(raw)?;
    // Most text starts with something to see: nothing more to check.
    if !matches!(raw.as_bytes().first(), Some(b' ' | b'\t' | b'\\')) {
        return Ok(text);
    }
    let mut rest = raw;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        match rest
            .strip_prefix("\\n")
            .or_else(|| rest.strip_prefix("\\r"))
        {
            Some(after) => rest = after,
            None => break,
        }
    }
    if rest.is_empty() {
        Err(ParseError::BlankText)
    } else {
        Ok(text)
    }
}

/// Why `name` is refused, in the words every part of evchat uses.
pub fn bad_name(name: &str) -> String {
    format!("bad name {name:?}: {NAME_RULE}")
}

/// Is `name` 1–32 characters of `[A-Za-z0-9_-]`?
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn name(field: &str) -> Result<&str, ParseError> {
    if is_valid_name(field) {
        Ok(field)
    } else {
        Err(ParseError::BadName)
    }
}

/// Splits at the first space (a byte search: faster than a char pattern).
fn split_space(s: &str) -> Option<(&str, &str)> {
    let at = memchr::memchr(b' ', s.as_bytes())?;
    // A space is ASCII, so both sides are on character boundaries.
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// A PING/PONG token is opaque and echoed verbatim; NUL is still refused.
fn token(rest: Option<&str>) -> Result<Option<&str>, ParseError> {
    match rest {
        Some(t) if t.contains('\0') => Err(ParseError::BadToken),
        Some("") | None => Ok(None),
        Some(t) => Ok(Some(t)),
    }
}

/// Parses one frame (without its line ending). `Ok(None)` is an empty line.
pub fn parse(frame: &[u8]) -> Result<Option<Command<'_>>, ParseError> {
    if frame.is_empty() {
        return Ok(None);
    }
    let line = std::str::from_utf8(frame).map_err(|_| ParseError::NotUtf8)?;
    // Tags are rare: the common frame pays one comparison for them.
    let (tags, line) = match line.as_bytes().first() {
        Some(b'@') => split_tags(line)?,
        _ => (None, line),
    };
    let (verb, rest) = match split_space(line) {
        Some((verb, rest)) => (verb, Some(rest)),
        None => (line, None),
    };
    let is = |word: &str| verb.eq_ignore_ascii_case(word);
    let command = if is("SAY") {
        let text = rest.ok_or(ParseError::MissingField("SAY <text>"))?;
        Command::Say {
            text: visible_text(text)?,
            tags,
        }
    } else if is("TAGMSG") {
        const USAGE: &str = "@<tags> TAGMSG <target>[,<target>...]";
        let to = rest.ok_or(ParseError::MissingField(USAGE))?;
        for recipient in Command::recipients(to) {
            target(recipient)?;
        }
        Command::TagMsg {
            to,
            tags: tags.ok_or(ParseError::MissingField(USAGE))?,
        }
    } else if is("MSG") {
        const USAGE: &str = "MSG <target>[,<target>...] <text>";
        let (to, text) = rest
            .and_then(split_space)
            .ok_or(ParseError::MissingField(USAGE))?;
        for recipient in Command::recipients(to) {
            target(recipient)?;
        }
        Command::Msg {
            to,
            text: visible_text(text)?,
            tags,
        }
    } else if tags.is_some() {
        return Err(ParseError::BadTags);
    } else if is("JOIN") {
        const USAGE: &str = "JOIN <room> [<key>]";
        let rest = rest.ok_or(ParseError::MissingField(USAGE))?;
        let (joined, key) = match split_space(rest) {
            Some((r, k)) if !k.is_empty() => (r, Some(k)),
            Some((r, _)) => (r, None),
            None => (rest, None),
        };
        if key.is_some_and(|k| k.contains(' ') || k.contains('\0')) {
            return Err(ParseError::ExtraField(USAGE));
        }
        Command::Join {
            room: room(joined)?,
            key,
        }
    } else if is("TOPIC") {
        let rest = rest.ok_or(ParseError::MissingField("TOPIC <room> [<text>]"))?;
        match split_space(rest) {
            Some((r, "")) => Command::Topic {
                room: room(r)?,
                text: Some(None),
            },
            Some((r, t)) => Command::Topic {
                room: room(r)?,
                text: Some(Some(visible_text(t)?)),
            },
            None => Command::Topic {
                room: room(rest)?,
                text: None,
            },
        }
    } else if is("MODE") {
        let rest = rest.ok_or(ParseError::MissingField("MODE <room> [<modes> [<arg>...]]"))?;
        let (r, changes) = match split_space(rest) {
            Some((r, c)) => (r, Some(c).filter(|c| !c.trim().is_empty())),
            None => (rest, None),
        };
        if changes.is_some_and(|c| c.contains('\0')) {
            return Err(ParseError::BadToken);
        }
        Command::Mode {
            room: room(r)?,
            changes,
        }
    } else if is("KICK") {
        const USAGE: &str = "KICK <room> <name> [<text>]";
        let rest = rest.ok_or(ParseError::MissingField(USAGE))?;
        let (r, rest) = split_space(rest).ok_or(ParseError::MissingField(USAGE))?;
        let (who, text) = match split_space(rest) {
            Some((n, t)) if !t.is_empty() => (n, Some(Text::parse(t)?)),
            Some((n, _)) => (n, None),
            None => (rest, None),
        };
        Command::Kick {
            room: room(r)?,
            name: name(who)?,
            text,
        }
    } else if is("NICK") {
        let rest = rest.ok_or(ParseError::MissingField("NICK <name>"))?;
        if split_space(rest).is_some() {
            return Err(ParseError::ExtraField("NICK <name>"));
        }
        Command::Nick { name: name(rest)? }
    } else if is("INVITE") {
        const USAGE: &str = "INVITE <name> <room>";
        let rest = rest.ok_or(ParseError::MissingField(USAGE))?;
        let (who, r) = split_space(rest).ok_or(ParseError::MissingField(USAGE))?;
        if split_space(r).is_some() {
            return Err(ParseError::ExtraField(USAGE));
        }
        Command::Invite {
            name: name(who)?,
            room: room(r)?,
        }
    } else if is("PART") {
        const USAGE: &str = "PART <room> [<text>]";
        let rest = rest.ok_or(ParseError::MissingField(USAGE))?;
        let (left, text) = match split_space(rest) {
            Some((r, t)) if !t.is_empty() => (r, Some(Text::parse(t)?)),
            Some((r, _)) => (r, None),
            None => (rest, None),
        };
        match left {
            "*" => Command::PartAll { text },
            _ => Command::Part {
                room: room(left)?,
                text,
            },
        }
    } else if is("ROOMS") {
        if rest.is_some() {
            return Err(ParseError::ExtraField("ROOMS"));
        }
        Command::Rooms
    } else if is("LIST") {
        if rest.is_some() {
            return Err(ParseError::ExtraField("LIST"));
        }
        Command::List
    } else if is("LOGIN") {
        const USAGE: &str = "LOGIN <name> [<password>]";
        let rest = rest.ok_or(ParseError::MissingField(USAGE))?;
        let (login, password) = match split_space(rest) {
            Some((n, p)) => (n, Some(Text::parse(p)?)),
            None => (rest, None),
        };
        Command::Login {
            name: name(login)?,
            password,
        }
    } else if is("AUTH") {
        const USAGE: &str = "AUTH <name> <password>";
        let rest = rest.ok_or(ParseError::MissingField(USAGE))?;
        let (login, password) = split_space(rest).ok_or(ParseError::MissingField(USAGE))?;
        Command::Auth {
            name: name(login)?,
            password: Text::parse(password)?,
        }
    } else if is("PING") {
        Command::Ping {
            token: token(rest)?,
        }
    } else if is("PONG") {
        Command::Pong {
            token: token(rest)?,
        }
    } else if is("WHO") && rest.is_some() {
        let rest = rest.unwrap_or_default();
        if split_space(rest).is_some() {
            return Err(ParseError::ExtraField("WHO [<room>]"));
        }
        Command::WhoIn { room: room(rest)? }
    } else if is("WHO") || is("STATS") {
        if rest.is_some() {
            return Err(ParseError::ExtraField(if is("WHO") {
                "WHO"
            } else {
                "STATS"
            }));
        }
        if is("WHO") {
            Command::Who
        } else {
            Command::Stats
        }
    } else if is("WHOIS") {
        const USAGE: &str = "WHOIS <name>";
        let rest = rest.ok_or(ParseError::MissingField(USAGE))?;
        if split_space(rest).is_some() {
            return Err(ParseError::ExtraField(USAGE));
        }
        Command::Whois { name: name(rest)? }
    } else if is("AWAY") {
        Command::Away {
            text: rest
                .filter(|t| !t.is_empty())
                .map(Text::parse)
                .transpose()?,
        }
    } else if is("QUIT") {
        Command::Quit {
            text: rest
                .filter(|t| !t.is_empty())
                .map(Text::parse)
                .transpose()?,
        }
    } else {
        return Err(ParseError::UnknownCommand);
    };
    Ok(Some(command))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(raw: &str) -> Text<'_> {
        Text::parse(raw).unwrap()
    }

    #[test]
    fn parses_each_command() {
        assert_eq!(
            parse(b"login Bob").unwrap(),
            Some(Command::Login {
                name: "Bob",
                password: None
            })
        );
        assert_eq!(
            parse(b"LOGIN Bob s3cret").unwrap(),
            Some(Command::Login {
                name: "Bob",
                password: Some(Text("s3cret"))
            })
        );
        assert_eq!(
            parse(b"say  hi there ").unwrap(),
            Some(Command::Say {
                text: text(" hi there "),
                tags: None
            })
        );
        assert_eq!(
            parse(b"MSG a,b-c,a x\\ny").unwrap(),
            Some(Command::Msg {
                to: "a,b-c,a",
                text: text("x\\ny"),
                tags: None
            })
        );
        assert_eq!(parse(b"WHO").unwrap(), Some(Command::Who));
        assert_eq!(parse(b"Stats").unwrap(), Some(Command::Stats));
        assert_eq!(
            parse(b"PING 42 x").unwrap(),
            Some(Command::Ping {
                token: Some("42 x")
            })
        );
        assert_eq!(parse(b"PONG").unwrap(), Some(Command::Pong { token: None }));
        assert_eq!(parse(b"QUIT").unwrap(), Some(Command::Quit { text: None }));
        assert_eq!(parse(b"").unwrap(), None);
    }

    #[test]
    fn refuses_malformed_frames() {
        assert_eq!(parse(b"SAY"), Err(ParseError::MissingField("SAY <text>")));
        assert_eq!(parse(b"SAY "), Err(ParseError::EmptyText));
        assert_eq!(
            parse(b"MSG bob"),
            Err(ParseError::MissingField(
                "MSG <target>[,<target>...] <text>"
            ))
        );
        assert_eq!(parse(b"MSG bob,,eve hi"), Err(ParseError::BadName));
        assert_eq!(parse(b"LOGIN b@d"), Err(ParseError::BadName));
        assert_eq!(parse(&[b'L'; 1][..]), Err(ParseError::UnknownCommand));
        assert_eq!(
            parse(b"LOGIN aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Err(ParseError::BadName)
        );
        assert_eq!(parse(b"SAY \xff"), Err(ParseError::NotUtf8));
        assert_eq!(
            parse(b"SAY a\\q"),
            Err(ParseError::Escape(EscapeError::UnknownSequence))
        );
        assert_eq!(parse(b"SAY a\0"), Err(ParseError::Escape(EscapeError::Nul)));
        assert_eq!(parse(b"WHO x"), Err(ParseError::BadRoom));
        assert_eq!(
            parse(b"WHO #a b"),
            Err(ParseError::ExtraField("WHO [<room>]"))
        );
        assert_eq!(parse(b"PING \0"), Err(ParseError::BadToken));
    }

    #[test]
    fn rooms_and_their_commands() {
        assert!(is_valid_room("#Rust_2-x"));
        assert!(is_valid_room(&format!("#{}", "x".repeat(32))));
        for bad in ["#", "rust", "##a", "#a b", "#bø", "#a,b"] {
            assert!(!is_valid_room(bad), "{bad}");
        }
        assert!(!is_valid_room(&format!("#{}", "x".repeat(33))));
        assert_eq!(
            parse(b"join #Rust").unwrap(),
            Some(Command::Join {
                room: "#Rust",
                key: None
            })
        );
        assert_eq!(
            parse(b"JOIN #a s3cret").unwrap(),
            Some(Command::Join {
                room: "#a",
                key: Some("s3cret")
            })
        );
        assert_eq!(parse(b"JOIN rust"), Err(ParseError::BadRoom));
        assert_eq!(
            parse(b"JOIN #a b c"),
            Err(ParseError::ExtraField("JOIN <room> [<key>]"))
        );
        assert_eq!(
            parse(b"PART #a see you").unwrap(),
            Some(Command::Part {
                room: "#a",
                text: Some(text("see you"))
            })
        );
        assert_eq!(
            parse(b"PART #a").unwrap(),
            Some(Command::Part {
                room: "#a",
                text: None
            })
        );
        assert_eq!(
            parse(b"WHO #a").unwrap(),
            Some(Command::WhoIn { room: "#a" })
        );
        assert_eq!(parse(b"ROOMS").unwrap(), Some(Command::Rooms));
        assert_eq!(parse(b"list").unwrap(), Some(Command::List));
        assert_eq!(
            parse(b"AUTH bob pass word").unwrap(),
            Some(Command::Auth {
                name: "bob",
                password: text("pass word")
            })
        );
        assert!(parse(b"AUTH bob").is_err());
        assert!(parse(b"AUTH").is_err());
        assert!(parse(b"LIST #a").is_err());
        assert_eq!(parse(b"AWAY").unwrap(), Some(Command::Away { text: None }));
        assert_eq!(
            parse(b"whois Bob").unwrap(),
            Some(Command::Whois { name: "Bob" })
        );
        assert!(parse(b"WHOIS").is_err());
        assert!(parse(b"WHOIS a b").is_err());
        assert!(parse(b"WHOIS #room").is_err());
        assert_eq!(parse(b"away ").unwrap(), Some(Command::Away { text: None }));
        assert_eq!(
            parse(b"AWAY at lunch").unwrap(),
            Some(Command::Away {
                text: Some(text("at lunch"))
            })
        );
        assert!(parse(b"AWAY bad\\q").is_err());
        assert_eq!(
            parse(b"MSG bob,#a hi").unwrap(),
            Some(Command::Msg {
                to: "bob,#a",
                text: text("hi"),
                tags: None
            })
        );
        assert_eq!(parse(b"MSG bob,#a! hi"), Err(ParseError::BadRoom));
    }

    #[test]
    fn text_of_only_blanks_is_refused() {
        for blank in [&b"SAY   "[..], b"SAY \t", br"SAY  \n \r\n", br"MSG bob \n"] {
            assert_eq!(parse(blank), Err(ParseError::BlankText), "{blank:?}");
        }
        assert!(parse(br"SAY  \n x").is_ok());
        assert!(parse(br"SAY \\n").is_ok(), "an escaped backslash is text");
    }

    #[test]
    fn names() {
        assert!(is_valid_name("Bob_the-2nd"));
        assert!(is_valid_name(&"x".repeat(32)));
        assert!(!is_valid_name(&"x".repeat(33)));
        assert!(!is_valid_name("bøb"));
        assert!(!is_valid_name(""));
    }

    proptest! {
        #[test]
        fn parse_never_panics(frame in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&frame);
        }

        #[test]
        fn encode_then_parse_is_identity(
            name in "[A-Za-z0-9_-]{1,32}",
            body in "\\PC{1,40}",
        ) {
            let escaped = escape::escape(&body).replace('\0', "");
            prop_assume!(visible_text(&escaped).is_ok());
            let room = format!("#{name}");
            let raw_tags = format!("+x={name};+example.com/r");
            let tags = ClientTags::parse(&raw_tags).unwrap();
            let commands = [
                Command::Login { name: &name, password: None },
                Command::Say { text: text(&escaped), tags: None },
                Command::Msg { to: &name, text: text(&escaped), tags: None },
                Command::Msg { to: &name, text: text(&escaped), tags: Some(tags) },
                Command::TagMsg { to: &room, tags },
                Command::Quit { text: Some(text(&escaped)) },
                Command::Who,
                Command::Join { room: &room, key: None },
                Command::Join { room: &room, key: Some(&name) },
                Command::Topic { room: &room, text: None },
                Command::Topic { room: &room, text: Some(None) },
                Command::Topic { room: &room, text: Some(Some(text(&escaped))) },
                Command::Mode { room: &room, changes: None },
                Command::Kick { room: &room, name: &name, text: Some(text(&escaped)) },
                Command::Kick { room: &room, name: &name, text: None },
                Command::Invite { name: &name, room: &room },
                Command::Nick { name: &name },
                Command::PartAll { text: None },
                Command::PartAll { text: Some(text(&escaped)) },
                Command::WhoIn { room: &room },
                Command::Part { room: &room, text: Some(text(&escaped)) },
                Command::Rooms,
            ];
            for command in commands {
                let mut wire = Vec::new();
                command.encode(&mut wire);
                prop_assert_eq!(wire.pop(), Some(b'\n'));
                prop_assert_eq!(parse(&wire).unwrap(), Some(command));
            }
        }
    }
}
