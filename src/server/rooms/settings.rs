//! What a room is set to besides its members: its operators, its topic and
//! its modes — IRC's channel modes, carried by the room for every kind of
//! user, as [PROTOCOL.md](../../../docs/PROTOCOL.md) pins them.
//!
//! - `+o <name>`: an operator (the room's creator; `+o` gives it). The
//!   operators change the modes, `KICK`, and set the topic under `+t`.
//! - `+v <name>`: a voiced member, who speaks under `+m`.
//! - `+t`: only operators set the topic (on in a new room).
//! - `+m`: moderated, only operators and voiced members speak.
//! - `+i`: invite only, a `JOIN` needs an `INVITE`.
//! - `+k <key>`: a `JOIN` needs the key.
//! - `+l <count>`: at most that many members (online or not).
//! - `+b <mask>`: names matching `nick!user@host` (an evchat user is
//!   `name!name@evchat`) cannot join or speak.
//!
//! The whole is one small value ([`Settings::encode`]) that the journal
//! and the cluster's rooms bucket store as it is after each change, so a
//! change is told by comparing the value before and after it
//! ([`Settings::diff`]).

use crate::protocol::is_valid_name;
use std::rc::Rc;

/// A room has at most this many operators, voiced members, bans and
/// pending invitations,
/// so its settings stay a few KiB, written whole at each change.
pub const MAX_LIST: usize = 50;
/// The longest topic, as written (escaped).
pub const MAX_TOPIC: usize = 400;
/// The longest key and ban mask.
pub const MAX_KEY: usize = 32;
pub const MAX_MASK: usize = 64;
/// The most mode changes one `MODE` makes (ISUPPORT's `MODES`).
pub const MAX_CHANGES: usize = 6;

/// A room's topic: its text (escaped), who set it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub text: String,
    pub by: String,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub topic: Option<Topic>,
    /// Operators, as shown, in the order they became one.
    pub ops: Vec<Rc<str>>,
    /// Voiced members, as shown, in the order they were voiced.
    pub voiced: Vec<Rc<str>>,
    pub topic_locked: bool,
    pub moderated: bool,
    pub invite_only: bool,
    pub key: Option<String>,
    pub limit: Option<usize>,
    /// Ban masks, lower case, as `nick!user@host`.
    pub bans: Vec<String>,
    /// Names invited and not yet joined, oldest first.
    pub invited: Vec<Rc<str>>,
    /// Who made the last change and when (`*`: the server).
    pub by: String,
    pub time: String,
}

impl Default for Settings {
    /// A new room's: `+t`, no operator yet.
    fn default() -> Settings {
        Settings {
            topic: None,
            ops: Vec::new(),
            voiced: Vec::new(),
            topic_locked: true,
            moderated: false,
            invite_only: false,
            key: None,
            limit: None,
            bans: Vec::new(),
            invited: Vec::new(),
            by: "*".into(),
            time: String::new(),
        }
    }
}

/// One mode change a `MODE` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Op(bool, String),
    Voice(bool, String),
    /// `t`, `m` or `i`.
    Flag(bool, char),
    Key(Option<String>),
    Limit(Option<usize>),
    Ban(bool, String),
}

/// What a `MODE <room> <modes> [<arg>...]` asks: changes, or the ban list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeAsk {
    Changes(Vec<Change>),
    Bans,
}

/// Reads IRC-style mode changes (`+o-t bob`, `+k secret`, `-k`, `+l 10`,
/// `+b bob`); `+b` without a mask asks for the bans. `Err` says why.
pub fn parse_changes(modes: &str, args: &[&str]) -> Result<ModeAsk, String> {
    let mut args = args.iter().copied();
    let mut adding = true;
    let mut changes = Vec::new();
    for c in modes.chars() {
        let change = match c {
            '+' | '-' => {
                adding = c == '+';
                continue;
            }
            'o' | 'v' => {
                let name = args.next().ok_or(format!("+{c} and -{c} need a name"))?;
                if !is_valid_name(name) {
                    return Err(format!("{name} is not a name"));
                }
                match c {
                    'o' => Change::Op(adding, name.to_owned()),
                    _ => Change::Voice(adding, name.to_owned()),
                }
            }
            't' | 'm' | 'i' => Change::Flag(adding, c),
            'n' => continue, // always on: only members speak in a room
            'k' if adding => {
                let key = args.next().ok_or("+k needs a key")?;
                if !is_word(key, MAX_KEY) {
                    return Err(format!(
                        "a key is 1-{MAX_KEY} printable ASCII characters without spaces or commas, not starting with ':'"
                    ));
                }
                Change::Key(Some(key.to_owned()))
            }
            'k' => {
                let _ = args.next(); // IRC's -k names the key; any will do
                Change::Key(None)
            }
            'l' if adding => {
                let n = args.next().ok_or("+l needs a number")?;
                let n: usize = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("+l needs a number from 1")?;
                Change::Limit(Some(n))
            }
            'l' => Change::Limit(None),
            'b' => match args.next() {
                None if changes.is_empty() => return Ok(ModeAsk::Bans),
                None => return Err("+b and -b need a mask".into()),
                Some(mask) => Change::Ban(adding, ban_mask(mask)?),
            },
            other => {
                return Err(format!(
                    "{other} is not a mode evchat knows: o v t m i k l b n"
                ))
            }
        };
        changes.push(change);
        if changes.len() > MAX_CHANGES {
            return Err(format!("at most {MAX_CHANGES} changes in one MODE"));
        }
    }
    if changes.is_empty() {
        return Err("no mode change given".into());
    }
    Ok(ModeAsk::Changes(changes))
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b','
}

