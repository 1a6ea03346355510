//! Replies to one IRC connection: numerics carry its nick, and what an
//! `ERR` becomes depends on what it asked ([`asked`]).

use super::asked;
use super::encode::{put, Style};
use crate::protocol::{ErrorCode, Event};
use crate::server::wire::{Viewer, Voice};

/// An event for one IRC reader, in the encoding with `server-time` if
/// `TIME`, and other clients' tags if `CLIENT_TAGS`.
pub(super) fn event<const TIME: bool, const CLIENT_TAGS: bool, const MULTILINE: bool>(
    event: &Event<'_>,
    viewer: &Viewer<'_>,
    voice: &Voice,
    out: &mut Vec<u8>,
) {
    let style = Style {
        time: TIME,
        client_tags: CLIENT_TAGS,
        multiline: MULTILINE,
    };
    reply(event, viewer, voice, out, style);
}

fn reply(event: &Event<'_>, viewer: &Viewer<'_>, voice: &Voice, out: &mut Vec<u8>, style: Style) {
    let tags = style.time;
    let me = viewer.nick.unwrap_or("*");
    let server = &*voice.server;
    match *event {
        Event::LoggedIn { name } => welcome(out, voice, name, style.time),
        Event::Authed { name } => {
            let mask = format!("{name}!{name}@evchat");
            let text = format!("You are now logged in as {name}");
            numeric(out, server, "900", me, &[&mask, name], &text);
            numeric(
                out,
                server,
                "903",
                me,
                &[],
                "SASL authentication successful",
            );
        }
        Event::Renamed { name } => {
            let old = viewer.about.unwrap_or(me);
            super::encode::from_user(out, None, old, "NICK", &[], Some(name));
        }
        Event::Error(code, text) if viewer.asked == asked::NICK => {
            let (numeric_code, said) = match code {
                ErrorCode::NameTaken if text.contains("online") || text.contains("taken") => {
                    ("433", "Nickname is already in use")
                }
                _ => ("447", text),
            };
            let nick = text.split(' ').next().unwrap_or("*");
            match numeric_code {
                "433" => numeric(out, server, "433", me, &[nick], said),
                _ => numeric(out, server, "447", me, &[], said),
            }
        }
        Event::Error(code, text) => error(out, voice, me, viewer.asked, code, text),
        Event::Users(names) if viewer.asked == asked::WHO => match viewer.about {
            Some(mask) => {
                let matched: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| super::whois::matches(mask, n.trim_start_matches('~')))
                    .collect();
                who(out, voice, me, mask, &matched)
            }
            None => who(out, voice, me, &voice.everyone, names),
        },
        Event::Users(names) if matches!(viewer.asked, asked::ISON | asked::USERHOST) => {
            super::whois::answer(out, voice, me, viewer, names)
        }
        Event::Users(names) => names_of(out, voice, me, &voice.everyone, names),
        Event::RoomUsers { room, names } if viewer.asked == asked::WHO => {
            who(out, voice, me, room, names)
        }
        Event::RoomUsers { room, names } => names_of(out, voice, me, room, names),
        Event::Rooms(rooms) => {
            let text = format!("your rooms: {}", rooms.join(" "));
            put(out, &[&format!(":{server}"), "NOTICE", me], Some(&text));
        }
        Event::Away { name, text, .. } => away(out, voice, viewer, name, text),
        Event::AwayChanged { name, time, text } => {
            let text = text.map(|t| super::encode::one_line(t, "Away"));
            let time = tags.then_some(time);
            super::encode::from_user(out, time, name, "AWAY", &[], text.as_deref());
        }
        Event::Pong(None) if viewer.asked == asked::PING => {
            let token = viewer.about.unwrap_or(server);
            put(out, &[&format!(":{server}"), "PONG", server], Some(token));
        }
        Event::List(rooms) => list(out, voice, viewer, rooms),
        Event::Topic { room, set, text } => {
            super::channel_out::topic(out, server, me, room, set, text)
        }
        Event::Modes { room, flags } => super::channel_out::modes(out, server, me, room, flags),
        Event::Bans { room, masks } => super::channel_out::bans(out, server, me, room, masks),
        Event::Whois {
            name,
            online,
            rooms,
            away,
        } => {
            let who = super::whois::Whois {
                name,
                online,
                rooms,
                away,
            };
            super::whois::whois(out, voice, me, viewer.asked == asked::WHOWAS, &who)
        }
        Event::Stats(line) if viewer.asked == asked::LUSERS => lusers(out, voice, me, line),
        Event::Stats(line) => put(out, &[&format!(":{server}"), "NOTICE", me], Some(line)),
        _ => {
            let mut lines = Vec::new();
            event.encode(&mut lines);
            super::encode::frames(&lines, out, None, voice, style);
        }
    }
}

