//! IRC on the chat port (RFC 1459/2812 as clients use them, with the
//! IRCv3 pieces listed in docs/IRC.md): a connection whose first line
//! starts with `CAP`, `NICK`, `USER` or `PASS` speaks it.
//!
//! Like every dialect it only translates. In: each IRC line
//! ([`message`]) becomes the line protocol's frames, parsed by the line
//! protocol's own parser ([`translate`]), or is answered by the dialect
//! itself where the hub has nothing to say (`CAP`, `MOTD`, a bad
//! command's numeric). Out: the hub's canonical frames are written as IRC
//! ([`encode`]): shared frames once per batch for every IRC connection of
//! an encoding (one per set of capabilities that change how lines are
//! written), replies to one connection with its nick and what it asked
//! ([`reply`]).
//!
//! A room is a channel. `SAY`, the broadcast to everyone online, is the
//! channel named by `--everyone` (default `#everyone`), which every IRC
//! user is in: logins and logouts are its `JOIN`s and `QUIT`s.

mod cap;
mod channel_in;
mod channel_out;
mod encode;
mod list_filter;
pub mod message;
mod multiline;
mod reply;
mod sasl;
mod text_out;
mod translate;
mod whois;

pub use encode::{encoding_for, tag_each_line, Style, IRC, IRC_TAGS};

use super::{Asked, Dialect, Input, Manners, Settings, Sniffed, WireKind};
use crate::protocol::{Frame, FrameDecoder};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

/// What the IRC dialect is set up with (`--server-name`, `--everyone`).
#[derive(Debug, Clone)]
pub struct Config {
    /// The name numerics come from.
    pub server: Rc<str>,
    /// The channel `SAY` is shown in (lower case).
    pub everyone: Rc<str>,
    /// The line limit, told to clients as `LINELEN`.
    pub max_line: usize,
}

/// What an IRC line asked the hub, so the reply is told in IRC's terms
/// (which numeric an `ERR 403` becomes depends on the command).
pub mod asked {
    pub const OTHER: u8 = 0;
    pub const REGISTER: u8 = 1;
    pub const PRIVMSG: u8 = 2;
    pub const NOTICE: u8 = 3;
    pub const JOIN: u8 = 4;
    pub const PART: u8 = 5;
    pub const NAMES: u8 = 6;
    pub const WHO: u8 = 7;
    /// The `NAMES` of the everyone channel after registration (its errors,
    /// as after a refused login, say nothing).
    pub const EVERYONE: u8 = 8;
    pub const LUSERS: u8 = 9;
    pub const ISON: u8 = 10;
    pub const USERHOST: u8 = 11;
    pub const WHOIS: u8 = 12;
    pub const AWAY: u8 = 13;
    pub const WHOWAS: u8 = 14;
    pub const LIST: u8 = 15;
    /// A `PING` whose token is the `about`.
    pub const PING: u8 = 16;
    /// SASL's check of a password (`AUTH`).
    pub const SASL: u8 = 17;
    pub const TOPIC: u8 = 18;
    pub const MODE: u8 = 19;
    /// A `KICK` of the `about` nick.
    pub const KICK: u8 = 20;
    /// An `INVITE` of the `about` nick.
    pub const INVITE: u8 = 21;
    /// A `NICK` once registered; `about` is the nick before it.
    pub const NICK: u8 = 22;
}

/// Is this first line IRC's? Only registration starts a session.
pub fn sniff_dialect(first: &[u8], settings: &Settings) -> Sniffed {
    let Some(config) = &settings.irc else {
        return Sniffed::NotMine;
    };
    const WORDS: [&str; 4] = ["CAP", "NICK", "USER", "PASS"];
    let word_end = first
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n');
    let Some(end) = word_end else {
        // "NIC" may still become "NICK"; "LOG" can only be a line.
        let may_be = WORDS.iter().any(|w| {
            w.as_bytes()
                .get(..first.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(first))
        });
        return if may_be {
            Sniffed::NeedMore
        } else {
            Sniffed::NotMine
        };
    };
    let word = first.get(..end).unwrap_or_default();
    if WORDS
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
    {
        Sniffed::Mine(Box::new(Irc::new(config.clone(), settings.max_line)))
    } else {
        Sniffed::NotMine
    }
}

/// One IRC connection's state: its registration, its capabilities, and
/// frames a line made that the hub has not taken yet.
#[derive(Debug)]
pub struct Irc {
    config: Config,
    decoder: FrameDecoder,
    max_line: usize,
    nick: Option<String>,
    password: Option<String>,
    user_given: bool,
    /// `CAP LS` or `REQ` came before registration: it waits for `CAP END`.
    negotiating: bool,
    /// `LOGIN` was sent: the hub decides the rest of registration.
    registered: bool,
    /// The hub logged it in, as `nick`.
    logged_in: bool,
    caps: cap::Caps,
    sasl: sasl::Sasl,
    /// The account SASL named: registration logs it in.
    sasl_account: Option<String>,
    /// Frames for the hub made from one line, not all taken yet (the hub
    /// paused the connection or its turn's work ran out between them).
    pending: VecDeque<Pending>,
    /// The closing `ERROR` line was queued.
    said_farewell: bool,
    /// A `draft/multiline` batch being received.
    incoming: Option<multiline::Incoming>,
    /// The line was work with no answer and no frame (a line of a
    /// multiline batch): told to the hub as an empty answer, so it is
    /// activity and charged.
    quiet_work: bool,
    /// The label of the open multiline batch's `BATCH +` line: its
    /// response is the message's, when `BATCH -` sends it.
    batch_label: Option<Rc<str>>,
}

