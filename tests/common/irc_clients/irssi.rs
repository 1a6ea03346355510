//! irssi (Debian's), a person's IRC client, in a tmux session
//! ([`Tmux`]): the test types what a person would (`/join #x`, text,
//! `/msg bob hi`, `/quit`) and reads the rendered screen.
//!
//! How: irssi runs with `--home=<temp dir>` holding a config written here:
//! one chatnet, `harness`, for the server under test, and the settings
//! below; `-c harness` connects at start. The chatnet's `autosendcmd` runs
//! once irssi has seen 001 and prints `harness: registered as <nick>`,
//! which [`Irssi::connect`] waits for: a marker of irssi's own, whatever
//! the server says in its welcome.
//!
//! Waiting: [`Irssi::wait_text`] and [`Irssi::wait_for`] poll the screen
//! (see [`Tmux`]); PATIENCE is the hang guard.
//!
//! Everything is in one window (`autocreate_windows = no`): the status
//! messages, the channels, the queries a private message opens. So a
//! private message shows up on the screen without switching windows. Text
//! typed without a command goes to the window's active item (the channel
//! last joined); to be sure where a line goes, type `/msg #x text` or use
//! [`Irssi::say`].
//!
//! Lines look like `HH:MM <nick> text` (`<@nick>` for a channel operator,
//! `<nick>` in a query), `HH:MM -!- nick [user@host] has joined #x`;
//! [`untimed`] drops the time, [`said`] tells a line of a nick whatever its mode.
//!
//! Pitfalls met and what the config does about them:
//! - Without a config, irssi's first run prints a welcome banner and
//!   "The following settings were initialized" (user_name, real_name):
//!   the written config sets them, so the screen starts clean.
//! - `settings_autosave = no`: irssi would otherwise rewrite the config.
//! - Paste detection: keys arriving in a burst (tmux sends them at once)
//!   can be taken for a paste that irssi holds for confirmation;
//!   `paste_detect_time = 0` turns that off.
//! - Flood control: irssi sends at most `cmds_max_at_once` commands, then
//!   one per `cmd_queue_speed` (2.2 s): the config lifts it, so many typed
//!   lines do not make a slow test.
//! - `show_nickmode_empty = no`: `<nick>`, not `< nick>`, for members
//!   without a mode.
//! - irssi picks another nick (`nick_`) when the one asked is taken; the
//!   marker shows the nick it got ([`Irssi::nick`]).
//! - irssi reconnects by itself when the server closes the connection
//!   (not after `/quit`); a test of a kick-out must expect that.
//! - Lines wider than the 200 columns wrap, indented; what scrolls past
//!   100 rows is gone (see [`Tmux`]).

use super::tmux::{tmux_available, Tmux};
use std::net::SocketAddr;
use std::process::Command;

/// Whether irssi and tmux are installed. Without them: false after a
/// notice, unless `CI` is set, where that is a failure.
pub fn irssi_available() -> bool {
    let irssi = Command::new("irssi").arg("--version").output();
    let found = irssi.is_ok_and(|o| o.status.success()) && tmux_available();
    super::found_or_skip(found, "irssi and tmux", "irssi tmux")
}

pub struct Irssi {
    tmux: Tmux,
    /// The nick irssi registered with.
    pub nick: String,
    _home: tempfile::TempDir,
}

impl Irssi {
    /// Starts irssi connecting to `addr` as `nick`; returns once it has
    /// registered (its marker is on the screen).
    pub fn connect(addr: SocketAddr, nick: &str) -> Irssi {
        let home = tempfile::tempdir().expect("irssi home");
        std::fs::write(home.path().join("config"), config(addr, nick)).expect("irssi config");
        let home_arg = format!("--home={}", home.path().display());
        let tmux = Tmux::start(home.path(), "irssi", &[&home_arg, "-c", "harness"], &[]);
        let mut irssi = Irssi {
            tmux,
            nick: String::new(),
            _home: home,
        };
        let rows = irssi.wait_text(MARKER);
        let row = rows.iter().rev().find(|r| r.contains(MARKER)).unwrap();
        irssi.nick = row.split(MARKER).nth(1).unwrap().trim().to_owned();
        irssi
    }

