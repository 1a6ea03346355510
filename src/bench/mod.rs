//! `evchat-bench`: fan-out throughput and latency, measured the same way
//! against evchat, Redis pub/sub and NATS, side by side in one run.
//!
//! - [`wire`]: each server's framing (the only per-target code);
//!   [`transport`]: line, WebSocket ([`wsconn`], [`ws`]) or IRC ([`irc`]);
//! - [`fleet`]: connections, barriers and closing; [`readers`]: the mio
//!   reader threads that count what they receive;
//! - [`phase`]: the windowed throughput phase and the open-loop latency phase;
//! - [`args`]: the command line;
//! - [`scenario`]: fanout, mesh, private; [`connect`]: connect, idle;
//!   [`rooms`]: R rooms of M members, its publishers saying things in
//!   them in turn;
//! - [`flood`]: one client floods while a pair of users does round trips
//!   ([`flooder`] and [`pair`] are its two sides);
//! - [`peers`]: starting the servers for `--compare` (InspIRCd through
//!   [`inspircd`], the launcher the tests can use too);
//! - [`cluster`]: three evchat nodes over a NATS cluster, against one node,
//!   NATS's own pub/sub and nodes sharing a port, all started by the bench
//!   ([`nodes`] starts them, nats-server through [`nats`], the launcher
//!   the tests use too; [`warmup`] logs the names in gently first,
//!   [`bed`] measures each configuration, [`summary`] says what the
//!   figures mean);
//! - [`report`]: medians over rounds, the tables and the JSON ([`columns`]
//!   says which figures each table shows);
//! - [`progress`]: the progress bar and its estimate of the time left.

pub mod args;
pub mod bed;
pub mod cluster;
pub mod columns;
pub mod connect;
pub mod fleet;
pub mod flood;
pub mod flooder;
pub mod inspircd;
pub mod irc;
pub mod nats;
pub mod nodes;
pub mod pair;
pub mod peers;
pub mod phase;
pub mod procstat;
pub mod progress;
pub mod readers;
pub mod report;
pub mod rooms;
pub mod scenario;
pub mod summary;
pub mod transport;
pub mod warmup;
pub mod wire;
pub mod ws;
pub mod wsconn;

pub use args::{BenchArgs, Which};
use flooder::Flood;
use progress::Progress;
use report::{Report, Row};
use rooms::Shape;
use scenario::{Kind, Settings};
use transport::{systems, Transport};
use wire::Target;

fn default_sizes(kind: Kind) -> Vec<usize> {
    match kind {
        Kind::Fanout => vec![10, 100, 1000, 10000],
        Kind::Mesh => vec![10, 100],
        Kind::Private => vec![100, 1000],
        Kind::Connect => vec![2000],
        Kind::Idle => vec![10000],
        Kind::FloodSay | Kind::FloodMsg | Kind::FloodPong => vec![10],
        Kind::Cluster => vec![300],
        // Users, from the shapes (see `steps`).
        Kind::Rooms => Vec::new(),
    }
}

fn kinds(which: &[Which], floods: &[Flood]) -> Vec<Kind> {
    let floods: Vec<Kind> = if floods.is_empty() {
        vec![Kind::FloodSay, Kind::FloodMsg, Kind::FloodPong]
    } else {
        floods.iter().map(|&f| Kind::flood(f)).collect()
    };
    let pick = |w: Which| match w {
        Which::Fanout => vec![Kind::Fanout],
        Which::Mesh => vec![Kind::Mesh],
        Which::Private => vec![Kind::Private],
        Which::Connect => vec![Kind::Connect],
        Which::Idle => vec![Kind::Idle],
        Which::Flood => floods.clone(),
        Which::Cluster => vec![Kind::Cluster],
        Which::Rooms => vec![Kind::Rooms],
        Which::All => Vec::new(),
    };
    if which.is_empty() {
        return vec![Kind::Fanout];
    }
    if which.contains(&Which::All) {
        use Which::*;
        return [Fanout, Mesh, Private, Connect, Idle, Flood, Rooms]
            .into_iter()
            .flat_map(pick)
            .collect();
    }
    which.iter().flat_map(|&w| pick(w)).collect()
}

