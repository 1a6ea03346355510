//! The server's settings: flags (clap), the same keys in a TOML file, and
//! the defaults, merged in that order of precedence.

use super::cluster::settings::{cluster_settings, ClusterFlags};
use super::cluster::ClusterSettings;

/// A server built without the cluster feature does not offer its flags
/// (it refuses them, saying why, if given).
const NO_CLUSTER: bool = cfg!(not(feature = "cluster"));
use super::journal::{Fsync, MAX_LINE_LIMIT};
use super::rooms::RoomLimits;
use crate::config::{load_toml, Size};
use clap::{Parser, Subcommand};
use log::LevelFilter;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Command-line flags of `evchat-server`. Every flag left out falls back to
/// the config file, then to the default shown.
#[derive(Debug, Default, Parser)]
#[command(
    name = "evchat-server",
    version,
    about = "A small single-threaded chat server"
)]
pub struct ServerArgs {
    /// TOML file with the same keys as these flags (e.g. `max-queue = "8M"`).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Users file: when given, every login needs a password (manage it with `evchat-server user`). Without it the server is open: anyone may log in as any name not online.
    #[arg(long, value_name = "FILE", global = true)]
    pub users: Option<PathBuf>,
    /// Directory of the durable store: known users and messages held for offline ones; created if missing [default: ./evchat-data]. With --cluster it is only read once, to import a single node's journal.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// When held messages are forced to the disk: always (before the sender is answered), everysec (at most once a second) or never (left to the OS), all on the journal's own thread. They reach the OS before the sender's next PONG in every mode [default: everysec].
    #[arg(long, value_name = "WHEN")]
    pub fsync: Option<Fsync>,
    /// Seconds a graceful shutdown (SIGTERM, SIGINT) may spend flushing queues before it closes what is left [default: 5].
    #[arg(long, value_name = "SECONDS")]
    pub shutdown_timeout: Option<u64>,
    /// Certificate chain (PEM) for TLS; with --tls-key, the server speaks TLS (on --tls-port if given, else on --port).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS on this port and plain text on --port, both at once.
    #[arg(long, value_name = "PORT")]
    pub tls_port: Option<u16>,
    /// Address to listen on [default: 127.0.0.1; 0.0.0.0 for all interfaces].
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one (the log says which) [default: 5555].
    #[arg(long)]
    pub port: Option<u16>,
    /// Longest frame in bytes, without its line ending; longer ones get ERR 413 [default: 64K].
    #[arg(long, value_name = "SIZE")]
    pub max_line: Option<Size>,
    /// Most connections at once; one more gets ERR 503. Also capped by the open-files limit [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,
    /// Memory outgoing bytes take per connection (their buffers, not only the bytes); a client that falls further behind gets ERR 429 and is closed [default: 8M].
    #[arg(long, value_name = "SIZE")]
    pub max_queue: Option<Size>,
    /// The same for all connections together, held mail being delivered included; past it the recipient being queued to is cut as too slow [default: 1G].
    #[arg(long, value_name = "SIZE")]
    pub max_total_queue: Option<Size>,
    /// Seconds of silence before a connection is closed with ERR 408; a PING goes out at half of it; 0 turns it off [default: 60].
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout: Option<u64>,
    /// Messages held per offline user; past it the sender gets ERR 507 [default: 10000].
    #[arg(long, value_name = "N")]
    pub mailbox_max: Option<usize>,
    /// Bytes held per offline user (each message charged in full to each mailbox it is in); past it the sender gets ERR 507 [default: 16M]. Not enforced with --cluster (--mailbox-max is).
    #[arg(long, value_name = "SIZE")]
    pub mailbox_bytes: Option<Size>,
    /// Bytes held for all offline users together (each message counted once, plus a small entry per recipient); past it the sender gets ERR 507 [default: 512M].
    #[arg(long, value_name = "SIZE")]
    pub held_bytes: Option<Size>,
    /// Names remembered as recipients for held mail; past it the least recently seen names that hold no mail are forgotten (MSG to them gets ERR 404) [default: 100000]. Not enforced with --cluster.
    #[arg(long, value_name = "N")]
    pub max_known: Option<usize>,
    /// Rooms on the server; a JOIN that would make one more gets ERR 507 [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_rooms: Option<usize>,
    /// Rooms one user may be in; a JOIN past it gets ERR 507 [default: 100].
    #[arg(long, value_name = "N")]
    pub max_rooms_per_user: Option<usize>,
    /// Messages each room remembers, sent at JOIN and to members who were away; older ones are forgotten [default: 100].
    #[arg(long, value_name = "N")]
    pub history: Option<usize>,
    /// Bytes all rooms' histories take together (each message counted once per room it is in, plus a small entry); past it the oldest messages of the largest rooms are forgotten [default: 256M].
    #[arg(long, value_name = "SIZE")]
    pub history_bytes: Option<Size>,
    /// Join a cluster through these NATS servers (comma-separated `nats://[user:pass@]host:port` or `tls://...` URLs); see docs/CLUSTER.md.
    #[arg(long, value_name = "URLS", value_delimiter = ',', global = true, hide = NO_CLUSTER)]
    pub cluster: Option<Vec<String>>,
    /// This node's name in the cluster, unique per process [default: <host>-<pid>].
    #[arg(long, value_name = "NAME", hide = NO_CLUSTER)]
    pub node_name: Option<String>,
    /// Seconds of silence after which another node counts as dead [default: 10].
    #[arg(long, value_name = "SECONDS", hide = NO_CLUSTER)]
    pub node_timeout: Option<u64>,
    /// NATS credentials file (JWT and nkey) for the cluster.
    #[arg(long, value_name = "FILE", global = true, hide = NO_CLUSTER)]
    pub cluster_creds: Option<PathBuf>,
    /// CA certificate for `tls://` NATS servers signed by a private CA.
    #[arg(long, value_name = "FILE", global = true, hide = NO_CLUSTER)]
    pub cluster_ca: Option<PathBuf>,
    /// JetStream replicas of the cluster's buckets and streams [default: 3 with three or more URLs, else 1].
    #[arg(long, value_name = "N", global = true, hide = NO_CLUSTER)]
    pub cluster_replicas: Option<usize>,
    /// Bind the port with SO_REUSEPORT, so several nodes of one cluster on this machine share it (needs --cluster).
    #[arg(long, hide = NO_CLUSTER)]
    pub reuse_port: bool,
    /// Serve no HTTP on the chat port (no page, no /ws, no /healthz or /metrics): every connection speaks the line protocol.
    #[arg(long)]
    pub no_web: bool,
    /// Also let pages from this origin (e.g. https://chat.example.com, or *) open /ws; repeat for more. A page's own server is always allowed.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Speak no IRC on the chat port: a first line of CAP, NICK, USER or PASS is the line protocol's (an unknown command).
    #[arg(long)]
    pub no_irc: bool,
    /// The server's name in IRC numerics [default: this machine's host name].
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// The IRC channel where SAY, the message to everyone online, is shown; every IRC user is in it [default: #everyone].
    #[arg(long, value_name = "CHANNEL")]
    pub everyone: Option<String>,
    /// Log level [default: info].
    #[arg(long, value_name = "LEVEL", value_parser = level_parser())]
    pub log_level: Option<LevelFilter>,
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
}

