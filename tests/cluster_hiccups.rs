//! JetStream hiccups do not reach users: one NATS server of three killed
//! (JetStream keeps its quorum) is invisible to users of nodes connected
//! to the other two, even while streams elect new leaders. Real
//! nats-server and evchat-server processes; skipped without nats-server,
//! except under CI.

mod common;

use common::cluster::{node, node_within};
use common::nats::{nats_server_available, NatsCluster};
use common::{Line, TestServer, PATIENCE};
use evchat::bench::nats::http_json;
use std::net::SocketAddr;
use std::time::Instant;

/// The server (by number) leading `stream`, as the running servers say.
fn stream_leader(nats: &NatsCluster, stream: &str) -> usize {
    let deadline = Instant::now() + PATIENCE;
    loop {
        for i in (0..nats.len()).filter(|&i| nats.is_running(i)) {
            let monitor = SocketAddr::from(([127, 0, 0, 1], nats.http_port(i)));
            let Ok(jsz) = http_json(monitor, "/jsz?accounts=true&streams=true") else {
                continue;
            };
            let accounts = jsz["account_details"].as_array().cloned();
            for account in accounts.unwrap_or_default() {
                let streams = account["stream_detail"].as_array().cloned();
                for s in streams.unwrap_or_default() {
                    let leader = s["cluster"]["leader"].as_str().unwrap_or_default();
                    if s["name"] == stream && !leader.is_empty() {
                        if let Some(at) = (0..nats.len()).find(|&k| nats.name(k) == leader) {
                            return at;
                        }
                    }
                }
            }
        }
        assert!(Instant::now() < deadline, "no leader of {stream}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Logs in as `name` once: the server's first answer must be `OK LOGIN`.
fn login_at_once(addr: SocketAddr, name: &str) -> Line {
    let mut line = Line::connect(addr);
    line.send(&format!("LOGIN {name}"));
    let answer = line.recv();
    assert_eq!(answer, format!("OK LOGIN {name}"));
    line
}

/// Logs in as `name`, again while the answer is `ERR 503`: a login the
/// election outlasted (the test above is about those).
fn login_through_election(addr: SocketAddr, name: &str) -> Line {
    let mut line = Line::connect(addr);
    let deadline = Instant::now() + 2 * PATIENCE;
    loop {
        line.send(&format!("LOGIN {name}"));
        let answer = line.recv();
        if answer == format!("OK LOGIN {name}") {
            return line;
        }
        let retry = answer.starts_with("ERR 503 ") && Instant::now() < deadline;
        assert!(retry, "{answer}");
    }
}

/// Three NATS servers and a node on each of two of them, just after the
/// third — the one leading the names bucket — was killed: every claim
/// needs a new leader, elected while what follows comes in.
fn names_leader_killed() -> (NatsCluster, Vec<TestServer>) {
    let mut nats = NatsCluster::start(3);
    let replicas = ["--cluster-replicas", "3"];
    // A first node makes the buckets and streams, then goes.
    let mut first = node(&nats.urls(), "first", &replicas);
    first.login("seed").send("QUIT");
    first.signal(libc::SIGTERM);
    first.wait_exit();
    let leader = stream_leader(&nats, "KV_evchat_names");
    let nodes = (0..3)
        .filter(|&i| i != leader)
        .map(|i| node(&nats.url(i), &format!("n{i}"), &replicas))
        .collect();
    nats.kill(leader);
    (nats, nodes)
}

#[test]
fn logins_on_nodes_of_the_two_servers_left_are_not_refused_while_streams_elect_leaders() {
    if !nats_server_available() {
        return;
    }
    let (_nats, nodes) = names_leader_killed();
    let started = Instant::now();
    let mut users = Vec::new();
    for round in 0..3 {
        for (k, server) in nodes.iter().enumerate() {
            users.push(login_at_once(server.addr, &format!("u{round}n{k}")));
        }
    }
    eprintln!(
        "6 logins after the names leader was killed took {:?}",
        started.elapsed()
    );
    drop(users);
}

/// The first two users, on the two nodes, chat: a private message from
/// one reaches the other.
fn chat_across(nodes: &[TestServer], from: Line, to: Line) {
    let (mut from, mut to) = (from, to);
    // While the names view catches
    // up, the recipient may look offline there, and mail held for an
    // offline user may still get ERR 503 during the election
    // (CLUSTER.md): then the sender is told, and sends again.
    let deadline = Instant::now() + PATIENCE;
    loop {
        from.send("MSG u0n1 still here");
        let replies: Vec<String> = from
            .sync()
            .into_iter()
            .filter(|r| r.starts_with("ERR "))
            .collect();
        if replies.is_empty() {
            break;
        }
        let retry = replies.iter().all(|r| r.starts_with("ERR 503 "));
        assert!(retry && Instant::now() < deadline, "{replies:?}");
    }
    // A hang guard, over all lines (keep-alive PINGs come meanwhile): the
    // sender's node may have taken the recipient for offline and held the
    // message, which the recipient's node fetches — again, if JetStream,
    // electing, did not answer the first time.
    let deadline = Instant::now() + 2 * PATIENCE;
    let heard = loop {
        let line = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| to.recv())).ok();
        let Some(line) = line.filter(|_| Instant::now() < deadline) else {
            panic!(
                "not delivered; logs:\n{}\n----\n{}",
                nodes[0].log(),
                nodes[1].log()
            );
        };
        if let Some(token) = line.strip_prefix("PING ") {
            to.send(&format!("PONG {token}"));
        } else if line.starts_with("MSG ") {
            break line;
        }
    };
    assert!(heard.ends_with(" still here"), "{heard}");
}

/// Right after a NATS server is killed, a private message between users of
/// two nodes arrives. The sender's node, whose view of the names lags, may
/// hold it for the recipient as if offline; the recipient's node then
/// fetches it while JetStream elects the new mailbox consumer's leader, and
/// must ask again if that fetch is not answered (it once gave up until the
/// recipient's next login: a clean `PONG`, and nothing delivered). On
/// failure it prints both nodes' logs.
#[test]
fn a_private_message_across_nodes_right_after_a_nats_server_dies_arrives() {
    if !nats_server_available() {
        return;
    }
    let (_nats, nodes) = names_leader_killed();
    let from = login_through_election(nodes[0].addr, "u0n0");
    let to = login_through_election(nodes[1].addr, "u0n1");
    chat_across(&nodes, from, to);
}

/// A node started while JetStream has no quorum (two NATS servers of three
/// down) waits for it, saying so in its log, and serves users once the
/// servers are back — as when several nodes start at once on a fresh
/// cluster still electing its first leaders.
#[test]
fn a_node_started_before_jetstream_has_a_quorum_waits_for_it() {
    if !nats_server_available() {
        return;
    }
    start_without_quorum(false);
}

/// The same on a cluster whose buckets and streams exist already (three
/// copies each): the node finds them, then waits to claim its node name.
#[test]
fn a_node_started_while_its_cluster_has_lost_its_quorum_waits_for_it() {
    if !nats_server_available() {
        return;
    }
    start_without_quorum(true);
}

/// Starts a node while two NATS servers of three are down (the buckets
/// made first if `seeded`), checks it keeps asking, brings the servers
/// back, and checks it serves.
fn start_without_quorum(seeded: bool) {
    let mut nats = NatsCluster::start(3);
    let replicas = ["--cluster-replicas", "3"];
    if seeded {
        let mut first = node(&nats.urls(), "first", &replicas);
        first.signal(libc::SIGTERM);
        first.wait_exit();
    }
    nats.kill(1);
    nats.kill(2);
    let url = nats.url(0);
    // It listens only once JetStream has answered.
    let starting = std::thread::spawn(move || {
        node_within(&url, "a", &["--cluster-replicas", "3"], 3 * PATIENCE)
    });
    // The node has reached the server left, and asks JetStream, which
    // does not answer: it asks again and again rather than give up.
    let monitor = SocketAddr::from(([127, 0, 0, 1], nats.http_port(0)));
    let deadline = Instant::now() + 2 * PATIENCE;
    let mut connected = false;
    loop {
        let connz = http_json(monitor, "/connz").expect("connz");
        let asked = connz["connections"][0]["in_msgs"].as_u64();
        if asked >= Some(4) {
            break;
        }
        assert!(asked.is_some() || !connected, "the node gave up: {connz}");
        connected |= asked.is_some();
        assert!(Instant::now() < deadline, "the node never asked JetStream");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    nats.restart(1);
    nats.restart(2);
    let a = starting.join().expect("the node did not start");
    let mut alice = login_at_once(a.addr, "alice");
    alice.send("WHO");
    assert_eq!(alice.sync(), ["USERS alice"]);
}
