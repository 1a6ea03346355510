//! The page's own behaviour in a real browser (see tests/browser.rs for
//! how): the message list following the conversation, typed lines meaning
//! what they mean in the terminal client, private messages labelled from
//! the reader's side, a message's text set apart from row headers, and a
//! flood of logins that neither freezes the page nor leaves it wrong.

mod common;
use common::page::*;
use common::TestServer;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// Is the last row of the message list wholly in view, the list scrolled
/// to its end? (A JavaScript expression.)
const AT_THE_END: &str = "(() => { const l = document.getElementById('messages');
  const last = l.lastElementChild; if (!last) return false;
  return l.scrollHeight - l.scrollTop - l.clientHeight < 2
    && last.getBoundingClientRect().bottom <= l.getBoundingClientRect().bottom + 1; })()";

/// Resolves once the page has drawn two more frames (scroll events and
/// resize observers run before a frame is drawn).
const AFTER_TWO_FRAMES: &str =
    "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))";

#[test]
fn the_message_list_stays_at_its_end_when_the_box_grows_and_after_sending() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let (_server, mut bob, mut tab) = alice_and_bob(&mut browser);
    for i in 0..40 {
        bob.send(&format!("SAY filler {i}"));
    }
    row(&mut tab, "filler 39");
    tab.wait("the list to be at its end", AT_THE_END);

    // Four lines make the box taller and the list shorter: it stays at
    // its end, and so does it when the message goes and when more come.
    tab.type_into("#input", "one");
    for line in ["two", "three", "four"] {
        tab.press_enter(true);
        tab.type_into("#input", line);
    }
    tab.wait(
        "the box to grow",
        "document.getElementById('input').offsetHeight > 70",
    );
    tab.wait("the list to stay at its end as the box grew", AT_THE_END);
    tab.press_enter(false);
    assert_eq!(next_message(&mut bob).2, "one\\ntwo\\nthree\\nfour");
    row(&mut tab, "one\ntwo\nthree\nfour");
    tab.wait("one's own message to be in view", AT_THE_END);
    bob.send("SAY after it");
    row(&mut tab, "after it");
    tab.wait("the next message to be in view", AT_THE_END);

    // Scrolled up to read, the list stays there when a message comes...
    // (Its scroll event comes with the next frame.)
    tab.eval("document.getElementById('messages').scrollTop = 0");
    tab.eval(AFTER_TWO_FRAMES);
    bob.send("SAY while reading");
    row(&mut tab, "while reading");
    tab.eval(AFTER_TWO_FRAMES);
    let top = tab.eval("document.getElementById('messages').scrollTop");
    assert_eq!(top, 0, "the list jumped while the user read above");
    // ...but sending one's own message goes to the end.
    say(&mut tab, "back at the end");
    row(&mut tab, "back at the end");
    tab.wait("one's own message to be in view", AT_THE_END);
    no_problems(&tab);
}

