//! What nodes say to each other on the bus, and how it is checked.
//!
//! Every node publishes on its own subject, `evchat.bus.<node>`, and every
//! node reads them all through one wildcard subscription: NATS keeps the
//! order of one publisher's messages on one subscription, so whatever one
//! node sends — broadcasts, private messages, heartbeats — reaches every
//! other node in the order it was sent. (Two subscriptions would each get
//! their own channel in the client, and could interleave.)
//!
//! A message is one of:
//!
//! - `B\n` + protocol frames (`SAY`, `JOINED`, `LEFT`), already encoded as
//!   clients receive them: a turn's broadcasts, published once per batch;
//! - `P <name>[,<name>...] <node>[,<node>...] <sender>\n` + one `MSG`
//!   frame: each name is for the node at the same place in the second
//!   list, where the sender believed it online; that node delivers it, or
//!   holds it if the name is not online there (any more). `<sender>`
//!   numbers the sending connection on its node, for a `C`. (Older
//!   nodes send `P <names>` alone: for whichever are online where read.)
//! - `C <node> <sender> <count> <inbox>`: node `<node>` answers on
//!   `<inbox>` once it has delivered or held the `<count>` private
//!   messages connection `<sender>` of the publishing node sent it since
//!   its last such request (fewer arrived: the others were lost) — see [`answer`](super::answer). On the bus,
//!   so it comes after those messages (another subject could overtake
//!   them).
//! - `H <incarnation>`: a heartbeat;
//! - `N <name>`: mail was just held for `name`, who may have logged in
//!   somewhere meanwhile: the node where `name` is online fetches it.
//! - `S <node>[,<node>...]`, on `evchat.slow.<node>` (not the bus: see
//!   [`congestion`](super::congestion)): the publishing node's intake is
//!   filling up with what these nodes publish: they hold back their
//!   broadcasts until it says `S` alone (drained), or for a few seconds
//!   unless it says so again.
//!
//! Frames from the bus are pasted into local queues, so they are checked
//! first: anyone who can publish on NATS can forge senders (docs/CLUSTER.md
//! says so), but not break the framing of the clients that receive them.

use crate::protocol::command::is_valid_room;
use crate::protocol::is_valid_name;

/// How long a node held back by a congestion notice (`S`) keeps to it
/// unless it is renewed: a stuck or lost node holds nobody back for long.
pub const NOTICE_LASTS: std::time::Duration = std::time::Duration::from_secs(3);

/// The subject node `node` publishes on.
pub fn subject_of(node: &str) -> String {
    format!("evchat.bus.{node}")
}

/// The subject every node subscribes to.
pub const BUS_ALL: &str = "evchat.bus.*";

/// The subject node `node` publishes its congestion notices (`S`) on.
pub fn slow_subject_of(node: &str) -> String {
    format!("evchat.slow.{node}")
}

/// The subject of every node's congestion notices.
pub const SLOW_ALL: &str = "evchat.slow.*";

/// The node name in a notices subject, if it is one.
pub fn slow_origin_of(subject: &str) -> Option<&str> {
    subject
        .strip_prefix("evchat.slow.")
        .filter(|n| is_valid_node(n))
}

/// One bus message, borrowed from its payload.
#[derive(Debug, PartialEq, Eq)]
pub enum BusMessage<'a> {
    /// Broadcast frames, and how many.
    Broadcast {
        frames: &'a [u8],
        count: u64,
    },
    /// A private message for `to`; with `route`, each name is for the node
    /// at its place in the route's list, else for whichever node has it
    /// online.
    Private {
        to: &'a str,
        route: Option<Route<'a>>,
        frame: &'a [u8],
    },
    /// Asks `node` to answer on `inbox` once the `count` private messages
    /// `sender` sent it since its last request are delivered or held.
    Confirm {
        node: &'a str,
        sender: u64,
        count: u64,
        inbox: &'a str,
    },
    Heartbeat {
        incarnation: &'a str,
    },
    MailFor {
        name: &'a str,
    },
    /// The sender's intake is filling with what `nodes` (comma-separated,
    /// maybe none: it has drained) publish.
    SlowDown {
        nodes: &'a str,
    },
}

/// Where a private message's recipients were online, and who sent it.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Route<'a> {
    /// One node per recipient, in the same order.
    pub nodes: &'a str,
    /// The sending connection's number on its node.
    pub sender: u64,
}

