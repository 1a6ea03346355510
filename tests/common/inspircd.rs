//! A real IRC server to check the IRC test drivers against, and to compare
//! evchat with (issue 20's bench): Debian's InspIRCd 3, in the foreground,
//! on a free port, with a config generated into a temporary directory.
//!
//! Start: `inspircd --nofork --nopid --config <dir>/inspircd.conf`, plus
//! `--runasroot` when running as root (it refuses otherwise). It is ready
//! when it prints `InspIRCd is now running as`: the listener is bound
//! before that, while the config is read.
//!
//! The port: `<bind port="0">` binds nothing, and says nothing, so a free
//! port is picked here (bind to 0, read it, close) and written into the
//! config. Another program could take it in between; InspIRCd then says
//! `listeners failed to bind` and runs on without one, so that is caught
//! and the start is tried again with another port.
//!
//! The config lines that matter, and why they are set as they are (see
//! [`Limits`], and /usr/share/doc/inspircd/examples/inspircd.conf.example):
//! - `<connect allow="*" ...>`, the class every client gets:
//!   - `localmax`/`globalmax`: connections per IP, default 3. Every test
//!     and bench client comes from 127.0.0.1: raised to [`Limits::clients`].
//!   - `limit`: clients in the class (default 5000), same.
//!   - `threshold`/`commandrate`/`fakelag`: flood control. By default a
//!     client may send about one line a second past a burst of 10 before it
//!     is delayed (fakelag) or quit ("Excess Flood"); a bench must not be
//!     throttled, so the rate is huge and fakelag is off.
//!   - `hardsendq`/`softsendq`/`recvq`: queue sizes (defaults 1M/10K/10K);
//!     a fan-out burst to a slow reader overflows a small send queue
//!     ("SendQ exceeded"). [`Limits::sendq`].
//!   - `maxchans`: channels per user (default 20, from `<channels users>`).
//!   - `pingfreq`: a server PING interleaves with what a test expects;
//!     10 minutes keeps it out of any test. `timeout`: registration time.
//!   - `resolvehostnames="no"`, `useident="no"`: no DNS or ident lookup
//!     before registration (each would delay it, up to their timeouts).
//! - `<performance softlimit somaxconn>`: open sockets and listen backlog
//!   (128 by default: thousands of clients connecting at once are refused).
//! - `<security maxtargets>`: targets of one PRIVMSG.
//! - Modules: `cap` (CAP at all) and the IRCv3 ones clients ask for:
//!   `ircv3` (away-notify, account-notify, extended-join), `ircv3_*`
//!   (server-time, batch, echo-message, cap-notify, message-tags, msgid,
//!   labeled-response), `namesx` (multi-prefix), `uhnames`
//!   (userhost-in-names).
//! - `<files motd>` takes an absolute path: a relative one is read from
//!   /etc/inspircd, not from beside the config.
//!
//! What it does that a comparison must allow for: it holds each
//! registration until about 1 s after the connection was accepted (001
//! comes then, not at once; registrations in parallel overlap, so a bench
//! registers its clients concurrently); it sets user mode `+i` after the
//! MOTD (`MODE nick :+i`, in [`Welcome::after`]); a QUIT reason reaches
//! others as given (Debian's own config adds `Quit: ` with `<options
//! prefixquit>`, this one does not); CASEMAPPING is rfc1459.
//!
//! [`Welcome::after`]: super::irc::Welcome::after

use super::PATIENCE;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

const READY: &str = "InspIRCd is now running as";
const BIND_FAILED: &str = "listeners failed to bind";
/// The server's name, as it appears in numerics (`:irc.test 001 ...`).
pub const SERVER_NAME: &str = "irc.test";
/// The MOTD's one line.
pub const MOTD: &str = "harness motd";

/// The InspIRCd executable: `$INSPIRCD`, else on PATH or in the sbin
/// folders (Debian puts it in /usr/sbin).
pub fn inspircd_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("INSPIRCD") {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    evchat::bench::peers::find_program("inspircd")
}

/// Whether InspIRCd is installed (false after a notice, unless `CI` is
/// set: then a failure).
pub fn inspircd_available() -> bool {
    let found = inspircd_path().is_some();
    super::irc_clients::found_or_skip(found, "inspircd", "inspircd")
}