/// The accepted log levels, listed in the error for any other.
const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

fn level_parser() -> impl clap::builder::TypedValueParser<Value = LevelFilter> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(LEVELS)
        .map(|level| level.parse().unwrap_or(LevelFilter::Info))
}

/// What `evchat-server` does instead of serving.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Ask a running server whether it accepts logins (GET /healthz): exit 0 if so, 1 if not or unreachable. For container health checks; no curl needed.
    Health {
        /// The server's address.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The server's port.
        #[arg(long, default_value_t = 5555)]
        port: u16,
    },
    /// Manage the accounts: in the users file (`--users FILE`), or in a cluster's accounts bucket (`--cluster URLS`).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add a user, or change a user's password. The password is asked for twice without echo, or read as one line from stdin when it is not a terminal.
    Add { name: String },
    /// Remove a user.
    Del { name: String },
    /// List the users.
    List,
    /// Copy every account of a users file (`--users FILE`) into the cluster's accounts (`--cluster URLS`).
    Import,
}

/// The config file: the flags' long names as keys.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ServerFile {
    host: Option<String>,
    port: Option<u16>,
    max_line: Option<Size>,
    max_clients: Option<usize>,
    max_queue: Option<Size>,
    max_total_queue: Option<Size>,
    idle_timeout: Option<u64>,
    mailbox_max: Option<usize>,
    mailbox_bytes: Option<Size>,
    held_bytes: Option<Size>,
    max_known: Option<usize>,
    max_rooms: Option<usize>,
    max_rooms_per_user: Option<usize>,
    history: Option<usize>,
    history_bytes: Option<Size>,
    log_level: Option<String>,
    users: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    fsync: Option<Fsync>,
    shutdown_timeout: Option<u64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_port: Option<u16>,
    cluster: Option<Vec<String>>,
    node_name: Option<String>,
    node_timeout: Option<u64>,
    cluster_creds: Option<PathBuf>,
    cluster_ca: Option<PathBuf>,
    cluster_replicas: Option<usize>,
    reuse_port: Option<bool>,
    no_web: Option<bool>,
    allow_origin: Option<Vec<String>>,
    no_irc: Option<bool>,
    server_name: Option<String>,
    everyone: Option<String>,
}

