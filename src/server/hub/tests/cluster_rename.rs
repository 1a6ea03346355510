//! `NICK` on a cluster node, with a fake helper: the new name is claimed
//! first; once won everyone is told, the old claim is given back and the
//! rooms move in the bucket — joins *by a rename* that every node applies
//! as a move (no `PART`/`JOIN`), keeping place and operator status.

use super::cluster::Node;
use super::cluster_rooms::{member, TIME};
use crate::server::cluster::rooms::Membership;
use crate::server::cluster::{ClaimOutcome, FromCluster, MailAtClaim, ToCluster};

impl Node {
    /// Answers the one name claim the loop asked for with `outcome`;
    /// returns the other jobs.
    fn answer_claim(&mut self, outcome: impl FnOnce(&str) -> ClaimOutcome) -> Vec<ToCluster> {
        let mut others = Vec::new();
        let mut claim = None;
        for job in self.jobs() {
            match job {
                ToCluster::Claim {
                    key,
                    serial,
                    name,
                    mail,
                    over,
                } => {
                    assert_eq!((mail, over), (MailAtClaim::MustBeNone, None));
                    claim = Some((key, serial, name));
                }
                job => others.push(job),
            }
        }
        let (key, serial, name) = claim.expect("a claim was asked for");
        let outcome = outcome(&name);
        self.news(FromCluster::Claimed {
            key,
            serial,
            name,
            outcome,
        });
        others
    }

    /// Stores a rename's writes as the helper does, each at the next
    /// revision, and brings them back.
    fn store_rename(&mut self, jobs: Vec<ToCluster>, rev: &mut u64) {
        for job in jobs {
            let ToCluster::RoomRename {
                key,
                serial,
                old,
                new,
                time,
                rooms,
                ..
            } = job
            else {
                continue;
            };
            let last = *rev + 2 * rooms.len() as u64;
            self.news(FromCluster::RoomWritten {
                key,
                serial,
                outcome: Ok(last),
            });
            for (room, place) in rooms {
                for change in Membership::renamed(&old, &new, &time, &room, place) {
                    *rev += 1;
                    self.news(FromCluster::RoomMember { change, rev: *rev });
                }
            }
        }
    }

    /// Another node's rename of `old` in `room` comes from the bucket.
    fn remote_rename(&mut self, old: &str, new: &str, room: &str, place: u64) {
        for change in Membership::renamed(old, new, TIME, room, place) {
            self.next_rev += 1;
            let rev = self.next_rev;
            self.news(FromCluster::RoomMember { change, rev });
        }
    }

    /// `name` joins `room` (on whichever node) at revision `rev`.
    fn member(&mut self, name: &str, room: &str, rev: u64) {
        let change = member(name, room, true);
        self.news(FromCluster::RoomMember { change, rev });
    }
}

fn won(rev: u64) -> impl FnOnce(&str) -> ClaimOutcome {
    move |name| ClaimOutcome::Won {
        rev,
        mail: None,
        shown: name.to_owned(),
    }
}

#[test]
fn a_rename_is_claimed_first_then_told_then_the_rooms_move_in_place() {
    let mut n = Node::new();
    let amy = n.login("amy");
    let bob = n.login("bob");
    n.member("amy", "#r", 1);
    n.member("bob", "#r", 2);
    n.jobs();
    n.h.turn_for(amy);
    n.h.turn_for(bob);
    let place = n.h.hub.rooms.seniority("#r", "amy");
    // Nothing happens before the claim is won; the next line waits.
    n.h.send(amy, "NICK Ann\nWHO #r\n");
    assert_eq!(n.h.turn_for(bob), Vec::<String>::new());
    n.answer_claim(won(500));
    let jobs = n.jobs();
    assert_eq!(
        n.h.turn_for(bob),
        ["LEFT amy T renamed to Ann", "JOINED Ann T"]
    );
    // The old name is given back by the helper, after the moves.
    let released = jobs.iter().any(|j| matches!(j, ToCluster::Release { .. }));
    assert!(!released, "not before its rooms are moved: {jobs:?}");
    let Some(ToCluster::RoomRename { rooms, old_rev, .. }) = jobs
        .iter()
        .find(|j| matches!(j, ToCluster::RoomRename { .. }))
    else {
        panic!("the rooms move: {jobs:?}");
    };
    assert_eq!(rooms, &[("#r".to_owned(), place.unwrap())]);
    assert_ne!(*old_rev, 0);
    // The input waits for the moves to come back.
    assert_eq!(n.h.turn_for(amy), ["OK NICK Ann"]);
    let mut rev = 10;
    n.store_rename(jobs, &mut rev);
    assert_eq!(n.h.turn_for(amy), ["USERS #r @Ann bob"]);
    // No PART or JOIN: the NICK told it.
    assert_eq!(n.h.turn_for(bob), Vec::<String>::new());
    assert_eq!(n.h.hub.rooms.seniority("#r", "Ann"), place);
    assert!(!n.h.hub.rooms.is_member("amy", "#r"));
}

