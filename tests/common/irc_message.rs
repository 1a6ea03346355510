//! One IRC message, parsed from a received line or built to be sent: the
//! grammar of the modern client protocol (ircdocs.horse's "Message
//! format") and IRCv3's message tags, in a parser small enough to trust
//! in conformance tests.
//!
//! `[@tags SPACE] [:source SPACE] command [params] [SPACE :trailing]`
//!
//! - Parts are separated by one or more spaces (RFC 1459 says one; real
//!   servers and the modern spec accept runs of them, so the parser does).
//! - A tag is `key[=value]`; an empty value is the same as none (IRCv3).
//!   Values are unescaped: `\:` `;`, `\s` space, `\\` `\`, `\r` CR, `\n`
//!   LF; a backslash before any other character is dropped and a lone
//!   trailing one too (IRCv3 "Escaping values").
//! - The trailing parameter (after ` :`) may be empty or hold spaces; it is
//!   the last of `params`, not kept apart: a server may send the last
//!   parameter with or without the colon and it means the same. Whether a
//!   colon was used is still visible in [`Message::raw`].
//!
//! A line that breaks the grammar is an `Err` naming what is wrong, never
//! a guess: a conformance test wants to know.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Tags in the order they came, values unescaped (`None`: no value).
    pub tags: Vec<(String, Option<String>)>,
    /// `nick!user@host` or a server name, without the colon.
    pub source: Option<String>,
    /// As sent (servers send upper case; numerics are three digits).
    pub command: String,
    pub params: Vec<String>,
    /// The line as received, without CRLF (for failure messages).
    pub raw: String,
}

impl Message {
    pub fn parse(line: &str) -> Result<Message, String> {
        let fail = |why: &str| Err(format!("{why} in {line:?}"));
        if line.contains(['\r', '\n', '\0']) {
            return fail("CR, LF or NUL");
        }
        let mut rest = line;
        let mut tags = Vec::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (text, tail) = after.split_once(' ').unwrap_or((after, ""));
            if text.is_empty() {
                return fail("empty tags");
            }
            for tag in text.split(';') {
                let (key, value) = match tag.split_once('=') {
                    Some((key, value)) => (key, Some(unescape_tag_value(value))),
                    None => (tag, None),
                };
                if !valid_tag_key(key) {
                    return fail(&format!("bad tag key {key:?}"));
                }
                let value = value.filter(|v| !v.is_empty());
                tags.push((key.to_owned(), value));
            }
            rest = tail.trim_start_matches(' ');
        }
        let mut source = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (text, tail) = after.split_once(' ').unwrap_or((after, ""));
            if text.is_empty() {
                return fail("empty source");
            }
            source = Some(text.to_owned());
            rest = tail.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        if command.is_empty() || !(numeric || command.bytes().all(|b| b.is_ascii_alphabetic())) {
            return fail(&format!("bad command {command:?}"));
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_owned());
                break;
            }
            let (middle, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(middle.to_owned());
            rest = tail;
        }
        Ok(Message {
            tags,
            source,
            command: command.to_owned(),
            params,
            raw: line.to_owned(),
        })
    }

    /// The value of tag `key` (the last one if repeated); `Some(None)` for
    /// a tag without value.
    pub fn tag(&self, key: &str) -> Option<Option<&str>> {
        let found = self.tags.iter().rev().find(|(k, _)| k == key);
        found.map(|(_, v)| v.as_deref())
    }

    /// The nick of a `nick!user@host` source (or the server name).
    pub fn nick(&self) -> Option<&str> {
        let source = self.source.as_deref()?;
        Some(source.split(['!', '@']).next().unwrap_or(source))
    }

    /// Parameter `i`; panics showing the line when there is none.
    pub fn param(&self, i: usize) -> &str {
        match self.params.get(i) {
            Some(p) => p,
            None => panic!("no parameter {i} in {:?}", self.raw),
        }
    }

    /// The last parameter (a PRIVMSG's text, a numeric's message).
    pub fn last(&self) -> &str {
        match self.params.last() {
            Some(p) => p,
            None => panic!("no parameters in {:?}", self.raw),
        }
    }

    /// Whether this is `command` (a word or a numeric), ignoring case.
    pub fn is(&self, command: &str) -> bool {
        self.command.eq_ignore_ascii_case(command)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// IRCv3: a key is an optional `+` (client-only), an optional vendor
/// (`example.com/`) and a name of letters, digits and hyphens.
fn valid_tag_key(key: &str) -> bool {
    let key = key.strip_prefix('+').unwrap_or(key);
    let name = key.rsplit_once('/').map_or(key, |(vendor, name)| {
        let ok = !vendor.is_empty()
            && vendor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if ok {
            name
        } else {
            ""
        }
    });
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A tag value as sent (`\s` for a space...) to what it means.
pub fn unescape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other), // `\\` too
            None => {}                      // a lone trailing backslash
        }
    }
    out
}

/// What [`unescape_tag_value`] undoes, for tags a test sends.
pub fn escape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
