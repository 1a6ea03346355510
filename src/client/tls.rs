//! The client's transport, plain or TLS, split into a read half for the
//! reader thread and a write half for everyone who sends.
//!
//! One rustls connection serves both halves behind a mutex, but the reader
//! never holds the lock while it waits: it reads ciphertext straight from
//! its own clone of the socket, then locks only to decrypt. So a blocked
//! reader never stops a sender.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Which certificates a TLS client trusts.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|c| c.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read CA certificates from {}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("no usable CA certificate in {}", path.display()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("no trusted root certificates on this system; pass --ca FILE".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

type Shared = Arc<Mutex<ClientConnection>>;

fn lock(tls: &Shared) -> MutexGuard<'_, ClientConnection> {
    tls.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the TLS handshake on `stream` (blocking), so a bad certificate is
/// an error at connect time.
pub fn handshake(stream: &TcpStream, host: &str, config: Arc<ClientConfig>) -> io::Result<Shared> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
    let mut conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut socket = stream;
    while conn.is_handshaking() {
        conn.complete_io(&mut socket)?;
    }
    Ok(Arc::new(Mutex::new(conn)))
}

/// The sending half.
#[derive(Debug)]
pub enum WriteHalf {
    Plain(TcpStream),
    Tls(TcpStream, Shared),
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(s) => s.write(buf),
            WriteHalf::Tls(s, tls) => {
                let mut conn = lock(tls);
                conn.writer().write_all(buf)?;
                while conn.wants_write() {
                    conn.write_tls(s)?;
                }
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteHalf {
    pub fn shutdown(&self) {
        let stream = match self {
            WriteHalf::Plain(s) | WriteHalf::Tls(s, _) => s,
        };
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// The receiving half.
#[derive(Debug)]
pub enum ReadHalf {
    Plain(TcpStream),
    Tls(TcpStream, Shared, Ciphertext),
}

/// Ciphertext read from the socket and not yet handed to rustls (which
/// takes it only as fast as the plaintext it yields is read).
#[derive(Debug)]
pub struct Ciphertext {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl ReadHalf {
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            ReadHalf::Plain(s) | ReadHalf::Tls(s, _, _) => s.set_read_timeout(timeout),
        }
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (stream, tls, cipher) = match self {
            ReadHalf::Plain(s) => return s.read(buf),
            ReadHalf::Tls(s, tls, cipher) => (s, tls, cipher),
        };
        loop {
            let mut conn = lock(tls);
            // Records rustls already holds come before the socket's: it
            // stops decrypting while its plaintext buffer is full.
            conn.process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if cipher.start < cipher.end {
                // One record's worth at a time, then its plaintext is read.
                let mut rest = cipher.buf.get(cipher.start..cipher.end).unwrap_or_default();
                let taken = conn.read_tls(&mut rest)?;
                cipher.start += taken;
                conn.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                // Post-handshake messages (key updates) may want answers.
                while conn.wants_write() {
                    conn.write_tls(stream)?;
                }
                continue;
            }
            // Wait for ciphertext without holding the lock.
            drop(conn);
            let n = stream.read(&mut cipher.buf)?;
            if n == 0 {
                return Ok(0);
            }
            (cipher.start, cipher.end) = (0, n);
        }
    }
}

/// Splits a connected stream, with TLS state if any.
pub fn split(stream: TcpStream, tls: Option<Shared>) -> io::Result<(ReadHalf, WriteHalf)> {
    let writer = stream.try_clone()?;
    Ok(match tls {
        None => (ReadHalf::Plain(stream), WriteHalf::Plain(writer)),
        Some(tls) => (
            ReadHalf::Tls(
                stream,
                Arc::clone(&tls),
                Ciphertext {
                    buf: vec![0; 32 << 10].into_boxed_slice(),
                    start: 0,
                    end: 0,
                },
            ),
            WriteHalf::Tls(writer, tls),
        ),
    })
}
