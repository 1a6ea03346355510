//! The bench tool runs end to end against a real server, so it cannot rot.
//! Tiny message counts; nothing here asserts speed.

mod common;
use common::TestServer;
use std::process::Command;

fn bench(server: &TestServer, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args([
            "--addr",
            &server.addr.to_string(),
            "--server-pid",
            &server.pid().to_string(),
        ])
        .args([
            "--rounds",
            "1",
            "--latency-seconds",
            "0.2",
            "--readers",
            "2",
        ])
        .args(args)
        .output()
        .expect("run evchat-bench");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn fanout_counts_every_delivery_and_reports_figures() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    let json = std::env::temp_dir().join(format!("evchat-bench-{}.json", std::process::id()));
    let (ok, text) = bench(
        &server,
        &[
            "fanout",
            "--sizes",
            "5",
            "--publishers",
            "2",
            "--messages",
            "200",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("fanout N=5"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = &report["rows"][0];
    assert_eq!(row["error"], serde_json::Value::Null);
    assert!(
        row["figures"]["deliveries_per_s"]["median"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(row["figures"]["p99_us"]["median"].as_f64().unwrap() > 0.0);
    // The server really saw them: 2 publishers x 200 messages x 5 receivers.
    assert!(server.stat("deliveries") >= 2000);
    let _ = std::fs::remove_file(json);
}

/// The rows of a report written with --json, after the run.
fn json_rows(path: &std::path::Path) -> Vec<serde_json::Value> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    report["rows"].as_array().unwrap().clone()
}

#[test]
fn fanout_over_websocket_counts_every_delivery_beside_line() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    let before = server.stat("deliveries");
    let json = std::env::temp_dir().join(format!("evchat-bench-ws-{}.json", std::process::id()));
    let (ok, text) = bench(
        &server,
        &[
            "fanout",
            "--transport",
            "all",
            "--sizes",
            "5",
            "--messages",
            "200",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("evchat ws vs evchat: "), "{text}");
    let rows = json_rows(&json);
    let systems: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap(),
                r["transport"].as_str().unwrap(),
            )
        })
        .collect();
    // `all` is the three transports, side by side.
    assert_eq!(
        systems,
        [("evchat", "line"), ("evchat", "ws"), ("evchat", "irc")]
    );
    for row in &rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        let figure = |key: &str| row["figures"][key]["median"].as_f64().unwrap();
        assert!(figure("deliveries_per_s") > 0.0, "{row}");
        assert!(
            figure("p99_us") > 0.0 && figure("server_cpu_s_per_m") >= 0.0,
            "{row}"
        );
    }
    // The bench checked the server's count run by run; over both: 200
    // messages to 5 receivers, each way.
    assert!(server.stat("deliveries") - before >= 2 * 200 * 5);
}

#[test]
fn websocket_subscribers_answer_the_servers_keepalive_pings() {
    // Idle for 1 s is cut (PING at 0.5 s): the subscribers only listen,
    // so they stay through a 2.5 s latency phase only by answering.
    let server = TestServer::start(&["--idle-timeout", "1"]);
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args(["--addr", &server.addr.to_string()])
        .args([
            "fanout",
            "--transport",
            "ws",
            "--sizes",
            "3",
            "--rounds",
            "1",
        ])
        .args(["--messages", "50", "--latency-seconds", "2.5"])
        .args(["--latency-rate", "200"])
        .output()
        .expect("run evchat-bench");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("evchat ws"), "{text}");
}

