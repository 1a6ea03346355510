//! Rooms on a cluster node, with a fake helper: a user's change is written
//! to JetStream first and takes effect when it comes back from the rooms
//! bucket or stream, in their order; the node's copy is what they bring.

use super::cluster::Node;
use crate::server::cluster::rooms::Membership;
use crate::server::cluster::{FromCluster, ToCluster};
use bytes::Bytes;

pub(super) const TIME: &str = "2026-12-07T10:00:00.000Z";

pub(super) fn member(name: &str, room: &str, joined: bool) -> Membership {
    Membership {
        room: room.into(),
        name: name.into(),
        joined,
        time: TIME.into(),
        text: None,
        kicked_by: None,
        renamed_from: None,
        renamed_to: None,
    }
}

impl Node {
    /// Answers the writes the loop asked for, in order, each stored at the
    /// next number; returns what was written, to bring back later.
    fn store_writes(&mut self, next: &mut u64) -> Vec<(u64, ToCluster)> {
        let mut stored = Vec::new();
        for job in self.jobs() {
            if let ToCluster::RoomMembers {
                key,
                serial,
                changes,
            } = &job
            {
                let first = *next + 1;
                *next += changes.len() as u64;
                self.news(FromCluster::RoomWritten {
                    key: *key,
                    serial: *serial,
                    outcome: Ok(*next),
                });
                for (i, change) in changes.iter().enumerate() {
                    let one = ToCluster::RoomMember {
                        key: *key,
                        serial: *serial,
                        change: change.clone(),
                    };
                    stored.push((first + i as u64, one));
                }
                continue;
            }
            let (key, serial) = match &job {
                ToCluster::RoomMember { key, serial, .. } => (*key, *serial),
                ToCluster::RoomSay { key, serial, .. } => (*key, *serial),
                ToCluster::RoomSettings { key, serial, .. } => (*key, *serial),
                _ => continue,
            };
            *next += 1;
            self.news(FromCluster::RoomWritten {
                key,
                serial,
                outcome: Ok(*next),
            });
            stored.push((*next, job));
        }
        stored
    }

    /// Brings back what was stored, as the watch and the consumer do.
    fn bring_back(&mut self, stored: Vec<(u64, ToCluster)>) {
        for (at, job) in stored {
            match job {
                ToCluster::RoomMember { change, .. } => {
                    self.news(FromCluster::RoomMember { change, rev: at })
                }
                ToCluster::RoomSettings { room, value, .. } => {
                    self.news(FromCluster::RoomSettings {
                        room,
                        value,
                        rev: at,
                    })
                }
                ToCluster::RoomSay { rooms, frame, .. } => self.news(FromCluster::RoomSaid {
                    seq: at,
                    rooms,
                    frame,
                }),
                _ => {}
            }
        }
    }

    fn join(&mut self, key: usize, room: &str, next: &mut u64) {
        self.h.send(key, &format!("JOIN {room}\n"));
        let stored = self.store_writes(next);
        self.bring_back(stored);
    }

    /// Sends `line`, stores what it writes and brings it back.
    pub(super) fn round_trip(&mut self, key: usize, line: &str, next: &mut u64) {
        self.h.send(key, line);
        let stored = self.store_writes(next);
        self.bring_back(stored);
    }
}

