//! The scenarios that only connect: connect (connections per second
//! through log-in and log-out) and idle (server memory per idle, logged-in
//! connection).

use super::fleet::bench_name;
use super::procstat;
use super::scenario::{bystanders, settle, Sample, Settings, PATIENCE};
use super::wire::{Decoder, Item, Target};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connections per second through log-in (or subscribe) and log-out, from
/// two threads.
pub fn connect(
    n: usize,
    target: Target,
    addr: SocketAddr,
    pid: Option<u32>,
) -> Result<Sample, String> {
    const THREADS: usize = 2;
    let cpu0 = pid.and_then(procstat::cpu_seconds);
    let start = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || -> Result<(), String> {
                for i in (t..n).step_by(THREADS) {
                    one_connection(target, addr, i).map_err(|e| format!("connection {i}: {e}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| "connect worker panicked".to_owned())??;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut sample = Sample::new();
    sample.insert("connections_per_s", n as f64 / seconds);
    if let (Some(before), Some(after)) = (cpu0, pid.and_then(procstat::cpu_seconds)) {
        sample.insert(
            "server_cpu_ms_per_conn",
            (after - before) * 1000.0 / n as f64,
        );
    }
    Ok(sample)
}

fn one_connection(target: Target, addr: SocketAddr, i: usize) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut hello = Vec::new();
    target.subscribe(&bench_name(i), &mut hello);
    stream.write_all(&hello)?;
    let mut decoder = Decoder::new(target);
    let mut buf = [0u8; 4096];
    let mut ponged = false;
    while !ponged {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        decoder.feed(&buf[..n], |item| ponged |= item == Item::Pong);
    }
    let mut bye = Vec::new();
    target.quit(&mut bye);
    stream.write_all(&bye)?;
    stream.shutdown(std::net::Shutdown::Write)?;
    while stream.read(&mut buf)? > 0 {}
    Ok(())
}

/// Server memory per idle, logged-in connection.
pub fn idle(
    n: usize,
    target: Target,
    addr: SocketAddr,
    pid: Option<u32>,
    s: &Settings,
) -> Result<Sample, String> {
    let pid = pid.ok_or("idle needs the server's pid (--server-pid, or --compare)")?;
    let before = procstat::status_kib(pid, "VmRSS").ok_or("cannot read server memory")?;
    let (fleet, users) = bystanders(target, addr, n, s)?;
    std::thread::sleep(Duration::from_millis(200));
    let after = procstat::status_kib(pid, "VmRSS").ok_or("cannot read server memory")?;
    fleet.close();
    settle(target, addr, users);
    let mut sample = Sample::new();
    sample.insert(
        "rss_kib_per_conn",
        after.saturating_sub(before) as f64 / n as f64,
    );
    sample.insert("rss_mib", after as f64 / 1024.0);
    Ok(sample)
}
