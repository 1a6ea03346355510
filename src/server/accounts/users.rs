//! The users file: one `name:PHC-string` per line (`#` starts a
//! comment), so an operator can read it, diff it and back it up; it holds
//! only argon2id hashes, never a password. It is rewritten atomically —
//! written to a temporary file, synced, renamed over the old one.
//!
//! Names are compared without ASCII case, as everywhere in evchat: `Bob`
//! and `bob` are one account, shown as the file spells it. A file in
//! which two accounts are one name (written by hand, or by an evchat that
//! compared names byte for byte) is refused at start, naming both, so the
//! operator removes one with `evchat-server user del`, which — like
//! `user list` — still reads such a file.

use crate::protocol::names::fold_text;
use argon2::password_hash::PasswordHash;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Names and their password hashes, as in the users file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Users {
    /// By name as written.
    hashes: BTreeMap<String, String>,
    /// Each name folded, and its account's spelling (the first in the
    /// file, should two be one name).
    spelling: HashMap<String, String>,
    /// Two accounts that are one name, the first found.
    clash: Option<(String, String)>,
    /// Not read yet (a cluster node before its first look at the bucket):
    /// whether logins need passwords is not known.
    pub(super) unread: bool,
}

impl Users {
    /// The accounts of a cluster node that has not read them yet.
    pub fn unread() -> Users {
        Users {
            unread: true,
            ..Users::default()
        }
    }

    /// Reads a users file for a server; a missing file is an error that
    /// says how to make one, and so are two accounts that are one name.
    pub fn load(path: &Path) -> Result<Users, String> {
        let users = Users::load_for_editing(path)?;
        match users.clash() {
            Some((a, b)) => Err(format!(
                "{}: the accounts {a} and {b} are one name (names are compared without case); \
                 remove one with `evchat-server user del <name> --users {}`",
                path.display(),
                path.display()
            )),
            None => Ok(users),
        }
    }

    /// Reads a users file, even one whose accounts clash: for `user list`
    /// and `user del`, which is how a clash is mended.
    pub fn load_for_editing(path: &Path) -> Result<Users, String> {
        let text = fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read users file {}: {e} (create it with `evchat-server user add <name> --users {}`)",
                path.display(),
                path.display()
            )
        })?;
        let mut users = Users::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, hash) = line
                .split_once(':')
                .filter(|(n, h)| crate::protocol::is_valid_name(n) && PasswordHash::new(h).is_ok())
                .ok_or_else(|| {
                    format!(
                        "{} line {}: expected name:argon2-hash (lines are written by `evchat-server user add`)",
                        path.display(),
                        i + 1
                    )
                })?;
            users.set(name, hash.to_owned());
        }
        Ok(users)
    }

    /// Like [`load`](Self::load), but a missing file is an empty one.
    pub fn load_or_empty(path: &Path) -> Result<Users, String> {
        if path.exists() {
            Users::load(path)
        } else {
            Ok(Users::default())
        }
    }

    /// Like [`load_for_editing`](Self::load_for_editing), but a missing
    /// file is an empty one.
    pub fn load_or_empty_for_editing(path: &Path) -> Result<Users, String> {
        if path.exists() {
            Users::load_for_editing(path)
        } else {
            Ok(Users::default())
        }
    }

    /// Writes the file atomically, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut text =
            String::from("# evchat users: name:argon2id hash. Edit with `evchat-server user`.\n");
        for (name, hash) in &self.hashes {
            text.push_str(name);
            text.push(':');
            text.push_str(hash);
            text.push('\n');
        }
        let tmp = path.with_extension("tmp");
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        fs::rename(&tmp, path).map_err(fail)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Sets the hash of the account spelt `name`. Whoever adds an account
    /// checks [`spelling_of`](Self::spelling_of) first: one that is
    /// another account's name in another case is kept (the file is read
    /// as it is) and reported by [`clash`](Self::clash).
    pub fn set(&mut self, name: &str, hash: String) {
        let key = fold_text(name);
        match self.spelling.get(&key) {
            Some(first) if first != name && self.clash.is_none() => {
                self.clash = Some((first.clone(), name.to_owned()));
            }
            Some(_) => {}
            None => {
                self.spelling.insert(key, name.to_owned());
            }
        }
        self.hashes.insert(name.to_owned(), hash);
    }

    /// Removes the account spelt exactly `name`; false if there is none.
    pub fn remove(&mut self, name: &str) -> bool {
        if self.hashes.remove(name).is_none() {
            return false;
        }
        // What is left decides the spellings, and any clash, again.
        let mut again = Users {
            unread: self.unread,
            ..Users::default()
        };
        for (n, h) in std::mem::take(&mut self.hashes) {
            again.set(&n, h);
        }
        *self = again;
        true
    }

    /// Names as written, in byte order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.hashes.keys().map(String::as_str)
    }

    /// The account `name` is, in any case, as the file spells it.
    pub fn spelling_of(&self, name: &str) -> Option<&str> {
        self.spelling.get(&fold_text(name)).map(String::as_str)
    }

    /// The hash of the account `name` is, in any case.
    pub fn hash_of(&self, name: &str) -> Option<&str> {
        let spelt = self.spelling_of(name)?;
        self.hashes.get(spelt).map(String::as_str)
    }

    /// Two accounts that are one name, if any.
    pub fn clash(&self) -> Option<(&str, &str)> {
        self.clash.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
    }

    /// Accounts.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo";

    #[test]
    fn an_account_is_found_in_any_case_and_shown_as_the_file_spells_it() {
        let mut users = Users::default();
        users.set("Bob", HASH.to_owned());
        assert_eq!(users.spelling_of("BOB"), Some("Bob"));
        assert_eq!(users.hash_of("bob"), Some(HASH));
        assert_eq!(users.clash(), None);
    }

    #[test]
    fn a_file_with_two_spellings_of_one_name_is_refused_naming_both_until_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        fs::write(&path, format!("bob:{HASH}\namy:{HASH}\nBob:{HASH}\n")).unwrap();
        let e = Users::load(&path).unwrap_err();
        assert!(e.contains("bob and Bob") && e.contains("user del"), "{e}");
        let mut users = Users::load_for_editing(&path).unwrap();
        assert_eq!(users.len(), 3);
        assert!(users.remove("bob"));
        users.save(&path).unwrap();
        let users = Users::load(&path).unwrap();
        assert_eq!(users.spelling_of("BOB"), Some("Bob"));
        assert_eq!(users.names().collect::<Vec<_>>(), ["Bob", "amy"]);
    }
}
