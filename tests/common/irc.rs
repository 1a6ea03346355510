//! A raw IRC client over TCP for conformance tests: it sends exactly what
//! a test writes (plus CRLF) and hands back every line the server sends,
//! parsed ([`Message`]), in order. Nothing is answered or dropped behind
//! the test's back, except where a method says so ([`Irc::sync`] answers
//! the server's PINGs, as every client must, and leaves them out).
//!
//! Messages are [`Message`](super::irc_message::Message)s.
//!
//! Waiting: each read blocks on the socket with a PATIENCE read timeout (a
//! hang guard); no sleeps. [`Irc::expect`] checks the very next message and
//! panics with it if it is not the one wanted; [`Irc::until`] returns the
//! ones before the wanted one, so a test sees what it passed over.
//!
//! Strict on purpose: a line not ending in CRLF, invalid UTF-8 or a line
//! that does not parse fails the test, showing the bytes: issue 20 says
//! lines end in CRLF, and a client library would choke on the others.

use super::irc_message::Message;
use super::PATIENCE;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};

/// What [`Irc::expect`] and [`Irc::until`] wait for: a command or numeric
/// (`"PRIVMSG"`, `"001"`), or any `Fn(&Message) -> bool`.
pub trait Want {
    fn wanted(&self, message: &Message) -> bool;
    fn describe(&self) -> String;
}

impl Want for &str {
    fn wanted(&self, message: &Message) -> bool {
        message.is(self)
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl<F: Fn(&Message) -> bool> Want for F {
    fn wanted(&self, message: &Message) -> bool {
        self(message)
    }
    fn describe(&self) -> String {
        "a message the test's predicate accepts".to_owned()
    }
}

/// What registration brought.
#[derive(Debug, Default)]
pub struct Welcome {
    /// The capabilities `CAP LS 302` listed (`name` or `name=value`),
    /// over however many `CAP * LS *` lines they came in.
    pub caps: Vec<String>,
    /// What the server acknowledged of those requested (empty if none).
    pub acked: Vec<String>,
    /// Every other line through `376`/`422`: notices before 001, a PING
    /// (answered), 001-005, LUSERS, the MOTD.
    pub lines: Vec<Message>,
    /// What came after the MOTD, up to a PING barrier (InspIRCd sets user
    /// mode `+i` then, for example).
    pub after: Vec<Message>,
}

impl Welcome {
    /// The first line with this command or numeric; panics if none.
    pub fn get(&self, command: &str) -> &Message {
        let found = self.lines.iter().find(|m| m.is(command));
        found.unwrap_or_else(|| panic!("no {command} in registration: {:#?}", self.lines))
    }

    /// ISUPPORT (005) tokens, `KEY` or `KEY=value`, in order.
    pub fn isupport(&self) -> Vec<&str> {
        let lines = self.lines.iter().filter(|m| m.is("005"));
        // 005 <nick> <token>... :are supported by this server
        let tokens = lines.flat_map(|m| &m.params[1..m.params.len().saturating_sub(1)]);
        tokens.map(String::as_str).collect()
    }
}

pub struct Irc {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// The nick last registered or confirmed (by `register`).
    pub nick: String,
    next_token: u64,
}

impl Irc {
    pub fn connect(addr: SocketAddr) -> Irc {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Irc {
            stream,
            reader,
            nick: String::new(),
            next_token: 0,
        }
    }

    /// Sends `line` plus CRLF.
    pub fn send(&mut self, line: &str) {
        assert!(!line.contains(['\r', '\n']), "a line with CR/LF: {line:?}");
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Sends bytes as they are (no CRLF added): for malformed input.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// The next line without CRLF; None at EOF or reset. Panics after
    /// PATIENCE, or on a line without CRLF or not UTF-8.
    pub fn try_recv(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf).into_owned();
                assert!(
                    buf.ends_with(b"\r\n"),
                    "a line not ending in CRLF: {text:?}"
                );
                buf.truncate(buf.len() - 2);
                Some(String::from_utf8(buf).unwrap_or_else(|_| panic!("not UTF-8: {text:?}")))
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("no line from the server within {PATIENCE:?}")
            }
            Err(_) => None,
        }
    }

    /// The next line without CRLF; panics at EOF.
    pub fn recv(&mut self) -> String {
        let line = self.try_recv();
        line.unwrap_or_else(|| panic!("connection closed while a line was expected"))
    }

