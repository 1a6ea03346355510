//! The hub's fan-out step without sockets: frames queued and written (to
//! `io::sink()`) per second for N logged-in connections.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use evchat::server::hub::{Hub, Limits};
use evchat::server::store::MailLimits;
use std::io::Sink;
use std::time::Instant;

fn hub_with(n: usize) -> (Hub<Sink>, usize) {
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
        idle_timeout: None,
        max_lingering: 16,
        web: true,
        allow_origins: Vec::new(),
        local_only: true,
    });
    let publisher = hub.open(std::io::sink());
    hub.receive(publisher, b"LOGIN publisher\n");
    for i in 0..n {
        let key = hub.open(std::io::sink());
        hub.receive(key, format!("LOGIN u{i}\n").as_bytes());
    }
    flush(&mut hub);
    (hub, publisher)
}

/// One loop turn's end: broadcasts queued, queues written.
fn flush(hub: &mut Hub<Sink>) {
    hub.end_turn();
    let mut dirty = Vec::new();
    hub.take_dirty(&mut dirty);
    for key in dirty {
        hub.flush(key);
    }
}

fn fanout(c: &mut Criterion) {
    // One read's worth of SAYs from one publisher (as the bench sends).
    let burst: Vec<u8> = (0..100)
        .flat_map(|i| format!("SAY {i:03} {}\n", "x".repeat(60)).into_bytes())
        .collect();
    let mut group = c.benchmark_group("hub-fanout");
    for n in [10, 100, 1000] {
        let (mut hub, publisher) = hub_with(n);
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
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