/// Runs what the arguments ask for and returns the report.
pub fn run(args: &BenchArgs) -> Report {
    crate::limits::raise_open_files_limit();
    let settings = settings(args);
    let targets: Vec<Target> = if args.compare {
        vec![
            Target::Evchat,
            Target::Redis,
            Target::Nats,
            Target::Inspircd,
        ]
    } else {
        vec![args.target]
    };
    let mut report = Report::default();
    let plan = plan(args, &kinds(&args.scenarios, &args.flood), &mut report);
    let bar = Progress::new(total_estimate(args, &plan, &targets, &settings));
    for (kind, n, shape) in plan {
        if kind == Kind::Cluster {
            run_cluster(args, n, &settings, &bar, &mut report);
            continue;
        }
        let job = Job {
            args,
            settings: &settings,
            bar: &bar,
            kind,
            n,
            shape,
            estimate: progress::estimate(kind, n, &settings),
        };
        job.run(&targets, &mut report);
    }
    bar.finish();
    report
}

/// The settings every run shares, from the arguments (clamped to sense).
fn settings(args: &BenchArgs) -> Settings {
    Settings {
        publishers: args.publishers.max(1),
        payload: args.payload.max(24),
        messages: args.messages,
        window: args.window,
        readers: args.readers.max(1),
        latency_fraction: args.latency_fraction.clamp(0.01, 1.0),
        latency_seconds: args.latency_seconds.max(0.1),
        round_trips: args.round_trips.unwrap_or(u64::MAX).max(1),
        flood_seconds: args.flood_seconds.max(0.1),
    }
}

/// One scenario at one size (for rooms, its users and shape).
type Step = (Kind, usize, Option<Shape>);

/// Every scenario at every size, in the order they run; a rooms shape
/// that cannot be built is a failed row of `report`.
fn plan(args: &BenchArgs, kinds: &[Kind], report: &mut Report) -> Vec<Step> {
    let mut steps = Vec::new();
    for &k in kinds {
        if k == Kind::Rooms {
            for shape in rooms::shapes(args) {
                match shape {
                    Ok(shape) => steps.push((k, shape.users(), Some(shape))),
                    Err(e) => {
                        let mut row = Row::new(k, 0, args.target);
                        row.error = Some(e);
                        report.rows.push(row);
                    }
                }
            }
            continue;
        }
        let sizes = if args.sizes.is_empty() {
            default_sizes(k)
        } else {
            args.sizes.clone()
        };
        steps.extend(sizes.into_iter().map(|n| (k, n, None)));
    }
    steps
}

/// The whole run's estimated seconds, for the progress bar.
fn total_estimate(args: &BenchArgs, plan: &[Step], targets: &[Target], settings: &Settings) -> f64 {
    let rounds = args.rounds as f64;
    plan.iter()
        .map(|&(k, n, _)| {
            // The cluster scenario measures four configurations.
            let runs = if k == Kind::Cluster {
                4
            } else {
                systems(targets, &args.transport, k).0.len()
            };
            progress::estimate(k, n, settings) * rounds * runs as f64
        })
        .sum()
}

/// The cluster scenario at size `n`: it starts its own servers.
fn run_cluster(
    args: &BenchArgs,
    n: usize,
    settings: &Settings,
    bar: &Progress,
    report: &mut Report,
) {
    let options = cluster::Options {
        n: n.max(1),
        shared: args.shared_port.max(1),
        rounds: args.rounds.max(1),
        latency_rate: args.latency_rate,
    };
    let settings = Settings {
        readers: bed::NODES,
        ..settings.clone()
    };
    cluster::run(&options, &settings, bar, report);
}

/// One scenario at one size, against every target.
struct Job<'a> {
    args: &'a BenchArgs,
    settings: &'a Settings,
    bar: &'a Progress,
    kind: Kind,
    n: usize,
    shape: Option<Shape>,
    /// Seconds one run takes, about.
    estimate: f64,
}

