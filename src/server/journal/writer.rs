//! The journal's writer thread: the only code that writes the journal
//! file, so that no disk I/O — write, fsync, compaction — ever runs on the
//! event loop.
//!
//! The loop sends each turn's records as one batch with a sequence number;
//! the writer coalesces what has arrived, writes it with one `write`
//! (`--fsync always`: then one `fdatasync`, a group commit), publishes the
//! highest sequence written in [`Shared::acked`] and wakes the loop. The
//! loop holds back the replies of a connection until the records that
//! connection caused are acknowledged, so a `PONG` still means "on disk"
//! (handed to the OS; synced with `always`). With `everysec` the writer
//! syncs at most once a second, and only after a write.
//!
//! A failed write is cut back to the last whole record. The held mail in
//! it is given up at once and reported ([`Shared::refused`]): the loop
//! tells each sender `ERR 503` and lets its connection go on, and a hold
//! is never acknowledged late, after its sender was told otherwise. The
//! rest of the batch (names seen, deliveries, forgettings) is kept and
//! retried every [`RETRY`], ahead of anything newer. Compaction runs here
//! too (see [`compact`](super::compact)).

use super::compact::{self, Compacted};
use super::record::RECORD_HEAD;
use super::Fsync;
use log::{error, info};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a failed write is tried again.
pub const RETRY: Duration = Duration::from_secs(1);
/// How often `everysec` syncs, at most.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What the loop and the writer both see.
#[derive(Debug, Default)]
pub struct Shared {
    /// The highest batch sequence number written (and synced, with
    /// `always`).
    pub acked: AtomicU64,
    /// The last write failed (for the log: said once per failing spell).
    pub failing: AtomicBool,
    /// Batches whose held mail a failed write gave up, as ranges of
    /// sequence numbers `(after, through]`, oldest first, until the loop
    /// takes them; pushed before any later sequence is acknowledged.
    pub refused: Mutex<Vec<(u64, u64)>>,
    /// The end of the last range in `refused`: the loop looks in it only
    /// when this moves.
    pub refused_through: AtomicU64,
    /// Bytes sent to the writer and not yet written.
    pub backlog: AtomicUsize,
    /// Writes that failed, since start.
    pub failed_writes: AtomicU64,
    /// Compactions started, since start.
    pub compactions: AtomicU64,
}

/// Work for the writer.
pub enum Job {
    /// A turn's records. `live` is what a rewrite of the live state would
    /// take, for deciding when to compact.
    Append { seq: u64, bytes: Vec<u8>, live: u64 },
    /// A compaction's helper has finished its part.
    Compacted(Compacted),
    /// Write what is left, sync, and end the thread.
    Stop,
}

pub struct Writer {
    pub dir: PathBuf,
    pub file: File,
    pub size: u64,
    pub fsync: Fsync,
    pub live: u64,
    /// The file is in the first format: compact it soon.
    pub legacy: bool,
    pub shared: Arc<Shared>,
    pub wake: Box<dyn Fn() + Send>,
    /// For the compaction helper to report back on.
    pub jobs: Sender<Job>,
    pub compaction: compact::State,
    /// Written but not yet synced (`everysec`).
    unsynced: bool,
    last_sync: Instant,
    /// A batch whose write failed, and its sequence number.
    retry: Vec<u8>,
    retry_every: Duration,
    retry_seq: u64,
    /// Every sequence number up to this one is written or refused.
    settled: u64,
    /// A rename was made and its directory not yet synced.
    pub dir_unsynced: bool,
}

/// What a writer starts from: the file as recovery left it.
pub struct Setup {
    pub dir: PathBuf,
    pub file: File,
    pub size: u64,
    /// What a rewrite of the recovered state would take: until the loop
    /// says otherwise, that is what is live.
    pub live: u64,
    pub fsync: Fsync,
    pub legacy: bool,
    pub shared: Arc<Shared>,
    pub wake: Box<dyn Fn() + Send>,
    pub jobs: Sender<Job>,
    /// How often a failed write is tried again ([`RETRY`]).
    pub retry_every: Duration,
}

impl Writer {
    pub fn new(s: Setup) -> Writer {
        Writer {
            dir: s.dir,
            file: s.file,
            size: s.size,
            fsync: s.fsync,
            live: s.live,
            legacy: s.legacy,
            shared: s.shared,
            wake: s.wake,
            jobs: s.jobs,
            retry_every: s.retry_every,
            compaction: compact::State::default(),
            unsynced: false,
            last_sync: Instant::now(),
            retry: Vec::new(),
            retry_seq: 0,
            settled: 0,
            dir_unsynced: false,
        }
    }

