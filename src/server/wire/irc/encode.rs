//! The hub's canonical frames written as IRC lines, for every IRC
//! connection of an encoding at once: a batch is converted once per
//! encoding (one per set of the capabilities that change how a line is
//! written: `server-time`, `message-tags`, `draft/multiline`) and shared.
//!
//! A frame from someone comes from `<name>!<name>@evchat`. A message's
//! text, which may hold line breaks, becomes IRC lines in `text_out`. The hub's `BATCH` lines (held mail and history in
//! `chathistory` batches) tag the lines between them; a `TAGS` line gives
//! the next message its sender's client-only tags, for encodings that
//! show them.

use super::reply;
use crate::protocol::escape::unescape;
use crate::server::wire::{Encoding, Voice};

/// Declares an IRC encoding for one set of negotiated capabilities.
macro_rules! irc_encoding {
    ($(#[$doc:meta])* $name:ident, $label:literal, $time:literal, $tags:literal, $multi:literal) => {
        $(#[$doc])*
        pub static $name: Encoding = Encoding {
            name: $label,
            frames: transcode::<$time, $tags, $multi>,
            event: Some(reply::event::<$time, $tags, $multi>),
        };
    };
}

irc_encoding!(
    /// IRC without tags.
    IRC, "irc", false, false, false
);
irc_encoding!(
    /// IRC with the `server-time` tag on everything that has a time.
    IRC_TAGS, "irc+time", true, false, false
);
irc_encoding!(IRC_C, "irc+client-tags", false, true, false);
irc_encoding!(IRC_TC, "irc+time+client-tags", true, true, false);
irc_encoding!(IRC_M, "irc+multiline", false, false, true);
irc_encoding!(IRC_TM, "irc+time+multiline", true, false, true);
irc_encoding!(IRC_CM, "irc+client-tags+multiline", false, true, true);
irc_encoding!(IRC_TCM, "irc+time+client-tags+multiline", true, true, true);

/// The IRC encoding for a style: one static each, so that connections
/// that negotiated the same capabilities share every encoded chunk.
pub fn encoding_for(style: Style) -> &'static Encoding {
    match (style.time, style.client_tags, style.multiline) {
        (false, false, false) => &IRC,
        (true, false, false) => &IRC_TAGS,
        (false, true, false) => &IRC_C,
        (true, true, false) => &IRC_TC,
        (false, false, true) => &IRC_M,
        (true, false, true) => &IRC_TM,
        (false, true, true) => &IRC_CM,
        (true, true, true) => &IRC_TCM,
    }
}

/// What an IRC encoding writes beyond the lines themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// `@time=` on everything that has a time (`server-time`).
    pub time: bool,
    /// Messages' client-only tags, and `TAGMSG` (`message-tags`).
    pub client_tags: bool,
    /// A message of several lines as one `draft/multiline` batch.
    pub multiline: bool,
}

fn transcode<const TIME: bool, const CLIENT_TAGS: bool, const MULTILINE: bool>(
    lines: &[u8],
    out: &mut Vec<u8>,
    starts: Option<&mut Vec<(u32, u32)>>,
    voice: &Voice,
) {
    let style = Style {
        time: TIME,
        client_tags: CLIENT_TAGS,
        multiline: MULTILINE,
    };
    frames(lines, out, starts, voice, style);
}

