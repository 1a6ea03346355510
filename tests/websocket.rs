//! Browser-protocol users against the real server: WebSocket at `/ws` on
//! the chat port, one text message per protocol frame both ways, sharing
//! one chat with line users — and the page it is opened from.

mod common;

use common::ws::{handshake, RawWs, Ws, UPGRADE};
use common::{TestServer, PATIENCE};
use std::io::Read;
use std::net::TcpStream;

#[test]
fn one_message_is_one_frame_both_ways_with_line_users() {
    let server = TestServer::start(&[]);
    let mut web = Ws::login(server.addr, "webby");
    let mut nc = server.login("ncat");
    assert!(web.sync().iter().any(|t| t.starts_with("JOINED ncat ")));
    nc.send("SAY hello\\nfrom nc");
    let said = web.expect("SAY ncat ");
    assert!(said.ends_with(" hello\\nfrom nc"), "{said}");
    web.send("SAY hi back");
    let back = nc.expect("SAY webby ");
    assert!(back.ends_with(" hi back"));
    web.send("MSG ncat psst");
    assert!(nc.expect("MSG webby ncat ").ends_with(" psst"));
    nc.send("MSG webby shh");
    assert!(web.expect("MSG ncat webby ").ends_with(" shh"));
    // A reply made of several frames comes as several messages.
    web.send("WHO");
    assert_eq!(web.recv(), "USERS ncat webby");
    web.send("QUIT");
    let (code, texts) = web.until_close();
    assert_eq!((code, texts), (Some(1000), vec!["BYE".to_owned()]));
    assert!(nc.expect("LEFT webby ").starts_with("LEFT webby "));
}

#[test]
fn raw_newlines_and_long_messages_get_errors_and_the_connection_goes_on() {
    let server = TestServer::start(&["--max-line", "100"]);
    let mut web = Ws::login(server.addr, "w");
    let mut nc = server.login("n");
    web.sync();
    web.send("SAY two\nlines");
    web.expect("ERR 400 ");
    web.send("SAY cr\r");
    web.expect("ERR 400 ");
    web.send(&format!("SAY {}", "x".repeat(200)));
    web.expect("ERR 413 ");
    web.send(""); // ignored
    web.send("SAY still here");
    assert!(nc.expect("SAY w ").ends_with(" still here"));
    assert_eq!(web.sync(), Vec::<String>::new());
}

#[test]
fn a_message_past_the_hard_cap_closes_with_1009() {
    let server = TestServer::start(&["--max-line", "100"]);
    let mut raw = RawWs::open(server.addr);
    // The hard cap is 16 × --max-line, at least 1 MiB: the header alone
    // says so, before any of the payload is sent.
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&((1u64 << 20) + 1).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    std::io::Write::write_all(&mut raw.stream, &frame).unwrap();
    assert_eq!(raw.until_close(), Some(1009));
}

#[test]
fn fragments_are_joined_under_the_same_limit() {
    let server = TestServer::start(&["--max-line", "100"]);
    let mut nc = server.login("n");
    let mut raw = RawWs::open(server.addr);
    raw.send_text("LOGIN r");
    assert_eq!(raw.recv(), "OK LOGIN r");
    nc.expect("JOINED r ");
    raw.send_frame(false, 1, b"SAY in ");
    raw.send_frame(true, 9, b"between"); // a ping between fragments
    raw.send_frame(false, 0, b"three ");
    raw.send_frame(true, 0, b"parts");
    let pong = raw.read_frame().unwrap();
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (10, &b"between"[..])
    );
    assert!(nc.expect("SAY r ").ends_with(" in three parts"));
    // Each fragment under the limit, the whole over it.
    raw.send_frame(false, 1, &[b'a'; 60]);
    raw.send_frame(true, 0, &[b'a'; 60]);
    assert!(raw.recv().starts_with("ERR 413 "));
}