#[test]
fn a_room_message_takes_effect_when_it_comes_back_and_its_senders_next_lines_wait() {
    let mut n = Node::new();
    let (mut rev, mut seq) = (0, 0);
    let amy = n.login("amy");
    let bob = n.login("bob");
    n.h.turn_for(amy);
    n.h.send(amy, "JOIN #r\n");
    let stored = n.store_writes(&mut rev);
    // Stored, not back yet: nothing is joined.
    assert_eq!(n.h.turn_for(amy), Vec::<String>::new());
    n.bring_back(stored);
    assert_eq!(n.h.turn_for(amy), ["JOIN amy #r T"]);
    n.join(bob, "#r", &mut rev);
    assert_eq!(n.h.turn_for(amy), ["JOIN bob #r T"]);
    assert_eq!(n.h.turn_for(bob), ["JOIN bob #r T"]);

    n.h.send(amy, "MSG #r hello\nSAY after it\n");
    let stored = n.store_writes(&mut seq);
    assert_eq!(stored.len(), 1);
    // The SAY waits behind the room message until it is back.
    assert_eq!(n.h.turn_for(bob), Vec::<String>::new());
    let again: Vec<(u64, ToCluster)> = stored
        .iter()
        .map(|(at, job)| match job {
            ToCluster::RoomSay {
                key,
                serial,
                rooms,
                frame,
                after,
            } => (
                *at,
                ToCluster::RoomSay {
                    key: *key,
                    serial: *serial,
                    rooms: rooms.clone(),
                    frame: frame.clone(),
                    after: *after,
                },
            ),
            _ => unreachable!(),
        })
        .collect();
    n.bring_back(stored);
    assert_eq!(
        n.h.turn_for(bob),
        ["MSG amy #r T hello", "SAY amy T after it"]
    );
    // Not to its sender, and once: a consumer recreated brings it again.
    assert_eq!(n.h.turn_for(amy), Vec::<String>::new());
    n.bring_back(again);
    assert_eq!(n.h.turn_for(bob), Vec::<String>::new());
}

#[test]
fn a_write_jetstream_refuses_is_an_error_and_nothing_changes() {
    let mut n = Node::new();
    let amy = n.login("amy");
    n.h.send(amy, "JOIN #r\nROOMS\n");
    for job in n.jobs() {
        if let ToCluster::RoomMember { key, serial, .. } = job {
            let why = "the cluster is unavailable (no quorum); try again later: nothing was done";
            n.news(FromCluster::RoomWritten {
                key,
                serial,
                outcome: Err(why.into()),
            });
        }
    }
    assert_eq!(
        n.h.turn_for(amy),
        [
            "ERR 503 the cluster is unavailable (no quorum); try again later: nothing was done",
            "ROOMS"
        ]
    );
}

#[test]
fn memberships_a_restarted_watch_does_not_bring_again_are_parted() {
    let mut n = Node::new();
    let amy = n.login("amy");
    let mut rev = 0;
    n.join(amy, "#r", &mut rev);
    n.news(FromCluster::RoomMember {
        change: member("cat", "#r", true),
        rev: 10,
    });
    assert_eq!(n.h.turn_for(amy), ["JOIN amy #r T", "JOIN cat #r T"]);
    // The watch restarts; its replay has amy, not cat (who left while it
    // was down, and whose entry was purged).
    n.news(FromCluster::RoomsReset);
    n.news(FromCluster::RoomMember {
        change: member("amy", "#r", true),
        rev: 11,
    });
    assert_eq!(n.h.turn_for(amy), Vec::<String>::new());
    n.news(FromCluster::RoomsSynced);
    assert_eq!(n.h.turn_for(amy), ["PART cat #r T"]);
    n.h.send(amy, "WHO #r\n");
    assert_eq!(n.h.turn_for(amy), ["USERS #r @amy"]);
}

#[test]
fn a_catch_up_at_login_is_made_from_the_copy_past_the_read_mark() {
    let mut n = Node::new();
    n.news(FromCluster::RoomMember {
        change: member("amy", "#r", true),
        rev: 1,
    });
    n.news(FromCluster::RoomRead {
        name: "amy".into(),
        seq: 1,
    });
    for (seq, text) in [(1, "read already"), (2, "while away")] {
        let frame = format!("MSG bob #r {TIME} {text}\n");
        n.news(FromCluster::RoomSaid {
            seq,
            rooms: vec!["#r".into()],
            frame: Bytes::from(frame),
        });
    }
    let amy = n.h.connect();
    n.h.send(amy, "LOGIN amy\n");
    for job in n.jobs() {
        if let ToCluster::Claim {
            key, serial, name, ..
        } = job
        {
            let outcome = crate::server::cluster::ClaimOutcome::Won {
                rev: 5,
                mail: None,
                shown: name.clone(),
            };
            n.news(FromCluster::Claimed {
                key,
                serial,
                name,
                outcome,
            });
        }
    }
    let lines = n.h.turn_for(amy);
    assert_eq!(
        lines[..3],
        ["OK LOGIN amy", "JOIN amy #r T", "MSG bob #r T while away"]
    );
    assert!(lines[3].starts_with("PING "), "{lines:?}");
}

