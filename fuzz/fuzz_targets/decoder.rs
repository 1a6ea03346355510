//! The frame decoder and the command parser on arbitrary bytes, fed in
//! arbitrary chunks: they must never panic, and the frames must not depend
//! on how the bytes were split.
#![no_main]

use evchat::protocol::{parse, Frame, FrameDecoder};
use libfuzzer_sys::fuzz_target;

/// Decodes `data` in pieces cut at `cuts`, parsing every line.
fn frames(data: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
    let mut decoder = FrameDecoder::new(64);
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = cut.clamp(at, data.len());
        decoder.feed(&data[at..end], |frame| {
            match frame {
                Frame::Line(line) => {
                    let _ = parse(line);
                    out.push(Some(line.to_vec()));
                }
                Frame::TooLong => out.push(None),
            }
            true
        });
        at = end;
    }
    out
}

fuzz_target!(|input: &[u8]| {
    // The first bytes choose where to cut the rest.
    let (head, data) = input.split_at(input.len().min(4));
    let cuts: Vec<usize> = head.iter().map(|&b| b as usize).collect();
    let whole = frames(data, &[]);
    let mut sorted = cuts.clone();
    sorted.sort_unstable();
    assert_eq!(whole, frames(data, &sorted));
});