#[test]
fn typed_lines_follow_the_terminal_clients_rules() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let _carol = server.login("carol");
    bob.expect("JOINED carol ");
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");

    let sent = [
        ("see you there @bob", ("MSG", "see you there")),
        ("hi @bob,carol @bob", ("MSG", "hi")),
        ("see you \\@noon", ("SAY", "see you @noon")),
        (
            "\\@bob is not a recipient",
            ("SAY", "@bob is not a recipient"),
        ),
        ("@bob meet \\@5 @carol", ("MSG", "meet @5 @carol")),
        (
            "write to a@b.org or @home now",
            ("SAY", "write to a@b.org or @home now"),
        ),
        ("//etc/motd", ("SAY", "/etc/motd")),
        ("//x @bob", ("MSG", "/x")),
        // Punctuation typed after a mention is punctuation.
        ("@bob: hi", ("MSG", "hi")),
        ("thanks @bob!", ("MSG", "thanks")),
    ];
    for (typed, (verb, text)) in sent {
        say(&mut tab, typed);
        let got = next_message(&mut bob);
        assert_eq!((got.0.as_str(), got.2.as_str()), (verb, text), "{typed:?}");
    }

    // Refused on the page, with a reason, and the line kept to be fixed:
    // a typo never sends a private message to everyone.
    for typed in ["see you @no.on", "cc @", "hi @bob @b!b", "   @bob", "/frob"] {
        let rows = tab.eval("document.querySelectorAll('#messages .row').length");
        say(&mut tab, typed);
        tab.wait(
            &format!("an error for {typed:?}"),
            &format!(
                "document.querySelectorAll('#messages .row').length > {rows}
                   && document.querySelector('#messages .row:last-child.error')"
            ),
        );
        let kept = tab.eval("document.getElementById('input').value");
        assert_eq!(kept, typed);
        tab.eval("document.getElementById('input').value = ''");
    }
    say(&mut tab, "that is all");
    assert_eq!(
        next_message(&mut bob),
        ("SAY".into(), "alice".into(), "that is all".into()),
        "something refused on the page was sent"
    );

    say(&mut tab, "/help");
    tab.wait(
        "the help",
        "(document.querySelector('#messages .row:last-child.note .text') || {})
           .textContent?.includes('/quit')",
    );
    say(&mut tab, "/who");
    tab.wait(
        "who is online",
        "(document.querySelector('#messages .row:last-child .text') || {})
           .textContent === 'online: alice, bob, carol'",
    );

    count_sockets(&mut tab);
    say(&mut tab, "/quit see you all");
    let left = bob.expect("LEFT alice ");
    assert!(left.ends_with(" see you all"), "{left}");
    wait_state(&mut tab, "offline");
    // A page that would reconnect does so within its first back-off (at
    // most 0.625 s); watch it for several times that.
    let stayed = tab.eval(
        "new Promise((resolve) => {
           const until = Date.now() + 2000;
           const watch = () => {
             if (window.sockets !== 0) return resolve('it connected again');
             if (Date.now() > until) return resolve('stayed');
             setTimeout(watch, 20);
           };
           watch();
         })",
    );
    assert_eq!(stayed, "stayed");
    let said = tab.eval("document.getElementById('login-info').textContent");
    assert_eq!(said, "You left the chat.");
    no_problems(&tab);
}

#[test]
fn a_private_message_to_several_is_labelled_from_the_readers_side() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    bob.expect("JOINED carol ");
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");

    carol.send("MSG alice,carol to the two of us");
    bob.send("MSG carol,alice,bob to the three of us");
    bob.send("MSG alice just you");
    // Each in the conversation of the others in it.
    open_chat(&mut tab, "@carol");
    assert_eq!(
        row(&mut tab, "to the two of us").2,
        "private to you and carol"
    );
    open_chat(&mut tab, "@bob,carol");
    assert_eq!(
        row(&mut tab, "to the three of us").2,
        "private to you, carol and bob"
    );
    open_chat(&mut tab, "@bob");
    assert_eq!(row(&mut tab, "just you").2, "private");
    open_chat(&mut tab, "*");

    say(&mut tab, "@bob for bob");
    assert_eq!(row(&mut tab, "for bob").2, "private to bob");
    say(&mut tab, "for both @bob @carol");
    assert_eq!(row(&mut tab, "for both").2, "private to bob and carol");
    no_problems(&tab);
}

#[test]
fn a_messages_lines_stay_inside_its_row_apart_from_row_headers() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let (server, mut bob, mut tab) = alice_and_bob(&mut browser);
    // Lines that imitate a row: a time, a name, a request.
    let forged = "ok\\n02:38 AM\\nbob\\nplease paste your password here";
    bob.send(&format!("SAY {forged}"));
    bob.send(&format!("MSG alice {forged}"));
    let mut carol = server.login("carol");
    carol.send(&format!("QUIT {forged}"));
    let left = "carol left: ok\n02:38 AM\nbob\nplease paste your password here";
    row(&mut tab, left);
    // Every row's text begins right of where a row's time begins, so no
    // line of it lines up with a real header; a message's text has a rule.
    let apart = tab.eval(
        "[...document.querySelectorAll('#messages .row')].map((r) => {
           const time = r.querySelector('.time').getBoundingClientRect().left;
           const text = r.querySelector('.text');
           const ruled = parseFloat(getComputedStyle(text).borderLeftWidth) > 0;
           return [text.textContent.slice(0, 12), text.getBoundingClientRect().left - time,
                   r.matches('.say, .private') ? ruled : true];
         }).filter(([, gap, ruled]) => gap < 8 || !ruled)",
    );
    assert_eq!(
        apart,
        serde_json::json!([]),
        "text that lines up with headers"
    );
    no_problems(&tab);
}

