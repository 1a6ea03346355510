//! The scenarios: how many connections, who sends what to whom (flood has
//! its own module, [`flood`](super::flood)).

use super::connect;
use super::fleet::{bench_name, Fleet, FleetSpec};
use super::flood;
use super::flooder::Flood;
use super::phase::{self, Latency, Plan, Throughput};
use super::rooms::{self, Shape};
use super::transport::Transport;
use super::wire::Target;
use super::wsconn::Endpoint;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Time allowed for connection set-up and barriers.
pub const PATIENCE: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Fanout,
    Mesh,
    Private,
    Connect,
    Idle,
    #[serde(rename = "flood-say")]
    FloodSay,
    #[serde(rename = "flood-msg")]
    FloodMsg,
    #[serde(rename = "flood-pong")]
    FloodPong,
    Cluster,
    Rooms,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Fanout => "fanout",
            Kind::Mesh => "mesh",
            Kind::Private => "private",
            Kind::Connect => "connect",
            Kind::Idle => "idle",
            Kind::FloodSay => "flood-say",
            Kind::FloodMsg => "flood-msg",
            Kind::FloodPong => "flood-pong",
            Kind::Cluster => "cluster",
            Kind::Rooms => "rooms",
        }
    }

    /// The flood scenario of each variant.
    pub fn flood(flood: Flood) -> Kind {
        match flood {
            Flood::Say => Kind::FloodSay,
            Flood::Msg => Kind::FloodMsg,
            Flood::Pong => Kind::FloodPong,
        }
    }
}

/// Settings shared by all runs of one invocation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub publishers: usize,
    pub payload: usize,
    pub messages: Option<u64>,
    pub window: Option<u64>,
    pub readers: usize,
    pub latency_fraction: f64,
    pub latency_seconds: f64,
    /// Most round trips of the flood scenario's pair.
    pub round_trips: u64,
    /// How long the flood scenario's pair keeps starting round trips.
    pub flood_seconds: f64,
}

/// One run's figures, by name (`deliveries_per_s`, `p99_us`, ...).
pub type Sample = BTreeMap<&'static str, f64>;

/// Where and how one run happens.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub kind: Kind,
    pub n: usize,
    pub target: Target,
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    /// How receivers connect (WebSocket: fanout only).
    pub transport: Transport,
    /// The server's WebSocket listener, when not at `addr`.
    pub ws_addr: Option<SocketAddr>,
    /// Publishes per second for the latency phase; `None`: the fraction of
    /// this run's own measured maximum.
    pub latency_rate: Option<f64>,
    /// The rooms scenario's rooms and publishers.
    pub shape: Option<Shape>,
}

/// Runs one scenario once against a server.
pub fn run(r: Run, s: &Settings) -> Result<Sample, String> {
    match r.kind {
        Kind::Fanout | Kind::Mesh | Kind::Private => messages(r, s),
        Kind::Connect => connect::connect(r.n, r.target, r.addr, r.pid),
        Kind::Idle => connect::idle(r.n, r.target, r.addr, r.pid, s),
        Kind::FloodSay => flood::run(r, Flood::Say, s),
        Kind::FloodMsg => flood::run(r, Flood::Msg, s),
        Kind::FloodPong => flood::run(r, Flood::Pong, s),
        Kind::Cluster => Err("the cluster scenario starts its own servers".into()),
        Kind::Rooms => {
            let shape = r.shape.ok_or("the rooms scenario needs its shape")?;
            rooms::run(r, shape, s)
        }
    }
}

/// Fanout, mesh and private: a throughput phase, then a latency phase.
fn messages(r: Run, s: &Settings) -> Result<Sample, String> {
    let spec = fleet_spec(r, s)?;
    let publishers = spec.publishers;
    // In fanout, publishers (logged-in users too) get each other's.
    let among_publishers = |plan: &Plan| match r.kind {
        Kind::Fanout => (publishers * publishers.saturating_sub(1)) as u64 * plan.per_sender,
        _ => 0,
    };
    measure(
        r,
        s,
        &spec,
        |fleet| plan(r.kind, &spec, fleet, s),
        among_publishers,
    )
}

