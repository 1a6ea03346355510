//! A terminal program in a detached tmux session, for clients that only
//! run in a terminal (irssi): keys go in with `send-keys`, the screen comes
//! out with `capture-pane -p`.
//!
//! Each session has its own tmux server on a socket in the caller's
//! directory (`-S`, not `-L`: nothing left in /tmp/tmux-<uid>/, and no
//! test can reach another's), a config of its own (`-f`, never the
//! user's ~/.tmux.conf) and a fixed size. The server runs in the
//! foreground (`-D`) as the test's child rather than as a daemon: it is
//! reaped (an orphaned daemon is a zombie where init does not reap, as on
//! this machine), it dies with the test's thread (PR_SET_PDEATHSIG) and
//! `Drop` kills it.
//!
//! Waiting: [`Tmux::wait_for`] captures the screen until a condition
//! holds, with PATIENCE as a hang guard. tmux cannot tell when a screen
//! changed, so this polls (every 20 ms); it never sleeps to let something
//! happen, and fails at once, with the screen, when the program has died.
//!
//! Pitfalls:
//! - `remain-on-exit on`, so a program that exits leaves its last screen
//!   to read; without it the session, then the server, vanish and
//!   `capture-pane` fails.
//! - Keys are sent with `send-keys -l` (literal): without it, words such as
//!   `Enter` or `C-c` in the text would be taken for keys.
//! - `alternate-screen off`: a full-screen program (irssi) draws on the
//!   alternate screen and switches back when it exits, so its last screen
//!   would read as blank; this keeps it.
//! - tmux's own record of the exit (`pane_dead_status`) is not to be
//!   trusted: about one exit in ten under load, tmux 3.3a left irssi a
//!   zombie, never reaped, the pane never dead. So the program runs under
//!   `sh -c`, which waits for it and writes its exit status to a file;
//!   [`Tmux::exited`] reads that.
//! - `escape-time 0`: tmux otherwise holds an Escape for 500 ms to see if
//!   a key sequence follows.
//! - `-u` and LANG=C.UTF-8: tmux without a UTF-8 locale draws every
//!   non-ASCII character as `_`.
//! - The screen is what fits: a line longer than the width is wrapped (by
//!   tmux, or by the program itself, as irssi does, with an indent), and
//!   what scrolled off the top is gone. Keep markers short.
//! - tmux started from inside tmux: `TMUX` is removed from the
//!   environment, or tmux would refuse to nest.

use crate::common::PATIENCE;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Fixed size: wide, so that most lines are not wrapped, and tall enough
/// to keep a registration and a short conversation on one screen.
pub const COLS: u16 = 200;
pub const ROWS: u16 = 100;

const SESSION: &str = "harness";

/// Runs the program (`"$@"`) and writes its exit status to the file `$0`,
/// whole or not at all (written aside, then renamed).
const WRAPPER: &str = r#""$@"; echo $? > "$0.part" && mv "$0.part" "$0""#;

/// Whether tmux is installed.
pub fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

pub struct Tmux {
    /// The tmux server, in the foreground (`-D`): our child, so it is
    /// reaped here and dies with the test (see the module doc).
    server: Child,
    socket: PathBuf,
    /// Where the wrapper shell writes the program's exit status.
    status: PathBuf,
}

