//! Hostile and broken clients. Every case runs against the real server while
//! a normal pair keeps chatting; it passes when the pair's messages all
//! arrive (checked with PING barriers), the server is still alive, and its
//! memory stays under a stated bound.

mod common;
use common::{Line, TestServer, PATIENCE};
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

/// The cases load the machine heavily; run them one at a time so that
/// timeouts and memory bounds measure the server, not the neighbours.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Two well-behaved users who keep talking.
struct Pair {
    a: Line,
    b: Line,
    sent: u64,
}

impl Pair {
    fn new(server: &TestServer) -> Pair {
        let mut a = server.login("pair-a");
        let mut b = server.login("pair-b");
        a.sync();
        b.sync();
        Pair { a, b, sent: 0 }
    }

    /// A private message from a reaches b, and both barriers pass. Other
    /// traffic (broadcasts, JOINED/LEFT, keep-alive PINGs) is skipped.
    fn check(&mut self) {
        self.sent += 1;
        let token = format!("check-{}", self.sent);
        self.a.send(&format!("MSG pair-b {token}"));
        loop {
            let line = self.b.recv();
            if line.starts_with("MSG pair-a pair-b ") && line.ends_with(&token) {
                break;
            }
        }
        self.a.sync();
        self.b.sync();
    }
}

/// Asserts the server lives and its peak memory is below `mib`.
fn healthy(server: &mut TestServer, mib: u64) {
    assert!(server.is_alive(), "server died: {}", server.log());
    let peak = server.status_kib("VmHWM");
    assert!(peak < mib * 1024, "peak RSS {peak} KiB over {mib} MiB");
}

/// Waits until `STATS connections` is `n` (hang guard: PATIENCE).
fn wait_connections(server: &TestServer, n: u64, pair: &mut Pair) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        // The probe asking is itself a connection.
        let now = server.stat("connections");
        if now <= n + 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} connections left, want {n}"
        );
        pair.check();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Closes with a reset instead of a FIN (SO_LINGER 0).
fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// The test process needs many descriptors for the crowd cases, and its
/// descriptor table grown once up front: growing it step by step in a
/// process with several threads waits for an RCU grace period each time
/// (see `reserve_descriptors` in the server).
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        let dup = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 12_000);
        if dup >= 0 {
            libc::close(dup);
        }
    }
}

