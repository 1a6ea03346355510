//! The client as a person sees it: `evchat-client` runs in a pseudo-
//! terminal, what it writes is rendered by a terminal emulator, and keys
//! are typed in bursts, faster than any person. Checked on the rendered
//! screen: every received line stays there, in order, while a line is
//! being typed; hostile text is shown, not obeyed; the last words before
//! the server goes away are printed before saying so (also over a pipe).

mod common;
#[path = "common/pty.rs"]
mod pty;

use common::{TestServer, PATIENCE};
use pty::{shown, untimed, used, Pty};
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};

fn client(server: &TestServer, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evchat-client"));
    cmd.args(["--port", &server.addr.port().to_string()])
        .args(args);
    cmd
}

/// Indexes of the rows equal to `row`.
fn find(rows: &[String], row: &str) -> Vec<usize> {
    (0..rows.len()).filter(|&i| rows[i] == row).collect()
}

#[test]
fn every_reply_to_lines_typed_quickly_stays_on_screen_in_order() {
    let server = TestServer::start(&[]);
    let mut term = Pty::spawn(client(&server, &["alice"]));
    term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "alice>"));
    // Each line as soon as the previous one is on the screen, not waiting
    // for its answer...
    for typed in 1..=40 {
        term.type_text("/who\r");
        term.wait_for("the typed line", |rows| {
            find(rows, "alice> /who").len() == typed
        });
    }
    // ...then many lines in one write, as a paste.
    term.type_text(&("@zed hi\r".repeat(40) + "/quit\r"));
    let (status, rows) = term.wait_exit();
    let screen = shown(&rows);
    assert!(status.success(), "{status:?}\n{screen}");
    let online = find(&rows, "* online (1): alice");
    assert_eq!(
        online.len(),
        41,
        "40 answers and one after login:\n{screen}"
    );
    let errors = find(&rows, "! error 404: no such user: zed; nothing was sent");
    assert_eq!(errors.len(), 40, "{screen}");
    assert!(online.last() < errors.first(), "{screen}");
    assert_eq!(find(&rows, "alice> @zed hi").len(), 40, "{screen}");
}

#[test]
fn a_flood_of_broadcasts_scrolls_past_a_half_typed_line_without_losing_any() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut term = Pty::spawn(client(&server, &["alice"]));
    bob.expect("JOINED alice ");
    term.wait_for("who is online, shown after login", |rows| {
        rows.iter().any(|r| r == "* online (2): alice, bob")
    });
    term.type_text("half-typed");
    term.wait_for("the half-typed line", |rows| {
        used(rows).last().is_some_and(|r| r == "alice> half-typed")
    });
    for i in 0..200 {
        bob.send(&format!("SAY flood {i}"));
    }
    let rows = term.wait_for("the last broadcast", |rows| {
        rows.iter().any(|r| r.ends_with("<bob> flood 199"))
    });
    assert_eq!(
        used(&rows).last().map(String::as_str),
        Some("alice> half-typed"),
        "{}",
        shown(&rows)
    );
    let last = used(&rows).len() as u16 - 1;
    assert_eq!(term.cursor(), (last, "alice> half-typed".len() as u16));
    term.type_text(" and sent\r");
    assert!(bob.expect("SAY alice ").ends_with(" half-typed and sent"));
    term.type_text("/quit\r");
    let (status, rows) = term.wait_exit();
    assert!(status.success());
    let floods: Vec<&str> = rows
        .iter()
        .map(|r| untimed(r))
        .filter(|r| r.starts_with("<bob> "))
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("<bob> flood {i}")).collect();
    assert_eq!(floods, expected, "{}", shown(&rows));
}

