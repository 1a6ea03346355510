//! `evchat-bench cluster`: what clustering costs and gives, in one run.
//!
//! Three evchat nodes over three clustered nats-servers, one node alone,
//! NATS's own pub/sub and K nodes sharing a port, measured side by side
//! ([`bed`](super::bed) is one configuration); 1–3 take turns within each
//! round, 4 runs after, and latency is measured at one rate for all. What
//! each configuration is and what the figures mean: docs/CLUSTER.md, "The
//! cluster bench: what its figures mean".

use super::bed::{logged_out, Bed, Node, NODES};
use super::nats::Cluster;
use super::nodes::{Join, Lab, Proc};
use super::progress::{self, Progress};
use super::report::{Report, Row};
use super::scenario::{Kind, Settings};
use super::warmup;
use super::wire::Target;
use std::time::{Duration, Instant};

/// What the cluster scenario needs from the command line.
pub struct Options {
    pub n: usize,
    /// Processes sharing one port.
    pub shared: usize,
    pub rounds: usize,
    pub latency_rate: Option<f64>,
}

fn label(setup: usize, k: usize) -> String {
    match setup {
        0 => format!("{NODES} nodes"),
        1 => "1 node".into(),
        2 => format!("nats ×{NODES}"),
        _ => format!("{k} on 1 port"),
    }
}

/// Runs the cluster scenario and adds its rows and notices to `report`.
pub fn run(o: &Options, s: &Settings, bar: &Progress, report: &mut Report) {
    let rows: Vec<Row> = (0..4)
        .map(|i| {
            let target = if i == 2 { Target::Nats } else { Target::Evchat };
            let mut row = Row::new(Kind::Cluster, o.n, target);
            row.label = Some(label(i, o.shared));
            row
        })
        .collect();
    let mut runner = Runner {
        s,
        bar,
        estimate: progress::estimate(Kind::Cluster, o.n, s),
        notices: Vec::new(),
        rows,
    };
    let mut lab = match Lab::new() {
        Ok(lab) => lab,
        Err(e) => return fail_all(runner.rows, &e, report),
    };
    let mut nats = match lab.nats(NODES) {
        Ok(Some(nats)) => nats,
        Ok(None) => {
            let why = "nats-server is not installed (needs 2.9 or later, with JetStream)";
            return fail_all(runner.rows, why, report);
        }
        Err(e) => return fail_all(runner.rows, &e, report),
    };
    let rate = runner.side_by_side(o, &mut lab, &nats);
    // The shared port: the three nodes are gone, their names given back.
    match start_cluster(&mut lab, &nats, o.shared, true) {
        Ok((mut procs, nodes)) => {
            let bed = evchat_bed(&nodes, &procs, &nats, true, o.n, s);
            let mut slot = [runner.keep(3, o, bed)];
            for round in 1..=o.rounds {
                runner.round(&mut slot, 3, rate, o, round);
            }
            if let [Some(bed)] = slot {
                bed.close();
            }
            for p in &mut procs {
                p.stop(Duration::from_secs(5));
            }
        }
        Err(e) => runner.rows[3].error = Some(e),
    }
    nats.stop(Duration::from_secs(5));
    let complaints = lab.complaints();
    if !complaints.is_empty() || runner.rows.iter().any(|r| r.error.is_some()) {
        match lab.save_logs() {
            Ok(dir) => runner
                .notices
                .push(format!("the servers' logs are in {}", dir.display())),
            Err(e) => runner
                .notices
                .push(format!("cannot keep the servers' logs: {e}")),
        }
    }
    for n in runner.notices.into_iter().chain(complaints) {
        report.notice(n);
    }
    report.rows.extend(runner.rows);
}

/// Runs rounds and keeps what they give.
struct Runner<'a> {
    s: &'a Settings,
    bar: &'a Progress,
    estimate: f64,
    notices: Vec<String>,
    rows: Vec<Row>,
}

