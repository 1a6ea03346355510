//! Subscribers over WebSocket (`fanout --transport ws`), so that what a
//! server spends delivering to browsers can be set beside what it spends on
//! its plain protocol, in the same run.
//!
//! The server's own protocol travels inside the frames ([`ws`] frames it):
//! evchat puts one protocol frame, without its LF, in each WebSocket
//! message; NATS's byte stream is cut into frames anyhow, so it is put back
//! together from their payloads. What goes out is the plain protocol the
//! line bench sends, wrapped in masked frames. Keep-alive PINGs, the
//! protocol's and WebSocket's own, are answered.

use super::wire::{Decoder, Item, Target};
use super::ws::{self, Deframer};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Where WebSocket subscribers connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub path: &'static str,
}

impl Endpoint {
    /// evchat serves `/ws` on its chat port; nats-server any path on its
    /// `websocket` listener.
    pub fn new(target: Target, addr: SocketAddr) -> Endpoint {
        let path = match target {
            Target::Evchat => "/ws",
            Target::Redis | Target::Nats | Target::Inspircd => "/",
        };
        Endpoint { addr, path }
    }
}

/// Connects and asks for the upgrade; [`finish`] reads the answer. Apart,
/// so that a fleet asks on every connection before it waits on any: one
/// round trip each, in turn, would log subscribers in one per server turn,
/// and each login's presence notice would cost a write to every subscriber
/// already in (N²/2 writes), which line subscribers, whose logins arrive
/// in bursts, do not cause.
pub fn start(endpoint: Endpoint) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(endpoint.addr)?;
    stream.set_nodelay(true)?;
    let host = endpoint.addr.to_string();
    let request = ws::request(&host, endpoint.path, &ws::handshake_key());
    stream.write_all(request.as_bytes())?;
    Ok(stream)
}

/// Reads the upgrade's answer; returns whatever the server sent past its
/// head (NATS's INFO may be there).
pub fn finish(stream: &mut TcpStream, patience: Duration) -> io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(patience))?;
    let mut got = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(end) = ws::head_end(&got) {
            break end;
        }
        if got.len() > 16 << 10 {
            return Err(io::Error::other(
                "the WebSocket answer's head is over 16 KiB",
            ));
        }
        match stream.read(&mut buf)? {
            0 => {
                let why = String::from_utf8_lossy(&got).into_owned();
                return Err(io::Error::other(format!(
                    "the server closed during the WebSocket upgrade: {why:?}"
                )));
            }
            n => got.extend_from_slice(&buf[..n]),
        }
    };
    ws::check_answer(&got[..end]).map_err(io::Error::other)?;
    stream.set_read_timeout(None)?;
    Ok(got.split_off(end))
}

/// Wraps plain protocol bytes, as [`Target`]'s methods make them, in
/// masked frames: for evchat one text frame per line, LF left out; for NATS
/// one binary frame.
pub fn wrap(target: Target, plain: &[u8], out: &mut Vec<u8>) {
    match target {
        Target::Evchat => {
            for line in plain.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                ws::encode(ws::TEXT, line, Some(ws::mask_key()), out);
            }
        }
        Target::Redis | Target::Nats | Target::Inspircd => {
            ws::encode(ws::BINARY, plain, Some(ws::mask_key()), out);
        }
    }
}

/// The receiving side of one WebSocket connection.
#[derive(Debug)]
pub struct WsReader {
    target: Target,
    deframer: Deframer,
    /// A fragmented evchat message, gathered until its last frame.
    message: Vec<u8>,
    /// Bytes received with the handshake's answer, not yet read.
    pub early: Vec<u8>,
    /// Answers to the server's PINGs, to be written by the reader.
    pub replies: Vec<u8>,
    /// Why the connection ended: the server's close frame, or a broken
    /// stream. Nothing more is read once it is set.
    pub closed: Option<String>,
}

impl WsReader {
    pub fn new(target: Target, early: Vec<u8>) -> WsReader {
        WsReader {
            target,
            deframer: Deframer::new(),
            message: Vec::new(),
            early,
            replies: Vec::new(),
            closed: None,
        }
    }

