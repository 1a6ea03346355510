//! One configuration of `evchat-bench cluster` ([`cluster`](super::cluster)),
//! ready to measure: its servers, an open fleet of N subscribers spread
//! over them and one publisher on the first, and the measurement of one
//! round — the throughput and latency phases of [`phase`](super::phase),
//! with every process's CPU and every evchat node's counters around them.
//! Reader thread 3 reads the subscribers of server 3: the cross-node
//! "probe" (docs/CLUSTER.md, "The probe").

use super::fleet::{Fleet, FleetSpec};
use super::phase::{self, Plan};
use super::procstat;
use super::scenario::{Sample, Settings, PATIENCE};
use super::wire::Target;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Servers in the cluster (evchat nodes, NATS servers), and reader threads.
pub const NODES: usize = 3;

/// Delivered messages per throughput phase, unless --messages says.
const DELIVERIES: u64 = 3_000_000;

/// Per-node CPU figures, for the first three nodes.
pub const NODE_CPU: [&str; NODES] = ["n1_cpu_s_per_m", "n2_cpu_s_per_m", "n3_cpu_s_per_m"];

/// An evchat node whose counters the bench reads.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    pub pid: u32,
    pub addr: SocketAddr,
}

/// One node's `STATS`, by key.
pub type Counters = HashMap<String, u64>;

/// A configuration with its fleet open.
pub struct Bed {
    pub fleet: Fleet,
    plan: Plan,
    /// The processes that fan out (evchat nodes, or the NATS servers).
    pub workers: Vec<u32>,
    /// evchat nodes whose STATS are checked (none for NATS alone).
    pub nodes: Vec<Node>,
    /// They share one port: each is reached through a connection the
    /// kernel happened to give it.
    pub shared: bool,
    /// NATS servers under evchat nodes (their CPU counts in the total).
    pub backplane: Vec<u32>,
    /// Subscribers each worker serves.
    pub receivers_on: Vec<u64>,
    /// What opening it ran into (not a failure by itself).
    pub notes: Vec<String>,
}

/// What one round found besides its figures (not failures by themselves).
pub type Warnings = Vec<String>;

