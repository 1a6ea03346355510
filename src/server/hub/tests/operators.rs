//! Room operators, topics and modes on a single server: who may do what,
//! who is told, and what a join is refused for.

use super::harness::*;

#[test]
fn the_creator_is_operator_and_sets_the_topic_others_may_not_under_t() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy", "bob"]);
    let (amy, bob) = (k[0], k[1]);
    h.send(bob, "WHO #r\nTOPIC #r mine\nTOPIC #r\nMODE #r\n");
    assert_eq!(
        h.turn_for(bob),
        [
            "USERS #r @amy bob",
            "ERR 403 you are not an operator of #r (+t: operators set the topic)",
            "TOPIC #r",
            "MODES #r +nt",
        ]
    );
    h.send(amy, "TOPIC #r hello\\nworld\n");
    h.flush();
    assert_eq!(h.lines(bob), ["TOPIC #r amy T hello\\nworld"]);
    assert_eq!(h.lines(amy), ["TOPIC #r amy T hello\\nworld"]);
    h.send(amy, "MODE #r -t\n");
    h.flush();
    assert_eq!(h.lines(bob), ["MODE #r amy T -t"]);
    h.lines(amy);
    h.send(bob, "TOPIC #r \n");
    h.flush();
    assert_eq!(h.lines(amy), ["TOPIC #r bob T"], "cleared");
    // A joiner is told the topic after its JOIN.
    h.send(bob, "TOPIC #r set\n");
    let cat = h.login("cat");
    h.send(cat, "JOIN #r\n");
    h.flush();
    assert_eq!(h.lines(cat), ["JOIN cat #r T", "TOPIC #r bob T set"]);
}

#[test]
fn only_operators_change_modes_and_kick_and_the_kicked_is_out() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy", "bob", "cat"]);
    let (amy, bob, cat) = (k[0], k[1], k[2]);
    h.send(bob, "MODE #r +m\nKICK #r cat\nMODE #r +o ghost\n");
    assert_eq!(
        h.turn_for(bob),
        [
            "ERR 403 you are not an operator of #r",
            "ERR 403 you are not an operator of #r",
            "ERR 403 you are not an operator of #r",
        ]
    );
    h.send(amy, "MODE #r +o ghost\nMODE #r +x\nKICK #r ghost\n");
    assert_eq!(
        h.turn_for(amy),
        [
            "ERR 404 ghost is not in #r",
            "ERR 400 x is not a mode evchat knows: o v t m i k l b n",
            "ERR 404 ghost is not in #r",
        ]
    );
    h.send(amy, "KICK #r CAT flooding\n");
    h.flush();
    for key in [amy, bob, cat] {
        assert_eq!(h.lines(key), ["KICK #r cat amy T flooding"]);
    }
    assert!(!h.hub.rooms.is_member("cat", "#r"));
    h.send(cat, "MSG #r back?\n");
    h.flush();
    assert_eq!(h.lines(cat), ["ERR 403 not in #r; nothing was sent"]);
}

#[test]
fn moderated_rooms_let_only_operators_speak_and_bans_silence_and_keep_out() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy", "bob"]);
    let (amy, bob) = (k[0], k[1]);
    h.send(amy, "MODE #r +mb cat\n");
    h.flush();
    assert_eq!(h.lines(bob), ["MODE #r amy T +mb cat!*@*"]);
    h.lines(amy);
    h.send(bob, "MSG #r hi\n");
    h.flush();
    assert_eq!(
        h.lines(bob),
        ["ERR 403 #r is moderated (+m): only its operators and voiced members speak; nothing was sent"]
    );
    h.send(amy, "MODE #r -m+o bob\nMODE #r +b\n");
    h.flush();
    assert_eq!(h.lines(amy), ["MODE #r amy T +o-m bob", "BANS #r cat!*@*"]);
    let cat = h.login("Cat");
    h.send(cat, "JOIN #r\n");
    h.flush();
    assert_eq!(
        h.lines(cat),
        ["ERR 403 you are banned from the room (+b): not joined #r"]
    );
    h.lines(amy);
    h.send(bob, "MODE #r +b b*\nMSG #r still\n");
    h.flush();
    // An operator is never silenced by a ban.
    assert_eq!(
        h.lines(amy),
        ["MODE #r bob T +b b*!*@*", "MSG bob #r T still"]
    );
}

#[test]
fn invite_only_keys_and_limits_refuse_a_join_and_an_invitation_lets_one_in() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy"]);
    let amy = k[0];
    let bob = h.login("bob");
    let cat = h.login("cat");
    h.lines(amy);
    h.lines(bob);
    h.send(amy, "MODE #r +ikl s3cret 2\n");
    h.flush();
    assert_eq!(h.lines(amy), ["MODE #r amy T +ikl s3cret 2"]);
    h.send(bob, "JOIN #r\nMODE #r\n");
    h.flush();
    assert_eq!(
        h.lines(bob),
        [
            "ERR 403 the room is invite only (+i): not joined #r",
            "MODES #r +ntikl * 2",
        ]
    );
    h.send(amy, "MODE #r -i\n");
    h.send(bob, "JOIN #r wrong\nJOIN #r s3cret\n");
    h.flush();
    assert_eq!(
        h.lines(bob),
        [
            "ERR 403 the room needs its key (+k): JOIN <room> <key>: not joined #r",
            "JOIN bob #r T",
        ]
    );
    h.send(cat, "JOIN #r s3cret\n");
    h.flush();
    assert_eq!(
        h.lines(cat),
        ["ERR 507 the room is full (+l 2): not joined #r"]
    );
    // An operator's invitation passes the key and the limit, and is used
    // up.
    h.lines(amy);
    h.send(amy, "INVITE cat #r\nINVITE nobody #r\n");
    h.flush();
    assert_eq!(
        h.lines(amy),
        ["INVITE amy cat #r T", "ERR 404 no such user: nobody"]
    );
    assert_eq!(h.lines(cat), ["INVITE amy cat #r T"]);
    h.send(cat, "JOIN #r\n");
    h.flush();
    assert_eq!(h.lines(cat), ["JOIN cat #r T"]);
    assert!(h.hub.rooms.settings("#r").unwrap().invited.is_empty());
}

