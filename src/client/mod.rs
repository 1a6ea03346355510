//! The client library: what a program needs to chat through evchat without
//! touching sockets or escaping.
//!
//! ```no_run
//! use evchat::client::{Client, Event};
//! let mut client = Client::connect("127.0.0.1:5555")?;
//! client.login("logbot")?;
//! client.say("hello, everyone")?;
//! client.msg(&["alice"], "and hello to you")?;
//! loop {
//!     match client.recv()? {
//!         Event::Say { from, text, .. } => println!("{from}: {text}"),
//!         Event::Bye => break,
//!         _ => {}
//!     }
//! }
//! # Ok::<(), evchat::client::Error>(())
//! ```
//!
//! [`Client::split`] gives a [`Sender`] (cloneable, usable from any thread)
//! and a [`Receiver`] for a reader thread; the CLI client works that way.
//! Keep-alive PINGs from the server are answered inside [`Receiver::recv`],
//! so a program that keeps receiving is never timed out.
//!
//! The terminal client (`evchat-client`) is built on it: [`cli`] and
//! `settings` read the flags and config, `reader` is its reader thread,
//! which only hands rendered events on (`away` tells it which came at
//! login, `topics` which `TOPIC` only tells what a topic is), and
//! `reconnect` makes a lost connection again; in a terminal one thread
//! — the `console`, with its own `line_editor`, `keys` decoder and `tty`
//! mode — owns the screen and is the only one that writes to it, so no
//! received line is drawn over or lost. [`display`] renders
//! events and [`visible`] makes every control character of untrusted text
//! visible; [`input`] interprets what is typed; [`tls`] is the client side
//! of TLS.
//!
//! The library proper — this module's types, [`tls`] and [`visible`] — is
//! the `client` feature; everything only the terminal client uses (`cli`,
//! `settings`, `reader`, `away`, `topics`, `reconnect`, `console`,
//! `line_editor`, `keys`, `tty`, `display`, `input`) is the `terminal`
//! feature, with clap, the config files and local time, so a program that
//! only chats does not build them.

#[cfg(feature = "terminal")]
mod away;
#[cfg(feature = "terminal")]
pub mod cli;
#[cfg(feature = "terminal")]
mod console;
#[cfg(feature = "terminal")]
pub mod display;
#[cfg(feature = "terminal")]
pub mod input;
#[cfg(feature = "terminal")]
mod keys;
#[cfg(feature = "terminal")]
mod line_editor;
#[cfg(feature = "terminal")]
mod reader;
#[cfg(feature = "terminal")]
mod reconnect;
#[cfg(feature = "terminal")]
mod settings;
pub mod tls;
#[cfg(feature = "terminal")]
mod topics;
#[cfg(feature = "terminal")]
mod tty;
pub mod visible;

use crate::protocol::{escape, is_valid_name, is_valid_room, BadFrame, Command, Text};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::protocol::ServerFrame as Event;

/// Longest frame accepted from the server; a longer one is a protocol error.
const MAX_FRAME: usize = 16 << 20;

