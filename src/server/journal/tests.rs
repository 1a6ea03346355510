//! The journal with its writer thread, on real files.

use super::record::{encode, Record, HEADER, MAGIC, MAGIC_V1};
use super::*;
use std::io::Write;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};
use writer::{Job, Writer};

fn frame(i: usize) -> Vec<u8> {
    format!("MSG a bob 2026-01-01T00:00:00.000Z m{i}\n").into_bytes()
}

fn held(j: &mut Journal, to: &[&str], f: &[u8]) -> u64 {
    j.append(&Record::Held {
        to: to.to_vec(),
        frame: f,
    })
}

/// Waits (hang guard) until the writer has acknowledged `seq`.
fn wait_acked(j: &Journal, seq: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while j.acked() < seq {
        assert!(Instant::now() < deadline, "never acknowledged");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn mail_of(image: &Image, name: &str) -> Vec<Vec<u8>> {
    image
        .held
        .iter()
        .filter(|(_, to)| to.iter().any(|n| n == name))
        .map(|(f, _)| f.clone())
        .collect()
}

#[test]
fn records_are_acknowledged_in_order_and_wake_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&wakes);
    let (mut j, _) = Journal::open(dir.path(), Fsync::Always, move || {
        counter.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(j.acked(), 0);
    let first = held(&mut j, &["bob"], &frame(1));
    j.commit(0);
    let second = j.append(&Record::Delivered {
        name: "bob",
        count: 1,
    });
    assert!(second > first, "a new turn, a new sequence number");
    j.commit(0);
    wait_acked(&j, second);
    assert!(wakes.load(Ordering::Relaxed) >= 1);
    assert!(!j.is_failing());
    assert_eq!(Journal::disabled().acked(), u64::MAX);
}

#[test]
fn reopening_replays_and_a_torn_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut j, image) = Journal::open(dir.path(), Fsync::Never, || {}).unwrap();
        assert!(image.known.is_empty());
        j.append(&Record::Seen { name: "bob", at: 7 });
        for i in 0..3 {
            held(&mut j, &["bob"], &frame(i));
        }
        j.append(&Record::Delivered {
            name: "bob",
            count: 1,
        });
    }
    let path = dir.path().join("journal");
    let good = fs::metadata(&path).unwrap().len();
    // A crash mid-write: half a record at the end.
    let mut torn = Vec::new();
    encode(
        &mut torn,
        &Record::Held {
            to: vec!["bob"],
            frame: &frame(9),
        },
    );
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&torn[..torn.len() / 2]).unwrap();
    drop(f);
    let (_j, image) = Journal::open(dir.path(), Fsync::Never, || {}).unwrap();
    assert_eq!(image.known, [("bob".to_owned(), 7)]);
    assert_eq!(mail_of(&image, "bob"), [frame(1), frame(2)]);
    assert_eq!(fs::metadata(&path).unwrap().len(), good);
}

#[test]
fn a_foreign_file_is_refused_with_advice_and_a_second_server_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("journal"), b"hello, not a journal").unwrap();
    let err = Journal::open(dir.path(), Fsync::Never, || {}).unwrap_err();
    assert!(err.contains("not an evchat journal") && err.contains("Move it"));
    fs::remove_file(dir.path().join("journal")).unwrap();
    let (_first, _) = Journal::open(dir.path(), Fsync::Never, || {}).unwrap();
    let err = Journal::open(dir.path(), Fsync::Never, || {}).unwrap_err();
    assert!(err.contains("in use"), "{err}");
}

fn journal_size(dir: &Path) -> u64 {
    fs::metadata(dir.join("journal")).unwrap().len()
}

/// Waits (hang guard) until the journal file's header is `magic` and it is
/// smaller than `below`.
fn wait_compacted(dir: &Path, magic: &[u8], below: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let bytes = fs::read(dir.join("journal")).unwrap();
        if bytes.get(..HEADER) == Some(magic) && (bytes.len() as u64) < below {
            return;
        }
        assert!(Instant::now() < deadline, "not compacted");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn compaction_keeps_the_live_state_and_what_came_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open_compacting_at(dir.path(), Fsync::Always, || {}, 4096).unwrap();
    let mut seq = 0;
    for i in 0..100 {
        seq = held(&mut j, &["bob", "carol"], &frame(i));
        j.commit(1 << 30); // "all live": no compaction yet
    }
    wait_acked(&j, seq);
    // Measured before the deliveries that make most of it dead: the
    // compaction they start may be done as soon as they are written.
    let before = journal_size(dir.path());
    j.append(&Record::Delivered {
        name: "bob",
        count: 98,
    });
    j.append(&Record::Delivered {
        name: "carol",
        count: 100,
    });
    j.append(&Record::Seen { name: "bob", at: 3 });
    j.commit(200);
    // Whatever arrives while the helper writes is kept too.
    for i in 100..110 {
        held(&mut j, &["bob"], &frame(i));
        j.commit(200);
    }
    wait_compacted(dir.path(), MAGIC, before / 4);
    let seq = held(&mut j, &["bob"], &frame(110));
    j.commit(200);
    wait_acked(&j, seq);
    drop(j);
    let (_j, image) = Journal::open(dir.path(), Fsync::Never, || {}).unwrap();
    let expected: Vec<Vec<u8>> = (98..111).map(frame).collect();
    assert_eq!(mail_of(&image, "bob"), expected);
    assert!(mail_of(&image, "carol").is_empty());
    assert_eq!(
        image
            .known
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["carol", "bob"]
    );
}