impl Bed {
    /// Connects `n` subscribers round robin over `addrs` and a publisher
    /// to the first, and waits until presence traffic on `nodes` has died
    /// down. Logins refused because the name is still taken (`ERR 409`: a
    /// warm-up's logout not yet through the cluster) are tried again.
    pub fn open(
        target: Target,
        addrs: Vec<SocketAddr>,
        (nodes, shared): (Vec<Node>, bool),
        n: usize,
        s: &Settings,
    ) -> Result<Bed, String> {
        let spec = FleetSpec {
            target,
            addrs: addrs.clone(),
            receivers: n,
            publishers: 1,
            receivers_publish: false,
            readers: NODES,
            ws: None,
            irc: false,
            rooms: Default::default(),
        };
        let mut notes = Vec::new();
        let fleet = loop {
            match Fleet::open(&spec, PATIENCE) {
                Ok(fleet) => break fleet,
                Err(e) if e.to_string().contains("ERR 409") && notes.is_empty() => {
                    notes.push(format!("logging in {} at once: {e}; tried again", n + 1));
                    logged_out(&nodes, shared);
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => return Err(format!("set-up failed: {e}")),
            }
        };
        let frame = s.payload as u64 + 40;
        let plan = Plan {
            senders: vec![(fleet.publishers[0].clone(), Vec::new())],
            per_sender: s
                .messages
                .unwrap_or((DELIVERIES / n.max(1) as u64).max(200)),
            sends_per_round: 1,
            per_receiver_per_round: 1,
            receivers: n as u64,
            payload: s.payload,
            window: s
                .window
                .unwrap_or(((128 << 20) / (n as u64 * frame).max(1)).clamp(64, 4096)),
        };
        let receivers_on = (0..addrs.len())
            .map(|k| (0..n).filter(|i| i % addrs.len() == k).count() as u64)
            .collect();
        let bed = Bed {
            fleet,
            plan,
            workers: Vec::new(),
            nodes,
            shared,
            backplane: Vec::new(),
            receivers_on,
            notes,
        };
        bed.quiet()?;
        Ok(bed)
    }

    /// Nodes sharing one port: counts which one holds each subscriber.
    pub fn find_owners(&mut self) -> Result<(), String> {
        let port = self.nodes.first().ok_or("no nodes")?.addr.port();
        let owners = procstat::socket_owners(port, &self.workers);
        let mut on = vec![0u64; self.workers.len()];
        for r in &self.fleet.receivers {
            let me = r.local_addr().map_err(|e| e.to_string())?.port();
            let owner = owners
                .get(&me)
                .ok_or("cannot tell which process holds a subscriber")?;
            on[*owner] += 1;
        }
        self.receivers_on = on;
        Ok(())
    }

    pub fn stats(&self) -> Result<Vec<Counters>, String> {
        stats_all(&self.nodes, self.shared)
    }

    /// Waits until the nodes' delivery counts stop moving: presence notices
    /// from other nodes arrive after the fleet's own barrier.
    pub fn quiet(&self) -> Result<(), String> {
        let total = |all: &[Counters]| all.iter().map(|c| get(c, "deliveries")).sum::<u64>();
        let mut last = total(&self.stats()?);
        let (mut since, deadline) = (Instant::now(), Instant::now() + PATIENCE);
        while since.elapsed() < Duration::from_millis(300) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            let now = total(&self.stats()?);
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
        Ok(())
    }

    /// Closes the fleet and waits until every node has seen it leave.
    pub fn close(self) {
        let (nodes, shared) = (self.nodes, self.shared);
        self.fleet.close();
        logged_out(&nodes, shared);
    }

    /// A round's throughput phase, with every node's deliveries checked
    /// against the probe's and every process's CPU around it.
    pub fn throughput(&self) -> Result<Round, String> {
        let cpu = |pids: &[u32]| -> Vec<f64> {
            pids.iter()
                .map(|&p| procstat::cpu_seconds_fine(p).unwrap_or(f64::NAN))
                .collect()
        };
        let before = self.stats()?;
        let (w0, b0) = (cpu(&self.workers), cpu(&self.backplane));
        let t = phase::throughput(&self.fleet, &self.plan, None)?;
        let (w1, b1) = (cpu(&self.workers), cpu(&self.backplane));
        let after = self.stats()?;
        let mut warnings = Vec::new();
        self.check(
            "throughput",
            &before,
            &after,
            self.plan.per_sender,
            &mut warnings,
        )?;
        let mut sample = Sample::new();
        let seconds = t.seconds;
        let million = t.deliveries as f64 / 1e6;
        sample.insert("deliveries_per_s", t.deliveries as f64 / seconds);
        sample.insert("publishes_per_s", t.publishes as f64 / seconds);
        sample.insert("mb_per_s", t.wire_bytes as f64 / seconds / 1e6);
        if before.iter().any(|c| c.contains_key("bus_out")) {
            let bus = |key: &str| -> f64 {
                let moved: u64 = before
                    .iter()
                    .zip(&after)
                    .map(|(a, b)| get(b, key) - get(a, key))
                    .sum();
                moved as f64 / seconds
            };
            sample.insert("bus_out_per_s", bus("bus_out"));
            sample.insert("bus_in_per_s", bus("bus_in"));
        }
        let used =
            |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| y - x).collect() };
        let (work, back) = (used(&w0, &w1), used(&b0, &b1));
        for (k, cpu) in work.iter().enumerate().take(NODES) {
            let delivered = (self.receivers_on[k] * self.plan.per_sender) as f64 / 1e6;
            if delivered > 0.0 && cpu.is_finite() {
                sample.insert(NODE_CPU[k], cpu / delivered);
            }
        }
        let total: f64 = work.iter().chain(&back).sum();
        if total.is_finite() {
            sample.insert("server_cpu_s_per_m", total / million);
            sample.insert("server_busy", total / seconds);
        }
        let nats: f64 = if self.nodes.is_empty() { &work } else { &back }
            .iter()
            .sum();
        if nats > 0.0 && nats.is_finite() {
            sample.insert("nats_cpu_s_per_m", nats / million);
        }
        if let Some(probe) = t.probe_cpu {
            sample.insert("probe_busy", probe / seconds);
        }
        Ok(Round {
            sample,
            counters: after,
            warnings,
        })
    }

    /// The round's latency phase at `rate` publishes per second, checked
    /// the same way; completes the round's sample.
    pub fn latency(&self, round: &mut Round, rate: f64, s: &Settings) -> Result<(), String> {
        let duration = Duration::from_secs_f64(s.latency_seconds);
        let l = phase::latency(&self.fleet, &self.plan, rate, duration)?;
        let after = self.stats()?;
        let each = l.samples / self.plan.receivers.max(1);
        self.check(
            "latency",
            &round.counters,
            &after,
            each,
            &mut round.warnings,
        )?;
        // Subscribers on the third server (or a third of them, alone).
        let probe = l.by_reader.get(NODES - 1).filter(|h| !h.is_empty());
        let probe = probe.unwrap_or(&l.by_reader[0]);
        let sample = &mut round.sample;
        sample.insert("p50_us", probe.value_at_quantile(0.5) as f64);
        sample.insert("p99_us", probe.value_at_quantile(0.99) as f64);
        sample.insert("all_p50_us", l.p50 as f64);
        sample.insert("all_p99_us", l.p99 as f64);
        sample.insert("latency_rate", l.rate);
        Ok(())
    }

    /// Each node must have counted exactly the deliveries its subscribers
    /// got (`each` apiece) between `a` and `b`; a bus that lagged or
    /// dropped is worth a warning (the counts would tell if it lost any).
    fn check(
        &self,
        phase: &str,
        a: &[Counters],
        b: &[Counters],
        each: u64,
        warnings: &mut Warnings,
    ) -> Result<(), String> {
        for (k, node) in self.nodes.iter().enumerate() {
            let got = get(&b[k], "deliveries") - get(&a[k], "deliveries");
            let want = self.receivers_on[k] * each;
            if got != want {
                return Err(format!(
                    "n{} ({}) counted {got} deliveries in the {phase} phase, the probe \
                     expected {want}",
                    k + 1,
                    node.addr
                ));
            }
            for key in ["bus_lagged", "bus_dropped"] {
                let more = get(&b[k], key).saturating_sub(get(&a[k], key));
                if more > 0 {
                    warnings.push(format!("n{}: {key} rose by {more} ({phase})", k + 1));
                }
            }
            if b[k].get("cluster_up") == Some(&0) {
                warnings.push(format!("n{}: cluster_up=0 after the {phase} phase", k + 1));
            }
        }
        Ok(())
    }
}

