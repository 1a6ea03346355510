//! The client side of WebSocket framing (RFC 6455), by hand, for every
//! client evchat has that is not a browser: the bench's subscribers, and the
//! tests' raw client (`tests/common/ws.rs`), which also writes the broken
//! frames a real client library would refuse to. (The server's own decoder
//! is `server::ws`.) The reader parses 2-, 4- and 10-byte headers of the server's unmasked frames
//! straight out of its read buffer and hands each payload on without a
//! copy, so it is never what limits a measurement. Only a frame cut by the
//! end of a read is gathered in a small carry buffer. Outgoing frames are
//! masked, as a client's must be, with a simple xor.
//!
//! Also the opening handshake's request and the check of its answer. No
//! extension is offered, so no server compresses (permessage-deflate).

use std::sync::atomic::{AtomicU64, Ordering};

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// Largest payload of one frame the reader accepts: the bench's own frames
/// are small, and NATS batches at most a few buffers' worth.
pub const MAX_PAYLOAD: u64 = 64 << 20;

/// Appends one final (FIN) frame; masked with `mask` when given.
pub fn encode(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>, out: &mut Vec<u8>) {
    encode_frame(true, opcode, payload, mask, out);
}

/// Appends one frame, final or a fragment (`fin` false), with any opcode
/// (reserved ones too: the tests send them); masked with `mask` when given.
pub fn encode_frame(
    fin: bool,
    opcode: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    let bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0F));
    match payload.len() {
        n if n < 126 => out.push(bit | n as u8),
        n if n <= 0xFFFF => {
            out.push(bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            let start = out.len();
            out.extend_from_slice(payload);
            xor(&mut out[start..], key);
        }
        None => out.extend_from_slice(payload),
    }
}

/// Masks or unmasks in place (the same operation).
pub fn xor(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// splitmix64: a fresh, well-mixed value per call, from any thread.
fn next_random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    let seed = if seed == 0 {
        // First call: start from the clock and the pid, not from zero.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let start = now ^ u64::from(std::process::id()) << 32;
        STATE.fetch_add(start, Ordering::Relaxed);
        start
    } else {
        seed
    };
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A masking key for one outgoing frame.
pub fn mask_key() -> [u8; 4] {
    (next_random() as u32).to_ne_bytes()
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes in base64.
pub fn handshake_key() -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bytes = [0u8; 18]; // 16, padded to a multiple of 3
    bytes[..8].copy_from_slice(&next_random().to_ne_bytes());
    bytes[8..16].copy_from_slice(&next_random().to_ne_bytes());
    let mut key = String::with_capacity(24);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            key.push(ABC[(n >> shift) as usize & 63] as char);
        }
    }
    key.truncate(22);
    key.push_str("==");
    key
}

/// The opening handshake: no Origin, no extensions, no subprotocol.
pub fn request(host: &str, path: &str, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Where the answer's head ends (after its blank line), once it has.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    memchr::memmem::find(buf, b"\r\n\r\n").map(|at| at + 4)
}

/// Checks an answer's head: `HTTP/1.1 101`, and no extension the bench did
/// not ask for. The error names the status line the server gave.
pub fn check_answer(head: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(head);
    let status = text.lines().next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("the WebSocket upgrade was answered {status:?}"));
    }
    let extension = text.lines().find(|l| {
        l.split(':')
            .next()
            .is_some_and(|name| name.trim().eq_ignore_ascii_case("sec-websocket-extensions"))
    });
    match extension {
        Some(l) => Err(format!("the server chose an extension not asked for: {l}")),
        None => Ok(()),
    }
}

/// One complete frame, its payload unmasked.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub fin: bool,
    pub opcode: u8,
    /// It came masked (a server's frames must not be).
    pub masked: bool,
    pub payload: &'a [u8],
}

/// A frame header, parsed.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: usize,
}

