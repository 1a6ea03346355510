//! A real `nats-server` (1 server, or a cluster of 3) with JetStream, for
//! the cluster backplane's integration tests.
//!
//! Every port is chosen by nats-server itself (`-1`) and read back from its
//! log, so parallel tests cannot race for ports. A route URL must be known
//! to the peers before they start, hence the order: the first server starts
//! alone, each next one with routes to those before it, then every server is
//! given the full route list by a config reload (SIGHUP). Once a server's
//! ports are known they are written into its config, so a restarted server
//! comes back on the same ports with the same store directory.
//!
//! JetStream's clustered mode refuses to start without a configured route,
//! and the first server has nobody to route to yet: it starts with a route
//! to [`NOWHERE`], which the reload removes.
//!
//! Tests start with `if !nats_server_available() { return; }`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::PATIENCE;

/// The first server's stand-in route (nothing listens on port 1): see the
/// module documentation.
const NOWHERE: &str = "nats-route://127.0.0.1:1";

/// Where Debian installs it; not on a normal user's PATH.
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

const CLIENT_MARK: &str = "Listening for client connections on ";
const HTTP_MARK: &str = "Starting http monitor on ";
const ROUTE_MARK: &str = "Listening for route connections on ";
const READY_MARK: &str = "Server is ready";
const RELOADED_MARK: &str = "Reloaded server configuration";
const RELOAD_FAILED_MARK: &str = "Failed to reload server configuration";

/// The `nats-server` executable: the first on PATH, else Debian's.
pub fn nats_server_path() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("nats-server"));
    on_path
        .chain([PathBuf::from(DEBIAN_PATH)])
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether the NATS tests can run. Without nats-server they are skipped
/// (with a notice), except under CI (`CI` set), where that is a failure.
pub fn nats_server_available() -> bool {
    if nats_server_path().is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "nats-server is not installed (neither on PATH nor at {DEBIAN_PATH}) and CI is set: \
             CI must run the NATS tests, not skip them. Install it: apt-get install -y nats-server"
        );
    }
    eprintln!(
        "SKIPPED: nats-server is not installed (apt-get install nats-server); \
         with CI set this is an error"
    );
    false
}

/// The ports a server listens on.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ports {
    client: u16,
    http: u16,
    /// Only a cluster member has one.
    route: Option<u16>,
}

/// A live nats-server process and the thread copying its stderr.
struct Process {
    child: Child,
    reader: JoinHandle<()>,
}

struct Node {
    name: String,
    conf: PathBuf,
    store: PathBuf,
    ports: Ports,
    process: Option<Process>,
    /// Everything every incarnation of this server wrote to stderr.
    log: Arc<Mutex<String>>,
}

/// A running nats-server, or cluster of them, with JetStream, in a
/// temporary directory. Servers are numbered from 0. Dropping it kills them.
pub struct NatsCluster {
    binary: PathBuf,
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `n` servers (1, or 3 for a cluster) and waits until they are
    /// fully meshed and JetStream is ready (a meta leader every server
    /// agrees on, with every server a current member of the meta group).
    pub fn start(n: usize) -> NatsCluster {
        // nats-server 2.9 now and then forms a JetStream meta group without
        // one of three servers that started with routes learned by reload
        // (it bootstraps alone): start afresh then, a few times.
        let mut why = String::new();
        for _ in 0..3 {
            let cluster = NatsCluster::start_once(n);
            match cluster.poll_until(|| cluster.jetstream_problem()) {
                Ok(()) => return cluster,
                Err(problem) => why = format!("{problem}\n{}", cluster.logs()),
            }
        }
        panic!("no JetStream cluster of {n} after three starts: {why}");
    }

