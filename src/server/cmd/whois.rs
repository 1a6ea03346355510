//! `WHOIS <name>` → `WHOIS <name> <online|away|offline> <rooms> [<since>
//! <text>]`: what the server knows of a name — online (on this node or,
//! in a cluster, another), away (since when, why: known for users of
//! this node), or only known (seen before, an account, a room's member)
//! — and the rooms it is in. A name the server does not know: `ERR 404`.

use crate::protocol::{ErrorCode, Event};
use crate::server::hub::Hub;
use std::io::Write;
use std::rc::Rc;

impl<T: Write> Hub<T> {
    pub(super) fn whois(&mut self, key: usize, name: &str) {
        self.charge(key, 1);
        let Some(shown) = self.known_as(name) else {
            let text = format!("no such user: {name}");
            return self.reply_err(key, ErrorCode::NoSuchUser, &text);
        };
        let here = self.online.get(name).copied();
        let online = here.is_some() || self.online_elsewhere(name);
        let away = here
            .and_then(|k| self.queues.sessions.get(k))
            .and_then(|s| s.user.away.as_ref())
            .map(|a| (Rc::<str>::from(&*a.since), Rc::<str>::from(&*a.text)));
        let rooms = self.rooms.rooms_of(&shown);
        // Each room is a lookup and a word of the answer.
        self.charge(key, rooms.len() as u64);
        let rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
        self.seal_for(key);
        let answer = Event::Whois {
            name: &shown,
            online,
            rooms: &rooms,
            away: away.as_ref().map(|(since, text)| (&**since, &**text)),
        };
        self.reply(key, &answer);
    }
}
