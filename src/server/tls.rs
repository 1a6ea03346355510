//! TLS for the server: certificates from PEM files, and a connection type
//! that the same readiness loop drives, plain or encrypted.
//!
//! rustls does no I/O of its own, which is what lets one thread serve TLS
//! without a thread per client: the loop feeds it ciphertext read from the
//! socket (`read_tls`), takes plaintext out, and writes the ciphertext it
//! produces (`write_tls`) when the socket has room. Its outgoing buffer is
//! capped (rustls's 64 KiB default), so a client that does not read still
//! costs no more than `--max-queue` plus that.

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Reads a certificate chain and its private key (PEM) into a config.
pub fn load_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| format!("bad certificate or key: {e}"))?;
    Ok(Arc::new(config))
}

/// Writes the ciphertext `tls` holds, until done or the socket is full.
fn flush(tls: &mut ServerConnection, stream: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Where a TLS handshake's cryptography stands (see
/// [`handshake`](super::handshake)): the loop never does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crypto {
    /// Nothing waits for the pool: plain, or rustls may be driven here.
    Here,
    /// Handshake records were read; the loop is to queue them.
    Wanted,
    /// Queued for the pool under this ticket.
    Queued(u64),
    /// With the pool under this ticket (rustls's state is there).
    Away(u64),
}

/// A connection's transport: the socket, who is at the other end, and TLS
/// state when the connection is encrypted.
#[derive(Debug)]
pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// rustls's state; `None` for a plain connection, and for a TLS one
    /// while the handshake pool has it.
    tls: Option<Box<ServerConnection>>,
    encrypted: bool,
    crypto: Crypto,
    /// Ciphertext read from the socket so far: what the loop's read budget
    /// counts for TLS (a flood of tiny records decrypts to few bytes).
    wire_read: u64,
    /// A close_notify has been queued.
    closing: bool,
}

impl Conn {
    pub fn plain(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            stream,
            peer,
            tls: None,
            encrypted: false,
            crypto: Crypto::Here,
            wire_read: 0,
            closing: false,
        }
    }

    pub fn tls(
        stream: TcpStream,
        peer: SocketAddr,
        config: &Arc<ServerConfig>,
    ) -> io::Result<Conn> {
        let tls = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
        Ok(Conn {
            stream,
            peer,
            tls: Some(Box::new(tls)),
            encrypted: true,
            crypto: Crypto::Here,
            wire_read: 0,
            closing: false,
        })
    }

    pub fn is_tls(&self) -> bool {
        self.encrypted
    }

    /// Where its handshake's cryptography stands.
    pub fn crypto(&self) -> Crypto {
        self.crypto
    }

    /// The loop queued its handshake records for the pool.
    pub fn queued(&mut self, ticket: u64) {
        self.crypto = Crypto::Queued(ticket);
    }

    /// Hands rustls's state to the pool, if this is the connection queued
    /// under `ticket`.
    pub fn send_away(&mut self, ticket: u64) -> Option<Box<ServerConnection>> {
        if self.crypto != Crypto::Queued(ticket) {
            return None;
        }
        let tls = self.tls.take()?;
        self.crypto = Crypto::Away(ticket);
        Some(tls)
    }

    /// Takes rustls's state back from the pool; gives it back when this
    /// is not the connection it went away from.
    pub fn come_back(
        &mut self,
        ticket: u64,
        tls: Box<ServerConnection>,
    ) -> Result<(), Box<ServerConnection>> {
        if self.crypto != Crypto::Away(ticket) {
            return Err(tls);
        }
        self.tls = Some(tls);
        self.crypto = Crypto::Here;
        Ok(())
    }

    /// Writes the ciphertext rustls holds, as far as the socket takes it.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        match &mut self.tls {
            Some(tls) => flush(tls, &mut self.stream),
            None => Ok(()),
        }
    }

    /// Is ciphertext still waiting for room in the socket?
    pub fn tls_pending(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// Is a TLS handshake still under way? Plaintext written meanwhile
    /// waits in rustls until it is done, so closing now would lose it.
    pub fn is_handshaking(&self) -> bool {
        matches!(self.crypto, Crypto::Away(_))
            || self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }

    /// Bytes read from the socket so far (ciphertext, for TLS).
    pub fn wire_read(&self) -> u64 {
        self.wire_read
    }

    /// Starts closing: a TLS close_notify (once), as far as it can be
    /// written.
    pub fn close_notify(&mut self) {
        if let Some(tls) = &mut self.tls {
            if !self.closing {
                self.closing = true;
                tls.send_close_notify();
            }
        }
        let _ = self.flush_tls();
    }
}