/// A key or mask: one IRC parameter (no space, no comma, not starting
/// with `:`, which IRC reads as the start of a trailing text).
fn is_word(w: &str, max: usize) -> bool {
    !w.is_empty() && w.len() <= max && !w.starts_with(':') && w.bytes().all(is_key_byte)
}

/// A ban mask in the form it is kept: lower case `nick!user@host`, a bare
/// name meaning `name!*@*`.
pub fn ban_mask(mask: &str) -> Result<String, String> {
    if !is_word(mask, MAX_MASK) {
        return Err(format!(
            "a ban mask is 1-{MAX_MASK} printable ASCII characters without spaces or commas, not starting with ':'"
        ));
    }
    let mut mask = mask.to_ascii_lowercase();
    if !mask.contains('!') && !mask.contains('@') {
        mask.push_str("!*@*");
    }
    Ok(mask)
}

/// Does the glob `mask` (`*`, `?`) match `name!name@evchat`? Iterative,
/// so a mask costs at most its length times the subject's.
pub fn banned_by(mask: &str, name: &str) -> bool {
    let subject = format!("{name}!{name}@evchat").to_ascii_lowercase();
    glob(mask.as_bytes(), subject.as_bytes())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&c| c == b'*')
}

impl Settings {
    pub fn is_op(&self, name: &str) -> bool {
        self.ops.iter().any(|o| o.eq_ignore_ascii_case(name))
    }

    pub fn is_voiced(&self, name: &str) -> bool {
        self.voiced.iter().any(|v| v.eq_ignore_ascii_case(name))
    }

    pub fn is_banned(&self, name: &str) -> bool {
        self.bans.iter().any(|m| banned_by(m, name))
    }

    pub fn is_invited(&self, name: &str) -> bool {
        self.invited.iter().any(|i| i.eq_ignore_ascii_case(name))
    }

    /// Applies one change; `Err` if it cannot be (a list full).
    pub fn apply(
        &mut self,
        change: &Change,
        shown: impl Fn(&str) -> Rc<str>,
    ) -> Result<(), String> {
        match change {
            Change::Op(true, name) if !self.is_op(name) => {
                if self.ops.len() >= MAX_LIST {
                    return Err(format!("a room has at most {MAX_LIST} operators"));
                }
                self.ops.push(shown(name));
            }
            Change::Op(false, name) => self.ops.retain(|o| !o.eq_ignore_ascii_case(name)),
            Change::Voice(true, name) if !self.is_voiced(name) => {
                if self.voiced.len() >= MAX_LIST {
                    return Err(format!("a room has at most {MAX_LIST} voiced members"));
                }
                self.voiced.push(shown(name));
            }
            Change::Voice(false, name) => self.voiced.retain(|v| !v.eq_ignore_ascii_case(name)),
            Change::Flag(on, 't') => self.topic_locked = *on,
            Change::Flag(on, 'm') => self.moderated = *on,
            Change::Flag(on, 'i') => self.invite_only = *on,
            Change::Key(key) => self.key.clone_from(key),
            Change::Limit(limit) => self.limit = *limit,
            Change::Ban(true, mask) if !self.bans.contains(mask) => {
                if self.bans.len() >= MAX_LIST {
                    return Err(format!("a room has at most {MAX_LIST} bans"));
                }
                self.bans.push(mask.clone());
            }
            Change::Ban(false, mask) => self.bans.retain(|m| m != mask),
            _ => {}
        }
        Ok(())
    }

    /// Invites `name`: the oldest invitation goes past [`MAX_LIST`].
    pub fn invite(&mut self, name: Rc<str>) {
        if self.is_invited(&name) {
            return;
        }
        if self.invited.len() >= MAX_LIST {
            self.invited.remove(0);
        }
        self.invited.push(name);
    }

    /// `+tmikl`, with the key and limit after it as IRC's 324 shows them
    /// (`n` always: only members speak).
    pub fn flags(&self, with_key: bool) -> (String, Vec<String>) {
        let mut flags = String::from("+n");
        let mut args = Vec::new();
        for (on, c) in [
            (self.topic_locked, 't'),
            (self.moderated, 'm'),
            (self.invite_only, 'i'),
        ] {
            if on {
                flags.push(c);
            }
        }
        if let Some(key) = &self.key {
            flags.push('k');
            args.push(if with_key { key.clone() } else { "*".into() });
        }
        if let Some(limit) = self.limit {
            flags.push('l');
            args.push(limit.to_string());
        }
        (flags, args)
    }

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
        for op in &new.ops {
            if !self.is_op(op) {
                plus.0.push('o');
                plus.1.push(op.to_string());
            }
        }
        for op in &self.ops {
            if !new.is_op(op) {
                minus.0.push('o');
                minus.1.push(op.to_string());
            }
        }
        for name in &new.voiced {
            if !self.is_voiced(name) {
                plus.0.push('v');
                plus.1.push(name.to_string());
            }
        }
        for name in &self.voiced {
            if !new.is_voiced(name) {
                minus.0.push('v');
                minus.1.push(name.to_string());
            }
        }
        for ban in &new.bans {
            if !self.bans.contains(ban) {
                plus.0.push('b');
                plus.1.push(ban.clone());
            }
        }
        for ban in &self.bans {
            if !new.bans.contains(ban) {
                minus.0.push('b');
                minus.1.push(ban.clone());
            }
        }
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

/// A time as the hub stamps it (RFC 3339), or none yet.
fn is_time(time: &str) -> bool {
    time.is_empty()
        || (time.len() <= 40
            && time
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":.-+".contains(&b)))
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
