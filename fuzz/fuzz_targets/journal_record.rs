//! The journal's record decoder on arbitrary bytes — a damaged or foreign
//! file — must never panic, and whatever it accepts must encode back to
//! the same bytes (a record has exactly one spelling).
#![no_main]

use evchat::server::journal::record::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) {
        let Ok((record, used)) = decode(rest) else {
            break;
        };
        let mut again = Vec::new();
        encode(&mut again, &record);
        assert_eq!(&again[..], &rest[..used]);
        at += used;
    }
});