#[test]
fn fanout_over_websocket_compares_with_nats_websocket() {
    // Skipped without nats-server, except under CI, where that fails.
    if !common::nats::nats_server_available() {
        return;
    }
    let json = std::env::temp_dir().join(format!("evchat-natsws-{}.json", std::process::id()));
    // --compare starts the servers; ws only, so no Redis is started.
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args(["fanout", "--compare", "--transport", "ws", "--sizes", "4"])
        .args([
            "--messages",
            "300",
            "--rounds",
            "1",
            "--latency-seconds",
            "0.2",
        ])
        .args(["--json", json.to_str().unwrap()])
        .output()
        .expect("run evchat-bench");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("evchat ws vs nats ws: "), "{text}");
    let rows = json_rows(&json);
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["evchat ws", "nats ws"]);
    for row in &rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        assert!(
            row["figures"]["deliveries_per_s"]["median"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
}

#[test]
fn irc_clients_count_every_delivery_beside_line() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    let before = server.stat("deliveries");
    let json = std::env::temp_dir().join(format!("evchat-bench-irc-{}.json", std::process::id()));
    let (ok, text) = bench(
        &server,
        &[
            "fanout",
            "--transport",
            "line,irc",
            "--sizes",
            "5",
            "--publishers",
            "2",
            "--messages",
            "200",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("evchat irc vs evchat: "), "{text}");
    let rows = json_rows(&json);
    let systems: Vec<&str> = rows
        .iter()
        .map(|r| r["transport"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["line", "irc"]);
    for row in &rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        let figure = |key: &str| row["figures"][key]["median"].as_f64().unwrap();
        assert!(figure("deliveries_per_s") > 0.0, "{row}");
        assert!(figure("p99_us") > 0.0, "{row}");
    }
    // The bench checked the server's count run by run: 2 publishers × 200
    // messages to 5 receivers (and to each other), each way.
    assert!(server.stat("deliveries") - before >= 2 * 2 * 200 * 5);
    // IRC clients publish too: private messages, and everyone to everyone.
    for scenario in ["private", "mesh"] {
        let args = [scenario, "--transport", "irc", "--sizes", "4"];
        let (ok, text) = bench(&server, &[&args[..], &["--messages", "50"]].concat());
        assert!(ok, "{scenario}: {text}");
        assert!(text.contains("evchat irc"), "{scenario}: {text}");
    }
    // And in rooms, which they join and leave as channels.
    let rooms = [
        "rooms",
        "--transport",
        "irc",
        "--rooms",
        "4",
        "--members",
        "3",
    ];
    let more = [
        "--rooms-per-user",
        "2",
        "--publishers",
        "2",
        "--messages",
        "40",
    ];
    let (ok, text) = bench(&server, &[&rooms[..], &more].concat());
    assert!(ok, "rooms: {text}");
    assert!(text.contains("evchat irc"), "rooms: {text}");
    assert_eq!(server.stat("rooms"), 0, "{}", server.stats());
}

#[test]
fn irc_clients_answer_the_servers_keepalive_pings() {
    // As the WebSocket subscribers do: idle for 1 s is cut, so they stay
    // through a 2.5 s latency phase only by answering.
    let server = TestServer::start(&["--idle-timeout", "1"]);
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args(["--addr", &server.addr.to_string()])
        .args(["fanout", "--transport", "irc", "--sizes", "3"])
        .args([
            "--rounds",
            "1",
            "--messages",
            "50",
            "--latency-seconds",
            "2.5",
        ])
        .args(["--latency-rate", "200"])
        .output()
        .expect("run evchat-bench");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("evchat irc"), "{text}");
}

#[test]
fn fanout_over_irc_compares_with_inspircd() {
    // Skipped without inspircd, except under CI, where that fails.
    if evchat::bench::inspircd::inspircd_path().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "inspircd is not installed and CI is set: apt-get install -y inspircd"
        );
        eprintln!("SKIPPED: inspircd is not installed (apt-get install inspircd)");
        return;
    }
    let json = std::env::temp_dir().join(format!("evchat-inspircd-{}.json", std::process::id()));
    // --compare starts evchat and InspIRCd; irc only, so no Redis or NATS.
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args(["fanout", "--compare", "--transport", "irc", "--sizes", "4"])
        .args(["--publishers", "2", "--messages", "300", "--rounds", "1"])
        .args(["--latency-seconds", "0.2", "--json", json.to_str().unwrap()])
        .output()
        .expect("run evchat-bench");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("evchat irc vs inspircd irc: "), "{text}");
    let rows = json_rows(&json);
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["evchat irc", "inspircd irc"]);
    for row in &rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        let figure = |key: &str| row["figures"][key]["median"].as_f64().unwrap();
        assert!(figure("deliveries_per_s") > 0.0, "{row}");
    }
}