    fn start_once(n: usize) -> NatsCluster {
        assert!(n >= 1, "a cluster of {n} servers");
        let binary = nats_server_path()
            .expect("nats-server is not installed: call nats_server_available() first");
        let dir = tempfile::tempdir().expect("temporary directory");
        let nodes = (0..n)
            .map(|i| {
                let name = format!("nats-{i}");
                Node {
                    store: dir.path().join(&name),
                    conf: dir.path().join(format!("{name}.conf")),
                    name,
                    ports: Ports {
                        client: 0,
                        http: 0,
                        route: None,
                    },
                    process: None,
                    log: Arc::new(Mutex::new(String::new())),
                }
            })
            .collect();
        let mut cluster = NatsCluster {
            binary,
            nodes,
            _dir: dir,
        };
        for i in 0..n {
            // The routes of the servers already started (none yet: NOWHERE).
            let mut seeds = cluster.route_urls();
            if n > 1 && i == 0 {
                seeds.push(NOWHERE.to_owned());
            }
            cluster.write_config(i, false, &seeds);
            let from = cluster.spawn(i);
            cluster.nodes[i].ports = cluster.wait_started(i, from);
        }
        let routes = cluster.route_urls();
        if n > 1 {
            // Every server learns every route; the first one forgets NOWHERE.
            for i in 0..n {
                cluster.reload(i, &routes);
            }
            cluster.wait_meshed();
        }
        // From now on a (re)start uses the ports the servers chose.
        for i in 0..n {
            cluster.write_config(i, true, &routes);
        }
        cluster
    }

