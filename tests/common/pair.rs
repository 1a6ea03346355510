//! A normal pair of users who keep talking while something hostile goes on,
//! and the checks that the server stayed healthy for them.

use super::{Line, TestServer, PATIENCE};
use std::net::TcpStream;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

/// Two well-behaved users. Every line either of them receives is kept in
/// `seen`, so a test can check at the end that nothing it forbids ever
/// arrived — not only after the last barrier.
pub struct Pair {
    pub a: Line,
    pub b: Line,
    sent: u64,
    pub seen: Vec<String>,
}

impl Pair {
    pub fn new(server: &TestServer) -> Pair {
        let mut a = server.login("pair-a");
        let mut b = server.login("pair-b");
        let mut seen = a.sync();
        seen.extend(b.sync());
        Pair {
            a,
            b,
            sent: 0,
            seen,
        }
    }

    /// A private message from a reaches b, and both barriers pass. Other
    /// traffic (broadcasts, JOINED/LEFT, keep-alive PINGs) is kept in
    /// `seen`.
    pub fn check(&mut self) {
        self.sent += 1;
        let token = format!("check-{}", self.sent);
        self.a.send(&format!("MSG pair-b {token}"));
        loop {
            let line = self.b.recv();
            let done = line.starts_with("MSG pair-a pair-b ") && line.ends_with(&token);
            self.seen.push(line);
            if done {
                break;
            }
        }
        let lines = self.a.sync();
        self.seen.extend(lines);
        let lines = self.b.sync();
        self.seen.extend(lines);
    }
}

/// Asserts the server lives and its peak memory is below `mib`.
pub fn healthy(server: &mut TestServer, mib: u64) {
    assert!(server.is_alive(), "server died: {}", server.log());
    let peak = server.status_kib("VmHWM");
    assert!(peak < mib * 1024, "peak RSS {peak} KiB over {mib} MiB");
}

/// Waits until `STATS connections` is `n` (hang guard: PATIENCE), the pair
/// chatting meanwhile.
pub fn wait_connections(server: &TestServer, n: u64, pair: &mut Pair) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        // The probe asking is itself a connection.
        let now = server.stat("connections");
        if now <= n + 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} connections left, want {n}"
        );
        pair.check();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Closes with a reset instead of a FIN (SO_LINGER 0).
pub fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// Raises this process's open-files limit for the crowd cases, and grows
/// its descriptor table once up front: growing it step by step in a
/// process with several threads waits for an RCU grace period each time
/// (see `reserve_descriptors` in the server).
pub fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit with a valid struct; F_DUPFD takes the lowest
    // free descriptor at or above 12000 and it is closed at once.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        let dup = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 12_000);
        if dup >= 0 {
            libc::close(dup);
        }
    }
}
