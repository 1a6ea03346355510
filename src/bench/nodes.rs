//! The servers `evchat-bench cluster` runs: three nats-servers clustered
//! with JetStream ([`nats`](super::nats)), and evchat-server nodes — alone,
//! joined into one chat over them, or several sharing one port with
//! SO_REUSEPORT — all in one temporary directory that goes when the
//! [`Lab`] drops. Servers are stopped with SIGTERM, as an operator would;
//! what their logs say that looks wrong goes in the report
//! ([`Lab::complaints`]). See docs/CLUSTER.md, "What it starts".

use super::nats::{die_with_parent, nats_server_path, terminate, Cluster, Spec};
use super::peers::evchat_server;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to be ready.
const START: Duration = Duration::from_secs(30);

/// A server process; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it with SIGTERM, killing it if it takes longer than `grace`.
    pub fn stop(&mut self, grace: Duration) {
        terminate(&mut self.child, grace);
    }

    /// The end of its log, to say why it did not start.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

/// The temporary directory everything is kept in.
pub struct Lab {
    pub dir: PathBuf,
    logs: Vec<(String, PathBuf)>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How an evchat node joins, if it does.
pub struct Join<'a> {
    /// NATS URLs (this node's server first).
    pub urls: &'a [String],
    pub node: &'a str,
    pub replicas: usize,
}

impl Lab {
    /// A fresh directory, on tmpfs where there is one: JetStream makes
    /// files for every subscriber's mailbox consumer, and the disk is not
    /// what this bench measures.
    pub fn new() -> Result<Lab, String> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        forget_abandoned(&base);
        let dir = base.join(format!("evchat-bench-cluster-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Lab {
            dir,
            logs: Vec::new(),
        })
    }

    fn spawn(&mut self, name: &str, mut cmd: Command) -> Result<Proc, String> {
        let log = self.dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        die_with_parent(&mut cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        self.logs.push((name.to_owned(), log.clone()));
        Ok(Proc {
            name: name.to_owned(),
            child,
            log,
        })
    }

    /// Starts `n` nats-servers as one cluster with JetStream (the
    /// [`nats`](super::nats) launcher, its files in this directory), and
    /// waits until JetStream is ready. `Ok(None)` when nats-server is not
    /// installed.
    pub fn nats(&mut self, n: usize) -> Result<Option<Cluster>, String> {
        if nats_server_path().is_none() {
            return Ok(None);
        }
        let nats = Cluster::start(Spec {
            servers: n,
            dir: self.dir.clone(),
            max_file_store: "1GB",
            extra: String::new(),
            patience: START,
        })?;
        for i in 0..nats.len() {
            let log = nats.log_file(i).to_owned();
            self.logs.push((nats.name(i).to_owned(), log));
        }
        Ok(Some(nats))
    }

    /// Starts an evchat node on `port` (0: any free port) and waits until
    /// it listens; returns it and its address.
    pub fn evchat(
        &mut self,
        name: &str,
        port: u16,
        join: Option<Join<'_>>,
        reuse_port: bool,
    ) -> Result<(Proc, SocketAddr), String> {
        let program = evchat_server().ok_or(
            "evchat-server is not next to evchat-bench: run `cargo build --release` first",
        )?;
        let data = self.dir.join(format!("{name}-data"));
        let mut cmd = Command::new(program);
        cmd.args(["--port", &port.to_string(), "--idle-timeout", "0"]);
        // info: the log says when it listens (several share a port).
        cmd.args(["--log-level", "info"]);
        cmd.args(["--shutdown-timeout", "2"])
            .arg("--data-dir")
            .arg(&data);
        if let Some(j) = join {
            cmd.arg("--cluster").arg(j.urls.join(","));
            cmd.args(["--node-name", j.node, "--held-bytes", "64M"]);
            cmd.args(["--cluster-replicas", &j.replicas.to_string()]);
        }
        if reuse_port {
            cmd.arg("--reuse-port");
        }
        let mut proc = self.spawn(name, cmd)?;
        let deadline = Instant::now() + START;
        loop {
            if let Some(addr) = listening(&proc.log) {
                return Ok((proc, addr));
            }
            if proc.exited() || Instant::now() > deadline {
                return Err(format!("{name} did not start: {}", proc.tail()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Copies the servers' logs where they outlive the run.
    pub fn save_logs(&self) -> Result<PathBuf, String> {
        let id = std::process::id();
        let to = std::env::temp_dir().join(format!("evchat-bench-cluster-{id}-logs"));
        std::fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
        for (name, path) in &self.logs {
            let copy = to.join(format!("{name}.log"));
            std::fs::copy(path, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
        }
        Ok(to)
    }

    /// Log lines that look wrong (errors and warnings), by server, except
    /// the route dial errors every NATS cluster logs while its servers
    /// start one after another.
    pub fn complaints(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, path) in &self.logs {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let bad: Vec<&str> = text
                .lines()
                .filter(|l| {
                    let evchat = l.contains(" WARN ") || l.contains(" ERROR ");
                    let nats = l.contains("[ERR]") || l.contains("[WRN]");
                    (evchat || nats) && !startup_noise(l)
                })
                .collect();
            if let Some(first) = bad.first() {
                let more = match bad.len() {
                    1 => String::new(),
                    n => format!(" (and {} more like it or not)", n - 1),
                };
                out.push(format!("{name} logged: {}{more}", first.trim()));
            }
        }
        out
    }
}

/// Removes the directories of earlier runs that were interrupted (their
/// process is gone), which would otherwise hold tmpfs memory for good.
fn forget_abandoned(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("evchat-bench-cluster-"))
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What servers started as the bench starts them always log.
fn startup_noise(line: &str) -> bool {
    line.contains("Error trying to connect to route")
        || line.contains("Waiting for routing to be established")
        || line.contains("no --users file: the server is open")
}

/// The address an evchat server's log says it listens on.
fn listening(log: &Path) -> Option<SocketAddr> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .find_map(|l| l.split("listening on ").nth(1))
        .and_then(|a| a.split_whitespace().next()?.parse().ok())
}
