//! Accounts: the users file, argon2id hashes, and the helper thread that
//! checks passwords so the loop never does.
//!
//! The file ([`users`]) is plain text, one `name:PHC-string` per line,
//! names compared without case.
//!
//! Checking a password costs tens of milliseconds of CPU by design, which
//! would stall every other client if the loop did it. The loop hands each
//! login to [`Authenticator`]'s thread and goes on; the answer comes back
//! through a channel, and a `mio::Waker` wakes the loop to read it. The
//! thread rereads the file when it changes, so `evchat-server user add`
//! takes effect without a restart. An unknown name is checked against a
//! dummy hash, so that it takes as long as a wrong password and the answer
//! (the same `ERR 401`) tells nothing about which names exist.

mod users;

pub use users::Users;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use log::{info, warn};
use std::fs;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::{Duration, SystemTime};

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Does `password` match the PHC string `hash`?
pub fn verify_password(hash: &str, password: &str) -> bool {
    Verifier::default().verify(hash, password)
}

/// Checks passwords against PHC strings with one block of argon2 memory,
/// kept for the next check: allocated and freed per check, glibc kept
/// each check's 19 MiB resident (eleven wrong logins: 220 MB).
#[derive(Default)]
pub struct Verifier {
    blocks: Vec<argon2::Block>,
}

/// The most argon2 memory a check may take (a users file asking for more
/// is refused rather than obeyed): 256 MiB of 1 KiB blocks.
const MAX_BLOCKS: usize = 1 << 18;

impl Verifier {
    /// Does `password` match the PHC string `hash`?
    pub fn verify(&mut self, hash: &str, password: &str) -> bool {
        self.check(hash, password).unwrap_or(false)
    }

    fn check(&mut self, hash: &str, password: &str) -> Option<bool> {
        let parsed = PasswordHash::new(hash).ok()?;
        let params = argon2::Params::try_from(&parsed).ok()?;
        let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => argon2::Version::try_from(v).ok()?,
            None => argon2::Version::default(),
        };
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let expected = parsed.hash?;
        let need = params.block_count();
        if need > MAX_BLOCKS {
            return None;
        }
        if self.blocks.len() < need {
            self.blocks.resize(need, argon2::Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        let blocks = self.blocks.get_mut(..need)?;
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
            .ok()?;
        // Compared in constant time.
        let differ = out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        Some(differ == 0 && out.len() == expected.len())
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({} blocks)", self.blocks.len())
    }
}

/// Fills `buf` from the kernel's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), String> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the kernel writes at most `rest.len()` bytes into `rest`.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("no randomness for a salt: {e}"));
            }
        } else {
            filled += n as usize;
        }
    }
    Ok(())
}

/// A login to check.
#[derive(Debug)]
pub struct AuthRequest {
    pub key: usize,
    pub serial: u64,
    /// Whose check it is, to bound the checks under way per address.
    pub peer: Option<std::net::IpAddr>,
    pub name: String,
    pub password: String,
}

/// Work for the password thread.
#[derive(Debug)]
pub enum AuthJob {
    Check(AuthRequest),
    /// Reread the users file now (SIGHUP).
    Reload,
}

/// The verdict on an [`AuthRequest`].
#[derive(Debug)]
pub struct AuthAnswer {
    pub key: usize,
    pub serial: u64,
    pub peer: Option<std::net::IpAddr>,
    /// As the account is spelt when the password is right; as the login
    /// wrote it otherwise.
    pub name: String,
    pub ok: bool,
    /// The hash the password was right for: an `AUTH`'s proof holds only
    /// while the account still has it.
    pub hash: Option<String>,
}

/// The accounts as last read, shared with the loop so that a private
/// message to an account that has never logged in can be held for it. The
/// helper thread holds the lock only to swap in a reread file.
pub type SharedUsers = Arc<RwLock<Arc<Users>>>;

/// Is `name` an account? (False if the lock was poisoned by a panic.)
pub fn has_account(users: &SharedUsers, name: &str) -> bool {
    users.read().is_ok_and(|u| u.hash_of(name).is_some())
}

