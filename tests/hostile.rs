//! Hostile and broken clients. Every case runs against the real server while
//! a normal pair keeps chatting; it passes when the pair's messages all
//! arrive (checked with PING barriers), the server is still alive, and its
//! memory stays under a stated bound.

mod common;
use common::pair::{healthy, raise_fd_limit, reset, wait_connections, Pair};
use common::{stat_of, Line, TestServer, PATIENCE};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The cases load the machine heavily; run them one at a time so that
/// memory bounds measure the server, not the neighbours.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn slowloris_half_frames_are_closed_by_the_idle_timeout() {
    let _serial = serial();
    let mut server = TestServer::start(&["--idle-timeout", "1"]);
    let mut pair = Pair::new(&server);
    let mut loris: Vec<TcpStream> = (0..500)
        .map(|i| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(format!("LOGIN lor{i}").as_bytes()).unwrap();
            s
        })
        .collect();
    pair.check();
    wait_connections(&server, 2, &mut pair);
    pair.check();
    healthy(&mut server, 64);
    // Each was told why before it was closed.
    let mut first = loris.swap_remove(0);
    first.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut told = String::new();
    let _ = std::io::Read::read_to_string(&mut first, &mut told);
    assert!(told.contains("ERR 408 "), "{told}");
}

#[test]
fn five_thousand_idle_connections_dropped_by_reset_leak_nothing() {
    let _serial = serial();
    raise_fd_limit();
    let mut server = TestServer::start(&[]);
    let mut pair = Pair::new(&server);
    let fds_before = server.open_fds();
    let crowd: Vec<TcpStream> = (0..5000)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    pair.check();
    // Some of them logged in, some half-way, some silent.
    for (i, mut s) in crowd.iter().enumerate() {
        match i % 3 {
            0 => s.write_all(format!("LOGIN idle{i}\n").as_bytes()).unwrap(),
            1 => s.write_all(b"SAY half a fra").unwrap(),
            _ => {}
        }
    }
    pair.check();
    assert!(server.stat("connections") >= 5000);
    for s in crowd {
        reset(s);
    }
    wait_connections(&server, 2, &mut pair);
    pair.check();
    assert_eq!(server.stat("users"), 2);
    // Every descriptor came back (allow the STATS probe's own).
    let deadline = Instant::now() + PATIENCE;
    while server.open_fds() > fds_before + 1 {
        assert!(
            Instant::now() < deadline,
            "fds leaked: {} vs {fds_before}",
            server.open_fds()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    healthy(&mut server, 200);
}

/// Writes `frame` flat out on `stream` until `stop`, in large batches, as
/// fast as the socket takes them. Returns how many frames went out.
fn flood(mut stream: TcpStream, frame: &'static [u8], stop: Arc<AtomicBool>) -> u64 {
    let batch: Vec<u8> = frame.repeat(1000);
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(&batch).is_err() {
            break;
        }
        sent += 1000;
    }
    sent
}

#[test]
fn a_flooding_client_is_read_once_a_turn_and_starves_nobody() {
    let _serial = serial();
    let mut server = TestServer::start(&[]);
    let mut pair = Pair::new(&server);
    let mut flooder = server.login("flooder");
    pair.check();
    let stop = Arc::new(AtomicBool::new(false));
    // PONG frames: work for the server's reader and parser, nothing to fan
    // out, so only unfair reading could slow the pair down.
    let stream = flooder.stream.try_clone().unwrap();
    let flooding = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || flood(stream, b"PONG flood\n", stop)
    });
    // While it floods, the pair is served, and the server never lists a
    // socket for re-reading more than once: the list is at most one entry
    // per connection (it grew by one a turn when a socket could be listed
    // twice, and the pair waited seconds behind it).
    for _ in 0..20 {
        pair.check();
        let stats = server.stats();
        let (throttled, connections) =
            (stat_of(&stats, "throttled"), stat_of(&stats, "connections"));
        assert!(throttled <= connections, "{stats}");
    }
    stop.store(true, Ordering::Relaxed);
    let sent = flooding.join().unwrap();
    assert!(sent > 0);
    // Everything it sent was read: its own barrier comes after it all.
    flooder.sync();
    assert!(server.stat("frames_in") >= sent);
    pair.check();
    healthy(&mut server, 64);
}

#[test]
fn a_message_to_many_offline_names_is_paced_like_a_flood() {
    let _serial = serial();
    let server = TestServer::start(&["--idle-timeout", "0"]);
    // 500 known names, offline: each named recipient is mail to hold.
    let names: Vec<String> = (0..500).map(|i| format!("n{i:03}")).collect();
    for chunk in names.chunks(100) {
        let mut visits: Vec<Line> = chunk
            .iter()
            .map(|name| {
                let mut c = server.connect();
                c.send(&format!("LOGIN {name}"));
                c.send("QUIT");
                c
            })
            .collect();
        for c in &mut visits {
            c.until_closed();
        }
    }
    let mut attacker = server.login("attacker");
    let mut bystander = server.login("bystander");
    attacker.sync();
    bystander.sync();
    // 24 frames of 500 recipients arrive at once, then the bystander's
    // STATS: the first turn reads both, the attacker's first.
    let frame = format!("MSG {} hi\n", names.join(","));
    server.pause();
    attacker.send_raw(frame.repeat(24).as_bytes());
    bystander.send("STATS");
    server.resume();
    let held = stat_of(&bystander.expect("STATS "), "held");
    // Each recipient is work: the turn that answered the bystander held
    // mail for about a thousand of them, not for all 12,000 the frames
    // name (as when each frame, however many it names, was one unit).
    assert!(held <= 4 * 500, "{held} held in the bystander's turn");
    attacker.sync();
    assert_eq!(server.stat("held"), 24 * 500);
}