#[test]
fn slowloris_half_frames_are_closed_by_the_idle_timeout() {
    let _serial = serial();
    let mut server = TestServer::start(&["--idle-timeout", "3"]);
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

#[test]
fn a_flood_of_100k_frames_does_not_starve_the_others() {
    let _serial = serial();
    let mut server = TestServer::start(&[]);
    let mut pair = Pair::new(&server);
    let flooder = server.login("flooder");
    pair.a.sync();
    pair.b.sync();
    let mut stream = flooder.stream.try_clone().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_flood = std::sync::Arc::clone(&stop);
    let flood = std::thread::spawn(move || {
        // PONG frames: work for the server's reader and parser, nothing to
        // fan out, so only starvation could slow the pair down. Written in
        // large batches, as fast as the socket takes them, until the pair
        // is done and at least 100k frames went in.
        let batch: Vec<u8> = b"PONG flood\n".repeat(1000);
        let mut sent = 0u64;
        while !(stop_flood.load(std::sync::atomic::Ordering::Relaxed) && sent >= 100_000) {
            if stream.write_all(&batch).is_err() {
                break;
            }
            sent += 1000;
        }
        sent
    });
    // The pair is served while the flood goes on.
    for _ in 0..20 {
        pair.check();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = flood.join().unwrap();
    assert!(sent >= 100_000);
    pair.check();
    // The server is still working through the flood's backlog (megabytes
    // in socket buffers); at least 100k frames have been read and parsed.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let frames = server.stat("frames_in");
        if frames >= 100_000 {
            break;
        }
        assert!(Instant::now() < deadline, "only {frames} frames read");
        std::thread::sleep(Duration::from_millis(20));
    }
    healthy(&mut server, 64);
    drop(flooder);
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
    // 30 MB of broadcasts in steps the pair keeps up with.
    let text = "b".repeat(1000);
    for _ in 0..150 {
        for _ in 0..200 {
            talker.send(&format!("SAY {text}"));
        }
        talker.sync();
        pair.check();
    }
    assert_eq!(server.stat("slow_cut"), 50);
    pair.check();
    // Shared chunks: 50 queues at their limit cost far less than 50 MB.
    healthy(&mut server, 160);
    drop(sleepers);
}

#[test]
fn frames_at_and_around_max_line_and_a_100_mb_line() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-line", "100"]);
    let mut pair = Pair::new(&server);
    let mut c = server.login("edgy");
    pair.a.sync();
    for (len, fits) in [(99, true), (100, true), (101, false)] {
        let frame = format!("SAY {}", "e".repeat(len - 4));
        assert_eq!(frame.len(), len);
        c.send(&frame);
        let reply = c.sync();
        if fits {
            assert!(reply.is_empty(), "{len}: {reply:?}");
        } else {
            assert!(
                reply.len() == 1 && reply[0].starts_with("ERR 413 "),
                "{reply:?}"
            );
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
    let got = pair.a.sync();
    assert!(
        got.iter().any(|l| l.ends_with(" after the storm")),
        "{got:?}"
    );
    pair.check();
    healthy(&mut server, 64);
}

#[test]
fn nul_bad_utf8_and_escape_edges_never_reach_anyone() {
    let _serial = serial();
    let mut server = TestServer::start(&[]);
    let mut pair = Pair::new(&server);
    let mut c = server.login("mallory");
    pair.a.sync();
    pair.b.sync();
    let refused: &[&[u8]] = &[
        b"SAY nul\0inside",
        b"\0",
        b"SAY ends in a backslash\\",
        b"SAY unknown \\x escape",
        b"SAY \xc3\x28 bad utf8",
        b"SAY \xed\xa0\x80 surrogate",
    ];
    for frame in refused {
        c.send_raw(frame);
        c.send_raw(b"\n");
        assert!(c.recv().starts_with("ERR 400 "), "{frame:?}");
    }
    // UTF-8 split across reads: a valid character is fine, a broken one is
    // refused.
    for (tail, ok) in [(&b"\xa9 split\n"[..], true), (&b"( split\n"[..], false)] {
        c.send_raw(b"SAY caf\xc3");
        std::thread::sleep(Duration::from_millis(30));
        c.send_raw(tail);
        let reply = c.sync();
        assert_eq!(reply.is_empty(), ok, "{reply:?}");
    }
    for seen in [pair.a.sync(), pair.b.sync()] {
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].ends_with(" caf\u{e9} split"), "{seen:?}");
    }
    // An escaped backslash before n is text, not a newline.
    c.send("SAY two\\\\nchars");
    assert!(c.sync().is_empty());
    for seen in [pair.a.sync(), pair.b.sync()] {
        assert_eq!(seen.len(), 1, "only the good frame arrives: {seen:?}");
        assert!(seen[0].starts_with("SAY mallory ") && seen[0].ends_with(" two\\\\nchars"));
    }
    pair.check();
    healthy(&mut server, 64);
}

#[test]
fn resets_half_closes_and_closing_with_a_full_queue() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-queue", "64M"]);
    let mut pair = Pair::new(&server);
    // Reset in the middle of a frame: the half frame is never delivered.
    let mut r = server.login("resetter");
    r.send_raw(b"SAY never finis");
    std::thread::sleep(Duration::from_millis(20));
    reset(r.stream.try_clone().unwrap());
    drop(r);
    pair.check();
    // Half-close after QUIT: BYE still arrives, then EOF.
    let mut h = server.login("halfway");
    h.send("QUIT done");
    h.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(h.until_closed(), ["BYE"]);
    pair.check();
    // A client that closes while its queue is full.
    let full = server.login("fullq");
    let mut talker = server.login("talker2");
    let text = "q".repeat(1000);
    for _ in 0..20_000 {
        talker.send(&format!("SAY {text}"));
    }
    talker.sync();
    pair.check();
    assert!(server.stat("queued") > 0, "fullq should have a backlog");
    reset(full.stream.try_clone().unwrap());
    drop(full);
    wait_connections(&server, 3, &mut pair);
    let deadline = Instant::now() + PATIENCE;
    while server.stat("queued") > 0 {
        assert!(Instant::now() < deadline, "queue of a closed client kept");
        pair.check();
    }
    // No line from the broken clients reached the pair.
    let lines = pair.b.sync();
    assert!(
        lines.iter().all(|l| !l.contains("never finis")),
        "{lines:?}"
    );
    healthy(&mut server, 96);
}

#[test]
fn at_max_clients_the_next_gets_503_and_a_slot_frees() {
    let _serial = serial();
    let mut server = TestServer::start(&["--max-clients", "4"]);
    let mut pair = Pair::new(&server);
    let mut third = server.login("third");
    let _fourth = server.connect();
    pair.check();
    let mut refused = server.connect();
    let lines = refused.until_closed();
    assert!(
        lines.first().is_some_and(|l| l.starts_with("ERR 503 ")),
        "{lines:?}"
    );
    third.send("QUIT");
    third.until_closed();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut next = server.connect();
        next.send("LOGIN next");
        if next.try_recv().as_deref() == Some("OK LOGIN next") {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    pair.check();
    healthy(&mut server, 64);
}
