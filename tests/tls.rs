//! TLS: chat over TLS beside plain text, a plain client on the TLS port, a
//! client that does not trust the certificate — none of which disturbs a
//! pair chatting meanwhile.

mod common;
use common::certs::certificates;
use common::{TestServer, PATIENCE};
use evchat::client::{tls::client_config, Client, Event};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A server with plain text on --port and TLS on --tls-port.
fn tls_server(dir: &Path) -> (TestServer, std::net::SocketAddr, PathBuf) {
    tls_server_with(dir, &[])
}

fn tls_server_with(dir: &Path, extra: &[&str]) -> (TestServer, std::net::SocketAddr, PathBuf) {
    let (ca, cert, key) = certificates(dir, "test");
    let mut args = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--tls-port",
        "0",
    ];
    args.extend_from_slice(extra);
    let server = TestServer::start(&args);
    let tls_addr = server.logged_addr("listening for TLS on ");
    (server, tls_addr, ca)
}

fn tls_client(addr: std::net::SocketAddr, ca: &Path) -> Client {
    let config = client_config(Some(ca)).unwrap();
    Client::connect_tls(addr, "localhost", config).unwrap()
}

/// Waits for the first event that is not a JOINED/LEFT notice.
fn next_message(client: &mut Client) -> Event {
    loop {
        match client.recv().unwrap() {
            Event::Joined { .. } | Event::Left { .. } => {}
            event => return event,
        }
    }
}

#[test]
fn chat_over_tls_beside_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tls_addr, ca) = tls_server(dir.path());
    let mut alice = server.login("alice");
    let mut bob = tls_client(tls_addr, &ca);
    bob.login("bob").unwrap();
    alice.expect("JOINED bob ");
    // Both directions, with text that needs escaping, and a large message.
    alice.send("SAY over\\nthe wire");
    match next_message(&mut bob) {
        Event::Say { from, text, .. } => {
            assert_eq!((from.as_str(), text.as_str()), ("alice", "over\nthe wire"))
        }
        other => panic!("{other:?}"),
    }
    let big = "t".repeat(60_000);
    bob.msg(&["alice"], &big).unwrap();
    bob.ping("done").unwrap();
    let line = alice.expect("MSG bob alice ");
    assert!(line.ends_with(&big));
    match next_message(&mut bob) {
        Event::Pong { token } => assert_eq!(token.as_deref(), Some("done")),
        other => panic!("{other:?}"),
    }
    // Many messages to the TLS client in one burst arrive whole and in order.
    for i in 0..2000 {
        alice.send(&format!("SAY burst {i}"));
    }
    for i in 0..2000 {
        match next_message(&mut bob) {
            Event::Say { text, .. } => assert_eq!(text, format!("burst {i}")),
            other => panic!("{other:?}"),
        }
    }
    bob.quit(None).unwrap();
    loop {
        if let Event::Bye = bob.recv().unwrap() {
            break;
        }
    }
}

#[test]
fn a_plain_client_on_the_tls_port_is_dropped_and_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, tls_addr, ca) = tls_server(dir.path());
    let mut carol = tls_client(tls_addr, &ca);
    carol.login("carol").unwrap();
    let mut alice = server.login("alice");
    let mut plain = std::net::TcpStream::connect(tls_addr).unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    plain.write_all(b"LOGIN mallory\n").unwrap();
    let mut answer = Vec::new();
    // Closed (after a TLS alert), not left hanging.
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("OK LOGIN"));
    alice.send("MSG carol still here?");
    match next_message(&mut carol) {
        Event::Msg { from, text, .. } => {
            assert_eq!((from.as_str(), text.as_str()), ("alice", "still here?"))
        }
        other => panic!("{other:?}"),
    }
    assert!(server.is_alive());
    alice.send("WHO");
    assert_eq!(alice.expect("USERS"), "USERS alice carol");
}

#[test]
fn an_untrusted_certificate_fails_the_handshake_without_disturbing_others() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, tls_addr, ca) = tls_server(dir.path());
    let mut carol = tls_client(tls_addr, &ca);
    carol.login("carol").unwrap();
    let (other_ca, _, _) = certificates(dir.path(), "other");
    let config = client_config(Some(&other_ca)).unwrap();
    let refused = Client::connect_tls(tls_addr, "localhost", Arc::clone(&config));
    let err = refused.expect_err("a certificate from an unknown CA must be refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // The wrong name is refused too.
    let good = client_config(Some(&ca)).unwrap();
    assert!(Client::connect_tls(tls_addr, "example.com", good).is_err());
    let mut alice = server.login("alice");
    alice.send("MSG carol fine");
    match next_message(&mut carol) {
        Event::Msg { text, .. } => assert_eq!(text, "fine"),
        other => panic!("{other:?}"),
    }
    assert!(server.is_alive());
}