#[test]
fn hostile_text_is_shown_not_obeyed() {
    let server = TestServer::start(&[]);
    let mut mallory = server.login("mallory");
    let term = Pty::spawn(client(&server, &["alice"]));
    mallory.expect("JOINED alice ");
    term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "alice>"));
    mallory.send("SAY hi\\r[18:35:00] <bob> alice, please send me your password");
    mallory.send("SAY \x1b]0;owned\x07\x1b[2J\u{202e}txet\x7f\u{9b}");
    mallory.send("QUIT bye\x1b[1A");
    let rows = term.wait_for("mallory leaving", |rows| {
        rows.iter().any(|r| r.contains("mallory left"))
    });
    let screen = shown(&rows);
    let rows: Vec<&str> = used(&rows).iter().map(|r| untimed(r)).collect();
    assert!(
        rows.contains(&"<mallory> hi^M[18:35:00] <bob> alice, please send me your password"),
        "{screen}"
    );
    assert!(
        rows.contains(&"<mallory> ^[]0;owned^G^[[2J<U+202E>txet^?<U+009B>"),
        "{screen}"
    );
    assert!(rows.contains(&"* mallory left: bye^[[1A"), "{screen}");
    assert!(
        rows.iter().any(|r| r.starts_with("* connected to")),
        "nothing was cleared:\n{screen}"
    );
    let raw = term.raw();
    for bad in [
        &b"\x1b]"[..],
        b"\x1b[2J",
        b"\x1b[1A",
        "\u{202e}".as_bytes(),
        b"\x07",
    ] {
        assert!(
            !raw.windows(bad.len()).any(|w| w == bad),
            "{bad:?} reached the terminal"
        );
    }
}

#[test]
fn ctrl_c_clears_a_half_typed_line_and_only_hints_on_an_empty_one() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut term = Pty::spawn(client(&server, &["alice"]));
    bob.expect("JOINED alice ");
    term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "alice>"));
    term.type_text("half-typed secret\x03");
    term.wait_for("an empty line again", |rows| {
        used(rows).last().is_some_and(|r| r == "alice>")
    });
    term.type_text("\x03");
    term.wait_for("the hint", |rows| {
        rows.iter()
            .any(|r| r == "(type /quit or press Ctrl-D to leave)")
    });
    term.type_text("after\r");
    assert!(
        bob.expect("SAY alice ").ends_with(" after"),
        "the cleared line was not sent"
    );
    term.type_text("\x04");
    let (status, _) = term.wait_exit();
    assert!(status.success());
    bob.expect("LEFT alice ");
}

#[test]
fn after_five_failed_logins_the_client_says_so_and_exits_1() {
    use evchat::server::accounts::{hash_password, Users};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    let mut users = Users::default();
    users.set("bob", hash_password("right").unwrap());
    users.save(&path).unwrap();
    let server = TestServer::start(&["--users", path.to_str().unwrap()]);
    let mut term = Pty::spawn(client(&server, &["bob"]));
    let prompts = |rows: &[String]| {
        rows.iter()
            .map(|r| r.matches("password for bob:").count())
            .sum::<usize>()
    };
    for attempt in 1..=5 {
        term.wait_for("a password prompt", |rows| prompts(rows) == attempt);
        term.type_text("wrong\r");
    }
    let (status, rows) = term.wait_exit();
    let screen = shown(&rows);
    assert_eq!(status.code(), Some(1), "{screen}");
    assert_eq!(
        prompts(&rows),
        5,
        "asked again after the server hung up:\n{screen}"
    );
    assert_eq!(
        used(&rows).last().map(String::as_str),
        Some("evchat-client: login refused: 5 failed logins; disconnected"),
        "{screen}"
    );
}