#[test]
fn a_writer_whose_change_never_comes_back_goes_on_after_a_while() {
    let mut n = Node::new();
    let amy = n.login("amy");
    let mut rev = 0;
    n.h.send(amy, "JOIN #r\nROOMS\n");
    // Stored, but the watch is being restarted: it does not come back.
    let _lost = n.store_writes(&mut rev);
    n.h.at(5);
    assert_eq!(n.h.turn_for(amy), Vec::<String>::new());
    n.h.at(11);
    // It goes on, not a member here until the change comes back.
    assert_eq!(n.h.turn_for(amy), ["ROOMS"]);
}

#[test]
fn a_topic_mode_and_kick_take_effect_when_they_come_back_and_are_told_as_on_a_single_server() {
    let mut n = Node::new();
    let mut rev = 0;
    let amy = n.login("amy");
    let bob = n.login("bob");
    n.join(amy, "#r", &mut rev);
    n.join(bob, "#r", &mut rev);
    n.h.turn_for(amy);
    n.h.turn_for(bob);
    // Written first: nothing is told before the bucket brings it back.
    n.h.send(amy, "TOPIC #r hello there\n");
    let stored = n.store_writes(&mut rev);
    assert_eq!(n.h.turn_for(bob), Vec::<String>::new());
    n.bring_back(stored);
    assert_eq!(n.h.turn_for(bob), ["TOPIC #r amy T hello there"]);
    n.round_trip(amy, "MODE #r +o bob\n", &mut rev);
    assert_eq!(n.h.turn_for(bob), ["MODE #r amy T +o bob"]);
    n.round_trip(bob, "KICK #r amy enough\n", &mut rev);
    assert_eq!(
        n.h.turn_for(amy),
        [
            "TOPIC #r amy T hello there",
            "MODE #r amy T +o bob",
            "KICK #r amy bob T enough"
        ]
    );
    assert!(!n.h.hub.rooms.is_member("amy", "#r"));
    // The value another node wrote is taken whole.
    let mut other = n.h.hub.rooms.settings("#r").unwrap().clone();
    other.moderated = true;
    other.by = "bob".into();
    n.news(FromCluster::RoomSettings {
        room: "#r".into(),
        value: other.encode(),
        rev: rev + 1,
    });
    assert_eq!(
        n.h.turn_for(bob),
        ["KICK #r amy bob T enough", "MODE #r bob T +m"]
    );
    // A value nobody could have written is ignored.
    n.news(FromCluster::RoomSettings {
        room: "#r".into(),
        value: "o <b>\n".into(),
        rev: rev + 2,
    });
    assert!(n.h.hub.rooms.settings("#r").unwrap().moderated);
}

#[test]
fn part_star_on_a_node_writes_every_leaving_at_once_and_waits_for_the_last() {
    let mut n = Node::new();
    let mut rev = 0;
    let amy = n.login("amy");
    let bob = n.login("bob");
    for room in ["#a", "#b"] {
        n.join(amy, room, &mut rev);
        n.join(bob, room, &mut rev);
    }
    n.h.turn_for(amy);
    n.h.turn_for(bob);
    n.h.send(amy, "PART *\nROOMS\n");
    let stored = n.store_writes(&mut rev);
    assert_eq!(stored.len(), 2);
    // Waiting: its ROOMS is answered once the leavings are back.
    assert_eq!(n.h.turn_for(amy), Vec::<String>::new());
    n.bring_back(stored);
    assert_eq!(
        n.h.turn_for(amy),
        ["PART amy #a T", "PART amy #b T", "ROOMS"]
    );
    assert_eq!(
        n.h.turn_for(bob),
        [
            "PART amy #a T",
            "MODE #a * T +o bob",
            "PART amy #b T",
            "MODE #b * T +o bob"
        ]
    );
}
