//! Finding the next intact record after damage in the middle of a journal.
//!
//! Records carry no marker of their own, only `[length][crc32][payload]`,
//! so a record boundary is found by trying every offset from the damage
//! on, nearest first — not where the damaged record's length points: a
//! flipped bit in that length can point past an intact record, and
//! records of one size make that likely. An offset is a
//! boundary only if a whole record is there: a possible length, a known
//! kind, a matching checksum and fields that decode — [`decode`] decides,
//! the same as for any record. Only then are the bytes skipped; if no such
//! offset is left before the end of the file, the damage is a torn tail.

use super::record::{decode, MAX_PAYLOAD, RECORD_HEAD};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes of the file looked at per read while scanning.
const WINDOW: usize = 256 << 10;
/// First payload bytes of every record kind (see [`super::record`]).
const KINDS: &[u8] = b"LFMDUH";

/// The offset of the first intact record in `file` after the damaged one
/// at `damaged`, before `end`; `None` when there is none (a torn tail).
pub fn next_intact(file: &File, damaged: u64, end: u64) -> io::Result<Option<u64>> {
    scan(file, damaged + 1, end)
}

/// Tries every offset from `from` on.
fn scan(file: &File, from: u64, end: u64) -> io::Result<Option<u64>> {
    let mut window = vec![0u8; WINDOW];
    let mut start = from;
    while start + (RECORD_HEAD as u64) < end {
        let got = read_at(file, &mut window, start, end)?;
        let bytes = window.get(..got).unwrap_or_default();
        // Offsets whose head and kind byte are in this window; the next
        // window starts at the first offset not tried.
        let tried = got.saturating_sub(RECORD_HEAD).max(1);
        for i in 0..tried {
            let at = start + i as u64;
            if plausible(bytes.get(i..).unwrap_or_default(), end - at) && intact_at(file, at, end)?
            {
                return Ok(Some(at));
            }
        }
        start += tried as u64;
    }
    Ok(None)
}

/// A cheap test before the checksum: a length that fits the rest of the
/// file and a known kind byte.
fn plausible(bytes: &[u8], left: u64) -> bool {
    let (Some(len), Some(kind)) = (bytes.get(..4), bytes.get(RECORD_HEAD)) else {
        return false;
    };
    let len = u64::from(u32::from_le_bytes([len[0], len[1], len[2], len[3]]));
    len > 0 && len <= MAX_PAYLOAD as u64 && RECORD_HEAD as u64 + len <= left && KINDS.contains(kind)
}

/// Is there a whole, valid record at `at`?
fn intact_at(file: &File, at: u64, end: u64) -> io::Result<bool> {
    let mut head = [0u8; RECORD_HEAD];
    if read_at(file, &mut head, at, end)? < RECORD_HEAD {
        return Ok(false);
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len == 0 || len > MAX_PAYLOAD || (at + (RECORD_HEAD + len) as u64) > end {
        return Ok(false);
    }
    let mut record = vec![0u8; RECORD_HEAD + len];
    if read_at(file, &mut record, at, end)? < record.len() {
        return Ok(false);
    }
    Ok(decode(&record).is_ok())
}

/// Reads up to `buf.len()` bytes at `at`, never past `end`.
fn read_at(file: &File, buf: &mut [u8], at: u64, end: u64) -> io::Result<usize> {
    let want = usize::try_from(end.saturating_sub(at)).map_or(buf.len(), |n| n.min(buf.len()));
    let buf = buf.get_mut(..want).unwrap_or_default();
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::super::record::{encode, Record};
    use super::*;
    use std::io::Write;

    /// A file of `n` held-message records; returns it and where each starts.
    fn journal(n: usize) -> (tempfile::NamedTempFile, Vec<u64>) {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for i in 0..n {
            starts.push(bytes.len() as u64);
            let frame = format!("MSG a bob 2026-01-01T00:00:00.000Z m{i}\n");
            let record = Record::Held {
                to: vec!["bob"],
                frame: frame.as_bytes(),
            };
            encode(&mut bytes, &record);
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        (file, starts)
    }

    fn damage(file: &tempfile::NamedTempFile, at: u64, bytes: &[u8]) {
        file.as_file().write_all_at(bytes, at).unwrap();
    }

    #[test]
    fn a_flipped_bit_in_a_payload_skips_that_record_only() {
        let (file, starts) = journal(10);
        let end = file.as_file().metadata().unwrap().len();
        damage(&file, starts[3] + 12, b"\xff");
        assert_eq!(
            next_intact(file.as_file(), starts[3], end).unwrap(),
            Some(starts[4])
        );
    }

    #[test]
    fn a_damaged_length_is_scanned_past_to_the_next_whole_record() {
        let (file, starts) = journal(10);
        let end = file.as_file().metadata().unwrap().len();
        damage(&file, starts[3], &[0xff, 0xff, 0, 0]);
        assert_eq!(
            next_intact(file.as_file(), starts[3], end).unwrap(),
            Some(starts[4])
        );
        // A zeroed page over several records: the first whole one after it.
        damage(
            &file,
            starts[2] + 5,
            &vec![0; (starts[6] - starts[2]) as usize],
        );
        assert_eq!(
            next_intact(file.as_file(), starts[2], end).unwrap(),
            Some(starts[7])
        );
    }

    #[test]
    fn a_length_flipped_to_point_past_an_intact_record_does_not_skip_it() {
        let (file, starts) = journal(10);
        let end = file.as_file().metadata().unwrap().len();
        // Records of one size: the damaged length now points exactly at
        // record 5, past the intact record 4.
        let size = starts[1] - starts[0];
        let len = (2 * size - RECORD_HEAD as u64) as u32;
        damage(&file, starts[3], &len.to_le_bytes());
        assert_eq!(
            next_intact(file.as_file(), starts[3], end).unwrap(),
            Some(starts[4])
        );
    }

    #[test]
    fn damage_that_runs_to_the_end_is_a_tail() {
        let (file, starts) = journal(10);
        let end = file.as_file().metadata().unwrap().len();
        damage(
            &file,
            starts[8] + 2,
            &vec![0; (end - starts[8] - 2) as usize],
        );
        assert_eq!(next_intact(file.as_file(), starts[8], end).unwrap(), None);
        // A record cut by the end of the file is not intact either.
        let (file, starts) = journal(10);
        damage(&file, starts[3] + 12, b"\xff");
        assert_eq!(
            next_intact(file.as_file(), starts[3], starts[4] + 10).unwrap(),
            None
        );
    }

    #[test]
    fn a_scan_across_windows_finds_a_record_on_their_edge() {
        let mut bytes = vec![0x5a; WINDOW - 3];
        let record_at = bytes.len() as u64;
        encode(&mut bytes, &Record::Forgotten("bob"));
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        let end = bytes.len() as u64;
        assert_eq!(
            next_intact(file.as_file(), 0, end).unwrap(),
            Some(record_at)
        );
    }
}