#[test]
fn rooms_counts_every_delivery_to_every_member_and_leaves_no_room() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    let before = server.stat("deliveries");
    let json = std::env::temp_dir().join(format!("evchat-rooms-{}.json", std::process::id()));
    // 4 rooms of 3 among 6 users, each in 2; 2 publishers with 2 rooms
    // each; two rounds, so the second finds the rooms the first left gone.
    let json_arg = json.to_str().unwrap();
    let run = |more: &[&str]| {
        let args = [
            "rooms",
            "--rooms",
            "4",
            "--members",
            "3",
            "--rooms-per-user",
            "2",
        ];
        let more = ["--publishers", "2", "--messages", "40"].iter().chain(more);
        bench(
            &server,
            &args.iter().chain(more).copied().collect::<Vec<_>>(),
        )
    };
    let (ok, text) = run(&[]);
    assert!(ok, "{text}");
    let (ok, text) = run(&["--json", json_arg]);
    assert!(ok, "{text}");
    assert!(
        text.contains("rooms 4×3, 6 users in 2 rooms each, 2 publishers (1 round)"),
        "{text}"
    );
    let rows = json_rows(&json);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["error"], serde_json::Value::Null, "{row}");
    let figure = |key: &str| row["figures"][key]["median"].as_f64().unwrap();
    assert!(figure("deliveries_per_s") > 0.0, "{row}");
    assert!(figure("p99_us") > 0.0, "{row}");
    // The bench checked the server's count against the probe's; over both
    // runs' throughput phases: 2 publishers × 40 messages × 3 members.
    assert!(server.stat("deliveries") - before >= 2 * 2 * 40 * 3);
    // Every room's members left it: nothing is left behind.
    assert_eq!(server.stat("rooms"), 0, "{}", server.stats());
}