    /// Takes in received bytes (unmasking in place if need be), handing
    /// every protocol item inside to `on_item` in order.
    pub fn absorb(
        &mut self,
        decoder: &mut Decoder,
        data: &mut [u8],
        mut on_item: impl FnMut(Item<'_>),
    ) {
        let WsReader {
            target,
            deframer,
            message,
            replies,
            closed,
            ..
        } = self;
        if closed.is_some() {
            return;
        }
        let target = *target;
        let fed = deframer.feed(data, |frame| match frame.opcode {
            ws::TEXT | ws::BINARY | ws::CONTINUATION => {
                if target != Target::Evchat {
                    // A byte stream: frame boundaries mean nothing.
                    pass(target, decoder, frame.payload, replies, &mut on_item);
                } else if frame.fin && message.is_empty() {
                    pass(target, decoder, frame.payload, replies, &mut on_item);
                } else {
                    message.extend_from_slice(frame.payload);
                    if frame.fin {
                        pass(target, decoder, message, replies, &mut on_item);
                        message.clear();
                    }
                }
            }
            ws::PING => ws::encode(ws::PONG, frame.payload, Some(ws::mask_key()), replies),
            ws::CLOSE => {
                closed.get_or_insert_with(|| close_reason(frame.payload));
            }
            _ => {} // PONG: the bench sends no WebSocket pings
        });
        if let Err(e) = fed {
            closed.get_or_insert_with(|| format!("a broken WebSocket stream: {e}"));
        }
    }
}

/// Hands one payload to the decoder, answering protocol PINGs on the way.
fn pass(
    target: Target,
    decoder: &mut Decoder,
    payload: &[u8],
    replies: &mut Vec<u8>,
    on_item: &mut impl FnMut(Item<'_>),
) {
    let mut each = |item: Item<'_>| {
        if let Item::Ping(token) = item {
            let mut plain = b"PONG".to_vec();
            if !token.is_empty() {
                plain.push(b' ');
                plain.extend_from_slice(token);
            }
            plain.extend_from_slice(if target == Target::Evchat {
                b"\n"
            } else {
                b"\r\n"
            });
            wrap(target, &plain, replies);
        }
        on_item(item);
    };
    match target {
        Target::Evchat => decoder.feed_line(payload, each),
        Target::Redis | Target::Nats | Target::Inspircd => decoder.feed(payload, &mut each),
    }
}

/// `WebSocket closed by the server: 1002 masking required`.
fn close_reason(payload: &[u8]) -> String {
    match payload {
        [a, b, reason @ ..] => format!(
            "WebSocket closed by the server: {} {}",
            u16::from_be_bytes([*a, *b]),
            String::from_utf8_lossy(reason)
        ),
        _ => "WebSocket closed by the server".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items and replies from server frames fed one byte at a time.
    fn run(target: Target, frames: &[u8]) -> (Vec<String>, Vec<u8>, Option<String>) {
        let mut reader = WsReader::new(target, Vec::new());
        let mut decoder = Decoder::new(target);
        let mut got = Vec::new();
        let mut data = frames.to_vec();
        for b in data.chunks_mut(1) {
            reader.absorb(&mut decoder, b, |item| match item {
                Item::Message(p) => got.push(String::from_utf8_lossy(p).into_owned()),
                Item::Pong => got.push("PONG".into()),
                Item::Ping(t) => got.push(format!("PING[{}]", String::from_utf8_lossy(t))),
                Item::Error(_) | Item::Other => {}
            });
        }
        (got, reader.replies, reader.closed)
    }

    /// The payloads of masked frames a client wrote.
    fn sent(mut bytes: Vec<u8>) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        Deframer::new()
            .feed(&mut bytes, |f| out.push((f.opcode, f.payload.to_vec())))
            .unwrap();
        out
    }

    #[test]
    fn evchat_frames_are_lines_and_pings_are_answered() {
        let mut s = Vec::new();
        let say = b"SAY p 2026-11-23T10:15:30.123Z hello";
        ws::encode(ws::TEXT, say, None, &mut s);
        ws::encode(ws::TEXT, b"PING 42", None, &mut s);
        ws::encode(ws::PING, b"hb", None, &mut s);
        // A message in two fragments, a ping between them.
        s.extend_from_slice(&[0x01, 6]);
        s.extend_from_slice(b"PONG b");
        ws::encode(ws::PING, b"", None, &mut s);
        s.extend_from_slice(&[0x80, 4]);
        s.extend_from_slice(b"ench");
        let (got, replies, closed) = run(Target::Evchat, &s);
        assert_eq!(got, ["hello", "PING[42]", "PONG"]);
        assert_eq!(closed, None);
        let replies = sent(replies);
        assert_eq!(replies[0], (ws::TEXT, b"PONG 42".to_vec()));
        assert_eq!(replies[1], (ws::PONG, b"hb".to_vec()));
        assert_eq!(replies[2], (ws::PONG, Vec::new()));
    }

    #[test]
    fn nats_stream_is_put_back_together_across_frames() {
        let stream = b"INFO {}\r\nMSG bench 1 3\r\nabc\r\nMSG bench 1 3\r\ndef\r\nPING\r\nPONG\r\n";
        let mut s = Vec::new();
        // Cut inside a MSG's header, its payload, and between two lines.
        for part in [
            &stream[..14],
            &stream[14..27],
            &stream[27..35],
            &stream[35..],
        ] {
            ws::encode(ws::BINARY, part, None, &mut s);
        }
        let (got, replies, _) = run(Target::Nats, &s);
        assert_eq!(got, ["abc", "def", "PING[]", "PONG"]);
        assert_eq!(sent(replies), [(ws::BINARY, b"PONG\r\n".to_vec())]);
    }

    #[test]
    fn a_close_or_a_broken_stream_says_why() {
        let mut s = Vec::new();
        ws::encode(ws::CLOSE, b"\x03\xeamasking required", None, &mut s);
        ws::encode(ws::TEXT, b"PONG x", None, &mut s);
        let (got, _, closed) = run(Target::Evchat, &s);
        assert!(got.is_empty());
        assert_eq!(
            closed.as_deref(),
            Some("WebSocket closed by the server: 1002 masking required")
        );
        let (_, _, closed) = run(Target::Evchat, &[0xC1, 0]);
        assert!(closed.unwrap().contains("reserved bits"));
    }

    #[test]
    fn evchat_lines_go_out_one_masked_frame_each() {
        let mut plain = Vec::new();
        Target::Evchat.subscribe("bench-3", &mut plain);
        let mut out = Vec::new();
        wrap(Target::Evchat, &plain, &mut out);
        assert_eq!(out[1] & 0x80, 0x80, "masked");
        let frames = sent(out);
        assert_eq!(
            frames,
            [
                (ws::TEXT, b"LOGIN bench-3".to_vec()),
                (ws::TEXT, b"PING bench".to_vec())
            ]
        );
    }
}