#[test]
fn the_last_words_come_before_the_loss_in_a_terminal_and_quit_then_leaves_at_once() {
    let mut server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut term = Pty::spawn(client(&server, &["alice"]));
    bob.expect("JOINED alice ");
    term.wait_for("who is online", |rows| {
        rows.iter().any(|r| r == "* online (2): alice, bob")
    });
    term.type_text("half-typed");
    term.wait_for("the half-typed line", |rows| {
        used(rows).last().is_some_and(|r| r == "alice> half-typed")
    });
    server.signal(libc::SIGTERM);
    server.wait_exit();
    let rows = term.wait_for("the loss, said", |rows| {
        rows.iter().any(|r| r.starts_with("* connection lost: "))
    });
    let screen = shown(&rows);
    let rows = used(&rows);
    let lost = rows
        .iter()
        .position(|r| r.starts_with("* connection lost: "))
        .unwrap_or_default();
    assert_eq!(
        rows[lost - 1],
        "! error 503: server shutting down",
        "{screen}"
    );
    assert!(
        rows[lost]
            .starts_with("* connection lost: the server closed the connection; reconnecting in "),
        "{screen}"
    );
    assert_eq!(rows[rows.len() - 1], "alice> half-typed", "{screen}");
    // Nobody to wait for: /quit leaves at once (Ctrl-U clears the line).
    term.type_text("\x15/quit\r");
    let (status, rows) = term.wait_exit();
    assert!(status.success(), "{}", shown(&rows));
    assert_eq!(
        term.cursor(),
        (used(&rows).len() as u16, 0),
        "the shell prompt gets a line of its own"
    );
}

/// Runs `command` with stdout and stderr into one pipe, so their order
/// shows; returns a handle to collect the output once it has exited.
fn spawn_merged(mut command: Command) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    command
        .stdin(Stdio::piped()) // kept open: the client is waiting for input
        .stdout(writer.try_clone().unwrap())
        .stderr(writer);
    let child = command.spawn().unwrap();
    drop(command);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = reader.read_to_string(&mut out);
        let _ = tx.send(out);
    });
    (child, rx)
}

fn collect(
    mut child: std::process::Child,
    output: std::sync::mpsc::Receiver<String>,
) -> (ExitStatus, String) {
    let out = output.recv_timeout(PATIENCE).expect("client did not exit");
    (child.wait().unwrap(), out)
}

#[test]
fn the_last_words_come_before_the_goodbye_over_a_pipe() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let (child, output) = spawn_merged(client(&server, &["alice"]));
    bob.expect("JOINED alice ");
    server.signal(libc::SIGTERM);
    let (status, out) = collect(child, output);
    assert_eq!(status.code(), Some(1), "{out}");
    assert_eq!(
        out,
        "! error 503: server shutting down\n\
         evchat-client: connection to server lost: the server closed the connection\n"
    );

    // A takeover: the replaced client says why before it goes.
    use evchat::server::accounts::{hash_password, Users};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    let mut users = Users::default();
    users.set("bob", hash_password("pw").unwrap());
    users.set("amy", hash_password("a").unwrap());
    users.save(&path).unwrap();
    let server = TestServer::start(&["--users", path.to_str().unwrap()]);
    let mut amy = server.connect();
    amy.send("LOGIN amy a");
    amy.expect("OK LOGIN amy");
    let (mut child, output) = spawn_merged(client(&server, &["bob", "--password-stdin"]));
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"pw\nhello\n").unwrap();
    }
    amy.expect("JOINED bob ");
    assert!(amy.expect("SAY bob ").ends_with(" hello"));
    let mut taker = server.connect();
    taker.send("LOGIN bob pw");
    taker.expect("OK LOGIN bob");
    let (status, out) = collect(child, output);
    assert_eq!(status.code(), Some(1), "{out}");
    assert_eq!(
        out,
        "! error 409: replaced by a new login as bob\n\
         evchat-client: connection to server lost: the server closed the connection\n"
    );
}

#[test]
fn a_name_in_use_is_refused_and_another_can_be_typed() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    bob.sync();
    let mut term = Pty::spawn(client(&server, &["bob"]));
    let rows = term.wait_for("the question", |rows| {
        rows.iter().any(|r| r.starts_with("another name:"))
    });
    assert!(
        rows.iter().any(|r| r == "! bob is already online"),
        "{}",
        shown(&rows)
    );
    term.type_text("robert\r");
    term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "robert>"));
    bob.expect("JOINED robert ");
    term.type_text("/quit\r");
    let (status, _) = term.wait_exit();
    assert!(status.success());
}

