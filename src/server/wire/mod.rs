//! What a connection speaks: one module per dialect, behind one interface.
//!
//! A connection's first line decides its dialect, once, here ([`sniff`]
//! over [`DIALECTS`]): the line protocol, or HTTP — which serves the page,
//! `/healthz` and `/metrics`, or becomes a WebSocket at `/ws`. From then
//! on its [`Dialect`] does two things:
//!
//! - **bytes in → input for the hub** ([`Dialect::decode`]): whole
//!   commands, parsed ([`Input::Frame`]); a refusal for a frame that is
//!   not one (the connection goes on); what the wire answers by itself (a
//!   WebSocket pong); the end of the dialect's session;
//! - **events out → its bytes** ([`Dialect::encoding`]): the hub writes
//!   [`Event`](crate::protocol::Event)s in their canonical form, lines, and
//!   an [`Encoding`] turns them into the wire's form. A batch of broadcasts
//!   is encoded once per encoding and shared by every connection that
//!   speaks it ([`Copies`]), so fan-out costs one encoding per kind of
//!   connection, not one per recipient.
//!
//! The hub never sees a wire format and the dialects never see the hub.
//! Adding a dialect is a module here (its decoder and, if it writes
//! differently, its [`Encoding`]) and its line in [`DIALECTS`].

pub mod http;
pub mod irc;
pub mod line;
mod shared;
mod sniffing;
pub mod websocket;

pub use shared::Copies;
pub use sniffing::Sniffing;

use crate::protocol::{Command, ErrorCode, Event};
use std::fmt::Debug;
use std::time::Instant;

/// How a kind of connection writes the canonical frames: connections
/// with the same encoding share every encoded chunk.
#[derive(Debug)]
pub struct Encoding {
    pub name: &'static str,
    pub frames: Transcode,
    /// How an event for one connection is written, when that depends on
    /// who reads it (IRC's numerics name the reader); otherwise as its
    /// canonical frame through `frames`.
    pub event: Option<EncodeEvent>,
}

/// Appends `lines` (canonical frames, each ending in LF) in an encoding.
/// With `starts`, records each frame's start as (offset in `lines`,
/// offset in `out`), so ranges of whole frames can be mapped.
pub type Transcode =
    fn(lines: &[u8], out: &mut Vec<u8>, starts: Option<&mut FrameStarts>, voice: &Voice);

/// Appends an event for one connection, written for `viewer`.
pub type EncodeEvent = fn(event: &Event<'_>, viewer: &Viewer<'_>, voice: &Voice, out: &mut Vec<u8>);

/// What encodings may say of the server itself (IRC's numerics come from
/// its name).
#[derive(Debug, Clone)]
pub struct Voice {
    pub server: std::rc::Rc<str>,
    /// The IRC channel that `SAY` is shown in.
    pub everyone: std::rc::Rc<str>,
    pub max_line: usize,
}

impl Default for Voice {
    fn default() -> Voice {
        Voice {
            server: "evchat".into(),
            everyone: "#everyone".into(),
            max_line: 4096,
        }
    }
}

/// Who an event for one connection is written for.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    /// The name it is logged in as.
    pub nick: Option<&'a str>,
    /// What its dialect said the frame being answered asked
    /// ([`Input::Asking`]).
    pub asked: u8,
    /// What it asked about, if the answer needs it (IRC's `ISON` list).
    pub about: Option<&'a str>,
}

/// What a frame asks, in its dialect's terms: a number of the dialect's
/// own, and what about when the answer needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    pub what: u8,
    pub about: Option<std::rc::Rc<str>>,
}

/// Where each frame starts: (offset in the canonical lines, offset in an
/// encoding's copy).
pub type FrameStarts = Vec<(u32, u32)>;

/// A connection's encoding (compared by address: one static each).
pub type WireKind = &'static Encoding;

/// Is `kind` the canonical encoding, which takes chunks as they are?
#[inline]
pub fn is_lines(kind: WireKind) -> bool {
    std::ptr::eq(kind, &line::LINES)
}

/// A frame that is not a command: answered with this error, and the
/// connection goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: ErrorCode,
    pub text: String,
}

/// What a dialect makes of the bytes it is fed.
#[derive(Debug)]
pub enum Input<'a> {
    /// A whole frame: a command, nothing (an empty line), or refused.
    Frame(Result<Option<Command<'a>>, Refused>),
    /// Bytes the wire sends back by itself (a WebSocket pong), or none for
    /// work the wire did alone (a line of an IRC multiline batch): one
    /// unit of work, and activity, not a frame.
    Answer(Vec<u8>),
    /// An HTTP request's head, whole (or the status to refuse it with),
    /// and what came after it on the connection (boxed: a request is rare
    /// and large, a frame common and small).
    Request(Box<(Result<http::Request, u16>, Vec<u8>)>),
    /// The first line has told what the connection speaks: it speaks
    /// `dialect` from now on, starting with `replay`.
    Decided(Box<dyn Dialect>, Vec<u8>),
    /// What the next frames ask, in the dialect's own terms, so its
    /// encoding can answer them in kind (see [`Viewer`]).
    Asking(Asked),
    /// From now on the connection's output is written in this encoding
    /// (negotiated: IRC's `server-time`), with these manners.
    Encoding(WireKind, Manners),
    /// What the hub queues for the connection from here up to
    /// `Label(None)` answers a command the client labeled (IRC's
    /// `labeled-response`), and is told as that label's response.
    Label(Option<std::rc::Rc<str>>),
    /// The peer ended the dialect's session (a WebSocket close, or a
    /// protocol error): the connection is closed.
    End,
}

