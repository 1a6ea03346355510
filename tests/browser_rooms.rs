//! Rooms and conversations on the page, in a real browser (see
//! tests/browser.rs for how): the list beside the messages (Everyone, the
//! rooms one is in, private conversations), joining and leaving, unread
//! counts, history on entering and catch-up at login, lines typed in a
//! room reaching its members, and what the page shows after `/quit` and
//! `/help`.

mod common;
use common::browser::{Browser, Tab};
use common::page::*;
use common::{Line, TestServer};
use serde_json::json;

/// The button of a conversation in the list (`#rust`, `@bob`, `*`).
fn chat(key: &str) -> String {
    format!("#chat-list button[data-key={}]", js(key))
}

/// Waits until the conversation `key` is listed and returns its unread
/// count as shown ('' for none).
fn unread(tab: &mut Tab, key: &str) -> String {
    let found = tab.wait(
        &format!("{key} in the list"),
        &format!(
            "(() => {{ const b = document.querySelector({});
               return b ? [(b.querySelector('.unread') || {{}}).textContent || ''] : null; }})()",
            js(&chat(key))
        ),
    );
    found[0].as_str().unwrap_or_default().to_owned()
}

fn wait_unread(tab: &mut Tab, key: &str, count: &str) {
    tab.wait(
        &format!("{key} to show {count:?} unread"),
        &format!(
            "(() => {{ const b = document.querySelector({});
               return b && ((b.querySelector('.unread') || {{}}).textContent || '') === {}; }})()",
            js(&chat(key)),
            js(count)
        ),
    );
}

fn wait_current(tab: &mut Tab, key: &str) {
    tab.wait(
        &format!("{key} to be the current conversation"),
        &format!(
            "(document.querySelector({}) || {{}}).ariaCurrent === 'true'",
            js(&chat(key))
        ),
    );
}

fn listed(tab: &mut Tab, key: &str) -> bool {
    tab.eval(&format!("!!document.querySelector({})", js(&chat(key)))) == true
}

/// Is a row with exactly this text in the message list now?
fn shown(tab: &mut Tab, text: &str) -> bool {
    tab.eval(&format!(
        "[...document.querySelectorAll('#messages .row .text')].some((t) => t.textContent === {})",
        js(text)
    )) == true
}

/// `name` on TCP, a member of `room`, with everything so far read.
fn member(server: &TestServer, name: &str, room: &str) -> Line {
    let mut user = server.login(name);
    user.send(&format!("JOIN {room}"));
    user.sync();
    user
}

/// alice in the page, in `#rust` (with bob, on a line) and `#ops`, the
/// current one.
fn alice_in_rust_and_ops(browser: &mut Browser, server: &TestServer) -> (Tab, Line) {
    let mut bob = member(server, "bob", "#rust");
    let mut tab = open(browser, server);
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");
    say(&mut tab, "/join #rust");
    bob.expect("JOIN alice #rust ");
    say(&mut tab, "/join #ops");
    wait_current(&mut tab, "#ops");
    (tab, bob)
}

#[test]
fn a_room_joined_from_the_page_is_listed_and_lines_typed_there_reach_its_members() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = member(&server, "bob", "#rust");
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");

    say(&mut tab, "/join #rust");
    bob.expect("JOIN alice #rust ");
    unread(&mut tab, "#rust");
    wait_current(&mut tab, "#rust");
    say(&mut tab, "hello room");
    let got = bob.expect("MSG alice #rust ");
    assert!(got.ends_with(" hello room"), "{got}");
    row(&mut tab, "hello room");

    // `#room text` from elsewhere goes to the room; plain lines in
    // Everyone go to everyone.
    say(&mut tab, "/go");
    wait_current(&mut tab, "*");
    say(&mut tab, "#rust from outside");
    let got = bob.expect("MSG alice #rust ");
    assert!(got.ends_with(" from outside"), "{got}");
    say(&mut tab, "to all");
    assert_eq!(
        next_message(&mut bob),
        ("SAY".into(), "alice".into(), "to all".into())
    );
    no_problems(&tab);
}

#[test]
fn a_message_in_a_room_not_shown_is_counted_until_its_room_is_opened() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let (mut tab, mut bob) = alice_in_rust_and_ops(&mut browser, &server);

    bob.send("MSG #rust look here");
    bob.send("MSG #rust and here");
    wait_unread(&mut tab, "#rust", "2");
    assert!(!shown(&mut tab, "look here"), "shown in #ops");
    bob.send("MSG alice just you");
    wait_unread(&mut tab, "@bob", "1");

    tab.click(&chat("#rust"));
    wait_current(&mut tab, "#rust");
    row(&mut tab, "look here");
    row(&mut tab, "and here");
    wait_unread(&mut tab, "#rust", "");
    assert_eq!(unread(&mut tab, "@bob"), "1");

    // A private conversation is typed into as the room is.
    tab.click(&chat("@bob"));
    row(&mut tab, "just you");
    wait_unread(&mut tab, "@bob", "");
    say(&mut tab, "got it");
    assert_eq!(
        next_message(&mut bob),
        ("MSG".into(), "alice".into(), "got it".into())
    );
    no_problems(&tab);
}

