//! Rooms in the hub: who gets what, in which order, what a room remembers
//! and what a member who was away is sent at login.

use super::harness::*;

fn quit(h: &mut Harness, key: usize) {
    h.send(key, "QUIT\n");
    h.flush();
    h.hub.peer_closed(key);
    h.reap();
}

#[test]
fn a_join_is_told_to_every_member_and_the_joiner_gets_the_history() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    h.send(amy, "JOIN #Rust\nMSG #rust one\nMSG #RUST two\n");
    assert_eq!(
        h.turn_for(amy),
        ["JOIN amy #Rust T"],
        "the sender is not sent its own room message"
    );
    let bob = h.login("bob");
    h.lines(amy);
    h.send(bob, "JOIN #rust\nPING x\n");
    assert_eq!(
        h.turn_for(bob),
        [
            "JOIN bob #Rust T",
            "MSG amy #Rust T one",
            "MSG amy #Rust T two",
            "PONG x"
        ]
    );
    assert_eq!(h.lines(amy), ["JOIN bob #Rust T"]);
    // Joining again answers again, to the joiner alone, and repeats
    // nothing.
    h.send(bob, "JOIN #RUST\n");
    assert_eq!(h.turn_for(bob), ["JOIN bob #Rust T"]);
    assert_eq!(h.lines(amy), Vec::<String>::new());
}

#[test]
fn a_room_message_reaches_the_union_of_names_and_members_once_each() {
    let mut h = Harness::new();
    let keys = h.members("#a", &["amy", "bob", "cat"]);
    let (amy, bob, cat) = (keys[0], keys[1], keys[2]);
    let dan = h.login("dan");
    h.send(amy, "JOIN #b\n");
    h.send(bob, "JOIN #b\n");
    h.flush();
    for k in [amy, bob, cat, dan] {
        h.lines(k);
    }
    h.send(amy, "MSG #a,bob,#B,dan,#A,amy hi\n");
    h.flush();
    let sent = "MSG amy #a,bob,#b,dan,amy T hi";
    for k in [amy, bob, cat, dan] {
        assert_eq!(h.lines(k), [sent], "key {k}");
    }
}

#[test]
fn outsiders_and_unknown_names_get_403_and_404_and_nobody_gets_it() {
    let mut h = Harness::new();
    let keys = h.members("#a", &["amy", "bob"]);
    let eve = h.login("eve");
    h.lines(keys[0]);
    h.lines(keys[1]);
    h.send(eve, "MSG #a,amy psst\nMSG #nowhere x\nWHO #a\nPART #a\n");
    assert_eq!(
        h.turn_for(eve),
        [
            "ERR 403 not in #a; nothing was sent",
            "ERR 403 not in #nowhere; nothing was sent",
            "ERR 403 not in #a",
            "ERR 403 not in #a"
        ]
    );
    h.send(keys[0], "MSG #a,zed x\nJOIN bad\n");
    assert_eq!(
        h.turn_for(keys[0]),
        [
            "ERR 404 no such user: zed; nothing was sent",
            "ERR 400 bad room: rooms are # and 1-32 characters of A-Z a-z 0-9 _ -"
        ]
    );
    assert_eq!(h.lines(keys[1]), Vec::<String>::new());
    assert_eq!(h.hub.rooms.history("#a").count(), 0);
}

#[test]
fn who_rooms_and_part() {
    let mut h = Harness::new();
    let keys = h.members("#a", &["bob", "amy", "cat"]);
    let (bob, amy, cat) = (keys[0], keys[1], keys[2]);
    quit(&mut h, cat);
    h.lines(amy);
    h.send(amy, "JOIN #z\nWHO #A\nROOMS\n");
    h.flush();
    assert_eq!(
        h.lines(amy),
        ["JOIN amy #z T", "USERS #a amy @bob", "ROOMS #a #z"]
    );
    h.lines(bob);
    h.send(amy, "PART #a see you\n");
    h.flush();
    assert_eq!(h.lines(amy), ["PART amy #a T see you"]);
    assert_eq!(h.lines(bob), ["PART amy #a T see you"]);
    h.send(amy, "ROOMS\nPART #a\n");
    assert_eq!(h.turn_for(amy), ["ROOMS #z", "ERR 403 not in #a"]);
    // The last member goes: so does the room, with its history.
    h.send(amy, "MSG #z kept?\nPART #z\nJOIN #Z\nPING p\n");
    assert_eq!(
        h.turn_for(amy),
        ["PART amy #z T", "JOIN amy #Z T", "PONG p"]
    );
    let stats = h.hub.stats_line();
    assert!(stats.contains(" rooms=2 memberships=3 "), "{stats}");
}