/// What a dialect's clients expect of the hub beyond its frames.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Manners {
    /// Its own messages come back once accepted (IRC's `echo-message`).
    pub echo: bool,
    /// A refused login ends the connection (an IRC client cannot try
    /// again on the same connection; it reconnects).
    pub one_login: bool,
    /// Told when anyone goes away or comes back (IRC's `away-notify`).
    pub away_notify: bool,
    /// Held mail and room history come in `chathistory` batches (IRC's
    /// `batch`).
    pub history_batches: bool,
    /// Shown other clients' tags: messages' `TAGS` and `TAGMSG` frames
    /// (IRC's `message-tags`).
    pub client_tags: bool,
    /// A member's every prefix in names lists, not only its highest
    /// (IRC's `multi-prefix`: `@+bob`).
    pub all_prefixes: bool,
}

/// One connection's dialect: its decoder, and how its output is written.
pub trait Dialect: Debug {
    /// How this connection's output is written.
    fn encoding(&self) -> WireKind;

    /// Cuts `data` into input, calling `on` for each piece until it says
    /// stop (`false`); returns how many bytes were consumed. Bytes not
    /// consumed are fed again later.
    /// `now` is the loop turn's time (for deadlines).
    fn decode(&mut self, data: &[u8], now: Instant, on: &mut dyn FnMut(Input<'_>) -> bool)
        -> usize;

    /// Has it begun an HTTP request (so it is answered in HTTP)?
    fn is_http(&self) -> bool {
        false
    }

    /// When the connection is closed if its head has not come whole.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Moves the deadline earlier (a connection the server is too full
    /// for waits less).
    fn hurry(&mut self, _by: Instant) {}

    /// The wire's own last bytes, once, when the connection closes (a
    /// WebSocket close frame); `stopping`: the server is shutting down.
    fn farewell(&mut self, _stopping: bool, _out: &mut Vec<u8>) {}

    /// Bytes held between reads.
    fn buffered(&self) -> usize {
        0
    }

    /// The session is logged in as `name` (told after each decode while
    /// it is, and when a login is decided later).
    fn named(&mut self, _name: &str) {}

    /// Has it frames made from bytes already consumed that the hub has not
    /// taken yet? They are handed over at the next `decode`, even of
    /// nothing.
    fn has_pending(&self) -> bool {
        false
    }
}

/// When a connection still telling what it speaks, or still sending an
/// HTTP request's head, is closed if it has not come whole.
#[derive(Debug, Default, Clone, Copy)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    pub fn at(&self) -> Option<Instant> {
        self.0
    }

    /// Sets it, unless it is set already (a slow head keeps its first).
    pub fn start(&mut self, at: Instant) {
        self.0.get_or_insert(at);
    }

    /// Moves it to `by` if that is earlier.
    pub fn hurry(&mut self, by: Instant) {
        self.0 = Some(self.0.map_or(by, |d| d.min(by)));
    }

    pub fn clear(&mut self) {
        self.0 = None;
    }
}

/// The dialects a first line may show, tried in order; a connection that
/// shows none of them speaks the line protocol.
pub const DIALECTS: &[Sniffer] = &[http::sniff_dialect, irc::sniff_dialect];

/// A dialect's test of a first line: the dialect, if the line is its
/// own; `None` if it cannot be; [`Sniffed::NeedMore`] if too few bytes
/// have come to tell.
pub type Sniffer = fn(&[u8], &Settings) -> Sniffed;

/// A sniffer's verdict.
pub enum Sniffed {
    Mine(Box<dyn Dialect>),
    NotMine,
    NeedMore,
}

/// What the dialects are built with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_line: usize,
    /// HTTP (the page, `/ws`, health, metrics) on the chat port.
    pub web: bool,
    /// IRC on the chat port, and how.
    pub irc: Option<irc::Config>,
}

/// Decides what a connection speaks from its first bytes.
pub fn sniff(first: &[u8], settings: &Settings) -> Option<Box<dyn Dialect>> {
    let mut undecided = false;
    for sniffer in DIALECTS {
        match sniffer(first, settings) {
            Sniffed::Mine(dialect) => return Some(dialect),
            Sniffed::NeedMore => undecided = true,
            Sniffed::NotMine => {}
        }
    }
    if undecided {
        return None;
    }
    Some(Box::new(line::Lines::new(settings.max_line)))
}
