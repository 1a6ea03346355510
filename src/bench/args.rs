//! The command line of `evchat-bench`: which scenarios, against what, how
//! big and how long.

use super::flooder::Flood;
use super::transport::TransportArg;
use super::wire::Target;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Scenario names on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    Fanout,
    Mesh,
    Private,
    Connect,
    Idle,
    Flood,
    /// R rooms of M members (--rooms, --members, --rooms-per-user).
    Rooms,
    /// Three evchat nodes over three clustered nats-servers, all started
    /// by the bench (not part of `all`).
    Cluster,
    All,
}

#[derive(Debug, Parser)]
#[command(
    name = "evchat-bench",
    version,
    about = "Measure fan-out throughput and latency of evchat, Redis pub/sub and NATS",
    after_help = "Examples:\n  evchat-bench fanout --compare --sizes 100,1000\n  \
                  evchat-bench fanout --compare --transport all --sizes 100,1000\n  \
                  evchat-bench fanout --compare --transport irc --sizes 100,1000\n  \
                  evchat-bench flood --flood say,pong --flood-seconds 20\n  \
                  evchat-bench rooms --compare --rooms 100,10000 --members 100,10\n  \
                  evchat-bench cluster --sizes 300 --shared-port 2"
)]
pub struct BenchArgs {
    /// Scenarios to run [default: fanout].
    #[arg(value_enum)]
    pub scenarios: Vec<Which>,
    /// Start evchat-server, redis-server and nats-server (and, for
    /// --transport irc, inspircd) on free ports and measure each in turn
    /// (a peer not installed is skipped).
    #[arg(long, conflicts_with = "addr")]
    pub compare: bool,
    /// Protocol of the server at --addr (inspircd: with --transport irc).
    #[arg(long, value_enum, default_value = "evchat")]
    pub target: Target,
    /// How clients connect: line (the server's own protocol over TCP), ws
    /// (fanout's subscribers inside WebSocket frames: evchat's /ws on its
    /// chat port, nats-server's websocket listener; Redis has none;
    /// publishers stay on line), irc (every client of fanout, mesh,
    /// private or rooms speaks IRC: evchat's on its chat port, where
    /// PRIVMSG #everyone is a SAY, and InspIRCd's, which --compare starts,
    /// where everyone joins #bench), or all (the three, side by side).
    /// Other scenarios run on line only.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "line")]
    pub transport: Vec<TransportArg>,
    /// Address of a running server to measure.
    ///
    /// What a run leaves behind on an evchat server: the bench logs in as
    /// bench-0, bench-1, ... bench-<K-1>, where K is the most connections one
    /// scenario opens at once (N, plus its publishers; N + 3 for flood). An
    /// open server (no --users) remembers every name that has logged in, in
    /// its data directory, until its --max-known bound forgets the least
    /// recently seen; since every run uses the same names, repeated runs add
    /// no more than the largest K once. A run that completes has every
    /// message it sent delivered, so nothing is held for offline users
    /// (one that fails midway may leave a few held). The server's
    /// counters (STATS) grow. The rooms scenario joins rooms #bench-r0,
    /// #bench-r1, ... and leaves them all at the end of each run, so they
    /// are gone; its publishers need --max-rooms-per-user of R / P. A
    /// server with --users refuses the bench's password-less logins.
    #[arg(long, default_value = "127.0.0.1:5555")]
    pub addr: SocketAddr,
    /// WebSocket listener of the server at --addr, for --transport ws
    /// [default: --addr, where evchat serves /ws].
    #[arg(long, conflicts_with = "compare")]
    pub ws_addr: Option<SocketAddr>,
    /// Pid of the server at --addr, to report its CPU and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Sizes N to run (subscribers, clients or connections; in flood, idle
    /// bystanders besides the flooder and the pair); each scenario has its
    /// own defaults.
    #[arg(long, value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// Publishers in fanout and rooms (in rooms, each says things in its
    /// own share of the rooms, so it must divide --rooms).
    #[arg(long, default_value_t = 1)]
    pub publishers: usize,
    /// Rooms in the rooms scenario, one run per value; each run's members
    /// per room is the --members at the same place (or the last one).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    pub rooms: Vec<usize>,
    /// Members of each room in the rooms scenario (see --rooms).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    pub members: Vec<usize>,
    /// Rooms each user is in, in the rooms scenario: users = rooms ×
    /// members ÷ this.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub rooms_per_user: usize,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Messages per publisher [default: about 5 million deliveries a run];
    /// in flood, frames the flooder sends [default: it floods until the
    /// pair is done].
    #[arg(long)]
    pub messages: Option<u64>,
    /// Most messages publishers may run ahead of the slowest receiver
    /// [default: 128 MiB of frames in flight over all receivers, 64..4096;
    /// small windows measure per-write overhead, not fan-out]; in flood,
    /// frames the flooder may be ahead of the slowest receiver of its say
    /// or msg flood [default: 6 MiB of frames].
    #[arg(long)]
    pub window: Option<u64>,
    /// Rounds per target; targets alternate within a round.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Reader threads of the probe (cluster: always 3, one per node).
    #[arg(long, default_value_t = 2)]
    pub readers: usize,
    /// Latency is measured at this fraction of the measured maximum rate
    /// (with --compare, of Redis's maximum, for every target alike).
    #[arg(long, default_value_t = 0.5)]
    pub latency_fraction: f64,
    /// Measure latency at this many publishes per second instead (per
    /// size, for every target): compares separate runs, say of two builds
    /// of a server at --addr, at the same load.
    #[arg(long, value_name = "PUBLISHES_PER_S")]
    pub latency_rate: Option<f64>,
    /// Length of each latency phase, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub latency_seconds: f64,
    /// Flood variants for the flood scenario [default: all three]: say
    /// (broadcasts to everyone), msg (private messages to itself), pong
    /// (PONG frames, which the server only parses).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub flood: Vec<Flood>,
    /// Seconds the flood scenario's pair does round trips, back to back,
    /// while the flood goes on (a flood's harm may grow with its length, so
    /// servers are compared over the same time). Against a server at --addr,
    /// keep it under that server's --idle-timeout: B and the bystanders only
    /// listen and do not answer keep-alive PINGs.
    #[arg(long, default_value_t = 10.0)]
    pub flood_seconds: f64,
    /// Most round trips of the flood scenario's pair [default: as many as
    /// fit in --flood-seconds].
    #[arg(long)]
    pub round_trips: Option<u64>,
    /// Processes sharing one port (--reuse-port) in the cluster scenario,
    /// measured against one node alone.
    #[arg(long, value_name = "K", default_value_t = 2)]
    pub shared_port: usize,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}