#[test]
fn a_name_with_mail_held_or_taken_is_refused_and_nothing_changes() {
    let mut n = Node::new();
    let amy = n.login("amy");
    let bob = n.login("bob");
    n.h.turn_for(bob);
    n.h.turn_for(amy);
    n.h.send(amy, "NICK Ann\n");
    let jobs = n.answer_claim(|_| ClaimOutcome::MailHeld);
    let published = |j: &ToCluster| matches!(j, ToCluster::Publish(_));
    assert!(jobs.iter().all(published), "{jobs:?}");
    assert_eq!(
        n.h.turn_for(amy),
        ["ERR 409 Ann is taken (it has mail held): pick another"]
    );
    n.h.send(amy, "NICK Ann\n");
    n.answer_claim(|_| ClaimOutcome::Taken);
    assert_eq!(n.h.turn_for(amy), ["ERR 409 Ann is already online"]);
    assert_eq!(n.h.turn_for(bob), Vec::<String>::new());
    // Online on another node: refused here without asking.
    n.remote("cat", "b", "b1");
    n.h.send(amy, "NICK Cat\n");
    assert!(n.jobs().iter().all(published));
    assert_eq!(n.h.turn_for(amy), ["ERR 409 Cat is already online"]);
}

#[test]
fn a_session_gone_before_its_claim_is_won_gives_the_new_name_back() {
    let mut n = Node::new();
    let amy = n.login("amy");
    n.h.send(amy, "NICK Ann\n");
    let jobs = n.jobs();
    // Its connection drops while the claim is under way.
    n.h.hub.fail(amy);
    n.h.reap();
    for job in jobs {
        if let ToCluster::Claim {
            key, serial, name, ..
        } = job
        {
            let outcome = won(7)(&name);
            n.news(FromCluster::Claimed {
                key,
                serial,
                name,
                outcome,
            });
        }
    }
    let jobs = n.jobs();
    let gave_back = jobs
        .iter()
        .any(|j| matches!(j, ToCluster::Release { name, rev: 7 } if name == "Ann"));
    assert!(gave_back, "{jobs:?}");
}

#[test]
fn another_nodes_rename_moves_the_member_silently_keeping_its_place_and_status() {
    let mut n = Node::new();
    let bob = n.login("bob");
    n.remote("amy", "b", "b1");
    n.member("amy", "#r", 1);
    n.member("bob", "#r", 2);
    n.h.turn_for(bob);
    assert!(n.h.hub.rooms.is_operator("amy", "#r"));
    // The NICK comes on the bus; the moves from the bucket.
    n.bus(
        "b",
        &format!("B\nLEFT amy {TIME} renamed to Ann\nJOINED Ann {TIME}\n"),
    );
    n.remote_rename("amy", "Ann", "#r", 1);
    assert_eq!(
        n.h.turn_for(bob),
        ["LEFT amy T renamed to Ann", "JOINED Ann T"]
    );
    assert!(n.h.hub.rooms.is_operator("Ann", "#r"));
    assert_eq!(n.h.hub.rooms.seniority("#r", "Ann"), Some(1));
    // Bob leaving leaves Ann the eldest: the operator still.
    n.member("cat", "#r", 300);
    n.h.send(bob, "PART #r\n");
    assert!(n.h.hub.rooms.is_operator("Ann", "#r"));
}

#[test]
fn a_restarted_node_replaying_a_rename_puts_the_new_name_in_the_old_ones_place() {
    let mut n = Node::new();
    let bob = n.login("bob");
    // The bucket's last entries, in revision order: amy's join was
    // overwritten by her leaving to Ann, which comes with no amy here.
    n.member("bob", "#r", 5);
    n.h.turn_for(bob);
    let [left, rename] = Membership::renamed("amy", "Ann", TIME, "#r", 3);
    n.news(FromCluster::RoomMember {
        change: left,
        rev: 9,
    });
    n.news(FromCluster::RoomMember {
        change: rename,
        rev: 10,
    });
    assert_eq!(n.h.hub.rooms.seniority("#r", "Ann"), Some(3));
    assert!(n.h.hub.rooms.seniority("#r", "bob") > Some(3));
    assert!(!n.h.hub.rooms.is_member("amy", "#r"));
    // A member new to the room here is told as a join.
    assert_eq!(n.h.turn_for(bob), ["JOIN Ann #r T"]);
}