impl Tmux {
    /// Starts `program` with `args` in a new session; its files (socket,
    /// config, exit status) go in `dir`. `env` is added to the program's
    /// environment.
    pub fn start(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Tmux {
        let config = dir.join("tmux.conf");
        let settings = "set -g remain-on-exit on\nset -g status off\nset -sg escape-time 0\n\
                        setw -g alternate-screen off\n";
        std::fs::write(&config, settings).expect("write tmux.conf");
        let socket = dir.join("tmux.sock");
        let mut server = Command::new("tmux");
        server
            .arg("-u")
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-S")
            .arg(&socket);
        // The server's environment is what the program gets.
        server.env_remove("TMUX").env("LANG", "C.UTF-8");
        server.envs(env.iter().copied());
        server
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        evchat::bench::nats::die_with_parent(&mut server);
        let server = server.spawn().expect("start tmux (is it installed?)");
        let mut tmux = Tmux {
            server,
            socket,
            status: dir.join("exit-status"),
        };
        let size = [COLS.to_string(), ROWS.to_string()];
        let (cols, rows) = (size[0].as_str(), size[1].as_str());
        let mut session = vec!["new-session", "-d", "-s", SESSION, "-x", cols, "-y", rows];
        // Several arguments after `--`: tmux runs them without a shell, so
        // nothing in them needs quoting. The program runs under a shell
        // that waits for it and writes its status (see the module doc).
        let status = tmux.status.to_str().expect("UTF-8 path");
        session.extend(["--", "sh", "-c", WRAPPER, status, program]);
        session.extend(args);
        // Until the server listens: `-N` makes a client that finds none
        // fail, where it would otherwise start a server of its own.
        let deadline = Instant::now() + PATIENCE;
        loop {
            let out = run(tmux.command().arg("-N").args(&session));
            if out.status.success() {
                return tmux;
            }
            let exited = tmux.server.try_wait().expect("wait");
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "tmux new-session: {} (server: {exited:?})",
                    text(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-u").arg("-S").arg(&self.socket);
        command.stdin(Stdio::null());
        command
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = run(self.command().args(args));
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Types `text` as it is (no key names), without Enter.
    pub fn keys(&self, text: &str) {
        self.tmux(&["send-keys", "-t", SESSION, "-l", text]);
    }

    /// Presses a named key: `Enter`, `C-c`, `M-2`, `PageUp`...
    pub fn key(&self, name: &str) {
        self.tmux(&["send-keys", "-t", SESSION, name]);
    }

    /// Types `line` and presses Enter.
    pub fn type_line(&self, line: &str) {
        self.keys(line);
        self.key("Enter");
    }

    /// The screen's rows, trailing spaces cut (tmux does that itself).
    pub fn screen(&self) -> Vec<String> {
        let shown = self.tmux(&["capture-pane", "-p", "-t", SESSION]);
        shown.lines().map(|row| row.trim_end().to_owned()).collect()
    }

    /// Whether the program has exited: its exit status if so (128 + the
    /// signal if one killed it, as shells say).
    pub fn exited(&self) -> Option<i32> {
        let status = std::fs::read_to_string(&self.status).ok()?;
        let status = status.trim().parse();
        Some(status.unwrap_or_else(|_| panic!("bad {}", self.status.display())))
    }

    /// Waits until `done` holds for the screen (hang guard: PATIENCE);
    /// returns the screen. Fails if the program exits first.
    pub fn wait_for(&self, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // Whether it died is asked before the screen is taken, so a
            // screen that shows `what` is never lost to a death after it.
            let dead = self.exited();
            let rows = self.screen();
            if done(&rows) {
                return rows;
            }
            if let Some(status) = dead {
                panic!(
                    "{what}: the program exited ({status}) first:\n{}",
                    shown(&rows)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: not on the screen within {PATIENCE:?}:\n{}",
                    shown(&rows)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a row contains `text`; returns the screen.
    pub fn wait_text(&self, text: &str) -> Vec<String> {
        self.wait_for(text, |rows| rows.iter().any(|r| r.contains(text)))
    }

    /// Waits for the program to exit; returns its status and last screen.
    pub fn wait_exit(&self) -> (i32, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.exited() {
                return (status, self.screen());
            }
            if Instant::now() > deadline {
                panic!(
                    "did not exit within {PATIENCE:?}:\n{}",
                    shown(&self.screen())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // kill-server hangs up on the program (SIGHUP) as a closed
        // terminal would; the kill is for a server that does not answer.
        let _ = run(self.command().arg("kill-server"));
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run tmux (is it installed?)")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The rows up to the last non-empty one, numbered, for failure messages.
pub fn shown(rows: &[String]) -> String {
    let used = rows
        .iter()
        .rposition(|r| !r.is_empty())
        .map_or(0, |i| i + 1);
    let numbered = rows[..used].iter().enumerate();
    numbered.map(|(i, r)| format!("{i:3}| {r}\n")).collect()
}
