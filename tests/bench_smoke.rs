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
