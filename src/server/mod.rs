//! The evchat server: one thread, one readiness loop, bounded everything.
//!
//! What runs where:
//!
//! - **The loop thread** ([`event_loop`]) does all socket I/O — plain and
//!   TLS ([`tls`]: rustls does no I/O of its own): it accepts, reads within
//!   a budget and shuts sockets, and writes what they take through the
//!   write queues — and everything the hub decides: parsing, names,
//!   fan-out, limits. It never touches the disk after start, never
//!   blocks, and never does a TLS handshake's cryptography.
//! - **The journal's writer thread** ([`journal`]) owns the journal file:
//!   appends, fsync, compaction (with a helper of its own). The loop hands
//!   it one buffer of records per turn and holds a connection's replies
//!   until the records it caused are written.
//! - **The password thread** ([`accounts`]) checks argon2id hashes and
//!   rereads the users file. Both helpers wake the loop with a
//!   `mio::Waker`, as do the others below.
//! - **The TLS handshake threads** ([`handshake_pool`], two, with a
//!   certificate only) do handshakes' cryptography — key exchange and
//!   signature, the slow part of TLS — on connections the loop hands them
//!   (rustls's state, no socket), in turn by address, and hand them back.
//! - **The cluster thread** ([`cluster`], with `--cluster` only, in a
//!   build with the `cluster` feature) owns the
//!   NATS client on a current-thread tokio runtime: it publishes what the
//!   loop hands it, claims names, holds and fetches mail in JetStream, and
//!   passes other nodes' messages and the names bucket's changes back.
//! - **Signals** arrive as readiness on the loop ([`shutdown`]).
//!
//! The modules, in the order data meets them: [`setup`] builds a server
//! from its [`config`]; [`listener`] accepts and `connections` takes each
//! connection in; [`wire`] is what each connection speaks — one module per
//! dialect, decided by its first line; [`hub`] holds the state and acts on
//! commands (`cmd`, one file each), fans out and queues output;
//! [`handshake_pool`] does TLS handshakes' cryptography for the loop
//! (`tls_loop` is the loop's side of it, [`fair_queue`] the order they
//! wait in); [`session`] is one connection's state, in parts each owned by
//! the module that keeps its rules, [`outqueue`] its bytes waiting to be
//! written, and [`keyset`] the lists of sessions a turn works through; [`store`] is who
//! is known and what mail is held, in memory, and [`rooms`] who is in
//! which room and what each remembers; [`clock`], [`limits`] and
//! [`error`] are timestamps, process limits and setup errors.

pub mod accounts;
pub mod auth_queue;
pub mod clock;
pub mod cluster;
mod cmd;
pub mod config;
mod connections;
pub mod error;
pub mod event_loop;
pub mod fair_queue;
pub mod handshake_pool;
pub mod hub;
pub mod journal;
pub mod keyset;
pub use crate::limits;
pub mod listener;
pub mod logging;
pub mod names;
pub mod outqueue;
pub mod rooms;
pub mod session;
pub mod setup;
pub mod shutdown;
pub mod store;
pub mod tls;
mod tls_loop;
pub mod wire;

pub use config::{ServerArgs, ServerCommand, ServerConfig, UserAction};
pub use error::SetupError;
pub use event_loop::Server;