/// Every frame of a batch, once for all its IRC readers: the cost is per
/// message, so the common frames take the shortest path (lines found with
/// `memchr`, UTF-8 checked, not re-decoded, fields cut at their spaces).
pub(super) fn frames(
    lines: &[u8],
    out: &mut Vec<u8>,
    mut starts: Option<&mut Vec<(u32, u32)>>,
    voice: &Voice,
    style: Style,
) {
    let tags = style.time;
    // IRC's lines are a little longer than the canonical ones.
    out.reserve(lines.len() + lines.len() / 2);
    let mut at = 0;
    // The name of the last `JOIN` line: a `USERS` of its room right after
    // it (a login's catch-up) is for that name, whose numerics name it.
    let mut joined: Option<&[u8]> = None;
    // The `chathistory` batch open, and where the lines to tag with it
    // begin (the last frame's: tagged once it is written).
    // (its tag, `batch=<ref>`, made once for all its lines)
    let mut batch: Option<Vec<u8>> = None;
    let mut tag_from: Option<usize> = None;
    // A message's client-only tags (its `TAGS` line), and where the lines
    // it became begin.
    let mut client: Option<&[u8]> = None;
    let mut client_from: Option<(usize, &[u8])> = None;
    while at < lines.len() {
        if let Some((from, client_tags)) = client_from.take() {
            append_tags(out, from, client_tags);
        }
        if let (Some(from), Some(tag)) = (tag_from.take(), &batch) {
            tag_each_line(out, from, tag);
        }
        let rest = &lines[at..];
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |lf| lf + 1);
        if let Some(starts) = starts.as_deref_mut() {
            let (a, b) = (u32::try_from(at), u32::try_from(out.len()));
            starts.push((a.unwrap_or(u32::MAX), b.unwrap_or(u32::MAX)));
        }
        let line = &rest[..end];
        at += end;
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        // The rare frames first, behind one comparison (the common ones,
        // SAY and MSG, start otherwise).
        if matches!(line.first(), Some(b'B' | b'T')) {
            if let Some(marker) = line.strip_prefix(b"BATCH ") {
                batch = batch_line(out, voice, marker).map(|reference| {
                    let mut tag = b"batch=".to_vec();
                    tag.extend_from_slice(reference);
                    tag
                });
                continue;
            }
            if let Some(client_tags) = line.strip_prefix(b"TAGS ") {
                client = style.client_tags.then_some(client_tags);
                continue;
            }
        }
        if batch.is_some() {
            tag_from = Some(out.len());
        }
        if let Some(client_tags) = client.take() {
            client_from = Some((out.len(), client_tags));
        }
        if plain_message(line, out, voice, tags) {
            continue;
        }
        if let Some(tagmsg) = line.strip_prefix(b"TAGMSG ") {
            if style.client_tags {
                tag_message(out, tagmsg, tags);
            }
            continue;
        }
        let join = std::mem::take(&mut joined);
        if let Some(names) = line.strip_prefix(b"USERS ") {
            if let Some(me) = join.and_then(|j| names_for(j, names)) {
                let names: Vec<&str> = names_words(names);
                reply::names(out, voice, me, &names);
                continue;
            }
        }
        if let Some(rest) = line.strip_prefix(b"JOIN ") {
            joined = Some(rest);
        }
        // A rename is a LEFT saying so and the new name's JOINED at the
        // same time, told together: IRC's one NICK.
        if let Some((old, new, skip)) = renamed(line, &lines[at..]) {
            if let Some(starts) = starts.as_deref_mut() {
                let (a, b) = (u32::try_from(at), u32::try_from(out.len()));
                starts.push((a.unwrap_or(u32::MAX), b.unwrap_or(u32::MAX)));
            }
            at += skip;
            let time = tags.then(|| {
                let rest = line.get(5 + old.len() + 1..).unwrap_or_default();
                std::str::from_utf8(rest.split(|&b| b == b' ').next().unwrap_or_default())
                    .unwrap_or_default()
            });
            from_user(out, time, old, "NICK", &[], Some(new));
            continue;
        }
        // A catch-up's topic after its JOIN is for that joiner: 332/333,
        // and the names after it are still its.
        if let Some(topic) = line.strip_prefix(b"TOPIC ") {
            if let Some(me) = join.and_then(|j| names_for(j, topic)) {
                let fields: Vec<&str> = std::str::from_utf8(topic)
                    .unwrap_or_default()
                    .splitn(4, ' ')
                    .collect();
                if let [room, by, time, text] = fields.as_slice() {
                    super::channel_out::topic(
                        out,
                        &voice.server,
                        me,
                        room,
                        Some((by, time)),
                        Some(text),
                    );
                }
                joined = join;
                continue;
            }
        }
        match std::str::from_utf8(line) {
            Ok(line) => frame(line, out, voice, style),
            // The hub writes UTF-8; never trusted blindly all the same.
            Err(_) => frame(&String::from_utf8_lossy(line), out, voice, style),
        }
    }
    if let Some((from, client_tags)) = client_from {
        append_tags(out, from, client_tags);
    }
    if let (Some(from), Some(tag)) = (tag_from, &batch) {
        tag_each_line(out, from, tag);
    }
}

/// `TAGMSG <from> <to> <time>` as IRC's `TAGMSG` (its tags are the
/// `TAGS` line's, added after).
fn tag_message(out: &mut Vec<u8>, tagmsg: &[u8], time: bool) {
    let text = std::str::from_utf8(tagmsg).unwrap_or_default();
    let mut words = text.split(' ');
    let (Some(from), Some(to), Some(at)) = (words.next(), words.next(), words.next()) else {
        return;
    };
    from_user(out, time.then_some(at), from, "TAGMSG", &[target(to)], None);
}

