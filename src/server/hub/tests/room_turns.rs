//! A turn's room messages to many rooms, interleaved: one seal for all of
//! them, each span charged by the members it reaches, and every member
//! still sees them in the order they were said.

use super::harness::*;

/// A harness whose users may be in `rooms` rooms each, of as many.
fn with_rooms(rooms: usize) -> Harness {
    let mut limits = limits();
    limits.rooms.max_rooms = rooms;
    limits.rooms.per_user = rooms;
    limits.rooms.max_names = 10_000;
    limits.mail.max_known = 10_000;
    Harness::with(limits, crate::server::journal::Journal::disabled())
}

/// Has each of `keys` join `room`, and reads what that sent everyone.
fn join(h: &mut Harness, room: &str, keys: &[usize]) {
    for &k in keys {
        h.send(k, &format!("JOIN {room}\n"));
    }
    h.flush();
}

#[test]
fn a_member_of_several_rooms_gets_a_turns_frames_in_the_order_said() {
    let mut h = with_rooms(5);
    let [amy, bob, cat, dan] = ["amy", "bob", "cat", "dan"].map(|n| h.login(n));
    join(&mut h, "#a", &[amy, bob, dan]);
    join(&mut h, "#b", &[amy, cat, dan]);
    for k in [amy, bob, cat, dan] {
        h.lines(k);
    }
    // One turn: two authors, two rooms, interleaved.
    h.send(amy, "MSG #a 1\nMSG #b 2\nMSG #a 3\n");
    h.send(dan, "MSG #b 4\nMSG #a 5\n");
    h.send(amy, "MSG #b 6\n");
    h.flush();
    let said = |list: &[(&str, &str, &str)]| -> Vec<String> {
        list.iter()
            .map(|(from, room, text)| format!("MSG {from} {room} T {text}"))
            .collect()
    };
    assert_eq!(
        h.lines(dan),
        said(&[
            ("amy", "#a", "1"),
            ("amy", "#b", "2"),
            ("amy", "#a", "3"),
            ("amy", "#b", "6")
        ])
    );
    assert_eq!(
        h.lines(amy),
        said(&[("dan", "#b", "4"), ("dan", "#a", "5")])
    );
    assert_eq!(
        h.lines(bob),
        said(&[("amy", "#a", "1"), ("amy", "#a", "3"), ("dan", "#a", "5")])
    );
    assert_eq!(
        h.lines(cat),
        said(&[("amy", "#b", "2"), ("dan", "#b", "4"), ("amy", "#b", "6")])
    );
    // A broadcast between room messages comes between them.
    h.send(bob, "MSG #a 7\nSAY 8\nMSG #a 9\n");
    h.flush();
    let amy_got = h.lines(amy);
    assert_eq!(amy_got.len(), 3, "{amy_got:?}");
    assert!(amy_got[0].ends_with(" 7") && amy_got[1].starts_with("SAY bob "));
    assert!(amy_got[2].ends_with(" 9"), "{amy_got:?}");
}

#[test]
fn interleaved_small_rooms_are_sealed_once_a_turn_and_charged_their_members() {
    // 250 rooms of two — the publisher and one user each — among 300
    // users online. Sealing at each change of room, charged one unit per
    // user online, the publisher's 250 messages of one read cost 75,000
    // units, past a turn's budget: the turn ended after about 200 of them.
    const ROOMS: usize = 250;
    let mut h = with_rooms(ROOMS);
    let publisher = h.login("pub");
    let users: Vec<usize> = (0..300).map(|i| h.login(&format!("u{i}"))).collect();
    for (r, &user) in users.iter().take(ROOMS).enumerate() {
        join(&mut h, &format!("#r{r}"), &[publisher, user]);
    }
    for &k in users.iter().chain([&publisher]) {
        h.lines(k);
    }
    let read: String = (0..ROOMS)
        .map(|r| format!("MSG #r{r} hello {r}\n"))
        .collect();
    let seals = h.hub.batch.seals;
    h.send(publisher, &read);
    assert!(
        !h.hub.has_unprocessed(publisher),
        "the publisher's read did not fit its turn's budget"
    );
    h.flush();
    assert_eq!(h.hub.batch.seals - seals, 1, "one seal for the turn");
    for (r, &user) in users.iter().take(ROOMS).enumerate() {
        assert_eq!(h.lines(user), [format!("MSG pub #r{r} T hello {r}")]);
    }
}
