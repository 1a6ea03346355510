//! Work per turn: a connection cannot make one turn long for everyone —
//! not with barriers that defeat batching, not with `WHO` floods, not by
//! being cut and going on — and waiting for a password is not silence.

use super::harness::*;
use crate::server::accounts::{AuthAnswer, AuthJob, AuthPort, SharedUsers, Users};
use crate::server::hub::input::WORK_BUDGET;
use crate::server::hub::Hub;
use crate::server::journal::Journal;
use crate::server::store::Store;
use std::sync::{mpsc, Arc, RwLock};

#[test]
fn a_ping_after_ones_own_broadcasts_needs_no_seal() {
    let mut h = Harness::new();
    for i in 0..50 {
        h.login(&format!("u{i}"));
    }
    let talker = h.login("talker");
    h.flush();
    // Cheap however many: the batch holds nothing for the talker itself.
    let pairs = 20_000;
    h.send(talker, &"SAY a\nPING\n".repeat(pairs));
    assert!(!h.hub.has_unprocessed(talker));
    assert_eq!(h.turn_for(talker).len(), pairs);
}

#[test]
fn barriers_that_defeat_batching_are_paid_for_and_wait_their_turn() {
    let mut h = Harness::new();
    let crowd: Vec<usize> = (0..50).map(|i| h.login(&format!("u{i}"))).collect();
    let talker = h.login("talker");
    let attacker = h.login("attacker");
    h.flush();
    // Each private message must seal the batch (u0 must see the SAY before
    // it): 50-odd queue pushes for 16 bytes.
    let pairs = (2 * WORK_BUDGET / 50) as usize;
    h.send(attacker, &"SAY a\nMSG u0 b\n".repeat(pairs));
    h.send(talker, "PING me\n");
    assert!(h.hub.has_unprocessed(attacker), "its budget ran out");
    h.flush();
    assert!(
        h.lines(talker).contains(&"PONG me".to_owned()),
        "the others are served this turn"
    );
    let mut seen = h.lines(crowd[0]);
    seen.retain(|l| !l.starts_with("JOINED "));
    assert!(
        seen.len() < 2 * pairs,
        "{} of {} in the first turn",
        seen.len(),
        2 * pairs
    );
    // Later turns take up the rest, in order.
    for turn in 1..1000 {
        h.at(turn);
        let more = h.hub.resume_input(attacker);
        h.flush();
        seen.extend(h.lines(crowd[0]));
        if !more {
            break;
        }
    }
    seen.retain(|l| l.contains(" attacker "));
    assert_eq!(seen.len(), 2 * pairs);
    for pair in seen.chunks(2) {
        assert_eq!(pair, ["SAY attacker T a", "MSG attacker u0 T b"]);
    }
}

#[test]
fn who_is_answered_from_one_shared_list_kept_current() {
    let mut h = Harness::new();
    let a = h.login("amy");
    h.login("bob");
    h.send(a, "WHO\n");
    assert_eq!(h.turn_for(a), ["JOINED bob T", "USERS amy bob"]);
    let c = h.login("cat");
    h.send(a, "WHO\n");
    assert_eq!(h.turn_for(a), ["JOINED cat T", "USERS amy bob cat"]);
    h.send(c, "QUIT\n");
    h.send(a, "WHO\nWHO\n");
    assert_eq!(
        h.turn_for(a),
        ["LEFT cat T", "USERS amy bob", "USERS amy bob"]
    );
}

#[test]
fn a_connection_cut_for_slowness_is_not_served_any_further() {
    let mut l = limits();
    l.max_queue = 4096;
    let mut h = Harness::with(l, Journal::disabled());
    for i in 0..40 {
        h.login(&format!("somebody-with-a-long-name-{i}"));
    }
    let lazy = h.login("lazy");
    h.wires[&lazy].1.set(true); // never reads
    let frames_before = h.hub.counters.frames_in;
    h.send(lazy, &"WHO\n".repeat(10_000));
    let handled = h.hub.counters.frames_in - frames_before;
    assert!(handled < 100, "{handled} WHOs handled after the cut");
    h.flush();
    assert_eq!(h.hub.counters.slow_cut, 1);
}

/// A hub whose logins are checked against `users` (`optional`: as a
/// cluster's, where no accounts means an open chat); the checks it asks
/// for come out of the receiver.
fn with_accounts(users: &SharedUsers, optional: bool) -> (Harness, mpsc::Receiver<AuthJob>) {
    let (requests, checks) = mpsc::channel();
    let auth = AuthPort {
        requests,
        users: Arc::clone(users),
        optional,
    };
    let l = limits();
    let store = Store::new(l.mail);
    let h = Harness {
        hub: Hub::with_store(l, store, Journal::disabled(), Some(auth)),
        ..Harness::new()
    };
    (h, checks)
}

#[test]
fn waiting_for_a_password_check_is_not_silence() {
    let users = Arc::new(RwLock::new(Arc::new(Users::default())));
    let (mut h, checks) = with_accounts(&users, false);
    let key = h.connect();
    h.send(key, "LOGIN bob secret\nSAY hello\n");
    let Ok(AuthJob::Check(request)) = checks.try_recv() else {
        panic!("no check asked for");
    };
    // The check takes longer than the idle timeout (60 s here).
    h.at(90);
    assert_eq!(h.turn_for(key), Vec::<String>::new(), "not timed out");
    h.hub.auth_done(AuthAnswer {
        key,
        serial: request.serial,
        peer: request.peer,
        name: request.name,
        ok: true,
        hash: None,
    });
    assert_eq!(h.turn_for(key), ["OK LOGIN bob"]);
    // Its time counts from the verdict.
    h.at(149);
    assert_eq!(h.turn_for(key), ["PING 1"]);
}

