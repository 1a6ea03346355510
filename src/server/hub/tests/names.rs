//! Names are one name in any ASCII case, shown as first written: `Bob`
//! cannot log in beside `bob`, and whatever case a sender writes reaches
//! the one user, shown as that user's name is spelt.

use super::harness::*;
use crate::server::accounts::{AuthAnswer, AuthJob, AuthPort, Users};
use crate::server::hub::Hub;
use crate::server::journal::Journal;
use crate::server::store::Store;
use std::sync::{mpsc, Arc, RwLock};

#[test]
fn a_name_online_in_one_case_cannot_log_in_in_another() {
    let mut h = Harness::new();
    let bob = h.login("bob");
    let other = h.connect();
    h.send(other, "LOGIN BOB\nLOGIN Bob\n");
    let told = h.turn_for(other);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told.iter().all(|l| l.starts_with("ERR 409 ")), "{told:?}");
    assert_eq!(h.lines(bob), Vec::<String>::new(), "nobody joined");
    h.send(bob, "WHO\n");
    assert_eq!(h.turn_for(bob), ["USERS bob"]);
}

#[test]
fn a_message_to_a_name_in_any_case_reaches_it_once_shown_as_it_is_spelt() {
    let mut h = Harness::new();
    let bob = h.login("bob");
    let amy = h.login("Amy");
    h.lines(bob);
    h.send(amy, "MSG BOB hi\nMSG bOb,BOB,amy,bob two\n");
    h.flush();
    assert_eq!(
        h.lines(bob),
        ["MSG Amy bob T hi", "MSG Amy bob,Amy T two"],
        "once each, as the recipients are spelt"
    );
    assert_eq!(h.lines(amy), ["MSG Amy bob,Amy T two"]);
}

#[test]
fn a_name_known_in_one_case_logs_in_as_first_written_and_gets_its_mail() {
    let mut h = Harness::new();
    h.visit("Bob");
    let amy = h.login("amy");
    h.send(amy, "MSG bob held\nMSG BOB,bob again\n");
    h.flush();
    assert_eq!(h.hub.store.held(), 2, "one mailbox");
    assert_eq!(h.hub.store.known_names(), 2);
    let bob = h.connect();
    h.send(bob, "LOGIN BOB\n");
    assert_eq!(
        h.turn_for(bob),
        [
            "OK LOGIN Bob",
            "MSG amy Bob T held",
            "MSG amy Bob T again",
            "PING 1"
        ]
    );
    assert_eq!(h.lines(amy), ["JOINED Bob T"]);
}

#[test]
fn a_room_member_is_one_name_in_any_case() {
    let mut h = Harness::new();
    let bob = h.login("Bob");
    let amy = h.login("amy");
    h.send(bob, "JOIN #r\n");
    h.send(amy, "JOIN #r\n");
    h.flush();
    h.lines(bob);
    h.lines(amy);
    // Named and a member: it gets the message once.
    h.send(amy, "MSG #r,bob,BOB hi\nWHO #r\n");
    h.flush();
    assert_eq!(h.lines(bob), ["MSG amy #r,Bob T hi"]);
    assert_eq!(h.lines(amy), ["USERS #r @Bob amy"]);
    assert!(h.hub.rooms.is_member("BOB", "#R"));
}

/// A hub with the accounts `users`, whose checks come out of the receiver.
fn with_accounts(users: Users) -> (Harness, mpsc::Receiver<AuthJob>) {
    let (requests, checks) = mpsc::channel();
    let auth = AuthPort {
        requests,
        users: Arc::new(RwLock::new(Arc::new(users))),
        optional: false,
    };
    let l = limits();
    let store = Store::new(l.mail);
    let h = Harness {
        hub: Hub::with_store(l, store, Journal::disabled(), Some(auth)),
        ..Harness::new()
    };
    (h, checks)
}

/// Answers the next password check as the password thread would when the
/// password is right: with the account's spelling.
fn pass(h: &mut Harness, checks: &mpsc::Receiver<AuthJob>, spelt: &str) {
    pass_with(h, checks, spelt, None);
}