#[test]
fn when_the_last_operator_leaves_the_longest_standing_member_is_one() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy", "bob", "cat"]);
    let (amy, bob, cat) = (k[0], k[1], k[2]);
    // The server's promotion is its own, whoever changed the room last.
    h.send(amy, "TOPIC #r t\nPART #r\n");
    h.flush();
    assert_eq!(
        h.lines(cat),
        ["TOPIC #r amy T t", "PART amy #r T", "MODE #r * T +o bob"]
    );
    h.lines(amy);
    h.lines(bob);
    // Kicked, an operator's status goes untold with it.
    h.send(bob, "MODE #r +o cat\n");
    h.flush();
    h.send(cat, "KICK #r bob\n");
    h.flush();
    assert_eq!(h.lines(cat), ["MODE #r bob T +o cat", "KICK #r bob cat T"]);
    assert!(h.hub.rooms.is_operator("cat", "#r"));
}

#[test]
fn a_ban_set_on_a_member_silences_it_until_lifted_and_only_operators_waive_keys() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy", "bob"]);
    let (amy, bob) = (k[0], k[1]);
    h.send(amy, "MODE #r +b b?b\n");
    h.flush();
    h.lines(amy);
    h.lines(bob);
    h.send(bob, "MSG #r hi\n");
    h.flush();
    assert_eq!(
        h.lines(bob),
        ["ERR 403 you are banned from #r (+b); nothing was sent"]
    );
    h.send(amy, "MODE #r -b+o b?b!*@* ghost\n");
    h.flush();
    assert_eq!(
        h.lines(amy),
        ["ERR 404 ghost is not in #r"],
        "nothing changed"
    );
    h.send(amy, "MODE #r -b+k-o b?b!*@* k ghost\n");
    h.flush();
    h.lines(amy);
    h.lines(bob);
    h.send(bob, "MSG #r back\n");
    h.flush();
    assert_eq!(h.lines(amy), ["MSG bob #r T back"]);
    // A member's invitation is told, not kept: the key still holds.
    let cat = h.login("cat");
    h.lines(amy);
    h.lines(bob);
    h.send(bob, "INVITE cat #r\n");
    h.flush();
    assert_eq!(h.lines(cat), ["INVITE bob cat #r T"]);
    h.send(cat, "JOIN #r\n");
    h.flush();
    assert_eq!(
        h.lines(cat),
        ["ERR 403 the room needs its key (+k): JOIN <room> <key>: not joined #r"]
    );
    assert!(h.hub.rooms.settings("#r").unwrap().invited.is_empty());
}

#[test]
fn a_voiced_member_speaks_under_m_until_devoiced_or_gone() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy", "bob", "cat"]);
    let (amy, bob, cat) = (k[0], k[1], k[2]);
    h.send(amy, "MODE #r +mv bob\nMODE #r +v ghost\n");
    h.flush();
    assert_eq!(
        h.lines(amy),
        ["MODE #r amy T +mv bob", "ERR 404 ghost is not in #r"]
    );
    h.lines(cat);
    h.send(bob, "MSG #r voiced\nWHO #r\n");
    h.send(cat, "MSG #r not\n");
    h.flush();
    let got = h.lines(bob);
    assert_eq!(got, ["MODE #r amy T +mv bob", "USERS #r @amy +bob cat"]);
    let got = h.lines(cat);
    assert!(got.contains(&"MSG bob #r T voiced".to_owned()), "{got:?}");
    assert!(
        got.iter().any(|l| l.starts_with("ERR 403 #r is moderated")),
        "{got:?}"
    );
    assert_eq!(h.lines(amy), ["MSG bob #r T voiced"]);
    // Only operators voice; and leaving ends it, as operator status.
    h.send(cat, "MODE #r +v cat\n");
    h.send(bob, "PART #r\nJOIN #r\nMSG #r back\n");
    h.flush();
    assert_eq!(h.lines(cat)[0], "ERR 403 you are not an operator of #r");
    let got = h.lines(bob);
    let refused = "ERR 403 #r is moderated (+m): only its operators and voiced members speak";
    assert!(got.last().unwrap().starts_with(refused), "{got:?}");
    assert_eq!(h.lines(amy), ["PART bob #r T", "JOIN bob #r T"]);
    h.send(amy, "MODE #r +v bob\nMODE #r -v bob\n");
    h.flush();
    assert_eq!(
        h.lines(amy),
        ["MODE #r amy T +v bob", "MODE #r amy T -v bob"]
    );
    // A member gives up its own voice; nobody else's.
    h.send(amy, "MODE #r +v bob\n");
    h.flush();
    h.send(bob, "MODE #r -v amy\nMODE #r -v bob\n");
    h.flush();
    let got = h.lines(bob);
    assert_eq!(
        got[got.len() - 2..],
        [
            "ERR 403 you are not an operator of #r",
            "MODE #r bob T -v bob"
        ],
        "{got:?}"
    );
}