#[test]
fn a_member_away_gets_what_was_said_at_login_once_and_again_until_acknowledged() {
    let mut h = Harness::new();
    let keys = h.members("#a", &["amy", "bob"]);
    let (amy, bob) = (keys[0], keys[1]);
    h.send(bob, "JOIN #b\n");
    h.flush();
    h.lines(amy);
    quit(&mut h, bob);
    h.lines(amy);
    h.send(amy, "JOIN #b\nMSG #a one\nMSG #a,#b,bob both\nMSG #b two\n");
    h.flush();
    // bob logs in: held mail (the message named him too), then each room
    // after its JOIN, then one PING; nothing twice.
    let bob = h.connect();
    h.send(bob, "LOGIN bob\n");
    let lines = h.turn_for(bob);
    assert_eq!(
        lines[..6],
        [
            "OK LOGIN bob",
            "MSG amy #a,#b,bob T both",
            "JOIN bob #a T",
            "MSG amy #a T one",
            "JOIN bob #b T",
            "MSG amy #b T two",
        ]
    );
    let ping = &lines[6];
    assert!(ping.starts_with("PING "), "{lines:?}");
    assert_eq!(lines.len(), 7);
    // Not acknowledged: it all comes again at the next login.
    quit(&mut h, bob);
    let bob = h.connect();
    h.send(bob, "LOGIN bob\n");
    let again = h.turn_for(bob);
    assert_eq!(again.len(), 7, "{again:?}");
    h.send(bob, &format!("PONG {}\n", &again[6][5..]));
    h.flush();
    quit(&mut h, bob);
    // Acknowledged: only the JOINs and what was said since.
    h.send(amy, "MSG #b three\n");
    h.flush();
    let bob = h.connect();
    h.send(bob, "LOGIN bob\n");
    let lines = h.turn_for(bob);
    assert_eq!(
        lines[..4],
        [
            "OK LOGIN bob",
            "JOIN bob #a T",
            "JOIN bob #b T",
            "MSG amy #b T three"
        ]
    );
}

#[test]
fn live_room_messages_follow_the_catch_up() {
    let mut h = Harness::new();
    let keys = h.members("#a", &["amy", "bob"]);
    quit(&mut h, keys[1]);
    h.send(keys[0], "MSG #a said while away\n");
    h.flush();
    let bob = h.connect();
    h.send(bob, "LOGIN bob\n");
    h.send(keys[0], "MSG #a live\n");
    let lines = h.turn_for(bob);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("MSG"))
            .collect::<Vec<_>>(),
        ["MSG amy #a T said while away", "MSG amy #a T live"]
    );
}

#[test]
fn limits_refuse_a_join_with_507() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    for i in 0..5 {
        h.send(amy, &format!("JOIN #r{i}\n"));
    }
    h.send(amy, "JOIN #r5\n");
    let lines = h.turn_for(amy);
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            "ERR 507 you are in as many rooms as you may (5, --max-rooms-per-user): not joined #r5"
        )
    );
    h.send(amy, "ROOMS\n");
    assert_eq!(h.turn_for(amy), ["ROOMS #r0 #r1 #r2 #r3 #r4"]);
}

