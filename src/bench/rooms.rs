//! The rooms scenario: R rooms of M members among U = R·M / K users, each
//! in K rooms, and P publishers saying things in the rooms in turn —
//! evchat's `MSG #room`, Redis's `PUBLISH` to a channel per room, NATS's
//! `PUB` to a subject per room, measured the same way as fanout
//! ([`scenario::measure`](super::scenario::measure)). A delivery is one
//! message reaching one member.
//!
//! Who is where: the R·M places in rooms are numbered room by room, and
//! place `s` is user `s mod U`'s, so each user is in K different rooms (U
//! ≥ M) and each room has M different members. Publisher `p` has the rooms
//! `p, p + P, p + 2P, …` to itself: it is a member of them on evchat (only
//! members may speak), gets nothing of its own, and no other publisher
//! speaks there, so each message reaches exactly M users.

use super::fleet::{FleetSpec, Rooms};
use super::phase::{whole_rounds, Plan};
use super::scenario::{self, Run, Sample, Settings};

/// R rooms of M members, each user in K of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub rooms: usize,
    pub members: usize,
    pub per_user: usize,
    pub publishers: usize,
}

impl Shape {
    /// The shape, if it can be built: K divides R·M, no more rooms per
    /// user than rooms, and P divides R (every publisher has as many rooms).
    pub fn new(
        rooms: usize,
        members: usize,
        per_user: usize,
        publishers: usize,
    ) -> Result<Shape, String> {
        let shape = Shape {
            rooms,
            members,
            per_user,
            publishers,
        };
        if [rooms, members, per_user, publishers].contains(&0) {
            return Err("--rooms, --members, --rooms-per-user and --publishers must be > 0".into());
        }
        if per_user > rooms || !(rooms * members).is_multiple_of(per_user) {
            return Err(format!(
                "{rooms} rooms of {members} cannot put each user in {per_user} rooms: \
                 --rooms-per-user must divide rooms × members and be at most --rooms"
            ));
        }
        if !rooms.is_multiple_of(publishers) {
            return Err(format!(
                "--publishers ({publishers}) must divide --rooms ({rooms})"
            ));
        }
        Ok(shape)
    }

    /// U = R·M / K.
    pub fn users(&self) -> usize {
        self.rooms * self.members / self.per_user
    }

    /// The rooms user `u` is in: its places `u, u + U, …`, one per room
    /// (U ≥ M apart, so never two in one room).
    pub fn rooms_of(&self, u: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.per_user).map(move |j| (u + j * self.users()) / self.members)
    }

    /// The rooms publisher `p` says things in, in the order it does.
    pub fn rooms_of_publisher(&self, p: usize) -> impl Iterator<Item = usize> {
        (p..self.rooms).step_by(self.publishers)
    }

    /// `100×100, 1000 users in 10 rooms each, 1 publisher`.
    pub fn describe(&self) -> String {
        let p = self.publishers;
        format!(
            "{}×{}, {} users in {} rooms each, {p} publisher{}",
            self.rooms,
            self.members,
            self.users(),
            self.per_user,
            if p == 1 { "" } else { "s" }
        )
    }
}

/// The shapes the arguments ask for: each `--rooms` with the `--members`
/// at its place (or the last one).
pub fn shapes(args: &super::BenchArgs) -> Vec<Result<Shape, String>> {
    let last = args.members.last().copied().unwrap_or(0);
    args.rooms
        .iter()
        .enumerate()
        .map(|(i, &rooms)| {
            let members = args.members.get(i).copied().unwrap_or(last);
            Shape::new(rooms, members, args.rooms_per_user, args.publishers)
        })
        .collect()
}

/// One run of the rooms scenario: a throughput phase, then a latency phase.
pub fn run(r: Run, shape: Shape, s: &Settings) -> Result<Sample, String> {
    let target = r.target;
    let users = shape.users();
    let rooms = Rooms {
        receivers: (0..users)
            .map(|u| shape.rooms_of(u).map(|i| target.room(i)).collect())
            .collect(),
        publishers: (0..shape.publishers)
            .map(|p| {
                shape
                    .rooms_of_publisher(p)
                    .map(|i| target.room(i))
                    .collect()
            })
            .collect(),
    };
    let spec = FleetSpec {
        target,
        addrs: vec![r.addr],
        receivers: users,
        publishers: shape.publishers,
        receivers_publish: false,
        readers: s.readers,
        ws: None,
        irc: r.transport == super::transport::Transport::Irc,
        rooms,
    };
    let per_round = (shape.rooms / shape.publishers) as u64;
    let frame = s.payload as u64 + 60;
    // About five million deliveries per throughput phase, in whole rounds.
    let per_message = shape.members as u64;
    let per_sender = s
        .messages
        .unwrap_or_else(|| (5_000_000 / (shape.publishers as u64 * per_message)).max(200));
    let plan = |fleet: &super::fleet::Fleet| Plan {
        senders: fleet
            .publishers
            .iter()
            .cloned()
            .zip(spec.rooms.publishers.iter().cloned())
            .collect(),
        per_sender: whole_rounds(per_sender, per_round),
        sends_per_round: per_round,
        per_receiver_per_round: shape.per_user as u64,
        receivers: users as u64,
        payload: s.payload,
        window: s.window.unwrap_or_else(|| {
            let w = ((128 << 20) / (users as u64 * frame).max(1)).clamp(64, 4096);
            target.max_window().map_or(w, |max| w.min(max))
        }),
    };
    scenario::measure(r, s, &spec, plan, |_| 0)
}

#[cfg(test)]
mod tests {
    use super::Shape;
    use std::collections::BTreeSet;

    /// Every user in K different rooms, every room with M different
    /// members, and the publishers' rooms all the rooms, once each.
    fn check(shape: Shape) {
        let mut members = vec![BTreeSet::new(); shape.rooms];
        for u in 0..shape.users() {
            let rooms: BTreeSet<usize> = shape.rooms_of(u).collect();
            assert_eq!(rooms.len(), shape.per_user, "{shape:?} user {u}");
            for r in rooms {
                assert!(members[r].insert(u));
            }
        }
        assert!(
            members.iter().all(|m| m.len() == shape.members),
            "{shape:?}"
        );
        let mut spoken: Vec<usize> = (0..shape.publishers)
            .flat_map(|p| shape.rooms_of_publisher(p))
            .collect();
        spoken.sort_unstable();
        assert_eq!(spoken, (0..shape.rooms).collect::<Vec<_>>());
    }

    #[test]
    fn every_user_is_in_k_rooms_and_every_room_has_m_members() {
        check(Shape::new(100, 100, 10, 1).unwrap());
        check(Shape::new(1000, 10, 10, 4).unwrap());
        check(Shape::new(4, 3, 2, 2).unwrap());
        check(Shape::new(7, 5, 7, 7).unwrap());
        assert_eq!(Shape::new(10_000, 10, 10, 1).unwrap().users(), 10_000);
    }

    #[test]
    fn refuses_shapes_that_cannot_be_built() {
        assert!(Shape::new(5, 3, 2, 1).is_err()); // 15 places, 2 each
        assert!(Shape::new(2, 4, 4, 1).is_err()); // 4 rooms each of 2
        assert!(Shape::new(10, 10, 5, 3).is_err()); // 3 publishers, 10 rooms
        assert!(Shape::new(0, 10, 1, 1).is_err());
    }
}
