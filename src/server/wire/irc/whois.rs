//! `ISON`, `USERHOST` and `WHOIS`: answered from who is online (the
//! hub's `USERS`), for the nicks the client asked about.

use super::asked;
use super::reply::numeric;
use crate::server::wire::{Viewer, Voice};

pub(super) fn answer(
    out: &mut Vec<u8>,
    voice: &Voice,
    me: &str,
    viewer: &Viewer<'_>,
    online: &[&str],
) {
    let server = &*voice.server;
    let asked_about = viewer.about.unwrap_or_default();
    let wanted = asked_about.split(' ').filter(|n| !n.is_empty());
    // Names online, as they are written (matched without ASCII case).
    let found = |nick: &str| {
        online
            .iter()
            .find(|n| n.eq_ignore_ascii_case(nick))
            .copied()
    };
    match viewer.asked {
        asked::ISON => {
            let on: Vec<&str> = wanted.filter_map(found).collect();
            numeric(out, server, "303", me, &[], &on.join(" "));
        }
        asked::USERHOST => {
            // At most five nicks (RFC 2812 4.8).
            let on: Vec<String> = wanted
                .take(5)
                .filter_map(found)
                .map(|n| format!("{n}=+{n}@evchat"))
                .collect();
            numeric(out, server, "302", me, &[], &on.join(" "));
        }
        _ => {
            for nick in wanted.take(8) {
                match found(nick) {
                    Some(n) => {
                        numeric(out, server, "311", me, &[n, n, "evchat", "*"], n);
                        numeric(out, server, "312", me, &[n, server], "evchat");
                    }
                    None => numeric(out, server, "401", me, &[nick], "No such nick/channel"),
                }
                numeric(out, server, "318", me, &[nick], "End of /WHOIS list");
            }
        }
    }
}