#[test]
fn rooms_compares_with_redis_channels_and_nats_subjects() {
    // Skipped without nats-server, except under CI, where that fails.
    if !common::nats::nats_server_available() {
        return;
    }
    let json = std::env::temp_dir().join(format!("evchat-rooms-cmp-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args(["rooms", "--compare", "--rooms", "6", "--members", "4"])
        .args(["--rooms-per-user", "3", "--publishers", "3"])
        .args([
            "--messages",
            "60",
            "--rounds",
            "1",
            "--latency-seconds",
            "0.2",
        ])
        .args(["--json", json.to_str().unwrap()])
        .output()
        .expect("run evchat-bench");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let rows = json_rows(&json);
    let targets: Vec<&str> = rows.iter().map(|r| r["target"].as_str().unwrap()).collect();
    // Redis only where it is installed.
    assert!(
        targets == ["evchat", "redis", "nats"] || targets == ["evchat", "nats"],
        "{targets:?}"
    );
    for row in &rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        assert!(
            row["figures"]["deliveries_per_s"]["median"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
    assert!(text.contains("evchat vs nats: "), "{text}");
}

#[test]
fn other_scenarios_run_against_evchat() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    for (scenario, size) in [
        ("mesh", "4"),
        ("private", "4"),
        ("connect", "20"),
        ("idle", "20"),
    ] {
        let (ok, text) = bench(&server, &[scenario, "--sizes", size, "--messages", "50"]);
        assert!(ok, "{scenario}: {text}");
        assert!(text.contains(&format!("{scenario} N={size}")), "{text}");
    }
}

#[test]
fn flood_counts_every_frame_of_each_variant() {
    let server = TestServer::start(&["--idle-timeout", "0"]);
    let json = std::env::temp_dir().join(format!("evchat-flood-{}.json", std::process::id()));
    // A capped flood and a fixed number of round trips: exact counts,
    // whatever the speed (--flood-seconds is only an upper bound here).
    let (ok, text) = bench(
        &server,
        &[
            "flood",
            "--sizes",
            "3",
            "--messages",
            "20000",
            "--round-trips",
            "20",
            "--flood-seconds",
            "60",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    // stderr is a pipe here: no progress bar in the output.
    assert!(!text.contains("elapsed"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flood-say", "flood-msg", "flood-pong"]);
    for row in rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        let figure = |key: &str| row["figures"][key]["median"].as_f64().unwrap();
        assert_eq!(figure("flood_frames"), 20000.0, "{row}");
        assert_eq!(figure("round_trips"), 20.0, "{row}");
        assert!(
            figure("msg_p99_us") > 0.0 && figure("ping_max_us") > 0.0,
            "{row}"
        );
    }
    for variant in ["flood-say N=3 (1 round)", "flood-msg N=3", "flood-pong N=3"] {
        assert!(text.contains(variant), "{text}");
    }
    // The server read every flood frame (the bench checks the exact count).
    assert!(server.stat("frames_in") >= 3 * 20000);
    let _ = std::fs::remove_file(json);
}

#[test]
fn help_says_what_a_run_leaves_on_a_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("bench-0, bench-1"), "{help}");
    assert!(help.contains("--max-known"), "{help}");
}

#[test]
fn a_dead_server_is_a_loud_failure_not_a_figure() {
    let mut server = TestServer::start(&[]);
    let addr = server.addr.to_string();
    server.kill();
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args([
            "fanout",
            "--addr",
            &addr,
            "--sizes",
            "2",
            "--messages",
            "10",
            "--rounds",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
}

#[test]
fn a_server_that_refuses_the_bench_is_named_not_timed_out() {
    use evchat::server::accounts::{hash_password, Users};
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let mut accounts = Users::default();
    accounts.set("amy", hash_password("pw").unwrap());
    accounts.save(&users).unwrap();
    let server = TestServer::start(&["--users", users.to_str().unwrap()]);
    let (ok, text) = bench(&server, &["fanout", "--sizes", "2", "--messages", "10"]);
    assert!(!ok, "{text}");
    // The refusal itself, not a stall it led to.
    assert!(text.contains("ERR 401"), "{text}");
}

#[test]
fn cluster_measures_every_configuration_side_by_side() {
    // Skipped without nats-server, except under CI, where that fails.
    if !common::nats::nats_server_available() {
        return;
    }
    let json = std::env::temp_dir().join(format!("evchat-cluster-{}.json", std::process::id()));
    let bench = Command::new(env!("CARGO_BIN_EXE_evchat-bench"))
        .args([
            "cluster",
            "--sizes",
            "6",
            "--rounds",
            "1",
            "--messages",
            "300",
        ])
        .args(["--latency-seconds", "0.2", "--json", json.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run evchat-bench");
    let lab = format!("evchat-bench-cluster-{}", bench.id());
    let out = bench.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("cluster N=6 (1 round)"), "{text}");
    assert!(text.contains("this machine has"), "{text}");
    assert!(text.contains("on paper, 3 machines"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["3 nodes", "1 node", "nats ×3", "2 on 1 port"]);
    for row in rows {
        assert_eq!(row["error"], serde_json::Value::Null, "{row}");
        let figure = |key: &str| row["figures"][key]["median"].as_f64();
        assert!(figure("deliveries_per_s").unwrap() > 0.0, "{row}");
        assert!(figure("p99_us").unwrap() > 0.0, "{row}");
        assert!(figure("server_cpu_s_per_m").is_some(), "{row}");
        // Only clustered evchat nodes have a bus.
        let clustered = matches!(row["label"].as_str(), Some("3 nodes" | "2 on 1 port"));
        assert_eq!(figure("bus_out_per_s").is_some(), clustered, "{row}");
    }
    // Every server the bench started has stopped (their command lines
    // name the bench's directory), and the directory is gone.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&lab))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
    for base in ["/dev/shm".into(), std::env::temp_dir()] {
        assert!(
            !base.join(&lab).exists(),
            "{lab} left in {}",
            base.display()
        );
    }
    let _ = std::fs::remove_file(json);
}