/// Settings in force.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub max_line: usize,
    pub max_clients: usize,
    pub max_queue: usize,
    pub max_total_queue: usize,
    /// `None` when idle connections are never closed.
    pub idle_timeout: Option<Duration>,
    pub mailbox_max: usize,
    pub mailbox_bytes: usize,
    pub held_bytes: usize,
    pub max_known: usize,
    pub rooms: RoomLimits,
    pub log_level: LevelFilter,
    /// `None`: no accounts, anyone may log in.
    pub users: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub fsync: Fsync,
    pub shutdown_timeout: Duration,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_port: Option<u16>,
    /// Set when this process is a node of a cluster.
    pub cluster: Option<ClusterSettings>,
    pub reuse_port: bool,
    /// HTTP on the chat port: the page, `/ws`, `/healthz`, `/metrics`.
    pub web: bool,
    /// Origins besides the server's own whose pages may open `/ws`.
    pub allow_origins: Vec<String>,
    /// IRC on the chat port.
    pub irc: bool,
    /// The name IRC numerics come from.
    pub server_name: String,
    /// The IRC channel `SAY` is shown in.
    pub everyone: String,
    /// Managing accounts (`user ...`), not serving.
    pub managing: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 5555,
            max_line: 64 << 10,
            max_clients: 10_000,
            max_queue: 8 << 20,
            max_total_queue: 1 << 30,
            idle_timeout: Some(Duration::from_secs(60)),
            mailbox_max: 10_000,
            mailbox_bytes: 16 << 20,
            held_bytes: 512 << 20,
            max_known: 100_000,
            rooms: RoomLimits::default(),
            log_level: LevelFilter::Info,
            users: None,
            data_dir: PathBuf::from("evchat-data"),
            fsync: Fsync::Everysec,
            shutdown_timeout: Duration::from_secs(5),
            tls_cert: None,
            tls_key: None,
            tls_port: None,
            cluster: None,
            reuse_port: false,
            web: true,
            allow_origins: Vec::new(),
            irc: true,
            server_name: host_name(),
            everyone: "#everyone".to_owned(),
            managing: false,
        }
    }
}