/// Adds `tags` after the tags of the first IRC line written from `from`
/// on, the message's first (the server's own come first, IRCv3 says, so
/// that a client's cannot push them past the limit; a multiline batch
/// carries them on its opening line).
fn append_tags(out: &mut Vec<u8>, from: usize, tags: &[u8]) {
    let written = out.split_off(from.min(out.len()));
    let mut lines = written.split_inclusive(|&b| b == b'\n');
    if let Some(line) = lines.next() {
        match line.strip_prefix(b"@") {
            Some(own) => {
                let end = memchr::memchr(b' ', own).unwrap_or(own.len());
                out.push(b'@');
                out.extend_from_slice(&own[..end]);
                out.push(b';');
                out.extend_from_slice(tags);
                out.extend_from_slice(&own[end..]);
            }
            None => {
                out.push(b'@');
                out.extend_from_slice(tags);
                out.push(b' ');
                out.extend_from_slice(line);
            }
        }
    }
    for line in lines {
        out.extend_from_slice(line);
    }
}

/// A `BATCH +<ref> <type> <target>` or `BATCH -<ref>` line of the hub's
/// (held mail and history for a reader that negotiated `batch`, see
/// `hub/mail/history.rs`) as IRC's; the batch open after it.
fn batch_line<'a>(out: &mut Vec<u8>, voice: &Voice, marker: &'a [u8]) -> Option<&'a [u8]> {
    let (sign, rest) = marker.split_first()?;
    let reference = rest.split(|&b| b == b' ').next().unwrap_or_default();
    let well_made = !reference.is_empty()
        && reference
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    if !well_made || !matches!(sign, b'+' | b'-') {
        return None;
    }
    out.push(b':');
    out.extend_from_slice(voice.server.as_bytes());
    out.extend_from_slice(b" BATCH ");
    out.extend_from_slice(marker);
    out.extend_from_slice(b"\r\n");
    (*sign == b'+').then_some(reference)
}

/// Puts `tag` (`key=value`, escaped) first among the tags of every IRC
/// line written from `from` on that has no tag of that key yet (a line
/// of a batch inside a batch belongs to the inner one alone); returns how
/// many lines it tagged.
pub fn tag_each_line(out: &mut Vec<u8>, from: usize, tag: &[u8]) -> usize {
    let written = out.split_off(from.min(out.len()));
    let key = tag.split(|&b| b == b'=').next().unwrap_or(tag);
    let mut lines = 0;
    for line in written.split_inclusive(|&b| b == b'\n') {
        if has_tag(line, key) {
            out.extend_from_slice(line);
            continue;
        }
        lines += 1;
        out.push(b'@');
        out.extend_from_slice(tag);
        match line.strip_prefix(b"@") {
            Some(tags) => {
                out.push(b';');
                out.extend_from_slice(tags);
            }
            None => {
                out.push(b' ');
                out.extend_from_slice(line);
            }
        }
    }
    lines
}

/// Does an IRC line carry a tag named `key`?
fn has_tag(line: &[u8], key: &[u8]) -> bool {
    let Some(tags) = line.strip_prefix(b"@") else {
        return false;
    };
    let tags = tags.split(|&b| b == b' ').next().unwrap_or_default();
    tags.split(|&b| b == b';')
        .any(|t| t.split(|&b| b == b'=').next() == Some(key))
}

/// `LEFT <old> <time> renamed to <new>` followed by `JOINED <new>
/// <time>`: the two names, and the bytes of the second line.
fn renamed<'a>(left: &'a [u8], next: &'a [u8]) -> Option<(&'a str, &'a str, usize)> {
    let left = std::str::from_utf8(left.strip_prefix(b"LEFT ")?).ok()?;
    let mut words = left.splitn(3, ' ');
    let (old, time, text) = (words.next()?, words.next()?, words.next()?);
    let new = text.strip_prefix("renamed to ")?;
    let end = memchr::memchr(b'\n', next).map_or(next.len(), |lf| lf + 1);
    let joined = std::str::from_utf8(next.get(..end)?).ok()?;
    let expect = format!("JOINED {new} {time}");
    (joined.trim_end_matches('\n') == expect).then_some((old, new, end))
}

