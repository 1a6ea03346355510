//! Readings from `/proc`: CPU time and memory of the server and the probe,
//! and which process holds a connection.

use std::collections::HashMap;

/// User plus system CPU seconds a process has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((utime + stime) / if ticks > 0 { ticks as f64 } else { 100.0 })
}

/// CPU seconds all of a process's threads have run so far, to the
/// nanosecond, from `/proc/<pid>/task/*/schedstat`: `/proc/<pid>/stat`
/// counts clock ticks (10 ms), too coarse for a node's share of a phase
/// that lasts a fraction of a second. Falls back to [`cpu_seconds`].
/// Threads that end take their time with them: for servers, whose
/// threads live as long as they do.
pub fn cpu_seconds_fine(pid: u32) -> Option<f64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return cpu_seconds(pid);
    };
    // A thread that ends while it is read is left out, like one that ended.
    let ns: Vec<u64> = tasks
        .flatten()
        .filter_map(|task| {
            let text = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            text.split(' ').next()?.parse().ok()
        })
        .collect();
    if ns.is_empty() {
        return cpu_seconds(pid); // no schedstat in this kernel
    }
    Some(ns.iter().sum::<u64>() as f64 / 1e9)
}

/// A `kB` field of `/proc/<pid>/status` (VmRSS, VmHWM), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// Which of `pids` holds each connection accepted on local `port`, by the
/// peer's port: when processes share a port (SO_REUSEPORT) the kernel
/// picks one per connection, and only `/proc` says which. A connection
/// shows here once its process has accepted it.
pub fn socket_owners(port: u16, pids: &[u32]) -> HashMap<u16, usize> {
    let mut inodes = HashMap::new();
    for (i, pid) in pids.iter().enumerate() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let link = std::fs::read_link(fd.path()).unwrap_or_default();
            let inode = link
                .to_str()
                .and_then(|l| l.strip_prefix("socket:[")?.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(inode) = inode {
                inodes.insert(inode, i);
            }
        }
    }
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    let port_of = |a: &str| u16::from_str_radix(a.rsplit(':').next()?, 16).ok();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if port_of(f.get(1)?)? != port {
                return None;
            }
            let owner = *inodes.get(&f.get(9)?.parse::<u64>().ok()?)?;
            Some((port_of(f.get(2)?)?, owner))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(super::cpu_seconds(me).is_some());
        assert!(super::cpu_seconds_fine(me).unwrap() > 0.0);
        assert!(super::status_kib(me, "VmRSS").unwrap() > 0);
    }

    #[test]
    fn finds_who_accepted_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _accepted = listener.accept().unwrap();
        let me = client.local_addr().unwrap().port();
        let owners = super::socket_owners(port, &[1, std::process::id()]);
        assert_eq!(owners.get(&me), Some(&1));
    }
}