#[test]
fn a_cluster_node_that_has_not_read_its_accounts_lets_nobody_in() {
    let users = Arc::new(RwLock::new(Arc::new(Users::unread())));
    let (mut h, _checks) = with_accounts(&users, true);
    let key = h.connect();
    // Whether the cluster has accounts is not known yet: no login, with a
    // password or without.
    h.send(key, "LOGIN bob\nLOGIN bob wrong\n");
    let told = h.turn_for(key);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told.iter().all(|l| l.starts_with("ERR 503 ")), "{told:?}");
    // Read, and open (no accounts): logins need no password.
    *users.write().unwrap() = Arc::new(Users::default());
    h.send(key, "LOGIN bob\n");
    assert_eq!(h.turn_for(key), ["OK LOGIN bob"]);
}

#[test]
fn mail_counts_as_delivered_only_once_its_recipient_answers_the_ping_after_it() {
    let mut h = Harness::new();
    h.visit("bob");
    let amy = h.login("amy");
    h.send(amy, "MSG bob one\n");
    h.flush();
    // bob gets it, and his connection ends before he answers.
    let bob = h.login("bob");
    assert_eq!(h.hub.store.held(), 0, "on its way");
    h.hub.peer_closed(bob);
    h.flush();
    h.reap();
    assert_eq!(
        h.hub.store.held(),
        1,
        "not known to have arrived: held again"
    );
    // Other frames are no answer; the PONG to the PING after it is.
    let again = h.connect();
    h.send(again, "LOGIN bob\n");
    assert_eq!(
        h.turn_for(again),
        ["OK LOGIN bob", "MSG amy bob T one", "PING 2"]
    );
    // (PONG 1 answered the PING of the connection that ended.)
    h.send(again, "PING\nPONG 1\nSAY hi\n");
    assert_eq!(h.turn_for(again), ["PONG"]);
    assert!(h.hub.store.held_bytes() > 0, "not answered yet");
    h.send(again, "PONG 2\n");
    h.flush();
    h.hub.peer_closed(again);
    h.flush();
    h.reap();
    assert_eq!(h.hub.store.held(), 0);
}

#[test]
fn a_name_whose_mail_is_on_its_way_is_not_forgotten() {
    let mut l = limits();
    l.mail.max_known = 3;
    let mut h = Harness::with(l, crate::server::journal::Journal::disabled());
    h.visit("bob");
    let amy = h.login("amy");
    h.send(amy, "MSG bob kept\n");
    h.flush();
    // bob logs in, gets it, and his connection ends before he says a word:
    // while it is on its way back to his mailbox, crowds come and go.
    let bob = h.login("bob");
    h.hub.peer_closed(bob);
    h.flush();
    for i in 0..5 {
        h.login(&format!("crowd{i}"));
    }
    h.flush();
    h.lines(amy);
    h.send(amy, "MSG bob still there?\n");
    assert_eq!(h.turn_for(amy), Vec::<String>::new(), "bob is still known");
    h.reap();
    assert_eq!(h.hub.store.held(), 2, "both held for bob");
}

#[test]
fn mail_of_a_connection_that_is_closing_goes_back_at_once_and_keeps_its_order() {
    let mut h = Harness::new();
    h.visit("bob");
    let amy = h.login("amy");
    h.send(amy, "MSG bob first\n");
    h.flush();
    // bob's first connection gets it, quits, and reads nothing more: it
    // lingers, but its mail is back in the mailbox at once.
    let lazy = h.connect();
    h.wires[&lazy].1.set(true);
    h.send(lazy, "LOGIN bob\nQUIT\n");
    h.flush();
    assert_eq!(h.hub.store.held(), 1, "back while its connection lingers");
    h.send(amy, "MSG bob second\n");
    h.flush();
    // His next connection gets both, oldest first, and acknowledges both.
    let again = h.connect();
    h.send(again, "LOGIN bob\n");
    assert_eq!(
        h.turn_for(again),
        [
            "OK LOGIN bob",
            "MSG amy bob T first",
            "MSG amy bob T second",
            "PING 2"
        ]
    );
    h.send(again, "PONG 2\n");
    h.flush();
    assert_eq!(h.hub.store.held(), 0);
    assert_eq!(h.hub.store.held_bytes(), 0);
}

#[test]
fn a_small_part_of_a_large_batch_is_copied_not_kept_alive_whole() {
    let mut l = limits();
    l.max_line = 64 << 10;
    let mut h = Harness::with(l, crate::server::journal::Journal::disabled());
    let big = h.login("big");
    let small = h.login("small");
    h.login("listener");
    h.flush();
    h.wires[&big].1.set(true); // big reads nothing: its queue stays
    h.send(big, &format!("SAY {}\n", "b".repeat(30_000)));
    h.send(small, "SAY s\n");
    h.flush();
    let queue = &h.hub.session(big).unwrap().out;
    assert!(queue.len() < 100, "only small's frame: {}", queue.len());
    assert!(
        queue.cost() < 1000,
        "{} bytes kept alive for {} queued",
        queue.cost(),
        queue.len()
    );
}