    /// How many servers the cluster has (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Server `i`'s name (`server_name`, as in the meta leader's name).
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Every server's client URL, comma-separated (killed ones included:
    /// they are where a client reconnects to once they are back).
    pub fn urls(&self) -> String {
        (0..self.len())
            .map(|i| self.url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Server `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].ports.client)
    }

    /// Server `i`'s HTTP monitoring port.
    pub fn http_port(&self, i: usize) -> u16 {
        self.nodes[i].ports.http
    }

    /// Server `i`'s JetStream store directory (it survives a restart).
    pub fn store_dir(&self, i: usize) -> &Path {
        &self.nodes[i].store
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].process.is_some()
    }

    /// What server `i` has logged, over all its incarnations.
    pub fn log(&self, i: usize) -> String {
        self.nodes[i].log.lock().unwrap().clone()
    }

    /// SIGKILL to server `i`; returns once it is gone.
    pub fn kill(&mut self, i: usize) {
        let name = self.nodes[i].name.clone();
        let process = self.nodes[i]
            .process
            .take()
            .unwrap_or_else(|| panic!("{name} is not running"));
        stop(process);
    }

    /// Starts server `i` again after [`kill`](Self::kill), with the same
    /// config, ports and store directory; returns once it is routed to every
    /// running server and, when a quorum of the cluster is running,
    /// JetStream is ready again.
    pub fn restart(&mut self, i: usize) {
        assert!(!self.is_running(i), "{} is still running", self.name(i));
        self.nodes[i]
            .log
            .lock()
            .unwrap()
            .push_str("--- harness: restarted ---\n");
        let from = self.spawn(i);
        let ports = self.wait_started(i, from);
        assert_eq!(
            ports,
            self.nodes[i].ports,
            "{} came back on other ports: {}",
            self.name(i),
            self.log(i)
        );
        self.wait_meshed();
        if self.has_quorum() {
            self.wait_jetstream();
        }
    }

    /// Waits until JetStream is ready on every running server: for a
    /// cluster, every running server names the same meta leader, that
    /// leader is running, sees a meta group of the full size, and has every
    /// running server as a current member; for a single server, JetStream
    /// is enabled.
    pub fn wait_jetstream(&self) {
        assert!(
            self.has_quorum(),
            "JetStream cannot be ready: only {} of {} servers are running",
            self.running().len(),
            self.len()
        );
        self.wait_until("JetStream ready", || self.jetstream_problem());
    }

    /// Waits until every running server has a route to every other one.
    pub fn wait_meshed(&self) {
        self.wait_until("a full mesh of routes", || {
            let running = self.running();
            running.iter().find_map(|&i| {
                let routes = self.num_routes(i);
                (routes != Some(running.len() as u64 - 1))
                    .then(|| format!("{} has {routes:?} routes", self.name(i)))
            })
        });
    }

    /// Server `i`'s `/jsz` (None when it does not answer).
    pub fn jsz(&self, i: usize) -> Option<Value> {
        http_json(self.http_port(i), "/jsz")
    }

    /// Server `i`'s `/routez` (None when it does not answer).
    pub fn routez(&self, i: usize) -> Option<Value> {
        http_json(self.http_port(i), "/routez")
    }

    /// How many routes server `i` has (None when it does not answer).
    pub fn num_routes(&self, i: usize) -> Option<u64> {
        self.routez(i)?.get("num_routes")?.as_u64()
    }

    /// The JetStream meta leader server `i` knows of, if any. (After the
    /// leader dies the others name it for a few seconds more.)
    pub fn meta_leader(&self, i: usize) -> Option<String> {
        let jsz = self.jsz(i)?;
        let leader = jsz.get("meta_cluster")?.get("leader")?.as_str()?;
        (!leader.is_empty()).then(|| leader.to_owned())
    }

    fn running(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_running(i)).collect()
    }

    fn has_quorum(&self) -> bool {
        self.running().len() > self.len() / 2
    }

    /// Why JetStream is not ready yet, or None when it is.
    fn jetstream_problem(&self) -> Option<String> {
        let running = self.running();
        if self.len() == 1 {
            let jsz = self.jsz(0);
            let enabled = jsz.as_ref().is_some_and(|j| {
                j.get("config").is_some() && j.get("disabled") != Some(&Value::Bool(true))
            });
            return (!enabled).then(|| format!("JetStream not enabled: {jsz:?}"));
        }
        let mut leader = None;
        for &i in &running {
            let Some(jsz) = self.jsz(i) else {
                return Some(format!("{} does not answer /jsz", self.name(i)));
            };
            let meta = &jsz["meta_cluster"];
            let theirs = meta["leader"].as_str().unwrap_or_default();
            if theirs.is_empty() {
                return Some(format!("{} knows no meta leader", self.name(i)));
            }
            if *leader.get_or_insert(theirs.to_owned()) != theirs {
                return Some(format!("leaders differ: {leader:?}, {theirs}"));
            }
            if meta["cluster_size"].as_u64() != Some(self.len() as u64) {
                return Some(format!("{} meta group: {meta}", self.name(i)));
            }
        }
        let leader = leader.expect("a running server");
        let Some(at) = running.iter().copied().find(|&i| self.name(i) == leader) else {
            return Some(format!("the meta leader {leader} is not running"));
        };
        let Some(jsz) = self.jsz(at) else {
            return Some(format!("the meta leader {leader} does not answer /jsz"));
        };
        let replicas = jsz["meta_cluster"]["replicas"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        running.iter().filter(|&&i| i != at).find_map(|&i| {
            let current = replicas
                .iter()
                .any(|r| r["name"] == self.name(i) && r["current"] == true);
            (!current).then(|| {
                format!(
                    "{} is not a current member for {leader}: {replicas:?}",
                    self.name(i)
                )
            })
        })
    }

    /// Polls `problem` until it returns None, for at most PATIENCE; the
    /// last problem if it never did.
    fn poll_until(&self, mut problem: impl FnMut() -> Option<String>) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let Some(why) = problem() else { return Ok(()) };
            if Instant::now() > deadline {
                return Err(why);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `problem` until it returns None; panics after PATIENCE with
    /// the last problem and every log.
    fn wait_until(&self, what: &str, mut problem: impl FnMut() -> Option<String>) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let Some(why) = problem() else { return };
            if Instant::now() > deadline {
                panic!("no {what} within {PATIENCE:?}: {why}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every server's log, each under its name (for failure messages).
    pub fn logs(&self) -> String {
        (0..self.len())
            .map(|i| format!("=== {} log:\n{}", self.name(i), self.log(i)))
            .collect()
    }

    fn route_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|node| node.ports.route)
            .map(|port| format!("nats-route://127.0.0.1:{port}"))
            .collect()
    }

    /// Writes server `i`'s config: with the ports it has (`fixed`) or
    /// letting it choose, and, in a cluster, with `routes`.
    fn write_config(&self, i: usize, fixed: bool, routes: &[String]) {
        let node = &self.nodes[i];
        let port = |p: Option<u16>| match (fixed, p) {
            (true, Some(p)) => p.to_string(),
            _ => "-1".to_owned(),
        };
        let store = node.store.to_str().expect("UTF-8 temporary path");
        assert!(!store.contains(['"', '\\']), "unquotable path {store}");
        let mut conf = format!(
            "# Written by tests/common/nats.rs\n\
             server_name: {name}\n\
             listen: 127.0.0.1:{client}\n\
             http: 127.0.0.1:{http}\n\
             jetstream {{\n  \
               store_dir: \"{store}\"\n  \
               max_memory_store: 64MB\n  \
               max_file_store: 512MB\n\
             }}\n",
            name = node.name,
            client = port(Some(node.ports.client)),
            http = port(Some(node.ports.http)),
        );
        if self.len() > 1 {
            conf.push_str(&format!(
                "cluster {{\n  \
                   name: evchat\n  \
                   listen: 127.0.0.1:{route}\n  \
                   routes: [\n{routes}  ]\n\
                 }}\n",
                route = port(node.ports.route),
                routes = routes
                    .iter()
                    .map(|r| format!("    {r}\n"))
                    .collect::<String>(),
            ));
        }
        std::fs::write(&node.conf, conf).expect("write nats-server config");
    }

    /// Starts server `i` on its config; returns where its log starts.
    fn spawn(&mut self, i: usize) -> usize {
        let node = &mut self.nodes[i];
        let from = node.log.lock().unwrap().len();
        let mut child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nats-server");
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&node.log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        node.process = Some(Process { child, reader });
        from
    }

    /// Waits until server `i` (its log from `from` on) is ready; returns
    /// the ports it logged.
    fn wait_started(&mut self, i: usize, from: usize) -> Ports {
        let clustered = self.len() > 1;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log(i);
            let log = &log[from..];
            let client = logged_port(log, CLIENT_MARK);
            let http = logged_port(log, HTTP_MARK);
            let route = logged_port(log, ROUTE_MARK);
            if let (true, Some(client), Some(http)) = (log.contains(READY_MARK), client, http) {
                if route.is_some() || !clustered {
                    return Ports {
                        client,
                        http,
                        route,
                    };
                }
            }
            self.assert_alive(i, "while starting");
            assert!(
                Instant::now() < deadline,
                "{} did not start within {PATIENCE:?}: {log}",
                self.name(i)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Rewrites server `i`'s config (still letting it choose its ports, as
    /// it started: a reload may not change them) with `routes`, and has it
    /// reload the config.
    fn reload(&mut self, i: usize, routes: &[String]) {
        let reloads = |log: &str| log.matches(RELOADED_MARK).count();
        let before = reloads(&self.log(i));
        self.write_config(i, false, routes);
        let pid = self.nodes[i].process.as_ref().expect("running").child.id();
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let sent = unsafe { libc::kill(pid as i32, libc::SIGHUP) };
        assert_eq!(sent, 0, "SIGHUP to {}", self.name(i));
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log(i);
            assert!(
                !log.contains(RELOAD_FAILED_MARK),
                "{} could not reload: {log}",
                self.name(i)
            );
            if reloads(&log) > before {
                return;
            }
            self.assert_alive(i, "while reloading");
            assert!(
                Instant::now() < deadline,
                "{} did not reload within {PATIENCE:?}: {log}",
                self.name(i)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn assert_alive(&mut self, i: usize, when: &str) {
        let node = &mut self.nodes[i];
        let process = node.process.as_mut().expect("running");
        if let Some(status) = process.child.try_wait().expect("try_wait") {
            let process = node.process.take().expect("running");
            process.reader.join().expect("log reader");
            panic!(
                "{} exited ({status}) {when}: {}",
                node.name,
                node.log.lock().unwrap()
            );
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(process) = node.process.take() {
                stop(process);
            }
        }
    }
}

/// SIGKILL, reap, and wait for the last of the log.
fn stop(mut process: Process) {
    let _ = process.child.kill();
    let _ = process.child.wait();
    // The pipe is at EOF now that the process is gone (it has no children).
    let _ = process.reader.join();
}

/// The port in `<marker>127.0.0.1:PORT` in `log`.
fn logged_port(log: &str, marker: &str) -> Option<u16> {
    let addr = log.split(marker).nth(1)?.split_whitespace().next()?;
    addr.rsplit(':').next()?.parse().ok()
}

/// GET `path` from the monitoring port as JSON; None when the server does
/// not answer (yet) or answers something else.
fn http_json(port: u16, path: &str) -> Option<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    stream.set_write_timeout(Some(PATIENCE)).ok()?;
    // HTTP/1.0: the server closes the connection after the response.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    if head.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    serde_json::from_str(body).ok()
}