/// As [`pass`], the password right for the account's `hash`, if given.
fn pass_with(h: &mut Harness, checks: &mpsc::Receiver<AuthJob>, spelt: &str, hash: Option<&str>) {
    let Ok(AuthJob::Check(request)) = checks.try_recv() else {
        panic!("no check asked for");
    };
    h.hub.auth_done(AuthAnswer {
        key: request.key,
        serial: request.serial,
        peer: request.peer,
        name: spelt.to_owned(),
        ok: true,
        hash: hash.map(str::to_owned),
    });
}

#[test]
fn mail_for_an_account_in_another_case_is_held_for_the_account_as_spelt() {
    let mut users = Users::default();
    users.set("bob", "x".into());
    users.set("amy", "x".into());
    let (mut h, checks) = with_accounts(users);
    let amy = h.connect();
    h.send(amy, "LOGIN amy pw\n");
    pass(&mut h, &checks, "amy");
    h.send(amy, "MSG BOB never logged in\n");
    h.flush();
    assert_eq!(h.hub.store.known_as("bob").as_deref(), Some("bob"));
    // A right password in another case logs in as the account, and takes
    // over a session of it.
    let bob = h.connect();
    h.send(bob, "LOGIN BOB pw\n");
    pass(&mut h, &checks, "bob");
    assert_eq!(
        h.turn_for(bob),
        ["OK LOGIN bob", "MSG amy bob T never logged in", "PING 1"]
    );
    let again = h.connect();
    h.send(again, "LOGIN Bob pw\n");
    pass(&mut h, &checks, "bob");
    assert_eq!(
        h.turn_for(again),
        ["OK LOGIN bob", "MSG amy bob T never logged in", "PING 2"]
    );
    let old = h.lines(bob);
    assert!(
        old.iter().any(|l| l.starts_with("ERR 409 replaced")),
        "{old:?}"
    );
    h.lines(amy);
    h.send(amy, "WHO\n");
    assert_eq!(h.turn_for(amy), ["USERS amy bob"]);
}

#[test]
fn an_auth_proof_is_good_once_and_only_while_the_account_keeps_its_password() {
    let mut users = Users::default();
    users.set("bob", "h1".into());
    let (mut h, checks) = with_accounts(users);
    // Proved, then LOGIN without a password (in any case, with a PASS-like
    // password beside it): in.
    let first = h.connect();
    h.send(first, "AUTH bob right\n");
    pass_with(&mut h, &checks, "bob", Some("h1"));
    assert_eq!(h.turn_for(first), ["OK AUTH bob"]);
    h.send(first, "LOGIN BOB some bouncer password\n");
    assert_eq!(h.turn_for(first)[0], "OK LOGIN bob");
    // Proved, then the password changed: the proof is worth nothing, and
    // it was used up by trying.
    let second = h.connect();
    h.send(second, "AUTH bob right\n");
    pass_with(&mut h, &checks, "bob", Some("h1"));
    assert_eq!(h.turn_for(second), ["OK AUTH bob"]);
    let mut changed = Users::default();
    changed.set("bob", "h2".into());
    let auth = h.hub.auth.as_ref().unwrap();
    *auth.users.write().unwrap() = Arc::new(changed);
    h.send(second, "LOGIN bob\n");
    assert_eq!(
        h.turn_for(second),
        ["ERR 401 this server needs a password: LOGIN <name> <password>"]
    );
    // Nor for another name than the one proved.
    let third = h.connect();
    h.send(third, "AUTH bob right\n");
    pass_with(&mut h, &checks, "bob", Some("h2"));
    h.turn_for(third);
    h.send(third, "LOGIN amy\n");
    assert_eq!(
        h.turn_for(third)[0],
        "ERR 401 this server needs a password: LOGIN <name> <password>"
    );
    assert!(
        checks.try_recv().is_err(),
        "no password was checked for them"
    );
}
