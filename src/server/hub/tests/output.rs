//! Output's rules: pushes only enqueue, a queue a turn takes past its limit
//! is written out before it is judged, and only a client that does not
//! take its output is cut.

use super::harness::*;
use crate::server::journal::Journal;

/// A burst of broadcasts from `from`, sealed by its `PING`s every few
/// frames so it reaches the others as several batches within one turn;
/// returns how many.
fn burst(h: &mut Harness, from: usize, bytes: usize) -> usize {
    let text = "x".repeat(200);
    let frame = format!("SAY {text}\n");
    let mut sent = 0;
    let mut i = 0;
    while sent < bytes {
        h.send(from, &frame);
        sent += frame.len();
        i += 1;
        if i % 8 == 0 {
            h.send(from, &format!("PING {i}\n"));
        }
    }
    i
}

#[test]
fn pushes_only_enqueue_until_the_turn_is_flushed() {
    let mut h = Harness::new();
    let a = h.login("a");
    let b = h.login("b");
    h.flush();
    h.lines(a); // b's JOINED
    h.send(a, "SAY hi\nMSG b psst\nWHO\nPING 1\n");
    assert!(
        h.wires[&a].0.borrow().is_empty(),
        "a's replies not written yet"
    );
    assert!(
        h.wires[&b].0.borrow().is_empty(),
        "b's messages not written yet"
    );
    assert_eq!(h.turn_for(a), ["USERS a b", "PONG 1"]);
    assert_eq!(h.lines(b), ["SAY a T hi", "MSG a b T psst"]);
}

#[test]
fn a_reader_that_keeps_up_is_never_cut_however_much_one_turn_brings() {
    let mut l = limits();
    l.max_queue = 8 << 10;
    let mut h = Harness::with(l, Journal::disabled());
    let sender = h.login("sender");
    let reader = h.login("reader");
    let stalled = h.login("stalled");
    h.wires[&stalled].1.set(true); // takes nothing
    h.flush();
    h.lines(sender);
    h.lines(reader);
    // One turn brings the reader ten times its limit: it is written out
    // whenever a push takes it past the limit, so it is never over after.
    let sent = burst(&mut h, sender, 80 << 10);
    h.flush();
    let got = h.lines(reader);
    let says = got.iter().filter(|l| l.starts_with("SAY sender")).count();
    assert_eq!(says, sent, "the reader got every frame");
    let others: Vec<&String> = got.iter().filter(|l| !l.starts_with("SAY")).collect();
    assert_eq!(others, ["LEFT stalled T"]);
    assert_eq!(h.hub.counters.slow_cut, 1, "only the stalled one");
    assert!(h.hub.session(reader).is_some_and(|s| s.is_open()));
    assert!(!h.hub.session(stalled).is_some_and(|s| s.is_open()));
    let said = h.lines(sender);
    let pongs = said.iter().filter(|l| l.starts_with("PONG")).count();
    assert_eq!(pongs, said.len() - 1, "PONGs and the stalled one's LEFT");
    assert!(said.iter().any(|l| l.starts_with("LEFT stalled")));
}
