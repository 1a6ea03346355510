//! An IRC message, parsed without copying (RFC 1459/2812 framing with
//! IRCv3 message tags):
//!
//! ```text
//! ['@' <tags> SPACE] [':' <source> SPACE] <command> *(SPACE <param>) [SPACE ':' <trailing>]
//! ```
//!
//! Written here rather than taken from `irc-proto`: that crate parses into
//! owned strings (one allocation per parameter and per tag) and maps a
//! command it does not expect to a catch-all, while this parser runs on the
//! server's loop for every line an IRC client sends and only needs to lend
//! out the parameters of a line it has already bounded. `irc-proto` serves
//! as the reference its tests compare with.

/// At most this many parameters (RFC 2812: 14 middle and a trailing one;
/// after 14 middle ones the rest of the line is the trailing one, even
/// without its colon — so `ISON a b c ...` may name hundreds).
pub const MAX_PARAMS: usize = 15;

/// One message; the parameters borrow from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The tags' raw text (without `@`), still escaped.
    pub tags: Option<&'a str>,
    pub source: Option<&'a str>,
    pub command: &'a str,
    params: [&'a str; MAX_PARAMS],
    count: usize,
}

/// Why a line is not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Nothing but tags or a source, or nothing at all.
    NoCommand,
    /// A command that is neither letters nor a three-digit numeric.
    BadCommand,
}

impl<'a> Message<'a> {
    /// Parses one line, its CR LF already cut off.
    pub fn parse(line: &'a str) -> Result<Message<'a>, Malformed> {
        let mut rest = line;
        let tags = match rest.strip_prefix('@') {
            Some(after) => {
                let (tags, after) = word(after);
                rest = after;
                Some(tags)
            }
            None => None,
        };
        let source = match rest.strip_prefix(':') {
            Some(after) => {
                let (source, after) = word(after);
                rest = after;
                Some(source)
            }
            None => None,
        };
        let (command, after) = word(rest);
        rest = after;
        if command.is_empty() {
            return Err(Malformed::NoCommand);
        }
        let letters = command.bytes().all(|b| b.is_ascii_alphabetic());
        let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        if !letters && !numeric {
            return Err(Malformed::BadCommand);
        }
        let mut params = [""; MAX_PARAMS];
        let mut count = 0;
        while !rest.is_empty() {
            let Some(slot) = params.get_mut(count) else {
                break;
            };
            let last = count + 1 == MAX_PARAMS;
            if let Some(trailing) = rest.strip_prefix(':') {
                *slot = trailing;
                count += 1;
                break;
            }
            if last {
                *slot = rest;
                count += 1;
                break;
            }
            let (param, after) = word(rest);
            *slot = param;
            count += 1;
            rest = after;
        }
        Ok(Message {
            tags,
            source,
            command,
            params,
            count,
        })
    }

    /// The parameters, the trailing one last.
    pub fn params(&self) -> &[&'a str] {
        self.params.get(..self.count).unwrap_or_default()
    }

    /// Parameter `i`, if there is one.
    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params().get(i).copied()
    }

    /// Is the command `verb` (IRC commands are case-insensitive)?
    pub fn is(&self, verb: &str) -> bool {
        self.command.eq_ignore_ascii_case(verb)
    }

    /// The value of tag `key` (unescaped), if the message carries it.
    pub fn tag(&self, key: &str) -> Option<String> {
        let tags = self.tags?;
        tags.split(';').find_map(|tag| {
            let (k, v) = tag.split_once('=').unwrap_or((tag, ""));
            (k == key).then(|| unescape_tag(v))
        })
    }
}

/// The next space-separated word and what follows its spaces.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(' ');
    match s.find(' ') {
        Some(at) => {
            let (w, rest) = s.split_at(at);
            (w, rest.trim_start_matches(' '))
        }
        None => (s, ""),
    }
}

/// A tag value as written, escapes undone (IRCv3 message-tags).
pub fn unescape_tag(value: &str) -> String {
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
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Appends `value` escaped as a tag value.
pub fn escape_tag(value: &str, out: &mut Vec<u8>) {
    for b in value.bytes() {
        match b {
            b';' => out.extend_from_slice(b"\\:"),
            b' ' => out.extend_from_slice(b"\\s"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
