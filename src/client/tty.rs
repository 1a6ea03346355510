//! The few terminal system calls the console needs: raw mode (restored
//! when the guard drops, even on a panic), the window's width, reading
//! stdin without a buffer in between (so `poll` tells the truth), and
//! stopping on Ctrl-Z.

use std::io;

/// Raw mode on stdin while alive: keys arrive one by one, unechoed, and
/// Ctrl-C is a key rather than a signal. Output processing stays on, so
/// `\n` still starts a new line.
pub struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    pub fn enter() -> io::Result<RawMode> {
        // SAFETY: tcgetattr writes into a termios we own; zeroed is a valid
        // bit pattern for this plain C struct.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mode = RawMode { saved };
        mode.apply()?;
        Ok(mode)
    }

    /// Sets raw mode (again, after a suspension).
    pub fn apply(&self) -> io::Result<()> {
        let mut raw = self.saved;
        raw.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN);
        raw.c_iflag &= !(libc::IXON | libc::ICRNL | libc::INLCR | libc::IGNCR | libc::ISTRIP);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: tcsetattr reads a termios we own.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Gives the terminal back as it was found.
    pub fn restore(&self) {
        // SAFETY: tcsetattr reads the termios saved by `enter`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved) };
    }

    /// Ctrl-Z: the terminal goes back to normal while the process is
    /// stopped, and raw again once it is continued.
    pub fn suspend(&self) -> io::Result<()> {
        self.restore();
        // SAFETY: raise(2) sends a signal to this process; SIGTSTP stops it
        // and the call returns once it is continued.
        unsafe { libc::raise(libc::SIGTSTP) };
        self.apply()
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Columns of the terminal on stdout (80 when it cannot be told).
pub fn width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize we own.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// Reads what stdin has, straight from the descriptor; 0 bytes is EOF.
pub fn read_stdin(buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: read(2) into a buffer we own, at most its length.
        let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Waits until stdin (when `with_stdin`) or `other` is readable, or until
/// `timeout_ms` passes (-1: no limit). Returns (stdin ready, other ready).
pub fn wait_readable(
    with_stdin: bool,
    other: std::os::fd::RawFd,
    timeout_ms: i32,
) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: if with_stdin { libc::STDIN_FILENO } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: other,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: poll(2) on an array we own, with its true length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 {
            let ready =
                |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
            let [stdin, other] = &fds;
            return Ok((ready(stdin), ready(other)));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