    /// The next line, parsed; panics if it does not parse.
    pub fn recv_msg(&mut self) -> Message {
        Message::parse(&self.recv()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next message, which must be what `want` says.
    pub fn expect(&mut self, want: impl Want) -> Message {
        let message = self.recv_msg();
        let wanted = want.wanted(&message);
        assert!(
            wanted,
            "expected {}, got {:?}",
            want.describe(),
            message.raw
        );
        message
    }

    /// Messages until one `want` accepts: (those before it, it).
    pub fn until(&mut self, want: impl Want) -> (Vec<Message>, Message) {
        let mut before = Vec::new();
        loop {
            let message = match self.try_recv() {
                Some(line) => Message::parse(&line).unwrap_or_else(|e| panic!("{e}")),
                None => panic!("closed before {}; got {before:#?}", want.describe()),
            };
            if want.wanted(&message) {
                return (before, message);
            }
            before.push(message);
        }
    }

    /// PING barrier: sends `PING :<token>` and returns every message that
    /// came before its PONG. The server's own PINGs are answered on the way
    /// and left out, as [`Line::sync`](super::Line::sync) does.
    pub fn sync(&mut self) -> Vec<Message> {
        self.next_token += 1;
        let token = format!("harness-{}", self.next_token);
        self.send(&format!("PING :{token}"));
        let mut seen = Vec::new();
        loop {
            let message = self.recv_msg();
            if message.is("PONG") && message.params.last() == Some(&token) {
                return seen;
            }
            if message.is("PING") {
                let theirs = message.params.last().cloned().unwrap_or_default();
                self.send(&format!("PONG :{theirs}"));
                continue;
            }
            seen.push(message);
        }
    }

    /// Registers as `nick` with no capabilities: `CAP LS 302`, `NICK`,
    /// `USER`, `CAP END`, then everything through the MOTD (or 422).
    pub fn register(&mut self, nick: &str) -> Welcome {
        self.register_with(nick, &[])
    }

    /// As [`register`](Self::register), requesting `caps` (one `CAP REQ`;
    /// the server must ACK them all: a NAK fails the test).
    pub fn register_with(&mut self, nick: &str, caps: &[&str]) -> Welcome {
        self.send("CAP LS 302");
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :harness {nick}"));
        let mut welcome = Welcome::default();
        // `CAP * LS * :a b` continues, `CAP * LS :c` ends the list.
        loop {
            let message = self.next_in_registration(&welcome);
            if !(message.is("CAP") && message.param(1) == "LS") {
                welcome.lines.push(message);
                continue;
            }
            welcome
                .caps
                .extend(message.last().split_whitespace().map(str::to_owned));
            if message.params.len() < 4 {
                break;
            }
        }
        if !caps.is_empty() {
            match self.request_caps(caps) {
                Ok(acked) => welcome.acked = acked,
                Err(naked) => panic!("caps refused: {naked:?}; server has {:?}", welcome.caps),
            }
        }
        self.send("CAP END");
        loop {
            let message = self.next_in_registration(&welcome);
            let done = message.is("376") || message.is("422");
            if message.is("001") {
                self.nick = message.param(0).to_owned();
            }
            welcome.lines.push(message);
            if done {
                break;
            }
        }
        welcome.after = self.sync();
        welcome
    }

    /// A registration line; fails the test on an error reply or ERROR,
    /// with everything received so far. A PING (a server's cookie before
    /// 001) is answered, as clients do, and kept in the lines.
    fn next_in_registration(&mut self, so_far: &Welcome) -> Message {
        let message = self.recv_msg();
        if message.is("PING") {
            self.send(&format!(
                "PONG :{}",
                message.params.last().map_or("", |p| p)
            ));
        }
        let error = message.command.starts_with(['4', '5']) || message.is("ERROR");
        assert!(!error, "registration failed: {message}\nafter {so_far:#?}");
        message
    }

    /// `CAP REQ :<caps>` and its answer: Ok(the acknowledged caps) or
    /// Err(the refused ones). IRCv3: a request is granted or refused whole.
    /// Must come when nothing else is in flight (before `CAP END`, or after
    /// a [`sync`](Self::sync)): the next message must be the answer.
    pub fn request_caps(&mut self, caps: &[&str]) -> Result<Vec<String>, Vec<String>> {
        self.send(&format!("CAP REQ :{}", caps.join(" ")));
        let answer = self.expect(|m: &Message| {
            m.is("CAP") && matches!(m.params.get(1).map(String::as_str), Some("ACK" | "NAK"))
        });
        let listed = answer
            .last()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        match answer.param(1) {
            "ACK" => Ok(listed),
            _ => Err(listed),
        }
    }

    /// Reads until the server closes the connection; returns what came.
    pub fn until_closed(&mut self) -> Vec<Message> {
        let mut seen = Vec::new();
        while let Some(line) = self.try_recv() {
            seen.push(Message::parse(&line).unwrap_or_else(|e| panic!("{e}")));
        }
        seen
    }

    /// `QUIT :<reason>`, then everything until the server closes, which
    /// must include an `ERROR` (RFC 2812 3.1.7).
    pub fn quit(&mut self, reason: &str) -> Vec<Message> {
        self.send(&format!("QUIT :{reason}"));
        let seen = self.until_closed();
        assert!(
            seen.iter().any(|m| m.is("ERROR")),
            "no ERROR before close: {seen:#?}"
        );
        seen
    }
}
