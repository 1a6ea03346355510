use super::*;

fn name(n: &str) -> Rc<str> {
    Rc::from(n)
}

fn frame(text: &str) -> Rc<[u8]> {
    Rc::from(text.as_bytes())
}

fn texts<'a>(said: impl Iterator<Item = &'a Said>) -> Vec<String> {
    said.map(|s| String::from_utf8_lossy(&s.frame).into_owned())
        .collect()
}

#[test]
fn names_fold_case_and_keep_the_creators_spelling() {
    let mut rooms = Rooms::new(RoomLimits::default());
    let (amy, bob) = (name("amy"), name("bob"));
    let made = rooms.join(&amy, "#Rust", Some(1)).unwrap();
    assert_eq!(
        made,
        Joined::New {
            room: name("#Rust"),
            created: true
        }
    );
    let second = rooms.join(&bob, "#rust", None).unwrap();
    assert_eq!(
        second,
        Joined::New {
            room: name("#Rust"),
            created: false
        }
    );
    assert_eq!(
        rooms.join(&bob, "#RUST", None).unwrap(),
        Joined::Already(name("#Rust"))
    );
    assert_eq!((rooms.len(), rooms.memberships()), (1, 2));
    assert!(rooms.is_member("bob", "#rUST"));
    assert_eq!(rooms.online_keys("#rust"), [1]);
    assert_eq!(rooms.rooms_of("bob"), [name("#Rust")]);
}

#[test]
fn the_last_member_to_part_takes_the_room_and_its_history_away() {
    let mut rooms = Rooms::new(RoomLimits::default());
    let (amy, bob) = (name("amy"), name("bob"));
    rooms.join(&amy, "#a", Some(1)).unwrap();
    rooms.join(&bob, "#a", None).unwrap();
    rooms.said(&["#a"], &frame("x"));
    assert!(rooms.history_bytes() > 0);
    assert_eq!(rooms.part("carol", "#a", None), None);
    assert_eq!(rooms.part("amy", "#A", Some(1)), Some(name("#a")));
    assert_eq!(rooms.online_keys("#a"), [] as [usize; 0]);
    assert!(!rooms.has_rooms("amy"));
    assert_eq!(rooms.part("bob", "#a", None), Some(name("#a")));
    assert!(rooms.is_empty());
    assert_eq!((rooms.memberships(), rooms.history_bytes()), (0, 0));
    // Made again by someone else, spelt their way, remembering nothing.
    rooms.join(&bob, "#A", None).unwrap();
    assert_eq!(rooms.shown("#a"), Some(&name("#A")));
    assert_eq!(rooms.history("#a").count(), 0);
}

#[test]
fn limits_refuse_a_join_and_change_nothing() {
    let limits = RoomLimits {
        max_rooms: 2,
        per_user: 2,
        ..RoomLimits::default()
    };
    let mut rooms = Rooms::new(limits);
    let (amy, bob) = (name("amy"), name("bob"));
    rooms.join(&amy, "#a", None).unwrap();
    rooms.join(&amy, "#b", None).unwrap();
    assert_eq!(rooms.join(&bob, "#c", None), Err(JoinRefusal::Rooms(2)));
    assert_eq!(rooms.join(&amy, "#c", None), Err(JoinRefusal::Rooms(2)));
    rooms.join(&bob, "#a", None).unwrap();
    rooms.join(&bob, "#b", None).unwrap();
    rooms.part("amy", "#b", None);
    assert_eq!(rooms.join(&amy, "#b", None).map(|_| ()), Ok(()));
    let limits = RoomLimits {
        per_user: 1,
        ..RoomLimits::default()
    };
    let mut rooms = Rooms::new(limits);
    rooms.join(&amy, "#a", None).unwrap();
    assert_eq!(rooms.join(&amy, "#b", None), Err(JoinRefusal::PerUser(1)));
    assert_eq!((rooms.len(), rooms.memberships()), (1, 1));
    // Names in rooms are never forgotten: so they are bounded.
    let limits = RoomLimits {
        max_names: 1,
        ..RoomLimits::default()
    };
    let mut rooms = Rooms::new(limits);
    rooms.join(&amy, "#a", None).unwrap();
    rooms.join(&amy, "#b", None).unwrap();
    assert_eq!(rooms.join(&bob, "#a", None), Err(JoinRefusal::Names(1)));
    rooms.part("amy", "#a", None);
    rooms.part("amy", "#b", None);
    assert_eq!(rooms.join(&bob, "#a", None).map(|_| ()), Ok(()));
}

