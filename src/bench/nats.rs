//! Starting nats-server with JetStream, one server or a cluster of them:
//! the one launcher both `evchat-bench cluster` ([`nodes`](super::nodes))
//! and the integration tests (`tests/common/nats.rs`) use.
//!
//! Every port is chosen by nats-server itself (`-1`) and read back from its
//! log, so parallel runs cannot race for ports. A route URL must be known
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
//! Each server keeps everything in the caller's directory, under its name
//! (`nats1`, `nats2`, ...): its config `<name>.conf`, its JetStream store
//! `<name>-store`, and its log `<name>.log` (everything every incarnation
//! of it wrote). The servers die with the thread that started them, and are
//! killed when the [`Cluster`] drops. How `evchat-bench cluster` uses it:
//! docs/CLUSTER.md, "What it starts".

use super::peers::find_program;
use serde_json::Value;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first server's stand-in route (nothing listens on port 1): see the
/// module documentation.
pub const NOWHERE: &str = "nats-route://127.0.0.1:1";

const CLIENT_MARK: &str = "Listening for client connections on ";
const HTTP_MARK: &str = "Starting http monitor on ";
const ROUTE_MARK: &str = "Listening for route connections on ";
const READY_MARK: &str = "Server is ready";
const RELOADED_MARK: &str = "Reloaded server configuration";
const RELOAD_FAILED_MARK: &str = "Failed to reload server configuration";
/// What a restarted server's log shows between its incarnations.
pub const RESTART_MARK: &str = "--- harness: restarted ---";

/// The `nats-server` executable: the first on PATH, else in the sbin
/// folders (Debian installs it in /usr/sbin, not on a user's PATH).
pub fn nats_server_path() -> Option<PathBuf> {
    find_program("nats-server")
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Spec {
    /// 1, or 3 for a cluster.
    pub servers: usize,
    /// Where configs, stores and logs go (the caller's; never removed here).
    pub dir: PathBuf,
    /// JetStream's `max_file_store`, say `512MB`.
    pub max_file_store: &'static str,
    /// Added to every server's config (an `authorization` block, say).
    pub extra: String,
    /// How long starting, meshing and electing may take.
    pub patience: Duration,
}

/// The ports a server listens on.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ports {
    client: u16,
    http: u16,
    /// Only a cluster member has one.
    route: Option<u16>,
}

struct Server {
    name: String,
    conf: PathBuf,
    store: PathBuf,
    log: PathBuf,
    ports: Ports,
    child: Option<Child>,
}

/// A running nats-server, or cluster of them, with JetStream. Servers are
/// numbered from 0. Dropping it kills them.
pub struct Cluster {
    binary: PathBuf,
    spec: Spec,
    servers: Vec<Server>,
}

impl Cluster {
    /// Starts the servers and waits until they are fully meshed and
    /// JetStream is ready (a meta leader every server agrees on, with every
    /// server a current member of the meta group).
    pub fn start(spec: Spec) -> Result<Cluster, String> {
        // nats-server 2.9 now and then forms a JetStream meta group without
        // one of three servers that started with routes learned by reload
        // (it bootstraps alone): start afresh then, a few times.
        let n = spec.servers;
        let mut why = String::new();
        for _ in 0..3 {
            let cluster = Cluster::launch(spec.clone())?;
            match cluster.poll_until(|| cluster.jetstream_problem()) {
                Ok(()) => return Ok(cluster),
                Err(problem) => why = format!("{problem}\n{}", cluster.tails()),
            }
        }
        Err(format!(
            "no JetStream cluster of {n} after three starts: {why}"
        ))
    }

    /// Starts every server afresh (empty stores, new logs), routed to each
    /// other, with their chosen ports written into their configs.
    fn launch(spec: Spec) -> Result<Cluster, String> {
        let n = spec.servers;
        if n == 0 {
            return Err("a cluster of 0 servers".into());
        }
        let binary = nats_server_path().ok_or("nats-server is not installed")?;
        let mut cluster = Cluster {
            binary,
            servers: (1..=n).map(|k| Server::new(&spec.dir, k)).collect(),
            spec,
        };
        for server in &cluster.servers {
            let _ = std::fs::remove_dir_all(&server.store);
            let _ = std::fs::remove_file(&server.log);
        }
        for i in 0..n {
            // The routes of the servers already started (none yet: NOWHERE).
            let mut seeds = cluster.route_urls();
            if n > 1 && i == 0 {
                seeds.push(NOWHERE.to_owned());
            }
            cluster.write_config(i, false, &seeds)?;
            let from = cluster.spawn(i)?;
            cluster.servers[i].ports = cluster.wait_started(i, from)?;
        }
        let routes = cluster.route_urls();
        if n > 1 {
            // Every server learns every route; the first one forgets NOWHERE.
            for i in 0..n {
                cluster.reload(i, &routes)?;
            }
            cluster.wait_meshed()?;
        }
        // From now on a (re)start uses the ports the servers chose.
        for i in 0..n {
            cluster.write_config(i, true, &routes)?;
        }
        Ok(cluster)
    }