/// The limits a bench may want other than the tests' defaults.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Clients at once (per IP, in the class, sockets).
    pub clients: u32,
    /// Channels per user.
    pub maxchans: u32,
    /// Send and receive queue per client, InspIRCd's syntax (`16M`).
    pub sendq: String,
    /// More config, appended (more modules, an `<oper>`...).
    pub extra: String,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            clients: 1000,
            maxchans: 100,
            sendq: "16M".to_owned(),
            extra: String::new(),
        }
    }
}

/// The whole config for a server on `port`, its files in `dir`.
pub fn config(port: u16, dir: &Path, limits: &Limits) -> String {
    let Limits {
        clients,
        maxchans,
        sendq,
        extra,
    } = limits;
    let motd = dir.join("motd.txt");
    let motd = motd.display();
    let modules = [
        "cap",
        "ircv3",
        "ircv3_servertime",
        "ircv3_batch",
        "ircv3_echomessage",
        "ircv3_capnotify",
        "ircv3_ctctags",
        "ircv3_msgid",
        "ircv3_labeledresponse",
        "namesx",
        "uhnames",
    ];
    let modules: String = modules
        .iter()
        .map(|m| format!("<module name=\"{m}\">\n"))
        .collect();
    format!(
        r#"<server name="{SERVER_NAME}" description="evchat test harness" network="Harness">
<admin name="harness" nick="harness" email="harness@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="main" allow="*" timeout="60" pingfreq="600"
         threshold="1000000" commandrate="1000000000" fakelag="no"
         localmax="{clients}" globalmax="{clients}" limit="{clients}" maxchans="{maxchans}"
         hardsendq="{sendq}" softsendq="{sendq}" recvq="{sendq}"
         resolvehostnames="no" useident="no">
<performance softlimit="{softlimit}" somaxconn="{backlog}">
<security maxtargets="20">
<files motd="{motd}">
{modules}{extra}
"#,
        softlimit = clients + 64,
        backlog = (*clients).max(128),
    )
}

/// A running InspIRCd, killed on drop (then its directory is removed).
pub struct Inspircd {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
}

impl Inspircd {
    /// Starts a server with the default [`Limits`]; panics with its output
    /// if it does not start.
    pub fn start() -> Inspircd {
        Inspircd::start_with(&Limits::default())
    }

    pub fn start_with(limits: &Limits) -> Inspircd {
        let program = inspircd_path().expect("inspircd installed");
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("motd.txt"), format!("{MOTD}\n")).expect("motd");
        let mut failures = String::new();
        // Another port after a lost race for one (see the module doc).
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
            let port = port.expect("a free port").port();
            let conf = dir.path().join("inspircd.conf");
            std::fs::write(&conf, config(port, dir.path(), limits)).expect("write config");
            let (mut child, log, outcome) = spawn(&program, &conf);
            match outcome {
                Ok(()) => {
                    let addr = SocketAddr::from(([127, 0, 0, 1], port));
                    return Inspircd {
                        child,
                        addr,
                        log,
                        dir,
                    };
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = log.lock().unwrap().clone();
                    failures.push_str(&format!("port {port}: {why}\n{text}\n"));
                }
            }
        }
        panic!("inspircd did not start:\n{failures}");
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its directory (config, MOTD).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Inspircd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts InspIRCd on `conf` and waits for its ready line: Ok, or why not.
fn spawn(program: &Path, conf: &Path) -> (Child, Arc<Mutex<String>>, Result<(), String>) {
    let mut command = Command::new(program);
    command.args(["--nofork", "--nopid", "--config"]).arg(conf);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        command.arg("--runasroot");
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    evchat::bench::nats::die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = channel();
    copy_lines(child.stdout.take().expect("stdout"), &log, tx.clone());
    copy_lines(child.stderr.take().expect("stderr"), &log, tx);
    let outcome = match rx.recv_timeout(PATIENCE) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(line)) => Err(line),
        Err(_) => Err(format!("no {READY:?} within {PATIENCE:?} (or it exited)")),
    };
    (child, log, outcome)
}

/// Copies `from`'s lines into `log` on a thread of its own, telling `tx`
/// about the ready line (Ok) or a failure to bind (Err), whichever first.
fn copy_lines(
    from: impl Read + Send + 'static,
    log: &Arc<Mutex<String>>,
    tx: Sender<Result<(), String>>,
) {
    let log = Arc::clone(log);
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if line.contains(BIND_FAILED) {
                let _ = tx.send(Err(line.clone()));
            } else if line.contains(READY) {
                let _ = tx.send(Ok(()));
            }
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}
