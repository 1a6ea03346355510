//! The bench's IRC clients (`--transport irc`): registration, what they
//! say, and a reader that finds deliveries in what they receive — against
//! evchat's IRC on its chat port and against InspIRCd
//! ([`inspircd`](super::inspircd)), alike.
//!
//! A client sends `NICK`/`USER` and nothing else until the server's `001`:
//! InspIRCd refuses anything before registration (`451`) and holds
//! registration about a second after the connection is accepted, so the
//! rest — the `JOIN`s and the barrier `PING` — is written by the reader
//! when `001` comes ([`IrcReader`]), for every connection in parallel.
//!
//! The channel everyone is in: on evchat `#everyone`, where `PRIVMSG` is a
//! `SAY` and every IRC user is put at registration, so an IRC fan-out is
//! the same broadcast to the same recipients as the line protocol's; on
//! InspIRCd `#bench`, which every client joins. A delivery is a `PRIVMSG`;
//! the reader cuts lines and looks at the verb only, as the line readers
//! do, and answers the server's `PING :x` with `PONG :x` (an IRC server
//! closes a client that does not).

use super::wire::{Item, Target};

/// The channel a target's IRC users all share (see the module doc).
pub fn channel(target: Target) -> &'static str {
    match target {
        Target::Evchat => "#everyone",
        _ => "#bench",
    }
}

/// Registration: all a client sends before `001`.
pub fn register(name: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("NICK {name}\r\nUSER {name} 0 * :{name}\r\n").as_bytes());
}

/// What a client sends once registered: `JOIN`s of `rooms` — with none,
/// of the channel everyone shares, where the target needs one (evchat puts
/// its users in `#everyone` itself) — then a barrier `PING`.
pub fn welcomed(target: Target, rooms: &[String], out: &mut Vec<u8>) {
    if rooms.is_empty() && target != Target::Evchat {
        out.extend_from_slice(format!("JOIN {}\r\n", channel(target)).as_bytes());
    }
    for room in rooms {
        out.extend_from_slice(format!("JOIN {room}\r\n").as_bytes());
    }
    ping(out);
}

/// A barrier request; `:<server> PONG <server> :bench` answers it.
pub fn ping(out: &mut Vec<u8>) {
    out.extend_from_slice(b"PING bench\r\n");
}

/// One message of `payload`: to the shared channel, or to `to` (a nick or
/// a room).
pub fn publish(target: Target, to: Option<&str>, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"PRIVMSG ");
    out.extend_from_slice(to.unwrap_or(channel(target)).as_bytes());
    out.extend_from_slice(b" :");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

/// Leaving `rooms`: an empty channel is gone, on both servers.
pub fn part(rooms: &[String], out: &mut Vec<u8>) {
    for room in rooms {
        out.extend_from_slice(format!("PART {room}\r\n").as_bytes());
    }
}

/// A logout the server answers with `ERROR` and a close.
pub fn quit(out: &mut Vec<u8>) {
    out.extend_from_slice(b"QUIT :bench done\r\n");
}

/// The receiving side of one IRC connection: cuts lines, hands the
/// deliveries, barrier answers and refusals on as [`Item`]s, and keeps
/// what the connection must send back.
#[derive(Debug, Default)]
pub struct IrcReader {
    carry: Vec<u8>,
    /// Written once `001` comes (see [`welcomed`]).
    after_welcome: Vec<u8>,
    welcomed: bool,
    /// What the connection must send: the after-welcome lines, answers to
    /// the server's PINGs. The reader thread writes and clears it.
    pub replies: Vec<u8>,
    /// Why the server ended the connection (`ERROR`, or a refusal before
    /// registration); nothing will come after it.
    pub closed: Option<String>,
}

impl IrcReader {
    /// A reader that sends `after_welcome` on `001`.
    pub fn new(after_welcome: Vec<u8>) -> IrcReader {
        IrcReader {
            after_welcome,
            ..IrcReader::default()
        }
    }

    /// Takes in received bytes, handing each line's item to `on_item`.
    pub fn absorb(&mut self, data: &[u8], mut on_item: impl FnMut(Item<'_>)) {
        let mut rest = data;
        if !self.carry.is_empty() {
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                self.carry.extend_from_slice(rest);
                return;
            };
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&rest[..lf]);
            self.line(&line, &mut on_item);
            rest = &rest[lf + 1..];
        }
        while let Some(lf) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..lf], &mut on_item);
            rest = &rest[lf + 1..];
        }
        self.carry.extend_from_slice(rest);
    }

    fn line(&mut self, line: &[u8], on_item: &mut impl FnMut(Item<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let item = match parse(line) {
            Line::Item(item) => item,
            Line::Welcome => {
                if !self.welcomed {
                    self.welcomed = true;
                    self.replies.append(&mut self.after_welcome);
                }
                Item::Other
            }
            Line::Ping(token) => {
                self.replies.extend_from_slice(b"PONG ");
                self.replies.extend_from_slice(token);
                self.replies.extend_from_slice(b"\r\n");
                Item::Ping(token)
            }
            Line::Closed => {
                let why = String::from_utf8_lossy(line).into_owned();
                self.closed
                    .get_or_insert(format!("the server closed: {why}"));
                Item::Other
            }
        };
        if let (Item::Error(why), false) = (&item, self.welcomed) {
            // A refused registration: no 001, so no barrier answer, ever.
            let why = String::from_utf8_lossy(why).into_owned();
            self.closed
                .get_or_insert(format!("registration refused: {why}"));
        }
        on_item(item);
    }
}

