//! The durable store: one append-only journal of checksummed records.
//!
//! Why one journal and not a database: what must survive is small and
//! append-shaped — a name was seen, a message was held for a name, the
//! first *n* held messages of a name were delivered. An append-only log
//! turns each of those into one sequential write, costs nothing to read
//! back in order (which is the order of delivery), and its one failure mode
//! — a crash mid-write — leaves a torn tail that a checksum finds and a
//! truncation repairs. An embedded database would add a B-tree and its own
//! locking to do the same with more writes.
//!
//! File `journal` in the data directory: the header [`MAGIC`], then records
//! `[length: u32 LE][crc32 of payload: u32 LE][payload]`, where the payload
//! is a kind byte and its fields:
//!
//! - `U name` — a user exists;
//! - `H len(name) name frame` — `frame` (the exact `MSG` line the recipient
//!   will get, with the original sender and time) is held for `name`;
//! - `D len(name) name count: u32 LE` — the oldest `count` messages held for
//!   `name` were delivered and are gone.
//!
//! Durability, as Redis's `appendfsync`: records accepted in a loop turn are
//! written to the OS with one `write` before any byte of that turn reaches a
//! socket, so once a sender has its `PONG`, `kill -9` cannot lose what it
//! sent before. `--fsync always` adds one `fdatasync` per turn (group
//! commit); `everysec` leaves it to a helper thread once a second; `never`
//! to the OS.
//!
//! Compaction, as Redis's `BGREWRITEAOF`: when the file is much larger than
//! what is live, the hub hands over an image of the live state; a helper
//! thread writes it to `journal.compact` and syncs it; records appended
//! meanwhile are kept aside and added to the new file, which then replaces
//! the old one by `rename`. The loop never waits for the big write.

use log::{error, info, warn};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// First bytes of every journal: what it is and its format version.
pub const MAGIC: &[u8; 8] = b"EVCHATJ1";
const HEADER: usize = 8;
/// Bytes before each payload: length and checksum.
const RECORD_HEAD: usize = 8;
/// No payload is larger (a frame is at most `max-line` plus a little).
const MAX_PAYLOAD: usize = 64 << 20;
/// Compaction starts only past this size...
const COMPACT_MIN: u64 = 64 << 20;
/// ...and when the file is this many times what is live.
const COMPACT_RATIO: u64 = 2;

/// When records are forced to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Once per loop turn, before anyone is answered: nothing acknowledged
    /// is lost even if the machine loses power.
    Always,
    /// Once a second, on a helper thread: a power loss may lose the last
    /// second; a crash of the server alone loses nothing acknowledged.
    #[default]
    Everysec,
    /// Left to the OS.
    Never,
}

/// What the journal held when the server started.
#[derive(Debug, Default)]
pub struct Image {
    /// Known names, in the order first seen.
    pub users: Vec<String>,
    /// Held frames by recipient, oldest first.
    pub mail: HashMap<String, VecDeque<Vec<u8>>>,
}

