//! Reading a journal back at start: the header, every intact record, and
//! any damage saved aside with a warning.
//!
//! A crash in the middle of an append leaves part of a record at the end.
//! Its checksum (or its length) gives it away; everything before it is
//! kept, the cut bytes are saved beside the journal for a post-mortem, and
//! the file is truncated so new records follow whole ones. Damage with
//! intact records after it — a flipped bit, a zeroed page — is not a torn
//! tail: reading resynchronises at the next intact record
//! ([`resync`](super::resync)), the skipped bytes are saved beside the
//! journal, and the journal is rewritten as what it holds, so it is whole
//! again. A file that does not start with a journal header is not touched
//! at all: the start stops with advice, since it may be someone else's
//! data.

use super::record::{decode, Record, HEADER, MAGIC, MAGIC_V1, MAX_PAYLOAD, RECORD_HEAD};
use super::replay::{Image, Replay};
use super::resync::next_intact;
use log::warn;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
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
/// damaged tail. The file is read a record at a time, so reading it takes
/// about as much memory as it holds live, not its size.
pub fn recover(path: &Path) -> Result<Recovered, String> {
    let fail = |e: io::Error| format!("cannot read {}: {e}", path.display());
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return start_afresh(path),
        Err(e) => return Err(fail(e)),
    };
    let mut records = Records::new(file);
    let mut header = [0u8; HEADER];
    let got = read_full(&mut records.input, &mut header).map_err(fail)?;
    let header = header.get(..got).unwrap_or_default();
    if got < HEADER && MAGIC.starts_with(header) {
        // Torn while its header was written — or cut short by something
        // else, losing all it held: either way it must be said.
        warn!(
            "journal {}: only {got} bytes, not even its header; starting with an empty journal \
             (a crash while it was created leaves this; if it held messages, they are lost — \
             restore it from a backup)",
            path.display()
        );
        return start_afresh(path);
    }
    let legacy = match header {
        h if h == MAGIC => false,
        h if h == MAGIC_V1 => true,
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
    records.at = HEADER as u64;
    let end = records.input.get_ref().metadata().map_err(fail)?.len();
    let mut replay = Replay::default();
    let mut count = 0u64;
    let mut skipped = false;
    loop {
        match records.next().map_err(fail)? {
            Next::Record(record) => {
                replay.apply(record);
                count += 1;
            }
            Next::End => break,
            Next::Damaged(why) => {
                let at = records.at;
                match next_intact(records.input.get_ref(), at, end).map_err(fail)? {
                    Some(next) => {
                        save_skipped(path, at, next, why);
                        records.skip_to(next).map_err(fail)?;
                        skipped = true;
                    }
                    None => {
                        cut_tail(path, at, count, why)?;
                        break;
                    }
                }
            }
        }
    }
    let image = replay.finish();
    let size = if skipped {
        // Rewritten as what it holds, so the damage is not met again.
        super::compact::rewrite(path, &image).map_err(|e| {
            format!(
                "cannot rewrite {} without its damage ({e}); make the data directory writable",
                path.display()
            )
        })?
    } else {
        records.at
    };
    Ok(Recovered {
        image,
        size,
        legacy: legacy && !skipped,
    })
}

fn start_afresh(path: &Path) -> Result<Recovered, String> {
    create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(Recovered {
        image: Image::default(),
        size: HEADER as u64,
        legacy: false,
    })
}

/// Replays the whole, undamaged records of a journal's first `limit`
/// bytes, header included: the state a compaction rewrites.
pub fn replay_file(path: &Path, limit: u64) -> io::Result<Image> {
    let mut records = Records::new(File::open(path)?.take(limit));
    let mut header = [0u8; HEADER];
    read_full(&mut records.input, &mut header)?;
    if header != *MAGIC && header != *MAGIC_V1 {
        return Err(io::Error::other("no journal header"));
    }
    records.at = HEADER as u64;
    let mut replay = Replay::default();
    loop {
        match records.next()? {
            Next::Record(record) => replay.apply(record),
            Next::End => return Ok(replay.finish()),
            Next::Damaged(why) => {
                let at = records.at;
                return Err(io::Error::other(format!("{why} at byte {at}")));
            }
        }
    }
}

