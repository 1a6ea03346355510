//! Frames in each encoding, made once and shared by every recipient that
//! speaks it.
//!
//! The hub encodes everything canonically, as lines. A connection that
//! writes lines takes those bytes as they are; any other takes its
//! encoding's copy. A shared chunk (a batch of broadcasts, a private
//! message, a `USERS` reply) is converted once per encoding and the copy
//! is kept, keyed by the chunk itself, so the next recipient of the same
//! chunk and encoding shares it: fan-out costs one encoding per kind of
//! connection per batch, however many recipients. Ranges of a batch (all
//! but a user's own frames) map onto a copy through the recorded frame
//! starts.

use super::{is_lines, Viewer, Voice, WireKind};
use crate::protocol::Event;
use std::rc::Rc;

/// A chunk's copy in one encoding.
#[derive(Debug)]
struct Copy {
    kind: WireKind,
    /// The line chunk it copies, kept so its address cannot be reused by
    /// another chunk while this copy is taken for it.
    line: Rc<[u8]>,
    bytes: Rc<[u8]>,
    /// Each frame's start: (offset in `line`, offset in `bytes`).
    starts: Vec<(u32, u32)>,
}

impl Copy {
    /// Where a frame boundary of the line chunk lies in the copy.
    fn map(&self, offset: usize) -> Option<usize> {
        if offset == self.line.len() {
            return Some(self.bytes.len());
        }
        let offset = u32::try_from(offset).ok()?;
        let i = self.starts.binary_search_by_key(&offset, |s| s.0).ok()?;
        self.starts.get(i).map(|s| s.1 as usize)
    }
}

/// The latest chunk's copy in each encoding but lines.
#[derive(Debug, Default)]
pub struct Copies {
    copies: Vec<Copy>,
    /// A frame for one connection, before its encoding's copy is made.
    scratch: Vec<u8>,
    /// What encodings say of the server.
    voice: Voice,
}

impl Copies {
    pub fn new(voice: Voice) -> Copies {
        Copies {
            voice,
            ..Copies::default()
        }
    }

    /// How encodings speak of this server.
    pub fn voice(&self) -> &Voice {
        &self.voice
    }

    /// `line`'s copy in `kind`, made once for all its recipients.
    fn copy(&mut self, kind: WireKind, line: &Rc<[u8]>) -> &Copy {
        let at = match self.copies.iter().position(|c| std::ptr::eq(c.kind, kind)) {
            Some(at) => at,
            None => {
                self.copies.push(Copy {
                    kind,
                    line: Rc::from(&[][..]),
                    bytes: Rc::from(&[][..]),
                    starts: Vec::new(),
                });
                self.copies.len() - 1
            }
        };
        // `at` is in bounds: found or just pushed.
        let copy = &mut self.copies[at];
        if !Rc::ptr_eq(&copy.line, line) {
            let mut starts = Vec::new();
            let mut bytes = Vec::new();
            (kind.frames)(line, &mut bytes, Some(&mut starts), &self.voice);
            *copy = Copy {
                kind,
                line: Rc::clone(line),
                bytes: Rc::from(bytes),
                starts,
            };
        }
        copy
    }

    /// The chunk a `kind` connection's queue takes for `line`.
    pub fn shared(&mut self, kind: WireKind, line: &Rc<[u8]>) -> Rc<[u8]> {
        if is_lines(kind) {
            return Rc::clone(line);
        }
        Rc::clone(&self.copy(kind, line).bytes)
    }

    /// The chunk a `kind` connection's queue takes for `ranges` of `line`
    /// (whole frames, as a batch's spans are), with the ranges of it put
    /// in `into`.
    pub fn ranges(
        &mut self,
        kind: WireKind,
        line: &Rc<[u8]>,
        ranges: &[(usize, usize)],
        into: &mut Vec<(usize, usize)>,
    ) -> Rc<[u8]> {
        into.clear();
        if is_lines(kind) {
            into.extend_from_slice(ranges);
            return Rc::clone(line);
        }
        let copy = self.copy(kind, line);
        for &(start, end) in ranges {
            if let (Some(a), Some(b)) = (copy.map(start), copy.map(end)) {
                into.push((a, b));
            }
        }
        Rc::clone(&copy.bytes)
    }

    /// Appends `event` to `out` in `kind`, for one connection, `viewer`.
    pub fn encode(
        &mut self,
        kind: WireKind,
        event: &Event<'_>,
        viewer: &Viewer<'_>,
        out: &mut Vec<u8>,
    ) {
        if is_lines(kind) {
            return event.encode(out);
        }
        if let Some(encode) = kind.event {
            return encode(event, viewer, &self.voice, out);
        }
        self.scratch.clear();
        event.encode(&mut self.scratch);
        (kind.frames)(&self.scratch, out, None, &self.voice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::wire::line::LINES;
    use crate::server::wire::websocket::WEBSOCKET;

    #[test]
    fn one_copy_is_shared_by_every_recipient_of_an_encoding() {
        let mut copies = Copies::default();
        let line: Rc<[u8]> = Rc::from(&b"SAY a 1 x\nSAY b 1 yy\n"[..]);
        let first = copies.shared(&WEBSOCKET, &line);
        let second = copies.shared(&WEBSOCKET, &line);
        assert!(Rc::ptr_eq(&first, &second), "encoded once");
        assert_eq!(&first[..], b"\x81\x09SAY a 1 x\x81\x0aSAY b 1 yy");
        let plain = copies.shared(&LINES, &line);
        assert!(
            Rc::ptr_eq(&plain, &line),
            "line users take the chunk itself"
        );
        let other: Rc<[u8]> = Rc::from(&b"PONG\n"[..]);
        assert_eq!(&copies.shared(&WEBSOCKET, &other)[..], b"\x81\x04PONG");
    }

    #[test]
    fn ranges_map_onto_the_copy() {
        let mut copies = Copies::default();
        let line: Rc<[u8]> = Rc::from(&b"A 1\nBB 2\nC 3\n"[..]);
        let mut ranges = Vec::new();
        let chunk = copies.ranges(&WEBSOCKET, &line, &[(0, 4), (9, 13)], &mut ranges);
        let picked: Vec<u8> = ranges
            .iter()
            .flat_map(|&(a, b)| chunk[a..b].to_vec())
            .collect();
        assert_eq!(picked, b"\x81\x03A 1\x81\x03C 3");
    }

    #[test]
    fn one_connections_frames_are_in_its_encoding() {
        let mut copies = Copies::default();
        let mut out = Vec::new();
        let viewer = Viewer {
            nick: None,
            asked: 0,
            about: None,
        };
        copies.encode(&WEBSOCKET, &Event::Pong(Some("7")), &viewer, &mut out);
        copies.encode(&WEBSOCKET, &Event::Users(&["a", "b"]), &viewer, &mut out);
        assert_eq!(out, b"\x81\x06PONG 7\x81\x09USERS a b");
        let mut line = Vec::new();
        copies.encode(&LINES, &Event::Pong(None), &viewer, &mut line);
        assert_eq!(line, b"PONG\n");
    }
}
