//! The line being typed: its characters, the cursor, the history of sent
//! lines, and which part of the line fits beside the prompt. Pure — keys
//! in, outcomes out — so every editing rule is tested without a terminal;
//! [`super::console`] draws it.
//!
//! The line is shown on one row, scrolled sideways when it is longer than
//! the terminal is wide, so printing a message above it only ever has to
//! clear and redraw that one row.

use super::keys::Key;
use super::visible::visible_line;

/// Lines kept for Up/Down.
const HISTORY_MAX: usize = 1000;

/// What a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The line or the cursor may have changed: redraw.
    Changed,
    /// Enter: the typed line; the editor is empty again.
    Submit(String),
    /// Ctrl-C; `cleared` tells whether there was a line to throw away.
    Interrupt { cleared: bool },
    /// Ctrl-D on an empty line.
    EndOfInput,
    /// Ctrl-Z.
    Suspend,
}

#[derive(Debug, Default)]
pub struct LineEditor {
    line: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// While browsing history: the entry shown and the line typed before.
    browsing: Option<(usize, Vec<char>)>,
    /// Index of the first character shown.
    scroll: usize,
}

impl LineEditor {
    pub fn apply(&mut self, key: Key) -> Outcome {
        let len = self.line.len();
        match key {
            Key::Text(c) => {
                self.line.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Enter => return Outcome::Submit(self.take()),
            Key::Interrupt => {
                let cleared = !self.line.is_empty();
                self.take();
                return Outcome::Interrupt { cleared };
            }
            Key::EndOfInput if self.line.is_empty() => return Outcome::EndOfInput,
            Key::EndOfInput | Key::Delete => {
                if self.cursor < len {
                    self.line.remove(self.cursor);
                }
            }
            Key::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                }
            }
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(len),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = len,
            Key::WordLeft => self.cursor = self.word_start(),
            Key::WordRight => self.cursor = self.word_end(),
            Key::KillToEnd => self.line.truncate(self.cursor),
            Key::KillToStart => {
                self.line.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::KillWordBack => {
                let start = self.word_start();
                self.line.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::KillWordForward => {
                let end = self.word_end();
                self.line.drain(self.cursor..end);
            }
            Key::Up => self.browse_back(),
            Key::Down => self.browse_forward(),
            Key::Suspend => return Outcome::Suspend,
            Key::Redraw => {}
        }
        Outcome::Changed
    }

    /// Puts `line` back to be edited again, the cursor at its end (a line
    /// that could not be sent).
    pub fn restore(&mut self, line: &str) {
        self.line = line.chars().collect();
        self.cursor = self.line.len();
        self.browsing = None;
    }

    /// Empties the line, keeping a non-blank one in the history.
    fn take(&mut self) -> String {
        let line: String = self.line.drain(..).collect();
        self.cursor = 0;
        self.scroll = 0;
        self.browsing = None;
        let repeated = self.history.last() == Some(&line);
        if !line.trim().is_empty() && !repeated {
            if self.history.len() == HISTORY_MAX {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    fn word_start(&self) -> usize {
        let before = self.line.get(..self.cursor).unwrap_or_default();
        let spaces = before
            .iter()
            .rev()
            .take_while(|c| c.is_whitespace())
            .count();
        let word = before
            .iter()
            .rev()
            .skip(spaces)
            .take_while(|c| !c.is_whitespace())
            .count();
        self.cursor - spaces - word
    }

    fn word_end(&self) -> usize {
        let after = self.line.get(self.cursor..).unwrap_or_default();
        let spaces = after.iter().take_while(|c| c.is_whitespace()).count();
        let word = after
            .iter()
            .skip(spaces)
            .take_while(|c| !c.is_whitespace())
            .count();
        self.cursor + spaces + word
    }

    fn show(&mut self, line: Vec<char>) {
        self.line = line;
        self.cursor = self.line.len();
    }

    fn browse_back(&mut self) {
        let at = match &self.browsing {
            Some((0, _)) => return,
            Some((i, _)) => i - 1,
            None if self.history.is_empty() => return,
            None => {
                self.browsing = Some((self.history.len(), self.line.clone()));
                self.history.len() - 1
            }
        };
        let entry = self.history.get(at).map(|h| h.chars().collect());
        if let (Some(entry), Some((i, _))) = (entry, self.browsing.as_mut()) {
            *i = at;
            self.show(entry);
        }
    }

    fn browse_forward(&mut self) {
        let Some((i, draft)) = self.browsing.take() else {
            return;
        };
        match self.history.get(i + 1) {
            Some(entry) => {
                let entry = entry.chars().collect();
                self.browsing = Some((i + 1, draft));
                self.show(entry);
            }
            None => self.show(draft),
        }
    }

    /// The part of the line that fits in `room` columns, split at the
    /// cursor, with control characters shown as visible tokens.
    pub fn view(&mut self, room: usize) -> (String, String) {
        let room = room.max(2);
        let widths: Vec<usize> = self.line.iter().map(|&c| cell_width(c)).collect();
        let span = |from: usize, to: usize| -> usize {
            widths.get(from..to).map_or(0, |w| w.iter().sum())
        };
        self.scroll = self.scroll.min(self.cursor);
        // The cursor's own cell needs a column too.
        while self.scroll < self.cursor && span(self.scroll, self.cursor) >= room {
            self.scroll += 1;
        }
        while self.scroll > 0 && span(self.scroll - 1, widths.len()) < room {
            self.scroll -= 1;
        }
        let before: String = self
            .line
            .get(self.scroll..self.cursor)
            .unwrap_or_default()
            .iter()
            .collect();
        let mut used = span(self.scroll, self.cursor);
        let mut after = String::new();
        for (&c, &w) in self.line.iter().zip(&widths).skip(self.cursor) {
            if used + w > room {
                break;
            }
            used += w;
            after.push(c);
        }
        (
            visible_line(&before).into_owned(),
            visible_line(&after).into_owned(),
        )
    }
}

/// Columns a character takes in a terminal: a close estimate (East Asian
/// wide characters and most emoji take two, combining marks none). Used
/// only to choose what part of a long line to show; the terminal itself
/// places the cursor.
fn cell_width(c: char) -> usize {
    let visible = visible_line(c.encode_utf8(&mut [0; 4])).chars().count();
    if visible > 1 {
        return visible;
    }
    match c as u32 {
        0x0300..=0x036f
        | 0x1ab0..=0x1aff
        | 0x1dc0..=0x1dff
        | 0x200b..=0x200d
        | 0x20d0..=0x20ff
        | 0xfe00..=0xfe0f
        | 0xfe20..=0xfe2f => 0,
        0x1100..=0x115f
        | 0x2e80..=0x303e
        | 0x3041..=0x33ff
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xfe30..=0xfe4f
        | 0xff00..=0xff60
        | 0xffe0..=0xffe6
        | 0x1f300..=0x1f64f
        | 0x1f900..=0x1f9ff
        | 0x20000..=0x3fffd => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(editor: &mut LineEditor, text: &str) {
        for c in text.chars() {
            editor.apply(Key::Text(c));
        }
    }

    #[test]
    fn edits_like_readline() {
        let mut e = LineEditor::default();
        typed(&mut e, "hello world");
        e.apply(Key::KillWordBack);
        typed(&mut e, "there");
        e.apply(Key::Home);
        e.apply(Key::Delete);
        typed(&mut e, "H");
        e.apply(Key::End);
        e.apply(Key::Backspace);
        e.apply(Key::WordLeft);
        e.apply(Key::KillToEnd);
        assert_eq!(e.apply(Key::Enter), Outcome::Submit("Hello ".into()));
        assert_eq!(e.apply(Key::Enter), Outcome::Submit(String::new()));
    }

    #[test]
    fn ctrl_c_clears_and_ctrl_d_leaves_only_on_an_empty_line() {
        let mut e = LineEditor::default();
        typed(&mut e, "half-typed");
        assert_eq!(
            e.apply(Key::Interrupt),
            Outcome::Interrupt { cleared: true }
        );
        assert_eq!(
            e.apply(Key::Interrupt),
            Outcome::Interrupt { cleared: false }
        );
        typed(&mut e, "ab");
        e.apply(Key::Left);
        assert_eq!(e.apply(Key::EndOfInput), Outcome::Changed);
        assert_eq!(e.view(80), ("a".into(), String::new()));
        e.apply(Key::KillToStart);
        assert_eq!(e.apply(Key::EndOfInput), Outcome::EndOfInput);
    }

    #[test]
    fn history_goes_back_and_returns_to_the_draft() {
        let mut e = LineEditor::default();
        for line in ["one", "two", "two"] {
            typed(&mut e, line);
            e.apply(Key::Enter);
        }
        typed(&mut e, "dra");
        e.apply(Key::Up);
        assert_eq!(e.view(80).0, "two");
        e.apply(Key::Up);
        e.apply(Key::Up);
        assert_eq!(e.view(80).0, "one");
        e.apply(Key::Down);
        e.apply(Key::Down);
        assert_eq!(e.view(80).0, "dra");
    }

    #[test]
    fn a_long_line_scrolls_to_keep_the_cursor_in_view() {
        let mut e = LineEditor::default();
        typed(&mut e, "abcdefghij");
        assert_eq!(e.view(5), ("ghij".into(), String::new()));
        e.apply(Key::Home);
        assert_eq!(e.view(5), (String::new(), "abcde".into()));
        typed(&mut e, "你");
        let (before, after) = e.view(5);
        assert_eq!(before, "你");
        assert_eq!(after, "abc");
    }

    #[test]
    fn control_characters_in_the_line_are_shown_visibly() {
        let mut e = LineEditor::default();
        typed(&mut e, "a\u{202e}b");
        assert_eq!(e.view(80).0, "a<U+202E>b");
    }
}
