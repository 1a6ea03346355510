//! Runs a program in a pseudo-terminal, as a person at a keyboard would,
//! and renders what it writes with a terminal emulator (vt100), so tests
//! can check what is actually on the screen, not just what was written.
//!
//! The terminal is tall (400 rows), so nothing a test prints scrolls away
//! and the whole session stays on the screen.
#![allow(dead_code)] // each test file uses a different part of it

use super::PATIENCE;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

pub const ROWS: u16 = 400;
pub const COLS: u16 = 100;

struct Shared {
    parser: vt100::Parser,
    /// Every byte the program wrote, as written.
    raw: Vec<u8>,
    /// The program closed its end (it and its children exited).
    closed: bool,
}

pub struct Pty {
    master: File,
    child: Child,
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

/// Opens a pseudo-terminal pair; both ends are close-on-exec, so programs
/// that other tests start at the same time do not inherit them.
fn open_pair() -> (File, File) {
    let master = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/ptmx")
        .expect("open /dev/ptmx");
    let fd = master.as_raw_fd();
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: plain calls on a descriptor we own; ptsname_r writes at most
    // `name.len()` bytes into our buffer.
    let path = unsafe {
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        std::ffi::CStr::from_ptr(name.as_ptr())
    };
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path.to_str().expect("pty path"))
        .expect("open pty slave");
    let size = libc::winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    (master, slave)
}

impl Pty {
    /// Starts `command` with the terminal as its stdin, stdout, stderr
    /// and controlling terminal (so /dev/tty works for password prompts).
    pub fn spawn(mut command: Command) -> Pty {
        let (master, slave) = open_pair();
        let io = || Stdio::from(slave.try_clone().expect("dup pty"));
        command.stdin(io()).stdout(io()).stderr(io());
        // SAFETY: between fork and exec only async-signal-safe calls.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn in pty");
        drop(command); // closes our copies of the slave
        drop(slave);
        let shared = Arc::new((
            Mutex::new(Shared {
                parser: vt100::Parser::new(nonzero(ROWS), nonzero(COLS), 0),
                raw: Vec::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let mut reader = master.try_clone().expect("clone master");
        let sink = Arc::clone(&shared);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                // EIO once every copy of the slave is closed.
                let n = reader.read(&mut buf).unwrap_or(0);
                let (state, changed) = &*sink;
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                if n == 0 {
                    state.closed = true;
                    changed.notify_all();
                    return;
                }
                state.parser.process(&buf[..n]);
                state.raw.extend_from_slice(&buf[..n]);
                changed.notify_all();
            }
        });
        Pty {
            master,
            child,
            shared,
        }
    }

    /// Types `text` (all of it at once, as a paste or a fast typist).
    pub fn type_text(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).expect("type");
    }

    /// Waits until `done` holds for the screen's rows (hang guard:
    /// PATIENCE); returns them.
    pub fn wait_for(&self, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let (state, changed) = &*self.shared;
        let mut state = state.lock().unwrap();
        loop {
            let rows = screen_rows(&state.parser);
            if done(&rows) {
                return rows;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || state.closed {
                drop(state);
                panic!("{what}: not on the screen:\n{}", shown(&rows));
            }
            state = changed.wait_timeout(state, left).unwrap().0;
        }
    }

    /// Waits for the program to exit and for all it wrote; returns its
    /// status and the final screen.
    pub fn wait_exit(&mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        let (state, changed) = &*self.shared;
        let mut state = state.lock().unwrap();
        while !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let _ = self.child.kill();
                panic!(
                    "did not exit; screen:\n{}",
                    shown(&screen_rows(&state.parser))
                );
            }
            state = changed.wait_timeout(state, left).unwrap().0;
        }
        let rows = screen_rows(&state.parser);
        drop(state);
        (self.child.wait().expect("wait"), rows)
    }

    /// Every byte written so far.
    pub fn raw(&self) -> Vec<u8> {
        self.shared.0.lock().unwrap().raw.clone()
    }

    /// The cursor's row and column.
    pub fn cursor(&self) -> (u16, u16) {
        self.shared
            .0
            .lock()
            .unwrap()
            .parser
            .screen()
            .cursor_position()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("a size")
}

fn screen_rows(parser: &vt100::Parser) -> Vec<String> {
    parser
        .screen()
        .rows(0, COLS)
        .map(|r| r.trim_end().to_owned())
        .collect()
}

/// The rows up to the last non-empty one, numbered, for failure messages.
pub fn shown(rows: &[String]) -> String {
    let used = rows
        .iter()
        .rposition(|r| !r.is_empty())
        .map_or(0, |i| i + 1);
    rows.iter()
        .take(used)
        .enumerate()
        .map(|(i, r)| format!("{i:3}| {r}\n"))
        .collect()
}

/// The rows with text, without the blank ones after the last.
pub fn used(rows: &[String]) -> &[String] {
    let end = rows
        .iter()
        .rposition(|r| !r.is_empty())
        .map_or(0, |i| i + 1);
    &rows[..end]
}

/// Drops `[hh:mm:ss] ` from the start of a row.
pub fn untimed(row: &str) -> &str {
    row.strip_prefix('[')
        .and_then(|r| r.split_once("] "))
        .filter(|(time, _)| time.len() == 8 && time.chars().all(|c| c.is_ascii_digit() || c == ':'))
        .map_or(row, |(_, rest)| rest)
}
