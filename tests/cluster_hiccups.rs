//! JetStream hiccups do not reach users: one NATS server of three killed
//! (JetStream keeps its quorum) is invisible to users of nodes connected
//! to the other two, even while streams elect new leaders. Real
//! nats-server and evchat-server processes; skipped without nats-server,
//! except under CI.

mod common;

use common::cluster::node;
use common::nats::{nats_server_available, NatsCluster};
use common::{Line, PATIENCE};
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

#[test]
fn logins_on_nodes_of_the_two_servers_left_are_not_refused_while_streams_elect_leaders() {
    if !nats_server_available() {
        return;
    }
    let mut nats = NatsCluster::start(3);
    let replicas = ["--cluster-replicas", "3"];
    // A first node makes the buckets and streams, then goes.
    let mut first = node(&nats.urls(), "first", &replicas);
    first.login("seed").send("QUIT");
    first.signal(libc::SIGTERM);
    first.wait_exit();
    // Kill the server that leads the names bucket: every claim needs a
    // new leader, elected while the logins below come in.
    let leader = stream_leader(&nats, "KV_evchat_names");
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let nodes: Vec<_> = others
        .iter()
        .map(|&i| node(&nats.url(i), &format!("n{i}"), &replicas))
        .collect();
    nats.kill(leader);
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
    // And they chat across the two nodes.
    let (mut from, mut to) = (users.remove(0), users.remove(0));
    from.send("MSG u0n1 still here");
    let heard = loop {
        let line = to.recv();
        if let Some(token) = line.strip_prefix("PING ") {
            to.send(&format!("PONG {token}"));
        } else if line.starts_with("MSG ") {
            break line;
        }
    };
    assert!(heard.ends_with(" still here"), "{heard}");
}
