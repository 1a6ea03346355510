//! Room operators on the page, in a real browser (see tests/browser.rs
//! for how): the topic above a room's messages, set with `/topic` and
//! shown on joining, `/mode`, `/kick` and `/invite` typed in a room, what
//! others do shown as lines in it, and `@` before its operators in the
//! online list.

mod common;
use common::page::*;
use common::TestServer;

/// The topic shown above the messages ('' when hidden).
fn topic_is(tab: &mut common::browser::Tab, text: &str) {
    tab.wait(
        &format!("the topic {text:?}"),
        &format!(
            "(() => {{ const t = document.getElementById('chat-topic');
               return (t.hidden ? '' : t.textContent) === {}; }})()",
            js(text)
        ),
    );
}

/// The label of `name`'s button in the online list is `label`.
fn listed_as(tab: &mut common::browser::Tab, name: &str, label: &str) {
    tab.wait(
        &format!("{name} listed as {label}"),
        &format!(
            "(document.querySelector('#users button[data-name={}]') || {{}}).textContent === {}",
            js(name),
            js(label)
        ),
    );
}

#[test]
fn a_topic_set_in_the_page_is_shown_and_a_kick_is_seen() {
    let Some((_turn, mut browser)) = browser() else {
        return;
    };
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    bob.send("JOIN #rust");
    bob.send("TOPIC #rust all <b>about</b> rust\\nand more");
    bob.sync();
    let mut tab = open(&mut browser, &server);
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");

    // Joining a room shows its topic, above and as a line.
    say(&mut tab, "/join #rust");
    topic_is(&mut tab, "all <b>about</b> rust\u{240a}and more");
    tab.wait(
        "the topic told on joining",
        "[...document.querySelectorAll('#messages .row .text')]
           .some((t) => t.textContent.startsWith('topic of #rust: all <b>about</b> rust\\nand more (set by bob on '))",
    );
    // bob made the room, so is its operator: @bob in the online list.
    listed_as(&mut tab, "bob", "@bob");
    listed_as(&mut tab, "alice", "alice");

    // A room of alice's own: she is its operator and sets its topic.
    say(&mut tab, "/join #ops");
    topic_is(&mut tab, "");
    listed_as(&mut tab, "alice", "@alice");
    listed_as(&mut tab, "bob", "bob");
    bob.send("JOIN #ops");
    bob.sync();
    say(&mut tab, "/topic ops \\ things");
    let told = bob.until("TOPIC #ops ");
    assert!(told.starts_with("TOPIC #ops alice "), "{told}");
    assert!(told.ends_with(" ops \\\\ things"), "{told}");
    topic_is(&mut tab, "ops \\ things");
    row(&mut tab, "alice set the topic of #ops: ops \\ things");

    say(&mut tab, "/mode +o bob");
    bob.until("MODE #ops alice ");
    row(&mut tab, "alice sets mode +o bob on #ops");
    listed_as(&mut tab, "bob", "@bob");
    // Voiced: +; an operator who is voiced too: @.
    say(&mut tab, "/mode -o+v bob bob");
    bob.until("MODE #ops alice ");
    listed_as(&mut tab, "bob", "+bob");
    say(&mut tab, "/mode +o bob");
    bob.until("MODE #ops alice ");
    listed_as(&mut tab, "bob", "@bob");

    // What another operator does is a line in the room.
    bob.send("TOPIC #ops by bob\u{1b}[2J");
    row(&mut tab, "bob set the topic of #ops: by bob\u{241b}[2J");
    topic_is(&mut tab, "by bob\u{241b}[2J");

    say(&mut tab, "/kick bob enough");
    let kick = bob.until("KICK #ops ");
    assert!(kick.starts_with("KICK #ops bob alice "), "{kick}");
    assert!(kick.ends_with(" enough"), "{kick}");
    row(&mut tab, "alice kicked bob from #ops (enough)");
    listed_as(&mut tab, "bob", "bob");

    say(&mut tab, "/invite bob");
    bob.until("INVITE alice bob #ops ");
    row(&mut tab, "you invited bob to #ops");

    // Kicked in turn: the room goes, and the page says who and why.
    bob.send("KICK #rust alice bye\\nnow");
    row(&mut tab, "bob kicked you from #rust (bye\nnow)");
    tab.wait(
        "#rust out of the list",
        "!document.querySelector('#chat-list button[data-key=\"#rust\"]')",
    );

    // A new name: the page is told, others see alice leave and Alicia come.
    say(&mut tab, "/nick Alicia");
    assert!(bob.until("LEFT alice ").ends_with(" renamed to Alicia"));
    bob.expect("JOINED Alicia ");
    row(&mut tab, "you are Alicia now");
    bob.send("MSG Alicia psst");
    tab.wait(
        "a private message to the new name",
        "[...document.querySelectorAll('#messages .row .text')].some((t) => t.textContent === 'psst')
         || [...document.querySelectorAll('#chat-list button')].some((b) => b.textContent.includes('bob'))",
    );
    no_problems(&tab);
}