#[test]
fn a_room_remembers_its_last_messages_and_the_total_evicts_from_the_largest() {
    let limits = RoomLimits {
        history: 3,
        history_bytes: 6 * (SAID_BYTES + 2),
        ..RoomLimits::default()
    };
    let mut rooms = Rooms::new(limits);
    let amy = name("amy");
    rooms.join(&amy, "#big", None).unwrap();
    rooms.join(&amy, "#small", None).unwrap();
    for i in 0..5 {
        let (_, forgot) = rooms.said(&["#big"], &frame(&format!("big{i}")));
        let expected = if i < 3 {
            vec![]
        } else {
            vec![Forgot {
                room: name("#big"),
                count: 1,
            }]
        };
        assert_eq!(forgot, expected);
    }
    assert_eq!(texts(rooms.history("#big")), ["big2", "big3", "big4"]);
    rooms.said(&["#small"], &frame("s0"));
    rooms.said(&["#small"], &frame("s1"));
    // One message in both rooms: #big forgets its oldest past --history,
    // then, over the total, the largest history (#big's, with its longer
    // messages) loses its oldest again.
    let (_, forgot) = rooms.said(&["#big", "#small"], &frame("bs"));
    assert_eq!(
        forgot,
        [Forgot {
            room: name("#big"),
            count: 2
        }]
    );
    assert!(rooms.history_bytes() <= 6 * (SAID_BYTES + 2));
    assert_eq!(texts(rooms.history("#big")), ["big4", "bs"]);
    assert_eq!(texts(rooms.history("#small")), ["s0", "s1", "bs"]);
    assert_eq!(texts(rooms.said_since("#small", 6)), ["s1", "bs"]);
    // A replayed trim forgets the same.
    rooms.forget("#small", 2);
    assert_eq!(texts(rooms.history("#small")), ["bs"]);
}

#[test]
fn online_keys_follow_logins_and_logouts_of_members() {
    let mut rooms = Rooms::new(RoomLimits::default());
    let (amy, bob) = (name("amy"), name("bob"));
    rooms.join(&amy, "#a", None).unwrap();
    rooms.join(&amy, "#b", None).unwrap();
    rooms.join(&bob, "#a", Some(7)).unwrap();
    rooms.online_in("#A", 3);
    rooms.online_in("#b", 3);
    let mut keys = rooms.online_keys("#a").to_vec();
    keys.sort();
    assert_eq!(keys, [3, 7]);
    assert_eq!(rooms.online_keys("#b"), [3]);
    rooms.offline("amy", 3);
    assert_eq!(rooms.online_keys("#a"), [7]);
    assert_eq!(rooms.online_keys("#b"), [] as [usize; 0]);
}

#[test]
fn read_marks_are_kept_for_members_only() {
    let mut rooms = Rooms::new(RoomLimits::default());
    let amy = name("amy");
    rooms.set_read(&amy, 5);
    assert_eq!(rooms.read_up_to("amy"), 0);
    rooms.join(&amy, "#a", None).unwrap();
    rooms.set_read(&amy, 5);
    assert_eq!(rooms.read_up_to("amy"), 5);
    rooms.part("amy", "#a", None);
    assert_eq!(rooms.read_up_to("amy"), 0);
}

#[test]
fn settings_survive_a_rewrite_and_a_restart_and_go_with_their_room() {
    use crate::server::journal::record::{decode, Record};
    use crate::server::journal::replay_rooms::RoomsReplay;
    let s = Settings {
        ops: vec![name("bob")],
        moderated: true,
        topic: Some(settings::Topic {
            text: "hi\\nthere".into(),
            by: "amy".into(),
            time: "2026-12-07T10:00:00.000Z".into(),
        }),
        ..Settings::default()
    };
    let value = s.encode();
    let records = [
        Record::RoomJoined {
            name: "amy",
            room: "#r",
        },
        Record::RoomJoined {
            name: "bob",
            room: "#r",
        },
        Record::RoomSettings {
            room: "#r",
            value: &value,
        },
        Record::RoomJoined {
            name: "cat",
            room: "#x",
        },
        Record::RoomSettings {
            room: "#x",
            value: "f +ntm\n",
        },
        Record::RoomParted {
            name: "cat",
            room: "#x",
        },
        Record::RoomJoined {
            name: "dan",
            room: "#x",
        },
    ];
    let mut replay = RoomsReplay::default();
    for r in &records {
        replay.apply(r);
    }
    let image = replay.finish();
    // #x was gone, with its settings, before it was made again.
    assert_eq!(image.settings, [("#r".to_owned(), value.clone())]);
    // A rewrite holds the same.
    let mut bytes = Vec::new();
    image.write_to(&mut bytes).unwrap();
    let mut again = RoomsReplay::default();
    let mut at = 0;
    while at < bytes.len() {
        let (record, used) = decode(&bytes[at..]).unwrap();
        again.apply(&record);
        at += used;
    }
    let image = again.finish();
    assert_eq!(image.settings, [("#r".to_owned(), value)]);
    let rooms = Rooms::restore(image, RoomLimits::default());
    let r = rooms.settings("#r").unwrap();
    assert!(r.moderated && r.topic == s.topic);
    assert!(rooms.is_operator("bob", "#r") && !rooms.is_operator("amy", "#r"));
    let x = rooms.settings("#x").unwrap();
    assert!(!x.moderated && rooms.is_operator("dan", "#x"));
}

