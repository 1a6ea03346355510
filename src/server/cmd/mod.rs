//! What each client frame does, one command per file, as in
//! tokio-rs/mini-redis: the hub parses a line into a
//! [`Command`](crate::protocol::Command) and [`Hub::dispatch`] sends it
//! here. Commands act only through the hub's queues, fan-out and store, so
//! each file reads as the protocol document describes the command.
//!
//! - [`login`] — `LOGIN`, open or with a password checked off the loop;
//! - [`say`] — `SAY`, a broadcast;
//! - [`msg`] — `MSG`, private messages, held for offline users, and
//!   [`msg_rooms`] when rooms are among its targets;
//! - [`join`], [`part`] — `JOIN` and `PART` a room;
//! - [`topic`], [`mode`], [`kick`], [`invite`] — what a room's operators
//!   set and do (its [`settings`](crate::server::rooms::settings));
//! - [`who`] — `WHO`, and [`rooms`] `WHO <room>`, `ROOMS` and `LIST`;
//! - [`away`] — `AWAY`, and telling a sender its recipient is away;
//! - [`whois`] — `WHOIS`, what the server knows of a name;
//! - [`nick`] — `NICK`, taking another name (servers without accounts);
//! - [`echo`] — a message back to a sender that asks (IRC's
//!   `echo-message`);
//! - [`stats`] — `STATS`, allowed before `LOGIN` for monitors;
//! - [`ping`] — `PING`, the barrier, and `PONG`;
//! - [`quit`] — `QUIT`.

mod away;
mod echo;
mod invite;
mod join;
mod kick;
mod login;
mod mode;
mod msg;
mod msg_rooms;
mod nick;
mod part;
mod ping;
mod quit;
mod rooms;
mod say;
mod stats;
mod tagmsg;
mod topic;
mod who;
mod whois;

pub use away::AWAY_MAX;

use super::hub::Hub;
use crate::protocol::{Command, ErrorCode};
use std::io::Write;

impl<T: Write> Hub<T> {
    /// Carries out one parsed frame of connection `key`.
    pub(super) fn dispatch(&mut self, key: usize, command: Command<'_>) {
        let me = self
            .queues
            .sessions
            .get(key)
            .and_then(|s| s.user.name.clone());
        match (command, me) {
            (Command::Ping { token }, _) => self.ping(key, token),
            (Command::Pong { token }, _) => self.pong(key, token),
            (Command::Stats, _) => self.stats(key),
            (Command::Quit { text }, _) => self.quit(key, text),
            (Command::Login { name, password }, None) => self.login(key, name, password),
            (Command::Auth { name, password }, None) => self.auth(key, name, password),
            (Command::Login { .. } | Command::Auth { .. }, Some(me)) => {
                let text = format!("already logged in as {me}");
                self.reply_err(key, ErrorCode::BadRequest, &text);
            }
            (_, None) => {
                self.reply_err(key, ErrorCode::NotLoggedIn, "log in first: LOGIN <name>");
            }
            (Command::Say { text, tags }, Some(me)) => {
                self.say(key, &me, text, tags.map(|t| t.as_str()))
            }
            (Command::Msg { to, text, tags }, Some(me)) => {
                self.msg(key, &me, to, text, tags.map(|t| t.as_str()))
            }
            (Command::TagMsg { to, tags }, Some(me)) => self.tagmsg(key, &me, to, tags.as_str()),
            (Command::Who, Some(_)) => self.who(key),
            (Command::WhoIn { room }, Some(me)) => self.who_in(key, &me, room),
            (Command::Join { room, key: k }, Some(me)) => self.join(key, &me, room, k),
            (Command::Topic { room, text }, Some(me)) => self.topic(key, &me, room, text),
            (Command::Mode { room, changes }, Some(me)) => self.mode(key, &me, room, changes),
            (Command::Kick { room, name, text }, Some(me)) => self.kick(key, &me, room, name, text),
            (Command::Invite { name, room }, Some(me)) => self.invite(key, &me, name, room),
            (Command::Nick { name }, Some(me)) => self.nick(key, &me, name),
            (Command::Part { room, text }, Some(me)) => self.part(key, &me, room, text),
            (Command::PartAll { text }, Some(me)) => self.part_all(key, &me, text),
            (Command::Rooms, Some(me)) => self.rooms(key, &me),
            (Command::List, Some(_)) => self.list(key),
            (Command::Away { text }, Some(me)) => self.away(key, &me, text),
            (Command::Whois { name }, Some(_)) => self.whois(key, name),
        }
    }
}
