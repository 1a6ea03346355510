//! WebSocket framing (RFC 6455), by hand, as the line framing is: the
//! decoder cuts a client's masked frames into protocol frames — one text
//! message is one line without its LF — and the encoder turns line-encoded
//! output into unmasked text frames.
//!
//! Server frames carry no mask, so a batch of broadcasts is encoded once
//! and shared by every WebSocket recipient ([`encode_lines`]), exactly as
//! the line encoding is. Client messages are held only up to `max_line`;
//! past it the rest is counted and skipped ([`Frame::TooLong`], the
//! connection goes on), and past a hard cap far above it the connection is
//! closed with 1009. No extension is agreed, so a set RSV bit is an error.

use crate::protocol::Frame;

/// Close codes the server sends.
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const UNSUPPORTED: u16 = 1003;
    pub const BAD_DATA: u16 = 1007;
    pub const TOO_BIG: u16 = 1009;
    pub const TRY_LATER: u16 = 1013;
}

const OP_CONTINUE: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;
/// Control frames carry at most this much (RFC 6455 5.5).
const MAX_CONTROL: u64 = 125;
/// Past this capacity an emptied message buffer is freed rather than kept.
const KEEP_CAPACITY: usize = 4096;

/// What the decoder found in the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEvent<'a> {
    /// A whole text message, as a protocol frame (or too long to keep).
    Frame(Frame<'a>),
    /// A text message with a raw LF or CR in it: not one frame.
    RawNewline,
    /// A ping: answer with a pong carrying this payload.
    Ping(&'a [u8]),
    /// The peer began the close handshake (with its code, if any).
    Close(Option<u16>),
    /// A protocol error: close with this code; nothing more is read.
    Fail(u16),
}

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct Current {
    opcode: u8,
    fin: bool,
    mask: [u8; 4],
    /// Payload bytes still to come.
    left: u64,
    /// Payload bytes read so far (the mask's phase).
    read: u64,
}

/// Incremental decoder of one client's frames.
#[derive(Debug)]
pub struct WsDecoder {
    max_message: usize,
    hard_cap: u64,
    header: [u8; 14],
    header_len: usize,
    current: Option<Current>,
    /// The data message so far, unmasked (empty once past `max_message`).
    message: Vec<u8>,
    /// Bytes of the data message so far, kept or not.
    message_len: u64,
    /// A data message has begun and not finished.
    in_message: bool,
    control: Vec<u8>,
    /// A close or an error was reported: nothing more is read.
    done: bool,
}

impl WsDecoder {
    /// Messages over `max_message` bytes are reported too long; over
    /// `hard_cap`, the connection fails with 1009.
    pub fn new(max_message: usize, hard_cap: u64) -> WsDecoder {
        WsDecoder {
            max_message,
            hard_cap,
            header: [0; 14],
            header_len: 0,
            current: None,
            message: Vec::new(),
            message_len: 0,
            in_message: false,
            control: Vec::new(),
            done: false,
        }
    }

    /// Bytes held between reads.
    pub fn buffered(&self) -> usize {
        self.message.capacity() + self.control.capacity()
    }

    /// Feeds `data`, calling `on_event` for each event. `on_event` returns
    /// `false` to stop early; the bytes past that event are not consumed
    /// and may be fed again later. Returns how many bytes were consumed.
    pub fn feed(&mut self, data: &[u8], mut on_event: impl FnMut(WsEvent<'_>) -> bool) -> usize {
        let mut at = 0;
        while !self.done {
            let current = match self.current {
                Some(current) => current,
                None => {
                    let (used, header) = self.read_header(data.get(at..).unwrap_or_default());
                    at += used;
                    match header {
                        Ok(Some(current)) => current,
                        Ok(None) => return at, // more header bytes needed
                        Err(code) => {
                            self.done = true;
                            on_event(WsEvent::Fail(code));
                            return at;
                        }
                    }
                }
            };
            let rest = data.get(at..).unwrap_or_default();
            let take = usize::try_from(current.left)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            self.take_payload(current, rest.get(..take).unwrap_or_default());
            at += take;
            let read = current.read + take as u64;
            let left = current.left - take as u64;
            if left > 0 {
                self.current = Some(Current {
                    left,
                    read,
                    ..current
                });
                return at;
            }
            self.current = None;
            if !self.finish_frame(current, &mut on_event) {
                return at;
            }
        }
        at
    }

    /// Reads header bytes; a whole header starts a frame.
    fn read_header(&mut self, data: &[u8]) -> (usize, Result<Option<Current>, u16>) {
        let mut used = 0;
        loop {
            let need = header_size(&self.header[..self.header_len]);
            if self.header_len >= need {
                break;
            }
            let Some(&byte) = data.get(used) else {
                return (used, Ok(None));
            };
            self.header[self.header_len] = byte;
            self.header_len += 1;
            used += 1;
            if self.header_len == 2 && self.header[1] & 0x80 == 0 {
                return (used, Err(close::PROTOCOL)); // unmasked client frame
            }
        }
        let (header, len) = (self.header, self.header_len);
        self.header_len = 0;
        (used, self.start_frame(&header[..len]))
    }

    /// Checks a whole header against the rules and the state.
    fn start_frame(&mut self, h: &[u8]) -> Result<Option<Current>, u16> {
        let (first, second) = (h[0], h[1]);
        let (fin, opcode) = (first & 0x80 != 0, first & 0x0f);
        let len = match second & 0x7f {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            n => u64::from(n),
        };
        let mask = [
            h[h.len() - 4],
            h[h.len() - 3],
            h[h.len() - 2],
            h[h.len() - 1],
        ];
        if first & 0x70 != 0 || len >> 63 != 0 {
            return Err(close::PROTOCOL); // no extension was agreed
        }
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin || len > MAX_CONTROL {
                    return Err(close::PROTOCOL);
                }
                self.control.clear();
            }
            OP_BINARY if !self.in_message => return Err(close::UNSUPPORTED),
            OP_TEXT if !self.in_message => {
                self.in_message = true;
                self.message.clear();
                self.message_len = 0;
            }
            OP_CONTINUE if self.in_message => {}
            _ => return Err(close::PROTOCOL),
        }
        if opcode < OP_CLOSE {
            self.message_len = self.message_len.saturating_add(len);
            if self.message_len > self.hard_cap {
                return Err(close::TOO_BIG);
            }
        }
        Ok(Some(Current {
            opcode,
            fin,
            mask,
            left: len,
            read: 0,
        }))
    }

    fn take_payload(&mut self, frame: Current, bytes: &[u8]) {
        let into = if frame.opcode >= OP_CLOSE {
            &mut self.control
        } else if self.message_len <= self.max_message as u64 {
            &mut self.message
        } else {
            // Too long: counted, not kept.
            self.message.clear();
            return;
        };
        let phase = (frame.read % 4) as usize;
        into.extend(
            bytes
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ frame.mask[(phase + i) % 4]),
        );
    }

    /// A frame's payload is all in: report what it completes. Returns
    /// whether to go on.
    fn finish_frame(
        &mut self,
        frame: Current,
        on_event: &mut impl FnMut(WsEvent<'_>) -> bool,
    ) -> bool {
        match frame.opcode {
            OP_PING => on_event(WsEvent::Ping(&self.control)),
            OP_PONG => true,
            OP_CLOSE => {
                self.done = true;
                let event = match close_payload(&self.control) {
                    Ok(code) => WsEvent::Close(code),
                    Err(code) => WsEvent::Fail(code),
                };
                on_event(event);
                false
            }
            _ if !frame.fin => true,
            _ => {
                self.in_message = false;
                let event = if self.message_len > self.max_message as u64 {
                    WsEvent::Frame(Frame::TooLong)
                } else if self.message.is_empty() {
                    return true; // an empty message is ignored
                } else if std::str::from_utf8(&self.message).is_err() {
                    self.done = true;
                    WsEvent::Fail(close::BAD_DATA)
                } else if memchr::memchr2(b'\n', b'\r', &self.message).is_some() {
                    WsEvent::RawNewline
                } else {
                    WsEvent::Frame(Frame::Line(&self.message))
                };
                let go_on = on_event(event) && !self.done;
                self.message.clear();
                if self.message.capacity() > KEEP_CAPACITY {
                    self.message = Vec::new();
                }
                go_on
            }
        }
    }
}