/// Attack finding: a journal replays the last settings value of a room
/// after all its memberships, so an operator who left (PART or KICK)
/// while another operator stayed — no new settings record, since the
/// value did not change — and who joined again is an operator again
/// after a restart.
#[test]
fn attack_an_operator_who_left_and_rejoined_is_not_one_again_after_a_restart() {
    use crate::server::journal::record::Record;
    use crate::server::journal::replay_rooms::RoomsReplay;
    let s = Settings {
        ops: vec![name("amy"), name("bob")],
        ..Settings::default()
    };
    let value = s.encode();
    let records = [
        Record::RoomJoined {
            name: "amy",
            room: "#r",
        },
        Record::RoomJoined {
            name: "bob",
            room: "#r",
        },
        Record::RoomSettings {
            room: "#r",
            value: &value,
        },
        // bob is kicked (or parts): amy stays an operator, so the hub
        // writes no new settings record.
        Record::RoomParted {
            name: "bob",
            room: "#r",
        },
        Record::RoomJoined {
            name: "bob",
            room: "#r",
        },
    ];
    let mut replay = RoomsReplay::default();
    for r in &records {
        replay.apply(r);
    }
    let rooms = Rooms::restore(replay.finish(), RoomLimits::default());
    assert!(rooms.is_operator("amy", "#r"));
    assert!(
        !rooms.is_operator("bob", "#r"),
        "bob left and came back as a plain member, yet is an operator after the restart"
    );
}

/// Attack finding: seniority after a restart is the members' byte order,
/// not their join order, so the wrong member becomes operator when the
/// last one leaves.
#[test]
fn attack_seniority_survives_a_restart() {
    use crate::server::journal::record::Record;
    use crate::server::journal::replay_rooms::RoomsReplay;
    let s = Settings {
        ops: vec![name("zed")],
        ..Settings::default()
    };
    let value = s.encode();
    let records = [
        Record::RoomJoined {
            name: "zed",
            room: "#s",
        },
        Record::RoomSettings {
            room: "#s",
            value: &value,
        },
        Record::RoomJoined {
            name: "bob",
            room: "#s",
        },
        Record::RoomJoined {
            name: "amy",
            room: "#s",
        },
    ];
    let mut replay = RoomsReplay::default();
    for r in &records {
        replay.apply(r);
    }
    let mut rooms = Rooms::restore(replay.finish(), RoomLimits::default());
    rooms.part("zed", "#s", None);
    assert!(
        rooms.is_operator("bob", "#s"),
        "bob joined before amy, so is the longest-standing member"
    );
}

/// Attack finding (NICK): a rename journaled as `RoomParted <old>` then
/// `RoomJoined <new>` lost, replayed, a sole member's room and its history,
/// and a member's seniority. It is one record, `N old new`, replayed in
/// place.
#[test]
fn attack_a_renamed_sole_member_keeps_the_rooms_history_after_a_restart() {
    use crate::server::journal::record::Record;
    use crate::server::journal::replay_rooms::RoomsReplay;
    let said = frame("MSG alice #solo T m1");
    let records = [
        Record::RoomJoined {
            name: "alice",
            room: "#solo",
        },
        Record::Said {
            seq: 1,
            rooms: vec!["#solo"],
            frame: &said,
        },
        // NICK zed
        Record::Renamed {
            old: "alice",
            new: "zed",
        },
    ];
    let mut replay = RoomsReplay::default();
    for r in &records {
        replay.apply(r);
    }
    let image = replay.finish();
    assert_eq!(image.said.len(), 1, "#solo's history is gone: {image:?}");
}

#[test]
fn attack_a_renamed_member_keeps_its_seniority_after_a_restart() {
    use crate::server::journal::record::Record;
    use crate::server::journal::replay_rooms::RoomsReplay;
    let records = [
        Record::RoomJoined {
            name: "alice",
            room: "#s",
        },
        Record::RoomJoined {
            name: "kate",
            room: "#s",
        },
        Record::RoomJoined {
            name: "bob",
            room: "#s",
        },
        // alice: NICK zed
        Record::Renamed {
            old: "alice",
            new: "zed",
        },
    ];
    let mut replay = RoomsReplay::default();
    for r in &records {
        replay.apply(r);
    }
    let image = replay.finish();
    assert_eq!(
        image.rooms,
        [(
            "#s".to_owned(),
            vec!["zed".to_owned(), "kate".to_owned(), "bob".to_owned()]
        )],
        "live, zed keeps alice's place (the longest-standing member)"
    );
}
