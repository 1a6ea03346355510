//! The hub's fan-out step without sockets: frames queued and written (to
//! `io::sink()`) per second for N logged-in connections.

mod common;

use common::{burst, flush, hub_with, room_burst, room_hub_with, Subscribers};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Instant;

fn fanout(c: &mut Criterion) {
    let burst = burst();
    let mut group = c.benchmark_group("hub-fanout");
    for n in [10, 100, 1000] {
        let (mut hub, publisher) = hub_with(n, Subscribers::Lines);
        group.throughput(Throughput::Elements(100 * n as u64));
        group.bench_with_input(BenchmarkId::new("100 SAYs to N", n), &n, |b, _| {
            b.iter(|| {
                // Each iteration is one turn of the loop, which sets the
                // turn's time first.
                hub.set_now(Instant::now());
                hub.receive(publisher, &burst);
                flush(&mut hub);
            })
        });
        let single = b"SAY one message alone, as in an interactive chat.............\n";
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("1 SAY to N", n), &n, |b, _| {
            b.iter(|| {
                hub.set_now(Instant::now());
                hub.receive(publisher, single);
                flush(&mut hub);
            })
        });
        // The same burst to WebSocket subscribers: one copy of each batch
        // in their framing, shared by all of them.
        // And to IRC subscribers: one IRC copy of each batch.
        for (over, how) in [("/ws", Subscribers::WebSocket), ("IRC", Subscribers::Irc)] {
            let (mut hub, publisher) = hub_with(n, how);
            group.throughput(Throughput::Elements(100 * n as u64));
            let name = format!("100 SAYs to N on {over}");
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    hub.set_now(Instant::now());
                    hub.receive(publisher, &burst);
                    flush(&mut hub);
                })
            });
        }
        // The same number of messages said in a room of N (up to 100: past
        // that, 100 room messages are more work than one connection may
        // cause in a turn, and the rest would wait for turns this bench
        // does not run).
        if n > 100 {
            continue;
        }
        let (mut hub, publisher) = room_hub_with(n, Subscribers::Lines);
        let in_room = room_burst();
        group.throughput(Throughput::Elements(100 * n as u64));
        group.bench_with_input(
            BenchmarkId::new("100 MSGs to a room of N", n),
            &n,
            |b, _| {
                b.iter(|| {
                    hub.set_now(Instant::now());
                    hub.receive(publisher, &in_room);
                    flush(&mut hub);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
