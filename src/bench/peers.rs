//! Starting the servers a `--compare` run measures: evchat-server (the
//! build next to the bench binary), redis-server and nats-server, each on a
//! free loopback port. A peer not installed is skipped with a notice.
//! For WebSocket subscribers nats-server also gets a `websocket` listener
//! (evchat serves `/ws` on its chat port). InspIRCd, for IRC clients, is
//! started by its own launcher ([`inspircd`](super::inspircd)).

use super::inspircd::{self, Inspircd};
use super::wire::Target;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process started for the benchmark; killed on drop.
pub struct Peer {
    pub target: Target,
    pub addr: SocketAddr,
    /// Where WebSocket subscribers connect, when asked for.
    pub ws_addr: Option<SocketAddr>,
    process: Process,
    /// evchat's data directory, nats-server's or InspIRCd's configuration,
    /// removed on drop.
    data_dir: Option<PathBuf>,
}

/// The server's process: started here, or by its launcher.
enum Process {
    Child(Child),
    Ircd(Inspircd),
    /// Stopped (dropping the peer).
    Gone,
}

impl Peer {
    pub fn pid(&self) -> u32 {
        match &self.process {
            Process::Child(child) => child.id(),
            Process::Ircd(ircd) => ircd.pid(),
            Process::Gone => 0,
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Stopped before its directory goes.
        match std::mem::replace(&mut self.process, Process::Gone) {
            Process::Child(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Process::Ircd(ircd) => drop(ircd),
            Process::Gone => {}
        }
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Where a program is: on PATH, or in the sbin folders Debian uses.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The evchat-server built alongside this binary.
pub fn evchat_server() -> Option<PathBuf> {
    let here = std::env::current_exe().ok()?;
    let candidate = here.parent()?.join("evchat-server");
    candidate.is_file().then_some(candidate)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The command line that starts `target` on `port`, if it is installed;
/// nats-server with a WebSocket listener on `ws_port` if given (its
/// configuration file goes in `data_dir`).
fn command(
    target: Target,
    port: u16,
    ws_port: Option<u16>,
    data_dir: &std::path::Path,
) -> Option<Command> {
    let port = port.to_string();
    let mut cmd;
    match target {
        Target::Evchat => {
            cmd = Command::new(evchat_server()?);
            cmd.args([
                "--port",
                &port,
                "--idle-timeout",
                "0",
                "--log-level",
                "warn",
            ]);
            cmd.args(["--max-clients", "19000"]);
            // The rooms scenario's publishers are in R / P rooms each, and
            // R may be more than the default --max-rooms.
            cmd.args(["--max-rooms", "100000", "--max-rooms-per-user", "100000"]);
            cmd.arg("--data-dir").arg(data_dir);
        }
        Target::Redis => {
            cmd = Command::new(find_program("redis-server")?);
            cmd.args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]);
            cmd.args([
                "--maxclients",
                "19000",
                "--logfile",
                "",
                "--loglevel",
                "warning",
            ]);
        }
        Target::Inspircd => return None, // see `start_inspircd`
        Target::Nats => {
            cmd = Command::new(find_program("nats-server")?);
            cmd.args(["-a", "127.0.0.1", "-p", &port]);
            if let Some(ws) = ws_port {
                // Plain ws:// on loopback; compression only if a client
                // asks, and the bench does not.
                let conf = data_dir.join("nats.conf");
                let text = format!("websocket {{ listen: \"127.0.0.1:{ws}\", no_tls: true }}\n");
                std::fs::create_dir_all(data_dir)
                    .and_then(|()| std::fs::write(&conf, text))
                    .ok()?;
                cmd.arg("-c").arg(conf);
            }
        }
    }
    Some(cmd)
}

/// Starts `target` (with a WebSocket listener if `ws`); `Ok(None)` when it
/// is not installed.
pub fn start(target: Target, ws: bool) -> Result<Option<Peer>, String> {
    if target == Target::Inspircd {
        return start_inspircd();
    }
    let port = free_port().map_err(|e| e.to_string())?;
    let ws_port = match (ws, target) {
        (true, Target::Nats) => loop {
            let ws = free_port().map_err(|e| e.to_string())?;
            if ws != port {
                break Some(ws);
            }
        },
        (true, _) => Some(port),
        (false, _) => None,
    };
    let data_dir = std::env::temp_dir().join(format!("evchat-bench-{}-{port}", std::process::id()));
    let Some(mut cmd) = command(target, port, ws_port.filter(|&p| p != port), &data_dir) else {
        if target == Target::Evchat {
            return Err(
                "evchat-server is not next to evchat-bench: run `cargo build --release` first"
                    .into(),
            );
        }
        return Ok(None);
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", target.name()))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let peer = Peer {
        target,
        addr,
        ws_addr: ws_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
        process: Process::Child(child),
        data_dir: (target == Target::Evchat || ws_port.is_some()).then_some(data_dir),
    };
    for addr in [Some(addr), peer.ws_addr].into_iter().flatten() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not start listening on {addr}",
                    target.name()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(Some(peer))
}

/// InspIRCd on a free port with the bench's limits, its files in a
/// directory of its own; `Ok(None)` when it is not installed.
fn start_inspircd() -> Result<Option<Peer>, String> {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    if inspircd::inspircd_path().is_none() {
        return Ok(None);
    }
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("evchat-bench-{}-inspircd-{n}", std::process::id()));
    let limits = inspircd::Limits::default();
    let started = Inspircd::start(&dir, &limits, Duration::from_secs(10));
    let ircd = started.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&dir);
    })?;
    Ok(Some(Peer {
        target: Target::Inspircd,
        addr: ircd.addr,
        ws_addr: None,
        process: Process::Ircd(ircd),
        data_dir: Some(dir),
    }))
}
