//! Many nodes as one chat: real nats-server clusters with JetStream
//! (tests/common/nats.rs) and real evchat-server nodes, driven over TCP as
//! users drive them. Without nats-server these tests skip, except under CI.

mod common;

use common::cluster::login_eventually;
use common::nats::{nats_server_available, NatsCluster};
use common::{Line, TestServer, PATIENCE};
use std::time::Instant;

/// Starts a node of the cluster at `urls`, quick to count others dead.
fn node(urls: &str, name: &str) -> TestServer {
    common::cluster::node(urls, name, &["--node-timeout", "3"])
}

/// Logs in as a name that was just given up elsewhere.
fn login_when_free(server: &TestServer, name: &str) -> Line {
    login_eventually(server, &format!("LOGIN {name}"))
}

fn login(server: &TestServer, name: &str) -> Line {
    let mut line = Line::connect(server.addr);
    line.send(&format!("LOGIN {name}"));
    line.expect(&format!("OK LOGIN {name}"));
    line
}

/// Reads lines (answering the server's PINGs) until one satisfies `done`;
/// returns it.
fn wait_line(line: &mut Line, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "no such line in time");
        let got = line.recv();
        if let Some(token) = got.strip_prefix("PING ") {
            line.send(&format!("PONG {token}"));
            continue;
        }
        if done(&got) {
            return got;
        }
    }
}

/// Asks WHO until the answer lists exactly `names` (the directory follows
/// the names bucket, a moment behind).
fn wait_who(line: &mut Line, names: &str) {
    try_wait_who(line, names).unwrap_or_else(|e| panic!("{e}"));
}

/// [`wait_who`], saying what WHO last said if it never listed `names`.
fn try_wait_who(line: &mut Line, names: &str) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        line.send("WHO");
        let users = wait_line(line, |l| l.starts_with("USERS"));
        if users == format!("USERS {names}") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("WHO said {users:?}, not {names}"));
        }
    }
}

/// `from` says markers until `to` hears one (core NATS may lose what is
/// in flight while a node reconnects); returns how many earlier `counted`
/// messages `to` got on the way.
fn talk_until_heard(from: &mut Line, to: &mut Line, counted: &str) -> usize {
    let mut got = 0;
    for marker in 0..200 {
        from.send(&format!("SAY marker {marker}"));
        from.sync();
        to.send("PING probe");
        loop {
            let line = wait_line(to, |l| l.starts_with("SAY ") || l == "PONG probe");
            if line.contains(&format!(" {counted} ")) {
                got += 1;
            } else if line.contains(" marker ") {
                // Whatever else is on its way is not counted.
                return got;
            } else {
                break;
            }
        }
    }
    panic!("nothing got through");
}

/// The connection's own replies up to a PING barrier: presence of other
/// users (`JOINED`/`LEFT`, whose order against this connection's frames
/// is not promised across nodes) left out.
fn replies(line: &mut Line) -> Vec<String> {
    line.sync()
        .into_iter()
        .filter(|l| !l.starts_with("JOINED ") && !l.starts_with("LEFT "))
        .collect()
}

struct Three {
    nodes: Vec<TestServer>,
    nats: NatsCluster,
    /// One three-server cluster at a time: six servers per test already
    /// keep this machine's cores busy, and JetStream's elections are slow
    /// when starved.
    _turn: std::sync::MutexGuard<'static, ()>,
}

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn three() -> Option<Three> {
    if !nats_server_available() {
        return None;
    }
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let nats = NatsCluster::start(3);
    let urls = nats.urls();
    let nodes = ["a", "b", "c"].iter().map(|n| node(&urls, n)).collect();
    Some(Three {
        nodes,
        nats,
        _turn: turn,
    })
}

