//! The reader thread: receives events, renders them, and hands each one,
//! in order, to whoever prints (the console, or stdout over a pipe). It
//! never prints or exits by itself, so nothing received can be lost
//! behind a goodbye: the end of the connection is one more [`Note`], after
//! everything that came before it.

use super::away::Away;
use super::display::{render_as, render_told_topic};
use super::topics::Topics;
use super::visible::visible_line;
use super::{Client, Error, Event, Receiver};

/// What the reader (or the reconnecting thread) tells the printer.
#[derive(Debug)]
pub enum Note {
    /// A rendered event (lines separated by LF), safe to print.
    Show(String),
    /// A rendered `ERR` from the server: something was refused.
    Refused(String),
    /// The server answered QUIT: everything has been received.
    Bye,
    /// The connection ended without BYE; why, safe to print on one line,
    /// and whether connecting again may help (not after the name was
    /// taken over by another login, `ERR 409`, or a refused login).
    Lost { why: String, again: bool },
    /// Logged in again after a loss, on this new connection.
    Reconnected(Client),
    /// The server renamed us (`NICK`): the name to log in again as.
    Renamed(String),
    /// We are not in this room (kicked, parted, or a join refused): plain
    /// lines no longer go there.
    OutOf(String),
}

/// Starts the reader thread (just logged in); `deliver` gets every note,
/// `Bye` or `Lost` last.
pub fn spawn_reader(
    mut receiver: Receiver,
    mut me: String,
    mut deliver: impl FnMut(Note) + Send + 'static,
) {
    let (mut away, first) = Away::start();
    let mut topics = Topics::default();
    let _ = receiver.sender.ping(&first);
    std::thread::spawn(move || {
        let mut replaced = false;
        // A rename's LEFT is shown as one line: the JOINED after it is not.
        let mut renamed: Option<String> = None;
        loop {
            let event = match receiver.recv_with_pings() {
                Ok(Event::Bye) => return deliver(Note::Bye),
                Ok(event) => event,
                Err(e) => {
                    let why = why_lost(&e);
                    return deliver(Note::Lost {
                        why,
                        again: !replaced,
                    });
                }
            };
            let joined_as = match &event {
                Event::Joined { name, .. } => Some(name.as_str()),
                _ => None,
            };
            let told = renamed
                .take()
                .is_some_and(|new| joined_as == Some(new.as_str()));
            renamed = super::display::renamed_to(&event).map(str::to_owned);
            if told {
                continue;
            }
            let seen = away.see(&event, &me);
            if let Some(token) = seen.ping {
                let _ = receiver.sender.ping(&token);
            }
            // A takeover of the name is a 409 saying so (a refused
            // NICK is a 409 too, and changes nothing).
            replaced |=
                matches!(&event, Event::Error { code: 409, text } if text.starts_with("replaced"));
            if let Event::Renamed { name } = &event {
                me.clone_from(name);
                deliver(Note::Renamed(name.clone()));
            }
            if let Some(room) = out_of(&event, &me) {
                deliver(Note::OutOf(room));
            }
            let refused = matches!(event, Event::Error { .. });
            let shown = match topics.see(&event, &me) {
                true => render_told_topic(&event),
                false => render_as(&event, &me, seen.missed),
            };
            match shown {
                Some(text) if refused => deliver(Note::Refused(text)),
                Some(text) => deliver(Note::Show(text)),
                None => {}
            }
        }
    });
}

/// The room `event` says we are not in: our PART, our KICK, or a refused
/// JOIN (`ERR ...: not joined <room>`).
fn out_of(event: &Event, me: &str) -> Option<String> {
    let mine = |n: &str| n.eq_ignore_ascii_case(me);
    match event {
        Event::Part { name, room, .. } | Event::Kick { name, room, .. } if mine(name) => {
            Some(room.clone())
        }
        Event::Error { text, .. } => text
            .rsplit_once(": not joined ")
            .map(|(_, room)| room.to_owned()),
        _ => None,
    }
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

#[cfg(test)]
mod out_of_tests {
    use super::*;

    #[test]
    fn our_part_kick_or_a_refused_join_take_us_out_of_a_room() {
        let parse = |l: &str| Event::parse(l).unwrap();
        let t = "2026-12-07T10:00:00.000Z";
        let kick = parse(&format!("KICK #r Amy bob {t} bye"));
        assert_eq!(out_of(&kick, "amy"), Some("#r".into()));
        assert_eq!(out_of(&kick, "bob"), None);
        let part = parse(&format!("PART amy #x {t}"));
        assert_eq!(out_of(&part, "amy"), Some("#x".into()));
        let refused = parse("ERR 403 the room is invite only (+i): not joined #p");
        assert_eq!(out_of(&refused, "amy"), Some("#p".into()));
        assert_eq!(out_of(&parse("ERR 403 not in #r"), "amy"), None);
    }
}
