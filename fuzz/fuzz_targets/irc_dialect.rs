//! The IRC dialect on arbitrary bytes, fed in arbitrary chunks: it must
//! never panic, every frame it hands the hub must be one the line
//! protocol's parser took, and what it hands over must not depend on how
//! the bytes were split. The message parser alone is checked on each line.
#![no_main]

use evchat::server::wire::irc::message::Message;
use evchat::server::wire::irc::{Config, Irc};
use evchat::server::wire::{Dialect, Input};
use libfuzzer_sys::fuzz_target;
use std::time::Instant;

/// Decodes `data` in pieces cut at `cuts`; every input, as text.
fn inputs(data: &[u8], cuts: &[usize]) -> Vec<String> {
    let config = Config {
        server: "fuzz".into(),
        everyone: "#everyone".into(),
        max_line: 512,
    };
    let mut irc = Irc::new(config, 512);
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = cut.clamp(at, data.len());
        let piece = &data[at..end];
        let used = irc.decode(piece, Instant::now(), &mut |input| {
            out.push(match input {
                Input::Frame(frame) => format!("{frame:?}"),
                Input::Answer(bytes) => format!("answer {bytes:?}"),
                other => format!("{other:?}"),
            });
            true
        });
        assert_eq!(used, piece.len(), "a hub that takes everything");
        assert!(irc.buffered() <= 512 + 4096);
        at = end;
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let (head, data) = input.split_at(input.len().min(4));
    let mut cuts: Vec<usize> = head.iter().map(|&b| b as usize).collect();
    cuts.sort_unstable();
    assert_eq!(inputs(data, &[]), inputs(data, &cuts));
    for line in String::from_utf8_lossy(data).split('\n') {
        let _ = Message::parse(line.trim_end_matches('\r'));
    }
});
