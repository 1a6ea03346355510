//! The queue's order, its writes, and what it counts as its cost.

use super::*;

fn unwritten(q: &OutQueue) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in q.chunks.iter().enumerate() {
        let b = c.bytes();
        out.extend_from_slice(if i == 0 { &b[q.head_sent..] } else { b });
    }
    assert_eq!(out.len(), q.len());
    out
}

#[test]
fn bytes_inserted_go_exactly_where_asked_in_any_chunk() {
    for offset in 0..=12 {
        let mut q = OutQueue::default();
        let shared: Rc<[u8]> = Rc::from(&b"xxAAAA"[..]);
        q.push_range(&shared, 2..6);
        q.push_with(|b| b.extend_from_slice(b"BBBB"));
        q.push_shared(&Rc::from(&b"CCCC"[..]));
        q.insert(offset, b"!".to_vec());
        let mut expected = b"AAAABBBBCCCC".to_vec();
        expected.insert(offset, b'!');
        assert_eq!(unwritten(&q), expected, "at {offset}");
    }
    // Past a partly written front chunk.
    let mut q = OutQueue::default();
    q.push_with(|b| b.extend_from_slice(b"AAAA"));
    q.consume(2);
    q.insert(0, b"!".to_vec());
    q.insert(2, b"?".to_vec());
    assert_eq!(unwritten(&q), b"!A?A");
    q.insert(99, b".".to_vec());
    assert_eq!(unwritten(&q), b"!A?A.");
}

/// A writer that takes at most `limit` bytes per call, then blocks.
struct Trickle {
    got: Vec<u8>,
    limit: usize,
    calls: usize,
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.calls += 1;
        if self.limit == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(self.limit - n);
            self.got.extend_from_slice(&b[..take]);
            n += take;
        }
        self.limit -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn writes_shared_and_owned_chunks_in_order() {
    let shared: Rc<[u8]> = Rc::from(&b"SAY a t hi\n"[..]);
    let mut q = OutQueue::default();
    q.push_with(|b| b.extend_from_slice(b"OK LOGIN x\n"));
    q.push_shared(&shared);
    q.push_with(|b| b.extend_from_slice(b"PONG\n"));
    q.push_with(|b| b.extend_from_slice(b"PONG 2\n"));
    assert_eq!(q.len(), 11 + 11 + 5 + 7);
    let mut w = Trickle {
        got: vec![],
        limit: 15,
        calls: 0,
    };
    assert_eq!(q.write_to(&mut w).unwrap(), 15);
    assert_eq!(w.calls, 1, "a short write ends the attempt");
    w.limit = 1000;
    q.write_to(&mut w).unwrap();
    assert_eq!(w.got, b"OK LOGIN x\nSAY a t hi\nPONG\nPONG 2\n");
    assert!(q.is_empty());
    assert_eq!(Rc::strong_count(&shared), 1);
}

#[test]
fn a_long_queue_is_written_in_as_many_writes_as_it_takes() {
    // Too large to be copied: an entry each.
    let shared: Rc<[u8]> = Rc::from(vec![b'x'; COPY_SMALL + 1]);
    let mut q = OutQueue::default();
    for _ in 0..(MAX_IOV + SMALL_IOV + 3) {
        q.push_shared(&shared);
    }
    let mut w = Trickle {
        got: vec![],
        limit: usize::MAX,
        calls: 0,
    };
    q.write_to(&mut w).unwrap();
    assert_eq!(w.got.len(), (COPY_SMALL + 1) * (MAX_IOV + SMALL_IOV + 3));
    assert_eq!(w.calls, 2, "MAX_IOV chunks a writev");
    assert!(q.is_empty());
}

#[test]
fn ranges_of_a_shared_chunk() {
    let shared: Rc<[u8]> = Rc::from(&b"AAA\nBBB\nCCC\n"[..]);
    let mut q = OutQueue::default();
    q.push_range(&shared, 0..4);
    q.push_range(&shared, 8..12);
    q.push_range(&shared, 12..99); // out of bounds: ignored
    q.push_range(&shared, 4..4); // empty: ignored
    assert_eq!(q.len(), 8);
    let mut w = Trickle {
        got: vec![],
        limit: 100,
        calls: 0,
    };
    q.write_to(&mut w).unwrap();
    assert_eq!(w.got, b"AAA\nCCC\n");
}

#[test]
fn drop_unstarted_keeps_a_partly_written_frame() {
    let mut q = OutQueue::default();
    q.push_with(|b| b.extend_from_slice(&[b'a'; OWNED_CHUNK + 1]));
    q.push_with(|b| b.extend_from_slice(b"later\n"));
    let mut w = Trickle {
        got: vec![],
        limit: 10,
        calls: 0,
    };
    q.write_to(&mut w).unwrap();
    assert_eq!(q.drop_unstarted(), 6);
    assert_eq!(q.len(), OWNED_CHUNK + 1 - 10);
    let mut fresh = OutQueue::default();
    fresh.push_with(|b| b.extend_from_slice(b"x\n"));
    assert_eq!(fresh.drop_unstarted(), 2);
    assert!(fresh.is_empty());
}

/// The running count is what counting afresh gives.
fn check_held(q: &OutQueue) {
    assert_eq!(q.held, held_by(&q.chunks), "running count of {q:?}");
}

