//! Starting the server and managing its users from the command line: what
//! a person typing the commands sees when something is wrong, and that
//! nothing is touched before the flags are known to be right.

mod common;
use common::run_with_stdin;
use std::path::Path;
use std::process::{Command, Output};

fn server(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(args)
        .output()
        .expect("run evchat-server")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn flags_that_cannot_work_are_usage_errors_before_anything_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    for (args, says) in [
        (
            &["--tls-cert", "cert.pem"][..],
            "--tls-cert needs --tls-key",
        ),
        (&["--tls-key", "key.pem"][..], "--tls-key needs --tls-cert"),
        (&["--tls-port", "5556"][..], "--tls-port needs --tls-cert"),
        (&["--max-line", "100M"][..], "use --max-line 16M or less"),
        (&["--mailbox-bytes", "1K"][..], "raise --mailbox-bytes"),
        (
            &["--max-line", "9M"][..],
            "max-queue (8388608) must exceed max-line (9437184)",
        ),
    ] {
        let out = server(&[args, &["--port", "0", "--data-dir", data]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(
            !Path::new(data).exists(),
            "{args:?} created the data directory"
        );
    }
}

#[test]
fn a_bad_log_level_lists_the_good_ones() {
    let out = server(&["--log-level", "loud"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for level in ["error", "warn", "info", "debug", "trace", "off"] {
        assert!(err.contains(level), "{level} not listed: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "log-level = \"loud\"\n").unwrap();
    let out = server(&["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("error, warn, info, debug, trace, off"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn user_commands_say_what_they_did() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.txt");
    let file = users.to_str().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_evchat-server"));
        cmd.args(["user"]).args(args).args(["--users", file]);
        run_with_stdin(&mut cmd, stdin.as_bytes())
    };
    let listed = run(&["list"], "");
    assert_eq!(listed.status.code(), Some(1), "a missing file is an error");
    assert!(
        stderr(&listed).contains("cannot read users file"),
        "{}",
        stderr(&listed)
    );
    let added = run(&["add", "amy"], "secret\n");
    assert!(added.status.success(), "{}", stderr(&added));
    let said = String::from_utf8_lossy(&added.stdout).into_owned();
    assert_eq!(said.trim(), format!("added amy to {file}"));
    let changed = run(&["add", "amy"], "other\n");
    let said = String::from_utf8_lossy(&changed.stdout).into_owned();
    assert_eq!(
        said.trim(),
        format!("changed the password of amy in {file}")
    );
    let listed = run(&["list"], "");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "amy");
    let bad = run(&["add", "b@d"], "x\n");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("names are 1-32 characters"),
        "{}",
        stderr(&bad)
    );
    let removed = run(&["del", "amy"], "");
    let said = String::from_utf8_lossy(&removed.stdout).into_owned();
    assert_eq!(said.trim(), format!("removed amy from {file}"));
    let listed = run(&["list"], "");
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        format!("no users in {file}")
    );
    let no_file = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["user", "list"])
        .output()
        .unwrap();
    assert_eq!(
        no_file.status.code(),
        Some(2),
        "which file is a usage error"
    );
}

/// Starts a server whose log the test holds (a pipe), read up to the
/// address it listens on.
fn server_with_its_log(
    dir: &Path,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    std::net::SocketAddr,
) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_evchat-server"))
        .args(["--port", "0", "--data-dir", dir.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "no address logged");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().parse().unwrap();
        }
    };
    (child, log, addr)
}

#[test]
fn the_server_outlives_whoever_read_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, log, addr) = server_with_its_log(dir.path());
    // The terminal that started it is closed: nobody reads its log now.
    drop(log);
    let mut users = Vec::new();
    for i in 0..50 {
        let mut c = common::Line::connect(addr);
        c.send(&format!("LOGIN u{i}")); // each logged at info level
        c.expect("OK LOGIN");
        users.push(c);
    }
    let mut last = users.pop().unwrap();
    last.sync();
    assert!(child.try_wait().unwrap().is_none(), "the server died");
    drop(users);
    drop(last);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_log_nobody_reads_does_not_stall_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, log, addr) = server_with_its_log(dir.path());
    // From now on nobody reads the log (a paused terminal), but its pipe
    // stays open. Each visit logs two lines of about 100 bytes: 12000 of
    // them are more than the 1 MiB the pipe holds.
    let name = "a-rather-long-name-for-logging-0";
    for _ in 0..12_000 {
        let mut c = common::Line::connect(addr);
        c.send(&format!("LOGIN {name}\nQUIT"));
        c.expect("OK LOGIN");
        c.expect("BYE");
    }
    let mut probe = common::Line::connect(addr);
    probe.send("STATS");
    probe.expect("STATS ");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(0));
    drop(log);
}
