//! Rooms across a cluster: one room whatever node its members are on,
//! what it said kept in JetStream — so a member gets it at login on any
//! node, and a node started later knows it — and a node's `kill -9`
//! losing nothing stored. Real nats-server and evchat-server processes;
//! skipped without nats-server, except under CI.

mod common;

use common::cluster::node;
use common::nats::{nats_server_available, NatsCluster, RawNats};
use common::run_with_stdin;
use std::process::Command;

/// The text of a `MSG <from> <to> <time> <text>` line.
fn text_of(msg: &str) -> &str {
    msg.splitn(5, ' ').nth(4).unwrap_or_default()
}

#[test]
fn a_room_is_one_room_across_nodes() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let a = node(&nats.urls(), "a", &[]);
    let b = node(&nats.urls(), "b", &[]);
    let mut amy = a.login("amy");
    amy.send("JOIN #Rust");
    amy.expect("JOIN amy #Rust ");
    let mut bob = b.login("bob");
    bob.send("JOIN #rust");
    // Spelt as its creator wrote it, on every node.
    bob.expect("JOIN bob #Rust ");
    amy.until("JOIN bob #Rust ");

    amy.send("MSG #rust hello from a");
    let msg = bob.until("MSG amy #Rust ");
    assert_eq!(text_of(&msg), "hello from a");
    bob.send("MSG #RUST,amy hello from b");
    let msg = amy.until("MSG bob #Rust,amy ");
    assert_eq!(text_of(&msg), "hello from b");
    // Once, though named and a member.
    amy.send("WHO #rust");
    assert_eq!(amy.sync(), ["USERS #Rust @amy bob"]);

    bob.send("ROOMS");
    assert_eq!(bob.sync(), ["ROOMS #Rust"]);
    bob.send("PART #rust see you");
    bob.expect("PART bob #Rust ");
    let part = amy.until("PART bob #Rust ");
    assert!(part.ends_with(" see you"), "{part}");
    // Not a member any more, on either node.
    bob.send("MSG #rust still here?");
    assert_eq!(bob.sync(), ["ERR 403 not in #Rust; nothing was sent"]);
    amy.send("WHO #rust");
    assert_eq!(amy.sync(), ["USERS #Rust @amy"]);
}

#[test]
fn history_and_catch_up_come_from_any_node() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let a = node(&nats.urls(), "a", &[]);
    let b = node(&nats.urls(), "b", &[]);
    let mut amy = a.login("amy");
    amy.send("JOIN #r");
    amy.expect("JOIN amy #r ");
    for i in 1..=3 {
        amy.send(&format!("MSG #r before {i}"));
    }
    assert!(amy.sync().is_empty());

    // Joining on another node: the history first, oldest first.
    let mut cat = b.login("cat");
    cat.send("JOIN #r");
    cat.expect("JOIN cat #r ");
    let history: Vec<String> = cat.sync();
    let texts: Vec<&str> = history.iter().map(|l| text_of(l)).collect();
    assert_eq!(texts, ["before 1", "before 2", "before 3"], "{history:?}");

    // amy leaves; what is said while she is away comes at her next
    // login, on the other node, after her JOIN for the room.
    amy.send("QUIT");
    amy.until_closed();
    cat.until("LEFT amy");
    cat.send("MSG #r while away 1");
    cat.send("MSG #r while away 2");
    assert!(cat.sync().is_empty());
    let mut amy = b.login("amy");
    let join = amy.recv();
    assert!(join.starts_with("JOIN amy #r "), "{join}");
    let caught_up = amy.sync();
    let texts: Vec<&str> = caught_up.iter().map(|l| text_of(l)).collect();
    assert!(
        texts.ends_with(&["while away 1", "while away 2"]),
        "{caught_up:?}"
    );
    assert!(
        caught_up.iter().all(|l| l.starts_with("MSG ")),
        "{caught_up:?}"
    );

    // A node started now knows the room and what it said.
    let c = node(&nats.urls(), "c", &[]);
    let mut dan = c.login("dan");
    dan.send("JOIN #r");
    dan.expect("JOIN dan #r ");
    let history = dan.sync();
    let texts: Vec<&str> = history.iter().map(|l| text_of(l)).collect();
    assert_eq!(
        texts,
        [
            "before 1",
            "before 2",
            "before 3",
            "while away 1",
            "while away 2"
        ]
    );
}

