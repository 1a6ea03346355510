//! The browser page (web/) in a real browser: headless Chromium driven
//! through the DevTools protocol (tests/common/browser.rs), served by the
//! real server, with a TCP user on the other side of the conversation.
//!
//! Each test waits for what the page shows by polling inside it with a
//! deadline, never by sleeping. The tests take turns (one Chromium at a
//! time is plenty for a 2-core machine). Without Chromium they are skipped,
//! unless `CI` is set: there a missing browser fails.

mod common;
use common::page::*;
use common::{Line, TestServer};
use serde_json::json;

#[test]
fn page_and_tcp_user_chat_both_ways_in_public_and_in_private() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let (_server, mut bob, mut tab) = alice_and_bob(&mut browser);
    tab.wait(
        "bob in the online list",
        "document.querySelector('#users button[data-name=\"bob\"]')",
    );

    bob.send("SAY hello from bob\\nsecond line");
    let (class, from, _) = row(&mut tab, "hello from bob\nsecond line");
    assert_eq!((class.as_str(), from.as_str()), ("row say", "bob"));

    say(&mut tab, "hi bob");
    assert_eq!(
        next_message(&mut bob),
        ("SAY".into(), "alice".into(), "hi bob".into())
    );

    // Shift+Enter is a new line in the box; it travels escaped.
    tab.type_into("#input", "two");
    tab.press_enter(true);
    say(&mut tab, "lines");
    assert_eq!(next_message(&mut bob).2, "two\\nlines");

    say(&mut tab, "@bob just for you");
    let got = next_message(&mut bob);
    assert_eq!(got, ("MSG".into(), "alice".into(), "just for you".into()));

    // A click on a name in the list starts a private message to it.
    tab.click("#users button[data-name=\"bob\"]");
    say(&mut tab, "clicked");
    assert_eq!(
        next_message(&mut bob),
        ("MSG".into(), "alice".into(), "clicked".into())
    );

    bob.send("MSG alice psst");
    let (class, from, tag) = row(&mut tab, "psst");
    assert!(class.contains("private"), "not marked private: {class}");
    assert_eq!((from.as_str(), tag.as_str()), ("bob", "private"));

    // A message the server refuses is shown as not sent, with the error.
    say(&mut tab, "@nobody hello?");
    let error = tab.wait(
        "the error",
        "(document.querySelector('#messages .error .text') || {}).textContent",
    );
    assert_eq!(error, "not sent: nobody here is called nobody");
    let (class, _, tag) = row(&mut tab, "hello?");
    assert!(class.contains("failed"), "{class}");
    assert_eq!(tag, "private to nobody not sent");
    // The page's script leaves no globals a console script could clash with.
    let leaked = tab.eval(
        "['ws', 'me', 'pinned', 'connect', 'receive', 'interpret'].filter((n) => n in window)",
    );
    assert_eq!(leaked, json!([]));
    assert_eq!(
        tab.eval("typeof ws + ' ' + typeof me"),
        "undefined undefined"
    );
    no_problems(&tab);
}

#[test]
fn received_markup_and_control_characters_are_shown_as_text() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut tab = open(&mut browser, &server);
    tab.eval("window.alerted = false; window.alert = () => { window.alerted = true; }");
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");

    let attack = "<img src=x onerror=alert(1)>";
    bob.send(&format!("SAY {attack}"));
    bob.send(&format!("MSG alice {attack}<b>bold</b>"));
    bob.send("SAY forged\\r[12:00] <carol> hi \u{202e}olleh\u{7}");
    // Invisible characters are shown, but not the joiners that emoji and
    // Persian need (U+200D, U+200C).
    bob.send("SAY adm\u{200b}in \u{feff}x\u{ad}y\u{2060}z \u{1f469}\u{200d}\u{1f4bb} \u{645}\u{200c}\u{6cc}");
    let mut carol = server.login("carol");
    carol.send("QUIT b\u{200b}ye");
    // Frames come in order: once the last is shown, all are.
    bob.send("SAY that is all");
    row(&mut tab, "that is all");
    open_chat(&mut tab, "@bob");
    row(&mut tab, &format!("{attack}<b>bold</b>"));
    open_chat(&mut tab, "*");

    let made = tab.eval("document.querySelectorAll('#messages *:not(li, time, span)').length");
    assert_eq!(made, 0, "received text was parsed as HTML");
    row(&mut tab, attack);
    row(
        &mut tab,
        "forged\u{240d}[12:00] <carol> hi <U+202E>olleh\u{2407}",
    );
    row(
        &mut tab,
        "adm<U+200B>in <U+FEFF>x<U+00AD>y<U+2060>z \u{1f469}\u{200d}\u{1f4bb} \u{645}\u{200c}\u{6cc}",
    );
    row(&mut tab, "carol left: b<U+200B>ye");
    assert_eq!(
        tab.eval("window.alerted"),
        false,
        "received text ran script"
    );
    assert!(tab.events("Page.javascriptDialogOpening").is_empty());
    no_problems(&tab);
}

