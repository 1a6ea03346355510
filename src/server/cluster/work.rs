//! What the loop and the cluster's helper thread say to each other: work
//! for the helper, in the order the loop gives it, and news for the loop.

use super::rooms::Membership;
use super::{ClaimOutcome, HeldMail, HoldOutcome, Holder};
use bytes::Bytes;

/// Work for the helper thread, in the order the loop gives it.
#[derive(Debug)]
pub enum ToCluster {
    /// A bus message from this node (see [`wire`]).
    Publish(Bytes),
    /// Claim `name` for session `key`; `over` is the claim to replace (a
    /// dead node's or a replaced session's: its revision and its value),
    /// `None` to create.
    Claim {
        key: usize,
        serial: u64,
        name: String,
        over: Option<(u64, String)>,
        mail: MailAtClaim,
    },
    /// Gives a name up, if it is still that claim.
    Release {
        name: String,
        rev: u64,
    },
    /// Holds `frame` for offline `names`.
    Hold {
        key: usize,
        serial: u64,
        names: Vec<String>,
        frame: Bytes,
    },
    AckMail {
        ticket: u64,
    },
    ReturnMail {
        ticket: u64,
    },
    /// Answers with [`FromCluster::Flushed`] once everything published
    /// before it has reached the NATS server.
    Flush {
        key: usize,
        serial: u64,
    },
    /// Fetches the next window of mail held for `name`, online here as
    /// session `key`, after giving back what a session it replaced had not
    /// acknowledged (`give_back`, so that comes first), then acknowledges
    /// the window before it (`acknowledge`).
    Fetch {
        key: usize,
        name: String,
        acknowledge: Option<u64>,
        give_back: Vec<u64>,
    },
    /// Asks each of `nodes` to confirm, on the bus after the private
    /// messages session `key` (numbered `sender` on the bus) sent it (how
    /// many), that it has delivered or held them; answered with
    /// [`FromCluster::Confirmed`].
    Confirm {
        key: usize,
        serial: u64,
        sender: u64,
        nodes: Vec<(String, u64)>,
    },
    /// Holds `frame` for `names`, whom a private message from another node
    /// found offline here; answered with [`FromCluster::HeldHere`].
    HoldHere {
        id: u64,
        names: Vec<String>,
        frame: Bytes,
    },
    /// Answers another node's confirmation request.
    Answer {
        inbox: String,
        payload: Bytes,
    },
    /// Records in the rooms bucket that `name` joined (or left, with
    /// `text`) `room`; answered with [`FromCluster::RoomWritten`] and the
    /// entry's revision.
    RoomMember {
        key: usize,
        serial: u64,
        change: Membership,
    },
    /// Records several membership changes, in order; answered with
    /// [`FromCluster::RoomWritten`] and the last one's revision (or the
    /// first failure: those before it stay written).
    RoomMembers {
        key: usize,
        serial: u64,
        changes: Vec<Membership>,
    },
    /// Moves `old`'s memberships to `new` (renamed; see
    /// [`bridge::rename`](super::bridge)): each of `rooms` (as shown, with
    /// `old`'s place in it), then the settings of those rooms and of
    /// `invited` (rooms `old` is invited to), then the read mark; then
    /// gives `old`'s claim (`old_rev`) back. Answered with
    /// [`FromCluster::RoomWritten`] and the last revision written.
    RoomRename {
        key: usize,
        serial: u64,
        old: String,
        new: String,
        time: String,
        rooms: Vec<(String, u64)>,
        invited: Vec<String>,
        read: Option<u64>,
        old_rev: u64,
    },
    /// Records `room`'s settings, `value`, in the rooms bucket; answered
    /// with [`FromCluster::RoomWritten`] and the entry's revision.
    RoomSettings {
        key: usize,
        serial: u64,
        room: String,
        value: String,
    },
    /// Stores `frame`, said in `rooms`, in the rooms stream; answered with
    /// [`FromCluster::RoomWritten`] and its sequence.
    RoomSay {
        key: usize,
        serial: u64,
        rooms: Vec<String>,
        frame: Bytes,
        /// The bucket revision this node had applied (its `Evchat-After`).
        after: u64,
    },
    /// `name` has been sent what its rooms said up to `seq`.
    RoomRead {
        name: String,
        seq: u64,
    },
    /// The room (folded) is gone: what its stream subject holds before
    /// `before` goes too (what was said past what this node had applied
    /// is another room of the same name's, made again elsewhere).
    RoomGone {
        folded: String,
        before: u64,
    },
}

