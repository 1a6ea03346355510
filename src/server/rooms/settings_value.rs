//! A room's settings as one value — what the journal and the cluster's
//! rooms bucket store ([`Settings::encode`], [`Settings::parse`]) — and
//! the change between two values as IRC writes it ([`Settings::diff`]).

use super::{ban_mask, is_word, Settings, Topic, MAX_KEY, MAX_LIST, MAX_TOPIC};
use crate::protocol::is_valid_name;
use std::rc::Rc;

impl Settings {
    /// What changed from `self` to `new`, as one IRC-style mode string
    /// and its arguments (`+o-k bob *`); empty if nothing did.
    pub fn diff(&self, new: &Settings) -> (String, Vec<String>) {
        let mut plus = (String::new(), Vec::new());
        let mut minus = (String::new(), Vec::new());
        for (was, is, c) in [
            (self.topic_locked, new.topic_locked, 't'),
            (self.moderated, new.moderated, 'm'),
            (self.invite_only, new.invite_only, 'i'),
        ] {
            match (was, is) {
                (false, true) => plus.0.push(c),
                (true, false) => minus.0.push(c),
                _ => {}
            }
        }
        if self.key != new.key {
            match &new.key {
                Some(key) => {
                    plus.0.push('k');
                    plus.1.push(key.clone());
                }
                None => {
                    minus.0.push('k');
                    minus.1.push("*".into());
                }
            }
        }
        if self.limit != new.limit {
            match new.limit {
                Some(n) => {
                    plus.0.push('l');
                    plus.1.push(n.to_string());
                }
                None => minus.0.push('l'),
            }
        }
        // Names compare without case; masks are kept lower case.
        let name_in = |list: &[Rc<str>], n: &str| list.iter().any(|x| x.eq_ignore_ascii_case(n));
        let mask_in = |list: &[String], m: &str| list.iter().any(|x| x == m);
        list_diff(&mut plus, &mut minus, 'o', &self.ops, &new.ops, name_in);
        list_diff(
            &mut plus,
            &mut minus,
            'v',
            &self.voiced,
            &new.voiced,
            name_in,
        );
        list_diff(&mut plus, &mut minus, 'b', &self.bans, &new.bans, mask_in);
        let mut modes = String::new();
        if !plus.0.is_empty() {
            modes.push('+');
            modes.push_str(&plus.0);
        }
        if !minus.0.is_empty() {
            modes.push('-');
            modes.push_str(&minus.0);
        }
        plus.1.extend(minus.1);
        (modes, plus.1)
    }

    /// Names newly invited from `self` to `new`.
    pub fn new_invites<'a>(&self, new: &'a Settings) -> impl Iterator<Item = &'a Rc<str>> + 'a {
        let old = self.invited.clone();
        new.invited
            .iter()
            .filter(move |n| !old.iter().any(|o| o.eq_ignore_ascii_case(n)))
    }

    /// The value the journal and the rooms bucket store: a line a field.
    pub fn encode(&self) -> String {
        let mut out = format!("c {} {}\n", self.by, self.time);
        let (flags, _) = self.flags(true);
        out.push_str(&format!("f {flags}\n"));
        if let Some(t) = &self.topic {
            out.push_str(&format!("T {} {} {}\n", t.by, t.time, t.text));
        }
        for op in &self.ops {
            out.push_str(&format!("o {op}\n"));
        }
        for name in &self.voiced {
            out.push_str(&format!("v {name}\n"));
        }
        if let Some(key) = &self.key {
            out.push_str(&format!("k {key}\n"));
        }
        if let Some(limit) = self.limit {
            out.push_str(&format!("l {limit}\n"));
        }
        for ban in &self.bans {
            out.push_str(&format!("b {ban}\n"));
        }
        for name in &self.invited {
            out.push_str(&format!("i {name}\n"));
        }
        out
    }

    /// Reads [`Settings::encode`]'s value; `None` if anything in it is not
    /// what evchat writes (a bucket anyone on NATS may write is checked as
    /// a client's line is).
    pub fn parse(value: &str) -> Option<Settings> {
        let mut s = Settings {
            topic_locked: false,
            ..Settings::default()
        };
        for line in value.lines() {
            let (kind, rest) = line.split_once(' ')?;
            match kind {
                "c" => {
                    let (by, time) = rest.split_once(' ')?;
                    (by == "*" || is_valid_name(by)).then_some(())?;
                    is_time(time).then_some(())?;
                    (s.by, s.time) = (by.into(), time.into());
                }
                "f" => {
                    let flags = rest.strip_prefix('+')?;
                    for c in flags.chars() {
                        match c {
                            't' => s.topic_locked = true,
                            'm' => s.moderated = true,
                            'i' => s.invite_only = true,
                            'n' | 'k' | 'l' => {}
                            _ => return None,
                        }
                    }
                }
                "T" => {
                    let mut parts = rest.splitn(3, ' ');
                    let (by, time, text) = (parts.next()?, parts.next()?, parts.next()?);
                    let ok = is_valid_name(by)
                        && is_time(time)
                        && text.len() <= MAX_TOPIC
                        && crate::protocol::Text::parse(text).is_ok();
                    ok.then_some(())?;
                    s.topic = Some(Topic {
                        text: text.into(),
                        by: by.into(),
                        time: time.into(),
                    });
                }
                "o" if is_valid_name(rest) && s.ops.len() < MAX_LIST => s.ops.push(rest.into()),
                "v" if is_valid_name(rest) && s.voiced.len() < MAX_LIST => {
                    s.voiced.push(rest.into())
                }
                "i" if is_valid_name(rest) && s.invited.len() < MAX_LIST => {
                    s.invited.push(rest.into())
                }
                "k" => {
                    is_word(rest, MAX_KEY).then_some(())?;
                    s.key = Some(rest.into());
                }
                "l" => s.limit = Some(rest.parse().ok().filter(|n| *n > 0)?),
                "b" if s.bans.len() < MAX_LIST => s.bans.push(ban_mask(rest).ok()?),
                _ => return None,
            }
        }
        Some(s)
    }
}

/// A list mode's changes (`+o bob`, `-b x!*@*`): what `new` has that
/// `old` had not, and the reverse.
fn list_diff<T: AsRef<str>>(
    plus: &mut (String, Vec<String>),
    minus: &mut (String, Vec<String>),
    mode: char,
    old: &[T],
    new: &[T],
    has: impl Fn(&[T], &str) -> bool,
) {
    for (from, to, side) in [(old, new, &mut *plus), (new, old, &mut *minus)] {
        for item in to {
            if !has(from, item.as_ref()) {
                side.0.push(mode);
                side.1.push(item.as_ref().to_owned());
            }
        }
    }
}

/// A time as the hub stamps it (RFC 3339), or none yet.
fn is_time(time: &str) -> bool {
    time.is_empty()
        || (time.len() <= 40
            && time
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":.-+".contains(&b)))
}
