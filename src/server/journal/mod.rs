//! The durable store: one append-only journal of checksummed records,
//! written by a thread of its own.
//!
//! Why one journal and not a database: what must survive is small and
//! append-shaped — a name was seen, a message was held for some names, the
//! oldest *n* held messages of a name were delivered, a name was forgotten.
//! An append-only log turns each into one sequential write, reads back in
//! order (the order of delivery), and its usual failure mode — a crash
//! mid-write — leaves a torn tail that a checksum finds and a truncation
//! repairs; damage in the middle (a flipped bit, a lost page) costs only
//! the records it touches, since reading resynchronises past it. A held message is written once, with all its recipients, so
//! what it costs grows with its size, not with size × recipients.
//!
//! - [`record`]: the format, pure (unit, property and fuzz tested);
//! - [`replay`]: records → the live state ([`Image`]);
//! - [`recover`]: reading the file at start, cutting a torn tail;
//! - [`resync`]: finding the next intact record past damage mid-file;
//! - [`writer`]: the thread that owns the file — appends, fsync, retries;
//! - [`compact`]: rewriting the file as its live state, off the loop;
//! - [`merge`]: at start, names an older evchat kept apart by case made
//!   one.
//!
//! The loop never touches the file after start: it appends records to a
//! buffer, hands the turn's buffer to the writer ([`Journal::commit`]) and
//! holds back the replies of a connection until the records it caused are
//! acknowledged ([`Journal::acked`]). So once a sender has the `PONG` of a
//! `PING` sent after a message held for someone offline, `kill -9` cannot
//! lose it (`--fsync always`: nor can a power cut).

pub mod compact;
pub mod merge;
pub mod record;
pub mod recover;
pub mod replay;
pub mod replay_rooms;
pub mod resync;
pub mod writer;

pub use record::{Record, MAX_LINE_LIMIT};
pub use replay::Image;
pub use replay_rooms::RoomsImage;

use log::{info, warn};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use writer::{Job, Shared, Writer};

/// Bytes handed to the writer and not yet written past which new held mail
/// is refused (a disk slower than the chat must not grow the server).
const MAX_BACKLOG: usize = 64 << 20;

/// When records are forced to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// After every batch, before anyone is answered: nothing acknowledged
    /// is lost even if the machine loses power.
    Always,
    /// At most once a second: a power loss may lose the last second; a
    /// crash of the server alone loses nothing acknowledged.
    #[default]
    Everysec,
    /// Left to the OS.
    Never,
}

/// The loop's side of the writer thread.
struct WriterPort {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The journal as the loop uses it: records buffered per turn, handed to
/// the writer thread at the end of the turn.
pub struct Journal {
    /// Records of this turn, not yet handed over.
    pending: Vec<u8>,
    /// The sequence number the pending records will be acknowledged by.
    next_seq: u64,
    /// Records were appended since the last commit.
    appended: bool,
    /// `None` for a hub without a data directory (unit tests, benches).
    writer: Option<WriterPort>,
    /// Without a writer: what `acked` answers (tests acknowledge by hand).
    acked_by_hand: u64,
    /// The end of the last refused range taken.
    refused_seen: u64,
    /// Held-in-memory lock on the data directory, released at exit.
    _lock: Option<File>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("pending", &self.pending.len())
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// A journal that keeps nothing: for hubs without a data directory.
    pub fn disabled() -> Journal {
        Journal::without_writer(u64::MAX)
    }

    fn without_writer(acked: u64) -> Journal {
        Journal {
            pending: Vec::new(),
            next_seq: 1,
            appended: false,
            writer: None,
            acked_by_hand: acked,
            refused_seen: 0,
            _lock: None,
        }
    }

    /// A journal that keeps nothing and acknowledges nothing until
    /// [`ack_all`](Self::ack_all): for tests of what waits for it.
    #[cfg(test)]
    pub fn acknowledged_by_hand() -> Journal {
        Journal::without_writer(0)
    }

    /// Acknowledges everything committed so far (tests only).
    #[cfg(test)]
    pub fn ack_all(&mut self) {
        self.acked_by_hand = self.next_seq - 1;
    }

    /// Opens (or creates) the journal in `dir`, repairing a torn tail, and
    /// starts its writer thread; `wake` is called after each write. Returns
    /// what the journal holds. Errors say what is wrong and how to fix it.
    pub fn open(
        dir: &Path,
        fsync: Fsync,
        wake: impl Fn() + Send + 'static,
    ) -> Result<(Journal, Image), String> {
        Journal::open_compacting_at(dir, fsync, wake, compact::COMPACT_MIN)
    }