/// Opens `spec`'s fleet and measures the throughput phase of `plan`, then
/// the latency phase; leaves the fleet's rooms and closes it. evchat
/// counts its own deliveries: they must be what was received, plus
/// `also_counted` (deliveries to connections the probe does not count).
pub(super) fn measure(
    r: Run,
    s: &Settings,
    spec: &FleetSpec,
    plan: impl FnOnce(&Fleet) -> Plan,
    also_counted: impl FnOnce(&Plan) -> u64,
) -> Result<Sample, String> {
    let Run { target, addr, .. } = r;
    let users = server_stats(target, addr)?.map(|st| st.users);
    let fleet = Fleet::open(spec, PATIENCE).map_err(|e| format!("set-up failed: {e}"))?;
    let plan = plan(&fleet);
    let server_before = server_stats(target, addr)?.map(|st| st.deliveries);
    let t = phase::throughput(&fleet, &plan, r.pid)?;
    if let (Some(before), Some(after)) = (
        server_before,
        server_stats(target, addr)?.map(|st| st.deliveries),
    ) {
        let expected = t.deliveries + also_counted(&plan);
        if after - before != expected {
            return Err(format!(
                "server counted {} deliveries, the probe expected {expected}",
                after - before
            ));
        }
    }
    let max_rate = t.publishes as f64 / t.seconds;
    let rate = r.latency_rate.unwrap_or(max_rate * s.latency_fraction);
    let l = phase::latency(
        &fleet,
        &plan,
        rate,
        Duration::from_secs_f64(s.latency_seconds),
    )?;
    fleet
        .leave(&spec.rooms, PATIENCE)
        .map_err(|e| format!("leaving the rooms failed: {e}"))?;
    fleet.close();
    settle(target, addr, users);
    Ok(figures(&t, &l, max_rate))
}

/// Who connects for fanout, mesh or private, and how.
fn fleet_spec(r: Run, s: &Settings) -> Result<FleetSpec, String> {
    let Run {
        kind,
        n,
        target,
        addr,
        ..
    } = r;
    let ws = match r.transport {
        Transport::Line | Transport::Irc => None,
        Transport::Ws if kind != Kind::Fanout => {
            return Err("WebSocket receivers are measured in fanout only".into())
        }
        Transport::Ws => Some(Endpoint::new(target, r.ws_addr.unwrap_or(addr))),
    };
    let receivers_publish = kind != Kind::Fanout && target.can_publish_while_subscribed();
    let publishers = match kind {
        Kind::Fanout => s.publishers,
        _ if receivers_publish => 0,
        _ => n, // Redis: a subscribed connection cannot publish
    };
    if kind == Kind::Private && !n.is_multiple_of(2) {
        return Err("private needs an even number of clients".into());
    }
    Ok(FleetSpec {
        target,
        addrs: vec![addr],
        receivers: n,
        publishers,
        receivers_publish,
        readers: s.readers,
        ws,
        irc: r.transport == Transport::Irc,
        rooms: Default::default(),
    })
}

/// Who sends what to whom, how much, and how far ahead of the slowest
/// receiver.
fn plan(kind: Kind, spec: &FleetSpec, fleet: &Fleet, s: &Settings) -> Plan {
    let (n, target) = (spec.receivers, spec.target);
    let sockets = if spec.receivers_publish {
        &fleet.receivers
    } else {
        &fleet.publishers
    };
    let senders: Vec<_> = sockets
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, sock)| {
            let to = (kind == Kind::Private).then(|| bench_name(i ^ 1));
            (sock, to.into_iter().collect())
        })
        .collect();
    let per_round = match kind {
        Kind::Fanout => s.publishers as u64,
        Kind::Mesh if target.echoes_own_broadcasts() => n as u64,
        Kind::Mesh => n.saturating_sub(1) as u64,
        _ => 1,
    };
    let frame = s.payload as u64 + 40;
    let per_sender = s.messages.unwrap_or_else(|| {
        // About five million deliveries per throughput phase.
        (5_000_000 / (n as u64 * per_round).max(1)).max(200)
    });
    let window = s.window.unwrap_or_else(|| {
        let w = ((128 << 20) / (n as u64 * frame).max(1)).clamp(64, 4096);
        target.max_window().map_or(w, |max| w.min(max))
    });
    Plan {
        senders,
        per_sender,
        sends_per_round: 1,
        per_receiver_per_round: per_round,
        receivers: n as u64,
        payload: s.payload,
        window,
    }
}