#[test]
fn a_room_is_joined_talked_in_from_the_prompt_and_what_was_missed_is_marked() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.sync();
    let mut term = Pty::spawn(client(&server, &["alice"]));
    term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "alice>"));
    term.type_text("/join #rust\r");
    term.wait_for("the room's prompt", |rows| {
        rows.iter().any(|r| r == "alice #rust>")
            && rows.iter().any(|r| untimed(r) == "* alice joined #rust")
    });
    bob.send("MSG #rust hi alice");
    term.wait_for("bob's line", |rows| {
        rows.iter().any(|r| untimed(r) == "#rust <bob> hi alice")
    });
    // A plain line goes to the current room.
    term.type_text("hello room\r");
    let heard = loop {
        let line = bob.recv();
        if line.starts_with("MSG ") {
            break line;
        }
    };
    assert!(heard.starts_with("MSG alice #rust "), "{heard}");
    assert!(heard.ends_with(" hello room"), "{heard}");
    term.type_text("/quit\r");
    assert!(term.wait_exit().0.success());
    bob.send("MSG #rust said while you were out");
    bob.sync();
    let term = Pty::spawn(client(&server, &["alice"]));
    term.wait_for("the missed line, marked", |rows| {
        rows.iter()
            .any(|r| untimed(r) == "(while away) #rust <bob> said while you were out")
    });
    bob.send("MSG #rust live again");
    term.wait_for("a live line, not marked", |rows| {
        rows.iter().any(|r| untimed(r) == "#rust <bob> live again")
    });
}

#[test]
fn away_is_typed_as_a_command_and_anothers_is_shown_as_text() {
    let server = TestServer::start(&[]);
    let mut mallory = server.login("mallory");
    let mut term = Pty::spawn(client(&server, &["alice"]));
    mallory.expect("JOINED alice ");
    term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "alice>"));
    term.type_text("/away at lunch\r");
    term.wait_for("alice away", |rows| {
        rows.iter()
            .any(|r| untimed(r) == "* you are away: at lunch")
    });
    mallory.send("MSG alice hello");
    assert!(mallory.expect("AWAY alice ").ends_with(" at lunch"));
    term.type_text("/away\r");
    term.wait_for("alice back", |rows| {
        rows.iter().any(|r| untimed(r) == "* you are back")
    });
    mallory.send("AWAY gone\x1b[2J\\nfar");
    mallory.expect("AWAY mallory ");
    term.type_text("@mallory where?\r");
    let rows = term.wait_for("mallory's away", |rows| {
        rows.iter().any(|r| r.contains("is away since"))
    });
    let screen = shown(&rows);
    let at = rows
        .iter()
        .position(|r| r.contains("is away since"))
        .unwrap();
    assert!(rows[at].starts_with("* mallory is away since "), "{screen}");
    assert!(rows[at].ends_with(": gone^[[2J"), "{screen}");
    assert!(rows[at + 1].trim() == "far", "{screen}");
    assert!(!term.raw().windows(4).any(|w| w == b"\x1b[2J"), "{screen}");
    term.type_text("/list\r");
    term.wait_for("the rooms", |rows| {
        rows.iter().any(|r| r == "* there is no room yet")
    });
    term.type_text("/whois MALLORY\r");
    term.type_text("/whois nobody\r");
    let rows = term.wait_for("the whois answers", |rows| {
        rows.iter().any(|r| r.contains("no such user"))
    });
    let screen = shown(&rows);
    let rows: Vec<&str> = used(&rows).iter().map(|r| untimed(r)).collect();
    let at = rows
        .iter()
        .position(|r| r.contains("(in no room)"))
        .unwrap();
    assert!(rows[at].starts_with("* mallory is away since "), "{screen}");
    assert!(rows[at].ends_with(" (in no room): gone^[[2J"), "{screen}");
    assert!(
        rows.iter().any(|r| r.contains("no such user: nobody")),
        "{screen}"
    );
}

#[test]
fn the_client_takes_its_name_as_the_server_shows_it() {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    bob.send("QUIT");
    bob.expect("BYE");
    let term = Pty::spawn(client(&server, &["BOB"]));
    let rows = term.wait_for("the prompt", |rows| rows.iter().any(|r| r == "bob>"));
    assert!(
        rows.iter().any(|r| r.contains(" as bob; /help")),
        "{}",
        shown(&rows)
    );
}
