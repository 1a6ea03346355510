//! Frames as each transport carries them: one encoding per transport,
//! shared by every recipient on it.
//!
//! The hub encodes everything as lines. A line connection's queue takes
//! those bytes as they are; a WebSocket connection's takes the same frames
//! as text messages. A shared chunk (a batch of broadcasts, a private
//! message, a `USERS` reply) is converted once and the copy is kept, keyed
//! by the chunk itself, so the next WebSocket recipient of the same chunk
//! shares that copy: fan-out to WebSocket users costs one encoding per
//! batch, as it does for line users. Ranges of a batch (all but a user's own
//! frames) map onto the copy through the recorded frame starts.

use crate::server::session::{Protocol, Session};
use crate::server::ws;
use std::rc::Rc;

/// A chunk's WebSocket copy.
#[derive(Debug)]
struct WsCopy {
    /// The line chunk it copies, kept so its address cannot be reused by
    /// another chunk while this copy is taken for it.
    line: Rc<[u8]>,
    ws: Rc<[u8]>,
    /// Each frame's start: (offset in `line`, offset in `ws`).
    starts: Vec<(u32, u32)>,
}

impl WsCopy {
    /// Where a frame boundary of the line chunk lies in the copy.
    fn map(&self, offset: usize) -> Option<usize> {
        if offset == self.line.len() {
            return Some(self.ws.len());
        }
        let offset = u32::try_from(offset).ok()?;
        let i = self.starts.binary_search_by_key(&offset, |s| s.0).ok()?;
        self.starts.get(i).map(|s| s.1 as usize)
    }
}

/// Per-transport encoding for the write queues.
#[derive(Debug, Default)]
pub(in crate::server) struct Wire {
    /// Line frames encoded for one WebSocket connection, before framing.
    scratch: Vec<u8>,
    /// The last shared chunk's WebSocket copy.
    copy: Option<WsCopy>,
}

/// Does the session take WebSocket frames?
#[inline]
pub(in crate::server) fn is_ws<T>(session: &Session<T>) -> bool {
    session.protocol == Protocol::WebSocket
}

impl Wire {
    /// The WebSocket copy of `line`, made once for all its recipients.
    fn ws_copy(&mut self, line: &Rc<[u8]>) -> &WsCopy {
        let copy = match self.copy.take() {
            Some(copy) if Rc::ptr_eq(&copy.line, line) => copy,
            _ => {
                let mut starts = Vec::new();
                let mut ws = Vec::new();
                ws::encode_lines(&mut ws, line, Some(&mut starts));
                WsCopy {
                    line: Rc::clone(line),
                    ws: Rc::from(ws),
                    starts,
                }
            }
        };
        self.copy.insert(copy)
    }

    /// The chunk a session's queue takes for `line`.
    pub(super) fn shared_for<T>(&mut self, session: &Session<T>, line: &Rc<[u8]>) -> Rc<[u8]> {
        if is_ws(session) {
            Rc::clone(&self.ws_copy(line).ws)
        } else {
            Rc::clone(line)
        }
    }

    /// The chunk a session's queue takes for `ranges` of `line` (frame
    /// boundaries, as a batch's spans are), with the ranges of it put in
    /// `into`.
    pub(super) fn ranges_for<T>(
        &mut self,
        session: &Session<T>,
        line: &Rc<[u8]>,
        ranges: &[(usize, usize)],
        into: &mut Vec<(usize, usize)>,
    ) -> Rc<[u8]> {
        into.clear();
        if !is_ws(session) {
            into.extend_from_slice(ranges);
            return Rc::clone(line);
        }
        let copy = self.ws_copy(line);
        for &(start, end) in ranges {
            if let (Some(a), Some(b)) = (copy.map(start), copy.map(end)) {
                into.push((a, b));
            }
        }
        Rc::clone(&copy.ws)
    }

    /// Appends frames written by `encode` to one session's queue, in its
    /// transport's framing. Returns the bytes added.
    pub(in crate::server) fn push_with<T>(
        &mut self,
        session: &mut Session<T>,
        encode: impl FnOnce(&mut Vec<u8>),
    ) -> usize {
        if !is_ws(session) {
            return session.out.push_with(encode);
        }
        self.scratch.clear();
        encode(&mut self.scratch);
        let lines = &self.scratch;
        session.out.push_with(|b| ws::encode_lines(b, lines, None))
    }

    /// Queues a shared chunk on one session, in its transport's framing.
    pub(in crate::server) fn push_shared<T>(&mut self, session: &mut Session<T>, line: &Rc<[u8]>) {
        let chunk = self.shared_for(session, line);
        session.out.push_shared(&chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(protocol: Protocol) -> Session<Vec<u8>> {
        let mut s = Session::new(Vec::new(), None, 64, std::time::Instant::now());
        s.protocol = protocol;
        s
    }

    #[test]
    fn one_copy_is_shared_by_every_websocket_recipient() {
        let mut wire = Wire::default();
        let line: Rc<[u8]> = Rc::from(&b"SAY a 1 x\nSAY b 1 yy\n"[..]);
        let (a, b) = (session(Protocol::WebSocket), session(Protocol::WebSocket));
        let first = wire.shared_for(&a, &line);
        let second = wire.shared_for(&b, &line);
        assert!(Rc::ptr_eq(&first, &second), "encoded once");
        assert_eq!(&first[..], b"\x81\x09SAY a 1 x\x81\x0aSAY b 1 yy");
        let plain = wire.shared_for(&session(Protocol::Line), &line);
        assert!(
            Rc::ptr_eq(&plain, &line),
            "line users take the chunk itself"
        );
        let other: Rc<[u8]> = Rc::from(&b"PONG\n"[..]);
        assert_eq!(&wire.shared_for(&a, &other)[..], b"\x81\x04PONG");
    }

    #[test]
    fn ranges_map_onto_the_copy() {
        let mut wire = Wire::default();
        let line: Rc<[u8]> = Rc::from(&b"A 1\nBB 2\nC 3\n"[..]);
        let s = session(Protocol::WebSocket);
        let mut ranges = Vec::new();
        let chunk = wire.ranges_for(&s, &line, &[(0, 4), (9, 13)], &mut ranges);
        let picked: Vec<u8> = ranges
            .iter()
            .flat_map(|&(a, b)| chunk[a..b].to_vec())
            .collect();
        assert_eq!(picked, b"\x81\x03A 1\x81\x03C 3");
    }

    #[test]
    fn replies_are_framed_per_line() {
        let mut wire = Wire::default();
        let mut s = session(Protocol::WebSocket);
        let added = wire.push_with(&mut s, |b| b.extend_from_slice(b"USERS a b\nPONG 7\n"));
        assert_eq!(added, 2 + 9 + 2 + 6);
        let mut line = session(Protocol::Line);
        assert_eq!(
            wire.push_with(&mut line, |b| b.extend_from_slice(b"PONG\n")),
            5
        );
    }
}