    /// How many servers the cluster has (running or not).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Server `i`'s name (`server_name`, as in the meta leader's name).
    pub fn name(&self, i: usize) -> &str {
        &self.servers[i].name
    }

    /// Every server's client URL, comma-separated as `--cluster` takes
    /// them (killed ones included: they are where a client reconnects to
    /// once they are back).
    pub fn urls(&self) -> String {
        (0..self.len())
            .map(|i| self.url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Server `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://{}", self.client_addr(i))
    }

    /// Server `i`'s client address.
    pub fn client_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.servers[i].ports.client))
    }

    /// Every server's client address, in server order.
    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        (0..self.len()).map(|i| self.client_addr(i)).collect()
    }

    /// Server `i`'s HTTP monitoring port.
    pub fn http_port(&self, i: usize) -> u16 {
        self.servers[i].ports.http
    }

    fn monitor(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.http_port(i)))
    }

    /// Server `i`'s JetStream store directory (it survives a restart).
    pub fn store_dir(&self, i: usize) -> &Path {
        &self.servers[i].store
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.servers[i].child.is_some()
    }

    /// The running servers' pids, in server order.
    pub fn pids(&self) -> Vec<u32> {
        let children = self.servers.iter().filter_map(|s| s.child.as_ref());
        children.map(Child::id).collect()
    }

    /// Where server `i` logs.
    pub fn log_file(&self, i: usize) -> &Path {
        &self.servers[i].log
    }

    /// What server `i` has logged, over all its incarnations.
    pub fn log(&self, i: usize) -> String {
        self.log_since(i, 0)
    }

    fn log_since(&self, i: usize, from: usize) -> String {
        let bytes = std::fs::read(&self.servers[i].log).unwrap_or_default();
        String::from_utf8_lossy(bytes.get(from..).unwrap_or_default()).into_owned()
    }

    /// Every server's log, each under its name (for failure messages).
    pub fn logs(&self) -> String {
        (0..self.len())
            .map(|i| format!("=== {} log:\n{}", self.name(i), self.log(i)))
            .collect()
    }

    /// The last lines of every server's log, one line per server.
    fn tails(&self) -> String {
        let tail = |i: usize| {
            let log = self.log(i);
            let lines: Vec<&str> = log.lines().rev().take(5).collect();
            let lines: Vec<&str> = lines.into_iter().rev().collect();
            format!("{}'s log ends: {}", self.name(i), lines.join(" | "))
        };
        (0..self.len()).map(tail).collect::<Vec<_>>().join("\n")
    }

    /// SIGKILL to server `i`; returns once it is gone.
    pub fn kill(&mut self, i: usize) -> Result<(), String> {
        let name = self.name(i).to_owned();
        let mut child = self.servers[i]
            .child
            .take()
            .ok_or_else(|| format!("{name} is not running"))?;
        let _ = child.kill();
        let _ = child.wait();
        Ok(())
    }

    /// Stops server `i` with SIGTERM, as an operator restarting it would
    /// (it saves its state first), killing it after `grace`.
    pub fn terminate(&mut self, i: usize, grace: Duration) -> Result<(), String> {
        let name = self.name(i).to_owned();
        let mut child = self.servers[i]
            .child
            .take()
            .ok_or_else(|| format!("{name} is not running"))?;
        terminate(&mut child, grace);
        Ok(())
    }

    /// Stops every running server with SIGTERM, as an operator would,
    /// killing those that take longer than `grace`.
    pub fn stop(&mut self, grace: Duration) {
        for server in &mut self.servers {
            if let Some(mut child) = server.child.take() {
                terminate(&mut child, grace);
            }
        }
    }

    /// Starts server `i` again after [`kill`](Self::kill), with the same
    /// config, ports and store directory; returns once it is routed to every
    /// running server and, when a quorum of the cluster is running,
    /// JetStream is ready again.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        if self.is_running(i) {
            return Err(format!("{} is still running", self.name(i)));
        }
        let mark = format!("{RESTART_MARK}\n");
        append(&self.servers[i].log, mark.as_bytes())?;
        let from = self.spawn(i)?;
        let ports = self.wait_started(i, from)?;
        if ports != self.servers[i].ports {
            return Err(format!(
                "{} came back on other ports: {}",
                self.name(i),
                self.log(i)
            ));
        }
        self.wait_meshed()?;
        if self.has_quorum() {
            self.wait_jetstream()?;
        }
        Ok(())
    }

    /// Waits until JetStream is ready on every running server: for a
    /// cluster, every running server names the same meta leader, that
    /// leader is running, sees a meta group of the full size, and has every
    /// running server as a current member; for a single server, JetStream
    /// is enabled.
    pub fn wait_jetstream(&self) -> Result<(), String> {
        if !self.has_quorum() {
            return Err(format!(
                "JetStream cannot be ready: only {} of {} servers are running",
                self.running().len(),
                self.len()
            ));
        }
        self.wait_until("JetStream ready", || self.jetstream_problem())
    }

    /// Waits until every running server has a route to every other one.
    pub fn wait_meshed(&self) -> Result<(), String> {
        self.wait_until("a full mesh of routes", || {
            let running = self.running();
            running.iter().find_map(|&i| {
                let routes = self.num_routes(i);
                (routes != Some(running.len() as u64 - 1))
                    .then(|| format!("{} has {routes:?} routes", self.name(i)))
            })
        })
    }

    /// Server `i`'s `/jsz` (None when it does not answer).
    pub fn jsz(&self, i: usize) -> Option<Value> {
        http_json(self.monitor(i), "/jsz").ok()
    }

    /// Server `i`'s `/routez` (None when it does not answer).
    pub fn routez(&self, i: usize) -> Option<Value> {
        http_json(self.monitor(i), "/routez").ok()
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

    /// How many of server `i`'s routes carry interest in `subject`: once
    /// every other server with subscribers does, a publish on `i` reaches
    /// them all (interest crosses routes asynchronously, after the
    /// subscriber's own server has answered its PING).
    pub fn routes_interested(&self, i: usize, subject: &str) -> Result<usize, String> {
        let routez = http_json(self.monitor(i), "/routez?subs=1")?;
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

    fn running(&self) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.is_running(i)).collect()
    }

    fn has_quorum(&self) -> bool {
        self.running().len() > self.len() / 2
    }

    /// Why JetStream is not ready yet, or None when it is.
    fn jetstream_problem(&self) -> Option<String> {
        if self.len() == 1 {
            let jsz = self.jsz(0);
            let enabled = jsz.as_ref().is_some_and(|j| {
                j.get("config").is_some() && j.get("disabled") != Some(&Value::Bool(true))
            });
            return (!enabled).then(|| format!("JetStream not enabled: {jsz:?}"));
        }
        let leader = match self.agreed_leader() {
            Ok(leader) => leader,
            Err(problem) => return Some(problem),
        };
        let running = self.running();
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

    /// The meta leader every running server names, each seeing a meta
    /// group of the cluster's full size; else what is not so yet.
    fn agreed_leader(&self) -> Result<String, String> {
        let mut leader = None;
        for i in self.running() {
            let jsz = self
                .jsz(i)
                .ok_or_else(|| format!("{} does not answer /jsz", self.name(i)))?;
            let meta = &jsz["meta_cluster"];
            let theirs = meta["leader"].as_str().unwrap_or_default();
            if theirs.is_empty() {
                return Err(format!("{} knows no meta leader", self.name(i)));
            }
            if *leader.get_or_insert(theirs.to_owned()) != theirs {
                return Err(format!("leaders differ: {leader:?}, {theirs}"));
            }
            if meta["cluster_size"].as_u64() != Some(self.len() as u64) {
                return Err(format!("{} meta group: {meta}", self.name(i)));
            }
        }
        leader.ok_or_else(|| "no server is running".into())
    }

    /// Polls `problem` until it returns None, for at most the patience;
    /// the last problem if it never did.
    fn poll_until(&self, mut problem: impl FnMut() -> Option<String>) -> Result<(), String> {
        let deadline = Instant::now() + self.spec.patience;
        loop {
            let Some(why) = problem() else { return Ok(()) };
            if Instant::now() > deadline {
                return Err(why);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// As [`poll_until`](Self::poll_until), saying what was awaited and
    /// how the logs end.
    fn wait_until(
        &self,
        what: &str,
        problem: impl FnMut() -> Option<String>,
    ) -> Result<(), String> {
        self.poll_until(problem).map_err(|why| {
            let patience = self.spec.patience;
            format!("no {what} within {patience:?}: {why}\n{}", self.tails())
        })
    }

    fn route_urls(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter_map(|server| server.ports.route)
            .map(|port| format!("nats-route://127.0.0.1:{port}"))
            .collect()
    }

    /// Writes server `i`'s config: with the ports it has (`fixed`) or
    /// letting it choose, and, in a cluster, with `routes`.
    fn write_config(&self, i: usize, fixed: bool, routes: &[String]) -> Result<(), String> {
        let server = &self.servers[i];
        let port = |p: Option<u16>| match (fixed, p) {
            (true, Some(p)) => p.to_string(),
            _ => "-1".to_owned(),
        };
        let store = server.store.to_str().unwrap_or("\"");
        if store.contains(['"', '\\']) {
            return Err(format!("unquotable path {}", server.store.display()));
        }
        let mut conf = format!(
            "# Written by evchat's nats-server launcher (src/bench/nats.rs)\n\
             server_name: {name}\n\
             listen: 127.0.0.1:{client}\n\
             http: 127.0.0.1:{http}\n\
             jetstream {{\n  \
               store_dir: \"{store}\"\n  \
               max_memory_store: 64MB\n  \
               max_file_store: {file}\n\
             }}\n",
            name = server.name,
            client = port(Some(server.ports.client)),
            http = port(Some(server.ports.http)),
            file = self.spec.max_file_store,
        );
        if self.len() > 1 {
            conf.push_str(&format!(
                "cluster {{\n  \
                   name: evchat\n  \
                   listen: 127.0.0.1:{route}\n  \
                   routes: [\n{routes}  ]\n\
                 }}\n",
                route = port(server.ports.route),
                routes = routes
                    .iter()
                    .map(|r| format!("    {r}\n"))
                    .collect::<String>(),
            ));
        }
        conf.push_str(&self.spec.extra);
        std::fs::write(&server.conf, conf).map_err(|e| format!("{}: {e}", server.conf.display()))
    }

    /// Starts server `i` on its config; returns where its log starts.
    fn spawn(&mut self, i: usize) -> Result<usize, String> {
        let server = &mut self.servers[i];
        let fail = |e: std::io::Error| format!("{}: {e}", server.log.display());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&server.log)
            .map_err(fail)?;
        let from = log.metadata().map_err(fail)?.len() as usize;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("-c").arg(&server.conf);
        die_with_parent(&mut cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(fail)?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start nats-server: {e}"))?;
        server.child = Some(child);
        Ok(from)
    }

    /// Waits until server `i` (its log from `from` on) is ready; returns
    /// the ports it logged.
    fn wait_started(&mut self, i: usize, from: usize) -> Result<Ports, String> {
        let clustered = self.len() > 1;
        self.watch_log(i, from, "start", |log| {
            let client = logged_port(log, CLIENT_MARK)?;
            let http = logged_port(log, HTTP_MARK)?;
            let route = logged_port(log, ROUTE_MARK);
            let ready = log.contains(READY_MARK) && (route.is_some() || !clustered);
            ready.then_some(Ok(Ports {
                client,
                http,
                route,
            }))
        })
    }

    /// Rewrites server `i`'s config (still letting it choose its ports, as
    /// it started: a reload may not change them) with `routes`, and has it
    /// reload the config.
    fn reload(&mut self, i: usize, routes: &[String]) -> Result<(), String> {
        let from = std::fs::metadata(&self.servers[i].log).map_or(0, |m| m.len() as usize);
        self.write_config(i, false, routes)?;
        let pid = self.servers[i].child.as_ref().map_or(0, Child::id);
        // SAFETY: kill(2) on our own child's pid (not reaped: it is
        // running); no memory is involved.
        if pid == 0 || unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) } != 0 {
            return Err(format!("cannot send SIGHUP to {}", self.name(i)));
        }
        let name = self.name(i).to_owned();
        self.watch_log(i, from, "reload", |log| {
            if log.contains(RELOAD_FAILED_MARK) {
                return Some(Err(format!("{name} could not reload: {log}")));
            }
            log.contains(RELOADED_MARK).then_some(Ok(()))
        })
    }

    /// Reads server `i`'s log from byte `from` on until `done` makes
    /// something of it, while the server lives, for at most the patience.
    fn watch_log<R>(
        &mut self,
        i: usize,
        from: usize,
        what: &str,
        mut done: impl FnMut(&str) -> Option<Result<R, String>>,
    ) -> Result<R, String> {
        let deadline = Instant::now() + self.spec.patience;
        loop {
            let log = self.log_since(i, from);
            if let Some(outcome) = done(&log) {
                return outcome;
            }
            self.check_alive(i, &format!("while trying to {what}"))?;
            if Instant::now() > deadline {
                let patience = self.spec.patience;
                return Err(format!(
                    "{} did not {what} within {patience:?}: {log}",
                    self.name(i)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// An error if server `i` has exited.
    fn check_alive(&mut self, i: usize, when: &str) -> Result<(), String> {
        let server = &mut self.servers[i];
        let Some(child) = server.child.as_mut() else {
            return Err(format!("{} is not running {when}", server.name));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                server.child = None;
                Err(format!(
                    "{} exited ({status}) {when}: {}",
                    self.name(i),
                    self.log(i)
                ))
            }
            Err(e) => Err(format!("{}: {e}", self.name(i))),
        }
    }
}

impl Server {
    /// Server `k` (from 1) of a cluster kept in `dir`, not started.
    fn new(dir: &Path, k: usize) -> Server {
        let name = format!("nats{k}");
        Server {
            conf: dir.join(format!("{name}.conf")),
            store: dir.join(format!("{name}-store")),
            log: dir.join(format!("{name}.log")),
            name,
            ports: Ports {
                client: 0,
                http: 0,
                route: None,
            },
            child: None,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(mut child) = server.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn append(path: &Path, text: &[u8]) -> Result<(), String> {
    let mut file = OpenOptions::new().create(true).append(true).open(path);
    let written = file.as_mut().map_err(|e| e.to_string())?.write_all(text);
    written.map_err(|e| format!("{}: {e}", path.display()))
}

/// Has the program `cmd` starts receive SIGTERM when the thread starting
/// it ends: a bench that is interrupted takes its servers with it.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// Stops `child` with SIGTERM, killing it if it takes longer than `grace`;
/// reaps it either way.
pub fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    // SAFETY: kill has no memory preconditions; the pid is our child's,
    // not yet reaped (try_wait said it is running).
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The port in `<marker>127.0.0.1:PORT` in `log`.
fn logged_port(log: &str, marker: &str) -> Option<u16> {
    let addr = log.split(marker).nth(1)?.split_whitespace().next()?;
    addr.rsplit(':').next()?.parse().ok()
}

/// A GET on a NATS monitoring port, its body parsed as JSON; an error when
/// the server does not answer (yet) or answers something other than 200.
pub fn http_json(addr: SocketAddr, path: &str) -> Result<Value, String> {
    let fail = |e: std::io::Error| format!("GET http://{addr}{path}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(fail)?;
    // HTTP/1.0: the server closes the connection after the response.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(fail)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(fail)?;
    let at = memchr::memmem::find(&reply, b"\r\n\r\n")
        .ok_or_else(|| format!("GET http://{addr}{path}: no body"))?;
    let head = String::from_utf8_lossy(&reply[..at]);
    if head.split_whitespace().nth(1) != Some("200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(format!("GET http://{addr}{path}: {status}"));
    }
    serde_json::from_slice(&reply[at + 4..]).map_err(|e| format!("GET http://{addr}{path}: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_ports_a_server_logged() {
        let log = "[1] 2026/01/01 [INF] Listening for client connections on 127.0.0.1:41234\n\
                   [1] 2026/01/01 [INF] Starting http monitor on 127.0.0.1:8222\n";
        assert_eq!(super::logged_port(log, super::CLIENT_MARK), Some(41234));
        assert_eq!(super::logged_port(log, super::HTTP_MARK), Some(8222));
        assert_eq!(super::logged_port(log, super::ROUTE_MARK), None);
    }
}
