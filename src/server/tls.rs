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

/// A connection's transport: the socket, who is at the other end, and TLS
/// state when the connection is encrypted.
#[derive(Debug)]
pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    tls: Option<Box<ServerConnection>>,
}

impl Conn {
    pub fn plain(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            stream,
            peer,
            tls: None,
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
        })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
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

    /// Starts closing: a TLS close_notify, as far as it can be written.
    pub fn close_notify(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
        }
        let _ = self.flush_tls();
    }
}

impl Read for Conn {
    /// Plaintext from the peer; `Ok(0)` at its end, `WouldBlock` when the
    /// socket has nothing more.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(tls) = self.tls.as_mut() else {
                return self.stream.read(buf);
            };
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
            if tls.read_tls(&mut self.stream)? == 0 {
                return Ok(0);
            }
            let processed = tls.process_new_packets().map(|_| ());
            if let Err(e) = processed {
                // Tell the peer why (an alert), then give up on it.
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Handshake messages to answer, if any.
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
        let Some(tls) = &mut self.tls else {
            return self.stream.write_vectored(bufs);
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
