//! evchat: a small chat server you can trust, its client, and its library.
//!
//! Architecture in one paragraph: the server is one thread running one mio
//! readiness loop ([`server::event_loop`]). Each readable socket is read, up
//! to a fairness budget, into a shared scratch buffer; the
//! [`protocol::FrameDecoder`] cuts it into lines, [`protocol::parse`] turns
//! lines into commands without copying, and the [`server::hub`] acts on
//! them: it knows who is online, holds mail for who is not, and fans
//! messages out by encoding each broadcast once into a reference-counted
//! chunk that every recipient's write queue points at. After all readable
//! events of a turn are handled, every connection with pending output is
//! flushed with one vectored write. Queues and read buffers are bounded, so a
//! slow or hostile peer costs the server a fixed amount of memory and is cut
//! off past it. Mail held for offline users is appended to a checksummed
//! journal before any reply of that turn goes out, so a `PONG` means it is
//! safe; fsync and compaction run on helper threads, as do password checks,
//! which wake the loop through a `mio::Waker`. The [`client`] module is the library programs embed; the
//! binaries in `src/bin` are thin command-line shells over these modules.

pub mod bench;
pub mod client;
pub mod config;
pub mod protocol;
pub mod server;