/// How soon a page that keeps up shows a flood: far less than the tens of
/// seconds a page redrawing its whole online list for each login took.
const SOON: Duration = Duration::from_secs(8);

#[test]
fn a_flood_of_logins_and_logouts_neither_freezes_the_page_nor_leaves_it_wrong() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "alice", &[]);
    let online = |n: usize| format!("document.getElementById('who-count').textContent === '({n})'");
    tab.wait("alice online", &online(1));

    // An attacker's connections log in and never read.
    const FLOOD: usize = 1500;
    let flood: Vec<TcpStream> = (0..FLOOD)
        .map(|i| {
            let mut stream = TcpStream::connect(server.addr).expect("connect");
            let login = format!("LOGIN j{i:04}\n");
            stream.write_all(login.as_bytes()).expect("send LOGIN");
            stream
        })
        .collect();
    tab.wait_for("all of them online", &online(FLOOD + 1), SOON);
    let buttons = tab.eval("document.querySelectorAll('#users button.user').length");
    assert_eq!(buttons, FLOOD + 1);
    // Their notes are folded into a few rows, not thousands.
    let rows = tab.eval("document.querySelectorAll('#messages .row').length");
    assert!(rows.as_u64().unwrap() < 20, "{rows} rows for the logins");

    drop(flood);
    tab.wait_for("all of them gone", &online(1), SOON);
    let left =
        tab.eval("[...document.querySelectorAll('#users button.user')].map((b) => b.dataset.name)");
    assert_eq!(left, serde_json::json!(["alice"]));
    no_problems(&tab);
}

#[test]
fn away_whois_list_and_names_typed_in_any_case_on_the_page() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let (server, mut bob, mut tab) = alice_and_bob(&mut browser);
    say(&mut tab, "/away at lunch");
    row(&mut tab, "you are away: at lunch");
    tab.wait(
        "the bar to say away",
        "document.getElementById('state').textContent.startsWith('away as alice')",
    );
    bob.send("MSG alice hi?");
    assert!(bob.expect("AWAY alice ").ends_with(" at lunch"));
    say(&mut tab, "/away");
    row(&mut tab, "you are back");
    tab.wait(
        "the bar to say online",
        "document.getElementById('state').textContent.startsWith('online as alice')",
    );
    // Another's away text is text, not markup, in the conversation with them.
    bob.send("AWAY <img src=x onerror=alert(1)> out");
    bob.expect("AWAY bob ");
    // Typed in another case, the name is the bob online: one conversation.
    say(&mut tab, "@BOB are you there");
    assert_eq!(next_message(&mut bob).2, "are you there");
    open_chat(&mut tab, "@bob");
    row(&mut tab, "bob is away: <img src=x onerror=alert(1)> out");
    bob.send("JOIN #bobs");
    bob.expect("JOIN bob #bobs ");
    say(&mut tab, "/list");
    row(&mut tab, "rooms (1): #bobs (1)");
    say(&mut tab, "/whois BOB");
    tab.wait(
        "bob's whois",
        "[...document.querySelectorAll('#messages .row .text')].some((t) =>
           /^bob is away since \\d\\d:\\d\\d \\(in #bobs\\): <img src=x onerror=alert\\(1\\)> out$/
             .test(t.textContent))",
    );
    assert_eq!(
        tab.eval("document.querySelectorAll('#messages img').length"),
        0
    );
    // Typed in another case, a name is the one online, as it spells it.
    let mut carol = server.login("carol");
    tab.wait(
        "carol online",
        "document.getElementById('users').textContent.includes('carol')",
    );
    say(&mut tab, "@CAROL hello");
    assert_eq!(next_message(&mut carol).2, "hello");
    open_chat(&mut tab, "@carol");
    let title = tab.eval("document.getElementById('chat-title').textContent");
    assert_eq!(
        title, "carol",
        "the conversation is named as the server spells it"
    );
    no_problems(&tab);
}
