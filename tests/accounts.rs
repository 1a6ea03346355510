//! Accounts: the users file and its subcommands, logins with passwords,
//! session takeover, and password checks that never pause the chat.

mod common;
use common::{run_with_stdin, Line, TestServer};
use evchat::server::auth_queue::MAX_WAITING_PER_NETWORK;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `evchat-server user ...` with `stdin` piped in.
fn user_cmd(users: &Path, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evchat-server"));
    command
        .arg("user")
        .args(args)
        .args(["--users", users.to_str().unwrap()]);
    run_with_stdin(&mut command, stdin.as_bytes())
}

fn listed(users: &Path) -> Vec<String> {
    let out = user_cmd(users, &["list"], "");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A server whose users file has `name:password` for each pair.
fn server_with(accounts: &[(&str, &str)]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    for (name, password) in accounts {
        let out = user_cmd(&users, &["add", name], &format!("{password}\n"));
        assert!(out.status.success(), "{out:?}");
    }
    let server = TestServer::start(&["--users", users.to_str().unwrap()]);
    (server, dir)
}

fn login(server: &TestServer, name: &str, password: &str) -> Line {
    let mut c = server.connect();
    c.send(&format!("LOGIN {name} {password}"));
    c.expect(&format!("OK LOGIN {name}"));
    c
}

#[test]
fn user_add_del_list_round_trip_and_the_file_holds_only_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    assert!(user_cmd(&users, &["add", "bob"], "s3cret pass\n")
        .status
        .success());
    assert!(user_cmd(&users, &["add", "amy"], "other\n")
        .status
        .success());
    assert_eq!(listed(&users), ["amy", "bob"]);
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(
        !text.contains("s3cret") && text.contains("bob:$argon2id$"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&users).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    assert!(user_cmd(&users, &["del", "bob"], "").status.success());
    assert_eq!(listed(&users), ["amy"]);
    let out = user_cmd(&users, &["del", "bob"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user bob"));
    let out = user_cmd(&users, &["add", "bad name!"], "x\n");
    assert_eq!(out.status.code(), Some(1));
    let out = user_cmd(&users, &["add", "carl"], "\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not be empty"));
}

#[test]
fn right_password_logs_in_and_wrong_or_unknown_get_the_same_401() {
    let (server, _dir) = server_with(&[("bob", "hunter two"), ("amy", "x")]);
    let mut c = server.connect();
    c.send("LOGIN bob");
    let asked = c.expect("ERR 401 ");
    assert!(asked.contains("password"), "{asked}");
    c.send("LOGIN bob hunter");
    let wrong = c.expect("ERR 401 ");
    c.send("LOGIN nobody hunter two");
    let unknown = c.expect("ERR 401 ");
    assert_eq!(wrong, unknown, "the answer must not tell which names exist");
    c.send("SAY not yet");
    c.expect("ERR 401 ");
    // Frames right behind a LOGIN wait for its verdict, in order.
    c.send_raw(b"LOGIN bob hunter two\nSAY first\nWHO\n");
    c.expect("OK LOGIN bob");
    let mut amy = login(&server, "amy", "x");
    assert_eq!(c.expect("USERS"), "USERS bob");
    assert!(amy.sync().is_empty());
    server.log_with("failed login as bob from 127.0.0.1:");
    server.log_with("failed login as nobody from 127.0.0.1:");
}

#[test]
fn a_new_login_replaces_the_old_session_without_left_or_joined() {
    let (server, _dir) = server_with(&[("bob", "pw"), ("amy", "pw2")]);
    let mut amy = login(&server, "amy", "pw2");
    let mut old = login(&server, "bob", "pw");
    let joined = amy.sync();
    assert!(
        joined.len() == 1 && joined[0].starts_with("JOINED bob "),
        "{joined:?}"
    );
    let mut new = login(&server, "bob", "pw");
    let closing = old.until_closed();
    assert_eq!(closing.len(), 1, "{closing:?}");
    assert!(closing[0].starts_with("ERR 409 replaced"), "{closing:?}");
    assert!(amy.sync().is_empty(), "others see no LEFT/JOINED flicker");
    amy.send("MSG bob still there?");
    assert!(new.expect("MSG amy bob ").ends_with("still there?"));
    amy.send("WHO");
    assert_eq!(amy.expect("USERS"), "USERS amy bob");
}

#[test]
fn an_account_added_while_running_can_log_in_and_be_sent_held_messages() {
    let (server, dir) = server_with(&[("amy", "a")]);
    let mut amy = login(&server, "amy", "a");
    let users = dir.path().join("users");
    assert!(user_cmd(&users, &["add", "carl"], "c\n").status.success());
    // Any login makes the server look at the file again (it also does so
    // once a second).
    login(&server, "amy", "a");
    amy.until_closed(); // replaced by that login
    let mut amy = login(&server, "amy", "a");
    amy.send("MSG carl welcome aboard");
    assert!(amy.sync().is_empty(), "held for an account not yet seen");
    let mut carl = login(&server, "carl", "c");
    let mail = carl.sync();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert!(mail[0].starts_with("MSG amy carl ") && mail[0].ends_with("welcome aboard"));
}

#[test]
fn five_failed_logins_close_the_connection() {
    let (server, _dir) = server_with(&[("bob", "pw")]);
    let mut c = server.connect();
    for _ in 0..4 {
        c.send("LOGIN bob guess");
        c.expect("ERR 401 wrong name or password");
    }
    c.send("LOGIN bob guess");
    let last = c.until_closed();
    assert_eq!(last.len(), 1, "{last:?}");
    assert!(last[0].starts_with("ERR 401 5 failed logins"), "{last:?}");
    // Others are not affected, and the right password still works.
    login(&server, "bob", "pw");
}

#[test]
fn many_logins_at_once_do_not_stall_a_conversation() {
    const CROWD: usize = 24;
    let accounts: Vec<(String, String)> = (0..CROWD)
        .map(|i| (format!("u{i}"), format!("pw{i}")))
        .chain([("amy".into(), "a".into()), ("bob".into(), "b".into())])
        .collect();
    let pairs: Vec<(&str, &str)> = accounts
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_str()))
        .collect();
    let (server, _dir) = server_with(&pairs);
    let mut amy = login(&server, "amy", "a");
    let mut bob = login(&server, "bob", "b");
    amy.sync();
    // Every hash check takes tens of milliseconds on the helper thread.
    let mut crowd: Vec<Line> = (0..CROWD)
        .map(|i| {
            let mut c = server.connect();
            c.send(&format!("LOGIN u{i} pw{i}"));
            c
        })
        .collect();
    amy.send("SAY while they log in");
    bob.expect("SAY amy ");
    bob.sync();
    amy.sync();
    // The conversation went round while logins were still being checked:
    // the loop did not wait for them.
    let users = server.stat("users");
    assert!(
        users < CROWD as u64 + 2,
        "all {CROWD} logins finished before one message went round"
    );
    for (i, c) in crowd.iter_mut().enumerate() {
        c.expect(&format!("OK LOGIN u{i}"));
    }
    assert_eq!(server.stat("users"), CROWD as u64 + 2);
}

