//! HTTP on the chat port, against the real server: health, metrics, the
//! answers to what it does not serve, hostile heads, and `evchat-server
//! health` — while chat clients on the same port go on as before.

mod common;

use common::TestServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

/// Sends `request` and reads the whole response (the server closes).
fn ask(server: &TestServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(common::PATIENCE)).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8(answer).unwrap()
}

#[test]
fn healthz_and_metrics_answer_on_the_chat_port() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let ok = ask(&server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("Connection: close\r\n") && ok.ends_with("\r\n\r\nok\n"));
    let head = ask(&server, b"HEAD /healthz HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let metrics = ask(&server, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert!(metrics.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(
        metrics.contains("# TYPE evchat_users gauge\nevchat_users 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE evchat_frames_in counter\n"));
    // The chat goes on beside it.
    alice.send("PING /not-http");
    assert_eq!(alice.recv(), "PONG /not-http");
}

#[test]
fn a_chat_clients_first_burst_is_all_read_as_chat() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut alice = common::Line::connect(server.addr);
    // One write far past the bound on an HTTP head: none of it is lost.
    let mut burst = String::from("LOGIN alice\n");
    for i in 0..2000 {
        burst.push_str(&format!("SAY {i} {}\n", "x".repeat(40)));
    }
    alice.send_raw(burst.as_bytes());
    alice.expect("OK LOGIN alice");
    bob.expect("JOINED alice");
    for i in 0..2000 {
        let said = bob.expect("SAY alice ");
        assert!(said.contains(&format!(" {i} ")), "{said}");
    }
}

#[test]
fn what_is_not_served_is_refused_with_the_right_status() {
    let server = TestServer::start(&[]);
    let post = ask(
        &server,
        b"POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(post.starts_with("HTTP/1.1 405") && post.contains("Allow: GET, HEAD\r\n"));
    let missing = ask(&server, b"GET /nope HTTP/1.1\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(9000));
    let refused = ask(&server, huge.as_bytes());
    assert!(refused.starts_with("HTTP/1.1 431"), "{refused}");
    let bad = ask(&server, b"GET / HTTP/1.1\r\n\x01\x02\r\n\r\n");
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    // None of it hurt the server.
    let _bob = server.login("bob");
    assert_eq!(server.stat("users"), 1);
}

#[test]
fn evchat_server_health_says_whether_the_server_is_up() {
    let server = TestServer::start(&[]);
    let port = server.addr.port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["health", "--port", &port])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
    drop(server);
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["health", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn evchat_server_health_says_plainly_when_the_port_does_not_speak_http() {
    // What a TLS port answers a plain request with: an alert record.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let tls_port = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 512];
        let _ = std::io::Read::read(&mut stream, &mut request);
        let _ = std::io::Write::write_all(&mut stream, b"\x15\x03\x03\x00\x02\x02\x32");
    });
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["health", "--port", &port])
        .output()
        .unwrap();
    tls_port.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("did not answer in HTTP"), "{said}");
}

#[test]
fn only_http_methods_start_http_a_chat_command_shaped_like_a_request_is_chat() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    // A line-protocol command whose text happens to look like a request
    // line is still the command.
    let mut quitter = common::Line::connect(server.addr);
    quitter.send_raw(b"QUIT /x HTTP/1.1\r\n");
    quitter.expect("BYE");
    let mut sayer = common::Line::connect(server.addr);
    sayer.send_raw(b"LOGIN carol\nSAY /me HTTP/1.1\n");
    sayer.expect("OK LOGIN carol");
    bob.expect("JOINED carol");
    bob.expect("SAY carol ");
    // Every method the port answers, even with 405, is HTTP.
    for method in ["OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT"] {
        let request = format!("{method} /healthz HTTP/1.1\r\n\r\n");
        let answer = ask(&server, request.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 405"), "{method}: {answer}");
    }
}