/// A run's figures from its two phases (`max_rate`: publishes per second
/// at full speed).
fn figures(t: &Throughput, l: &Latency, max_rate: f64) -> Sample {
    let mut sample = Sample::new();
    let million = t.deliveries as f64 / 1e6;
    sample.insert("deliveries_per_s", t.deliveries as f64 / t.seconds);
    sample.insert("mb_per_s", t.wire_bytes as f64 / t.seconds / 1e6);
    sample.insert("p50_us", l.p50 as f64);
    sample.insert("p99_us", l.p99 as f64);
    sample.insert("p999_us", l.p999 as f64);
    sample.insert("publishes_per_s", max_rate);
    sample.insert("latency_rate", l.rate);
    if let Some(cpu) = t.server_cpu {
        sample.insert("server_cpu_s_per_m", cpu / million);
        sample.insert("server_busy", cpu / t.seconds);
    }
    if let Some(cpu) = t.probe_cpu {
        sample.insert("probe_cpu_s_per_m", cpu / million);
        sample.insert("probe_busy", cpu / t.seconds);
    }
    sample
}

/// The counters of an evchat server that the bench checks.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub users: u64,
    pub deliveries: u64,
    pub frames_in: u64,
}

/// An evchat server's counters, read with an anonymous STATS (no login, so
/// no presence traffic; its STATS frame counts in `frames_in`, its QUIT
/// after); `None` for other targets.
pub fn server_stats(target: Target, addr: SocketAddr) -> Result<Option<Stats>, String> {
    if target != Target::Evchat {
        return Ok(None);
    }
    let read = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        stream.write_all(b"STATS\nQUIT\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    };
    let text = read().map_err(|e| format!("cannot read server STATS: {e}"))?;
    let line = text.lines().find_map(|l| l.strip_prefix("STATS "));
    let get = |key: &str| -> Result<u64, String> {
        line.and_then(|l| {
            l.split(' ')
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        })
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("server answered STATS without {key}="))
    };
    Ok(Some(Stats {
        users: get("users")?,
        deliveries: get("deliveries")?,
        frames_in: get("frames_in")?,
    }))
}

/// Waits (a few seconds at most) until an evchat server has no more
/// logged-in users than `before`: the fleet's QUITs have been processed, so
/// the next run can log the same names in again without `ERR 409`.
/// `n` logged-in connections that only listen, and how many users the
/// server had before them (for [`settle`]).
pub fn bystanders(
    target: Target,
    addr: SocketAddr,
    n: usize,
    s: &Settings,
) -> Result<(Fleet, Option<u64>), String> {
    let users = server_stats(target, addr)?.map(|st| st.users);
    let spec = FleetSpec {
        target,
        addrs: vec![addr],
        receivers: n,
        publishers: 0,
        receivers_publish: false,
        readers: s.readers,
        ws: None,
        irc: false,
        rooms: Default::default(),
    };
    let fleet = Fleet::open(&spec, PATIENCE).map_err(|e| format!("set-up failed: {e}"))?;
    Ok((fleet, users))
}

pub fn settle(target: Target, addr: SocketAddr, before: Option<u64>) {
    let Some(before) = before else { return };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match server_stats(target, addr) {
            Ok(Some(st)) if st.users > before => std::thread::sleep(Duration::from_millis(5)),
            _ => return,
        }
    }
}
