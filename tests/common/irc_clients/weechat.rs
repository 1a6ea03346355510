//! WeeChat (Debian's `weechat-headless`: the whole client, no screen),
//! driven through its FIFO and read through its log files.
//!
//! How: it runs with `--dir <temp dir>` (its config, logs and FIFO all in
//! there, nothing from the user's) and only the plugins it needs
//! (`-P irc,logger,fifo`: no scripts, no relay, no spell checker). The
//! `-r` commands at start set the logger to write each line at once, add
//! the server under test as `harness` and connect. Its `command` option,
//! which WeeChat runs once the server has sent 001, prints
//! `harness: registered as <nick>` to the core buffer: the marker
//! [`Weechat::connect`] waits for, WeeChat's own whatever the server says.
//!
//! Commands: the fifo plugin reads lines `<buffer> *<text>` from
//! `<dir>/weechat_fifo_<pid>`, as if typed in that buffer
//! (`irc.server.harness */join #x`, `irc.harness.#x *hello`).
//!
//! What it shows: the logger writes every buffer to
//! `<dir>/logs/irc.harness.<channel or nick>.weechatlog` (the server
//! buffer: `irc.server.harness.weechatlog`) as `date time<TAB>prefix<TAB>
//! text`; [`Weechat::wait_log`] reads a buffer's log until a line is there.
//! Prefixes are the speaker's nick (`wee`), `-->` for joins, `<--` for
//! parts and quits, `--` for notes.
//!
//! This is deterministic where driving its screen would not be: the log
//! holds every line, in order, however many arrive, and nothing scrolls.
//! Waits poll the file (every 20 ms), PATIENCE as the hang guard.
//!
//! Pitfalls:
//! - `logger.file.flush_delay` is 120 s by default: a line would reach the
//!   file two minutes later. Set to 0.
//! - Log file names are lower case (`logger.file.name_lower_case`), so
//!   `#Rust`'s log is `irc.harness.#rust.weechatlog`; [`Weechat::log`]
//!   lowers the name asked.
//! - A private message opens a query buffer (and its log) only when one
//!   comes in or `/query` opens it; `/msg nick text` with no query open
//!   shows in the server buffer. [`Weechat::say`] uses `/query` for nicks.
//! - `irc.server_default.capabilities` is `*` in 3.8 (every cap WeeChat
//!   knows that the server offers); older WeeChat requested none unless
//!   told, so `server-time` etc. must be set there on other versions.
//! - Anti-flood: WeeChat queues what the user sends and spaces it out by
//!   2 s (`anti_flood_prio_high`/`_low`), so each message took 2 s to
//!   leave; 0 for `harness` sends at once.
//! - `autoreconnect` is turned off for `harness`: after the server closes
//!   the connection WeeChat would otherwise connect again by itself.
//! - The FIFO is opened non-blocking: opening a FIFO with no reader for
//!   writing blocks forever, and a dead WeeChat must fail the test, not
//!   hang it.

use crate::common::PATIENCE;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Whether weechat-headless is installed (false after a notice, unless
/// `CI` is set: then a failure).
pub fn weechat_available() -> bool {
    let out = Command::new("weechat-headless").arg("--version").output();
    let found = out.is_ok_and(|o| o.status.success());
    super::found_or_skip(found, "weechat-headless", "weechat-headless")
}

/// One line of a buffer's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// `YYYY-MM-DD HH:MM:SS`, local time (for a replayed line with
    /// `server-time`, the time the server gave it).
    pub time: String,
    /// The speaker's nick, `-->`, `<--`, `--`...
    pub prefix: String,
    pub text: String,
}

impl LogLine {
    /// Whether `nick` said it (a mode sign before the nick is ignored).
    pub fn by(&self, nick: &str) -> bool {
        self.prefix.trim_start_matches(['@', '+', '%', '&', '~']) == nick
    }
}

pub struct Weechat {
    child: Child,
    fifo: File,
    dir: tempfile::TempDir,
    /// The nick WeeChat registered with.
    pub nick: String,
}

const MARKER: &str = "harness: registered as ";

impl Weechat {
    /// Starts WeeChat connecting to `addr` as `nick`; returns once it has
    /// registered.
    pub fn connect(addr: SocketAddr, nick: &str) -> Weechat {
        let dir = tempfile::tempdir().expect("weechat dir");
        let server = format!("{}/{}", addr.ip(), addr.port());
        let setup = [
            "/set logger.file.flush_delay 0".to_owned(),
            format!("/server add harness {server} -notls -nicks={nick} -username={nick} -realname=harness"),
            "/set irc.server.harness.autoreconnect off".to_owned(),
            "/set irc.server.harness.anti_flood_prio_high 0".to_owned(),
            "/set irc.server.harness.anti_flood_prio_low 0".to_owned(),
            format!("/set irc.server.harness.command \"/print -core {MARKER}$nick\""),
            "/connect harness".to_owned(),
        ];
        let mut command = Command::new("weechat-headless");
        command.arg("--dir").arg(dir.path());
        command.args(["-P", "irc,logger,fifo", "-r", &setup.join(";")]);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        evchat::bench::nats::die_with_parent(&mut command);
        let mut child = command.spawn().expect("start weechat-headless");
        let fifo_path = dir.path().join(format!("weechat_fifo_{}", child.id()));
        let fifo = match open_fifo(&fifo_path, &mut child) {
            Ok(fifo) => fifo,
            Err(why) => {
                let _ = child.kill();
                panic!("weechat: {why}\n{}", weechat_log(dir.path()));
            }
        };
        let mut weechat = Weechat {
            child,
            fifo,
            dir,
            nick: String::new(),
        };
        let lines = weechat.wait_log("core.weechat", "registration", |l| {
            l.text.starts_with(MARKER)
        });
        let marker = lines
            .iter()
            .rev()
            .find(|l| l.text.starts_with(MARKER))
            .unwrap();
        weechat.nick = marker.text[MARKER.len()..].trim().to_owned();
        weechat
    }

