//! What each connection sees: fan-out order, logins mid-turn, private
//! messages, held mail, limits, timers — and that the bytes may come in
//! any pieces.

use super::harness::*;
use crate::server::journal::Journal;
use crate::server::session::Phase;
use proptest::prelude::*;

#[test]
fn one_turn_of_many_senders_reaches_each_without_its_own_frames() {
    let mut h = Harness::new();
    let (a, b, c) = (h.connect(), h.connect(), h.connect());
    h.send(a, "LOGIN a\n");
    h.send(b, "LOGIN b\n");
    h.send(c, "LOGIN c\n");
    h.flush();
    assert_eq!(h.lines(a), ["OK LOGIN a", "JOINED b T", "JOINED c T"]);
    assert_eq!(h.lines(b), ["OK LOGIN b", "JOINED c T"]);
    assert_eq!(h.lines(c), ["OK LOGIN c"]);
    let before = h.hub.counters.deliveries;
    h.send(a, "SAY a1\nSAY a2\n");
    h.send(b, "SAY b1\n");
    h.send(a, "SAY a3\n");
    h.flush();
    assert_eq!(h.lines(a), ["SAY b T b1"]);
    assert_eq!(h.lines(b), ["SAY a T a1", "SAY a T a2", "SAY a T a3"]);
    assert_eq!(
        h.lines(c),
        ["SAY a T a1", "SAY a T a2", "SAY b T b1", "SAY a T a3"]
    );
    assert_eq!(h.hub.counters.deliveries - before, 4 + 3 + 1);
}

#[test]
fn held_mail_not_written_when_the_connection_dies_goes_back_to_the_mailbox() {
    let mut h = Harness::new();
    h.visit("bob");
    let amy = h.login("amy");
    h.send(amy, "MSG bob kept\n");
    h.flush();
    assert_eq!(h.hub.store.held(), 1);
    let stalled = h.connect();
    h.wires[&stalled].1.set(true);
    h.send(stalled, "LOGIN bob\n");
    h.flush();
    assert_eq!(h.hub.store.held(), 0, "taken for delivery");
    h.hub.fail(stalled);
    h.reap();
    assert_eq!(h.hub.store.held(), 1, "back in the mailbox");
    let again = h.connect();
    h.send(again, "LOGIN bob\n");
    assert_eq!(
        h.turn_for(again),
        ["OK LOGIN bob", "MSG amy bob T kept", "PING 2"]
    );
}

#[test]
fn a_login_mid_turn_gets_only_what_came_after_it() {
    let mut h = Harness::new();
    let a = h.login("a");
    let c = h.connect();
    h.send(a, "SAY before\n");
    h.send(c, "LOGIN c\n");
    h.send(a, "SAY after\n");
    h.flush();
    assert_eq!(h.lines(c), ["OK LOGIN c", "SAY a T after"]);
    assert_eq!(h.lines(a), ["JOINED c T"]);
}

#[test]
fn private_messages_and_pongs_keep_acceptance_order() {
    let mut h = Harness::new();
    let a = h.login("a");
    let b = h.login("b");
    h.lines(a);
    h.send(b, "SAY first\n");
    h.send(a, "SAY x\nMSG b y\nPING p\n");
    h.flush();
    assert_eq!(h.lines(b), ["SAY a T x", "MSG a b T y"]);
    assert_eq!(h.lines(a), ["SAY b T first", "PONG p"]);
}

#[test]
fn leaving_mid_turn_is_announced_to_everyone_left() {
    let mut h = Harness::new();
    let a = h.login("a");
    let b = h.login("b");
    let c = h.login("c");
    h.lines(a);
    h.lines(b);
    h.send(b, "SAY bye all\nQUIT later\n");
    h.send(c, "SAY c1\n");
    h.flush();
    assert_eq!(
        h.lines(a),
        ["SAY b T bye all", "LEFT b T later", "SAY c T c1"]
    );
    assert_eq!(h.lines(b), ["BYE"]);
    assert_eq!(h.lines(c), ["SAY b T bye all", "LEFT b T later"]);
}

