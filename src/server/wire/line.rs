//! The line protocol: LF-terminated frames ([`FrameDecoder`]), parsed into
//! commands ([`parse`]); and the canonical encoding, which its
//! connections take as it is (docs/PROTOCOL.md).

use super::{Dialect, Encoding, Input, Refused, WireKind};
use crate::protocol::{parse, ErrorCode, Frame, FrameDecoder};
use std::time::Instant;

/// Lines out: the hub's own encoding, taken as it is.
pub static LINES: Encoding = Encoding {
    name: "line",
    frames: as_they_are,
    event: None,
};

fn as_they_are(
    lines: &[u8],
    out: &mut Vec<u8>,
    starts: Option<&mut Vec<(u32, u32)>>,
    _: &super::Voice,
) {
    if let Some(starts) = starts {
        let base = out.len();
        let mut at = 0;
        while at < lines.len() {
            let (a, b) = (u32::try_from(at), u32::try_from(base + at));
            starts.push((a.unwrap_or(u32::MAX), b.unwrap_or(u32::MAX)));
            let rest = lines.get(at..).unwrap_or_default();
            at += memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        }
    }
    out.extend_from_slice(lines);
}

/// A line-protocol connection's input: the unfinished line, if any.
#[derive(Debug)]
pub struct Lines {
    decoder: FrameDecoder,
    max_line: usize,
}

impl Lines {
    pub fn new(max_line: usize) -> Lines {
        Lines {
            decoder: FrameDecoder::new(max_line),
            max_line,
        }
    }
}

impl Dialect for Lines {
    fn encoding(&self) -> WireKind {
        &LINES
    }

    fn decode(
        &mut self,
        data: &[u8],
        _now: Instant,
        on: &mut dyn FnMut(Input<'_>) -> bool,
    ) -> usize {
        let max_line = self.max_line;
        self.decoder
            .feed(data, |frame| on(Input::Frame(command(frame, max_line))))
    }

    fn buffered(&self) -> usize {
        self.decoder.buffered()
    }
}

/// What a whole frame asks for: a command, nothing (an empty line), or a
/// refusal. Lines and WebSocket messages are parsed alike.
#[inline(never)]
pub fn command(
    frame: Frame<'_>,
    max_line: usize,
) -> Result<Option<crate::protocol::Command<'_>>, Refused> {
    match frame {
        Frame::Line(line) => parse(line).map_err(|e| Refused {
            code: ErrorCode::BadRequest,
            text: e.to_string(),
        }),
        Frame::TooLong => Err(Refused {
            code: ErrorCode::TooLong,
            text: format!("frame longer than {max_line} bytes; skipped"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Command;

    fn inputs(data: &[u8]) -> Vec<String> {
        let mut lines = Lines::new(16);
        let mut seen = Vec::new();
        lines.decode(data, Instant::now(), &mut |input| {
            seen.push(match input {
                Input::Frame(Ok(Some(Command::Who))) => "WHO".to_owned(),
                Input::Frame(Ok(None)) => "empty".to_owned(),
                Input::Frame(Err(r)) => format!("{:?} {}", r.code, r.text),
                other => format!("{other:?}"),
            });
            true
        });
        seen
    }

    #[test]
    fn lines_become_commands_or_refusals() {
        assert_eq!(inputs(b"WHO\n\nWHO\r\n"), ["WHO", "empty", "WHO"]);
        assert_eq!(
            inputs(b"NOPE\nWHOWHOWHOWHOWHOWHO\nWHO\n"),
            [
                "BadRequest unknown command; try LOGIN, SAY, MSG, JOIN, PART, TOPIC, MODE, KICK, INVITE, WHO, ROOMS, LIST, WHOIS, AWAY, STATS, PING, QUIT",
                "TooLong frame longer than 16 bytes; skipped",
                "WHO"
            ]
        );
    }

    #[test]
    fn frame_starts_are_recorded() {
        let mut out = b"x".to_vec();
        let mut starts = Vec::new();
        as_they_are(
            b"A 1\nBB 2\n",
            &mut out,
            Some(&mut starts),
            &crate::server::wire::Voice::default(),
        );
        assert_eq!(out, b"xA 1\nBB 2\n");
        assert_eq!(starts, [(0, 1), (4, 5)]);
    }
}
