//! Real IRC clients on evchat, as their users run them: irssi (in tmux)
//! and WeeChat chat in one room with a terminal-client user, a browser
//! user and a line-protocol user, both ways; python3-irc gets held mail at
//! registration and a room's history after rejoining. Skipped without the
//! clients (Debian's irssi, weechat-headless, python3-irc, chromium),
//! except under CI, where `.ci/run` installs them.

mod common;
#[path = "common/pty.rs"]
mod pty;

use common::irc_clients::irssi::{irssi_available, Irssi};
use common::irc_clients::python_irc::{python_irc_available, PyIrc};
use common::irc_clients::weechat::{weechat_available, Weechat};
use common::page::{browser, log_in, open, row, say};
use common::{Line, TestServer, PATIENCE};
use pty::{untimed, Pty};
use std::process::Command;

/// `name` logged in over the line protocol and in `room`.
fn member(server: &TestServer, name: &str, room: &str) -> Line {
    let mut line = server.login(name);
    line.send(&format!("JOIN {room}"));
    line.expect(&format!("JOIN {name} {room} "));
    line
}

/// The next `MSG` or `SAY` from `from` the line user gets.
fn said_by(line: &mut Line, from: &str) -> String {
    let (msg, say) = (format!("MSG {from} "), format!("SAY {from} "));
    loop {
        let got = line.recv();
        if got.starts_with(&msg) || got.starts_with(&say) {
            return got;
        }
        if let Some(token) = got.strip_prefix("PING ") {
            line.send(&format!("PONG {token}"));
        }
    }
}

/// The terminal client, logged in as `name`, in `room`.
fn terminal_in(server: &TestServer, name: &str, room: &str) -> Pty {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evchat-client"));
    cmd.args(["--port", &server.addr.port().to_string(), name]);
    let mut term = Pty::spawn(cmd);
    term.wait_for("the prompt", |rows| {
        rows.iter().any(|r| r == &format!("{name}>"))
    });
    term.type_text(&format!("/join {room}\r"));
    term.wait_for("the room's prompt", |rows| {
        rows.iter().any(|r| r == &format!("{name} {room}>"))
    });
    term
}

#[test]
fn irssi_chats_with_terminal_browser_and_line_users_in_one_room() {
    if !irssi_available() {
        return;
    }
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = member(&server, "bob", "#rust");
    let term = terminal_in(&server, "tess", "#rust");
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "pam", &[]);
    say(&mut tab, "/join #rust");
    bob.expect("JOINED tess ");

    let irssi = Irssi::connect(server.addr, "ircy");
    irssi.join("#rust");
    // irssi to everyone else.
    irssi.say("#rust", "hello from irssi");
    let heard = said_by(&mut bob, "ircy");
    assert!(
        heard.starts_with("MSG ircy #rust ") && heard.ends_with(" hello from irssi"),
        "{heard}"
    );
    term.wait_for("irssi's line in the terminal", |rows| {
        rows.iter()
            .any(|r| untimed(r) == "#rust <ircy> hello from irssi")
    });
    row(&mut tab, "hello from irssi");
    // Everyone else to irssi, in the channel and privately.
    bob.send("MSG #rust hello from lines");
    irssi.wait_said("bob", "hello from lines");
    say(&mut tab, "hello from the page");
    irssi.wait_said("pam", "hello from the page");
    let mut term = term;
    term.type_text("hello from the terminal\r");
    irssi.wait_said("tess", "hello from the terminal");
    bob.send("MSG ircy just for you");
    irssi.wait_said("bob", "just for you");
    irssi.say("bob", "and back");
    let heard = said_by(&mut bob, "ircy");
    assert!(
        heard.starts_with("MSG ircy bob ") && heard.ends_with(" and back"),
        "{heard}"
    );
    let (status, screen) = irssi.quit("irssi out");
    assert_eq!(status, 0, "{screen:#?}");
    let left = loop {
        let got = bob.recv();
        if got.starts_with("LEFT ircy ") {
            break got;
        }
    };
    assert!(left.ends_with(" irssi out"), "{left}");
}

#[test]
fn weechat_chats_with_a_line_user_in_a_room_and_privately() {
    if !weechat_available() {
        return;
    }
    let server = TestServer::start(&[]);
    let mut bob = member(&server, "bob", "#rust");
    let mut weechat = Weechat::connect(server.addr, "wee");
    weechat.join("#rust");
    bob.expect("JOINED wee ");
    bob.expect("JOIN wee #rust ");
    weechat.say("#rust", "hello from weechat");
    let heard = said_by(&mut bob, "wee");
    assert!(
        heard.starts_with("MSG wee #rust ") && heard.ends_with(" hello from weechat"),
        "{heard}"
    );
    bob.send("MSG #rust two\\nlines");
    weechat.wait_log("#rust", "bob's first line", |l| {
        l.by("bob") && l.text == "two"
    });
    weechat.wait_log("#rust", "bob's second line", |l| {
        l.by("bob") && l.text == "lines"
    });
    bob.send("MSG wee psst");
    weechat.wait_log("bob", "bob's private line", |l| {
        l.by("bob") && l.text == "psst"
    });
    weechat.say("bob", "psst back");
    let heard = said_by(&mut bob, "wee");
    assert!(
        heard.starts_with("MSG wee bob ") && heard.ends_with(" psst back"),
        "{heard}"
    );
    let status = weechat.quit("weechat out");
    assert!(status.success(), "{status}");
}

#[test]
fn python_irc_gets_held_mail_at_registration_and_history_after_rejoining() {
    if !python_irc_available() {
        return;
    }
    let server = TestServer::start(&[]);
    let mut bot = PyIrc::connect(server.addr, "pybot");
    bot.join("#rust");
    bot.quit("back soon");
    let mut bob = member(&server, "bob", "#rust");
    bob.send("MSG pybot held while away");
    bob.send("MSG #rust said in the room");
    bob.sync();
    // python3-irc reads no IRCv3 tags: no server-time for it.
    let mut bot = PyIrc::connect(server.addr, "pybot");
    let (_, held) = bot.until("the held message", |e| {
        e.kind == "privmsg" && e.arguments.first().is_some_and(|t| t == "held while away")
    });
    assert_eq!(held.nick(), Some("bob"), "{held:?}");
    let (_, said) = bot.until("the room's history", |e| {
        e.kind == "pubmsg" && e.arguments.first().is_some_and(|t| t == "said in the room")
    });
    assert_eq!(said.target.as_deref(), Some("#rust"), "{said:?}");
}
