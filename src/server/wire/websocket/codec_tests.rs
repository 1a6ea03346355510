//! The WebSocket decoder against frames as clients send them: masked,
//! fragmented, split anywhere, and broken in each way RFC 6455 names.

use super::*;
use proptest::prelude::*;

/// A client frame: masked with `mask`, `fin` and `opcode` as given.
fn frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, opcode, payload.len());
    if !fin {
        out[0] &= 0x7f;
    }
    out[1] |= 0x80;
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn text(payload: &str) -> Vec<u8> {
    frame(true, OP_TEXT, payload.as_bytes(), [1, 2, 3, 4])
}

/// What the decoder reports, as owned values.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Seen {
    Line(Vec<u8>),
    TooLong,
    RawNewline,
    Ping(Vec<u8>),
    Close(Option<u16>),
    Fail(u16),
}

fn decode_in_pieces(decoder: &mut WsDecoder, data: &[u8], cuts: &[usize]) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(data.len());
    for cut in cuts {
        let piece = &data[at..cut.max(at)];
        let used = decoder.feed(piece, |e| {
            seen.push(match e {
                WsEvent::Frame(Frame::Line(l)) => Seen::Line(l.to_vec()),
                WsEvent::Frame(Frame::TooLong) => Seen::TooLong,
                WsEvent::RawNewline => Seen::RawNewline,
                WsEvent::Ping(p) => Seen::Ping(p.to_vec()),
                WsEvent::Close(c) => Seen::Close(c),
                WsEvent::Fail(c) => Seen::Fail(c),
            });
            true
        });
        assert!(used == piece.len() || decoder.done);
        at = cut.max(at);
    }
    seen
}

fn decode(data: &[u8]) -> Vec<Seen> {
    decode_in_pieces(&mut WsDecoder::new(16, 1000), data, &[])
}

#[test]
fn one_text_message_is_one_line() {
    let mut data = text("SAY hi");
    data.extend(text("PING 1"));
    assert_eq!(
        decode(&data),
        [
            Seen::Line(b"SAY hi".to_vec()),
            Seen::Line(b"PING 1".to_vec())
        ]
    );
}

#[test]
fn fragments_are_joined_and_controls_may_come_between() {
    let mut data = frame(false, OP_TEXT, b"SAY ", [9, 8, 7, 6]);
    data.extend(frame(true, OP_PING, b"p", [1, 1, 1, 1]));
    data.extend(frame(false, OP_CONTINUE, b"he", [5, 5, 5, 5]));
    data.extend(frame(true, OP_CONTINUE, b"llo", [0, 1, 0, 1]));
    assert_eq!(
        decode(&data),
        [Seen::Ping(b"p".to_vec()), Seen::Line(b"SAY hello".to_vec())]
    );
}

#[test]
fn an_unmasked_frame_fails_with_1002() {
    let mut data = text("SAY a");
    data[1] &= 0x7f;
    assert_eq!(decode(&data), [Seen::Fail(close::PROTOCOL)]);
}

#[test]
fn binary_fails_with_1003_and_reserved_bits_or_opcodes_with_1002() {
    assert_eq!(
        decode(&frame(true, OP_BINARY, b"x", [0; 4])),
        [Seen::Fail(close::UNSUPPORTED)]
    );
    let mut rsv = text("x");
    rsv[0] |= 0x40;
    assert_eq!(decode(&rsv), [Seen::Fail(close::PROTOCOL)]);
    assert_eq!(
        decode(&frame(true, 3, b"x", [0; 4])),
        [Seen::Fail(close::PROTOCOL)]
    );
    assert_eq!(
        decode(&frame(true, OP_CONTINUE, b"x", [0; 4])),
        [Seen::Fail(close::PROTOCOL)],
        "a continuation with nothing to continue"
    );
    let mut twice = frame(false, OP_TEXT, b"a", [0; 4]);
    twice.extend(text("b"));
    assert_eq!(decode(&twice), [Seen::Fail(close::PROTOCOL)]);
    assert_eq!(
        decode(&frame(false, OP_PING, b"", [0; 4])),
        [Seen::Fail(close::PROTOCOL)],
        "a fragmented control frame"
    );
    assert_eq!(
        decode(&frame(true, OP_PING, &[b'p'; 126], [0; 4])),
        [Seen::Fail(close::PROTOCOL)],
        "a control frame over 125 bytes"
    );
}

#[test]
fn too_long_is_reported_and_the_stream_goes_on_until_the_hard_cap() {
    let mut data = text(&"x".repeat(17));
    data.extend(text("SAY after"));
    assert_eq!(
        decode(&data),
        [Seen::TooLong, Seen::Line(b"SAY after".to_vec())]
    );
    // In fragments, each under the limit: the whole is too long.
    let mut data = frame(false, OP_TEXT, &[b'a'; 10], [3; 4]);
    data.extend(frame(true, OP_CONTINUE, &[b'a'; 10], [3; 4]));
    assert_eq!(decode(&data), [Seen::TooLong]);
    // Past the hard cap: closed as soon as the header says so.
    let mut huge = Vec::new();
    header(&mut huge, OP_TEXT, 1001);
    huge[1] |= 0x80;
    huge.extend_from_slice(&[0; 4]);
    assert_eq!(decode(&huge), [Seen::Fail(close::TOO_BIG)]);
    let mut decoder = WsDecoder::new(16, 1000);
    let mut data = Vec::new();
    data.extend(frame(false, OP_TEXT, &[b'a'; 400], [0; 4]));
    data.extend(frame(false, OP_CONTINUE, &[b'a'; 400], [0; 4]));
    data.extend(frame(false, OP_CONTINUE, &[b'a'; 400], [0; 4]));
    assert_eq!(
        decode_in_pieces(&mut decoder, &data, &[]),
        [Seen::Fail(close::TOO_BIG)]
    );
    assert!(decoder.buffered() <= 64, "a too-long message is not kept");
}