impl Job<'_> {
    /// Starts the peers when comparing, runs the rounds, and adds the
    /// rows to `report`.
    fn run(&self, targets: &[Target], report: &mut Report) {
        let mut rows: Vec<Row> = Vec::new();
        let mut peers = Vec::new();
        let (systems, notices) = systems(targets, &self.args.transport, self.kind);
        for notice in notices {
            report.notice(notice);
        }
        for &target in targets {
            let over: Vec<Transport> = systems
                .iter()
                .filter(|s| s.0 == target)
                .map(|s| s.1)
                .collect();
            rows.extend(self.rows(target, over, &mut peers, report));
        }
        // Redis goes first in each round: when comparing, everyone's latency
        // is measured at the same offered rate, a fraction of Redis's
        // maximum in this round.
        let order: Vec<usize> = {
            let mut order: Vec<usize> = (0..rows.len()).collect();
            order.sort_by_key(|&i| rows[i].target != Target::Redis);
            order
        };
        for round in 1..=self.args.rounds {
            let mut common_rate = self.args.latency_rate;
            for &i in &order {
                if rows[i].error.is_none() {
                    self.run_once(round, &mut rows[i], &peers, &mut common_rate);
                }
            }
        }
        for row in &mut rows {
            let pid = peers
                .iter()
                .find(|p| p.target == row.target)
                .map(|p| p.pid())
                .or(self.args.server_pid);
            row.peak_rss_kib = pid.and_then(|p| procstat::status_kib(p, "VmHWM"));
        }
        report.rows.extend(rows);
    }

    /// `target`'s rows, one per transport `over`, with its peer started
    /// (into `started`) when comparing: none when it is not installed, and
    /// failed ones when it would not start.
    fn rows(
        &self,
        target: Target,
        over: Vec<Transport>,
        started: &mut Vec<peers::Peer>,
        report: &mut Report,
    ) -> Vec<Row> {
        let runs = self.estimate * self.args.rounds as f64 * over.len() as f64;
        let mut error = None;
        if self.args.compare && !over.is_empty() {
            match peers::start(target, over.contains(&Transport::Ws)) {
                Ok(Some(peer)) => started.push(peer),
                Ok(None) => {
                    report.notice(format!("{} is not installed: skipped", target.name()));
                    self.bar.skip(runs);
                    return Vec::new();
                }
                Err(e) => {
                    self.bar.skip(runs);
                    error = Some(e);
                }
            }
        }
        let row = |transport| {
            let mut row = Row::new(self.kind, self.n, target).over(transport);
            row.group = self.shape.map(|s| s.describe());
            row.error.clone_from(&error);
            row
        };
        over.into_iter().map(row).collect()
    }

    /// One run of `row` in `round`, against its peer in `started` or the
    /// server at --addr: at `common_rate` if set, which Redis's
    /// run sets for the others when comparing. A failure ends the row.
    fn run_once(
        &self,
        round: usize,
        row: &mut Row,
        started: &[peers::Peer],
        common_rate: &mut Option<f64>,
    ) {
        let (args, n) = (self.args, self.n);
        let (addr, ws_addr, pid) = match started.iter().find(|p| p.target == row.target) {
            Some(p) => (p.addr, p.ws_addr, Some(p.pid())),
            None => (args.addr, args.ws_addr, args.server_pid),
        };
        let what = format!("{} N={n} {} round {round}", self.kind.name(), row.name());
        self.bar.start(self.estimate, what);
        let run = scenario::Run {
            kind: self.kind,
            n,
            target: row.target,
            addr,
            pid,
            transport: row.transport,
            ws_addr,
            latency_rate: *common_rate,
            shape: self.shape,
        };
        match scenario::run(run, self.settings) {
            Ok(sample) => {
                if args.compare && row.target == Target::Redis && args.latency_rate.is_none() {
                    *common_rate = sample
                        .get("publishes_per_s")
                        .map(|r| r * self.settings.latency_fraction);
                }
                row.samples.push(sample);
            }
            Err(e) => {
                let kind = self.kind.name();
                self.bar
                    .println(&format!("FAILED: {kind} N={n} on {}: {e}", row.name()));
                row.error = Some(e);
                // Its later rounds will not run.
                self.bar.skip(self.estimate * (args.rounds - round) as f64);
            }
        }
        self.bar.finish_run();
    }
}