/// What a line made for the hub: frames, and the end of a labeled
/// command's.
#[derive(Debug)]
enum Pending {
    Frame(Asked, Vec<u8>),
    LabelEnd,
}

impl Irc {
    pub fn new(config: Config, max_line: usize) -> Irc {
        Irc {
            config,
            decoder: FrameDecoder::new(max_line),
            max_line,
            nick: None,
            password: None,
            user_given: false,
            negotiating: false,
            registered: false,
            logged_in: false,
            caps: cap::Caps::default(),
            sasl: sasl::Sasl::default(),
            sasl_account: None,
            pending: VecDeque::new(),
            said_farewell: false,
            incoming: None,
            quiet_work: false,
            batch_label: None,
        }
    }

    /// The label a line carries, if the client negotiated labeled
    /// responses (which need `batch`): at most 64 bytes, kept escaped.
    fn label_of(&self, line: &[u8]) -> Option<Rc<str>> {
        if !(self.caps.labeled_response && self.caps.batch) {
            return None;
        }
        let tags = line.strip_prefix(b"@")?;
        let (tags, command) = tags.split_at(memchr::memchr(b' ', tags)?);
        // A QUIT's answer is the end of the connection: nothing to label.
        let mut words = command.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let verb = words.find(|w| !w.starts_with(b":"))?;
        if verb.eq_ignore_ascii_case(b"QUIT") {
            return None;
        }
        let value = tags
            .split(|&b| b == b';')
            .find_map(|tag| tag.strip_prefix(b"label="))?;
        let printable = value.iter().all(|b| b.is_ascii_graphic());
        if value.is_empty() || value.len() > 64 || !printable {
            return None;
        }
        std::str::from_utf8(value).ok().map(Rc::from)
    }

    /// Hands pending frames to the hub while it takes them.
    fn drain(&mut self, on: &mut dyn FnMut(Input<'_>) -> bool) -> bool {
        while let Some(pending) = self.pending.pop_front() {
            let (asked, line) = match pending {
                Pending::Frame(asked, line) => (asked, line),
                Pending::LabelEnd => {
                    on(Input::Label(None));
                    continue;
                }
            };
            if !on(Input::Asking(asked.clone())) {
                self.pending.push_front(Pending::Frame(asked, line));
                return false;
            }
            let frame = super::line::command(Frame::Line(&line), self.max_line);
            if !on(Input::Frame(frame)) {
                return false;
            }
        }
        true
    }
}

impl Dialect for Irc {
    fn encoding(&self) -> WireKind {
        encoding_for(Style {
            time: self.caps.server_time,
            client_tags: self.caps.message_tags,
            multiline: self.multiline(),
        })
    }

    fn decode(
        &mut self,
        data: &[u8],
        _now: Instant,
        on: &mut dyn FnMut(Input<'_>) -> bool,
    ) -> usize {
        if !self.drain(on) {
            return 0;
        }
        let mut decoder = std::mem::replace(&mut self.decoder, FrameDecoder::new(0));
        let used = decoder.feed(data, |frame| {
            let mut answer = Vec::new();
            match frame {
                Frame::Line(line) => {
                    let label = self.multiline_label(line, self.label_of(line));
                    if let Some(label) = label.clone() {
                        on(Input::Label(Some(label)));
                    }
                    self.take_line(line, &mut answer);
                    // A labeled `BATCH +` refused at once: its label
                    // answers this line after all.
                    let refused = match self.incoming.is_none() {
                        true => self.batch_label.take().filter(|_| label.is_none()),
                        false => None,
                    };
                    if let Some(refused) = refused.clone() {
                        on(Input::Label(Some(refused)));
                    }
                    if label.is_some() || refused.is_some() {
                        self.pending.push_back(Pending::LabelEnd);
                    }
                }
                Frame::TooLong => self.numeric(&mut answer, "417", &[], "Input line was too long"),
            }
            let worked = std::mem::take(&mut self.quiet_work);
            if (worked || !answer.is_empty()) && !on(Input::Answer(answer)) {
                return false;
            }
            let kind = self.encoding();
            let manners = Manners {
                echo: self.caps.echo_message,
                one_login: true,
                away_notify: self.caps.away_notify,
                history_batches: self.caps.batch,
                client_tags: self.caps.message_tags,
                all_prefixes: self.caps.multi_prefix,
            };
            on(Input::Encoding(kind, manners)) && self.drain(on)
        });
        self.decoder = decoder;
        used
    }

    /// IRC's last line, once, after whatever said why (a `NOTICE` with
    /// the `ERR`, or nothing after a `QUIT`).
    fn farewell(&mut self, stopping: bool, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.said_farewell, true) {
            return;
        }
        let why = if stopping {
            "Server shutting down"
        } else {
            "Closing link"
        };
        out.extend_from_slice(format!("ERROR :{why}\r\n").as_bytes());
    }

    fn named(&mut self, name: &str) {
        self.logged_in = true;
        if self.nick.as_deref() != Some(name) {
            self.nick = Some(name.to_owned());
        }
    }

    fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    fn buffered(&self) -> usize {
        let frames = self.pending.iter().map(|p| match p {
            Pending::Frame(_, line) => line.len(),
            Pending::LabelEnd => 0,
        });
        self.decoder.buffered() + frames.sum::<usize>() + self.multiline_buffered()
    }
}

#[cfg(test)]
mod tests;