#[test]
fn three_nodes_are_one_chat() {
    let Some(t) = three() else { return };
    let mut alice = login(&t.nodes[0], "alice");
    let mut bob = login(&t.nodes[1], "bob");
    wait_line(&mut alice, |l| l.starts_with("JOINED bob"));
    let mut carol = login(&t.nodes[2], "carol");
    wait_line(&mut alice, |l| l.starts_with("JOINED carol"));
    wait_line(&mut bob, |l| l.starts_with("JOINED carol"));
    for who in [&mut alice, &mut bob, &mut carol] {
        wait_who(who, "alice bob carol");
    }
    // A name is the cluster's, not the node's.
    let mut again = Line::connect(t.nodes[2].addr);
    again.send("LOGIN alice");
    again.expect("ERR 409");

    alice.send("SAY hello everyone");
    alice.send("MSG bob,carol just you two");
    alice.send("MSG bob only bob");
    assert!(replies(&mut alice).is_empty());
    for (who, extra) in [(&mut bob, true), (&mut carol, false)] {
        let said = wait_line(who, |l| l.starts_with("SAY "));
        assert!(said.starts_with("SAY alice ") && said.ends_with(" hello everyone"));
        let msg = wait_line(who, |l| l.starts_with("MSG "));
        assert!(msg.starts_with("MSG alice bob,carol ") && msg.ends_with(" just you two"));
        if extra {
            let msg = wait_line(who, |l| l.starts_with("MSG "));
            assert!(msg.ends_with(" only bob"), "{msg}");
        }
    }
    carol.send("QUIT bye");
    wait_line(&mut alice, |l| {
        l.starts_with("LEFT carol") && l.ends_with("bye")
    });
    wait_line(&mut bob, |l| l.starts_with("LEFT carol"));
    wait_who(&mut bob, "alice bob");
    // Free again, on any node.
    login_when_free(&t.nodes[0], "carol");
    let stats = t.nodes[0].stats();
    assert!(
        stats.contains("cluster_up=1") && stats.contains("nodes=3"),
        "{stats}"
    );
}

#[test]
fn a_name_raced_on_two_nodes_has_exactly_one_winner() {
    let Some(t) = three() else { return };
    for i in 0..20 {
        let name = format!("racer{i}");
        let mut one = Line::connect(t.nodes[0].addr);
        let mut two = Line::connect(t.nodes[1].addr);
        one.send(&format!("LOGIN {name}"));
        two.send(&format!("LOGIN {name}"));
        let answers = [one.recv(), two.recv()];
        let won = answers.iter().filter(|a| a.starts_with("OK LOGIN")).count();
        let lost = answers.iter().filter(|a| a.starts_with("ERR 409")).count();
        assert_eq!((won, lost), (1, 1), "{answers:?}");
    }
}

#[test]
fn one_senders_messages_keep_their_order_on_every_node() {
    let Some(t) = three() else { return };
    let mut bob = login(&t.nodes[2], "bob");
    let mut alice = login(&t.nodes[0], "alice");
    wait_line(&mut bob, |l| l.starts_with("JOINED alice"));
    wait_who(&mut alice, "alice bob");
    let mut burst = String::new();
    for i in 0..5000 {
        // SAYs and MSGs mixed: two kinds of bus message, one order.
        if i % 7 == 0 {
            burst.push_str(&format!("MSG bob {i}\n"));
        } else {
            burst.push_str(&format!("SAY {i}\n"));
        }
    }
    alice.send_raw(burst.as_bytes());
    assert!(replies(&mut alice).is_empty());
    for i in 0..5000 {
        let got = wait_line(&mut bob, |l| l.starts_with("SAY ") || l.starts_with("MSG "));
        let want = if i % 7 == 0 {
            "MSG alice bob "
        } else {
            "SAY alice "
        };
        assert!(got.starts_with(want), "message {i}: {got}");
        assert!(
            got.ends_with(&format!(" {i}")),
            "message {i} out of order: {got}"
        );
    }
}

