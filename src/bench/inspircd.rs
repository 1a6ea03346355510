//! Starting Debian's InspIRCd 3 for `evchat-bench --compare --transport
//! irc` ([`peers`](super::peers)) — the launcher the integration tests can
//! share, as they share [`nats`](super::nats)'s.
//!
//! It runs in the foreground (`--nofork --nopid`, and `--runasroot` as
//! root, which it otherwise refuses) on a config written into the caller's
//! directory, and is ready when it prints [`READY`]: its listener is bound
//! while the config is read, before that. `<bind port="0">` binds nothing,
//! so a free port is picked here (bind to 0, read it, close) and written
//! into the config; if another program takes it in between, InspIRCd says
//! [`BIND_FAILED`] and runs on without a listener, so that is caught and
//! the start is tried again on another port.
//!
//! The config lines that matter ([`config`]; the full reference is
//! /usr/share/doc/inspircd/examples/inspircd.conf.example):
//! - `<connect allow="*">`, the class every client gets: `localmax` and
//!   `globalmax` (connections per IP, default 3: every bench client comes
//!   from 127.0.0.1) and `limit` (clients in the class, default 5000) are
//!   [`Limits::clients`]; flood control (`threshold`, `commandrate`,
//!   `fakelag`) would throttle a publisher to about one line a second past
//!   a burst of ten, so the rate is huge and fakelag off; the queues
//!   (`hardsendq`, `softsendq`, `recvq`, default 1M/10K/10K) would cut a
//!   subscriber that falls behind a burst, so they are [`Limits::sendq`];
//!   `maxchans` (default 20) must allow a rooms publisher's rooms;
//!   `pingfreq` is 10 minutes, longer than any run (the bench answers
//!   PINGs anyway); `resolvehostnames` and `useident` are off, lookups
//!   that would delay registration.
//! - `<performance softlimit somaxconn>`: open sockets, and the listen
//!   backlog (128 by default: thousands connecting at once are refused).
//! - No channel modes are set by a JOIN that matter here: a channel has no
//!   member limit unless `+l` is set, and nobody sets it.
//!
//! What it does that a comparison must allow for: it holds each
//! registration until about a second after the connection was accepted
//! (so the bench registers its clients concurrently, and that second is
//! in the set-up, not the measurement).

use super::nats::{die_with_parent, terminate};
use super::peers::find_program;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What InspIRCd prints once it runs, its listeners bound.
pub const READY: &str = "InspIRCd is now running as";
/// What it prints when a listener could not be bound (it runs on).
pub const BIND_FAILED: &str = "listeners failed to bind";
/// The server's name, as it appears in numerics.
pub const SERVER_NAME: &str = "irc.bench";
/// The MOTD's one line.
pub const MOTD: &str = "evchat-bench";
/// The modules for the IRCv3 pieces clients ask for (`cap` at all;
/// `ircv3`: away-notify, account-notify, extended-join; the `ircv3_*`:
/// server-time, batch, echo-message, cap-notify, message-tags, msgid,
/// labeled-response; `namesx`: multi-prefix; `uhnames`), for
/// [`Limits::extra`] where a real client is checked against it.
pub const IRCV3_MODULES: &str = "<module name=\"cap\">
<module name=\"ircv3\">
<module name=\"ircv3_servertime\">
<module name=\"ircv3_batch\">
<module name=\"ircv3_echomessage\">
<module name=\"ircv3_capnotify\">
<module name=\"ircv3_ctctags\">
<module name=\"ircv3_msgid\">
<module name=\"ircv3_labeledresponse\">
<module name=\"namesx\">
<module name=\"uhnames\">
";

/// The InspIRCd executable: `$INSPIRCD`, else on PATH or in the sbin
/// folders (Debian puts it in /usr/sbin, not on a user's PATH).
pub fn inspircd_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("INSPIRCD") {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    find_program("inspircd")
}

/// How much the server must allow (see the module doc).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Clients at once: per IP, in the class, and open sockets.
    pub clients: u32,
    /// Channels per user.
    pub maxchans: u32,
    /// Send and receive queue per client, in InspIRCd's syntax (`256M`).
    pub sendq: String,
    /// More config, appended (modules, an `<oper>`...).
    pub extra: String,
}

impl Default for Limits {
    /// As the bench needs: as many clients as evchat is started with, a
    /// rooms publisher in 100,000 rooms, and queues that hold a window.
    fn default() -> Limits {
        Limits {
            clients: 19000,
            maxchans: 100_000,
            sendq: "256M".to_owned(),
            extra: String::new(),
        }
    }
}

