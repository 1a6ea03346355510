//! One connection's state, apart from the hub's directory: a few parts,
//! each owned by the module that keeps its rules.
//!
//! | part | type | owner |
//! |---|---|---|
//! | the transport | `T` | the event loop reads it, [`Output`] writes it |
//! | read scheduling | [`Reading`] | [`event_loop`](super::event_loop) |
//! | where it is in its life | [`Life`] | [`hub::lifecycle`](super::hub) |
//! | what it speaks | [`Dialect`] | [`wire`](super::wire) |
//! | input, work budget, waits | [`Intake`] | [`hub::input`](super::hub) |
//! | the user | [`User`] | the login command, [`hub`](super::hub)'s directory |
//! | output | [`Output`] | [`hub::queues`](super::hub) |
//! | held mail being delivered | [`MailInFlight`] | [`hub::mail`](super::hub) |
//! | its name's claim in a cluster | [`NodeLink`] | [`hub::cluster`](super::hub) |
//!
//! The hub is generic over `T`, the transport, so that it can be driven
//! without sockets (tests record what is written, benchmarks write into
//! `io::sink()`); the server uses [`Conn`](super::tls::Conn), a plain or
//! TLS socket.

pub use super::event_loop::Reading;
pub use super::hub::{Intake, Life, MailInFlight, NodeLink, Output, Phase, Wait, WaitFor};
use super::wire::Dialect;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// The logged-in user of a connection.
#[derive(Debug, Default)]
pub struct User {
    /// The name, shared with the hub's directory; `None` before `LOGIN`.
    pub name: Option<Rc<str>>,
    pub failed_logins: u32,
    /// The broadcast batch's sequence number at login: earlier
    /// broadcasts are not for it.
    pub joined_at: u64,
    /// Set by `AWAY <text>`; a session starts back.
    pub away: Option<Away>,
    /// A password check under way is an `AUTH`'s, not a `LOGIN`'s.
    pub authing: bool,
    /// The account an `AUTH` proved, and the hash the password was right
    /// for (none on a server without accounts): the next `LOGIN` of it
    /// needs no password while the account still has that hash.
    pub authed: Option<(Rc<str>, Option<Box<str>>)>,
}

/// Since when a user is away, and what they said (escaped, bounded by
/// [`AWAY_MAX`](super::cmd::AWAY_MAX)).
#[derive(Debug)]
pub struct Away {
    pub since: Box<str>,
    pub text: Box<str>,
}

#[derive(Debug)]
pub struct Session<T> {
    pub io: T,
    /// Told apart from a later session with the same slab key.
    pub serial: u64,
    /// Who is at the other end, for the log.
    pub peer: Option<SocketAddr>,
    pub life: Life,
    pub reading: Reading,
    pub dialect: Box<dyn Dialect>,
    pub intake: Intake,
    pub user: User,
    pub out: Output,
    pub mail: MailInFlight,
    pub node: NodeLink,
}

impl<T> Session<T> {
    pub fn new(
        io: T,
        peer: Option<SocketAddr>,
        dialect: Box<dyn Dialect>,
        now: Instant,
    ) -> Session<T> {
        let kind = dialect.encoding();
        Session {
            io,
            serial: 0,
            peer,
            life: Life::default(),
            reading: Reading::default(),
            dialect,
            intake: Intake::new(now),
            user: User::default(),
            out: Output::new(kind),
            mail: MailInFlight::default(),
            node: NodeLink::default(),
        }
    }

    #[inline]
    pub fn is_open(&self) -> bool {
        self.life.is_open()
    }

    /// Closing or draining: finishing up, not counted as a client.
    pub fn is_lingering(&self) -> bool {
        self.life.is_lingering()
    }

    /// Is input paused for a wait (a password check, the cluster)?
    #[inline]
    pub fn is_paused(&self) -> bool {
        self.intake.is_waiting()
    }

    /// The logged-in name.
    pub fn name(&self) -> Option<&Rc<str>> {
        self.user.name.as_ref()
    }

    /// The peer's address for log lines.
    pub fn peer_name(&self) -> String {
        self.peer
            .map_or_else(|| "(unknown peer)".into(), |p| p.to_string())
    }

    /// What its queue holds that counts against `--max-queue`: all of
    /// its cost but the bytes of held mail, which were counted against
    /// the mailbox limits; and private messages that wait beside the
    /// queue for older held mail.
    #[inline]
    pub fn live_queued(&self) -> usize {
        self.live_of(self.out.cost())
    }

    /// [`Session::live_queued`] when its queue costs `cost`.
    #[inline]
    pub fn live_of(&self, cost: usize) -> usize {
        let mail = self.mail.unwritten(self.out.written());
        let mail = usize::try_from(mail).unwrap_or(usize::MAX);
        cost.saturating_sub(mail) + self.mail.held_back()
    }

    /// Starts speaking `dialect` (the first line decided it, or an upgrade).
    pub fn speak(&mut self, dialect: Box<dyn Dialect>) {
        self.out
            .set_encoding(dialect.encoding(), Default::default());
        self.dialect = dialect;
    }
}
