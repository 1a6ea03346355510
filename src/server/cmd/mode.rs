//! `MODE <room>` → `MODES <room> <flags> [<arg> ...]` (the key shown to
//! members only); `MODE <room> +b` → `BANS <room> <mask> ...`; `MODE
//! <room> <modes> [<arg> ...]` changes them (operators only), told to
//! every member online as `MODE <room> <by> <time> <modes> [<arg> ...]`.
//! What each mode means: the rooms' [`settings`](crate::server::rooms::settings).

use crate::protocol::{ErrorCode, Event};
use crate::server::hub::Hub;
use crate::server::rooms::settings::{parse_changes, Change, ModeAsk};
use crate::server::rooms::Settings;
use std::io::Write;

impl<T: Write> Hub<T> {
    pub(super) fn mode(&mut self, key: usize, me: &str, room: &str, changes: Option<&str>) {
        let Some((shown, settings)) = self.existing_room(key, room) else {
            return;
        };
        let Some(changes) = changes else {
            let (flags, args) = settings.flags(self.rooms.is_member(me, room));
            let flags = [flags]
                .into_iter()
                .chain(args)
                .collect::<Vec<_>>()
                .join(" ");
            self.seal_for(key);
            return self.reply(
                key,
                &Event::Modes {
                    room: &shown,
                    flags: &flags,
                },
            );
        };
        let mut words = changes.split(' ').filter(|w| !w.is_empty());
        let modes = words.next().unwrap_or_default();
        let args: Vec<&str> = words.collect();
        let asked = match parse_changes(modes, &args) {
            Ok(asked) => asked,
            Err(why) => return self.reply_err(key, ErrorCode::BadRequest, &why),
        };
        let changes = match asked {
            ModeAsk::Bans => {
                let masks: Vec<&str> = settings.bans.iter().map(String::as_str).collect();
                self.seal_for(key);
                return self.reply(
                    key,
                    &Event::Bans {
                        room: &shown,
                        masks: &masks,
                    },
                );
            }
            ModeAsk::Changes(changes) => changes,
        };
        // Anyone may give up their own voice (or operator status).
        let own = |c: &Change| match c {
            Change::Voice(false, n) | Change::Op(false, n) => n.eq_ignore_ascii_case(me),
            _ => false,
        };
        if !settings.is_op(me) && !changes.iter().all(own) {
            let why = format!("you are not an operator of {shown}");
            return self.reply_err(key, ErrorCode::Forbidden, &why);
        }
        let mut new = settings.clone();
        for change in &changes {
            if let Change::Op(true, name) | Change::Voice(true, name) = change {
                if !self.rooms.is_member(name, room) {
                    let why = format!("{name} is not in {shown}");
                    return self.reply_err(key, ErrorCode::NoSuchUser, &why);
                }
            }
            let rooms = &self.rooms;
            let as_shown = |n: &str| rooms.member_as(room, n).unwrap_or_else(|| n.into());
            if let Err(why) = new.apply(change, as_shown) {
                return self.reply_err(
                    key,
                    ErrorCode::MailboxFull,
                    &format!("{why}: {shown} unchanged"),
                );
            }
        }
        (new.by, new.time) = (me.to_owned(), self.clock.stamp().as_str().to_owned());
        self.change_settings(key, &shown, settings, new);
    }

    /// Makes `room`'s settings `new` (they were `old`): here at once, told
    /// and journaled; in a cluster written to the rooms bucket first, told
    /// on every node when it comes back. A change that changes nothing is
    /// not told.
    pub(in crate::server) fn change_settings(
        &mut self,
        key: usize,
        room: &str,
        old: Settings,
        new: Settings,
    ) {
        if old.diff(&new).0.is_empty() && old.topic == new.topic && old.invited == new.invited {
            return;
        }
        // Charged what it causes: the whole value compared, encoded and
        // written again (measured: a unit per 8 bytes keeps a flood of
        // changes to a full room within a bystander's turn), and each
        // new ban matched against every member.
        let added = new.bans.iter().filter(|b| !old.bans.contains(b)).count();
        let value = new.encode();
        let units = 1 + value.len() / 8 + added * self.rooms.member_count(room);
        self.charge(key, units as u64);
        if self.cluster.is_some() {
            return self.settings_in_cluster(key, room, value);
        }
        self.rooms.set_settings(room, new);
        self.settings_moved(Some(key), room, &old);
    }
}
