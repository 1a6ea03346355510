//! The servers' wire formats, as far as the benchmark needs them: how to
//! subscribe, publish, ask for a barrier, and find each delivered payload
//! in a received byte stream. InspIRCd speaks only IRC, which any target
//! that has it is spoken to in by [`irc`](super::irc).
//!
//! Every target gets the same payloads, the same batching of publishes and
//! the same flow control; only the framing differs.

use super::irc;

/// Which server speaks on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Evchat,
    Redis,
    Nats,
    /// Debian's InspIRCd: IRC only (`--transport irc`).
    Inspircd,
}

/// The channel (Redis) or subject (NATS) all broadcasts use.
const CHANNEL: &str = "bench";

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Evchat => "evchat",
            Target::Redis => "redis",
            Target::Nats => "nats",
            Target::Inspircd => "inspircd",
        }
    }

    /// The most messages a publisher may have in flight by default
    /// (`--window` unset), if the server needs fewer than the bench's
    /// default: InspIRCd stops reading a client for about a second
    /// whenever more than about 64 KB of its lines wait unread (measured
    /// with 3.15: 256 messages in flight ran steadily, 512 stalled), so
    /// its rows get a window it can take.
    pub fn max_window(self) -> Option<u64> {
        (self == Target::Inspircd).then_some(256)
    }

    /// Whether a subscribed connection can also publish. Redis forbids
    /// commands other than (UN)SUBSCRIBE/PING on a subscribed connection.
    pub fn can_publish_while_subscribed(self) -> bool {
        !matches!(self, Target::Redis)
    }

    /// Whether a publisher receives its own broadcasts (Redis does when it
    /// is also subscribed; evchat never; NATS not with `echo:false`).
    pub fn echoes_own_broadcasts(self) -> bool {
        matches!(self, Target::Redis)
    }

    /// Frames that make a connection a receiver of broadcasts and of
    /// private messages for `name`, followed by a barrier request.
    pub fn subscribe(self, name: &str, out: &mut Vec<u8>) {
        self.subscribe_in(name, &[], out);
    }

    /// As [`subscribe`](Self::subscribe), also receiving what is said in
    /// `rooms` (named by [`room`](Self::room)): evchat joins them, Redis
    /// subscribes to their channels, NATS to their subjects.
    pub fn subscribe_in(self, name: &str, rooms: &[String], out: &mut Vec<u8>) {
        match self {
            Target::Evchat => out.extend_from_slice(format!("LOGIN {name}\n").as_bytes()),
            Target::Redis => {
                out.extend_from_slice(format!("SUBSCRIBE {CHANNEL} {name}").as_bytes());
                for room in rooms {
                    out.push(b' ');
                    out.extend_from_slice(room.as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
            Target::Nats => {
                self.hello(out);
                out.extend_from_slice(format!("SUB {CHANNEL} 1\r\nSUB {name} 2\r\n").as_bytes());
                for (sid, room) in (3..).zip(rooms) {
                    out.extend_from_slice(format!("SUB {room} {sid}\r\n").as_bytes());
                }
            }
            // Its JOINs and barrier wait for 001 (see `irc`).
            Target::Inspircd => return irc::register(name, out),
        }
        self.join(rooms, out);
        self.ping(out);
    }

    /// Frames that make a connection able to publish (no subscription).
    pub fn publisher(self, name: &str, out: &mut Vec<u8>) {
        self.publisher_in(name, &[], out);
    }

    /// As [`publisher`](Self::publisher), allowed to say things in `rooms`:
    /// on evchat only members may, so it joins them (Redis and NATS let
    /// anyone publish anywhere).
    pub fn publisher_in(self, name: &str, rooms: &[String], out: &mut Vec<u8>) {
        match self {
            Target::Evchat => out.extend_from_slice(format!("LOGIN {name}\n").as_bytes()),
            Target::Redis => {}
            Target::Nats => self.hello(out),
            Target::Inspircd => return irc::register(name, out),
        }
        self.join(rooms, out);
        self.ping(out);
    }

    /// evchat's `JOIN`s of `rooms` (nothing for the others: their
    /// subscriptions are made with the connection's).
    fn join(self, rooms: &[String], out: &mut Vec<u8>) {
        if self == Target::Evchat {
            for room in rooms {
                out.extend_from_slice(format!("JOIN {room}\n").as_bytes());
            }
        }
    }

    /// evchat's `PART`s of `rooms`, which leave nothing behind: a room
    /// whose last member leaves is gone (InspIRCd's channels too; nothing
    /// for the others).
    pub fn part(self, rooms: &[String], out: &mut Vec<u8>) {
        match self {
            Target::Evchat => {
                for room in rooms {
                    out.extend_from_slice(format!("PART {room}\n").as_bytes());
                }
            }
            Target::Inspircd => irc::part(rooms, out),
            Target::Redis | Target::Nats => {}
        }
    }

    /// The name of the bench's room `i`, as this server spells it: an
    /// evchat room (`#` first), a Redis channel, a NATS subject. `MSG` to
    /// it says something in the room (see [`publish`](Self::publish)).
    pub fn room(self, i: usize) -> String {
        match self {
            Target::Evchat | Target::Inspircd => format!("#bench-r{i}"),
            Target::Redis | Target::Nats => format!("bench-r{i}"),
        }
    }

    fn hello(self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"name\":\"evchat-bench\"}\r\n",
        );
    }

    /// A barrier request; its answer comes after everything sent before.
    pub fn ping(self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self {
            Target::Evchat => b"PING bench\n",
            Target::Redis | Target::Nats => b"PING\r\n",
            Target::Inspircd => return irc::ping(out),
        });
    }

    /// Appends one publish of `payload`, to everyone or to one receiver.
    pub fn publish(self, to: Option<&str>, payload: &[u8], out: &mut Vec<u8>) {
        match (self, to) {
            (Target::Inspircd, to) => return irc::publish(self, to, payload, out),
            (Target::Evchat, None) => out.extend_from_slice(b"SAY "),
            (Target::Evchat, Some(to)) => {
                out.extend_from_slice(b"MSG ");
                out.extend_from_slice(to.as_bytes());
                out.push(b' ');
            }
            (Target::Redis, to) => {
                let channel = to.unwrap_or(CHANNEL);
                out.extend_from_slice(
                    format!(
                        "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{channel}\r\n${}\r\n",
                        channel.len(),
                        payload.len()
                    )
                    .as_bytes(),
                );
            }
            (Target::Nats, to) => {
                let subject = to.unwrap_or(CHANNEL);
                out.extend_from_slice(format!("PUB {subject} {}\r\n", payload.len()).as_bytes());
            }
        }
        out.extend_from_slice(payload);
        out.extend_from_slice(match self {
            Target::Evchat => b"\n",
            _ => b"\r\n",
        });
    }

    /// A logout that the server answers and then closes (where it has one).
    pub fn quit(self, out: &mut Vec<u8>) {
        match self {
            Target::Evchat => out.extend_from_slice(b"QUIT\n"),
            Target::Redis => out.extend_from_slice(b"QUIT\r\n"),
            Target::Nats => {}
            Target::Inspircd => irc::quit(out),
        }
    }
}

