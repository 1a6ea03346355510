//! WebSocket connections through the hub: the upgrade and the frames after
//! it at any split, and fan-out to WebSocket users — authors, users who
//! log in mid-batch — giving each exactly what a line user in its place
//! gets, framed.

use super::harness::Harness;
use proptest::prelude::*;

/// A masked client text frame.
fn text(payload: &str) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let bytes = payload.as_bytes();
    assert!(bytes.len() < 126);
    let mut out = vec![0x81, 0x80 | bytes.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(bytes.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// Upgrades a fresh connection; returns its key.
fn ws_connect(h: &mut Harness) -> usize {
    let key = h.connect();
    h.send(key, UPGRADE);
    h.flush();
    let answer = std::mem::take(&mut *h.wires[&key].0.borrow_mut());
    assert!(answer.starts_with(b"HTTP/1.1 101 "));
    key
}

/// What a WebSocket connection received since last asked, as lines
/// (timestamps blanked), checking each frame is one unmasked text frame.
fn ws_lines(h: &mut Harness, key: usize) -> Vec<String> {
    let bytes = std::mem::take(&mut *h.wires[&key].0.borrow_mut());
    let mut lines = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        assert_eq!(bytes[at], 0x81, "a final text frame");
        let (len, start) = match bytes[at + 1] {
            126 => (
                u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize,
                at + 4,
            ),
            127 => panic!("no frame here is that long"),
            n => (n as usize, at + 2),
        };
        let payload = std::str::from_utf8(&bytes[start..start + len]).unwrap();
        assert!(!payload.contains('\n'));
        lines.push(payload.to_owned());
        at = start + len;
    }
    // Blank timestamps the way `Harness::lines` does.
    h.wires[&key]
        .0
        .borrow_mut()
        .extend(lines.join("\n").bytes());
    if !lines.is_empty() {
        h.wires[&key].0.borrow_mut().push(b'\n');
    }
    h.lines(key)
}

#[test]
fn fan_out_to_websocket_users_matches_line_users_frame_for_frame() {
    let mut h = Harness::new();
    let line_reader = h.login("liner");
    let ws_reader = ws_connect(&mut h);
    h.hub.receive(ws_reader, &text("LOGIN webber"));
    let ws_author = ws_connect(&mut h);
    h.hub.receive(ws_author, &text("LOGIN wauthor"));
    h.flush();
    h.lines(line_reader);
    ws_lines(&mut h, ws_reader);
    ws_lines(&mut h, ws_author);
    // One turn: a line author, a WebSocket author, a login in between.
    let talker = h.login("talker");
    h.lines(line_reader);
    ws_lines(&mut h, ws_reader);
    ws_lines(&mut h, ws_author);
    h.send(talker, "SAY one\n");
    h.hub.receive(ws_author, &text("SAY two"));
    let late = ws_connect(&mut h);
    h.hub.receive(late, &text("LOGIN late"));
    h.send(talker, "SAY three\n");
    h.hub.receive(ws_author, &text("SAY four"));
    h.flush();
    let by_line = h.lines(line_reader);
    assert_eq!(
        by_line,
        [
            "SAY talker T one",
            "SAY wauthor T two",
            "JOINED late T",
            "SAY talker T three",
            "SAY wauthor T four"
        ]
    );
    assert_eq!(ws_lines(&mut h, ws_reader), by_line);
    // The author gets all but its own; the latecomer what came after it.
    let own: Vec<_> = by_line
        .iter()
        .filter(|l| !l.starts_with("SAY wauthor"))
        .cloned()
        .collect();
    assert_eq!(ws_lines(&mut h, ws_author), own);
    assert_eq!(
        ws_lines(&mut h, late),
        ["OK LOGIN late", "SAY talker T three", "SAY wauthor T four"]
    );
}

proptest! {
    /// An upgrade and the frames right behind it, in any pieces: the same
    /// answers.
    #[test]
    fn any_split_of_an_upgrade_and_its_first_frames_is_served_alike(
        a in 0usize..400,
        b in 0usize..400,
    ) {
        let mut stream = UPGRADE.as_bytes().to_vec();
        stream.extend(text("LOGIN split"));
        stream.extend(text("PING 1"));
        stream.extend(text("WHO"));
        let (a, b) = (a.min(stream.len()), b.min(stream.len()));
        let (a, b) = (a.min(b), a.max(b));
        let mut h = Harness::new();
        let key = h.connect();
        for piece in [&stream[..a], &stream[a..b], &stream[b..]] {
            h.hub.receive(key, piece);
        }
        h.flush();
        let bytes = std::mem::take(&mut *h.wires[&key].0.borrow_mut());
        let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        prop_assert!(bytes.starts_with(b"HTTP/1.1 101 "));
        prop_assert_eq!(
            &bytes[head_end..],
            &b"\x81\x0eOK LOGIN split\x81\x06PONG 1\x81\x0bUSERS split"[..]
        );
    }
}
