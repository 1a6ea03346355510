//! The bench's WebSocket framing against frames as servers send them
//! (and as it sends them itself): every header size, masked or not, cut
//! at any byte, and broken streams that must be errors, not panics.

use super::*;
use proptest::prelude::*;

/// Frames as (opcode, fin, payload).
type Frames = Vec<(u8, bool, Vec<u8>)>;

/// Every frame found in `data` fed in pieces cut at `cuts`.
fn frames(data: &[u8], cuts: &[usize]) -> Result<Frames, String> {
    let mut data = data.to_vec();
    let mut d = Deframer::new();
    let mut got = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&data.len()]) {
        let cut = cut.clamp(start, data.len());
        d.feed(&mut data[start..cut], |f| {
            got.push((f.opcode, f.fin, f.payload.to_vec()))
        })?;
        start = cut;
    }
    Ok(got)
}

/// Frames of `sizes`, alternately masked, and what they decode to.
fn stream_of(sizes: &[usize]) -> (Vec<u8>, Frames) {
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let payload: Vec<u8> = (0..n).map(|j| (i * 7 + j) as u8).collect();
        let opcode = if i % 3 == 0 { BINARY } else { TEXT };
        encode(opcode, &payload, (i % 2 == 0).then(mask_key), &mut stream);
        want.push((opcode, true, payload));
    }
    (stream, want)
}

#[test]
fn header_lengths_are_2_4_and_10_bytes_plus_4_for_a_mask() {
    for (n, head) in [(125, 2), (126, 4), (65535, 4), (65536, 10)] {
        let mut out = Vec::new();
        encode(TEXT, &vec![b'a'; n], None, &mut out);
        assert_eq!(out.len(), n + head);
        out.clear();
        encode(TEXT, &vec![b'a'; n], Some([1, 2, 3, 4]), &mut out);
        assert_eq!(out.len(), n + head + 4);
        assert_ne!(&out[head + 4..head + 8], b"aaaa");
    }
}

#[test]
fn masked_and_unmasked_frames_decode_at_every_cut() {
    let (stream, want) = stream_of(&[0, 1, 125, 126, 127, 1000, 3]);
    assert_eq!(frames(&stream, &[]).unwrap(), want);
    for cut in 0..stream.len() {
        assert_eq!(frames(&stream, &[cut]).unwrap(), want, "cut at {cut}");
    }
    // Reads of one byte each.
    let all: Vec<usize> = (0..stream.len()).collect();
    assert_eq!(frames(&stream, &all).unwrap(), want);
    // 16-bit and 64-bit lengths, cut in every header and here and there.
    let (big, want) = stream_of(&[65535, 65536, 70000, 5]);
    let mut starts = vec![0, 65535 + 8, 65535 + 8 + 65536 + 14];
    starts.push(starts[2] + 70000 + 10);
    for cut in starts
        .iter()
        .flat_map(|&s| s..s + 15)
        .chain((0..big.len()).step_by(4099))
    {
        assert_eq!(frames(&big, &[cut]).unwrap(), want, "cut at {cut}");
    }
    let mut small = Vec::new();
    encode(
        TEXT,
        b"SAY alice 2026-11-23T10:15:30.123Z hello",
        None,
        &mut small,
    );
    encode(PING, b"x", Some([9, 9, 9, 9]), &mut small);
    let got = frames(&small, &[3, 7]).unwrap();
    assert_eq!(got[1], (PING, true, b"x".to_vec()));
}

#[test]
fn broken_streams_are_errors_not_panics() {
    // Reserved bits (compression not negotiated), an unknown opcode, a
    // long control frame, a fragmented ping, an absurd length.
    for bad in [
        &[0xC1, 0x00][..],
        &[0x83, 0x00],
        &[0x89, 126, 0, 200],
        &[0x09, 0x00],
        &[0x82, 127, 0xFF, 0, 0, 0, 0, 0, 0, 0],
    ] {
        assert!(frames(bad, &[]).is_err(), "{bad:?}");
    }
}

#[test]
fn the_handshake_asks_plainly_and_checks_the_answer() {
    let key = handshake_key();
    assert_eq!(key.len(), 24);
    assert!(key.ends_with("=="), "{key}");
    assert_ne!(key, handshake_key());
    let req = request("127.0.0.1:5555", "/ws", &key);
    assert!(req.starts_with("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:5555\r\n"));
    assert!(req.contains("Sec-WebSocket-Version: 13\r\n"));
    assert!(!req.to_lowercase().contains("origin"));
    assert!(req.ends_with("\r\n\r\n"));
    let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00";
    let end = head_end(ok).unwrap();
    assert_eq!(&ok[end..], b"\x81\x00");
    assert!(check_answer(&ok[..end]).is_ok());
    let no = check_answer(b"HTTP/1.1 404 Not Found\r\n\r\n").unwrap_err();
    assert!(no.contains("404 Not Found"), "{no}");
    let deflate = b"HTTP/1.1 101 x\r\nsec-websocket-extensions: permessage-deflate\r\n\r\n";
    assert!(check_answer(deflate).is_err());
}

proptest! {
    #[test]
    fn any_frames_cut_anywhere_come_back_whole(
        payloads in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..300), any::<bool>(), 0u8..3),
            0..12,
        ),
        cuts in prop::collection::vec(0usize..4000, 0..20),
    ) {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for (payload, masked, kind) in payloads {
            let opcode = [TEXT, BINARY, PING][kind as usize];
            let payload = if opcode == PING { payload[..payload.len().min(125)].to_vec() } else { payload };
            encode(opcode, &payload, masked.then(mask_key), &mut stream);
            want.push((opcode, true, payload));
        }
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(frames(&stream, &cuts).unwrap(), want);
    }
}

#[test]
fn fragments_and_masks_are_told_apart_on_the_way_back() {
    let mut stream = Vec::new();
    encode_frame(false, TEXT, b"SAY in ", Some([1, 2, 3, 4]), &mut stream);
    encode_frame(true, CONTINUATION, b"parts", None, &mut stream);
    let mut got = Vec::new();
    Deframer::new()
        .feed(&mut stream, |f| {
            got.push((f.fin, f.opcode, f.masked, f.payload.to_vec()))
        })
        .unwrap();
    assert_eq!(
        got,
        [
            (false, TEXT, true, b"SAY in ".to_vec()),
            (true, CONTINUATION, false, b"parts".to_vec()),
        ]
    );
    // A reserved opcode goes out as asked (the tests send them on purpose).
    let mut reserved = Vec::new();
    encode_frame(true, 3, b"", None, &mut reserved);
    assert_eq!(reserved, [0x83, 0x00]);
}