#[test]
fn a_restart_with_much_live_mail_does_not_compact_what_is_all_live() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut j, _) =
            Journal::open_compacting_at(dir.path(), Fsync::Never, || {}, 4096).unwrap();
        for i in 0..200 {
            held(&mut j, &["bob"], &frame(i));
            j.commit(1 << 30); // all live
        }
    }
    assert!(
        journal_size(dir.path()) > 2 * 4096,
        "past the compaction size"
    );
    let (j, image) = Journal::open_compacting_at(dir.path(), Fsync::Never, || {}, 4096).unwrap();
    assert_eq!(mail_of(&image, "bob").len(), 200);
    let shared = Arc::clone(&j.writer.as_ref().unwrap().shared);
    drop(j); // a writer that compacts at all does so as it starts
    assert_eq!(
        shared.compactions.load(Ordering::Acquire),
        0,
        "recovery must tell the writer what is live"
    );
}

#[test]
fn a_journal_of_the_first_format_is_read_then_rewritten_in_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = MAGIC_V1.to_vec();
    let f = frame(1);
    for record in [
        Record::LegacyUser("bob"),
        Record::LegacyUser("carol"),
        Record::LegacyHeld {
            name: "bob",
            frame: &f,
        },
        Record::LegacyHeld {
            name: "carol",
            frame: &f,
        },
    ] {
        encode(&mut bytes, &record);
    }
    let legacy_size = bytes.len() as u64;
    fs::write(dir.path().join("journal"), &bytes).unwrap();
    let (j, image) = Journal::open(dir.path(), Fsync::Everysec, || {}).unwrap();
    assert_eq!(
        image.held,
        [(f.clone(), vec!["bob".to_owned(), "carol".to_owned()])],
        "one message again, for both"
    );
    wait_compacted(dir.path(), MAGIC, legacy_size);
    drop(j);
    let (_j, again) = Journal::open(dir.path(), Fsync::Never, || {}).unwrap();
    assert_eq!(again.held, image.held);
}

#[test]
fn the_writer_thread_ends_with_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(dir.path(), Fsync::Everysec, || {}).unwrap();
    let shared = Arc::clone(&j.writer.as_ref().unwrap().shared);
    assert_eq!(
        Arc::strong_count(&shared),
        3,
        "the loop's, the writer's, ours"
    );
    drop(j);
    assert_eq!(Arc::strong_count(&shared), 1, "the writer thread has ended");
}

#[test]
fn a_failed_write_gives_up_its_held_mail_and_retries_the_rest_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
    let (jobs, inbox) = std::sync::mpsc::channel();
    let shared = Arc::new(writer::Shared::default());
    let writer = Writer::new(writer::Setup {
        dir: dir.path().to_owned(),
        file: full,
        size: HEADER as u64,
        live: 0,
        fsync: Fsync::Never,
        legacy: false,
        shared: Arc::clone(&shared),
        wake: Box::new(|| {}),
        jobs: jobs.clone(),
        retry_every: Duration::from_millis(2),
    });
    let thread = std::thread::spawn(move || writer.run(inbox));
    let mut bytes = Vec::new();
    encode(&mut bytes, &Record::Forgotten("bob"));
    let kept = bytes.len();
    encode(
        &mut bytes,
        &Record::Held {
            to: vec!["carol"],
            frame: &frame(1),
        },
    );
    shared.backlog.fetch_add(bytes.len(), Ordering::AcqRel);
    jobs.send(Job::Append {
        seq: 1,
        bytes,
        live: 0,
    })
    .unwrap();
    // Nothing else is sent: the writer tries again by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    while shared.failed_writes.load(Ordering::Acquire) < 3 {
        assert!(Instant::now() < deadline, "not retried");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(shared.failing.load(Ordering::Acquire));
    assert_eq!(shared.acked.load(Ordering::Acquire), 0);
    // The held message is given up at once and reported; the rest waits.
    assert_eq!(*shared.refused.lock().unwrap(), [(0, 1)]);
    assert_eq!(shared.refused_through.load(Ordering::Acquire), 1);
    assert_eq!(shared.backlog.load(Ordering::Acquire), kept);
    jobs.send(Job::Stop).unwrap();
    thread.join().unwrap();
}
