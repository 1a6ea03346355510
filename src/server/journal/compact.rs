//! Compaction, as Redis's `BGREWRITEAOF`: when the journal is much larger
//! than what is live, rewrite it as just the live state.
//!
//! The writer thread decides, and a helper thread does the long part: it
//! reads the journal up to where it was when the compaction began, replays
//! it into an [`Image`](super::replay::Image) (the same replay as at start)
//! and writes that image to `journal.compact`, synced. Nothing of this
//! touches the loop's state, so nothing is copied off the loop. Back on the
//! writer thread, the records written since are copied from the old file
//! to the new one, which is synced and renamed over the old; the directory
//! is synced too, and until that succeeds no later write is acknowledged.
//! A journal in the first format is compacted at once, which rewrites it in
//! the current one.

use super::record::MAGIC;
use super::recover::replay_file;
use super::replay::Image;
use super::writer::{Job, Writer};
use super::Fsync;
use log::{error, info, warn};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Compaction starts only past this size...
pub const COMPACT_MIN: u64 = 64 << 20;
/// ...and when the file is this many times what is live.
const COMPACT_RATIO: u64 = 2;

/// The compaction side of the writer.
#[derive(Debug)]
pub struct State {
    /// A helper is writing an image of the file's first this-many bytes.
    running: Option<u64>,
    /// A compaction failed at this size: wait for the file to grow before
    /// trying again.
    failed_at: Option<u64>,
    pub compact_min: u64,
}

impl Default for State {
    fn default() -> State {
        State {
            running: None,
            failed_at: None,
            compact_min: COMPACT_MIN,
        }
    }
}

/// A helper's report: the image of the file's first `from` bytes is in
/// `journal.compact`, or why not.
pub struct Compacted {
    from: u64,
    result: io::Result<()>,
}

fn compact_path(dir: &Path) -> PathBuf {
    dir.join("journal.compact")
}

impl Writer {
    /// Starts a compaction if one pays: the file is large and mostly dead,
    /// or still in the first format.
    pub fn maybe_compact(&mut self) {
        let c = &self.compaction;
        let wanted = self.legacy
            || (self.size >= c.compact_min && self.size >= self.live.saturating_mul(COMPACT_RATIO));
        let retry_ok = c.failed_at.is_none_or(|at| self.size >= at + c.compact_min);
        if c.running.is_some() || !wanted || !retry_ok {
            return;
        }
        let (dir, from, jobs) = (self.dir.clone(), self.size, self.jobs.clone());
        info!(
            "journal: compacting {from} bytes (about {} live)",
            self.live
        );
        let spawned = std::thread::Builder::new()
            .name("evchat-compact".into())
            .spawn(move || {
                let result = write_image(&dir, from);
                let _ = jobs.send(Job::Compacted(Compacted { from, result }));
            });
        match spawned {
            Ok(_) => {
                self.compaction.running = Some(from);
                self.shared.compactions.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) => {
                warn!("journal: cannot start compaction: {e}");
                self.compaction.failed_at = Some(self.size);
            }
        }
    }

    /// Adds what was written since the image, swaps the files, syncs the
    /// directory.
    pub fn finish_compaction(&mut self, done: Compacted) {
        self.compaction.running = None;
        let path = self.dir.join("journal");
        let new = compact_path(&self.dir);
        let swapped = done.result.and_then(|()| {
            let mut file = OpenOptions::new().append(true).open(&new)?;
            let mut old = File::open(&path)?;
            old.seek(SeekFrom::Start(done.from))?;
            io::copy(&mut old.take(self.size - done.from), &mut file)?;
            if self.fsync != Fsync::Never {
                file.sync_data()?;
            }
            let size = file.metadata()?.len();
            fs::rename(&new, &path)?;
            Ok((file, size))
        });
        match swapped {
            Ok((file, size)) => {
                info!("journal: compacted {} bytes to {size}", self.size);
                self.file = file;
                self.size = size;
                self.legacy = false;
                if self.fsync != Fsync::Never {
                    self.dir_unsynced = true;
                    if let Err(e) = super::sync_dir(&self.dir) {
                        error!(
                            "journal: cannot sync {} after compacting ({e}); nothing more is \
                             acknowledged until it can",
                            self.dir.display()
                        );
                    } else {
                        self.dir_unsynced = false;
                    }
                }
            }
            Err(e) => {
                warn!("journal: compaction failed ({e}); keeping the old file");
                let _ = fs::remove_file(&new);
                self.compaction.failed_at = Some(self.size);
            }
        }
    }
}

/// The helper's part: replays the file's first `from` bytes and writes the
/// image, synced, to `journal.compact`.
fn write_image(dir: &Path, from: u64) -> io::Result<()> {
    let image = replay_file(&dir.join("journal"), from)?;
    write_image_of(dir, &image).map(drop)
}

/// Writes `image`, synced, to `journal.compact`; returns its size.
fn write_image_of(dir: &Path, image: &Image) -> io::Result<u64> {
    let mut out = BufWriter::new(File::create(compact_path(dir))?);
    out.write_all(MAGIC)?;
    image.write_to(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// Replaces the journal at `path` with `image`, at once (at start, before
/// the writer runs, after damage was skipped); returns its new size.
pub fn rewrite(path: &Path, image: &Image) -> io::Result<u64> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let size = write_image_of(dir, image)?;
    fs::rename(compact_path(dir), path)?;
    super::sync_dir(dir)?;
    Ok(size)
}
