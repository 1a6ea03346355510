//! What the terminal client marks `(while away)`: what the server sends
//! at login — held private mail and every window of the rooms' catch-up —
//! and nothing that comes live after it.

mod common;
#[path = "common/pty.rs"]
mod pty;

use common::{TestServer, PATIENCE};
use pty::{shown, untimed, Pty};
use std::process::Command;

fn client(server: &TestServer, name: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evchat-client"));
    cmd.args(["--port", &server.addr.port().to_string(), name]);
    cmd
}

/// Is there a row that starts (after its time) with `start`?
fn has(rows: &[String], start: &str) -> bool {
    rows.iter().any(|r| untimed(r).starts_with(start))
}

#[test]
fn every_catch_up_window_is_marked_and_live_lines_after_it_are_not() {
    // A catch-up window is an eighth of --max-queue, at least 1 KiB: with
    // a message of more than that in each room, each room comes in a
    // window of its own, after the PING that ends the one before.
    let server = TestServer::start(&["--max-queue", "8K", "--max-line", "2K"]);
    let mut alice = server.login("alice");
    alice.send("JOIN #a");
    alice.send("JOIN #b");
    alice.sync();
    alice.send("QUIT");
    alice.until_closed();
    let mut bob = server.login("bob");
    let filler = "x".repeat(1100);
    bob.send("JOIN #a");
    bob.send("JOIN #b");
    bob.send("MSG alice held for you");
    bob.send(&format!("MSG #a first room {filler}"));
    bob.send(&format!("MSG #b second room {filler}"));
    bob.sync();

    let mut term = Pty::spawn(client(&server, "alice"));
    bob.expect("JOINED alice ");
    let rows = term.wait_for("both rooms' catch-up", |rows| {
        has(rows, "* alice joined #b") && rows.iter().any(|r| r.contains("<bob> second room"))
    });
    let screen = shown(&rows);
    assert!(
        has(&rows, "(while away) [private] <bob> held for you"),
        "{screen}"
    );
    assert!(has(&rows, "(while away) #a <bob> first room x"), "{screen}");
    assert!(
        has(&rows, "(while away) #b <bob> second room x"),
        "{screen}"
    );

    bob.send("MSG #b live in b");
    bob.send("MSG alice live to you");
    term.wait_for("the live lines, not marked", |rows| {
        has(rows, "#b <bob> live in b") && has(rows, "[private] <bob> live to you")
    });
    term.type_text("/quit\r");
    assert!(term.wait_exit().0.success());
}
