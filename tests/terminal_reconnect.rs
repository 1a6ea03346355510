//! The terminal client when the server goes away: it connects again with
//! back-off, logs in again with the same name and password, keeps the
//! line being typed, and is in its rooms again — but never after its
//! name was taken over (`ERR 409`) or a refused login.

mod common;
#[path = "common/pty.rs"]
mod pty;

use common::{TestServer, PATIENCE};
use evchat::server::accounts::{hash_password, Users};
use pty::{shown, untimed, used, Pty};
use std::path::Path;
use std::process::Command;

fn client(port: u16, name: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evchat-client"));
    cmd.args(["--port", &port.to_string(), name]);
    cmd
}

/// A users file with these names and passwords.
fn users(dir: &Path, accounts: &[(&str, &str)]) -> String {
    let path = dir.join("users");
    let mut users = Users::default();
    for (name, password) in accounts {
        users.set(name, hash_password(password).unwrap());
    }
    users.save(&path).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A server on `port` (0: any) with the data in `dir` and accounts.
fn server(dir: &Path, users: &str, port: u16) -> TestServer {
    let data = dir.join("data");
    let port = port.to_string();
    TestServer::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--users",
        users,
        "--port",
        &port,
    ])
}

/// Starts alice's client and types her password when asked.
fn alice(port: u16) -> Pty {
    let mut term = Pty::spawn(client(port, "alice"));
    term.wait_for("the password prompt", |rows| {
        rows.iter().any(|r| r.starts_with("password for alice:"))
    });
    term.type_text("pw\r");
    term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "alice>"));
    term
}

fn is_last(rows: &[String], row: &str) -> bool {
    used(rows).last().is_some_and(|r| r == row)
}

#[test]
fn a_lost_connection_is_made_again_and_the_half_typed_line_is_sent_whole() {
    let dir = tempfile::tempdir().unwrap();
    let users = users(dir.path(), &[("alice", "pw"), ("bob", "b")]);
    let mut first = server(dir.path(), &users, 0);
    let port = first.addr.port();
    let mut term = alice(port);
    term.type_text("/join #r\r");
    // Its confirmation comes once the journal has the join.
    term.wait_for("the room", |rows| {
        rows.iter().any(|r| untimed(r) == "* alice joined #r")
    });
    term.type_text("/away lunch\r");
    let aways = |rows: &[String]| {
        rows.iter()
            .filter(|r| untimed(r) == "* you are away: lunch")
            .count()
    };
    term.wait_for("away", |rows| aways(rows) == 1);
    term.type_text("hello wor");
    term.wait_for("the half-typed line", |rows| {
        is_last(rows, "alice #r> hello wor")
    });

    first.kill(); // kill -9: no goodbye
    term.wait_for("the loss, said", |rows| {
        rows.iter()
            .any(|r| r.starts_with("* connection lost: ") && r.contains("; reconnecting in "))
    });
    let again = server(dir.path(), &users, port);
    let mut bob = again.connect();
    bob.send("LOGIN bob b");
    bob.expect("OK LOGIN bob");
    bob.send("JOIN #r");
    bob.sync();
    // In the room again without a /join: the server's JOIN at login.
    let joins = |rows: &[String]| {
        rows.iter()
            .filter(|r| untimed(r) == "* alice joined #r")
            .count()
    };
    // Away again too: away is the session's, and the client says it again.
    term.wait_for(
        "the reconnection, in the room, away, the line kept",
        |rows| {
            rows.iter().any(|r| r == "* reconnected as alice")
                && joins(rows) == 2
                && aways(rows) == 2
                && is_last(rows, "alice #r> hello wor")
        },
    );
    bob.send("WHOIS alice");
    let whois = loop {
        let line = bob.recv();
        if line.starts_with("WHOIS ") {
            break line;
        }
    };
    assert!(whois.starts_with("WHOIS alice away #r "), "{whois}");
    assert!(whois.ends_with(" lunch"), "{whois}");
    term.type_text("ld\r");
    let heard = loop {
        let line = bob.recv();
        if line.starts_with("MSG ") {
            break line;
        }
    };
    assert!(heard.starts_with("MSG alice #r "), "{heard}");
    assert!(heard.ends_with(" hello world"), "{heard}");
    term.type_text("/quit\r");
    assert!(term.wait_exit().0.success());
}

#[test]
fn a_name_taken_over_is_not_taken_back() {
    let dir = tempfile::tempdir().unwrap();
    let users = users(dir.path(), &[("alice", "pw")]);
    let server = server(dir.path(), &users, 0);
    let mut term = alice(server.addr.port());
    let mut taker = server.connect();
    taker.send("LOGIN alice pw");
    taker.expect("OK LOGIN alice");
    let (status, rows) = term.wait_exit();
    let screen = shown(&rows);
    assert_eq!(status.code(), Some(1), "{screen}");
    assert_eq!(
        used(&rows)[used(&rows).len() - 2..],
        [
            "! error 409: replaced by a new login as alice",
            "evchat-client: connection to server lost: the server closed the connection",
        ],
        "{screen}"
    );
    assert!(!screen.contains("reconnecting"), "{screen}");
    // The taker is not pushed out in turn.
    taker.send("PING still-here");
    taker.expect("PONG still-here");
}

#[test]
fn a_refused_login_on_reconnecting_ends_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let before = users(dir.path(), &[("alice", "pw")]);
    let mut first = server(dir.path(), &before, 0);
    let port = first.addr.port();
    let mut term = alice(port);
    first.kill();
    term.wait_for("the loss, said", |rows| {
        rows.iter().any(|r| r.starts_with("* connection lost: "))
    });
    // Meanwhile alice's password was changed.
    let after = users(dir.path(), &[("alice", "new")]);
    let _again = server(dir.path(), &after, port);
    let (status, rows) = term.wait_exit();
    let screen = shown(&rows);
    assert_eq!(status.code(), Some(1), "{screen}");
    // The goodbye is wider than the terminal: its rows, joined.
    assert!(
        used(&rows).concat().ends_with(
            "evchat-client: connection to server lost: \
             logging in again as alice was refused: wrong name or password"
        ),
        "{screen}"
    );
}