#[test]
fn fifty_clients_that_never_read_are_cut_at_max_queue() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-queue", "1M"]);
    let mut pair = Pair::new(&server);
    let sleepers: Vec<Line> = (0..50)
        .map(|i| {
            let mut s = server.connect();
            s.send(&format!("LOGIN sleeper{i}"));
            s
        })
        .collect();
    let mut talker = server.login("talker");
    pair.check();
    // 30 MB of broadcasts in steps the pair keeps up with. The sleepers
    // are cut early on; one of them reads what it was left right away,
    // within the time a closing connection is given to take it.
    let text = "b".repeat(1000);
    let (mut sleepers, mut told) = (Some(sleepers), None);
    for _ in 0..150 {
        for _ in 0..200 {
            talker.send(&format!("SAY {text}"));
        }
        talker.sync();
        pair.check();
        if sleepers.is_some() && server.stat("slow_cut") == 50 {
            let mut first = sleepers.take().unwrap().into_iter().next().unwrap();
            told = first.until_closed().pop();
        }
    }
    assert_eq!(server.stat("slow_cut"), 50);
    let told = told.unwrap_or_default();
    assert!(told.starts_with("ERR 429 "), "last line: {told:.80}");
    pair.check();
    // Shared chunks: 50 queues at their limit cost far less than 50 MB.
    healthy(&mut server, 160);
}

#[test]
fn frames_at_and_around_max_line_and_a_100_mb_line() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-line", "100"]);
    let mut pair = Pair::new(&server);
    let mut c = server.login("edgy");
    pair.check();
    for (len, fits) in [(99, true), (100, true), (101, false)] {
        let frame = format!("SAY {}", "e".repeat(len - 4));
        assert_eq!(frame.len(), len);
        c.send(&frame);
        // A CR before the LF does not count.
        c.send_raw(format!("{frame}\r\n").as_bytes());
        let reply = c.sync();
        if fits {
            assert!(reply.is_empty(), "{len}: {reply:?}");
        } else {
            assert_eq!(reply.len(), 2, "one 413 per overlong frame: {reply:?}");
            assert!(reply.iter().all(|l| l.starts_with("ERR 413 ")), "{reply:?}");
        }
    }
    // 100 MB without a line feed, then the rest of the conversation.
    let mut stream = c.stream.try_clone().unwrap();
    let huge = std::thread::spawn(move || {
        let chunk = vec![b'h'; 1 << 20];
        for _ in 0..100 {
            stream.write_all(&chunk).unwrap();
        }
        stream.write_all(b"\nSAY after the storm\n").unwrap();
    });
    pair.check();
    huge.join().unwrap();
    c.expect("ERR 413 ");
    assert!(c.sync().is_empty(), "one 413 for the whole line");
    pair.check();
    assert!(
        pair.seen.iter().any(|l| l.ends_with(" after the storm")),
        "the next frame got through"
    );
    assert_eq!(
        pair.seen
            .iter()
            .filter(|l| l.starts_with("SAY edgy "))
            .count(),
        2 * (2 * 2 + 1),
        "each of them sees the frames that fit, and only those"
    );
    healthy(&mut server, 64);
}

#[test]
fn nul_bad_utf8_and_escape_edges_never_reach_anyone() {
    let _serial = serial();
    let mut server = TestServer::start(&[]);
    let mut pair = Pair::new(&server);
    let mut c = server.login("mallory");
    pair.check();
    let refused: &[&[u8]] = &[
        b"SAY nul\0inside",
        b"\0",
        b"SAY ends in a backslash\\",
        b"SAY unknown \\x escape",
        b"SAY \xc3\x28 bad utf8",
        b"SAY \xed\xa0\x80 surrogate",
        b"SAY bare\rcr",
    ];
    for frame in refused {
        c.send_raw(frame);
        c.send_raw(b"\n");
        assert!(c.recv().starts_with("ERR 400 "), "{frame:?}");
    }
    // An escaped backslash before n is text, not a newline.
    c.send("SAY two\\\\nchars");
    assert!(c.sync().is_empty());
    pair.check();
    let from_mallory: Vec<&String> = pair.seen.iter().filter(|l| l.contains("mallory")).collect();
    assert_eq!(
        from_mallory.len(),
        2 + 2,
        "JOINED and one good SAY each: {from_mallory:?}"
    );
    assert!(from_mallory
        .iter()
        .filter(|l| l.starts_with("SAY "))
        .all(|l| l.ends_with(" two\\\\nchars")));
    healthy(&mut server, 64);
}
