//! WebSocket (RFC 6455), upgraded from HTTP at `/ws`: one text message is
//! one protocol frame, taking the same path as a line.
//!
//! - [`codec`]: the frame decoder and encoders, by hand;
//! - [`upgrade`]: whether a request may become a WebSocket, and the answer;
//! - [`WsWire`]: the dialect — messages in as commands, pings answered
//!   with pongs, protocol errors closed with their code, and a close frame
//!   after a connection's last frame, whatever ended it;
//! - [`WEBSOCKET`]: the encoding, one unmasked text frame per line, made
//!   once per batch and shared by every WebSocket recipient.

pub mod codec;
pub mod upgrade;

pub use codec::{close, encode_close, encode_lines, encode_pong, WsDecoder, WsEvent};

use super::line::command;
use super::{Dialect, Encoding, Input, Refused, WireKind};
use crate::protocol::ErrorCode;
use std::time::Instant;

/// A message longer than this, even skipped, closes the connection (1009):
/// `--max-line` times this, and at least [`MIN_HARD_CAP`].
const HARD_CAP_FACTOR: u64 = 16;
const MIN_HARD_CAP: u64 = 1 << 20;

/// One text frame per line.
pub static WEBSOCKET: Encoding = Encoding {
    name: "websocket",
    frames: encode_lines_from,
    event: None,
};

fn encode_lines_from(
    lines: &[u8],
    out: &mut Vec<u8>,
    starts: Option<&mut Vec<(u32, u32)>>,
    _: &crate::server::wire::Voice,
) {
    encode_lines(out, lines, starts);
}

/// A WebSocket connection: its decoder and how it ends.
#[derive(Debug)]
pub struct WsWire {
    decoder: WsDecoder,
    max_line: usize,
    /// The close code to send when it ends (`Some(None)`: an empty close,
    /// echoing one); decided by how it ended, if it has.
    ending: Option<Option<u16>>,
    /// A close frame has been queued: nothing may follow it.
    close_sent: bool,
}

impl WsWire {
    pub fn new(max_line: usize) -> WsWire {
        let hard_cap = (max_line as u64 * HARD_CAP_FACTOR).max(MIN_HARD_CAP);
        WsWire {
            decoder: WsDecoder::new(max_line, hard_cap),
            max_line,
            ending: None,
            close_sent: false,
        }
    }

    /// It will close with `code` (1013: the server is full).
    pub fn end_with(&mut self, code: u16) {
        self.ending.get_or_insert(Some(code));
    }
}

impl Dialect for WsWire {
    fn encoding(&self) -> WireKind {
        &WEBSOCKET
    }

    fn decode(
        &mut self,
        data: &[u8],
        _now: Instant,
        on: &mut dyn FnMut(Input<'_>) -> bool,
    ) -> usize {
        let (max_line, mut ending) = (self.max_line, None);
        let used = self.decoder.feed(data, |event| match event {
            WsEvent::Frame(frame) => on(Input::Frame(command(frame, max_line))),
            WsEvent::RawNewline => on(Input::Frame(Err(Refused {
                code: ErrorCode::BadRequest,
                text: "a raw LF or CR in a message: one message is one frame (escape a newline as \\n)"
                    .into(),
            }))),
            WsEvent::Ping(payload) => {
                let mut pong = Vec::with_capacity(payload.len() + 2);
                encode_pong(&mut pong, payload);
                on(Input::Answer(pong))
            }
            // The close frame echoes the peer's code.
            WsEvent::Close(code) => {
                ending = Some(code);
                false
            }
            WsEvent::Fail(code) => {
                ending = Some(Some(code));
                false
            }
        });
        if let Some(code) = ending {
            log::debug!("WebSocket ended ({code:?})");
            self.ending.get_or_insert(code);
            on(Input::End);
        }
        used
    }

    fn farewell(&mut self, stopping: bool, out: &mut Vec<u8>) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        let normal = if stopping {
            close::GOING_AWAY
        } else {
            close::NORMAL
        };
        encode_close(out, self.ending.unwrap_or(Some(normal)));
    }

    fn buffered(&self) -> usize {
        self.decoder.buffered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Command;

    /// A client's masked text frame.
    fn text(payload: &[u8]) -> Vec<u8> {
        let mask = [9u8, 8, 7, 6];
        let mut frame = vec![0x81, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    fn run(wire: &mut WsWire, data: &[u8]) -> Vec<String> {
        let mut seen = Vec::new();
        wire.decode(data, Instant::now(), &mut |input| {
            seen.push(match input {
                Input::Frame(Ok(Some(Command::Who))) => "WHO".into(),
                Input::Frame(Err(r)) => format!("ERR {}", r.code as u16),
                Input::Answer(bytes) => format!("answer {bytes:?}"),
                Input::End => "end".into(),
                other => format!("{other:?}"),
            });
            true
        });
        seen
    }

    #[test]
    fn messages_are_commands_and_pings_are_answered() {
        let mut wire = WsWire::new(64);
        let mut data = text(b"WHO");
        data.extend(text(b"a\nb"));
        data.extend([0x89, 0x81, 0, 0, 0, 0, b'p']);
        assert_eq!(
            run(&mut wire, &data),
            ["WHO", "ERR 400", "answer [138, 1, 112]"]
        );
    }

    #[test]
    fn a_close_is_echoed_once_and_last() {
        let mut wire = WsWire::new(64);
        let close = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8];
        assert_eq!(run(&mut wire, &close), ["end"]);
        let mut out = Vec::new();
        wire.farewell(false, &mut out);
        assert_eq!(out, [0x88, 2, 0x03, 0xe8]);
        wire.farewell(false, &mut out);
        assert_eq!(out.len(), 4, "once");
        let mut stopping = WsWire::new(64);
        let mut out = Vec::new();
        stopping.farewell(true, &mut out);
        assert_eq!(out, [0x88, 2, 0x03, 0xe9], "1001 at shutdown");
    }

    #[test]
    fn a_protocol_error_closes_with_its_code() {
        let mut wire = WsWire::new(64);
        // Unmasked: 1002.
        assert_eq!(run(&mut wire, &[0x81, 0x01, b'x']), ["end"]);
        let mut out = Vec::new();
        wire.farewell(false, &mut out);
        assert_eq!(out, [0x88, 2, 0x03, 0xea]);
    }
}
