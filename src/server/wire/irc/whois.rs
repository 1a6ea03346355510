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