    /// [`open`](Self::open), compacting from a size of `compact_min` bytes
    /// (tests use small ones).
    fn open_compacting_at(
        dir: &Path,
        fsync: Fsync,
        wake: impl Fn() + Send + 'static,
        compact_min: u64,
    ) -> Result<(Journal, Image), String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
        let lock = lock_dir(dir)?;
        let path = dir.join("journal");
        let _ = fs::remove_file(dir.join("journal.compact")); // a crashed compaction
        let mut recovered = recover::recover(&path)?;
        merge_names_at_start(&path, &mut recovered)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot open {} for writing: {e}", path.display()))?;
        let image = recovered.image;
        info!(
            "journal {}: {} known names, {} held messages for {} recipients, {} bytes{}; fsync {}",
            path.display(),
            image.known.len(),
            image.held.len(),
            image.held_entries(),
            recovered.size,
            if recovered.legacy {
                " in the first format (it will be rewritten in the current one)"
            } else {
                ""
            },
            format!("{fsync:?}").to_lowercase()
        );
        let (jobs, inbox) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let mut writer = Writer::new(writer::Setup {
            dir: dir.to_owned(),
            file,
            size: recovered.size,
            live: image.live_bytes(),
            fsync,
            legacy: recovered.legacy,
            shared: Arc::clone(&shared),
            wake: Box::new(wake),
            jobs: jobs.clone(),
            retry_every: writer::RETRY,
        });
        writer.compaction.compact_min = compact_min;
        let thread = std::thread::Builder::new()
            .name("evchat-journal".into())
            .spawn(move || writer.run(inbox))
            .map_err(|e| format!("cannot start the journal's writer thread: {e}"))?;
        let journal = Journal {
            pending: Vec::new(),
            next_seq: 1,
            appended: false,
            acked_by_hand: 0,
            refused_seen: 0,
            writer: Some(WriterPort {
                jobs,
                shared,
                thread: Some(thread),
            }),
            _lock: Some(lock),
        };
        Ok((journal, image))
    }

    /// Must new held mail be refused: has the disk fallen far behind? (A
    /// disk that fails is found out by each write, which gives up the
    /// held mail in it: see [`take_refused`](Self::take_refused).)
    pub fn is_failing(&self) -> bool {
        self.over_backlog()
    }

    /// Ranges `(after, through]` of sequence numbers whose held mail a
    /// failed write gave up, oldest first, since last asked. Ask after
    /// [`acked`](Self::acked): a range is reported before any later
    /// sequence is acknowledged.
    pub fn take_refused(&mut self) -> Vec<(u64, u64)> {
        let Some(w) = &self.writer else {
            return Vec::new();
        };
        let through = w.shared.refused_through.load(Ordering::Acquire);
        if through <= self.refused_seen {
            return Vec::new();
        }
        self.refused_seen = through;
        w.shared
            .refused
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    /// Every sequence number up to this one is written or refused: the
    /// replies of a connection waiting for it may go.
    pub fn settled(&self) -> u64 {
        self.acked().max(self.refused_seen)
    }

    /// Has the writer fallen [`MAX_BACKLOG`] behind (a failing or slow
    /// disk)?
    fn over_backlog(&self) -> bool {
        self.writer
            .as_ref()
            .is_some_and(|w| w.shared.backlog.load(Ordering::Acquire) > MAX_BACKLOG)
    }

    /// Adds a record to this turn's batch; returns the sequence number that
    /// acknowledges it.
    pub fn append(&mut self, record: &Record<'_>) -> u64 {
        // Past the backlog, only held mail is worth memory (and it is
        // refused by then): losing a name's recency, a forgetting or a
        // delivery costs at most a redelivery after a crash, while keeping
        // them would let a failing disk grow the server without end.
        let droppable = !matches!(record, Record::Held { .. }) && self.over_backlog();
        if self.writer.is_some() && !droppable {
            record::encode(&mut self.pending, record);
        }
        self.appended = true;
        self.next_seq
    }

    /// The sequence number that acknowledges what this turn appended.
    pub fn this_turn(&self) -> u64 {
        self.next_seq
    }

    /// Hands this turn's records to the writer. `live` is what a rewrite
    /// of the live state would take.
    pub fn commit(&mut self, live: u64) {
        if !std::mem::take(&mut self.appended) {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let Some(w) = &self.writer else {
            return;
        };
        let bytes = std::mem::take(&mut self.pending);
        w.shared.backlog.fetch_add(bytes.len(), Ordering::AcqRel);
        // The writer lives as long as the journal; should it have died, the
        // records are lost and `acked` never reaches them.
        let _ = w.jobs.send(Job::Append { seq, bytes, live });
    }

    /// The highest sequence number written; every sequence number when
    /// nothing is kept.
    pub fn acked(&self) -> u64 {
        match &self.writer {
            Some(w) => w.shared.acked.load(Ordering::Acquire),
            None => self.acked_by_hand,
        }
    }

    /// Hands over what is pending, lets the writer write and sync it, and
    /// waits for its thread to end (at shutdown).
    pub fn close(&mut self, live: u64) {
        self.commit(live);
        if let Some(mut w) = self.writer.take() {
            let _ = w.jobs.send(Job::Stop);
            if let Some(thread) = w.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close(0);
    }
}

/// Makes the names a journal knows in several spellings one (see
/// [`merge`]), and rewrites the journal so: before anything is appended,
/// so that no record names one user in two spellings again.
fn merge_names_at_start(path: &Path, recovered: &mut recover::Recovered) -> Result<(), String> {
    let merged = merge::merge_names(&mut recovered.image);
    if merged.is_empty() {
        return Ok(());
    }
    for m in &merged {
        warn!(
            "journal {}: {} and {} are one name now (names are compared without case): merged \
             into {}, the most recently seen, their held mail and rooms together",
            path.display(),
            m.others.join(", "),
            m.kept,
            m.kept
        );
    }
    recovered.size = compact::rewrite(path, &recovered.image).map_err(|e| {
        format!(
            "cannot rewrite {} with its names merged ({e}); make the data directory writable",
            path.display()
        )
    })?;
    // Rewritten in the current format, if it was in the first.
    recovered.legacy = false;
    Ok(())
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

/// Forces a directory's entries (a new or renamed file) to the disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
