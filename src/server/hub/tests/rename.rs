//! `NICK`: a user takes another name; its rooms and operator status go
//! with it, everyone else sees the old name leave and the new one come.

use super::harness::*;

#[test]
fn a_rename_moves_rooms_and_operator_status_and_is_told_as_left_and_joined() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    let bob = h.login("bob");
    h.send(amy, "JOIN #r\nTOPIC #r hi\n");
    h.send(bob, "JOIN #r\n");
    h.flush();
    h.lines(amy);
    h.lines(bob);
    h.send(amy, "NICK Ann\nWHO #r\n");
    h.flush();
    assert_eq!(h.lines(amy), ["OK NICK Ann", "USERS #r @Ann bob"]);
    assert_eq!(h.lines(bob), ["LEFT amy T renamed to Ann", "JOINED Ann T"]);
    assert!(h.hub.rooms.is_operator("ann", "#r"));
    assert!(!h.hub.rooms.has_rooms("amy"));
    // The new name speaks in the room; the old one is free again.
    h.send(amy, "MSG #r as ann\n");
    h.flush();
    assert_eq!(h.lines(bob), ["MSG Ann #r T as ann"]);
    let again = h.login("amy");
    h.send(again, "WHO #r\n");
    h.flush();
    assert_eq!(h.lines(again), ["ERR 403 not in #r"]);
}

#[test]
fn a_name_online_in_a_room_or_holding_mail_is_not_taken() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    let bob = h.login("bob");
    let cat = h.login("cat");
    h.send(cat, "JOIN #r\nMSG dan hello\n");
    h.flush();
    // dan is unknown: a name mail can be held for only once seen.
    h.lines(cat);
    let dan = h.login("dan");
    h.send(dan, "QUIT\n");
    h.flush();
    h.send(cat, "MSG dan held\nQUIT\n");
    h.flush();
    h.lines(amy);
    h.send(amy, "NICK BOB\nNICK cat\nNICK dan\nNICK amy\nNICK a\\b\n");
    h.flush();
    let got = h.lines(amy);
    assert_eq!(
        got[..4],
        [
            "ERR 409 BOB is already online",
            "ERR 409 cat is taken (it is in rooms or has mail held): pick another",
            "ERR 409 dan is taken (it is in rooms or has mail held): pick another",
            "ERR 409 amy is your name",
        ]
    );
    assert!(got[4].starts_with("ERR 400 "), "{got:?}");
    let _ = bob;
}

#[test]
fn invitations_follow_a_rename_and_a_quit_cannot_pass_for_one() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    let bob = h.login("bob");
    h.send(amy, "JOIN #r\nMODE #r +i\nINVITE bob #r\nINVITE bob #r\n");
    h.flush();
    // Invited again: told again, though nothing new is kept.
    let told = h.lines(bob);
    assert_eq!(told, ["INVITE amy bob #r T", "INVITE amy bob #r T"]);
    h.lines(amy);
    h.send(bob, "NICK Rob\nJOIN #r\n");
    h.flush();
    assert_eq!(h.lines(bob), ["OK NICK Rob", "JOIN Rob #r T"]);
    h.lines(amy);
    h.send(bob, "QUIT renamed to amy\n");
    h.flush();
    assert_eq!(h.lines(amy), ["LEFT Rob T quit: renamed to amy"]);
}

#[test]
fn a_name_a_ban_silences_is_not_changed() {
    let mut h = Harness::new();
    let amy = h.login("amy");
    let bob = h.login("bob");
    h.send(amy, "JOIN #r\n");
    h.send(bob, "JOIN #r\n");
    h.flush();
    h.send(amy, "MODE #r +b bob\n");
    h.flush();
    h.lines(bob);
    h.send(bob, "NICK nice\n");
    h.flush();
    assert_eq!(
        h.lines(bob),
        ["ERR 403 you are banned in #r (+b): no new name while banned"]
    );
}

#[test]
fn a_voiced_members_voice_moves_with_its_name() {
    let mut h = Harness::new();
    let k = h.members("#r", &["amy", "bob"]);
    let (amy, bob) = (k[0], k[1]);
    h.send(amy, "MODE #r +mv bob\n");
    h.flush();
    h.lines(amy);
    h.lines(bob);
    h.send(bob, "NICK Bobby\nWHO #r\nMSG #r still voiced\n");
    h.flush();
    assert_eq!(h.lines(bob), ["OK NICK Bobby", "USERS #r +Bobby @amy"]);
    assert!(h.hub.rooms.is_voiced("bobby", "#r"));
    assert!(h
        .lines(amy)
        .contains(&"MSG Bobby #r T still voiced".to_owned()));
}
