//! The binaries as people and scripts use them: the client over a pipe, the
//! client when the server dies, start-up errors, config files, the logger.

mod common;
use common::{TestServer, PATIENCE};
use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

fn client(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evchat-client"));
    cmd.args(["--port", &port.to_string()]).args(args);
    cmd
}

/// Waits for a child with a hang guard, returning its output.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn client_over_a_pipe_sends_every_line_then_quits() {
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut child = client(server.addr.port(), &["bob"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"hello all\n@alice psst\\\nsecond line\n//slash\n/who\n@nobody hi\n")
        .unwrap();
    drop(stdin);
    let out = finish(child);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("* online (2): alice, bob"), "{stdout}");
    assert!(
        stdout.contains("! error 404: no such user: nobody"),
        "{stdout}"
    );
    alice.expect("JOINED bob ");
    assert!(alice.expect("SAY bob ").ends_with(" hello all"));
    assert!(alice
        .expect("MSG bob alice ")
        .ends_with(" psst\\nsecond line"));
    assert!(alice.expect("SAY bob ").ends_with(" /slash"));
    alice.expect("LEFT bob ");
}

#[test]
fn client_with_to_sends_plain_lines_privately() {
    let server = TestServer::start(&[]);
    let mut eric = server.login("Eric");
    let mut other = server.login("other");
    eric.expect("JOINED other ");
    let mut child = client(server.addr.port(), &["Bob", "--to", "Eric"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"How's the weather?\n")
        .unwrap();
    assert!(finish(child).status.success());
    eric.expect("JOINED Bob ");
    assert!(eric
        .expect("MSG Bob Eric ")
        .ends_with(" How's the weather?"));
    other.expect("JOINED Bob ");
    other.expect("LEFT Bob ");
}

#[test]
fn client_exits_nonzero_with_one_line_when_the_server_dies() {
    let mut server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let child = client(server.addr.port(), &["bob"])
        .stdin(Stdio::piped()) // kept open: the client is waiting for input
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    alice.expect("JOINED bob ");
    server.kill();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("connection to server lost"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn client_reports_connection_refused_in_one_line() {
    let out = client(free_port(), &["bob"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("evchat-client: cannot connect to 127.0.0.1:"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn server_on_a_busy_port_fails_with_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--port", &port, "--data-dir", data.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot listen on 127.0.0.1:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn server_restarts_at_once_on_the_same_port() {
    let server = TestServer::start(&[]);
    let port = server.addr.port().to_string();
    // The server closes first, leaving its side in TIME_WAIT.
    for i in 0..5 {
        let mut c = server.login(&format!("u{i}"));
        c.send("QUIT");
        c.until_closed();
    }
    drop(server);
    let again = TestServer::start(&["--port", &port]);
    assert_eq!(again.addr.port().to_string(), port);
    again.login("back");
}

#[test]
fn config_file_sets_defaults_and_flags_win() {
    let dir = std::env::temp_dir().join(format!("evchat-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.toml");
    std::fs::write(&path, "max-line = 100\nlog-level = \"warn\"\nport = 1\n").unwrap();
    let path = path.to_str().unwrap();
    // --port 0 (from the harness) overrides the file's port.
    let server = TestServer::start(&["--config", path, "--log-level", "info"]);
    let mut bob = server.login("bob");
    bob.send(&format!("SAY {}", "x".repeat(97)));
    bob.expect("ERR 413 ");
    std::fs::write(dir.join("bad.toml"), "max-lines = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--config", dir.join("bad.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}

#[test]
fn help_explains_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--host",
        "--port",
        "--max-line",
        "--max-clients",
        "--max-queue",
        "--idle-timeout",
        "--log-level",
        "--mailbox-max",
        "--data-dir",
        "--fsync",
        "--users",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-client"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--host", "--port", "--config", "--to"] {
        assert!(help.contains(flag), "{flag} missing from client --help");
    }
}

#[test]
fn logger_example_writes_one_json_line_per_message() {
    let server = TestServer::start(&[]);
    let examples = std::env::current_exe().unwrap();
    let logger = examples
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/logger");
    assert!(
        logger.exists(),
        "cargo test builds examples: {}",
        logger.display()
    );
    let file = std::env::temp_dir().join(format!("evchat-log-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut alice = server.login("alice");
    let mut bot = Command::new(logger)
        .args([
            "--name",
            "logbot",
            "--port",
            &server.addr.port().to_string(),
        ])
        .arg("--file")
        .arg(&file)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    alice.expect("JOINED logbot ");
    alice.send("SAY reading 1: 21.5 C");
    alice.send("MSG logbot two\\nlines");
    alice.sync();
    let deadline = Instant::now() + PATIENCE;
    let lines: Vec<serde_json::Value> = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.ends_with('\n') && text.lines().count() >= 2 {
            break text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
        }
        assert!(Instant::now() < deadline, "logger wrote: {text:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _ = bot.kill();
    let _ = bot.wait();
    assert_eq!(lines[0]["kind"], "say");
    assert_eq!(lines[0]["from"], "alice");
    assert_eq!(lines[0]["text"], "reading 1: 21.5 C");
    assert_eq!(lines[1]["kind"], "msg");
    assert_eq!(lines[1]["to"][0], "logbot");
    assert_eq!(lines[1]["text"], "two\nlines", "escapes are decoded");
    let _ = std::fs::remove_file(&file);
}
