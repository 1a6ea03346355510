//! Bytes from a terminal in raw mode turned into keys: UTF-8 text, the
//! control keys readline users expect, and the escape sequences of cursor
//! and editing keys. Pure, so it is tested without a terminal; a sequence
//! cut between two reads waits in the decoder for the rest.

/// One key press (or one pasted character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Text(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    WordLeft,
    WordRight,
    Home,
    End,
    Up,
    Down,
    KillToEnd,
    KillToStart,
    KillWordBack,
    KillWordForward,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D.
    EndOfInput,
    /// Ctrl-Z.
    Suspend,
    /// Ctrl-L.
    Redraw,
}

/// Longest escape sequence kept while waiting for its end; longer ones
/// are dropped as garbage.
const MAX_SEQUENCE: usize = 32;

const ESC: u8 = 0x1b;

/// Turns a byte stream into keys.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    pending: Vec<u8>,
    /// The last byte was a CR, so an LF right after it is the same Enter.
    after_cr: bool,
}

/// What the front of the pending bytes holds.
enum Step {
    Key(Option<Key>, usize),
    /// An incomplete sequence: wait for more bytes.
    Wait,
}

impl KeyDecoder {
    /// Adds bytes read from the terminal; returns the keys they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        self.pending.extend_from_slice(bytes);
        let mut keys = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            let rest = self.pending.get(at..).unwrap_or_default();
            match decode(rest) {
                Step::Key(key, used) => {
                    let lf_after_cr = self.after_cr && rest.first() == Some(&b'\n');
                    self.after_cr = rest.first() == Some(&b'\r');
                    if let Some(key) = key.filter(|_| !lf_after_cr) {
                        keys.push(key);
                    }
                    at += used;
                }
                Step::Wait if rest.len() > MAX_SEQUENCE => at += 1,
                Step::Wait => break,
            }
        }
        self.pending.drain(..at);
        keys
    }
}

fn decode(bytes: &[u8]) -> Step {
    let Some(&first) = bytes.first() else {
        return Step::Wait;
    };
    let key = match first {
        b'\r' | b'\n' => Key::Enter,
        0x7f | 0x08 => Key::Backspace,
        0x01 => Key::Home,
        0x02 => Key::Left,
        0x03 => Key::Interrupt,
        0x04 => Key::EndOfInput,
        0x05 => Key::End,
        0x06 => Key::Right,
        0x0b => Key::KillToEnd,
        0x0c => Key::Redraw,
        0x0e => Key::Down,
        0x10 => Key::Up,
        0x15 => Key::KillToStart,
        0x17 => Key::KillWordBack,
        0x1a => Key::Suspend,
        ESC => return escape(bytes),
        0..=0x1f => return Step::Key(None, 1),
        _ => return text(bytes),
    };
    Step::Key(Some(key), 1)
}

/// One UTF-8 character; an invalid byte is skipped.
fn text(bytes: &[u8]) -> Step {
    let len = match bytes.first() {
        Some(0..=0x7f) => 1,
        Some(0xc2..=0xdf) => 2,
        Some(0xe0..=0xef) => 3,
        Some(0xf0..=0xf4) => 4,
        _ => return Step::Key(None, 1),
    };
    let Some(encoded) = bytes.get(..len) else {
        // Wait only while what is there could still be valid.
        let valid_so_far = bytes.iter().skip(1).all(|b| (0x80..0xc0).contains(b));
        return if valid_so_far {
            Step::Wait
        } else {
            Step::Key(None, 1)
        };
    };
    match std::str::from_utf8(encoded)
        .ok()
        .and_then(|s| s.chars().next())
    {
        Some(c) => Step::Key(Some(Key::Text(c)), len),
        None => Step::Key(None, 1),
    }
}

/// `ESC [ ...`, `ESC O x` or Alt with a key. A lone ESC waits for the next
/// byte; an ESC before anything else is dropped and that byte kept.
fn escape(bytes: &[u8]) -> Step {
    let Some(&second) = bytes.get(1) else {
        return Step::Wait;
    };
    let alt = match second {
        b'[' => return csi(bytes),
        b'O' => {
            let Some(&last) = bytes.get(2) else {
                return Step::Wait;
            };
            return Step::Key(cursor_key(last, false), 3);
        }
        b'b' => Key::WordLeft,
        b'f' => Key::WordRight,
        b'd' => Key::KillWordForward,
        0x7f | 0x08 => Key::KillWordBack,
        _ => return Step::Key(None, 1),
    };
    Step::Key(Some(alt), 2)
}

