//! What the browser tests do with the page: open it, log in, type, and
//! find what it shows — through tests/common/browser.rs — and what they
//! do with the TCP user on the other side.

use super::browser::{Browser, Tab};
use super::{fields, Line, TestServer};
use serde_json::json;
use std::sync::{Mutex, MutexGuard};

pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The lock every test holds, and a browser (`None`: skip the test).
pub fn browser() -> Option<(MutexGuard<'static, ()>, Browser)> {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    Browser::launch().map(|b| (turn, b))
}

/// `s` as a JavaScript string literal.
pub fn js(s: &str) -> String {
    json!(s).to_string()
}

/// The page's address on `server`.
pub fn page_url(server: &TestServer) -> String {
    format!("http://{}/", server.addr)
}

pub fn open(browser: &mut Browser, server: &TestServer) -> Tab {
    let mut tab = browser.tab();
    tab.goto(&page_url(server));
    tab
}

pub fn wait_state(tab: &mut Tab, want: &str) {
    tab.wait(
        &format!("the page to be {want}"),
        &format!(
            "document.getElementById('state').dataset.state === {}",
            js(want)
        ),
    );
}

/// Logs in through the form; when the page asks for a password, each of
/// `passwords` is tried in turn (all but the last must be refused).
pub fn log_in(tab: &mut Tab, name: &str, passwords: &[&str]) {
    tab.type_into("#name", name);
    tab.click("#login-button");
    for (i, password) in passwords.iter().enumerate() {
        let asked = if i == 0 {
            "!document.getElementById('password-row').hidden"
        } else {
            "document.getElementById('login-error').textContent === 'wrong name or password'"
        };
        tab.wait("the page to ask for a password", asked);
        tab.type_into("#password", password);
        tab.click("#login-button");
    }
    wait_state(tab, "online");
}

/// Types `text` into the message box and presses Enter.
pub fn say(tab: &mut Tab, text: &str) {
    tab.type_into("#input", text);
    tab.press_enter(false);
}

/// Shows the conversation `key` (`*` Everyone, `#rust`, `@bob`,
/// `@bob,carol`) by a click on it in the list.
pub fn open_chat(tab: &mut Tab, key: &str) {
    let button = format!("#chat-list button[data-key={}]", js(key));
    tab.click(&button);
    tab.wait(
        &format!("{key} to be shown"),
        &format!(
            "(document.querySelector({}) || {{}}).ariaCurrent === 'true'",
            js(&button)
        ),
    );
}

/// Waits for a message row whose text is exactly `text`; returns its
/// class, sender and tag.
pub fn row(tab: &mut Tab, text: &str) -> (String, String, String) {
    let found = tab.wait(
        &format!("a message {text:?}"),
        &format!(
            "[...document.querySelectorAll('#messages .row')]
               .filter((r) => r.querySelector('.text').textContent === {})
               .map((r) => [r.className, (r.querySelector('.from') || {{}}).textContent || '',
                            [...r.querySelectorAll('.tag')].map((t) => t.textContent).join(' ')])[0]",
            js(text)
        ),
    );
    let field = |i: usize| found[i].as_str().unwrap_or_default().to_owned();
    (field(0), field(1), field(2))
}

/// The next SAY or MSG the TCP user gets: (verb, from, text).
pub fn next_message(line: &mut Line) -> (String, String, String) {
    loop {
        let frame = line.recv();
        if let Some(verb) = ["SAY", "MSG"].into_iter().find(|v| frame.starts_with(v)) {
            let (from, _time, text) = fields(&frame);
            return (verb.to_owned(), from, text);
        }
    }
}

/// Asks WHO; the answer, past whatever came before it.
pub fn who(line: &mut Line) -> String {
    line.send("WHO");
    loop {
        let frame = line.recv();
        if frame.starts_with("USERS") {
            return frame;
        }
    }
}

pub fn no_problems(tab: &Tab) {
    let problems = tab.problems();
    assert!(problems.is_empty(), "the page had problems: {problems:#?}");
}

/// Counts the WebSockets the page opens from now on (in `sockets`).
pub fn count_sockets(tab: &mut Tab) {
    tab.eval(
        "window.sockets = 0;
         window.WebSocket = class extends WebSocket {
           constructor(...a) { super(...a); window.sockets += 1; }
         };",
    );
}

/// Where most browser tests start: a server, bob on TCP, and alice logged
/// in on the page (bob has seen her join).
pub fn alice_and_bob(browser: &mut Browser) -> (TestServer, Line, Tab) {
    let server = TestServer::start(&[]);
    let mut bob = server.login("bob");
    let mut tab = open(browser, &server);
    log_in(&mut tab, "alice", &[]);
    bob.expect("JOINED alice ");
    (server, bob, tab)
}