#[test]
fn held_mail_is_shown_marked_and_acknowledged() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut carol = server.login("carol");
    carol.send("QUIT");
    carol.until_closed();
    let mut bob = server.login("bob");
    bob.send("MSG carol while you were out");
    // A message with tags (an IRC client's) is held mail like any other.
    bob.send("@+draft/reply=1 MSG carol and tagged");
    assert_eq!(bob.sync(), Vec::<String>::new());

    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "carol", &[]);
    open_chat(&mut tab, "@bob");
    for text in ["while you were out", "and tagged"] {
        let (class, from, tag) = row(&mut tab, text);
        assert!(class.contains("held"), "not marked held: {class}");
        assert_eq!(from, "bob");
        assert!(tag.contains("held"), "{tag}");
    }

    // The page answered the PING after the held mail, so it is delivered:
    // the next login as carol gets nothing.
    bob.expect("JOINED carol ");
    browser.close(tab);
    bob.expect("LEFT carol ");
    let mut again = server.login("carol");
    assert_eq!(again.sync(), Vec::<String>::new());
}

#[test]
fn the_page_reconnects_and_logs_in_again_after_a_server_restart() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let mut first = TestServer::start(&[]);
    let port = first.addr.port().to_string();
    let mut tab = open(&mut browser, &first);
    log_in(&mut tab, "alice", &[]);
    say(&mut tab, "/away back soon");
    row(&mut tab, "you are away: back soon");

    first.kill();
    wait_state(&mut tab, "waiting");
    row(&mut tab, "connection lost");

    let second = TestServer::start(&["--port", &port]);
    wait_state(&mut tab, "online");
    row(&mut tab, "connected again");
    let mut bob = second.login("bob");
    assert_eq!(who(&mut bob), "USERS alice bob");
    // Away is the session's: the page says it again in the new one.
    tab.wait(
        "the bar to say away again",
        "document.getElementById('state').textContent.startsWith('away as alice')",
    );
    bob.send("WHOIS alice");
    let whois = loop {
        let line = bob.recv();
        if line.starts_with("WHOIS ") {
            break line;
        }
    };
    assert!(whois.starts_with("WHOIS alice away - "), "{whois}");
    assert!(whois.ends_with(" back soon"), "{whois}");
    bob.send("SAY welcome back");
    let (_, from, _) = row(&mut tab, "welcome back");
    assert_eq!(from, "bob");
    no_problems(&tab);
}

/// A server with accounts `name:password`, and the directory of its file.
fn server_with_accounts(accounts: &[(&str, &str)]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let users = common::users_file(dir.path(), accounts);
    let server = TestServer::start(&["--users", users.to_str().unwrap()]);
    (server, dir)
}