/// Appends `:<server> <code> <nick> <params...> [:<text>]`.
pub(super) fn numeric(
    out: &mut Vec<u8>,
    server: &str,
    code: &str,
    me: &str,
    params: &[&str],
    text: &str,
) {
    let source = format!(":{server}");
    let mut words = vec![source.as_str(), code, me];
    words.extend_from_slice(params);
    put(out, &words, Some(text));
}

/// Appends `:<server> <code> <nick> <params...>`, with no trailing text
/// (`221 <nick> +`: a client reads any word after the modes as modes).
pub(super) fn numeric_bare(out: &mut Vec<u8>, server: &str, code: &str, me: &str, params: &[&str]) {
    let source = format!(":{server}");
    let mut words = vec![source.as_str(), code, me];
    words.extend_from_slice(params);
    put(out, &words, None);
}

/// 001–005 and the MOTD's absence: registration is complete.
fn welcome(out: &mut Vec<u8>, voice: &Voice, me: &str, time: bool) {
    let server = &*voice.server;
    let version = concat!("evchat-", env!("CARGO_PKG_VERSION"));
    numeric(
        out,
        server,
        "001",
        me,
        &[],
        &format!("Welcome to evchat, {me}"),
    );
    numeric(
        out,
        server,
        "002",
        me,
        &[],
        &format!("Your host is {server}, running {version}"),
    );
    numeric(
        out,
        server,
        "003",
        me,
        &[],
        "This server speaks IRC on its chat port",
    );
    let source = format!(":{server}");
    put(
        out,
        &[&source, "004", me, server, version, "i", "biklmnotv"],
        None,
    );
    let linelen = format!("LINELEN={}", voice.max_line);
    let isupport = [
        "CHANTYPES=#",
        "CASEMAPPING=ascii",
        "NICKLEN=32",
        "CHANNELLEN=33",
        AWAYLEN,
        "PREFIX=(ov)@+",
        "CHANMODES=b,k,l,imnt",
        "MODES=6",
        "ELIST=MNU",
        "TOPICLEN=200",
        "TARGMAX=PRIVMSG:,NOTICE:,JOIN:,PART:,WHOIS:8",
        &linelen,
        "NETWORK=evchat",
    ];
    let mut words = vec![source.as_str(), "005", me];
    words.extend_from_slice(&isupport);
    put(out, &words, Some("are supported by this server"));
    numeric(out, server, "422", me, &[], "MOTD File is missing");
    // Everyone online is in the everyone channel; its names follow. The
    // login is now: its time, for a client that shows times, is now's.
    let now = time.then(|| {
        chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .to_string()
    });
    super::encode::from_user(out, now.as_deref(), me, "JOIN", &[&voice.everyone], None);
}

/// ISUPPORT's away length: raw bytes whose escaped form is within the
/// hub's bound (escaping at most doubles).
const AWAYLEN: &str = "AWAYLEN=200";

/// `AWAY` as IRC says it: `306`/`305` to oneself; `301` about a nick
/// just messaged (never after a `NOTICE`, which gets no automatic reply).
fn away(out: &mut Vec<u8>, voice: &Voice, viewer: &Viewer<'_>, name: &str, text: Option<&str>) {
    let me = viewer.nick.unwrap_or("*");
    let server = &*voice.server;
    if crate::protocol::same_name(name, me) {
        let (code, said) = match text {
            Some(_) => ("306", "You have been marked as being away"),
            None => ("305", "You are no longer marked as being away"),
        };
        return numeric(out, server, code, me, &[], said);
    }
    if viewer.asked == asked::NOTICE {
        return;
    }
    let text = super::encode::one_line(text.unwrap_or_default(), "Away");
    numeric(out, server, "301", me, &[name], &text);
}