impl ServerConfig {
    /// Merges flags over the config file (if any) over the defaults.
    pub fn from_args(args: &ServerArgs) -> Result<ServerConfig, String> {
        let file: ServerFile = match &args.config {
            Some(path) => load_toml(path)?,
            None => ServerFile::default(),
        };
        let d = ServerConfig::default();
        let file_level =
            match &file.log_level {
                Some(l) => Some(l.parse().map_err(|_| {
                    format!("bad log-level {l:?}: use one of {}", LEVELS.join(", "))
                })?),
                None => None,
            };
        let size =
            |flag: Option<Size>, key: Option<Size>, default| flag.or(key).map_or(default, |s| s.0);
        let idle = args.idle_timeout.or(file.idle_timeout).unwrap_or(60);
        let cluster = cluster_settings(ClusterFlags {
            urls: args.cluster.clone().or(file.cluster.clone()),
            node: args.node_name.clone().or(file.node_name.clone()),
            timeout: args.node_timeout.or(file.node_timeout),
            creds: args.cluster_creds.clone().or(file.cluster_creds.clone()),
            ca: args.cluster_ca.clone().or(file.cluster_ca.clone()),
            replicas: args.cluster_replicas.or(file.cluster_replicas),
        })?;
        let config = ServerConfig {
            host: args.host.clone().or(file.host).unwrap_or(d.host),
            port: args.port.or(file.port).unwrap_or(d.port),
            max_line: size(args.max_line, file.max_line, d.max_line),
            max_clients: args
                .max_clients
                .or(file.max_clients)
                .unwrap_or(d.max_clients),
            max_queue: size(args.max_queue, file.max_queue, d.max_queue),
            max_total_queue: size(
                args.max_total_queue,
                file.max_total_queue,
                d.max_total_queue,
            ),
            idle_timeout: (idle > 0).then(|| Duration::from_secs(idle)),
            mailbox_max: args
                .mailbox_max
                .or(file.mailbox_max)
                .unwrap_or(d.mailbox_max),
            mailbox_bytes: size(args.mailbox_bytes, file.mailbox_bytes, d.mailbox_bytes),
            held_bytes: size(args.held_bytes, file.held_bytes, d.held_bytes),
            max_known: args.max_known.or(file.max_known).unwrap_or(d.max_known),
            rooms: RoomLimits {
                max_rooms: args
                    .max_rooms
                    .or(file.max_rooms)
                    .unwrap_or(d.rooms.max_rooms),
                per_user: args
                    .max_rooms_per_user
                    .or(file.max_rooms_per_user)
                    .unwrap_or(d.rooms.per_user),
                max_names: args.max_known.or(file.max_known).unwrap_or(d.max_known),
                history: args.history.or(file.history).unwrap_or(d.rooms.history),
                history_bytes: size(
                    args.history_bytes,
                    file.history_bytes,
                    d.rooms.history_bytes,
                ),
            },
            log_level: args.log_level.or(file_level).unwrap_or(d.log_level),
            users: args.users.clone().or(file.users),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or(d.data_dir),
            fsync: args.fsync.or(file.fsync).unwrap_or(d.fsync),
            shutdown_timeout: args
                .shutdown_timeout
                .or(file.shutdown_timeout)
                .map_or(d.shutdown_timeout, Duration::from_secs),
            tls_cert: args.tls_cert.clone().or(file.tls_cert),
            tls_key: args.tls_key.clone().or(file.tls_key),
            tls_port: args.tls_port.or(file.tls_port),
            reuse_port: args.reuse_port || file.reuse_port.unwrap_or(false),
            web: !(args.no_web || file.no_web.unwrap_or(false)),
            allow_origins: if args.allow_origin.is_empty() {
                file.allow_origin.unwrap_or_default()
            } else {
                args.allow_origin.clone()
            },
            irc: !(args.no_irc || file.no_irc.unwrap_or(false)),
            server_name: args
                .server_name
                .clone()
                .or(file.server_name)
                .unwrap_or(d.server_name),
            everyone: args
                .everyone
                .clone()
                .or(file.everyone)
                .unwrap_or(d.everyone),
            cluster: None,
            managing: args.command.is_some(),
        };
        let config = ServerConfig {
            cluster: cluster.map(|c| ClusterSettings {
                mailbox_max: config.mailbox_max,
                held_bytes: config.held_bytes,
                history: config.rooms.history,
                history_bytes: config.rooms.history_bytes,
                ..c
            }),
            ..config
        };
        config.check()?;
        Ok(config)
    }