#[test]
fn many_addresses_of_one_network_do_not_keep_another_network_waiting() {
    let (server, _dir) = server_with(&[("amy", "a"), ("bob", "b")]);
    // 200 addresses of 127.0.0.0/24, one login each, with a wrong password:
    // each costs a password check.
    let crowd: Vec<Line> = (2..202u8)
        .map(|i| {
            let mut c = Line::connect_from(server.addr, IpAddr::from([127, 0, 0, i]));
            c.send("LOGIN amy wrong");
            c
        })
        .collect();
    let mut monitor = Line::connect_from(server.addr, IpAddr::from([127, 0, 2, 1]));
    // Only the crowd's network waits while the monitor looks, so what it
    // sees never passes the per-network bound.
    let mut most_waiting = 0;
    let mut waiting = |monitor: &mut Line| {
        monitor.send("STATS");
        let now = common::stat_of(&monitor.expect("STATS "), "logins_waiting");
        most_waiting = most_waiting.max(now);
        now
    };
    while waiting(&mut monitor) < 32 {}
    // A login from another network is checked in its network's turn, not
    // after the crowd's.
    let mut bob = Line::connect_from(server.addr, IpAddr::from([127, 0, 1, 1]));
    bob.send("LOGIN bob b");
    bob.expect("OK LOGIN bob");
    let checked = crowd.iter().filter(|c| answered(c, "ERR 401")).count();
    assert!(
        checked <= 8,
        "{checked} logins of the crowd's network were checked before bob's"
    );
    assert!(
        waiting(&mut monitor) > 8,
        "the crowd's logins still wait: the test showed nothing"
    );
    // Every login of the crowd is answered: checked (401) or, while its
    // network already had 64 waiting, refused at once (503).
    let mut refused = 0;
    for mut c in crowd {
        let answer = c.recv();
        match answer.split(' ').nth(1) {
            Some("503") => refused += 1,
            Some("401") => {}
            _ => panic!("unexpected answer {answer:?}"),
        }
    }
    assert!(
        refused > 0,
        "no login was refused: the crowd was never bounded"
    );
    assert!(
        most_waiting <= MAX_WAITING_PER_NETWORK as u64,
        "{most_waiting} logins of one network waited at once"
    );
}

/// Has `c` been sent a line starting with `prefix` (without reading it)?
fn answered(c: &Line, prefix: &str) -> bool {
    let mut buf = [0u8; 16];
    c.stream.set_nonblocking(true).unwrap();
    let n = c.stream.peek(&mut buf).unwrap_or(0);
    c.stream.set_nonblocking(false).unwrap();
    buf[..n].starts_with(prefix.as_bytes())
}

#[test]
fn the_client_reads_its_password_from_stdin() {
    let (server, _dir) = server_with(&[("bob", "pw with spaces"), ("amy", "a")]);
    let mut amy = login(&server, "amy", "a");
    let port = server.addr.port().to_string();
    let mut client = Command::new(env!("CARGO_BIN_EXE_evchat-client"))
        .args(["bob", "--port", &port, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    stdin
        .write_all(b"pw with spaces\nhello from bob\n")
        .unwrap();
    amy.expect("JOINED bob ");
    assert!(amy.expect("SAY bob ").ends_with("hello from bob"));
    drop(stdin);
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // Without a password, a piped client says what is missing.
    let out = Command::new(env!("CARGO_BIN_EXE_evchat-client"))
        .args(["bob", "--port", &port])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
}

#[test]
fn a_browser_user_logs_in_with_a_password_and_is_replaced_like_anyone() {
    use common::ws::Ws;
    let (server, _dir) = server_with(&[("web", "secret words")]);
    let mut ws = Ws::open(server.addr);
    ws.send("LOGIN web");
    ws.expect("ERR 401 ");
    // Frames sent while the password is checked wait, in order, behind it.
    ws.send("LOGIN web secret words");
    ws.send("WHO");
    ws.expect("OK LOGIN web");
    assert_eq!(ws.recv(), "USERS web");
    // A login elsewhere takes the name over: the page is told, then closed.
    let _new = login(&server, "web", "secret words");
    let (code, texts) = ws.until_close();
    assert_eq!(code, Some(1000));
    assert!(
        texts.len() == 1 && texts[0].starts_with("ERR 409 replaced"),
        "{texts:?}"
    );
}