fn sink() -> Trickle {
    Trickle {
        got: vec![],
        limit: usize::MAX,
        calls: 0,
    }
}

#[test]
fn small_shared_chunks_and_replies_share_one_buffer() {
    // The attack of item 7: WHO (a small shared reply) and PING (an owned
    // one) in turn used to cost an entry and a 256-byte buffer per reply.
    let users: Rc<[u8]> = Rc::from(&b"USERS a0 a1 a2 a3 a4 a5 a6 a7\n"[..]);
    let mut q = OutQueue::default();
    for _ in 0..20_000 {
        q.push_shared(&users);
        q.push_with(|b| b.extend_from_slice(b"PONG\n"));
        check_held(&q);
    }
    assert_eq!(q.len(), 20_000 * 35);
    assert!(
        q.cost() < q.len() + q.len() / 16 + 1024,
        "{} bytes held for {} queued",
        q.cost(),
        q.len()
    );
    assert_eq!(Rc::strong_count(&users), 2, "copied, not kept");
    let mut w = sink();
    q.write_to(&mut w).unwrap();
    assert_eq!(w.got.len(), 20_000 * 35);
    assert_eq!((q.cost(), q.held), (0, 0));
}

#[test]
fn a_burst_of_small_shared_chunks_behind_others_is_copied() {
    // Another user's burst of short private messages to a reader that is
    // behind: distinct chunks, no reply of its own in between.
    let mut q = OutQueue::default();
    let mut kept = Vec::new();
    for i in 0..10_000 {
        let frame: Rc<[u8]> = Rc::from(format!("MSG a0 a0,a1 {i}\n").into_bytes());
        q.push_shared(&frame);
        kept.push(frame);
        check_held(&q);
    }
    let full_chunks = q.len() / (OWNED_CHUNK - COPY_SMALL);
    assert!(
        q.chunks.len() <= full_chunks + 2,
        "{} entries",
        q.chunks.len()
    );
    assert!(
        q.cost() < q.len() + q.len() / 16 + 1024,
        "{} for {}",
        q.cost(),
        q.len()
    );
    assert_eq!(Rc::strong_count(&kept[1]), 1, "copied, not kept alive");
}

#[test]
fn a_shared_chunk_is_charged_whole_once_per_run_of_ranges() {
    let big: Rc<[u8]> = Rc::from(vec![b'x'; 4000]);
    let mut q = OutQueue::default();
    q.push_range(&big, 0..1000);
    q.push_range(&big, 2000..4000);
    assert_eq!(q.held, rc_bytes(4000), "kept alive whole, counted once");
    q.push_with(|b| b.extend_from_slice(b"PONG\n"));
    q.push_range(&big, 1000..2000);
    assert_eq!(q.held, 2 * rc_bytes(4000) + heap_bytes(FRESH_OWNED));
    check_held(&q);
    // Writing the first range leaves the second keeping the chunk alive.
    let mut w = Trickle {
        got: vec![],
        limit: 1000,
        calls: 0,
    };
    q.write_to(&mut w).unwrap();
    assert_eq!(q.held, 2 * rc_bytes(4000) + heap_bytes(FRESH_OWNED));
    check_held(&q);
    w.limit = 2000;
    q.write_to(&mut w).unwrap();
    assert_eq!(q.held, rc_bytes(4000) + heap_bytes(FRESH_OWNED));
    check_held(&q);
    assert!(q.cost() > q.held, "the ring counts too");
}

#[test]
fn the_count_is_the_capacity_of_what_is_held_and_follows_every_change() {
    let mut q = OutQueue::default();
    let mut chunks: Vec<Rc<[u8]>> = Vec::new();
    for i in 0..3000usize {
        match i % 4 {
            0 => {
                let chunk: Rc<[u8]> = Rc::from(vec![b'c'; 600 + i]);
                q.push_shared(&chunk);
                chunks.push(chunk);
            }
            1 => {
                q.push_with(|b| b.extend_from_slice(&vec![b'r'; i % 97 + 1]));
            }
            2 => {
                let chunk = &chunks[i % chunks.len()];
                q.push_range(chunk, 10..20);
            }
            _ => {
                let mut w = Trickle {
                    got: vec![],
                    limit: i % 1500,
                    calls: 0,
                };
                q.write_to(&mut w).unwrap();
            }
        }
        check_held(&q);
        if i % 1000 == 999 {
            q.drop_unstarted();
            check_held(&q);
        }
    }
    q.write_to(&mut sink()).unwrap();
    assert_eq!((q.len(), q.cost()), (0, 0));
}

#[test]
fn owned_buffers_are_not_doubled_past_their_size_by_small_replies() {
    let mut q = OutQueue::default();
    for _ in 0..100_000 {
        q.push_with(|b| b.extend_from_slice(b"PONG 123456\n"));
    }
    let capacity: usize = q
        .chunks
        .iter()
        .map(|c| match c {
            Chunk::Owned(b) => b.capacity(),
            Chunk::Shared(..) => 0,
        })
        .sum();
    assert!(
        capacity <= q.len() + q.len() / 16,
        "{capacity} for {}",
        q.len()
    );
}