/// What can go wrong talking to the server.
#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The server closed the connection.
    Closed,
    /// The server sent something this library does not understand.
    Protocol(BadFrame),
    /// The server answered with `ERR` where an answer was awaited.
    Refused {
        code: u16,
        text: String,
    },
    /// The caller's input cannot be sent (empty text, bad name).
    Invalid(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Closed => write!(f, "the server closed the connection"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Refused { code, text } => write!(f, "refused ({code}): {text}"),
            Error::Invalid(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

/// The sending half: cheap to clone, safe to share between threads. Each
/// frame is written whole under a lock, so frames never interleave.
#[derive(Debug, Clone)]
pub struct Sender {
    stream: Arc<Mutex<tls::WriteHalf>>,
}

impl Sender {
    fn send(&self, command: &Command<'_>) -> Result<(), Error> {
        let mut frame = Vec::with_capacity(64);
        command.encode(&mut frame);
        let mut stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        stream.write_all(&frame)?;
        Ok(())
    }

    /// Broadcasts `text` (any text, line breaks included) to everyone else.
    pub fn say(&self, text: &str) -> Result<(), Error> {
        let escaped = escape(text);
        self.send(&Command::Say {
            text: checked_text(&escaped)?,
            tags: None,
        })
    }

    /// Sends `text` to each of `to`: names (privately; offline users get
    /// it later) and rooms you are in (`#rust`), each once.
    pub fn msg(&self, to: &[&str], text: &str) -> Result<(), Error> {
        if to.is_empty() {
            return Err(Error::Invalid("a message needs a recipient".into()));
        }
        if let Some(bad) = to.iter().find(|n| !is_valid_name(n) && !is_valid_room(n)) {
            return Err(Error::Invalid(format!("bad name or room {bad:?}")));
        }
        let to = to.join(",");
        let escaped = escape(text);
        self.send(&Command::Msg {
            to: &to,
            text: checked_text(&escaped)?,
            tags: None,
        })
    }

    /// Asks who is online; the answer arrives as [`Event::Users`].
    pub fn who(&self) -> Result<(), Error> {
        self.send(&Command::Who)
    }

    /// Joins `room` (`#rust`), making it if need be: the server answers
    /// [`Event::Join`], then what the room remembers.
    pub fn join(&self, room: &str) -> Result<(), Error> {
        self.send(&Command::Join {
            room: checked_room(room)?,
            key: None,
        })
    }

    /// Joins `room` with its key (a room set `+k`).
    pub fn join_with_key(&self, room: &str, key: &str) -> Result<(), Error> {
        if key.is_empty() || key.contains([' ', '\n', '\r', '\0']) {
            return Err(Error::Invalid("a room key is one word".into()));
        }
        self.send(&Command::Join {
            room: checked_room(room)?,
            key: Some(key),
        })
    }

    /// Asks `room`'s topic (`None`), or sets it (`Some("")` clears it):
    /// answered or told as [`Event::Topic`].
    pub fn topic(&self, room: &str, text: Option<&str>) -> Result<(), Error> {
        let escaped = text.map(escape);
        let text = match escaped.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(t) => Some(Some(checked_text(t)?)),
        };
        self.send(&Command::Topic {
            room: checked_room(room)?,
            text,
        })
    }

    /// Asks `room`'s modes (`None`) or changes them, as IRC writes them
    /// (`"+o bob"`, `"+k secret"`, `"-t"`, `"+b"` for the bans).
    pub fn mode(&self, room: &str, changes: Option<&str>) -> Result<(), Error> {
        if changes.is_some_and(|c| c.contains(['\n', '\r', '\0'])) {
            return Err(Error::Invalid("mode changes are one line".into()));
        }
        self.send(&Command::Mode {
            room: checked_room(room)?,
            changes: changes.filter(|c| !c.trim().is_empty()),
        })
    }

    /// Puts `name` out of `room` (operators only), with an optional why.
    pub fn kick(&self, room: &str, name: &str, text: Option<&str>) -> Result<(), Error> {
        if !is_valid_name(name) {
            return Err(Error::Invalid(format!("bad name {name:?}")));
        }
        let escaped = text.map(escape);
        let text = match &escaped {
            Some(t) => Some(checked_text(t)?),
            None => None,
        };
        self.send(&Command::Kick {
            room: checked_room(room)?,
            name,
            text,
        })
    }

    /// Takes another name (a server without accounts): answered
    /// [`Event::Renamed`], or an error if the name is taken.
    pub fn nick(&self, name: &str) -> Result<(), Error> {
        if !is_valid_name(name) {
            return Err(Error::Invalid(format!("bad name {name:?}")));
        }
        self.send(&Command::Nick { name })
    }

    /// Invites `name` into `room`.
    pub fn invite(&self, name: &str, room: &str) -> Result<(), Error> {
        if !is_valid_name(name) {
            return Err(Error::Invalid(format!("bad name {name:?}")));
        }
        self.send(&Command::Invite {
            name,
            room: checked_room(room)?,
        })
    }

    /// Leaves `room`, with an optional goodbye; the server answers
    /// [`Event::Part`].
    pub fn part(&self, room: &str, text: Option<&str>) -> Result<(), Error> {
        let escaped = text.map(escape);
        let text = match &escaped {
            Some(t) if !t.is_empty() => Some(checked_text(t)?),
            _ => None,
        };
        self.send(&Command::Part {
            room: checked_room(room)?,
            text,
        })
    }

    /// Marks you away with `text`, or back without; the server answers
    /// [`Event::Away`], and tells whoever messages you while away.
    pub fn away(&self, text: Option<&str>) -> Result<(), Error> {
        let escaped = text.map(escape);
        let text = match &escaped {
            Some(t) if !t.is_empty() => Some(checked_text(t)?),
            _ => None,
        };
        self.send(&Command::Away { text })
    }

    /// Asks what the server knows of `name`; the answer arrives as
    /// [`Event::Whois`] (or an `ERR 404` for a name it does not know).
    pub fn whois(&self, name: &str) -> Result<(), Error> {
        self.send(&Command::Whois {
            name: checked_name(name)?,
        })
    }

    /// Asks which rooms there are; the answer arrives as [`Event::List`].
    pub fn list(&self) -> Result<(), Error> {
        self.send(&Command::List)
    }

    /// Asks which rooms you are in; the answer arrives as [`Event::Rooms`].
    pub fn rooms(&self) -> Result<(), Error> {
        self.send(&Command::Rooms)
    }

    /// Asks who of `room` is online; the answer arrives as
    /// [`Event::RoomUsers`].
    pub fn who_in(&self, room: &str) -> Result<(), Error> {
        self.send(&Command::WhoIn {
            room: checked_room(room)?,
        })
    }

    /// Asks for server counters; the answer arrives as [`Event::Stats`].
    pub fn stats(&self) -> Result<(), Error> {
        self.send(&Command::Stats)
    }

    /// Sends `PING <token>`; the server's `PONG <token>` proves every earlier
    /// frame of this connection was fully processed.
    pub fn ping(&self, token: &str) -> Result<(), Error> {
        let token = (!token.is_empty()).then_some(token);
        self.send(&Command::Ping { token })
    }

    fn pong(&self, token: Option<&str>) -> Result<(), Error> {
        self.send(&Command::Pong { token })
    }

    /// Says goodbye; `text` is shown to others in the LEFT notice. The
    /// server answers [`Event::Bye`] and closes.
    pub fn quit(&self, text: Option<&str>) -> Result<(), Error> {
        let escaped = text.map(escape);
        let text = match &escaped {
            Some(t) if !t.is_empty() => Some(checked_text(t)?),
            _ => None,
        };
        self.send(&Command::Quit { text })
    }

    /// Closes the connection without a QUIT.
    pub fn shutdown(&self) {
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        stream.shutdown();
    }
}

fn checked_name(name: &str) -> Result<&str, Error> {
    if is_valid_name(name) {
        Ok(name)
    } else {
        Err(Error::Invalid(format!("bad name {name:?}")))
    }
}

fn checked_room(room: &str) -> Result<&str, Error> {
    if is_valid_room(room) {
        Ok(room)
    } else {
        Err(Error::Invalid(format!("bad room {room:?}")))
    }
}

fn checked_text(escaped: &str) -> Result<Text<'_>, Error> {
    Text::parse(escaped).map_err(|e| Error::Invalid(e.to_string()))
}

/// The receiving half, for one reader (thread).
#[derive(Debug)]
pub struct Receiver {
    reader: BufReader<tls::ReadHalf>,
    sender: Sender,
    line: Vec<u8>,
}

impl Receiver {
    /// Waits for the next event. Server PINGs are answered here and not
    /// returned. After [`Event::Bye`], the next call returns
    /// [`Error::Closed`].
    pub fn recv(&mut self) -> Result<Event, Error> {
        loop {
            match self.recv_with_pings()? {
                Event::Ping { .. } => {}
                event => return Ok(event),
            }
        }
    }

    /// As [`Receiver::recv`], but a server `PING` is returned too, once it
    /// has been answered: it ends what the server sent at login (held
    /// mail, rooms' catch-up), or each window of it.
    pub fn recv_with_pings(&mut self) -> Result<Event, Error> {
        loop {
            self.read_line()?;
            let line = std::str::from_utf8(&self.line)
                .map_err(|_| Error::Protocol(BadFrame("frame is not UTF-8".into())))?;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let event = Event::parse(line).map_err(Error::Protocol)?;
            if let Event::Ping { token } = &event {
                self.sender.pong(token.as_deref())?;
            }
            return Ok(event);
        }
    }

    /// Limits how long [`Receiver::recv`] waits (`None`: forever).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.reader.get_ref().set_read_timeout(timeout)?;
        Ok(())
    }

    /// Reads one line into `self.line`, without its LF, bounded in size.
    fn read_line(&mut self) -> Result<(), Error> {
        self.line.clear();
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if available.is_empty() {
                return Err(Error::Closed);
            }
            let (chunk, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1),
                None => (available, available.len()),
            };
            if self.line.len() + chunk.len() > MAX_FRAME {
                return Err(Error::Protocol(BadFrame("frame too long".into())));
            }
            self.line.extend_from_slice(chunk);
            let complete = done > chunk.len();
            self.reader.consume(done);
            if complete {
                return Ok(());
            }
        }
    }
}

