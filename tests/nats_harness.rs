//! The NATS test harness itself: a real nats-server cluster with JetStream
//! comes up, survives the loss of one server, takes it back, and works
//! with the client crate the backplane is built on (async-nats 0.40.0).

mod common;

use std::collections::BTreeSet;

use common::nats::{nats_server_available, NatsCluster};
use common::PATIENCE;

/// The meta leader every running server names (they must agree).
fn agreed_leader(cluster: &NatsCluster, running: &[usize]) -> String {
    let leaders: BTreeSet<Option<String>> =
        running.iter().map(|&i| cluster.meta_leader(i)).collect();
    assert_eq!(leaders.len(), 1, "servers disagree: {leaders:?}");
    leaders
        .into_iter()
        .next()
        .flatten()
        .unwrap_or_else(|| panic!("no meta leader\n{}", cluster.logs()))
}

#[test]
fn three_servers_elect_a_meta_leader_over_full_routes() {
    if !nats_server_available() {
        return;
    }
    let cluster = NatsCluster::start(3);
    for i in 0..3 {
        assert_eq!(cluster.num_routes(i), Some(2), "{}", cluster.logs());
    }
    let leader = agreed_leader(&cluster, &[0, 1, 2]);
    assert!((0..3).any(|i| cluster.name(i) == leader), "{leader}");
    let urls: BTreeSet<String> = cluster.urls().split(',').map(str::to_owned).collect();
    assert_eq!(urls, (0..3).map(|i| cluster.url(i)).collect());
}

#[test]
fn the_two_left_after_a_kill_agree_and_the_killed_one_rejoins() {
    if !nats_server_available() {
        return;
    }
    let mut cluster = NatsCluster::start(3);
    // Killing the meta leader is the harder case: the others must elect.
    let old = agreed_leader(&cluster, &[0, 1, 2]);
    let victim = (0..3).find(|&i| cluster.name(i) == old).unwrap();
    let others: Vec<usize> = (0..3).filter(|&i| i != victim).collect();
    let url = cluster.url(victim);

    cluster.kill(victim);
    assert!(!cluster.is_running(victim));
    cluster.wait_meshed();
    cluster.wait_jetstream();
    for &i in &others {
        assert_eq!(cluster.num_routes(i), Some(1), "{}", cluster.logs());
    }
    let new = agreed_leader(&cluster, &others);
    assert_ne!(new, old, "the dead server is still the leader");

    cluster.restart(victim);
    assert_eq!(cluster.url(victim), url, "same ports after a restart");
    assert_eq!(cluster.num_routes(victim), Some(2), "{}", cluster.logs());
    for &i in &others {
        assert_eq!(cluster.num_routes(i), Some(2), "{}", cluster.logs());
    }
    assert_eq!(agreed_leader(&cluster, &[0, 1, 2]), new);
    assert!(
        cluster.log(victim).contains("--- harness: restarted ---"),
        "the log keeps both runs"
    );
}

#[test]
fn one_server_runs_jetstream_and_restarts() {
    if !nats_server_available() {
        return;
    }
    let mut cluster = NatsCluster::start(1);
    assert_eq!(cluster.urls(), cluster.url(0));
    assert_eq!(cluster.num_routes(0), Some(0));
    let jsz = cluster.jsz(0).expect("/jsz");
    assert_eq!(
        jsz["config"]["max_memory"].as_u64(),
        Some(64 * 1024 * 1024),
        "{jsz}"
    );
    assert_eq!(
        jsz["config"]["max_storage"].as_u64(),
        Some(512 * 1024 * 1024)
    );
    let store = jsz["config"]["store_dir"].as_str().unwrap().to_owned();
    assert!(
        store.starts_with(cluster.store_dir(0).to_str().unwrap()),
        "{store}"
    );

    let url = cluster.url(0);
    cluster.kill(0);
    cluster.restart(0);
    assert_eq!(cluster.url(0), url);
    assert_eq!(cluster.jsz(0).expect("/jsz")["config"]["store_dir"], store);
}

/// The pinned client against the installed server: a key-value bucket
/// replicated on all three servers.
#[test]
fn async_nats_keeps_a_key_value_bucket_on_three_replicas() {
    if !nats_server_available() {
        return;
    }
    let cluster = NatsCluster::start(3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.split(',').collect();
    let session = async {
        let client = async_nats::connect(urls.as_slice()).await?;
        let jetstream = async_nats::jetstream::new(client);
        let kv = jetstream
            .create_key_value(async_nats::jetstream::kv::Config {
                bucket: "harness".to_owned(),
                num_replicas: 3,
                ..Default::default()
            })
            .await?;
        kv.put("greeting", "hello".into()).await?;
        let value = kv.get("greeting").await?;
        let status = kv.status().await?;
        Ok::<_, async_nats::Error>((value, status.info))
    };
    let (value, info) = runtime
        .block_on(async { tokio::time::timeout(PATIENCE, session).await })
        .unwrap_or_else(|_| panic!("no answer within {PATIENCE:?}\n{}", cluster.logs()))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(info.config.num_replicas, 3);
    let group = info.cluster.expect("a clustered stream");
    let mut members: BTreeSet<String> = group.replicas.into_iter().map(|p| p.name).collect();
    members.extend(group.leader);
    let names: BTreeSet<String> = (0..3).map(|i| cluster.name(i).to_owned()).collect();
    assert_eq!(members, names, "the bucket is on every server");
}