    /// Types `line` and Enter: a command (`/join #x`) or text for the
    /// active channel or query.
    pub fn type_line(&self, line: &str) {
        self.tmux.type_line(line);
    }

    /// Joins `channel` and waits until irssi shows it joined.
    pub fn join(&self, channel: &str) {
        self.type_line(&format!("/join {channel}"));
        let joined = format!("{} [", self.nick);
        self.wait_for(&format!("{channel} joined"), |rows| {
            rows.iter().any(|r| {
                let r = untimed(r);
                r.contains(&joined) && r.ends_with(&format!("has joined {channel}"))
            })
        });
    }

    /// Says `text` to `target` (a channel or a nick) with `/msg`, and
    /// waits until irssi shows it sent.
    pub fn say(&self, target: &str, text: &str) {
        self.type_line(&format!("/msg {target} {text}"));
        self.wait_said(&self.nick, text);
    }

    /// Waits until a row shows `nick` saying `text` (in a channel or a
    /// query); returns the screen.
    pub fn wait_said(&self, nick: &str, text: &str) -> Vec<String> {
        let what = format!("<{nick}> {text}");
        self.wait_for(&what, |rows| rows.iter().any(|r| said(r, nick, text)))
    }

    /// The screen now.
    pub fn screen(&self) -> Vec<String> {
        self.tmux.screen()
    }

    /// Waits until a row contains `text`; returns the screen.
    pub fn wait_text(&self, text: &str) -> Vec<String> {
        self.tmux.wait_text(text)
    }

    /// Waits until `done` holds for the screen; returns it.
    pub fn wait_for(&self, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        self.tmux.wait_for(what, done)
    }

    /// `/quit <reason>`; returns irssi's exit status and last screen.
    pub fn quit(&self, reason: &str) -> (i32, Vec<String>) {
        self.type_line(&format!("/quit {reason}"));
        self.tmux.wait_exit()
    }

    /// The tmux session, for keys and waits of other kinds.
    pub fn tmux(&self) -> &Tmux {
        &self.tmux
    }
}

/// What the chatnet's `autosendcmd` prints once registered.
const MARKER: &str = "harness: registered as ";

/// Whether `row` is `nick` saying `text`: `HH:MM <nick> text`, with
/// the nick's channel mode (`<@nick>`, `<+nick>`) if it has one.
pub fn said(row: &str, nick: &str, text: &str) -> bool {
    let Some(rest) = untimed(row).strip_prefix('<') else {
        return false;
    };
    let rest = rest.strip_prefix(['@', '+', '%', '&', '~']).unwrap_or(rest);
    rest.strip_prefix(nick)
        .and_then(|r| r.strip_prefix("> "))
        .is_some_and(|r| r == text)
}

/// A row without its `HH:MM ` time.
pub fn untimed(row: &str) -> &str {
    let b = row.as_bytes();
    let timed = b.len() > 6 && b[2] == b':' && b[5] == b' ';
    let digits = timed && [0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit());
    if digits {
        &row[6..]
    } else {
        row
    }
}

fn config(addr: SocketAddr, nick: &str) -> String {
    let (host, port) = (addr.ip(), addr.port());
    format!(
        r#"servers = (
  {{ address = "{host}"; chatnet = "harness"; port = "{port}"; use_tls = "no"; autoconnect = "no"; }}
);
chatnets = {{
  harness = {{ type = "IRC"; nick = "{nick}"; autosendcmd = "/echo {MARKER}$N"; }};
}};
settings = {{
  core = {{ real_name = "harness {nick}"; user_name = "{nick}"; nick = "{nick}"; settings_autosave = "no"; }};
  "irc/core" = {{ cmds_max_at_once = "1000"; cmd_queue_speed = "1msec"; }};
  "fe-common/core" = {{ autocreate_windows = "no"; show_nickmode_empty = "no"; beep_msg_level = ""; }};
  "fe-text" = {{ paste_detect_time = "0"; }};
}};
"#
    )
}
