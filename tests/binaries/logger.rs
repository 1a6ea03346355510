//! The logger example as a person runs it: both sinks, a server with
//! accounts behind TLS, the way it stops, and what a crash leaves behind.
//! Where a test must know the logger has written everything, it waits for
//! the logger to exit (the server ends its session), not for time to pass.

use super::common::certs::certificates;
use super::common::{fields, run_with_stdin, TestServer, PATIENCE};
use super::finish;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// The logger binary, built on first use: `cargo test --test binaries`
/// builds no examples by itself, and an old binary would test old code.
fn logger_exe() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // This test runs as <target>/<profile>/deps/binaries-<hash>.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
            "debug" => "dev",
            other => other,
        };
        let mut cargo = Command::new(env!("CARGO"));
        // Cargo gives this test the package's variables (CARGO_PKG_NAME,
        // ...); build scripts that watch them (ring's) would see a change
        // and rebuild, and then the outer cargo would rebuild again.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_for_this_test = ["CARGO_PKG_", "CARGO_BIN_", "CARGO_MANIFEST_"]
                .iter()
                .any(|p| name.starts_with(p))
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                ]
                .contains(&&*name);
            if set_for_this_test {
                cargo.env_remove(&*name);
            }
        }
        let out = cargo
            .args([
                "build",
                "--quiet",
                "--example",
                "logger",
                "--profile",
                profile,
            ])
            .args([
                "--manifest-path",
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            ])
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "building the logger: {out:?}");
        profile_dir.join("examples/logger")
    })
}

fn logger(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(logger_exe());
    cmd.args(["--port", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for the logger to stop and checks it said why in one line
/// (after its start-up line) and exited 1; returns that line.
fn stopped(child: Child) -> String {
    let out = finish(child);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.len() == 2 && lines[0].starts_with("logger: logged in as "),
        "{stderr}"
    );
    lines[1].to_owned()
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (kind, sender, recipients, time, text) of every row, in order.
type Row = (String, String, Option<String>, String, String);

fn rows(db: &Path) -> Vec<Row> {
    let db = rusqlite::Connection::open(db).unwrap();
    let mut query = db
        .prepare("SELECT kind, sender, recipients, time, text FROM messages ORDER BY id")
        .unwrap();
    let rows = query
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn row_ref(row: &Row) -> (&str, &str, Option<&str>, &str, &str) {
    (&row.0, &row.1, row.2.as_deref(), &row.3, &row.4)
}

#[test]
fn logger_stores_every_message_as_a_json_line_and_a_sqlite_row() {
    let dir = tempfile::tempdir().unwrap();
    let (file, db) = (dir.path().join("log.jsonl"), dir.path().join("log.db"));
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    let mut watch = server.login("watch");
    let bot = logger(server.addr.port(), &["--name", "logbot"])
        .arg("--file")
        .arg(&file)
        .arg("--sqlite")
        .arg(&db)
        .spawn()
        .unwrap();
    alice.expect("JOINED watch ");
    alice.expect("JOINED logbot ");
    alice.send("SAY reading 1: 21.5 °C, 'quoted'; -- not SQL");
    alice.send("MSG logbot,alice two\\nlines");
    alice.send("MSG logbot just the log");
    let to_alice = alice.sync();
    assert_eq!(to_alice.len(), 1, "{to_alice:?}");
    let (_, msg_time, _) = fields(&to_alice[0]);
    watch.expect("JOINED logbot ");
    let (_, say_time, _) = fields(&watch.expect("SAY alice "));
    // The server ends every session on SIGTERM; the logger's exit is the
    // barrier that everything before it was written.
    server.signal(libc::SIGTERM);
    let why = stopped(bot);
    assert_eq!(
        why,
        "logger: the server ended the session: ERR 503 server shutting down"
    );

    let lines = json_lines(&file);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["kind"], "say");
    assert_eq!(lines[0]["from"], "alice");
    assert_eq!(lines[0]["time"], say_time.as_str());
    assert_eq!(lines[0]["text"], "reading 1: 21.5 °C, 'quoted'; -- not SQL");
    assert!(lines[0].get("to").is_none());
    assert_eq!(lines[1]["kind"], "msg");
    assert_eq!(lines[1]["to"], serde_json::json!(["logbot", "alice"]));
    assert_eq!(lines[1]["time"], msg_time.as_str());
    assert_eq!(lines[1]["text"], "two\nlines", "escapes are decoded");
    assert_eq!(lines[2]["text"], "just the log");

    let rows = rows(&db);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let text = "reading 1: 21.5 °C, 'quoted'; -- not SQL";
    assert_eq!(row_ref(&rows[0]), ("say", "alice", None, &*say_time, text));
    let msg = (
        "msg",
        "alice",
        Some("logbot,alice"),
        &*msg_time,
        "two\nlines",
    );
    assert_eq!(row_ref(&rows[1]), msg);
    let (kind, sender, recipients, time, text) = row_ref(&rows[2]);
    assert_eq!(
        (kind, sender, recipients, text),
        ("msg", "alice", Some("logbot"), "just the log")
    );
    assert!(
        time.len() == 24 && time.ends_with('Z'),
        "RFC 3339 as the server spells it: {time}"
    );
}

#[test]
fn logger_logs_the_rooms_it_joins_their_history_included() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.jsonl");
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    alice.send("JOIN #lab");
    alice.send("MSG #lab said before the bot came");
    alice.sync();
    let bot = logger(server.addr.port(), &["--name", "logbot", "--join", "#lab"])
        .arg("--file")
        .arg(&file)
        .spawn()
        .unwrap();
    loop {
        if alice.recv().starts_with("JOIN logbot #lab ") {
            break;
        }
    }
    alice.send("MSG #lab said with the bot there");
    alice.sync();
    server.signal(libc::SIGTERM);
    stopped(bot);
    let lines = json_lines(&file);
    let texts: Vec<(&str, &serde_json::Value)> = lines
        .iter()
        .map(|l| (l["text"].as_str().unwrap(), &l["to"]))
        .collect();
    let room = serde_json::json!(["#lab"]);
    assert_eq!(
        texts,
        [
            ("said before the bot came", &room),
            ("said with the bot there", &room)
        ]
    );
}

/// `evchat-server user add NAME --users FILE`, the password on stdin.
fn add_user(users: &Path, name: &str, password: &str) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evchat-server"));
    command.args(["user", "add", name, "--users"]).arg(users);
    let out = run_with_stdin(&mut command, format!("{password}\n").as_bytes());
    assert!(out.status.success(), "{out:?}");
}

/// Runs the logger to its end with `stdin`; (exit code, stderr).
/// (It runs in `cwd`: its default file must not land in the checkout.)
fn refused(port: u16, cwd: &Path, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let out: Output = run_with_stdin(logger(port, args).current_dir(cwd), stdin.as_bytes());
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn logger_logs_in_with_a_password_from_stdin_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), "logger");
    let users = dir.path().join("users.txt");
    add_user(&users, "logbot", "bot pass");
    add_user(&users, "alice", "alice pass");
    let server = TestServer::start(&[
        "--users",
        users.to_str().unwrap(),
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--tls-port",
        "0",
    ]);
    let tls_port = server.logged_addr("listening for TLS on ").port();
    let port = server.addr.port();

    // No password, or a wrong one: refused in one line, exit 1.
    let (code, stderr) = refused(port, dir.path(), &[], "");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("--password-stdin") && stderr.lines().count() == 1,
        "{stderr}"
    );
    let (code, stderr) = refused(port, dir.path(), &["--password-stdin"], "wrong\n");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("(401)") && stderr.lines().count() == 1,
        "{stderr}"
    );
    let (code, stderr) = refused(port, dir.path(), &["--password-stdin"], "\n");
    assert_eq!(code, Some(2), "{stderr}");

    // The right password over TLS; no sink named, so JSON lines go to
    // messages.jsonl in the working directory.
    let mut alice = server.connect();
    alice.send("LOGIN alice alice pass");
    alice.expect("OK LOGIN alice");
    let mut bot = logger(
        tls_port,
        &["--password-stdin", "--host", "localhost", "--tls", "--ca"],
    )
    .arg(&ca)
    .current_dir(dir.path())
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = bot.stdin.take().unwrap();
    stdin.write_all(b"bot pass\n").unwrap();
    drop(stdin);
    alice.expect("JOINED logbot ");
    alice.send("MSG logbot over TLS");
    alice.send("SAY and to all");
    alice.sync();
    // Taking the name over ends the logger's session with ERR 409.
    let mut again = server.connect();
    again.send("LOGIN logbot bot pass");
    again.expect("OK LOGIN logbot");
    let why = stopped(bot);
    assert!(
        why.starts_with("logger: the server ended the session: ERR 409 replaced"),
        "{why}"
    );
    let lines = json_lines(&dir.path().join("messages.jsonl"));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        (&lines[0]["kind"], &lines[0]["text"]),
        (&"msg".into(), &"over TLS".into())
    );
    assert_eq!(
        (&lines[1]["kind"], &lines[1]["text"]),
        (&"say".into(), &"and to all".into())
    );
}

