//! The evchat wire protocol: pure code, no I/O.
//!
//! A frame is one UTF-8 line ending in LF (a CR before the LF is dropped).
//! Fields are separated by single spaces and the last field, `<text>`, runs
//! to the end of the line with `\\`, `\n` and `\r` escaped. See
//! `docs/PROTOCOL.md` for the full contract.

pub mod command;
pub mod escape;
pub mod event;
pub mod frame;
pub mod names;
pub mod reply;
pub mod tags;

pub use command::{
    bad_name, is_valid_name, is_valid_room, parse, Command, ParseError, Text, MAX_NAME, NAME_RULE,
    ROOM_RULE,
};
pub use escape::{escape, unescape, EscapeError};
pub use event::Event;
pub use frame::{Frame, FrameDecoder};
pub use names::{fold, folded, same_name, Folded};
pub use reply::{BadFrame, ErrorCode, ServerFrame};
pub use tags::ClientTags;