#[test]
fn a_pong_means_other_nodes_will_get_it_even_if_the_node_dies_at_once() {
    let Some(mut t) = three() else { return };
    let mut bob = login(&t.nodes[1], "bob");
    let mut alice = login(&t.nodes[0], "alice");
    wait_line(&mut bob, |l| l.starts_with("JOINED alice"));
    let burst: String = (0..3000).map(|i| format!("SAY {i}\n")).collect();
    alice.send_raw(burst.as_bytes());
    assert!(replies(&mut alice).is_empty());
    // The PONG came only once NATS had all of it: killing the node now
    // loses nothing.
    t.nodes[0].kill();
    for i in 0..3000 {
        let got = wait_line(&mut bob, |l| l.starts_with("SAY "));
        assert!(got.ends_with(&format!(" {i}")), "message {i}: {got}");
    }
}

#[test]
fn held_mail_acknowledged_then_its_node_killed_is_delivered_on_another() {
    let Some(mut t) = three() else { return };
    // carol is known (she logged in once), then offline.
    let mut carol = login(&t.nodes[1], "carol");
    carol.send("QUIT");
    carol.until_closed();
    let mut alice = login(&t.nodes[0], "alice");
    alice.send("MSG carol while you were out");
    alice.send("MSG nobody-ever hello");
    let answer = replies(&mut alice);
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert!(answer[0].starts_with("ERR 404"), "{answer:?}");
    // The PONG means JetStream has it: the node may die now.
    t.nodes[0].kill();
    let mut carol = login_when_free(&t.nodes[2], "carol");
    let mail = carol.recv();
    assert!(
        mail.starts_with("MSG alice carol ") && mail.ends_with(" while you were out"),
        "{mail}"
    );
    let ping = carol.expect("PING ");
    carol.send(&format!("PONG {}", &ping[5..]));
    assert!(replies(&mut carol).is_empty());
    carol.send("QUIT");
    carol.until_closed();
    // Acknowledged: not delivered twice.
    let mut carol = login_when_free(&t.nodes[1], "carol");
    assert!(replies(&mut carol).is_empty());
    drop(t.nats.logs());
}

#[test]
fn mail_not_acknowledged_comes_again_at_the_next_login() {
    let Some(t) = three() else { return };
    let mut dave = login(&t.nodes[1], "dave");
    dave.send("QUIT");
    dave.until_closed();
    let mut alice = login(&t.nodes[0], "alice");
    alice.send("MSG dave first");
    let answer = replies(&mut alice);
    assert!(answer.is_empty(), "{answer:?}");
    let mut dave = login_when_free(&t.nodes[2], "dave");
    assert!(dave.recv().ends_with(" first"));
    dave.expect("PING ");
    drop(dave); // gone without the PONG
    let mut dave = login_when_free(&t.nodes[1], "dave");
    assert!(dave.recv().ends_with(" first"));
}

#[test]
fn a_killed_node_is_announced_gone_and_its_names_are_free() {
    let Some(mut t) = three() else { return };
    let mut alice = login(&t.nodes[0], "alice");
    let _erin = login(&t.nodes[2], "erin");
    wait_line(&mut alice, |l| l.starts_with("JOINED erin"));
    t.nodes[2].kill(); // SIGKILL: no goodbye
    let left = wait_line(&mut alice, |l| l.starts_with("LEFT erin"));
    assert!(left.ends_with("node lost"), "{left}");
    wait_who(&mut alice, "alice");
    // Each node counts the dead on its own clock: node b may take a
    // moment longer than node a.
    let _erin = login_when_free(&t.nodes[1], "erin");
    wait_line(&mut alice, |l| l.starts_with("JOINED erin"));
}