/// The account `name` is (in any case), spelt as it was made.
/// The hash `name`'s account has now, if it is one.
pub fn account_hash(users: &SharedUsers, name: &str) -> Option<String> {
    users.read().ok()?.hash_of(name).map(str::to_owned)
}

pub fn account_spelling(users: &SharedUsers, name: &str) -> Option<String> {
    users.read().ok()?.spelling_of(name).map(str::to_owned)
}

/// The loop's side of the password-checking thread.
#[derive(Debug)]
pub struct AuthPort {
    pub requests: Sender<AuthJob>,
    pub users: SharedUsers,
    /// The accounts are kept elsewhere (a cluster's bucket) and may be
    /// none at all: logins are open until there is one.
    pub optional: bool,
}

impl AuthPort {
    /// Are the accounts known yet? Until a cluster node has read its
    /// bucket it cannot tell an open cluster from one with accounts, and
    /// takes no logins rather than let anyone in without a password.
    pub fn known(&self) -> bool {
        self.users.read().is_ok_and(|u| !u.unread)
    }

    /// Must a login give a password?
    pub fn required(&self) -> bool {
        !self.optional || self.users.read().is_ok_and(|u| u.names().next().is_some())
    }
}

/// The password-checking helper thread.
pub struct Authenticator;

impl Authenticator {
    /// Loads the users file (failing now, not at the first login, if it is
    /// unreadable) and starts the thread; `wake` is called after each
    /// answer.
    pub fn start(
        path: PathBuf,
        wake: impl Fn() + Send + 'static,
    ) -> Result<(AuthPort, Receiver<AuthAnswer>), String> {
        let users = Users::load(&path)?;
        info!("accounts from {}: {} users", path.display(), users.len());
        let shared: SharedUsers = Arc::new(RwLock::new(Arc::new(users)));
        let state = FileWatch::new(Some(path), Arc::clone(&shared));
        Authenticator::run(state, shared, false, wake)
    }

    /// Starts the thread over accounts someone else keeps current in
    /// `shared` (a cluster's bucket).
    pub fn start_shared(
        shared: SharedUsers,
        wake: impl Fn() + Send + 'static,
    ) -> Result<(AuthPort, Receiver<AuthAnswer>), String> {
        let state = FileWatch::new(None, Arc::clone(&shared));
        Authenticator::run(state, shared, true, wake)
    }