#[test]
fn protocol_errors_close_with_their_codes() {
    let server = TestServer::start(&[]);
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("unmasked", RawWs::frame(true, 1, b"WHO", None), 1002),
        ("binary", RawWs::frame(true, 2, b"WHO", Some([1; 4])), 1003),
        (
            "bad UTF-8",
            RawWs::frame(true, 1, b"SAY \xc3", Some([2; 4])),
            1007,
        ),
        (
            "reserved bit",
            {
                let mut f = RawWs::frame(true, 1, b"WHO", Some([3; 4]));
                f[0] |= 0x40; // permessage-deflate was not agreed
                f
            },
            1002,
        ),
        (
            "continuation of nothing",
            RawWs::frame(true, 0, b"x", Some([4; 4])),
            1002,
        ),
    ];
    for (what, frame, code) in cases {
        let mut raw = RawWs::open(server.addr);
        std::io::Write::write_all(&mut raw.stream, &frame).unwrap();
        assert_eq!(raw.until_close(), Some(code), "{what}");
        let mut rest = Vec::new();
        let _ = raw.stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{what}: nothing after the close frame");
    }
    // The server lives on.
    server.login("after");
}

#[test]
fn ping_is_answered_and_the_close_handshake_is_done() {
    let server = TestServer::start(&[]);
    let mut raw = RawWs::open(server.addr);
    raw.send_frame(true, 9, b"are you there");
    let pong = raw.read_frame().unwrap();
    assert_eq!((pong.opcode, pong.payload), (10, b"are you there".to_vec()));
    raw.send_frame(true, 8, &[0x03, 0xe8]); // 1000
    let close = raw.read_frame().unwrap();
    assert_eq!(close.close_code(), Some(1000), "the code is echoed");
    assert!(
        raw.read_frame().is_none(),
        "then the server closes the TCP connection"
    );
    // The library's view of the same.
    let mut ws = Ws::login(server.addr, "lib");
    ws.close(1000);
    loop {
        match ws.socket.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("close handshake: {e}"),
        }
    }
}

#[test]
fn two_hundred_browser_users_and_line_users_share_one_broadcast() {
    let server = TestServer::start(&[]);
    let mut webs: Vec<Ws> = (0..200)
        .map(|i| Ws::login(server.addr, &format!("w{i}")))
        .collect();
    let mut lines: Vec<_> = (0..20).map(|i| server.login(&format!("n{i}"))).collect();
    let mut speaker = server.login("speaker");
    for i in 0..3 {
        speaker.send(&format!("SAY round {i} <b>&amp;</b>"));
    }
    speaker.sync();
    for ws in webs.iter_mut() {
        let said: Vec<String> = ws
            .sync()
            .into_iter()
            .filter(|t| t.starts_with("SAY "))
            .collect();
        assert_eq!(said.len(), 3, "{said:?}");
        assert!(said[2].ends_with(" round 2 <b>&amp;</b>"), "{said:?}");
    }
    for nc in lines.iter_mut() {
        let said: Vec<String> = nc
            .sync()
            .into_iter()
            .filter(|t| t.starts_with("SAY "))
            .collect();
        assert_eq!(said.len(), 3);
    }
}

