//! Reading a journal back at start: the header, every whole record, and a
//! damaged tail cut off with a warning.
//!
//! A crash in the middle of an append leaves part of a record at the end.
//! Its checksum (or its length) gives it away; everything before it is
//! kept, the cut bytes are saved beside the journal for a post-mortem, and
//! the file is truncated so new records follow whole ones. A file that
//! does not start with a journal header is not touched at all: the start
//! stops with advice, since it may be someone else's data.

use super::record::{decode, HEADER, MAGIC, MAGIC_V1};
use super::replay::{Image, Replay};
use log::warn;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// What was read from a journal file.
#[derive(Debug)]
pub struct Recovered {
    pub image: Image,
    /// Bytes of the file after any cut: where the next record goes.
    pub size: u64,
    /// Written in the first format, to be rewritten in the current one.
    pub legacy: bool,
}

/// Reads the journal at `path` (creating it if missing) and cuts off a
/// damaged tail.
pub fn recover(path: &Path) -> Result<Recovered, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if bytes.len() < HEADER && MAGIC.starts_with(&bytes) {
        // New, or torn while its header was written: start afresh.
        create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        return Ok(Recovered {
            image: Image::default(),
            size: HEADER as u64,
            legacy: false,
        });
    }
    let legacy = match bytes.get(..HEADER) {
        Some(h) if h == MAGIC => false,
        Some(h) if h == MAGIC_V1 => true,
        _ => {
            return Err(format!(
                "{} is not an evchat journal (it does not start with {:?}): another program's \
                 file, or damaged at its very start. Move it out of the data directory (the \
                 server then starts with no users and no held messages) or restore it from a \
                 backup",
                path.display(),
                String::from_utf8_lossy(MAGIC)
            ))
        }
    };
    let mut replay = Replay::default();
    let (mut at, mut records) = (HEADER, 0u64);
    while let Some(rest) = bytes.get(at..).filter(|r| !r.is_empty()) {
        match decode(rest) {
            Ok((record, used)) => {
                replay.apply(record);
                at += used;
                records += 1;
            }
            Err(why) => {
                cut_tail(path, rest, at, records, why)?;
                break;
            }
        }
    }
    Ok(Recovered {
        image: replay.finish(),
        size: at as u64,
        legacy,
    })
}

/// Replays the whole, undamaged records of `bytes` (a journal's first
/// bytes, header included): the state a compaction rewrites.
pub fn replay_prefix(bytes: &[u8]) -> Result<Image, String> {
    if bytes.get(..HEADER) != Some(&MAGIC[..]) && bytes.get(..HEADER) != Some(&MAGIC_V1[..]) {
        return Err("no journal header".into());
    }
    let mut replay = Replay::default();
    let mut at = HEADER;
    while let Some(rest) = bytes.get(at..).filter(|r| !r.is_empty()) {
        let (record, used) = decode(rest).map_err(|why| format!("{why} at byte {at}"))?;
        replay.apply(record);
        at += used;
    }
    Ok(replay.finish())
}

/// Writes a new, empty journal: the header, synced, and its directory
/// entry synced too.
fn create(path: &Path) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(MAGIC)?;
    file.sync_all()?;
    match path.parent() {
        Some(dir) => super::sync_dir(dir),
        None => Ok(()),
    }
}

/// Saves the damaged bytes beside the journal and truncates it to the last
/// whole record.
fn cut_tail(path: &Path, tail: &[u8], at: usize, records: u64, why: &str) -> Result<(), String> {
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
