//! What each scenario's tables show: which figures, under which headings,
//! grouped into tables narrow enough for 100 columns (the layout is in
//! [`report`](super::report)).

use super::scenario::Kind;

/// How a column shows its figure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Median, with min–max when there was more than one round.
    Ranged,
    /// Median only, as a percentage (a share of the time).
    Percent,
    /// The row's peak RSS (not a per-round figure).
    PeakRss,
}

/// (key, heading, how).
pub type Col = (&'static str, &'static str, Show);

/// One small table: its label (heading of the target column) and columns.
/// No table has more than three `Ranged` columns, so none is wider than
/// 100 columns (`report`'s tests check it).
pub type Table = (&'static str, &'static [Col]);

const PEAK_RSS: Col = ("peak_rss", "peak RSS", Show::PeakRss);

use Show::{Percent, Ranged};

/// Fanout, mesh, private and rooms.
const MESSAGES: &[Table] = &[
    (
        "throughput",
        &[
            ("deliveries_per_s", "deliveries/s", Ranged),
            ("mb_per_s", "MB/s", Ranged),
        ],
    ),
    (
        "latency",
        &[
            ("p50_us", "p50 µs", Ranged),
            ("p99_us", "p99 µs", Ranged),
            ("p999_us", "p99.9 µs", Ranged),
        ],
    ),
    (
        "cost",
        &[
            ("server_cpu_s_per_m", "srv CPU s/M", Ranged),
            ("server_busy", "srv busy", Percent),
            ("probe_busy", "probe busy", Percent),
            PEAK_RSS,
        ],
    ),
];

const CLUSTER: &[Table] = &[
    (
        "throughput",
        &[
            ("deliveries_per_s", "deliveries/s", Ranged),
            ("bus_out_per_s", "bus out/s", Ranged),
            ("bus_in_per_s", "bus in/s", Ranged),
        ],
    ),
    (
        "latency",
        &[
            ("p50_us", "probe p50 µs", Ranged),
            ("p99_us", "probe p99 µs", Ranged),
            ("all_p99_us", "all p99 µs", Ranged),
        ],
    ),
    (
        "CPU s/M",
        &[
            ("n1_cpu_s_per_m", "node 1", Ranged),
            ("n2_cpu_s_per_m", "node 2", Ranged),
            ("n3_cpu_s_per_m", "node 3", Ranged),
        ],
    ),
    (
        "cost",
        &[
            ("server_cpu_s_per_m", "all srv s/M", Ranged),
            ("nats_cpu_s_per_m", "NATS s/M", Ranged),
            ("server_busy", "srv busy", Percent),
            ("probe_busy", "probe busy", Percent),
        ],
    ),
];

const CONNECT: &[Table] = &[(
    "connect",
    &[
        ("connections_per_s", "conns/s", Ranged),
        ("server_cpu_ms_per_conn", "srv CPU ms/conn", Ranged),
        PEAK_RSS,
    ],
)];

const IDLE: &[Table] = &[(
    "memory",
    &[
        ("rss_kib_per_conn", "KiB/conn", Ranged),
        ("rss_mib", "RSS MiB", Ranged),
        PEAK_RSS,
    ],
)];

/// The three flood variants.
const FLOOD: &[Table] = &[
    (
        "A→B msg",
        &[
            ("msg_p50_us", "p50 µs", Ranged),
            ("msg_p99_us", "p99 µs", Ranged),
            ("msg_max_us", "max µs", Ranged),
        ],
    ),
    (
        "A PING",
        &[
            ("ping_p50_us", "p50 µs", Ranged),
            ("ping_p99_us", "p99 µs", Ranged),
            ("ping_max_us", "max µs", Ranged),
        ],
    ),
    (
        "flood",
        &[
            ("flood_frames_per_s", "frames/s", Ranged),
            ("round_trips", "round trips", Ranged),
            ("server_busy", "srv busy", Percent),
            PEAK_RSS,
        ],
    ),
];

/// The tables shown for each kind of scenario.
pub fn tables(kind: Kind) -> &'static [Table] {
    match kind {
        Kind::Fanout | Kind::Mesh | Kind::Private | Kind::Rooms => MESSAGES,
        Kind::Cluster => CLUSTER,
        Kind::Connect => CONNECT,
        Kind::Idle => IDLE,
        Kind::FloodSay | Kind::FloodMsg | Kind::FloodPong => FLOOD,
    }
}

/// The figures compared between evchat and each peer: (key, wording).
pub fn compared(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::Fanout | Kind::Mesh | Kind::Private | Kind::Rooms => &[
            ("deliveries_per_s", "deliveries/s"),
            ("server_cpu_s_per_m", "server CPU per delivery"),
            ("p99_us", "p99 latency"),
        ],
        Kind::Connect => &[("connections_per_s", "conns/s")],
        // Compared in the cluster's own summary.
        Kind::Cluster => &[],
        Kind::Idle => &[("rss_kib_per_conn", "KiB/conn")],
        Kind::FloodSay | Kind::FloodMsg | Kind::FloodPong => &[
            ("msg_p99_us", "p99 A→B"),
            ("ping_p99_us", "p99 PING"),
            ("flood_frames_per_s", "flood frames/s"),
        ],
    }
}