impl Runner<'_> {
    /// Configurations 1-3, taking turns within each round; returns the
    /// median of the rounds' latency rates.
    fn side_by_side(&mut self, o: &Options, lab: &mut Lab, nats: &Cluster) -> Option<f64> {
        let s = self.s;
        let cluster = start_cluster(lab, nats, NODES, false);
        let alone = lab.evchat("alone", 0, None, false);
        let opened = [
            cluster
                .as_ref()
                .map_err(String::clone)
                .and_then(|(procs, nodes)| evchat_bed(nodes, procs, nats, false, o.n, s)),
            alone
                .as_ref()
                .map_err(String::clone)
                .and_then(|(proc, addr)| {
                    let node = Node {
                        pid: proc.pid(),
                        addr: *addr,
                    };
                    let mut bed =
                        Bed::open(Target::Evchat, vec![*addr], (vec![node], false), o.n, s)?;
                    bed.workers = vec![proc.pid()];
                    Ok(bed)
                }),
            nats_bed(nats, o.n, s),
        ];
        let mut beds: Vec<Option<Bed>> = Vec::new();
        for (i, bed) in opened.into_iter().enumerate() {
            beds.push(self.keep(i, o, bed));
        }
        let mut rates = Vec::new();
        for round in 1..=o.rounds {
            rates.extend(self.round(&mut beds, 0, None, o, round));
        }
        for bed in beds.into_iter().flatten() {
            bed.close();
        }
        if let Ok((mut procs, _)) = cluster {
            for p in &mut procs {
                p.stop(Duration::from_secs(5));
            }
        }
        median(&mut rates)
    }

    /// A configuration that opened, with what it ran into noted; or its
    /// row failed.
    fn keep(&mut self, i: usize, o: &Options, bed: Result<Bed, String>) -> Option<Bed> {
        match bed {
            Ok(mut bed) => {
                let name = label(i, o.shared);
                let notes = std::mem::take(&mut bed.notes).into_iter();
                self.notices.extend(notes.map(|n| format!("{name}: {n}")));
                Some(bed)
            }
            Err(e) => {
                self.rows[i].error = Some(e);
                None
            }
        }
    }

    /// One round of configurations `first..`: every throughput phase,
    /// then every latency phase at one rate — `--latency-rate`, or the
    /// fraction of the slowest one's maximum (at most `cap`). Returns the
    /// rate.
    fn round(
        &mut self,
        beds: &mut [Option<Bed>],
        first: usize,
        cap: Option<f64>,
        o: &Options,
        round: usize,
    ) -> Option<f64> {
        let s = self.s;
        let mut halves = Vec::new();
        for (j, slot) in beds.iter_mut().enumerate() {
            halves.push(self.step(slot, first + j, o, round, "throughput", Bed::throughput));
        }
        let slowest = halves
            .iter()
            .flatten()
            .filter_map(|h| h.sample.get("publishes_per_s").copied())
            .min_by(f64::total_cmp);
        let own = slowest.map(|m| m * s.latency_fraction);
        let rate = o.latency_rate.or(match (own, cap) {
            (Some(own), Some(cap)) => Some(own.min(cap)),
            (own, cap) => own.or(cap),
        })?;
        for (j, (slot, half)) in beds.iter_mut().zip(halves).enumerate() {
            let Some(mut half) = half else { continue };
            let i = first + j;
            let measured = |bed: &Bed| bed.latency(&mut half, rate, s);
            if self.step(slot, i, o, round, "latency", measured).is_some() {
                let name = label(i, o.shared);
                let warnings = half.warnings.into_iter();
                self.notices
                    .extend(warnings.map(|w| format!("{name}, round {round}: {w}")));
                self.rows[i].samples.push(half.sample);
            }
        }
        Some(rate)
    }

    /// One phase of configuration `i`; a failure ends the configuration.
    fn step<T>(
        &mut self,
        slot: &mut Option<Bed>,
        i: usize,
        o: &Options,
        round: usize,
        phase: &str,
        f: impl FnOnce(&Bed) -> Result<T, String>,
    ) -> Option<T> {
        let bed = slot.as_ref()?;
        let what = format!(
            "cluster N={} {} round {round}, {phase}",
            o.n,
            label(i, o.shared)
        );
        self.bar.start(self.estimate / 2.0, what.clone());
        let result = f(bed);
        self.bar.finish_run();
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.bar.println(&format!("FAILED: {what}: {e}"));
                self.rows[i].error = Some(e);
                slot.take();
                None
            }
        }
    }
}

fn fail_all(rows: Vec<Row>, why: &str, report: &mut Report) {
    report.rows.extend(rows.into_iter().map(|mut r| {
        r.error = Some(why.to_owned());
        r
    }));
}

fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// Starts `k` clustered evchat nodes, node `i` on NATS server `i % 3`;
/// `shared`: all on one port. Waits until each sees all the others.
fn start_cluster(
    lab: &mut Lab,
    nats: &Cluster,
    k: usize,
    shared: bool,
) -> Result<(Vec<Proc>, Vec<Node>), String> {
    let (mut procs, mut nodes) = (Vec::new(), Vec::new());
    for i in 0..k {
        let name = if shared {
            format!("shared{}", i + 1)
        } else {
            format!("node{}", i + 1)
        };
        let port = match nodes.first() {
            Some(Node { addr, .. }) if shared => addr.port(),
            _ => 0,
        };
        let join = Join {
            urls: &[nats.url(i % nats.len())],
            node: &name,
            replicas: NODES,
        };
        let (proc, addr) = lab.evchat(&name, port, Some(join), shared)?;
        nodes.push(Node {
            pid: proc.pid(),
            addr,
        });
        procs.push(proc);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = super::bed::stats_all(&nodes, shared)?;
        let ready = |c: &super::bed::Counters| {
            c.get("cluster_up") == Some(&1) && c.get("nodes") == Some(&(k as u64))
        };
        if all.iter().all(ready) {
            return Ok((procs, nodes));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the nodes did not all see each other in 30 s: {all:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The fleet over clustered evchat nodes.
fn evchat_bed(
    nodes: &[Node],
    procs: &[Proc],
    nats: &Cluster,
    shared: bool,
    n: usize,
    s: &Settings,
) -> Result<Bed, String> {
    let addrs = if shared {
        vec![nodes[0].addr]
    } else {
        nodes.iter().map(|n| n.addr).collect()
    };
    let warm = warmup::warm_up(&addrs, n)?;
    logged_out(nodes, shared);
    // The names bucket forgets the last logouts a moment after the nodes.
    std::thread::sleep(Duration::from_millis(500));
    let mut bed = Bed::open(Target::Evchat, addrs, (nodes.to_vec(), shared), n, s)?;
    bed.notes.splice(0..0, warm);
    bed.workers = procs.iter().map(Proc::pid).collect();
    bed.backplane = nats.pids();
    if shared {
        bed.find_owners()?;
    }
    Ok(bed)
}

/// The fleet over the NATS servers, once the publisher's server knows
/// the other servers' interest in the subject.
fn nats_bed(nats: &Cluster, n: usize, s: &Settings) -> Result<Bed, String> {
    let mut bed = Bed::open(Target::Nats, nats.client_addrs(), (Vec::new(), false), n, s)?;
    bed.workers = nats.pids();
    let others = (1..NODES).filter(|&k| k < n).count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while nats.routes_interested(0, "bench")? < others {
        if Instant::now() > deadline {
            return Err("the subscriptions did not reach the first NATS server".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(bed)
}