/// What comes next in a journal.
enum Next<'a> {
    Record(Record<'a>),
    End,
    /// Not a whole, valid record: why. `Records::at` is where it starts.
    Damaged(&'static str),
}

/// Reads records one by one into a buffer of its own.
struct Records<R> {
    input: BufReader<R>,
    buf: Vec<u8>,
    /// Offset of the next record in the file.
    at: u64,
}

impl<R: Read> Records<R> {
    fn new(input: R) -> Records<R> {
        Records {
            input: BufReader::with_capacity(256 << 10, input),
            buf: Vec::new(),
            at: 0,
        }
    }

    fn next(&mut self) -> io::Result<Next<'_>> {
        let mut head = [0u8; RECORD_HEAD];
        match read_full(&mut self.input, &mut head)? {
            0 => return Ok(Next::End),
            n if n < RECORD_HEAD => return Ok(Next::Damaged("record header cut short")),
            _ => {}
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len == 0 || len > MAX_PAYLOAD {
            return Ok(Next::Damaged("impossible record length"));
        }
        self.buf.clear();
        self.buf.extend_from_slice(&head);
        self.buf.resize(RECORD_HEAD + len, 0);
        let body = self.buf.get_mut(RECORD_HEAD..).unwrap_or_default();
        if read_full(&mut self.input, body)? < len {
            return Ok(Next::Damaged("record cut short"));
        }
        match decode(&self.buf) {
            Ok((record, used)) => {
                self.at += used as u64;
                Ok(Next::Record(record))
            }
            Err(why) => Ok(Next::Damaged(why)),
        }
    }
}

impl Records<File> {
    /// Goes on reading at `at` (past damage).
    fn skip_to(&mut self, at: u64) -> io::Result<()> {
        self.input.seek(SeekFrom::Start(at))?;
        self.at = at;
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
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

/// Copies the journal's bytes from `at` (to `until`, or to its end) to a
/// new file beside it; returns the file's name.
fn save_aside(path: &Path, at: u64, until: Option<u64>) -> io::Result<(std::path::PathBuf, u64)> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let saved = path.with_extension(format!("damaged-{stamp}-at-{at}"));
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(at))?;
    let mut out = File::create(&saved)?;
    let copied = match until {
        Some(until) => io::copy(&mut f.take(until.saturating_sub(at)), &mut out)?,
        None => io::copy(&mut f, &mut out)?,
    };
    out.sync_all()?;
    Ok((saved, copied))
}

/// Saves the bytes skipped between damage at `at` and the next intact
/// record at `next`, and says so.
fn save_skipped(path: &Path, at: u64, next: u64, why: &str) {
    let saved = match save_aside(path, at, Some(next)) {
        Ok((saved, _)) => format!("saved in {}", saved.display()),
        Err(e) => format!("not saved ({e})"),
    };
    warn!(
        "journal {}: {why} at byte {at}, with intact records after it; skipped {} damaged bytes \
         (bytes {at}..{next}, {saved}) and kept every intact record after them",
        path.display(),
        next - at
    );
}

/// Saves the damaged bytes beside the journal and truncates it to the last
/// whole record.
fn cut_tail(path: &Path, at: u64, records: u64, why: &str) -> Result<(), String> {
    let tail = save_aside(path, at, None);
    let (saved, tail) = match tail {
        Ok((saved, n)) => (Some(saved), Ok(n)),
        Err(e) => (None, Err(e)),
    };
    let cut = match &tail {
        Ok(n) => n.to_string(),
        Err(_) => "damaged".into(),
    };
    warn!(
        "journal {}: {why} at byte {at}, with no intact record after it; cutting off the last \
         {cut} bytes (a crash mid-write leaves such a tail) and keeping the {records} records \
         before it{}",
        path.display(),
        match &saved {
            Some(saved) => format!("; the cut bytes are saved in {}", saved.display()),
            None => String::new(),
        }
    );
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(at).and_then(|()| f.sync_all()));
    file.map_err(|e| {
        format!(
            "cannot cut the damaged tail off {} ({e}); make the file writable or move it away",
            path.display()
        )
    })
}