/// `LIST`: `321`, a `322` per room (of those asked about, if any) with
/// its members and no topic, `323`.
fn list(out: &mut Vec<u8>, voice: &Voice, viewer: &Viewer<'_>, rooms: &[(&str, usize)]) {
    let me = viewer.nick.unwrap_or("*");
    let server = &*voice.server;
    let filter = super::list_filter::ListFilter::parse(viewer.about.unwrap_or_default());
    numeric(out, server, "321", me, &["Channel"], "Users  Name");
    for (room, members) in rooms {
        if filter.lists(room, *members) {
            numeric(out, server, "322", me, &[room, &members.to_string()], "");
        }
    }
    numeric(out, server, "323", me, &[], "End of /LIST");
}

/// `NAMES`: 353 lines of names within 512 bytes, then 366.
pub(super) fn names(out: &mut Vec<u8>, voice: &Voice, me: &str, names: &[&str]) {
    // A shared USERS frame: `USERS #room a b` or `USERS a b`.
    match names.split_first() {
        Some((room, rest)) if room.starts_with('#') => names_of(out, voice, me, room, rest),
        _ => names_of(out, voice, me, &voice.everyone, names),
    }
}

fn names_of(out: &mut Vec<u8>, voice: &Voice, me: &str, channel: &str, names: &[&str]) {
    let server = &*voice.server;
    // NAMES does not tell who is away.
    let names: Vec<&str> = names.iter().map(|n| n.trim_start_matches('~')).collect();
    let names = &names[..];
    numeric_lines(out, server, "353", me, &["=", channel], names);
    numeric(out, server, "366", me, &[channel], "End of /NAMES list");
}

