//! Hostile and broken browser-side clients, as in `hostile.rs`: each case
//! runs against the real server while a normal pair keeps chatting, and
//! passes when the pair's messages all arrive, the server is alive, and its
//! memory stays under a stated bound.

mod common;
use common::pair::{healthy, Pair};
use common::ws::{handshake, RawWs, UPGRADE};
use common::{TestServer, PATIENCE};
use std::io::{Read, Write};
use std::net::TcpStream;

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn websocket_users_that_never_read_are_cut_and_share_one_copy_meanwhile() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-queue", "4M"]);
    let mut pair = Pair::new(&server);
    let sleepers: Vec<RawWs> = (0..100)
        .map(|i| {
            let mut ws = RawWs::open(server.addr);
            ws.send_text(&format!("LOGIN sleeper{i}"));
            ws
        })
        .collect();
    let mut talker = server.login("talker");
    pair.check();
    // 40 MB of broadcasts. Were each WebSocket copy its own, 100 queues
    // filling to 4 MiB would hold 400 MiB before the cut.
    let text = "w".repeat(1000);
    let (mut sleepers, mut told) = (Some(sleepers), None);
    for _ in 0..200 {
        for _ in 0..200 {
            talker.send(&format!("SAY {text}"));
        }
        talker.sync();
        pair.check();
        // One of them reads what it was left, right away: the cut is
        // explained, then the connection closed.
        if sleepers.is_some() && server.stat("slow_cut") == 100 {
            let mut first = sleepers.take().unwrap().into_iter().next().unwrap();
            told = Some(last_words(&mut first));
        }
    }
    assert_eq!(server.stat("slow_cut"), 100);
    let (last_text, code) = told.expect("all were cut");
    assert!(last_text.starts_with("ERR 429 "), "{last_text:.80}");
    assert_eq!(code, Some(1000));
    pair.check();
    healthy(&mut server, 200);
}

/// The last text message before the close frame, and the close's code.
fn last_words(ws: &mut RawWs) -> (String, Option<u16>) {
    let mut last_text = String::new();
    loop {
        let frame = ws.read_frame().expect("frames until the close");
        match frame.opcode {
            1 => last_text = frame.text(),
            8 => return (last_text, frame.close_code()),
            _ => {}
        }
    }
}

#[test]
fn a_ping_flood_from_a_client_that_never_reads_is_cut() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-queue", "1M"]);
    let mut pair = Pair::new(&server);
    let raw = RawWs::open(server.addr);
    let mut writer = raw.stream.try_clone().unwrap();
    let ping = RawWs::frame(true, 9, &[b'p'; 125], Some([9, 8, 7, 6]));
    let pings: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 512)
        .collect();
    let flood = std::thread::spawn(move || {
        // 64 MB, or until the server closes it.
        for _ in 0..(64 << 20) / pings.len() {
            if writer.write_all(&pings).is_err() {
                break;
            }
        }
    });
    // The pongs it does not read fill its queue, and it is cut.
    let deadline = std::time::Instant::now() + PATIENCE;
    while server.stat("slow_cut") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flooder was never cut"
        );
        pair.check();
    }
    flood.join().unwrap();
    pair.check();
    healthy(&mut server, 64);
}

#[test]
fn broken_frames_and_endless_messages_stall_nobody() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-line", "1000"]);
    let mut pair = Pair::new(&server);
    let mask = Some([0xde, 0xad, 0xbe, 0xef]);
    let mut cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", RawWs::frame(true, 1, b"LOGIN x", None), 1002),
        ("binary", RawWs::frame(true, 2, &[0, 1, 2], mask), 1003),
        (
            "bad UTF-8",
            RawWs::frame(true, 1, b"SAY \xed\xa0\x80", mask),
            1007,
        ),
        ("opcode 3", RawWs::frame(true, 3, b"", mask), 1002),
        (
            "a close code of 1",
            RawWs::frame(true, 8, &[0x03], mask),
            1002,
        ),
    ];
    // An endless message in fragments of 100 KB: past 1 MiB it is closed,
    // having been skipped, not kept.
    let mut endless = RawWs::frame(false, 1, &[b'e'; 100_000], mask);
    for _ in 0..20 {
        endless.extend(RawWs::frame(false, 0, &[b'e'; 100_000], mask));
    }
    cases.push(("endless fragments", endless, 1009));
    for (what, bytes, code) in cases {
        let mut raw = RawWs::open(server.addr);
        // Sent in two pieces, split mid-frame.
        let half = bytes.len() / 2;
        raw.stream.write_all(&bytes[..half]).unwrap();
        pair.check();
        let _ = raw.stream.write_all(&bytes[half..]);
        assert_eq!(raw.until_close(), Some(code), "{what}");
        pair.check();
    }
    healthy(&mut server, 64);
}

#[test]
fn a_websocket_half_frame_is_closed_by_the_idle_timeout_and_told_why() {
    let _serial = serial();
    // No pair here: it would be idle while this waits, and timed out too.
    let mut server = TestServer::start(&["--idle-timeout", "1"]);
    let mut raw = RawWs::open(server.addr);
    raw.send_text("LOGIN halfway");
    assert_eq!(raw.recv(), "OK LOGIN halfway");
    // A header promising 100 bytes, and 3 of them.
    let frame = RawWs::frame(true, 1, &[b'x'; 100], Some([1, 2, 3, 4]));
    raw.stream.write_all(&frame[..9]).unwrap();
    let mut texts = Vec::new();
    let code = loop {
        let frame = raw.read_frame().expect("frames until the close");
        match frame.opcode {
            1 if frame.text().starts_with("PING ") => {} // not answered
            1 => texts.push(frame.text()),
            8 => break frame.close_code(),
            _ => {}
        }
    };
    assert!(texts.iter().any(|t| t.starts_with("ERR 408 ")), "{texts:?}");
    assert_eq!(code, Some(1000));
    healthy(&mut server, 64);
}

#[test]
fn oversized_and_malformed_upgrade_heads_are_refused() {
    let _serial = serial();
    let mut server = TestServer::start(&[]);
    let mut pair = Pair::new(&server);
    let big = format!("{UPGRADE}X-Pad: {}\r\n", "p".repeat(9000));
    let (head, _) = handshake(server.addr, &big);
    assert!(head.starts_with("HTTP/1.1 431 "), "{head:.80}");
    let (head, _) = handshake(server.addr, "Upgrade: websocket\r\nBad Header\r\n");
    assert!(head.starts_with("HTTP/1.1 400 "), "{head:.80}");
    // Frames sent before the answer (which clients must not do) are still
    // read in order, as the connection's first input.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut request = format!("GET /ws HTTP/1.1\r\nHost: h\r\n{UPGRADE}\r\n").into_bytes();
    request.extend(RawWs::frame(true, 1, b"LOGIN eager", Some([5; 4])));
    // Far past the head's 8 KiB bound, in the same write: none of it lost.
    let long = format!("SAY {}", "x".repeat(9000));
    request.extend(RawWs::frame(true, 1, long.as_bytes(), Some([7; 4])));
    request.extend(RawWs::frame(true, 1, b"PING 1", Some([6; 4])));
    stream.write_all(&request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("PONG 1") {
        let n = stream.read(&mut buf).expect("the answers");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).contains("OK LOGIN eager"));
    let said = loop {
        let line = pair.a.recv();
        if line.starts_with("SAY eager ") {
            break line;
        }
    };
    assert!(said.ends_with(&"x".repeat(9000)), "{:.40}", said);
    pair.check();
    healthy(&mut server, 64);
}
