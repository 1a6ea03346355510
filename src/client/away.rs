//! Which received messages came at login — held for you, or said in your
//! rooms while you were away — so the terminal marks them `(while away)`.
//! Pure: events in, decisions out.
//!
//! At login the server sends held mail, then each room's `JOIN <you>
//! <room>` and its catch-up, then a `PING`; a long catch-up comes in
//! windows, each ended by a `PING` and the next sent once that `PING` is
//! answered, between which live traffic may come. So marking is on from
//! the login until the server's `PING`, and again from a `JOIN <you>` of
//! the login until the next `PING`. Whether another window is coming is
//! learnt from a `PING` of our own sent with each answer: its `PONG`
//! comes after the next window, if any, and ends the login.

use super::Event;
use crate::protocol::same_name;

/// The tokens of our own `PING`s during the login.
const TOKEN: &str = "evchat-caught-up";

#[derive(Debug)]
pub struct Away {
    /// Messages now are from the login, not live.
    marking: bool,
    /// The login's windows may not all have come yet.
    login: bool,
    /// Our latest `PING` of the login; its `PONG` ends it.
    asked: u64,
}

/// What to do about one received event.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    /// A message in it came at login.
    pub missed: bool,
    /// Send `PING <token>`: is another window coming?
    pub ping: Option<String>,
}

fn token(n: u64) -> String {
    format!("{TOKEN}-{n}")
}

impl Away {
    /// Just logged in: the state, and the token of the first `PING` to
    /// send.
    pub fn start() -> (Away, String) {
        let away = Away {
            marking: true,
            login: true,
            asked: 0,
        };
        (away, token(0))
    }

    /// Sees `event` (a server `PING` once it has been answered).
    pub fn see(&mut self, event: &Event, me: &str) -> Seen {
        let mut ping = None;
        match event {
            Event::Ping { .. } => {
                self.marking = false;
                if self.login {
                    self.asked += 1;
                    ping = Some(token(self.asked));
                }
            }
            Event::Pong { token: Some(t) } if self.login && *t == token(self.asked) => {
                self.login = false;
                self.marking = false;
            }
            Event::Join { name, .. } if self.login && same_name(name, me) => self.marking = true,
            _ => {}
        }
        Seen {
            missed: self.marking && matches!(event, Event::Msg { .. }),
            ping,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerFrame;

    fn frame(line: &str) -> Event {
        ServerFrame::parse(line).unwrap()
    }

    const T: &str = "2026-11-23T10:15:30.123Z";

    /// Feeds `lines`; the ones marked, and the PINGs sent.
    fn run(away: &mut Away, lines: &[String]) -> (Vec<bool>, Vec<String>) {
        let (mut marked, mut pings) = (Vec::new(), Vec::new());
        for line in lines {
            let seen = away.see(&frame(line), "amy");
            marked.push(seen.missed);
            pings.extend(seen.ping);
        }
        (marked, pings)
    }

    #[test]
    fn held_mail_and_every_window_are_marked_and_nothing_live() {
        let (mut away, first) = Away::start();
        assert_eq!(first, "evchat-caught-up-0");
        let lines = [
            format!("MSG bob amy {T} held"),
            format!("JOIN amy #a {T}"),
            format!("MSG bob #a {T} missed in a"),
            "PING w1".to_owned(),
            format!("PONG {first}"),
            format!("MSG bob amy {T} live between windows"),
            format!("JOIN amy #b {T}"),
            format!("MSG bob #b {T} missed in b"),
            "PING w2".to_owned(),
            format!("MSG bob #a {T} live in a"),
            "PONG evchat-caught-up-1".to_owned(),
            format!("MSG bob #b {T} live in b"),
            "PONG evchat-caught-up-2".to_owned(),
            format!("JOIN amy #c {T}"),
            format!("MSG bob #c {T} history of a room joined now"),
        ];
        let (marked, pings) = run(&mut away, &lines);
        let missed: Vec<&String> = lines
            .iter()
            .zip(&marked)
            .filter(|(_, m)| **m)
            .map(|(l, _)| l)
            .collect();
        assert_eq!(missed, [&lines[0], &lines[2], &lines[7]]);
        assert_eq!(pings, ["evchat-caught-up-1", "evchat-caught-up-2"]);
    }

    #[test]
    fn without_anything_held_our_pong_ends_the_login() {
        let (mut away, first) = Away::start();
        let lines = [
            format!("PONG {first}"),
            format!("MSG bob amy {T} live"),
            "PING keepalive".to_owned(),
        ];
        let (marked, pings) = run(&mut away, &lines);
        assert_eq!(marked, [false, false, false]);
        assert!(
            pings.is_empty(),
            "a keep-alive PING after the login asks nothing"
        );
    }
}
