//! Client-only message tags (IRCv3 `message-tags`): metadata a client
//! attaches to what it says — a reply's parent, a reaction, "typing" —
//! which the server relays as written and never interprets.
//!
//! A command may start with `@<tags> `: tags separated by `;`, each
//! `+<name>[=<value>]`, the name letters, digits, `-`, and a vendor
//! prefix with `.` and `/`; the value escaped as IRCv3 escapes it (no
//! space, `;`, CR, LF or NUL). Only client-only tags (`+`) may be sent:
//! the server's own tags carry meaning it vouches for.

use super::ParseError;

/// The most tag data a client may send (IRCv3's bound).
pub const MAX_TAGS: usize = 4094;

/// Validated client-only tags, as written (escaped, without `@`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTags<'a>(&'a str);

impl<'a> ClientTags<'a> {
    pub fn parse(raw: &'a str) -> Result<ClientTags<'a>, ParseError> {
        if raw.is_empty() || raw.len() > MAX_TAGS {
            return Err(ParseError::BadTags);
        }
        if !raw.split(';').all(is_client_tag) {
            return Err(ParseError::BadTags);
        }
        Ok(ClientTags(raw))
    }

    /// The tags as they travel: `+a=1;+b`.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// Is `tag` one client-only tag, `+<name>[=<value>]`?
pub fn is_client_tag(tag: &str) -> bool {
    let (key, value) = tag.split_once('=').unwrap_or((tag, ""));
    let Some(name) = key.strip_prefix('+') else {
        return false;
    };
    // `[<vendor>/]<name>`: a host, then letters, digits and `-`.
    let (vendor, name) = name.rsplit_once('/').unwrap_or(("", name));
    let word = |w: &str, more: &[u8]| {
        w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || more.contains(&b))
    };
    let vendor_ok = match key.contains('/') {
        true => !vendor.is_empty() && word(vendor, b".-"),
        false => true,
    };
    let key_ok = !name.is_empty() && word(name, b"-") && vendor_ok;
    let value_ok = !value
        .bytes()
        .any(|b| matches!(b, b' ' | b';' | b'\r' | b'\n' | b'\0'));
    key_ok && value_ok
}

/// A frame's leading `@<tags> `, if it has one, and the rest.
pub fn split_tags(line: &str) -> Result<(Option<ClientTags<'_>>, &str), ParseError> {
    let Some(after) = line.strip_prefix('@') else {
        return Ok((None, line));
    };
    let (tags, rest) = after.split_once(' ').ok_or(ParseError::BadTags)?;
    Ok((Some(ClientTags::parse(tags)?), rest))
}

/// A message frame without the `TAGS <tags>` line it may start with.
pub fn untagged(frame: &[u8]) -> &[u8] {
    match frame.strip_prefix(b"TAGS ") {
        Some(rest) => memchr::memchr(b'\n', rest).map_or(&[][..], |lf| &rest[lf + 1..]),
        None => frame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn client_only_tags_pass_and_the_rest_are_refused() {
        for good in [
            "+typing=active",
            "+draft/reply=abc;+example.com/x",
            "+a=b\\s\\:c",
        ] {
            assert_eq!(ClientTags::parse(good).map(|t| t.as_str()), Ok(good));
        }
        for bad in [
            "",
            "typing=active",
            "+",
            "+a b",
            "+a=b c",
            "+a;x",
            "+é",
            "+a=\0",
            "+/x",
            "+x/",
            "+.",
            "+a.b",
            "+x//y",
        ] {
            assert!(ClientTags::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ClientTags::parse(&format!("+{}", "x".repeat(MAX_TAGS))).is_err());
        assert_eq!(
            split_tags("@+a=1 MSG bob hi"),
            Ok((ClientTags::parse("+a=1").ok(), "MSG bob hi"))
        );
        assert_eq!(split_tags("MSG bob hi"), Ok((None, "MSG bob hi")));
        assert!(split_tags("@+a=1").is_err());
    }

    proptest! {
        /// Whatever is accepted cannot break out of its place in a line:
        /// no space, line break or NUL.
        #[test]
        fn accepted_tags_stay_one_word(raw in "[ -~\\r\\n\\x00é]{0,40}") {
            if let Ok(tags) = ClientTags::parse(&raw) {
                prop_assert!(!tags.as_str().contains([' ', '\r', '\n', '\0']));
                prop_assert!(tags.as_str().split(';').all(|t| t.starts_with('+')));
            }
        }
    }
}
