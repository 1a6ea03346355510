//! evchat nodes of a cluster, for the cluster tests.

use super::{Line, TestServer, PATIENCE};
use std::time::{Duration, Instant};

/// Starts a node of the cluster at `urls`, with a store small enough for
/// the test NATS servers, and `extra` flags.
pub fn node(urls: &str, name: &str, extra: &[&str]) -> TestServer {
    node_within(urls, name, extra, PATIENCE)
}

/// As [`node`], for a node that may take up to `patience` to start.
pub fn node_within(urls: &str, name: &str, extra: &[&str], patience: Duration) -> TestServer {
    let mut args = vec![
        "--cluster",
        urls,
        "--node-name",
        name,
        "--held-bytes",
        "16M",
        "--history-bytes",
        "16M",
    ];
    args.extend_from_slice(extra);
    TestServer::start_within(&args, patience)
}

/// Sends `login` until it is answered `OK LOGIN`: a name just given up
/// elsewhere (`ERR 409`) or accounts just added (`ERR 401`) reach each
/// node's view a moment later. Any other answer fails the test.
pub fn login_eventually(server: &TestServer, login: &str) -> Line {
    let mut line = Line::connect(server.addr);
    let deadline = Instant::now() + PATIENCE;
    loop {
        line.send(login);
        let answer = line.recv();
        if answer.starts_with("OK LOGIN") {
            return line;
        }
        let behind = answer.starts_with("ERR 409") || answer.starts_with("ERR 401");
        assert!(behind && Instant::now() < deadline, "{login}: {answer}");
    }
}