#[test]
fn a_password_login_on_another_node_takes_the_name_over() {
    let Some(t) = three() else { return };
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_evchat-server"));
    add.args(["user", "add", "frank", "--cluster", &t.nats.urls()]);
    let out = common::run_with_stdin(&mut add, b"s3cret\n");
    assert!(out.status.success(), "{out:?}");
    // Every node follows the accounts bucket, a moment behind: until node
    // 0 has seen frank's account, the cluster is still open to his name.
    let deadline = Instant::now() + PATIENCE;
    let mut first = loop {
        let mut line = Line::connect(t.nodes[0].addr);
        line.send("LOGIN frank");
        let answer = line.recv();
        if answer.starts_with("ERR 401") {
            break line;
        }
        assert!(
            answer.starts_with("OK LOGIN") && Instant::now() < deadline,
            "{answer}"
        );
        line.send("QUIT");
        line.until_closed();
    };
    loop {
        // Every node follows the accounts bucket, a moment behind.
        first.send("LOGIN frank s3cret");
        if first.recv().starts_with("OK LOGIN") {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    let mut second = Line::connect(t.nodes[1].addr);
    second.send("LOGIN frank s3cret");
    second.expect("OK LOGIN frank");
    let told = wait_line(&mut first, |l| l.starts_with("ERR"));
    assert!(
        told.starts_with("ERR 409 replaced by a new login as frank on node b"),
        "{told}"
    );
}

#[test]
fn without_jetstream_quorum_logins_and_held_mail_get_503_and_come_back() {
    let Some(mut t) = three() else { return };
    let mut gina = login(&t.nodes[1], "gina");
    gina.send("QUIT");
    gina.until_closed();
    let mut alice = login(&t.nodes[0], "alice");
    let mut bob = login(&t.nodes[1], "bob");
    wait_line(&mut alice, |l| l.starts_with("JOINED bob"));
    for (user, name) in [(&mut alice, "alice"), (&mut bob, "bob")] {
        user.send("JOIN #q");
        wait_line(user, |l| l.starts_with(&format!("JOIN {name} #q ")));
    }
    wait_line(&mut alice, |l| l.starts_with("JOIN bob #q "));
    // One server down: everyone stays and chats. Core NATS is at most
    // once, so what was in flight while a node reconnected may be lost:
    // count it.
    t.nats.kill(2);
    let sent = 200;
    for i in 0..sent {
        alice.send(&format!("SAY one-down {i}"));
    }
    for line in alice.sync() {
        // A flush that NATS could not confirm while reconnecting says so.
        assert!(line.starts_with("ERR 503"), "{line}");
    }
    let got = talk_until_heard(&mut alice, &mut bob, "one-down");
    // Measured here: often none of a burst sent right at the kill (the
    // publishing node's own server may be the one that died).
    eprintln!("one NATS server of three down: {got} of {sent} messages crossed nodes");
    // Two down: no JetStream.
    t.nats.kill(1);
    let mut henry = Line::connect(t.nodes[0].addr);
    henry.send("LOGIN henry");
    let refused = henry.recv();
    assert!(
        refused.starts_with("ERR 503") && refused.contains("cluster is unavailable"),
        "{refused}"
    );
    // Live chat that core NATS still carries goes on.
    talk_until_heard(&mut alice, &mut bob, "two-down");
    alice.send("MSG gina are you there");
    let refused = wait_line(&mut alice, |l| l.starts_with("ERR"));
    assert!(refused.starts_with("ERR 503"), "{refused}");
    // Rooms are in JetStream: a room message or join is refused, saying
    // nothing was done.
    // nothing was done — or, when JetStream did not answer in time, that
    // it may still be done.
    let mut maybe_said = false;
    for frame in ["MSG #q lost?", "JOIN #other"] {
        alice.send(frame);
        let refused = wait_line(&mut alice, |l| l.starts_with("ERR"));
        let maybe = refused.ends_with("it may still be done, later");
        assert!(
            refused.starts_with("ERR 503 the cluster is unavailable")
                && (refused.ends_with("nothing was done") || maybe),
            "{frame}: {refused}"
        );
        maybe_said |= maybe && frame.starts_with("MSG");
    }
    // Back: logins work again.
    t.nats.restart(1);
    t.nats.restart(2);
    t.nats.wait_jetstream();
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        henry.send("LOGIN henry");
        let answer = henry.recv();
        if answer.starts_with("OK LOGIN") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "logins did not come back: {answer}"
        );
    }
    // And rooms: both nodes follow them again.
    loop {
        alice.send("MSG #q back");
        let answer = alice.sync();
        if answer.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rooms did not come back: {answer:?}"
        );
    }
    let back = wait_line(&mut bob, |l| l.starts_with("MSG alice #q "));
    let back = match back.ends_with(" lost?") && maybe_said {
        true => wait_line(&mut bob, |l| l.starts_with("MSG alice #q ")),
        false => back,
    };
    assert!(back.ends_with(" back"), "{back}");
}