/// What a received line turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A delivered message with its payload.
    Message(&'a [u8]),
    /// The answer to a barrier request.
    Pong,
    /// The server's keep-alive (or end of held mail), with its token
    /// (evchat) or none (NATS). Line connections leave it unanswered.
    Ping(&'a [u8]),
    /// A refusal (`ERR ...`, `-ERR ...`): the server will not do what the
    /// bench asks, so no figure can come.
    Error(&'a [u8]),
    /// Anything else (presence notices, subscribe confirmations, replies).
    Other,
}

/// Finds deliveries in one connection's byte stream.
#[derive(Debug)]
pub struct Decoder {
    target: Target,
    carry: Vec<u8>,
    /// Redis / NATS: where we are inside a multi-line delivery.
    state: u8,
}

impl Decoder {
    pub fn new(target: Target) -> Decoder {
        Decoder {
            target,
            carry: Vec::new(),
            state: 0,
        }
    }

    /// Feeds received bytes; calls `on_item` for every complete item.
    pub fn feed(&mut self, data: &[u8], mut on_item: impl FnMut(Item<'_>)) {
        let mut rest = data;
        if !self.carry.is_empty() {
            match memchr::memchr(b'\n', rest) {
                None => {
                    self.carry.extend_from_slice(rest);
                    return;
                }
                Some(lf) => {
                    let mut line = std::mem::take(&mut self.carry);
                    line.extend_from_slice(&rest[..lf]);
                    self.line(&line, &mut on_item);
                    rest = &rest[lf + 1..];
                }
            }
        }
        while let Some(lf) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..lf], &mut on_item);
            rest = &rest[lf + 1..];
        }
        self.carry.extend_from_slice(rest);
    }

    /// Takes one whole line, without its LF (evchat over WebSocket: a
    /// frame's payload).
    pub fn feed_line(&mut self, line: &[u8], mut on_item: impl FnMut(Item<'_>)) {
        self.line(line, &mut on_item);
    }

    fn line(&mut self, line: &[u8], on_item: &mut impl FnMut(Item<'_>)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let item = match self.target {
            Target::Evchat => evchat_line(line),
            Target::Inspircd => irc::item(line),
            Target::Nats => {
                // MSG <subject> <sid> <len>, then the payload line.
                if self.state == 1 {
                    self.state = 0;
                    Item::Message(line)
                } else if line.starts_with(b"MSG ") {
                    self.state = 1;
                    return;
                } else if line == b"PONG" {
                    Item::Pong
                } else if line == b"PING" {
                    Item::Ping(b"")
                } else if line.starts_with(b"-ERR") {
                    Item::Error(line)
                } else {
                    Item::Other
                }
            }
            Target::Redis => {
                // A pub/sub message is *3 $7 message $n <channel> $n <payload>:
                // seven lines; the payload is the last.
                if self.state > 0 {
                    self.state += 1;
                    if self.state == 3 && line != b"message" {
                        // *3 $9 subscribe ... or *2 $4 pong: not a delivery.
                        self.state = 0;
                        return on_item(if line == b"pong" {
                            Item::Pong
                        } else {
                            Item::Other
                        });
                    }
                    if self.state == 7 {
                        self.state = 0;
                        return on_item(Item::Message(line));
                    }
                    return;
                }
                if line.starts_with(b"*") {
                    self.state = 1;
                    return;
                }
                if line == b"+PONG" {
                    Item::Pong
                } else if line.starts_with(b"-") {
                    Item::Error(line)
                } else {
                    Item::Other
                }
            }
        };
        on_item(item);
    }
}

/// `SAY <from> <time> <payload>` or `MSG <from> <to> <time> <payload>`.
fn evchat_line(line: &[u8]) -> Item<'_> {
    let names = if line.starts_with(b"SAY ") {
        1
    } else if line.starts_with(b"MSG ") {
        2
    } else if line.starts_with(b"PONG") {
        return Item::Pong;
    } else if let Some(rest) = line.strip_prefix(b"PING") {
        return Item::Ping(rest.strip_prefix(b" ").unwrap_or(rest));
    } else if line.starts_with(b"ERR ") {
        return Item::Error(line);
    } else {
        return Item::Other;
    };
    let mut rest = &line[4..];
    for _ in 0..names {
        match memchr::memchr(b' ', rest) {
            Some(sp) => rest = &rest[sp + 1..],
            None => return Item::Other,
        }
    }
    // The time is fixed-width: `2026-11-23T10:15:30.123Z `.
    match rest.get(24) {
        Some(b' ') => Item::Message(&rest[25..]),
        _ => Item::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages and pongs found, fed byte by byte (the decoder must not
    /// care how reads are split); other lines are left out.
    fn items(target: Target, data: &[u8]) -> Vec<String> {
        let mut got = Vec::new();
        let mut d = Decoder::new(target);
        // Byte by byte: the decoder must not care how reads are split.
        for b in data {
            d.feed(std::slice::from_ref(b), |item| match item {
                Item::Message(p) => got.push(String::from_utf8_lossy(p).into_owned()),
                Item::Pong => got.push("PONG".into()),
                Item::Ping(t) => got.push(format!("PING[{}]", String::from_utf8_lossy(t))),
                Item::Error(_) | Item::Other => {}
            });
        }
        got
    }

    #[test]
    fn finds_payloads_in_each_format() {
        let ev = b"OK LOGIN s1\nJOINED x 2026-11-23T10:15:30.123Z\nSAY p 2026-11-23T10:15:30.123Z a b\nMSG p s1 2026-11-23T10:15:30.123Z c\nPONG bench\nPING 7\n";
        assert_eq!(items(Target::Evchat, ev), ["a b", "c", "PONG", "PING[7]"]);
        let redis = b"*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$3\r\nabc\r\n:1\r\n+PONG\r\n";
        assert_eq!(items(Target::Redis, redis), ["PONG", "abc", "PONG"]);
        let nats = b"INFO {}\r\nMSG bench 1 4\r\nPING\r\nPING\r\nPONG\r\n";
        assert_eq!(items(Target::Nats, nats), ["PING", "PING[]", "PONG"]);
    }

    #[test]
    fn subscribes_to_rooms_in_each_format() {
        let rooms = [Target::Evchat.room(1), Target::Evchat.room(2)];
        let mut out = Vec::new();
        Target::Evchat.subscribe_in("u", &rooms, &mut out);
        assert_eq!(
            out,
            b"LOGIN u\nJOIN #bench-r1\nJOIN #bench-r2\nPING bench\n"
        );
        let rooms = [Target::Redis.room(1), Target::Redis.room(2)];
        out.clear();
        Target::Redis.subscribe_in("u", &rooms, &mut out);
        assert_eq!(out, b"SUBSCRIBE bench u bench-r1 bench-r2\r\nPING\r\n");
        out.clear();
        Target::Nats.subscribe_in("u", &rooms, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("SUB u 2\r\nSUB bench-r1 3\r\nSUB bench-r2 4\r\nPING\r\n"));
    }

    #[test]
    fn publishes_in_each_format() {
        let mut out = Vec::new();
        Target::Redis.publish(None, b"xy", &mut out);
        Target::Nats.publish(Some("s1"), b"xy", &mut out);
        Target::Evchat.publish(Some("s1"), b"xy", &mut out);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$5\r\nbench\r\n$2\r\nxy\r\nPUB s1 2\r\nxy\r\nMSG s1 xy\n"
        );
    }
}