#[test]
fn a_page_replaced_by_another_login_stays_out_until_asked() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let (server, _dir) = server_with_accounts(&[("alice", "secret one"), ("bob", "pw")]);
    let mut bob = server.connect();
    bob.send("LOGIN bob pw");
    bob.expect("OK LOGIN bob");

    let mut first = open(&mut browser, &server);
    log_in(&mut first, "alice", &["not it", "secret one"]);
    count_sockets(&mut first);
    let mut second = open(&mut browser, &server);
    log_in(&mut second, "alice", &["secret one"]);

    wait_state(&mut first, "replaced");
    first.wait(
        "the take-over button",
        "!document.getElementById('notice').hidden",
    );
    // A page that would reconnect by itself does so within its first
    // back-off (at most 0.625 s); watch it for several times that.
    let stayed = first.eval(
        "new Promise((resolve) => {
           const until = Date.now() + 3000;
           const watch = () => {
             if (window.sockets !== 0) return resolve('it opened a new connection');
             if (document.getElementById('state').dataset.state !== 'replaced')
               return resolve('it left the replaced state');
             if (Date.now() > until) return resolve('stayed');
             setTimeout(watch, 20);
           };
           watch();
         })",
    );
    assert_eq!(stayed, "stayed");
    bob.send("MSG alice are you the new one?");
    open_chat(&mut second, "@bob");
    row(&mut second, "are you the new one?");
    let state = second.eval("document.getElementById('state').dataset.state");
    assert_eq!(state, "online");
    assert_eq!(who(&mut bob), "USERS alice bob");

    // The button takes the name back, with the password kept in memory.
    first.click("#takeover");
    wait_state(&mut first, "online");
    wait_state(&mut second, "replaced");
    bob.send("MSG alice and now?");
    open_chat(&mut first, "@bob");
    row(&mut first, "and now?");
    no_problems(&first);
    no_problems(&second);
}

#[test]
fn a_full_server_is_said_so_and_the_page_gets_in_when_a_place_frees() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&["--max-clients", "2"]);
    let mut tab = open(&mut browser, &server);
    // Two places taken (the page's own HTTP requests may still hold one
    // for a moment: a refused client tries again).
    let mut taken: Vec<Line> = Vec::new();
    let deadline = std::time::Instant::now() + common::PATIENCE;
    for name in ["bob", "carol"] {
        loop {
            let mut line = server.connect();
            line.send(&format!("LOGIN {name}"));
            if line.try_recv() == Some(format!("OK LOGIN {name}")) {
                taken.push(line);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no place for {name}");
        }
    }
    tab.type_into("#name", "alice");
    tab.click("#login-button");
    wait_state(&mut tab, "full");
    let said = tab.eval("document.getElementById('login-error').textContent");
    assert!(said.as_str().unwrap_or_default().contains("full"), "{said}");

    taken[0].send("QUIT");
    wait_state(&mut tab, "online");
    no_problems(&tab);
}

#[test]
fn on_a_phone_sized_screen_the_box_and_the_messages_are_in_view() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let _bob = server.login("bob");
    let long = "frank_the_long_named_user_12345";
    let _frank = server.login(long);
    let mut tab = browser.tab();
    tab.viewport(375, 667, true);
    tab.goto(&page_url(&server));
    log_in(&mut tab, "alice", &[]);

    let in_view = |id: &str| {
        format!(
            "(() => {{ const r = document.getElementById({}).getBoundingClientRect();
               return r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0
                 && r.right <= innerWidth && r.bottom <= innerHeight; }})()",
            js(id)
        )
    };
    assert_eq!(tab.eval("innerWidth"), 375);
    for id in ["input", "messages", "send", "state"] {
        assert_eq!(
            tab.eval(&in_view(id)),
            true,
            "#{id} is not within the screen"
        );
    }
    let overflow = tab.eval("document.documentElement.scrollWidth > innerWidth");
    assert_eq!(overflow, false, "the page is wider than the screen");
    // The online list is behind a button there.
    assert_eq!(tab.eval(&in_view("who")), false);
    tab.click("#who-toggle");
    assert_eq!(tab.eval(&in_view("who")), true);
    // A long name keeps its dot on its line, and the bar's button its
    // text: each is one line high.
    let one_line = |selector: &str| {
        format!(
            "(() => {{ const e = document.querySelector({});
               const line = parseFloat(getComputedStyle(e).lineHeight);
               return e.clientHeight < 1.5 * line + 12; }})()",
            js(selector)
        )
    };
    let frank = format!("#users button[data-name=\"{long}\"]");
    for selector in [frank.as_str(), "#who-toggle"] {
        assert_eq!(tab.eval(&one_line(selector)), true, "{selector} wraps");
    }
    // A click on a name opens the private conversation with them.
    tab.click("#users button[data-name=\"bob\"]");
    tab.wait(
        "the conversation with bob",
        "document.querySelector('#chat-list button[data-key=\"@bob\"][aria-current=\"true\"]')",
    );
    assert_eq!(tab.eval(&in_view("chat-list")), true);
    no_problems(&tab);
}
