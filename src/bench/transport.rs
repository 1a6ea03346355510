//! How receivers reach a server (`--transport`), and which servers are
//! measured over which: the line protocol (each server's own), WebSocket
//! ([`wsconn`](super::wsconn)) and IRC ([`irc`](super::irc)).

use super::scenario::Kind;
use super::wire::Target;

/// How subscribers reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The server's own protocol over TCP.
    Line,
    /// The same protocol inside WebSocket frames (RFC 6455).
    Ws,
    /// IRC: evchat's on its chat port, InspIRCd's.
    Irc,
}

impl Transport {
    /// Whether `target` can be measured this way: Redis has no WebSocket,
    /// only evchat and InspIRCd speak IRC, and InspIRCd nothing else.
    pub fn serves(self, target: Target) -> bool {
        match target {
            Target::Evchat => true,
            Target::Redis => self == Transport::Line,
            Target::Nats => self != Transport::Irc,
            Target::Inspircd => self == Transport::Irc,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transport::Line => "line",
            Transport::Ws => "ws",
            Transport::Irc => "irc",
        }
    }

    /// The scenarios measured this way: all over line; WebSocket
    /// receivers do not publish, so fanout only; IRC clients do everything
    /// the message scenarios ask.
    fn measures(self, kind: Kind) -> bool {
        match self {
            Transport::Line => true,
            Transport::Ws => kind == Kind::Fanout,
            Transport::Irc => {
                matches!(
                    kind,
                    Kind::Fanout | Kind::Mesh | Kind::Private | Kind::Rooms
                )
            }
        }
    }
}

/// `--transport` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    Line,
    Ws,
    Irc,
    /// line, ws and irc.
    All,
}

/// The (target, transport) pairs measured for one scenario, line before
/// ws before irc; and notices for the pairs left out. A scenario that
/// none of the transports asked for measures runs on line.
pub fn systems(
    targets: &[Target],
    wanted: &[TransportArg],
    kind: Kind,
) -> (Vec<(Target, Transport)>, Vec<String>) {
    let asked = |t: Transport| {
        wanted.iter().any(|&a| match a {
            TransportArg::All => true,
            TransportArg::Line => t == Transport::Line,
            TransportArg::Ws => t == Transport::Ws,
            TransportArg::Irc => t == Transport::Irc,
        })
    };
    let mut transports = Vec::new();
    let mut notices = Vec::new();
    for t in [Transport::Line, Transport::Ws, Transport::Irc] {
        if !(asked(t) || (t == Transport::Line && wanted.is_empty())) {
            continue;
        }
        if t.measures(kind) {
            transports.push(t);
        } else {
            let what = match t {
                Transport::Ws => "WebSocket subscribers are measured in fanout only",
                _ => "IRC clients are measured in fanout, mesh, private and rooms only",
            };
            notices.push(format!("{what}: {} ran on line", kind.name()));
        }
    }
    if transports.is_empty() {
        transports.push(Transport::Line);
    }
    let mut out = Vec::new();
    for &target in targets {
        for &t in &transports {
            if t.serves(target) {
                out.push((target, t));
            } else if target != Target::Inspircd {
                // InspIRCd is there for IRC only: nothing to say elsewhere.
                let has = match t {
                    Transport::Ws => "no WebSocket listener",
                    _ => "no IRC",
                };
                notices.push(format!("{} has {has}: no {} row", target.name(), t.name()));
            }
        }
    }
    (out, notices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Target::{Evchat, Inspircd, Nats, Redis};
    use Transport::{Irc, Line, Ws};

    const ALL: [Target; 4] = [Evchat, Redis, Nats, Inspircd];

    #[test]
    fn rows_come_line_then_ws_then_irc_and_only_where_they_can() {
        let (rows, notes) = systems(&ALL, &[TransportArg::All], Kind::Fanout);
        assert_eq!(
            rows,
            [
                (Evchat, Line),
                (Evchat, Ws),
                (Evchat, Irc),
                (Redis, Line),
                (Nats, Line),
                (Nats, Ws),
                (Inspircd, Irc)
            ]
        );
        assert_eq!(
            notes,
            [
                "redis has no WebSocket listener: no ws row",
                "redis has no IRC: no irc row",
                "nats has no IRC: no irc row"
            ]
        );
    }

    #[test]
    fn other_scenarios_fall_back_to_line_with_a_notice() {
        let (rows, notes) = systems(&ALL[..1], &[TransportArg::Ws], Kind::Mesh);
        assert_eq!(rows, [(Evchat, Line)]);
        assert!(notes[0].contains("fanout only"), "{notes:?}");
        let (rows, notes) = systems(&ALL, &[TransportArg::Irc], Kind::Connect);
        assert_eq!(rows, [(Evchat, Line), (Redis, Line), (Nats, Line)]);
        assert!(notes[0].contains("IRC clients"), "{notes:?}");
        let (rows, _) = systems(&ALL, &[TransportArg::Irc], Kind::Private);
        assert_eq!(rows, [(Evchat, Irc), (Inspircd, Irc)]);
    }

    #[test]
    fn line_alone_leaves_inspircd_out_quietly() {
        let (rows, notes) = systems(&ALL, &[TransportArg::Line], Kind::Fanout);
        assert_eq!(rows, [(Evchat, Line), (Redis, Line), (Nats, Line)]);
        assert!(notes.is_empty(), "{notes:?}");
        let (rows, _) = systems(&ALL, &[], Kind::Fanout);
        assert_eq!(rows.len(), 3);
    }
}