impl Image {
    fn apply(&mut self, record: Record<'_>, known: &mut HashSet<String>) {
        match record {
            Record::User(name) => {
                if known.insert(name.to_owned()) {
                    self.users.push(name.to_owned());
                }
            }
            Record::Held(name, frame) => {
                if known.insert(name.to_owned()) {
                    self.users.push(name.to_owned());
                }
                let mailbox = self.mail.entry(name.to_owned()).or_default();
                mailbox.push_back(frame.to_vec());
            }
            Record::Delivered(name, count) => {
                if let Some(mailbox) = self.mail.get_mut(name) {
                    let count = (count as usize).min(mailbox.len());
                    mailbox.drain(..count);
                    if mailbox.is_empty() {
                        self.mail.remove(name);
                    }
                }
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Record<'a> {
    User(&'a str),
    Held(&'a str, &'a [u8]),
    Delivered(&'a str, u32),
}

/// Appends one record to `out`.
fn encode(out: &mut Vec<u8>, record: &Record<'_>) {
    let at = out.len();
    out.extend_from_slice(&[0; RECORD_HEAD]);
    let named = |out: &mut Vec<u8>, kind: u8, name: &str| {
        out.push(kind);
        // Names are at most 32 bytes (the protocol's limit).
        out.push(name.len().min(255) as u8);
        out.extend_from_slice(name.as_bytes());
    };
    match record {
        Record::User(name) => {
            out.push(b'U');
            out.extend_from_slice(name.as_bytes());
        }
        Record::Held(name, frame) => {
            named(out, b'H', name);
            out.extend_from_slice(frame);
        }
        Record::Delivered(name, count) => {
            named(out, b'D', name);
            out.extend_from_slice(&count.to_le_bytes());
        }
    }
    let payload = &out[at + RECORD_HEAD..];
    let len = payload.len() as u32;
    let crc = crc32fast::hash(payload);
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    out[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Bytes that `Record::Held(name, frame)` takes in the file.
fn held_size(name: &str, frame: &[u8]) -> u64 {
    (RECORD_HEAD + 2 + name.len() + frame.len()) as u64
}

/// Why the bytes at some offset are not a record.
fn decode(bytes: &[u8]) -> Result<(Record<'_>, usize), &'static str> {
    let head = bytes.get(..RECORD_HEAD).ok_or("record header cut short")?;
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let (len, crc) = (word(0) as usize, word(4));
    if len == 0 || len > MAX_PAYLOAD {
        return Err("impossible record length");
    }
    let payload = bytes
        .get(RECORD_HEAD..RECORD_HEAD + len)
        .ok_or("record cut short")?;
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch");
    }
    let (&kind, body) = payload.split_first().ok_or("empty record")?;
    let record = match kind {
        b'U' => Record::User(std::str::from_utf8(body).map_err(|_| "name not UTF-8")?),
        b'H' => {
            let (name, frame) = name_of(body)?;
            Record::Held(name, frame)
        }
        b'D' => {
            let (name, rest) = name_of(body)?;
            let count: [u8; 4] = rest.try_into().map_err(|_| "bad count")?;
            Record::Delivered(name, u32::from_le_bytes(count))
        }
        _ => return Err("unknown record kind"),
    };
    Ok((record, RECORD_HEAD + len))
}

/// Splits a length-prefixed name off the front of `b`.
fn name_of(b: &[u8]) -> Result<(&str, &[u8]), &'static str> {
    let (&n, rest) = b.split_first().ok_or("missing name")?;
    if rest.len() < n as usize {
        return Err("name cut short");
    }
    let (name, rest) = rest.split_at(n as usize);
    let name = std::str::from_utf8(name).map_err(|_| "name not UTF-8")?;
    Ok((name, rest))
}

/// Writes an image as records (the body of a compacted journal).
pub fn encode_image<'a>(
    out: &mut Vec<u8>,
    users: impl Iterator<Item = &'a str>,
    mail: impl Iterator<Item = (&'a str, &'a [u8])>,
) {
    for name in users {
        encode(out, &Record::User(name));
    }
    for (name, frame) in mail {
        encode(out, &Record::Held(name, frame));
    }
}

/// A compaction under way on its helper thread.
struct Compaction {
    done: Receiver<io::Result<()>>,
    /// Records appended since the image was taken.
    since: Vec<u8>,
}

/// The journal as the loop uses it: appends buffered per turn.
pub struct Journal {
    dir: PathBuf,
    /// `None` for a hub without a data directory (unit tests, benches).
    file: Option<File>,
    fsync: Fsync,
    /// Records of this turn, not yet written.
    pending: Vec<u8>,
    /// Bytes in the file.
    size: u64,
    /// Bytes a rewrite of the live state would take.
    live: u64,
    compact_min: u64,
    compaction: Option<Compaction>,
    /// Shared with the once-a-second syncer.
    syncer: Option<Arc<Syncer>>,
    /// A write failed: held messages are refused until one succeeds.
    failing: bool,
    /// Held-in-memory lock on the data directory, released at exit.
    _lock: Option<File>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("size", &self.size)
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

/// State of the everysec helper thread. It sleeps (parked) while nothing
/// is written, so an idle server has no periodic wake-ups; the loop wakes
/// it only when the journal goes from clean to dirty, at most once per
/// fsync, and it syncs at most once a second.
struct Syncer {
    file: Mutex<File>,
    dirty: AtomicBool,
    thread: Option<thread::Thread>,
}

impl Syncer {
    fn start(file: File) -> Arc<Syncer> {
        let (tx, rx) = mpsc::channel::<Arc<Syncer>>();
        let spawned = thread::Builder::new()
            .name("evchat-fsync".into())
            .spawn(move || {
                let Ok(shared) = rx.recv() else {
                    return;
                };
                let mut last = Instant::now();
                loop {
                    thread::park();
                    let since = last.elapsed();
                    if since < Duration::from_secs(1) {
                        thread::sleep(Duration::from_secs(1) - since);
                    }
                    if shared.dirty.swap(false, Ordering::AcqRel) {
                        if let Ok(file) = shared.file.lock() {
                            if let Err(e) = file.sync_data() {
                                error!("journal: fsync failed: {e}");
                            }
                        }
                        last = Instant::now();
                    }
                }
            });
        let thread = match spawned {
            Ok(handle) => Some(handle.thread().clone()),
            Err(e) => {
                error!("journal: cannot start the fsync thread ({e}); syncing is left to the OS");
                None
            }
        };
        let syncer = Arc::new(Syncer {
            file: Mutex::new(file),
            dirty: AtomicBool::new(false),
            thread,
        });
        let _ = tx.send(Arc::clone(&syncer));
        syncer
    }

    /// Something was written: sync it within a second.
    fn mark_dirty(&self) {
        if !self.dirty.swap(true, Ordering::AcqRel) {
            if let Some(t) = &self.thread {
                t.unpark();
            }
        }
    }
}

impl Journal {
    /// A journal that keeps nothing: for hubs without a data directory.
    pub fn disabled() -> Journal {
        Journal {
            dir: PathBuf::new(),
            file: None,
            fsync: Fsync::Never,
            pending: Vec::new(),
            size: 0,
            live: 0,
            compact_min: u64::MAX,
            compaction: None,
            syncer: None,
            failing: false,
            _lock: None,
        }
    }

    /// Opens (or creates) the journal in `dir`, repairing a torn tail, and
    /// returns what it holds. Errors say what is wrong and how to fix it.
    pub fn open(dir: &Path, fsync: Fsync) -> Result<(Journal, Image), String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
        let lock = lock_dir(dir)?;
        let path = dir.join("journal");
        let _ = fs::remove_file(dir.join("journal.compact")); // a crashed compaction
        let (image, size, live) = recover(&path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {} for writing: {e}", path.display()))?;
        let syncer = match fsync {
            Fsync::Everysec => match file.try_clone() {
                Ok(clone) => Some(Syncer::start(clone)),
                Err(e) => return Err(format!("cannot share {}: {e}", path.display())),
            },
            _ => None,
        };
        let held: usize = image.mail.values().map(VecDeque::len).sum();
        info!(
            "journal {}: {} users, {held} held messages, {size} bytes; fsync {fsync:?}",
            path.display(),
            image.users.len()
        );
        let journal = Journal {
            dir: dir.to_owned(),
            file: Some(file),
            fsync,
            pending: Vec::new(),
            size,
            live,
            compact_min: COMPACT_MIN,
            compaction: None,
            syncer,
            failing: false,
            _lock: Some(lock),
        };
        Ok((journal, image))
    }

    /// Is there a file behind this journal?
    pub fn is_enabled(&self) -> bool {
        self.file.is_some()
    }

    /// Has a write failed, so new held messages must be refused?
    pub fn is_failing(&self) -> bool {
        self.failing
    }

    pub fn user(&mut self, name: &str) {
        self.append(&Record::User(name));
        self.live += (RECORD_HEAD + 1 + name.len()) as u64;
    }

    pub fn held(&mut self, name: &str, frame: &[u8]) {
        self.append(&Record::Held(name, frame));
        self.live += held_size(name, frame);
    }

    /// The oldest `frames` held for `name` were delivered.
    pub fn delivered<'a>(&mut self, name: &str, frames: impl ExactSizeIterator<Item = &'a [u8]>) {
        let count = u32::try_from(frames.len()).unwrap_or(u32::MAX);
        let freed: u64 = frames.map(|f| held_size(name, f)).sum();
        self.append(&Record::Delivered(name, count));
        self.live = self.live.saturating_sub(freed);
    }

    fn append(&mut self, record: &Record<'_>) {
        if self.file.is_none() {
            return;
        }
        let at = self.pending.len();
        encode(&mut self.pending, record);
        if let Some(c) = &mut self.compaction {
            c.since.extend_from_slice(&self.pending[at..]);
        }
    }

    /// Writes this turn's records to the OS (and the disk, with `always`).
    /// Called before any socket write, so no reply overtakes a record.
    pub fn commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let Some(file) = &mut self.file else {
            self.pending.clear();
            return;
        };
        let written = file
            .write_all(&self.pending)
            .and_then(|()| match self.fsync {
                Fsync::Always => file.sync_data(),
                _ => Ok(()),
            });
        match written {
            Ok(()) => {
                self.size += self.pending.len() as u64;
                self.pending.clear();
                if self.failing {
                    info!("journal: writing again");
                    self.failing = false;
                }
                if let Some(s) = &self.syncer {
                    s.mark_dirty();
                }
            }
            Err(e) => {
                if !self.failing {
                    error!(
                        "journal: cannot write {} ({e}); held messages are refused until it works again",
                        self.dir.join("journal").display()
                    );
                }
                self.failing = true;
                // A partial write may have left part of a record: cut the
                // file back to the last whole one, and retry next turn.
                let _ = file.set_len(self.size);
            }
        }
    }

    /// Is the file large enough, and mostly dead, so that a rewrite pays?
    pub fn wants_compaction(&self) -> bool {
        self.file.is_some()
            && self.compaction.is_none()
            && self.size >= self.compact_min
            && self.size >= self.live.saturating_mul(COMPACT_RATIO)
    }

    /// Starts a rewrite from `image` (made by [`encode_image`]) on a helper
    /// thread.
    pub fn start_compaction(&mut self, image: Vec<u8>) {
        let path = self.dir.join("journal.compact");
        let (tx, rx) = mpsc::channel();
        info!(
            "journal: compacting {} bytes to about {}",
            self.size,
            image.len() + HEADER
        );
        let spawned = thread::Builder::new()
            .name("evchat-compact".into())
            .spawn(move || {
                let result = (|| {
                    let mut file = File::create(&path)?;
                    file.write_all(MAGIC)?;
                    file.write_all(&image)?;
                    file.sync_all()
                })();
                let _ = tx.send(result);
            });
        match spawned {
            Ok(_) => {
                self.compaction = Some(Compaction {
                    done: rx,
                    since: Vec::new(),
                })
            }
            Err(e) => warn!("journal: cannot start compaction: {e}"),
        }
    }

    /// Finishes a compaction whose helper is done: adds what came since and
    /// swaps the files. Cheap; called from the loop's timer.
    pub fn poll_compaction(&mut self) {
        let Some(c) = &self.compaction else {
            return;
        };
        let result = match c.done.try_recv() {
            Err(TryRecvError::Empty) => return,
            Ok(result) => result,
            Err(TryRecvError::Disconnected) => Err(io::Error::other("compaction thread died")),
        };
        let Some(c) = self.compaction.take() else {
            return;
        };
        self.commit();
        let path = self.dir.join("journal");
        let new = self.dir.join("journal.compact");
        let swapped = result.and_then(|()| {
            let mut file = OpenOptions::new().append(true).open(&new)?;
            file.write_all(&c.since)?;
            if self.fsync != Fsync::Never {
                file.sync_data()?;
            }
            let size = file.metadata()?.len();
            fs::rename(&new, &path)?;
            sync_dir(&self.dir);
            Ok((file, size))
        });
        match swapped {
            Ok((file, size)) => {
                info!("journal: compacted {} bytes to {size}", self.size);
                if let (Some(s), Ok(clone)) = (&self.syncer, file.try_clone()) {
                    if let Ok(mut shared) = s.file.lock() {
                        *shared = clone;
                    }
                }
                self.file = Some(file);
                self.size = size;
            }
            Err(e) => {
                warn!("journal: compaction failed ({e}); keeping the old file");
                let _ = fs::remove_file(&new);
            }
        }
    }

    /// Writes what is pending and forces it to the disk (at shutdown).
    pub fn sync(&mut self) {
        self.commit();
        if let Some(file) = &self.file {
            if let Err(e) = file.sync_data() {
                error!("journal: fsync failed: {e}");
            }
        }
    }

    #[cfg(test)]
    fn set_compact_min(&mut self, bytes: u64) {
        self.compact_min = bytes;
    }
}

/// Takes an exclusive lock on the directory, so two servers never append to
/// one journal.
fn lock_dir(dir: &Path) -> Result<File, String> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if locked != 0 {
        return Err(format!(
            "data directory {} is in use by another evchat-server (its lock file is held); \
             stop that server or pass another --data-dir",
            dir.display()
        ));
    }
    Ok(file)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Reads the journal at `path` (creating it if missing), cuts off a
/// damaged tail, and returns its image, its size and its live size.
fn recover(path: &Path) -> Result<(Image, u64, u64), String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if bytes.len() < HEADER && MAGIC.starts_with(&bytes) {
        // New, or torn while its header was written: start afresh.
        let mut file =
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        file.write_all(MAGIC)
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir);
        }
        return Ok((Image::default(), HEADER as u64, 0));
    }
    if bytes.get(..HEADER) != Some(&MAGIC[..]) {
        return Err(format!(
            "{} is not an evchat journal (it does not start with {:?}): another program's \
             file, or damaged at its very start. Move it out of the data directory (the \
             server then starts with no users and no held messages) or restore it from a backup",
            path.display(),
            String::from_utf8_lossy(MAGIC)
        ));
    }
    let mut image = Image::default();
    let mut known = HashSet::new();
    let (mut at, mut records) = (HEADER, 0u64);
    while at < bytes.len() {
        match decode(&bytes[at..]) {
            Ok((record, used)) => {
                image.apply(record, &mut known);
                at += used;
                records += 1;
            }
            Err(why) => {
                cut_tail(path, &bytes, at, records, why)?;
                break;
            }
        }
    }
    let live = image
        .users
        .iter()
        .map(|n| (RECORD_HEAD + 1 + n.len()) as u64);
    let held = image
        .mail
        .iter()
        .flat_map(|(n, m)| m.iter().map(move |f| held_size(n, f)));
    let live = live.sum::<u64>() + held.sum::<u64>();
    Ok((image, at as u64, live))
}

/// Saves the damaged bytes beside the journal and truncates it to the last
/// whole record.
fn cut_tail(path: &Path, bytes: &[u8], at: usize, records: u64, why: &str) -> Result<(), String> {
    let tail = &bytes[at..];
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let saved = path.with_extension(format!("damaged-{stamp}"));
    let kept = fs::write(&saved, tail).is_ok();
    warn!(
        "journal {}: {why} at byte {at}; cutting off the last {} bytes (a crash mid-write leaves \
         such a tail) and keeping the {records} records before it{}",
        path.display(),
        tail.len(),
        if kept {
            format!("; the cut bytes are saved in {}", saved.display())
        } else {
            String::new()
        }
    );
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(at as u64).and_then(|()| f.sync_all()));
    file.map_err(|e| {
        format!(
            "cannot cut the damaged tail off {} ({e}); make the file writable or move it away",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: usize) -> Vec<u8> {
        format!("MSG a bob 2026-01-01T00:00:00.000Z m{i}\n").into_bytes()
    }

    #[test]
    fn records_round_trip_and_damage_is_detected() {
        let mut buf = Vec::new();
        let f = frame(1);
        let records = [
            Record::User("bob"),
            Record::Held("bob", &f),
            Record::Delivered("bob", 1),
        ];
        for r in &records {
            encode(&mut buf, r);
        }
        let mut at = 0;
        for r in &records {
            let (got, used) = decode(&buf[at..]).unwrap();
            assert_eq!(&got, r);
            at += used;
        }
        assert_eq!(at, buf.len());
        let mut flipped = buf.clone();
        flipped[RECORD_HEAD + 1] ^= 1;
        assert_eq!(decode(&flipped), Err("checksum mismatch"));
        assert_eq!(decode(&buf[..5]), Err("record header cut short"));
        assert_eq!(decode(&buf[..RECORD_HEAD + 2]), Err("record cut short"));
    }

    #[test]
    fn reopening_replays_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, image) = Journal::open(dir.path(), Fsync::Never).unwrap();
            assert!(image.users.is_empty());
            j.user("bob");
            for i in 0..3 {
                j.held("bob", &frame(i));
            }
            j.delivered("bob", [frame(0)].iter().map(|f| &f[..]));
            j.commit();
        }
        let path = dir.path().join("journal");
        let good = fs::metadata(&path).unwrap().len();
        // A crash mid-write: half a record at the end.
        let mut torn = Vec::new();
        encode(&mut torn, &Record::Held("bob", &frame(9)));
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(f);
        let (_j, image) = Journal::open(dir.path(), Fsync::Never).unwrap();
        assert_eq!(image.users, ["bob"]);
        let held: Vec<_> = image.mail["bob"].iter().cloned().collect();
        assert_eq!(held, [frame(1), frame(2)]);
        assert_eq!(fs::metadata(&path).unwrap().len(), good);
    }

    #[test]
    fn a_foreign_file_is_refused_with_advice_and_a_second_server_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("journal"), b"hello, not a journal").unwrap();
        let err = Journal::open(dir.path(), Fsync::Never).unwrap_err();
        assert!(err.contains("not an evchat journal") && err.contains("Move it"));
        fs::remove_file(dir.path().join("journal")).unwrap();
        let (_first, _) = Journal::open(dir.path(), Fsync::Never).unwrap();
        let err = Journal::open(dir.path(), Fsync::Never).unwrap_err();
        assert!(err.contains("in use"), "{err}");
    }

    #[test]
    fn compaction_keeps_the_live_state_and_what_came_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(dir.path(), Fsync::Always).unwrap();
        j.set_compact_min(1024);
        j.user("bob");
        for i in 0..100 {
            j.held("bob", &frame(i));
        }
        let delivered: Vec<_> = (0..98).map(frame).collect();
        j.delivered("bob", delivered.iter().map(|f| &f[..]));
        j.commit();
        assert!(j.wants_compaction());
        let live: Vec<_> = (98..100).map(frame).collect();
        let mut image = Vec::new();
        encode_image(
            &mut image,
            ["bob"].into_iter(),
            live.iter().map(|f| ("bob", &f[..])),
        );
        let before = j.size;
        j.start_compaction(image);
        j.held("bob", &frame(100)); // arrives while the helper writes
        j.commit();
        while j.compaction.is_some() {
            thread::sleep(Duration::from_millis(5));
            j.poll_compaction();
        }
        assert!(j.size < before / 10, "{} vs {before}", j.size);
        j.held("bob", &frame(101));
        j.commit();
        drop(j);
        let (_j, image) = Journal::open(dir.path(), Fsync::Never).unwrap();
        let held: Vec<_> = image.mail["bob"].iter().cloned().collect();
        assert_eq!(held, [frame(98), frame(99), frame(100), frame(101)]);
    }
}
