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
    // Names online by their lower case, as they are written: each nick
    // asked about is one lookup, however many are online.
    let by_fold: std::collections::HashMap<String, &str> = online
        .iter()
        .map(|n| (n.to_ascii_lowercase(), *n))
        .collect();
    let found = |nick: &str| by_fold.get(&nick.to_ascii_lowercase()).copied();
    match viewer.asked {
        asked::ISON => {
            // A line holds a few thousand nicks at most; answered up to 512.
            let on: Vec<&str> = wanted.take(512).filter_map(found).collect();
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
