//! A real `nats-server` (1 server, or a cluster of 3) with JetStream, for
//! the cluster backplane's integration tests: the launcher the bench uses
//! too (`evchat::bench::nats`, where how it starts them is told), in a
//! temporary directory, with every failure a panic that shows each
//! server's whole log.
//!
//! Tests start with `if !nats_server_available() { return; }`.

use std::ops::Deref;
use std::path::Path;

pub use evchat::bench::nats::nats_server_path;
use evchat::bench::nats::{Cluster, Spec};

use super::PATIENCE;

/// Whether the NATS tests can run. Without nats-server they are skipped
/// (with a notice), except under CI (`CI` set), where that is a failure.
pub fn nats_server_available() -> bool {
    if nats_server_path().is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "nats-server is not installed (neither on PATH nor in /usr/sbin) and CI is set: \
             CI must run the NATS tests, not skip them. Install it: apt-get install -y nats-server"
        );
    }
    eprintln!(
        "SKIPPED: nats-server is not installed (apt-get install nats-server); \
         with CI set this is an error"
    );
    false
}

/// A running nats-server, or cluster of them, with JetStream, in a
/// temporary directory. Servers are numbered from 0. Dropping it kills them
/// (then removes the directory). What it can tell is the launcher's
/// [`Cluster`]'s; what it does panics on failure.
pub struct NatsCluster {
    cluster: Cluster,
    _dir: tempfile::TempDir,
}

impl Deref for NatsCluster {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl NatsCluster {
    /// Starts `n` servers (1, or 3 for a cluster) and waits until they are
    /// fully meshed and JetStream is ready.
    pub fn start(n: usize) -> NatsCluster {
        NatsCluster::start_with(n, "")
    }

    /// As [`start`](Self::start), with `extra` in every server's config
    /// (an `authorization` block, say).
    pub fn start_with(n: usize, extra: &str) -> NatsCluster {
        let dir = tempfile::tempdir().expect("temporary directory");
        let spec = Spec {
            servers: n,
            dir: dir.path().to_owned(),
            max_file_store: "512MB",
            extra: extra.to_owned(),
            patience: PATIENCE,
        };
        match Cluster::start(spec) {
            Ok(cluster) => NatsCluster { cluster, _dir: dir },
            Err(e) => panic!("{e}\n{}", logs_in(dir.path())),
        }
    }

    /// SIGKILL to server `i`; returns once it is gone.
    pub fn kill(&mut self, i: usize) {
        let killed = self.cluster.kill(i);
        killed.unwrap_or_else(|e| self.fail(e));
    }

    /// SIGTERM to server `i`, as an operator restarting it would; returns
    /// once it is gone.
    pub fn terminate(&mut self, i: usize) {
        let stopped = self.cluster.terminate(i, PATIENCE);
        stopped.unwrap_or_else(|e| self.fail(e));
    }

    /// Starts server `i` again after [`kill`](Self::kill): see
    /// [`Cluster::restart`].
    pub fn restart(&mut self, i: usize) {
        let restarted = self.cluster.restart(i);
        restarted.unwrap_or_else(|e| self.fail(e));
    }

    /// Waits until JetStream is ready on every running server: see
    /// [`Cluster::wait_jetstream`].
    pub fn wait_jetstream(&self) {
        self.cluster
            .wait_jetstream()
            .unwrap_or_else(|e| self.fail(e));
    }

    /// Waits until every running server has a route to every other one.
    pub fn wait_meshed(&self) {
        self.cluster.wait_meshed().unwrap_or_else(|e| self.fail(e));
    }

    fn fail(&self, why: String) -> ! {
        panic!("{why}\n{}", self.logs())
    }
}

/// Every log in `dir`, each under its file's name: what servers that failed
/// to start together said.
fn logs_in(dir: &Path) -> String {
    let mut logs: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
    logs.sort();
    logs.iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            format!("=== {}:\n{text}", p.display())
        })
        .collect()
}

/// A bare NATS client speaking the text protocol: what anyone who can
/// reach NATS can publish (JetStream stores what lands on its streams'
/// subjects, a key-value bucket's `$KV.<bucket>.<key>` among them).
pub struct RawNats {
    stream: std::net::TcpStream,
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl RawNats {
    pub fn connect(addr: std::net::SocketAddr) -> RawNats {
        use std::io::BufRead;
        let stream = std::net::TcpStream::connect(addr).expect("connect to NATS");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
        let mut info = String::new();
        reader.read_line(&mut info).expect("NATS INFO");
        let mut raw = RawNats { stream, reader };
        raw.write(b"CONNECT {\"verbose\":false,\"headers\":true}\r\n");
        raw
    }

    fn write(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.stream.write_all(bytes).expect("write to NATS");
    }

    /// Publishes `payload` on `subject`.
    pub fn publish(&mut self, subject: &str, payload: &[u8]) {
        let head = format!("PUB {subject} {}\r\n", payload.len());
        self.write(&[head.as_bytes(), payload, b"\r\n"].concat());
    }

    /// Publishes `payload` on `subject` with one header, `name: value`.
    pub fn publish_with_header(&mut self, subject: &str, name: &str, value: &str, payload: &[u8]) {
        let headers = format!("NATS/1.0\r\n{name}: {value}\r\n\r\n");
        let total = headers.len() + payload.len();
        let head = format!("HPUB {subject} {} {total}\r\n", headers.len());
        self.write(&[head.as_bytes(), headers.as_bytes(), payload, b"\r\n"].concat());
    }

    /// Returns once NATS has read everything published before.
    pub fn flush(&mut self) {
        use std::io::BufRead;
        self.write(b"PING\r\n");
        let mut line = String::new();
        while !line.starts_with("PONG") {
            line.clear();
            self.reader.read_line(&mut line).expect("NATS PONG");
        }
    }
}
