//! Logging through `log` and `simple_logger` to stderr — without letting
//! stderr take the server down.
//!
//! simple_logger writes each line with `eprintln!`, which panics when
//! stderr is gone (the terminal that started the server was closed, the
//! process reading its log exited) and blocks when stderr does not take
//! more (a paused terminal, a reader that stopped reading) — a crash or a
//! stall of the loop that any client could cause by logging in and out.
//! So stderr is pointed at a pipe that a helper thread, `evchat-log`,
//! empties at once into a bounded backlog (4 MiB), and another,
//! `evchat-log-out`, writes to the real stderr: a stderr that is gone loses
//! lines, one that is slow delays them and, past the backlog, loses them
//! (with a note of how much), and neither reaches the loop. [`LogGuard`]
//! puts stderr back and lets the last lines out when the server exits.

use log::LevelFilter;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes of log the pipe holds (its reader empties it at once).
const PIPE_BYTES: libc::c_int = 1 << 20;
/// Bytes of log kept for a slow stderr; past that, lines are dropped.
const BACKLOG_BYTES: usize = 4 << 20;
/// How long the last lines may take to be written at exit.
const FINAL_WRITE: Duration = Duration::from_secs(1);

/// Keeps the log flowing; dropping it flushes the last lines.
pub struct LogGuard {
    /// The real stderr, put back on drop.
    original: RawFd,
    reader: Option<JoinHandle<()>>,
    /// The writer, and word that it has written everything.
    writer: Option<(JoinHandle<()>, mpsc::Receiver<()>)>,
}

/// Starts logging at `level`, with UTC timestamps, to stderr through the
/// pipe. If the pipe cannot be made, logs go to stderr directly.
pub fn init(level: LevelFilter) -> Option<LogGuard> {
    let guard = reroute_stderr();
    // Fails only if a logger is set already, which this process never does.
    let _ = simple_logger::SimpleLogger::new()
        .with_level(level)
        .with_utc_timestamps()
        .init();
    guard
}

fn reroute_stderr() -> Option<LogGuard> {
    let mut ends = [0 as libc::c_int; 2];
    // SAFETY: plain descriptor calls on descriptors this function owns;
    // `dup2` only replaces descriptor 2, which is ours to point anywhere.
    let (pipe, out, original) = unsafe {
        if libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return None;
        }
        let [read_end, write_end] = ends;
        let original = libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3);
        if original < 0 || libc::dup2(write_end, 2) < 0 {
            libc::close(read_end);
            libc::close(write_end);
            if original >= 0 {
                libc::close(original);
            }
            return None;
        }
        libc::close(write_end);
        libc::fcntl(2, libc::F_SETPIPE_SZ, PIPE_BYTES);
        let out_fd = libc::fcntl(original, libc::F_DUPFD_CLOEXEC, 3);
        let out = (out_fd >= 0).then(|| File::from_raw_fd(out_fd));
        (File::from_raw_fd(read_end), out, original)
    };
    let backlog = Arc::new((Mutex::new(Backlog::default()), Condvar::new()));
    let reader = spawn("evchat-log", {
        let backlog = Arc::clone(&backlog);
        move || drain(pipe, &backlog)
    });
    let (written, done) = mpsc::channel();
    let writer = out.and_then(|out| {
        spawn("evchat-log-out", move || {
            write_out(out, &backlog);
            let _ = written.send(());
        })
    });
    Some(LogGuard {
        original,
        reader,
        writer: writer.map(|w| (w, done)),
    })
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(f).ok()
}

/// Log bytes read from the pipe and not yet written out.
#[derive(Default)]
struct Backlog {
    bytes: VecDeque<u8>,
    /// Bytes dropped because the backlog was full.
    dropped: u64,
    /// The pipe has ended: write what is left and stop.
    closed: bool,
}

/// Empties the pipe as fast as lines come, whatever happens downstream.
fn drain(mut pipe: File, backlog: &(Mutex<Backlog>, Condvar)) {
    let mut buf = [0u8; 16 << 10];
    loop {
        let n = pipe.read(&mut buf).unwrap_or(0);
        let Ok(mut b) = backlog.0.lock() else {
            return;
        };
        match buf.get(..n).filter(|c| !c.is_empty()) {
            Some(chunk) if b.bytes.len() + chunk.len() <= BACKLOG_BYTES => {
                b.bytes.extend(chunk);
            }
            Some(chunk) => b.dropped += chunk.len() as u64,
            None => b.closed = true,
        }
        let closed = b.closed;
        drop(b);
        backlog.1.notify_one();
        if closed {
            return;
        }
    }
}

/// Writes the backlog to the real stderr; a stderr that is gone loses the
/// lines, one that is slow only delays them.
fn write_out(mut out: File, backlog: &(Mutex<Backlog>, Condvar)) {
    loop {
        let (bytes, dropped, closed) = {
            let Ok(mut b) = backlog.0.lock() else {
                return;
            };
            while b.bytes.is_empty() && b.dropped == 0 && !b.closed {
                b = match backlog.1.wait(b) {
                    Ok(b) => b,
                    Err(_) => return,
                };
            }
            let bytes: Vec<u8> = b.bytes.drain(..).collect();
            (bytes, std::mem::take(&mut b.dropped), b.closed)
        };
        if dropped > 0 {
            let note = format!("(evchat: {dropped} bytes of log dropped: stderr was too slow)\n");
            let _ = out.write_all(note.as_bytes());
        }
        if out.write_all(&bytes).is_err() && closed {
            return;
        }
        if closed {
            return;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // SAFETY: puts the real stderr back on descriptor 2, which closes
        // the pipe's last writer, so the reader reaches its end.
        unsafe {
            libc::dup2(self.original, 2);
            libc::close(self.original);
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        // The last lines, unless the real stderr is stuck: then the
        // process exits without them rather than never.
        if let Some((writer, done)) = self.writer.take() {
            if done.recv_timeout(FINAL_WRITE).is_ok() {
                let _ = writer.join();
            }
        }
    }
}
