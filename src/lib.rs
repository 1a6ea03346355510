//! evchat: a small chat server you can trust, its client, and its library.
//!
//! Architecture in one paragraph: the server is one thread running one mio
//! readiness loop ([`server::event_loop`]). Data takes one path: socket →
//! the connection's dialect ([`server::wire`]: lines, HTTP, WebSocket, IRC;
//! its first line decides which, once; IRC is translated into the line
//! protocol's commands) → commands ([`protocol::Command`]) →
//! the hub ([`server::hub`], one command per file in `server/cmd`), which
//! knows who is online, holds mail for who is not, keeps the rooms — who
//! is in which, what each remembers, and its operators, topic and modes
//! ([`server::rooms`]) — and answers in
//! [`protocol::Event`]s, never in a wire format → one shared encoding of
//! each batch per kind of connection (replies to one connection are written
//! for it: IRC's numerics name their reader) → each connection's write queue →
//! one vectored write per connection per turn. Each readable socket is read
//! at most once per turn and up to a budget, and each connection may cause
//! a bounded amount of work per turn, so one flooding client cannot starve
//! the others. Queues, read buffers, held mail, rooms' histories and known
//! names are bounded, so a slow or hostile peer costs the server a fixed
//! amount and is cut off past it. The loop never waits: held mail and
//! rooms are journaled by the journal's own writer thread ([`server::journal`]) and a connection's replies wait
//! until the records it caused are written, so a `PONG` means they are
//! safe; passwords are checked on another helper thread
//! ([`server::accounts`]), and TLS handshakes' cryptography is done by two
//! more ([`server::handshake_pool`]); with `--cluster`, one more owns a
//! NATS client ([`server::cluster`]) — other nodes' messages join the
//! turn's batch as if they were local, names are claimed and held mail
//! kept in JetStream, rooms live there too (every node follows them into
//! its own copy, which the hub reads as a single server reads its own),
//! and the path from socket to write queue stays the same. Helpers wake the loop through a `mio::Waker`. The [`client`]
//! module is the library programs embed and the terminal client; [`bench`]
//! is `evchat-bench`; the binaries in `src/bin` are thin command-line
//! shells over these modules.
//!
//! Where things go:
//!
//! - **A new kind of connection** (a dialect): a module in
//!   [`server::wire`] with its decoder and, if it writes differently, its
//!   encoding — and its line in `wire::DIALECTS`.
//! - **A new command**: its parsing in [`protocol::command`] and what it
//!   does in a file of its own in `server/cmd`, listed in `cmd::dispatch`.
//! - **Touching a socket**: only the loop ([`server::event_loop`], with
//!   `server::listener` accepting for it) reads, accepts and shuts sockets,
//!   and only the write queues write them (`server::hub::Queues::write`,
//!   through `server::outqueue`'s `writev`, at the loop's flush or for a
//!   queue past its limit); everything else is socket-free, so the hub runs
//!   in tests and benchmarks without any.
//!
//! Each part is a Cargo feature, all on by default: `client` (the library
//! with TLS), `terminal` (what `evchat-client` adds to it), `server` (a
//! single node), `cluster` (its NATS backplane) and `bench`; [`protocol`]
//! is always built. A program that only chats depends on evchat with
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