#[test]
fn a_long_catch_up_comes_a_window_at_a_time_and_live_messages_after_their_room() {
    let mut limits = limits();
    limits.max_queue = 16 << 10; // windows of 2 KiB
    let mut h = Harness::with(limits, crate::server::journal::Journal::disabled());
    let amy = h.login("amy");
    let bob = h.login("bob");
    for room in ["#a", "#b", "#c"] {
        h.send(amy, &format!("JOIN {room}\n"));
        h.send(bob, &format!("JOIN {room}\n"));
    }
    h.flush();
    h.lines(amy);
    quit(&mut h, bob);
    let text = "x".repeat(800);
    for room in ["#a", "#b", "#c"] {
        for i in 0..3 {
            h.send(amy, &format!("MSG {room} {i}{text}\n"));
        }
    }
    h.flush();
    let bob = h.connect();
    h.send(bob, "LOGIN bob\n");
    let first = h.turn_for(bob);
    assert_eq!(first[1], "JOIN bob #a T", "{first:?}");
    assert!(first.iter().all(|l| !l.contains(" #b ")), "{first:?}");
    let ping = first.last().unwrap().clone();
    assert!(ping.starts_with("PING "), "{first:?}");
    // Said in #c before bob has its catch-up: it comes with the catch-up,
    // once, in order — not live ahead of it.
    h.send(amy, "MSG #c late\n");
    h.send(amy, "MSG #a live\n");
    h.flush();
    assert_eq!(h.lines(bob), ["MSG amy #a T live"]);
    let mut rest = Vec::new();
    let mut ping = ping;
    while let Some(token) = ping.strip_prefix("PING ") {
        h.send(bob, &format!("PONG {token}\n"));
        let window = h.turn_for(bob);
        let Some(last) = window.last().cloned() else {
            break;
        };
        rest.extend(window);
        ping = last;
    }
    let c: Vec<&String> = rest
        .iter()
        .filter(|l| l.starts_with("MSG amy #c"))
        .collect();
    assert_eq!(c.len(), 4, "{rest:?}");
    assert_eq!(c[3], "MSG amy #c T late");
    assert!(rest.iter().any(|l| l == "JOIN bob #b T"));
}

#[test]
fn a_room_whose_history_is_larger_than_a_window_is_caught_up_over_several() {
    let mut limits = limits();
    limits.max_queue = 16 << 10; // windows of 2 KiB
    let mut h = Harness::with(limits, crate::server::journal::Journal::disabled());
    let keys = h.members("#a", &["amy", "bob"]);
    quit(&mut h, keys[1]);
    let text = "y".repeat(800);
    for i in 0..4 {
        h.send(keys[0], &format!("MSG #a {i}{text}\n"));
    }
    h.flush();
    let bob = h.connect();
    h.send(bob, "LOGIN bob\n");
    let mut got = h.turn_for(bob);
    let first = got.iter().filter(|l| l.starts_with("MSG")).count();
    assert!(first < 4, "one window held all of #a: {first}");
    while let Some(token) = got
        .last()
        .and_then(|l| l.strip_prefix("PING "))
        .map(str::to_owned)
    {
        h.send(bob, &format!("PONG {token}\n"));
        let more = h.turn_for(bob);
        if more.is_empty() {
            break;
        }
        got.extend(more);
    }
    let said: Vec<String> = got
        .iter()
        .filter(|l| l.starts_with("MSG"))
        .map(|l| l[..14].to_owned())
        .collect();
    assert_eq!(
        said,
        [
            "MSG amy #a T 0",
            "MSG amy #a T 1",
            "MSG amy #a T 2",
            "MSG amy #a T 3"
        ]
    );
    assert_eq!(got.iter().filter(|l| l.starts_with("JOIN")).count(), 1);
}

#[test]
fn part_star_leaves_every_room_each_told_as_its_own_part() {
    let mut h = Harness::new();
    let keys = h.members("#a", &["amy", "bob"]);
    let (amy, bob) = (keys[0], keys[1]);
    h.send(amy, "JOIN #b\n");
    h.send(bob, "JOIN #b\n");
    h.flush();
    h.lines(amy);
    h.lines(bob);
    h.send(amy, "PART * bye all\nROOMS\n");
    h.flush();
    assert_eq!(
        h.lines(bob),
        [
            "PART amy #a T bye all",
            "MODE #a * T +o bob",
            "PART amy #b T bye all",
            "MODE #b * T +o bob",
        ]
    );
    assert_eq!(
        h.lines(amy),
        ["PART amy #a T bye all", "PART amy #b T bye all", "ROOMS"]
    );
    // In no room, it does nothing.
    h.send(amy, "PART *\n");
    h.flush();
    assert!(h.lines(amy).is_empty());
}