impl Read for Conn {
    /// Plaintext from the peer; `Ok(0)` at its end, `WouldBlock` when the
    /// socket has nothing more — or while handshake records wait for the
    /// pool ([`crypto`](Conn::crypto) says so).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.encrypted {
                let n = self.stream.read(buf)?;
                self.wire_read += n as u64;
                return Ok(n);
            }
            let Some(tls) = self.tls.as_mut().filter(|_| self.crypto == Crypto::Here) else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            if tls.is_handshaking() {
                // Only the bytes, here: processing them is the
                // handshake's cryptography, the pool's work.
                let wire = tls.read_tls(&mut self.stream)?;
                self.wire_read += wire as u64;
                if wire == 0 {
                    return Ok(0);
                }
                self.crypto = Crypto::Wanted;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            // Records rustls already holds come before the socket's: it
            // stops decrypting while its plaintext buffer is full, and
            // the socket may have nothing more to wake us with.
            if let Err(e) = tls.process_new_packets() {
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            let Some(tls) = self.tls.as_mut() else {
                return Ok(0);
            };
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: an end all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            let wire = tls.read_tls(&mut self.stream)?;
            self.wire_read += wire as u64;
            if wire == 0 {
                return Ok(0);
            }
            let processed = tls.process_new_packets().map(|_| ());
            if let Err(e) = processed {
                // Tell the peer why (an alert), then give up on it.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Anything to answer (a key update), if any.
            self.flush_tls()?;
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Plain: one `writev`. TLS: ciphertext already made goes first; new
    /// plaintext is taken only while the socket takes all the ciphertext
    /// it turns into. So a short return means the socket is full (and a
    /// writable event will follow), and rustls's buffer is the only one
    /// between the queue and the socket.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if !self.encrypted {
            return self.stream.write_vectored(bufs);
        }
        let Some(tls) = &mut self.tls else {
            // The handshake pool has rustls: wait for it, as for room.
            return Err(io::ErrorKind::WouldBlock.into());
        };
        flush(tls, &mut self.stream)?;
        let mut taken = 0;
        'bufs: for buf in bufs {
            let mut rest: &[u8] = buf;
            while !tls.wants_write() && !rest.is_empty() {
                let n = tls.writer().write(rest)?;
                if n == 0 {
                    break 'bufs;
                }
                taken += n;
                rest = rest.get(n..).unwrap_or_default();
                flush(tls, &mut self.stream)?;
            }
            if tls.wants_write() {
                break;
            }
        }
        if taken == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use std::time::{Duration, Instant};

    /// Writes a CA and a certificate for localhost it signed; returns the
    /// server's config and the client's.
    fn configs(dir: &Path) -> (Arc<ServerConfig>, Arc<rustls::ClientConfig>) {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let (ca_pem, cert_pem, key_pem) = (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        );
        std::fs::write(&ca_pem, ca.pem()).unwrap();
        std::fs::write(&cert_pem, cert.pem()).unwrap();
        std::fs::write(&key_pem, key.serialize_pem()).unwrap();
        let server = load_config(&cert_pem, &key_pem).unwrap();
        let client = crate::client::tls::client_config(Some(&ca_pem)).unwrap();
        (server, client)
    }

    /// Does what the loop and the handshake pool do with handshake records.
    fn handshake_step(conn: &mut Conn) {
        conn.queued(1);
        let mut tls = conn.send_away(1).unwrap();
        tls.process_new_packets().unwrap();
        conn.come_back(1, tls).unwrap();
        conn.flush_tls().unwrap();
    }

    #[test]
    fn what_the_read_budget_counts_is_the_ciphertext() {
        let dir = tempfile::tempdir().unwrap();
        let (server_config, client_config) = configs(dir.path());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The client sends 1000 bytes, each in a TLS record of its own, and
        // keeps its end open until they are read.
        let (read_all, done) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            let stream = std::net::TcpStream::connect(addr).unwrap();
            let session = crate::client::tls::handshake(&stream, "localhost", client_config);
            let session = session.unwrap();
            let mut tls = session.lock().unwrap();
            let mut socket = &stream;
            for _ in 0..1000 {
                tls.writer().write_all(b"x").unwrap();
                while tls.wants_write() {
                    tls.write_tls(&mut socket).unwrap();
                }
            }
            let _ = done.recv();
        });
        let (accepted, peer) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        let mut conn = Conn::tls(TcpStream::from_std(accepted), peer, &server_config).unwrap();
        let (mut plaintext, mut buf) = (0, [0u8; 4096]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while plaintext < 1000 {
            assert!(Instant::now() < deadline, "only {plaintext} bytes came");
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => plaintext += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if conn.crypto() == Crypto::Wanted {
                        handshake_step(&mut conn);
                    }
                    std::thread::yield_now()
                }
                Err(e) => panic!("{e}"),
            }
        }
        drop(read_all);
        client.join().unwrap();
        assert_eq!(plaintext, 1000);
        // Each record carries a header and a tag: far more than its byte.
        assert!(
            conn.wire_read() > 20 * 1000,
            "{} on the wire",
            conn.wire_read()
        );
    }
}
