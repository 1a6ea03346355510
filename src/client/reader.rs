//! The reader thread: receives events, renders them, and hands each one,
//! in order, to whoever prints (the console, or stdout over a pipe). It
//! never prints or exits by itself, so nothing received can be lost
//! behind a goodbye: the end of the connection is one more [`Note`], after
//! everything that came before it.

use super::display::render_as;
use super::visible::visible_line;
use super::{Error, Event, Receiver};

/// What the reader tells the printer.
#[derive(Debug)]
pub enum Note {
    /// A rendered event (lines separated by LF), safe to print.
    Show(String),
    /// A rendered `ERR` from the server: something was refused.
    Refused(String),
    /// The server answered QUIT: everything has been received.
    Bye,
    /// The connection ended without BYE; why, safe to print on one line.
    Lost(String),
}

/// The token of the `PING` sent right after login: what comes before its
/// `PONG` was sent at login — held for you, or said in your rooms while
/// you were away — and is marked so.
const AWAY: &str = "evchat-caught-up";

/// Starts the reader thread (just logged in); `deliver` gets every note,
/// `Bye` or `Lost` last.
pub fn spawn_reader(
    mut receiver: Receiver,
    me: String,
    mut deliver: impl FnMut(Note) + Send + 'static,
) {
    let mut missed = receiver.sender.ping(AWAY).is_ok();
    std::thread::spawn(move || loop {
        match receiver.recv() {
            Ok(Event::Bye) => return deliver(Note::Bye),
            Ok(Event::Pong { token: Some(t) }) if t == AWAY => missed = false,
            Ok(event) => {
                let refused = matches!(event, Event::Error { .. });
                match render_as(&event, &me, missed) {
                    Some(text) if refused => deliver(Note::Refused(text)),
                    Some(text) => deliver(Note::Show(text)),
                    None => {}
                }
            }
            Err(e) => return deliver(Note::Lost(why_lost(&e))),
        }
    });
}

/// One line saying why the connection ended (the error may quote what
/// the server sent, so it is made visible).
fn why_lost(e: &Error) -> String {
    match e {
        Error::Closed => "the server closed the connection".to_owned(),
        e => visible_line(&e.to_string()).into_owned(),
    }
}

/// The goodbye printed when the server goes away.
pub fn goodbye(why: &str) -> String {
    format!("evchat-client: connection to server lost: {why}")
}
