//! A bot on Debian's python3-irc library (`tests/irc_bot.py`, whose doc
//! says what it does and the library's pitfalls): what a person writing a
//! bot with a library sends and understands.
//!
//! How: the script is started with the server's address and a nick; it
//! takes JSON commands on stdin (`["join", "#x"]`, `["privmsg", "#x",
//! "hi"]`, `["raw", "AWAY :gone"]`) and prints every library event as one
//! JSON line on stdout, which a thread here reads into a channel.
//!
//! Waiting: [`PyIrc::until`] takes events off the channel, with PATIENCE as
//! the hang guard, until one matches; the ones passed over are returned
//! and all stay in [`PyIrc::seen`]. A bot that exits fails the wait at
//! once, with its stderr.
//!
//! Pitfalls:
//! - The interpreter must be the one python3-irc is installed for: Debian
//!   puts it in /usr/lib/python3/dist-packages, which `python3` on PATH
//!   may not see (a pyenv or venv python3 first on PATH, as on this
//!   machine). /usr/bin/python3 is tried first.
//! - Every received line comes twice: as "all_raw_messages" and as the
//!   parsed event; match on the type.

use crate::common::PATIENCE;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/irc_bot.py");

/// The first of /usr/bin/python3 and `python3` that can import `irc`.
pub fn python_with_irc() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        let probe = Command::new(python)
            .args(["-c", "import irc.client"])
            .output();
        probe.is_ok_and(|o| o.status.success())
    })
}

/// Whether a python3 with the irc library is there (false after a notice,
/// unless `CI` is set: then a failure).
pub fn python_irc_available() -> bool {
    super::found_or_skip(python_with_irc().is_some(), "python3-irc", "python3-irc")
}

/// One event of the library: its type ("pubmsg", "join", "welcome"...),
/// source (`nick!user@host` or the server), target and arguments.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: String,
    pub source: Option<String>,
    pub target: Option<String>,
    pub arguments: Vec<String>,
}

impl Event {
    fn from_json(value: &Value) -> Event {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let arguments = value["arguments"]
            .as_array()
            .map(|a| a.iter().filter_map(text).collect());
        Event {
            kind: text(&value["type"]).unwrap_or_default(),
            source: text(&value["source"]),
            target: text(&value["target"]),
            arguments: arguments.unwrap_or_default(),
        }
    }

    /// The nick of the source.
    pub fn nick(&self) -> Option<&str> {
        let source = self.source.as_deref()?;
        source.split('!').next()
    }

    /// Whether this is a `kind` event from `nick`.
    pub fn is(&self, kind: &str, nick: &str) -> bool {
        self.kind == kind && self.nick() == Some(nick)
    }
}

pub struct PyIrc {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
    /// Every event so far, in order.
    pub seen: Vec<Event>,
    pub nick: String,
}

impl PyIrc {
    /// Starts the bot as `nick` on `addr`; returns once it is registered
    /// (the end of the MOTD, or 422).
    pub fn connect(addr: SocketAddr, nick: &str) -> PyIrc {
        PyIrc::connect_with(addr, nick, &[])
    }

    /// As [`connect`](Self::connect), negotiating `caps` first.
    pub fn connect_with(addr: SocketAddr, nick: &str, caps: &[&str]) -> PyIrc {
        let python = python_with_irc().expect("a python3 with the irc library");
        let mut command = Command::new(python);
        command.args([
            SCRIPT,
            "--host",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ]);
        command.args(["--nick", nick, "--caps", &caps.join(",")]);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        evchat::bench::nats::die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {python} {SCRIPT}: {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut bot = PyIrc {
            child,
            stdin,
            events,
            stderr,
            seen: Vec::new(),
            nick: nick.to_owned(),
        };
        let (before, _) = bot.until("registration", |e| {
            e.kind == "endofmotd" || e.kind == "nomotd"
        });
        if let Some(welcome) = before.iter().find(|e| e.kind == "welcome") {
            bot.nick = welcome.target.clone().unwrap_or_else(|| bot.nick.clone());
        }
        bot
    }

    /// Sends one command: `&["privmsg", "#x", "hi"]`.
    pub fn send(&mut self, command: &[&str]) {
        let line = serde_json::to_string(command).expect("JSON") + "\n";
        let sent = self
            .stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.flush());
        sent.unwrap_or_else(|e| panic!("bot's stdin: {e}\n{}", self.stderr()));
    }

    /// The next event; None once the bot has exited and all it printed is
    /// read. Panics after PATIENCE.
    fn next_event(&mut self, deadline: Instant) -> Option<Event> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(left) {
            Ok(value) => {
                let event = Event::from_json(&value);
                self.seen.push(event.clone());
                Some(event)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => None,
        }
    }

    /// Events until one `found` accepts: (those before it, it). Fails if
    /// the bot exits or PATIENCE passes first, showing what came.
    pub fn until(&mut self, what: &str, found: impl Fn(&Event) -> bool) -> (Vec<Event>, Event) {
        let deadline = Instant::now() + PATIENCE;
        let mut before = Vec::new();
        while let Some(event) = self.next_event(deadline) {
            if found(&event) {
                return (before, event);
            }
            before.push(event);
        }
        let why = match self.child.try_wait() {
            Ok(Some(status)) => format!("the bot exited ({status})"),
            _ => format!("not within {PATIENCE:?}"),
        };
        panic!(
            "{what}: {why}; events: {before:#?}\nstderr: {}",
            self.stderr()
        );
    }

    /// Joins `channel`; returns once the server's JOIN for the bot came.
    pub fn join(&mut self, channel: &str) {
        self.send(&["join", channel]);
        let nick = self.nick.clone();
        self.until(&format!("join {channel}"), |e| {
            e.is("join", &nick) && e.target.as_deref() == Some(channel)
        });
    }

    /// `QUIT :<reason>`; waits for the connection to close and the bot to
    /// exit, and returns its status.
    pub fn quit(&mut self, reason: &str) -> ExitStatus {
        self.send(&["quit", reason]);
        self.until("disconnect", |e| e.kind == "disconnect");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the bot did not exit\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the bot wrote on stderr (a Python traceback, say).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for PyIrc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