/// The joiner's name, if `users` (`#room a b ...`) is the room that
/// `join` (`<name> <room> <time>`) joined.
fn names_for<'a>(join: &'a [u8], users: &[u8]) -> Option<&'a str> {
    let (name, rest) = cut_bytes(join)?;
    let (room, _) = cut_bytes(rest)?;
    let (users_room, _) = cut_bytes(users).unwrap_or((users, &[]));
    let same = room.eq_ignore_ascii_case(users_room);
    same.then(|| std::str::from_utf8(name).ok()).flatten()
}

/// The words of a `USERS` frame (UTF-8 by the hub's making).
fn names_words(users: &[u8]) -> Vec<&str> {
    std::str::from_utf8(users)
        .unwrap_or_default()
        .split(' ')
        .filter(|n| !n.is_empty())
        .collect()
}

/// Writes `SAY <from> <time> <text>` or `MSG <from> <to> <time> <text>`
/// to one target, whose text holds no escape and fits one IRC line —
/// the bulk of a fan-out — straight from the frame's bytes, and says
/// whether it did; anything else is left to [`frame`]. (The bytes are the
/// hub's own frame, which line readers get as they are: UTF-8, its text
/// escaped, so without a backslash it is the text itself; CR and NUL are
/// refused here all the same.)
fn plain_message(line: &[u8], out: &mut Vec<u8>, voice: &Voice, tags: bool) -> bool {
    let (say, rest) = match line.get(..4) {
        Some(b"SAY ") => (true, &line[4..]),
        Some(b"MSG ") => (false, &line[4..]),
        _ => return false,
    };
    let Some((from, rest)) = cut_bytes(rest) else {
        return false;
    };
    let (to, rest) = match say {
        true => (voice.everyone.as_bytes(), rest),
        false => match cut_bytes(rest) {
            Some((to, rest)) if !to.contains(&b',') => (to, rest),
            _ => return false,
        },
    };
    let Some((time, text)) = cut_bytes(rest) else {
        return false;
    };
    // As `say` counts the room a line leaves for text.
    let head = 1 + from.len() * 2 + 8 + 9 + to.len() + 2 + 2;
    let room = 512usize.saturating_sub(head).max(64);
    if text.is_empty() || text.len() > room || memchr::memchr3(b'\\', b'\r', 0, text).is_some() {
        return false;
    }
    out.reserve(time.len() + 2 * from.len() + to.len() + text.len() + 32);
    if tags {
        out.extend_from_slice(b"@time=");
        out.extend_from_slice(time);
        out.push(b' ');
    }
    for part in [
        b":",
        from,
        b"!",
        from,
        b"@evchat PRIVMSG ",
        to,
        b" :",
        text,
        b"\r\n",
    ] {
        out.extend_from_slice(part);
    }
    true
}

/// As [`cut`], for bytes; `None` without a space.
#[inline]
fn cut_bytes(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = memchr::memchr(b' ', s)?;
    Some((&s[..sp], &s[sp + 1..]))
}

/// `s` up to its first space, and what follows that space (both valid
/// UTF-8: a space is one byte).
#[inline]
fn cut(s: &str) -> (&str, &str) {
    match memchr::memchr(b' ', s.as_bytes()) {
        Some(sp) => (s.get(..sp).unwrap_or(s), s.get(sp + 1..).unwrap_or("")),
        None => (s, ""),
    }
}