#[test]
fn invalid_utf8_fails_with_1007() {
    assert_eq!(
        decode(&frame(true, OP_TEXT, b"SAY \xff", [7; 4])),
        [Seen::Fail(close::BAD_DATA)]
    );
}

#[test]
fn raw_newlines_are_told_and_empty_messages_ignored() {
    let mut data = text("SAY a\nb");
    data.extend(text(""));
    data.extend(text("SAY c\r"));
    data.extend(text("SAY d"));
    assert_eq!(
        decode(&data),
        [
            Seen::RawNewline,
            Seen::RawNewline,
            Seen::Line(b"SAY d".to_vec())
        ]
    );
}

#[test]
fn close_codes_are_checked() {
    let close_with = |payload: &[u8]| decode(&frame(true, OP_CLOSE, payload, [2; 4]));
    assert_eq!(close_with(b""), [Seen::Close(None)]);
    assert_eq!(
        close_with(&[0x03, 0xe8, b'o', b'k']),
        [Seen::Close(Some(1000))]
    );
    assert_eq!(close_with(&[0x03]), [Seen::Fail(close::PROTOCOL)]);
    assert_eq!(
        close_with(&[0x03, 0xed]),
        [Seen::Fail(close::PROTOCOL)],
        "1005"
    );
    assert_eq!(
        close_with(&[0x03, 0xe8, 0xff]),
        [Seen::Fail(close::BAD_DATA)]
    );
    // Nothing after a close is read.
    let mut data = frame(true, OP_CLOSE, b"", [0; 4]);
    data.extend(text("SAY late"));
    assert_eq!(decode(&data), [Seen::Close(None)]);
}

#[test]
fn an_early_stop_leaves_the_rest_unconsumed() {
    let mut data = text("SAY 1");
    let first = data.len();
    data.extend(text("SAY 2"));
    let mut decoder = WsDecoder::new(16, 1000);
    let used = decoder.feed(&data, |_| false);
    assert_eq!(used, first);
    let mut seen = Vec::new();
    decoder.feed(&data[used..], |e| {
        seen.push(format!("{e:?}"));
        true
    });
    assert_eq!(seen, ["Frame(Line([83, 65, 89, 32, 50]))"]);
}

#[test]
fn lines_become_one_text_frame_each() {
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let long = format!("SAY a 1 {}\n", "x".repeat(200));
    let lines = format!("SAY a 1 hi\n{long}PONG\n");
    encode_lines(&mut out, lines.as_bytes(), Some(&mut starts));
    let mut expected = vec![0x81, 10];
    expected.extend_from_slice(b"SAY a 1 hi");
    expected.extend_from_slice(&[0x81, 126, 0, 208]);
    expected.extend_from_slice(&long.as_bytes()[..208]);
    expected.extend_from_slice(&[0x81, 4]);
    expected.extend_from_slice(b"PONG");
    assert_eq!(out, expected);
    assert_eq!(starts, [(0, 0), (11, 12), (11 + 209, 12 + 212)]);
}

proptest! {
    /// However a client fragments its messages and however the bytes are
    /// split across reads, the same lines come out.
    #[test]
    fn same_messages_however_fragmented_and_split(
        messages in proptest::collection::vec("[a-zA-Z0-9 ]{1,40}", 1..8),
        fragment_at in proptest::collection::vec(0usize..40, 8),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        mask in any::<[u8; 4]>(),
    ) {
        let mut data = Vec::new();
        for (m, at) in messages.iter().zip(&fragment_at) {
            let at = at % (m.len() + 1);
            data.extend(frame(false, OP_TEXT, &m.as_bytes()[..at], mask));
            data.extend(frame(true, OP_PING, b"", mask));
            data.extend(frame(true, OP_CONTINUE, &m.as_bytes()[at..], mask));
        }
        let mut decoder = WsDecoder::new(64, 1 << 20);
        let seen: Vec<Seen> = decode_in_pieces(&mut decoder, &data, &cuts)
            .into_iter()
            .filter(|s| !matches!(s, Seen::Ping(_)))
            .collect();
        let expected: Vec<Seen> = messages.iter().map(|m| Seen::Line(m.clone().into_bytes())).collect();
        prop_assert_eq!(seen, expected);
    }

    /// Arbitrary bytes never panic the decoder, and it never holds more
    /// than a message's limit plus a control frame.
    #[test]
    fn any_bytes_are_safe(data in proptest::collection::vec(any::<u8>(), 0..600), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let mut decoder = WsDecoder::new(32, 256);
        decode_in_pieces(&mut decoder, &data, &cuts);
        prop_assert!(decoder.message.len() <= 32 && decoder.control.len() <= 125);
    }
}