#[test]
fn two_reuse_port_processes_share_one_port_as_one_chat() {
    if !nats_server_available() {
        return;
    }
    let nats = NatsCluster::start(1);
    let urls = nats.urls();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port().to_string()
    };
    let args = |name: &'static str| {
        vec![
            "--cluster",
            &urls,
            "--node-name",
            name,
            "--reuse-port",
            "--port",
            &port,
            "--held-bytes",
            "16M",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<String>>()
    };
    let one_args = args("p1");
    let two_args = args("p2");
    let one = TestServer::start(&one_args.iter().map(String::as_str).collect::<Vec<_>>());
    let two = TestServer::start(&two_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(one.addr, two.addr);
    let mut users: Vec<Line> = (0..24).map(|i| login(&one, &format!("u{i}"))).collect();
    // The kernel spread them over both processes.
    let on_one = one.log().matches(" logged in").count();
    let on_two = two.log().matches(" logged in").count();
    assert!(on_one > 0 && on_two > 0, "one {on_one}, two {on_two}");
    users[0].send("SAY to all of you");
    for user in users.iter_mut().skip(1) {
        let said = wait_line(user, |l| l.starts_with("SAY "));
        assert!(said.ends_with(" to all of you"));
    }
}

#[test]
fn cluster_flags_that_cannot_work_are_refused_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--reuse-port", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--reuse-port needs --cluster"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args([
            "--users",
            "u.txt",
            "--cluster",
            "nats://127.0.0.1:1",
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("user import --users FILE"), "{text}");
}

#[test]
fn names_stay_free_after_a_nats_server_is_killed_and_restarted() {
    let Some(mut t) = three() else { return };
    // After kill -9 and a restart, a copy of the names bucket may lag: a
    // name nobody holds must still be free on every node. Watchers on each
    // node say when that node has seen kim leave.
    let mut watchers: Vec<Line> = (0..3)
        .map(|i| login(&t.nodes[i], &format!("w{i}")))
        .collect();
    for round in 0..3 {
        t.nats.kill(round);
        t.nats.restart(round);
        t.nats.wait_jetstream();
        for i in 0..8 {
            let node = &t.nodes[i % 3];
            if let Err(e) = try_wait_who(&mut watchers[i % 3], "w0 w1 w2") {
                let logs: Vec<String> = t.nodes.iter().map(|n| n.log()).collect();
                panic!(
                    "round {round}, login {i}: {e}; the nodes' logs:\n{}",
                    logs.join("---\n")
                );
            }
            let deadline = Instant::now() + PATIENCE;
            let mut kim = loop {
                let mut line = Line::connect(node.addr);
                line.send("LOGIN kim");
                let answer = line.recv();
                if answer.starts_with("OK LOGIN") {
                    break line;
                }
                // Elections after the restart may answer 503, and a copy
                // catching up 409, for a moment; a free name must not stay
                // taken.
                let passing = answer.starts_with("ERR 503") || answer.starts_with("ERR 409");
                if !passing || Instant::now() >= deadline {
                    let logs: Vec<String> = t.nodes.iter().map(|n| n.log()).collect();
                    panic!(
                        "round {round}, login {i}: {answer}; the nodes' logs:\n{}",
                        logs.join("---\n")
                    );
                }
            };
            kim.send("QUIT");
            kim.until_closed();
        }
    }
}
