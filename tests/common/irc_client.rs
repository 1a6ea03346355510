//! A raw IRC client for tests: CR LF lines, registration, and a `PING`
//! barrier that answers the server's own `PING`s on the way.

use super::{Line, TestServer};

/// A raw IRC client: lines end in CR LF.
pub struct Irc {
    line: Line,
    next_token: u64,
    /// What the server calls itself in its `PONG`s.
    server_name: String,
}

impl Irc {
    pub fn connect(server: &TestServer) -> Irc {
        Irc {
            line: server.connect(),
            next_token: 0,
            server_name: "evchat-test".to_owned(),
        }
    }

    /// The server is started with `--server-name <name>` (not `evchat-test`).
    pub fn named(mut self, name: &str) -> Irc {
        self.server_name = name.to_owned();
        self
    }

    /// Registers as `nick` (with `server-time` if `time`), returning
    /// everything up to the end of the everyone channel's names.
    pub fn register(server: &TestServer, nick: &str, time: bool) -> (Irc, Vec<String>) {
        Irc::register_with(server, nick, if time { "server-time" } else { "" })
    }

    /// Registers as `nick`, asking for `caps` (space separated; none if
    /// empty), as [`Irc::register`].
    pub fn register_with(server: &TestServer, nick: &str, caps: &str) -> (Irc, Vec<String>) {
        let mut irc = Irc::connect(server);
        irc.send("CAP LS 302");
        irc.send(&format!("NICK {nick}"));
        irc.send(&format!("USER {nick} 0 * :{nick}"));
        if !caps.is_empty() {
            irc.send(&format!("CAP REQ :{caps}"));
        }
        irc.send("CAP END");
        let lines = irc.until(|l| l.contains(" 366 ") && l.contains("#everyone"));
        (irc, lines)
    }

    /// Registers `nick`, joins `room` and quits: a member of `room` who is
    /// away, whose mail is held and whose rooms' history waits.
    pub fn member_away(server: &TestServer, nick: &str, room: &str) {
        let (mut irc, _) = Irc::register(server, nick, false);
        irc.send(&format!("JOIN {room}"));
        irc.until(|l| l.contains(&format!(" 366 {nick} {room} ")));
        irc.send("QUIT");
        irc.until(|l| l.starts_with("ERROR "));
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.line.send_raw(bytes);
    }

    pub fn send(&mut self, text: &str) {
        self.line.send_raw(format!("{text}\r\n").as_bytes());
    }

    pub fn recv(&mut self) -> String {
        let line = self.line.recv();
        line.strip_suffix('\r')
            .unwrap_or_else(|| panic!("IRC line without CR: {line:?}"))
            .to_owned()
    }

    /// Lines up to and including the first that `done` accepts; the
    /// server's PINGs are answered on the way, as clients do.
    pub fn until(&mut self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.recv();
            if let Some(token) = line.strip_prefix("PING ") {
                self.send(&format!("PONG {token}"));
                continue;
            }
            let last = done(&line);
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    /// Everything that comes before the answer to our own PING.
    pub fn sync(&mut self) -> Vec<String> {
        self.next_token += 1;
        let token = format!("t{}", self.next_token);
        self.send(&format!("PING :{token}"));
        let pong = format!(" PONG {} :{token}", self.server_name);
        let mut lines = self.until(|l| l.ends_with(&pong));
        lines.pop();
        lines
    }
}
