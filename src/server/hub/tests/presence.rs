//! Presence owed: a stalled reader is not queued a notice per login or
//! logout, but one `USERS` line once it reads again — before anything
//! from the others.

use super::harness::*;

/// Logs `name` in, then stops it reading: its next write leaves bytes
/// queued, and it is stalled from then on.
fn stalled(h: &mut Harness, name: &str) -> usize {
    let key = h.login(name);
    h.wires[&key].1.set(true);
    h.send(key, "PING stall\n");
    h.flush();
    key
}

/// `key` reads again: what it is sent.
fn reads(h: &mut Harness, key: usize) -> Vec<String> {
    h.wires[&key].1.set(false);
    h.hub.queues.mark_dirty(key);
    h.flush();
    h.lines(key)
}

#[test]
fn a_stalled_reader_is_owed_presence_and_gets_one_users_line_when_it_reads() {
    let mut h = Harness::new();
    let amy = stalled(&mut h, "amy");
    let queued = h.hub.queues.sessions[amy].out.len();
    let bob = h.login("bob");
    let carl = h.login("carl");
    h.send(carl, "QUIT\n");
    h.flush();
    let dan = h.login("dan");
    h.flush();
    assert_eq!(
        h.hub.queues.sessions[amy].out.len(),
        queued,
        "nothing queued for the logins and the logout"
    );
    assert_eq!(reads(&mut h, amy), ["PONG stall", "USERS amy bob dan"]);
    // Reading again, it is told as everyone is.
    h.send(dan, "QUIT\n");
    h.flush();
    assert_eq!(h.lines(amy), ["LEFT dan T"]);
    h.lines(bob);
}

#[test]
fn who_is_online_comes_before_what_someone_who_came_meanwhile_says() {
    let mut h = Harness::new();
    let amy = stalled(&mut h, "amy");
    let bob = h.login("bob");
    h.flush();
    h.send(bob, "SAY hello\nMSG amy hi amy\n");
    h.send(bob, "QUIT\n");
    h.flush();
    let carl = h.login("carl");
    h.flush();
    assert_eq!(
        reads(&mut h, amy),
        [
            "PONG stall",
            "USERS amy bob",
            "SAY bob T hello",
            "MSG bob amy T hi amy",
            // bob's leaving and carl's coming: the net of them.
            "USERS amy carl"
        ]
    );
    h.lines(carl);
}

#[test]
fn a_room_frame_to_a_reader_owed_presence_comes_after_who_is_online() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    h.send(amy, "JOIN #r\n");
    h.flush();
    h.lines(amy);
    h.wires[&amy].1.set(true);
    h.send(amy, "PING stall\n");
    h.flush();
    let bob = h.login("bob");
    h.send(bob, "JOIN #r\nMSG #r in the room\n");
    h.flush();
    assert_eq!(
        reads(&mut h, amy),
        [
            "PONG stall",
            "USERS amy bob",
            "JOIN bob #r T",
            "MSG bob #r T in the room"
        ]
    );
}

#[test]
fn a_login_storm_on_stalled_readers_costs_each_a_bounded_queue() {
    let mut h = Harness::new();
    let first: Vec<usize> = (0..50).map(|i| stalled(&mut h, &format!("s{i}"))).collect();
    let before = h.hub.queues.total;
    for i in 0..300 {
        h.login(&format!("u{i}"));
        h.flush();
    }
    // Without owing, each of the 50 would hold 300 JOINED entries.
    let grown = h.hub.queues.total - before;
    assert!(
        grown < 50 * 64,
        "the stalled readers' queues grew by {grown} bytes"
    );
    let told = reads(&mut h, first[0]);
    let users = told.last().unwrap();
    assert_eq!(users.split(' ').count(), 1 + 350, "{users}");
}

#[test]
fn an_irc_reader_that_is_stalled_gets_its_notices_as_before() {
    let mut h = Harness::new();
    let ann = h.connect();
    h.send(ann, "NICK ann\r\nUSER ann 0 * :a\r\n");
    h.flush();
    h.lines(ann);
    h.wires[&ann].1.set(true);
    h.send(ann, "PING :stall\r\n");
    h.flush();
    h.login("bob");
    h.flush();
    let told = reads(&mut h, ann);
    assert_eq!(
        told.last().unwrap(),
        ":bob!bob@evchat JOIN #everyone",
        "{told:?}"
    );
}

#[test]
fn a_private_message_to_a_reader_owed_presence_comes_after_who_is_online() {
    let mut h = Harness::new();
    let amy = stalled(&mut h, "amy");
    let bob = h.login("bob");
    h.flush();
    h.send(bob, "MSG amy only to you\n");
    h.flush();
    assert_eq!(
        reads(&mut h, amy),
        ["PONG stall", "USERS amy bob", "MSG bob amy T only to you"]
    );
}
