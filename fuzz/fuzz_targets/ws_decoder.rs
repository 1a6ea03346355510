//! The WebSocket decoder on arbitrary bytes, fed in arbitrary chunks: it
//! must never panic, never hold more than a message's limit, and what it
//! reports must not depend on how the bytes were split.
#![no_main]

use evchat::protocol::Frame;
use evchat::server::wire::websocket::{WsDecoder, WsEvent};
use libfuzzer_sys::fuzz_target;

/// Decodes `data` in pieces cut at `cuts`; every event, as text.
fn events(data: &[u8], cuts: &[usize]) -> Vec<String> {
    let mut decoder = WsDecoder::new(64, 512);
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = cut.clamp(at, data.len());
        decoder.feed(&data[at..end], |event| {
            out.push(match event {
                WsEvent::Frame(Frame::Line(line)) => format!("line {line:?}"),
                other => format!("{other:?}"),
            });
            true
        });
        assert!(decoder.buffered() <= 64 + 125 + 4096);
        at = end;
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let (head, data) = input.split_at(input.len().min(4));
    let mut cuts: Vec<usize> = head.iter().map(|&b| b as usize).collect();
    cuts.sort_unstable();
    assert_eq!(events(data, &[]), events(data, &cuts));
});