/// A numeric per line of `words`, each line's words within 400 bytes
/// (a line for names or channels, however many there are).
pub(super) fn numeric_lines(
    out: &mut Vec<u8>,
    server: &str,
    code: &str,
    me: &str,
    params: &[&str],
    words: &[&str],
) {
    let mut line = String::new();
    for word in words {
        if line.len() + word.len() > 400 {
            numeric(out, server, code, me, params, &line);
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        numeric(out, server, code, me, params, &line);
    }
}

/// `LUSERS` from the `STATS` figures: 251, 254 (rooms), 255.
fn lusers(out: &mut Vec<u8>, voice: &Voice, me: &str, stats: &str) {
    let server = &*voice.server;
    let figure = |key: &str| {
        stats
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("0")
    };
    let users = figure("users");
    // The everyone channel is a channel too.
    let rooms = figure("rooms").parse::<u64>().unwrap_or(0) + 1;
    let rooms = &rooms.to_string();
    let text = format!("There are {users} users and 0 invisible on 1 servers");
    numeric(out, server, "251", me, &[], &text);
    numeric(out, server, "254", me, &[rooms], "channels formed");
    numeric(
        out,
        server,
        "255",
        me,
        &[],
        &format!("I have {users} clients and 0 servers"),
    );
}

/// `WHO`: one 352 per member, then 315.
fn who(out: &mut Vec<u8>, voice: &Voice, me: &str, channel: &str, names: &[&str]) {
    let server = &*voice.server;
    // A mask's answers are in no channel in particular.
    let in_channel = if channel.starts_with('#') {
        channel
    } else {
        "*"
    };
    for name in names {
        // `~name` is away, `@name` an operator, `+name` voiced.
        let (name, here) = match name.strip_prefix('~') {
            Some(away) => (away, "G"),
            None => (*name, "H"),
        };
        let bare = name.trim_start_matches(['@', '+']);
        let marks = name.get(..name.len() - bare.len()).unwrap_or_default();
        let (name, flags) = (bare, format!("{here}{marks}"));
        numeric(
            out,
            server,
            "352",
            me,
            &[in_channel, name, "evchat", server, name, &flags],
            &format!("0 {name}"),
        );
    }
    numeric(out, server, "315", me, &[channel], "End of /WHO list");
}

/// An `ERR` as the numeric IRC clients expect for what was asked.
fn error(out: &mut Vec<u8>, voice: &Voice, me: &str, asked: u8, code: ErrorCode, text: &str) {
    let server = &*voice.server;
    // The name or room an error is about: evchat's texts end it with ':'
    // or name it first ("no such user: bob; ...", "not in #rust").
    let about = text
        .split([' ', ';', ':'])
        .rev()
        .find(|w| w.starts_with('#'))
        .or_else(|| {
            text.split_once(": ")
                .map(|(_, r)| r.split([';', ' ']).next().unwrap_or(r))
        })
        .unwrap_or("*");
    if asked != asked::NOTICE
        && super::channel_out::error(out, server, me, asked, code, text, about)
    {
        return;
    }
    match (asked, code) {
        (asked::NOTICE, _) => {} // never answered (RFC 2812 3.3.2)
        (asked::SASL, _) => numeric(out, server, "904", me, &[], "SASL authentication failed"),
        (asked::EVERYONE, _) => {}
        (asked::REGISTER, ErrorCode::NameTaken) => {
            // Not logged in: the nick asked for starts the text.
            let nick = text.split(' ').next().unwrap_or(me);
            numeric(
                out,
                server,
                "433",
                "*",
                &[nick],
                "Nickname is already in use",
            )
        }
        (asked::REGISTER, ErrorCode::NotLoggedIn) => {
            // The line protocol's advice (`LOGIN <name> <password>`) is
            // not an IRC user's: theirs is PASS.
            let text = match text.contains("LOGIN") {
                true => "Password required: connect with your password (PASS; irssi -w <password>)",
                false => text,
            };
            numeric(out, server, "464", me, &[], text)
        }
        // NICK once registered: a second LOGIN, refused.
        (asked::REGISTER, ErrorCode::BadRequest) if text.starts_with("already logged in") => {
            numeric(
                out,
                server,
                "447",
                me,
                &[],
                "Changing your nick is not supported yet",
            )
        }
        (asked::REGISTER, ErrorCode::BadRequest) if text.starts_with("password") => {
            numeric(out, server, "464", me, &[], text)
        }
        (asked::REGISTER, ErrorCode::BadRequest) => numeric(out, server, "432", me, &[me], text),
        (asked::WHOIS, _) => {
            numeric(out, server, "401", me, &[about], "No such nick/channel");
            numeric(out, server, "318", me, &[about], "End of /WHOIS list")
        }
        (asked::WHOWAS, _) => {
            numeric(
                out,
                server,
                "406",
                me,
                &[about],
                "There was no such nickname",
            );
            numeric(out, server, "369", me, &[about], "End of WHOWAS")
        }
        (asked::PRIVMSG, ErrorCode::NoSuchUser) => {
            numeric(out, server, "401", me, &[about], "No such nick/channel")
        }
        (asked::PRIVMSG, ErrorCode::Forbidden) => {
            numeric(out, server, "404", me, &[about], "Cannot send to channel")
        }
        (asked::PART, ErrorCode::Forbidden) => numeric(
            out,
            server,
            "442",
            me,
            &[about],
            "You're not on that channel",
        ),
        (asked::NAMES, ErrorCode::Forbidden) => {
            numeric(out, server, "366", me, &[about], "End of /NAMES list")
        }
        (asked::WHO, ErrorCode::Forbidden) => {
            numeric(out, server, "315", me, &[about], "End of /WHO list")
        }
        // The WHO after a refused JOIN (the refusal said why).
        (asked::JOIN, ErrorCode::Forbidden) if text.starts_with("not in") => {}
        (asked::JOIN, ErrorCode::MailboxFull) => numeric(out, server, "405", me, &[about], text),
        (_, ErrorCode::BadRequest) => numeric(out, server, "421", me, &["*"], text),
        _ => {
            let words = [format!(":{server}"), "NOTICE".into(), me.to_owned()];
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            // The line protocol's code means nothing to an IRC user.
            put(out, &words, Some(text));
        }
    }
}
