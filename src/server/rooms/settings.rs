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
}

#[path = "settings_value.rs"]
mod value;

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
