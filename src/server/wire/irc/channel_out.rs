//! The hub's frames about rooms' operators, topics and modes, written as
//! IRC: to everyone they are told (`TOPIC`, `MODE`, `KICK`, `INVITE`
//! from their source), to one asker (332/333/331, 324, 367/368) and the
//! refusals as the numerics clients expect.

use super::asked;
use super::encode::{from_user, one_line, put};
use super::reply::{numeric, numeric_bare};
use crate::protocol::ErrorCode;
use crate::server::wire::Voice;

/// A shared frame about a room's settings, or `false` if `verb` is not
/// one: `rest` is the canonical frame after its verb.
pub(super) fn shared(out: &mut Vec<u8>, voice: &Voice, verb: &str, rest: &str, tags: bool) -> bool {
    let words: Vec<&str> = rest.splitn(5, ' ').collect();
    match (verb, words.as_slice()) {
        // TOPIC <room> <by> <time> [<text>]
        ("TOPIC", [room, by, time, text @ ..]) => {
            let text = one_line(text.join(" ").as_str(), "");
            from_user(out, tags.then_some(time), by, "TOPIC", &[room], Some(&text));
        }
        // MODE <room> <by> <time> <modes> [<args>]
        ("MODE", [room, by, time, modes, args @ ..]) => {
            let mut params = vec![*room, *modes];
            let args: Vec<&str> = args.iter().flat_map(|a| a.split(' ')).collect();
            params.extend(args);
            if *by == "*" {
                let mut line = Vec::new();
                if tags {
                    line.extend_from_slice(format!("@time={time} ").as_bytes());
                }
                let source = format!(":{}", voice.server);
                let mut words = vec![source.as_str(), "MODE"];
                words.extend(params);
                put(&mut line, &words, None);
                out.extend_from_slice(&line);
            } else {
                from_user(out, tags.then_some(time), by, "MODE", &params, None);
            }
        }
        // KICK <room> <name> <by> <time> [<text>]
        ("KICK", [room, name, by, time, text @ ..]) => {
            let why = one_line(text.first().copied().unwrap_or_default(), by);
            from_user(
                out,
                tags.then_some(time),
                by,
                "KICK",
                &[room, name],
                Some(&why),
            );
        }
        // INVITE <by> <name> <room> <time>
        ("INVITE", [by, name, room, time]) => {
            from_user(out, tags.then_some(time), by, "INVITE", &[name, room], None);
        }
        _ => return false,
    }
    true
}

/// A room's topic told to one reader (after its `JOIN`, or asked): 332
/// and 333, or 331 when it has none.
pub(super) fn topic(
    out: &mut Vec<u8>,
    server: &str,
    me: &str,
    room: &str,
    set: Option<(&str, &str)>,
    text: Option<&str>,
) {
    match (set, text) {
        (Some((by, time)), Some(text)) => {
            numeric(out, server, "332", me, &[room], &one_line(text, ""));
            let at = chrono::DateTime::parse_from_rfc3339(time)
                .map(|t| t.timestamp())
                .unwrap_or(0)
                .to_string();
            let mask = format!("{by}!{by}@evchat");
            numeric_bare(out, server, "333", me, &[room, &mask, &at]);
        }
        _ => numeric(out, server, "331", me, &[room], "No topic is set"),
    }
}

/// `MODES <room> <flags> [<args>]` as 324.
pub(super) fn modes(out: &mut Vec<u8>, server: &str, me: &str, room: &str, flags: &str) {
    let mut params = vec![room];
    params.extend(flags.split(' ').filter(|w| !w.is_empty()));
    numeric_bare(out, server, "324", me, &params);
}

/// `BANS <room> <mask> ...` as 367s and 368.
pub(super) fn bans(out: &mut Vec<u8>, server: &str, me: &str, room: &str, masks: &[&str]) {
    for mask in masks {
        numeric_bare(out, server, "367", me, &[room, mask]);
    }
    numeric(out, server, "368", me, &[room], "End of channel ban list");
}

/// A refusal of something a room's settings decide, as its numeric; false
/// if `text` is none of them.
pub(super) fn error(
    out: &mut Vec<u8>,
    server: &str,
    me: &str,
    asked: u8,
    code: ErrorCode,
    text: &str,
    about: &str,
) -> bool {
    let has = |s: &str| text.contains(s);
    let (numeric_code, params, said): (&str, Vec<&str>, &str) = match (asked, code) {
        (asked::JOIN, _) if has("(+i)") => ("473", vec![about], "Cannot join channel (+i)"),
        (asked::JOIN, _) if has("(+k)") => ("475", vec![about], "Cannot join channel (+k)"),
        (asked::JOIN, _) if has("(+l") => ("471", vec![about], "Cannot join channel (+l)"),
        (asked::JOIN, _) if has("(+b)") => ("474", vec![about], "Cannot join channel (+b)"),
        (_, ErrorCode::Forbidden) if has("not an operator") => {
            ("482", vec![about], "You're not channel operator")
        }
        (_, ErrorCode::Forbidden) if has("no such room") => ("403", vec![about], "No such channel"),
        (asked::KICK | asked::MODE, ErrorCode::NoSuchUser) => {
            let nick = text.split(' ').next().unwrap_or("*");
            ("441", vec![nick, about], "They aren't on that channel")
        }
        (asked::KICK | asked::MODE | asked::INVITE | asked::TOPIC, ErrorCode::Forbidden) => {
            ("442", vec![about], "You're not on that channel")
        }
        (asked::INVITE, ErrorCode::BadRequest) if has("already in") => {
            let nick = text.split(' ').next().unwrap_or("*");
            ("443", vec![nick, about], "is already on channel")
        }
        (asked::INVITE, ErrorCode::NoSuchUser) => {
            let nick = text.rsplit(' ').next().unwrap_or("*");
            ("401", vec![nick], "No such nick/channel")
        }
        (asked::MODE, ErrorCode::BadRequest) if has("is not a mode") => {
            let mode = text.split(' ').next().unwrap_or("*");
            ("472", vec![mode], "is unknown mode char to me")
        }
        (asked::TOPIC | asked::MODE, _) => {
            // Anything else (a topic too long, a list full): said as is.
            let words = [format!(":{server}"), "NOTICE".into(), me.to_owned()];
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            put(out, &words, Some(text));
            return true;
        }
        _ => return false,
    };
    numeric(out, server, numeric_code, me, &params, said);
    true
}
