//! WebSocket clients for tests: one on a real client library
//! (`tungstenite`), as a browser-protocol user is, and a raw one that
//! writes whatever frames a test wants — unmasked, binary, broken — with
//! the client-side codec the bench uses (`evchat::bench::ws`).

use super::PATIENCE;
use evchat::bench::ws::{self, Deframer};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

/// A WebSocket chat user on `tungstenite`.
pub struct Ws {
    pub socket: WebSocket<TcpStream>,
    next_token: u64,
}

impl Ws {
    /// Opens `/ws`, with an `Origin` header when given.
    pub fn connect(addr: SocketAddr, origin: Option<&str>) -> Result<Ws, tungstenite::Error> {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut request = format!("ws://{addr}/ws").into_client_request()?;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().expect("an origin"));
        }
        let (socket, _) = tungstenite::client::client(request, stream).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => panic!("blocking handshake interrupted"),
        })?;
        Ok(Ws {
            socket,
            next_token: 0,
        })
    }

    pub fn open(addr: SocketAddr) -> Ws {
        Ws::connect(addr, None).expect("WebSocket handshake")
    }

    /// Opens `/ws` and logs in.
    pub fn login(addr: SocketAddr, name: &str) -> Ws {
        let mut ws = Ws::open(addr);
        ws.send(&format!("LOGIN {name}"));
        ws.expect(&format!("OK LOGIN {name}"));
        ws
    }

    pub fn send(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .expect("send a message");
    }

    /// The next message; control frames are answered on the way.
    pub fn try_recv(&mut self) -> Option<Message> {
        loop {
            match self.socket.read() {
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(message) => return Some(message),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("no message within {PATIENCE:?}")
                }
                Err(_) => return None,
            }
        }
    }

    /// The next text message.
    pub fn recv(&mut self) -> String {
        match self.try_recv() {
            Some(Message::Text(text)) => text.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    pub fn expect(&mut self, prefix: &str) -> String {
        let text = self.recv();
        assert!(
            text.starts_with(prefix),
            "expected {prefix:?}, got {text:?}"
        );
        text
    }

    /// PING barrier, as `Line::sync`: every message before our PONG.
    pub fn sync(&mut self) -> Vec<String> {
        self.next_token += 1;
        let token = format!("w{}", self.next_token);
        self.send(&format!("PING {token}"));
        let pong = format!("PONG {token}");
        let mut texts = Vec::new();
        loop {
            let text = self.recv();
            if text == pong {
                return texts;
            }
            match text.strip_prefix("PING ") {
                Some(theirs) => self.send(&format!("PONG {theirs}")),
                None => texts.push(text),
            }
        }
    }

    /// Reads until the close frame; returns its code and what came before.
    pub fn until_close(&mut self) -> (Option<u16>, Vec<String>) {
        let mut texts = Vec::new();
        loop {
            match self.try_recv() {
                Some(Message::Text(text)) => texts.push(text.to_string()),
                Some(Message::Close(frame)) => {
                    return (frame.map(|f| u16::from(f.code)), texts);
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => return (None, texts),
            }
        }
    }

    pub fn close(&mut self, code: u16) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        self.socket.close(Some(frame)).expect("send a close frame");
    }
}

/// A WebSocket connection that sends raw frames, through the library's
/// client-side codec (`evchat::bench::ws`, the bench's own).
pub struct RawWs {
    pub stream: TcpStream,
    deframer: Deframer,
    /// Frames read but not yet asked for.
    frames: VecDeque<Frame>,
}

/// A frame the server sent: opcode and payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn text(&self) -> String {
        String::from_utf8(self.payload.clone()).expect("UTF-8 text")
    }

    /// A close frame's code.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, 8, "not a close frame: {self:?}");
        let code = self.payload.get(..2)?;
        Some(u16::from_be_bytes([code[0], code[1]]))
    }
}

/// Sends an upgrade request with `headers` and returns the raw answer's
/// head and the stream.
pub fn handshake(addr: SocketAddr, headers: &str) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let request = format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    (String::from_utf8_lossy(&head).into_owned(), stream)
}

/// The headers of a good upgrade.
pub const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                           Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

impl RawWs {
    pub fn open(addr: SocketAddr) -> RawWs {
        let (head, stream) = handshake(addr, UPGRADE);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        RawWs {
            stream,
            deframer: Deframer::new(),
            frames: VecDeque::new(),
        }
    }

    /// A frame as a client sends it: masked unless `mask` is `None`.
    pub fn frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = Vec::new();
        ws::encode_frame(fin, opcode, payload, mask, &mut out);
        out
    }

    pub fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let frame = RawWs::frame(fin, opcode, payload, Some([0x37, 0xfa, 0x21, 0x3d]));
        self.stream.write_all(&frame).expect("send a frame");
    }

    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, 1, text.as_bytes());
    }

    /// The next frame the server sent, or `None` at EOF. The server's
    /// frames must be well formed and unmasked.
    pub fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return Some(frame);
            }
            let mut chunk = [0u8; 16 << 10];
            let n = match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            let frames = &mut self.frames;
            self.deframer
                .feed(&mut chunk[..n], |f| {
                    assert!(!f.masked, "a server frame must not be masked");
                    frames.push_back(Frame {
                        fin: f.fin,
                        opcode: f.opcode,
                        payload: f.payload.to_vec(),
                    });
                })
                .unwrap_or_else(|e| panic!("a broken frame from the server: {e}"));
        }
    }

    /// The next text message's text.
    pub fn recv(&mut self) -> String {
        let frame = self.read_frame().expect("a frame");
        assert_eq!(frame.opcode, 1, "not a text frame: {frame:?}");
        frame.text()
    }

    /// Reads frames until the close frame, then checks the server closes
    /// the connection too. Returns the close frame's code.
    pub fn until_close(&mut self) -> Option<u16> {
        loop {
            let frame = self.read_frame().expect("a close frame before EOF");
            if frame.opcode == 8 {
                return frame.close_code();
            }
        }
    }
}
