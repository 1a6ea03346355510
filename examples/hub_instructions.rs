//! The hub's own work per delivery, for counting instructions with
//! callgrind (repeatable whatever else the machine is doing): N
//! subscribers on line or WebSocket connections writing to sinks, one
//! publisher sending 100 `SAY`s a turn for TURNS turns — or, with `room`
//! after the kind, everyone in one room and 100 `MSG #bench`s a turn.
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

#[path = "../benches/common/mod.rs"]
mod common;

use common::{burst, flush, hub_with, room_burst, room_hub_with, Subscribers};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: hub_instructions line|ws [room] N TURNS";
    let mut args = args;
    let room = args.get(2).is_some_and(|a| a == "room");
    if room {
        args.remove(2);
    }
    let parsed = match (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
        (Some(kind @ ("line" | "ws")), Some(n), Some(turns)) => n
            .parse::<usize>()
            .ok()
            .zip(turns.parse::<usize>().ok())
            .map(|(n, turns)| (kind, n, turns)),
        _ => None,
    };
    let Some((kind, n, turns)) = parsed else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let subscribers = match kind {
        "ws" => Subscribers::WebSocket,
        _ => Subscribers::Lines,
    };
    let (mut hub, publisher, burst) = match room {
        true => {
            let (hub, publisher) = room_hub_with(n, subscribers);
            (hub, publisher, room_burst())
        }
        false => {
            let (hub, publisher) = hub_with(n, subscribers);
            (hub, publisher, burst())
        }
    };
    for _ in 0..turns {
        hub.set_now(Instant::now());
        hub.receive(publisher, &burst);
        flush(&mut hub);
    }
    println!("{}", hub.stats_line());
}