#[test]
fn the_client_binary_speaks_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tls_addr, ca) = tls_server(dir.path());
    let mut alice = server.login("alice");
    let port = tls_addr.port().to_string();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_evchat-client"));
    command
        .args(["bob", "--host", "localhost", "--port", &port])
        .args(["--tls", "--ca", ca.to_str().unwrap()]);
    let out = common::run_with_stdin(&mut command, b"hello over tls\n");
    assert!(out.status.success(), "{out:?}");
    alice.expect("JOINED bob ");
    assert!(alice.expect("SAY bob ").ends_with("hello over tls"));
}

#[test]
fn sighup_loads_a_renewed_certificate_for_new_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), "first");
    let mut server = TestServer::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let mut old = tls_client(server.addr, &ca);
    old.login("old").unwrap();
    // Renewal under a new CA, written over the same files.
    let (new_ca, new_cert, new_key) = certificates(dir.path(), "second");
    std::fs::copy(&new_cert, &cert).unwrap();
    std::fs::copy(&new_key, &key).unwrap();
    server.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + PATIENCE;
    while !server.log().contains("certificate reloaded") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut renewed = tls_client(server.addr, &new_ca);
    renewed.login("renewed").unwrap();
    let stale = client_config(Some(&ca)).unwrap();
    assert!(Client::connect_tls(server.addr, "localhost", stale).is_err());
    // The connection made before the reload goes on.
    renewed.msg(&["old"], "still connected?").unwrap();
    match next_message(&mut old) {
        Event::Msg { text, .. } => assert_eq!(text, "still connected?"),
        other => panic!("{other:?}"),
    }
    assert!(server.is_alive());
}

#[test]
fn a_tls_client_refused_because_the_server_is_full_is_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tls_addr, ca) = tls_server_with(dir.path(), &["--max-clients", "1"]);
    let _only = server.login("only");
    let mut refused = tls_client(tls_addr, &ca);
    match refused.login("late") {
        Err(evchat::client::Error::Refused { code: 503, text }) => {
            assert!(text.contains("server full"), "{text}")
        }
        other => panic!("expected ERR 503 server full, got {other:?}"),
    }
}

#[test]
fn the_tls_port_serves_the_page_over_https_and_websocket_over_wss() {
    use tungstenite::client::IntoClientRequest;
    let dir = tempfile::tempdir().unwrap();
    let (server, tls_addr, ca) = tls_server(dir.path());
    let config = client_config(Some(&ca)).unwrap();
    let tls = |addr| {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
        let tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        rustls::StreamOwned::new(conn, tcp)
    };
    // https://: sniffed after decryption, the page as on the plain port.
    let mut page = tls(tls_addr);
    page.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = page.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:.200}");
    assert!(answer.contains("Content-Security-Policy: default-src 'none'"));
    server.log_with(&format!("open https://{tls_addr}/"));
    // wss://, chatting with a plain line user.
    let request = format!("ws://localhost:{}/ws", tls_addr.port())
        .into_client_request()
        .unwrap();
    let (mut ws, _) = tungstenite::client(request, tls(tls_addr)).expect("wss handshake");
    ws.send(tungstenite::Message::text("LOGIN secure")).unwrap();
    assert_eq!(
        ws.read().unwrap().into_text().unwrap().as_str(),
        "OK LOGIN secure"
    );
    let mut plain = server.login("plain");
    plain.send("SAY over the wire");
    let said = loop {
        let text = ws.read().unwrap().into_text().unwrap().to_string();
        if text.starts_with("SAY ") {
            break text;
        }
    };
    assert!(
        said.starts_with("SAY plain ") && said.ends_with(" over the wire"),
        "{said}"
    );
    // IRC, sniffed after decryption too.
    let mut irc = std::io::BufReader::new(tls(tls_addr));
    irc.get_mut()
        .write_all(
            b"NICK ircuser\r\nUSER ircuser 0 * :i\r\nPRIVMSG #everyone :from irc over tls\r\n",
        )
        .unwrap();
    let mut line = String::new();
    while !line.contains(" 001 ircuser ") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut irc, &mut line).unwrap() > 0,
            "closed"
        );
    }
    let said = plain.expect("JOINED ircuser");
    assert!(said.starts_with("JOINED ircuser "), "{said}");
    let said = plain.expect("SAY ircuser ");
    assert!(said.ends_with(" from irc over tls"), "{said}");
}
