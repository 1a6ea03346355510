//! The hub's own work per delivery, for counting instructions with
//! callgrind (repeatable whatever else the machine is doing): N
//! subscribers on line, WebSocket or IRC connections (`irc`: registered
//! with `NICK`/`USER`, so `SAY`s reach them as `PRIVMSG #everyone`)
//! writing to sinks, one
//! publisher sending 100 `SAY`s a turn for TURNS turns — or, with `room`
//! after the kind, everyone in one room and 100 `MSG #bench`s a turn; or,
//! with `rooms R M K`, R rooms of M line users each in K rooms (as
//! `evchat-bench rooms` has them) and a publisher in all, sending 100
//! `MSG #r<i>`s a read to the rooms in turn — a read at a time, as the
//! server's loop does, so a turn whose work budget ran out takes up the
//! rest of the read instead of a new one.
//!
//! ```sh
//! cargo build --release --example hub_instructions
//! for t in 10 60; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/hub_instructions line 1000 $t 2>&1 | grep 'refs'
//! done
//! ```
//!
//! The difference between the two counts, divided by the difference in
//! deliveries (the `deliveries=` each run prints: 50 turns × 100 SAYs × N
//! unless a budget ran out), is the instructions per delivery with set-up
//! subtracted.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{burst, flush, hub_with, room_burst, room_hub_with, Subscribers};
use common::{rooms_bursts, rooms_hub_with};
use std::time::Instant;

fn main() {
    let usage = "usage: hub_instructions line|ws|irc [room] N TURNS | line rooms R M K TURNS";
    let mut args: Vec<String> = std::env::args().collect();
    let numbers =
        |args: &[String]| -> Option<Vec<usize>> { args.iter().map(|a| a.parse().ok()).collect() };
    let (kind, shape, turns) = match args.get(2).map(String::as_str) {
        Some("rooms") => match numbers(&args[3..]).as_deref() {
            Some(&[r, m, k, turns]) if k > 0 && k <= r => ("rooms", vec![r, m, k], turns),
            _ => usage_error(usage),
        },
        Some("room") => {
            args.remove(2);
            match numbers(&args[2..]).as_deref() {
                Some(&[n, turns]) => ("room", vec![n], turns),
                _ => usage_error(usage),
            }
        }
        _ => match numbers(&args[2..]).as_deref() {
            Some(&[n, turns]) => ("say", vec![n], turns),
            _ => usage_error(usage),
        },
    };
    let subscribers = match args.get(1).map(String::as_str) {
        Some("ws") if kind != "rooms" => Subscribers::WebSocket,
        Some("irc") if kind != "rooms" => Subscribers::Irc,
        Some("line") => Subscribers::Lines,
        _ => usage_error(usage),
    };
    let (mut hub, publisher, bursts) = match kind {
        "rooms" => {
            let (hub, publisher) = rooms_hub_with(shape[0], shape[1], shape[2]);
            (hub, publisher, rooms_bursts(shape[0]))
        }
        "room" => {
            let (hub, publisher) = room_hub_with(shape[0], subscribers);
            (hub, publisher, vec![room_burst()])
        }
        _ => {
            let (hub, publisher) = hub_with(shape[0], subscribers);
            (hub, publisher, vec![burst()])
        }
    };
    let mut reads = 0;
    for _ in 0..turns {
        hub.set_now(Instant::now());
        if hub.has_unprocessed(publisher) {
            hub.resume_input(publisher);
        } else {
            hub.receive(publisher, &bursts[reads % bursts.len()]);
            reads += 1;
        }
        flush(&mut hub);
    }
    println!("reads={reads} {}", hub.stats_line());
}

fn usage_error(usage: &str) -> ! {
    eprintln!("{usage}");
    std::process::exit(2);
}