#[test]
fn entering_a_room_shows_what_was_said_there_and_a_login_what_was_missed() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = member(&server, "bob", "#rust");
    bob.send("MSG #rust said before you came");
    bob.sync();
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");
    say(&mut tab, "/join #rust");
    wait_current(&mut tab, "#rust");
    row(&mut tab, "said before you came");
    bob.expect("JOIN alice #rust ");

    // Away, then back: what the room said meanwhile comes marked.
    say(&mut tab, "/quit");
    bob.expect("LEFT alice ");
    bob.send("MSG #rust said while you were out");
    bob.sync();
    tab.eval("document.getElementById('name').value = ''");
    log_in(&mut tab, "alice", &[]);
    wait_unread(&mut tab, "#rust", "1");
    tab.click(&chat("#rust"));
    let (class, from, tag) = row(&mut tab, "said while you were out");
    assert!(class.contains("held"), "not marked: {class}");
    assert_eq!(from, "bob");
    assert!(tag.contains("while you were away"), "{tag}");
    no_problems(&tab);
}

#[test]
fn markup_in_a_room_message_is_shown_as_text() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = member(&server, "bob", "#rust");
    let mut tab = open(&mut browser, &server);
    tab.eval("window.alerted = false; window.alert = () => { window.alerted = true; }");
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");
    say(&mut tab, "/join #rust");
    bob.expect("JOIN alice #rust ");
    let attack = "<img src=x onerror=alert(1)>";
    bob.send(&format!("MSG #rust {attack}"));
    bob.send(&format!("MSG alice,#rust {attack}<b>bold</b>"));
    row(&mut tab, attack);
    row(&mut tab, &format!("{attack}<b>bold</b>"));
    let made = tab.eval("document.querySelectorAll('#messages *:not(li, time, span)').length");
    assert_eq!(made, 0, "received text was parsed as HTML");
    let made = tab.eval("document.querySelectorAll('#chat-list *:not(li, button, span)').length");
    assert_eq!(made, 0, "the list holds markup it did not make");
    assert_eq!(
        tab.eval("window.alerted"),
        false,
        "received text ran script"
    );
    no_problems(&tab);
}

#[test]
fn leaving_a_room_takes_it_off_the_list() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let (mut tab, mut bob) = alice_in_rust_and_ops(&mut browser, &server);

    // By its button, the current room; typed, another one.
    tab.click("#leave");
    tab.wait(
        "#ops to go",
        &format!("!document.querySelector({})", js(&chat("#ops"))),
    );
    wait_current(&mut tab, "*");
    say(&mut tab, "/part #rust bye now");
    let parted = bob.expect("PART alice #rust ");
    assert!(parted.ends_with(" bye now"), "{parted}");
    tab.wait(
        "#rust to go",
        &format!("!document.querySelector({})", js(&chat("#rust"))),
    );
    assert!(listed(&mut tab, "*"));
    bob.send("ROOMS");
    bob.expect("ROOMS #rust");
    no_problems(&tab);
}

#[test]
fn help_is_aligned_and_quit_leaves_a_clean_page() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let (_server, mut bob, mut tab) = alice_and_bob(&mut browser);
    say(&mut tab, "/help");
    // Monospace, and every line's meaning starts in the same column.
    let help = tab.wait(
        "the help",
        "(() => { const t = document.querySelector('#messages .row:last-child.note .text');
           if (!t || !t.textContent.includes('/quit')) return null;
           return [getComputedStyle(t).fontFamily, t.textContent]; })()",
    );
    assert!(
        help[0].as_str().unwrap_or_default().contains("monospace"),
        "{help}"
    );
    let text = help[1].as_str().unwrap_or_default();
    let columns: Vec<usize> = text
        .lines()
        .map(|l| {
            let keys = l.split("  ").next().unwrap_or_default().trim_end();
            let gap = l[keys.len()..].len() - l[keys.len()..].trim_start().len();
            keys.chars().count() + gap
        })
        .collect();
    assert!(
        columns.windows(2).all(|w| w[0] == w[1]),
        "help columns {columns:?}:\n{text}"
    );
    for wanted in ["/join #rust", "/part", "/go", "\\#"] {
        assert!(text.contains(wanted), "no {wanted} in\n{text}");
    }

    say(&mut tab, "/join #rust");
    wait_current(&mut tab, "#rust");
    say(&mut tab, "/quit bye");
    bob.expect("LEFT alice ");
    wait_state(&mut tab, "offline");
    // The login card alone: no old conversation, no greyed box.
    let clean = tab.wait(
        "the login card alone",
        "(() => { const $ = (id) => document.getElementById(id);
           return !$('login').hidden && $('chat').hidden && $('composer').hidden
             && $('messages').childElementCount === 0 && $('login-info').textContent; })()",
    );
    assert_eq!(clean, "You left the chat.");
    tab.eval("document.getElementById('name').value = ''");
    log_in(&mut tab, "alice", &[]);
    assert_eq!(
        tab.eval("document.getElementById('messages').childElementCount"),
        0
    );
    unread(&mut tab, "#rust");
    assert_eq!(
        tab.eval("document.querySelectorAll('#chat-list button').length"),
        json!(2),
        "old conversations stayed"
    );
    no_problems(&tab);
}

#[test]
fn private_conversations_are_bounded_however_many_write() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "alice", &[]);
    // More senders than the page keeps conversations for (100), one after
    // another: the quietest go, the newest stay.
    let senders: Vec<Line> = (0..130)
        .map(|i| {
            let mut user = server.login(&format!("s{i:03}"));
            user.send("MSG alice hello");
            user.sync();
            user
        })
        .collect();
    let mut bob = server.login("bob");
    bob.send("MSG alice the last one");
    unread(&mut tab, "@bob");
    let kept = tab.eval("document.querySelectorAll('#chat-list button.chat-private').length");
    assert_eq!(kept, json!(100));
    assert!(!listed(&mut tab, "@s000"), "the quietest stayed");
    assert!(listed(&mut tab, "@s129"), "a newer one went");
    drop(senders);
    no_problems(&tab);
}
