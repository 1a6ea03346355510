//! The bench's names log in once, [`AT_ONCE`] at a time, before a fleet
//! of clustered nodes logs them all in at once: a first login does
//! JetStream work that a burst of hundreds outlasts (docs/CLUSTER.md,
//! "Before measuring: the warm-up"). What the nodes refuse is noted and
//! tried again once.

use super::fleet::bench_name;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Logins under way at once.
pub const AT_ONCE: usize = 16;
/// A login with no answer in this long has hung.
const ANSWER: Duration = Duration::from_secs(20);

/// Logs each of `names` in at its address and out again; returns the
/// refusals, by name.
fn log_in_and_out(names: &[(String, SocketAddr)]) -> Result<Vec<(String, String)>, String> {
    let fail = |name: &str, e: std::io::Error| format!("warm-up login of {name}: {e}");
    let mut open = Vec::new();
    for (name, addr) in names {
        let mut stream = TcpStream::connect(addr).map_err(|e| fail(name, e))?;
        stream
            .set_read_timeout(Some(ANSWER))
            .map_err(|e| fail(name, e))?;
        write!(stream, "LOGIN {name}\nPING warm-up\n").map_err(|e| fail(name, e))?;
        open.push((name, stream));
    }
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    let mut refused = Vec::new();
    for (name, stream) in open {
        let mut lines = BufReader::new(&stream);
        let mut line = String::new();
        loop {
            line.clear();
            match lines.read_line(&mut line) {
                Ok(0) => return Err(format!("warm-up login of {name}: the node closed")),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => {
                    return Err(format!(
                        "the login of {name} got no answer in {ANSWER:?} (neither OK nor ERR)"
                    ))
                }
                Err(e) => return Err(fail(name, e)),
            }
            if line.starts_with("ERR ") {
                refused.push((name.clone(), line.trim_end().to_owned()));
            }
            if line.starts_with("PONG") {
                break;
            }
        }
        let _ = (&stream).write_all(b"QUIT\n");
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    Ok(refused)
}

/// Logs in the names a fleet of `n` subscribers over `addrs` and one
/// publisher will use, each at the address it will use, [`AT_ONCE`] at a
/// time; refused ones are tried again once. Returns notes on refusals.
pub fn warm_up(addrs: &[SocketAddr], n: usize) -> Result<Vec<String>, String> {
    let first = *addrs.first().ok_or("no address")?;
    let names: Vec<(String, SocketAddr)> = (0..n)
        .map(|i| (bench_name(i), addrs[i % addrs.len()]))
        .chain([(bench_name(n), first)])
        .collect();
    let mut notes = Vec::new();
    let mut again = Vec::new();
    for chunk in names.chunks(AT_ONCE) {
        for (name, why) in log_in_and_out(chunk)? {
            let addr = chunk.iter().find(|(n, _)| *n == name).map(|p| p.1);
            again.extend(addr.map(|a| (name.clone(), a)));
            notes.push(format!("{name}: {why}"));
        }
    }
    if notes.is_empty() {
        return Ok(notes);
    }
    let mut out = vec![format!(
        "{} of {} first logins, {AT_ONCE} at a time, were refused ({}); tried again",
        notes.len(),
        names.len(),
        notes[0]
    )];
    // Their names may still be on their way out.
    std::thread::sleep(Duration::from_secs(1));
    for chunk in again.chunks(AT_ONCE) {
        if let Some((name, why)) = log_in_and_out(chunk)?.into_iter().next() {
            return Err(format!("the second login of {name} was refused too: {why}"));
        }
    }
    out.push("the second logins went through".into());
    Ok(out)
}
