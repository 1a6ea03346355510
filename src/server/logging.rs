//! Logging through `log` and `simple_logger` to stderr — without letting
//! stderr take the server down.
//!
//! simple_logger writes each line with `eprintln!`, which panics when
//! stderr is gone (the terminal that started the server was closed, the
//! process reading its log exited) and would stop the server at a random
//! later moment. So stderr is pointed at a pipe that a helper thread,
//! `evchat-log`, copies to the real stderr: an error there loses the line,
//! not the server. The pipe's buffer (1 MiB) also absorbs a slow reader of
//! the log. [`LogGuard`] puts stderr back and lets the thread finish the
//! last lines when the server exits.

use log::LevelFilter;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::thread::JoinHandle;

/// Bytes of log the pipe holds for a slow reader.
const PIPE_BYTES: libc::c_int = 1 << 20;

/// Keeps the log flowing; dropping it flushes the last lines.
pub struct LogGuard {
    /// The real stderr, put back on drop.
    original: RawFd,
    thread: Option<JoinHandle<()>>,
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
    unsafe {
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
        let mut pipe = File::from_raw_fd(read_end);
        let out_fd = libc::fcntl(original, libc::F_DUPFD_CLOEXEC, 3);
        let mut out = (out_fd >= 0).then(|| File::from_raw_fd(out_fd));
        let thread = std::thread::Builder::new()
            .name("evchat-log".into())
            .spawn(move || {
                let mut buf = [0u8; 16 << 10];
                while let Ok(n) = pipe.read(&mut buf) {
                    let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                        return; // every writer is gone
                    };
                    // Nobody to read the log any more: the line is lost.
                    if let Some(o) = &mut out {
                        if o.write_all(chunk).is_err() {
                            out = None;
                        }
                    }
                }
            })
            .ok();
        Some(LogGuard { original, thread })
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // SAFETY: puts the real stderr back on descriptor 2, which closes
        // the pipe's last writer, so the thread reads to the end and stops.
        unsafe {
            libc::dup2(self.original, 2);
            libc::close(self.original);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