#[test]
fn what_a_room_was_told_survives_its_nodes_kill_9() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let mut a = node(&nats.urls(), "a", &[]);
    let mut bob = a.login("bob");
    bob.send("JOIN #ops");
    bob.expect("JOIN bob #ops ");
    bob.send("MSG #ops the disk is full");
    // Its PONG: the message is stored.
    assert!(bob.sync().is_empty());
    a.kill();

    let b = node(&nats.urls(), "b", &[]);
    let mut eve = b.login("eve");
    eve.send("JOIN #ops");
    eve.expect("JOIN eve #ops ");
    let history = eve.sync();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(text_of(&history[0]), "the disk is full");
    // bob is still a member: his membership is the cluster's, not his
    // node's.
    eve.send("MSG #ops and now?");
    assert!(eve.sync().is_empty());
    let mut bob = common::cluster::login_eventually(&b, "LOGIN bob");
    let join = bob.until("JOIN bob #ops ");
    assert!(join.starts_with("JOIN bob #ops "));
    let caught_up = bob.sync();
    let texts: Vec<&str> = caught_up.iter().map(|l| text_of(l)).collect();
    assert!(texts.ends_with(&["and now?"]), "{caught_up:?}");
}

/// A node started on a rooms bucket with many entries: the stream's
/// messages came in while the bucket was still being replayed, before the
/// joins that made their rooms, and were dropped from the node's copy (all
/// 100 rooms' histories empty behind 50,000 memberships).
#[test]
fn a_node_started_on_a_big_bucket_keeps_every_rooms_history() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    // A first node makes the bucket, and goes: the memberships below are
    // replayed at a start, not followed live.
    node(&nats.urls(), "maker", &[]).kill();
    // Memberships of other rooms, first in the bucket: as 5,000 rooms of
    // ten members each would leave them.
    let mut raw = RawNats::connect(nats.client_addr(0));
    let stamp = "2026-01-01T00:00:00.000Z";
    for i in 0..50_000 {
        let (room, name) = (i % 5_000, i / 5_000);
        let entry = format!("J {stamp} #f{room}");
        raw.publish(
            &format!("$KV.evchat_rooms.r.f{room}.x{name}"),
            entry.as_bytes(),
        );
    }
    raw.flush();
    let a = node(&nats.urls(), "a", &[]);
    let mut amy = a.login("amy");
    let rooms = 20;
    for r in 0..rooms {
        amy.send(&format!("JOIN #r{r}"));
    }
    for r in 0..rooms {
        amy.send(&format!("MSG #r{r} said in {r}"));
    }
    amy.sync();

    let b = node(&nats.urls(), "b", &[]);
    let mut bob = b.login("bob");
    for r in 0..rooms {
        bob.send(&format!("JOIN #r{r}"));
        bob.expect(&format!("JOIN bob #r{r} "));
        let history = bob.sync();
        let texts: Vec<&str> = history.iter().map(|l| text_of(l)).collect();
        assert_eq!(texts, [format!("said in {r}")], "#r{r} on b");
    }
}

/// A node whose watch of the bucket is behind its consumer of the stream
/// (here: paused while 5,000 memberships were written, then resumed):
/// a room's first message came before the join that made the room there,
/// and was not kept — a member joining there never got it, neither in the
/// room's history nor live.
#[test]
fn a_message_is_kept_by_a_node_whose_bucket_watch_is_behind() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let a = node(&nats.urls(), "a", &[]);
    let b = node(&nats.urls(), "b", &[]);
    b.pause();
    let mut raw = RawNats::connect(nats.client_addr(0));
    let stamp = "2026-01-01T00:00:00.000Z";
    for i in 0..5_000 {
        let (room, name) = (i % 500, i / 500);
        let entry = format!("J {stamp} #f{room}");
        raw.publish(
            &format!("$KV.evchat_rooms.r.f{room}.x{name}"),
            entry.as_bytes(),
        );
    }
    raw.flush();
    let mut amy = a.login("amy");
    let rooms = 10;
    for r in 0..rooms {
        amy.send(&format!("JOIN #new{r}"));
        amy.send(&format!("MSG #new{r} first in {r}"));
    }
    amy.sync();
    b.resume();

    // Each once: in the room's history, or live if it reaches b after
    // the JOIN (b's consumer may be slower than its watch, too).
    let mut bob = b.login("bob");
    for r in 0..rooms {
        bob.send(&format!("JOIN #new{r}"));
    }
    let mut got = Vec::new();
    while got.len() < rooms {
        let line = bob.until("MSG amy ");
        got.push(text_of(&line).to_owned());
    }
    got.sort();
    let mut want: Vec<String> = (0..rooms).map(|r| format!("first in {r}")).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(bob.sync().iter().all(|l| !l.starts_with("MSG")), "twice");
}