/// Parses a header at the start of `buf`: `Ok(None)` if `buf` ends before
/// the header does; with it, how many bytes the header took.
#[inline]
fn header(buf: &[u8]) -> Result<Option<(Header, usize)>, String> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(format!("reserved bits set in a frame header ({b0:#04x})"));
    }
    let opcode = b0 & 0x0F;
    let fin = b0 & 0x80 != 0;
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(format!("unknown opcode {opcode:#x}"));
    }
    let (len, mut at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if opcode >= CLOSE && (len > 125 || !fin) {
        return Err("a control frame longer than 125 bytes or fragmented".into());
    }
    if len > MAX_PAYLOAD {
        return Err(format!("a frame of {len} bytes (at most {MAX_PAYLOAD})"));
    }
    let mask = if b1 & 0x80 != 0 {
        let Some(key) = buf
            .get(at..at + 4)
            .and_then(|k| <[u8; 4]>::try_from(k).ok())
        else {
            return Ok(None);
        };
        at += 4;
        Some(key)
    } else {
        None
    };
    let len = len as usize; // at most MAX_PAYLOAD
    Ok(Some((
        Header {
            fin,
            opcode,
            mask,
            len,
        },
        at,
    )))
}

/// Finds frames in a received byte stream, however it is cut into reads.
#[derive(Debug, Default)]
pub struct Deframer {
    /// The start of a header cut by the end of a read.
    head: [u8; 14],
    head_len: usize,
    /// A frame whose payload was cut: its header, and its payload so far.
    pending: Option<Header>,
    carry: Vec<u8>,
}

impl Deframer {
    pub fn new() -> Deframer {
        Deframer::default()
    }

    /// Calls `on_frame` for every frame completed by `data` (which it may
    /// unmask in place). An error means the stream is broken for good.
    pub fn feed(
        &mut self,
        data: &mut [u8],
        mut on_frame: impl FnMut(Frame<'_>),
    ) -> Result<(), String> {
        let mut at = 0;
        loop {
            if let Some(h) = self.pending {
                let take = (h.len - self.carry.len()).min(data.len() - at);
                self.carry.extend_from_slice(&data[at..at + take]);
                at += take;
                if self.carry.len() < h.len {
                    return Ok(());
                }
                if let Some(key) = h.mask {
                    xor(&mut self.carry, key);
                }
                on_frame(Frame {
                    fin: h.fin,
                    opcode: h.opcode,
                    masked: h.mask.is_some(),
                    payload: &self.carry,
                });
                self.carry.clear();
                self.pending = None;
            }
            if at == data.len() {
                return Ok(());
            }
            let (h, body) = if self.head_len > 0 {
                // Complete the cut header: copy what may belong to it, and
                // give back what turns out to be payload.
                let old = self.head_len;
                let copy = (self.head.len() - old).min(data.len() - at);
                self.head[old..old + copy].copy_from_slice(&data[at..at + copy]);
                match header(&self.head[..old + copy])? {
                    None => {
                        self.head_len = old + copy;
                        return Ok(());
                    }
                    Some((h, size)) => {
                        self.head_len = 0;
                        at += size - old;
                        (h, at)
                    }
                }
            } else {
                match header(&data[at..])? {
                    None => {
                        let rest = data.len() - at;
                        self.head[..rest].copy_from_slice(&data[at..]);
                        self.head_len = rest;
                        return Ok(());
                    }
                    Some((h, size)) => (h, at + size),
                }
            };
            if data.len() - body < h.len {
                self.pending = Some(h);
                at = body;
                continue;
            }
            let payload = &mut data[body..body + h.len];
            if let Some(key) = h.mask {
                xor(payload, key);
            }
            on_frame(Frame {
                fin: h.fin,
                opcode: h.opcode,
                masked: h.mask.is_some(),
                payload,
            });
            at = body + h.len;
        }
    }
}

#[cfg(test)]
#[path = "ws_tests.rs"]
mod tests;