    /// Sends `text` (a `/command` or a message) as if typed in `buffer`:
    /// its full name, `irc.server.harness`, `irc.harness.#x`...
    pub fn input(&mut self, buffer: &str, text: &str) {
        assert!(!text.contains('\n'), "one line at a time: {text:?}");
        let line = format!("{buffer} *{text}\n");
        let written = self.fifo.write_all(line.as_bytes());
        written.unwrap_or_else(|e| panic!("weechat fifo: {e}\n{}", self.weechat_log()));
    }

    /// A `/command` typed in the server buffer.
    pub fn command(&mut self, command: &str) {
        self.input("irc.server.harness", command);
    }

    /// `/join <channel>`; returns once WeeChat logs itself joined.
    pub fn join(&mut self, channel: &str) {
        self.command(&format!("/join {channel}"));
        let joined = format!("{} (", self.nick);
        self.wait_log(channel, "the join", |l| {
            l.prefix == "-->"
                && l.text.starts_with(&joined)
                && l.text.ends_with(&format!("has joined {channel}"))
        });
    }

    /// Says `text` to a channel (typed in its buffer) or to a nick (with
    /// `/query`, which opens the query buffer); returns once it is logged
    /// as said.
    pub fn say(&mut self, target: &str, text: &str) {
        if target.starts_with('#') {
            self.input(&format!("irc.harness.{target}"), text);
        } else {
            self.command(&format!("/query {target} {text}"));
        }
        let nick = self.nick.clone();
        self.wait_log(target, &format!("{text:?} said"), |l| {
            l.by(&nick) && l.text == text
        });
    }

    /// The log of `buffer`: a channel (`#x`), a nick (its query), `server`
    /// (the server buffer) or a full name (`core.weechat`). Empty if
    /// there is none yet.
    pub fn log(&self, buffer: &str) -> Vec<LogLine> {
        let text = std::fs::read_to_string(self.log_path(buffer)).unwrap_or_default();
        text.lines().filter_map(parse_log_line).collect()
    }

    fn log_path(&self, buffer: &str) -> PathBuf {
        let name = match buffer {
            "server" => "irc.server.harness".to_owned(),
            full if full.starts_with("core.") || full.starts_with("irc.") => full.to_owned(),
            short => format!("irc.harness.{short}"),
        };
        let file = format!("{}.weechatlog", name.to_lowercase());
        self.dir.path().join("logs").join(file)
    }

    /// Waits until a line of `buffer`'s log satisfies `found` (hang guard:
    /// PATIENCE); returns the whole log. Fails at once if WeeChat exits.
    pub fn wait_log(
        &mut self,
        buffer: &str,
        what: &str,
        found: impl Fn(&LogLine) -> bool,
    ) -> Vec<LogLine> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let exited = self.child.try_wait().expect("wait");
            let lines = self.log(buffer);
            if lines.iter().any(&found) {
                return lines;
            }
            let why = match exited {
                Some(status) => format!("WeeChat exited ({status})"),
                None if Instant::now() > deadline => format!("not within {PATIENCE:?}"),
                None => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            panic!(
                "{what}: not in {buffer}'s log: {why}:\n{lines:#?}\n{}",
                self.weechat_log()
            );
        }
    }

    /// `/quit <reason>`; returns WeeChat's exit status.
    pub fn quit(&mut self, reason: &str) -> ExitStatus {
        self.command(&format!("/quit {reason}"));
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "WeeChat did not exit\n{}",
                self.weechat_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// WeeChat's own log (`weechat.log`): start-up and plugin errors.
    pub fn weechat_log(&self) -> String {
        weechat_log(self.dir.path())
    }
}

impl Drop for Weechat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `date time<TAB>prefix<TAB>text`; the prefix may be empty.
fn parse_log_line(line: &str) -> Option<LogLine> {
    let mut fields = line.splitn(3, '\t');
    let (time, prefix, text) = (fields.next()?, fields.next()?, fields.next()?);
    let (time, prefix, text) = (time.to_owned(), prefix.to_owned(), text.to_owned());
    Some(LogLine { time, prefix, text })
}

/// Waits for the fifo plugin to make its FIFO, then opens it for writing.
fn open_fifo(path: &Path, child: &mut Child) -> Result<File, String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        // Non-blocking: fails (ENXIO) rather than waiting if no one reads.
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
        match opened {
            Ok(fifo) => return blocking(fifo),
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "no FIFO at {} within {PATIENCE:?}: {e}",
                    path.display()
                ))
            }
            Err(_) => {}
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("it exited at start: {status}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Clears O_NONBLOCK again once open: a write must wait for room in the
/// pipe rather than fail while WeeChat is busy.
fn blocking(fifo: File) -> Result<File, String> {
    use std::os::fd::AsRawFd;
    let fd = fifo.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; no memory is passed.
    let cleared = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if cleared {
        Ok(fifo)
    } else {
        Err(format!("fcntl: {}", std::io::Error::last_os_error()))
    }
}

fn weechat_log(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("weechat.log")).unwrap_or_default();
    format!("=== weechat.log:\n{text}")
}