/// What a name claim does about the mail held for the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailAtClaim {
    /// Fetches its first window (a login).
    Fetch,
    /// Leaves it (fetched later: a login replacing a session here; a
    /// claim renewed).
    Leave,
    /// Gives the claim up if any is held (a rename: the mail is the
    /// name's, not the renamer's).
    MustBeNone,
}

/// News from the helper thread.
#[derive(Debug)]
pub enum FromCluster {
    Bus {
        origin: String,
        payload: Bytes,
    },
    Claimed {
        key: usize,
        serial: u64,
        name: String,
        outcome: ClaimOutcome,
    },
    Held {
        key: usize,
        serial: u64,
        outcome: HoldOutcome,
    },
    /// `ok`: false when NATS could not confirm it in time.
    Flushed {
        key: usize,
        serial: u64,
        ok: bool,
    },
    /// The nodes asked by [`ToCluster::Confirm`] answered, or did not in
    /// time: what could not be delivered or held there (each with its
    /// code and why), nothing if all was.
    Confirmed {
        key: usize,
        serial: u64,
        failures: Vec<(crate::protocol::ErrorCode, String)>,
    },
    HeldHere {
        id: u64,
        outcome: HoldOutcome,
    },
    /// The answer to a `Fetch`: the next window of mail held for a user
    /// already online, or `None` when nothing more is held.
    Mail {
        key: usize,
        name: String,
        mail: Option<HeldMail>,
    },
    /// A `Fetch` that JetStream did not answer (electing leaders, no
    /// quorum): the mail is still held, and fetched again later.
    FetchFailed {
        key: usize,
        name: String,
        why: String,
    },
    /// The names bucket changed: `name` is held by `holder`, or by nobody.
    Name {
        name: String,
        holder: Option<Holder>,
    },
    /// A release found `name` under another claim, `holder` as the
    /// leader has it now: released in turn if it is a claim of this node
    /// that no session holds. Not a names change — the watch brings
    /// those, in order; this may be older than what it brought.
    ClaimFound {
        name: String,
        holder: Holder,
    },
    /// The names watch restarted: what follows up to `NamesSynced` is the
    /// whole directory.
    NamesReset,
    NamesSynced,
    /// A membership, from the rooms bucket (every node's, this one's
    /// included, in the bucket's order).
    RoomMember {
        change: Membership,
        rev: u64,
    },
    /// A room's settings, from the rooms bucket.
    RoomSettings {
        room: String,
        value: String,
        rev: u64,
    },
    /// `name`'s read mark, from the rooms bucket.
    RoomRead {
        name: String,
        seq: u64,
    },
    /// A message said in `rooms`, from the rooms stream, in its order.
    RoomSaid {
        seq: u64,
        rooms: Vec<String>,
        frame: Bytes,
    },
    /// A `RoomMember` or `RoomSay` was stored (its revision or sequence),
    /// or not (why).
    RoomWritten {
        key: usize,
        serial: u64,
        outcome: Result<u64, String>,
    },
    /// The rooms watch restarted: what follows up to `RoomsSynced` is
    /// every membership.
    RoomsReset,
    RoomsSynced,
    /// NATS connection up or down.
    Link(bool),
    /// What the loop handed over to publish is down to [`OUTBOUND_LOW`].
    CaughtUp,
}