/// The node whose user left a room last purges what the room said. When
/// that node was slow to apply the leaving (paused here; the leaving
/// stands in the bucket meanwhile, as a `PART` stored just before a stall
/// would), someone had made the room again on another node and said
/// something in it — and the late purge took that away from the stream: a
/// node started afterwards did not have it, though its sender had the
/// `PONG`.
#[test]
fn a_late_purge_of_a_gone_room_spares_what_was_said_after() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let a = node(&nats.urls(), "a", &[]);
    let b = node(&nats.urls(), "b", &[]);
    let mut amy = a.login("amy");
    amy.send("JOIN #r");
    amy.expect("JOIN amy #r ");
    amy.send("MSG #r before");
    amy.sync();
    a.pause();
    let mut raw = RawNats::connect(nats.client_addr(0));
    raw.publish("$KV.evchat_rooms.r.r.amy", b"P 2026-01-01T00:00:00.000Z #r");
    raw.flush();
    let mut bob = b.login("bob");
    bob.send("JOIN #r");
    bob.expect("JOIN bob #r ");
    bob.send("MSG #r after");
    bob.sync();
    a.resume();
    // a has applied amy's leaving (and purged) once it answers amy.
    assert!(amy.until("PART amy #r").starts_with("PART amy #r"));
    amy.sync();

    let c = node(&nats.urls(), "c", &[]);
    let mut cy = c.login("cy");
    cy.send("JOIN #r");
    cy.expect("JOIN cy #r ");
    let history = cy.sync();
    let texts: Vec<&str> = history.iter().map(|l| text_of(l)).collect();
    assert_eq!(texts, ["after"], "{history:?}");
}

#[test]
fn an_account_deleted_in_the_cluster_leaves_its_rooms() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let server = || Command::new(env!("CARGO_BIN_EXE_evchat-server"));
    for name in ["gus", "amy"] {
        let mut add = server();
        add.args(["user", "add", name, "--cluster", &nats.urls()]);
        assert!(run_with_stdin(&mut add, b"hunter22\n").status.success());
    }
    let a = node(&nats.urls(), "a", &[]);
    let mut gus = common::cluster::login_eventually(&a, "LOGIN gus hunter22");
    gus.send("JOIN #r");
    gus.expect("JOIN gus #r ");
    gus.send("QUIT");
    gus.until_closed();
    let mut amy = common::cluster::login_eventually(&a, "LOGIN amy hunter22");
    amy.send("JOIN #r");
    amy.expect("JOIN amy #r ");
    amy.send("PING in");
    assert_eq!(amy.until("PONG"), "PONG in");

    let out = server()
        .args(["user", "del", "gus", "--cluster", &nats.urls()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let part = amy.until("PART gus #r ");
    assert!(part.ends_with(" account deleted"), "{part}");
    // An account made again under that name starts in no room.
    let mut add = server();
    add.args(["user", "add", "gus", "--cluster", &nats.urls()]);
    assert!(run_with_stdin(&mut add, b"hunter33\n").status.success());
    let mut gus = common::cluster::login_eventually(&a, "LOGIN gus hunter33");
    gus.send("ROOMS");
    assert_eq!(gus.sync(), ["ROOMS"]);
}

/// A node starts on the rooms' whole history, read by its helper thread
/// before the loop runs and copied by the loop: the helper's copies, freed
/// by the loop into the helper's allocator arena, were kept (47 MiB of
/// history held 138 MB at start, for good). Once the start's backlog is
/// taken in, they are given back.
#[test]
fn a_node_started_on_much_history_gives_back_what_reading_it_took() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    node(&nats.urls(), "maker", &[]).kill();
    let mut raw = RawNats::connect(nats.client_addr(0));
    let stamp = "2026-01-01T00:00:00.000Z";
    let (rooms, per_room, size) = (140, 100, 1000);
    for r in 0..rooms {
        let entry = format!("J {stamp} #r{r}");
        raw.publish(&format!("$KV.evchat_rooms.r.r{r}.amy"), entry.as_bytes());
    }
    raw.flush();
    let text = "z".repeat(size);
    for m in 0..per_room {
        for r in 0..rooms {
            let frame = format!("MSG amy #r{r} {stamp} {m} {text}\n");
            let subject = format!("evchat.said.r{r}");
            raw.publish_with_header(
                &subject,
                "Evchat-Rooms",
                &format!("#r{r}"),
                frame.as_bytes(),
            );
        }
        raw.flush();
    }
    let history_kib = (rooms * per_room * (size + 60) / 1024) as u64;
    let b = node(&nats.urls(), "b", &[]);
    // Logged in: the loop has taken the start's backlog in.
    let mut bob = b.login("bob");
    bob.send("JOIN #r7");
    bob.expect("JOIN bob #r7 ");
    assert_eq!(bob.sync().len(), per_room, "the history is all there");
    let rss = b.status_kib("VmRSS");
    eprintln!("history {history_kib} KiB, node RSS {rss} KiB");
    assert!(
        rss < history_kib * 2 + 16 * 1024,
        "RSS {rss} KiB for {history_kib} KiB of history"
    );
}
