//! Escaping of `<text>` fields.
//!
//! A frame is one line, so a line feed inside a message must travel as `\n`.
//! Three sequences exist — `\\`, `\n`, `\r` — and every other backslash
//! sequence is an error, so that a future escape can be added without changing
//! the meaning of text that is valid today. NUL is refused outright: it breaks
//! terminals and C strings downstream, and no chat message needs it.
//!
//! The server relays text in its escaped form (escaping on output is the same
//! as escaping on input), so it only ever *validates* incoming text; only the
//! client library pays for unescaping.

use std::borrow::Cow;

/// Why a `<text>` field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapeError {
    /// A backslash followed by something other than `\`, `n` or `r`.
    UnknownSequence,
    /// A backslash at the very end of the text.
    TrailingBackslash,
    /// A NUL byte.
    Nul,
    /// A raw CR or LF: line breaks inside text must be written `\r` / `\n`.
    BareLineBreak,
}

impl std::fmt::Display for EscapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EscapeError::UnknownSequence => {
                "bad escape: a backslash may only be followed by another backslash, n or r"
            }
            EscapeError::TrailingBackslash => "bad escape: text ends with a lone backslash",
            EscapeError::Nul => "NUL bytes are not allowed",
            EscapeError::BareLineBreak => "a raw CR inside text must be escaped as \\r",
        })
    }
}

impl std::error::Error for EscapeError {}

/// Appends `text` to `out` with `\`, LF and CR escaped.
pub fn escape_into(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut done = 0;
    for pos in memchr::memchr3_iter(b'\\', b'\n', b'\r', bytes) {
        out.extend_from_slice(&bytes[done..pos]);
        out.extend_from_slice(match bytes[pos] {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        done = pos + 1;
    }
    out.extend_from_slice(&bytes[done..]);
}

/// `text` escaped, borrowed when nothing needed escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    if memchr::memchr3(b'\\', b'\n', b'\r', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len() + 8);
    escape_into(text, &mut out);
    // Escaping replaces ASCII bytes with ASCII bytes, so UTF-8 stays valid.
    Cow::Owned(String::from_utf8(out).unwrap_or_default())
}

/// Checks that `raw` is well-formed escaped text without allocating.
///
/// Valid text is canonical: `escape(unescape(raw)) == raw`. That is what lets
/// the server relay the bytes it received instead of re-encoding them.
#[inline]
pub fn validate(raw: &str) -> Result<(), EscapeError> {
    let bytes = raw.as_bytes();
    if memchr::memchr(0, bytes).is_some() {
        return Err(EscapeError::Nul);
    }
    if memchr::memchr2(b'\r', b'\n', bytes).is_some() {
        return Err(EscapeError::BareLineBreak);
    }
    let mut pos = 0;
    while let Some(found) = memchr::memchr(b'\\', &bytes[pos..]) {
        let at = pos + found;
        match bytes.get(at + 1) {
            Some(b'\\' | b'n' | b'r') => pos = at + 2,
            Some(_) => return Err(EscapeError::UnknownSequence),
            None => return Err(EscapeError::TrailingBackslash),
        }
    }
    Ok(())
}

/// Decodes escaped text, borrowed when it holds no escapes.
pub fn unescape(raw: &str) -> Result<Cow<'_, str>, EscapeError> {
    validate(raw)?;
    if !raw.contains('\\') {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        // `validate` guarantees a known character follows.
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            _ => out.push('\\'),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_the_three_specials() {
        assert_eq!(escape("a\\b\nc\rd"), "a\\\\b\\nc\\rd");
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn unescapes_known_sequences() {
        assert_eq!(unescape("a\\\\b\\nc\\rd").unwrap(), "a\\b\nc\rd");
        assert_eq!(unescape("\\\\n").unwrap(), "\\n");
    }

    #[test]
    fn refuses_bad_sequences() {
        assert_eq!(unescape("a\\x"), Err(EscapeError::UnknownSequence));
        assert_eq!(unescape("a\\"), Err(EscapeError::TrailingBackslash));
        assert_eq!(unescape("a\\\\\\"), Err(EscapeError::TrailingBackslash));
        assert_eq!(unescape("a\0b"), Err(EscapeError::Nul));
        assert_eq!(unescape("a\rb"), Err(EscapeError::BareLineBreak));
        assert_eq!(validate("é\\n✓"), Ok(()));
    }

    proptest! {
        #[test]
        fn round_trip(text in "\\PC*|[\\\\\n\ra-z]*") {
            let text = text.replace('\0', "");
            let escaped = escape(&text);
            prop_assert!(!escaped.contains('\n') && !escaped.contains('\r'));
            prop_assert_eq!(unescape(&escaped).unwrap(), text.as_str());
        }

        #[test]
        fn unescape_never_panics(raw in any::<String>()) {
            if let Ok(text) = unescape(&raw) {
                prop_assert_eq!(escape(&text), raw.as_str());
            }
        }
    }
}