/// A connection to an evchat server.
#[derive(Debug)]
pub struct Client {
    sender: Sender,
    receiver: Receiver,
}

impl std::ops::Deref for Client {
    type Target = Sender;

    fn deref(&self) -> &Sender {
        &self.sender
    }
}

impl Client {
    /// Connects; nothing is sent until [`Client::login`].
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Client, Error> {
        let stream = TcpStream::connect(addr)?;
        Client::over(stream, None)
    }

    /// Connects with TLS, checking the server's certificate for `host`
    /// against `config`'s roots (see [`tls::client_config`]).
    pub fn connect_tls(
        addr: impl ToSocketAddrs,
        host: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Client, Error> {
        let stream = TcpStream::connect(addr)?;
        let session = tls::handshake(&stream, host, config)?;
        Client::over(stream, Some(session))
    }

    fn over(
        stream: TcpStream,
        session: Option<Arc<Mutex<rustls::ClientConnection>>>,
    ) -> Result<Client, Error> {
        let _ = stream.set_nodelay(true);
        let (read, write) = tls::split(stream, session)?;
        let sender = Sender {
            stream: Arc::new(Mutex::new(write)),
        };
        let receiver = Receiver {
            reader: BufReader::with_capacity(64 << 10, read),
            sender: sender.clone(),
            line: Vec::new(),
        };
        Ok(Client { sender, receiver })
    }

    /// Connects and logs in as `name`.
    pub fn connect_as(addr: impl ToSocketAddrs, name: &str) -> Result<Client, Error> {
        let mut client = Client::connect(addr)?;
        client.login(name)?;
        Ok(client)
    }

    /// Logs in and waits for the answer. A refusal (`ERR 409` for a name
    /// already online, say) leaves the connection open for another try.
    pub fn login(&mut self, name: &str) -> Result<(), Error> {
        self.login_with(name, None)
    }

    /// Logs in with a password, for servers that have accounts.
    pub fn login_with(&mut self, name: &str, password: Option<&str>) -> Result<(), Error> {
        self.login_as(name, password).map(|_| ())
    }

    /// As [`Client::login_with`], returning the name as the server shows
    /// it (names are one in any case: `LOGIN BOB` may be `bob`).
    pub fn login_as(&mut self, name: &str, password: Option<&str>) -> Result<String, Error> {
        if !is_valid_name(name) {
            return Err(Error::Invalid(crate::protocol::bad_name(name)));
        }
        let escaped = password.map(escape);
        let password = match &escaped {
            Some(p) => Some(
                Text::parse(p)
                    .map_err(|_| Error::Invalid("the password must not be empty".into()))?,
            ),
            None => None,
        };
        self.sender.send(&Command::Login { name, password })?;
        loop {
            match self.receiver.recv()? {
                Event::LoggedIn { name } => return Ok(name),
                Event::Error { code, text } => return Err(Error::Refused { code, text }),
                _ => {}
            }
        }
    }

    /// Waits for the next event.
    pub fn recv(&mut self) -> Result<Event, Error> {
        self.receiver.recv()
    }

    /// A barrier: returns once the server has processed everything this
    /// client sent before, with the events that arrived meanwhile.
    pub fn sync(&mut self) -> Result<Vec<Event>, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let token = format!("sync-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.sender.ping(&token)?;
        let mut events = Vec::new();
        loop {
            match self.receiver.recv()? {
                Event::Pong { token: Some(t) } if t == token => return Ok(events),
                event => events.push(event),
            }
        }
    }

    /// A clone of the sending half.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// Splits into halves for a writer and a reader thread.
    pub fn split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }

    /// Limits how long receiving waits (`None`: forever).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), Error> {
        self.receiver.set_timeout(timeout)
    }
}
