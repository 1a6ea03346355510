//! The frame codec in MB/s: splitting lines, parsing commands, escaping.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evchat::protocol::{escape, parse, unescape, Frame, FrameDecoder};
use std::hint::black_box;

/// 1000 SAY frames of 64-byte text, as a publisher sends them.
fn say_stream() -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..1000 {
        data.extend_from_slice(format!("SAY message {i:04} {}\n", "x".repeat(47)).as_bytes());
    }
    data
}

fn codec(c: &mut Criterion) {
    let stream = say_stream();
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("decode+parse", |b| {
        b.iter(|| {
            let mut decoder = FrameDecoder::new(64 << 10);
            let mut n = 0;
            // Fed in 4 KiB reads, as a socket delivers them.
            for chunk in stream.chunks(4096) {
                decoder.feed(chunk, |frame| {
                    if let Frame::Line(line) = frame {
                        n += usize::from(parse(line).is_ok());
                    }
                    true
                });
            }
            black_box(n)
        })
    });
    let plain = "a message with no special characters at all, 64 bytes long....";
    let special = "line one\nline two with a \\ backslash\r\nand a third line.......";
    for (name, text) in [("plain", plain), ("special", special)] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("escape/{name}"), |b| {
            b.iter(|| black_box(escape(black_box(text))))
        });
        let escaped = escape(text).into_owned();
        group.bench_function(format!("unescape/{name}"), |b| {
            b.iter(|| black_box(unescape(black_box(&escaped)).map(|t| t.len())))
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
