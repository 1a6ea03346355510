//! IRC's channel-operator commands in: `TOPIC`, channel `MODE`, `KICK`
//! and `INVITE` become the line protocol's frames of the same names, which
//! the hub's rooms carry for every user.

use super::message::Message;
use super::{asked, Irc};
use crate::protocol::escape::escape_into;
use crate::protocol::is_valid_room;

/// ISUPPORT's `TOPICLEN`: raw bytes whose escaped form is within the
/// rooms' bound (escaping at most doubles).
pub(super) const TOPICLEN: usize = crate::server::rooms::settings::MAX_TOPIC / 2;

impl Irc {
    /// `TOPIC <channel> [:<text>]`: asks, sets, or with an empty text
    /// clears.
    pub(super) fn topic(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let Some(channel) = m.param(0) else {
            return self.need_more(answer, "TOPIC");
        };
        if !self.is_room(channel, answer) {
            return;
        }
        let mut line = format!("TOPIC {channel}").into_bytes();
        if let Some(text) = m.param(1) {
            // Cut at ISUPPORT's TOPICLEN, as IRC servers do (escaped, it
            // is then within the room's bound).
            let text = text.trim_end();
            let mut cut = text.len().min(TOPICLEN);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            line.push(b' ');
            escape_into(text.get(..cut).unwrap_or_default(), &mut line);
        }
        self.ask(asked::TOPIC, line);
    }

    /// `MODE <channel> [<modes> [<arg> ...]]`: the room's modes, asked or
    /// changed (the everyone channel has none to change).
    pub(super) fn channel_mode(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let params = m.params();
        let Some((&channel, changes)) = params.split_first() else {
            return self.need_more(answer, "MODE");
        };
        if channel.eq_ignore_ascii_case(&self.config.everyone) {
            if changes.is_empty() || matches!(changes, ["b" | "+b"]) {
                let me = self.nick.as_deref().unwrap_or("*");
                let server = self.config.server.clone();
                return match changes.is_empty() {
                    true => {
                        super::reply::numeric_bare(answer, &server, "324", me, &[channel, "+nt"])
                    }
                    false => self.numeric(answer, "368", &[channel], "End of channel ban list"),
                };
            }
            return self.numeric(
                answer,
                "482",
                &[channel],
                "Everyone online is in this channel",
            );
        }
        if !self.is_room(channel, answer) {
            return;
        }
        let mut line = format!("MODE {channel}");
        for word in changes.iter().filter(|w| !w.is_empty()) {
            line.push(' ');
            line.push_str(word);
        }
        self.ask(asked::MODE, line.into_bytes());
    }

    /// `KICK <channel> <nick>[,<nick>...] [:<reason>]`.
    pub(super) fn kick(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let (Some(channel), Some(nicks)) = (m.param(0), m.param(1)) else {
            return self.need_more(answer, "KICK");
        };
        if !self.is_room(channel, answer) {
            return;
        }
        let reason = m.param(2).filter(|r| !r.trim().is_empty());
        for nick in nicks.split(',').filter(|n| !n.is_empty()).take(8) {
            let mut line = format!("KICK {channel} {nick}").into_bytes();
            if let Some(reason) = reason {
                line.push(b' ');
                escape_into(reason, &mut line);
            }
            self.ask_about(asked::KICK, Some(nick), line);
        }
    }

    /// `INVITE <nick> <channel>`.
    pub(super) fn invite(&mut self, m: &Message<'_>, answer: &mut Vec<u8>) {
        let (Some(nick), Some(channel)) = (m.param(0), m.param(1)) else {
            return self.need_more(answer, "INVITE");
        };
        if !self.is_room(channel, answer) {
            return;
        }
        self.ask_about(
            asked::INVITE,
            Some(nick),
            format!("INVITE {nick} {channel}").into_bytes(),
        );
    }

    /// Is `channel` one a room can be? If not, `403` says so.
    pub(super) fn is_room(&self, channel: &str, answer: &mut Vec<u8>) -> bool {
        if channel.eq_ignore_ascii_case(&self.config.everyone) {
            self.numeric(
                answer,
                "482",
                &[channel],
                "Everyone online is in this channel",
            );
            return false;
        }
        if !is_valid_room(channel) {
            self.numeric(answer, "403", &[channel], "No such channel");
            return false;
        }
        true
    }
}
