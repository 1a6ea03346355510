//! Process limits. Each client costs one file descriptor, and the usual soft
//! limit (1024) is far below what the machine can serve, so the server raises
//! it to the hard limit at start, as Redis does — and so does the bench, which
//! opens as many. Both use it, so it lives beside them rather than in either
//! (the server still names it `server::limits`).

use log::warn;

/// Ceiling when the hard limit is "unlimited".
const MAX_FDS: u64 = 1 << 20;

/// Raises the soft open-files limit to the hard one; returns the limit now
/// in force.
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        warn!("cannot read the open-files limit; assuming 1024");
        return 1024;
    }
    let want = limit.rlim_max.min(MAX_FDS);
    if limit.rlim_cur < want {
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return want;
        }
        warn!("cannot raise the open-files limit above {}", limit.rlim_cur);
    }
    limit.rlim_cur
}

/// Hands freed heap pages back to the OS. glibc keeps memory freed after a
/// burst in its arenas for reuse; without this, the server's RSS would stay
/// at the peak of its worst burst forever.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Grows the kernel's descriptor table to hold `count` descriptors now,
/// while the process has one thread. Linux grows the table by doubling, and
/// in a process with several threads every growth waits for an RCU grace
/// period — tens of milliseconds on a busy VM — during which the loop
/// cannot accept, so a burst of connections overflows the listen queue and
/// clients stall for a second-long SYN retry. Growing it once at start
/// costs 8 bytes per descriptor and removes that.
pub fn reserve_descriptors(count: u64) {
    let Ok(highest) = libc::c_int::try_from(count.saturating_sub(1)) else {
        return;
    };
    // SAFETY: F_DUPFD picks the lowest free descriptor >= `highest`, so it
    // never replaces one in use; both descriptors are closed right away.
    unsafe {
        let dup = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, highest);
        if dup >= 0 {
            libc::close(dup);
        }
    }
}