    fn run(
        mut state: FileWatch,
        shared: SharedUsers,
        optional: bool,
        wake: impl Fn() + Send + 'static,
    ) -> Result<(AuthPort, Receiver<AuthAnswer>), String> {
        let (requests, inbox) = mpsc::channel::<AuthJob>();
        let (outbox, answers) = mpsc::channel();
        let dummy = hash_password("no such user")?;
        let mut verifier = Verifier::default();
        thread::Builder::new()
            .name("evchat-auth".into())
            .spawn(move || loop {
                // Also look at the file once a second between logins, so
                // a user just added can be sent held messages.
                let request = match inbox.recv_timeout(Duration::from_secs(1)) {
                    Ok(AuthJob::Check(request)) => request,
                    // A changed file may have deleted accounts, which the
                    // loop takes out of the rooms: it is woken to look.
                    Ok(AuthJob::Reload) => {
                        if state.reload() {
                            wake();
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if state.changed() {
                            wake();
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                let users = state.current();
                let hash = users.hash_of(&request.name);
                let ok =
                    verifier.verify(hash.unwrap_or(&dummy), &request.password) && hash.is_some();
                // Logged in as the account is spelt, whatever case the
                // login wrote it in.
                let name = match users.spelling_of(&request.name) {
                    Some(spelt) if ok => spelt.to_owned(),
                    _ => request.name,
                };
                let answer = AuthAnswer {
                    key: request.key,
                    serial: request.serial,
                    peer: request.peer,
                    name,
                    ok,
                    hash: hash.filter(|_| ok).map(str::to_owned),
                };
                if outbox.send(answer).is_err() {
                    return;
                }
                wake();
            })
            .map_err(|e| format!("cannot start the password thread: {e}"))?;
        let port = AuthPort {
            requests,
            users: shared,
            optional,
        };
        Ok((port, answers))
    }
}

/// The users file, reread when its modification time changes (without
/// a file: the accounts as `shared` has them).
struct FileWatch {
    path: Option<PathBuf>,
    users: Arc<Users>,
    shared: SharedUsers,
    modified: Option<SystemTime>,
}

impl FileWatch {
    fn new(path: Option<PathBuf>, shared: SharedUsers) -> FileWatch {
        let modified = path
            .as_ref()
            .and_then(|p| fs::metadata(p).and_then(|m| m.modified()).ok());
        let users = shared.read().map(|u| Arc::clone(&u)).unwrap_or_default();
        FileWatch {
            path,
            users,
            shared,
            modified,
        }
    }

    /// The accounts, reread first if the file changed.
    fn current(&mut self) -> Arc<Users> {
        if self.path.is_none() {
            return self
                .shared
                .read()
                .map(|u| Arc::clone(&u))
                .unwrap_or_default();
        }
        self.changed();
        Arc::clone(&self.users)
    }

    /// Rereads the file if it changed; true if other accounts were read.
    fn changed(&mut self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let modified = fs::metadata(path).and_then(|m| m.modified()).ok();
        modified != self.modified && self.reload()
    }

    /// Rereads the file; true if other accounts were read.
    fn reload(&mut self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        self.modified = fs::metadata(path).and_then(|m| m.modified()).ok();
        match Users::load(path) {
            Ok(users) => {
                info!("users file {} read: {} users", path.display(), users.len());
                let other = users != *self.users;
                self.users = Arc::new(users);
                if let Ok(mut shared) = self.shared.write() {
                    *shared = Arc::clone(&self.users);
                }
                other
            }
            Err(e) => {
                warn!("{e}; keeping the accounts read before");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_the_file_round_trips() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a hash", "x"));
        // One verifier, its memory kept, for check after check.
        let mut verifier = Verifier::default();
        for _ in 0..3 {
            assert!(verifier.verify(&hash, "correct horse"));
            assert!(!verifier.verify(&hash, "wrong"));
        }
        // A hash asking for more memory than a check may take: refused.
        let greedy = hash.replacen("m=19456", "m=4000000", 1);
        assert_ne!(greedy, hash);
        assert!(!verifier.verify(&greedy, "correct horse"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let mut users = Users::load_or_empty(&path).unwrap();
        users.set("bob", hash.clone());
        users.set("amy", hash);
        users.save(&path).unwrap();
        let back = Users::load(&path).unwrap();
        assert_eq!(back, users);
        assert_eq!(back.names().collect::<Vec<_>>(), ["amy", "bob"]);
        fs::write(&path, "bob:plaintext\n").unwrap();
        assert!(Users::load(&path).unwrap_err().contains("line 1"));
    }

    #[test]
    fn the_thread_answers_right_wrong_and_unknown_alike() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let mut users = Users::default();
        users.set("bob", hash_password("pw").unwrap());
        users.save(&path).unwrap();
        let (port, answers) = Authenticator::start(path, || {}).unwrap();
        assert!(has_account(&port.users, "bob") && !has_account(&port.users, "eve"));
        let requests = port.requests;
        let tries = [
            (1, "bob", "pw"),
            (2, "bob", "nope"),
            (3, "eve", "pw"),
            (4, "BOB", "pw"),
        ];
        for (serial, name, password) in tries {
            let request = AuthRequest {
                key: 7,
                serial,
                peer: None,
                name: name.into(),
                password: password.into(),
            };
            requests.send(AuthJob::Check(request)).unwrap();
        }
        let verdicts: Vec<_> = (0..4)
            .map(|_| answers.recv().unwrap())
            .map(|a| (a.ok, a.name))
            .collect();
        let bob = || "bob".to_owned();
        let as_typed = [(true, bob()), (false, bob()), (false, "eve".into())];
        assert_eq!(verdicts[..3], as_typed);
        // The account in another case: logged in as the account is spelt.
        assert_eq!(verdicts[3], (true, bob()));
    }
}
