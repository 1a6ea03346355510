//! `AWAY [<text>]`: away with that text, or back without, answered by
//! `AWAY <you> <time> [<text>]`. While a user is away, whoever names them
//! in a `MSG` is told so, after the message, by `AWAY <name> <since>
//! <text>` (as IRC's `301`); a room's members are not looked at. IRC
//! sessions that asked (`away-notify`) are told of every change. Away is
//! the session's: it ends with the session, and a new one starts back.

use crate::protocol::{ErrorCode, Event, Text};
use crate::server::hub::{Hub, Limit, Outgoing};
use crate::server::session::Away;
use std::io::Write;
use std::rc::Rc;

/// The longest away text, as written (escaped).
pub const AWAY_MAX: usize = 400;

impl<T: Write> Hub<T> {
    pub(super) fn away(&mut self, key: usize, me: &str, text: Option<Text<'_>>) {
        let text = text.map(|t| t.escaped());
        if text.is_some_and(|t| t.len() > AWAY_MAX) {
            let why = format!("away text longer than {AWAY_MAX} bytes; still as before");
            return self.reply_err(key, ErrorCode::BadRequest, &why);
        }
        let time = self.clock.stamp();
        let Some(session) = self.queues.sessions.get_mut(key) else {
            return;
        };
        let now = text.map(|text| Away {
            since: time.as_str().into(),
            text: text.into(),
        });
        match (session.user.away.is_some(), now.is_some()) {
            (false, true) => self.away_online += 1,
            (true, false) => self.away_online -= 1,
            _ => {}
        }
        session.user.away = now;
        self.seal_for(key);
        let answer = Event::Away {
            name: me,
            time: time.as_str(),
            text,
        };
        self.reply(key, &answer);
        self.notify_away(key, me, time.as_str(), text);
    }

    /// Tells the sessions that asked (IRC's `away-notify`; every IRC user
    /// shares the everyone channel) that `me` went away or came back:
    /// after what the turn said before, encoded once and shared, as a
    /// broadcast is, and charged like one, a unit per session.
    pub(in crate::server) fn notify_away(
        &mut self,
        key: usize,
        me: &str,
        time: &str,
        text: Option<&str>,
    ) {
        if self.away_notified == 0 {
            return;
        }
        self.charge(key, self.queues.sessions.len() as u64);
        self.seal();
        let told: Vec<usize> = self
            .queues
            .sessions
            .iter()
            .filter(|(k, s)| *k != key && s.user.name.is_some() && s.out.manners().away_notify)
            .map(|(k, _)| k)
            .collect();
        let frame: Rc<[u8]> = {
            let mut frame = Vec::new();
            let changed = Event::AwayChanged {
                name: me,
                time,
                text,
            };
            changed.encode(&mut frame);
            Rc::from(frame)
        };
        for to in told {
            self.queues
                .push(to, Outgoing::Shared(&frame), Limit::Within);
        }
    }

    /// Tells `key` which of the users it just named are away.
    pub(super) fn tell_away(&mut self, key: usize, names: &[&str]) {
        if self.away_online == 0 {
            return;
        }
        for name in names {
            let Some(&recipient) = self.online.get(name) else {
                continue;
            };
            let Some(session) = self.queues.sessions.get(recipient) else {
                continue;
            };
            let (Some(away), Some(shown)) = (&session.user.away, &session.user.name) else {
                continue;
            };
            if recipient == key {
                continue;
            }
            // Rare (an away user named): copied out of the session.
            let (shown, since, text) = (shown.clone(), away.since.clone(), away.text.clone());
            let told = Event::Away {
                name: &shown,
                time: &since,
                text: Some(&text),
            };
            self.reply(key, &told);
        }
    }
}