/// The whole config for a server on `port`, its MOTD in `dir`.
pub fn config(port: u16, dir: &Path, limits: &Limits) -> String {
    let Limits {
        clients,
        maxchans,
        sendq,
        extra,
    } = limits;
    // An absolute path: a relative one is read from /etc/inspircd.
    let motd = dir.join("motd.txt");
    let motd = motd.display();
    format!(
        r#"# Written by evchat's InspIRCd launcher (src/bench/inspircd.rs)
<server name="{SERVER_NAME}" description="evchat-bench peer" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="main" allow="*" timeout="60" pingfreq="600"
         threshold="1000000" commandrate="1000000000" fakelag="no"
         localmax="{clients}" globalmax="{clients}" limit="{clients}" maxchans="{maxchans}"
         hardsendq="{sendq}" softsendq="{sendq}" recvq="{sendq}"
         resolvehostnames="no" useident="no">
<performance softlimit="{softlimit}" somaxconn="{backlog}">
<security maxtargets="20">
<files motd="{motd}">
{extra}
"#,
        softlimit = clients + 64,
        backlog = (*clients).clamp(128, 65535),
    )
}

/// A running InspIRCd; killed on drop. Its config and output are in the
/// caller's directory, which is left there.
pub struct Inspircd {
    child: Child,
    pub addr: SocketAddr,
    output: PathBuf,
}

impl Inspircd {
    /// Starts a server with its files in `dir` (made if need be), within
    /// `patience`; the error says why and what it printed.
    pub fn start(dir: &Path, limits: &Limits, patience: Duration) -> Result<Inspircd, String> {
        let program = inspircd_path().ok_or("inspircd is not installed")?;
        let fail = |e: std::io::Error| format!("{}: {e}", dir.display());
        std::fs::create_dir_all(dir).map_err(fail)?;
        std::fs::write(dir.join("motd.txt"), format!("{MOTD}\n")).map_err(fail)?;
        let mut failures = String::new();
        // Another port after a lost race for one (see the module doc).
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let conf = dir.join("inspircd.conf");
            std::fs::write(&conf, config(port, dir, limits)).map_err(fail)?;
            let output = dir.join("inspircd.out");
            let mut child = spawn(&program, &conf, &output)?;
            match wait_ready(&mut child, &output, patience) {
                Ok(()) => {
                    let addr = SocketAddr::from(([127, 0, 0, 1], port));
                    return Ok(Inspircd {
                        child,
                        addr,
                        output,
                    });
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    failures.push_str(&format!("port {port}: {why}\n"));
                }
            }
        }
        Err(format!("inspircd did not start:\n{failures}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has printed.
    pub fn output(&self) -> String {
        read(&self.output)
    }

    /// Stops it with SIGTERM, killing it after `grace`.
    pub fn stop(mut self, grace: Duration) {
        terminate(&mut self.child, grace);
    }
}

impl Drop for Inspircd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Starts `program` on `conf`, its output into `output`; it dies with
/// the thread that started it.
fn spawn(program: &Path, conf: &Path, output: &Path) -> Result<Child, String> {
    let out = File::create(output).map_err(|e| format!("{}: {e}", output.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(program);
    cmd.args(["--nofork", "--nopid", "--config"]).arg(conf);
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        cmd.arg("--runasroot");
    }
    die_with_parent(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))
}

/// Waits until the output says it runs with its listener bound.
fn wait_ready(child: &mut Child, output: &Path, patience: Duration) -> Result<(), String> {
    let deadline = Instant::now() + patience;
    loop {
        let text = read(output);
        if text.contains(BIND_FAILED) {
            return Err(format!("its listener failed to bind: {text}"));
        }
        if text.contains(READY) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited ({status}): {text}"));
        }
        if Instant::now() > deadline {
            return Err(format!("not ready within {patience:?}: {text}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_allows_a_benchs_clients_from_one_address() {
        let text = config(6667, Path::new("/tmp/x"), &Limits::default());
        for needed in [
            r#"<bind address="127.0.0.1" port="6667" type="clients">"#,
            r#"localmax="19000" globalmax="19000" limit="19000" maxchans="100000""#,
            r#"fakelag="no""#,
            r#"resolvehostnames="no""#,
            r#"<files motd="/tmp/x/motd.txt">"#,
        ] {
            assert!(text.contains(needed), "{needed}: {text}");
        }
    }
}