/// A round under way: its figures so far, the nodes' counters where the
/// last phase ended, and what looked wrong.
pub struct Round {
    pub sample: Sample,
    counters: Vec<Counters>,
    pub warnings: Warnings,
}

/// Waits (10 s at most) until no node has a user logged in.
pub fn logged_out(nodes: &[Node], shared: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match stats_all(nodes, shared) {
            Ok(all) if all.iter().any(|c| get(c, "users") > 0) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return,
        }
    }
}

fn get(c: &Counters, key: &str) -> u64 {
    c.get(key).copied().unwrap_or(0)
}

/// Sends `STATS` on `stream` and parses the answer.
fn read_stats(stream: &TcpStream) -> std::io::Result<Counters> {
    stream.set_read_timeout(Some(PATIENCE))?;
    (&*stream).write_all(b"STATS\n")?;
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(rest) = line.trim_end().strip_prefix("STATS ") {
            return Ok(rest
                .split(' ')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_owned(), v.parse().ok()?))
                })
                .collect());
        }
    }
}

fn bye(stream: &TcpStream) {
    let _ = (&*stream).write_all(b"QUIT\n");
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Every node's STATS, in node order.
pub fn stats_all(nodes: &[Node], shared: bool) -> Result<Vec<Counters>, String> {
    let fail = |e: std::io::Error| format!("cannot read STATS: {e}");
    if !shared {
        return nodes
            .iter()
            .map(|n| {
                let stream = TcpStream::connect(n.addr).map_err(fail)?;
                let c = read_stats(&stream).map_err(fail)?;
                bye(&stream);
                Ok(c)
            })
            .collect();
    }
    // The kernel picks a process per connection: connect until each has
    // answered once.
    let pids: Vec<u32> = nodes.iter().map(|n| n.pid).collect();
    let mut got: Vec<Option<Counters>> = vec![None; nodes.len()];
    for _ in 0..64 * nodes.len() {
        if got.iter().all(Option::is_some) {
            break;
        }
        let Some(first) = nodes.first() else { break };
        let stream = TcpStream::connect(first.addr).map_err(fail)?;
        let counters = read_stats(&stream).map_err(fail)?;
        let me = stream.local_addr().map_err(fail)?.port();
        if let Some(&i) = procstat::socket_owners(first.addr.port(), &pids).get(&me) {
            got[i].get_or_insert(counters);
        }
        bye(&stream);
    }
    got.into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "could not reach every process sharing the port".into())
}
