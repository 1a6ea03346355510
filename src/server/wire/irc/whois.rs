//! `ISON` and `USERHOST`: answered from who is online (the hub's
//! `USERS`), for the nicks the client asked about; `WHOIS` and `WHOWAS`:
//! from the hub's `WHOIS` of one nick.

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
    // A name marked `~` is away (USERHOST's `-`).
    let by_fold: std::collections::HashMap<String, (&str, bool)> = online
        .iter()
        .map(|n| {
            let bare = n.trim_start_matches('~');
            (bare.to_ascii_lowercase(), (bare, bare.len() != n.len()))
        })
        .collect();
    let found = |nick: &str| by_fold.get(&nick.to_ascii_lowercase()).copied();
    match viewer.asked {
        asked::ISON => {
            // A line holds a few thousand nicks at most; answered up to 512.
            // A user asked about in two spellings is listed once.
            let mut seen = std::collections::HashSet::new();
            let on: Vec<&str> = wanted
                .take(512)
                .filter_map(found)
                .map(|(n, _)| n)
                .filter(|n| seen.insert(*n))
                .collect();
            numeric(out, server, "303", me, &[], &on.join(" "));
        }
        asked::USERHOST => {
            // At most five nicks (RFC 2812 4.8).
            let on: Vec<String> = wanted
                .take(5)
                .filter_map(found)
                .map(|(n, away)| match away {
                    true => format!("{n}=-{n}@evchat"),
                    false => format!("{n}=+{n}@evchat"),
                })
                .collect();
            numeric(out, server, "302", me, &[], &on.join(" "));
        }
        _ => {}
    }
}

/// The hub's `WHOIS` of one nick, as `WHOIS` (`311`, `319` its channels,
/// `312`, `301` if away, `318`; `401` if offline) or as `WHOWAS` (`314`,
/// `312` saying whether it is online, `369`).
pub(super) fn whois(out: &mut Vec<u8>, voice: &Voice, me: &str, whowas: bool, who: &Whois<'_>) {
    let server = &*voice.server;
    let n = who.name;
    if whowas {
        numeric(out, server, "314", me, &[n, n, "evchat", "*"], n);
        let state = if who.online {
            "online now"
        } else {
            "known, offline"
        };
        numeric(out, server, "312", me, &[n, server], state);
        return numeric(out, server, "369", me, &[n], "End of WHOWAS");
    }
    if !who.online {
        numeric(out, server, "401", me, &[n], "No such nick/channel");
        return numeric(out, server, "318", me, &[n], "End of /WHOIS list");
    }
    numeric(out, server, "311", me, &[n, n, "evchat", "*"], n);
    super::reply::numeric_lines(out, server, "319", me, &[n], who.rooms);
    numeric(out, server, "312", me, &[n, server], "evchat");
    if let Some((_, text)) = who.away {
        let text = super::encode::one_line(text, "Away");
        numeric(out, server, "301", me, &[n], &text);
    }
    numeric(out, server, "318", me, &[n], "End of /WHOIS list");
}

/// A `WHOIS` answer's parts.
pub(super) struct Whois<'a> {
    pub name: &'a str,
    pub online: bool,
    pub rooms: &'a [&'a str],
    pub away: Option<(&'a str, &'a str)>,
}

/// Does `name` match the IRC mask `mask` (`*` any run, `?` any one
/// character, ASCII case ignored)? Iterative, so a mask of many stars
/// costs no more than its length times the name's.
pub(super) fn matches(mask: &str, name: &str) -> bool {
    let (m, n) = (mask.as_bytes(), name.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        match m.get(i) {
            Some(b'*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == b'?' || n.get(j).is_some_and(|d| d.eq_ignore_ascii_case(&c)) => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    m.get(i..).unwrap_or_default().iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn masks_match_as_irc_servers_match_them() {
        assert!(matches("bob", "BOB"));
        assert!(matches("b*", "bob"));
        assert!(matches("*o*", "bob"));
        assert!(matches("b?b", "bob"));
        assert!(matches("*", ""));
        assert!(matches("**a**", "banana"));
        assert!(!matches("b?", "bob"));
        assert!(!matches("a*", "bob"));
        assert!(!matches("", "bob"));
        assert!(matches("*b*b*", "abxbx"));
        assert!(!matches("*b*b*c", "abxbx"));
    }
}