    /// Runs until [`Job::Stop`] or until the loop's side is gone.
    pub fn run(mut self, jobs: Receiver<Job>) {
        self.maybe_compact(); // a journal in the first format, at once
        loop {
            let mut stop = false;
            // Decided before the failed batch is taken up again, so a
            // retry is due on its own, not only when new records come.
            let wait = self.wait();
            let mut batch = std::mem::take(&mut self.retry);
            let mut seq = self.retry_seq;
            let first = match wait {
                Some(t) => match jobs.recv_timeout(t) {
                    Ok(job) => Some(job),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Job::Stop),
                },
                None => Some(jobs.recv().unwrap_or(Job::Stop)),
            };
            // Everything that has arrived goes out in one write.
            for job in first
                .into_iter()
                .chain(std::iter::from_fn(|| jobs.try_recv().ok()))
            {
                match job {
                    Job::Append {
                        seq: s,
                        bytes,
                        live,
                    } => {
                        if batch.is_empty() {
                            batch = bytes;
                        } else {
                            batch.extend_from_slice(&bytes);
                        }
                        seq = seq.max(s);
                        self.live = live;
                    }
                    Job::Compacted(done) => {
                        // What came before is in the file and goes along.
                        self.write(&mut batch, seq);
                        self.finish_compaction(done);
                    }
                    Job::Stop => stop = true,
                }
            }
            self.write(&mut batch, seq);
            if self.fsync == Fsync::Everysec
                && self.unsynced
                && self.last_sync.elapsed() >= SYNC_EVERY
            {
                self.sync();
            }
            if stop {
                self.sync();
                info!("journal: closed ({} bytes)", self.size);
                return;
            }
            if self.retry.is_empty() {
                self.maybe_compact();
            }
        }
    }

    /// How long to wait for work before doing something on its own.
    fn wait(&self) -> Option<Duration> {
        if !self.retry.is_empty() {
            return Some(self.retry_every);
        }
        if self.fsync == Fsync::Everysec && self.unsynced {
            return Some(SYNC_EVERY.saturating_sub(self.last_sync.elapsed()));
        }
        None
    }

    /// Writes a batch and acknowledges `seq`; on failure keeps the batch
    /// for a retry and cuts the file back to its last whole record.
    fn write(&mut self, batch: &mut Vec<u8>, seq: u64) {
        if batch.is_empty() {
            return;
        }
        let written = self.sync_dir_if_needed().and_then(|()| {
            self.file.write_all(batch)?;
            if self.fsync == Fsync::Always {
                self.file.sync_data()?;
            }
            Ok(())
        });
        match written {
            Ok(()) => {
                self.size += batch.len() as u64;
                self.unsynced = self.fsync == Fsync::Everysec;
                self.shared.backlog.fetch_sub(batch.len(), Ordering::AcqRel);
                self.shared.acked.fetch_max(seq, Ordering::AcqRel);
                if self.shared.failing.swap(false, Ordering::AcqRel) {
                    info!("journal: writing again");
                }
                batch.clear();
                (self.wake)();
            }
            Err(e) => {
                self.shared.failed_writes.fetch_add(1, Ordering::AcqRel);
                if !self.shared.failing.swap(true, Ordering::AcqRel) {
                    error!(
                        "journal: cannot write {} ({e}); held messages in a write that \
                         fails are refused with ERR 503 until writes work again",
                        self.dir.join("journal").display()
                    );
                }
                let _ = self.file.set_len(self.size);
                self.give_up_held(batch, seq);
                (self.wake)();
            }
        }
        self.settled = self.settled.max(seq);
    }

    /// After a failed write: drops the held mail of `batch`, reports its
    /// sequence numbers to the loop, and keeps the rest for a retry.
    fn give_up_held(&mut self, batch: &mut Vec<u8>, seq: u64) {
        let kept = without_held(batch);
        let dropped = batch.len() - kept.len();
        self.shared.backlog.fetch_sub(dropped, Ordering::AcqRel);
        if seq > self.settled {
            if let Ok(mut refused) = self.shared.refused.lock() {
                refused.push((self.settled, seq));
            }
            self.shared.refused_through.store(seq, Ordering::Release);
        }
        batch.clear();
        self.retry = kept;
        self.retry_seq = seq;
    }

    /// After a compaction's rename the directory must be synced before
    /// anything written to the new file can be called safe.
    fn sync_dir_if_needed(&mut self) -> std::io::Result<()> {
        if self.dir_unsynced {
            super::sync_dir(&self.dir)?;
            self.dir_unsynced = false;
        }
        Ok(())
    }

    fn sync(&mut self) {
        self.last_sync = Instant::now();
        self.unsynced = false;
        if let Err(e) = self.file.sync_data() {
            error!("journal: fsync failed: {e}");
        }
    }
}

/// The records of `batch` that are not held mail (records the writer made
/// itself are whole, so lengths are trusted; anything odd is kept).
fn without_held(batch: &[u8]) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut rest = batch;
    while let Some(head) = rest.get(..RECORD_HEAD + 1) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(record) = rest.get(..RECORD_HEAD + len) else {
            break;
        };
        if !matches!(head[RECORD_HEAD], b'M' | b'H') {
            kept.extend_from_slice(record);
        }
        rest = rest.get(RECORD_HEAD + len..).unwrap_or_default();
    }
    kept
}
