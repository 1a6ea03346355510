//! A flood of TLS handshakes: one replayed ClientHello costs its sender a
//! write and the server a signature. The loop must not be the one doing
//! them: a bystander is answered while the flood's handshakes are still
//! pending, and a handshake from another address is served in its turn
//! rather than behind the flood.
//!
//! The server's key is RSA-4096, whose signatures take milliseconds each,
//! and the server is stopped (SIGSTOP) while the flood and the bystander
//! write, so that all of it is waiting when it resumes, the flood first:
//! a loop that did the handshakes itself would write every flood answer
//! before the bystander's.

mod common;
use common::{stat_of, TestServer, PATIENCE};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Handshakes in the flood: fewer than one address may have waiting.
const FLOOD: usize = 60;

/// A self-signed certificate for localhost with an RSA-4096 key (PEM).
fn rsa_4096_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("rsa-cert.pem"), dir.join("rsa-key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:4096", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl makes the test's RSA key");
    assert!(made.status.success(), "{made:?}");
    (cert, key)
}

/// One real ClientHello, to be replayed: what the attacker sends.
fn client_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut hello = Vec::new();
    while tls.wants_write() {
        tls.write_tls(&mut hello).unwrap();
    }
    hello
}

fn server_with_slow_key(dir: &Path) -> (TestServer, SocketAddr) {
    let (cert, key) = rsa_4096_certificate(dir);
    let server = TestServer::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--tls-port",
        "0",
    ]);
    let tls_addr = server.logged_addr("listening for TLS on ");
    (server, tls_addr)
}

/// Connects from `from` (any 127.x.y.z: all of them are this machine).
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local = SocketAddr::from((from, 0));
    socket.bind(&local.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// How many of `streams` have something to read (or are closed), waiting
/// up to `wait_ms` for at least one.
fn readable(streams: &[&TcpStream], wait_ms: i32) -> usize {
    let mut fds: Vec<libc::pollfd> = streams
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: fds is a live, correctly sized array of pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    fds.iter().filter(|p| p.revents != 0).count()
}

/// Waits until the server has taken `clients` connections in (accepted
/// them), so that what is sent on them later arrives on sockets it
/// already watches.
fn wait_until_accepted(server: &TestServer, clients: u64) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let stats = server.stats();
        // Earlier probes may still be closing; this one is open.
        let open = stat_of(&stats, "connections") - stat_of(&stats, "closing") - 1;
        if open >= clients {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not accepted: {stats}"
        );
    }
}

#[test]
fn a_flood_of_slow_handshakes_does_not_hold_up_the_plain_port() {
    let dir = tempfile::tempdir().unwrap();
    let (server, tls_addr) = server_with_slow_key(dir.path());
    let hello = client_hello();
    let mut bystander = server.connect();
    bystander.sync();
    let mut flood: Vec<TcpStream> = (0..FLOOD)
        .map(|_| TcpStream::connect(tls_addr).unwrap())
        .collect();
    wait_until_accepted(&server, FLOOD as u64 + 1);
    // All of the flood is waiting when the server resumes, then the PING.
    server.pause();
    for s in &mut flood {
        s.write_all(&hello).unwrap();
    }
    bystander.send("PING bystander");
    server.resume();
    bystander.expect("PONG bystander");
    let flood_refs: Vec<&TcpStream> = flood.iter().collect();
    let answered = readable(&flood_refs, 0);
    assert!(
        answered < FLOOD,
        "all {FLOOD} handshakes were done before a PING on the plain port was answered"
    );
    // And each of them is answered in the end: none was dropped.
    for s in &flood {
        assert_eq!(readable(&[s], PATIENCE.as_millis() as i32), 1);
    }
}

#[test]
fn a_handshake_from_another_address_is_served_in_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, tls_addr) = server_with_slow_key(dir.path());
    let hello = client_hello();
    let mut flood: Vec<TcpStream> = (0..FLOOD)
        .map(|_| connect_from([127, 0, 0, 1], tls_addr))
        .collect();
    let mut other = connect_from([127, 1, 0, 1], tls_addr);
    wait_until_accepted(&server, FLOOD as u64 + 1);
    // The other address's handshake arrives last, behind the whole flood.
    server.pause();
    for s in &mut flood {
        s.write_all(&hello).unwrap();
    }
    other.write_all(&hello).unwrap();
    server.resume();
    assert_eq!(readable(&[&other], PATIENCE.as_millis() as i32), 1);
    let flood_refs: Vec<&TcpStream> = flood.iter().collect();
    let answered = readable(&flood_refs, 0);
    assert!(
        answered < FLOOD / 2,
        "{answered} of the flood's {FLOOD} handshakes were served before another address's"
    );
    assert!(server.is_alive());
}

#[test]
fn past_its_bound_one_address_handshakes_are_refused_not_queued() {
    // evchat::server::handshake_pool::BOUNDS.max_per_address
    const BOUND: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let (server, tls_addr) = server_with_slow_key(dir.path());
    let hello = client_hello();
    let mut flood: Vec<TcpStream> = (0..BOUND + 8)
        .map(|_| TcpStream::connect(tls_addr).unwrap())
        .collect();
    wait_until_accepted(&server, flood.len() as u64);
    server.pause();
    for s in &mut flood {
        s.write_all(&hello).unwrap();
    }
    server.resume();
    let (mut answered, mut refused) = (0, 0);
    for s in &mut flood {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut byte = [0u8; 1];
        match std::io::Read::read(s, &mut byte) {
            Ok(0) => refused += 1,
            Ok(_) => answered += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => refused += 1,
            Err(e) => panic!("neither answered nor closed: {e}"),
        }
    }
    assert!(refused > 0, "all {answered} were queued");
    assert!(answered >= BOUND, "only {answered} answered");
    // Answered, none of them finished (the flood never sends a Finished).
    assert_eq!(server.stat("handshakes"), 0);
}