/// Writes one canonical frame as IRC.
pub(super) fn frame(line: &str, out: &mut Vec<u8>, voice: &Voice, style: Style) {
    let tags = style.time;
    let (verb, rest) = cut(line);
    // The fields of a frame whose last field is text (it may hold spaces).
    let fields = |n: usize| {
        let mut all = ["", "", "", ""];
        let mut left = rest;
        for slot in all.iter_mut().take(n.saturating_sub(1)) {
            (*slot, left) = cut(left);
        }
        if let Some(last) = all.get_mut(n.saturating_sub(1)) {
            *last = left;
        }
        all
    };
    let server = &*voice.server;
    match verb {
        "SAY" => {
            let [from, time, text, _] = fields(3);
            let time = tags.then_some(time);
            super::text_out::say(out, style, voice, time, from, &voice.everyone, text);
        }
        "MSG" => {
            let [from, to, time, text] = fields(4);
            let time = tags.then_some(time);
            super::text_out::say(out, style, voice, time, from, target(to), text);
        }
        "JOINED" => {
            let [name, time, _, _] = fields(2);
            from_user(
                out,
                tags.then_some(time),
                name,
                "JOIN",
                &[&voice.everyone],
                None,
            );
        }
        "LEFT" => {
            let [name, time, text, _] = fields(3);
            let why = one_line(text, "Quit");
            from_user(out, tags.then_some(time), name, "QUIT", &[], Some(&why));
        }
        "JOIN" => {
            let [name, room, time, _] = fields(3);
            from_user(out, tags.then_some(time), name, "JOIN", &[room], None);
        }
        "PART" => {
            let [name, room, time, text] = fields(4);
            let why = (!text.is_empty()).then(|| one_line(text, ""));
            from_user(
                out,
                tags.then_some(time),
                name,
                "PART",
                &[room],
                why.as_deref(),
            );
        }
        "USERS" => {
            let names: Vec<&str> = rest.split(' ').filter(|n| !n.is_empty()).collect();
            reply::names(out, voice, "*", &names);
        }
        "PING" => {
            let token = if rest.is_empty() { server } else { rest };
            put(out, &["PING"], Some(token));
        }
        "PONG" => {
            let token = if rest.is_empty() { server } else { rest };
            put(out, &[&format!(":{server}"), "PONG", server], Some(token));
        }
        // Shared only with sessions that asked (`away-notify`).
        "AWAY" => {
            let [name, time, text, _] = fields(3);
            let text = (!text.is_empty()).then(|| one_line(text, "Away"));
            from_user(
                out,
                tags.then_some(time),
                name,
                "AWAY",
                &[],
                text.as_deref(),
            );
        }
        // The dialect's farewell says it, once, however the link ends.
        "BYE" => {}
        _ if super::channel_out::shared(out, voice, verb, rest, tags) => {}
        _ => {
            let text = one_line(line, "");
            put(out, &[&format!(":{server}"), "NOTICE", "*"], Some(&text));
        }
    }
}

/// Where an IRC user sees a message to `to`: its one target; among
/// several, the first room (the message reached the reader as a member,
/// or by name: a client shows a private message by its sender either
/// way); names only, the list while short, else its first name (shown
/// as private from the sender either way).
fn target(to: &str) -> &str {
    if !to.contains(',') {
        return to;
    }
    if let Some(room) = to.split(',').find(|t| t.starts_with('#')) {
        return room;
    }
    // Names only: the list while it is short; past that its first name,
    // so the line keeps room for text (clients show a private message
    // as from its sender, whatever the target).
    if to.len() <= MAX_NAMES_TARGET {
        return to;
    }
    to.split(',').next().unwrap_or(to)
}

/// The longest reason or away text written in one line.
const MAX_ONE_LINE: usize = 300;

/// The longest list of names written as a `PRIVMSG` target.
const MAX_NAMES_TARGET: usize = 100;

/// Escaped text as one line (line breaks as spaces), or `default`.
pub(super) fn one_line(escaped: &str, default: &str) -> String {
    let text = unescape(escaped).unwrap_or(std::borrow::Cow::Borrowed(escaped));
    let mut line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    // Within an IRC line, whatever precedes it.
    let mut cut = line.len().min(MAX_ONE_LINE);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line.truncate(cut);
    if line.trim().is_empty() {
        default.to_owned()
    } else {
        line
    }
}

/// `[@time=...] :<name>!<name>@evchat <verb> <params> [:<text>]`.
pub(super) fn from_user(
    out: &mut Vec<u8>,
    time: Option<&str>,
    name: &str,
    verb: &str,
    params: &[&str],
    text: Option<&str>,
) {
    if let Some(time) = time {
        out.extend_from_slice(b"@time=");
        out.extend_from_slice(time.as_bytes());
        out.push(b' ');
    }
    out.push(b':');
    out.extend_from_slice(name.as_bytes());
    out.push(b'!');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"@evchat ");
    out.extend_from_slice(verb.as_bytes());
    for p in params {
        out.push(b' ');
        out.extend_from_slice(p.as_bytes());
    }
    if let Some(text) = text {
        out.extend_from_slice(b" :");
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Words, then an optional trailing text, then CR LF. A word IRC would
/// misread (empty, or starting with `:`) is written `*`.
pub(super) fn put(out: &mut Vec<u8>, words: &[&str], text: Option<&str>) {
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let w = match i > 0 && (w.is_empty() || w.starts_with(':')) {
            true => "*",
            false => w,
        };
        out.extend_from_slice(w.as_bytes());
    }
    if let Some(text) = text {
        out.extend_from_slice(b" :");
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