#[test]
fn a_name_written_twice_gets_the_message_once_and_sees_the_list_once() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    let bob = h.login("bob");
    h.lines(amy);
    h.send(amy, "MSG bob,amy,bob hi\n");
    h.flush();
    assert_eq!(h.lines(bob), ["MSG amy bob,amy T hi"]);
    assert_eq!(h.lines(amy), ["MSG amy bob,amy T hi"]);
}

#[test]
fn mail_for_many_offline_names_is_held_once() {
    let mut h = Harness::new();
    let names: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
    for n in &names {
        h.visit(n);
    }
    let amy = h.login("amy");
    let text = "x".repeat(500);
    h.send(amy, &format!("MSG {} {text}\n", names.join(",")));
    h.flush();
    assert_eq!(h.hub.store.held(), 50);
    use crate::server::store::{ENTRY_BYTES, LETTER_BYTES, MAILBOX_BYTES};
    let per_recipient = 50 * (ENTRY_BYTES + MAILBOX_BYTES);
    let frame_len = h.hub.store.held_bytes() - per_recipient - LETTER_BYTES;
    assert!(
        (500..1000).contains(&frame_len),
        "charged once: {frame_len}"
    );
}

#[test]
fn a_refused_recipient_is_named_and_the_others_get_it() {
    let mut l = limits();
    l.mail.mailbox_max = 1;
    let mut h = Harness::with(l, Journal::disabled());
    h.visit("bob");
    h.visit("carol");
    let amy = h.login("amy");
    h.send(amy, "MSG bob one\nMSG bob,carol two\n");
    let got = h.turn_for(amy);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("ERR 507 ") && got[0].contains("--mailbox-max"),
        "{got:?}"
    );
    assert!(got[0].ends_with("not held for bob"), "{got:?}");
    assert_eq!(h.hub.store.held(), 2);
}

#[test]
fn replies_wait_for_the_records_they_follow() {
    let mut h = Harness::with(limits(), Journal::acknowledged_by_hand());
    h.hub.journal.ack_all();
    h.visit("bob");
    h.hub.journal.ack_all();
    h.hub.sync_journal();
    let amy = h.login("amy");
    h.hub.journal.ack_all();
    h.hub.sync_journal();
    h.flush();
    h.lines(amy);
    // The PONG of a held message waits for its record.
    h.send(amy, "MSG bob held\nPING 1\n");
    assert_eq!(h.turn_for(amy), Vec::<String>::new());
    h.hub.journal.ack_all();
    assert_eq!(h.turn_for(amy), ["PONG 1"]);
    // Frames sent with the login, before the mail was read, prove
    // nothing: the mail is still on its way until the PING after it is
    // answered.
    let bob = h.connect();
    h.send(bob, "LOGIN bob\nPING 2\nPONG 2\n");
    assert_eq!(
        h.turn_for(bob),
        ["OK LOGIN bob", "MSG amy bob T held", "PING 1", "PONG 2"]
    );
    assert!(h.hub.store.held_bytes() > 0, "not yet delivered");
    // The answer: it arrived. The PONG after it waits for the record of
    // its delivery.
    h.send(bob, "PONG 1\nPING 3\n");
    assert_eq!(h.turn_for(bob), Vec::<String>::new());
    h.hub.journal.ack_all();
    assert_eq!(h.turn_for(bob), ["PONG 3"]);
    assert_eq!(h.hub.store.held_bytes(), 0, "delivered");
}

#[test]
fn idle_connections_are_pinged_at_half_time_then_closed() {
    let mut h = Harness::new();
    let quiet = h.login("quiet");
    let talker = h.login("talker");
    h.lines(quiet);
    h.at(29);
    assert_eq!(h.turn_for(quiet), Vec::<String>::new());
    h.at(31);
    assert_eq!(h.turn_for(quiet), ["PING 1"]);
    h.send(talker, "PONG 1\n"); // talker stays alive; quiet does not answer
    h.at(45);
    h.send(talker, "PONG 2\n");
    h.at(61);
    assert_eq!(h.turn_for(quiet), ["ERR 408 idle for 60 s; disconnected"]);
    assert_eq!(h.lines(talker), ["PING 2", "LEFT quiet T"]);
}