/// How long a header is, judging by its first bytes (2 until known).
fn header_size(h: &[u8]) -> usize {
    let Some(&second) = h.get(1) else {
        return 2;
    };
    let extra = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + extra + 4
}

/// A close frame's code, checked (RFC 6455 7.4).
fn close_payload(payload: &[u8]) -> Result<Option<u16>, u16> {
    match payload {
        [] => Ok(None),
        [_] => Err(close::PROTOCOL),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            let known = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
            if !known {
                Err(close::PROTOCOL)
            } else if std::str::from_utf8(reason).is_err() {
                Err(close::BAD_DATA)
            } else {
                Ok(Some(code))
            }
        }
    }
}

/// Appends an unmasked frame header.
fn header(out: &mut Vec<u8>, opcode: u8, len: usize) {
    out.push(0x80 | opcode);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Turns line-encoded frames (each ending in LF) into text frames, one per
/// line. When `starts` is given, each frame's start is recorded in it as
/// (offset in `lines`, offset in `out`), to map ranges of one to the other.
pub fn encode_lines(out: &mut Vec<u8>, lines: &[u8], mut starts: Option<&mut Vec<(u32, u32)>>) {
    out.reserve(lines.len() + lines.len() / 16 + 16);
    let mut at = 0;
    while at < lines.len() {
        let rest = lines.get(at..).unwrap_or_default();
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let line = rest.get(..end).unwrap_or_default();
        if let Some(starts) = starts.as_deref_mut() {
            let (a, b) = (u32::try_from(at), u32::try_from(out.len()));
            starts.push((a.unwrap_or(u32::MAX), b.unwrap_or(u32::MAX)));
        }
        let payload = line.strip_suffix(b"\n").unwrap_or(line);
        header(out, OP_TEXT, payload.len());
        out.extend_from_slice(payload);
        at += end;
    }
}

/// A pong answering a ping.
pub fn encode_pong(out: &mut Vec<u8>, payload: &[u8]) {
    header(out, OP_PONG, payload.len());
    out.extend_from_slice(payload);
}

/// A close frame with a code (none: an empty close, answering one).
pub fn encode_close(out: &mut Vec<u8>, code: Option<u16>) {
    match code {
        None => header(out, OP_CLOSE, 0),
        Some(code) => {
            header(out, OP_CLOSE, 2);
            out.extend_from_slice(&code.to_be_bytes());
        }
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