/// A line's item, for a reader that keeps no state (`001` and `ERROR`
/// are nothing to it).
pub fn item(line: &[u8]) -> Item<'_> {
    match parse(line) {
        Line::Item(item) => item,
        Line::Ping(token) => Item::Ping(token),
        Line::Welcome | Line::Closed => Item::Other,
    }
}

/// What one server line is to the bench.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Item(Item<'a>),
    /// `001`: registered.
    Welcome,
    /// The server's keep-alive, with what the answer must repeat.
    Ping(&'a [u8]),
    /// `ERROR`: the server is closing the connection.
    Closed,
}

/// Looks at a line's verb only: `:<from> PRIVMSG <to> :<payload>` is a
/// delivery, `:<server> PONG ...` a barrier's answer, a 4xx or 5xx
/// numeric a refusal (but `422`, no MOTD, which evchat always sends).
fn parse(line: &[u8]) -> Line<'_> {
    let Some(prefixed) = line.strip_prefix(b":") else {
        if let Some(token) = line.strip_prefix(b"PING ") {
            return Line::Ping(token);
        }
        if line.starts_with(b"ERROR") {
            return Line::Closed;
        }
        return Line::Item(Item::Other);
    };
    let Some(sp) = memchr::memchr(b' ', prefixed) else {
        return Line::Item(Item::Other);
    };
    let rest = &prefixed[sp + 1..];
    if let Some(to) = rest.strip_prefix(b"PRIVMSG ") {
        // The common line, on the cheapest path: one target, then the
        // payload as the trailing parameter.
        let Some(sp) = memchr::memchr(b' ', to) else {
            return Line::Item(Item::Other);
        };
        return Line::Item(match to[sp + 1..].strip_prefix(b":") {
            Some(payload) => Item::Message(payload),
            None => Item::Other,
        });
    }
    let verb_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let item = match &rest[..verb_end] {
        b"PONG" => Item::Pong,
        b"001" => return Line::Welcome,
        b"422" => Item::Other,
        [b'4' | b'5', _, _] => Item::Error(line),
        _ => Item::Other,
    };
    Line::Item(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items found and replies made from `data`, fed a byte at a time.
    fn run(after_welcome: &[u8], data: &[u8]) -> (Vec<String>, IrcReader) {
        let mut reader = IrcReader::new(after_welcome.to_vec());
        let mut got = Vec::new();
        for b in data {
            reader.absorb(std::slice::from_ref(b), |item| {
                got.push(match item {
                    Item::Message(p) => String::from_utf8_lossy(p).into_owned(),
                    Item::Pong => "PONG".into(),
                    Item::Ping(t) => format!("PING[{}]", String::from_utf8_lossy(t)),
                    Item::Error(l) => format!("ERR[{}]", String::from_utf8_lossy(l)),
                    Item::Other => return,
                })
            });
        }
        (got, reader)
    }

    #[test]
    fn finds_deliveries_answers_and_sends_the_rest_on_welcome() {
        let data = b":irc.test 001 bench-0 :Welcome\r\n:irc.test 422 bench-0 :No MOTD\r\n\
            :bench-9!bench-9@evchat JOIN #everyone\r\n\
            @time=2026-01-01T00:00:00.000Z :p!p@evchat PRIVMSG #everyone :T:1:0:xx\r\n\
            :p!p@127.0.0.1 PRIVMSG bench-0 :a :b\r\nPING :irc.test\r\n\
            :irc.test PONG irc.test :bench\r\n:x 001 bench-0 :again\r\n";
        let (got, reader) = run(b"JOIN #bench\r\nPING bench\r\n", data);
        assert_eq!(got, ["a :b", "PING[:irc.test]", "PONG"]);
        assert_eq!(
            reader.replies,
            b"JOIN #bench\r\nPING bench\r\nPONG :irc.test\r\n"
        );
        assert_eq!(reader.closed, None);
    }

    #[test]
    fn a_refused_registration_or_an_error_closes() {
        let (got, reader) = run(b"PING bench\r\n", b":s 433 * bench-0 :Nickname in use\r\n");
        assert_eq!(got, ["ERR[:s 433 * bench-0 :Nickname in use]"]);
        assert!(reader.closed.unwrap().contains("433"));
        assert!(reader.replies.is_empty());
        let (_, reader) = run(b"", b":s 001 a :hi\r\nERROR :Closing link\r\n");
        assert!(reader.closed.unwrap().contains("Closing link"));
    }

    #[test]
    fn clients_say_what_each_server_needs() {
        let mut out = Vec::new();
        register("bench-1", &mut out);
        welcomed(Target::Evchat, &[], &mut out);
        welcomed(Target::Inspircd, &[], &mut out);
        welcomed(Target::Inspircd, &["#bench-r1".into()], &mut out);
        publish(Target::Evchat, None, b"T:1", &mut out);
        publish(Target::Inspircd, Some("bench-2"), b"T:2", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NICK bench-1\r\nUSER bench-1 0 * :bench-1\r\nPING bench\r\n\
             JOIN #bench\r\nPING bench\r\nJOIN #bench-r1\r\nPING bench\r\n\
             PRIVMSG #everyone :T:1\r\nPRIVMSG bench-2 :T:2\r\n"
        );
    }
}