#[test]
fn an_irc_reader_sees_a_remote_rename_as_one_nick_and_no_join() {
    let mut n = Node::new();
    let key = n.h.connect();
    n.h.send(key, "NICK dan\r\nUSER dan 0 * :d\r\n");
    super::cluster::win_claims(&mut n, None);
    n.h.send(key, "JOIN #r\r\n");
    n.remote("amy", "b", "b1");
    n.member("amy", "#r", 1);
    n.member("dan", "#r", 2);
    n.h.turn_for(key);
    n.remote_rename("amy", "Ann", "#r", 1);
    n.bus(
        "b",
        &format!("B\nLEFT amy {TIME} renamed to Ann\nJOINED Ann {TIME}\n"),
    );
    let lines = n.h.turn_for(key);
    assert_eq!(lines, [":amy!amy@evchat NICK :Ann"], "{lines:?}");
}

#[test]
fn a_login_under_the_old_name_before_the_move_comes_gets_nothing_of_its_rooms() {
    let mut n = Node::new();
    let bob = n.login("bob");
    n.remote("v", "b", "b1");
    n.member("v", "#s", 1);
    n.member("bob", "#s", 2);
    n.h.turn_for(bob);
    // v is v2 now on node b; before the move reaches this node, someone
    // logs in here as v (given back early, or another run).
    n.bus(
        "b",
        &format!("B\nLEFT v {TIME} renamed to v2\nJOINED v2 {TIME}\n"),
    );
    n.news(FromCluster::Name {
        name: "v".into(),
        holder: None,
    });
    let again = n.h.connect();
    n.h.send(again, "LOGIN v\n");
    super::cluster::win_claims(&mut n, None);
    let got = n.h.turn_for(again);
    // Answering the catch-up's PING puts it in its rooms.
    if let Some(ping) = got.iter().find_map(|l| l.strip_prefix("PING ")) {
        n.h.send(again, &format!("PONG {ping}\n"));
        n.h.turn_for(again);
    }
    assert!(n.h.hub.rooms.online_keys("#s").contains(&again), "{got:?}");
    n.remote_rename("v", "v2", "#s", 1);
    assert!(
        !n.h.hub.rooms.online_keys("#s").contains(&again),
        "the room's frames are v2's, not this session's"
    );
    assert!(n.h.hub.rooms.is_member("v2", "#s"));
}

#[test]
fn a_kick_of_the_old_name_while_the_rooms_move_takes_the_renamed_session_out() {
    let mut n = Node::new();
    let alice = n.login("alice");
    n.remote("carol", "b", "b1");
    n.member("carol", "#z", 1);
    n.member("alice", "#z", 2);
    n.h.turn_for(alice);
    n.h.send(alice, "NICK bob\n");
    n.answer_claim(won(500));
    let jobs = n.jobs();
    assert!(n.h.hub.rooms.online_keys("#z").contains(&alice), "{jobs:?}");
    n.h.turn_for(alice);
    // carol's kick of alice reached JetStream first: the move of #z fails
    // its compare-and-swap, and the kick comes back here.
    n.news(FromCluster::RoomMember {
        change: Membership {
            joined: false,
            kicked_by: Some("carol".into()),
            ..member("alice", "#z", true)
        },
        rev: 3,
    });
    assert!(
        !n.h.hub.rooms.online_keys("#z").contains(&alice),
        "bob (alice before) gets #z's messages no more"
    );
    let told = n.h.turn_for(alice);
    assert!(
        told.iter().any(|l| l.starts_with("KICK #z alice carol")),
        "{told:?}"
    );
}

#[test]
fn a_restarted_watch_does_not_bring_back_a_renamed_member_that_left_since() {
    let mut n = Node::new();
    let carol = n.login("carol");
    n.member("carol", "#k", 1);
    n.member("alice", "#k", 2);
    n.remote_rename("alice", "bob", "#k", 2);
    // bob is kicked: the bucket's last entries are alice's N and bob's K.
    let kicked = Membership {
        joined: false,
        kicked_by: Some("carol".into()),
        ..member("bob", "#k", true)
    };
    n.news(FromCluster::RoomMember {
        change: kicked.clone(),
        rev: 200,
    });
    assert!(!n.h.hub.rooms.is_member("bob", "#k"));
    n.h.turn_for(carol);
    // The watch restarts and replays them.
    n.news(FromCluster::RoomsReset);
    n.member("carol", "#k", 1);
    let [left, _] = Membership::renamed("alice", "bob", TIME, "#k", 2);
    n.news(FromCluster::RoomMember {
        change: left,
        rev: 150,
    });
    n.news(FromCluster::RoomMember {
        change: kicked,
        rev: 200,
    });
    n.news(FromCluster::RoomsSynced);
    assert!(!n.h.hub.rooms.is_member("bob", "#k"));
    assert_eq!(n.h.turn_for(carol), Vec::<String>::new(), "nothing told");
}