/// `ESC [ params final`.
fn csi(bytes: &[u8]) -> Step {
    let body = bytes.get(2..).unwrap_or_default();
    let Some(end) = body.iter().position(|b| (0x40..=0x7e).contains(b)) else {
        return Step::Wait;
    };
    let params = body.get(..end).unwrap_or_default();
    let last = body.get(end).copied().unwrap_or(0);
    let used = 2 + end + 1;
    // `1;5D` is Ctrl-Left, `1;3D` Alt-Left: both move by words.
    let modified = params.ends_with(b";5") || params.ends_with(b";3");
    let key = match (last, params) {
        (b'~', b"1" | b"7") => Some(Key::Home),
        (b'~', b"4" | b"8") => Some(Key::End),
        (b'~', b"3") => Some(Key::Delete),
        (b'~', _) => None,
        (last, _) => cursor_key(last, modified),
    };
    Step::Key(key, used)
}

fn cursor_key(last: u8, modified: bool) -> Option<Key> {
    Some(match (last, modified) {
        (b'A', _) => Key::Up,
        (b'B', _) => Key::Down,
        (b'C', false) => Key::Right,
        (b'D', false) => Key::Left,
        (b'C', true) => Key::WordRight,
        (b'D', true) => Key::WordLeft,
        (b'H', _) => Key::Home,
        (b'F', _) => Key::End,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        KeyDecoder::default().feed(bytes)
    }

    #[test]
    fn text_and_control_keys() {
        assert_eq!(
            keys("hé\r".as_bytes()),
            [Key::Text('h'), Key::Text('é'), Key::Enter]
        );
        assert_eq!(keys(b"\x03\x04\x7f\x15\x17\x0b\x01\x05\x1a"), {
            use Key::*;
            [
                Interrupt,
                EndOfInput,
                Backspace,
                KillToStart,
                KillWordBack,
                KillToEnd,
                Home,
                End,
                Suspend,
            ]
        });
        assert_eq!(keys(b"a\r\nb\n"), {
            use Key::*;
            [Text('a'), Enter, Text('b'), Enter]
        });
        assert_eq!(keys(b"\t\x00x"), [Key::Text('x')]);
    }

    #[test]
    fn escape_sequences() {
        use Key::*;
        assert_eq!(keys(b"\x1b[A\x1b[B\x1b[C\x1b[D"), [Up, Down, Right, Left]);
        assert_eq!(
            keys(b"\x1bOH\x1b[F\x1b[3~\x1b[1~\x1b[4~"),
            [Home, End, Delete, Home, End]
        );
        assert_eq!(
            keys(b"\x1b[1;5D\x1b[1;5C\x1bb\x1bf"),
            [WordLeft, WordRight, WordLeft, WordRight]
        );
        assert_eq!(keys(b"\x1b[200~x\x1b[201~"), [Text('x')]);
        assert_eq!(keys(b"\x1bxy"), [Text('x'), Text('y')]);
    }

    #[test]
    fn sequences_split_between_reads_wait_for_their_end() {
        let mut d = KeyDecoder::default();
        assert_eq!(d.feed(b"\x1b"), []);
        assert_eq!(d.feed(b"["), []);
        assert_eq!(d.feed(b"1;5"), []);
        assert_eq!(d.feed(b"Dz"), [Key::WordLeft, Key::Text('z')]);
        let snow = "☃".as_bytes();
        assert_eq!(d.feed(&snow[..1]), []);
        assert_eq!(d.feed(&snow[1..2]), []);
        assert_eq!(d.feed(&snow[2..]), [Key::Text('☃')]);
        assert_eq!(d.feed(b"\r"), [Key::Enter]);
        assert_eq!(d.feed(b"\n"), [], "CR LF is one Enter");
    }

    #[test]
    fn garbage_is_dropped_not_kept_forever() {
        let mut d = KeyDecoder::default();
        assert_eq!(d.feed(&[0xff, 0xc3, b'a']), [Key::Text('a')]);
        let mut long = b"\x1b[".to_vec();
        long.extend([b'1'; 40]);
        assert!(!d.feed(&long).is_empty());
        assert!(d.pending.len() <= MAX_SEQUENCE);
        assert_eq!(d.feed(b"q"), [Key::Text('q')]);
    }
}
