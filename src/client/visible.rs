//! Text from the network made harmless to print. A terminal obeys control
//! characters, so printed raw they let any sender forge lines (`\r` then a
//! fake `[18:35:00] <bob> ...`), set the window title or clear the screen
//! (`ESC ] 0 ;`, `ESC [ 2 J`), or reorder what is shown (Unicode bidi
//! overrides). Every such character is shown as a visible token instead:
//!
//! - C0 controls and DEL in caret notation, as `cat -v` does: CR is `^M`,
//!   ESC is `^[`, TAB is `^I`, NUL is `^@`, DEL is `^?`;
//! - C1 controls (U+0080–U+009F), the bidi controls (U+202A–U+202E,
//!   U+2066–U+2069, U+200E, U+200F, U+061C) and the line and paragraph
//!   separators (U+2028, U+2029) as `<U+202E>`.
//!
//! Only LF survives, and only where a caller keeps line breaks (message
//! text), to become the client's indented continuation lines.

use std::borrow::Cow;

/// The token shown for `c`, or `None` when `c` is printed as itself.
fn token(c: char) -> Option<String> {
    match c {
        '\0'..='\x1f' => {
            let letter = char::from(c as u8 + 0x40);
            Some(format!("^{letter}"))
        }
        '\x7f' => Some("^?".to_owned()),
        '\u{80}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{061c}'
        | '\u{2028}'
        | '\u{2029}' => Some(format!("<U+{:04X}>", c as u32)),
        _ => None,
    }
}

/// Whether `c` would act on the terminal (or reorder text) if printed.
pub fn is_unsafe(c: char) -> bool {
    token(c).is_some()
}

/// `text` as one line: every control character, LF included, as a token.
/// For names, keys and anything that must stay on one line.
pub fn visible_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match token(c) {
            Some(t) => out.push_str(&t),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The lines of `text` (split at LF), each made visible.
pub fn visible_lines(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.split('\n').map(visible_line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_show_in_caret_notation() {
        assert_eq!(visible_line("a\rb"), "a^Mb");
        assert_eq!(visible_line("\x1b]0;owned\x07"), "^[]0;owned^G");
        assert_eq!(visible_line("\x1b[2J"), "^[[2J");
        assert_eq!(visible_line("tab\there"), "tab^Ihere");
        assert_eq!(visible_line("\0\x7f\x1f"), "^@^?^_");
        assert_eq!(visible_line("two\nlines"), "two^Jlines");
    }

    #[test]
    fn c1_and_bidi_controls_show_as_code_points() {
        assert_eq!(visible_line("\u{9b}2J"), "<U+009B>2J");
        assert_eq!(visible_line("\u{85}"), "<U+0085>");
        assert_eq!(visible_line("abc\u{202e}fed"), "abc<U+202E>fed");
        for c in [
            '\u{202a}', '\u{2066}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}',
        ] {
            assert_eq!(
                visible_line(&c.to_string()),
                format!("<U+{:04X}>", c as u32)
            );
        }
    }

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        let text = "héllo, wörld ✓ 你好 — <bob> [x]";
        assert!(matches!(visible_line(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn a_forged_line_stays_on_the_senders_line() {
        let lines: Vec<_> = visible_lines("hi\r[18:35:00] <bob> send me your password").collect();
        assert_eq!(lines, ["hi^M[18:35:00] <bob> send me your password"]);
        let lines: Vec<_> = visible_lines("one\ntwo\r\n").collect();
        assert_eq!(lines, ["one", "two^M", ""]);
    }

    proptest! {
        #[test]
        fn no_control_character_survives(text in any::<String>()) {
            let line = visible_line(&text);
            prop_assert!(!line.chars().any(|c| c.is_control() || is_unsafe(c)), "{line:?}");
            for line in visible_lines(&text) {
                prop_assert!(!line.chars().any(|c| c.is_control() || is_unsafe(c)), "{line:?}");
            }
        }

        #[test]
        fn safe_text_is_unchanged(text in "[^\\p{Cc}\u{2028}\u{2029}\u{200e}\u{200f}\u{61c}\u{202a}-\u{202e}\u{2066}-\u{2069}]*") {
            prop_assert_eq!(visible_line(&text), text.as_str());
        }
    }
}