    /// Settings that cannot work together are refused before anything is
    /// touched (no data directory made, no port bound).
    fn check(&self) -> Result<(), String> {
        let config = self;
        if config.max_line < 64 {
            return Err("max-line must be at least 64 bytes".into());
        }
        if config.max_line > MAX_LINE_LIMIT {
            return Err(format!(
                "max-line {} is more than the {} a held message may take in the journal; \
                 use --max-line {}M or less",
                config.max_line,
                MAX_LINE_LIMIT,
                MAX_LINE_LIMIT >> 20
            ));
        }
        match (&config.tls_cert, &config.tls_key) {
            (Some(_), None) => {
                return Err("--tls-cert needs --tls-key (the certificate's private key)".into())
            }
            (None, Some(_)) => {
                return Err("--tls-key needs --tls-cert (the certificate chain)".into())
            }
            _ => {}
        }
        if config.tls_port.is_some() && config.tls_cert.is_none() {
            return Err("--tls-port needs --tls-cert and --tls-key".into());
        }
        if config.max_queue < config.max_line + 256 {
            return Err(format!(
                "max-queue ({}) must exceed max-line ({}), or a long frame could never be \
                 queued: raise --max-queue",
                config.max_queue, config.max_line
            ));
        }
        if config.mailbox_bytes < config.max_line + 256 {
            return Err(format!(
                "mailbox-bytes ({}) must exceed max-line ({}), or a long private message \
                 could never be held: raise --mailbox-bytes",
                config.mailbox_bytes, config.max_line
            ));
        }
        if config.held_bytes < config.mailbox_bytes {
            return Err(format!(
                "held-bytes ({}) must be at least mailbox-bytes ({})",
                config.held_bytes, config.mailbox_bytes
            ));
        }
        if config.reuse_port && config.cluster.is_none() {
            return Err(
                "--reuse-port needs --cluster: processes sharing a port must be nodes of \
                        one cluster, or each would be a separate chat"
                    .into(),
            );
        }
        if config.cluster.is_some() && config.users.is_some() && !config.managing {
            return Err(
                "--users does not go with --cluster: a cluster keeps its accounts in \
                        NATS. Move them there once with `evchat-server user import --users FILE \
                        --cluster URLS`, then start without --users"
                    .into(),
            );
        }
        if config.max_clients == 0 {
            return Err("max-clients must be at least 1".into());
        }
        if config.server_name.is_empty()
            || !config
                .server_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(format!(
                "--server-name {:?}: use letters, digits, '-', '.' and '_'",
                config.server_name
            ));
        }
        if !crate::protocol::is_valid_room(&config.everyone) {
            return Err(format!(
                "--everyone {:?}: {}",
                config.everyone,
                crate::protocol::ROOM_RULE
            ));
        }
        if let Some(bad) = config.allow_origins.iter().find(|o| !is_origin(o)) {
            return Err(format!(
                "--allow-origin {bad}: an origin is scheme://host[:port], such as \
                 https://chat.example.com (no path), or * for any"
            ));
        }
        Ok(())
    }
}

/// Is `origin` what a browser sends in `Origin` (or `*`)?
fn is_origin(origin: &str) -> bool {
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    origin == "*" || authority.is_some_and(|a| !a.is_empty() && !a.contains('/'))
}

/// This machine's host name, as IRC numerics name the server.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        })
        .unwrap_or_else(|| "evchat".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_origins_must_look_like_origins() {
        for good in ["*", "https://chat.example.com", "http://127.0.0.1:5555"] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "chat.example.com",
            "https://",
            "https://a.example/",
            "ftp://a",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn flags_override_file_override_defaults() {
        let dir = std::env::temp_dir().join(format!("evchat-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("server.toml");
        std::fs::write(&path, "port = 7000\nmax-queue = \"1M\"\nidle-timeout = 0\n").unwrap();
        let args = ServerArgs {
            config: Some(path),
            port: Some(7001),
            ..ServerArgs::default()
        };
        let c = ServerConfig::from_args(&args).unwrap();
        assert_eq!((c.port, c.max_queue, c.idle_timeout), (7001, 1 << 20, None));
        assert_eq!(c.max_line, 64 << 10);
        std::fs::write(dir.join("bad.toml"), "prot = 1\n").unwrap();
        let args = ServerArgs {
            config: Some(dir.join("bad.toml")),
            ..ServerArgs::default()
        };
        assert!(ServerConfig::from_args(&args)
            .unwrap_err()
            .contains("unknown field"));
    }
}
