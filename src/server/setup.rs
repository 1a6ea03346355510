//! Building a server from its settings: process limits, the store, the
//! listeners, the helper threads and the loop's waker — everything that may
//! block or fail happens here, before the loop runs, and fails with a
//! [`SetupError`] that says what to fix.

use super::accounts::Authenticator;
use super::config::ServerConfig;
use super::error::SetupError;
use super::event_loop::{Server, TlsFiles, LISTENERS, SIGNALS, WAKER};
use super::handshake_pool::HandshakePool;
use super::hub::{Hub, Limits};
use super::journal::Journal;
use super::limits;
use super::listener::Listeners;
use super::store::{MailLimits, Store};
use super::tls;
use log::{info, warn};
use mio::{Interest, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;
use std::sync::Arc;
use std::time::Duration;

/// File descriptors kept back for the listeners, poll, the journal, logging
/// and the like.
const RESERVED_FDS: u64 = 32;

/// Lingering (closing) connections allowed beside `max_clients` ones.
pub fn lingering_for(max_clients: usize) -> usize {
    (max_clients / 8).clamp(16, 1024)
}

/// How many clients `fds` descriptors allow, each lingering one included.
fn clients_within(fds: u64, wanted: usize) -> usize {
    let usable = usize::try_from(fds.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    // lingering_for grows with its argument, so this many always fit.
    let fitting = usable.saturating_sub(lingering_for(usable));
    wanted.min(fitting).max(1)
}

impl Server {
    /// Binds the listening sockets (first: a port in use is the commonest
    /// mistake, and then nothing else is touched), opens the store and the
    /// users file and starts the helper threads. Errors say what to fix.
    pub fn bind(config: &ServerConfig) -> Result<Server, SetupError> {
        // Before any helper thread starts (see reserve_descriptors).
        let fds = limits::raise_open_files_limit();
        let max_clients = clients_within(fds, config.max_clients);
        if max_clients < config.max_clients {
            warn!(
                "open-files limit ({fds}) allows {max_clients} clients, not the {} asked for",
                config.max_clients
            );
        }
        let max_lingering = lingering_for(max_clients);
        limits::reserve_descriptors((max_clients + max_lingering) as u64 + RESERVED_FDS);
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                config: tls::load_config(cert, key)?,
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        let poll = Poll::new().map_err(|e| SetupError::caused("cannot create the poller", e))?;
        let waker = Waker::new(poll.registry(), WAKER)
            .map(Arc::new)
            .map_err(|e| SetupError::caused("cannot set up the loop's waker", e))?;
        // The main port speaks TLS when there is a certificate and no
        // separate TLS port.
        let mut ports = vec![(config.port, tls.is_some() && config.tls_port.is_none())];
        if let Some(port) = config.tls_port {
            ports.push((port, true));
        }
        let listeners = Listeners::bind(
            &config.host,
            &ports,
            config.reuse_port,
            poll.registry(),
            |i| Token(LISTENERS - i),
        )?;
        // Past a file-size limit (`ulimit -f`) a write must fail, like one
        // to a full disk, not kill the server: SIGXFSZ's default.
        // SAFETY: setting a signal's disposition to "ignore" touches no
        // memory of ours.
        unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
        // Handshakes' cryptography is done off the loop, when there is TLS.
        let handshakes =
            match &tls {
                Some(_) => {
                    let wake = Arc::clone(&waker);
                    let pool = HandshakePool::start(move || {
                        let _ = wake.wake();
                    });
                    Some(pool.map_err(|e| {
                        SetupError::caused("cannot start the TLS handshake threads", e)
                    })?)
                }
                None => None,
            };
        let journal_waker = Arc::clone(&waker);
        // A cluster node keeps its held mail and known names in JetStream.
        let (journal, image) = match &config.cluster {
            None => Journal::open(&config.data_dir, config.fsync, move || {
                let _ = journal_waker.wake();
            })?,
            Some(_) => (Journal::disabled(), Default::default()),
        };
        let mail = MailLimits {
            mailbox_max: config.mailbox_max,
            mailbox_bytes: config.mailbox_bytes,
            held_bytes: config.held_bytes,
            max_known: config.max_known,
        };
        let mut image = image;
        let rooms = std::mem::take(&mut image.rooms);
        let store = Store::from_image(image, mail);
        let mut signals = Signals::new([libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
            .map_err(|e| SetupError::caused("cannot catch signals", e))?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|e| SetupError::caused("cannot watch signals", e))?;
        let (auth, auth_answers, backplane) = match (&config.users, &config.cluster) {
            #[cfg(feature = "cluster")]
            (_, Some(cluster)) => {
                // Accounts come from the cluster's bucket, kept current by
                // the cluster thread.
                let unread = Arc::new(super::accounts::Users::unread());
                let users: super::accounts::SharedUsers = Arc::new(std::sync::RwLock::new(unread));
                let wake = Arc::clone(&waker);
                let (port, answers) = Authenticator::start_shared(Arc::clone(&users), move || {
                    let _ = wake.wake();
                })?;
                super::cluster::import::import_journal(&config.data_dir, cluster)?;
                let link =
                    super::cluster::bridge::start(cluster.clone(), Arc::clone(&waker), users)?;
                (Some(port), Some(answers), Some(link))
            }
            // Refused with the settings (see cluster::settings).
            #[cfg(not(feature = "cluster"))]
            (_, Some(_)) => return Err(SetupError::new("built without the cluster feature")),
            (Some(path), None) => {
                let waker = Arc::clone(&waker);
                let (requests, answers) = Authenticator::start(path.clone(), move || {
                    let _ = waker.wake();
                })?;
                (Some(requests), Some(answers), None)
            }
            (None, None) => {
                warn!("no --users file: the server is open, anyone may log in as any name");
                (None, None, None)
            }
        };
        info!("client capacity {max_clients}, and {max_lingering} closing connections beside");
        let tick_every = config
            .idle_timeout
            .map_or(Duration::from_secs(1), |t| {
                (t / 4).min(Duration::from_secs(1))
            })
            .max(Duration::from_millis(10));
        let limits = Limits {
            max_line: config.max_line,
            max_queue: config.max_queue,
            max_total_queue: config.max_total_queue,
            mail,
            rooms: config.rooms,
            idle_timeout: config.idle_timeout,
            max_lingering,
            web: config.web,
            allow_origins: config.allow_origins.clone(),
            local_only: listens_on_loopback(&config.host),
            irc: config.irc.then(|| crate::server::wire::irc::Config {
                server: config.server_name.as_str().into(),
                everyone: config.everyone.to_ascii_lowercase().into(),
                max_line: config.max_line,
            }),
        };
        let mut hub = Hub::with_store(limits, store, journal, auth);
        hub.restore_rooms(rooms);
        // Accounts deleted while the server was down leave their rooms.
        hub.drop_deleted_members();
        if let Some(link) = backplane {
            hub.join_cluster(link);
        }
        Ok(Server::new(super::event_loop::Parts {
            poll,
            listeners,
            hub,
            tls,
            handshakes,
            max_clients,
            tick_every,
            auth_answers,
            waker,
            signals,
            shutdown_timeout: config.shutdown_timeout,
        }))
    }
}

/// Does `--host` name this machine's loopback only (`127.0.0.1`, `::1`,
/// `localhost`)?
fn listens_on_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_and_lingering_connections_fit_the_descriptors() {
        assert_eq!(clients_within(1 << 20, 10_000), 10_000);
        let clients = clients_within(1024, 10_000);
        assert!(clients + lingering_for(clients) + RESERVED_FDS as usize <= 1024);
        assert!(clients > 800, "{clients}");
        assert_eq!(clients_within(10, 5), 1);
    }
}
