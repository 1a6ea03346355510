//! A hub without sockets, as the fan-out benchmarks drive it: N logged-in
//! subscribers writing to sinks, on lines, WebSocket or IRC, and one
//! publisher (shared by `benches/fanout.rs` and
//! `examples/hub_instructions.rs`). IRC is on, as the server has it by
//! default: line and WebSocket connections only pass its sniffing.

use evchat::server::hub::{Hub, Limits};
use evchat::server::rooms::RoomLimits;
use evchat::server::store::MailLimits;
use std::io::Sink;

/// How the subscribers connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribers {
    Lines,
    WebSocket,
    /// Registered with `NICK`/`USER`, as an IRC client does, without
    /// `server-time` (one shared IRC copy of each batch).
    Irc,
}

/// An upgrade request to `/ws`, as a client without a page sends it.
const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// A masked client text frame, as a browser sends one.
fn ws_text(payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A hub with `n` subscribers and a publisher, all logged in; returns the
/// publisher's key.
pub fn hub_with(n: usize, subscribers: Subscribers) -> (Hub<Sink>, usize) {
    hub_limited(n, subscribers, Default::default())
}

/// As [`hub_with`], with these rooms' limits.
fn hub_limited(n: usize, subscribers: Subscribers, rooms: RoomLimits) -> (Hub<Sink>, usize) {
    let mut hub = Hub::new(Limits {
        max_line: 64 << 10,
        max_queue: 64 << 20,
        max_total_queue: 1 << 40,
        mail: MailLimits {
            mailbox_max: 10,
            mailbox_bytes: 1 << 20,
            held_bytes: 1 << 24,
            max_known: 1 << 20,
        },
        rooms,
        idle_timeout: None,
        max_lingering: 16,
        web: true,
        allow_origins: Vec::new(),
        local_only: true,
        irc: Some(evchat::server::wire::irc::Config {
            server: "bench.test".into(),
            everyone: "#everyone".into(),
            max_line: 64 << 10,
        }),
    });
    let publisher = hub.open(std::io::sink());
    hub.receive(publisher, b"LOGIN publisher\n");
    for i in 0..n {
        let key = hub.open(std::io::sink());
        let login = format!("LOGIN u{i}");
        match subscribers {
            Subscribers::Lines => hub.receive(key, format!("{login}\n").as_bytes()),
            Subscribers::WebSocket => {
                hub.receive(key, UPGRADE);
                hub.receive(key, &ws_text(login.as_bytes()));
            }
            Subscribers::Irc => {
                let register = format!("NICK u{i}\r\nUSER u{i} 0 * :u{i}\r\n");
                hub.receive(key, register.as_bytes());
            }
        }
    }
    flush(&mut hub);
    (hub, publisher)
}

/// As [`hub_with`], everyone — the publisher too — in the room `#bench`.
pub fn room_hub_with(n: usize, subscribers: Subscribers) -> (Hub<Sink>, usize) {
    let (mut hub, publisher) = hub_with(n, subscribers);
    // Keys are handed out in order: the publisher's, then the subscribers'.
    for key in publisher..=publisher + n {
        match (subscribers, key == publisher) {
            (Subscribers::WebSocket, false) => hub.receive(key, &ws_text(b"JOIN #bench")),
            (Subscribers::Irc, false) => hub.receive(key, b"JOIN #bench\r\n"),
            _ => hub.receive(key, b"JOIN #bench\n"),
        }
    }
    flush(&mut hub);
    (hub, publisher)
}

/// R rooms (`#r0` …) of M line users each, every user in K of them (user
/// `u`'s places are `u, u + U, …` of the R·M numbered room by room, as in
/// `evchat-bench rooms`), and a publisher in all of them; returns it.
#[allow(dead_code)] // examples/hub_instructions.rs only
pub fn rooms_hub_with(rooms: usize, members: usize, per_user: usize) -> (Hub<Sink>, usize) {
    let users = rooms * members / per_user;
    let limits = RoomLimits {
        max_rooms: rooms,
        per_user: rooms,
        ..RoomLimits::default()
    };
    let (mut hub, publisher) = hub_limited(users, Subscribers::Lines, limits);
    for r in 0..rooms {
        hub.receive(publisher, format!("JOIN #r{r}\n").as_bytes());
    }
    for u in 0..users {
        for j in 0..per_user {
            let room = (u + j * users) / members;
            // Keys are handed out in order: the publisher's, then the users'.
            hub.receive(publisher + 1 + u, format!("JOIN #r{room}\n").as_bytes());
        }
        flush(&mut hub);
    }
    (hub, publisher)
}

/// Reads of 100 room messages each, to `rooms` rooms in turn: read `i`
/// says things in rooms `100·i, 100·i + 1, …` (mod `rooms`).
#[allow(dead_code)] // examples/hub_instructions.rs only
pub fn rooms_bursts(rooms: usize) -> Vec<Vec<u8>> {
    (0..rooms.div_ceil(100).max(1))
        .map(|i| {
            (0..100)
                .flat_map(|j| {
                    let room = (100 * i + j) % rooms;
                    format!("MSG #r{room} {j:03} {}\n", "x".repeat(60)).into_bytes()
                })
                .collect()
        })
        .collect()
}

/// One read's worth of room messages from one publisher.
pub fn room_burst() -> Vec<u8> {
    (0..100)
        .flat_map(|i| format!("MSG #bench {i:03} {}\n", "x".repeat(60)).into_bytes())
        .collect()
}

/// One loop turn's end: broadcasts queued, queues written.
pub fn flush(hub: &mut Hub<Sink>) {
    hub.end_turn();
    let mut dirty = Vec::new();
    hub.take_dirty(&mut dirty);
    for key in dirty {
        hub.flush(key);
    }
}

/// One read's worth of SAYs from one publisher (as the bench sends).
pub fn burst() -> Vec<u8> {
    (0..100)
        .flat_map(|i| format!("SAY {i:03} {}\n", "x".repeat(60)).into_bytes())
        .collect()
}
