//! The servers `evchat-bench cluster` runs: three nats-servers clustered
//! with JetStream, and evchat-server nodes — alone, joined into one chat
//! over them, or several sharing one port with SO_REUSEPORT.
//!
//! Everything lives in one temporary directory (NATS configurations and
//! stores, evchat data directories, every server's log), removed when the
//! [`Lab`] drops. Servers are stopped with SIGTERM, as an operator would:
//! an evchat node then gives its names back to the cluster. What the logs
//! say that looks wrong is handed back to the report ([`Lab::complaints`]).

use super::peers::{evchat_server, find_program};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
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
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: kill has no memory preconditions; the pid is our child's,
        // not yet reaped (try_wait said it is running).
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// `n` distinct free loopback ports (held together while chosen).
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("no free port: {e}"))?;
    held.iter()
        .map(|l| Ok(l.local_addr().map_err(|e| e.to_string())?.port()))
        .collect()
}

/// A GET on a NATS monitoring port, its body parsed as JSON.
pub fn http_json(addr: SocketAddr, path: &str) -> Result<serde_json::Value, String> {
    let fail = |e: std::io::Error| format!("GET http://{addr}{path}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(fail)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(fail)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(fail)?;
    let body = memchr::memmem::find(&reply, b"\r\n\r\n")
        .map(|at| &reply[at + 4..])
        .ok_or_else(|| format!("GET http://{addr}{path}: no body"))?;
    serde_json::from_slice(body).map_err(|e| format!("GET http://{addr}{path}: {e}"))
}

/// Three (or `n`) nats-servers in one cluster, JetStream on.
pub struct Nats {
    pub servers: Vec<Proc>,
    /// Client addresses, in server order.
    pub clients: Vec<SocketAddr>,
    /// Monitoring (HTTP) addresses.
    pub monitors: Vec<SocketAddr>,
}

impl Nats {
    pub fn urls(&self) -> Vec<String> {
        self.clients.iter().map(|a| format!("nats://{a}")).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(Proc::pid).collect()
    }

    /// How many of server `i`'s routes carry interest in `subject`: once
    /// every other server with subscribers does, a publish on `i` reaches
    /// them all (interest crosses routes asynchronously, after the
    /// subscriber's own server has answered its PING).
    pub fn routes_interested(&self, i: usize, subject: &str) -> Result<usize, String> {
        let routez = http_json(self.monitors[i], "/routez?subs=1")?;
        let routes = routez["routes"].as_array().cloned().unwrap_or_default();
        Ok(routes
            .iter()
            .filter(|r| {
                r["subscriptions_list"]
                    .as_array()
                    .is_some_and(|subs| subs.iter().any(|s| s == subject))
            })
            .count())
    }

    pub fn stop(&mut self) {
        for s in &mut self.servers {
            s.stop(Duration::from_secs(5));
        }
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
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        // A bench that is interrupted takes its servers with it.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
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

    /// Starts `n` nats-servers as one cluster with JetStream, and waits
    /// until all of them know the JetStream meta leader. `Ok(None)` when
    /// nats-server is not installed.
    pub fn nats(&mut self, n: usize) -> Result<Option<Nats>, String> {
        let Some(program) = find_program("nats-server") else {
            return Ok(None);
        };
        let ports = free_ports(3 * n)?;
        let (clients, rest) = ports.split_at(n);
        let (monitors, routes) = rest.split_at(n);
        let mut servers = Vec::new();
        for i in 0..n {
            let store = self.dir.join(format!("nats{}-store", i + 1));
            let others: Vec<String> = (0..n)
                .filter(|&j| j != i)
                .map(|j| format!("nats-route://127.0.0.1:{}", routes[j]))
                .collect();
            let config = format!(
                "server_name: bench-nats{}\nlisten: 127.0.0.1:{}\nhttp: 127.0.0.1:{}\n\
                 jetstream {{ store_dir: {:?}, max_memory_store: 64MB, max_file_store: 1GB }}\n\
                 cluster {{ name: evchat-bench, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                i + 1,
                clients[i],
                monitors[i],
                store.display().to_string(),
                routes[i],
                others.join(", ")
            );
            let path = self.dir.join(format!("nats{}.conf", i + 1));
            std::fs::write(&path, config).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut cmd = Command::new(&program);
            cmd.arg("-c").arg(&path);
            servers.push(self.spawn(&format!("nats{}", i + 1), cmd)?);
        }
        let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let nats = Nats {
            servers,
            clients: clients.iter().map(|&p| addr(p)).collect(),
            monitors: monitors.iter().map(|&p| addr(p)).collect(),
        };
        let deadline = Instant::now() + START;
        for (i, monitor) in nats.monitors.iter().enumerate() {
            loop {
                let leader = http_json(*monitor, "/jsz").ok().and_then(|jsz| {
                    let leader = jsz["meta_cluster"]["leader"].as_str()?.to_owned();
                    (!leader.is_empty()).then_some(leader)
                });
                if leader.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "nats{}'s JetStream has no meta leader after {START:?}: {}",
                        i + 1,
                        nats.servers[i].tail()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
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