impl<'a> Route<'a> {
    /// The recipients in `to` this route gives to `node`.
    pub fn names_for(&self, to: &'a str, node: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        to.split(',')
            .zip(self.nodes.split(','))
            .filter(move |(_, n)| *n == node)
            .map(|(name, _)| name)
    }
}

/// Why a bus message was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// The node name in a bus subject, if it is one.
pub fn origin_of(subject: &str) -> Option<&str> {
    subject
        .strip_prefix("evchat.bus.")
        .filter(|n| is_valid_node(n))
}

/// Node names are subject tokens: 1-64 of `[A-Za-z0-9_-]`.
pub fn is_valid_node(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn encode_broadcast(out: &mut Vec<u8>, frames: &[u8]) {
    out.extend_from_slice(b"B\n");
    out.extend_from_slice(frames);
}

pub fn encode_private(out: &mut Vec<u8>, to: &str, frame: &[u8]) {
    out.extend_from_slice(b"P ");
    out.extend_from_slice(to.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(frame);
}

/// A private message for `to`, each name online on the node at its place
/// in `nodes`, from connection `sender`.
pub fn encode_routed(out: &mut Vec<u8>, to: &str, nodes: &str, sender: u64, frame: &[u8]) {
    out.extend_from_slice(b"P ");
    out.extend_from_slice(to.as_bytes());
    out.push(b' ');
    out.extend_from_slice(nodes.as_bytes());
    out.push(b' ');
    out.extend_from_slice(sender.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(frame);
}

pub fn encode_confirm(node: &str, sender: u64, count: u64, inbox: &str) -> Vec<u8> {
    format!("C {node} {sender} {count} {inbox}").into_bytes()
}

/// A reply subject as async-nats makes them: `_INBOX.<id>.<n>`, tokens of
/// `[A-Za-z0-9_-]`.
fn is_valid_inbox(inbox: &str) -> bool {
    inbox.len() <= 128 && inbox.starts_with("_INBOX.") && inbox.split('.').all(is_valid_node)
}

pub fn encode_mail_for(name: &str) -> Vec<u8> {
    format!("N {name}").into_bytes()
}

/// Asks `nodes` to hold back their broadcasts; none: they may go on.
pub fn encode_slow_down<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut out = b"S".to_vec();
    for (i, node) in nodes.into_iter().enumerate() {
        out.push(if i == 0 { b' ' } else { b',' });
        out.extend_from_slice(node.as_bytes());
    }
    out
}

pub fn encode_heartbeat(incarnation: &str) -> Vec<u8> {
    format!("H {incarnation}").into_bytes()
}

/// Reads and checks one bus message.
pub fn decode(payload: &[u8]) -> Result<BusMessage<'_>, Malformed> {
    let (head, body) = match memchr::memchr(b'\n', payload) {
        Some(at) => (&payload[..at], &payload[at + 1..]),
        None => (payload, &payload[payload.len()..]),
    };
    let head = std::str::from_utf8(head).map_err(|_| Malformed("head is not UTF-8"))?;
    match head.split_once(' ') {
        None if head == "B" => {
            let count = check_frames(body, &["SAY ", "JOINED ", "LEFT "])?;
            Ok(BusMessage::Broadcast {
                frames: body,
                count,
            })
        }
        Some(("P", head)) => {
            let (to, route) = match head.split(' ').collect::<Vec<_>>()[..] {
                [to] => (to, None),
                [to, nodes, sender] => {
                    let sender = sender.parse().map_err(|_| Malformed("bad sender"))?;
                    let mut listed = nodes.split(',');
                    if !listed.all(is_valid_node)
                        || nodes.split(',').count() != to.split(',').count()
                    {
                        return Err(Malformed("bad route"));
                    }
                    (to, Some(Route { nodes, sender }))
                }
                _ => return Err(Malformed("bad private head")),
            };
            if !to.split(',').all(is_valid_name) {
                return Err(Malformed("bad recipient"));
            }
            if check_frames(body, &["MSG "])? != 1 {
                return Err(Malformed("a private message is one frame"));
            }
            Ok(BusMessage::Private {
                to,
                route,
                frame: body,
            })
        }
        Some(("C", rest)) if body.is_empty() => match rest.split(' ').collect::<Vec<_>>()[..] {
            [node, sender, count, inbox] if is_valid_node(node) && is_valid_inbox(inbox) => {
                let sender = sender.parse().map_err(|_| Malformed("bad sender"))?;
                let count = count.parse().map_err(|_| Malformed("bad count"))?;
                Ok(BusMessage::Confirm {
                    node,
                    sender,
                    count,
                    inbox,
                })
            }
            _ => Err(Malformed("bad confirmation request")),
        },
        Some(("N", name)) if is_valid_name(name) && body.is_empty() => {
            Ok(BusMessage::MailFor { name })
        }
        None if head == "S" && body.is_empty() => Ok(BusMessage::SlowDown { nodes: "" }),
        Some(("S", nodes)) if body.is_empty() && nodes.split(',').all(is_valid_node) => {
            Ok(BusMessage::SlowDown { nodes })
        }
        Some(("H", incarnation)) if is_valid_node(incarnation) => {
            Ok(BusMessage::Heartbeat { incarnation })
        }
        _ => Err(Malformed("unknown kind")),
    }
}

/// Checks that `frames` is whole lines of UTF-8 text without CR, each
/// starting with one of `kinds`; returns how many.
fn check_frames(frames: &[u8], kinds: &[&str]) -> Result<u64, Malformed> {
    if frames.last() != Some(&b'\n') {
        return Err(Malformed("frames must end with a line feed"));
    }
    let text = std::str::from_utf8(frames).map_err(|_| Malformed("frames are not UTF-8"))?;
    if memchr::memchr(b'\r', frames).is_some() {
        return Err(Malformed("carriage return in a frame"));
    }
    let mut count = 0;
    // A message may carry its sender's tags, on a line of their own first.
    let mut tagged = false;
    for line in text.split_terminator('\n') {
        if let Some(tags) = line.strip_prefix("TAGS ") {
            if tagged || crate::protocol::ClientTags::parse(tags).is_err() {
                return Err(Malformed("bad tags"));
            }
            tagged = true;
            continue;
        }
        if std::mem::take(&mut tagged) && !(line.starts_with("SAY ") || line.starts_with("MSG ")) {
            return Err(Malformed("tags on what is not a message"));
        }
        if !kinds.iter().any(|k| line.starts_with(k)) {
            return Err(Malformed("not a frame that kind carries"));
        }
        if !is_valid_frame(line) {
            return Err(Malformed(
                "a frame's fields are not as a server writes them",
            ));
        }
        count += 1;
    }
    if tagged {
        return Err(Malformed("tags on nothing"));
    }
    Ok(count)
}

/// Is `frame` one `MSG` frame, as a node writes a room's message?
pub fn is_msg_frame(frame: &[u8]) -> bool {
    check_frames(frame, &["MSG "]) == Ok(1)
}

/// Is `line` a `SAY`, `MSG`, `JOINED` or `LEFT` frame as a node encodes
/// it: valid names, a time stamp, and text that is valid `<text>` (no NUL,
/// no unknown escape, not empty)? Clients parse what they are relayed.
fn is_valid_frame(line: &str) -> bool {
    let mut fields = line.splitn(2, ' ');
    let verb = fields.next().unwrap_or_default();
    let rest = fields.next().unwrap_or_default();
    let text_ok = |t: &str| crate::protocol::Text::parse(t).is_ok();
    match verb {
        "SAY" => match rest.splitn(3, ' ').collect::<Vec<_>>()[..] {
            [from, time, text] => is_valid_name(from) && is_stamp(time) && text_ok(text),
            _ => false,
        },
        "MSG" => match rest.splitn(4, ' ').collect::<Vec<_>>()[..] {
            [from, to, time, text] => {
                is_valid_name(from)
                    && to.split(',').all(|t| is_valid_name(t) || is_valid_room(t))
                    && is_stamp(time)
                    && text_ok(text)
            }
            _ => false,
        },
        "JOINED" => match rest.split(' ').collect::<Vec<_>>()[..] {
            [name, time] => is_valid_name(name) && is_stamp(time),
            _ => false,
        },
        "LEFT" => match rest.splitn(3, ' ').collect::<Vec<_>>()[..] {
            [name, time] => is_valid_name(name) && is_stamp(time),
            [name, time, text] => is_valid_name(name) && is_stamp(time) && text_ok(text),
            _ => false,
        },
        _ => false,
    }
}

/// A time as the server stamps it: `2026-11-23T10:15:30.123Z`.
pub(super) fn is_stamp(time: &str) -> bool {
    const SHAPE: &[u8; 24] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    time.len() == SHAPE.len()
        && time.bytes().zip(SHAPE).all(|(b, &s)| match s {
            b'd' => b.is_ascii_digit(),
            _ => b == s,
        })
}

#[cfg(test)]
mod tests;
