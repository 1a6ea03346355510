//! Room operators in the terminal client: the topic shown on joining,
//! `/topic`, `/mode`, `/who` with `@` operators, `/kick` and `/invite`
//! typed in the current room, and what others do shown as sentences —
//! their text with its control characters made visible.

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

/// Is there a row that is `row` (after its time)?
fn has(rows: &[String], row: &str) -> bool {
    rows.iter().any(|r| untimed(r) == row)
}

fn wait_row(term: &Pty, row: &str) -> Vec<String> {
    term.wait_for(row, |rows| has(rows, row))
}

#[test]
fn topics_modes_kicks_and_invitations_are_typed_and_shown() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    bob.send("JOIN #r");
    bob.send("TOPIC #r all \u{1b}[31mred\\nabout r");
    bob.sync();

    let mut term = Pty::spawn(client(&server, "alice"));
    bob.expect("JOINED alice ");
    term.type_text("/join #r\r");
    let rows = wait_row(&term, "* topic of #r: all ^[[31mred");
    let at = rows
        .iter()
        .position(|r| r == "* topic of #r: all ^[[31mred");
    let next = &rows[at.unwrap() + 1];
    assert_eq!(next.trim(), "about r", "{}", shown(&rows));
    assert!(
        rows[at.unwrap() + 2].starts_with("* set by bob on "),
        "{}",
        shown(&rows)
    );

    // Under +t only operators set it; bob makes alice one.
    bob.send("MODE #r +o alice");
    wait_row(&term, "* bob sets mode +o alice on #r");
    term.type_text("/topic  new and shiny \r");
    let told = bob.until("TOPIC #r ");
    assert!(told.starts_with("TOPIC #r alice "), "{told}");
    assert!(told.ends_with(" new and shiny"), "{told}");
    wait_row(&term, "* alice set the topic of #r: new and shiny");
    term.type_text("/topic\r");
    wait_row(&term, "* topic of #r: new and shiny");

    term.type_text("/who #r\r");
    wait_row(&term, "* #r (2): @alice, @bob");
    term.type_text("/mode -o bob\r");
    bob.until("MODE #r alice ");
    wait_row(&term, "* alice sets mode -o bob on #r");
    term.type_text("/mode\r");
    wait_row(&term, "* #r is +nt");

    term.type_text("/kick bob go away\r");
    let kick = bob.until("KICK #r ");
    assert!(kick.starts_with("KICK #r bob alice "), "{kick}");
    assert!(kick.ends_with(" go away"), "{kick}");
    wait_row(&term, "* alice kicked bob from #r (go away)");
    term.type_text("/invite bob\r");
    bob.until("INVITE alice bob #r ");
    wait_row(&term, "* you invited bob to #r");

    bob.send("JOIN #x");
    bob.send("INVITE alice #x");
    wait_row(&term, "* bob invites you to #x \u{2014} /join #x");

    // Without a current room, an operator command asks which.
    term.type_text("/go\r");
    term.type_text("/kick bob\r");
    wait_row(
        &term,
        "! which room? /kick #room bob [why] (or /go #room first)",
    );
    term.type_text("/quit\r");
    assert!(term.wait_exit().0.success());
}

#[test]
fn a_rename_is_one_row() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let term = Pty::spawn(client(&server, "alice"));
    bob.expect("JOINED alice ");
    bob.send("NICK robert");
    bob.expect("OK NICK robert");
    bob.send("SAY after the rename");
    let rows = term.wait_for("after the rename", |rows| {
        rows.iter().any(|r| r.ends_with("after the rename"))
    });
    assert!(has(&rows, "* bob is now robert"), "{}", shown(&rows));
    let joined = rows.iter().any(|r| untimed(r).contains("robert joined"));
    assert!(!joined, "{}", shown(&rows));
}