#[test]
fn upgrades_from_other_sites_are_refused_unless_allowed() {
    let server = TestServer::start(&["--allow-origin", "https://friend.example"]);
    let own = format!("http://{}", server.addr);
    assert!(Ws::connect(server.addr, Some(&own)).is_ok(), "its own page");
    assert!(Ws::connect(server.addr, None).is_ok(), "not a browser");
    assert!(Ws::connect(server.addr, Some("https://friend.example")).is_ok());
    let (head, _) = handshake(
        server.addr,
        &format!("{UPGRADE}Origin: https://evil.example\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
    // DNS rebinding: a page at evil.example, which resolves to this
    // loopback server, has an Origin equal to its Host.
    let port = server.addr.port();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let rebound = format!(
        "GET /ws HTTP/1.1\r\nHost: evil.example:{port}\r\nOrigin: http://evil.example:{port}\r\n{UPGRADE}\r\n"
    );
    std::io::Write::write_all(&mut stream, rebound.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    // Bad upgrades: 400, and no WebSocket.
    for headers in [
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    ] {
        let (head, _) = handshake(server.addr, headers);
        assert!(head.starts_with("HTTP/1.1 400 "), "{headers}: {head}");
    }
    // A HEAD of /ws is no upgrade: 400, and no body.
    let mut head = TcpStream::connect(server.addr).unwrap();
    let request = format!(
        "HEAD /ws HTTP/1.1\r\nHost: {}\r\n{UPGRADE}\r\n",
        server.addr
    );
    std::io::Write::write_all(&mut head, request.as_bytes()).unwrap();
    let mut answer = String::new();
    head.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "no body: {answer}");
    // permessage-deflate is declined by not naming it.
    let (head, _) = handshake(
        server.addr,
        &format!("{UPGRADE}Sec-WebSocket-Extensions: permessage-deflate\r\n"),
    );
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(!head.to_ascii_lowercase().contains("extensions"), "{head}");
}

/// The whole response to a plain GET.
fn get(server: &TestServer, path: &str) -> String {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_page_is_served_with_a_strict_policy_and_no_web_turns_http_off() {
    let server = TestServer::start(&[]);
    // Every file of web/, as built into the binary: one added to the page
    // but not served fails here.
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut files: Vec<(String, String, &str)> = std::fs::read_dir(&web)
        .unwrap()
        .map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let kind = match name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("html") => "text/html",
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("svg") => "image/svg+xml",
                other => panic!("web/{name}: what type is {other:?}?"),
            };
            let body = std::fs::read_to_string(web.join(&name)).unwrap();
            let path = if name == "index.html" {
                "/".to_owned()
            } else {
                format!("/{name}")
            };
            (path, body, kind)
        })
        .collect();
    assert!(files.len() >= 8, "{files:?}");
    let icon = std::fs::read_to_string(web.join("favicon.svg")).unwrap();
    files.push(("/favicon.ico".to_owned(), icon, "image/svg+xml"));
    for (path, body, kind) in &files {
        let answer = get(&server, path);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{path}: {answer}");
        assert!(answer.contains(&format!("Content-Type: {kind}")), "{path}");
        assert!(
            answer.ends_with(body.as_str()),
            "{path}: not the file in web/"
        );
        assert!(answer.contains(
            "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n"
        ), "{path}");
        assert!(
            answer.contains("Referrer-Policy: no-referrer\r\n"),
            "{path}"
        );
    }
    server.log_with(&format!("open http://{}/", server.addr));
    let off = TestServer::start(&["--no-web"]);
    // Without HTTP, a request line is just a line the chat does not know.
    let mut request = off.connect();
    request.send("GET / HTTP/1.1");
    request.expect("ERR 400 ");
    assert!(!off.log().contains("open http://"));
}

#[test]
fn a_full_server_tells_a_browser_so() {
    let server = TestServer::start(&["--max-clients", "1"]);
    let _only = server.login("only");
    // The page still loads, and its WebSocket is told why it cannot stay.
    assert!(get(&server, "/").starts_with("HTTP/1.1 200 "));
    // It takes no logins now: not healthy, and says why.
    let health = get(&server, "/healthz");
    assert!(health.starts_with("HTTP/1.1 503 "), "{health}");
    assert!(health.ends_with("unavailable: server full\n"), "{health}");
    let mut raw = RawWs::open(server.addr);
    assert_eq!(raw.recv(), "ERR 503 server full; try again later");
    assert_eq!(raw.until_close(), Some(1013));
    // A line client is told in lines, as soon as it speaks.
    let mut nc = server.connect();
    nc.send("LOGIN late");
    assert_eq!(nc.until_closed(), ["ERR 503 server full; try again later"]);
}

#[test]
fn held_mail_reaches_a_browser_user_at_login_one_message_each() {
    let server = TestServer::start(&[]);
    let mut web = Ws::login(server.addr, "away");
    web.send("QUIT");
    web.until_close();
    let mut nc = server.login("sender");
    nc.send("MSG away first");
    nc.send("MSG away second\\nline");
    nc.sync();
    let mut web = Ws::login(server.addr, "away");
    // Each held message is its own text message, then the server's PING
    // (answered by sync) that acknowledges them.
    let texts = web.sync();
    let held: Vec<&String> = texts.iter().filter(|t| t.starts_with("MSG ")).collect();
    assert_eq!(held.len(), 2, "{texts:?}");
    assert!(held[0].starts_with("MSG sender away ") && held[0].ends_with(" first"));
    assert!(held[1].ends_with(" second\\nline"));
    assert_eq!(server.stat("held"), 0, "acknowledged by the page's PONG");
}
