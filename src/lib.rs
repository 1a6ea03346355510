//! evchat: a small chat server you can trust, its client, and its library.
//!
//! Architecture in one paragraph: the server is one thread running one mio
//! readiness loop ([`server::event_loop`]) that does all socket I/O, plain
//! and TLS. Each readable socket is read — at most once per turn and up to
//! a fairness budget — into a shared scratch buffer; the
//! [`protocol::FrameDecoder`] cuts it into lines, [`protocol::parse`] turns
//! lines into commands without copying, and the [`server::hub`] acts on
//! them ([`server::cmd`], one command per file): it knows who is online,
//! holds mail for who is not ([`server::store`]), and fans messages out by
//! encoding each batch of broadcasts once into a reference-counted chunk
//! that every recipient's write queue points at. The same port speaks HTTP
//! and WebSocket from the same loop ([`server::http`], [`server::ws`]): a
//! connection's first line tells which; a WebSocket's text messages are
//! the same frames taking the same path, and its recipients share one
//! WebSocket copy of each chunk, made once ([`server::hub`]'s wire
//! encoding). After all reads of a turn,
//! every connection with pending output is flushed with one vectored write.
//! Queues, read buffers, held mail and known names are bounded, so a slow or
//! hostile peer costs the server a fixed amount and is cut off past it. The
//! loop never touches the disk after start: held mail is journaled by the
//! journal's own writer thread ([`server::journal`]), which also syncs and
//! compacts, and a connection's replies wait until the records it caused
//! are written, so a `PONG` means they are safe. Passwords are checked on
//! another helper thread ([`server::accounts`]); both helpers wake the loop
//! through a `mio::Waker`. With `--cluster`, many such processes are one
//! chat ([`server::cluster`]): a third helper thread owns a NATS client, the
//! hub publishes each turn's broadcasts once and private messages for
//! users elsewhere, takes in other nodes' messages as if they were its
//! own batch, claims names in a JetStream bucket and keeps held mail in
//! JetStream instead of the journal — the path from socket to write queue
//! stays the same. The [`client`] module is the library programs
//! embed and the terminal client; [`bench`] is `evchat-bench`; the binaries
//! in `src/bin` are thin command-line shells over these modules.
//!
//! Each part is a Cargo feature, all on by default: `client` (the library
//! with TLS), `terminal` (what `evchat-client` adds to it), `server` (which
//! needs `cluster`, the NATS backplane) and `bench`; [`protocol`] is always
//! built. A program that only chats depends on evchat with
//! `default-features = false, features = ["client"]` and builds the
//! protocol, the client and rustls — none of the server, the cluster or
//! the bench, and none of their dependencies.

#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "client")]
pub mod client;
#[cfg(any(feature = "server", feature = "terminal"))]
pub mod config;
#[cfg(any(feature = "server", feature = "bench"))]
pub mod limits;
pub mod protocol;
#[cfg(feature = "server")]
pub mod server;