#[test]
fn a_killed_logger_keeps_every_row_it_had_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    let server = TestServer::start(&[]);
    let mut alice = server.login("alice");
    // Only --sqlite: no JSON lines file appears in the working directory.
    let mut bot = logger(server.addr.port(), &["--sqlite"])
        .arg(&db)
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    alice.expect("JOINED logbot ");
    for i in 0..20 {
        alice.send(&format!("MSG logbot reading {i}"));
    }
    alice.sync();
    // Each row is committed as it comes: they all show up while the
    // logger still runs (the loop is a hang guard).
    let deadline = Instant::now() + PATIENCE;
    while rows(&db).len() < 20 {
        assert!(Instant::now() < deadline, "rows: {:?}", rows(&db));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bot.kill().unwrap(); // SIGKILL: no chance to close the database
    bot.wait().unwrap();
    let texts: Vec<String> = rows(&db).into_iter().map(|r| r.4).collect();
    let expected: Vec<String> = (0..20).map(|i| format!("reading {i}")).collect();
    assert_eq!(texts, expected);
    assert!(!dir.path().join("messages.jsonl").exists());
}

#[test]
fn logger_help_explains_every_flag() {
    let out = Command::new(logger_exe()).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--name",
        "--file",
        "--sqlite",
        "--host",
        "--port",
        "--password-stdin",
        "--tls",
        "--ca",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{flag} ")) || l.trim() == flag)
            .unwrap_or_else(|| panic!("{flag} missing from logger --help:\n{help}"));
        // What is left after the flag and its <VALUE> is the help text.
        let words = line
            .split_whitespace()
            .filter(|w| !w.starts_with("--") && !w.starts_with('<'));
        assert!(words.count() >= 3, "{flag} has no help text: {line:?}");
    }
}
