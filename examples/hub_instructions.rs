//! The hub's own work per delivery, for counting instructions with
//! callgrind (repeatable whatever else the machine is doing): N
//! subscribers on line or WebSocket connections writing to sinks, one
//! publisher sending 100 `SAY`s a turn for TURNS turns.
//!
//! ```sh
//! cargo build --release --example hub_instructions
//! for t in 10 60; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/hub_instructions line 1000 $t 2>&1 | grep 'refs'
//! done
//! ```
//!
//! The difference between the two counts, divided by 50 turns × 100 SAYs
//! × N, is the instructions per delivery with set-up subtracted.

use evchat::server::hub::{Hub, Limits};
use evchat::server::store::MailLimits;
use std::io::Sink;
use std::time::Instant;

/// A masked client text frame, as a browser sends one.
fn ws_text(payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn flush(hub: &mut Hub<Sink>) {
    hub.end_turn();
    let mut dirty = Vec::new();
    hub.take_dirty(&mut dirty);
    for key in dirty {
        hub.flush(key);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: hub_instructions line|ws N TURNS";
    let (Some(kind), Some(n), Some(turns)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (Ok(n), Ok(turns)) = (n.parse::<usize>(), turns.parse::<usize>()) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let ws = kind == "ws";
    let mut hub: Hub<Sink> = Hub::new(Limits {
        max_line: 64 << 10,
        max_queue: 64 << 20,
        max_total_queue: 1 << 40,
        mail: MailLimits {
            mailbox_max: 10,
            mailbox_bytes: 1 << 20,
            held_bytes: 1 << 24,
            max_known: 1 << 20,
        },
        idle_timeout: None,
        max_lingering: 16,
        web: true,
        allow_origins: Vec::new(),
        local_only: true,
    });
    hub.set_now(Instant::now());
    let publisher = hub.open(std::io::sink());
    hub.receive(publisher, b"LOGIN publisher\n");
    for i in 0..n {
        let key = hub.open(std::io::sink());
        let login = format!("LOGIN u{i}");
        if ws {
            hub.receive(key, UPGRADE);
            hub.receive(key, &ws_text(login.as_bytes()));
        } else {
            hub.receive(key, format!("{login}\n").as_bytes());
        }
    }
    flush(&mut hub);
    let burst: Vec<u8> = (0..100)
        .flat_map(|i| format!("SAY {i:03} {}\n", "x".repeat(60)).into_bytes())
        .collect();
    for _ in 0..turns {
        hub.set_now(Instant::now());
        hub.receive(publisher, &burst);
        flush(&mut hub);
    }
    println!("{}", hub.stats_line());
}