#[test]
fn closing_connections_leave_their_slot_and_the_oldest_beyond_the_cap_go() {
    let mut h = Harness::new();
    let keys: Vec<usize> = (0..6).map(|i| h.login(&format!("q{i}"))).collect();
    assert_eq!(h.hub.open_connections(), 6);
    for &k in &keys {
        h.wires[&k].1.set(true); // they do not read: BYE stays queued
        h.send(k, "QUIT\n");
    }
    h.flush();
    assert_eq!(h.hub.open_connections(), 0, "lingering is not a client");
    assert_eq!(h.hub.linger_count, 4, "cap of four");
    let dropped: Vec<bool> = keys
        .iter()
        .map(|k| {
            h.hub
                .session(*k)
                .is_none_or(|s| s.life.phase() == Phase::Dead)
        })
        .collect();
    assert_eq!(
        dropped,
        [true, true, false, false, false, false],
        "oldest first"
    );
}

/// Feeds `bytes` to a fresh hub's `sender` in the given pieces; returns
/// what a logged-in listener and the sender received.
fn chat_in_pieces(bytes: &[u8], cuts: &[usize]) -> (Vec<String>, Vec<String>) {
    let mut h = Harness::new();
    let listener = h.login("listener");
    let sender = h.connect();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let end = cut.clamp(at, bytes.len());
        h.hub.receive(sender, &bytes[at..end]);
        at = end;
    }
    h.flush();
    (h.lines(listener), h.lines(sender))
}

proptest! {
    /// However a stream is cut into reads — mid-frame, mid-escape, in the
    /// middle of a UTF-8 character — the hub answers the same.
    #[test]
    fn what_the_hub_does_does_not_depend_on_how_bytes_are_split(
        cuts in proptest::collection::vec(0usize..200, 0..12)
    ) {
        let stream: &[u8] = b"LOGIN s\r\nSAY caf\xc3\xa9 split\nSAY two\\\\nchars\n\
            SAY bad \xc3\x28 utf8\nSAY nul\0x\nSAY ends\\\nMSG listener psst\nPING t\n";
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(chat_in_pieces(stream, &cuts), chat_in_pieces(stream, &[]));
    }
}

#[test]
fn split_utf8_and_escapes_are_judged_on_whole_frames() {
    let stream: &[u8] =
        b"LOGIN s\nSAY caf\xc3\xa9 split\nSAY bad \xc3\x28 utf8\nSAY two\\\\nchars\n";
    let (listener, sender) = chat_in_pieces(stream, &[14, 15, 36, 37]);
    assert_eq!(
        listener,
        [
            "JOINED s T",
            "SAY s T caf\u{e9} split",
            "SAY s T two\\\\nchars"
        ]
    );
    assert_eq!(sender.len(), 2, "{sender:?}");
    assert!(sender[1].starts_with("ERR 400 "), "{sender:?}");
}

#[test]
fn what_an_irc_connection_answers_itself_counts_as_activity() {
    let mut h = Harness::new();
    let irc = h.connect();
    h.send(irc, "NICK ann\r\nUSER ann 0 * :a\r\n");
    h.turn_for(irc);
    // MOTD and VERSION never reach the hub as frames: the dialect answers.
    h.at(50);
    h.send(irc, "MOTD\r\n");
    h.at(100);
    h.send(irc, "VERSION\r\n");
    h.at(150);
    let lines = h.turn_for(irc);
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("408") && !l.starts_with("ERROR")),
        "{lines:?}"
    );
    // Silent for the timeout since the VERSION: closed.
    h.at(161);
    let lines = h.turn_for(irc);
    assert!(
        lines.iter().any(|l| l.contains("idle for 60 s")),
        "{lines:?}"
    );
}
